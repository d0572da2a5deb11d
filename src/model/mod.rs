//! Model definitions shared by both backends: configuration, parameters, initialisation, and the
//! trainer interface that the CPU ([`crate::cpu`]) and GPU ([`crate::gpu`]) implementations offer.
//! The experiments are written against these interfaces only.

pub mod bnn;
pub mod hebbian;
pub mod lenet;

use crate::gpu::GpuError;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TrainError {
    #[error("training diverged: {0}")]
    Diverged(String),
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("invalid setting: {0}")]
    Config(String),
}

/// Loss and accuracy counts over some examples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f32,
    pub correct: u32,
    pub count: u32,
}

impl BatchStats {
    pub fn add(&mut self, other: BatchStats) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
    }
    pub fn accuracy(&self) -> f32 {
        if self.count == 0 { 0.0 } else { self.correct as f32 / self.count as f32 }
    }
    pub fn mean_loss(&self) -> f32 {
        if self.count == 0 { 0.0 } else { self.loss_sum / self.count as f32 }
    }
}
