//! The vocabulary both backends speak, and nothing else: layer descriptions and their shapes, the
//! hyper-parameter structs that double as WGSL uniforms, parameter layouts, and the error type.
//!
//! Everything above this module ([`crate::model`], [`crate::cpu`], [`crate::gpu`]) imports it; it
//! imports nothing else of the crate, so the backends can share definitions without importing
//! each other.

pub mod error;
pub mod hyper;
pub mod layer;
pub mod layout;
pub mod shapes;

pub use error::{DeviceError, TrainError};
pub use hyper::{AMP_CENTRE_MIN_RATE, AdamHyper, AmpEnergy, AmpHyper, SgdHyper};
pub use layer::{Activation, HebbRule, Layer, LayerParams, Nonlinearity, Norm, NormEval, Pass, PlannedLayer, PlasticWeights, PoolKind, RunningStats, check_params, plan};
pub use layout::{ParamLayout, TensorKey, TensorSet, TensorSpec, Update};
pub use shapes::{ConvShape, Dims, LstmShape, MatmulShape, PlasticDims, PoolShape, RecurrentShape};

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

/// `|x - y| <= atol + rtol * |y|`, elementwise: the tolerance every parity test states. Returns
/// the first element that violates it.
pub fn max_violation(x: &[f32], y: &[f32], atol: f32, rtol: f32) -> Option<(usize, f32, f32)> {
    assert_eq!(x.len(), y.len(), "compared slices must have the same length");
    x.iter()
        .zip(y)
        .enumerate()
        .find(|(_, (a, b))| !((**a - **b).abs() <= atol + rtol * b.abs()))
        .map(|(i, (a, b))| (i, *a, *b))
}
