//! The binarized network trained on the GPU: the same math as the CPU reference
//! [`crate::cpu::bnn::CpuBnn`], walking the same layer list
//! ([`crate::model::bnn::BnnConfig::layers`]) with [`super::walk`], every weight, moment,
//! activation and gradient in GPU buffers.
//!
//! A training step is one command buffer and one submit, with no readback: the walk's forward
//! dispatches (each binary layer binarizes its `Wh` first) → softmax cross-entropy and the batch's
//! statistics → the walk's backward dispatches → the EWC penalty → metaplastic Adam over the
//! layout ([`GpuAdam`]).
//!
//! Buffers and bind groups are made once: parameters, gradients and optimizer state in
//! [`GpuBnn::new`], the walks of a batch size the first time that size is seen. A step only writes
//! the batch and the optimizer's bias corrections with `queue.write_buffer` and records dispatches.

use super::ewc::{EwcKernel, FisherHook};
use super::kernel::{Dispatch, record_all};
use super::metaplastic_adam::{AdamKernel, GpuAdam};
use super::softmax_ce::{ROW_STATS_WORDS, STATS_WORDS, SoftmaxCeKernel, decode_stats};
use super::walk::{BackwardHook, GpuParams, LayerKernels, NoHook, Walk, WalkOptions};
use super::{GpuContext, GpuTensor};
use crate::data::NUM_CLASSES;
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer, LAYERS, Weights, hidden_weights};
use crate::nn::{BatchStats, Pass, PlannedLayer, RunningStats, TensorKey, TrainError, check_params};
use std::collections::HashMap;
use std::rc::Rc;

/// Every pipeline the network uses, made once per device.
struct Kernels {
    layers: LayerKernels,
    softmax: SoftmaxCeKernel,
    adam: AdamKernel,
    ewc: EwcKernel,
}

/// A walk of one batch size with its loss: the labels, softmax cross-entropy (its gradient into
/// the walk's output gradient when training) and the statistics it adds to.
struct LossPass {
    walk: Walk,
    labels: GpuTensor,
    softmax: Dispatch,
    accumulate: Dispatch,
}

impl LossPass {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &GpuContext,
        k: &Kernels,
        params: &GpuParams,
        layers: &[PlannedLayer],
        batch: usize,
        pass: Pass,
        stats: &GpuTensor,
        hook: &mut dyn BackwardHook,
    ) -> Self {
        let opts = WalkOptions { batch, groups: 1, pass, accumulate: false, want_dx: false };
        let walk = Walk::new(ctx, &k.layers, params, layers, opts, hook);
        let labels = GpuTensor::zeros(ctx, batch);
        let row_stats = GpuTensor::zeros(ctx, batch * ROW_STATS_WORDS);
        let scratch;
        let dlogits = match &walk.dy {
            Some(dy) => dy.as_ref(),
            None => {
                scratch = GpuTensor::zeros(ctx, walk.output.len);
                &scratch
            }
        };
        let softmax = k.softmax.bind_rows(ctx, NUM_CLASSES, &walk.output, &labels, dlogits, &row_stats);
        let accumulate = k.softmax.bind_accumulate(ctx, &row_stats, stats);
        Self { walk, labels, softmax, accumulate }
    }

    fn upload(&self, ctx: &GpuContext, x: &[f32], y: &[u32]) {
        self.walk.input.write(ctx, x);
        self.labels.write_u32(ctx, y);
    }

    /// The forward pass and the loss; `accumulate` adds the batch's statistics.
    fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder, accumulate: bool) {
        let loss = [&self.softmax].into_iter().chain(accumulate.then_some(&self.accumulate));
        record_all(encoder, self.walk.forward_calls().chain(loss));
    }
}

/// EWC on the GPU: per penalised tensor `F = sum_t F_t`, `FW = sum_t F_t W*_t`, the sums of one
/// task's per-example squared gradients, and the penalty (on the binary weights) bound to its
/// gradient.
struct Ewc {
    keys: Vec<TensorKey>,
    fisher: Vec<GpuTensor>,
    anchor: Vec<GpuTensor>,
    f: Vec<GpuTensor>,
    penalty: Vec<Dispatch>,
}

/// The binarized network on a GPU. It shares the app's [`GpuContext`] through an `Rc` (the
/// browser is single-threaded and the context is not `Clone`); every method first checks that the
/// device is alive and returns [`crate::nn::DeviceError::Lost`] otherwise, so the caller can
/// fall back to the CPU with the last parameters it read.
pub struct GpuBnn {
    ctx: Rc<GpuContext>,
    cfg: BnnConfig,
    layers: Vec<PlannedLayer>,
    kernels: Kernels,
    params: GpuParams,
    adam: GpuAdam,
    /// Training passes by batch size, the configured batch made at once; their statistics go to
    /// `train_stats`.
    grad_passes: HashMap<usize, LossPass>,
    /// Forward-only passes by batch size, their statistics to `eval_stats` (cleared per evaluation).
    eval_passes: HashMap<usize, LossPass>,
    train_stats: GpuTensor,
    eval_stats: GpuTensor,
    ewc: Option<Ewc>,
}

fn find(params: &GpuParams, key: TensorKey) -> (&GpuTensor, &GpuTensor) {
    match key {
        TensorKey::Weight(n) => (&params.w[n], &params.gw[n]),
        TensorKey::Bias(n) => (&params.b[n], &params.gb[n]),
        other => unreachable!("the binarized network holds no {other:?}"),
    }
}

impl GpuBnn {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` examples uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: BnnConfig, params: BnnParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        if params.sizes != cfg.sizes() {
            return Err(TrainError::Config(format!("parameters of sizes {:?} for a network of {:?}", params.sizes, cfg.sizes())));
        }
        let layers = cfg.layers();
        let host = params.to_layers(cfg.weights);
        check_params(&layers, &host)?;
        let c = ctx.as_ref();
        let kernels = Kernels { layers: LayerKernels::new(c), softmax: SoftmaxCeKernel::new(c), adam: AdamKernel::new(c), ewc: EwcKernel::new(c) };
        let mut gpu_params = GpuParams::new(c, &host);
        gpu_params.keep_running_stats(c, &RunningStats::for_layers(&layers));
        let adam = GpuAdam::new(c, &kernels.adam, &cfg.layout(), |key| find(&gpu_params, key));
        let train_stats = GpuTensor::zeros(c, STATS_WORDS);
        let eval_stats = GpuTensor::zeros(c, STATS_WORDS);
        let train = LossPass::new(c, &kernels, &gpu_params, &layers, cfg.batch, Pass::Train, &train_stats, &mut NoHook);
        let grad_passes = HashMap::from([(cfg.batch, train)]);
        Ok(Self { ctx, cfg, layers, kernels, params: gpu_params, adam, grad_passes, eval_passes: HashMap::new(), train_stats, eval_stats, ewc: None })
    }

    /// Makes the training pass for `batch` examples the first time that size is seen.
    fn make_grad_pass(&mut self, batch: usize) {
        let (ctx, k, p, layers, stats) = (self.ctx.as_ref(), &self.kernels, &self.params, &self.layers, &self.train_stats);
        self.grad_passes.entry(batch).or_insert_with(|| LossPass::new(ctx, k, p, layers, batch, Pass::Train, stats, &mut NoHook));
    }
}

impl BnnTrainer for GpuBnn {
    fn config(&self) -> &BnnConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(x, y)?;
        self.make_grad_pass(batch);
        let ctx = self.ctx.as_ref();
        let pass = &self.grad_passes[&batch];
        pass.upload(ctx, x, y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bnn train step") });
        pass.encode_forward(&mut encoder, true);
        pass.walk.encode_backward(&mut encoder);
        if let Some(ewc) = &self.ewc {
            record_all(&mut encoder, &ewc.penalty);
        }
        self.adam.encode_step(ctx, &mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_stats.take(&self.ctx).await?;
        Ok(decode_stats(&words))
    }

    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let batch = self.cfg.check_batch(x, y)?;
        let ctx = self.ctx.as_ref();
        let (k, p, layers, stats) = (&self.kernels, &self.params, &self.layers, &self.eval_stats);
        let pass = self.eval_passes.entry(batch).or_insert_with(|| LossPass::new(ctx, k, p, layers, batch, Pass::Eval, stats, &mut NoHook));
        pass.upload(ctx, x, y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bnn evaluate") });
        encoder.clear_buffer(&self.eval_stats.buffer, 0, None);
        pass.encode_forward(&mut encoder, true);
        ctx.submit([encoder.finish()]);
        let words = self.eval_stats.read(ctx).await?;
        Ok(decode_stats(&words))
    }

    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        self.ctx.check_alive()?;
        let batch = x.len() / self.cfg.sizes()[0].max(1);
        let y = vec![0; batch];
        self.cfg.check_batch(x, &y)?;
        let ctx = self.ctx.as_ref();
        let (k, p, layers, stats) = (&self.kernels, &self.params, &self.layers, &self.eval_stats);
        let pass = self.eval_passes.entry(batch).or_insert_with(|| LossPass::new(ctx, k, p, layers, batch, Pass::Eval, stats, &mut NoHook));
        pass.upload(ctx, x, &y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bnn logits") });
        record_all(&mut encoder, pass.walk.forward_calls());
        ctx.submit([encoder.finish()]);
        Ok(pass.walk.output.read(ctx).await?)
    }

    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        self.ctx.check_alive()?;
        Ok(BnnParams::from_layers(self.cfg.sizes(), &self.params.read(&self.ctx).await?))
    }

    fn load_params(&mut self, params: &BnnParams) {
        assert_eq!(params.sizes, self.cfg.sizes(), "parameters must fit the network");
        self.params.write(&self.ctx, &params.to_layers(self.cfg.weights));
    }

    fn reset_optimizer(&mut self) {
        self.adam.reset(&self.ctx);
    }

    /// Reads BatchNorm's state only, not the weights.
    async fn bn_params(&mut self) -> Result<BnParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let mut bn = BnParams { gamma: Default::default(), beta: Default::default(), running: None };
        let mut running: [RunningStats; LAYERS] = Default::default();
        for l in 0..LAYERS {
            let q = 2 * l + 1;
            bn.gamma[l] = self.params.w[q].read(ctx).await?;
            bn.beta[l] = self.params.b[q].read(ctx).await?;
            let (mean, var) = self.params.running[q].as_ref().expect("every BatchNorm slot keeps running statistics (see new)");
            running[l] = RunningStats { mean: mean.read(ctx).await?, var: var.read(ctx).await? };
        }
        bn.running = Some(running);
        Ok(bn)
    }

    /// Writes BatchNorm's state only.
    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        bn.check(self.cfg.sizes())?;
        for l in 0..LAYERS {
            let q = 2 * l + 1;
            self.params.w[q].write(&self.ctx, &bn.gamma[l]);
            self.params.b[q].write(&self.ctx, &bn.beta[l]);
            if let (Some(running), Some((mean, var))) = (&bn.running, &self.params.running[q]) {
                mean.write(&self.ctx, &running[l].mean);
                var.write(&self.ctx, &running[l].var);
            }
        }
        Ok(())
    }

    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        for (x, y) in batches {
            self.cfg.check_batch(x, y)?;
        }
        if self.ewc.is_none() {
            let (ctx, k, p) = (self.ctx.as_ref(), &self.kernels, &self.params);
            let keys: Vec<TensorKey> = (0..LAYERS).map(hidden_weights).collect();
            let zeros = |key: &TensorKey| GpuTensor::zeros(ctx, find(p, *key).0.len);
            let fisher: Vec<GpuTensor> = keys.iter().map(zeros).collect();
            let anchor: Vec<GpuTensor> = keys.iter().map(zeros).collect();
            let penalty = keys
                .iter()
                .zip(fisher.iter().zip(&anchor))
                .map(|(&key, (f, a))| {
                    let (w, g) = find(p, key);
                    k.ewc.bind_penalty_grad(ctx, self.cfg.ewc_lambda, self.cfg.weights == Weights::Binary, w, f, a, g)
                })
                .collect();
            let f = keys.iter().map(zeros).collect();
            self.ewc = Some(Ewc { keys, fisher, anchor, f, penalty });
        }
        let (ctx, k, p, layers) = (self.ctx.as_ref(), &self.kernels, &self.params, &self.layers);
        let ewc = self.ewc.as_ref().expect("made above");
        let mut sums: Vec<Option<&GpuTensor>> = vec![None; p.w.len()];
        for (&key, f) in ewc.keys.iter().zip(&ewc.f) {
            let TensorKey::Weight(slot) = key else { unreachable!("EWC penalises weights") };
            sums[slot] = Some(f);
        }
        // Bound per consolidation (once per task, not per step), one per batch size.
        let scratch_stats = GpuTensor::zeros(ctx, STATS_WORDS);
        let mut passes: HashMap<usize, LossPass> = HashMap::new();
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fisher") });
        for f in &ewc.f {
            encoder.clear_buffer(&f.buffer, 0, None);
        }
        let mut count = 0;
        // One submit per batch: the batch's upload (`write_buffer`) lands before its submit.
        for (x, y) in batches {
            let batch = y.len();
            let pass = passes.entry(batch).or_insert_with(|| {
                let mut hook = FisherHook { ewc: &k.ewc, matmul: &k.layers.matmul, sums: sums.clone(), scale: batch as f32 };
                LossPass::new(ctx, k, p, layers, batch, Pass::Inference, &scratch_stats, &mut hook)
            });
            pass.upload(ctx, x, y);
            pass.encode_forward(&mut encoder, false);
            pass.walk.encode_backward(&mut encoder);
            let done = std::mem::replace(&mut encoder, ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fisher") }));
            ctx.submit([done.finish()]);
            count += batch;
        }
        let scale = 1.0 / count.max(1) as f32;
        for (i, &key) in ewc.keys.iter().enumerate() {
            k.ewc.bind_consolidate(ctx, scale, self.cfg.weights == Weights::Binary, find(p, key).0, &ewc.f[i], &ewc.fisher[i], &ewc.anchor[i]).encode(&mut encoder);
        }
        ctx.submit([encoder.finish()]);
        Ok(())
    }
}
