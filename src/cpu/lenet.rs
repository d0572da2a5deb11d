//! LeNet-5 on the CPU, walking the layer list of [`crate::model::lenet`]: the reference the GPU
//! trainer is tested against and the browser's fallback.

use super::amp::{AmpCentres, layer_factors, scale_rows};
use super::sgd::sgd_step;
use super::softmax_ce::softmax_cross_entropy;
use super::walk::{self, BackwardHook, Tape};
use crate::model::lenet::{AmpSettings, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use crate::nn::{BatchStats, Layer, LayerParams, PlannedLayer, TrainError, check_params};

/// Forward pass over `x` (`batch x 784`). `dropout_seed: None` is evaluation (no dropout).
pub fn forward(layers: &[PlannedLayer], params: &LenetParams, x: &[f32], dropout_seed: Option<u32>, tape: &mut Tape) {
    let batch = x.len() / layers[0].input.len();
    walk::forward(layers, &params.layers, x, batch, dropout_seed, tape);
}

/// Gradients of the batch-mean loss, one [`LayerParams`] per layer with parameters.
pub struct Grads {
    pub layers: Vec<LayerParams>,
    /// With respect to the input images, when asked for.
    pub x: Option<Vec<f32>>,
    /// The metaplastic factors used, one vector per convolutional layer (empty if standard).
    pub factors: Vec<Vec<f32>>,
}

/// The metaplastic rule as a hook on the backward walk: each convolutional layer's weight and bias
/// gradients are taken from its output gradient with every example's rows scaled by that
/// example's factor ([`amp_factors`]); the gradient passed down is not scaled.
struct AmpHook<'a> {
    amp: AmpSettings,
    /// The running means of the centred energy, moved by this batch.
    centres: &'a mut AmpCentres,
    /// Convolutions met so far (from the last): which running mean is this layer's.
    seen: usize,
    /// Collected from the last convolution to the first.
    factors: Vec<Vec<f32>>,
}

impl BackwardHook for AmpHook<'_> {
    fn weight_grad_dy(&mut self, index: usize, l: &PlannedLayer, tape: &Tape, dy: &[f32]) -> Option<Vec<f32>> {
        let Layer::Conv { out: cout, .. } = l.layer else { return None };
        let source = match self.amp.source {
            FactorSource::LayerInput => &tape.acts[index],
            FactorSource::NetworkInput => &tape.acts[0],
        };
        let batch = dy.len() / l.output.len();
        let mut f = vec![0.0; batch];
        let slot = self.centres.means.len() - 1 - self.seen;
        self.seen += 1;
        layer_factors(&self.amp.hyper, self.amp.energy, source, batch, &mut self.centres.means[slot], self.centres.updates, &mut f);
        let mut out = vec![0.0; dy.len()];
        scale_rows(dy, cout, l.output.h * l.output.w, &f, &mut out);
        self.factors.push(f);
        Some(out)
    }
}

/// Backward pass from the logits' gradient, under the configured rule; a centred metaplastic rule
/// moves `centres` by this batch.
pub fn backward(
    cfg: &LenetConfig,
    layers: &[PlannedLayer],
    params: &LenetParams,
    tape: &mut Tape,
    dlogits: Vec<f32>,
    want_input_grad: bool,
    centres: &mut AmpCentres,
) -> Grads {
    let mut grads: Vec<LayerParams> = params.layers.iter().map(LayerParams::zeros_like).collect();
    let (dx, factors) = match cfg.amp {
        Some(amp) => {
            let convs = layers.iter().filter(|l| matches!(l.layer, Layer::Conv { .. })).count();
            centres.means.resize(convs, Vec::new());
            let mut hook = AmpHook { amp, centres, seen: 0, factors: Vec::new() };
            let dx = walk::backward(layers, &params.layers, tape, dlogits, &mut grads, &mut hook, want_input_grad);
            let mut factors = hook.factors;
            factors.reverse();
            centres.updates += 1;
            (dx, factors)
        }
        None => (walk::backward(layers, &params.layers, tape, dlogits, &mut grads, &mut walk::NoHook, want_input_grad), Vec::new()),
    };
    Grads { layers: grads, x: want_input_grad.then_some(dx), factors }
}

/// Loss, accuracy and gradients of one batch: the function the finite-difference tests probe. A
/// centred metaplastic rule centres on this batch's own mean (a fresh running mean).
pub fn loss_and_grads(
    cfg: &LenetConfig,
    layers: &[PlannedLayer],
    params: &LenetParams,
    x: &[f32],
    y: &[u32],
    dropout_seed: Option<u32>,
    want_input_grad: bool,
) -> (BatchStats, Grads) {
    let mut c = Tape::default();
    forward(layers, params, x, dropout_seed, &mut c);
    let logits = c.output();
    let mut dlogits = vec![0.0; logits.len()];
    let (loss, correct) = softmax_cross_entropy(logits, y, crate::data::NUM_CLASSES, &mut dlogits);
    let grads = backward(cfg, layers, params, &mut c, dlogits, want_input_grad, &mut AmpCentres::default());
    (BatchStats { loss_sum: loss, correct, count: y.len() as u32 }, grads)
}

pub struct CpuLenet {
    cfg: LenetConfig,
    layers: Vec<PlannedLayer>,
    params: LenetParams,
    velocity: LenetParams,
    stats: BatchStats,
    factors: Vec<Vec<f32>>,
    centres: AmpCentres,
    caches: Tape,
}

impl CpuLenet {
    pub fn new(cfg: LenetConfig, params: LenetParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        let layers = cfg.plan();
        check_params(&layers, &params.layers)?;
        let velocity = LenetParams { layers: params.layers.iter().map(LayerParams::zeros_like).collect() };
        Ok(Self { cfg, layers, params, velocity, stats: BatchStats::default(), factors: Vec::new(), centres: AmpCentres::default(), caches: Tape::default() })
    }
}

impl LenetTrainer for CpuLenet {
    fn config(&self) -> &LenetConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32], seed: u32) -> Result<(), TrainError> {
        let mut c = std::mem::take(&mut self.caches);
        forward(&self.layers, &self.params, x, Some(seed), &mut c);
        let logits = c.output();
        let mut dlogits = vec![0.0; logits.len()];
        let (loss, correct) = softmax_cross_entropy(logits, y, crate::data::NUM_CLASSES, &mut dlogits);
        let grads = backward(&self.cfg, &self.layers, &self.params, &mut c, dlogits, false, &mut self.centres);
        self.caches = c;
        self.stats.add(BatchStats { loss_sum: loss, correct, count: y.len() as u32 });
        let h = self.cfg.sgd();
        for ((p, g), v) in self.params.layers.iter_mut().zip(&grads.layers).zip(&mut self.velocity.layers) {
            sgd_step(&h, &mut p.w, &g.w, &mut v.w);
            sgd_step(&h, &mut p.b, &g.b, &mut v.b);
        }
        self.factors = grads.factors;
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        Ok(std::mem::take(&mut self.stats))
    }

    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        // The training tape is dropped first and the evaluation runs a training batch's worth of
        // examples at a time (the same logits to the bit), so a worker's wasm memory, which keeps
        // its peak for good, holds about what training does (the authors' variant evaluates 1000
        // images in one batch: 360 MiB per worker at once).
        self.caches = Tape::default();
        let batch = x.len() / self.layers[0].input.len();
        Ok(walk::forward_output_chunked(&self.layers, &self.params.layers, &[], x, batch, self.cfg.batch))
    }

    async fn params(&mut self) -> Result<LenetParams, TrainError> {
        Ok(self.params.clone())
    }

    fn load_params(&mut self, params: &LenetParams) {
        assert!(check_params(&self.layers, &params.layers).is_ok(), "parameters must fit the network");
        self.params.clone_from(params);
    }

    async fn last_factors(&mut self) -> Result<Vec<Vec<f32>>, TrainError> {
        Ok(self.factors.clone())
    }
}
