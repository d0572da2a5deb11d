//! Metaplastic Adam (Laborieux, Ernoult, Hirtzlin, Querlioz, Nat. Commun. 12:2549, 2021, Eq. 1 and
//! Methods; ALGORITHMS.md §1). GPU version: `shaders/metaplastic_adam.wgsl`.
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

use crate::nn::{AdamHyper, ParamLayout, TensorSet};

/// The consolidation factor `1 - tanh^2(m |Wh|)`: 1 for a new weight, towards 0 as |Wh| grows.
pub fn consolidation(meta: f32, wh: f32) -> f32 {
    let t = (meta * wh.abs()).tanh();
    1.0 - t * t
}

/// One metaplastic Adam update of every element of `w`.
pub fn metaplastic_adam(w: &mut [f32], grad: &[f32], m1: &mut [f32], m2: &mut [f32], h: &AdamHyper) {
    for i in 0..w.len() {
        let g = grad[i] + h.weight_decay * w[i];
        m1[i] = h.beta1 * m1[i] + (1.0 - h.beta1) * g;
        m2[i] = h.beta2 * m2[i] + (1.0 - h.beta2) * g * g;
        let shrinks = w[i].signum() * m1[i] > 0.0;
        let m1_used = if shrinks { m1[i] * consolidation(h.meta, w[i]) } else { m1[i] };
        w[i] -= h.lr * (m1_used / h.bias1) / ((m2[i] / h.bias2).sqrt() + h.eps);
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
