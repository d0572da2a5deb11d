//! Pattern completion (Miconi, Clune, Stanley, ICML 2018, §4.1; docs/algorithms.md, "Recurrent
//! pattern completion" and "Feed-forward pattern completion").
//!
//! An episode draws `P` random ±1 patterns of `n` bits, each exactly half +1 and half -1, and shows each for a few steps, with zero
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
//!
//! The experiment does not know where it trains: it hands batches to a [`HebbianTrainer`] (the CPU
//! reference or the GPU, [`crate::backend::Backend::hebbian`]) and reads the loss back once per
//! point of the curve.

use crate::backend::Backend;
use crate::nn::TrainError;
use crate::model::hebbian::{EpisodeTrace, HebbianConfig, HebbianParams, HebbianTrainer, balanced_pattern};
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

    /// Miconi's small recurrent setting ([`HebbianConfig::recurrent_small`]) for his 8,000
    /// episodes, tested on 1,000 fresh episodes.
    pub fn recurrent_small(plastic: bool) -> Self {
        Self { net: HebbianConfig::recurrent_small(plastic), train_steps: 8000, test_episodes: 1000, log_every: 100, seed: 1 }
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
        let patterns: Vec<Vec<f32>> = (0..cfg.patterns).map(|_| balanced_pattern(n, rng)).collect();
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

/// One point of the loss curve: the mean training loss over the window ending at `step`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    pub step: usize,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_mse: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRecord {
    pub plastic: bool,
    pub curve: Vec<CurvePoint>,
    /// MSE on `test_episodes` fresh episodes after training; `NaN` until the run finishes.
    pub test_mse: f32,
}

/// A training run on one backend's trainer, advanced a few steps at a time as the other
/// experiments are.
pub struct CompletionRun<T: HebbianTrainer> {
    setup: CompletionSetup,
    trainer: T,
    train_rng: StdRng,
    step: usize,
    record: CompletionRecord,
}

impl<T: HebbianTrainer> CompletionRun<T> {
    /// `make` builds the trainer (on the backend of the caller's choice) from the configuration and
    /// the seed's initial parameters.
    pub fn new(setup: CompletionSetup, make: impl FnOnce(HebbianConfig, HebbianParams) -> Result<T, TrainError>) -> Result<Self, TrainError> {
        setup.validate()?;
        let params = HebbianParams::init(&setup.net, setup.seed);
        let trainer = make(setup.net.clone(), params)?;
        let record = CompletionRecord { plastic: setup.net.plastic, curve: Vec::new(), test_mse: f32::NAN };
        Ok(Self {
            train_rng: StdRng::seed_from_u64(setup.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7261_696e),
            setup,
            trainer,
            step: 0,
            record,
        })
    }

    pub fn setup(&self) -> &CompletionSetup {
        &self.setup
    }

    pub async fn params(&mut self) -> Result<HebbianParams, TrainError> {
        self.trainer.params().await
    }

    /// One episode (`xs` `[T, 1, bits]`) run step by step on the trainer's backend, untrained.
    pub async fn episode(&mut self, xs: &[f32]) -> Result<EpisodeTrace, TrainError> {
        self.trainer.episode(xs).await
    }

    pub fn record(&self) -> &CompletionRecord {
        &self.record
    }

    pub fn finished(&self) -> bool {
        self.step >= self.setup.train_steps && self.record.test_mse.is_finite()
    }

    /// Up to `steps` training steps; after the last, the test evaluation. `Ok(true)` when done.
    pub async fn advance(&mut self, steps: usize) -> Result<bool, TrainError> {
        let end = self.setup.train_steps.min(self.step.saturating_add(steps));
        while self.step < end {
            let cfg = &self.setup.net;
            let data = completion_batch(cfg, cfg.batch, &mut self.train_rng);
            self.trainer.train_step(&data.xs, &data.targets)?;
            self.step += 1;
            // The loss is read only where the curve needs it, so the GPU is not waited on every step.
            if self.step % self.setup.log_every == 0 || self.step == self.setup.train_steps {
                let (sum, count) = self.trainer.take_train_loss().await?;
                if !sum.is_finite() {
                    return Err(TrainError::Diverged(format!(
                        "the loss became {sum} in the {count} steps up to step {}; try a smaller learning rate",
                        self.step
                    )));
                }
                self.record.curve.push(CurvePoint { step: self.step, train_mse: sum / count.max(1) as f32 });
            }
        }
        if self.step >= self.setup.train_steps && !self.record.test_mse.is_finite() {
            self.record.test_mse = self.test_mse().await?;
        }
        Ok(self.finished())
    }

    /// MSE over the test episodes, the same episodes for both variants of a seed.
    pub async fn test_mse(&mut self) -> Result<f32, TrainError> {
        let cfg = &self.setup.net;
        let mut rng = StdRng::seed_from_u64(self.setup.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7465_7374);
        let (mut sum, mut done) = (0.0f64, 0);
        while done < self.setup.test_episodes {
            let batch = cfg.batch.min(self.setup.test_episodes - done);
            let data = completion_batch(cfg, batch, &mut rng);
            let loss = self.trainer.loss(&data.xs, &data.targets).await?;
            sum += f64::from(loss) * batch as f64;
            done += batch;
        }
        Ok((sum / done as f64) as f32)
    }
}

/// A whole run to the end on the trainer `make` builds.
pub async fn run_completion_with<T: HebbianTrainer>(
    setup: CompletionSetup,
    make: impl FnOnce(HebbianConfig, HebbianParams) -> Result<T, TrainError>,
) -> Result<(CompletionRecord, HebbianParams), TrainError> {
    let mut run = CompletionRun::new(setup, make)?;
    run.advance(usize::MAX).await?;
    let params = run.params().await?;
    Ok((run.record, params))
}

/// A whole run to the end on the CPU, reached through the backend switch like any other.
pub fn run_completion(setup: CompletionSetup) -> Result<(CompletionRecord, HebbianParams), TrainError> {
    let future = std::pin::pin!(run_completion_with(setup, |c, p| Backend::Cpu.hebbian(c, p)));
    // The CPU trainer never waits, so one poll finishes the run; no executor is needed.
    match future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => unreachable!("the CPU trainer's futures are ready at once"),
    }
}
