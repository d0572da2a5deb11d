//! Metaplastic Adam (Laborieux, Ernoult, Hirtzlin, Querlioz, Nat. Commun. 12:2549, 2021, Eq. 1 and
//! Methods; ALGORITHMS.md §1): the rule's one statement in this crate. Its GPU kernel,
//! `shaders/metaplastic_adam.wgsl`, runs the same per-element step.
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
pub fn consolidation(meta: f32, wh: f32) -> f32 {
    let t = (meta * wh.abs()).tanh();
    1.0 - t * t
}

/// One metaplastic Adam update of every element of `w`, in one pass over the tensor.
///
/// Written over zipped slices (no bounds checks) with the hyper-parameters hoisted, so the compiler
/// vectorises it; `m = 0` (plain Adam: batch norm's parameters, the standard network, the
/// autoencoder) takes a loop without the consolidation, whose `tanh` is a scalar library call.
pub fn metaplastic_adam(w: &mut [f32], grad: &[f32], m1: &mut [f32], m2: &mut [f32], h: &AdamHyper) {
    let n = w.len();
    assert!(grad.len() == n && m1.len() == n && m2.len() == n, "w, grad, m1 and m2 must have one length");
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
            let shrinks = w.signum() * *m1 > 0.0;
            let m1_used = if shrinks { *m1 * consolidation(h.meta, *w) } else { *m1 };
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
