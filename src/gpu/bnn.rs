//! The binarized network trained on the GPU: the same math as the CPU reference
//! [`crate::cpu::bnn::CpuBnn`], with every weight, moment, activation and gradient in GPU buffers.
//!
//! A training step is one command buffer and one submit, with no readback:
//! binarize `Wb = sign(Wh)` → forward (`h Wbᵀ`, BatchNorm, sign) → softmax cross-entropy →
//! backward (BatchNorm, `dW = daᵀ h`, `dh = da Wb`, straight-through sign) → EWC penalty →
//! metaplastic Adam on each `Wh`, plain Adam on gamma and beta → loss and accuracy added to a
//! statistics buffer that [`BnnTrainer::take_train_stats`] reads.
//!
//! Buffers and bind groups are made once: the parameters and optimizer state in [`GpuBnn::new`],
//! the activations of a batch size the first time that size is seen (the training batch at once,
//! evaluation batches when first evaluated). A step only writes the batch and the optimizer's
//! bias corrections with `queue.write_buffer` and records dispatches.

use super::batchnorm::BatchNormKernel;
use super::ewc::EwcKernel;
use super::kernel::Dispatch;
use super::matmul::MatmulKernel;
use super::metaplastic_adam::{AdamCall, AdamKernel};
use super::sign::SignKernel;
use super::softmax_ce::{ROW_STATS_WORDS, STATS_WORDS, SoftmaxCeKernel, decode_stats};
use super::{GpuContext, GpuTensor};
use crate::nn::MatmulShape;
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer, LAYERS};
use crate::nn::{BatchStats, TrainError};
use std::collections::HashMap;
use std::rc::Rc;

/// Every pipeline the network uses, made once per device.
struct Kernels {
    matmul: MatmulKernel,
    sign: SignKernel,
    batchnorm: BatchNormKernel,
    softmax: SoftmaxCeKernel,
    adam: AdamKernel,
    ewc: EwcKernel,
}

/// Adam's moments of one parameter array.
struct Moments {
    m1: GpuTensor,
    m2: GpuTensor,
}

impl Moments {
    fn zeros(ctx: &GpuContext, n: usize) -> Self {
        Self { m1: GpuTensor::zeros(ctx, n), m2: GpuTensor::zeros(ctx, n) }
    }
}

/// What does not depend on the batch size: parameters, their gradients, optimizer state.
struct Net {
    wh: [GpuTensor; LAYERS],
    /// `sign(Wh)`, recomputed at the start of every step and evaluation.
    wb: [GpuTensor; LAYERS],
    gamma: [GpuTensor; LAYERS],
    beta: [GpuTensor; LAYERS],
    /// Gradients with respect to the binary weights (then the EWC penalty is added), gamma, beta.
    dw: [GpuTensor; LAYERS],
    dgamma: [GpuTensor; LAYERS],
    dbeta: [GpuTensor; LAYERS],
    opt_w: [Moments; LAYERS],
    opt_gamma: [Moments; LAYERS],
    opt_beta: [Moments; LAYERS],
    binarize: [Dispatch; LAYERS],
    adam_w: [AdamCall; LAYERS],
    adam_gamma: [AdamCall; LAYERS],
    adam_beta: [AdamCall; LAYERS],
}

impl Net {
    fn new(ctx: &GpuContext, k: &Kernels, cfg: &BnnConfig, p: &BnnParams) -> Self {
        let sizes = p.sizes;
        let wh: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::from_slice(ctx, &p.wh[l]));
        let gamma: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::from_slice(ctx, &p.gamma[l]));
        let beta: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::from_slice(ctx, &p.beta[l]));
        let weights = |l: usize| sizes[l] * sizes[l + 1];
        let wb: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::zeros(ctx, weights(l)));
        let dw: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::zeros(ctx, weights(l)));
        let dgamma: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::zeros(ctx, sizes[l + 1]));
        let dbeta: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::zeros(ctx, sizes[l + 1]));
        let opt_w: [Moments; LAYERS] = std::array::from_fn(|l| Moments::zeros(ctx, weights(l)));
        let opt_gamma: [Moments; LAYERS] = std::array::from_fn(|l| Moments::zeros(ctx, sizes[l + 1]));
        let opt_beta: [Moments; LAYERS] = std::array::from_fn(|l| Moments::zeros(ctx, sizes[l + 1]));
        let adam = |w: &GpuTensor, g: &GpuTensor, o: &Moments, h| k.adam.bind(ctx, w, g, &o.m1, &o.m2, &h);
        Self {
            binarize: std::array::from_fn(|l| k.sign.bind_binarize(ctx, &wh[l], &wb[l])),
            adam_w: std::array::from_fn(|l| adam(&wh[l], &dw[l], &opt_w[l], cfg.hyper(l))),
            adam_gamma: std::array::from_fn(|l| adam(&gamma[l], &dgamma[l], &opt_gamma[l], cfg.bn_hyper())),
            adam_beta: std::array::from_fn(|l| adam(&beta[l], &dbeta[l], &opt_beta[l], cfg.bn_hyper())),
            wh,
            wb,
            gamma,
            beta,
            dw,
            dgamma,
            dbeta,
            opt_w,
            opt_gamma,
            opt_beta,
        }
    }
}

/// Activation buffers and bound calls for one batch size. Only the buffers the host writes are
/// kept here; the bind groups keep the others (activations, caches, gradients) alive.
struct Pass {
    x: GpuTensor,
    /// `batch` u32 labels.
    labels: GpuTensor,
    linear: [Dispatch; LAYERS],
    norm: [Dispatch; LAYERS],
    act: [Dispatch; LAYERS - 1],
    softmax: Dispatch,
    accumulate: Dispatch,
    backward: Option<Backward>,
}

/// The backward pass's calls (training batch sizes only).
struct Backward {
    norm: [Dispatch; LAYERS],
    weight_grad: [Dispatch; LAYERS],
    input_grad: [Dispatch; LAYERS - 1],
    act: [Dispatch; LAYERS - 1],
}

impl Pass {
    /// Buffers for `batch` examples, bound to `net`; the statistics go to `stats`.
    ///
    /// Layer `l` reads `h_l` (`x` for layer 0, else `sign(z_{l-1})`), computes `pre_bn_l = h_l Wbᵀ`
    /// and `z_l = BN_l(pre_bn_l)`, saving `xhat_l`, `inv_std_l`; `z_2` are the logits.
    fn new(ctx: &GpuContext, k: &Kernels, net: &Net, sizes: [usize; LAYERS + 1], batch: usize, backward: bool, stats: &GpuTensor) -> Self {
        let out = |l: usize| GpuTensor::zeros(ctx, batch * sizes[l + 1]);
        let x = GpuTensor::zeros(ctx, batch * sizes[0]);
        let labels = GpuTensor::zeros(ctx, batch);
        let pre_bn: [GpuTensor; LAYERS] = std::array::from_fn(out);
        let z: [GpuTensor; LAYERS] = std::array::from_fn(out);
        let xhat: [GpuTensor; LAYERS] = std::array::from_fn(out);
        let inv_std: [GpuTensor; LAYERS] = std::array::from_fn(|l| GpuTensor::zeros(ctx, sizes[l + 1]));
        // `h[l]` is the input of layer `l + 1`.
        let h: [GpuTensor; LAYERS - 1] = std::array::from_fn(out);
        let input = |l: usize| if l == 0 { &x } else { &h[l - 1] };
        let classes = sizes[LAYERS];
        let dlogits = GpuTensor::zeros(ctx, batch * classes);
        let row_stats = GpuTensor::zeros(ctx, batch * ROW_STATS_WORDS);
        let linear = std::array::from_fn(|l| {
            let shape = MatmulShape::new(batch, sizes[l], sizes[l + 1]).trans_b();
            k.matmul.bind(ctx, shape, input(l), &net.wb[l], &pre_bn[l])
        });
        let norm = std::array::from_fn(|l| {
            k.batchnorm.bind_forward(ctx, sizes[l + 1], &pre_bn[l], &net.gamma[l], &net.beta[l], &z[l], &xhat[l], &inv_std[l])
        });
        let act = std::array::from_fn(|l| k.sign.bind_forward(ctx, &z[l], &h[l]));
        let softmax = k.softmax.bind_rows(ctx, classes, &z[LAYERS - 1], &labels, &dlogits, &row_stats);
        let accumulate = k.softmax.bind_accumulate(ctx, &row_stats, stats);
        let backward = backward.then(|| {
            // `da[l]`: gradient at the output of linear layer `l`; `dh[l]`, `dz[l]`: with respect
            // to `h[l]` and `z[l]` (the logits' gradient is `dlogits`).
            let da: [GpuTensor; LAYERS] = std::array::from_fn(out);
            let dh: [GpuTensor; LAYERS - 1] = std::array::from_fn(out);
            let dz: [GpuTensor; LAYERS - 1] = std::array::from_fn(out);
            let dy = |l: usize| if l == LAYERS - 1 { &dlogits } else { &dz[l] };
            Backward {
                norm: std::array::from_fn(|l| {
                    let (g, b) = (&net.dgamma[l], &net.dbeta[l]);
                    k.batchnorm.bind_backward(ctx, sizes[l + 1], dy(l), &xhat[l], &inv_std[l], &net.gamma[l], &da[l], g, b, false)
                }),
                // dW_l = da_lᵀ h_l: (fan_out x batch) · (batch x fan_in).
                weight_grad: std::array::from_fn(|l| {
                    let shape = MatmulShape::new(sizes[l + 1], batch, sizes[l]).trans_a();
                    k.matmul.bind(ctx, shape, &da[l], input(l), &net.dw[l])
                }),
                // dh_{l-1} = da_l Wb_l: (batch x fan_out) · (fan_out x fan_in), for l = 1, 2.
                input_grad: std::array::from_fn(|i| {
                    let l = i + 1;
                    let shape = MatmulShape::new(batch, sizes[l + 1], sizes[l]);
                    k.matmul.bind(ctx, shape, &da[l], &net.wb[l], &dh[i])
                }),
                act: std::array::from_fn(|l| k.sign.bind_backward(ctx, &z[l], &dh[l], &dz[l])),
            }
        });
        Self { x, labels, linear, norm, act, softmax, accumulate, backward }
    }

    /// Forward pass and softmax cross-entropy (its gradient in `dlogits`); with `accumulate`, the
    /// batch's loss and accuracy are added to the statistics buffer.
    fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder, accumulate: bool) {
        for l in 0..LAYERS {
            self.linear[l].encode(encoder);
            self.norm[l].encode(encoder);
            if l + 1 < LAYERS {
                self.act[l].encode(encoder);
            }
        }
        self.softmax.encode(encoder);
        if accumulate {
            self.accumulate.encode(encoder);
        }
    }

    /// Backward pass from `dlogits` to the gradients of the net's weights, gamma and beta.
    fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        let b = self.backward.as_ref().expect("a training pass is made with its backward buffers");
        for l in (0..LAYERS).rev() {
            b.norm[l].encode(encoder);
            b.weight_grad[l].encode(encoder);
            if l > 0 {
                b.input_grad[l - 1].encode(encoder);
                b.act[l - 1].encode(encoder);
            }
        }
    }

    fn upload(&self, ctx: &GpuContext, x: &[f32], y: &[u32]) {
        self.x.write(ctx, x);
        self.labels.write_u32(ctx, y);
    }
}

/// EWC state on the GPU: `F = sum_t F_t`, `FW = sum_t F_t W*_t` per layer, the scratch for one
/// task's Fisher estimate, and the penalty bound to the weight gradients.
struct Ewc {
    fisher: [GpuTensor; LAYERS],
    anchor: [GpuTensor; LAYERS],
    f: [GpuTensor; LAYERS],
    penalty: [Dispatch; LAYERS],
}

/// The binarized network on a GPU. It shares the app's [`GpuContext`] through an `Rc` (the
/// browser is single-threaded and the context is not `Clone`); every method first checks that the
/// device is alive and returns [`crate::gpu::DeviceError::Lost`] otherwise, so the caller can
/// fall back to the CPU with the last parameters it read.
pub struct GpuBnn {
    ctx: Rc<GpuContext>,
    cfg: BnnConfig,
    kernels: Kernels,
    net: Net,
    /// Backward-capable passes by batch size, the training batch made at once; their statistics go
    /// to `train_stats`.
    grad_passes: HashMap<usize, Pass>,
    /// Forward-only passes by batch size, their statistics to `eval_stats` (cleared per evaluation).
    eval_passes: HashMap<usize, Pass>,
    train_stats: GpuTensor,
    eval_stats: GpuTensor,
    ewc: Option<Ewc>,
    /// Adam's step count `t`, 1 for the first update after a reset.
    step: u32,
}

impl GpuBnn {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` examples uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: BnnConfig, params: BnnParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        if params.sizes != cfg.sizes() {
            return Err(TrainError::Config(format!("parameters of sizes {:?} for a network of {:?}", params.sizes, cfg.sizes())));
        }
        let c = ctx.as_ref();
        let kernels = Kernels {
            matmul: MatmulKernel::new(c),
            sign: SignKernel::new(c),
            batchnorm: BatchNormKernel::new(c),
            softmax: SoftmaxCeKernel::new(c),
            adam: AdamKernel::new(c),
            ewc: EwcKernel::new(c),
        };
        let net = Net::new(c, &kernels, &cfg, &params);
        let train_stats = GpuTensor::zeros(c, STATS_WORDS);
        let eval_stats = GpuTensor::zeros(c, STATS_WORDS);
        let train = Pass::new(c, &kernels, &net, cfg.sizes(), cfg.batch, true, &train_stats);
        let grad_passes = HashMap::from([(cfg.batch, train)]);
        Ok(Self { ctx, cfg, kernels, net, grad_passes, eval_passes: HashMap::new(), train_stats, eval_stats, ewc: None, step: 0 })
    }

    /// Checks a batch's shape and labels, returning its size.
    fn check_batch(&self, x: &[f32], y: &[u32]) -> Result<usize, TrainError> {
        let sizes = self.cfg.sizes();
        let batch = y.len();
        if batch == 0 || x.len() != batch * sizes[0] {
            return Err(TrainError::Config(format!("a batch of {} labels needs {} pixels, got {}", batch, batch * sizes[0], x.len())));
        }
        if let Some(bad) = y.iter().find(|&&label| label as usize >= sizes[LAYERS]) {
            return Err(TrainError::Config(format!("label {bad} is not below {}", sizes[LAYERS])));
        }
        Ok(batch)
    }

    /// Makes the backward-capable pass for `batch` examples the first time that size is seen.
    fn make_grad_pass(&mut self, batch: usize) {
        let (ctx, k, net, sizes, stats) = (self.ctx.as_ref(), &self.kernels, &self.net, self.cfg.sizes(), &self.train_stats);
        self.grad_passes.entry(batch).or_insert_with(|| Pass::new(ctx, k, net, sizes, batch, true, stats));
    }

    fn encode_binarize(&self, encoder: &mut wgpu::CommandEncoder) {
        for call in &self.net.binarize {
            call.encode(encoder);
        }
    }
}

impl BnnTrainer for GpuBnn {
    fn config(&self) -> &BnnConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.check_batch(x, y)?;
        self.make_grad_pass(batch);
        let ctx = self.ctx.as_ref();
        let pass = &self.grad_passes[&batch];
        pass.upload(ctx, x, y);
        self.step += 1;
        for l in 0..LAYERS {
            self.net.adam_w[l].set_hyper(ctx, &self.cfg.hyper(l).at_step(self.step));
            let hb = self.cfg.bn_hyper().at_step(self.step);
            self.net.adam_gamma[l].set_hyper(ctx, &hb);
            self.net.adam_beta[l].set_hyper(ctx, &hb);
        }
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("train step") });
        self.encode_binarize(&mut encoder);
        pass.encode_forward(&mut encoder, true);
        pass.encode_backward(&mut encoder);
        for l in 0..LAYERS {
            if let Some(ewc) = &self.ewc {
                ewc.penalty[l].encode(&mut encoder);
            }
            self.net.adam_w[l].encode(&mut encoder);
            self.net.adam_gamma[l].encode(&mut encoder);
            self.net.adam_beta[l].encode(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_stats.read(&self.ctx).await?;
        // Lands before the next submit, after the copy just read.
        self.ctx.queue.write_buffer(&self.train_stats.buffer, 0, &[0u8; STATS_WORDS * 4]);
        Ok(decode_stats(&words))
    }

    async fn evaluate(&mut self, x: &[f32], y: &[u32]) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let batch = self.check_batch(x, y)?;
        let ctx = self.ctx.as_ref();
        let (k, net, sizes, stats) = (&self.kernels, &self.net, self.cfg.sizes(), &self.eval_stats);
        let pass = self.eval_passes.entry(batch).or_insert_with(|| Pass::new(ctx, k, net, sizes, batch, false, stats));
        pass.upload(ctx, x, y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("evaluate") });
        encoder.clear_buffer(&self.eval_stats.buffer, 0, None);
        for call in &self.net.binarize {
            call.encode(&mut encoder);
        }
        pass.encode_forward(&mut encoder, true);
        ctx.queue.submit([encoder.finish()]);
        let words = self.eval_stats.read(ctx).await?;
        Ok(decode_stats(&words))
    }

    async fn params(&mut self) -> Result<BnnParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let mut p = BnnParams {
            sizes: self.cfg.sizes(),
            wh: Default::default(),
            gamma: Default::default(),
            beta: Default::default(),
        };
        for l in 0..LAYERS {
            p.wh[l] = self.net.wh[l].read(ctx).await?;
            p.gamma[l] = self.net.gamma[l].read(ctx).await?;
            p.beta[l] = self.net.beta[l].read(ctx).await?;
        }
        Ok(p)
    }

    fn load_params(&mut self, params: &BnnParams) {
        assert_eq!(params.sizes, self.cfg.sizes(), "parameters must fit the network");
        for l in 0..LAYERS {
            self.net.wh[l].write(&self.ctx, &params.wh[l]);
            self.net.gamma[l].write(&self.ctx, &params.gamma[l]);
            self.net.beta[l].write(&self.ctx, &params.beta[l]);
        }
    }

    fn reset_optimizer(&mut self) {
        self.step = 0;
        let mut encoder = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("reset optimizer") });
        for o in self.net.opt_w.iter().chain(&self.net.opt_gamma).chain(&self.net.opt_beta) {
            encoder.clear_buffer(&o.m1.buffer, 0, None);
            encoder.clear_buffer(&o.m2.buffer, 0, None);
        }
        self.ctx.queue.submit([encoder.finish()]);
    }

    /// Reads gamma and beta only, not the weights.
    async fn bn_params(&mut self) -> Result<BnParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let mut bn = BnParams { gamma: Default::default(), beta: Default::default() };
        for l in 0..LAYERS {
            bn.gamma[l] = self.net.gamma[l].read(ctx).await?;
            bn.beta[l] = self.net.beta[l].read(ctx).await?;
        }
        Ok(bn)
    }

    /// Writes gamma and beta only.
    async fn load_bn(&mut self, bn: &BnParams) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let sizes = self.cfg.sizes();
        for l in 0..LAYERS {
            if bn.gamma[l].len() != sizes[l + 1] || bn.beta[l].len() != sizes[l + 1] {
                return Err(TrainError::Config(format!("BatchNorm parameters of layer {l} do not have {} features", sizes[l + 1])));
            }
        }
        for l in 0..LAYERS {
            self.net.gamma[l].write(&self.ctx, &bn.gamma[l]);
            self.net.beta[l].write(&self.ctx, &bn.beta[l]);
        }
        Ok(())
    }

    async fn consolidate_ewc(&mut self, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        for (x, y) in batches {
            self.check_batch(x, y)?;
        }
        let sizes = self.cfg.sizes();
        if self.ewc.is_none() {
            let (ctx, k, net) = (self.ctx.as_ref(), &self.kernels, &self.net);
            let zeros = |l: usize| GpuTensor::zeros(ctx, sizes[l] * sizes[l + 1]);
            let fisher: [GpuTensor; LAYERS] = std::array::from_fn(zeros);
            let anchor: [GpuTensor; LAYERS] = std::array::from_fn(zeros);
            let penalty = std::array::from_fn(|l| k.ewc.bind_penalty_grad(ctx, self.cfg.ewc_lambda, &net.wh[l], &fisher[l], &anchor[l], &net.dw[l]));
            self.ewc = Some(Ewc { fisher, anchor, f: std::array::from_fn(zeros), penalty });
        }
        for (_, y) in batches {
            self.make_grad_pass(y.len());
        }
        let ctx = self.ctx.as_ref();
        let ewc = self.ewc.as_ref().expect("made above");
        // Bound per consolidation (once per task, not per step): the mean's divisor is the number of batches.
        let accumulate: [Dispatch; LAYERS] = std::array::from_fn(|l| self.kernels.ewc.bind_accumulate(ctx, batches.len(), &self.net.dw[l], &ewc.f[l]));
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fisher") });
        for f in &ewc.f {
            encoder.clear_buffer(&f.buffer, 0, None);
        }
        self.encode_binarize(&mut encoder);
        // One submit per batch: the batch's upload (`write_buffer`) lands before its submit.
        for (x, y) in batches {
            let pass = &self.grad_passes[&y.len()];
            pass.upload(ctx, x, y);
            pass.encode_forward(&mut encoder, false);
            pass.encode_backward(&mut encoder);
            for call in &accumulate {
                call.encode(&mut encoder);
            }
            let done = std::mem::replace(&mut encoder, ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fisher") }));
            ctx.queue.submit([done.finish()]);
        }
        for l in 0..LAYERS {
            self.kernels.ewc.bind_consolidate(ctx, &self.net.wh[l], &ewc.f[l], &ewc.fisher[l], &ewc.anchor[l]).encode(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        Ok(())
    }
}
