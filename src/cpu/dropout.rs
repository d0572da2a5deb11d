//! Inverted dropout: in training each activation is kept with probability `1 - p` and scaled by
//! `1 / (1 - p)`, so nothing changes at test time. GPU version: `shaders/dropout.wgsl`.
//!
//! The mask comes from a hash of (step seed, element index) rather than a random stream, so the GPU
//! draws exactly the same mask as the CPU without a generator state to share, and two networks
//! trained side by side with the same step seeds see the same masks.

use crate::nn::hyper::{drop_threshold, mask_value};

/// `y = x * mask`, keeping `mask` for the backward pass (`dx = dy * mask`).
pub fn dropout_forward(p: f32, seed: u32, x: &[f32], y: &mut [f32], mask: &mut [f32]) {
    let (threshold, scale) = (drop_threshold(p), 1.0 / (1.0 - p));
    for (i, ((o, m), &v)) in y.iter_mut().zip(mask.iter_mut()).zip(x).enumerate() {
        *m = mask_value(seed, i as u32, threshold, scale);
        *o = v * *m;
    }
}

pub fn dropout_backward(mask: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &m), &g) in dx.iter_mut().zip(mask).zip(dy) {
        *d = g * m;
    }
}
