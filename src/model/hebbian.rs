//! The pattern-completion network of Miconi, Clune, Stanley (ICML 2018; ALGORITHMS.md §3): one
//! plastic layer of `bits` inputs and `bits` outputs ([`crate::cpu::plastic`]), trained on
//! episodes of `patterns` random ±1 patterns. The non-plastic network is the same layer, the same
//! size, with `alpha` held at 0 and not trained, so the trace has no effect on its outputs.

use super::TrainError;
use crate::cpu::metaplastic_adam::AdamHyper;
use crate::cpu::plastic::{HebbRule, Nonlinearity, PlasticDims, PlasticWeights};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// The saved traces of one training batch may not exceed this: BPTT keeps `Hebb(t)` for every
/// step, `steps * batch * bits^2` floats, and the browser has a few GiB at most.
pub const MAX_TAPE_BYTES: u64 = 2 << 30;

#[derive(Debug, Clone, PartialEq)]
pub struct HebbianConfig {
    /// Pattern length `n`: the layer is `n -> n`.
    pub bits: usize,
    /// Patterns per episode `P`.
    pub patterns: usize,
    /// How many times the whole set of patterns is shown before the test.
    pub presentations: usize,
    /// Steps each pattern is shown for.
    pub present_steps: usize,
    /// Zero-input steps after each shown pattern.
    pub blank_steps: usize,
    /// Steps the half-erased test pattern is shown for; the loss reads the last.
    pub test_steps: usize,
    /// Inputs are the ±1 patterns times this (Miconi: 20), so a shown pattern saturates tanh.
    pub input_gain: f32,
    pub rule: HebbRule,
    pub activation: Nonlinearity,
    /// `false`: alpha is fixed at 0, the non-plastic baseline.
    pub plastic: bool,
    pub lr: f32,
    /// Episodes per training batch.
    pub batch: usize,
}

impl HebbianConfig {
    /// Small enough to train in seconds on one core: 50 bits, 3 patterns, 2 presentations of 3
    /// steps with 2 blank steps between, 3 test steps.
    pub fn small(plastic: bool) -> Self {
        Self {
            bits: 50,
            patterns: 3,
            presentations: 2,
            present_steps: 3,
            blank_steps: 2,
            test_steps: 3,
            input_gain: 20.0,
            rule: HebbRule::Simple,
            activation: Nonlinearity::Tanh,
            plastic,
            lr: 3e-4,
            batch: 8,
        }
    }

    /// Miconi's setting: 1000 bits, 5 patterns, 2 presentations x 6 steps, 4 blank steps, 3 test
    /// steps, inputs x 20, Adam 3e-4, one episode per batch.
    pub fn miconi(plastic: bool) -> Self {
        Self { bits: 1000, patterns: 5, presentations: 2, present_steps: 6, blank_steps: 4, batch: 1, ..Self::small(plastic) }
    }

    /// Steps in one episode: every pattern shown then followed by blanks, `presentations` times,
    /// then the test pattern.
    pub fn episode_steps(&self) -> usize {
        self.presentations * self.patterns * (self.present_steps + self.blank_steps) + self.test_steps
    }

    pub fn dims(&self, batch: usize) -> PlasticDims {
        PlasticDims { batch, inputs: self.bits, outputs: self.bits }
    }

    /// Bytes of saved traces for one training batch (u64: wasm32's usize would overflow).
    pub fn tape_bytes(&self) -> u64 {
        [self.episode_steps(), self.batch, self.bits, self.bits, std::mem::size_of::<f32>()].iter().map(|&v| v as u64).product()
    }

    /// Refuses settings that cannot train or would not fit, saying which and why.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !(2..=2048).contains(&self.bits) {
            return bad(format!("pattern bits {} must be in 2..=2048", self.bits));
        }
        if !(1..=100).contains(&self.patterns) {
            return bad(format!("patterns per episode {} must be in 1..=100", self.patterns));
        }
        if !(1..=20).contains(&self.presentations) {
            return bad(format!("presentations {} must be in 1..=20", self.presentations));
        }
        if !(1..=50).contains(&self.present_steps) {
            return bad(format!("steps per presentation {} must be in 1..=50", self.present_steps));
        }
        if self.blank_steps > 50 {
            return bad(format!("blank steps {} must be in 0..=50", self.blank_steps));
        }
        if !(1..=50).contains(&self.test_steps) {
            return bad(format!("test steps {} must be in 1..=50", self.test_steps));
        }
        if !(self.input_gain > 0.0 && self.input_gain <= 1000.0) {
            return bad(format!("input gain {} must be in (0, 1000]", self.input_gain));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!("learning rate {} must be in (0, 1]", self.lr));
        }
        if !(1..=1000).contains(&self.batch) {
            return bad(format!("episodes per batch {} must be in 1..=1000", self.batch));
        }
        if self.tape_bytes() > MAX_TAPE_BYTES {
            return bad(format!(
                "backpropagation through {} steps of {} episodes would keep {:.1} GiB of traces (limit {} GiB); use fewer episodes per batch, bits or steps",
                self.episode_steps(),
                self.batch,
                self.tape_bytes() as f64 / (1u64 << 30) as f64,
                MAX_TAPE_BYTES >> 30
            ));
        }
        Ok(())
    }

    /// Plain Adam (metaplasticity 0), no weight decay, as Miconi.
    pub fn hyper(&self) -> AdamHyper {
        AdamHyper::new(self.lr, 0.0, 0.0)
    }
}

/// The learned parameters of one plastic layer.
#[derive(Debug, Clone, PartialEq)]
pub struct HebbianParams {
    pub bits: usize,
    /// `[out, in]`
    pub w: Vec<f32>,
    /// `[out, in]`; all zero in the non-plastic network.
    pub alpha: Vec<f32>,
    pub eta: f32,
}

impl HebbianParams {
    /// `W ~ U(-a, a)` with `a = 1 / (gain sqrt(n))`, so a shown pattern's pre-activation starts of
    /// order 1, not saturated; `alpha ~ U(-a/gain, a/gain)`, since the trace carries the inputs'
    /// scale (up to `gain`) and the plastic term would otherwise start `gain` times larger;
    /// `eta = 0.01` (Miconi's start). Miconi's `0.01 * randn` is for inputs of order 1 reaching
    /// the plastic weights; here the inputs are `gain` times larger. Both variants draw the same
    /// `W` for a seed; the non-plastic one zeroes alpha.
    pub fn init(cfg: &HebbianConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = cfg.bits * cfg.bits;
        let w_scale = 1.0 / (cfg.input_gain * (cfg.bits as f32).sqrt());
        let alpha_scale = w_scale / cfg.input_gain;
        let w = (0..n).map(|_| w_scale * rng.random_range(-1.0f32..1.0)).collect();
        let alpha = (0..n).map(|_| alpha_scale * rng.random_range(-1.0f32..1.0)).collect();
        let alpha = if cfg.plastic { alpha } else { vec![0.0; n] };
        Self { bits: cfg.bits, w, alpha, eta: 0.01 }
    }

    pub fn weights(&self) -> PlasticWeights<'_> {
        PlasticWeights { w: &self.w, alpha: &self.alpha, eta: self.eta }
    }
}
