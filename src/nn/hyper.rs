//! Hyper-parameters and the few constants both backends must agree on. The `#[repr(C)]` structs
//! are also the WGSL uniforms of their kernels, so the CPU and the GPU read the very same values.

use bytemuck::{Pod, Zeroable};

/// Metaplastic Adam (Laborieux et al. 2021; the rule: [`crate::cpu::metaplastic_adam`]).
/// Hyper-parameters of one update, laid out as the WGSL uniform `Hyper`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct AdamHyper {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// The metaplasticity `m`; 0 for plain Adam.
    pub meta: f32,
    /// `1 - beta1^t` and `1 - beta2^t` for this step `t` (from 1).
    pub bias1: f32,
    pub bias2: f32,
}

impl AdamHyper {
    /// The authors' values: lr 0.005, b1 0.9, b2 0.999, eps 1e-8.
    pub fn new(lr: f32, meta: f32, weight_decay: f32) -> Self {
        Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, meta, bias1: 0.0, bias2: 0.0 }
    }

    /// The same hyper-parameters at step `t` (1 for the first update after a reset).
    pub fn at_step(mut self, t: u32) -> Self {
        self.bias1 = 1.0 - self.beta1.powi(t as i32);
        self.bias2 = 1.0 - self.beta2.powi(t as i32);
        self
    }
}

/// SGD with (Nesterov) momentum (the rule: [`crate::cpu::sgd`]).
/// Laid out as the WGSL uniform `Sgd`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct SgdHyper {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    /// 1 for Nesterov momentum, 0 for classical.
    pub nesterov: u32,
}

impl SgdHyper {
    pub fn nesterov(lr: f32, momentum: f32, weight_decay: f32) -> Self {
        Self { lr, momentum, weight_decay, nesterov: 1 }
    }
}

/// Artificial metaplasticity's weighting (Vives-Boix and Ruiz-Fernandez 2021; the rule:
/// [`crate::cpu::amp`]).
/// Laid out as the WGSL uniform `Amp` (with the batch shape the kernel needs).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct AmpHyper {
    /// `A` of the weighting function. It cancels in the batch normalisation; kept so the formula
    /// is complete (and tested to make no difference).
    pub a: f32,
    /// `B`: how strongly a pattern's energy raises its factor (relative to the batch's mean
    /// energy, see [`crate::cpu::amp`]). 0 is standard training.
    pub b: f32,
    /// The clamp on the normalised factors.
    pub lo: f32,
    pub hi: f32,
}

impl AmpHyper {
    pub const STANDARD: AmpHyper = AmpHyper { a: 1.0, b: 0.0, lo: 0.1, hi: 10.0 };

    pub fn new(b: f32) -> Self {
        Self { b, ..Self::STANDARD }
    }
}

/// What the metaplastic factor's `sum x^2` is taken over (see [`crate::cpu::amp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmpEnergy {
    /// The layer's input as it is: with pixels and ReLU outputs, how much ink or activation.
    Raw,
    /// The layer's input minus its running mean over the training data: how far from usual.
    Centred,
}

impl AmpEnergy {
    pub fn name(self) -> &'static str {
        match self {
            AmpEnergy::Raw => "raw",
            AmpEnergy::Centred => "centred",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw" => Some(AmpEnergy::Raw),
            "centred" | "centered" => Some(AmpEnergy::Centred),
            _ => None,
        }
    }
}

/// The floor of the centred energy's running-mean update rate: after 100 batches the mean
/// follows about the last 100 (this project's choice; see `crate::cpu::amp::centre_rows`).
pub const AMP_CENTRE_MIN_RATE: f32 = 0.01;

/// Batch normalisation's `eps` in `(x - mean) / sqrt(var + eps)` (PyTorch's default).
pub const BN_EPS: f32 = 1e-5;

/// Batch normalisation's running statistics: `running = (1 - momentum) running + momentum batch`,
/// with the batch's unbiased variance (PyTorch's default momentum and convention).
pub const BN_MOMENTUM: f32 = 0.1;

// Dropout's mask is a hash of (step seed, element index) rather than a random stream, so the GPU
// draws exactly the same mask as the CPU with no generator state to share, and two networks
// trained side by side with the same step seeds see the same masks.

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

