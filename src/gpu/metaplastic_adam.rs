//! Host side of `shaders/metaplastic_adam.wgsl`: one metaplastic Adam update of a parameter array,
//! tested against [`crate::cpu::metaplastic_adam`]. The uniform is [`AdamHyper`] itself, so the
//! per-step bias corrections are a 32-byte `write_buffer` before the step's submit.

use super::{GpuContext, GpuTensor};
use crate::nn::AdamHyper;
use super::kernel::{Dispatch, Length, groups_for, pipelines, uniform};

/// Workgroup size; the shader's grid-stride loop lets one dispatch of at most 65535 groups cover
/// any length.
const WG: usize = 256;


pub struct AdamKernel {
    pipeline: wgpu::ComputePipeline,
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
        AdamCall { dispatch: Dispatch::new(ctx, &self.pipeline, &[(0, &hyper_buffer), (1, &size)], &tensors, groups_for(w.len, WG)), hyper: hyper_buffer }
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
