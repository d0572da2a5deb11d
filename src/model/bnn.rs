//! The binarized network of Laborieux et al. (2021): 784-H-H-10, binary weights `sign(Wh)`, no
//! biases, BatchNorm after every linear layer, sign activations with the straight-through
//! gradient, softmax cross-entropy, and metaplastic Adam on the hidden weights `Wh`.
//!
//! The network is a layer list ([`BnnConfig::layers`]) both backends walk, and its parameters are
//! one ordered list of tensors with the update each gets ([`BnnConfig::layout`]).

use crate::nn::{self, Activation, AdamHyper, BatchStats, Dims, Layer, LayerParams, Norm, ParamLayout, PlannedLayer, RunningStats, TensorKey, TrainError, Update};
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use rand::{RngExt, SeedableRng, rngs::StdRng};

pub const LAYERS: usize = 3;

/// The hidden widths, metaplasticity values and EWC strengths a network may have; the page's
/// settings (`crate::settings::bnn`) declare their ranges from these.
pub const HIDDEN_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
pub const META_RANGE: std::ops::RangeInclusive<f32> = 0.0..=50.0;
pub const EWC_LAMBDA_RANGE: std::ops::RangeInclusive<f32> = 0.0..=1e7;

#[derive(Debug, Clone, PartialEq)]
pub struct BnnConfig {
    pub hidden: usize,
    /// Metaplasticity `m` per linear layer; all zero is the standard binarized network.
    pub meta: [f32; LAYERS],
    pub lr: f32,
    pub weight_decay: f32,
    pub batch: usize,
    /// EWC strength; 0 switches EWC off.
    pub ewc_lambda: f32,
    /// Every BatchNorm layer's kind: learned gamma and beta or not, batch or running statistics
    /// at evaluation.
    pub norm: Norm,
    /// Binary weights `sign(Wh)` (the paper's network) or the same rule on a full-precision twin.
    pub weights: Weights,
}

/// What the forward pass multiplies by. The paper's Fig. 2f trains the same network with its
/// weights left real (the authors' `DNN` class: linear layers without bias, BatchNorm, ReLU) under
/// the same metaplastic Adam: there the rule does not protect old tasks, because a real weight's
/// every change moves the output, while a binary weight's only matters when its sign flips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// `sign(Wh)` and sign activations: the binarized network.
    Binary,
    /// `Wh` itself and ReLU activations.
    Full,
}

impl Weights {
    pub fn parse(s: &str) -> Result<Self, TrainError> {
        match s {
            "binary" => Ok(Self::Binary),
            "full" => Ok(Self::Full),
            other => Err(TrainError::Config(format!("weights {other:?}: choose binary or full"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Full => "full",
        }
    }
}

impl BnnConfig {
    /// The authors' permuted-MNIST optimizer and batch at hidden width `hidden` and metaplasticity
    /// `meta`.
    pub fn authors_optimizer(hidden: usize, meta: f32) -> Self {
        Self { hidden, meta: [meta; LAYERS], lr: 0.005, weight_decay: 1e-7, batch: 100, ewc_lambda: 0.0, norm: Norm::BATCH, weights: Weights::Binary }
    }

    pub fn sizes(&self) -> [usize; LAYERS + 1] {
        [IMAGE_PIXELS, self.hidden, self.hidden, NUM_CLASSES]
    }

    /// Refuses settings the app and the tool cannot train with, saying which and why.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if !HIDDEN_RANGE.contains(&self.hidden) {
            return bad(format!("hidden width {} is outside {HIDDEN_RANGE:?}", self.hidden));
        }
        if self.meta.iter().any(|m| !META_RANGE.contains(m)) {
            return bad(format!("metaplasticity m {:?} must be in {META_RANGE:?}", self.meta));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!("learning rate {} must be in (0, 1]", self.lr));
        }
        if !(0.0..=1.0).contains(&self.weight_decay) {
            return bad(format!("weight decay {} must be in [0, 1]", self.weight_decay));
        }
        if !(2..=1000).contains(&self.batch) {
            return bad(format!("batch size {} must be in 2..=1000 (batch norm needs two examples)", self.batch));
        }
        if !EWC_LAMBDA_RANGE.contains(&self.ewc_lambda) {
            return bad(format!("EWC lambda {} must be in {EWC_LAMBDA_RANGE:?}", self.ewc_lambda));
        }
        Ok(())
    }

    pub fn hyper(&self, layer: usize) -> AdamHyper {
        AdamHyper::new(self.lr, self.meta[layer], self.weight_decay)
    }

    /// BatchNorm's gamma and beta get plain Adam (m = 0).
    pub fn bn_hyper(&self) -> AdamHyper {
        AdamHyper::new(self.lr, 0.0, self.weight_decay)
    }

    /// Refuses a batch whose pixels do not match its labels, or a label that is not a class;
    /// returns the batch size.
    pub fn check_batch(&self, x: &[f32], y: &[u32]) -> Result<usize, TrainError> {
        let pixels = self.sizes()[0];
        let batch = y.len();
        if batch == 0 || x.len() != batch * pixels {
            return Err(TrainError::Config(format!("a batch of {} labels needs {} pixels, got {}", batch, batch * pixels, x.len())));
        }
        if let Some(bad) = y.iter().find(|&&label| label as usize >= NUM_CLASSES) {
            return Err(TrainError::Config(format!("label {bad} is not below {NUM_CLASSES}")));
        }
        Ok(batch)
    }

    /// Binary linear layer, BatchNorm, sign; twice; then binary linear layer and BatchNorm, whose
    /// outputs are the logits. Parameter slot `2 l` is linear layer `l`'s `Wh`, slot `2 l + 1` its
    /// BatchNorm's gamma and beta. With full-precision weights: real linear layers and ReLU.
    pub fn layers(&self) -> Vec<PlannedLayer> {
        use Layer::*;
        let s = self.sizes();
        let norm = BatchNorm(self.norm);
        let specs = match self.weights {
            Weights::Binary => [BinaryDense { out: s[1] }, norm, Sign, BinaryDense { out: s[2] }, norm, Sign, BinaryDense { out: s[3] }, norm],
            Weights::Full => [Dense { out: s[1] }, norm, Act(Activation::Relu), Dense { out: s[2] }, norm, Act(Activation::Relu), Dense { out: s[3] }, norm],
        };
        nn::plan(&specs, Dims::flat(s[0]), 0)
    }

    /// Metaplastic Adam on each `Wh` (with its layer's `m`), plain Adam on gamma and beta (frozen
    /// without affine BatchNorm). A full-precision layer's bias stays at 0, as the authors' has
    /// none: the BatchNorm after it would cancel it anyway.
    pub fn layout(&self) -> ParamLayout {
        ParamLayout::of_layers(&self.layers(), |l, is_bias| match l.layer {
            Layer::BinaryDense { .. } => Update::Adam(self.hyper(l.param_index() / 2)),
            Layer::Dense { .. } if !is_bias => Update::Adam(self.hyper(l.param_index() / 2)),
            Layer::BatchNorm(norm) if norm.affine => Update::Adam(self.bn_hyper()),
            _ => Update::Frozen,
        })
    }
}

/// The tensor holding linear layer `l`'s hidden weights `Wh`.
pub fn hidden_weights(l: usize) -> TensorKey {
    TensorKey::Weight(2 * l)
}

/// Everything a trained network is: hidden weights and BatchNorm affine parameters per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct BnnParams {
    pub sizes: [usize; LAYERS + 1],
    /// `Wh[l]`: `sizes[l+1] x sizes[l]`, row-major (one row per output unit).
    pub wh: [Vec<f32>; LAYERS],
    pub gamma: [Vec<f32>; LAYERS],
    pub beta: [Vec<f32>; LAYERS],
}

/// How BatchNorm's gamma starts. The authors' README installs PyTorch 1.1.0, whose `BatchNorm1d`
/// drew gamma from U(0, 1) (PyTorch 1.2 changed it to 1); their code sets no initialisation of its
/// own for BatchNorm, so on a later PyTorch it starts at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GammaInit {
    One,
    Uniform,
}

impl GammaInit {
    pub fn parse(s: &str) -> Result<Self, TrainError> {
        match s {
            "one" => Ok(Self::One),
            "uniform" => Ok(Self::Uniform),
            other => Err(TrainError::Config(format!("BatchNorm gamma init {other:?}: choose one or uniform"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::One => "one",
            Self::Uniform => "uniform",
        }
    }
}

/// BatchNorm's state only: what the authors' "task" scenario saves per task. Their state dict
/// holds the running statistics too (PyTorch 1.1 kept them), so a task tested later is normalised
/// with its own statistics where the network evaluates on running statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BnParams {
    pub gamma: [Vec<f32>; LAYERS],
    pub beta: [Vec<f32>; LAYERS],
    /// Each layer's running statistics; `None` (from [`BnnParams::bn`], which has none) leaves a
    /// trainer's as they are.
    pub running: Option<[RunningStats; LAYERS]>,
}

impl BnParams {
    /// Refuses a state whose layers do not have `sizes`' features.
    pub fn check(&self, sizes: [usize; LAYERS + 1]) -> Result<(), TrainError> {
        for l in 0..LAYERS {
            let n = sizes[l + 1];
            let running_ok = self.running.as_ref().is_none_or(|r| r[l].mean.len() == n && r[l].var.len() == n);
            if self.gamma[l].len() != n || self.beta[l].len() != n || !running_ok {
                return Err(TrainError::Config(format!("BatchNorm state of layer {l} does not have {n} features")));
            }
        }
        Ok(())
    }
}

impl BnnParams {
    /// `Wh ~ U(-0.05, 0.05)` (the authors' code), gamma 1 and beta 0. Gamma 1 is later PyTorch's
    /// default; the authors' runs drew it from U(0, 1) (see [`GammaInit`]), which the experiments
    /// apply on top of this.
    pub fn init(sizes: [usize; LAYERS + 1], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let wh = std::array::from_fn(|l| (0..sizes[l] * sizes[l + 1]).map(|_| rng.random_range(-0.05..0.05)).collect());
        Self {
            sizes,
            wh,
            gamma: std::array::from_fn(|l| vec![1.0; sizes[l + 1]]),
            beta: std::array::from_fn(|l| vec![0.0; sizes[l + 1]]),
        }
    }

    /// As [`Self::init`], with gamma drawn as `gamma` says. The uniform draw uses its own stream,
    /// so the hidden weights are the same whichever gamma is chosen.
    pub fn init_with(sizes: [usize; LAYERS + 1], seed: u64, gamma: GammaInit) -> Self {
        let mut params = Self::init(sizes, seed);
        if gamma == GammaInit::Uniform {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x9a33_a000);
            for g in params.gamma.iter_mut().flatten() {
                *g = rng.random_range(0.0..1.0);
            }
        }
        params
    }

    pub fn bn(&self) -> BnParams {
        BnParams { gamma: self.gamma.clone(), beta: self.beta.clone(), running: None }
    }

    /// The parameters in the slots of [`BnnConfig::layers`] for `weights` (a full-precision layer
    /// holds a bias, always 0).
    pub fn to_layers(&self, weights: Weights) -> Vec<LayerParams> {
        let bias = |l: usize| match weights {
            Weights::Binary => Vec::new(),
            Weights::Full => vec![0.0; self.sizes[l + 1]],
        };
        (0..LAYERS)
            .flat_map(|l| [LayerParams { w: self.wh[l].clone(), b: bias(l) }, LayerParams { w: self.gamma[l].clone(), b: self.beta[l].clone() }])
            .collect()
    }

    /// From the slots of [`BnnConfig::layers`] (which the caller has checked).
    pub fn from_layers(sizes: [usize; LAYERS + 1], layers: &[LayerParams]) -> Self {
        Self {
            sizes,
            wh: std::array::from_fn(|l| layers[2 * l].w.clone()),
            gamma: std::array::from_fn(|l| layers[2 * l + 1].w.clone()),
            beta: std::array::from_fn(|l| layers[2 * l + 1].b.clone()),
        }
    }
}

/// A binarized network being trained, on one backend. Methods that read results are `async` so the
/// GPU backend can wait for its readback without blocking a browser; the CPU's are ready at once.
#[allow(async_fn_in_trait)]
pub trait BnnTrainer {
    fn config(&self) -> &BnnConfig;

    /// One metaplastic Adam step on a batch: `x` is `batch x 784` in [0, 1], `y` the labels.
    /// Loss and accuracy accumulate on the backend until [`Self::take_train_stats`].
    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError>;

    /// Loss and accuracy of the training batches since the last call.
    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError>;

    /// Loss and accuracy on one evaluation batch (batch statistics in BatchNorm).
    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError>;

    /// The output layer's logits (`batch x 10`, row-major) for an evaluation batch, as
    /// [`Self::evaluate`] computes them: where BatchNorm uses the batch's statistics, an example's
    /// logits depend on the rest of its batch.
    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError>;

    async fn params(&mut self) -> Result<BnnParams, TrainError>;

    fn load_params(&mut self, params: &BnnParams);

    /// A fresh optimizer: moments zeroed and the step count back to 0, as at a task boundary.
    fn reset_optimizer(&mut self);

    /// BatchNorm's state alone (gamma, beta and the running statistics), for the authors'
    /// per-task BatchNorm ("task" scenario).
    async fn bn_params(&mut self) -> Result<BnParams, TrainError>;

    /// Writes a state [`Self::bn_params`] read (running statistics only where it has them).
    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError>;

    /// EWC as the authors computed it: the Fisher information estimated as the mean of every
    /// example's squared gradient over `batches` (batch norm on the task's running statistics),
    /// anchored at the binary weights the forward pass uses, and a penalty on those weights
    /// (added to the penalties of earlier tasks).
    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError>;
}
