//! Stochastic gradient descent with (Nesterov) momentum and L2 weight decay, in PyTorch's form:
//!
//! ```text
//! g = grad + wd * w
//! v = mu * v + g
//! w -= lr * (g + mu * v)     (Nesterov)      or      w -= lr * v     (classical momentum)
//! ```
//! The authors of the convolutional metaplasticity paper train with lr 0.01, momentum 0.9, Nesterov
//! (docs/algorithms.md, "SGD with Nesterov momentum"). GPU version: `shaders/sgd.wgsl`.

use crate::nn::SgdHyper;

pub fn sgd_step(h: &SgdHyper, w: &mut [f32], grad: &[f32], velocity: &mut [f32]) {
    for ((w, &g), v) in w.iter_mut().zip(grad).zip(velocity.iter_mut()) {
        let g = g + h.weight_decay * *w;
        *v = h.momentum * *v + g;
        let step = if h.nesterov != 0 { g + h.momentum * *v } else { *v };
        *w -= h.lr * step;
    }
}
