//! Host side of `shaders/plastic.wgsl`: the batched Hebbian plastic layer (Miconi et al. 2018),
//! tested against [`crate::cpu::plastic`], and a pattern-completion trainer built on it that
//! matches [`crate::cpu::hebbian::CpuHebbian`].
//!
//! Three levels, each usable alone:
//! - [`PlasticKernel`]: one bind per CPU primitive (`plastic_step_forward`, `hebb_update` and
//!   their backwards), at a step of an episode described by a [`StepUniform`].
//! - [`GpuEpisode`]: a batch of whole episodes, forward and backpropagation through time, with its
//!   tape (every step's `y` and `Hebb(t)`) in GPU buffers, as `episode_forward` and
//!   `episode_backward`.
//! - [`GpuHebbian`]: training on pattern completion, one command buffer and one submit per step
//!   (episode forward, MSE at the last step, BPTT, Adam from [`AdamKernel`] with `m = 0`) and no
//!   readback; the loss sum and the parameters are read back when asked, asynchronously.

use super::kernel::{Dispatch, groups_for, pipelines, record_all, uniform};
use super::metaplastic_adam::{AdamCall, AdamKernel};
use super::{GpuContext, GpuTensor};
use crate::nn::{HebbRule, Nonlinearity, PlasticDims};
use crate::nn::TrainError;
use crate::model::hebbian::{EpisodeTrace, HebbianConfig, HebbianParams, HebbianTrainer};
use bytemuck::{Pod, Zeroable};
use std::collections::HashMap;
use std::rc::Rc;

/// The shader's workgroup size.
const WG: usize = 64;

/// The WGSL uniform `Step`: sizes, rule, nonlinearity, and where one step's slices start in the
/// episode's buffers (in elements).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct StepUniform {
    batch: u32,
    inputs: u32,
    outputs: u32,
    rule: u32,
    act: u32,
    x_off: u32,
    y_off: u32,
    h_off: u32,
    h_next: u32,
    _pad: [u32; 3],
}

impl StepUniform {
    /// A step whose slices all start at 0, and whose trace update works in place: one step on
    /// buffers of one step's size.
    pub fn new(dims: PlasticDims, rule: HebbRule, act: Nonlinearity) -> Self {
        let rule = match rule {
            HebbRule::Simple => 0,
            HebbRule::Oja => 1,
        };
        let act = match act {
            Nonlinearity::Identity => 0,
            Nonlinearity::Tanh => 1,
        };
        let (batch, inputs, outputs) = (dims.batch as u32, dims.inputs as u32, dims.outputs as u32);
        Self { batch, inputs, outputs, rule, act, x_off: 0, y_off: 0, h_off: 0, h_next: 0, _pad: [0; 3] }
    }

    /// Step `t` of an episode whose trace buffer holds `slots` traces: `Hebb(t)` in slot
    /// `t % slots`, the update's result in the next slot.
    pub fn at_step(self, t: usize, slots: usize) -> Self {
        let (b, i, o) = (self.batch as usize, self.inputs as usize, self.outputs as usize);
        let trace = b * o * i;
        Self {
            x_off: (t * b * i) as u32,
            y_off: (t * b * o) as u32,
            h_off: ((t % slots) * trace) as u32,
            h_next: (((t + 1) % slots) * trace) as u32,
            ..self
        }
    }

    fn rows(&self) -> usize {
        (self.batch * self.outputs) as usize
    }
    fn cols(&self) -> usize {
        (self.batch * self.inputs) as usize
    }
    fn synapses(&self) -> usize {
        (self.outputs * self.inputs) as usize
    }
}

/// Every entry point of `plastic.wgsl`, compiled once per device.
pub struct PlasticKernel {
    step_forward: wgpu::ComputePipeline,
    hebb_update: wgpu::ComputePipeline,
    hebb_backward_rows: wgpu::ComputePipeline,
    reduce_deta: wgpu::ComputePipeline,
    hebb_backward_cols: wgpu::ComputePipeline,
    step_backward_synapse: wgpu::ComputePipeline,
    step_backward_input: wgpu::ComputePipeline,
    mse_grad: wgpu::ComputePipeline,
    mse_loss: wgpu::ComputePipeline,
}

/// `W`, `alpha` (`[out, in]`) and `eta` (one element) on the GPU; also their gradients.
pub struct GpuPlasticParams {
    pub w: GpuTensor,
    pub alpha: GpuTensor,
    pub eta: GpuTensor,
}

impl GpuPlasticParams {
    pub fn upload(ctx: &GpuContext, w: &[f32], alpha: &[f32], eta: f32) -> Self {
        Self { w: GpuTensor::from_slice(ctx, w), alpha: GpuTensor::from_slice(ctx, alpha), eta: GpuTensor::from_slice(ctx, &[eta]) }
    }

    pub fn zeros(ctx: &GpuContext, synapses: usize) -> Self {
        Self { w: GpuTensor::zeros(ctx, synapses), alpha: GpuTensor::zeros(ctx, synapses), eta: GpuTensor::zeros(ctx, 1) }
    }

    fn buffers(&self) -> [&wgpu::Buffer; 3] {
        [&self.w.buffer, &self.alpha.buffer, &self.eta.buffer]
    }
}

impl PlasticKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [step_forward, hebb_update, hebb_backward_rows, reduce_deta, hebb_backward_cols, step_backward_synapse, step_backward_input, mse_grad, mse_loss] =
            pipelines(
                ctx,
                "plastic.wgsl",
                include_str!("../../shaders/plastic.wgsl"),
                [
                    "step_forward",
                    "hebb_update",
                    "hebb_backward_rows",
                    "reduce_deta",
                    "hebb_backward_cols",
                    "step_backward_synapse",
                    "step_backward_input",
                    "mse_grad",
                    "mse_loss",
                ],
            );
        Self {
            step_forward,
            hebb_update,
            hebb_backward_rows,
            reduce_deta,
            hebb_backward_cols,
            step_backward_synapse,
            step_backward_input,
            mse_grad,
            mse_loss,
        }
    }

    /// `plastic_step_forward`: `y = sigma((W + alpha ⊙ Hebb_b) x_b)` for every episode `b`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_step_forward(
        &self,
        ctx: &GpuContext,
        step: &StepUniform,
        w: &GpuTensor,
        alpha: &GpuTensor,
        hebb: &GpuTensor,
        xs: &GpuTensor,
        ys: &GpuTensor,
    ) -> Dispatch {
        let u = uniform(ctx, "plastic step", step, false);
        Dispatch::new(ctx, &self.step_forward, &[(0, &u)], &[(1, w), (2, alpha), (4, xs), (5, ys), (6, hebb)], groups_for(step.rows(), WG))
    }

    /// `hebb_update`: `Hebb(t+1)` from `Hebb(t)`, this step's `x` and `y`, and `eta` (a
    /// one-element tensor, so training can change it without rebinding).
    pub fn bind_hebb_update(&self, ctx: &GpuContext, step: &StepUniform, eta: &GpuTensor, xs: &GpuTensor, ys: &GpuTensor, hebb: &GpuTensor) -> Dispatch {
        let u = uniform(ctx, "plastic step", step, false);
        let elements = step.batch as usize * step.synapses();
        Dispatch::new(ctx, &self.hebb_update, &[(0, &u)], &[(3, eta), (4, xs), (5, ys), (6, hebb)], groups_for(elements, WG))
    }

    /// `hebb_update_backward`, as three dispatches to record in order: on entry `dhebb` holds
    /// `dL/dHebb(t+1)`, afterwards `dL/dHebb(t)` through the update; adds to `dy` (this step's
    /// `[batch, out]`), `dxs` and `deta`. `deta_rows` is scratch of `batch * out` elements.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_hebb_update_backward(
        &self,
        ctx: &GpuContext,
        step: &StepUniform,
        eta: &GpuTensor,
        xs: &GpuTensor,
        ys: &GpuTensor,
        hebb: &GpuTensor,
        dhebb: &GpuTensor,
        dy: &GpuTensor,
        dxs: &GpuTensor,
        deta_rows: &GpuTensor,
        deta: &GpuTensor,
    ) -> [Dispatch; 3] {
        assert_eq!(deta_rows.len, step.rows(), "deta_rows must hold one value per (episode, output)");
        let u = uniform(ctx, "plastic step", step, false);
        let rows = [(3, eta), (4, xs), (5, ys), (6, hebb), (7, dhebb), (8, dy), (12, deta_rows)];
        [
            Dispatch::new(ctx, &self.hebb_backward_rows, &[(0, &u)], &rows, groups_for(step.rows(), WG)),
            Dispatch::new(ctx, &self.reduce_deta, &[(0, &u)], &[(12, deta_rows), (13, deta)], (1, 1)),
            Dispatch::new(ctx, &self.hebb_backward_cols, &[(0, &u)], &[(3, eta), (5, ys), (7, dhebb), (9, dxs)], groups_for(step.cols(), WG)),
        ]
    }

    /// `plastic_step_backward`, as two dispatches to record in order: given `dy` (this step's
    /// `[batch, out]`), adds to `dw`, `dalpha`, `dhebb` and `dxs`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_step_backward(
        &self,
        ctx: &GpuContext,
        step: &StepUniform,
        params: (&GpuTensor, &GpuTensor),
        hebb: &GpuTensor,
        xs: &GpuTensor,
        ys: &GpuTensor,
        dy: &GpuTensor,
        grads: (&GpuTensor, &GpuTensor),
        dhebb: &GpuTensor,
        dxs: &GpuTensor,
    ) -> [Dispatch; 2] {
        let ((w, alpha), (dw, dalpha)) = (params, grads);
        let u = uniform(ctx, "plastic step", step, false);
        let synapse = [(2, alpha), (4, xs), (5, ys), (6, hebb), (7, dhebb), (8, dy), (10, dw), (11, dalpha)];
        let input = [(1, w), (2, alpha), (5, ys), (6, hebb), (8, dy), (9, dxs)];
        [
            Dispatch::new(ctx, &self.step_backward_synapse, &[(0, &u)], &synapse, groups_for(step.synapses(), WG)),
            Dispatch::new(ctx, &self.step_backward_input, &[(0, &u)], &input, groups_for(step.cols(), WG)),
        ]
    }

    /// The MSE of the step's outputs against `targets` (`[batch, out]`), added to `loss` (`[sum,
    /// count]`), and when `dys` is given, its gradient written into that step's slice of `dys`.
    pub fn bind_mse(&self, ctx: &GpuContext, step: &StepUniform, ys: &GpuTensor, targets: &GpuTensor, loss: &GpuTensor, dys: Option<&GpuTensor>) -> Vec<Dispatch> {
        assert_eq!(targets.len, step.rows(), "targets must be batch x out");
        assert_eq!(loss.len, 2, "the loss accumulator is [sum, count]");
        let u = uniform(ctx, "plastic step", step, false);
        let mut calls = vec![Dispatch::new(ctx, &self.mse_loss, &[(0, &u)], &[(5, ys), (14, targets), (15, loss)], (1, 1))];
        if let Some(dys) = dys {
            calls.push(Dispatch::new(ctx, &self.mse_grad, &[(0, &u)], &[(5, ys), (14, targets), (16, dys)], groups_for(step.rows(), WG)));
        }
        calls
    }
}

/// What backpropagation through an episode needs besides the forward tape.
struct Backward {
    /// `dL/dy(t)` from the loss, `[T, batch, out]`.
    dys: GpuTensor,
    /// The gradient reaching the current step's output, `[batch, out]`: copied from `dys`, then
    /// added to by the trace update's backward.
    dy: GpuTensor,
    /// Per step, from the last: the dispatches after the copy into `dy`.
    steps: Vec<Vec<Dispatch>>,
    /// Zeroed before every backward pass: `dHebb`, `dx` and the parameter gradients.
    clear: Vec<wgpu::Buffer>,
}

/// A batch of episodes on the GPU: `steps` steps of `dims`, every step's outputs and (when it can
/// go backward) every step's trace kept for BPTT, as [`crate::cpu::plastic::EpisodeTape`].
pub struct GpuEpisode {
    pub dims: PlasticDims,
    pub steps: usize,
    /// Inputs `[T, batch, in]`, written by the caller.
    pub xs: GpuTensor,
    /// Outputs `[T, batch, out]`.
    pub ys: GpuTensor,
    /// `Hebb(t)` of every step, `[T, batch, out, in]` when the episode can go backward; otherwise
    /// two slots that the steps take in turn, since nothing reads an old trace again.
    pub hebb: GpuTensor,
    /// `dL/dx`, `[T, batch, in]`, after [`GpuEpisode::encode_backward`] (empty without backward).
    pub dxs: GpuTensor,
    forward: Vec<Dispatch>,
    backward: Option<Backward>,
}

impl GpuEpisode {
    /// Binds an episode to the parameters, and when `grads` is given, to the gradients that
    /// [`GpuEpisode::encode_backward`] writes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &GpuContext,
        kernel: &PlasticKernel,
        dims: PlasticDims,
        steps: usize,
        rule: HebbRule,
        act: Nonlinearity,
        params: &GpuPlasticParams,
        grads: Option<&GpuPlasticParams>,
    ) -> Self {
        assert!(steps >= 1, "an episode has at least one step");
        let (nx, ny, nh) = (dims.batch * dims.inputs, dims.batch * dims.outputs, dims.trace_len());
        let slots = if grads.is_some() { steps } else { 2 };
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        let (xs, ys, hebb) = (zeros(steps * nx), zeros(steps * ny), zeros(slots * nh));
        let dxs = zeros(if grads.is_some() { steps * nx } else { 0 });
        let base = StepUniform::new(dims, rule, act);
        let mut forward = Vec::new();
        for t in 0..steps {
            let u = base.at_step(t, slots);
            forward.push(kernel.bind_step_forward(ctx, &u, &params.w, &params.alpha, &hebb, &xs, &ys));
            // The trace after the last step is never read, as on the CPU.
            if t + 1 < steps {
                forward.push(kernel.bind_hebb_update(ctx, &u, &params.eta, &xs, &ys, &hebb));
            }
        }
        let backward = grads.map(|g| {
            let (dys, dy, dhebb, deta_rows) = (zeros(steps * ny), zeros(ny), zeros(nh), zeros(ny));
            let steps = (0..steps)
                .rev()
                .map(|t| {
                    let u = base.at_step(t, slots);
                    let mut calls = Vec::new();
                    if t + 1 < steps {
                        calls.extend(kernel.bind_hebb_update_backward(ctx, &u, &params.eta, &xs, &ys, &hebb, &dhebb, &dy, &dxs, &deta_rows, &g.eta));
                    }
                    calls.extend(kernel.bind_step_backward(ctx, &u, (&params.w, &params.alpha), &hebb, &xs, &ys, &dy, (&g.w, &g.alpha), &dhebb, &dxs));
                    calls
                })
                .collect();
            let mut clear = vec![dhebb.buffer.clone(), dxs.buffer.clone()];
            clear.extend(g.buffers().map(Clone::clone));
            Backward { dys, dy, steps, clear }
        });
        Self { dims, steps, xs, ys, hebb, dxs, forward, backward }
    }

    /// The loss gradients `dL/dy(t)`, `[T, batch, out]`, that backward starts from (zero until
    /// written). `None` for an episode made without gradients.
    pub fn dys(&self) -> Option<&GpuTensor> {
        self.backward.as_ref().map(|b| &b.dys)
    }

    /// Records the forward pass from an empty trace.
    pub fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        // Every episode starts from an empty trace; with two slots in turn, slot 0 holds an old one.
        let trace_bytes = (self.dims.trace_len() * 4) as u64;
        encoder.clear_buffer(&self.hebb.buffer, 0, Some(trace_bytes));
        record_all(encoder, &self.forward);
    }

    /// Records backpropagation through the episode recorded by the last forward pass, from the
    /// gradients in [`GpuEpisode::dys`]: the parameter gradients are overwritten, `dxs` too.
    ///
    /// Panics when the episode was made without gradients (a programming error, not a user's).
    pub fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        let b = self.backward.as_ref().expect("encode_backward needs an episode made with gradients");
        for buffer in &b.clear {
            encoder.clear_buffer(buffer, 0, None);
        }
        let ny = (self.dims.batch * self.dims.outputs * 4) as u64;
        for (k, calls) in b.steps.iter().enumerate() {
            let t = (self.steps - 1 - k) as u64;
            encoder.copy_buffer_to_buffer(&b.dys.buffer, t * ny, &b.dy.buffer, 0, ny);
            record_all(encoder, calls);
        }
    }
}

/// An episode batch with its targets and loss, for one batch size.
struct Pass {
    episode: GpuEpisode,
    targets: GpuTensor,
    /// The loss (and in training its gradient) at the last step.
    loss: Vec<Dispatch>,
    /// `[sum, count]` of an evaluation pass's loss (training adds to the trainer's).
    eval_loss: Option<GpuTensor>,
}

/// The pattern-completion layer trained on a GPU, step for step the math of
/// [`crate::cpu::hebbian::CpuHebbian`]. Every method first checks that the device is alive and
/// returns [`crate::gpu::DeviceError::Lost`] otherwise.
pub struct GpuHebbian {
    ctx: Rc<GpuContext>,
    cfg: HebbianConfig,
    kernel: PlasticKernel,
    params: GpuPlasticParams,
    /// The gradients stay bound in the training pass and the Adam calls.
    _grads: GpuPlasticParams,
    /// `W` always; `alpha` and `eta` only for the plastic network.
    adam: Vec<AdamCall>,
    /// Adam steps taken, for the bias corrections.
    step: u32,
    train: Pass,
    evals: HashMap<usize, Pass>,
    /// `[sum, count]` of the training losses since the last read.
    train_loss: GpuTensor,
}

impl GpuHebbian {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` episodes uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: HebbianConfig, params: HebbianParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        params.check(&cfg)?;
        check_fits(&ctx, &cfg, cfg.batch, cfg.episode_steps())?;
        let c = ctx.as_ref();
        let kernel = PlasticKernel::new(c);
        let adam_kernel = AdamKernel::new(c);
        let synapses = cfg.bits * cfg.bits;
        let gpu_params = GpuPlasticParams::upload(c, &params.w, &params.alpha, params.eta);
        let grads = GpuPlasticParams::zeros(c, synapses);
        let hyper = cfg.hyper().at_step(1);
        let mut adam = Vec::new();
        let pairs: &[(&GpuTensor, &GpuTensor)] = if cfg.plastic {
            &[(&gpu_params.w, &grads.w), (&gpu_params.alpha, &grads.alpha), (&gpu_params.eta, &grads.eta)]
        } else {
            // The non-plastic network keeps alpha at 0 and leaves eta alone, as on the CPU.
            &[(&gpu_params.w, &grads.w)]
        };
        for (p, g) in pairs {
            adam.push(adam_kernel.bind(c, p, g, &GpuTensor::zeros(c, p.len), &GpuTensor::zeros(c, p.len), &hyper));
        }
        let train_loss = GpuTensor::zeros(c, 2);
        let train = Self::pass(c, &kernel, &cfg, cfg.batch, &gpu_params, Some((&grads, &train_loss)));
        Ok(Self { ctx, cfg, kernel, params: gpu_params, _grads: grads, adam, step: 0, train, evals: HashMap::new(), train_loss })
    }

    /// A training pass (with `training`: the gradients and the loss accumulator) or an evaluation
    /// pass of `batch` episodes.
    fn pass(
        ctx: &GpuContext,
        kernel: &PlasticKernel,
        cfg: &HebbianConfig,
        batch: usize,
        params: &GpuPlasticParams,
        training: Option<(&GpuPlasticParams, &GpuTensor)>,
    ) -> Pass {
        let steps = cfg.episode_steps();
        let dims = cfg.dims(batch);
        let episode = GpuEpisode::new(ctx, kernel, dims, steps, cfg.rule, cfg.activation, params, training.map(|t| t.0));
        let targets = GpuTensor::zeros(ctx, batch * cfg.bits);
        let last = StepUniform::new(dims, cfg.rule, cfg.activation).at_step(steps - 1, steps);
        let eval_loss = training.is_none().then(|| GpuTensor::zeros(ctx, 2));
        let loss_sum = training.map(|t| t.1).or(eval_loss.as_ref()).expect("a pass has a loss accumulator");
        let loss = kernel.bind_mse(ctx, &last, &episode.ys, &targets, loss_sum, episode.dys());
        Pass { episode, targets, loss, eval_loss }
    }
}

/// Refuses a batch whose largest buffer, the saved traces, would exceed what the device binds
/// (a browser typically binds at most 128 MiB), before wgpu would fail on it.
fn check_fits(ctx: &GpuContext, cfg: &HebbianConfig, batch: usize, slots: usize) -> Result<(), TrainError> {
    let what = format!("{batch} episodes of {slots} saved traces of {} x {} synapses", cfg.bits, cfg.bits);
    super::matmul::check_fits(ctx, slots * batch * cfg.bits * cfg.bits, 0, &what, "use fewer episodes per batch, bits or steps")
}

impl HebbianTrainer for GpuHebbian {
    fn config(&self) -> &HebbianConfig {
        &self.cfg
    }

    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(xs, targets)?;
        if batch != self.cfg.batch {
            return Err(TrainError::Config(format!("a training batch of {batch} episodes is not the configured {}", self.cfg.batch)));
        }
        let ctx = self.ctx.as_ref();
        self.step += 1;
        let hyper = self.cfg.hyper().at_step(self.step);
        for call in &self.adam {
            call.set_hyper(ctx, &hyper);
        }
        let pass = &self.train;
        pass.episode.xs.write(ctx, xs);
        pass.targets.write(ctx, targets);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("hebbian train step") });
        pass.episode.encode_forward(&mut encoder);
        record_all(&mut encoder, &pass.loss);
        pass.episode.encode_backward(&mut encoder);
        record_all(&mut encoder, self.adam.iter().map(AdamCall::dispatch));
        ctx.queue.submit([encoder.finish()]);
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
            check_fits(&self.ctx, &self.cfg, batch, 2)?;
        }
        let (ctx, kernel, cfg, params) = (self.ctx.as_ref(), &self.kernel, &self.cfg, &self.params);
        let pass = self.evals.entry(batch).or_insert_with(|| Self::pass(ctx, kernel, cfg, batch, params, None));
        let loss = pass.eval_loss.as_ref().expect("an evaluation pass has its own loss");
        pass.episode.xs.write(ctx, xs);
        pass.targets.write(ctx, targets);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("hebbian loss") });
        encoder.clear_buffer(&loss.buffer, 0, None);
        pass.episode.encode_forward(&mut encoder);
        for call in &pass.loss {
            call.encode(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(loss.read(ctx).await?[0])
    }

    async fn params(&mut self) -> Result<HebbianParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let w = self.params.w.read(ctx).await?;
        let alpha = self.params.alpha.read(ctx).await?;
        let eta = self.params.eta.read(ctx).await?[0];
        Ok(HebbianParams { bits: self.cfg.bits, w, alpha, eta })
    }

    /// The feed-forward layer has no state to replay.
    async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError> {
        self.cfg.check_episode(xs)?;
        Err(TrainError::Config("this trainer runs the feed-forward layer, which has no state to replay".into()))
    }
}
