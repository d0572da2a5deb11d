//! The one walk over a planned layer list on the CPU: forward keeps what backward needs (a
//! [`Tape`]), backward runs the layers in reverse and adds each layer's parameter gradients into
//! the caller's buffers. LeNet-5 and the denoising autoencoder's encoder and decoder are all walked
//! here; a rule that changes the backward pass (AMP's per-example factors) plugs in as a
//! [`BackwardHook`] rather than as a copy of the walk. The binarized network is walked here too;
//! the EWC Fisher estimate plugs in as a hook that sees each dense layer's input and output
//! gradient. The GPU walk, [`crate::gpu::walk`], records the same steps as dispatches.

use super::activation::{activation_backward, activation_forward};
use super::batchnorm::{StreamedStats, batchnorm_backward_groups, batchnorm_forward_groups, batchnorm_inference, batchnorm_inference_backward, batchnorm_track};
use super::conv::{add_bias, bias_grad, col2im, conv_transpose_backward, conv_transpose_forward, im2col};
use super::dropout::{dropout_backward, dropout_forward};
use super::matmul::matmul;
use super::pool::{avg_pool_forward, max_pool_forward, pool_backward, upsample_backward, upsample_forward};
use super::sign::{binarize_all, sign_backward};
use super::xnor::{PackedSigns, xnor_matmul};
use crate::nn::{Layer, LayerParams, MatmulShape, NormEval, Pass, PlannedLayer, PoolKind, RunningStats};
use std::sync::atomic::{AtomicBool, Ordering};

/// What a forward pass keeps for its backward pass.
#[derive(Debug, Clone)]
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
    /// Whether the tape holds only what backward reads and is spent as backward goes ([`backward`])
    /// rather than keeping every buffer for the next step. A wasm memory keeps its peak for good
    /// and its allocator reuses what is freed at no cost, so a training worker spends its tapes
    /// (the authors' LeNet-5 at a batch of 64 peaks at 33 MiB instead of 56); natively the
    /// allocator hands large blocks back to the system and faults them in again at every step
    /// (LeNet-5 trained 50% slower), so the tool keeps them. Either way the numbers are the same
    /// to the bit (`tests/cpu_lenet.rs`).
    spend: bool,
}

/// Whether new tapes spend themselves ([`Tape::spend`]): in wasm, yes; natively, no, unless a
/// program asks (`examples/heap_peak.rs` measures a worker's peak natively so).
static SPEND_TAPES: AtomicBool = AtomicBool::new(cfg!(target_arch = "wasm32"));

/// Sets whether the tapes made from now on ([`Tape::default`]) are spent as backward goes.
pub fn spend_tapes(on: bool) {
    SPEND_TAPES.store(on, Ordering::Relaxed);
}

impl Default for Tape {
    fn default() -> Self {
        Self::new(SPEND_TAPES.load(Ordering::Relaxed))
    }
}

impl Tape {
    /// An empty tape; `spend`: see the field.
    pub fn new(spend: bool) -> Self {
        Self { acts: Vec::new(), aux: Vec::new(), inv_std: Vec::new(), groups: 1, argmax: Vec::new(), pass: None, spend }
    }

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
        } else if tape.spend && i > 0 && !reads_input(l.layer) && !reads_output(layers[i - 1].layer) {
            // Backward never reads this activation (batch norm keeps xhat, pooling its winners, an
            // activation its output): the authors' LeNet-5 holds 14 MiB less at a batch of 64.
            tape.acts[i] = Vec::new();
        }
    }
}

/// Whether a layer's backward pass reads its input from the tape (a convolution's is read by
/// AMP's factor, `cpu::lenet`; the input image, `acts[0]`, is always kept).
fn reads_input(layer: Layer) -> bool {
    matches!(layer, Layer::Dense { .. } | Layer::BinaryDense { .. } | Layer::Conv { .. } | Layer::ConvT { .. } | Layer::Sign)
}

/// Whether a layer's backward pass reads its output (an activation's derivative is taken from it).
fn reads_output(layer: Layer) -> bool {
    matches!(layer, Layer::Act(_))
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

/// [`forward_output`] of an evaluation pass (`Pass::Eval`) run `chunk` examples at a time: the
/// same output to the bit, in the memory of a chunk rather than of the whole batch. Batch norm
/// that normalises with the evaluated batch's statistics needs every example before any goes on,
/// so for each such layer the layers before it run twice over the chunks for its statistics
/// ([`StreamedStats`]: the mean, then the variance, summed in the one-pass order). Where an
/// activation after such a layer is no larger than the one the sweeps start from, it is computed
/// once for the whole batch and kept, and the next sweeps start there. Layers with running
/// statistics use `running` (one per parameter slot, as [`forward_pass`]; empty: none kept).
///
/// The authors' LeNet-5 evaluates 1000 test images in one batch: its first convolution's output
/// alone is 86 MB and the second's im2col matrix 139 MB, which a worker's wasm memory would keep
/// for good. Chunked, the first convolution runs five times and the second three, and nothing
/// larger than a chunk's work and the images is held.
pub fn forward_output_chunked(layers: &[PlannedLayer], params: &[LayerParams], running: &[RunningStats], x: &[f32], batch: usize, chunk: usize) -> Vec<f32> {
    let n = layers.len();
    let chunk = chunk.max(1);
    let norms: Vec<usize> = (0..n).filter(|&i| matches!(layers[i].layer, Layer::BatchNorm(norm) if norm.eval == NormEval::Batch)).collect();
    // Per example: the length of layer i's input (i == n: the last output).
    let width = |i: usize| if i < n { layers[i].input.len() } else { layers[n - 1].output.len() };
    // Every layer runs as inference: batch norm with the statistics found so far.
    let mut stats = if running.is_empty() { RunningStats::for_layers(layers) } else { running.to_vec() };
    let mut tape = Tape::default();
    // Runs layers from..to on each chunk of `front` (the input of layer `from`), handing each
    // chunk's output to `each`.
    let mut sweep = |front: &[f32], from: usize, to: usize, stats: &mut Vec<RunningStats>, each: &mut dyn FnMut(&[f32])| {
        let w = width(from);
        for rows in front.chunks(chunk * w) {
            if from == to {
                each(rows);
            } else {
                run(&layers[from..to], params, stats, rows, (rows.len() / w, 1), Pass::Inference, 0, false, &mut tape);
                each(tape.output());
            }
        }
    };
    let mut front = std::borrow::Cow::Borrowed(&x[..(batch * width(0)).min(x.len())]);
    let mut from = 0;
    for (at, &k) in norms.iter().enumerate() {
        let mut acc = StreamedStats::new(layers[k].output.c);
        sweep(&front, from, k, &mut stats, &mut |y| acc.add(y));
        acc.end_sweep();
        sweep(&front, from, k, &mut stats, &mut |y| acc.add(y));
        let (mean, var) = acc.finish();
        stats[layers[k].param_index()] = RunningStats { mean, var };
        // The smallest activation after layer k up to the next such layer's input, the furthest
        // of equals (less to run again); kept if it is no larger than where the sweeps start.
        let until = norms.get(at + 1).copied().unwrap_or(n);
        let to = (k + 1..=until).rev().min_by_key(|&m| width(m)).unwrap_or(until);
        if width(to) <= width(from) {
            let mut next = Vec::with_capacity(batch * width(to));
            sweep(&front, from, to, &mut stats, &mut |y| next.extend_from_slice(y));
            (front, from) = (std::borrow::Cow::Owned(next), to);
        }
    }
    let mut out = Vec::with_capacity(batch * width(n));
    sweep(&front, from, n, &mut stats, &mut |y| out.extend_from_slice(y));
    out
}

/// Backward through `layers` from the gradient `dy` of their output, adding every parameter
/// gradient into `grads` (so a list applied at every step of an episode sums them over steps).
/// Returns the input's gradient, or an empty vector when `want_dx` is false.
///
/// A spending tape ([`Tape::new`]) is spent: what a layer kept for its backward pass goes once the
/// layer is through, so the gradients of the layers below reuse that memory (a convolution's
/// im2col matrix holds its input gradient's columns next). Only the input and the output stay.
pub fn backward(
    layers: &[PlannedLayer],
    params: &[LayerParams],
    tape: &mut Tape,
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
        // Empty where backward does not read it (`run`): lengths come from the plan.
        let input = &tape.acts[i];
        let input_len = batch * l.input.len();
        // Batch norm writes its own (its kernel computes dx whether wanted or not).
        let mut dx = vec![0.0; if needs_dx && !matches!(l.layer, Layer::BatchNorm(_)) { input_len } else { 0 }];
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
                // The columns are read: their memory takes the input gradient's columns.
                if tape.spend {
                    tape.aux[i] = Vec::new();
                }
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
                let (mut dgamma, mut dbeta, mut dxb) = (vec![0.0; ch], vec![0.0; ch], vec![0.0; input_len]);
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
        // Layer i is through: what it kept, and its output (but the network's), are not read again.
        if tape.spend {
            tape.aux[i] = Vec::new();
            tape.argmax[i] = Vec::new();
            if i + 1 < layers.len() {
                tape.acts[i + 1] = Vec::new();
            }
        }
        d = dx;
    }
    Vec::new()
}
