//! The Hebbian denoising autoencoder (Upadhyay & Bagad; ALGORITHMS.md §3) on the CPU: the
//! network of [`crate::model::hebbian::DenoiseConfig`] run over a batch of episodes, and its
//! gradients by backpropagation through time.
//!
//! Nothing here is a new kernel: the encoder and the decoder are layer lists walked by
//! [`super::walk`], as LeNet-5 is; the two plastic layers are
//! [`super::plastic::episode_forward`] and [`super::plastic::episode_backward`].
//!
//! The convolutional stages have no memory, so they run step by step with the batch of episodes
//! as their batch (batch norm takes that step's statistics); the plastic layers run over the whole
//! episode at once, since each step's trace depends on the steps before. Backward goes the same
//! way in reverse: the output layer's BPTT hands every step a gradient for its logits, the decoder
//! turns each into a gradient for the code layer's outputs, the code layer's BPTT into gradients
//! for the encoder's outputs; the stages' parameter gradients are summed over steps.

use super::metaplastic_adam::AdamState;
use super::plastic::{EpisodeTape, PlasticGrads, episode_backward, episode_forward};
use super::pool::{avg_pool_forward, pool_backward, upsample_backward, upsample_forward};
use super::walk::{self, NoHook, Tape};
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, HebbianParams, PLASTIC_ACT, reconstruction_mse};
use crate::nn::{ParamLayout, PlasticDims, PoolKind, PoolShape, TrainError};

/// The gradient reaching one step's decoder logits `d`: through the output plastic layer's input
/// `avgpool(d)`, whose gradient is `g`, and at the last step through the image too (`dz`, from
/// [`reconstruct_backward`]). GPU: `shaders/reconstruct.wgsl` (`logits_grad`).
pub fn logits_grad(half: &PoolShape, g: &[f32], dz: Option<&[f32]>, dd: &mut [f32]) {
    pool_backward(half, PoolKind::Average, g, &[], dd);
    if let Some(dz) = dz {
        dd.iter_mut().zip(dz).for_each(|(a, b)| *a += b);
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

/// A forward pass over a batch of episodes, with everything backward needs.
#[derive(Debug, Clone)]
pub struct DenoiseTape {
    pub steps: usize,
    pub batch: usize,
    /// Per step: the encoder's pass.
    pub encoder: Vec<Tape>,
    /// The encoder's outputs, the code layer's inputs: `[T, batch, code]`.
    pub code_in: Vec<f32>,
    pub code: EpisodeTape,
    /// Per step: the decoder's pass, from the code layer's outputs to the logits `d`.
    pub decoder: Vec<Tape>,
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
}

fn dims(batch: usize, n: usize) -> PlasticDims {
    PlasticDims { batch, inputs: n, outputs: n }
}

/// Runs the network over `xs` (`[T, batch, pixels]`, `T = cfg.episode_steps()`).
pub fn denoise_forward(cfg: &DenoiseConfig, params: &DenoiseParams, xs: &[f32], batch: usize) -> DenoiseTape {
    let steps = cfg.episode_steps();
    let (pixels, nc, no) = (cfg.pixels(), cfg.code_len(), cfg.out_plastic_len());
    assert_eq!(xs.len(), steps * batch * pixels, "xs must be T x batch x pixels");
    let (encoder_stages, decoder_stages) = (cfg.encoder(), cfg.decoder());
    let mut encoder = vec![Tape::default(); steps];
    let mut code_in = Vec::with_capacity(steps * batch * nc);
    for (t, cache) in encoder.iter_mut().enumerate() {
        walk::forward(&encoder_stages, &params.layers, &xs[t * batch * pixels..][..batch * pixels], batch, None, cache);
        code_in.extend_from_slice(cache.output());
    }
    let code = episode_forward(dims(batch, nc), params.code.weights(), cfg.rule, PLASTIC_ACT, &code_in, steps);
    let mut decoder = vec![Tape::default(); steps];
    let mut out_in = vec![0.0; steps * batch * no];
    let half = PoolShape::new(batch, cfg.side, cfg.side, 1);
    for (t, cache) in decoder.iter_mut().enumerate() {
        walk::forward(&decoder_stages, &params.layers, code.y_at(t), batch, None, cache);
        avg_pool_forward(&half, cache.output(), &mut out_in[t * batch * no..][..batch * no]);
    }
    let out = episode_forward(dims(batch, no), params.out.weights(), cfg.rule, PLASTIC_ACT, &out_in, steps);
    let mut images = vec![0.0; steps * batch * pixels];
    for (t, cache) in decoder.iter().enumerate() {
        reconstruct_forward(&half, cache.output(), out.y_at(t), &mut images[t * batch * pixels..][..batch * pixels]);
    }
    DenoiseTape { steps, batch, encoder, code_in, code, decoder, out_in, out, images }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Mean squared error of the last step's reconstructions against `targets` (`[batch, pixels]`).
pub fn denoise_mse(tape: &DenoiseTape, targets: &[f32]) -> f32 {
    reconstruction_mse(tape.last_images(), targets)
}

/// Gradients of [`denoise_mse`] with respect to every parameter, by BPTT through both plastic
/// layers. Steps whose gradient is exactly zero (all but the last in the non-plastic twin, whose
/// traces reach nothing) skip their stages' backward passes, which would add zeros.
pub fn denoise_backward(cfg: &DenoiseConfig, params: &DenoiseParams, tape: &DenoiseTape, targets: &[f32]) -> DenoiseParams {
    let (steps, batch) = (tape.steps, tape.batch);
    let (pixels, nc, no) = (cfg.pixels(), cfg.code_len(), cfg.out_plastic_len());
    let (encoder_stages, decoder_stages) = (cfg.encoder(), cfg.decoder());
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
    let mut dcode = vec![0.0; steps * batch * nc];
    for t in 0..steps {
        let mut dd = vec![0.0; batch * pixels];
        logits_grad(&half, &g_out.x[t * batch * no..][..batch * no], (t + 1 == steps).then_some(&dz[..]), &mut dd);
        if dd.iter().all(|&v| v == 0.0) {
            continue;
        }
        let dx = walk::backward(&decoder_stages, &params.layers, &tape.decoder[t], dd, &mut grads.layers, &mut NoHook, true);
        dcode[t * batch * nc..][..batch * nc].copy_from_slice(&dx);
    }
    let g_code = episode_backward(params.code.weights(), cfg.rule, PLASTIC_ACT, &tape.code_in, &tape.code, &dcode);
    add_plastic(&mut grads.code, &g_code);
    for t in 0..steps {
        let de = g_code.x[t * batch * nc..][..batch * nc].to_vec();
        if de.iter().all(|&v| v == 0.0) {
            continue;
        }
        walk::backward(&encoder_stages, &params.layers, &tape.encoder[t], de, &mut grads.layers, &mut NoHook, false);
    }
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
    let tape = denoise_forward(cfg, params, xs, batch);
    let loss = denoise_mse(&tape, targets);
    let grads = with_grads.then(|| denoise_backward(cfg, params, &tape, targets));
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
        Ok(denoise_forward(&self.cfg, &self.params, xs, batch).last_images().to_vec())
    }

    async fn params(&mut self) -> Result<DenoiseParams, TrainError> {
        Ok(self.params.clone())
    }
}
