//! Host side of `shaders/ewc.wgsl`: the EWC penalty's gradient, the Fisher estimate from squared
//! batch gradients (the batch-mean variant), and consolidation into the running sums, tested against [`crate::cpu::ewc`].

use super::{GpuContext, GpuTensor};
use super::kernel::{Dispatch, groups_for, pipelines, uniform};
use bytemuck::{Pod, Zeroable};

/// Workgroup size; the shader's grid-stride loop lets one dispatch of at most 65535 groups cover
/// any length.
const WG: usize = 256;

/// The WGSL uniform `Params`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    binary: u32,
    scalar: f32,
    _pad1: u32,
}

pub struct EwcKernel {
    penalty_grad: wgpu::ComputePipeline,
    accumulate: wgpu::ComputePipeline,
    consolidate: wgpu::ComputePipeline,
}

impl EwcKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [penalty_grad, accumulate, consolidate] = pipelines(ctx, "ewc.wgsl", include_str!("../../shaders/ewc.wgsl"), ["penalty_grad", "accumulate", "consolidate"]);
        Self { penalty_grad, accumulate, consolidate }
    }

    /// `grad += lambda * (fisher * w' - anchor)`, `w' = sign(w)` if `binary`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_penalty_grad(
        &self,
        ctx: &GpuContext,
        lambda: f32,
        binary: bool,
        w: &GpuTensor,
        fisher: &GpuTensor,
        anchor: &GpuTensor,
        grad: &GpuTensor,
    ) -> Dispatch {
        assert!(fisher.len == w.len && anchor.len == w.len && grad.len == w.len, "one length for all");
        bind(ctx, &self.penalty_grad, w.len, lambda, binary, &[(1, w), (2, fisher), (3, anchor), (4, grad)])
    }

    /// `f += g * g / batches`: one batch's share of the mean squared gradient over `batches`.
    pub fn bind_accumulate(&self, ctx: &GpuContext, batches: usize, g: &GpuTensor, f: &GpuTensor) -> Dispatch {
        assert_eq!(g.len, f.len, "one length for g and f");
        bind(ctx, &self.accumulate, g.len, batches as f32, false, &[(5, g), (6, f)])
    }

    /// `fisher += f ; anchor += f * w'`, `w' = sign(w)` if `binary`.
    pub fn bind_consolidate(&self, ctx: &GpuContext, binary: bool, w: &GpuTensor, f: &GpuTensor, fisher: &GpuTensor, anchor: &GpuTensor) -> Dispatch {
        assert!(f.len == w.len && fisher.len == w.len && anchor.len == w.len, "one length for all");
        bind(ctx, &self.consolidate, w.len, 0.0, binary, &[(1, w), (7, f), (8, fisher), (9, anchor)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &wgpu::ComputePipeline, n: usize, scalar: f32, binary: bool, buffers: &[(u32, &GpuTensor)]) -> Dispatch {
    let params = uniform(ctx, "ewc params", &Params { n: n as u32, binary: u32::from(binary), scalar, _pad1: 0 }, false);
    Dispatch::new(ctx, pipeline, &[(0, &params)], buffers, groups_for(n, WG))
}
