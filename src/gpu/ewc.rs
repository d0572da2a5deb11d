//! Host side of `shaders/ewc.wgsl`: the EWC penalty's gradient, the per-example Fisher estimate
//! (as a hook on the backward walk), and consolidation into the running sums, tested against
//! [`crate::cpu::ewc`].

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::matmul::MatmulKernel;
use super::walk::BackwardHook;
use super::{GpuContext, GpuTensor};
use crate::nn::{MatmulShape, PlannedLayer};
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
    penalty_grad: Pipeline,
    square: Pipeline,
    consolidate: Pipeline,
}

impl EwcKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [penalty_grad, square, consolidate] = pipelines(ctx, "ewc.wgsl", include_str!("../../shaders/ewc.wgsl"), ["penalty_grad", "square", "consolidate"]);
        Self { penalty_grad, square, consolidate }
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

    /// `out = (scale * g)^2`.
    pub fn bind_square(&self, ctx: &GpuContext, scale: f32, g: &GpuTensor, out: &GpuTensor) -> Dispatch {
        assert_eq!(g.len, out.len, "one length for g and out");
        bind(ctx, &self.square, g.len, scale, false, &[(5, g), (6, out)])
    }

    /// `fisher += scale * f ; anchor += scale * f * w'`, `w' = sign(w)` if `binary`.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_consolidate(&self, ctx: &GpuContext, scale: f32, binary: bool, w: &GpuTensor, f: &GpuTensor, fisher: &GpuTensor, anchor: &GpuTensor) -> Dispatch {
        assert!(f.len == w.len && fisher.len == w.len && anchor.len == w.len, "one length for all");
        bind(ctx, &self.consolidate, w.len, scale, binary, &[(1, w), (7, f), (8, fisher), (9, anchor)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &Pipeline, n: usize, scalar: f32, binary: bool, buffers: &[(u32, &GpuTensor)]) -> Dispatch {
    let params = uniform(ctx, "ewc params", &Params { n: n as u32, binary: u32::from(binary), scalar, _pad1: 0 }, false);
    Dispatch::new(ctx, pipeline, &[(0, &params)], buffers, groups_for(ctx, n, WG))
}

/// The Fisher estimate as a hook on the GPU's backward walk, as [`crate::cpu::ewc::FisherHook`]:
/// per penalised dense layer, the squares of its output gradient (times the batch size) and of its
/// input, and their product added into that layer's sum.
pub struct FisherHook<'a> {
    pub ewc: &'a EwcKernel,
    pub matmul: &'a MatmulKernel,
    /// By parameter slot; `None` where nothing is estimated.
    pub sums: Vec<Option<&'a GpuTensor>>,
    pub scale: f32,
}

impl BackwardHook for FisherHook<'_> {
    fn observe_dense(&mut self, ctx: &GpuContext, _index: usize, layer: &PlannedLayer, x: &GpuTensor, dy: &GpuTensor, calls: &mut Vec<Dispatch>) {
        let Some(f) = self.sums.get(layer.param_index()).copied().flatten() else { return };
        let (outs, ins) = (layer.output.len(), layer.input.len());
        let (dy2, x2) = (GpuTensor::zeros(ctx, dy.len), GpuTensor::zeros(ctx, x.len));
        calls.push(self.ewc.bind_square(ctx, self.scale, dy, &dy2));
        calls.push(self.ewc.bind_square(ctx, 1.0, x, &x2));
        calls.extend(self.matmul.bind_long(ctx, MatmulShape::new(outs, x.len / ins, ins).trans_a().accumulate(), &dy2, &x2, f));
    }
}
