//! The binarized network on the CPU: the reference the GPU trainer is checked against, and the
//! trainer the browser uses where WebGPU is missing. The network is the layer list of
//! [`crate::model::bnn::BnnConfig::layers`] walked by [`super::walk`]; metaplastic Adam runs over
//! its [`crate::nn::ParamLayout`]; EWC is a penalty added to the gradients ([`EwcPenalty`]).

use super::ewc::{EwcPenalty, FisherHook};
use super::metaplastic_adam::AdamState;
use super::softmax_ce::softmax_cross_entropy;
use super::walk::{self, NoHook, Tape};
use crate::data::NUM_CLASSES;
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer, LAYERS, Weights, hidden_weights};
use crate::nn::{BatchStats, LayerParams, ParamLayout, Pass, PlannedLayer, RunningStats, TensorKey, TrainError};

/// Gradients of the batch-mean loss, one [`LayerParams`] per parameter slot.
#[derive(Debug, Clone)]
pub struct Grads {
    pub layers: Vec<LayerParams>,
    /// With respect to the input images, when asked for.
    pub x: Option<Vec<f32>>,
}

/// Loss, accuracy and gradients of one batch through `layers` (batch statistics in batch norm,
/// no running statistics kept): the function the finite-difference tests probe.
pub fn loss_and_grads(layers: &[PlannedLayer], params: &[LayerParams], x: &[f32], y: &[u32], want_input_grad: bool) -> (BatchStats, Grads) {
    let mut tape = Tape::default();
    let (stats, grads) = batch_grads(layers, params, &mut [], &mut tape, x, y, want_input_grad);
    (stats, grads)
}

/// A training pass (updating `running` where it is not empty) and its backward pass.
fn batch_grads(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    running: &mut [RunningStats],
    tape: &mut Tape,
    x: &[f32],
    y: &[u32],
    want_input_grad: bool,
) -> (BatchStats, Grads) {
    walk::forward_pass(layers, params, running, x, y.len(), Pass::Train, 0, tape);
    let logits = tape.output();
    let mut dlogits = vec![0.0; logits.len()];
    let classes = layers.last().map_or(NUM_CLASSES, |l| l.output.len());
    let (loss, correct) = softmax_cross_entropy(logits, y, classes, &mut dlogits);
    let mut grads: Vec<LayerParams> = params.iter().map(LayerParams::zeros_like).collect();
    let dx = walk::backward(layers, params, tape, dlogits, &mut grads, &mut NoHook, want_input_grad);
    (BatchStats { loss_sum: loss, correct, count: y.len() as u32 }, Grads { layers: grads, x: want_input_grad.then_some(dx) })
}

/// The tensors EWC penalises: every hidden weight matrix (the authors leave BatchNorm out).
pub fn ewc_keys() -> Vec<TensorKey> {
    (0..LAYERS).map(hidden_weights).collect()
}

/// The sums over every example of `batches` of its squared loss gradient with respect to the
/// weights of `keys` (the binary ones, as the forward pass uses them), batch norm normalising with
/// `running` (see [`crate::cpu::ewc`]); and how many examples there were. Divided by that count,
/// the authors' Fisher estimate.
pub fn fisher_sums(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    running: &mut [RunningStats],
    batches: &[(Vec<f32>, Vec<u32>)],
    keys: &[TensorKey],
) -> (Vec<Vec<f32>>, usize) {
    let classes = layers.last().map_or(NUM_CLASSES, |l| l.output.len());
    let mut hook = FisherHook::new(params.len(), keys, params);
    let (mut tape, mut count) = (Tape::default(), 0);
    let mut scratch: Vec<LayerParams> = params.iter().map(LayerParams::zeros_like).collect();
    for (x, y) in batches {
        walk::forward_pass(layers, params, running, x, y.len(), Pass::Inference, 0, &mut tape);
        let mut dlogits = vec![0.0; tape.output().len()];
        softmax_cross_entropy(tape.output(), y, classes, &mut dlogits);
        hook.scale = y.len() as f32;
        walk::backward(layers, params, &mut tape, dlogits, &mut scratch, &mut hook, false);
        count += y.len();
    }
    (hook.take(keys), count)
}

pub struct CpuBnn {
    cfg: BnnConfig,
    layers: Vec<PlannedLayer>,
    layout: ParamLayout,
    params: Vec<LayerParams>,
    running: Vec<RunningStats>,
    adam: AdamState,
    ewc: Option<EwcPenalty>,
    stats: BatchStats,
    tape: Tape,
}

impl CpuBnn {
    pub fn new(cfg: BnnConfig, params: BnnParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        if params.sizes != cfg.sizes() {
            return Err(TrainError::Config(format!("parameters of sizes {:?} for a network of {:?}", params.sizes, cfg.sizes())));
        }
        let layers = cfg.layers();
        let params = params.to_layers(cfg.weights);
        crate::nn::check_params(&layers, &params)?;
        let layout = cfg.layout();
        Ok(Self {
            adam: AdamState::new(&layout),
            running: RunningStats::for_layers(&layers),
            layout,
            layers,
            params,
            cfg,
            ewc: None,
            stats: BatchStats::default(),
            tape: Tape::default(),
        })
    }
}

impl BnnTrainer for CpuBnn {
    fn config(&self) -> &BnnConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        self.cfg.check_batch(x, y)?;
        let (stats, mut grads) = batch_grads(&self.layers, &self.params, &mut self.running, &mut self.tape, x, y, false);
        self.stats.add(stats);
        if let Some(ewc) = &self.ewc {
            ewc.add_to(self.params.as_slice(), grads.layers.as_mut_slice());
        }
        self.adam.step(&self.layout, self.params.as_mut_slice(), grads.layers.as_slice());
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        Ok(std::mem::take(&mut self.stats))
    }

    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        self.cfg.check_batch(x, y)?;
        // The training tape goes first (its signs of W alone are 7 MB at 1,024 units): a worker's
        // wasm memory keeps its peak, which should be training's, not both at once.
        self.tape = Tape::default();
        walk::forward_output(&self.layers, &self.params, &mut self.running, x, y.len(), Pass::Eval, &mut self.tape);
        let logits = self.tape.output();
        let mut dlogits = vec![0.0; logits.len()];
        let (loss, correct) = softmax_cross_entropy(logits, y, NUM_CLASSES, &mut dlogits);
        Ok(BatchStats { loss_sum: loss, correct, count: y.len() as u32 })
    }

    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        let batch = x.len() / self.cfg.sizes()[0].max(1);
        self.cfg.check_batch(x, &vec![0; batch])?;
        self.tape = Tape::default();
        walk::forward_output(&self.layers, &self.params, &mut self.running, x, batch, Pass::Eval, &mut self.tape);
        Ok(self.tape.output().to_vec())
    }

    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        Ok(BnnParams::from_layers(self.cfg.sizes(), &self.params))
    }

    fn load_params(&mut self, params: &BnnParams) {
        assert_eq!(params.sizes, self.cfg.sizes(), "parameters must fit the network");
        self.params = params.to_layers(self.cfg.weights);
    }

    fn reset_optimizer(&mut self) {
        self.adam.reset();
    }

    async fn bn_params(&mut self) -> Result<BnParams, TrainError> {
        // The BatchNorm slots alone: a test of an earlier task reads this, and the weights are
        // most of the network.
        Ok(BnParams {
            gamma: std::array::from_fn(|l| self.params[2 * l + 1].w.clone()),
            beta: std::array::from_fn(|l| self.params[2 * l + 1].b.clone()),
            running: Some(std::array::from_fn(|l| self.running[2 * l + 1].clone())),
        })
    }

    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError> {
        bn.check(self.cfg.sizes())?;
        for l in 0..LAYERS {
            self.params[2 * l + 1] = LayerParams { w: bn.gamma[l].clone(), b: bn.beta[l].clone() };
            if let Some(running) = &bn.running {
                self.running[2 * l + 1] = running[l].clone();
            }
        }
        Ok(())
    }

    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        for (x, y) in batches {
            self.cfg.check_batch(x, y)?;
        }
        let keys = ewc_keys();
        let (sums, count) = fisher_sums(&self.layers, &self.params, &mut self.running, batches, &keys);
        let (lambda, binary, params) = (self.cfg.ewc_lambda, self.cfg.weights == Weights::Binary, self.params.as_slice());
        let ewc = self.ewc.get_or_insert_with(|| EwcPenalty::new(lambda, binary, &keys, params));
        ewc.consolidate(params, &sums, count);
        Ok(())
    }
}
