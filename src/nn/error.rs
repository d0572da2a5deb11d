//! The errors both backends report, named by what went wrong rather than by which backend.

use thiserror::Error;

/// A compute device that could not be had, or failed while in use. The GPU backend is the only
/// one that produces these today; the type names no backend so the experiments, the page and the
/// tool can handle them without importing one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeviceError {
    #[error("WebGPU not available in this browser")]
    NotInBrowser,
    #[error("no GPU adapter found: {0}")]
    NoAdapter(String),
    #[error("the GPU adapter refused a device: {0}")]
    RequestDevice(String),
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
    #[error("the GPU computed a wrong result in its self-test: {0}")]
    SelfTest(String),
}

/// Why a training call did not happen.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TrainError {
    #[error("training diverged: {0}")]
    Diverged(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("invalid setting: {0}")]
    Config(String),
    /// A network only the CPU reference implements (the LSTM baseline), asked of the GPU.
    #[error("{0} runs on the CPU path only (--backend cpu)")]
    CpuOnly(&'static str),
}
