// 2-D convolution without the im2col matrix (implicit GEMM), channels-last (NHWC), stride 1, zero
// padding. With `cols = im2col(x)` (`cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy + ky - pad,
// ox + kx - pad, ci]`, 0 in the padding) the three products of a convolution are read from x where
// cols would have been, so no `rows x k*k*cin` matrix is written or read back:
//   forward:      y = act(cols · Wᵀ + bias)                      y: [rows, cout]
//   input_grad:   dx = col2im(dy · W) (+ bias)                   dx: [batch, h, w, cin]
//                 (a transposed convolution's forward pass)
//   weight_grad:  dW (+)= dyᵀ · cols, and db (+)= column sums of dy, in one pass
//                 (a transposed convolution's weight gradient, with x and dy swapped)
//   bias_grad:    db[c] (+)= sum_r dy[r, c], rows in order (a dense or transposed layer's bias).
// forward and input_grad compute a 4x4 block of outputs per invocation (4 rows or pixels by 4
// channels), forward8 and input_grad8 an 8x8 one (by 4 channels where there are 4 or fewer),
// weight_grad 4 columns by 8 channels, in vec4 accumulators, reading their operands straight from
// the buffers (no workgroup memory in the products): on the software adapters this project is
// measured on, a load whose address differs between invocations is a per-lane gather, so many
// multiply-adds per load is what pays. Which block size is faster differs by adapter (8x8 on
// SwiftShader, 4x4 on llvmpipe: docs/performance.md), so the host times both at each shape and
// runs the faster.
// Out-of-range indices are clamped and their values masked to 0, never tested per load.
// CPU reference: src/cpu/conv.rs (`im2col`, `col2im`, `bias_grad`) with src/cpu/matmul.rs;
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

// A `rows x cols` matrix (bias_grad's dy) and its length.
struct Rows {
    rows: u32,
    cols: u32,
    n: u32,
    // 1 adds into db instead of overwriting it.
    accumulate: u32,
}

// What a product does besides the sum.
struct Extra {
    // forward, input_grad: 1 adds bias[channel]; weight_grad: 1 also writes the bias gradient.
    with_bias: u32,
    // forward: the activation after the bias (0 none, 1 ReLU, 2 tanh), as activation.wgsl.
    act: u32,
    // weight_grad: 1 adds into dw (and db) instead of overwriting them.
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> conv: Conv;
@group(0) @binding(1) var<uniform> shape: Rows;
@group(0) @binding(2) var<uniform> extra: Extra;
// forward and weight_grad: the convolution's input.
@group(0) @binding(3) var<storage, read> x: array<f32>;
// forward and input_grad: the weights, [cout, k, k, cin].
@group(0) @binding(4) var<storage, read> w: array<f32>;
// forward and input_grad with `with_bias`: one per output channel (otherwise bound to w, unread).
@group(0) @binding(5) var<storage, read> bias: array<f32>;
// forward: y; input_grad: dx.
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
// input_grad, weight_grad, bias_grad: the gradient at the convolution's output, [rows, cout].
@group(0) @binding(7) var<storage, read> dy: array<f32>;
// weight_grad: dW, shaped as w.
@group(0) @binding(8) var<storage, read_write> dw: array<f32>;
// weight_grad with `with_bias`, bias_grad: the bias gradient.
@group(0) @binding(9) var<storage, read_write> db: array<f32>;
// weight_grad4: dy again, four output channels per element.
@group(0) @binding(10) var<storage, read> dy4: array<vec4<f32>>;

// Invocations per workgroup; a workgroup of a product covers 4 x WG rows (or pixels).
const WG: u32 = 64u;

fn out_h() -> u32 {
    return conv.h + 2u * conv.pad + 1u - conv.k;
}

fn out_w() -> u32 {
    return conv.w + 2u * conv.pad + 1u - conv.k;
}

fn finish(v: f32, channel: u32) -> f32 {
    var out = v;
    if (extra.with_bias != 0u) {
        out = out + bias[channel];
    }
    if (extra.act == 1u) {
        out = max(out, 0.0);
    } else if (extra.act == 2u) {
        // As activation.wgsl: some drivers' tanh is NaN past |x| ~ 44; it is exactly ±1 in f32
        // well before |x| = 10.
        out = tanh(clamp(out, -10.0, 10.0));
    }
    return out;
}

// Where output row `r` (an output pixel of an example) starts reading: (b, oy, ox).
fn pixel_of(r: u32) -> vec3<u32> {
    let ow = out_w();
    let oh = out_h();
    return vec3<u32>(r / (ow * oh), (r / ow) % oh, r % ow);
}

// Four pixels' reads of one tap: each one's first channel's index (0 where it reads padding) and
// 1 or 0 for a read inside or outside.
struct Taps {
    base: vec4<u32>,
    keep: vec4<f32>,
}

// forward8: where four output pixels (examples e, rows oy, columns ox) read tap (ky, kx) in x.
// Unsigned: left of or above the image wraps to a huge value and fails `< h`.
fn taps_forward(e: vec4<u32>, oy: vec4<u32>, ox: vec4<u32>, ky: u32, kx: u32) -> Taps {
    let pad = vec4<u32>(conv.pad);
    let sy = oy + ky - pad;
    let sx = ox + kx - pad;
    let inside = (oy + ky >= pad) & (ox + kx >= pad) & (sy < vec4<u32>(conv.h)) & (sx < vec4<u32>(conv.w));
    let base = ((e * conv.h + sy) * conv.w + sx) * conv.cin;
    return Taps(select(vec4<u32>(0u), base, inside), select(vec4<f32>(0.0), vec4<f32>(1.0), inside));
}

// input_grad8: which output pixels (oy = py + pad - ky, ox = px + pad - kx) four input pixels
// reach through tap (ky, kx), as indices into dy.
fn taps_back(e: vec4<u32>, py: vec4<u32>, px: vec4<u32>, ky: u32, kx: u32) -> Taps {
    let oh = out_h();
    let ow = out_w();
    let oy = py + conv.pad - ky;
    let ox = px + conv.pad - kx;
    let inside = (py + conv.pad >= vec4<u32>(ky)) & (px + conv.pad >= vec4<u32>(kx)) & (oy < vec4<u32>(oh)) & (ox < vec4<u32>(ow));
    let base = ((e * oh + oy) * ow + ox) * conv.cout;
    return Taps(select(vec4<u32>(0u), base, inside), select(vec4<f32>(0.0), vec4<f32>(1.0), inside));
}

// `forward`: invocation li of workgroup (gx, gy) computes rows gx * 4 * WG + li + WG * i (i in
// 0..4) for output channels 4 gy .. 4 gy + 3. Each output sums its k*k*cin products in the order of
// the columns of cols, (ky, kx, ci), as the product over cols does.
@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let rows = conv.batch * out_h() * out_w();
    let field = conv.k * conv.k * conv.cin;
    let r0 = wid.x * 4u * WG + li;
    let rs = min(vec4<u32>(r0) + vec4<u32>(0u, WG, 2u * WG, 3u * WG), vec4<u32>(rows - 1u));
    let co0 = wid.y * 4u;
    let wrows = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(conv.cout - 1u)) * field;
    var px: array<vec3<u32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        px[i] = pixel_of(rs[i]);
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ky = 0u; ky < conv.k; ky++) {
        for (var kx = 0u; kx < conv.k; kx++) {
            // Per row: the input pixel this tap reads (unsigned: left of or above the image wraps
            // to a huge value and fails `< h`), and 1 or 0 for inside or padding.
            var base = vec4<u32>(0u);
            var keep = vec4<f32>(0.0);
            for (var i = 0u; i < 4u; i++) {
                let sy = px[i].y + ky - conv.pad;
                let sx = px[i].z + kx - conv.pad;
                if (px[i].y + ky >= conv.pad && px[i].z + kx >= conv.pad && sy < conv.h && sx < conv.w) {
                    base[i] = ((px[i].x * conv.h + sy) * conv.w + sx) * conv.cin;
                    keep[i] = 1.0;
                }
            }
            let tap = (ky * conv.k + kx) * conv.cin;
            for (var ci = 0u; ci < conv.cin; ci++) {
                let xv = vec4<f32>(x[base.x + ci], x[base.y + ci], x[base.z + ci], x[base.w + ci]) * keep;
                let wi = wrows + tap + ci;
                let wv = vec4<f32>(w[wi.x], w[wi.y], w[wi.z], w[wi.w]);
                acc0 = acc0 + xv.x * wv;
                acc1 = acc1 + xv.y * wv;
                acc2 = acc2 + xv.z * wv;
                acc3 = acc3 + xv.w * wv;
            }
        }
    }
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + i * WG;
        for (var j = 0u; j < 4u; j++) {
            let co = co0 + j;
            if (r < rows && co < conv.cout) {
                y[r * conv.cout + co] = finish(acc[i][j], co);
            }
        }
    }
}

// `forward8`: invocation li of workgroup (gx, gy) computes rows gx * 8 * WG + li + WG * i (i in
// 0..8) for output channels 8 gy .. 8 gy + 7. Each output sums its k*k*cin products in the order of
// the columns of cols, (ky, kx, ci), as the product over cols does.
@compute @workgroup_size(64)
fn forward8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let rows = conv.batch * out_h() * out_w();
    let field = conv.k * conv.k * conv.cin;
    let r0 = wid.x * 8u * WG + li;
    let quarters = vec4<u32>(0u, WG, 2u * WG, 3u * WG);
    let rs0 = min(vec4<u32>(r0) + quarters, vec4<u32>(rows - 1u));
    let rs1 = min(vec4<u32>(r0 + 4u * WG) + quarters, vec4<u32>(rows - 1u));
    let co0 = wid.y * 8u;
    let last = vec4<u32>(conv.cout - 1u);
    let w0 = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), last) * field;
    let w1 = min(vec4<u32>(co0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last) * field;
    let oh = out_h();
    let ow = out_w();
    // The eight rows' pixels as (example, row, column), four rows to a vector: an index into a
    // local array that the compiler cannot fold is a gather of its own on the software adapters
    // (so were the loops over rows this replaced, 1.4 times slower on SwiftShader).
    let pe0 = rs0 / (ow * oh);
    let py0 = (rs0 / ow) % oh;
    let px0 = rs0 % ow;
    let pe1 = rs1 / (ow * oh);
    let py1 = (rs1 / ow) % oh;
    let px1 = rs1 % ow;
    // acc[2i + h][j]: row r0 + WG i, channel co0 + 4h + j.
    var acc: array<vec4<f32>, 16>;
    for (var ky = 0u; ky < conv.k; ky++) {
        for (var kx = 0u; kx < conv.k; kx++) {
            let t0 = taps_forward(pe0, py0, px0, ky, kx);
            let t1 = taps_forward(pe1, py1, px1, ky, kx);
            let b0 = t0.base;
            let b1 = t1.base;
            let keep0 = t0.keep;
            let keep1 = t1.keep;
            let tap = (ky * conv.k + kx) * conv.cin;
            if (conv.cout <= 4u) {
                // Four channels or fewer: the block's second half would be idle, so it is not
                // computed (8 rows x 4 channels; the store skips channels past cout).
                for (var ci = 0u; ci < conv.cin; ci++) {
                    let x0 = vec4<f32>(x[b0.x + ci], x[b0.y + ci], x[b0.z + ci], x[b0.w + ci]) * keep0;
                    let x1 = vec4<f32>(x[b1.x + ci], x[b1.y + ci], x[b1.z + ci], x[b1.w + ci]) * keep1;
                    let wi0 = w0 + tap + ci;
                    let v0 = vec4<f32>(w[wi0.x], w[wi0.y], w[wi0.z], w[wi0.w]);
                    acc[0] = acc[0] + x0.x * v0;
                    acc[2] = acc[2] + x0.y * v0;
                    acc[4] = acc[4] + x0.z * v0;
                    acc[6] = acc[6] + x0.w * v0;
                    acc[8] = acc[8] + x1.x * v0;
                    acc[10] = acc[10] + x1.y * v0;
                    acc[12] = acc[12] + x1.z * v0;
                    acc[14] = acc[14] + x1.w * v0;
                }
                continue;
            }
            for (var ci = 0u; ci < conv.cin; ci++) {
                let x0 = vec4<f32>(x[b0.x + ci], x[b0.y + ci], x[b0.z + ci], x[b0.w + ci]) * keep0;
                let x1 = vec4<f32>(x[b1.x + ci], x[b1.y + ci], x[b1.z + ci], x[b1.w + ci]) * keep1;
                let wi0 = w0 + tap + ci;
                let wi1 = w1 + tap + ci;
                let v0 = vec4<f32>(w[wi0.x], w[wi0.y], w[wi0.z], w[wi0.w]);
                let v1 = vec4<f32>(w[wi1.x], w[wi1.y], w[wi1.z], w[wi1.w]);
                acc[0] = acc[0] + x0.x * v0;
                acc[1] = acc[1] + x0.x * v1;
                acc[2] = acc[2] + x0.y * v0;
                acc[3] = acc[3] + x0.y * v1;
                acc[4] = acc[4] + x0.z * v0;
                acc[5] = acc[5] + x0.z * v1;
                acc[6] = acc[6] + x0.w * v0;
                acc[7] = acc[7] + x0.w * v1;
                acc[8] = acc[8] + x1.x * v0;
                acc[9] = acc[9] + x1.x * v1;
                acc[10] = acc[10] + x1.y * v0;
                acc[11] = acc[11] + x1.y * v1;
                acc[12] = acc[12] + x1.z * v0;
                acc[13] = acc[13] + x1.z * v1;
                acc[14] = acc[14] + x1.w * v0;
                acc[15] = acc[15] + x1.w * v1;
            }
        }
    }
    for (var q = 0u; q < 16u; q++) {
        let r = r0 + (q / 2u) * WG;
        for (var j = 0u; j < 4u; j++) {
            let co = co0 + 4u * (q % 2u) + j;
            if (r < rows && co < conv.cout) {
                y[r * conv.cout + co] = finish(acc[q][j], co);
            }
        }
    }
}

// `input_grad`: invocation li of workgroup (gx, gy) computes input pixels gx * 4 * WG + li + WG * i
// (i in 0..4) for input channels 4 gy .. 4 gy + 3: each sums, over the taps (ky, kx) whose output
// pixel oy = py + pad - ky, ox = px + pad - kx exists, and over the output channels, dy times the
// weight: col2im of dy · W without the matrix dy · W. (Reading dy four output channels at a time,
// as weight_grad4 does, measured no faster here: docs/performance.md.)
@compute @workgroup_size(64)
fn input_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let pixels = conv.batch * conv.h * conv.w;
    let field = conv.k * conv.k * conv.cin;
    let oh = out_h();
    let ow = out_w();
    let q0 = wid.x * 4u * WG + li;
    let qs = min(vec4<u32>(q0) + vec4<u32>(0u, WG, 2u * WG, 3u * WG), vec4<u32>(pixels - 1u));
    let ci0 = wid.y * 4u;
    let cis = min(vec4<u32>(ci0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(conv.cin - 1u));
    var px: array<vec3<u32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let q = qs[i];
        px[i] = vec3<u32>(q / (conv.w * conv.h), (q / conv.w) % conv.h, q % conv.w);
    }
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ky = 0u; ky < conv.k; ky++) {
        for (var kx = 0u; kx < conv.k; kx++) {
            var base = vec4<u32>(0u);
            var keep = vec4<f32>(0.0);
            for (var i = 0u; i < 4u; i++) {
                let oy = px[i].y + conv.pad - ky;
                let ox = px[i].z + conv.pad - kx;
                if (px[i].y + conv.pad >= ky && px[i].z + conv.pad >= kx && oy < oh && ox < ow) {
                    base[i] = ((px[i].x * oh + oy) * ow + ox) * conv.cout;
                    keep[i] = 1.0;
                }
            }
            let tap = cis + (ky * conv.k + kx) * conv.cin;
            for (var co = 0u; co < conv.cout; co++) {
                let dv = vec4<f32>(dy[base.x + co], dy[base.y + co], dy[base.z + co], dy[base.w + co]) * keep;
                let wi = tap + co * field;
                let wv = vec4<f32>(w[wi.x], w[wi.y], w[wi.z], w[wi.w]);
                acc0 = acc0 + dv.x * wv;
                acc1 = acc1 + dv.y * wv;
                acc2 = acc2 + dv.z * wv;
                acc3 = acc3 + dv.w * wv;
            }
        }
    }
    var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i++) {
        let q = q0 + i * WG;
        for (var j = 0u; j < 4u; j++) {
            let ci = ci0 + j;
            if (q < pixels && ci < conv.cin) {
                y[q * conv.cin + ci] = finish(acc[i][j], ci);
            }
        }
    }
}

// `input_grad8`: invocation li of workgroup (gx, gy) computes input pixels gx * 8 * WG + li + WG * i
// (i in 0..8) for input channels 8 gy .. 8 gy + 7: each sums, over the taps (ky, kx) whose output
// pixel oy = py + pad - ky, ox = px + pad - kx exists, and over the output channels, dy times the
// weight: col2im of dy · W without the matrix dy · W. (Reading dy four output channels at a time,
// as weight_grad4 does, measured no faster here: docs/performance.md.)
@compute @workgroup_size(64)
fn input_grad8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let pixels = conv.batch * conv.h * conv.w;
    let field = conv.k * conv.k * conv.cin;
    let q0 = wid.x * 8u * WG + li;
    let quarters = vec4<u32>(0u, WG, 2u * WG, 3u * WG);
    let qs0 = min(vec4<u32>(q0) + quarters, vec4<u32>(pixels - 1u));
    let qs1 = min(vec4<u32>(q0 + 4u * WG) + quarters, vec4<u32>(pixels - 1u));
    let ci0 = wid.y * 8u;
    let last = vec4<u32>(conv.cin - 1u);
    let cis0 = min(vec4<u32>(ci0) + vec4<u32>(0u, 1u, 2u, 3u), last);
    let cis1 = min(vec4<u32>(ci0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last);
    // The eight pixels as (example, row, column), four to a vector (as in forward8).
    let pe0 = qs0 / (conv.w * conv.h);
    let py0 = (qs0 / conv.w) % conv.h;
    let px0 = qs0 % conv.w;
    let pe1 = qs1 / (conv.w * conv.h);
    let py1 = (qs1 / conv.w) % conv.h;
    let px1 = qs1 % conv.w;
    // acc[2i + h][j]: pixel q0 + WG i, channel ci0 + 4h + j.
    var acc: array<vec4<f32>, 16>;
    for (var ky = 0u; ky < conv.k; ky++) {
        for (var kx = 0u; kx < conv.k; kx++) {
            let t0 = taps_back(pe0, py0, px0, ky, kx);
            let t1 = taps_back(pe1, py1, px1, ky, kx);
            let b0 = t0.base;
            let b1 = t1.base;
            let keep0 = t0.keep;
            let keep1 = t1.keep;
            let tap = (ky * conv.k + kx) * conv.cin;
            if (conv.cin <= 4u) {
                // Four channels or fewer: 8 pixels x 4 channels, as in forward.
                for (var co = 0u; co < conv.cout; co++) {
                    let d0 = vec4<f32>(dy[b0.x + co], dy[b0.y + co], dy[b0.z + co], dy[b0.w + co]) * keep0;
                    let d1 = vec4<f32>(dy[b1.x + co], dy[b1.y + co], dy[b1.z + co], dy[b1.w + co]) * keep1;
                    let wi0 = cis0 + tap + co * field;
                    let v0 = vec4<f32>(w[wi0.x], w[wi0.y], w[wi0.z], w[wi0.w]);
                    acc[0] = acc[0] + d0.x * v0;
                    acc[2] = acc[2] + d0.y * v0;
                    acc[4] = acc[4] + d0.z * v0;
                    acc[6] = acc[6] + d0.w * v0;
                    acc[8] = acc[8] + d1.x * v0;
                    acc[10] = acc[10] + d1.y * v0;
                    acc[12] = acc[12] + d1.z * v0;
                    acc[14] = acc[14] + d1.w * v0;
                }
                continue;
            }
            for (var co = 0u; co < conv.cout; co++) {
                let d0 = vec4<f32>(dy[b0.x + co], dy[b0.y + co], dy[b0.z + co], dy[b0.w + co]) * keep0;
                let d1 = vec4<f32>(dy[b1.x + co], dy[b1.y + co], dy[b1.z + co], dy[b1.w + co]) * keep1;
                let wi0 = cis0 + tap + co * field;
                let wi1 = cis1 + tap + co * field;
                let v0 = vec4<f32>(w[wi0.x], w[wi0.y], w[wi0.z], w[wi0.w]);
                let v1 = vec4<f32>(w[wi1.x], w[wi1.y], w[wi1.z], w[wi1.w]);
                acc[0] = acc[0] + d0.x * v0;
                acc[1] = acc[1] + d0.x * v1;
                acc[2] = acc[2] + d0.y * v0;
                acc[3] = acc[3] + d0.y * v1;
                acc[4] = acc[4] + d0.z * v0;
                acc[5] = acc[5] + d0.z * v1;
                acc[6] = acc[6] + d0.w * v0;
                acc[7] = acc[7] + d0.w * v1;
                acc[8] = acc[8] + d1.x * v0;
                acc[9] = acc[9] + d1.x * v1;
                acc[10] = acc[10] + d1.y * v0;
                acc[11] = acc[11] + d1.y * v1;
                acc[12] = acc[12] + d1.z * v0;
                acc[13] = acc[13] + d1.z * v1;
                acc[14] = acc[14] + d1.w * v0;
                acc[15] = acc[15] + d1.w * v1;
            }
        }
    }
    for (var qi = 0u; qi < 16u; qi++) {
        let q = q0 + (qi / 2u) * WG;
        for (var j = 0u; j < 4u; j++) {
            let ci = ci0 + 4u * (qi % 2u) + j;
            if (q < pixels && ci < conv.cin) {
                y[q * conv.cin + ci] = finish(acc[qi][j], ci);
            }
        }
    }
}

// Per invocation of weight_grad, its sums before the workgroup adds them up.
var<workgroup> part: array<array<vec4<f32>, 8>, 64>;

// `weight_grad`: workgroup (gx, gy) computes dW for output channels 8 gy .. 8 gy + 7 and columns
// of cols p = 4 gx .. 4 gx + 3, where column p = k*k*cin (one past the last) is the bias, whose
// "input" is 1. Its 64 invocations each sum a 64th of the rows, a run of consecutive ones in
// order (walking from one output pixel to the next by adding, no division per row, and reading a
// column's input at a fixed offset from the pixel's), then add their sums up in a tree: a small dW
// over a long sum (every output pixel of the batch) keeps every lane busy. `weight_grad4`, for
// cout a multiple of 4, reads a row's dy four channels at a time as vec4s.
@compute @workgroup_size(64)
fn weight_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    weight_grad_block(wid, li, false);
}

@compute @workgroup_size(64)
fn weight_grad4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    weight_grad_block(wid, li, true);
}

fn weight_grad_block(wid: vec3<u32>, li: u32, by4: bool) {
    let oh = out_h();
    let ow = out_w();
    let rows = conv.batch * oh * ow;
    let field = conv.k * conv.k * conv.cin;
    let co0 = wid.y * 8u;
    let last_chan = vec4<u32>(conv.cout - 1u);
    let chans0 = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), last_chan);
    let chans1 = min(vec4<u32>(co0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last_chan);
    // weight_grad4: the second four channels' vec4, the first one's again when there are only four.
    let second = min(co0 + 4u, conv.cout - 4u);
    let p0 = wid.x * 4u;
    // Each column's tap, its input's offset from the output pixel's (u32 arithmetic wraps: a
    // tap left of or above the pixel subtracts), and whether it is a weight (1), the bias (2) or
    // past both (0).
    var ky: vec4<u32>;
    var kx: vec4<u32>;
    var off: vec4<u32>;
    var kind: vec4<u32>;
    for (var j = 0u; j < 4u; j++) {
        let p = p0 + j;
        let tap = p / conv.cin;
        ky[j] = tap / conv.k;
        kx[j] = tap % conv.k;
        off[j] = ((ky[j] - conv.pad) * conv.w + kx[j] - conv.pad) * conv.cin + p % conv.cin;
        if (p < field) {
            kind[j] = 1u;
        } else if (p == field && extra.with_bias != 0u) {
            kind[j] = 2u;
        }
    }
    let weight = kind == vec4<u32>(1u);
    let ones = select(vec4<f32>(0.0), vec4<f32>(1.0), kind == vec4<u32>(2u));
    let per = (rows + WG - 1u) / WG;
    let first = min(li * per, rows);
    let last = min(first + per, rows);
    // The first row's output pixel (b, oy, ox), then the next one's by adding.
    var b = first / (oh * ow);
    var oy = (first / ow) % oh;
    var ox = first % ow;
    // acc[j + 4h]: column p0 + j, channels co0 + 4h .. co0 + 4h + 3.
    var acc: array<vec4<f32>, 8>;
    for (var r = first; r < last; r++) {
        var dv: vec4<f32>;
        var dw4: vec4<f32>;
        if (by4) {
            dv = dy4[(r * conv.cout + co0) / 4u];
            dw4 = dy4[(r * conv.cout + second) / 4u];
        } else {
            let d = r * conv.cout;
            dv = vec4<f32>(dy[d + chans0.x], dy[d + chans0.y], dy[d + chans0.z], dy[d + chans0.w]);
            dw4 = vec4<f32>(dy[d + chans1.x], dy[d + chans1.y], dy[d + chans1.z], dy[d + chans1.w]);
        }
        let sy = vec4<u32>(oy) + ky - vec4<u32>(conv.pad);
        let sx = vec4<u32>(ox) + kx - vec4<u32>(conv.pad);
        let inside = weight & (sy < vec4<u32>(conv.h)) & (sx < vec4<u32>(conv.w));
        let idx = select(vec4<u32>(0u), vec4<u32>(((b * conv.h + oy) * conv.w + ox) * conv.cin) + off, inside);
        let xv = select(ones, vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), inside);
        acc[0] = acc[0] + xv.x * dv;
        acc[1] = acc[1] + xv.y * dv;
        acc[2] = acc[2] + xv.z * dv;
        acc[3] = acc[3] + xv.w * dv;
        acc[4] = acc[4] + xv.x * dw4;
        acc[5] = acc[5] + xv.y * dw4;
        acc[6] = acc[6] + xv.z * dw4;
        acc[7] = acc[7] + xv.w * dw4;
        // The next pixel, by selects: a branch here would be taken by some lanes and not others,
        // which the software adapters run as both ways, masked.
        let wrap_x = ox + 1u == ow;
        let wrap_y = wrap_x & (oy + 1u == oh);
        ox = select(ox + 1u, 0u, wrap_x);
        oy = select(select(oy, oy + 1u, wrap_x), 0u, wrap_y);
        b = select(b, b + 1u, wrap_y);
    }
    part[li] = acc;
    workgroupBarrier();
    for (var span = WG / 2u; span > 0u; span = span / 2u) {
        if (li < span) {
            for (var j = 0u; j < 8u; j++) {
                part[li][j] = part[li][j] + part[li + span][j];
            }
        }
        workgroupBarrier();
    }
    if (li != 0u) {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        for (var c = 0u; c < 8u; c++) {
            let co = co0 + c;
            if (co >= conv.cout) {
                continue;
            }
            let v = part[0][j + 4u * (c / 4u)][c % 4u];
            if (kind[j] == 1u) {
                let idx = co * field + p0 + j;
                if (extra.accumulate != 0u) {
                    dw[idx] = dw[idx] + v;
                } else {
                    dw[idx] = v;
                }
            } else if (kind[j] == 2u) {
                if (extra.accumulate != 0u) {
                    db[co] = db[co] + v;
                } else {
                    db[co] = v;
                }
            }
        }
    }
}

// `bias_grad`: one invocation per column.
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
