//! Metaplastic Adam (Laborieux, Ernoult, Hirtzlin, Querlioz, Nat. Commun. 12:2549, 2021, Eq. 1 and
//! Methods; docs/algorithms.md, "Metaplastic Adam"): the rule's one statement in this crate. Its
//! GPU kernel, `shaders/metaplastic_adam.wgsl`, runs the same per-element step.
//!
//! ```text
//! g  = grad + wd * Wh
//! m1 = b1*m1 + (1-b1)*g ;  m2 = b2*m2 + (1-b2)*g*g
//! if sign(Wh) * m1 > 0:          # the step -lr*m1/... would shrink |Wh|, towards a sign flip
//!     m1_used = m1 * (1 - tanh(m * |Wh|)^2)
//! else:
//!     m1_used = m1
//! Wh -= lr * (m1_used / (1-b1^t)) / (sqrt(m2 / (1-b2^t)) + eps)
//! ```
//! `m = 0` makes the factor 1: plain Adam, the standard binarized network. Updates that grow |Wh|
//! are never attenuated, so hidden weights that matter keep growing and become hard to flip.
//!
//! Fused: each tensor is read and written once per step (weight decay, both moments, the
//! consolidation and the update in one pass), on both backends.

use crate::nn::{AdamHyper, ParamLayout, TensorSet};

/// The consolidation factor `1 - tanh^2(m |Wh|)`: 1 for a new weight, towards 0 as |Wh| grows.
///
/// Computed as `sech^2(x) = 4u / (1 + u)^2` with `u = e^(-2x)`, `x = m |Wh| >= 0` (the same value:
/// `tanh x = (1 - u) / (1 + u)`), through [`exp_nonpositive`], because libm's `tanhf` is a call per
/// element that no loop around it can vectorise: it was half of a 784-1024-1024-10 training step.
/// It differs from `1 - tanh(x)^2` in f32 by a few ulp (tested up to x = 50).
#[inline]
pub fn consolidation(meta: f32, wh: f32) -> f32 {
    let u = exp_nonpositive(-2.0 * meta * wh.abs());
    let d = 1.0 + u;
    4.0 * u / (d * d)
}

/// `e^y` for `y <= 0` in plain arithmetic the compiler vectorises: `y = n ln2 + r` with `|r| <= ln2/2`
/// (ln2 split in two so `r` is exact), a degree-7 polynomial for `e^r` (Cephes' `expf`
/// coefficients), and `2^n` written into the exponent bits. Within 2 ulp of `f32::exp` on
/// [-87, 0]; 0 below, where `e^y` is under f32's smallest normal.
#[inline]
pub fn exp_nonpositive(y: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a library call.
    const ROUND: f32 = 12_582_912.0;
    // Positive `y` (never asked for: m >= 0) are taken as 0; NaN stays NaN.
    let clamped = y.clamp(-87.0, 0.0);
    let n = (clamped * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    let two_n = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if y < -87.0 { 0.0 } else { e_r * two_n }
}

/// One metaplastic Adam update of every element of `w`, in one pass over the tensor.
///
/// Written over zipped slices (no bounds checks) with the hyper-parameters hoisted, so the compiler
/// vectorises it; `m = 0` (plain Adam: batch norm's parameters, the standard network, the
/// autoencoder) takes a loop without the consolidation.
///
/// Large tensors are cut into one run of elements per thread ([`super::threads`]): each element's
/// update reads only itself, so the result does not depend on the cut. The pass is memory-bound (28
/// bytes per element), and one core does not saturate memory on this project's machines.
pub fn metaplastic_adam(w: &mut [f32], grad: &[f32], m1: &mut [f32], m2: &mut [f32], h: &AdamHyper) {
    let n = w.len();
    assert!(grad.len() == n && m1.len() == n && m2.len() == n, "w, grad, m1 and m2 must have one length");
    // Below this a thread costs more than it saves.
    const PER_THREAD: usize = 1 << 16;
    let threads = super::threads().min(n / PER_THREAD).max(1);
    if threads == 1 {
        return adam_run(w, grad, m1, m2, h);
    }
    let chunk = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let runs = w.chunks_mut(chunk).zip(grad.chunks(chunk)).zip(m1.chunks_mut(chunk).zip(m2.chunks_mut(chunk)));
        for ((w, g), (m1, m2)) in runs {
            scope.spawn(move || adam_run(w, g, m1, m2, h));
        }
    });
}

fn adam_run(w: &mut [f32], grad: &[f32], m1: &mut [f32], m2: &mut [f32], h: &AdamHyper) {
    let (b1, b2, wd, lr, eps) = (h.beta1, h.beta2, h.weight_decay, h.lr, h.eps);
    let (c1, c2, bias1, bias2) = (1.0 - h.beta1, 1.0 - h.beta2, h.bias1, h.bias2);
    let elements = w.iter_mut().zip(grad).zip(m1.iter_mut().zip(m2.iter_mut()));
    if h.meta == 0.0 {
        for ((w, &g), (m1, m2)) in elements {
            let g = g + wd * *w;
            *m1 = b1 * *m1 + c1 * g;
            *m2 = b2 * *m2 + c2 * g * g;
            *w -= lr * (*m1 / bias1) / ((*m2 / bias2).sqrt() + eps);
        }
    } else {
        for ((w, &g), (m1, m2)) in elements {
            let g = g + wd * *w;
            *m1 = b1 * *m1 + c1 * g;
            *m2 = b2 * *m2 + c2 * g * g;
            // The factor for every element and a select, not a branch around it, so the loop
            // stays vectorised.
            let factor = consolidation(h.meta, *w);
            let shrinks = w.signum() * *m1 > 0.0;
            let m1_used = *m1 * if shrinks { factor } else { 1.0 };
            *w -= lr * (m1_used / bias1) / ((*m2 / bias2).sqrt() + eps);
        }
    }
}

/// Adam's moments for every trained tensor of a [`ParamLayout`], in its order, and the step count
/// `t` (from 1 after a reset): the optimizer applied over a network's parameter list.
#[derive(Debug, Clone)]
pub struct AdamState {
    m1: Vec<Vec<f32>>,
    m2: Vec<Vec<f32>>,
    step: u32,
}

impl AdamState {
    pub fn new(layout: &ParamLayout) -> Self {
        let zeros = || layout.trained().map(|(t, _)| vec![0.0; t.len]).collect();
        Self { m1: zeros(), m2: zeros(), step: 0 }
    }

    /// One update of every trained tensor of `params` from its gradient in `grads`.
    pub fn step<P: TensorSet + ?Sized, G: TensorSet + ?Sized>(&mut self, layout: &ParamLayout, params: &mut P, grads: &G) {
        self.step += 1;
        for (k, (t, h)) in layout.trained().enumerate() {
            metaplastic_adam(params.tensor_mut(t.key), grads.tensor(t.key), &mut self.m1[k], &mut self.m2[k], &h.at_step(self.step));
        }
    }

    /// A fresh optimizer: moments zeroed, the step count back to 0 (a task boundary).
    pub fn reset(&mut self) {
        self.step = 0;
        self.m1.iter_mut().chain(&mut self.m2).for_each(|m| m.iter_mut().for_each(|v| *v = 0.0));
    }
}
