//! Host side of `shaders/dropout.wgsl`: inverted dropout with the CPU's hashed mask, bit for bit,
//! tested against [`crate::cpu::dropout`]. The seed changes every training step, so the forward
//! call keeps its uniform writable ([`DropoutCall::set_seed`]).

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::hyper::drop_threshold;
use bytemuck::{Pod, Zeroable};

const WG: usize = 256;

/// The WGSL uniform `Dropout`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Uniform {
    n: u32,
    seed: u32,
    threshold: u32,
    scale: f32,
}

impl Uniform {
    fn new(n: usize, p: f32, seed: u32) -> Self {
        Self { n: n as u32, seed, threshold: drop_threshold(p), scale: 1.0 / (1.0 - p) }
    }
}

pub struct DropoutKernel {
    forward: Pipeline,
    backward: Pipeline,
}

impl DropoutKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [forward, backward] = pipelines(ctx, "dropout.wgsl", include_str!("../../shaders/dropout.wgsl"), ["forward", "backward"]);
        Self { forward, backward }
    }

    /// `y = x * mask` with drop probability `p`, keeping `mask`; the seed starts as `seed`.
    pub fn bind_forward(&self, ctx: &GpuContext, p: f32, seed: u32, x: &GpuTensor, y: &GpuTensor, mask: &GpuTensor) -> DropoutCall {
        assert!(x.len == y.len && x.len == mask.len, "x, y and mask must have one length");
        let u = Uniform::new(x.len, p, seed);
        let buffer = uniform(ctx, "dropout", &u, true);
        let dispatch = Dispatch::new(ctx, &self.forward, &[(0, &buffer)], &[(1, x), (2, y), (3, mask)], groups_for(ctx, x.len, WG));
        DropoutCall { dispatch, buffer, uniform: u }
    }

    /// `dx = dy * mask`.
    pub fn bind_backward(&self, ctx: &GpuContext, mask: &GpuTensor, dy: &GpuTensor, dx: &GpuTensor) -> Dispatch {
        assert!(mask.len == dy.len && mask.len == dx.len, "mask, dy and dx must have one length");
        // The backward pass reads only the length.
        let buffer = uniform(ctx, "dropout", &Uniform::new(mask.len, 0.0, 0), false);
        Dispatch::new(ctx, &self.backward, &[(0, &buffer)], &[(4, dy), (5, mask), (6, dx)], groups_for(ctx, mask.len, WG))
    }
}

/// A forward dropout bound to its buffers, its seed settable between submits.
pub struct DropoutCall {
    dispatch: Dispatch,
    buffer: wgpu::Buffer,
    uniform: Uniform,
}

impl DropoutCall {
    /// The seed of the next submitted forward pass (`queue.write_buffer` lands before the next
    /// submit's commands run).
    pub fn set_seed(&mut self, ctx: &GpuContext, seed: u32) {
        self.uniform.seed = seed;
        ctx.queue.write_buffer(&self.buffer, 0, bytemuck::bytes_of(&self.uniform));
    }

    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        self.dispatch.encode(encoder);
    }

    /// The mask's dispatch, for recording into a pass with others.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }
}
