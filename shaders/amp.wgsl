// Artificial metaplasticity factors (Vives-Boix and Ruiz-Fernandez 2021, after Andina): each
// example's gradient in a convolutional layer is weighted by 1/f*(x),
//   f*(x) = A / (sqrt((2 pi)^N) * exp(B * sum_i x_i^2)),
// applied in the log domain and normalised to mean 1 within the batch (A and (2 pi)^N cancel),
// with B taken relative to the batch's mean energy (this project's construction, see the CPU file):
//   energy:    E_b = sum_i x_bi^2, summed over i in order (one invocation per example);
//   normalize: l_b = B * E_b / mean_j(E_j) (0 when the mean is 0),
//              f_b = clamp(batch * exp(l_b - max_j l_j) / sum_j exp(l_j - max), lo, hi),
//              in one invocation so the sums and the max run in example order as on the CPU;
//   scale_rows: out[r, :] = dy[r, :] * f[r / rows_per_example], the weighted output gradient
//              from which the layer's weight and bias gradients are taken.
// B = 0 gives exp(0) = 1 everywhere, sum = batch, every factor exactly 1.
// The centred energy first centres x on a running mean of the patterns seen in training:
//   centre:    rate = max(1 / (t + 1), min_rate), t = updates[0] (earlier updates),
//              mu_i <- mu_i + rate * (mean_b x_bi - mu_i), centred_bi = x_bi - mu_i,
//              one invocation per element i (the batch mean summed over examples in order);
//   tick:      updates[0] += 1, after `centre` (one counter per running mean).
// CPU reference: src/cpu/amp.rs (`amp_factors`, `scale_rows`); host side: src/gpu/amp.rs.

// Laid out as `AmpHyper`.
struct Amp {
    a: f32,
    b: f32,
    lo: f32,
    hi: f32,
}

struct Shape {
    batch: u32,
    // Elements per example of the pattern x (energy); elements of dy (scale_rows).
    n: u32,
    cols: u32,
    rows_per_example: u32,
}

@group(0) @binding(0) var<uniform> amp: Amp;
@group(0) @binding(1) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// Per example: E_b, written by `energy`, read by `normalize`.
@group(0) @binding(3) var<storage, read_write> logs: array<f32>;
@group(0) @binding(4) var<storage, read> logs_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> factors: array<f32>;
@group(0) @binding(6) var<storage, read> factors_in: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;
@group(0) @binding(9) var<storage, read_write> mean: array<f32>;
@group(0) @binding(10) var<storage, read_write> centred: array<f32>;
@group(0) @binding(11) var<storage, read_write> updates: array<u32>;

// Laid out as `Centring` in src/gpu/amp.rs; `min_rate` is `AMP_CENTRE_MIN_RATE`.
struct Centring {
    min_rate: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(12) var<uniform> centring: Centring;

const WG: u32 = 256u;

@compute @workgroup_size(64)
fn energy(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if (b >= shape.batch) {
        return;
    }
    var e = 0.0;
    for (var i = 0u; i < shape.n; i++) {
        let v = x[b * shape.n + i];
        e += v * v;
    }
    logs[b] = e;
}

@compute @workgroup_size(1)
fn normalize() {
    let n = f32(shape.batch);
    var total = 0.0;
    for (var b = 0u; b < shape.batch; b++) {
        total += logs_in[b];
    }
    let mean = total / n;
    var scale = 0.0;
    if (mean > 0.0) {
        scale = amp.b / mean;
    }
    var m = scale * logs_in[0];
    for (var b = 1u; b < shape.batch; b++) {
        m = max(m, scale * logs_in[b]);
    }
    var sum = 0.0;
    for (var b = 0u; b < shape.batch; b++) {
        sum += exp(scale * logs_in[b] - m);
    }
    for (var b = 0u; b < shape.batch; b++) {
        factors[b] = clamp(exp(scale * logs_in[b] - m) * n / sum, amp.lo, amp.hi);
    }
}

@compute @workgroup_size(256)
fn scale_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < shape.n; i += groups.x * WG) {
        let row = i / shape.cols;
        out[i] = dy[i] * factors_in[row / shape.rows_per_example];
    }
}

// `shape.n` is the length of one pattern here (and of `mean`).
@compute @workgroup_size(256)
fn centre(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let rate = max(1.0 / (f32(updates[0]) + 1.0), centring.min_rate);
    for (var i = gid.x; i < shape.n; i += groups.x * WG) {
        var total = 0.0;
        for (var b = 0u; b < shape.batch; b++) {
            total += x[b * shape.n + i];
        }
        let mu = mean[i] + rate * (total / f32(shape.batch) - mean[i]);
        mean[i] = mu;
        for (var b = 0u; b < shape.batch; b++) {
            centred[b * shape.n + i] = x[b * shape.n + i] - mu;
        }
    }
}

@compute @workgroup_size(1)
fn tick() {
    updates[0] += 1u;
}
