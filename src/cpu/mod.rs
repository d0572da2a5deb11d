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
pub mod lstm;
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

/// How many threads the CPU backend's parallel loops (large matrix products, metaplastic Adam)
/// use: every core unless [`set_threads`] said otherwise. One in wasm, where the page's workers
/// are the parallelism.
pub fn threads() -> usize {
    #[cfg(target_arch = "wasm32")]
    return 1;
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::atomic::Ordering;
        // Asked once: on Linux the answer reads the cgroup's files, which a small product would
        // pay for on every call.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        match THREADS.load(Ordering::Relaxed) {
            0 => *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            n => n,
        }
    }
}

/// Caps [`threads`] (`metaplastic bench --threads`); 0 goes back to every core.
pub fn set_threads(n: usize) {
    #[cfg(not(target_arch = "wasm32"))]
    THREADS.store(n, std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_arch = "wasm32")]
    let _ = n;
}

#[cfg(not(target_arch = "wasm32"))]
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
