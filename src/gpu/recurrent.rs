//! Host side of `shaders/recurrent.wgsl`: Miconi's recurrent plastic network on the GPU, tested
//! against [`crate::cpu::recurrent`]. The recurrent product and the trace are
//! [`super::plastic::PlasticKernel`]'s (identity nonlinearity, the previous state as input); this
//! file adds the drive, its backward and the read-out loss, and chains them over episodes.
//!
//! - [`RecurrentKernel`]: one bind per CPU primitive (`recurrent_drive`,
//!   `recurrent_drive_backward`, `readout_mse`) at a step described by a [`DriveUniform`].
//! - [`GpuRecurrentEpisode`]: a batch of whole episodes, forward and backpropagation through time,
//!   its tapes in GPU buffers, as `recurrent_forward` and `recurrent_backward`.
//! - [`GpuRecurrent`]: training on pattern completion, [`super::hebbian::GpuCompletion`]
//!   running [`GpuRecurrentEpisode`], as [`super::plastic::GpuHebbian`] for the feed-forward
//!   layer.

use super::hebbian::{CompletionEpisode, GpuCompletion, PassBinding};
use super::kernel::{Dispatch, groups_for, pipelines, record_all, uniform, Pipeline};
use super::plastic::{GpuPlasticParams, PlasticKernel, StepUniform};
use super::{GpuContext, GpuTensor};
use crate::model::hebbian::{HebbianConfig, Network};
use crate::nn::{HebbRule, Nonlinearity, RecurrentShape};
use bytemuck::{Pod, Zeroable};

const WG: usize = 64;

/// The WGSL uniform `Drive`: the shape, and where step `t`'s slices start (in elements).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct DriveUniform {
    shape: RecurrentShape,
    x_off: u32,
    s_off: u32,
    next_off: u32,
    has_next: u32,
}

impl DriveUniform {
    /// Step `t` of an episode of `steps` steps.
    pub fn at_step(shape: RecurrentShape, t: usize, steps: usize) -> Self {
        let (nx, ns) = (shape.input_len(), shape.state_len());
        let has_next = t + 1 < steps;
        Self {
            shape,
            x_off: (t * nx) as u32,
            s_off: (t * ns) as u32,
            next_off: if has_next { ((t + 1) * ns) as u32 } else { 0 },
            has_next: u32::from(has_next),
        }
    }

    fn state_len(&self) -> usize {
        self.shape.state_len()
    }
}

/// Every entry point of `recurrent.wgsl`, compiled once per device.
pub struct RecurrentKernel {
    drive_forward: Pipeline,
    drive_backward: Pipeline,
    readout_grad: Pipeline,
    readout_loss: Pipeline,
}

impl RecurrentKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [drive_forward, drive_backward, readout_grad, readout_loss] = pipelines(
            ctx,
            "recurrent.wgsl",
            include_str!("../../shaders/recurrent.wgsl"),
            ["drive_forward", "drive_backward", "readout_grad", "readout_loss"],
        );
        Self { drive_forward, drive_backward, readout_grad, readout_loss }
    }

    /// `recurrent_drive`: `post[t] = tanh(z[t] + u(t))`, also written to `pre[t + 1]` when there
    /// is a next step.
    pub fn bind_drive(&self, ctx: &GpuContext, step: &DriveUniform, xs: &GpuTensor, z: &GpuTensor, post: &GpuTensor, pre: &GpuTensor) -> Dispatch {
        let u = uniform(ctx, "recurrent drive", step, false);
        Dispatch::new(ctx, &self.drive_forward, &[(0, &u)], &[(1, xs), (2, z), (3, post), (4, pre)], groups_for(ctx, step.state_len(), WG))
    }

    /// `recurrent_drive_backward`: `dz = dy (1 - post[t]^2)`.
    pub fn bind_drive_backward(&self, ctx: &GpuContext, step: &DriveUniform, post: &GpuTensor, dy: &GpuTensor, dz: &GpuTensor) -> Dispatch {
        let u = uniform(ctx, "recurrent drive", step, false);
        Dispatch::new(ctx, &self.drive_backward, &[(0, &u)], &[(3, post), (5, dy), (6, dz)], groups_for(ctx, step.state_len(), WG))
    }

    /// `readout_mse` of the state at the step: its loss added to `loss` (`[sum, count]`) and, when
    /// `dy` is given, its gradient written there (`[batch, neurons]`).
    pub fn bind_readout(&self, ctx: &GpuContext, step: &DriveUniform, post: &GpuTensor, targets: &GpuTensor, loss: &GpuTensor, dy: Option<&GpuTensor>) -> Vec<Dispatch> {
        assert_eq!(targets.len, step.shape.input_len(), "targets must be batch x bits");
        assert_eq!(loss.len, 2, "the loss accumulator is [sum, count]");
        let u = uniform(ctx, "recurrent drive", step, false);
        let mut calls = vec![Dispatch::new(ctx, &self.readout_loss, &[(0, &u)], &[(3, post), (7, targets), (8, loss)], (1, 1))];
        if let Some(dy) = dy {
            calls.push(Dispatch::new(ctx, &self.readout_grad, &[(0, &u)], &[(3, post), (7, targets), (5, dy)], groups_for(ctx, step.state_len(), WG)));
        }
        calls
    }
}

/// One backward step: what to copy into `dy` first, then the dispatches.
struct BackStep {
    /// `Some(t)`: `dy` starts as the gradient that step `t + 1` sent back to this step's state,
    /// slice `t + 1` of the `dpre` tape; `None` (the last step): the read-out's gradient.
    copy_from: Option<usize>,
    calls: Vec<Dispatch>,
}

/// A batch of episodes of the recurrent network on the GPU, as
/// [`crate::cpu::recurrent::RecurrentTape`]: the state before and after every step and (when it
/// can go backward) every step's trace.
pub struct GpuRecurrentEpisode {
    pub shape: RecurrentShape,
    pub steps: usize,
    pub plastic: bool,
    /// Inputs `[T, batch, bits]`, written by the caller.
    pub xs: GpuTensor,
    /// The state each step reads, `[T, batch, neurons]` (slot 0 zero).
    pub pre: GpuTensor,
    /// The state each step makes, `[T, batch, neurons]`.
    pub post: GpuTensor,
    /// The recurrent product of each step, `[T, batch, neurons]`.
    pub z: GpuTensor,
    /// `Hebb(t)` of every step when plastic and trained or kept (`[T, batch, n, n]`); two slots
    /// taken in turn otherwise when plastic; one zero trace, never written, when not plastic.
    pub hebb: GpuTensor,
    forward: Vec<Dispatch>,
    backward: Option<(Vec<BackStep>, BackwardBuffers)>,
}

struct BackwardBuffers {
    dy: GpuTensor,
    dpre: GpuTensor,
    clear: Vec<wgpu::Buffer>,
}

impl GpuRecurrentEpisode {
    /// Binds a batch of episodes to the parameters, and when `grads` is given, to the gradients
    /// that [`GpuRecurrentEpisode::encode_backward`] writes; `targets` (`[batch, bits]`) and `loss`
    /// (`[sum, count]`) are what the read-out at the last step compares with and adds to. With
    /// `keep_traces` a plastic episode keeps every step's trace even without gradients (to be
    /// read back and drawn).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &GpuContext,
        kernels: (&PlasticKernel, &RecurrentKernel),
        shape: RecurrentShape,
        steps: usize,
        rule: HebbRule,
        plastic: bool,
        params: &GpuPlasticParams,
        grads: Option<&GpuPlasticParams>,
        targets: &GpuTensor,
        loss: &GpuTensor,
        keep_traces: bool,
    ) -> Self {
        assert!(steps >= 1, "an episode has at least one step");
        let (pk, rk) = kernels;
        let dims = shape.plastic();
        let (nx, ns, nh) = (shape.input_len(), shape.state_len(), dims.trace_len());
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        let slots = Self::trace_slots(steps, plastic, grads.is_some() || keep_traces);
        let (xs, pre, post, z, hebb) = (zeros(steps * nx), zeros(steps * ns), zeros(steps * ns), zeros(steps * ns), zeros(slots * nh));
        // The product reads the previous state with no nonlinearity; tanh comes with the drive.
        let base = StepUniform::new(dims, rule, Nonlinearity::Identity);
        let mut forward = Vec::new();
        for t in 0..steps {
            let u = base.at_step(t, slots);
            let d = DriveUniform::at_step(shape, t, steps);
            forward.push(pk.bind_step_forward(ctx, &u, &params.w, &params.alpha, &hebb, &pre, &z));
            forward.push(rk.bind_drive(ctx, &d, &xs, &z, &post, &pre));
            if plastic && t + 1 < steps {
                forward.push(pk.bind_hebb_update(ctx, &u, &params.eta, &pre, &post, &hebb));
            }
        }
        let last = DriveUniform::at_step(shape, steps - 1, steps);
        let backward = match grads {
            None => {
                forward.extend(rk.bind_readout(ctx, &last, &post, targets, loss, None));
                None
            }
            Some(g) => {
                let (dy, dz, dpre, dhebb, deta_rows) = (zeros(ns), zeros(ns), zeros(steps * ns), zeros(nh), zeros(ns));
                forward.extend(rk.bind_readout(ctx, &last, &post, targets, loss, Some(&dy)));
                let back = (0..steps)
                    .rev()
                    .map(|t| {
                        let u = base.at_step(t, slots);
                        let d = DriveUniform::at_step(shape, t, steps);
                        let mut calls = Vec::new();
                        if plastic && t + 1 < steps {
                            calls.extend(pk.bind_hebb_update_backward(ctx, &u, &params.eta, &pre, &post, &hebb, &dhebb, &dy, &dpre, &deta_rows, &g.eta));
                        }
                        calls.push(rk.bind_drive_backward(ctx, &d, &post, &dy, &dz));
                        calls.extend(pk.bind_step_backward(ctx, &u, (&params.w, &params.alpha), &hebb, &pre, &z, &dz, (&g.w, &g.alpha), &dhebb, &dpre));
                        BackStep { copy_from: (t + 1 < steps).then_some(t), calls }
                    })
                    .collect();
                let clear = vec![dhebb.buffer.clone(), dpre.buffer.clone(), g.w.buffer.clone(), g.alpha.buffer.clone(), g.eta.buffer.clone()];
                Some((back, BackwardBuffers { dy, dpre, clear }))
            }
        };
        Self { shape, steps, plastic, xs, pre, post, z, hebb, forward, backward }
    }

    /// Traces an episode of `steps` steps holds: with `keep_all` every step's, otherwise two that
    /// the steps take in turn; one zero trace, never written, when not plastic.
    pub fn trace_slots(steps: usize, plastic: bool, keep_all: bool) -> usize {
        match (plastic, keep_all) {
            (false, _) => 1,
            (true, true) => steps,
            (true, false) => 2,
        }
    }

    /// Records the forward pass from the zero state and an empty trace, and the read-out at the
    /// last step (its loss, and with gradients its `dL/dy`).
    pub fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        let state_bytes = (self.shape.state_len() * 4) as u64;
        encoder.clear_buffer(&self.pre.buffer, 0, Some(state_bytes));
        // A trained plastic episode overwrites every later slot before reading it; an untrained
        // one alternates two slots, so slot 0 may hold the last episode's trace.
        let trace_bytes = (self.shape.plastic().trace_len() * 4) as u64;
        encoder.clear_buffer(&self.hebb.buffer, 0, Some(trace_bytes));
        record_all(encoder, &self.forward);
    }

    /// Records backpropagation through the episode of the last forward pass: the parameter
    /// gradients are overwritten.
    ///
    /// Panics when the episode was made without gradients (a programming error, not a user's).
    pub fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        let (steps, b) = self.backward.as_ref().expect("encode_backward needs an episode made with gradients");
        for buffer in &b.clear {
            encoder.clear_buffer(buffer, 0, None);
        }
        let ns = (self.shape.state_len() * 4) as u64;
        for step in steps {
            if let Some(t) = step.copy_from {
                encoder.copy_buffer_to_buffer(&b.dpre.buffer, (t as u64 + 1) * ns, &b.dy.buffer, 0, ns);
            }
            record_all(encoder, &step.calls);
        }
    }
}

impl CompletionEpisode for GpuRecurrentEpisode {
    const NETWORK: Network = Network::Recurrent;
    const SIZE_NAME: &'static str = "neurons";
    type Kernels = (PlasticKernel, RecurrentKernel);

    fn kernels(ctx: &GpuContext) -> Self::Kernels {
        (PlasticKernel::new(ctx), RecurrentKernel::new(ctx))
    }

    fn traces_held(cfg: &HebbianConfig, keep_all: bool) -> usize {
        GpuRecurrentEpisode::trace_slots(cfg.episode_steps(), cfg.plastic, keep_all)
    }

    fn bind(ctx: &GpuContext, kernels: &Self::Kernels, pass: &PassBinding) -> Self {
        let PassBinding { cfg, batch, params, grads, targets, loss, keep_traces } = *pass;
        let (shape, steps) = (cfg.recurrent_shape(batch), cfg.episode_steps());
        Self::new(ctx, (&kernels.0, &kernels.1), shape, steps, cfg.rule, cfg.plastic, params, grads, targets, loss, keep_traces)
    }

    fn inputs(&self) -> &GpuTensor {
        &self.xs
    }

    fn record_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        self.encode_forward(encoder);
    }

    fn record_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        self.encode_backward(encoder);
    }

    fn tapes(&self) -> (&GpuTensor, &GpuTensor) {
        (&self.post, &self.hebb)
    }
}

/// Miconi's recurrent network trained on a GPU, step for step the math of
/// [`crate::cpu::hebbian::CpuHebbian`] with a recurrent configuration.
pub type GpuRecurrent = GpuCompletion<GpuRecurrentEpisode>;
