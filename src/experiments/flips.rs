//! What a hidden weight's magnitude says about its binary weight (Laborieux et al. 2021, Fig. 5c–e;
//! the authors' `switch_sign_induced_loss_increase`): the weights of one layer are cut into bins of
//! `|Wh|` (equal widths from 0 to the layer's largest), and in each bin `sample` binary weights
//! picked at random are flipped together; the loss on a fixed set of examples rises the more, the
//! more those weights mattered. Metaplasticity should make the rise grow with `|Wh|`: the weights
//! it consolidated are the ones the earlier tasks need.
//!
//! Written against [`BnnTrainer`] so either backend answers; the network is left as it was.

use crate::model::bnn::{BnnParams, BnnTrainer, LAYERS};
use crate::nn::{BatchStats, TrainError};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlipConfig {
    /// The linear layer, from 0 (the authors' Fig. 5c–e: all three).
    pub layer: usize,
    pub bins: usize,
    /// Weights flipped together in a bin; a bin with fewer is left out, as the authors do.
    pub sample: usize,
    /// Independent draws of the flipped weights per bin.
    pub runs: usize,
    pub seed: u64,
}

impl FlipConfig {
    /// Layer 2 (the hidden-to-hidden weights), 10 bins, 200 weights per flip, 3 draws.
    pub fn hidden_layer(seed: u64) -> Self {
        Self { layer: 1, bins: 10, sample: 200, runs: 3, seed }
    }
}

/// One bin's answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlipBin {
    /// Which bin, from 0 (the smallest `|Wh|`).
    pub bin: usize,
    /// The mean `|Wh|` of the flipped weights over the draws, divided by the layer's largest `|Wh|`.
    pub magnitude: f32,
    /// Weights of the layer in this bin.
    pub candidates: usize,
    /// Mean loss per example after the flips minus before, one per draw.
    pub increase: Vec<f32>,
}

impl FlipBin {
    pub fn mean_increase(&self) -> f32 {
        self.increase.iter().sum::<f32>() / self.increase.len().max(1) as f32
    }
}

async fn mean_loss<T: BnnTrainer>(trainer: &mut T, batches: &[(Vec<f32>, Vec<u32>)]) -> Result<f32, TrainError> {
    let mut stats = BatchStats::default();
    for (x, y) in batches {
        stats.add(trainer.evaluate(x, y).await?);
    }
    Ok(stats.mean_loss())
}

/// The loss increase per bin of `cfg.layer`, on `batches` (evaluated as the experiments evaluate:
/// BatchNorm on each batch's statistics, with the parameters the network has now, its last task's
/// BatchNorm included, as the authors measure it). Bins with fewer than `sample` weights are
/// skipped.
pub async fn flip_loss_increase<T: BnnTrainer>(trainer: &mut T, batches: &[(Vec<f32>, Vec<u32>)], cfg: &FlipConfig) -> Result<Vec<FlipBin>, TrainError> {
    if cfg.layer >= LAYERS || cfg.bins == 0 || cfg.sample == 0 || cfg.runs == 0 {
        return Err(TrainError::Config(format!("flips: layer {} of {LAYERS}, {} bins, {} weights, {} draws: each must be at least 1 (layer below {LAYERS})", cfg.layer, cfg.bins, cfg.sample, cfg.runs)));
    }
    let original: BnnParams = trainer.params().await?;
    let w = &original.wh[cfg.layer];
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if !(max > 0.0) {
        return Ok(Vec::new());
    }
    let before = mean_loss(trainer, batches).await?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut out = Vec::new();
    let mut result = Ok(());
    for k in 0..cfg.bins {
        let (lo, hi) = (k as f32 / cfg.bins as f32 * max, (k + 1) as f32 / cfg.bins as f32 * max);
        // The last bin holds the largest weight itself.
        let mut candidates: Vec<usize> = (0..w.len()).filter(|&i| w[i].abs() >= lo && (w[i].abs() < hi || k + 1 == cfg.bins)).collect();
        if candidates.len() < cfg.sample {
            continue;
        }
        let mut bin = FlipBin { bin: k, magnitude: 0.0, candidates: candidates.len(), increase: Vec::new() };
        for _ in 0..cfg.runs {
            candidates.shuffle(&mut rng);
            let picked = &candidates[..cfg.sample];
            let mut flipped = original.clone();
            for &i in picked {
                flipped.wh[cfg.layer][i] = -flipped.wh[cfg.layer][i];
            }
            bin.magnitude += picked.iter().map(|&i| w[i].abs()).sum::<f32>() / (cfg.sample as f32 * max * cfg.runs as f32);
            trainer.load_params(&flipped);
            match mean_loss(trainer, batches).await {
                Ok(after) => bin.increase.push(after - before),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
        out.push(bin);
    }
    trainer.load_params(&original);
    result.map(|()| out)
}
