//! LeNet-5 trained on the GPU: the same math as the CPU reference [`crate::cpu::lenet::CpuLenet`],
//! walking the same layer list ([`crate::model::lenet::plan`]), with every parameter, activation
//! and gradient in GPU buffers.
//!
//! A training step is one command buffer and one submit, with no readback: for each layer its
//! forward dispatches (a convolution is one product read straight from its input, with its bias
//! and activation) → softmax cross-entropy and the batch's statistics → the backward dispatches in
//! reverse (under the metaplastic rule a convolution's factors and its weighted output gradient
//! first) → SGD on every parameter array.
//!
//! Buffers and bind groups are made once: parameters, gradients and velocities in
//! [`GpuLenet::new`]; the activations of a batch size the first time that size is seen (the
//! training batch at once, evaluation batches on first use). A step only writes the batch, its
//! labels and the dropout seeds with `queue.write_buffer` and records dispatches.

use super::amp::{AmpKernel, Centre};
use super::kernel::{Dispatch, record_all};
use super::matmul::check_fits;
use super::sgd::SgdKernel;
use super::softmax_ce::{ROW_STATS_WORDS, STATS_WORDS, SoftmaxCeKernel, decode_stats};
use super::walk::{BackwardHook, GpuParams, LayerKernels, NoHook, Walk, WalkOptions};
use super::{GpuContext, GpuTensor};
use crate::data::NUM_CLASSES;
use crate::model::lenet::{AmpSettings, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use crate::nn::{self, AmpEnergy, BatchStats, Layer, PlannedLayer, TrainError, check_params};
use std::collections::HashMap;
use std::rc::Rc;

/// Every pipeline the network uses, made once per device.
struct Kernels {
    layers: LayerKernels,
    softmax: SoftmaxCeKernel,
    sgd: SgdKernel,
    amp: AmpKernel,
}

/// What does not depend on the batch size: the parameters and their gradients, and the bound
/// updates (whose bind groups keep the momentum buffers).
struct Net {
    params: GpuParams,
    sgd: Vec<Dispatch>,
    /// The centred energy's running means, one per convolutional layer (shared by every batch
    /// size's pass).
    centres: Vec<Centre>,
}

impl Net {
    fn new(ctx: &GpuContext, k: &Kernels, cfg: &LenetConfig, params: &LenetParams) -> Self {
        let p = GpuParams::new(ctx, &params.layers);
        let h = cfg.sgd();
        let velocity = |t: &GpuTensor| GpuTensor::zeros(ctx, t.len);
        let sgd = (0..p.w.len())
            .flat_map(|i| [k.sgd.bind(ctx, &h, &p.w[i], &p.gw[i], &velocity(&p.w[i])), k.sgd.bind(ctx, &h, &p.b[i], &p.gb[i], &velocity(&p.b[i]))])
            .collect();
        let layers = cfg.plan();
        let centres = match cfg.amp {
            Some(amp) if amp.energy == AmpEnergy::Centred => layers
                .iter()
                .filter(|l| matches!(l.layer, Layer::Conv { .. }))
                .map(|l| {
                    let n = match amp.source {
                        FactorSource::NetworkInput => layers[0].input.len(),
                        FactorSource::LayerInput => l.input.len(),
                    };
                    Centre::new(ctx, n)
                })
                .collect(),
            _ => Vec::new(),
        };
        Self { params: p, sgd, centres }
    }
}

/// The metaplastic rule on the backward walk, as the CPU's: per convolutional layer, the batch's
/// factors from its input (or the image), and its output gradient with every example's rows
/// scaled by them, from which its weight and bias gradients are taken.
struct AmpHook<'a> {
    amp: AmpSettings,
    kernel: &'a AmpKernel,
    /// The centred energy's running mean per convolutional layer, in layer order.
    centres: &'a [Centre],
    /// Convolutions met so far (from the last).
    seen: usize,
    /// One vector of `batch` factors per convolutional layer, bound from the last to the first.
    factors: Vec<GpuTensor>,
}

impl BackwardHook for AmpHook<'_> {
    fn weight_grad_dy(
        &mut self,
        ctx: &GpuContext,
        index: usize,
        l: &PlannedLayer,
        acts: &[Rc<GpuTensor>],
        dy: &GpuTensor,
        calls: &mut Vec<Dispatch>,
    ) -> Option<GpuTensor> {
        let Layer::Conv { out: cout, .. } = l.layer else { return None };
        let batch = dy.len / l.output.len();
        let source = match self.amp.source {
            FactorSource::LayerInput => &acts[index],
            FactorSource::NetworkInput => &acts[0],
        };
        let f = GpuTensor::zeros(ctx, batch);
        self.seen += 1;
        let centred;
        let source = match self.amp.energy {
            AmpEnergy::Raw => source,
            AmpEnergy::Centred => {
                let centre = &self.centres[self.centres.len() - self.seen];
                centred = GpuTensor::zeros(ctx, source.len);
                calls.extend(self.kernel.bind_centre(ctx, source, centre, &centred));
                &centred
            }
        };
        let factors = self.kernel.bind_factors(ctx, &self.amp.hyper, source, &GpuTensor::zeros(ctx, batch), &f);
        calls.push(factors.energy);
        calls.push(factors.normalize);
        let out = GpuTensor::zeros(ctx, dy.len);
        calls.push(self.kernel.bind_scale_rows(ctx, cout, l.output.h * l.output.w, dy, &f, &out));
        self.factors.push(f);
        Some(out)
    }
}

/// The training-only part of a pass.
struct Training {
    labels: GpuTensor,
    softmax: Dispatch,
    accumulate: Dispatch,
    /// One vector of `batch` factors per convolutional layer, in layer order (amp only).
    factors: Vec<GpuTensor>,
}

/// The walk of one batch size and, for a training pass, its loss.
struct Pass {
    walk: Walk,
    training: Option<Training>,
}

impl Pass {
    /// Buffers and calls for `batch` examples. `stats` is `Some` for a training pass (which then
    /// has labels, the loss and the backward pass), `None` for evaluation (no dropout).
    fn new(ctx: &GpuContext, k: &Kernels, net: &Net, cfg: &LenetConfig, layers: &[PlannedLayer], batch: usize, stats: Option<&GpuTensor>) -> Self {
        let opts = WalkOptions { batch, groups: 1, pass: if stats.is_some() { nn::Pass::Train } else { nn::Pass::Eval }, accumulate: false, want_dx: false };
        let (walk, factors) = match cfg.amp {
            Some(amp) if stats.is_some() => {
                let mut hook = AmpHook { amp, kernel: &k.amp, centres: &net.centres, seen: 0, factors: Vec::new() };
                let walk = Walk::new(ctx, &k.layers, &net.params, layers, opts, &mut hook);
                hook.factors.reverse();
                (walk, hook.factors)
            }
            _ => (Walk::new(ctx, &k.layers, &net.params, layers, opts, &mut NoHook), Vec::new()),
        };
        let training = stats.map(|stats| {
            let labels = GpuTensor::zeros(ctx, batch);
            let row_stats = GpuTensor::zeros(ctx, batch * ROW_STATS_WORDS);
            let dlogits = walk.dy.as_ref().expect("a training walk has an output gradient");
            let softmax = k.softmax.bind_rows(ctx, NUM_CLASSES, &walk.output, &labels, dlogits, &row_stats);
            let accumulate = k.softmax.bind_accumulate(ctx, &row_stats, stats);
            Training { labels, softmax, accumulate, factors }
        });
        Self { walk, training }
    }
}

/// LeNet-5 on a GPU. It shares the app's [`GpuContext`] through an `Rc`; every method first
/// checks that the device is alive and returns [`crate::gpu::DeviceError::Lost`] otherwise,
/// so the caller can fall back to the CPU with the last parameters it read.
pub struct GpuLenet {
    ctx: Rc<GpuContext>,
    cfg: LenetConfig,
    layers: Vec<PlannedLayer>,
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
        let layers = cfg.plan();
        check_params(&layers, &params.layers)?;
        let c = ctx.as_ref();
        let kernels = Kernels { layers: LayerKernels::new(c), softmax: SoftmaxCeKernel::new(c), sgd: SgdKernel::new(c), amp: AmpKernel::new(c) };
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
            if let Layer::Conv { .. } = l.layer {
                // A convolution reads its input in place (no im2col matrix); its products have a
                // row per output pixel.
                rows = rows.max(l.conv_shape(batch).rows());
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
        pass.walk.set_dropout_seed(ctx, seed);
        let training = pass.training.as_ref().expect("a gradient pass has its training part");
        pass.walk.input.write(ctx, x);
        training.labels.write_u32(ctx, y);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("lenet train step") });
        // The whole step in one compute pass: forward, loss, backward, update.
        let loss = [&training.softmax, &training.accumulate];
        record_all(&mut encoder, pass.walk.forward_calls().chain(loss).chain(pass.walk.backward_calls()).chain(&self.net.sgd));
        ctx.submit([encoder.finish()]);
        self.last_batch = Some(batch);
        Ok(())
    }

    async fn take_train_stats(&mut self) -> Result<BatchStats, TrainError> {
        self.ctx.check_alive()?;
        let words = self.train_stats.take(&self.ctx).await?;
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
        pass.walk.input.write(ctx, x);
        let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("lenet logits") });
        pass.walk.encode_forward(&mut encoder);
        ctx.submit([encoder.finish()]);
        Ok(pass.walk.output.read(ctx).await?)
    }

    async fn params(&mut self) -> Result<LenetParams, TrainError> {
        self.ctx.check_alive()?;
        Ok(LenetParams { layers: self.net.params.read(&self.ctx).await? })
    }

    fn load_params(&mut self, params: &LenetParams) {
        assert!(check_params(&self.layers, &params.layers).is_ok(), "parameters must fit the network");
        self.net.params.write(&self.ctx, &params.layers);
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
