//! Host side of `shaders/activation.wgsl`: ReLU and tanh forward, and their gradients from the
//! output, tested against [`crate::cpu::activation`].

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::Activation;
use bytemuck::{Pod, Zeroable};

const WG: usize = 256;

/// The WGSL uniform `Act`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Act {
    n: u32,
    code: u32,
    _pad: [u32; 2],
}

pub struct ActivationKernel {
    forward: Pipeline,
    backward: Pipeline,
}

impl ActivationKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [forward, backward] = pipelines(ctx, "activation.wgsl", include_str!("../../shaders/activation.wgsl"), ["forward", "backward"]);
        Self { forward, backward }
    }

    /// `y = act(x)`.
    pub fn bind_forward(&self, ctx: &GpuContext, act: Activation, x: &GpuTensor, y: &GpuTensor) -> Dispatch {
        assert_eq!(x.len, y.len, "the activation keeps the length");
        bind(ctx, &self.forward, act, x.len, &[(1, x), (3, y)])
    }

    /// `dx = dy * act'`, the derivative written from the forward output `y`.
    pub fn bind_backward(&self, ctx: &GpuContext, act: Activation, y: &GpuTensor, dy: &GpuTensor, dx: &GpuTensor) -> Dispatch {
        assert!(y.len == dy.len && y.len == dx.len, "the backward pass keeps the length");
        bind(ctx, &self.backward, act, y.len, &[(1, y), (2, dy), (3, dx)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &Pipeline, act: Activation, n: usize, buffers: &[(u32, &GpuTensor)]) -> Dispatch {
    let u = uniform(ctx, "activation", &Act { n: n as u32, code: act.code(), _pad: [0; 2] }, false);
    Dispatch::new(ctx, pipeline, &[(0, &u)], buffers, groups_for(ctx, n.div_ceil(4), WG))
}
