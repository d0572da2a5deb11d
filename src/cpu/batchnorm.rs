//! Batch normalisation over a batch of feature vectors (BatchNorm1d), with batch statistics.
//!
//! `y = gamma * (x - mean) / sqrt(var + eps) + beta`, mean and (biased) variance per feature over
//! the batch. The binarized network uses batch statistics at test time too, as the authors'
//! latest continual-learning code does (ALGORITHMS.md §1), so there are no running statistics.

use crate::nn::hyper::BN_EPS;

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
    for j in 0..features {
        let mut mean = 0.0f32;
        for b in 0..batch {
            mean += x[b * features + j];
        }
        mean /= batch as f32;
        let mut var = 0.0f32;
        for b in 0..batch {
            let d = x[b * features + j] - mean;
            var += d * d;
        }
        var /= batch as f32;
        let s = 1.0 / (var + BN_EPS).sqrt();
        inv_std[j] = s;
        for b in 0..batch {
            let i = b * features + j;
            xhat[i] = (x[i] - mean) * s;
            y[i] = gamma[j] * xhat[i] + beta[j];
        }
    }
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
