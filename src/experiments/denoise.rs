//! Hebbian denoising (Upadhyay & Bagad; docs/algorithms.md, "Denoising autoencoder"): a
//! convolutional autoencoder with plastic layers ([`crate::model::hebbian::DenoiseConfig`]) against
//! its non-plastic twin.
//!
//! An episode shows `P` training images, each `t_ns` steps followed by `t_zs` zero images, then
//! one of them with Gaussian noise; the loss is the MSE between the last output and the clean
//! image. A network with fixed weights can only denoise from what it learned about digits in
//! general; a plastic one can also recall the clean image it saw a few steps earlier.
//!
//! Training episodes draw their images from the training split (epoch by epoch, reshuffled), test
//! episodes from the test split, so the test MSE is on images never trained on. Deterministic given
//! the seed: images, noise and which image is tested come from seeded generators that do not
//! depend on the network, so both variants of a seed see identical episodes.

use super::{BatchOrder, DataAccess};
use crate::data::Examples;
use crate::experiments::completion::CurvePoint;
use crate::model::hebbian::reconstruction_mse;
use crate::nn::TrainError;
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer};
use rand::{RngExt, SeedableRng, rngs::StdRng};

#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseSetup {
    pub net: DenoiseConfig,
    /// Adam steps, each on `net.batch` episodes.
    pub train_steps: usize,
    /// Test episodes the final MSE is measured on.
    pub test_episodes: usize,
    /// The loss curve averages the training loss over windows of this many steps.
    pub log_every: usize,
    pub seed: u64,
}

impl DenoiseSetup {
    /// The default network on 28x28 images, 8 episodes per batch, 250 steps and 256 test
    /// episodes: about 100 s a run on a CPU core shared four ways, so three seeds of both
    /// variants take about ten minutes. That is short training (2000 episodes); the comparison is
    /// between equally short-trained twins.
    pub fn mnist(plastic: bool) -> Self {
        Self { net: DenoiseConfig { batch: 8, ..DenoiseConfig::mnist(plastic) }, train_steps: 250, test_episodes: 256, log_every: 10, seed: 1 }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        self.net.validate()?;
        if !(1..=1_000_000).contains(&self.train_steps) {
            return Err(TrainError::Config(format!("training steps {} must be in 1..=1000000", self.train_steps)));
        }
        // Batch norm needs two episodes in every test chunk.
        if !(2..=100_000).contains(&self.test_episodes) {
            return Err(TrainError::Config(format!("test episodes {} must be in 2..=100000", self.test_episodes)));
        }
        if self.log_every == 0 {
            return Err(TrainError::Config("the loss-curve window must be at least one step".into()));
        }
        Ok(())
    }

    fn rng(&self, salt: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
    }
}

/// A batch of episodes: inputs `[T, batch, pixels]` and the clean test images `[batch, pixels]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseBatch {
    pub batch: usize,
    pub xs: Vec<f32>,
    pub targets: Vec<f32>,
}

impl DenoiseBatch {
    /// The noisy images of the last step, `[batch, pixels]`.
    pub fn noisy(&self) -> &[f32] {
        &self.xs[self.xs.len() - self.targets.len()..]
    }

    /// The MSE of the noisy input itself: what doing nothing scores.
    pub fn noisy_mse(&self) -> f32 {
        let sum: f64 = self.noisy().iter().zip(&self.targets).map(|(a, b)| f64::from((a - b) * (a - b))).sum();
        (sum / self.targets.len() as f64) as f32
    }
}

/// A standard normal draw (Box-Muller): the noise needs nothing more than this.
fn gaussian(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Builds episodes from `indices` (`P` images per episode, `batch * P` in all): each image
/// `show_steps` times then `zero_steps` zero images, then a randomly chosen one of them with
/// noise. Pixels are scaled to [0, 1].
pub fn denoise_batch(cfg: &DenoiseConfig, examples: &dyn Examples, indices: &[usize], rng: &mut StdRng) -> DenoiseBatch {
    let (p, n, steps) = (cfg.images, cfg.pixels(), cfg.episode_steps());
    let batch = indices.len() / p;
    assert_eq!(indices.len(), batch * p, "P images per episode");
    assert_eq!(n, examples.image(0).len(), "the network's image size must match the data");
    let mut xs = vec![0.0f32; steps * batch * n];
    let mut targets = vec![0.0f32; batch * n];
    let pixel = |v: &u8| f32::from(*v) / 255.0;
    for b in 0..batch {
        let mut t = 0;
        for &i in &indices[b * p..(b + 1) * p] {
            for _ in 0..cfg.show_steps {
                xs[(t * batch + b) * n..][..n].iter_mut().zip(examples.image(i).iter()).for_each(|(x, v)| *x = pixel(v));
                t += 1;
            }
            // Zero steps stay zero.
            t += cfg.zero_steps;
        }
        let chosen = indices[b * p + rng.random_range(0..p)];
        let clean = &mut targets[b * n..(b + 1) * n];
        clean.iter_mut().zip(examples.image(chosen).iter()).for_each(|(x, v)| *x = pixel(v));
        for (x, c) in xs[(t * batch + b) * n..][..n].iter_mut().zip(clean.iter()) {
            *x = c + cfg.noise_std * gaussian(rng);
        }
    }
    DenoiseBatch { batch, xs, targets }
}

/// The test episodes of a setup, in the chunks they are evaluated in (batch norm takes each
/// chunk's statistics): `net.batch` episodes each, a lone last episode joining the chunk before.
/// They depend on the seed and the episode layout only, never on the network. `None` while the
/// test split is still arriving.
pub fn test_batches(setup: &DenoiseSetup, data: &dyn DataAccess) -> Option<Vec<DenoiseBatch>> {
    let cfg = &setup.net;
    let mut order = None;
    data.with_test(&mut |test| {
        if test.len() >= cfg.images {
            order = Some(BatchOrder::new((0..test.len()).collect(), setup.seed ^ 0x7e57));
        }
    });
    let mut order = order?;
    let mut rng = setup.rng(0x7465_7374);
    let mut batches = Vec::new();
    let mut done = 0;
    while done < setup.test_episodes {
        let left = setup.test_episodes - done;
        let n = if left == cfg.batch + 1 { left } else { cfg.batch.min(left) };
        let mut out = None;
        data.with_test(&mut |test| {
            out = order.next(n * cfg.images, test.len()).map(|indices| denoise_batch(cfg, test, &indices, &mut rng));
        });
        batches.push(out?);
        done += n;
    }
    Some(batches)
}

#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseRecord {
    pub plastic: bool,
    pub curve: Vec<CurvePoint>,
    /// MSE on the test episodes after training; `NaN` until the run finishes.
    pub test_mse: f32,
    /// The noisy test inputs' own MSE, for scale.
    pub noisy_mse: f32,
}

/// A training run on one backend's trainer, advanced a few steps at a time as the other
/// experiments are.
pub struct DenoiseRun<T: DenoiseTrainer> {
    setup: DenoiseSetup,
    trainer: T,
    /// Training images, epoch by epoch; made at the first step, over the images there then.
    order: Option<BatchOrder>,
    rng: StdRng,
    step: usize,
    record: DenoiseRecord,
}

impl<T: DenoiseTrainer> DenoiseRun<T> {
    /// `make` builds the trainer (on the backend of the caller's choice) from the configuration and
    /// the seeded initial parameters, which both variants of a seed share.
    pub fn new(setup: DenoiseSetup, make: impl FnOnce(DenoiseConfig, DenoiseParams) -> Result<T, TrainError>) -> Result<Self, TrainError> {
        setup.validate()?;
        let params = DenoiseParams::init(&setup.net, setup.seed);
        let trainer = make(setup.net.clone(), params)?;
        Ok(Self {
            order: None,
            rng: setup.rng(0x7261_696e),
            record: DenoiseRecord { plastic: setup.net.plastic, curve: Vec::new(), test_mse: f32::NAN, noisy_mse: f32::NAN },
            setup,
            trainer,
            step: 0,
        })
    }

    pub fn setup(&self) -> &DenoiseSetup {
        &self.setup
    }

    pub async fn params(&mut self) -> Result<DenoiseParams, TrainError> {
        self.trainer.params().await
    }

    /// The last step's reconstructions of a batch of episodes by the network as it is now.
    pub async fn reconstruct(&mut self, xs: &[f32]) -> Result<Vec<f32>, TrainError> {
        self.trainer.reconstruct(xs).await
    }

    pub fn record(&self) -> &DenoiseRecord {
        &self.record
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn finished(&self) -> bool {
        self.step >= self.setup.train_steps && self.record.test_mse.is_finite()
    }

    /// Up to `steps` training steps; after the last, the test evaluation. `Ok(true)` when done,
    /// `Ok(false)` when more steps remain or the data has not arrived yet.
    pub async fn advance(&mut self, data: &dyn DataAccess, steps: usize) -> Result<bool, TrainError> {
        let end = self.setup.train_steps.min(self.step.saturating_add(steps));
        while self.step < end {
            if !self.train_step(data)? {
                return Ok(false);
            }
            if self.step.is_multiple_of(self.setup.log_every) || self.step == self.setup.train_steps {
                let (sum, count) = self.trainer.take_train_loss().await?;
                let train_mse = sum / count.max(1) as f32;
                if !train_mse.is_finite() {
                    return Err(TrainError::Diverged(format!("the loss became {train_mse} by step {}; try a smaller learning rate", self.step)));
                }
                self.record.curve.push(CurvePoint { step: self.step, train_mse });
            }
        }
        if self.step >= self.setup.train_steps && !self.record.test_mse.is_finite() {
            let Some(batches) = test_batches(&self.setup, data) else { return Ok(false) };
            let (mut sum, mut noisy, mut count) = (0.0f64, 0.0f64, 0usize);
            for b in &batches {
                let images = self.trainer.reconstruct(&b.xs).await?;
                sum += f64::from(reconstruction_mse(&images, &b.targets)) * b.batch as f64;
                noisy += f64::from(b.noisy_mse()) * b.batch as f64;
                count += b.batch;
            }
            self.record.noisy_mse = (noisy / count as f64) as f32;
            self.record.test_mse = (sum / count as f64) as f32;
        }
        Ok(self.finished())
    }

    /// One training step; `Ok(false)` when the training split has not arrived yet.
    fn train_step(&mut self, data: &dyn DataAccess) -> Result<bool, TrainError> {
        let cfg = &self.setup.net;
        let want = cfg.batch * cfg.images;
        let mut batch = None;
        let (order, rng, seed) = (&mut self.order, &mut self.rng, self.setup.seed);
        data.with_train(&mut |train| {
            if order.is_none() && train.len() >= cfg.images {
                *order = Some(BatchOrder::new((0..train.len()).collect(), seed ^ 0x7261_696e));
            }
            batch = order.as_mut().and_then(|o| o.next(want, train.len())).map(|indices| denoise_batch(cfg, train, &indices, rng));
        });
        let Some(batch) = batch else { return Ok(false) };
        self.trainer.train_step(&batch.xs, &batch.targets)?;
        self.step += 1;
        Ok(true)
    }
}

/// A whole run to the end on a loaded data set, on the trainer `make` builds.
pub async fn run_denoise<T: DenoiseTrainer>(
    setup: DenoiseSetup,
    data: &dyn DataAccess,
    make: impl FnOnce(DenoiseConfig, DenoiseParams) -> Result<T, TrainError>,
) -> Result<(DenoiseRecord, DenoiseParams), TrainError> {
    let mut run = DenoiseRun::new(setup, make)?;
    if !run.advance(data, usize::MAX).await? {
        return Err(TrainError::Config("the data set has too few images for an episode".into()));
    }
    let params = run.params().await?;
    Ok((run.record.clone(), params))
}
