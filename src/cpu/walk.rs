//! The one walk over a planned layer list on the CPU: forward keeps what backward needs (a
//! [`Tape`]), backward runs the layers in reverse and adds each layer's parameter gradients into
//! the caller's buffers. LeNet-5 and the denoising autoencoder's encoder and decoder are all walked
//! here; a rule that changes the backward pass (AMP's per-example factors) plugs in as a
//! [`BackwardHook`] rather than as a copy of the walk. The binarized network is walked here too;
//! the EWC Fisher estimate plugs in as a hook that sees each dense layer's input and output
//! gradient. The GPU walk, [`crate::gpu::walk`], records the same steps as dispatches.

use super::activation::{activation_backward, activation_forward};
use super::batchnorm::{batchnorm_backward_groups, batchnorm_forward_groups, batchnorm_inference, batchnorm_inference_backward, batchnorm_track};
use super::conv::{add_bias, bias_grad, col2im, conv_transpose_backward, conv_transpose_forward, im2col};
use super::dropout::{dropout_backward, dropout_forward};
use super::matmul::matmul;
use super::pool::{avg_pool_forward, max_pool_forward, pool_backward, upsample_backward, upsample_forward};
use super::sign::{binarize_all, sign_backward};
use super::xnor::{PackedSigns, xnor_matmul};
use crate::nn::{Layer, LayerParams, MatmulShape, NormEval, Pass, PlannedLayer, PoolKind, RunningStats};

/// What a forward pass keeps for its backward pass.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    /// `acts[0]` is the input, `acts[i + 1]` the output of layer `i`.
    pub acts: Vec<Vec<f32>>,
    /// Per layer: a convolution's `cols`, batch norm's `xhat`, dropout's mask, a binary layer's
    /// `sign(W)` (else empty).
    aux: Vec<Vec<f32>>,
    /// Per layer: batch norm's `inv_std`, `groups x features` (else empty).
    inv_std: Vec<Vec<f32>>,
    /// Groups of consecutive examples that batch norm normalises separately ([`forward_groups`]).
    groups: usize,
    /// Per layer: max pooling's winning taps (else empty).
    argmax: Vec<Vec<u32>>,
    /// The pass that filled the tape: an inference pass's batch norm goes backward per example.
    pass: Option<Pass>,
}

impl Tape {
    /// The last layer's output.
    pub fn output(&self) -> &[f32] {
        self.acts.last().map_or(&[], Vec::as_slice)
    }
}

/// A rule's say in the backward pass.
pub trait BackwardHook {
    /// The output gradient from which layer `index`'s weight and bias gradients are taken, when it
    /// is not `dy` itself (the gradient passed down always comes from `dy`).
    fn weight_grad_dy(&mut self, index: usize, layer: &PlannedLayer, tape: &Tape, dy: &[f32]) -> Option<Vec<f32>> {
        let _ = (index, layer, tape, dy);
        None
    }

    /// Sees the input `x` and output gradient `dy` of dense layer `index` (binary or not), from
    /// which its weight gradient is taken.
    fn observe_dense(&mut self, index: usize, layer: &PlannedLayer, x: &[f32], dy: &[f32]) {
        let _ = (index, layer, x, dy);
    }
}

/// Plain backpropagation.
pub struct NoHook;

impl BackwardHook for NoHook {}

fn param<'a>(params: &'a [LayerParams], l: &PlannedLayer) -> &'a LayerParams {
    &params[l.param_index()]
}

/// Runs `layers` on `x` (`batch` examples of `layers[0].input`). `dropout_seed: None` is
/// evaluation (no dropout); layer `i`'s masks are drawn with the seed plus `i`. Batch norm keeps no
/// running statistics here: see [`forward_pass`].
pub fn forward(layers: &[PlannedLayer], params: &[LayerParams], x: &[f32], batch: usize, dropout_seed: Option<u32>, tape: &mut Tape) {
    let pass = if dropout_seed.is_some() { Pass::Train } else { Pass::Eval };
    run(layers, params, &mut [], x, (batch, 1), pass, dropout_seed.unwrap_or(0), true, tape);
}

/// An evaluation [`forward`] of `groups` batches at once, `x` holding them one after the other:
/// batch norm takes each group's statistics on its own, so every group's outputs are those of its
/// own pass, but each layer runs once over them all. The autoencoder runs the steps of an
/// episode so. `keep: false` keeps the output alone, as [`forward_output`].
pub fn forward_groups(layers: &[PlannedLayer], params: &[LayerParams], x: &[f32], batch: usize, groups: usize, keep: bool, tape: &mut Tape) {
    run(layers, params, &mut [], x, (batch * groups, groups), Pass::Eval, 0, keep, tape);
}

/// [`forward`] for a network whose batch norm keeps running statistics (`running`, one per
/// parameter slot; empty keeps none): a training pass updates them, an evaluation normalises with
/// them where the layer says so, an inference pass always does.
#[allow(clippy::too_many_arguments)]
pub fn forward_pass(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    running: &mut [RunningStats],
    x: &[f32],
    batch: usize,
    pass: Pass,
    dropout_seed: u32,
    tape: &mut Tape,
) {
    run(layers, params, running, x, (batch, 1), pass, dropout_seed, true, tape);
}

/// `(batch, groups)`: examples in all, and the groups batch norm normalises separately; `keep`:
/// keep what backward reads.
#[allow(clippy::too_many_arguments)]
fn run(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    running: &mut [RunningStats],
    x: &[f32],
    (batch, groups): (usize, usize),
    pass: Pass,
    dropout_seed: u32,
    keep: bool,
    tape: &mut Tape,
) {
    assert!(groups >= 1 && batch.is_multiple_of(groups), "the groups split the batch evenly");
    let n = layers.len();
    tape.pass = Some(pass);
    tape.groups = groups;
    tape.acts.resize_with(n + 1, Vec::new);
    tape.aux.resize_with(n, Vec::new);
    tape.inv_std.resize_with(n, Vec::new);
    tape.argmax.resize_with(n, Vec::new);
    tape.acts[0].clear();
    tape.acts[0].extend_from_slice(x);
    for (i, l) in layers.iter().enumerate() {
        let (before, after) = tape.acts.split_at_mut(i + 1);
        let (input, out) = (&before[i], &mut after[0]);
        out.clear();
        out.resize(batch * l.output.len(), 0.0);
        match l.layer {
            Layer::Dense { out: fout } => {
                let p = param(params, l);
                matmul(MatmulShape::new(batch, l.input.len(), fout).trans_b(), input, &p.w, out);
                add_bias(out, &p.b);
            }
            Layer::BinaryDense { out: fout } => {
                let (p, fin) = (param(params, l), l.input.len());
                tape.aux[i].resize(p.w.len(), 0.0);
                binarize_all(&p.w, &mut tape.aux[i]);
                // After a sign layer the inputs are +-1 too: the product is XNOR and popcount,
                // exactly equal to the float product.
                if i > 0 && layers[i - 1].layer == Layer::Sign {
                    let (mut xs, mut ws) = (PackedSigns::default(), PackedSigns::default());
                    xs.pack(input, batch, fin);
                    ws.pack(&p.w, fout, fin);
                    xnor_matmul(&xs, &ws, out);
                } else {
                    matmul(MatmulShape::new(batch, fin, fout).trans_b(), input, &tape.aux[i], out);
                }
            }
            Layer::Sign => binarize_all(input, out),
            Layer::Conv { out: cout, .. } => {
                let (s, p) = (l.conv_shape(batch), param(params, l));
                tape.aux[i].resize(s.rows() * s.patch(), 0.0);
                im2col(&s, input, &mut tape.aux[i]);
                matmul(MatmulShape::new(s.rows(), s.patch(), cout).trans_b(), &tape.aux[i], &p.w, out);
                add_bias(out, &p.b);
            }
            Layer::ConvT { .. } => {
                let (s, p) = (l.conv_shape(batch), param(params, l));
                // The product's columns are only scratch: backward re-reads the input instead.
                let mut cols = vec![0.0; s.rows() * s.patch()];
                conv_transpose_forward(&s, input, &p.w, &p.b, &mut cols, out);
            }
            Layer::Act(act) => activation_forward(act, input, out),
            Layer::Pool(PoolKind::Max) => {
                let s = l.pool_shape(batch);
                tape.argmax[i].resize(s.output_len(), 0);
                max_pool_forward(&s, input, out, &mut tape.argmax[i]);
            }
            Layer::Pool(PoolKind::Average) => avg_pool_forward(&l.pool_shape(batch), input, out),
            Layer::Upsample => upsample_forward(&l.pool_shape(batch), input, out),
            Layer::BatchNorm(norm) => {
                let (p, c) = (param(params, l), l.output.c);
                tape.aux[i].resize(input.len(), 0.0);
                tape.inv_std[i].resize(c * groups, 0.0);
                let stats = running.get_mut(l.param_index()).filter(|s| !s.mean.is_empty());
                let on_running = pass == Pass::Inference || (pass == Pass::Eval && norm.eval == NormEval::Running);
                assert!(groups == 1 || (!on_running && stats.is_none()), "only batch statistics are taken per group");
                if on_running {
                    let s = stats.expect("a network that normalises with running statistics keeps them");
                    batchnorm_inference(input, c, &p.w, &p.b, &s.mean, &s.var, out, &mut tape.aux[i], &mut tape.inv_std[i]);
                } else {
                    batchnorm_forward_groups(input, c, groups, &p.w, &p.b, out, &mut tape.aux[i], &mut tape.inv_std[i]);
                    if let (Pass::Train, Some(s)) = (pass, stats) {
                        batchnorm_track(input, c, &mut s.mean, &mut s.var);
                    }
                }
            }
            Layer::Dropout(p) if pass == Pass::Train => {
                tape.aux[i].resize(input.len(), 0.0);
                dropout_forward(p, dropout_seed.wrapping_add(i as u32), input, out, &mut tape.aux[i]);
            }
            Layer::Dropout(_) => out.copy_from_slice(input),
        }
        if !keep {
            // Nothing goes backward: the layer's input and scratch can go, so an evaluation of a
            // large batch holds two activations at a time, not all of them (a worker's wasm
            // memory keeps its peak for good).
            tape.acts[i] = Vec::new();
            tape.aux[i] = Vec::new();
            tape.argmax[i] = Vec::new();
        }
    }
}

/// [`forward_pass`] for its output alone ([`Tape::output`]): every layer's input is dropped once
/// used, so no backward pass can follow. Evaluations use it.
#[allow(clippy::too_many_arguments)]
pub fn forward_output(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    running: &mut [RunningStats],
    x: &[f32],
    batch: usize,
    pass: Pass,
    tape: &mut Tape,
) {
    run(layers, params, running, x, (batch, 1), pass, 0, false, tape);
}

/// Backward through `layers` from the gradient `dy` of their output, adding every parameter
/// gradient into `grads` (so a list applied at every step of an episode sums them over steps).
/// Returns the input's gradient, or an empty vector when `want_dx` is false.
pub fn backward(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    tape: &Tape,
    dy: Vec<f32>,
    grads: &mut [LayerParams],
    hook: &mut dyn BackwardHook,
    want_dx: bool,
) -> Vec<f32> {
    let batch = tape.acts[0].len() / layers[0].input.len();
    let add = |into: &mut [f32], from: &[f32]| into.iter_mut().zip(from).for_each(|(a, b)| *a += b);
    let mut d = dy;
    for (i, l) in layers.iter().enumerate().rev() {
        let needs_dx = i > 0 || want_dx;
        let input = &tape.acts[i];
        let mut dx = vec![0.0; if needs_dx { input.len() } else { 0 }];
        match l.layer {
            Layer::Dense { out: fout } => {
                hook.observe_dense(i, l, input, &d);
                let (p, g) = (param(params, l), &mut grads[l.param_index()]);
                let fin = l.input.len();
                matmul(MatmulShape::new(fout, batch, fin).trans_a().accumulate(), &d, input, &mut g.w);
                let mut db = vec![0.0; fout];
                bias_grad(&d, &mut db);
                add(&mut g.b, &db);
                if needs_dx {
                    matmul(MatmulShape::new(batch, fout, fin), &d, &p.w, &mut dx);
                }
            }
            Layer::BinaryDense { out: fout } => {
                hook.observe_dense(i, l, input, &d);
                let fin = l.input.len();
                // The gradient with respect to sign(W), applied to W unchanged.
                matmul(MatmulShape::new(fout, batch, fin).trans_a().accumulate(), &d, input, &mut grads[l.param_index()].w);
                if needs_dx {
                    matmul(MatmulShape::new(batch, fout, fin), &d, &tape.aux[i], &mut dx);
                }
            }
            Layer::Conv { out: cout, .. } => {
                let s = l.conv_shape(batch);
                let weighted = hook.weight_grad_dy(i, l, tape, &d);
                let dy_w = weighted.as_deref().unwrap_or(&d);
                let (p, g) = (param(params, l), &mut grads[l.param_index()]);
                matmul(MatmulShape::new(cout, s.rows(), s.patch()).trans_a().accumulate(), dy_w, &tape.aux[i], &mut g.w);
                let mut db = vec![0.0; cout];
                bias_grad(dy_w, &mut db);
                add(&mut g.b, &db);
                if needs_dx {
                    let mut dcols = vec![0.0; s.rows() * s.patch()];
                    matmul(MatmulShape::new(s.rows(), cout, s.patch()), &d, &p.w, &mut dcols);
                    col2im(&s, &dcols, &mut dx);
                }
            }
            Layer::ConvT { out: cout, .. } => {
                let s = l.conv_shape(batch);
                let (p, g) = (param(params, l), &mut grads[l.param_index()]);
                let mut cols = vec![0.0; s.rows() * s.patch()];
                let mut db = vec![0.0; cout];
                conv_transpose_backward(&s, input, &p.w, &d, &mut cols, needs_dx.then_some(&mut dx[..]), &mut g.w, &mut db);
                add(&mut g.b, &db);
            }
            Layer::BatchNorm(_) => {
                let (p, g) = (param(params, l), &mut grads[l.param_index()]);
                let ch = l.output.c;
                let (mut dgamma, mut dbeta, mut dxb) = (vec![0.0; ch], vec![0.0; ch], vec![0.0; input.len()]);
                if tape.pass == Some(Pass::Inference) {
                    batchnorm_inference_backward(&d, &tape.aux[i], &tape.inv_std[i], &p.w, ch, &mut dxb, &mut dgamma, &mut dbeta);
                } else {
                    batchnorm_backward_groups(&d, &tape.aux[i], &tape.inv_std[i], &p.w, ch, &mut dxb, &mut dgamma, &mut dbeta);
                }
                add(&mut g.w, &dgamma);
                add(&mut g.b, &dbeta);
                dx = dxb;
            }
            _ if !needs_dx => {}
            Layer::Act(act) => activation_backward(act, &tape.acts[i + 1], &d, &mut dx),
            Layer::Sign => sign_backward(input, &d, &mut dx),
            Layer::Pool(kind) => pool_backward(&l.pool_shape(batch), kind, &d, &tape.argmax[i], &mut dx),
            Layer::Upsample => upsample_backward(&l.pool_shape(batch), &d, &mut dx),
            Layer::Dropout(_) => dropout_backward(&tape.aux[i], &d, &mut dx),
        }
        if i == 0 {
            return if want_dx { dx } else { Vec::new() };
        }
        d = dx;
    }
    Vec::new()
}
