//! Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), the baseline the metaplasticity
//! paper compares with. GPU version: `shaders/ewc.wgsl`.
//!
//! Loss `L + lambda/2 * sum_t sum_i F_t,i (W_i - W*_t,i)^2` over the tasks `t` learned so far, with
//! `F_t` the diagonal Fisher at the end of task `t`. Its gradient,
//! `lambda * sum_t F_t (W - W*_t) = lambda * (F W - FW)` with `F = sum_t F_t` and
//! `FW = sum_t F_t W*_t`, needs only those two sums, however many tasks there were. With `binary`,
//! `W` is the weight the forward pass uses, `sign(Wh)` (and so is the anchor), as the authors
//! compute it (docs/algorithms.md, "Elastic weight consolidation"); the penalty's gradient with
//! respect to it is applied to `Wh`, as every gradient of the binary weights is.
//!
//! The Fisher estimate is the authors' (their `estimate_fisher`, Laborieux et al.'s public code):
//! the mean over training examples (5,000) of each example's squared gradient of its own loss,
//! the network in evaluation mode. Their PyTorch 1.1 normalised a lone example with the task's
//! running statistics, so batch norm runs on those here ([`crate::nn::Pass::Inference`]); then no
//! statistic couples the examples of a batch and [`fisher_per_example`] sums every example's
//! square in one product.

use super::matmul::matmul;
use super::sign::binarize;
use super::walk::BackwardHook;
use crate::nn::{MatmulShape, PlannedLayer, TensorKey, TensorSet};

fn used(w: f32, binary: bool) -> f32 {
    if binary { binarize(w) } else { w }
}

/// Adds the penalty's gradient `lambda * (F w - FW)` to `grad`.
pub fn ewc_penalty_grad(w: &[f32], fisher: &[f32], fisher_anchor: &[f32], lambda: f32, binary: bool, grad: &mut [f32]) {
    for (((g, &w), &f), &fw) in grad.iter_mut().zip(w).zip(fisher).zip(fisher_anchor) {
        *g += lambda * (f * used(w, binary) - fw);
    }
}

/// Adds one task's Fisher estimate `scale * f` (a sum over examples times `1 / count` makes the
/// mean), anchored at the current weights `w`, to the sums.
pub fn ewc_consolidate(w: &[f32], f: &[f32], scale: f32, binary: bool, fisher: &mut [f32], fisher_anchor: &mut [f32]) {
    for (((fs, fw), &w), &f) in fisher.iter_mut().zip(fisher_anchor.iter_mut()).zip(w).zip(f) {
        *fs += scale * f;
        *fw += scale * f * used(w, binary);
    }
}

/// The sums of one tensor's penalty.
#[derive(Debug, Clone)]
pub struct EwcTerm {
    pub key: TensorKey,
    pub fisher: Vec<f32>,
    pub anchor: Vec<f32>,
}

/// EWC as a penalty hook: after the backward pass, each penalised tensor's gradient gets
/// `lambda * (F w - FW)`.
#[derive(Debug, Clone)]
pub struct EwcPenalty {
    pub lambda: f32,
    pub binary: bool,
    pub terms: Vec<EwcTerm>,
}

impl EwcPenalty {
    /// No task consolidated yet: every sum zero, so the penalty adds nothing.
    pub fn new<P: TensorSet + ?Sized>(lambda: f32, binary: bool, keys: &[TensorKey], params: &P) -> Self {
        let terms = keys.iter().map(|&key| {
            let n = params.tensor(key).len();
            EwcTerm { key, fisher: vec![0.0; n], anchor: vec![0.0; n] }
        });
        Self { lambda, binary, terms: terms.collect() }
    }

    pub fn add_to<P: TensorSet + ?Sized, G: TensorSet + ?Sized>(&self, params: &P, grads: &mut G) {
        for t in &self.terms {
            ewc_penalty_grad(params.tensor(t.key), &t.fisher, &t.anchor, self.lambda, self.binary, grads.tensor_mut(t.key));
        }
    }

    /// Adds one task's Fisher estimates (sums over `count` examples, one per term, in order)
    /// anchored at the current weights.
    pub fn consolidate<P: TensorSet + ?Sized>(&mut self, params: &P, sums: &[Vec<f32>], count: usize) {
        let scale = 1.0 / count.max(1) as f32;
        for (t, f) in self.terms.iter_mut().zip(sums) {
            ewc_consolidate(params.tensor(t.key), f, scale, self.binary, &mut t.fisher, &mut t.anchor);
        }
    }
}

/// Adds `scale^2 * sum_b (dy_b ⊙ dy_b)ᵀ (x_b ⊙ x_b)` to `f` (`outs x ins`): the sum over a batch of
/// every example's squared weight gradient for a dense layer `y = x Wᵀ` (binary or not), whose
/// gradient for example `b` is the outer product `dy_bᵀ x_b` and whose square is therefore the
/// outer product of the squares. Exact per example when nothing couples the examples (batch norm
/// on fixed statistics, [`crate::nn::Pass::Inference`]); `scale` turns the batch-mean loss's
/// `dy` into each example's own (the batch size).
pub fn fisher_per_example(x: &[f32], dy: &[f32], outs: usize, ins: usize, scale: f32, f: &mut [f32]) {
    let batch = x.len() / ins;
    assert_eq!(dy.len(), batch * outs, "dy must be batch x outs");
    let dy2: Vec<f32> = dy.iter().map(|v| (scale * v) * (scale * v)).collect();
    let x2: Vec<f32> = x.iter().map(|v| v * v).collect();
    matmul(MatmulShape::new(outs, batch, ins).trans_a().accumulate(), &dy2, &x2, f);
}

/// The Fisher estimate as a hook on the backward walk: per parameter slot of a penalised dense
/// layer, the running sum of [`fisher_per_example`].
pub struct FisherHook {
    /// By parameter slot; empty where nothing is estimated.
    pub sums: Vec<Vec<f32>>,
    /// The batch size of the pass being walked (see [`fisher_per_example`]).
    pub scale: f32,
}

impl FisherHook {
    pub fn new<P: TensorSet + ?Sized>(slots: usize, keys: &[TensorKey], params: &P) -> Self {
        let mut sums = vec![Vec::new(); slots];
        for &key in keys {
            let TensorKey::Weight(slot) = key else { unreachable!("EWC penalises weights, not {key:?}") };
            sums[slot] = vec![0.0; params.tensor(key).len()];
        }
        Self { sums, scale: 1.0 }
    }

    /// The sums of `keys`, in order.
    pub fn take(mut self, keys: &[TensorKey]) -> Vec<Vec<f32>> {
        keys.iter().map(|&key| match key {
            TensorKey::Weight(slot) => std::mem::take(&mut self.sums[slot]),
            other => unreachable!("EWC penalises weights, not {other:?}"),
        }).collect()
    }
}

impl BackwardHook for FisherHook {
    fn observe_dense(&mut self, _index: usize, layer: &PlannedLayer, x: &[f32], dy: &[f32]) {
        let f = &mut self.sums[layer.param_index()];
        if !f.is_empty() {
            fisher_per_example(x, dy, layer.output.len(), layer.input.len(), self.scale, f);
        }
    }
}
