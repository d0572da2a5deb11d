//! Batch normalisation over a batch of feature vectors (BatchNorm1d). GPU version:
//! `shaders/batchnorm.wgsl`.
//!
//! `y = gamma * (x - mean) / sqrt(var + eps) + beta`. In training, mean and (biased) variance per
//! feature over the batch; a network that evaluates on running statistics also keeps
//! `running = (1 - momentum) running + momentum batch` (unbiased variance, PyTorch's convention)
//! and normalises with those in inference ([`crate::nn::NormEval`]).

use crate::nn::hyper::{BN_EPS, BN_MOMENTUM};

/// `x`, `y`, `xhat`: `batch x features`, row-major. Saves `xhat` and `inv_std` for the backward pass.
pub fn batchnorm_forward(
    x: &[f32],
    features: usize,
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
    xhat: &mut [f32],
    inv_std: &mut [f32],
) {
    let batch = x.len() / features;
    let n = batch as f32;
    // Feature by feature, so a column is read three times while it is in cache.
    for j in 0..features {
        let mean = column_sum(0.0, x, features, j) / n;
        let var = column_squares(0.0, x, features, j, mean) / n;
        let s = 1.0 / (var + BN_EPS).sqrt();
        inv_std[j] = s;
        for b in 0..batch {
            let i = b * features + j;
            xhat[i] = (x[i] - mean) * s;
            y[i] = gamma[j] * xhat[i] + beta[j];
        }
    }
}

/// `acc` plus feature `j`'s values over the rows of `x` (`rows x features`), in row order: every
/// batch statistic here is summed so, whole or in pieces ([`StreamedStats`]).
fn column_sum(acc: f32, x: &[f32], features: usize, j: usize) -> f32 {
    x.iter().skip(j).step_by(features).fold(acc, |a, &v| a + v)
}

/// `acc` plus feature `j`'s squared deviations from `mean`, in row order.
fn column_squares(acc: f32, x: &[f32], features: usize, j: usize, mean: f32) -> f32 {
    x.iter().skip(j).step_by(features).fold(acc, |a, &v| {
        let d = v - mean;
        a + d * d
    })
}

/// Gradients of the loss with respect to `x`, `gamma` and `beta`, given `dy`:
/// `dx = inv_std / B * (B * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))`, `dxhat = dy * gamma`.
pub fn batchnorm_backward(
    dy: &[f32],
    xhat: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    features: usize,
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let batch = dy.len() / features;
    let n = batch as f32;
    for j in 0..features {
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f32, 0.0f32);
        for b in 0..batch {
            let i = b * features + j;
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * xhat[i];
        }
        dgamma[j] = sum_dy_xhat;
        dbeta[j] = sum_dy;
        let scale = gamma[j] * inv_std[j] / n;
        for b in 0..batch {
            let i = b * features + j;
            dx[i] = scale * (n * dy[i] - sum_dy - xhat[i] * sum_dy_xhat);
        }
    }
}

/// [`batchnorm_forward`] on each of `groups` blocks of consecutive rows, each with its own
/// statistics: the autoencoder runs all steps of an episode as one batch and normalises each step
/// as if it ran alone. `inv_std` is `groups x features`. GPU: `forward` with `groups`.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward_groups(
    x: &[f32],
    features: usize,
    groups: usize,
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
    xhat: &mut [f32],
    inv_std: &mut [f32],
) {
    assert!(groups > 0 && x.len().is_multiple_of(groups * features), "x must be groups x batch x features");
    assert_eq!(inv_std.len(), groups * features, "one inv_std per group and feature");
    let n = x.len() / groups;
    for (g, s) in inv_std.chunks_exact_mut(features).enumerate() {
        let rows = g * n..(g + 1) * n;
        batchnorm_forward(&x[rows.clone()], features, gamma, beta, &mut y[rows.clone()], &mut xhat[rows], s);
    }
}

/// Backward through [`batchnorm_forward_groups`]: each group's [`batchnorm_backward`], its
/// `dgamma` and `dbeta` summed over the groups in order.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_backward_groups(
    dy: &[f32],
    xhat: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    features: usize,
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let groups = inv_std.len() / features;
    assert!(groups > 0 && inv_std.len() == groups * features, "one inv_std per group and feature");
    assert!(dy.len().is_multiple_of(groups * features), "dy must be groups x batch x features");
    let n = dy.len() / groups;
    let (mut dg, mut db) = (vec![0.0; features], vec![0.0; features]);
    for (g, s) in inv_std.chunks_exact(features).enumerate() {
        let rows = g * n..(g + 1) * n;
        batchnorm_backward(&dy[rows.clone()], &xhat[rows.clone()], s, gamma, features, &mut dx[rows], &mut dg, &mut db);
        if g == 0 {
            dgamma.copy_from_slice(&dg);
            dbeta.copy_from_slice(&db);
        } else {
            dgamma.iter_mut().zip(&dg).for_each(|(a, b)| *a += b);
            dbeta.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
        }
    }
}

/// Folds this batch's mean and unbiased variance per feature into the running statistics (the
/// same sums, in the same order, as [`batchnorm_forward`]).
pub fn batchnorm_track(x: &[f32], features: usize, running_mean: &mut [f32], running_var: &mut [f32]) {
    let n = (x.len() / features) as f32;
    for j in 0..features {
        let mean = column_sum(0.0, x, features, j) / n;
        let unbiased = column_squares(0.0, x, features, j, mean) / (n - 1.0).max(1.0);
        running_mean[j] = (1.0 - BN_MOMENTUM) * running_mean[j] + BN_MOMENTUM * mean;
        running_var[j] = (1.0 - BN_MOMENTUM) * running_var[j] + BN_MOMENTUM * unbiased;
    }
}

/// Batch statistics per feature, over rows that may arrive in pieces (an evaluation run a chunk
/// of the batch at a time, `walk::forward_output_chunked`): the mean over every piece, then the
/// variance over every piece again, each feature's sum carried from piece to piece in row order
/// by the same sums [`batchnorm_forward`] takes, so a chunked pass gets the same statistics to the
/// bit, and [`batchnorm_inference`] with them the same output.
#[derive(Debug, Clone)]
pub struct StreamedStats {
    features: usize,
    rows: usize,
    sum: Vec<f32>,
    mean: Option<Vec<f32>>,
}

impl StreamedStats {
    pub fn new(features: usize) -> Self {
        Self { features, rows: 0, sum: vec![0.0; features], mean: None }
    }

    /// Adds the next rows (`rows x features`): to the mean's sums on the first sweep over the
    /// batch, to the variance's after [`Self::end_sweep`].
    pub fn add(&mut self, x: &[f32]) {
        let f = self.features;
        match &self.mean {
            None => {
                for (j, s) in self.sum.iter_mut().enumerate() {
                    *s = column_sum(*s, x, f, j);
                }
                self.rows += x.len() / f;
            }
            Some(mean) => {
                for (j, s) in self.sum.iter_mut().enumerate() {
                    *s = column_squares(*s, x, f, j, mean[j]);
                }
            }
        }
    }

    /// Ends the first sweep: the mean is known and the second sweep sums squared deviations.
    pub fn end_sweep(&mut self) {
        let n = self.rows as f32;
        self.mean = Some(self.sum.iter().map(|s| s / n).collect());
        self.sum.fill(0.0);
    }

    /// The batch's mean and (biased) variance per feature, after both sweeps.
    pub fn finish(self) -> (Vec<f32>, Vec<f32>) {
        let n = self.rows as f32;
        let var = self.sum.iter().map(|s| s / n).collect();
        (self.mean.unwrap_or_else(|| vec![0.0; self.features]), var)
    }
}

/// Inference: `y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta`, saving `xhat`
/// and `inv_std` so a per-example backward pass can follow.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_inference(
    x: &[f32],
    features: usize,
    gamma: &[f32],
    beta: &[f32],
    running_mean: &[f32],
    running_var: &[f32],
    y: &mut [f32],
    xhat: &mut [f32],
    inv_std: &mut [f32],
) {
    for j in 0..features {
        inv_std[j] = 1.0 / (running_var[j] + BN_EPS).sqrt();
    }
    for (i, &v) in x.iter().enumerate() {
        let j = i % features;
        xhat[i] = (v - running_mean[j]) * inv_std[j];
        y[i] = gamma[j] * xhat[i] + beta[j];
    }
}

/// Backward through [`batchnorm_inference`]: the statistics are constants, so each example's
/// gradient is its own, `dx = dy * gamma * inv_std`; `dgamma = sum(dy * xhat)`, `dbeta = sum(dy)`.
pub fn batchnorm_inference_backward(dy: &[f32], xhat: &[f32], inv_std: &[f32], gamma: &[f32], features: usize, dx: &mut [f32], dgamma: &mut [f32], dbeta: &mut [f32]) {
    dgamma.iter_mut().chain(dbeta.iter_mut()).for_each(|v| *v = 0.0);
    for (i, &g) in dy.iter().enumerate() {
        let j = i % features;
        dx[i] = g * gamma[j] * inv_std[j];
        dgamma[j] += g * xhat[i];
        dbeta[j] += g;
    }
}
