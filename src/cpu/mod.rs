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

/// How many threads the CPU backend's own parallel loops use: matrixmultiply's setting
/// (`MATMUL_NUM_THREADS`, which `metaplastic bench --threads` sets) where given, else every core.
/// One in wasm, where the page's workers are the parallelism.
pub fn threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    return 1;
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static THREADS: OnceLock<usize> = OnceLock::new();
        *THREADS.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            std::env::var("MATMUL_NUM_THREADS").ok().and_then(|v| v.parse().ok()).filter(|&n: &usize| n >= 1).unwrap_or(cores).min(cores)
        })
    }
}
