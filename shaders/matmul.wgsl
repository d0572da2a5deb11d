// Matrix product C = op(A) · op(B), or C += op(A) · op(B), by one of several kernels (the host
// picks): `main` or `wide` (its 8x8 blocks) for most products; the vec4 kernels (`along_k`,
// `along_n`, `along_mn`) where both operands can also be read four values at a time (a dense
// layer's forward product, input gradient and weight gradient, their dimensions multiples of 4),
// whichever of these measured fastest at the product's shape; `rows` for a narrow C (a convolution's forward
// product: as many rows as pixels, a column per output channel); `split` and `reduce` for a small C
// summed over a long k (a convolution's weight gradient: k runs over every pixel of the batch).
// CPU reference: src/cpu/matmul.rs (`matmul_reference`); host side: src/gpu/matmul.rs.
//
// `main`: each workgroup of 8x8 invocations computes a 32x32 tile of C, each invocation a 4x4 block
// of it (rows ly + 8i and columns lx + 8j, i and j in 0..4), held in four vec4 accumulators. Per
// step of k an invocation reads four values of A and four of B straight from the buffers and does
// sixteen multiply-adds; there is no workgroup memory and no barrier. On the software adapters this
// project is measured on (llvmpipe, SwiftShader), every load whose address differs between
// invocations is a per-lane gather and every barrier a switch between coroutines, so sixteen
// multiply-adds per eight loads and no barriers is what pays (docs/performance.md); a hardware GPU
// serves the repeated reads from its caches. Indices are clamped to the last row and column instead
// of tested per load (the extra outputs are computed and not stored), and walk along k by a stride
// worked out once. Every output still sums its k products one at a time in order.

struct Shape {
    m: u32,
    k: u32,
    n: u32,
    flags: u32, // 1: A stored transposed (k x m), 2: B stored transposed (n x k), 4: accumulate into C
    // split and reduce: k per chunk, and chunks.
    chunk: u32,
    chunks: u32,
    // main and rows: 1 adds bias[column] to every output (a layer's bias, fused into its
    // product: one dispatch fewer per layer).
    with_bias: u32,
    // main and rows: the activation applied after the bias (0 none, 1 ReLU, 2 tanh; the layer
    // after the product, fused into it), as activation.wgsl computes it.
    act: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// split writes each chunk's sums, `[chunks, m, n]`; reduce adds them up.
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
// One per column of C, read when `with_bias` is 1 (otherwise bound to B, unread).
@group(0) @binding(5) var<storage, read> bias: array<f32>;
// The vec4 kernels: A and B again, four values per element.
@group(0) @binding(6) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> b4: array<vec4<f32>>;

// Outputs per workgroup side, invocations per side, outputs per invocation side.
const TILE: u32 = 32u;
const SIDE: u32 = 8u;

fn load_a(row: u32, col: u32) -> f32 {
    if (row >= shape.m || col >= shape.k) {
        return 0.0;
    }
    if ((shape.flags & 1u) != 0u) {
        return a[col * shape.m + row];
    }
    return a[row * shape.k + col];
}

fn load_b(row: u32, col: u32) -> f32 {
    if (row >= shape.k || col >= shape.n) {
        return 0.0;
    }
    if ((shape.flags & 2u) != 0u) {
        return b[col * shape.k + row];
    }
    return b[row * shape.n + col];
}

// (ra, pa, pb, cb): A[row, p] is a[row * ra + p * pa] and B[p, col] is b[p * pb + col * cb], for
// the layouts the flags name.
fn strides() -> vec4<u32> {
    var st = vec4<u32>(shape.k, 1u, shape.n, 1u);
    if ((shape.flags & 1u) != 0u) {
        st.x = 1u;
        st.y = shape.m;
    }
    if ((shape.flags & 2u) != 0u) {
        st.z = 1u;
        st.w = shape.k;
    }
    return st;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wid.y * TILE + lid.y;
    let col0 = wid.x * TILE + lid.x;
    let st = strides();
    let ra = st.x;
    let pa = st.y;
    let pb = st.z;
    let cb = st.w;
    let last_row = shape.m - 1u;
    let last_col = shape.n - 1u;
    let rows = min(vec4<u32>(row0) + vec4<u32>(0u, SIDE, 2u * SIDE, 3u * SIDE), vec4<u32>(last_row));
    let cols = min(vec4<u32>(col0) + vec4<u32>(0u, SIDE, 2u * SIDE, 3u * SIDE), vec4<u32>(last_col));
    var ia = rows * ra;
    var ib = cols * cb;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var p = 0u; p < shape.k; p = p + 1u) {
        let av = vec4<f32>(a[ia.x], a[ia.y], a[ia.z], a[ia.w]);
        let bv = vec4<f32>(b[ib.x], b[ib.y], b[ib.z], b[ib.w]);
        ia = ia + pa;
        ib = ib + pb;
        acc0 = acc0 + av.x * bv;
        acc1 = acc1 + av.y * bv;
        acc2 = acc2 + av.z * bv;
        acc3 = acc3 + av.w * bv;
    }
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            let row = row0 + i * SIDE;
            let col = col0 + j * SIDE;
            if (row < shape.m && col < shape.n) {
                store(row * shape.n + col, with_bias(acc[i][j], col));
            }
        }
    }
}

// `wide`: `main` with an 8x8 block per invocation (rows ly + 8i and columns lx + 8j, i and j in
// 0..8), so a workgroup of 8x8 invocations computes a 64x64 tile of C. Per step of k an invocation
// reads eight values of A and eight of B for 64 multiply-adds, twice `main`'s ratio: on SwiftShader,
// where every load is a per-lane gather, that halves the time of a large product (docs/
// performance.md), at the cost of more idle lanes on a C smaller than the tile and of sixteen
// accumulators in registers; which of the kernels a product runs is measured (src/gpu/matmul.rs).
// Every output still sums its k products one at a time in order.
const WIDE: u32 = 64u;

@compute @workgroup_size(8, 8)
fn wide(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wid.y * WIDE + lid.y;
    let col0 = wid.x * WIDE + lid.x;
    let st = strides();
    let ra = st.x;
    let pa = st.y;
    let pb = st.z;
    let cb = st.w;
    let last_row = vec4<u32>(shape.m - 1u);
    let last_col = vec4<u32>(shape.n - 1u);
    let eighths = vec4<u32>(0u, SIDE, 2u * SIDE, 3u * SIDE);
    // Rows row0 + 8i for i in 0..4 and 4..8, columns likewise, clamped to the last.
    var ia0 = min(vec4<u32>(row0) + eighths, last_row) * ra;
    var ia1 = min(vec4<u32>(row0 + 4u * SIDE) + eighths, last_row) * ra;
    var ib0 = min(vec4<u32>(col0) + eighths, last_col) * cb;
    var ib1 = min(vec4<u32>(col0 + 4u * SIDE) + eighths, last_col) * cb;
    // acc[2i + h][j]: row row0 + 8i, column col0 + 8(4h + j).
    var acc: array<vec4<f32>, 16>;
    for (var p = 0u; p < shape.k; p = p + 1u) {
        let a0 = vec4<f32>(a[ia0.x], a[ia0.y], a[ia0.z], a[ia0.w]);
        let a1 = vec4<f32>(a[ia1.x], a[ia1.y], a[ia1.z], a[ia1.w]);
        let b0 = vec4<f32>(b[ib0.x], b[ib0.y], b[ib0.z], b[ib0.w]);
        let b1 = vec4<f32>(b[ib1.x], b[ib1.y], b[ib1.z], b[ib1.w]);
        ia0 = ia0 + pa;
        ia1 = ia1 + pa;
        ib0 = ib0 + pb;
        ib1 = ib1 + pb;
        acc[0] = acc[0] + a0.x * b0;
        acc[1] = acc[1] + a0.x * b1;
        acc[2] = acc[2] + a0.y * b0;
        acc[3] = acc[3] + a0.y * b1;
        acc[4] = acc[4] + a0.z * b0;
        acc[5] = acc[5] + a0.z * b1;
        acc[6] = acc[6] + a0.w * b0;
        acc[7] = acc[7] + a0.w * b1;
        acc[8] = acc[8] + a1.x * b0;
        acc[9] = acc[9] + a1.x * b1;
        acc[10] = acc[10] + a1.y * b0;
        acc[11] = acc[11] + a1.y * b1;
        acc[12] = acc[12] + a1.z * b0;
        acc[13] = acc[13] + a1.z * b1;
        acc[14] = acc[14] + a1.w * b0;
        acc[15] = acc[15] + a1.w * b1;
    }
    for (var q = 0u; q < 16u; q = q + 1u) {
        let row = row0 + (q / 2u) * SIDE;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = col0 + (4u * (q % 2u) + j) * SIDE;
            if (row < shape.m && col < shape.n) {
                store(row * shape.n + col, with_bias(acc[q][j], col));
            }
        }
    }
}

// The vec4 kernels: `main`'s 4x4 blocks, for layouts in which both operands can be read four
// values at a time, each block's rows and columns contiguous (rows 4 R .. 4 R + 3 and columns
// 4 C .. 4 C + 3 of invocation (C, R)). A is read along k (stored m x k) or along m (stored
// transposed, k x m), B along k (stored transposed, n x k) or along n (stored k x n); k is a
// multiple of 4 and so is each dimension read along. Per step of four k an invocation loads four
// vec4s of A and four of B (16 bytes a load where `main` loads 4) and does 64 multiply-adds; every
// output still adds its products one at a time in k order, as `main` does. One body serves the
// three layouts, its flags constant per entry point so that each compiles to its own loop:
//   `along_k`:  a layer's forward product, X · Wᵀ (A and B along k);
//   `along_n`:  its input gradient, dY · W (A along k, B along n);
//   `along_mn`: its weight gradient, dYᵀ · X (A along m, B along n).
@compute @workgroup_size(8, 8)
fn along_k(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    vec4_block(wid, lid, true, true);
}

@compute @workgroup_size(8, 8)
fn along_n(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    vec4_block(wid, lid, true, false);
}

@compute @workgroup_size(8, 8)
fn along_mn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    vec4_block(wid, lid, false, false);
}

fn vec4_block(wid: vec3<u32>, lid: vec3<u32>, a_along_k: bool, b_along_k: bool) {
    let r4 = wid.y * SIDE + lid.y;
    let c4 = wid.x * SIDE + lid.x;
    let k4 = shape.k / 4u;
    let quad = vec4<u32>(0u, 1u, 2u, 3u);
    // The four vec4s a step reads of each operand, and how far the next step's are. Along k: one
    // per row (column) of the block, rows past the last clamped to it, the next four k one vec4
    // on. Along m (n): one per k of the step, k = 4q + e holding the block's four rows (columns)
    // at vec4 (4q + e) * m/4 + R, the block clamped to the last one.
    var ia: vec4<u32>;
    var sa: u32;
    if (a_along_k) {
        ia = min(vec4<u32>(4u * r4) + quad, vec4<u32>(shape.m - 1u)) * k4;
        sa = 1u;
    } else {
        let m4 = shape.m / 4u;
        ia = vec4<u32>(min(r4, m4 - 1u)) + quad * m4;
        sa = 4u * m4;
    }
    var ib: vec4<u32>;
    var sb: u32;
    if (b_along_k) {
        ib = min(vec4<u32>(4u * c4) + quad, vec4<u32>(shape.n - 1u)) * k4;
        sb = 1u;
    } else {
        let n4 = shape.n / 4u;
        ib = vec4<u32>(min(c4, n4 - 1u)) + quad * n4;
        sb = 4u * n4;
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var q = 0u; q < k4; q = q + 1u) {
        // xa[e][i] = A[row i, 4q + e] and yb[e][j] = B[4q + e, column j]: read along k, the four
        // vec4s are rows of the block and are transposed; read along m or n, they are already k's.
        var xa = mat4x4<f32>(a4[ia.x], a4[ia.y], a4[ia.z], a4[ia.w]);
        var yb = mat4x4<f32>(b4[ib.x], b4[ib.y], b4[ib.z], b4[ib.w]);
        if (a_along_k) {
            xa = transpose(xa);
        }
        if (b_along_k) {
            yb = transpose(yb);
        }
        ia = ia + sa;
        ib = ib + sb;
        for (var e = 0u; e < 4u; e = e + 1u) {
            acc0 = acc0 + xa[e].x * yb[e];
            acc1 = acc1 + xa[e].y * yb[e];
            acc2 = acc2 + xa[e].z * yb[e];
            acc3 = acc3 + xa[e].w * yb[e];
        }
    }
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            let row = 4u * r4 + i;
            let col = 4u * c4 + j;
            if (row < shape.m && col < shape.n) {
                store(row * shape.n + col, with_bias(acc[i][j], col));
            }
        }
    }
}

// An output of C plus its column's bias, when the product has one, then the activation, when it
// has one: the sum first, then the bias, then the function, as the CPU's matmul, add_bias and
// activation_forward round.
fn with_bias(v: f32, col: u32) -> f32 {
    var out = v;
    if (shape.with_bias != 0u) {
        out = out + bias[col];
    }
    if (shape.act == 1u) {
        out = max(out, 0.0);
    } else if (shape.act == 2u) {
        // As activation.wgsl: some drivers' tanh is NaN past |x| ~ 44; it is exactly ±1 in f32
        // well before |x| = 10.
        out = tanh(clamp(out, -10.0, 10.0));
    }
    return out;
}

// Stores one output of C, or adds it in.
fn store(idx: u32, v: f32) {
    if ((shape.flags & 4u) != 0u) {
        c[idx] = c[idx] + v;
    } else {
        c[idx] = v;
    }
}

// Columns `rows` computes per invocation at most.
const ROWS_N: u32 = 16u;

// `rows`: for n <= ROWS_N and A stored row-major. One invocation per row of C computes all its n
// outputs, each summing its k products in order: no tile column is wasted on a narrow C (a tile of
// `main` is 32 columns wide, and a convolution has 4 to 16 output channels).
@compute @workgroup_size(64)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= shape.m) {
        return;
    }
    var acc: array<f32, 16>;
    for (var p = 0u; p < shape.k; p = p + 1u) {
        let av = a[r * shape.k + p];
        for (var j = 0u; j < shape.n; j = j + 1u) {
            acc[j] = acc[j] + av * load_b(p, j);
        }
    }
    for (var j = 0u; j < shape.n; j = j + 1u) {
        store(r * shape.n + j, with_bias(acc[j], j));
    }
}

// `split`: workgroup z sums the products of k in [z * chunk, (z + 1) * chunk) for every output of
// C, its invocations taking the outputs in turn, into partial[z]. With few outputs and a long k,
// `main` would run a handful of mostly idle tiles one k step after another; this runs as many
// workgroups as chunks and wastes no lane.
@compute @workgroup_size(64)
fn split(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let z = wid.x;
    let outputs = shape.m * shape.n;
    let first = z * shape.chunk;
    let last = min(first + shape.chunk, shape.k);
    for (var o = li; o < outputs; o = o + 64u) {
        let i = o / shape.n;
        let j = o % shape.n;
        var acc = 0.0;
        for (var p = first; p < last; p = p + 1u) {
            acc = acc + load_a(i, p) * load_b(p, j);
        }
        partial[z * outputs + o] = acc;
    }
}

// `reduce`: each output adds up its chunks' sums in order.
@compute @workgroup_size(64)
fn reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
    let o = gid.x;
    let outputs = shape.m * shape.n;
    if (o >= outputs) {
        return;
    }
    var acc = partial[o];
    for (var z = 1u; z < shape.chunks; z = z + 1u) {
        acc = acc + partial[z * outputs + o];
    }
    store(o, acc);
}
