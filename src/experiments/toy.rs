//! The paper's 2-D quadratic toy problem (Laborieux et al. 2021, Fig. 1): a loss
//! `L(W) = 1/2 |W - W*|^2` on binary weights `W = sign(Wh)`, hidden weights updated with the
//! gradient taken at the binary weights, scaled by the consolidation factor when the step would
//! shrink |Wh|. With W* = (1.5, 0.5) the first weight's sign matters more, so its hidden weight
//! grows steadily, while the second keeps being pushed across 0; the larger m, the sooner a grown
//! hidden weight stops being moved back. Instant, and no data needed.

use crate::cpu::metaplastic_adam::consolidation;
use crate::cpu::sign::binarize;

#[derive(Debug, Clone, PartialEq)]
pub struct ToyConfig {
    pub target: [f32; 2],
    pub start: [f32; 2],
    pub lr: f32,
    pub steps: usize,
    pub metas: Vec<f32>,
}

impl Default for ToyConfig {
    /// The values of docs/algorithms.md, "Toy quadratic problem": W* = (1.5, 0.5), start
    /// (0.01, 0.02), step 0.35, 500 steps.
    fn default() -> Self {
        Self { target: [1.5, 0.5], start: [0.01, 0.02], lr: 0.35, steps: 500, metas: vec![0.0, 0.5, 1.35] }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub meta: f32,
    /// Hidden weights after each step, the start included.
    pub points: Vec<[f32; 2]>,
}

pub fn toy_loss(w: [f32; 2], target: [f32; 2]) -> f32 {
    0.5 * ((w[0] - target[0]).powi(2) + (w[1] - target[1]).powi(2))
}

/// One trajectory per m.
pub fn run_toy(cfg: &ToyConfig) -> Vec<Trajectory> {
    cfg.metas
        .iter()
        .map(|&meta| {
            let mut w = cfg.start;
            let mut points = vec![w];
            for _ in 0..cfg.steps {
                for (i, wi) in w.iter_mut().enumerate() {
                    let g = binarize(*wi) - cfg.target[i];
                    let shrinks = wi.signum() * g > 0.0;
                    let scale = if shrinks { consolidation(meta, *wi) } else { 1.0 };
                    *wi -= cfg.lr * g * scale;
                }
                points.push(w);
            }
            Trajectory { meta, points }
        })
        .collect()
}
