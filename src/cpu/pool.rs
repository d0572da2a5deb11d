//! 2x2 pooling with stride 2 over channels-last `[batch, h, w, c]` activations; odd edges are
//! dropped (floor), as in Keras and PyTorch. GPU version: `shaders/pool.wgsl`.

use crate::nn::{PoolKind, PoolShape};

/// Index into the input of window tap `t` (0..4, row-major) of output `(b, oy, ox, c)`.
fn tap(s: &PoolShape, b: usize, oy: usize, ox: usize, c: usize, t: usize) -> usize {
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    ((b * h + 2 * oy + t / 2) * w + 2 * ox + t % 2) * ch + c
}

/// Max pooling; `argmax` keeps which tap (0..4) won, the first on ties, for the backward pass.
///
/// Walked a pair of input rows at a time (taps 0, 1 in the upper row, 2, 3 in the lower), over
/// slices rather than computed indices, so the loop carries no bounds checks.
pub fn max_pool_forward(s: &PoolShape, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    assert_eq!(x.len(), s.input_len(), "x must be batch x h x w x c");
    assert!(y.len() == s.output_len() && argmax.len() == s.output_len(), "y and argmax must be the pooled size");
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    let out_row = ow * ch;
    if out_row == 0 {
        return;
    }
    let outputs = y.chunks_exact_mut(out_row).zip(argmax.chunks_exact_mut(out_row));
    for (r, (y_row, arg_row)) in outputs.enumerate() {
        let (b, oy) = (r / oh, r % oh);
        let upper = &x[((b * h + 2 * oy) * w) * ch..][..w * ch];
        let lower = &x[((b * h + 2 * oy + 1) * w) * ch..][..w * ch];
        let pixels = y_row.chunks_exact_mut(ch).zip(arg_row.chunks_exact_mut(ch));
        for (ox, (y_px, arg_px)) in pixels.enumerate() {
            let (t0, t1) = upper[2 * ox * ch..][..2 * ch].split_at(ch);
            let (t2, t3) = lower[2 * ox * ch..][..2 * ch].split_at(ch);
            for c in 0..ch {
                let (mut best, mut arg) = (t0[c], 0);
                for (t, v) in [(1, t1[c]), (2, t2[c]), (3, t3[c])] {
                    if v > best {
                        (best, arg) = (v, t);
                    }
                }
                y_px[c] = best;
                arg_px[c] = arg;
            }
        }
    }
}

/// Average pooling: the mean of the four taps.
pub fn avg_pool_forward(s: &PoolShape, x: &[f32], y: &mut [f32]) {
    window_sums(s, x, y, 0.25);
}

/// `scale` times the sum of each window's four taps, summed in tap order from 0.0 (as the GPU does).
fn window_sums(s: &PoolShape, x: &[f32], y: &mut [f32], scale: f32) {
    assert_eq!(x.len(), s.input_len(), "the full grid must be batch x h x w x c");
    assert_eq!(y.len(), s.output_len(), "the pooled grid must be the pooled size");
    let (oh, ow, ch) = (s.out_h(), s.out_w(), s.c as usize);
    for b in 0..s.batch as usize {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..ch {
                    let sum: f32 = (0..4).map(|t| x[tap(s, b, oy, ox, c, t)]).sum();
                    y[((b * oh + oy) * ow + ox) * ch + c] = scale * sum;
                }
            }
        }
    }
}

/// Gradient of pooling: each input pixel belongs to at most one window (stride = window), so it
/// gets that window's gradient (max: only if it was the winner; average: a quarter), or 0 in a
/// dropped edge row or column. Walked an input row at a time, over slices.
pub fn pool_backward(s: &PoolShape, kind: PoolKind, dy: &[f32], argmax: &[u32], dx: &mut [f32]) {
    assert_eq!(dx.len(), s.input_len(), "dx must be batch x h x w x c");
    assert_eq!(dy.len(), s.output_len(), "dy must be the pooled size");
    assert!(kind == PoolKind::Average || argmax.len() == s.output_len(), "max pooling's backward pass needs its argmax");
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    if w * ch == 0 {
        return;
    }
    for (r, dx_row) in dx.chunks_exact_mut(w * ch).enumerate() {
        let (b, y) = (r / h, r % h);
        let oy = y / 2;
        if oy >= oh {
            dx_row.fill(0.0);
            continue;
        }
        let first = (b * oh + oy) * ow * ch;
        let dy_row = &dy[first..][..ow * ch];
        let (pooled, dropped) = dx_row.split_at_mut(ow * 2 * ch);
        dropped.fill(0.0);
        for (x, dx_px) in pooled.chunks_exact_mut(ch).enumerate() {
            let ox = x / 2;
            let g = &dy_row[ox * ch..][..ch];
            match kind {
                PoolKind::Max => {
                    let tap = ((y % 2) * 2 + x % 2) as u32;
                    let won = &argmax[first + ox * ch..][..ch];
                    for ((d, &g), &a) in dx_px.iter_mut().zip(g).zip(won) {
                        *d = if a == tap { g } else { 0.0 };
                    }
                }
                PoolKind::Average => dx_px.iter_mut().zip(g).for_each(|(d, &g)| *d = 0.25 * g),
            }
        }
    }
}

/// Nearest 2x upsampling, the adjoint of sum pooling: every input pixel (`s`'s pooled grid)
/// copied into its 2x2 block of `y` (`s`'s full grid; a dropped odd edge stays 0). It is average
/// pooling's backward pass times four, written out so that both backends compute it exactly.
pub fn upsample_forward(s: &PoolShape, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), s.output_len(), "x must be the pooled size");
    assert_eq!(y.len(), s.input_len(), "y must be batch x h x w x c");
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    for b in 0..s.batch as usize {
        for py in 0..h {
            for px in 0..w {
                let (oy, ox) = (py / 2, px / 2);
                for c in 0..ch {
                    y[((b * h + py) * w + px) * ch + c] = if oy < oh && ox < ow { x[((b * oh + oy) * ow + ox) * ch + c] } else { 0.0 };
                }
            }
        }
    }
}

/// Gradient of [`upsample_forward`]: each pooled pixel sums its block's gradients, in tap order.
pub fn upsample_backward(s: &PoolShape, dy: &[f32], dx: &mut [f32]) {
    window_sums(s, dy, dx, 1.0);
}
