//! Inverted dropout: in training each activation is kept with probability `1 - p` and scaled by
//! `1 / (1 - p)`, so nothing changes at test time. GPU version: `shaders/dropout.wgsl`.
//!
//! The mask comes from a hash of (step seed, element index) rather than a random stream, so the GPU
//! draws exactly the same mask as the CPU without a generator state to share, and two networks
//! trained side by side with the same step seeds see the same masks.

/// PCG output hash (O'Neill 2014, the "pcg_hash" variant used for shaders): a well-mixed 32-bit
/// value from a 32-bit input, in the integer operations WGSL has.
pub fn pcg_hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// Elements whose hash falls below this are dropped.
pub fn drop_threshold(p: f32) -> u32 {
    (p.clamp(0.0, 1.0) as f64 * 4_294_967_296.0).min(u32::MAX as f64) as u32
}

/// The mask value of element `i`: 0 if dropped, `1 / (1 - p)` if kept.
pub fn mask_value(seed: u32, i: u32, threshold: u32, scale: f32) -> f32 {
    if pcg_hash(i ^ pcg_hash(seed)) < threshold { 0.0 } else { scale }
}

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
