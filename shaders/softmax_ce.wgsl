// Softmax cross-entropy over a batch of logits, with its gradient and the batch's statistics:
//   rows:       per row b, dlogits = (softmax(z) - onehot(label)) / batch, loss -log p[label]
//               and whether the first maximum is the label;
//   accumulate: adds the rows' loss sum (in row order), correct count and count to `stats`,
//               a small buffer that persists across steps until the host reads and zeroes it.
// CPU reference: src/cpu/softmax_ce.rs (`softmax_cross_entropy`) and `BatchStats::add`;
// host side: src/gpu/softmax_ce.rs.

struct Size {
    batch: u32,
    classes: u32,
    _pad0: u32,
    _pad1: u32,
}

// Laid out as the host's `GpuStats`: read back as four words.
struct Stats {
    loss_sum: f32,
    correct: u32,
    count: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> size: Size;
// rows
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
// Per row: (loss, 1.0 if correct else 0.0); written by `rows`, read by `accumulate`.
@group(0) @binding(4) var<storage, read_write> row_stats: array<f32>;
// accumulate
@group(0) @binding(5) var<storage, read> row_stats_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: Stats;

@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if (b >= size.batch) {
        return;
    }
    let c = size.classes;
    let base = b * c;
    // The host checks labels < classes; the clamp only keeps a bad label from reading past the row.
    let label = min(labels[b], c - 1u);
    var max_z = logits[base];
    var argmax = 0u;
    for (var k = 1u; k < c; k++) {
        let z = logits[base + k];
        max_z = max(max_z, z);
        // Strictly greater: the first maximum wins ties, as on the CPU.
        if (z > logits[base + argmax]) {
            argmax = k;
        }
    }
    var sum = 0.0;
    for (var k = 0u; k < c; k++) {
        sum += exp(logits[base + k] - max_z);
    }
    row_stats[2u * b] = log(sum) - (logits[base + label] - max_z);
    row_stats[2u * b + 1u] = select(0.0, 1.0, argmax == label);
    let n = f32(size.batch);
    for (var k = 0u; k < c; k++) {
        let p = exp(logits[base + k] - max_z) / sum;
        dlogits[base + k] = (p - select(0.0, 1.0, k == label)) / n;
    }
}

// One invocation, so the loss is summed in row order as the CPU sums it.
@compute @workgroup_size(1)
fn accumulate() {
    var loss = 0.0;
    var correct = 0u;
    for (var b = 0u; b < size.batch; b++) {
        loss += row_stats_in[2u * b];
        correct += u32(row_stats_in[2u * b + 1u] > 0.5);
    }
    stats.loss_sum += loss;
    stats.correct += correct;
    stats.count += size.batch;
}
