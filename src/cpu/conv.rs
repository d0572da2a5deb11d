//! 2-D convolution as "im2col, then a matrix product", in channels-last (NHWC) layout.
//!
//! With activations stored `[batch, h, w, c]`, the rows `b*h*w` are the "batch" of every other
//! operation: a convolution is `Y = cols · Wᵀ` with `cols = im2col(X)` (`[b*oh*ow, k*k*cin]`),
//! its weight gradient `dW = dYᵀ · cols` and its input gradient `dX = col2im(dY · W)`, the same
//! three products as a dense layer ([`super::matmul`]); BatchNorm over channels is BatchNorm1d over
//! `[b*oh*ow, c]` ([`super::batchnorm`]); a dense layer reads the flattened `[b, h*w*c]`.
//! A transposed convolution is the same pair read the other way: `col2im(X · W)` forward,
//! `im2col` in its backward pass ([`conv_transpose_forward`], [`conv_transpose_backward`]).
//!
//! Weights are `[cout, k, k, cin]` row-major (one row of `k*k*cin` per output channel), so the
//! index of a column in `cols` is `(ky * k + kx) * cin + ci`. Stride 1, zero padding `pad`.
//! GPU version: `shaders/conv.wgsl`.

use super::matmul::matmul;
use crate::nn::{ConvShape, MatmulShape};

/// `cols[(b, oy, ox), (ky, kx, ci)] = x[b, oy + ky - pad, ox + kx - pad, ci]` (0 in the padding).
///
/// In NHWC the taps `kx = 0..k` of one kernel row read `k * cin` consecutive floats of one input
/// row, so each kernel row is one copy (clipped at the left and right padding), not `k`.
pub fn im2col(s: &ConvShape, x: &[f32], cols: &mut [f32]) {
    assert_eq!(x.len(), s.input_len(), "x must be batch x h x w x cin");
    assert_eq!(cols.len(), s.rows() * s.patch(), "cols must be rows x patch");
    let (h, w, cin, k, pad) = (s.h as usize, s.w as usize, s.cin as usize, s.k as usize, s.pad as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    let (patch, span) = (s.patch(), k * cin);
    let mut rows = cols.chunks_exact_mut(patch);
    for b in 0..s.batch as usize {
        for oy in 0..oh {
            for ox in 0..ow {
                let Some(row) = rows.next() else { return };
                // Taps kx in lo..hi land inside the input row: x = ox + kx - pad in 0..w.
                let lo = pad.saturating_sub(ox).min(k);
                let hi = (w + pad).saturating_sub(ox).clamp(lo, k);
                for (ky, dst) in row.chunks_exact_mut(span).enumerate() {
                    let y = (oy + ky).checked_sub(pad).filter(|&y| y < h);
                    match y {
                        Some(y) if hi > lo => {
                            let start = ((b * h + y) * w + ox + lo - pad) * cin;
                            dst[..lo * cin].fill(0.0);
                            dst[lo * cin..hi * cin].copy_from_slice(&x[start..start + (hi - lo) * cin]);
                            dst[hi * cin..].fill(0.0);
                        }
                        _ => dst.fill(0.0),
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: every input element sums the entries of `cols` that copied it.
/// Written as a gather (each input pixel visits the output pixels that saw it), as the GPU does,
/// so no two writers touch one element.
pub fn col2im(s: &ConvShape, cols: &[f32], dx: &mut [f32]) {
    assert_eq!(dx.len(), s.input_len(), "dx must be batch x h x w x cin");
    assert_eq!(cols.len(), s.rows() * s.patch(), "cols must be rows x patch");
    let (h, w, cin, k, pad) = (s.h as usize, s.w as usize, s.cin as usize, s.k as usize, s.pad as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    let patch = s.patch();
    dx.fill(0.0);
    // Each input pixel sums its taps in (ky, kx) order, as a gather per pixel would; the loop over
    // the pixels of a row is innermost, so the bounds of a tap are worked out once per row.
    for b in 0..s.batch as usize {
        for y in 0..h {
            let row = &mut dx[(b * h + y) * w * cin..][..w * cin];
            for ky in 0..k {
                // oy = y + pad - ky must be a valid output row.
                let Some(oy) = (y + pad).checked_sub(ky).filter(|&oy| oy < oh) else { continue };
                let base = (b * oh + oy) * ow;
                for kx in 0..k {
                    // ox = x + pad - kx in 0..ow.
                    let (x0, x1) = (kx.saturating_sub(pad), (ow + kx).saturating_sub(pad).min(w));
                    for x in x0..x1 {
                        let src = &cols[(base + x + pad - kx) * patch + (ky * k + kx) * cin..][..cin];
                        row[x * cin..][..cin].iter_mut().zip(src).for_each(|(o, v)| *o += v);
                    }
                }
            }
        }
    }
}

/// `y[r, c] += bias[c]` for every row: the bias of a dense or convolutional layer.
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    for row in y.chunks_exact_mut(bias.len()) {
        row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
    }
}

/// `db[c] = sum_r dy[r, c]`: the bias gradient, summed over rows in order (as the GPU does).
pub fn bias_grad(dy: &[f32], db: &mut [f32]) {
    db.fill(0.0);
    for row in dy.chunks_exact(db.len()) {
        db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
    }
}

/// Transposed convolution (stride 1, zero padding `s.pad`): the adjoint of the ordinary
/// convolution `s` (which maps `y`'s shape back to `x`'s), plus a bias.
///
/// ```text
/// y = col2im_s(x · Wt) + b     x: [s.rows(), s.cout]   Wt: [s.cout, k, k, s.cin]   y, b: s.cin channels
/// ```
/// So `s.h, s.w, s.cin` are the output's height, width and channels, `s.cout` the input's
/// channels, and `Wt` is laid out as `s`'s own weight: a decoder's transposed convolution and the
/// encoder convolution it mirrors share a weight shape. With `k = 3, pad = 1` the map keeps its
/// size, as the denoising autoencoder's decoder needs. `cols` is scratch of `s.rows() x s.patch()`.
pub fn conv_transpose_forward(s: &ConvShape, x: &[f32], wt: &[f32], b: &[f32], cols: &mut [f32], y: &mut [f32]) {
    let (rows, patch, cx) = (s.rows(), s.patch(), s.cout as usize);
    assert_eq!(x.len(), rows * cx, "x must be rows x cout of the mirrored convolution");
    assert_eq!(wt.len(), s.weight_len(), "Wt must be cout x k x k x cin of the mirrored convolution");
    assert_eq!(b.len(), s.cin as usize, "the bias has one entry per output channel");
    matmul(MatmulShape::new(rows, cx, patch), x, wt, cols);
    col2im(s, cols, y);
    add_bias(y, b);
}

/// Backward of [`conv_transpose_forward`]: the three products of the convolution, transposed.
///
/// ```text
/// cols = im2col_s(dy)    dx = cols · Wtᵀ    dWt (+)= xᵀ · cols    db = column sums of dy
/// ```
/// `dwt` is accumulated (a layer applied at every step of an episode sums its gradients);
/// `db` is overwritten, as [`bias_grad`] does; `dx` is skipped when `None`.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose_backward(
    s: &ConvShape,
    x: &[f32],
    wt: &[f32],
    dy: &[f32],
    cols: &mut [f32],
    dx: Option<&mut [f32]>,
    dwt: &mut [f32],
    db: &mut [f32],
) {
    let (rows, patch, cx) = (s.rows(), s.patch(), s.cout as usize);
    assert_eq!(dy.len(), s.input_len(), "dy must be batch x h x w x cin of the mirrored convolution");
    assert_eq!(dwt.len(), s.weight_len(), "dWt must be shaped as Wt");
    im2col(s, dy, cols);
    if let Some(dx) = dx {
        matmul(MatmulShape::new(rows, patch, cx).trans_b(), cols, wt, dx);
    }
    matmul(MatmulShape::new(cx, rows, patch).trans_a().accumulate(), x, cols, dwt);
    bias_grad(dy, db);
}
