//! The Hebbian denoising autoencoder (Upadhyay & Bagad; docs/algorithms.md, "Denoising
//! autoencoder") on the CPU: the network of [`crate::model::hebbian::DenoiseConfig`] run over a
//! batch of episodes, and its gradients by backpropagation through time.
//!
//! Nothing here is a new kernel: the encoder and the decoder are layer lists walked by
//! [`super::walk`], as LeNet-5 is; the two plastic layers are
//! [`super::plastic::episode_forward`] and [`super::plastic::episode_backward`].
//!
//! The convolutional stages have no memory, so they run over every step of the episodes at once,
//! the steps one after the other as one batch, batch norm taking each step's statistics on its own
//! (as the authors run a step at a time); the plastic layers run over the whole episode, since
//! each step's trace depends on the steps before. Backward goes the same way in reverse: the
//! output layer's BPTT hands every step a gradient for its logits, the decoder turns them into
//! gradients for the code layer's outputs, the code layer's BPTT into gradients for the encoder's
//! outputs; the stages' parameter gradients are summed over steps.

use super::activation::sigmoid;
use super::metaplastic_adam::AdamState;
use super::plastic::{EpisodeTape, PlasticGrads, episode_backward, episode_forward, episode_outputs};
use super::pool::{avg_pool_forward, pool_backward, upsample_backward, upsample_forward};
use super::walk::{self, NoHook, Tape};
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, HebbianParams, PLASTIC_ACT, reconstruction_mse};
use crate::nn::{LayerParams, ParamLayout, PlannedLayer, PlasticDims, PoolKind, PoolShape, TrainError};

/// The gradient reaching the decoder logits `d` of one or more steps (`half`'s batch runs through
/// them one after the other): through the output plastic layer's input `avgpool(d)`, whose
/// gradient is `g`, and at the last step through the image too (`dz`, from
/// [`reconstruct_backward`], added to the last `dz.len()` entries of `dd`). GPU:
/// `shaders/reconstruct.wgsl` (`logits_grad`).
pub fn logits_grad(half: &PoolShape, g: &[f32], dz: Option<&[f32]>, dd: &mut [f32]) {
    pool_backward(half, PoolKind::Average, g, &[], dd);
    if let Some(dz) = dz {
        assert!(dz.len() <= dd.len(), "dz is the last step's part of dd");
        let from = dd.len() - dz.len();
        dd[from..].iter_mut().zip(dz).for_each(|(a, b)| *a += b);
    }
}

/// The reconstruction `images = sigmoid(d + up(p))`: the decoder's logits `d` (`half`'s full
/// grid) plus the output plastic layer's outputs `p` (its pooled grid), upsampled. GPU:
/// `shaders/reconstruct.wgsl` (`forward`).
pub fn reconstruct_forward(half: &PoolShape, d: &[f32], p: &[f32], images: &mut [f32]) {
    assert_eq!(d.len(), images.len(), "the logits and the images are batch x pixels");
    upsample_forward(half, p, images);
    for (v, d) in images.iter_mut().zip(d) {
        *v = sigmoid(*v + d);
    }
}

/// Through the sigmoid of [`reconstruct_forward`]: `dz = dimages * y * (1 - y)`, the gradient of
/// both `d` and `up(p)`. GPU: `shaders/reconstruct.wgsl` (`backward`).
pub fn reconstruct_backward(images: &[f32], dimages: &[f32], dz: &mut [f32]) {
    assert!(images.len() == dimages.len() && dz.len() == images.len(), "images, their gradient and dz are batch x pixels");
    for ((g, &y), &dy) in dz.iter_mut().zip(images).zip(dimages) {
        *g = dy * y * (1.0 - y);
    }
}

/// A stage list (the encoder or the decoder) run over every step of a batch of episodes at once,
/// each step normalised by its own batch statistics ([`walk::forward_groups`]): the steps before
/// `lead` in one pass, which never goes backward, the rest in another, which does.
#[derive(Debug, Clone)]
pub struct StageRun {
    pub lead: usize,
    /// The pass over steps `0..lead` (if any), then the one over `lead..T` (if any).
    pub tapes: Vec<Tape>,
    /// The outputs of every step, `[T, batch, out]`.
    pub output: Vec<f32>,
}

impl StageRun {
    /// Runs `layers` over `xs` (`[T, batch, in]`).
    fn new(layers: &[PlannedLayer], params: &[LayerParams], xs: &[f32], steps: usize, batch: usize, lead: usize) -> Self {
        let per_step = xs.len() / steps;
        let mut tapes = Vec::with_capacity(2);
        let mut output = Vec::new();
        for (from, to) in [(0, lead), (lead, steps)] {
            if to > from {
                let mut tape = Tape::default();
                // The steps before `lead` never go backward: their pass keeps its output alone.
                let keep = from == lead;
                walk::forward_groups(layers, params, &xs[from * per_step..to * per_step], batch, to - from, keep, &mut tape);
                output.extend_from_slice(tape.output());
                tapes.push(tape);
            }
        }
        Self { lead, tapes, output }
    }

    /// Backward from the output gradients of steps `lead..T` (`[T - lead, batch, out]`), the
    /// parameter gradients added into `grads`; the input gradient of those steps when `want_dx`.
    fn backward(&mut self, layers: &[PlannedLayer], params: &[LayerParams], steps: usize, dy: Vec<f32>, grads: &mut [LayerParams], want_dx: bool) -> Vec<f32> {
        match self.tapes.last_mut() {
            Some(tape) if self.lead < steps => walk::backward(layers, params, tape, dy, grads, &mut NoHook, want_dx),
            _ => Vec::new(),
        }
    }
}

/// A forward pass over a batch of episodes, with everything backward needs.
#[derive(Debug, Clone)]
pub struct DenoiseTape {
    pub steps: usize,
    pub batch: usize,
    pub encoder: StageRun,
    pub code: EpisodeTape,
    /// From the code layer's outputs to the logits `d`.
    pub decoder: StageRun,
    /// The output layer's inputs, the 2x2-averaged logits: `[T, batch, (side/2)^2]`.
    pub out_in: Vec<f32>,
    pub out: EpisodeTape,
    /// The reconstructions `sigmoid(d + up(plastic))`: `[T, batch, pixels]`.
    pub images: Vec<f32>,
}

impl DenoiseTape {
    /// The reconstructions at the last step, the ones the loss reads: `[batch, pixels]`.
    pub fn last_images(&self) -> &[f32] {
        let n = self.images.len() / self.steps;
        &self.images[(self.steps - 1) * n..]
    }

    /// The code layer's inputs, the encoder's outputs: `[T, batch, code]`.
    pub fn code_in(&self) -> &[f32] {
        &self.encoder.output
    }
}

fn dims(batch: usize, n: usize) -> PlasticDims {
    PlasticDims { batch, inputs: n, outputs: n }
}

/// Runs the network over `xs` (`[T, batch, pixels]`, `T = cfg.episode_steps()`); a pass that will
/// go backward (`with_grads`) keeps its stages' steps with gradients apart
/// ([`DenoiseConfig::steps_without_grads`]).
pub fn denoise_forward(cfg: &DenoiseConfig, params: &DenoiseParams, xs: &[f32], batch: usize, with_grads: bool) -> DenoiseTape {
    let steps = cfg.episode_steps();
    let (pixels, no) = (cfg.pixels(), cfg.out_plastic_len());
    assert_eq!(xs.len(), steps * batch * pixels, "xs must be T x batch x pixels");
    let lead = cfg.steps_without_grads(with_grads);
    let encoder = StageRun::new(&cfg.encoder(), &params.layers, xs, steps, batch, lead);
    // Without gradients the plastic layers keep no traces (T of them, the largest part of a tape).
    let episode = if with_grads { episode_forward } else { episode_outputs };
    let code = episode(dims(batch, cfg.code_len()), params.code.weights(), cfg.rule, PLASTIC_ACT, &encoder.output, steps);
    let decoder = StageRun::new(&cfg.decoder(), &params.layers, &code.y, steps, batch, lead);
    // Every step's logits at once: pooling and the reconstruction are per example.
    let all = PoolShape::new(steps * batch, cfg.side, cfg.side, 1);
    let mut out_in = vec![0.0; steps * batch * no];
    avg_pool_forward(&all, &decoder.output, &mut out_in);
    let out = episode(dims(batch, no), params.out.weights(), cfg.rule, PLASTIC_ACT, &out_in, steps);
    let mut images = vec![0.0; steps * batch * pixels];
    reconstruct_forward(&all, &decoder.output, &out.y, &mut images);
    DenoiseTape { steps, batch, encoder, code, decoder, out_in, out, images }
}

/// Mean squared error of the last step's reconstructions against `targets` (`[batch, pixels]`).
pub fn denoise_mse(tape: &DenoiseTape, targets: &[f32]) -> f32 {
    reconstruction_mse(tape.last_images(), targets)
}

/// Gradients of [`denoise_mse`] with respect to every parameter, by BPTT through both plastic
/// layers; `tape` from a forward pass `with_grads`. The stages go backward over the steps that get
/// a gradient (in the non-plastic twin only the last: its traces reach nothing), all at once.
/// The stages' tapes are spent (`walk::backward`).
pub fn denoise_backward(cfg: &DenoiseConfig, params: &DenoiseParams, tape: &mut DenoiseTape, targets: &[f32]) -> DenoiseParams {
    let (steps, batch) = (tape.steps, tape.batch);
    let (pixels, nc, no) = (cfg.pixels(), cfg.code_len(), cfg.out_plastic_len());
    let lead = tape.decoder.lead;
    let mut grads = params.zeros_like();
    let out = tape.last_images();
    let count = out.len() as f32;
    // d loss / d (d + up(plastic)) at the last step, through the sigmoid.
    let dimages: Vec<f32> = out.iter().zip(targets).map(|(&y, &p)| 2.0 * (y - p) / count).collect();
    let mut dz = vec![0.0; out.len()];
    reconstruct_backward(out, &dimages, &mut dz);
    let half = PoolShape::new(batch, cfg.side, cfg.side, 1);
    let mut dys = vec![0.0; steps * batch * no];
    upsample_backward(&half, &dz, &mut dys[(steps - 1) * batch * no..]);
    let g_out = episode_backward(params.out.weights(), cfg.rule, PLASTIC_ACT, &tape.out_in, &tape.out, &dys);
    add_plastic(&mut grads.out, &g_out);
    // The logits' gradient at steps lead..T, the image's at the last.
    assert!(lead < steps, "the tape comes from a forward pass with gradients");
    let late = PoolShape::new((steps - lead) * batch, cfg.side, cfg.side, 1);
    let mut dd = vec![0.0; (steps - lead) * batch * pixels];
    logits_grad(&late, &g_out.x[lead * batch * no..], Some(&dz), &mut dd);
    let mut dcode = vec![0.0; steps * batch * nc];
    let dx = tape.decoder.backward(&cfg.decoder(), &params.layers, steps, dd, &mut grads.layers, true);
    dcode[lead * batch * nc..].copy_from_slice(&dx);
    let g_code = episode_backward(params.code.weights(), cfg.rule, PLASTIC_ACT, tape.code_in(), &tape.code, &dcode);
    add_plastic(&mut grads.code, &g_code);
    let de = g_code.x[lead * batch * nc..].to_vec();
    tape.encoder.backward(&cfg.encoder(), &params.layers, steps, de, &mut grads.layers, false);
    grads
}

fn add_plastic(into: &mut HebbianParams, g: &PlasticGrads) {
    into.w.iter_mut().zip(&g.w).for_each(|(a, b)| *a += b);
    into.alpha.iter_mut().zip(&g.alpha).for_each(|(a, b)| *a += b);
    into.eta += g.eta;
}

/// Loss of a batch of episodes and, when asked, its gradients: what the finite-difference tests
/// probe and what training calls.
pub fn denoise_loss(
    cfg: &DenoiseConfig,
    params: &DenoiseParams,
    xs: &[f32],
    targets: &[f32],
    batch: usize,
    with_grads: bool,
) -> (f32, DenoiseTape, Option<DenoiseParams>) {
    let mut tape = denoise_forward(cfg, params, xs, batch, with_grads);
    let loss = denoise_mse(&tape, targets);
    let grads = with_grads.then(|| denoise_backward(cfg, params, &mut tape, targets));
    (loss, tape, grads)
}

/// The autoencoder trained on the CPU: the reference the GPU trainer is tested against, and the
/// browser's fallback.
pub struct CpuDenoise {
    cfg: DenoiseConfig,
    params: DenoiseParams,
    layout: ParamLayout,
    adam: AdamState,
    step: u32,
    loss: (f32, usize),
}

impl CpuDenoise {
    pub fn new(cfg: DenoiseConfig, params: DenoiseParams) -> Result<Self, TrainError> {
        cfg.validate()?;
        params.check(&cfg)?;
        let layout = cfg.layout();
        Ok(Self { adam: AdamState::new(&layout), layout, cfg, params, step: 0, loss: (0.0, 0) })
    }
}

impl DenoiseTrainer for CpuDenoise {
    fn config(&self) -> &DenoiseConfig {
        &self.cfg
    }

    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        let batch = self.cfg.check_batch(xs, Some(targets))?;
        if batch != self.cfg.batch {
            return Err(TrainError::Config(format!("a training batch of {batch} episodes is not the configured {}", self.cfg.batch)));
        }
        let (loss, _, grads) = denoise_loss(&self.cfg, &self.params, xs, targets, batch, true);
        let grads = grads.expect("gradients were asked for");
        if !loss.is_finite() {
            return Err(TrainError::Diverged(format!("the loss became {loss} at step {}; try a smaller learning rate", self.step)));
        }
        self.step += 1;
        self.adam.step(&self.layout, &mut self.params, &grads);
        self.loss.0 += loss;
        self.loss.1 += 1;
        Ok(())
    }

    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        Ok(std::mem::take(&mut self.loss))
    }

    async fn reconstruct(&mut self, xs: &[f32]) -> Result<Vec<f32>, TrainError> {
        let batch = self.cfg.check_batch(xs, None)?;
        Ok(denoise_forward(&self.cfg, &self.params, xs, batch, false).last_images().to_vec())
    }

    async fn params(&mut self) -> Result<DenoiseParams, TrainError> {
        Ok(self.params.clone())
    }
}
