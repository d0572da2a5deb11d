// 2-D convolution as im2col + matrix product, channels-last (NHWC), stride 1, zero padding:
//   im2col:    cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy + ky - pad, ox + kx - pad, ci] (0 in the padding)
//   col2im:    dx[b, y, x, ci] = sum over taps (ky, kx) with oy = y + pad - ky, ox = x + pad - kx in range
//              of cols[(b, oy, ox), (ky, kx, ci)]: the adjoint of im2col, as a gather so that no two
//              invocations write one element (no atomics on f32 in WGSL);
//   add_bias:  y[r, c] += bias[c];
//   bias_grad: db[c] = sum_r dy[r, c], summed over rows in order so it rounds as the CPU does;
//              with `accumulate`, db[c] += that sum (a layer applied at every step of an episode).
// The products Y = cols · Wᵀ, dW = dYᵀ · cols, dcols = dY · W run in matmul.wgsl.
// CPU reference: src/cpu/conv.rs (`im2col`, `col2im`, `add_bias`, `bias_grad`);
// host side: src/gpu/conv.rs.

// Laid out as `ConvShape`.
struct Conv {
    batch: u32,
    h: u32,
    w: u32,
    cin: u32,
    cout: u32,
    k: u32,
    pad: u32,
    _pad: u32,
}

// A `rows x cols` matrix (a layer's output or its gradient) and its length.
struct Rows {
    rows: u32,
    cols: u32,
    n: u32,
    // bias_grad only: 1 adds into db instead of overwriting it.
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> conv: Conv;
@group(0) @binding(1) var<uniform> shape: Rows;
// im2col: x -> cols; col2im: cols_in -> dx.
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> cols: array<f32>;
@group(0) @binding(4) var<storage, read> cols_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
// add_bias: y += bias; bias_grad: dy -> db.
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read_write> db: array<f32>;

const WG: u32 = 256u;

fn out_h() -> u32 {
    return conv.h + 2u * conv.pad + 1u - conv.k;
}

fn out_w() -> u32 {
    return conv.w + 2u * conv.pad + 1u - conv.k;
}

// One invocation per element of cols, grid-stride: cols of a batch of 28x28 images exceed
// 65535 workgroups of 256.
@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // The receptive field k*k*cin, the width of cols (`patch` is reserved in WGSL).
    let field = conv.k * conv.k * conv.cin;
    let oh = out_h();
    let ow = out_w();
    let n = conv.batch * oh * ow * field;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let row = i / field;
        let col = i % field;
        let ci = col % conv.cin;
        let tap = col / conv.cin;
        let kx = tap % conv.k;
        let ky = tap / conv.k;
        let ox = row % ow;
        let oy = (row / ow) % oh;
        let b = row / (ow * oh);
        // Unsigned: a position left of or above the image wraps to a huge value and fails `< h`.
        let sy = oy + ky - conv.pad;
        let sx = ox + kx - conv.pad;
        var v = 0.0;
        if (oy + ky >= conv.pad && ox + kx >= conv.pad && sy < conv.h && sx < conv.w) {
            v = x[((b * conv.h + sy) * conv.w + sx) * conv.cin + ci];
        }
        cols[i] = v;
    }
}

// One invocation per input element; taps visited in (ky, kx) order, as the CPU adds them.
@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let field = conv.k * conv.k * conv.cin;
    let oh = out_h();
    let ow = out_w();
    let n = conv.batch * conv.h * conv.w * conv.cin;
    for (var i = gid.x; i < n; i += groups.x * WG) {
        let ci = i % conv.cin;
        let px = (i / conv.cin) % conv.w;
        let py = (i / (conv.cin * conv.w)) % conv.h;
        let b = i / (conv.cin * conv.w * conv.h);
        var acc = 0.0;
        for (var ky = 0u; ky < conv.k; ky++) {
            if (py + conv.pad < ky) {
                continue;
            }
            let oy = py + conv.pad - ky;
            if (oy >= oh) {
                continue;
            }
            for (var kx = 0u; kx < conv.k; kx++) {
                if (px + conv.pad < kx) {
                    continue;
                }
                let ox = px + conv.pad - kx;
                if (ox >= ow) {
                    continue;
                }
                acc += cols_in[((b * oh + oy) * ow + ox) * field + (ky * conv.k + kx) * conv.cin + ci];
            }
        }
        dx[i] = acc;
    }
}

@compute @workgroup_size(256)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < shape.n; i += groups.x * WG) {
        y[i] = y[i] + bias[i % shape.cols];
    }
}

// One invocation per column.
@compute @workgroup_size(64)
fn bias_grad(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= shape.cols) {
        return;
    }
    var acc = 0.0;
    for (var r = 0u; r < shape.rows; r++) {
        acc += dy[r * shape.cols + c];
    }
    if (shape.accumulate != 0u) {
        db[c] = db[c] + acc;
    } else {
        db[c] = acc;
    }
}
