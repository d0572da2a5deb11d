//! Artificial metaplasticity (AMP) in the convolutional layers (Vives-Boix and Ruiz-Fernandez,
//! Neurocomputing 2021, after Andina's weighting; docs/algorithms.md, "Artificial
//! metaplasticity"). Each training example's gradient is weighted by the inverse of an estimate of
//! how probable its pattern is:
//!
//! ```text
//! f*(x) = A / ( sqrt((2 pi)^N) * exp(B * sum_i x_i^2) )
//! w(t+1) = w(t) - eta * (1 / f*(x)) * dE/dw
//! ```
//! so rare patterns (far from the mean, large `sum x^2`) move the weights more.
//!
//! `1/f*` overflows f64 for N = 784 (its log is about 720 + ...), so the rule is applied in the
//! log domain, `ln(1/f*(x)) = N/2 ln(2 pi) + B sum x^2 - ln A`, and normalised within the batch to
//! mean 1: `factor_b = batch * exp(l_b) / sum_j exp(l_j)`, then clamped to `[lo, hi]`. Normalising
//! cancels `A` and the `(2 pi)^N` term, so only `B` shapes the factors; `B = 0` gives every
//! example exactly 1, which is standard training.
//!
//! Our construction (an adaptive `B`; the paper says A and B adapt during training but gives no
//! formula): the user's `B` is divided by the batch's mean energy, `l_b = B * E_b / mean_j(E_j)`
//! with `E_b = sum_i x_i^2`. With a fixed `B`, as the formula reads, the energies of a hidden
//! layer's input grow during training and differ by orders of magnitude between layers, so a `B`
//! that spreads the first layer's factors sensibly drives the second layer's to the clamps (one
//! example at the top, the rest at the bottom), which is no longer a weighting. Relative to the
//! batch's mean, `B` means the same in every
//! layer at every step: `B = 1` gives an example with twice the mean energy `e` times the weight
//! of one with the mean. All-zero inputs (mean 0) give every example 1.
//!
//! Interpretation this project uses (the sources are silent): `x` is the input of that
//! convolutional layer for that example (or, as an option, the network input for every layer);
//! the factor scales only the convolutional layers' weight and bias gradients; the delta passed to
//! the layer below is not scaled. GPU version: `shaders/amp.wgsl`.
//!
//! Raw or centred energy. Andina's `f*` is a Gaussian around the mean pattern, so `x` there is
//! centred and `sum x^2` measures how far a pattern lies from the usual one: rare patterns get the
//! large factors. On uncentred inputs (pixels in [0, 1], ReLU outputs) `sum x^2` measures how much
//! ink or activation a pattern has instead (a bold digit gets a large factor however common its
//! shape). [`AmpEnergy::Raw`] is that formula applied as written to the layer's input;
//! [`AmpEnergy::Centred`] first subtracts a running mean of that input over the training data
//! ([`centre_rows`]; the mean and its update rate are this project's construction, the sources
//! give none).

use crate::nn::{AMP_CENTRE_MIN_RATE, AmpEnergy, AmpHyper};

/// Centres a batch of patterns on the running mean of the patterns seen in training, which it
/// first moves towards this batch's mean:
///
/// ```text
/// rate = max(1 / (t + 1), AMP_CENTRE_MIN_RATE)     t: earlier updates of this mean
/// mu_i <- mu_i + rate * (mean_b x_bi - mu_i)
/// out_bi = x_bi - mu_i
/// ```
/// For the first `1 / AMP_CENTRE_MIN_RATE` steps `mu` is the plain mean of every pattern seen (the
/// first batch sets it); after that it follows the drift of a hidden layer's activations as the
/// network learns, over about the last 100 batches. The batch mean is summed over examples in
/// order in f32, as the GPU does.
pub fn centre_rows(x: &[f32], batch: usize, mean: &mut [f32], updates: u32, out: &mut [f32]) {
    let n = mean.len();
    assert!(batch > 0 && x.len() == batch * n && out.len() == x.len(), "x and out must be batch x n, n the mean's length");
    let rate = centre_rate(updates);
    for (i, mu) in mean.iter_mut().enumerate() {
        let mut total = 0.0f32;
        for b in 0..batch {
            total += x[b * n + i];
        }
        *mu += rate * (total / batch as f32 - *mu);
    }
    for (o, row) in out.chunks_exact_mut(n).zip(x.chunks_exact(n)) {
        o.iter_mut().zip(row).zip(mean.iter()).for_each(|((o, &v), &mu)| *o = v - mu);
    }
}

/// The running mean's update rate after `updates` earlier updates (see [`centre_rows`]).
pub fn centre_rate(updates: u32) -> f32 {
    (1.0 / (updates as f32 + 1.0)).max(AMP_CENTRE_MIN_RATE)
}

/// The running means of the patterns of each convolutional layer's factors, for
/// [`AmpEnergy::Centred`]: one vector per convolutional layer, empty until its first batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AmpCentres {
    pub means: Vec<Vec<f32>>,
    pub updates: u32,
}

/// The factors of one convolutional layer whose patterns are `x` (`batch x n`) under `energy`,
/// with `centre` the layer's running mean (moved by this batch when centred).
pub fn layer_factors(h: &AmpHyper, energy: AmpEnergy, x: &[f32], batch: usize, centre: &mut Vec<f32>, updates: u32, factors: &mut [f32]) {
    match energy {
        AmpEnergy::Raw => amp_factors(h, x, batch, factors),
        AmpEnergy::Centred => {
            centre.resize(x.len() / batch, 0.0);
            let mut centred = vec![0.0; x.len()];
            centre_rows(x, batch, centre, updates, &mut centred);
            amp_factors(h, &centred, batch, factors);
        }
    }
}

/// The full `ln(1/f*(x))` of one example with the formula's own `B` (`b_abs`), in f64: the batch
/// factors are its normalised form with `b_abs = B / mean energy`.
pub fn log_inverse_weight(a: f32, b_abs: f64, x: &[f32]) -> f64 {
    let n = x.len() as f64;
    let energy: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
    n / 2.0 * (2.0 * std::f64::consts::PI).ln() + b_abs * energy - (a as f64).ln()
}

/// The per-example factors of a batch whose inputs are `x` (`batch x n`, one row per example).
/// The constant terms of `ln(1/f*)` are dropped before normalising because they cancel.
/// `sum x^2` is accumulated in order in f32, as the GPU does.
pub fn amp_factors(h: &AmpHyper, x: &[f32], batch: usize, factors: &mut [f32]) {
    assert_eq!(factors.len(), batch, "one factor per example");
    assert!(batch > 0 && x.len() % batch == 0, "x must be batch x n");
    let n = x.len() / batch;
    let energies: Vec<f32> = x
        .chunks_exact(n)
        .map(|row| {
            let mut energy = 0.0f32;
            for &v in row {
                energy += v * v;
            }
            energy
        })
        .collect();
    let mut total = 0.0f32;
    for &e in &energies {
        total += e;
    }
    let mean = total / batch as f32;
    let scale = if mean > 0.0 { h.b / mean } else { 0.0 };
    let logs: Vec<f32> = energies.iter().map(|&e| scale * e).collect();
    let max = logs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for &l in &logs {
        sum += (l - max).exp();
    }
    for (f, &l) in factors.iter_mut().zip(&logs) {
        *f = ((l - max).exp() * batch as f32 / sum).clamp(h.lo, h.hi);
    }
}

/// `out[r, :] = dy[r, :] * factors[r / rows_per_example]`: the weighted copy of a convolutional
/// layer's output gradient from which its weight and bias gradients are taken.
pub fn scale_rows(dy: &[f32], cols: usize, rows_per_example: usize, factors: &[f32], out: &mut [f32]) {
    for (r, (o, g)) in out.chunks_exact_mut(cols).zip(dy.chunks_exact(cols)).enumerate() {
        let f = factors[r / rows_per_example];
        o.iter_mut().zip(g).for_each(|(o, g)| *o = g * f);
    }
}
