//! The sign function of binarized networks, forward and straight-through backward.
//!
//! Weights: the forward pass uses `Wb = sign(Wh)` and the gradient with respect to `Wb` is applied
//! to `Wh` unchanged. Activations: `sign(x)` forward; backward passes the gradient where `|x| <= 1`
//! and zeroes it elsewhere, which is the gradient of `hardtanh(x) = clamp(x, -1, 1)` (Laborieux et
//! al. 2021; Courbariaux et al. 2016).

/// `sign` with `sign(0) = +1`, so a weight is always exactly +1 or -1.
pub fn binarize(x: f32) -> f32 {
    if x >= 0.0 { 1.0 } else { -1.0 }
}

pub fn binarize_all(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = binarize(v);
    }
}

/// The hidden layers' activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenActivation {
    /// `sign(x)` forward, straight-through gradient backward: the binarized network.
    Sign,
    /// `hardtanh(x)`, the smooth function whose exact gradient the straight-through estimator
    /// uses. Finite differences can check a backward pass through it; they cannot through sign.
    HardTanh,
}

impl HiddenActivation {
    pub fn forward(self, x: f32) -> f32 {
        match self {
            HiddenActivation::Sign => binarize(x),
            HiddenActivation::HardTanh => x.clamp(-1.0, 1.0),
        }
    }
}

/// Straight-through backward: `dx = dy * 1{|x| <= 1}` (the same for both activations).
pub fn sign_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((o, &xv), &g) in dx.iter_mut().zip(x).zip(dy) {
        *o = if xv.abs() <= 1.0 { g } else { 0.0 };
    }
}
