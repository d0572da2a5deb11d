//! Host side of `shaders/sgd.wgsl`: one SGD-with-momentum update of a parameter array, tested
//! against [`crate::cpu::sgd`]. The uniform is [`SgdHyper`] itself.

use super::kernel::{Dispatch, Length, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::SgdHyper;

const WG: usize = 256;

pub struct SgdKernel {
    pipeline: Pipeline,
}

impl SgdKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [pipeline] = pipelines(ctx, "sgd.wgsl", include_str!("../../shaders/sgd.wgsl"), ["main"]);
        Self { pipeline }
    }

    /// The update of `w` from `grad` with momentum buffer `velocity`.
    pub fn bind(&self, ctx: &GpuContext, hyper: &SgdHyper, w: &GpuTensor, grad: &GpuTensor, velocity: &GpuTensor) -> Dispatch {
        assert!(grad.len == w.len && velocity.len == w.len, "w, grad and velocity must have one length");
        let h = uniform(ctx, "sgd hyper", hyper, false);
        let size = uniform(ctx, "sgd size", &Length::new(w.len), false);
        Dispatch::new(ctx, &self.pipeline, &[(0, &h), (1, &size)], &[(2, w), (3, grad), (4, velocity)], groups_for(ctx, w.len.div_ceil(4), WG))
    }
}
