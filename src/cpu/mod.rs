//! The CPU reference: every operation the networks use, written to be read next to the paper.
//! The GPU kernels in [`crate::gpu`] are tested against these functions, and the browser falls back
//! to them where WebGPU is missing.

pub mod activation;
pub mod amp;
pub mod batchnorm;
pub mod bnn;
pub mod conv;
pub mod denoise;
pub mod dropout;
pub mod ewc;
pub mod hebbian;
pub mod lenet;
pub mod matmul;
pub mod metaplastic_adam;
pub mod plastic;
pub mod recurrent;
pub mod pool;
pub mod sgd;
pub mod sign;
pub mod softmax_ce;
pub mod walk;
pub mod xnor;
