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
pub mod pool;
pub mod sgd;
pub mod sign;
pub mod softmax_ce;

/// `|x - y| <= atol + rtol * |y|`, elementwise: the tolerance every parity test states.
pub fn max_violation(x: &[f32], y: &[f32], atol: f32, rtol: f32) -> Option<(usize, f32, f32)> {
    assert_eq!(x.len(), y.len(), "compared slices must have the same length");
    x.iter()
        .zip(y)
        .enumerate()
        .find(|(_, (a, b))| !((**a - **b).abs() <= atol + rtol * b.abs()))
        .map(|(i, (a, b))| (i, *a, *b))
}
