//! The pattern-completion trainer on a GPU, one for both networks of [`crate::model::hebbian`],
//! step for step the math of [`crate::cpu::hebbian::CpuHebbian`]: one command buffer and one
//! submit per training step (the episodes forward with the loss at their last step,
//! backpropagation through time, Adam from [`GpuAdam`] with `m = 0`) and no readback; the loss
//! sum, the parameters and a replayed episode are read back when asked, asynchronously.
//!
//! How a batch of episodes is bound and recorded is what differs between the networks
//! ([`CompletionEpisode`]): the feed-forward layer's beside its kernels in [`super::plastic`]
//! ([`super::plastic::GpuHebbian`]), the recurrent network's in [`super::recurrent`]
//! ([`super::recurrent::GpuRecurrent`]).

use super::metaplastic_adam::{AdamKernel, GpuAdam};
use super::plastic::GpuPlasticParams;
use super::{GpuContext, GpuTensor};
use crate::model::hebbian::{EpisodeTrace, HebbianConfig, HebbianParams, HebbianTrainer, Network};
use crate::nn::{TensorKey, TrainError};
use std::collections::HashMap;
use std::rc::Rc;

/// A network's batch of episodes as [`GpuCompletion`] binds and runs it.
pub trait CompletionEpisode {
    /// The network whose configurations this trains; [`GpuCompletion::new`] refuses the other's.
    const NETWORK: Network;
    /// What sets the side of `W`, named when a batch does not fit.
    const SIZE_NAME: &'static str;
    /// The compiled kernels, made once and shared by every pass.
    type Kernels;

    fn kernels(ctx: &GpuContext) -> Self::Kernels;

    /// How many traces per episode a pass of `cfg`'s episodes holds: every step's with
    /// `keep_all` (backward reads them all, a replay shows them all), fewer otherwise.
    fn traces_held(cfg: &HebbianConfig, keep_all: bool) -> usize;

    /// Binds the episodes of a pass as `pass` describes.
    fn bind(ctx: &GpuContext, kernels: &Self::Kernels, pass: &PassBinding) -> Self;

    /// The inputs `[T, batch, bits]`, written by the caller before recording.
    fn inputs(&self) -> &GpuTensor;

    /// Records the episodes from an empty trace (and state) and the loss at their last step,
    /// with gradients also the loss's gradient.
    fn record_forward(&self, encoder: &mut wgpu::CommandEncoder);

    /// Records backpropagation through the episodes of the last forward pass, overwriting the
    /// gradients.
    fn record_backward(&self, encoder: &mut wgpu::CommandEncoder);

    /// What a replay reads back: the output of every step (`[T, batch, n]`) and the trace every
    /// step read (`[T, batch, n, n]`, when kept).
    fn tapes(&self) -> (&GpuTensor, &GpuTensor);
}

/// What a pass binds its episodes to.
pub struct PassBinding<'a> {
    pub cfg: &'a HebbianConfig,
    /// Episodes run side by side.
    pub batch: usize,
    pub params: &'a GpuPlasticParams,
    /// With gradients, what [`CompletionEpisode::record_backward`] writes.
    pub grads: Option<&'a GpuPlasticParams>,
    /// What the loss at the last step compares with, `[batch, bits]`.
    pub targets: &'a GpuTensor,
    /// Where that loss is added, `[sum, count]`.
    pub loss: &'a GpuTensor,
    /// Every step's trace kept even without gradients, to be read back.
    pub keep_traces: bool,
}

/// An episode batch with its targets and loss, for one batch size.
struct Pass<E> {
    episode: E,
    targets: GpuTensor,
    /// `[sum, count]` of an evaluation pass's loss (training adds to the trainer's).
    eval_loss: Option<GpuTensor>,
}

impl<E: CompletionEpisode> Pass<E> {
    /// A training pass (with `training`: the gradients and the loss accumulator) or an
    /// evaluation pass of `batch` episodes.
    fn new(
        ctx: &GpuContext,
        kernels: &E::Kernels,
        cfg: &HebbianConfig,
        batch: usize,
        params: &GpuPlasticParams,
        training: Option<(&GpuPlasticParams, &GpuTensor)>,
        keep_traces: bool,
    ) -> Self {
        let targets = GpuTensor::zeros(ctx, batch * cfg.bits);
        let eval_loss = training.is_none().then(|| GpuTensor::zeros(ctx, 2));
        let loss = training.map(|t| t.1).or(eval_loss.as_ref()).expect("a pass has a loss accumulator");
        let binding = PassBinding { cfg, batch, params, grads: training.map(|t| t.0), targets: &targets, loss, keep_traces };
        let episode = E::bind(ctx, kernels, &binding);
        Self { episode, targets, eval_loss }
    }
}

/// A pattern-completion network trained on a GPU. Every method first checks that the device is
/// alive and returns [`crate::nn::DeviceError::Lost`] otherwise.
pub struct GpuCompletion<E: CompletionEpisode> {
    ctx: Rc<GpuContext>,
    cfg: HebbianConfig,
    kernels: E::Kernels,
    params: GpuPlasticParams,
    /// The gradients stay bound in the training pass and the Adam calls.
    _grads: GpuPlasticParams,
    adam: GpuAdam,
    train: Pass<E>,
    evals: HashMap<usize, Pass<E>>,
    /// One episode keeping every step's trace, made at the first [`HebbianTrainer::episode`].
    replay: Option<Pass<E>>,
    /// `[sum, count]` of the training losses since the last read.
    train_loss: GpuTensor,
}

impl<E: CompletionEpisode> GpuCompletion<E> {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` episodes uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: HebbianConfig, params: HebbianParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        if cfg.network != E::NETWORK {
            return Err(TrainError::Config(format!("a {} setting given to the {} network's trainer", cfg.network.name(), E::NETWORK.name())));
        }
        params.check(&cfg)?;
        check_fits::<E>(&ctx, &cfg, cfg.batch, true)?;
        let c = ctx.as_ref();
        let kernels = E::kernels(c);
        let gpu_params = GpuPlasticParams::upload(c, &params.w, &params.alpha, params.eta);
        let grads = GpuPlasticParams::zeros(c, params.w.len());
        let adam = GpuAdam::new(c, &AdamKernel::new(c), &cfg.layout(), |key| match key {
            TensorKey::PlasticW(0) => (&gpu_params.w, &grads.w),
            TensorKey::PlasticAlpha(0) => (&gpu_params.alpha, &grads.alpha),
            TensorKey::PlasticEta(0) => (&gpu_params.eta, &grads.eta),
            other => unreachable!("a pattern-completion network holds no {other:?}"),
        });
        let train_loss = GpuTensor::zeros(c, 2);
        let train = Pass::new(c, &kernels, &cfg, cfg.batch, &gpu_params, Some((&grads, &train_loss)), false);
        Ok(Self { ctx, cfg, kernels, params: gpu_params, _grads: grads, adam, train, evals: HashMap::new(), replay: None, train_loss })
    }

    fn encoder(&self, what: &str) -> wgpu::CommandEncoder {
        let label = format!("{} {what}", E::NETWORK.name());
        self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&label) })
    }
}

/// Refuses a pass of `batch` episodes whose largest buffer, the saved traces, would exceed what
/// the device binds (a browser typically binds at most 128 MiB), before wgpu would fail on it.
fn check_fits<E: CompletionEpisode>(ctx: &GpuContext, cfg: &HebbianConfig, batch: usize, keep_all: bool) -> Result<(), TrainError> {
    let (n, slots) = (cfg.size(), E::traces_held(cfg, keep_all));
    let what = format!("{batch} episodes of {slots} saved traces of {n} x {n} synapses");
    let advice = format!("use fewer episodes per batch, {} or steps", E::SIZE_NAME);
    super::matmul::check_fits(ctx, slots * batch * n * n, 0, &what, &advice)
}

impl<E: CompletionEpisode> HebbianTrainer for GpuCompletion<E> {
    fn config(&self) -> &HebbianConfig {
        &self.cfg
    }

    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(xs, targets)?;
        if batch != self.cfg.batch {
            return Err(TrainError::Config(format!("a training batch of {batch} episodes is not the configured {}", self.cfg.batch)));
        }
        let mut encoder = self.encoder("train step");
        let ctx = self.ctx.as_ref();
        let pass = &self.train;
        pass.episode.inputs().write(ctx, xs);
        pass.targets.write(ctx, targets);
        pass.episode.record_forward(&mut encoder);
        pass.episode.record_backward(&mut encoder);
        self.adam.encode_step(ctx, &mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(())
    }

    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_loss.take(&self.ctx).await?;
        Ok((words[0], words[1] as usize))
    }

    async fn loss(&mut self, xs: &[f32], targets: &[f32]) -> Result<f32, TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(xs, targets)?;
        if !self.evals.contains_key(&batch) {
            check_fits::<E>(&self.ctx, &self.cfg, batch, false)?;
        }
        let mut encoder = self.encoder("loss");
        let (ctx, kernels, cfg, params) = (self.ctx.as_ref(), &self.kernels, &self.cfg, &self.params);
        let pass = self.evals.entry(batch).or_insert_with(|| Pass::new(ctx, kernels, cfg, batch, params, None, false));
        let loss = pass.eval_loss.as_ref().expect("an evaluation pass has its own loss");
        pass.episode.inputs().write(ctx, xs);
        pass.targets.write(ctx, targets);
        encoder.clear_buffer(&loss.buffer, 0, None);
        pass.episode.record_forward(&mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(loss.read(ctx).await?[0])
    }

    async fn params(&mut self) -> Result<HebbianParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let w = self.params.w.read(ctx).await?;
        let alpha = self.params.alpha.read(ctx).await?;
        let eta = self.params.eta.read(ctx).await?[0];
        Ok(HebbianParams { bits: self.cfg.size(), w, alpha, eta })
    }

    async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError> {
        self.ctx.check_alive()?;
        // Refuses the feed-forward layer, which has no state to replay.
        self.cfg.check_episode(xs)?;
        if self.replay.is_none() {
            check_fits::<E>(&self.ctx, &self.cfg, 1, true)?;
        }
        let mut encoder = self.encoder("episode replay");
        let (ctx, kernels, cfg, params) = (self.ctx.as_ref(), &self.kernels, &self.cfg, &self.params);
        let pass = self.replay.get_or_insert_with(|| Pass::new(ctx, kernels, cfg, 1, params, None, true));
        pass.episode.inputs().write(ctx, xs);
        pass.episode.record_forward(&mut encoder);
        ctx.submit([encoder.finish()]);
        let (states, traces) = pass.episode.tapes();
        let states = states.read(ctx).await?;
        let hebb = if cfg.plastic { traces.read(ctx).await? } else { Vec::new() };
        Ok(EpisodeTrace { steps: cfg.episode_steps(), neurons: cfg.size(), states, hebb })
    }
}
