//! The Hebbian denoising autoencoder trained on a GPU: step for step the math of
//! [`crate::cpu::denoise::CpuDenoise`], walking the same stage lists
//! ([`crate::model::hebbian::DenoiseConfig::encoder`] and `decoder`) with the kernels LeNet and
//! pattern completion already use, and every parameter, activation and gradient in GPU buffers.
//!
//! A training step is one command buffer and one submit, with no readback:
//! 1. the encoder on every step's images at once (the steps one after the other as one batch,
//!    batch norm normalising each step on its own); its code goes into the code plastic layer's
//!    inputs; the whole episode through the code layer ([`GpuEpisode`]);
//! 2. the decoder on every step's code layer outputs at once, its logits average-pooled into the
//!    output plastic layer's inputs; the episode through the output layer; the last step's
//!    reconstruction `sigmoid(d + up(p))` and its MSE;
//! 3. backward the same way in reverse: the output layer's BPTT, the gradient reaching every
//!    step's logits and the decoder's backward (its input gradient into the code layer's), the
//!    code layer's BPTT, the encoder's backward; the stages' parameter gradients sum over steps;
//! 4. Adam (`m = 0`) on every trained tensor.
//!
//! Stage lists read and write whole buffers, so slices of the episode buffers move by
//! `copy_buffer_to_buffer`, which costs nothing next to the dispatches. In the non-plastic twin
//! only the last step's gradient is nonzero (its traces reach nothing), so its stages run the
//! other steps in a forward-only walk and the last in one that goes backward, as the CPU does
//! ([`DenoiseConfig::steps_without_grads`]).

use super::kernel::{Dispatch, record_all};
use super::matmul::check_fits;
use super::metaplastic_adam::{AdamKernel, GpuAdam};
use super::plastic::{GpuEpisode, GpuPlasticParams, PlasticKernel, StepUniform};
use super::reconstruct::ReconstructKernel;
use super::walk::{GpuParams, LayerKernels, NoHook, Walk, WalkOptions};
use super::{GpuContext, GpuTensor};
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, HebbianParams, PLASTIC_ACT};
use crate::nn::{self, Layer, PlannedLayer, PlasticDims, PoolKind, PoolShape, TensorKey, TrainError};
use std::collections::HashMap;
use std::rc::Rc;

/// Every pipeline the autoencoder uses, made once per device.
struct Kernels {
    layers: LayerKernels,
    plastic: PlasticKernel,
    reconstruct: ReconstructKernel,
}

/// The parameters and their gradients: the encoder's and decoder's layers, and the two plastic
/// layers.
struct Net {
    params: GpuParams,
    code: GpuPlasticParams,
    out: GpuPlasticParams,
    code_grads: GpuPlasticParams,
    out_grads: GpuPlasticParams,
}

impl Net {
    /// A tensor of [`DenoiseConfig::layout`] and its gradient.
    fn find(&self, key: TensorKey) -> (&GpuTensor, &GpuTensor) {
        let plastic = |n: usize| if n == 0 { (&self.code, &self.code_grads) } else { (&self.out, &self.out_grads) };
        match key {
            TensorKey::Weight(n) => (&self.params.w[n], &self.params.gw[n]),
            TensorKey::Bias(n) => (&self.params.b[n], &self.params.gb[n]),
            TensorKey::PlasticW(n) => (&plastic(n).0.w, &plastic(n).1.w),
            TensorKey::PlasticAlpha(n) => (&plastic(n).0.alpha, &plastic(n).1.alpha),
            TensorKey::PlasticEta(n) => (&plastic(n).0.eta, &plastic(n).1.eta),
        }
    }
}

/// A stage list (the encoder or the decoder) over the steps of a batch of episodes, as
/// [`crate::cpu::denoise::StageRun`]: the steps before `lead` in a forward-only walk, the rest in
/// a walk that goes backward; each walk runs its steps as one batch, batch norm normalising each
/// step on its own, and sums the parameter gradients over them.
struct Stages {
    lead: usize,
    /// The first step of each walk, its number of steps, and the walk.
    walks: Vec<(usize, usize, Walk)>,
}

impl Stages {
    #[allow(clippy::too_many_arguments)]
    fn new(ctx: &GpuContext, k: &Kernels, net: &Net, layers: &[PlannedLayer], steps: usize, batch: usize, lead: usize, want_dx: bool) -> Self {
        let walks = [(0, lead, nn::Pass::Eval), (lead, steps, nn::Pass::Train)]
            .into_iter()
            .filter(|(from, to, _)| to > from)
            .map(|(from, to, pass)| {
                let opts = WalkOptions { batch: (to - from) * batch, groups: to - from, pass, accumulate: true, want_dx };
                (from, to - from, Walk::new(ctx, &k.layers, &net.params, layers, opts, &mut NoHook))
            })
            .collect();
        Self { lead, walks }
    }

    /// Records the forward passes: each walk's steps copied in from `xs` (`[T, batch, in]`), its
    /// outputs out to `ys` (`[T, batch, out]`).
    fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder, xs: &GpuTensor, ys: &GpuTensor) {
        for (from, count, walk) in &self.walks {
            let (n_in, n_out) = (walk.input.len / count, walk.output.len / count);
            copy(encoder, xs, from * n_in, &walk.input, 0, walk.input.len);
            walk.encode_forward(encoder);
            copy(encoder, &walk.output, 0, ys, from * n_out, walk.output.len);
        }
    }

    /// The walk that goes backward, over steps `lead..T` (none in a pass without gradients).
    fn trained(&self) -> Option<&Walk> {
        self.walks.last().filter(|(from, _, w)| *from == self.lead && w.dy.is_some()).map(|(_, _, w)| w)
    }
}

/// Copies `len` floats from element `from` of `src` to element `to` of `dst`.
fn copy(encoder: &mut wgpu::CommandEncoder, src: &GpuTensor, from: usize, dst: &GpuTensor, to: usize, len: usize) {
    encoder.copy_buffer_to_buffer(&src.buffer, (from * 4) as u64, &dst.buffer, (to * 4) as u64, (len * 4) as u64);
}

fn encode_all(calls: &[Dispatch], encoder: &mut wgpu::CommandEncoder) {
    record_all(encoder, calls);
}

/// The training-only part of a pass.
struct Training {
    targets: GpuTensor,
    /// MSE into the loss accumulator and its gradient into `dimages`; through the sigmoid into
    /// `dz`; `dz` folded onto the output layer's last outputs (`dp`).
    head: Vec<Dispatch>,
    dp: GpuTensor,
    /// The gradient reaching the logits of the steps that go backward (and the image's at the
    /// last), into the decoder's output gradient.
    logits: Dispatch,
}

/// The whole network on a batch of episodes: buffers and bound calls for one batch size.
struct Pass {
    steps: usize,
    batch: usize,
    /// Inputs `[T, batch, pixels]`, written by the host.
    xs: GpuTensor,
    encoder: Stages,
    code: GpuEpisode,
    decoder: Stages,
    /// Every step's logits `[T, batch, pixels]`, and the last step's alone.
    logits: GpuTensor,
    last_logits: GpuTensor,
    /// The average pooling of every step's logits into the output layer's inputs.
    pool: Dispatch,
    out: GpuEpisode,
    /// The last step's reconstructions `[batch, pixels]`.
    images: GpuTensor,
    reconstruct: Dispatch,
    training: Option<Training>,
}

impl Pass {
    /// `train`: `Some(loss accumulator)` for a training pass (which then has the backward calls).
    fn new(ctx: &GpuContext, k: &Kernels, net: &Net, cfg: &DenoiseConfig, batch: usize, train: Option<&GpuTensor>) -> Self {
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        let steps = cfg.episode_steps();
        let (pixels, nc, no) = (cfg.pixels(), cfg.code_len(), cfg.out_plastic_len());
        let training = train.is_some();
        let lead = cfg.steps_without_grads(training);
        let encoder = Stages::new(ctx, k, net, &cfg.encoder(), steps, batch, lead, false);
        let decoder = Stages::new(ctx, k, net, &cfg.decoder(), steps, batch, lead, true);
        let dims = |n: usize| PlasticDims { batch, inputs: n, outputs: n };
        let code = GpuEpisode::new(ctx, &k.plastic, dims(nc), steps, cfg.rule, PLASTIC_ACT, &net.code, training.then_some(&net.code_grads));
        let out = GpuEpisode::new(ctx, &k.plastic, dims(no), steps, cfg.rule, PLASTIC_ACT, &net.out, training.then_some(&net.out_grads));
        let half = PoolShape::new(batch, cfg.side, cfg.side, 1);
        let (logits, last_logits) = (zeros(steps * batch * pixels), zeros(batch * pixels));
        let all = PoolShape::new(steps * batch, cfg.side, cfg.side, 1);
        let pool = k.layers.pool.bind_forward(ctx, all, PoolKind::Average, &logits, &out.xs, None);
        let images = zeros(batch * pixels);
        let last = (steps - 1) * batch * no;
        let reconstruct = k.reconstruct.bind_forward(ctx, half, &last_logits, &out.ys, last, &images);
        let training = train.map(|loss| {
            let targets = zeros(batch * pixels);
            let (dimages, dz, dp) = (zeros(batch * pixels), zeros(batch * pixels), zeros(batch * no));
            let image_step = StepUniform::new(PlasticDims { batch, inputs: pixels, outputs: pixels }, cfg.rule, PLASTIC_ACT);
            let mut head = k.plastic.bind_mse(ctx, &image_step, &images, &targets, loss, Some(&dimages));
            head.push(k.reconstruct.bind_backward(ctx, half, &images, &dimages, &dz));
            head.push(k.layers.pool.bind_upsample_backward(ctx, half, &dz, &dp));
            let dy = decoder.trained().and_then(|w| w.dy.as_ref()).expect("a training pass's decoder goes backward");
            let late = PoolShape::new((steps - lead) * batch, cfg.side, cfg.side, 1);
            let logits = k.reconstruct.bind_logits_grad(ctx, late, &out.dxs, lead * batch * no, Some(&dz), dy);
            Training { targets, head, dp, logits }
        });
        Self { steps, batch, xs: zeros(steps * batch * pixels), encoder, code, decoder, logits, last_logits, pool, out, images, reconstruct, training }
    }

    fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        self.encoder.encode_forward(encoder, &self.xs, &self.code.xs);
        self.code.encode_forward(encoder);
        self.decoder.encode_forward(encoder, &self.code.ys, &self.logits);
        let n = self.last_logits.len;
        copy(encoder, &self.logits, (self.steps - 1) * n, &self.last_logits, 0, n);
        record_all(encoder, [&self.pool]);
        self.out.encode_forward(encoder);
        self.reconstruct.encode(encoder);
    }

    /// Records the loss and the backward pass of the forward pass recorded before it.
    fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder, net: &Net) {
        let tr = self.training.as_ref().expect("a training pass has its backward part");
        encode_all(&tr.head, encoder);
        let out_dys = self.out.dys().expect("a training pass's episodes keep gradients");
        let no = tr.dp.len;
        copy(encoder, &tr.dp, 0, out_dys, (self.steps - 1) * no, no);
        net.params.clear_grads(encoder);
        self.out.encode_backward(encoder);
        let code_dys = self.code.dys().expect("a training pass's episodes keep gradients");
        let lead = self.decoder.lead;
        let decoder = self.decoder.trained().expect("a training pass's decoder goes backward");
        tr.logits.encode(encoder);
        decoder.encode_backward(encoder);
        let dx = decoder.dx.as_ref().expect("the decoder passes its input gradient on");
        let nc = self.code.dims.inputs * self.batch;
        copy(encoder, dx, 0, code_dys, lead * nc, dx.len);
        self.code.encode_backward(encoder);
        let enc = self.encoder.trained().expect("a training pass's encoder goes backward");
        let dy = enc.dy.as_ref().expect("a training walk has an output gradient");
        copy(encoder, &self.code.dxs, lead * nc, dy, 0, dy.len);
        enc.encode_backward(encoder);
    }
}

/// The autoencoder on a GPU. It shares the app's [`GpuContext`] through an `Rc`; every method first
/// checks that the device is alive and returns [`crate::gpu::DeviceError::Lost`] otherwise.
pub struct GpuDenoise {
    ctx: Rc<GpuContext>,
    cfg: DenoiseConfig,
    kernels: Kernels,
    net: Net,
    adam: GpuAdam,
    train: Pass,
    evals: HashMap<usize, Pass>,
    /// `[sum, count]` of the training losses since the last read.
    train_loss: GpuTensor,
}

impl GpuDenoise {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` episodes uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: DenoiseConfig, params: DenoiseParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        params.check(&cfg)?;
        fits(&ctx, &cfg, cfg.batch)?;
        let c = ctx.as_ref();
        let kernels = Kernels { layers: LayerKernels::new(c), plastic: PlasticKernel::new(c), reconstruct: ReconstructKernel::new(c) };
        let plastic = |p: &HebbianParams| GpuPlasticParams::upload(c, &p.w, &p.alpha, p.eta);
        let net = Net {
            params: GpuParams::new(c, &params.layers),
            code: plastic(&params.code),
            out: plastic(&params.out),
            code_grads: GpuPlasticParams::zeros(c, params.code.w.len()),
            out_grads: GpuPlasticParams::zeros(c, params.out.w.len()),
        };
        let adam = GpuAdam::new(c, &AdamKernel::new(c), &cfg.layout(), |key| net.find(key));
        let train_loss = GpuTensor::zeros(c, 2);
        let train = Pass::new(c, &kernels, &net, &cfg, cfg.batch, Some(&train_loss));
        Ok(Self { ctx, cfg, kernels, net, adam, train, evals: HashMap::new(), train_loss })
    }
}

/// Refuses a batch whose largest buffer (traces, episode inputs, activations) or product would
/// exceed the device's limits. The stages run every step of the episodes as one batch.
fn fits(ctx: &GpuContext, cfg: &DenoiseConfig, batch: usize) -> Result<(), TrainError> {
    let steps = cfg.episode_steps();
    let mut largest = [steps * batch * cfg.pixels(), steps * batch * cfg.code_len().pow(2), steps * batch * cfg.out_plastic_len().pow(2)]
        .into_iter()
        .max()
        .unwrap_or(0);
    let mut rows = 0;
    let rows_of_steps = steps * batch;
    for stage in cfg.encoder().iter().chain(&cfg.decoder()) {
        largest = largest.max(rows_of_steps * stage.output.len());
        if matches!(stage.layer, Layer::Conv { .. } | Layer::ConvT { .. }) {
            rows = rows.max(stage.conv_shape(rows_of_steps).rows());
        }
    }
    check_fits(ctx, largest, rows, &format!("{batch} episodes of {steps} steps"), "use fewer episodes per batch or fewer images per episode")
}

impl DenoiseTrainer for GpuDenoise {
    fn config(&self) -> &DenoiseConfig {
        &self.cfg
    }

    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(xs, Some(targets))?;
        if batch != self.cfg.batch {
            return Err(TrainError::Config(format!("a training batch of {batch} episodes is not the configured {}", self.cfg.batch)));
        }
        let ctx = self.ctx.as_ref();
        let pass = &self.train;
        pass.xs.write(ctx, xs);
        pass.training.as_ref().expect("the training pass has its training part").targets.write(ctx, targets);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("denoise train step") });
        pass.encode_forward(&mut encoder);
        pass.encode_backward(&mut encoder, &self.net);
        self.adam.encode_step(ctx, &mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(())
    }

    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_loss.take(&self.ctx).await?;
        Ok((words[0], words[1] as usize))
    }

    async fn reconstruct(&mut self, xs: &[f32]) -> Result<Vec<f32>, TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(xs, None)?;
        if batch < 2 {
            return Err(TrainError::Config("batch norm needs at least two episodes run together".into()));
        }
        if !self.evals.contains_key(&batch) {
            fits(&self.ctx, &self.cfg, batch)?;
        }
        let (ctx, k, net, cfg) = (self.ctx.as_ref(), &self.kernels, &self.net, &self.cfg);
        let pass = self.evals.entry(batch).or_insert_with(|| Pass::new(ctx, k, net, cfg, batch, None));
        pass.xs.write(ctx, xs);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("denoise reconstruct") });
        pass.encode_forward(&mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(pass.images.read(ctx).await?)
    }

    async fn params(&mut self) -> Result<DenoiseParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let layers = self.net.params.read(ctx).await?;
        let mut plastic = Vec::with_capacity(2);
        for (p, n) in [(&self.net.code, self.cfg.code_len()), (&self.net.out, self.cfg.out_plastic_len())] {
            plastic.push(HebbianParams { bits: n, w: p.w.read(ctx).await?, alpha: p.alpha.read(ctx).await?, eta: p.eta.read(ctx).await?[0] });
        }
        let out = plastic.pop().expect("two plastic layers");
        let code = plastic.pop().expect("two plastic layers");
        Ok(DenoiseParams { layers, code, out })
    }
}
