//! Host side of `shaders/reconstruct.wgsl`: the denoising autoencoder's reconstruction
//! `sigmoid(d + up(p))`, its gradient through the sigmoid, and the gradient reaching a step's
//! logits, tested against [`crate::cpu::denoise::reconstruct_forward`],
//! [`crate::cpu::denoise::reconstruct_backward`] and [`crate::cpu::denoise::logits_grad`].

use super::kernel::{Dispatch, groups_for, pipelines, uniform, Pipeline};
use super::{GpuContext, GpuTensor};
use crate::nn::PoolShape;
use bytemuck::{Pod, Zeroable};

const WG: usize = 256;

/// The WGSL uniform `Grid`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Grid {
    batch: u32,
    h: u32,
    w: u32,
    offset: u32,
    with_dz: u32,
    dz_from: u32,
    _pad: [u32; 2],
}

pub struct ReconstructKernel {
    forward: Pipeline,
    backward: Pipeline,
    logits_grad: Pipeline,
}

impl ReconstructKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [forward, backward, logits_grad] =
            pipelines(ctx, "reconstruct.wgsl", include_str!("../../shaders/reconstruct.wgsl"), ["forward", "backward", "logits_grad"]);
        Self { forward, backward, logits_grad }
    }

    /// `images = sigmoid(d + up(p))` on `half`'s grids (one channel): `d` and `images` on its full
    /// grid, `p` on its pooled grid, read from element `offset` of its buffer (a step's slice).
    pub fn bind_forward(&self, ctx: &GpuContext, half: PoolShape, d: &GpuTensor, p: &GpuTensor, offset: usize, images: &GpuTensor) -> Dispatch {
        assert_eq!(half.c, 1, "the reconstruction has one channel");
        assert!(d.len == half.input_len() && images.len == d.len, "d and images are batch x h x w");
        assert!(offset + half.output_len() <= p.len, "p's slice is the pooled grid");
        let u = uniform(ctx, "reconstruct grid", &grid(half, offset, false), false);
        Dispatch::new(ctx, &self.forward, &[(0, &u)], &[(1, d), (2, p), (3, images)], groups_for(ctx, d.len, WG))
    }

    /// `dz = dimages * images * (1 - images)`.
    pub fn bind_backward(&self, ctx: &GpuContext, half: PoolShape, images: &GpuTensor, dimages: &GpuTensor, dz: &GpuTensor) -> Dispatch {
        assert!(images.len == half.input_len() && dimages.len == images.len && dz.len == images.len, "images, dimages and dz are batch x h x w");
        let u = uniform(ctx, "reconstruct grid", &grid(half, 0, false), false);
        Dispatch::new(ctx, &self.backward, &[(0, &u)], &[(4, images), (5, dimages), (6, dz)], groups_for(ctx, dz.len, WG))
    }

    /// `dd = avgpool'(g) (+ dz)`: `g` on the pooled grid from element `offset` of its buffer; `dz`
    /// (the last step's) is added to the last `dz.len` elements of `dd`.
    pub fn bind_logits_grad(&self, ctx: &GpuContext, half: PoolShape, g: &GpuTensor, offset: usize, dz: Option<&GpuTensor>, dd: &GpuTensor) -> Dispatch {
        assert_eq!(dd.len, half.input_len(), "dd is batch x h x w");
        assert!(offset + half.output_len() <= g.len, "g's slice is the pooled grid");
        assert!(dz.is_none_or(|dz| dz.len > 0 && dz.len <= dd.len && dd.len.is_multiple_of(dz.len)), "dz is the last steps' batch x h x w");
        let mut g_u = grid(half, offset, dz.is_some());
        g_u.dz_from = dz.map_or(0, |dz| (dd.len - dz.len) as u32);
        let u = uniform(ctx, "reconstruct grid", &g_u, false);
        // The entry point names dz whether or not it adds it; without one, g stands in, unread.
        let dz = dz.unwrap_or(g);
        Dispatch::new(ctx, &self.logits_grad, &[(0, &u)], &[(7, g), (8, dz), (9, dd)], groups_for(ctx, dd.len, WG))
    }
}

fn grid(half: PoolShape, offset: usize, with_dz: bool) -> Grid {
    Grid { batch: half.batch, h: half.h, w: half.w, offset: offset as u32, with_dz: u32::from(with_dz), dz_from: 0, _pad: [0; 2] }
}
