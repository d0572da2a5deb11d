//! LeNet-5 trained on the GPU: the same math as the CPU reference [`crate::cpu::lenet::CpuLenet`],
//! walking the same layer list ([`crate::model::lenet::plan`]), with every parameter, activation
//! and gradient in GPU buffers.
//!
//! A training step is one command buffer and one submit, with no readback: for each layer its
//! forward dispatches (a convolution is im2col, `cols · Wᵀ`, bias) → softmax cross-entropy and the
//! batch's statistics → the backward dispatches in reverse (under the metaplastic rule a
//! convolution's factors and its weighted output gradient first) → SGD on every parameter array.
//!
//! Buffers and bind groups are made once: parameters, gradients and velocities in
//! [`GpuLenet::new`]; the activations of a batch size the first time that size is seen (the
//! training batch at once, evaluation batches on first use). A step only writes the batch, its
//! labels and the dropout seeds with `queue.write_buffer` and records dispatches.

use super::activation::ActivationKernel;
use super::amp::AmpKernel;
use super::batchnorm::BatchNormKernel;
use super::conv::ConvKernel;
use super::dropout::{DropoutCall, DropoutKernel};
use super::kernel::Dispatch;
use super::matmul::{MatmulKernel, check_fits};
use super::pool::PoolKernel;
use super::sgd::SgdKernel;
use super::softmax_ce::{ROW_STATS_WORDS, STATS_WORDS, SoftmaxCeKernel, decode_stats};
use super::{GpuContext, GpuTensor};
use crate::cpu::conv::ConvShape;
use crate::cpu::lenet::check_params;
use crate::cpu::matmul::MatmulShape;
use crate::cpu::pool::{PoolKind, PoolShape};
use crate::data::NUM_CLASSES;
use crate::model::lenet::{FactorSource, Layer, LayerParams, LayerSpec, LenetConfig, LenetParams, LenetTrainer, plan};
use crate::model::{BatchStats, TrainError};
use std::collections::HashMap;
use std::rc::Rc;

/// Every pipeline the network uses, made once per device.
struct Kernels {
    matmul: MatmulKernel,
    conv: ConvKernel,
    pool: PoolKernel,
    act: ActivationKernel,
    batchnorm: BatchNormKernel,
    dropout: DropoutKernel,
    softmax: SoftmaxCeKernel,
    sgd: SgdKernel,
    amp: AmpKernel,
}

/// What does not depend on the batch size: per layer with parameters, its weights and biases
/// (gamma and beta for batch norm), their gradients, and the bound updates (whose bind groups
/// keep the momentum buffers).
struct Net {
    w: Vec<GpuTensor>,
    b: Vec<GpuTensor>,
    gw: Vec<GpuTensor>,
    gb: Vec<GpuTensor>,
    sgd: Vec<Dispatch>,
}

impl Net {
    fn new(ctx: &GpuContext, k: &Kernels, cfg: &LenetConfig, params: &LenetParams) -> Self {
        let upload = |v: &[f32]| GpuTensor::from_slice(ctx, v);
        let zeros = |v: &[f32]| GpuTensor::zeros(ctx, v.len());
        let each = |f: &dyn Fn(&LayerParams) -> GpuTensor| params.layers.iter().map(f).collect::<Vec<_>>();
        let (w, b) = (each(&|p| upload(&p.w)), each(&|p| upload(&p.b)));
        let (gw, gb) = (each(&|p| zeros(&p.w)), each(&|p| zeros(&p.b)));
        let (vw, vb) = (each(&|p| zeros(&p.w)), each(&|p| zeros(&p.b)));
        let h = cfg.sgd();
        let sgd = (0..w.len())
            .flat_map(|p| [k.sgd.bind(ctx, &h, &w[p], &gw[p], &vw[p]), k.sgd.bind(ctx, &h, &b[p], &gb[p], &vb[p])])
            .collect();
        Self { w, b, gw, gb, sgd }
    }
}

/// One recorded step of the forward pass.
enum Op {
    Call(Dispatch),
    /// Training dropout of layer `layer`, whose seed is the step's seed plus `layer`.
    Dropout { layer: u32, call: DropoutCall },
}

/// The training-only part of a pass.
struct Training {
    labels: GpuTensor,
    softmax: Dispatch,
    accumulate: Dispatch,
    backward: Vec<Dispatch>,
    /// One vector of `batch` factors per convolutional layer, in layer order (amp only).
    factors: Vec<GpuTensor>,
}

/// Activation buffers and bound calls for one batch size. Only the buffers the host writes or
/// reads are named; the bind groups keep the others (caches, gradients) alive.
struct Pass {
    x: Rc<GpuTensor>,
    logits: Rc<GpuTensor>,
    forward: Vec<Op>,
    training: Option<Training>,
}

/// What a layer's forward pass keeps for its backward pass.
#[derive(Default)]
struct Saved {
    /// A convolution's `cols`, batch norm's `xhat`, dropout's mask.
    aux: Option<GpuTensor>,
    inv_std: Option<GpuTensor>,
    argmax: Option<GpuTensor>,
}

impl Saved {
    const KEPT: &str = "the forward pass of a training pass keeps what its backward pass reads";

    fn aux(&self) -> &GpuTensor {
        self.aux.as_ref().expect(Self::KEPT)
    }
    fn inv_std(&self) -> &GpuTensor {
        self.inv_std.as_ref().expect(Self::KEPT)
    }
    fn argmax(&self) -> &GpuTensor {
        self.argmax.as_ref().expect(Self::KEPT)
    }
}

fn conv_shape(l: &Layer, batch: usize) -> ConvShape {
    let LayerSpec::Conv { out, k, pad } = l.spec else { unreachable!("conv_shape of a {:?} layer", l.spec) };
    ConvShape::new(batch, l.input.h, l.input.w, l.input.c, out, k, pad)
}

fn param_index(l: &Layer) -> usize {
    l.param.expect("plan numbers every layer with parameters")
}

impl Pass {
    /// Buffers and calls for `batch` examples. `stats` is `Some` for a training pass (which then
    /// has labels, the loss and the backward pass), `None` for evaluation (no dropout).
    fn new(ctx: &GpuContext, k: &Kernels, net: &Net, cfg: &LenetConfig, layers: &[Layer], batch: usize, stats: Option<&GpuTensor>) -> Self {
        let train = stats.is_some();
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        // acts[0] is the images, acts[i + 1] the output of layer i; evaluation's dropout passes
        // its input on, so an entry may be shared.
        let mut acts: Vec<Rc<GpuTensor>> = vec![Rc::new(zeros(batch * layers[0].input.len()))];
        let mut saved: Vec<Saved> = Vec::with_capacity(layers.len());
        let mut forward = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let input = acts[i].clone();
            let out_len = batch * l.output.len();
            let mut keep = Saved::default();
            let output = match l.spec {
                LayerSpec::Conv { out: cout, .. } => {
                    let (s, p, y) = (conv_shape(l, batch), param_index(l), zeros(out_len));
                    let cols = zeros(s.rows() * s.patch());
                    forward.push(Op::Call(k.conv.bind_im2col(ctx, s, &input, &cols)));
                    forward.push(Op::Call(k.matmul.bind(ctx, MatmulShape::new(s.rows(), s.patch(), cout).trans_b(), &cols, &net.w[p], &y)));
                    forward.push(Op::Call(k.conv.bind_add_bias(ctx, &y, &net.b[p])));
                    keep.aux = Some(cols);
                    Rc::new(y)
                }
                LayerSpec::Dense { out: fout } => {
                    let (p, y) = (param_index(l), zeros(out_len));
                    forward.push(Op::Call(k.matmul.bind(ctx, MatmulShape::new(batch, l.input.len(), fout).trans_b(), &input, &net.w[p], &y)));
                    forward.push(Op::Call(k.conv.bind_add_bias(ctx, &y, &net.b[p])));
                    Rc::new(y)
                }
                LayerSpec::Act(act) => {
                    let y = zeros(out_len);
                    forward.push(Op::Call(k.act.bind_forward(ctx, act, &input, &y)));
                    Rc::new(y)
                }
                LayerSpec::Pool(kind) => {
                    let s = PoolShape::new(batch, l.input.h, l.input.w, l.input.c);
                    let y = zeros(out_len);
                    let argmax = (kind == PoolKind::Max).then(|| zeros(out_len));
                    forward.push(Op::Call(k.pool.bind_forward(ctx, s, kind, &input, &y, argmax.as_ref())));
                    keep.argmax = argmax;
                    Rc::new(y)
                }
                LayerSpec::BatchNorm => {
                    let (p, c) = (param_index(l), l.output.c);
                    let (y, xhat, inv_std) = (zeros(out_len), zeros(out_len), zeros(c));
                    forward.push(Op::Call(k.batchnorm.bind_forward(ctx, c, &input, &net.w[p], &net.b[p], &y, &xhat, &inv_std)));
                    (keep.aux, keep.inv_std) = (Some(xhat), Some(inv_std));
                    Rc::new(y)
                }
                LayerSpec::Dropout(p) if train => {
                    let (y, mask) = (zeros(out_len), zeros(out_len));
                    let call = k.dropout.bind_forward(ctx, p, i as u32, &input, &y, &mask);
                    forward.push(Op::Dropout { layer: i as u32, call });
                    keep.aux = Some(mask);
                    Rc::new(y)
                }
                LayerSpec::Dropout(_) => input.clone(),
            };
            acts.push(output);
            saved.push(keep);
        }
        let logits = acts[layers.len()].clone();
        let training = stats.map(|stats| Self::training(ctx, k, net, cfg, layers, batch, &acts, &saved, stats));
        Self { x: acts[0].clone(), logits, forward, training }
    }

    /// Softmax cross-entropy, statistics and the backward pass, walking the layers in reverse as
    /// [`crate::cpu::lenet::backward`] does.
    #[allow(clippy::too_many_arguments)]
    fn training(
        ctx: &GpuContext,
        k: &Kernels,
        net: &Net,
        cfg: &LenetConfig,
        layers: &[Layer],
        batch: usize,
        acts: &[Rc<GpuTensor>],
        saved: &[Saved],
        stats: &GpuTensor,
    ) -> Training {
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        let n = layers.len();
        let labels = zeros(batch);
        let dlogits = zeros(batch * NUM_CLASSES);
        let row_stats = zeros(batch * ROW_STATS_WORDS);
        let softmax = k.softmax.bind_rows(ctx, NUM_CLASSES, &acts[n], &labels, &dlogits, &row_stats);
        let accumulate = k.softmax.bind_accumulate(ctx, &row_stats, stats);
        let convs = layers.iter().filter(|l| matches!(l.spec, LayerSpec::Conv { .. })).count();
        let factors: Vec<GpuTensor> = if cfg.amp.is_some() { (0..convs).map(|_| zeros(batch)).collect() } else { Vec::new() };
        let mut conv_index = convs;
        let mut backward = Vec::new();
        // The gradient at the output of the layer being walked.
        let mut d = dlogits;
        for (i, l) in layers.iter().enumerate().rev() {
            // The input gradient of layer 0 is never used, but batch norm computes it with its
            // parameter gradients, so it gets a buffer.
            let needs_dx = i > 0;
            let dx = zeros(if needs_dx || l.spec == LayerSpec::BatchNorm { acts[i].len } else { 0 });
            match l.spec {
                LayerSpec::Conv { out: cout, .. } => {
                    conv_index -= 1;
                    let (s, p) = (conv_shape(l, batch), param_index(l));
                    let cols = saved[i].aux();
                    let scaled = cfg.amp.map(|amp| {
                        let source = match amp.source {
                            FactorSource::LayerInput => &acts[i],
                            FactorSource::NetworkInput => &acts[0],
                        };
                        let f = &factors[conv_index];
                        let calls = k.amp.bind_factors(ctx, &amp.hyper, source, &zeros(batch), f);
                        backward.push(calls.energy);
                        backward.push(calls.normalize);
                        let out = zeros(d.len);
                        backward.push(k.amp.bind_scale_rows(ctx, cout, s.out_h() * s.out_w(), &d, f, &out));
                        out
                    });
                    let dy_w = scaled.as_ref().unwrap_or(&d);
                    backward.push(k.matmul.bind(ctx, MatmulShape::new(cout, s.rows(), s.patch()).trans_a(), dy_w, cols, &net.gw[p]));
                    backward.push(k.conv.bind_bias_grad(ctx, dy_w, &net.gb[p], false));
                    if needs_dx {
                        let dcols = zeros(s.rows() * s.patch());
                        backward.push(k.matmul.bind(ctx, MatmulShape::new(s.rows(), cout, s.patch()), &d, &net.w[p], &dcols));
                        backward.push(k.conv.bind_col2im(ctx, s, &dcols, &dx));
                    }
                }
                LayerSpec::Dense { out: fout } => {
                    let (p, fin) = (param_index(l), l.input.len());
                    backward.push(k.matmul.bind(ctx, MatmulShape::new(fout, batch, fin).trans_a(), &d, &acts[i], &net.gw[p]));
                    backward.push(k.conv.bind_bias_grad(ctx, &d, &net.gb[p], false));
                    if needs_dx {
                        backward.push(k.matmul.bind(ctx, MatmulShape::new(batch, fout, fin), &d, &net.w[p], &dx));
                    }
                }
                LayerSpec::BatchNorm => {
                    let p = param_index(l);
                    let (xhat, inv_std) = (saved[i].aux(), saved[i].inv_std());
                    backward.push(k.batchnorm.bind_backward(ctx, l.output.c, &d, xhat, inv_std, &net.w[p], &dx, &net.gw[p], &net.gb[p], false));
                }
                // Layers without parameters only pass the gradient down.
                _ if !needs_dx => {}
                LayerSpec::Act(act) => backward.push(k.act.bind_backward(ctx, act, &acts[i + 1], &d, &dx)),
                LayerSpec::Pool(kind) => {
                    let s = PoolShape::new(batch, l.input.h, l.input.w, l.input.c);
                    let argmax = (kind == PoolKind::Max).then(|| saved[i].argmax());
                    backward.push(k.pool.bind_backward(ctx, s, kind, &d, argmax, &dx));
                }
                LayerSpec::Dropout(_) => backward.push(k.dropout.bind_backward(ctx, saved[i].aux(), &d, &dx)),
            }
            d = dx;
        }
        Training { labels, softmax, accumulate, backward, factors }
    }

    fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        for op in &self.forward {
            match op {
                Op::Call(call) => call.encode(encoder),
                Op::Dropout { call, .. } => call.encode(encoder),
            }
        }
    }

    /// Each dropout layer's seed for the next step: `seed + layer index`, as the CPU draws it.
    fn set_seeds(&mut self, ctx: &GpuContext, seed: u32) {
        for op in &mut self.forward {
            if let Op::Dropout { layer, call } = op {
                call.set_seed(ctx, seed.wrapping_add(*layer));
            }
        }
    }
}

/// LeNet-5 on a GPU. It shares the app's [`GpuContext`] through an `Rc`; every method first
/// checks that the device is alive and returns [`crate::gpu::GpuError::DeviceLost`] otherwise,
/// so the caller can fall back to the CPU with the last parameters it read.
pub struct GpuLenet {
    ctx: Rc<GpuContext>,
    cfg: LenetConfig,
    layers: Vec<Layer>,
    kernels: Kernels,
    net: Net,
    /// Training passes by batch size, the configured batch made at once.
    grad_passes: HashMap<usize, Pass>,
    /// Forward-only passes by batch size.
    eval_passes: HashMap<usize, Pass>,
    /// Loss sum, correct count and count of the training batches since the last read.
    train_stats: GpuTensor,
    /// The batch size of the last training step, whose pass holds the last factors.
    last_batch: Option<usize>,
}

impl GpuLenet {
    /// Uploads `params` and allocates everything a training step of `cfg.batch` examples uses.
    pub fn new(ctx: Rc<GpuContext>, cfg: LenetConfig, params: LenetParams) -> Result<Self, TrainError> {
        ctx.check_alive()?;
        cfg.validate()?;
        let layers = plan(cfg.arch);
        check_params(&layers, &params)?;
        let c = ctx.as_ref();
        let kernels = Kernels {
            matmul: MatmulKernel::new(c),
            conv: ConvKernel::new(c),
            pool: PoolKernel::new(c),
            act: ActivationKernel::new(c),
            batchnorm: BatchNormKernel::new(c),
            dropout: DropoutKernel::new(c),
            softmax: SoftmaxCeKernel::new(c),
            sgd: SgdKernel::new(c),
            amp: AmpKernel::new(c),
        };
        let net = Net::new(c, &kernels, &cfg, &params);
        let train_stats = GpuTensor::zeros(c, STATS_WORDS);
        let mut lenet = Self { ctx, cfg, layers, kernels, net, grad_passes: HashMap::new(), eval_passes: HashMap::new(), train_stats, last_batch: None };
        lenet.check_fits(lenet.cfg.batch)?;
        lenet.make_grad_pass(lenet.cfg.batch);
        Ok(lenet)
    }

    /// Checks a batch's shape (and labels, when given), returning its size.
    fn check_batch(&self, x: &[f32], y: Option<&[u32]>) -> Result<usize, TrainError> {
        let pixels = self.layers[0].input.len();
        let batch = y.map_or(x.len() / pixels, <[u32]>::len);
        if batch == 0 || x.len() != batch * pixels {
            return Err(TrainError::Config(format!("{} pixels are not {batch} images of {pixels} (one per label, at least one)", x.len())));
        }
        if let Some(bad) = y.and_then(|y| y.iter().find(|&&label| label as usize >= NUM_CLASSES)) {
            return Err(TrainError::Config(format!("label {bad} is not below {NUM_CLASSES}")));
        }
        Ok(batch)
    }

    /// Refuses a batch size whose largest buffer or product would exceed the device's limits
    /// (a browser typically binds at most 128 MiB per storage buffer), before wgpu would panic
    /// on it.
    fn check_fits(&self, batch: usize) -> Result<(), TrainError> {
        let (mut largest, mut rows) = (batch * self.layers[0].input.len(), batch);
        for l in &self.layers {
            largest = largest.max(batch * l.output.len());
            if let LayerSpec::Conv { .. } = l.spec {
                let s = conv_shape(l, batch);
                // cols, and dcols of the same size when training.
                largest = largest.max(s.rows() * s.patch());
                rows = rows.max(s.rows());
            }
        }
        check_fits(&self.ctx, largest, rows, &format!("a batch of {batch}"), "use smaller batches")
    }

    fn make_grad_pass(&mut self, batch: usize) {
        let (ctx, k, net, cfg, layers, stats) = (self.ctx.as_ref(), &self.kernels, &self.net, &self.cfg, &self.layers, &self.train_stats);
        self.grad_passes.entry(batch).or_insert_with(|| Pass::new(ctx, k, net, cfg, layers, batch, Some(stats)));
    }
}

impl LenetTrainer for GpuLenet {
    fn config(&self) -> &LenetConfig {
        &self.cfg
    }

    fn train_step(&mut self, x: &[f32], y: &[u32], seed: u32) -> Result<(), TrainError> {
        self.ctx.check_alive()?;
        let batch = self.check_batch(x, Some(y))?;
        if !self.grad_passes.contains_key(&batch) {
            self.check_fits(batch)?;
            self.make_grad_pass(batch);
        }
        let ctx = self.ctx.as_ref();
        let pass = self.grad_passes.get_mut(&batch).expect("made above");
        pass.set_seeds(ctx, seed);
        let training = pass.training.as_ref().expect("a gradient pass has its training part");
        pass.x.write(ctx, x);
        training.labels.write_u32(ctx, y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("lenet train step") });
        pass.encode_forward(&mut encoder);
        training.softmax.encode(&mut encoder);
        training.accumulate.encode(&mut encoder);
        for call in training.backward.iter().chain(&self.net.sgd) {
            call.encode(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        self.last_batch = Some(batch);
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_stats.read(&self.ctx).await?;
        // Lands before the next submit, after the copy just read.
        self.ctx.queue.write_buffer(&self.train_stats.buffer, 0, &[0u8; STATS_WORDS * 4]);
        Ok(decode_stats(&words))
    }

    async fn logits(&mut self, x: &[f32]) -> Result<Vec<f32>, TrainError> {
        self.ctx.check_alive()?;
        let batch = self.check_batch(x, None)?;
        if !self.eval_passes.contains_key(&batch) {
            self.check_fits(batch)?;
        }
        let (ctx, k, net, cfg, layers) = (self.ctx.as_ref(), &self.kernels, &self.net, &self.cfg, &self.layers);
        let pass = self.eval_passes.entry(batch).or_insert_with(|| Pass::new(ctx, k, net, cfg, layers, batch, None));
        pass.x.write(ctx, x);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("lenet logits") });
        pass.encode_forward(&mut encoder);
        ctx.queue.submit([encoder.finish()]);
        Ok(pass.logits.read(ctx).await?)
    }

    async fn params(&mut self) -> Result<LenetParams, TrainError> {
        self.ctx.check_alive()?;
        let ctx = self.ctx.as_ref();
        let mut layers = Vec::with_capacity(self.net.w.len());
        for (w, b) in self.net.w.iter().zip(&self.net.b) {
            layers.push(LayerParams { w: w.read(ctx).await?, b: b.read(ctx).await? });
        }
        Ok(LenetParams { layers })
    }

    fn load_params(&mut self, params: &LenetParams) {
        assert!(check_params(&self.layers, params).is_ok(), "parameters must fit the network");
        for ((w, b), p) in self.net.w.iter().zip(&self.net.b).zip(&params.layers) {
            w.write(&self.ctx, &p.w);
            b.write(&self.ctx, &p.b);
        }
    }

    async fn last_factors(&mut self) -> Result<Vec<Vec<f32>>, TrainError> {
        self.ctx.check_alive()?;
        let Some(batch) = self.last_batch else { return Ok(Vec::new()) };
        let training = self.grad_passes[&batch].training.as_ref().expect("a gradient pass has its training part");
        let mut out = Vec::with_capacity(training.factors.len());
        for f in &training.factors {
            out.push(f.read(&self.ctx).await?);
        }
        Ok(out)
    }
}
