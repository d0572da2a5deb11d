//! Where a network trains: the CPU reference or a GPU through wgpu. One enum, so experiments,
//! the app and the tool choose at run time and everything else stays generic.

use crate::cpu::bnn::CpuBnn;
use crate::cpu::denoise::CpuDenoise;
use crate::cpu::hebbian::CpuHebbian;
use crate::cpu::lenet::CpuLenet;
use crate::cpu::matmul::matmul_reference;
use crate::gpu::matmul::MatmulKernel;
use crate::gpu::{GpuContext, GpuTensor};
use crate::gpu::bnn::GpuBnn;
use crate::gpu::denoise::GpuDenoise;
use crate::gpu::lenet::GpuLenet;
use crate::gpu::plastic::GpuHebbian;
use crate::gpu::recurrent::GpuRecurrent;
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer};
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, EpisodeTrace, HebbianConfig, HebbianParams, HebbianTrainer, Network};
use crate::model::lenet::{LenetConfig, LenetParams, LenetTrainer};
use crate::nn::{BatchStats, DeviceError, MatmulShape, TrainError};
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

    pub fn lenet(&self, cfg: LenetConfig, params: LenetParams) -> Result<Lenet, TrainError> {
        Ok(match self {
            Backend::Cpu => Lenet::Cpu(CpuLenet::new(cfg, params)?),
            Backend::Gpu(ctx) => Lenet::Gpu(GpuLenet::new(ctx.clone(), cfg, params)?),
        })
    }

    /// A pattern-completion network, recurrent or feed-forward as `cfg.network` says.
    pub fn hebbian(&self, cfg: HebbianConfig, params: HebbianParams) -> Result<Hebbian, TrainError> {
        Ok(match (self, cfg.network) {
            (Backend::Cpu, _) => Hebbian::Cpu(CpuHebbian::new(cfg, params)?),
            (Backend::Gpu(ctx), Network::Feedforward) => Hebbian::Gpu(GpuHebbian::new(ctx.clone(), cfg, params)?),
            (Backend::Gpu(ctx), Network::Recurrent) => Hebbian::GpuRecurrent(GpuRecurrent::new(ctx.clone(), cfg, params)?),
            // The LSTM is a baseline the tool runs, written once, on the CPU; no kernel stands in.
            (Backend::Gpu(_), Network::Lstm) => return Err(TrainError::CpuOnly("the LSTM baseline")),
        })
    }

    pub fn denoise(&self, cfg: DenoiseConfig, params: DenoiseParams) -> Result<Denoise, TrainError> {
        Ok(match self {
            Backend::Cpu => Denoise::Cpu(CpuDenoise::new(cfg, params)?),
            Backend::Gpu(ctx) => Denoise::Gpu(GpuDenoise::new(ctx.clone(), cfg, params)?),
        })
    }
}

/// A binarized network on either backend.
pub enum Bnn {
    Cpu(CpuBnn),
    Gpu(GpuBnn),
}

/// A LeNet on either backend.
pub enum Lenet {
    Cpu(CpuLenet),
    Gpu(GpuLenet),
}

/// A pattern-completion network on either backend: the CPU trainer runs both networks, the GPU
/// trainer ([`crate::gpu::hebbian::GpuCompletion`]) is a type for each.
pub enum Hebbian {
    Cpu(CpuHebbian),
    Gpu(GpuHebbian),
    GpuRecurrent(GpuRecurrent),
}

/// A Hebbian denoising autoencoder on either backend.
pub enum Denoise {
    Cpu(CpuDenoise),
    Gpu(GpuDenoise),
}

/// Runs `$body` on whichever backend's network `$self` (a [`Bnn`], [`Lenet`], [`Hebbian`] or
/// [`Denoise`]) holds.
macro_rules! each {
    ($enum:ident, $self:ident, $net:ident => $body:expr) => {
        match $self {
            $enum::Cpu($net) => $body,
            $enum::Gpu($net) => $body,
        }
    };
    ($enum:ident, $self:ident, $net:ident => $body:expr, $($more:ident),+) => {
        match $self {
            $enum::Cpu($net) => $body,
            $enum::Gpu($net) => $body,
            $($enum::$more($net) => $body,)+
        }
    };
}

impl BnnTrainer for Bnn {
    fn config(&self) -> &BnnConfig {
        each!(Bnn, self, n => n.config())
    }
    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        each!(Bnn, self, n => n.train_step(x, y))
    }
    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        each!(Bnn, self, n => n.take_train_stats().await)
    }
    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        each!(Bnn, self, n => n.evaluate(x, y).await)
    }
    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        each!(Bnn, self, n => n.logits(x).await)
    }
    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        each!(Bnn, self, n => n.params().await)
    }
    fn load_params(&mut self, params: &BnnParams) {
        each!(Bnn, self, n => n.load_params(params))
    }
    fn reset_optimizer(&mut self) {
        each!(Bnn, self, n => n.reset_optimizer())
    }
    async fn bn_params(&mut self) -> Result<BnParams, TrainError> {
        each!(Bnn, self, n => n.bn_params().await)
    }
    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError> {
        each!(Bnn, self, n => n.load_bn(bn).await)
    }
    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        each!(Bnn, self, n => n.consolidate_ewc(batches).await)
    }
}

impl LenetTrainer for Lenet {
    fn config(&self) -> &LenetConfig {
        each!(Lenet, self, n => n.config())
    }
    fn train_step(&mut self, x: &[f32], y: &[u32], seed: u32) -> Result<(), TrainError> {
        each!(Lenet, self, n => n.train_step(x, y, seed))
    }
    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        each!(Lenet, self, n => n.take_train_stats().await)
    }
    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        each!(Lenet, self, n => n.logits(x).await)
    }
    async fn params(&mut self) -> Result<LenetParams, TrainError> {
        each!(Lenet, self, n => n.params().await)
    }
    fn load_params(&mut self, params: &LenetParams) {
        each!(Lenet, self, n => n.load_params(params))
    }
    async fn last_factors(&mut self) -> Result<Vec<Vec<f32>>, TrainError> {
        each!(Lenet, self, n => n.last_factors().await)
    }
}

impl HebbianTrainer for Hebbian {
    fn config(&self) -> &HebbianConfig {
        each!(Hebbian, self, n => n.config(), GpuRecurrent)
    }
    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        each!(Hebbian, self, n => n.train_step(xs, targets), GpuRecurrent)
    }
    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        each!(Hebbian, self, n => n.take_train_loss().await, GpuRecurrent)
    }
    async fn loss(&mut self, xs: &[f32], targets: &[f32]) -> Result<f32, TrainError> {
        each!(Hebbian, self, n => n.loss(xs, targets).await, GpuRecurrent)
    }
    async fn params(&mut self) -> Result<HebbianParams, TrainError> {
        each!(Hebbian, self, n => n.params().await, GpuRecurrent)
    }
    async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError> {
        each!(Hebbian, self, n => n.episode(xs).await, GpuRecurrent)
    }
}

impl DenoiseTrainer for Denoise {
    fn config(&self) -> &DenoiseConfig {
        each!(Denoise, self, n => n.config())
    }
    fn train_step(&mut self, xs: &[f32], targets: &[f32]) -> Result<(), TrainError> {
        each!(Denoise, self, n => n.train_step(xs, targets))
    }
    async fn take_train_loss(&mut self) -> Result<(f32, usize), TrainError> {
        each!(Denoise, self, n => n.take_train_loss().await)
    }
    async fn reconstruct(&mut self, xs: &[f32]) -> Result<Vec<f32>, TrainError> {
        each!(Denoise, self, n => n.reconstruct(xs).await)
    }
    async fn params(&mut self) -> Result<DenoiseParams, TrainError> {
        each!(Denoise, self, n => n.params().await)
    }
}

/// Runs a small product on the GPU and compares it with the CPU reference, so the app trusts an
/// adapter only after seeing it compute correctly (some report success and return zeros).
pub async fn gpu_self_test(ctx: &GpuContext) -> Result<(), DeviceError> {
    let shape = MatmulShape::new(37, 53, 29);
    let a: Vec<f32> = (0..37 * 53).map(|i| ((i * 7 % 23) as f32 - 11.0) / 8.0).collect();
    let b: Vec<f32> = (0..53 * 29).map(|i| ((i * 5 % 19) as f32 - 9.0) / 8.0).collect();
    let mut want = vec![0.0; 37 * 29];
    matmul_reference(shape, &a, &b, &mut want);
    let kernel = MatmulKernel::new(ctx);
    let (ga, gb) = (GpuTensor::from_slice(ctx, &a), GpuTensor::from_slice(ctx, &b));
    let gc = GpuTensor::zeros(ctx, want.len());
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    kernel.bind(ctx, shape, &ga, &gb, &gc).encode(&mut encoder);
    ctx.submit([encoder.finish()]);
    let got = gc.read(ctx).await?;
    match crate::nn::max_violation(&got, &want, 1e-4, 1e-4) {
        None => Ok(()),
        Some((i, g, w)) => Err(DeviceError::SelfTest(format!("matmul element {i}: GPU {g}, CPU {w}"))),
    }
}
