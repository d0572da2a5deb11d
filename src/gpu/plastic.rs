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
//! - [`GpuHebbian`]: training on pattern completion, [`super::hebbian::GpuCompletion`] running
//!   [`FeedforwardCompletion`]: the episodes and the MSE of their last step's outputs.

use super::hebbian::{CompletionEpisode, GpuCompletion, PassBinding};
use super::kernel::{Dispatch, groups_for, pipelines, record_all, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::model::hebbian::{HebbianConfig, Network};
use crate::nn::{HebbRule, Nonlinearity, PlasticDims};
use bytemuck::{Pod, Zeroable};

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
    step_forward: Pipeline,
    hebb_update: Pipeline,
    hebb_backward_rows: Pipeline,
    reduce_deta: Pipeline,
    hebb_backward_cols: Pipeline,
    step_backward_synapse: Pipeline,
    step_backward_input: Pipeline,
    mse_grad: Pipeline,
    mse_loss: Pipeline,
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
        Dispatch::new(ctx, &self.step_forward, &[(0, &u)], &[(1, w), (2, alpha), (4, xs), (5, ys), (6, hebb)], groups_for(ctx, step.rows(), WG))
    }

    /// `hebb_update`: `Hebb(t+1)` from `Hebb(t)`, this step's `x` and `y`, and `eta` (a
    /// one-element tensor, so training can change it without rebinding).
    pub fn bind_hebb_update(&self, ctx: &GpuContext, step: &StepUniform, eta: &GpuTensor, xs: &GpuTensor, ys: &GpuTensor, hebb: &GpuTensor) -> Dispatch {
        let u = uniform(ctx, "plastic step", step, false);
        let elements = step.batch as usize * step.synapses();
        Dispatch::new(ctx, &self.hebb_update, &[(0, &u)], &[(3, eta), (4, xs), (5, ys), (6, hebb)], groups_for(ctx, elements, WG))
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
            Dispatch::new(ctx, &self.hebb_backward_rows, &[(0, &u)], &rows, groups_for(ctx, step.rows(), WG)),
            Dispatch::new(ctx, &self.reduce_deta, &[(0, &u)], &[(12, deta_rows), (13, deta)], (1, 1)),
            Dispatch::new(ctx, &self.hebb_backward_cols, &[(0, &u)], &[(3, eta), (5, ys), (7, dhebb), (9, dxs)], groups_for(ctx, step.cols(), WG)),
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
            Dispatch::new(ctx, &self.step_backward_synapse, &[(0, &u)], &synapse, groups_for(ctx, step.synapses(), WG)),
            Dispatch::new(ctx, &self.step_backward_input, &[(0, &u)], &input, groups_for(ctx, step.cols(), WG)),
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
            calls.push(Dispatch::new(ctx, &self.mse_grad, &[(0, &u)], &[(5, ys), (14, targets), (16, dys)], groups_for(ctx, step.rows(), WG)));
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
    /// two slots ([`GpuEpisode::trace_slots`]).
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
        let slots = Self::trace_slots(steps, grads.is_some());
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

    /// Traces an episode of `steps` steps holds: every step's with `keep_all` (to go backward);
    /// otherwise two that the steps take in turn, since nothing reads an old trace again.
    pub fn trace_slots(steps: usize, keep_all: bool) -> usize {
        if keep_all { steps } else { 2 }
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

/// The feed-forward layer's batch of episodes as [`GpuHebbian`] runs it: the episodes and the MSE
/// of their last step's outputs.
pub struct FeedforwardCompletion {
    episode: GpuEpisode,
    loss: Vec<Dispatch>,
}

impl CompletionEpisode for FeedforwardCompletion {
    const NETWORK: Network = Network::Feedforward;
    const SIZE_NAME: &'static str = "bits";
    type Kernels = PlasticKernel;

    fn kernels(ctx: &GpuContext) -> PlasticKernel {
        PlasticKernel::new(ctx)
    }

    fn traces_held(cfg: &HebbianConfig, keep_all: bool) -> usize {
        GpuEpisode::trace_slots(cfg.episode_steps(), keep_all)
    }

    /// The feed-forward layer has no replay ([`HebbianConfig::check_episode`] refuses it), so
    /// its traces are kept exactly when backward needs them.
    fn bind(ctx: &GpuContext, kernel: &PlasticKernel, pass: &PassBinding) -> Self {
        assert!(!pass.keep_traces || pass.grads.is_some(), "the feed-forward layer has no episode to replay");
        let PassBinding { cfg, batch, params, grads, targets, loss, .. } = *pass;
        let (steps, dims) = (cfg.episode_steps(), cfg.dims(batch));
        let episode = GpuEpisode::new(ctx, kernel, dims, steps, cfg.rule, cfg.activation, params, grads);
        let last = StepUniform::new(dims, cfg.rule, cfg.activation).at_step(steps - 1, steps);
        let loss = kernel.bind_mse(ctx, &last, &episode.ys, targets, loss, episode.dys());
        Self { episode, loss }
    }

    fn inputs(&self) -> &GpuTensor {
        &self.episode.xs
    }

    fn record_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        self.episode.encode_forward(encoder);
        record_all(encoder, &self.loss);
    }

    fn record_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        self.episode.encode_backward(encoder);
    }

    fn tapes(&self) -> (&GpuTensor, &GpuTensor) {
        (&self.episode.ys, &self.episode.hebb)
    }
}

/// The pattern-completion layer trained on a GPU, step for step the math of
/// [`crate::cpu::hebbian::CpuHebbian`].
pub type GpuHebbian = GpuCompletion<FeedforwardCompletion>;
