//! The WebGPU backend (wgpu): in the browser through `navigator.gpu`, natively through Vulkan,
//! Metal, DX12 or GL, the software Vulkan adapter (llvmpipe) included.
//!
//! One Rust file per WGSL file in `shaders/`: the host side of a kernel (pipeline, bind group,
//! dispatch) lives beside nothing else, and every kernel has its CPU reference in [`crate::cpu`]
//! (which this module never imports: the tests and [`crate::backend`] compare the two).
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
pub mod hebbian;
pub mod lenet;
pub mod matmul;
pub mod metaplastic_adam;
pub mod plastic;
pub mod recurrent;
pub mod pool;
pub mod reconstruct;
pub mod sgd;
pub mod sign;
pub mod softmax_ce;
mod tensor;
pub mod walk;
pub mod xnor;

pub use context::{AdapterSummary, GpuContext, GpuCounts, clock_ms, counts};
pub use tensor::GpuTensor;
