// 2-D convolution without the im2col matrix (implicit GEMM), channels-last (NHWC), stride 1, zero
// padding. With `cols = im2col(x)` (`cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy + ky - pad,
// ox + kx - pad, ci]`, 0 in the padding) the three products of a convolution are read from x where
// cols would have been, so no `rows x k*k*cin` matrix is written or read back:
//   forward:      y = act(cols · Wᵀ + bias)                      y: [rows, cout]
//   input_grad:   dx = col2im(dy · W) (+ bias)                   dx: [batch, h, w, cin]
//                 (a transposed convolution's forward pass)
//   weight_grad:  dW (+)= dyᵀ · cols, and db (+)= column sums of dy, in one pass and a sum
//                 (a transposed convolution's weight gradient, with x and dy swapped)
//   bias_grad:    db[c] (+)= sum_r dy[r, c], rows in order (a dense or transposed layer's bias).
// forward and input_grad compute a 4x4 block of outputs per invocation (4 rows or pixels by 4
// channels), forward8 and input_grad8 an 8x8 one (by 4 channels where there are 4 or fewer),
// weight_grad 8 columns by 8 channels, in vec4 accumulators, reading their operands straight from
// the buffers, with no workgroup memory and no barrier anywhere: on the software adapters this
// project is measured on, a load whose address differs between invocations is a per-lane gather,
// so many multiply-adds per load is what pays, and WebGPU zero-fills a workgroup's memory before
// it starts, which SwiftShader did at a cost larger than the sums it held. Which block size is
// faster differs by adapter (docs/performance.md), so the host times both at each shape and runs
// the faster.
// forward and input_grad walk a row of taps (fixed ky) as one loop: over (kx, ci), a pixel's
// inputs are consecutive floats of x (over (kx, co), an input pixel's reads of dy), so one index
// plus a range check per step replaces a loop per tap; with a single input channel (LeNet-5's
// first layer) that loop was one step long and its setup cost more than its multiply-adds.
// In forward and input_grad, whose four rows are neighbouring pixels with ranges of their own,
// out-of-range indices are clamped and their values masked to 0, never tested per load;
// forward8 and input_grad8 take one pixel of eight examples, which share one range of taps, so
// their loops run over the taps inside the image alone, with no mask.
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
// weight_grad: each invocation's sums, which weight_grad_sum adds up.
@group(0) @binding(11) var<storage, read_write> partial: array<vec4<f32>>;

// Invocations per workgroup; a workgroup of a product covers 4 x WG rows (or pixels).
const WG: u32 = 64u;

fn out_h() -> u32 {
    return conv.h + 2u * conv.pad + 1u - conv.k;
}

fn out_w() -> u32 {
    return conv.w + 2u * conv.pad + 1u - conv.k;
}

// The bias of channels c .. c + 3 (0 without one; past the last channel, whatever is there).
fn bias4(c: u32) -> vec4<f32> {
    if (extra.with_bias == 0u) {
        return vec4<f32>(0.0);
    }
    let i = min(vec4<u32>(c) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(arrayLength(&bias) - 1u));
    return vec4<f32>(bias[i.x], bias[i.y], bias[i.z], bias[i.w]);
}

// An 8 x 8 block's bias and activation, in place: acc[2i + h] holds channels c + 4h .. c + 4h + 3.
// Written out, as an index into acc that is not a constant is a gather of its own.
fn finish16(acc: ptr<function, array<vec4<f32>, 16>>, c: u32) {
    let b0 = bias4(c);
    let b1 = bias4(c + 4u);
    (*acc)[0] = act4((*acc)[0] + b0);
    (*acc)[1] = act4((*acc)[1] + b1);
    (*acc)[2] = act4((*acc)[2] + b0);
    (*acc)[3] = act4((*acc)[3] + b1);
    (*acc)[4] = act4((*acc)[4] + b0);
    (*acc)[5] = act4((*acc)[5] + b1);
    (*acc)[6] = act4((*acc)[6] + b0);
    (*acc)[7] = act4((*acc)[7] + b1);
    (*acc)[8] = act4((*acc)[8] + b0);
    (*acc)[9] = act4((*acc)[9] + b1);
    (*acc)[10] = act4((*acc)[10] + b0);
    (*acc)[11] = act4((*acc)[11] + b1);
    (*acc)[12] = act4((*acc)[12] + b0);
    (*acc)[13] = act4((*acc)[13] + b1);
    (*acc)[14] = act4((*acc)[14] + b0);
    (*acc)[15] = act4((*acc)[15] + b1);
}

// A 4 x 4 block's outputs, after its bias and activation: acc[i] holds channels c .. c + 3 of
// row (or pixel) r + WG i, of `rows`, in y of `width` channels.
fn store4(r: u32, rows: u32, c: u32, width: u32, block: array<vec4<f32>, 4>) {
    var acc = block;
    let b = bias4(c);
    acc[0] = act4(acc[0] + b);
    acc[1] = act4(acc[1] + b);
    acc[2] = act4(acc[2] + b);
    acc[3] = act4(acc[3] + b);
    for (var i = 0u; i < 4u; i++) {
        let row = r + i * WG;
        for (var j = 0u; j < 4u; j++) {
            if (row < rows && c + j < width) {
                y[row * width + c + j] = acc[i][j];
            }
        }
    }
}

// The activation (extra.act) of four outputs.
fn act4(v: vec4<f32>) -> vec4<f32> {
    if (extra.act == 1u) {
        return max(v, vec4<f32>(0.0));
    }
    if (extra.act == 2u) {
        // As activation.wgsl: some drivers' tanh is NaN past |x| ~ 44; it is exactly ±1 in f32
        // well before |x| = 10.
        return tanh(clamp(v, vec4<f32>(-10.0), vec4<f32>(10.0)));
    }
    return v;
}

// `forward`: invocation li of workgroup (gx, gy) computes rows gx * 4 * WG + li + WG * i (i in
// 0..4) for output channels 4 gy .. 4 gy + 3. Each output sums its k*k*cin products in the order of
// the columns of cols, (ky, kx, ci), as the product over cols does.
@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let rows = conv.batch * out_h() * out_w();
    let r0 = wid.x * 4u * WG + li;
    let rs = min(vec4<u32>(r0) + vec4<u32>(0u, WG, 2u * WG, 3u * WG), vec4<u32>(rows - 1u));
    let co0 = wid.y * 4u;
    let ws = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(conv.cout - 1u)) * conv.k * conv.k * conv.cin;
    let oh = out_h();
    let ow = out_w();
    let pe = rs / (ow * oh);
    let py = (rs / ow) % oh;
    let px = rs % ow;
    let pad = vec4<u32>(conv.pad);
    let run = conv.k * conv.cin;
    // A row of taps' inputs are `run` consecutive floats, those of this pixel in [lo, hi).
    let lo = select(vec4<u32>(0u), (pad - px) * conv.cin, px < pad);
    let hi = min(vec4<u32>(conv.k), vec4<u32>(conv.w) + pad - px) * conv.cin;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ky = 0u; ky < conv.k; ky++) {
        let sy = py + ky - pad;
        let inside = (py + ky >= pad) & (sy < vec4<u32>(conv.h));
        let base = ((pe * conv.h + sy) * conv.w + px - pad) * conv.cin;
        let wrow = ws + ky * run;
        for (var j = 0u; j < run; j++) {
            let keep = inside & (vec4<u32>(j) >= lo) & (vec4<u32>(j) < hi);
            let i = select(vec4<u32>(0u), base + j, keep);
            let xv = select(vec4<f32>(0.0), vec4<f32>(x[i.x], x[i.y], x[i.z], x[i.w]), keep);
            let wi = wrow + j;
            let wv = vec4<f32>(w[wi.x], w[wi.y], w[wi.z], w[wi.w]);
            acc0 = acc0 + xv.x * wv;
            acc1 = acc1 + xv.y * wv;
            acc2 = acc2 + xv.z * wv;
            acc3 = acc3 + xv.w * wv;
        }
    }
    store4(r0, rows, co0, conv.cout, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// `forward8`: invocation g = gx * WG + li of workgroup (gx, gy) computes output pixel g % (oh ow)
// of examples 8 (g / (oh ow)) .. + 7 for output channels 8 gy .. 8 gy + 7. Its eight rows being
// the same pixel of eight examples, they read the same taps, so the loops run over the taps inside
// the image alone, with no test per step. Each output sums its k*k*cin products in the order of
// the columns of cols, (ky, kx, ci), as the product over cols does (the padding's are 0).
@compute @workgroup_size(64)
fn forward8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let oh = out_h();
    let ow = out_w();
    let plane = oh * ow;
    let field = conv.k * conv.k * conv.cin;
    let g = wid.x * WG + li;
    let p = g % plane;
    let e0 = (g / plane) * 8u;
    let oy = p / ow;
    let ox = p % ow;
    // Examples past the batch are computed as its last one and not stored.
    let last_e = vec4<u32>(conv.batch - 1u);
    let image = conv.h * conv.w * conv.cin;
    let eb0 = min(vec4<u32>(e0) + vec4<u32>(0u, 1u, 2u, 3u), last_e) * image;
    let eb1 = min(vec4<u32>(e0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last_e) * image;
    let co0 = wid.y * 8u;
    let last = vec4<u32>(conv.cout - 1u);
    let w0 = min(vec4<u32>(co0) + vec4<u32>(0u, 1u, 2u, 3u), last) * field;
    let w1 = min(vec4<u32>(co0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last) * field;
    // The taps inside the image: sy = oy + ky - pad in [0, h) for ky in [ky_lo, ky_hi), sx = ox +
    // kx - pad in [0, w) for kx in [x_lo, x_hi).
    let ky_lo = select(0u, conv.pad - oy, oy < conv.pad);
    let ky_hi = min(conv.k, conv.h + conv.pad - oy);
    let x_lo = select(0u, conv.pad - ox, ox < conv.pad);
    let x_hi = min(conv.k, conv.w + conv.pad - ox);
    // Within one row of taps (fixed ky) the inputs, over (kx, ci), are consecutive floats of x.
    let run = conv.k * conv.cin;
    let lo = x_lo * conv.cin;
    let hi = x_hi * conv.cin;
    // acc[2i + h][j]: example e0 + i, channel co0 + 4h + j.
    var acc: array<vec4<f32>, 16>;
    for (var ky = ky_lo; ky < ky_hi; ky++) {
        // u32 arithmetic: a row starting left of the image wraps, and is only read from lo on.
        let row = ((oy + ky - conv.pad) * conv.w + ox - conv.pad) * conv.cin;
        let b0 = eb0 + row;
        let b1 = eb1 + row;
        let wrow = ky * run;
        if (conv.cout <= 4u) {
            // Four channels or fewer: the block's second half would be idle, so it is not
            // computed (8 rows x 4 channels; the store skips channels past cout).
            for (var j = lo; j < hi; j++) {
                let i0 = b0 + j;
                let i1 = b1 + j;
                let x0 = vec4<f32>(x[i0.x], x[i0.y], x[i0.z], x[i0.w]);
                let x1 = vec4<f32>(x[i1.x], x[i1.y], x[i1.z], x[i1.w]);
                let wi0 = w0 + wrow + j;
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
        for (var j = lo; j < hi; j++) {
            let i0 = b0 + j;
            let i1 = b1 + j;
            let x0 = vec4<f32>(x[i0.x], x[i0.y], x[i0.z], x[i0.w]);
            let x1 = vec4<f32>(x[i1.x], x[i1.y], x[i1.z], x[i1.w]);
            let wi0 = w0 + wrow + j;
            let wi1 = w1 + wrow + j;
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
    finish16(&acc, co0);
    for (var q = 0u; q < 16u; q++) {
        let e = e0 + q / 2u;
        for (var j = 0u; j < 4u; j++) {
            let co = co0 + 4u * (q % 2u) + j;
            if (e < conv.batch && co < conv.cout) {
                y[(e * plane + p) * conv.cout + co] = acc[q][j];
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
    let pe = qs / (conv.w * conv.h);
    let py = (qs / conv.w) % conv.h;
    let px = qs % conv.w;
    let pad = vec4<u32>(conv.pad);
    let back = vec4<u32>(conv.k - 1u);
    let run = conv.k * conv.cout;
    // A row of taps' reads of dy are `run` consecutive floats, those of this pixel in [lo, hi).
    let lo = select(vec4<u32>(0u), (back - pad - px) * conv.cout, px + pad < back);
    let hi = min(vec4<u32>(conv.k), vec4<u32>(conv.w) + pad - px) * conv.cout;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ky = 0u; ky < conv.k; ky++) {
        let oy = py + pad - ky;
        let inside = (py + pad >= vec4<u32>(ky)) & (oy < vec4<u32>(oh));
        let base = ((pe * oh + oy) * ow + px + pad - back) * conv.cout;
        var wt = (ky * conv.k + conv.k - 1u) * conv.cin;
        var co = 0u;
        for (var j = 0u; j < run; j++) {
            let keep = inside & (vec4<u32>(j) >= lo) & (vec4<u32>(j) < hi);
            let i = select(vec4<u32>(0u), base + j, keep);
            let dv = select(vec4<f32>(0.0), vec4<f32>(dy[i.x], dy[i.y], dy[i.z], dy[i.w]), keep);
            let wi = cis + wt;
            let wv = vec4<f32>(w[wi.x], w[wi.y], w[wi.z], w[wi.w]);
            acc0 = acc0 + dv.x * wv;
            acc1 = acc1 + dv.y * wv;
            acc2 = acc2 + dv.z * wv;
            acc3 = acc3 + dv.w * wv;
            co += 1u;
            let wrap = co == conv.cout;
            wt = select(wt + field, wt - (conv.cout - 1u) * field - conv.cin, wrap);
            co = select(co, 0u, wrap);
        }
    }
    store4(q0, pixels, ci0, conv.cin, array<vec4<f32>, 4>(acc0, acc1, acc2, acc3));
}

// `input_grad8`: invocation g = gx * WG + li of workgroup (gx, gy) computes pixel g % (h w) of
// examples 8 (g / (h w)) .. + 7 for input channels 8 gy .. 8 gy + 7: each sums, over the taps
// (ky, kx) whose output pixel oy = py + pad - ky, ox = px + pad - kx exists, and over the output
// channels, dy times the weight: col2im of dy · W without the matrix dy · W. Its eight pixels
// being the same pixel of eight examples, they reach the same taps, so the loops run over those
// alone, with no test per step: an unpadded convolution's border pixels reach few (LeNet-5's
// second layer: half the taps of its input's pixels lie outside the output). (Reading dy four
// output channels at a time, as weight_grad4 does, measured no faster here: docs/performance.md.)
@compute @workgroup_size(64)
fn input_grad8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let plane = conv.h * conv.w;
    let field = conv.k * conv.k * conv.cin;
    let g = wid.x * WG + li;
    let p = g % plane;
    let e0 = (g / plane) * 8u;
    let py = p / conv.w;
    let px = p % conv.w;
    // Examples past the batch are computed as its last one and not stored.
    let last_e = vec4<u32>(conv.batch - 1u);
    let es0 = min(vec4<u32>(e0) + vec4<u32>(0u, 1u, 2u, 3u), last_e);
    let es1 = min(vec4<u32>(e0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last_e);
    let ci0 = wid.y * 8u;
    let last = vec4<u32>(conv.cin - 1u);
    let cis0 = min(vec4<u32>(ci0) + vec4<u32>(0u, 1u, 2u, 3u), last);
    let cis1 = min(vec4<u32>(ci0 + 4u) + vec4<u32>(0u, 1u, 2u, 3u), last);
    let oh = out_h();
    let ow = out_w();
    let back = conv.k - 1u;
    // The taps that reach an output pixel: oy = py + pad - ky in [0, oh) for ky in [ky_lo, ky_hi),
    // ox = px + pad - kx in [0, ow) for k - 1 - kx in [x_lo, x_hi).
    let ky_lo = select(0u, py + conv.pad + 1u - oh, py + conv.pad + 1u > oh);
    let ky_hi = min(conv.k, py + conv.pad + 1u);
    let x_lo = select(0u, back - conv.pad - px, px + conv.pad < back);
    let x_hi = min(conv.k, conv.w + conv.pad - px);
    // Within one row of taps (fixed ky), the output pixels reached, from kx = k - 1 down, are
    // consecutive: over (k - 1 - kx, co) the reads are consecutive floats of dy.
    let lo = x_lo * conv.cout;
    let hi = x_hi * conv.cout;
    let image = oh * ow * conv.cout;
    let eb0 = es0 * image;
    let eb1 = es1 * image;
    // acc[2i + h][j]: example e0 + i, channel ci0 + 4h + j.
    var acc: array<vec4<f32>, 16>;
    for (var ky = ky_lo; ky < ky_hi; ky++) {
        // u32 arithmetic: a run starting left of the image wraps, and is only read from lo on.
        let row = ((py + conv.pad - ky) * ow + px + conv.pad - back) * conv.cout;
        let b0 = eb0 + row;
        let b1 = eb1 + row;
        // The weight of (co, ky, kx) for kx = k - 1 - x_lo, co = 0, then stepped along with j.
        var wt = (ky * conv.k + back - x_lo) * conv.cin;
        var co = 0u;
        if (conv.cin <= 4u) {
            // Four channels or fewer: 8 pixels x 4 channels, as in forward8.
            for (var j = lo; j < hi; j++) {
                let i0 = b0 + j;
                let i1 = b1 + j;
                let d0 = vec4<f32>(dy[i0.x], dy[i0.y], dy[i0.z], dy[i0.w]);
                let d1 = vec4<f32>(dy[i1.x], dy[i1.y], dy[i1.z], dy[i1.w]);
                let wi0 = cis0 + wt;
                let v0 = vec4<f32>(w[wi0.x], w[wi0.y], w[wi0.z], w[wi0.w]);
                acc[0] = acc[0] + d0.x * v0;
                acc[2] = acc[2] + d0.y * v0;
                acc[4] = acc[4] + d0.z * v0;
                acc[6] = acc[6] + d0.w * v0;
                acc[8] = acc[8] + d1.x * v0;
                acc[10] = acc[10] + d1.y * v0;
                acc[12] = acc[12] + d1.z * v0;
                acc[14] = acc[14] + d1.w * v0;
                co += 1u;
                let wrap = co == conv.cout;
                wt = select(wt + field, wt - (conv.cout - 1u) * field - conv.cin, wrap);
                co = select(co, 0u, wrap);
            }
            continue;
        }
        for (var j = lo; j < hi; j++) {
            let i0 = b0 + j;
            let i1 = b1 + j;
            let d0 = vec4<f32>(dy[i0.x], dy[i0.y], dy[i0.z], dy[i0.w]);
            let d1 = vec4<f32>(dy[i1.x], dy[i1.y], dy[i1.z], dy[i1.w]);
            let wi0 = cis0 + wt;
            let wi1 = cis1 + wt;
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
            co += 1u;
            let wrap = co == conv.cout;
            wt = select(wt + field, wt - (conv.cout - 1u) * field - conv.cin, wrap);
            co = select(co, 0u, wrap);
        }
    }
    finish16(&acc, ci0);
    for (var q = 0u; q < 16u; q++) {
        let e = e0 + q / 2u;
        for (var j = 0u; j < 4u; j++) {
            let ci = ci0 + 4u * (q % 2u) + j;
            if (e < conv.batch && ci < conv.cin) {
                y[(e * plane + p) * conv.cin + ci] = acc[q][j];
            }
        }
    }
}

// `weight_grad`: workgroup (gx, gy) computes dW for output channels 8 gy .. 8 gy + 7 and columns
// of cols p = 8 gx .. 8 gx + 7, where column p = k*k*cin (one past the last) is the bias, whose
// "input" is 1. Its 64 invocations each sum a 64th of the rows, a run of consecutive ones in
// order (walking from one output pixel to the next by adding, no division per row, and reading a
// column's input at a fixed offset from the pixel's), and write their 8 x 8 sums to `partial`;
// `weight_grad_sum` adds each output's 64 sums up in order. A small dW over a long sum (every
// output pixel of the batch) so keeps every lane busy, with no workgroup memory: WebGPU
// zero-fills workgroup memory at the start of every workgroup, which on SwiftShader cost more than
// the sums it held (docs/performance.md). `weight_grad4`, for cout a multiple of 4, reads a row's
// dy four channels at a time as vec4s.
@compute @workgroup_size(64)
fn weight_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    weight_grad_block(wid, li, false);
}

@compute @workgroup_size(64)
fn weight_grad4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    weight_grad_block(wid, li, true);
}

// Four columns of cols from p: each one's tap (ky, kx), its input's offset from the output
// pixel's (u32 arithmetic wraps: a tap left of or above the pixel subtracts), and whether it is a
// weight (1), the bias (2) or past both (0).
struct Columns {
    ky: vec4<u32>,
    kx: vec4<u32>,
    off: vec4<u32>,
    kind: vec4<u32>,
}

fn columns(p0: u32) -> Columns {
    let field = conv.k * conv.k * conv.cin;
    var c: Columns;
    for (var j = 0u; j < 4u; j++) {
        let p = p0 + j;
        let tap = p / conv.cin;
        c.ky[j] = tap / conv.k;
        c.kx[j] = tap % conv.k;
        c.off[j] = ((c.ky[j] - conv.pad) * conv.w + c.kx[j] - conv.pad) * conv.cin + p % conv.cin;
        if (p < field) {
            c.kind[j] = 1u;
        } else if (p == field && extra.with_bias != 0u) {
            c.kind[j] = 2u;
        }
    }
    return c;
}

// Four columns' inputs at output pixel (b, oy, ox): x, 1 for the bias, 0 in the padding or past
// the last column.
fn column_inputs(c: Columns, b: u32, oy: u32, ox: u32) -> vec4<f32> {
    let sy = vec4<u32>(oy) + c.ky - vec4<u32>(conv.pad);
    let sx = vec4<u32>(ox) + c.kx - vec4<u32>(conv.pad);
    let inside = (c.kind == vec4<u32>(1u)) & (sy < vec4<u32>(conv.h)) & (sx < vec4<u32>(conv.w));
    let idx = select(vec4<u32>(0u), vec4<u32>(((b * conv.h + oy) * conv.w + ox) * conv.cin) + c.off, inside);
    let ones = select(vec4<f32>(0.0), vec4<f32>(1.0), c.kind == vec4<u32>(2u));
    return select(ones, vec4<f32>(x[idx.x], x[idx.y], x[idx.z], x[idx.w]), inside);
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
    let p0 = wid.x * 8u;
    let c0 = columns(p0);
    let c1 = columns(p0 + 4u);
    let per = (rows + WG - 1u) / WG;
    let first = min(li * per, rows);
    let last = min(first + per, rows);
    // The first row's output pixel (b, oy, ox), then the next one's by adding.
    var b = first / (oh * ow);
    var oy = (first / ow) % oh;
    var ox = first % ow;
    // acc[j + 4h + 8g]: column p0 + 4g + j, channels co0 + 4h .. co0 + 4h + 3.
    var acc: array<vec4<f32>, 16>;
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
        let x0 = column_inputs(c0, b, oy, ox);
        let x1 = column_inputs(c1, b, oy, ox);
        acc[0] = acc[0] + x0.x * dv;
        acc[1] = acc[1] + x0.y * dv;
        acc[2] = acc[2] + x0.z * dv;
        acc[3] = acc[3] + x0.w * dv;
        acc[4] = acc[4] + x0.x * dw4;
        acc[5] = acc[5] + x0.y * dw4;
        acc[6] = acc[6] + x0.z * dw4;
        acc[7] = acc[7] + x0.w * dw4;
        acc[8] = acc[8] + x1.x * dv;
        acc[9] = acc[9] + x1.y * dv;
        acc[10] = acc[10] + x1.z * dv;
        acc[11] = acc[11] + x1.w * dv;
        acc[12] = acc[12] + x1.x * dw4;
        acc[13] = acc[13] + x1.y * dw4;
        acc[14] = acc[14] + x1.z * dw4;
        acc[15] = acc[15] + x1.w * dw4;
        // The next pixel, by selects: a branch here would be taken by some lanes and not others,
        // which the software adapters run as both ways, masked.
        let wrap_x = ox + 1u == ow;
        let wrap_y = wrap_x & (oy + 1u == oh);
        ox = select(ox + 1u, 0u, wrap_x);
        oy = select(select(oy, oy + 1u, wrap_x), 0u, wrap_y);
        b = select(b, b + 1u, wrap_y);
    }
    // Block (gx, gy)'s sums: 16 vec4s per invocation, `acc` order, invocation after invocation.
    let o = ((wid.y * blocks_x() + wid.x) * WG + li) * 16u;
    partial[o] = acc[0];
    partial[o + 1u] = acc[1];
    partial[o + 2u] = acc[2];
    partial[o + 3u] = acc[3];
    partial[o + 4u] = acc[4];
    partial[o + 5u] = acc[5];
    partial[o + 6u] = acc[6];
    partial[o + 7u] = acc[7];
    partial[o + 8u] = acc[8];
    partial[o + 9u] = acc[9];
    partial[o + 10u] = acc[10];
    partial[o + 11u] = acc[11];
    partial[o + 12u] = acc[12];
    partial[o + 13u] = acc[13];
    partial[o + 14u] = acc[14];
    partial[o + 15u] = acc[15];
}

// Blocks of 8 columns of cols (with the bias column when there is one).
fn blocks_x() -> u32 {
    let columns = conv.k * conv.k * conv.cin + select(0u, 1u, extra.with_bias != 0u);
    return (columns + 7u) / 8u;
}

// `weight_grad_sum`: invocation i adds up, in invocation order, the 64 sums weight_grad wrote for
// vec4 i % 16 of block i / 16 (column p0 + i % 4 + 4 (i / 8 % 2), channels co0 + 4 (i / 4 % 2)
// .. + 3), and writes (or with `accumulate` adds) them to dw or, for the bias column, db.
@compute @workgroup_size(64)
fn weight_grad_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let bx = blocks_x();
    let blocks = bx * ((conv.cout + 7u) / 8u);
    let i = gid.x;
    if (i >= blocks * 16u) {
        return;
    }
    let block = i / 16u;
    let j = i % 16u;
    var v = vec4<f32>(0.0);
    for (var l = 0u; l < WG; l++) {
        v += partial[(block * WG + l) * 16u + j];
    }
    let field = conv.k * conv.k * conv.cin;
    let p = (block % bx) * 8u + j % 4u + 4u * (j / 8u);
    let co0 = (block / bx) * 8u + 4u * ((j / 4u) % 2u);
    for (var c = 0u; c < 4u; c++) {
        let co = co0 + c;
        if (co >= conv.cout) {
            break;
        }
        if (p < field) {
            let idx = co * field + p;
            dw[idx] = select(0.0, dw[idx], extra.accumulate != 0u) + v[c];
        } else if (p == field && extra.with_bias != 0u) {
            db[co] = select(0.0, db[co], extra.accumulate != 0u) + v[c];
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
