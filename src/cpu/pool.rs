//! 2x2 pooling with stride 2 over channels-last `[batch, h, w, c]` activations; odd edges are
//! dropped (floor), as in Keras and PyTorch. GPU version: `shaders/pool.wgsl`.

use crate::nn::{PoolKind, PoolShape};

/// Index into the input of window tap `t` (0..4, row-major) of output `(b, oy, ox, c)`.
fn tap(s: &PoolShape, b: usize, oy: usize, ox: usize, c: usize, t: usize) -> usize {
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    ((b * h + 2 * oy + t / 2) * w + 2 * ox + t % 2) * ch + c
}

/// Max pooling; `argmax` keeps which tap (0..4) won, the first on ties, for the backward pass.
pub fn max_pool_forward(s: &PoolShape, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    assert_eq!(x.len(), s.input_len(), "x must be batch x h x w x c");
    assert!(y.len() == s.output_len() && argmax.len() == s.output_len(), "y and argmax must be the pooled size");
    let (oh, ow, ch) = (s.out_h(), s.out_w(), s.c as usize);
    for b in 0..s.batch as usize {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..ch {
                    let o = ((b * oh + oy) * ow + ox) * ch + c;
                    let (mut best, mut arg) = (x[tap(s, b, oy, ox, c, 0)], 0);
                    for t in 1..4 {
                        let v = x[tap(s, b, oy, ox, c, t)];
                        if v > best {
                            (best, arg) = (v, t as u32);
                        }
                    }
                    y[o] = best;
                    argmax[o] = arg;
                }
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
/// dropped edge row or column.
pub fn pool_backward(s: &PoolShape, kind: PoolKind, dy: &[f32], argmax: &[u32], dx: &mut [f32]) {
    assert_eq!(dx.len(), s.input_len(), "dx must be batch x h x w x c");
    assert_eq!(dy.len(), s.output_len(), "dy must be the pooled size");
    let (h, w, ch) = (s.h as usize, s.w as usize, s.c as usize);
    let (oh, ow) = (s.out_h(), s.out_w());
    for b in 0..s.batch as usize {
        for y in 0..h {
            for x in 0..w {
                for c in 0..ch {
                    let (oy, ox) = (y / 2, x / 2);
                    let i = ((b * h + y) * w + x) * ch + c;
                    dx[i] = if oy < oh && ox < ow {
                        let o = ((b * oh + oy) * ow + ox) * ch + c;
                        match kind {
                            PoolKind::Max => {
                                if argmax[o] == ((y % 2) * 2 + x % 2) as u32 { dy[o] } else { 0.0 }
                            }
                            PoolKind::Average => 0.25 * dy[o],
                        }
                    } else {
                        0.0
                    };
                }
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
