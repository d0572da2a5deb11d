//! Host side of `shaders/matmul.wgsl`: `C = op(A) · op(B)` with the shape and flags of
//! [`crate::cpu::matmul::MatmulShape`], whose CPU reference it is tested against.

use super::{GpuContext, GpuTensor};
use crate::nn::MatmulShape;
use crate::nn::TrainError;
use super::kernel::{Dispatch, pipelines, uniform};

/// Outputs per workgroup side (`TILE` in the shader).
const TILE: u32 = 32;

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

/// Refuses work whose largest buffer (`largest` floats) or largest product (`rows` rows) exceeds
/// what the device binds or dispatches (a browser typically binds at most 128 MiB per storage
/// buffer), before wgpu would fail on it. `what` names the work ("a batch of 64"), `advice` says
/// what to change.
pub fn check_fits(ctx: &GpuContext, largest: usize, rows: usize, what: &str, advice: &str) -> Result<(), TrainError> {
    let limits = ctx.device.limits();
    let bytes = (largest * 4) as u64;
    let max_binding = u64::from(limits.max_storage_buffer_binding_size).min(limits.max_buffer_size);
    if bytes > max_binding {
        return Err(TrainError::Config(format!("{what} needs a {bytes}-byte buffer, more than this GPU binds ({max_binding}); {advice}")));
    }
    if rows.div_ceil(TILE as usize) > limits.max_compute_workgroups_per_dimension as usize {
        return Err(TrainError::Config(format!("{what} makes products of {rows} rows, more than this GPU dispatches; {advice}")));
    }
    Ok(())
}
