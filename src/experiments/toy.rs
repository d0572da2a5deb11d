//! The paper's 2-D quadratic toy problem (Laborieux et al. 2021, Fig. 1 of the abstract, Fig. 5a
//! of the full paper): a loss `L(W) = 1/2 (W - W*)ᵀ H (W - W*)` on binary weights `W = sign(Wh)`,
//! hidden weights updated with the gradient `H (sign(Wh) - W*)` taken at the binary weights, scaled
//! by the consolidation factor when the step would shrink |Wh|. H is the authors' (their notebook
//! draws a random positive definite H, eigen-axes turned by a random reflection; its printed
//! value is used here), or the identity. With W* = (1.5, 0.5) the first weight's sign matters
//! more, so its hidden weight grows steadily, while the second keeps being pushed across 0; the
//! larger m, the sooner a grown hidden weight stops being moved back. Instant, and no data needed.

use crate::cpu::metaplastic_adam::consolidation;
use crate::cpu::sign::binarize;

/// The H of the authors' notebook (`Quadratic_Binary_Task_Fig-5ab`, seed 11): eigenvalues 0.745
/// and 2.433, eigen-axes turned about 7 degrees from the coordinate axes.
pub const AUTHORS_HESSIAN: [[f32; 2]; 2] = [[2.4047, 0.2158], [0.2158, 0.7733]];
pub const IDENTITY: [[f32; 2]; 2] = [[1.0, 0.0], [0.0, 1.0]];

#[derive(Debug, Clone, PartialEq)]
pub struct ToyConfig {
    /// The loss's curvature: symmetric, positive definite.
    pub hessian: [[f32; 2]; 2],
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
        Self { hessian: AUTHORS_HESSIAN, target: [1.5, 0.5], start: [0.01, 0.02], lr: 0.35, steps: 500, metas: vec![0.0, 0.5, 1.35] }
    }
}

impl ToyConfig {
    /// `1/2 (w - W*)ᵀ H (w - W*)`.
    pub fn loss(&self, w: [f32; 2]) -> f32 {
        let d = [w[0] - self.target[0], w[1] - self.target[1]];
        let hd = self.grad_at(w);
        0.5 * (d[0] * hd[0] + d[1] * hd[1])
    }

    /// `H (w - W*)`.
    pub fn grad_at(&self, w: [f32; 2]) -> [f32; 2] {
        let (h, d) = (self.hessian, [w[0] - self.target[0], w[1] - self.target[1]]);
        [h[0][0] * d[0] + h[0][1] * d[1], h[1][0] * d[0] + h[1][1] * d[1]]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    pub meta: f32,
    /// Hidden weights after each step, the start included.
    pub points: Vec<[f32; 2]>,
}

/// One trajectory per m.
pub fn run_toy(cfg: &ToyConfig) -> Vec<Trajectory> {
    cfg.metas
        .iter()
        .map(|&meta| {
            let mut w = cfg.start;
            let mut points = vec![w];
            for _ in 0..cfg.steps {
                let g = cfg.grad_at([binarize(w[0]), binarize(w[1])]);
                for (wi, g) in w.iter_mut().zip(g) {
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
