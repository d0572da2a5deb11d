//! Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), the baseline the metaplasticity
//! paper compares with. GPU version: `shaders/ewc.wgsl`.
//!
//! Loss `L + lambda/2 * sum_t sum_i F_t,i (W_i - W*_t,i)^2` over the tasks `t` learned so far, with
//! `F_t` the diagonal Fisher at the end of task `t`. Its gradient,
//! `lambda * sum_t F_t (W - W*_t) = lambda * (F W - FW)` with `F = sum_t F_t` and
//! `FW = sum_t F_t W*_t`, needs only those two sums, however many tasks there were. With `binary`,
//! `W` is the weight the forward pass uses, `sign(Wh)` (and so is the anchor), as the authors
//! compute it (ALGORITHMS.md §1); the penalty's gradient with respect to it is applied to `Wh`,
//! as every gradient of the binary weights is.

use super::sign::binarize;
use crate::nn::{TensorKey, TensorSet};

fn used(w: f32, binary: bool) -> f32 {
    if binary { binarize(w) } else { w }
}

/// Adds the penalty's gradient `lambda * (F w - FW)` to `grad`.
pub fn ewc_penalty_grad(w: &[f32], fisher: &[f32], fisher_anchor: &[f32], lambda: f32, binary: bool, grad: &mut [f32]) {
    for (((g, &w), &f), &fw) in grad.iter_mut().zip(w).zip(fisher).zip(fisher_anchor) {
        *g += lambda * (f * used(w, binary) - fw);
    }
}

/// Adds one task's Fisher estimate `f` (anchored at the current weights `w`) to the sums.
pub fn ewc_consolidate(w: &[f32], f: &[f32], binary: bool, fisher: &mut [f32], fisher_anchor: &mut [f32]) {
    for (((fs, fw), &w), &f) in fisher.iter_mut().zip(fisher_anchor.iter_mut()).zip(w).zip(f) {
        *fs += f;
        *fw += f * used(w, binary);
    }
}

/// The Fisher estimate as the mean over `batches` of the squared batch-mean gradient:
/// `f += g * g / batches`. Not the authors' estimate (theirs squares per-example gradients; near
/// convergence this one is about 1/batch of it): kept as a named option.
pub fn fisher_batch_mean_squared(g: &[f32], batches: usize, f: &mut [f32]) {
    for (f, &g) in f.iter_mut().zip(g) {
        *f += g * g / batches as f32;
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

    /// Adds one task's Fisher estimates (one per term, in order) anchored at the current weights.
    pub fn consolidate<P: TensorSet + ?Sized>(&mut self, params: &P, estimates: &[Vec<f32>]) {
        for (t, f) in self.terms.iter_mut().zip(estimates) {
            ewc_consolidate(params.tensor(t.key), f, self.binary, &mut t.fisher, &mut t.anchor);
        }
    }
}
