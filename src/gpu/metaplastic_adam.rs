//! Host side of `shaders/metaplastic_adam.wgsl`: one metaplastic Adam update of a parameter array,
//! tested against [`crate::cpu::metaplastic_adam`]. The uniform is [`AdamHyper`] itself, so the
//! per-step bias corrections are a 32-byte `write_buffer` before the step's submit.

use super::{GpuContext, GpuTensor};
use crate::nn::{AdamHyper, ParamLayout, TensorKey};
use super::kernel::{Dispatch, Length, groups_for, pipelines, record_all, uniform, Pipeline};

/// Workgroup size; the shader's grid-stride loop lets one dispatch cover any length, four elements
/// to an invocation.
const WG: usize = 256;


pub struct AdamKernel {
    pipeline: Pipeline,
}

impl AdamKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [pipeline] = pipelines(ctx, "metaplastic_adam.wgsl", include_str!("../../shaders/metaplastic_adam.wgsl"), ["main"]);
        Self { pipeline }
    }

    /// Binds the update of `w` from `grad` with moments `m1`, `m2`. The hyper-parameters start as
    /// `hyper`; [`AdamCall::set_hyper`] changes them (each step's bias corrections).
    pub fn bind(&self, ctx: &GpuContext, w: &GpuTensor, grad: &GpuTensor, m1: &GpuTensor, m2: &GpuTensor, hyper: &AdamHyper) -> AdamCall {
        assert!(grad.len == w.len && m1.len == w.len && m2.len == w.len, "w, grad, m1, m2 must have one length");
        let hyper_buffer = uniform(ctx, "adam hyper", hyper, true);
        let size = uniform(ctx, "adam size", &Length::new(w.len), false);
        let tensors = [(2, w), (3, grad), (4, m1), (5, m2)];
        AdamCall { dispatch: Dispatch::new(ctx, &self.pipeline, &[(0, &hyper_buffer), (1, &size)], &tensors, groups_for(ctx, w.len.div_ceil(4), WG)), hyper: hyper_buffer }
    }
}

/// An update bound to its buffers.
pub struct AdamCall {
    dispatch: Dispatch,
    hyper: wgpu::Buffer,
}

impl AdamCall {
    /// New hyper-parameters for the next submitted update (`queue.write_buffer` lands before the
    /// next submit's commands run).
    pub fn set_hyper(&self, ctx: &GpuContext, hyper: &AdamHyper) {
        ctx.queue.write_buffer(&self.hyper, 0, bytemuck::bytes_of(hyper));
    }

    /// Records the update into `encoder`; nothing runs until the caller submits.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.dispatch.encode(encoder);
    }

    /// The update's dispatch, for recording into a pass with others.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}

/// Metaplastic Adam applied over a network's [`ParamLayout`]: one bound update per trained tensor,
/// in the layout's order, with its moments; the GPU twin of [`crate::cpu::metaplastic_adam::AdamState`].
pub struct GpuAdam {
    calls: Vec<(AdamCall, AdamHyper)>,
    moments: Vec<GpuTensor>,
    step: u32,
}

impl GpuAdam {
    /// `find` gives each tensor's parameter and gradient buffers.
    pub fn new<'a>(ctx: &GpuContext, kernel: &AdamKernel, layout: &ParamLayout, find: impl Fn(TensorKey) -> (&'a GpuTensor, &'a GpuTensor)) -> Self {
        let (mut calls, mut moments) = (Vec::new(), Vec::new());
        for (t, h) in layout.trained() {
            let (w, g) = find(t.key);
            assert_eq!(w.len, t.len, "{:?} has the layout's length", t.key);
            let (m1, m2) = (GpuTensor::zeros(ctx, w.len), GpuTensor::zeros(ctx, w.len));
            calls.push((kernel.bind(ctx, w, g, &m1, &m2, &h.at_step(1)), h));
            moments.extend([m1, m2]);
        }
        Self { calls, moments, step: 0 }
    }

    /// Records one update of every trained tensor (the step's bias corrections are written now
    /// and land before the caller's submit).
    pub fn encode_step(&mut self, ctx: &GpuContext, encoder: &mut wgpu::CommandEncoder) {
        self.step += 1;
        for (call, h) in &self.calls {
            call.set_hyper(ctx, &h.at_step(self.step));
        }
        record_all(encoder, self.calls.iter().map(|(call, _)| call.dispatch()));
    }

    /// A fresh optimizer: moments zeroed, the step count back to 0 (a task boundary).
    pub fn reset(&mut self, ctx: &GpuContext) {
        self.step = 0;
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("reset optimizer") });
        for m in &self.moments {
            encoder.clear_buffer(&m.buffer, 0, None);
        }
        ctx.submit([encoder.finish()]);
    }
}
