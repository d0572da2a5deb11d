//! LeNet-5 with artificial metaplasticity in its convolutional layers (Vives-Boix and
//! Ruiz-Fernandez, Neurocomputing 2021; docs/algorithms.md, "Artificial metaplasticity" and
//! "LeNet-5 presets"), in two presets:
//!
//! - classic: conv 6@5x5 (padding 2) ReLU max-pool, conv 16@5x5 ReLU max-pool, FC 120 ReLU,
//!   FC 84 ReLU, FC 10 (LeCun et al. 1998's sizes, with today's ReLU and max pooling);
//! - authors: conv 32@3x3 ReLU BN max-pool, conv 48@3x3 ReLU BN max-pool, FC 256 ReLU BN
//!   dropout 0.7, FC 84 ReLU BN dropout 0.7, FC 10 (read from the authors' saved models).
//!
//! Both train with softmax cross-entropy and SGD with Nesterov momentum (lr 0.01, momentum 0.9).
//! The metaplastic rule ([`crate::cpu::amp`]) only scales the convolutional layers' weight and
//! bias gradients, per example. Activations are channels-last (`[batch, h, w, c]`), see
//! [`crate::cpu::conv`]. The layer list below is the one model definition both backends walk.

use crate::nn::{self, Activation, AmpEnergy, AmpHyper, BatchStats, Dims, Layer, LayerParams, Norm, PlannedLayer, PoolKind, SgdHyper, TrainError};
use crate::data::{IMAGE_SIDE, NUM_CLASSES};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// The metaplasticity strengths `B` the rule accepts; the page's `lenet.b` is declared from it.
pub const AMP_B_RANGE: std::ops::RangeInclusive<f32> = 0.0..=20.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Classic,
    Authors,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Classic => "classic",
            Arch::Authors => "authors",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "classic" => Some(Arch::Classic),
            "authors" => Some(Arch::Authors),
            _ => None,
        }
    }

    /// Test images per evaluation batch. With batch norm (the authors' variant) the test batch's
    /// own statistics normalise it, so the batch is the authors' 1000; without (the classic
    /// preset) an image's logits do not depend on its batch, and batches of 64, the training
    /// batch, keep a worker's peak memory where training puts it (the first im2col matrix of a
    /// batch of 1000 is 78 MB; a wasm memory never shrinks).
    pub fn eval_batch(self) -> usize {
        if self.layers().iter().any(|l| matches!(l, Layer::BatchNorm(_))) { 1000 } else { 64 }
    }

    /// The preset's layers with `pool` in its pooling layers (the presets pool by the maximum; the
    /// paper's section 4.3 says average pooling).
    pub fn layers_pooled(self, pool: PoolKind) -> Vec<Layer> {
        self.layers().into_iter().map(|l| if matches!(l, Layer::Pool(_)) { Layer::Pool(pool) } else { l }).collect()
    }

    pub fn layers(self) -> Vec<Layer> {
        use Layer::*;
        let relu = Act(Activation::Relu);
        match self {
            Arch::Classic => vec![
                Conv { out: 6, k: 5, pad: 2 },
                relu,
                Pool(PoolKind::Max),
                Conv { out: 16, k: 5, pad: 0 },
                relu,
                Pool(PoolKind::Max),
                Dense { out: 120 },
                relu,
                Dense { out: 84 },
                relu,
                Dense { out: NUM_CLASSES },
            ],
            Arch::Authors => vec![
                Conv { out: 32, k: 3, pad: 0 },
                relu,
                BatchNorm(Norm::BATCH),
                Pool(PoolKind::Max),
                Conv { out: 48, k: 3, pad: 0 },
                relu,
                BatchNorm(Norm::BATCH),
                Pool(PoolKind::Max),
                Dense { out: 256 },
                relu,
                BatchNorm(Norm::BATCH),
                Dropout(0.7),
                Dense { out: 84 },
                relu,
                BatchNorm(Norm::BATCH),
                Dropout(0.7),
                Dense { out: NUM_CLASSES },
            ],
        }
    }
}

/// The layers of `arch` on 28x28 grey images, shapes worked out.
pub fn plan(arch: Arch) -> Vec<PlannedLayer> {
    plan_pooled(arch, PoolKind::Max)
}

/// [`plan`] with `pool` in the pooling layers.
pub fn plan_pooled(arch: Arch, pool: PoolKind) -> Vec<PlannedLayer> {
    nn::plan(&arch.layers_pooled(pool), Dims { h: IMAGE_SIDE, w: IMAGE_SIDE, c: 1 }, 0)
}

/// Where the metaplastic factor of a convolutional layer reads its `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorSource {
    /// The input of that convolutional layer (this project's reading of the paper).
    LayerInput,
    /// The network's input image, for every convolutional layer.
    NetworkInput,
}

/// The metaplastic rule's settings; `None` in [`LenetConfig::amp`] is standard training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmpSettings {
    pub hyper: AmpHyper,
    pub source: FactorSource,
    pub energy: AmpEnergy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LenetConfig {
    pub arch: Arch,
    /// How the preset's pooling layers pool (no parameters change with it).
    pub pool: PoolKind,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub batch: usize,
    pub amp: Option<AmpSettings>,
}

impl LenetConfig {
    /// The authors' optimizer (SGD, lr 0.01, Nesterov momentum 0.9: what their saved models record),
    /// standard rule, and batches of 64: our choice, as no source gives the authors' batch size
    /// (the experiments set their own, see `LenetRunConfig::standard_against_amp`).
    pub fn authors_sgd(arch: Arch) -> Self {
        Self { arch, pool: PoolKind::Max, lr: 0.01, momentum: 0.9, weight_decay: 0.0, batch: 64, amp: None }
    }

    /// The layers both backends walk.
    pub fn plan(&self) -> Vec<PlannedLayer> {
        plan_pooled(self.arch, self.pool)
    }

    /// The same network trained with the metaplastic rule of strength `b`, on the raw energy of
    /// the factor's input (the formula as written).
    pub fn with_amp(mut self, b: f32, source: FactorSource) -> Self {
        self.amp = Some(AmpSettings { hyper: AmpHyper::new(b), source, energy: AmpEnergy::Raw });
        self
    }

    /// The metaplastic rule's factors from `energy` (no effect on a standard network).
    pub fn with_amp_energy(mut self, energy: AmpEnergy) -> Self {
        if let Some(amp) = self.amp.as_mut() {
            amp.energy = energy;
        }
        self
    }

    pub fn variant(&self) -> &'static str {
        match self.amp {
            None => "standard",
            Some(AmpSettings { energy: AmpEnergy::Raw, .. }) => "amp",
            Some(AmpSettings { energy: AmpEnergy::Centred, .. }) => "amp-centred",
        }
    }

    pub fn sgd(&self) -> SgdHyper {
        SgdHyper::nesterov(self.lr, self.momentum, self.weight_decay)
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!("learning rate {} must be in (0, 1]", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("momentum {} must be in [0, 1)", self.momentum));
        }
        if !(0.0..=0.1).contains(&self.weight_decay) {
            return bad(format!("weight decay {} must be in [0, 0.1]", self.weight_decay));
        }
        if !(2..=512).contains(&self.batch) {
            return bad(format!("batch size {} must be in 2..=512", self.batch));
        }
        if let Some(amp) = self.amp {
            let h = amp.hyper;
            if !AMP_B_RANGE.contains(&h.b) {
                return bad(format!("metaplasticity B {} must be in {AMP_B_RANGE:?}", h.b));
            }
            if !(h.a > 0.0 && h.a.is_finite()) {
                return bad(format!("metaplasticity A {} must be positive", h.a));
            }
            if !(h.lo > 0.0 && h.lo <= 1.0 && h.hi >= 1.0 && h.hi <= 1000.0) {
                return bad(format!("factor clamp [{}, {}] must hold 1 and lie within (0, 1000]", h.lo, h.hi));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LenetParams {
    pub layers: Vec<LayerParams>,
}

impl LenetParams {
    /// Glorot-uniform weights, zero biases (the paper states no initialisation and the authors'
    /// training code is not public: these are Keras's defaults, our choice); gamma 1,
    /// beta 0. The same seed gives both rules the same starting network.
    pub fn init(arch: Arch, seed: u64) -> Self {
        Self::init_layers(&plan(arch), seed)
    }

    pub fn init_layers(layers: &[PlannedLayer], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let layers = layers
            .iter()
            .filter_map(|layer| {
                let (wl, bl) = layer.param_lens()?;
                Some(match layer.layer {
                    Layer::BatchNorm(_) => LayerParams { w: vec![1.0; wl], b: vec![0.0; bl] },
                    Layer::Conv { out, k, .. } => {
                        let (fan_in, fan_out) = (k * k * layer.input.c, k * k * out);
                        glorot(&mut rng, wl, bl, fan_in, fan_out)
                    }
                    _ => glorot(&mut rng, wl, bl, layer.input.len(), layer.output.len()),
                })
            })
            .collect();
        Self { layers }
    }

    /// The first convolutional layer's filters, `[cout, k, k, 1]`.
    pub fn first_filters(&self, arch: Arch) -> Option<(usize, usize, &[f32])> {
        plan(arch).iter().find_map(|l| match (l.layer, l.param) {
            (Layer::Conv { out, k, .. }, Some(p)) => Some((out, k, &self.layers[p].w[..])),
            _ => None,
        })
    }
}

fn glorot(rng: &mut StdRng, wl: usize, bl: usize, fan_in: usize, fan_out: usize) -> LayerParams {
    let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
    LayerParams { w: (0..wl).map(|_| rng.random_range(-limit..limit)).collect(), b: vec![0.0; bl] }
}

/// A LeNet being trained, on one backend; reading results is `async` so the GPU can wait for its
/// readback without blocking a browser.
#[allow(async_fn_in_trait)]
pub trait LenetTrainer {
    fn config(&self) -> &LenetConfig;

    /// One SGD step on a batch (`x`: `batch x 784` in [0, 1]); `seed` picks the dropout masks, so
    /// two networks given the same seeds drop the same units.
    fn train_step(&mut self, x: &[f32], y: &[u32], seed: u32) -> Result<(), TrainError>;

    /// Loss and accuracy of the training batches since the last call.
    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError>;

    /// The logits (`batch x 10`) of an evaluation batch: no dropout, batch statistics.
    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError>;

    async fn params(&mut self) -> Result<LenetParams, TrainError>;

    fn load_params(&mut self, params: &LenetParams);

    /// The metaplastic factors of the last training batch, one vector per convolutional layer
    /// (empty under the standard rule).
    async fn last_factors(&mut self) -> Result<Vec<Vec<f32>>, TrainError>;
}
