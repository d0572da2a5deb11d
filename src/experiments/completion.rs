//! Pattern completion (Miconi, Clune, Stanley, ICML 2018, §4.1; ALGORITHMS.md §3).
//!
//! An episode draws `P` random ±1 patterns of `n` bits and shows each for a few steps, with zero
//! (blank) steps after each, the whole set `presentations` times in a fresh order each time; then
//! one of them with a random half of its bits set to 0. The input at every step is the pattern
//! times the gain; the loss is the MSE between the output at the last step and the full pattern.
//!
//! Fixed weights cannot know which patterns an episode holds, so the best a non-plastic layer can
//! do for an erased bit is output 0 (MSE about 0.5). A plastic layer can store the episode's
//! patterns in its trace, `Hebb ≈ sum_k p_k p_k^T`, and read the erased bits back from it.
//!
//! Deterministic given the seed: parameters, training episodes and test episodes each come from
//! their own seeded generator, the same for the plastic and the non-plastic network, so the two
//! are compared on identical data.

use crate::cpu::metaplastic_adam::metaplastic_adam;
use crate::cpu::plastic::{PlasticGrads, episode_backward, episode_forward};
use crate::model::TrainError;
use crate::model::hebbian::{HebbianConfig, HebbianParams};
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};

/// A run of training and its evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionSetup {
    pub net: HebbianConfig,
    /// Adam steps, each on `net.batch` fresh episodes.
    pub train_steps: usize,
    /// Fresh episodes the final test MSE is measured on.
    pub test_episodes: usize,
    /// The loss curve averages the training loss over windows of this many steps.
    pub log_every: usize,
    pub seed: u64,
}

impl CompletionSetup {
    /// The small default: 50 bits, 3 patterns.
    pub fn small(plastic: bool) -> Self {
        Self { net: HebbianConfig::small(plastic), train_steps: 1000, test_episodes: 256, log_every: 50, seed: 1 }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        self.net.validate()?;
        if !(1..=1_000_000).contains(&self.train_steps) {
            return Err(TrainError::Config(format!("training steps {} must be in 1..=1000000", self.train_steps)));
        }
        if !(1..=100_000).contains(&self.test_episodes) {
            return Err(TrainError::Config(format!("test episodes {} must be in 1..=100000", self.test_episodes)));
        }
        if self.log_every == 0 {
            return Err(TrainError::Config("the loss-curve window must be at least one step".into()));
        }
        Ok(())
    }
}

/// A batch of episodes: inputs `[T, batch, n]` (already times the gain) and the full test
/// patterns `[batch, n]` the last output should reproduce.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionBatch {
    pub batch: usize,
    pub xs: Vec<f32>,
    pub targets: Vec<f32>,
}

/// Draws `batch` episodes.
pub fn completion_batch(cfg: &HebbianConfig, batch: usize, rng: &mut StdRng) -> CompletionBatch {
    let n = cfg.bits;
    let steps = cfg.episode_steps();
    let mut xs = vec![0.0f32; steps * batch * n];
    let mut targets = vec![0.0f32; batch * n];
    for b in 0..batch {
        let patterns: Vec<Vec<f32>> =
            (0..cfg.patterns).map(|_| (0..n).map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 }).collect()).collect();
        let mut t = 0;
        let show = |t: usize, pattern: &[f32], xs: &mut [f32]| {
            let at = (t * batch + b) * n;
            xs[at..at + n].iter_mut().zip(pattern).for_each(|(x, p)| *x = cfg.input_gain * p);
        };
        let mut order: Vec<usize> = (0..cfg.patterns).collect();
        for _ in 0..cfg.presentations {
            order.shuffle(rng);
            for &k in &order {
                for _ in 0..cfg.present_steps {
                    show(t, &patterns[k], &mut xs);
                    t += 1;
                }
                // Blank steps stay zero.
                t += cfg.blank_steps;
            }
        }
        let k = rng.random_range(0..cfg.patterns);
        let mut erased = patterns[k].clone();
        let mut bits: Vec<usize> = (0..n).collect();
        bits.shuffle(rng);
        for &i in &bits[..n / 2] {
            erased[i] = 0.0;
        }
        for _ in 0..cfg.test_steps {
            show(t, &erased, &mut xs);
            t += 1;
        }
        targets[b * n..(b + 1) * n].copy_from_slice(&patterns[k]);
    }
    CompletionBatch { batch, xs, targets }
}

/// Mean squared error of the last step's outputs against the full patterns, over bits and
/// episodes, and when asked, its gradients.
pub fn completion_loss(cfg: &HebbianConfig, params: &HebbianParams, data: &CompletionBatch, with_grads: bool) -> (f32, Option<PlasticGrads>) {
    let steps = cfg.episode_steps();
    let dims = cfg.dims(data.batch);
    let tape = episode_forward(dims, params.weights(), cfg.rule, cfg.activation, &data.xs, steps);
    let last = tape.y_at(steps - 1);
    let count = last.len() as f32;
    let loss = last.iter().zip(&data.targets).map(|(y, p)| (y - p) * (y - p)).sum::<f32>() / count;
    if !with_grads {
        return (loss, None);
    }
    let ny = last.len();
    let mut dys = vec![0.0f32; steps * ny];
    for ((d, y), p) in dys[(steps - 1) * ny..].iter_mut().zip(last).zip(&data.targets) {
        *d = 2.0 * (y - p) / count;
    }
    let grads = episode_backward(params.weights(), cfg.rule, cfg.activation, &data.xs, &tape, &dys);
    (loss, Some(grads))
}

/// One point of the loss curve: the mean training loss over the window ending at `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub step: usize,
    pub train_mse: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRecord {
    pub plastic: bool,
    pub curve: Vec<CurvePoint>,
    /// MSE on `test_episodes` fresh episodes after training; `NaN` until the run finishes.
    pub test_mse: f32,
}

/// Adam's moments for every parameter (eta's are one-element vectors).
#[derive(Debug, Clone, Default)]
struct Moments {
    m1: Vec<f32>,
    m2: Vec<f32>,
}

impl Moments {
    fn zeros(n: usize) -> Self {
        Self { m1: vec![0.0; n], m2: vec![0.0; n] }
    }
}

/// A training run, advanced a few steps at a time as the other experiments are.
pub struct CompletionRun {
    setup: CompletionSetup,
    params: HebbianParams,
    train_rng: StdRng,
    step: usize,
    adam: [Moments; 3],
    window: (f32, usize),
    record: CompletionRecord,
}

impl CompletionRun {
    pub fn new(setup: CompletionSetup) -> Result<Self, TrainError> {
        setup.validate()?;
        let params = HebbianParams::init(&setup.net, setup.seed);
        let synapses = setup.net.bits * setup.net.bits;
        let record = CompletionRecord { plastic: setup.net.plastic, curve: Vec::new(), test_mse: f32::NAN };
        Ok(Self {
            train_rng: StdRng::seed_from_u64(setup.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7261_696e),
            setup,
            params,
            step: 0,
            adam: [Moments::zeros(synapses), Moments::zeros(synapses), Moments::zeros(1)],
            window: (0.0, 0),
            record,
        })
    }

    pub fn setup(&self) -> &CompletionSetup {
        &self.setup
    }

    pub fn params(&self) -> &HebbianParams {
        &self.params
    }

    pub fn record(&self) -> &CompletionRecord {
        &self.record
    }

    pub fn finished(&self) -> bool {
        self.step >= self.setup.train_steps && self.record.test_mse.is_finite()
    }

    /// Up to `steps` training steps; after the last, the test evaluation. `Ok(true)` when done.
    pub fn advance(&mut self, steps: usize) -> Result<bool, TrainError> {
        let end = self.setup.train_steps.min(self.step.saturating_add(steps));
        while self.step < end {
            self.train_step()?;
        }
        if self.step >= self.setup.train_steps && !self.record.test_mse.is_finite() {
            self.record.test_mse = self.test_mse();
        }
        Ok(self.finished())
    }

    fn train_step(&mut self) -> Result<(), TrainError> {
        let cfg = &self.setup.net;
        let data = completion_batch(cfg, cfg.batch, &mut self.train_rng);
        let (loss, grads) = completion_loss(cfg, &self.params, &data, true);
        let grads = grads.expect("gradients were asked for");
        if !loss.is_finite() {
            return Err(TrainError::Diverged(format!("the loss became {loss} at step {}; try a smaller learning rate", self.step)));
        }
        self.step += 1;
        let hyper = cfg.hyper().at_step(self.step as u32);
        let [w, alpha, eta] = &mut self.adam;
        metaplastic_adam(&mut self.params.w, &grads.w, &mut w.m1, &mut w.m2, &hyper);
        // The non-plastic network keeps alpha at 0, so its trace never reaches the output, and
        // eta (whose gradient is then 0) is left alone too.
        if cfg.plastic {
            metaplastic_adam(&mut self.params.alpha, &grads.alpha, &mut alpha.m1, &mut alpha.m2, &hyper);
            let mut e = [self.params.eta];
            metaplastic_adam(&mut e, &[grads.eta], &mut eta.m1, &mut eta.m2, &hyper);
            self.params.eta = e[0];
        }
        self.window.0 += loss;
        self.window.1 += 1;
        if self.step % self.setup.log_every == 0 || self.step == self.setup.train_steps {
            let train_mse = self.window.0 / self.window.1 as f32;
            self.record.curve.push(CurvePoint { step: self.step, train_mse });
            self.window = (0.0, 0);
        }
        Ok(())
    }

    /// MSE over the test episodes, the same episodes for both variants of a seed.
    pub fn test_mse(&self) -> f32 {
        let cfg = &self.setup.net;
        let mut rng = StdRng::seed_from_u64(self.setup.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7465_7374);
        let (mut sum, mut done) = (0.0f64, 0);
        while done < self.setup.test_episodes {
            let batch = cfg.batch.min(self.setup.test_episodes - done);
            let data = completion_batch(cfg, batch, &mut rng);
            let (loss, _) = completion_loss(cfg, &self.params, &data, false);
            sum += f64::from(loss) * batch as f64;
            done += batch;
        }
        (sum / done as f64) as f32
    }
}

/// A whole run to the end.
pub fn run_completion(setup: CompletionSetup) -> Result<(CompletionRecord, HebbianParams), TrainError> {
    let mut run = CompletionRun::new(setup)?;
    run.advance(usize::MAX)?;
    Ok((run.record.clone(), run.params.clone()))
}
