//! Host side of `shaders/matmul.wgsl`: `C = op(A) · op(B)` with the shape and flags of
//! [`crate::cpu::matmul::MatmulShape`], whose CPU reference it is tested against.

use super::{GpuContext, GpuTensor};
use crate::cpu::matmul::MatmulShape;
use super::kernel::{Dispatch, pipelines, uniform};

const TILE: u32 = 16;

pub struct MatmulKernel {
    pipeline: wgpu::ComputePipeline,
}

impl MatmulKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [pipeline] = pipelines(ctx, "matmul.wgsl", include_str!("../../shaders/matmul.wgsl"), ["main"]);
        Self { pipeline }
    }

    /// Binds a product to its buffers once; the returned call is recorded every step without
    /// allocating anything.
    pub fn bind(&self, ctx: &GpuContext, shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor) -> Dispatch {
        assert_eq!(a.len, (shape.m * shape.k) as usize, "A must be m x k");
        assert_eq!(b.len, (shape.k * shape.n) as usize, "B must be k x n");
        assert_eq!(c.len, (shape.m * shape.n) as usize, "C must be m x n");
        let shape_buffer = uniform(ctx, "matmul shape", &shape, false);
        let tensors = [(1, a), (2, b), (3, c)];
        Dispatch::new(ctx, &self.pipeline, &[(0, &shape_buffer)], &tensors, (shape.n.div_ceil(TILE), shape.m.div_ceil(TILE)))
    }
}
