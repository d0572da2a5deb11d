//! The WebGPU backend (wgpu): in the browser through `navigator.gpu`, natively through Vulkan,
//! Metal, DX12 or GL, the software Vulkan adapter (llvmpipe) included.
//!
//! One Rust file per WGSL file in `shaders/`: the host side of a kernel (pipeline, bind group,
//! dispatch) lives beside nothing else, and every kernel has its CPU reference in [`crate::cpu`].
//! Kernels are handed a [`GpuContext`] rather than creating one, so a test can hand them its own.

pub mod activation;
pub mod amp;
pub mod batchnorm;
pub mod bnn;
mod context;
pub mod conv;
pub mod denoise;
pub mod dropout;
pub mod kernel;
pub mod ewc;
pub mod lenet;
pub mod matmul;
pub mod metaplastic_adam;
pub mod plastic;
pub mod pool;
pub mod reconstruct;
pub mod sgd;
pub mod sign;
pub mod softmax_ce;
mod tensor;

pub use context::{AdapterSummary, GpuContext, GpuError};
pub use tensor::GpuTensor;

/// Runs a small product on the GPU and compares it with the CPU reference, so the app trusts an
/// adapter only after seeing it compute correctly (some report success and return zeros).
pub async fn self_test(ctx: &GpuContext) -> Result<(), GpuError> {
    use crate::cpu::matmul::{matmul, MatmulShape};
    let shape = MatmulShape::new(37, 53, 29);
    let a: Vec<f32> = (0..37 * 53).map(|i| ((i * 7 % 23) as f32 - 11.0) / 8.0).collect();
    let b: Vec<f32> = (0..53 * 29).map(|i| ((i * 5 % 19) as f32 - 9.0) / 8.0).collect();
    let mut want = vec![0.0; 37 * 29];
    matmul(shape, &a, &b, &mut want);
    let kernel = matmul::MatmulKernel::new(ctx);
    let (ga, gb) = (GpuTensor::from_slice(ctx, &a), GpuTensor::from_slice(ctx, &b));
    let gc = GpuTensor::zeros(ctx, want.len());
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    kernel.bind(ctx, shape, &ga, &gb, &gc).encode(&mut encoder);
    ctx.queue.submit([encoder.finish()]);
    let got = gc.read(ctx).await?;
    match crate::cpu::max_violation(&got, &want, 1e-4, 1e-4) {
        None => Ok(()),
        Some((i, g, w)) => Err(GpuError::SelfTest(format!("matmul element {i}: GPU {g}, CPU {w}"))),
    }
}
