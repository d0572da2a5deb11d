// The binarized network's hidden products as XNOR and popcount, on the GPU as on the CPU: where
// both the inputs (a sign layer's output) and the weights are +-1, each is one bit, 32 to a word,
// and a dot product of length n is
//
//   x . w = (agreements) - (disagreements) = n - 2 popcount(x XOR w)
//
// with bit 1 standing for -1 (sign(0) = +1, as sign.wgsl's binarize). The result is an integer below
// 2^24 in magnitude, so it equals the float product exactly, whatever order that adds in. (Rastegari
// et al., XNOR-Net, ECCV 2016.) CPU reference: src/cpu/xnor.rs (`PackedSigns::pack`, 64 bits to a
// word there, and `xnor_matmul`); host side: src/gpu/xnor.rs.
//
//   pack:    bits[r, j] = sum over b < 32 of 2^b [v[r, 32 j + b] < 0], for the rows of v (rows x len);
//            bits of values past len are 0 in every operand, so they never disagree.
//   product: y[b, o] = len - 2 sum over j of popcount(xb[b, j] XOR wb[o, j]): x sign(W)ᵀ, batch x outs.
//
// Why: on the software adapters a float product of bnn-1024's hidden layer (100 x 1024 x 1024) is
// 100 million multiply-adds; this is 3 million XORs and popcounts of words.

struct Shape {
    // pack: the rows of v; product: the rows of x (the batch).
    rows: u32,
    // The values per row (n).
    len: u32,
    // Words per row: ceil(len / 32).
    words: u32,
    // product: the rows of W (the outputs).
    outs: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> bits: array<u32>;
@group(0) @binding(3) var<storage, read> xb: array<u32>;
@group(0) @binding(4) var<storage, read> wb: array<u32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const WG: u32 = 64u;

// One word per step of a grid-stride loop, so any size takes one dispatch.
@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let total = shape.rows * shape.words;
    for (var i = gid.x; i < total; i += groups.x * WG) {
        let row = i / shape.words;
        let first = (i % shape.words) * 32u;
        let n = min(32u, shape.len - first);
        let base = row * shape.len + first;
        var word = 0u;
        for (var b = 0u; b < n; b++) {
            word |= select(0u, 1u << b, v[base + b] < 0.0);
        }
        bits[i] = word;
    }
}

// Invocation g computes rows 4 (g / c) .. + 3 by outputs 4 (g % c) .. + 3, c = ceil(outs / 4), so
// neighbouring invocations share their rows of x. Rows and outputs past the last are computed as
// the last one and not stored.
@compute @workgroup_size(64)
fn product(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let blocks = (shape.outs + 3u) / 4u;
    let g = wid.x * WG + li;
    let o0 = (g % blocks) * 4u;
    let r0 = (g / blocks) * 4u;
    let four = vec4<u32>(0u, 1u, 2u, 3u);
    let rs = min(vec4<u32>(r0) + four, vec4<u32>(shape.rows - 1u)) * shape.words;
    let os = min(vec4<u32>(o0) + four, vec4<u32>(shape.outs - 1u)) * shape.words;
    // d[t][j]: disagreements of row r0 + t with output o0 + j.
    var d0 = vec4<u32>(0u);
    var d1 = vec4<u32>(0u);
    var d2 = vec4<u32>(0u);
    var d3 = vec4<u32>(0u);
    for (var p = 0u; p < shape.words; p++) {
        let w = vec4<u32>(wb[os.x + p], wb[os.y + p], wb[os.z + p], wb[os.w + p]);
        d0 += countOneBits(vec4<u32>(xb[rs.x + p]) ^ w);
        d1 += countOneBits(vec4<u32>(xb[rs.y + p]) ^ w);
        d2 += countOneBits(vec4<u32>(xb[rs.z + p]) ^ w);
        d3 += countOneBits(vec4<u32>(xb[rs.w + p]) ^ w);
    }
    let d = array<vec4<u32>, 4>(d0, d1, d2, d3);
    let n = vec4<i32>(i32(shape.len));
    for (var t = 0u; t < 4u; t++) {
        let r = r0 + t;
        let vals = vec4<f32>(n - 2 * vec4<i32>(d[t]));
        for (var j = 0u; j < 4u; j++) {
            let o = o0 + j;
            if (r < shape.rows && o < shape.outs) {
                y[r * shape.outs + o] = vals[j];
            }
        }
    }
}
