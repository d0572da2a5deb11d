//! Host side of `shaders/sign.wgsl`: binarizing weights (`Wb = sign(Wh)`), the sign activation and
//! its straight-through backward, tested against [`crate::cpu::sign`].

use super::{GpuContext, GpuTensor};
use super::kernel::{Dispatch, Length, groups_for, pipelines, uniform, Pipeline};

/// The workgroup size of every entry point; with the shader's grid-stride loop one dispatch covers
/// any length, four elements to an invocation.
const WG: usize = 256;


pub struct SignKernel {
    binarize: Pipeline,
    forward: Pipeline,
    backward: Pipeline,
}

impl SignKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [binarize, forward, backward] = pipelines(ctx, "sign.wgsl", include_str!("../../shaders/sign.wgsl"), ["binarize", "sign_forward", "sign_backward"]);
        Self { binarize, forward, backward }
    }

    /// `out = sign(w)` with sign(0) = +1: the binary weights.
    pub fn bind_binarize(&self, ctx: &GpuContext, w: &GpuTensor, out: &GpuTensor) -> Dispatch {
        assert_eq!(w.len, out.len, "binarize keeps the length");
        bind(ctx, &self.binarize, w.len, &[(1, w), (3, out)])
    }

    /// `h = sign(z)`: the hidden activation.
    pub fn bind_forward(&self, ctx: &GpuContext, z: &GpuTensor, h: &GpuTensor) -> Dispatch {
        assert_eq!(z.len, h.len, "the activation keeps the length");
        bind(ctx, &self.forward, z.len, &[(1, z), (3, h)])
    }

    /// `dz = dh * 1{|z| <= 1}`: the straight-through gradient.
    pub fn bind_backward(&self, ctx: &GpuContext, z: &GpuTensor, dh: &GpuTensor, dz: &GpuTensor) -> Dispatch {
        assert!(z.len == dh.len && z.len == dz.len, "the backward pass keeps the length");
        bind(ctx, &self.backward, z.len, &[(1, z), (2, dh), (3, dz)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &Pipeline, n: usize, buffers: &[(u32, &GpuTensor)]) -> Dispatch {
    let size = uniform(ctx, "sign size", &Length::new(n), false);
    Dispatch::new(ctx, pipeline, &[(0, &size)], buffers, groups_for(ctx, n.div_ceil(4), WG))
}
