//! Where a network trains: the CPU reference or a GPU through wgpu. One enum, so experiments,
//! the app and the tool choose at run time and everything else stays generic.

use crate::cpu::bnn::CpuBnn;
use crate::gpu::GpuContext;
use crate::gpu::bnn::GpuBnn;
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer};
use crate::model::{BatchStats, TrainError};
use std::rc::Rc;

#[derive(Clone)]
pub enum Backend {
    Cpu,
    Gpu(Rc<GpuContext>),
}

impl Backend {
    pub fn name(&self) -> String {
        match self {
            Backend::Cpu => "cpu".into(),
            Backend::Gpu(ctx) => format!("gpu ({})", ctx.adapter),
        }
    }

    pub fn bnn(&self, cfg: BnnConfig, params: BnnParams) -> Result<Bnn, TrainError> {
        Ok(match self {
            Backend::Cpu => Bnn::Cpu(CpuBnn::new(cfg, params)?),
            Backend::Gpu(ctx) => Bnn::Gpu(GpuBnn::new(ctx.clone(), cfg, params)?),
        })
    }
}

/// A binarized network on either backend.
pub enum Bnn {
    Cpu(CpuBnn),
    Gpu(GpuBnn),
}

macro_rules! each {
    ($self:ident, $net:ident => $body:expr) => {
        match $self {
            Bnn::Cpu($net) => $body,
            Bnn::Gpu($net) => $body,
        }
    };
}

impl BnnTrainer for Bnn {
    fn config(&self) -> &BnnConfig {
        each!(self, n => n.config())
    }
    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        each!(self, n => n.train_step(x, y))
    }
    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        each!(self, n => n.take_train_stats().await)
    }
    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        each!(self, n => n.evaluate(x, y).await)
    }
    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        each!(self, n => n.params().await)
    }
    fn load_params(&mut self, params: &BnnParams) {
        each!(self, n => n.load_params(params))
    }
    fn reset_optimizer(&mut self) {
        each!(self, n => n.reset_optimizer())
    }
    async fn bn_params(&mut self) -> Result<BnParams, TrainError> {
        each!(self, n => n.bn_params().await)
    }
    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError> {
        each!(self, n => n.load_bn(bn).await)
    }
    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        each!(self, n => n.consolidate_ewc(batches).await)
    }
}
