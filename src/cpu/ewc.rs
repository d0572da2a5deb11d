//! Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017), the baseline the metaplasticity
//! paper compares with. GPU version: `shaders/ewc.wgsl`.
//!
//! Loss `L + lambda/2 * sum_t sum_i F_t,i (W_i - W*_t,i)^2` over the tasks `t` learned so far, with
//! `F_t` the diagonal Fisher at the end of task `t`, estimated from squared gradients computed
//! with the binary weights (ALGORITHMS.md §1). Its gradient,
//! `lambda * sum_t F_t (W - W*_t) = lambda * (F W - FW)` with `F = sum_t F_t` and
//! `FW = sum_t F_t W*_t`, needs only those two sums, however many tasks there were.

/// Adds the penalty's gradient to `grad`.
pub fn ewc_penalty_grad(w: &[f32], fisher: &[f32], fisher_anchor: &[f32], lambda: f32, grad: &mut [f32]) {
    for i in 0..w.len() {
        grad[i] += lambda * (fisher[i] * w[i] - fisher_anchor[i]);
    }
}

/// Adds one task's Fisher estimate `f` (anchored at the current weights `w`) to the sums.
pub fn ewc_consolidate(w: &[f32], f: &[f32], fisher: &mut [f32], fisher_anchor: &mut [f32]) {
    for i in 0..w.len() {
        fisher[i] += f[i];
        fisher_anchor[i] += f[i] * w[i];
    }
}
