//! The one walk over a planned layer list on the GPU: the steps of [`crate::cpu::walk`], recorded
//! as dispatches instead of run. [`Walk::new`] allocates every activation, saved tensor and
//! gradient of one batch size and binds every call once; a training step then only records them.
//! LeNet-5, the denoising autoencoder's encoder and decoder and the binarized network are all
//! walked here; AMP's per-example factors and the EWC Fisher estimate plug in as a [`BackwardHook`].

use super::activation::ActivationKernel;
use super::batchnorm::BatchNormKernel;
use super::conv::ConvKernel;
use super::dropout::{DropoutCall, DropoutKernel};
use super::kernel::{Dispatch, record_all};
use super::matmul::MatmulKernel;
use super::pool::PoolKernel;
use super::sign::SignKernel;
use super::xnor::{XnorKernel, words_per_row};
use super::{GpuContext, GpuTensor};
use crate::nn::{Layer, LayerParams, MatmulShape, NormEval, Pass, PlannedLayer, PoolKind, RunningStats, TrainError};
use std::rc::Rc;

/// The pipelines of every layer kind, made once per device.
pub struct LayerKernels {
    pub matmul: MatmulKernel,
    pub conv: ConvKernel,
    pub pool: PoolKernel,
    pub act: ActivationKernel,
    pub batchnorm: BatchNormKernel,
    pub dropout: DropoutKernel,
    pub sign: SignKernel,
    pub xnor: XnorKernel,
}

impl LayerKernels {
    pub fn new(ctx: &GpuContext) -> Self {
        Self {
            matmul: MatmulKernel::new(ctx),
            conv: ConvKernel::new(ctx),
            pool: PoolKernel::new(ctx),
            act: ActivationKernel::new(ctx),
            batchnorm: BatchNormKernel::new(ctx),
            dropout: DropoutKernel::new(ctx),
            sign: SignKernel::new(ctx),
            xnor: XnorKernel::new(ctx),
        }
    }
}

/// The parameters of a layer list and their gradients, one weight and one bias (gamma and beta
/// for batch norm) per parameter slot; and, for a network that keeps them, batch norm's running
/// statistics (mean, variance) per slot.
pub struct GpuParams {
    pub w: Vec<GpuTensor>,
    pub b: Vec<GpuTensor>,
    pub gw: Vec<GpuTensor>,
    pub gb: Vec<GpuTensor>,
    pub running: Vec<Option<(GpuTensor, GpuTensor)>>,
}

impl GpuParams {
    pub fn new(ctx: &GpuContext, params: &[LayerParams]) -> Self {
        let each = |f: &dyn Fn(&LayerParams) -> GpuTensor| params.iter().map(f).collect::<Vec<_>>();
        Self {
            w: each(&|p| GpuTensor::from_slice(ctx, &p.w)),
            b: each(&|p| GpuTensor::from_slice(ctx, &p.b)),
            gw: each(&|p| GpuTensor::zeros(ctx, p.w.len())),
            gb: each(&|p| GpuTensor::zeros(ctx, p.b.len())),
            running: params.iter().map(|_| None).collect(),
        }
    }

    /// Keeps running statistics for the batch-norm slots of `layers`, starting from `stats`.
    pub fn keep_running_stats(&mut self, ctx: &GpuContext, stats: &[RunningStats]) {
        self.running = stats
            .iter()
            .map(|s| (!s.mean.is_empty()).then(|| (GpuTensor::from_slice(ctx, &s.mean), GpuTensor::from_slice(ctx, &s.var))))
            .collect();
    }

    pub async fn read(&self, ctx: &GpuContext) -> Result<Vec<LayerParams>, TrainError> {
        let mut out = Vec::with_capacity(self.w.len());
        for (w, b) in self.w.iter().zip(&self.b) {
            out.push(LayerParams { w: w.read(ctx).await?, b: b.read(ctx).await? });
        }
        Ok(out)
    }

    pub fn write(&self, ctx: &GpuContext, params: &[LayerParams]) {
        for ((w, b), p) in self.w.iter().zip(&self.b).zip(params) {
            w.write(ctx, &p.w);
            b.write(ctx, &p.b);
        }
    }

    /// Zeroes every gradient (for walks that accumulate them).
    pub fn clear_grads(&self, encoder: &mut wgpu::CommandEncoder) {
        for g in self.gw.iter().chain(&self.gb) {
            encoder.clear_buffer(&g.buffer, 0, None);
        }
    }
}

/// A rule's say in the backward pass, as [`crate::cpu::walk::BackwardHook`].
pub trait BackwardHook {
    /// Binds the calls (appended to `calls`) that make the output gradient from which layer
    /// `index`'s weight and bias gradients are taken, and returns it; `None` keeps `dy`.
    fn weight_grad_dy(
        &mut self,
        ctx: &GpuContext,
        index: usize,
        layer: &PlannedLayer,
        acts: &[Rc<GpuTensor>],
        dy: &GpuTensor,
        calls: &mut Vec<Dispatch>,
    ) -> Option<GpuTensor> {
        let _ = (ctx, index, layer, acts, dy, calls);
        None
    }

    /// Binds calls (appended to `calls`) that see the input `x` and output gradient `dy` of dense
    /// layer `index` (binary or not), from which its weight gradient is taken.
    fn observe_dense(&mut self, ctx: &GpuContext, index: usize, layer: &PlannedLayer, x: &GpuTensor, dy: &GpuTensor, calls: &mut Vec<Dispatch>) {
        let _ = (ctx, index, layer, x, dy, calls);
    }
}

/// Plain backpropagation.
pub struct NoHook;

impl BackwardHook for NoHook {}

/// How a walk is bound.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Examples in all.
    pub batch: usize,
    /// Groups of consecutive examples whose batch statistics batch norm takes separately
    /// ([`crate::cpu::walk::forward_groups`]); 1 for an ordinary batch.
    pub groups: usize,
    /// [`Pass::Train`] binds the backward pass and draws dropout masks, [`Pass::Inference`] binds
    /// the backward pass on running statistics, [`Pass::Eval`] is forward only.
    pub pass: Pass,
    /// Add the parameter gradients into the gradient buffers instead of overwriting them (a layer
    /// list applied at every step of an episode sums them; the caller clears them first).
    pub accumulate: bool,
    /// Keep the gradient of the walk's input (for a list whose input comes from another layer).
    pub want_dx: bool,
}

/// One forward step.
enum Op {
    Call(Dispatch),
    /// Training dropout of layer `layer`, whose seed is the step's seed plus `layer`.
    Dropout { layer: u32, call: DropoutCall },
}

/// What a layer's forward pass keeps for its backward pass.
#[derive(Default)]
struct Saved {
    /// Batch norm's `xhat`, dropout's mask, a binary layer's `sign(W)`.
    aux: Option<GpuTensor>,
    inv_std: Option<GpuTensor>,
    argmax: Option<GpuTensor>,
}

const KEPT: &str = "the forward pass of a training walk keeps what its backward pass reads";

/// A layer list bound for one batch size: its buffers and its calls.
pub struct Walk {
    /// The input, written by the caller (or by copies from another walk).
    pub input: Rc<GpuTensor>,
    pub output: Rc<GpuTensor>,
    forward: Vec<Op>,
    /// Training only: the gradient at the output, which the caller fills before the backward pass.
    pub dy: Option<Rc<GpuTensor>>,
    backward: Vec<Dispatch>,
    /// Training with `want_dx` only: the gradient at the input.
    pub dx: Option<Rc<GpuTensor>>,
}

impl Walk {
    pub fn new(ctx: &GpuContext, k: &LayerKernels, p: &GpuParams, layers: &[PlannedLayer], opts: WalkOptions, hook: &mut dyn BackwardHook) -> Self {
        let batch = opts.batch;
        assert!(opts.groups >= 1 && batch.is_multiple_of(opts.groups), "the groups split the batch evenly");
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        // acts[0] is the input, acts[i + 1] the output of layer i; evaluation's dropout passes its
        // input on, so an entry may be shared.
        let input = Rc::new(zeros(batch * layers[0].input.len()));
        let mut acts = vec![input.clone()];
        let mut saved = Vec::with_capacity(layers.len());
        let mut forward = Vec::new();
        // A dense or convolutional layer followed by an activation computes it in its product's
        // epilogue: its output buffer then holds the activated values, which the activation
        // layer passes on. Nothing reads the values before the activation (the activation's
        // backward reads its output, the product's its input and output gradient).
        let mut activated = false;
        for (i, l) in layers.iter().enumerate() {
            let x = acts[i].clone();
            let out_len = batch * l.output.len();
            let mut keep = Saved::default();
            let then_act = match layers.get(i + 1).map(|next| next.layer) {
                Some(Layer::Act(act)) => Some(act),
                _ => None,
            };
            let y = match l.layer {
                Layer::Dense { out } => {
                    let (y, q) = (zeros(out_len), l.param_index());
                    let shape = MatmulShape::new(batch, l.input.len(), out).trans_b();
                    forward.push(Op::Call(k.matmul.bind_layer(ctx, shape, &x, &p.w[q], Some(&p.b[q]), then_act, &y)));
                    activated = then_act.is_some();
                    Rc::new(y)
                }
                Layer::BinaryDense { out } => {
                    let (y, q) = (zeros(out_len), l.param_index());
                    let wb = zeros(p.w[q].len);
                    forward.push(Op::Call(k.sign.bind_binarize(ctx, &p.w[q], &wb)));
                    let fin = l.input.len();
                    // After a sign layer the inputs are +-1 too: the product is XNOR and popcount,
                    // exactly equal to the float product (as on the CPU).
                    if i > 0 && layers[i - 1].layer == Layer::Sign {
                        let (xb, wbits) = (zeros(batch * words_per_row(fin)), zeros(out * words_per_row(fin)));
                        forward.push(Op::Call(k.xnor.bind_pack(ctx, &x, batch, fin, &xb)));
                        forward.push(Op::Call(k.xnor.bind_pack(ctx, &p.w[q], out, fin, &wbits)));
                        forward.push(Op::Call(k.xnor.bind_product(ctx, &xb, &wbits, batch, fin, out, &y)));
                    } else {
                        forward.push(Op::Call(k.matmul.bind(ctx, MatmulShape::new(batch, fin, out).trans_b(), &x, &wb, &y)));
                    }
                    keep.aux = Some(wb);
                    Rc::new(y)
                }
                Layer::Sign => {
                    let y = zeros(out_len);
                    forward.push(Op::Call(k.sign.bind_forward(ctx, &x, &y)));
                    Rc::new(y)
                }
                Layer::Conv { .. } => {
                    let (s, q, y) = (l.conv_shape(batch), l.param_index(), zeros(out_len));
                    forward.push(Op::Call(k.conv.bind_forward(ctx, s, &x, &p.w[q], Some(&p.b[q]), then_act, &y)));
                    activated = then_act.is_some();
                    Rc::new(y)
                }
                // The adjoint of the convolution it mirrors: that one's input gradient, plus a bias.
                Layer::ConvT { .. } => {
                    let (s, q, y) = (l.conv_shape(batch), l.param_index(), zeros(out_len));
                    forward.push(Op::Call(k.conv.bind_input_grad(ctx, s, &x, &p.w[q], Some(&p.b[q]), &y)));
                    Rc::new(y)
                }
                // Already applied by the product before it.
                Layer::Act(_) if std::mem::take(&mut activated) => x,
                Layer::Act(act) => {
                    let y = zeros(out_len);
                    forward.push(Op::Call(k.act.bind_forward(ctx, act, &x, &y)));
                    Rc::new(y)
                }
                Layer::Pool(kind) => {
                    let y = zeros(out_len);
                    let argmax = (kind == PoolKind::Max).then(|| zeros(out_len));
                    forward.push(Op::Call(k.pool.bind_forward(ctx, l.pool_shape(batch), kind, &x, &y, argmax.as_ref())));
                    keep.argmax = argmax;
                    Rc::new(y)
                }
                Layer::Upsample => {
                    let y = zeros(out_len);
                    forward.push(Op::Call(k.pool.bind_upsample(ctx, l.pool_shape(batch), &x, &y)));
                    Rc::new(y)
                }
                Layer::BatchNorm(norm) => {
                    let (q, c) = (l.param_index(), l.output.c);
                    let (y, xhat, inv_std) = (zeros(out_len), zeros(out_len), zeros(c * opts.groups));
                    let running = p.running.get(q).and_then(Option::as_ref);
                    let on_running = opts.pass == Pass::Inference || (opts.pass == Pass::Eval && norm.eval == NormEval::Running);
                    assert!(opts.groups == 1 || (!on_running && running.is_none()), "only batch statistics are taken per group");
                    if on_running {
                        let (mean, var) = running.expect("a network that normalises with running statistics keeps them");
                        forward.push(Op::Call(k.batchnorm.bind_inference(ctx, c, &x, &p.w[q], &p.b[q], (mean, var), &y, &xhat, &inv_std)));
                    } else {
                        forward.push(Op::Call(k.batchnorm.bind_forward(ctx, c, opts.groups, &x, &p.w[q], &p.b[q], &y, &xhat, &inv_std)));
                        if let (Pass::Train, Some((mean, var))) = (opts.pass, running) {
                            forward.push(Op::Call(k.batchnorm.bind_track(ctx, c, &x, mean, var)));
                        }
                    }
                    (keep.aux, keep.inv_std) = (Some(xhat), Some(inv_std));
                    Rc::new(y)
                }
                Layer::Dropout(rate) if opts.pass == Pass::Train => {
                    let (y, mask) = (zeros(out_len), zeros(out_len));
                    let call = k.dropout.bind_forward(ctx, rate, i as u32, &x, &y, &mask);
                    forward.push(Op::Dropout { layer: i as u32, call });
                    keep.aux = Some(mask);
                    Rc::new(y)
                }
                Layer::Dropout(_) => x,
            };
            acts.push(y);
            saved.push(keep);
        }
        let output = acts[layers.len()].clone();
        let mut walk = Self { input, output, forward, dy: None, backward: Vec::new(), dx: None };
        if opts.pass != Pass::Eval {
            walk.bind_backward(ctx, k, p, layers, opts, &acts, &saved, hook);
        }
        walk
    }

    #[allow(clippy::too_many_arguments)]
    fn bind_backward(
        &mut self,
        ctx: &GpuContext,
        k: &LayerKernels,
        p: &GpuParams,
        layers: &[PlannedLayer],
        opts: WalkOptions,
        acts: &[Rc<GpuTensor>],
        saved: &[Saved],
        hook: &mut dyn BackwardHook,
    ) {
        let (batch, acc) = (opts.batch, opts.accumulate);
        let zeros = |n: usize| GpuTensor::zeros(ctx, n);
        let product = |m: usize, kk: usize, n: usize| {
            let s = MatmulShape::new(m, kk, n).trans_a();
            if acc { s.accumulate() } else { s }
        };
        let dy = Rc::new(zeros(self.output.len));
        let mut d = dy.clone();
        let calls = &mut self.backward;
        for (i, l) in layers.iter().enumerate().rev() {
            let needs_dx = i > 0 || opts.want_dx;
            // Batch norm computes its input gradient with its parameter gradients, so it gets one.
            let dx = Rc::new(zeros(if needs_dx || matches!(l.layer, Layer::BatchNorm(_)) { acts[i].len } else { 0 }));
            let keep = &saved[i];
            match l.layer {
                Layer::Dense { out } => {
                    hook.observe_dense(ctx, i, l, &acts[i], &d, calls);
                    let (q, fin) = (l.param_index(), l.input.len());
                    calls.extend(k.matmul.bind_long(ctx, product(out, batch, fin), &d, &acts[i], &p.gw[q]));
                    calls.push(k.conv.bind_bias_grad(ctx, &d, &p.gb[q], acc));
                    if needs_dx {
                        calls.push(k.matmul.bind(ctx, MatmulShape::new(batch, out, fin), &d, &p.w[q], &dx));
                    }
                }
                Layer::BinaryDense { out } => {
                    hook.observe_dense(ctx, i, l, &acts[i], &d, calls);
                    let (q, fin) = (l.param_index(), l.input.len());
                    // The gradient with respect to sign(W), applied to W unchanged.
                    calls.extend(k.matmul.bind_long(ctx, product(out, batch, fin), &d, &acts[i], &p.gw[q]));
                    if needs_dx {
                        calls.push(k.matmul.bind(ctx, MatmulShape::new(batch, out, fin), &d, keep.aux.as_ref().expect(KEPT), &dx));
                    }
                }
                Layer::Conv { .. } => {
                    let (s, q) = (l.conv_shape(batch), l.param_index());
                    let weighted = hook.weight_grad_dy(ctx, i, l, acts, &d, calls);
                    let dy_w = weighted.as_ref().unwrap_or(&d);
                    calls.extend(k.conv.bind_weight_grad(ctx, s, &acts[i], dy_w, &p.gw[q], Some(&p.gb[q]), acc));
                    if needs_dx {
                        calls.push(k.conv.bind_input_grad(ctx, s, &d, &p.w[q], None, &dx));
                    }
                }
                // The convolution it mirrors, read the other way: its input gradient is that one's
                // forward product, its weight gradient that one's with input and gradient swapped.
                Layer::ConvT { .. } => {
                    let (s, q) = (l.conv_shape(batch), l.param_index());
                    if needs_dx {
                        calls.push(k.conv.bind_forward(ctx, s, &d, &p.w[q], None, None, &dx));
                    }
                    calls.extend(k.conv.bind_weight_grad(ctx, s, &d, &acts[i], &p.gw[q], None, acc));
                    calls.push(k.conv.bind_bias_grad(ctx, &d, &p.gb[q], acc));
                }
                Layer::BatchNorm(_) => {
                    let q = l.param_index();
                    let (xhat, inv_std) = (keep.aux.as_ref().expect(KEPT), keep.inv_std.as_ref().expect(KEPT));
                    let (c, gamma) = (l.output.c, &p.w[q]);
                    calls.push(if opts.pass == Pass::Inference {
                        k.batchnorm.bind_inference_backward(ctx, c, &d, xhat, inv_std, gamma, &dx, &p.gw[q], &p.gb[q], acc)
                    } else {
                        k.batchnorm.bind_backward(ctx, c, opts.groups, &d, xhat, inv_std, gamma, &dx, &p.gw[q], &p.gb[q], acc)
                    });
                }
                // Layers without parameters only pass the gradient down.
                _ if !needs_dx => {}
                Layer::Act(act) => calls.push(k.act.bind_backward(ctx, act, &acts[i + 1], &d, &dx)),
                Layer::Sign => calls.push(k.sign.bind_backward(ctx, &acts[i], &d, &dx)),
                Layer::Pool(kind) => {
                    let argmax = (kind == PoolKind::Max).then(|| keep.argmax.as_ref().expect(KEPT));
                    calls.push(k.pool.bind_backward(ctx, l.pool_shape(batch), kind, &d, argmax, &dx));
                }
                Layer::Upsample => calls.push(k.pool.bind_upsample_backward(ctx, l.pool_shape(batch), &d, &dx)),
                Layer::Dropout(_) => calls.push(k.dropout.bind_backward(ctx, keep.aux.as_ref().expect(KEPT), &d, &dx)),
            }
            d = dx;
        }
        self.dy = Some(dy);
        self.dx = opts.want_dx.then_some(d);
    }

    /// The forward pass's calls in order, for recording into a pass with others.
    pub fn forward_calls(&self) -> impl Iterator<Item = &Dispatch> {
        self.forward.iter().map(|op| match op {
            Op::Call(call) => call,
            Op::Dropout { call, .. } => call.dispatch(),
        })
    }

    /// The backward pass's calls (with the hooks') in order.
    pub fn backward_calls(&self) -> impl Iterator<Item = &Dispatch> {
        self.backward.iter()
    }

    /// Records the forward pass, every layer's calls in one compute pass.
    pub fn encode_forward(&self, encoder: &mut wgpu::CommandEncoder) {
        record_all(encoder, self.forward_calls());
    }

    /// Records the backward pass in one compute pass.
    pub fn encode_backward(&self, encoder: &mut wgpu::CommandEncoder) {
        record_all(encoder, self.backward_calls());
    }

    /// Each dropout layer's seed for the next step: `seed + layer index`, as the CPU draws it.
    pub fn set_dropout_seed(&mut self, ctx: &GpuContext, seed: u32) {
        for op in &mut self.forward {
            if let Op::Dropout { layer, call } = op {
                call.set_seed(ctx, seed.wrapping_add(*layer));
            }
        }
    }
}
