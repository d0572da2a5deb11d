//! Standard vs metaplastic LeNet-5 (Vives-Boix and Ruiz-Fernandez 2021) on MNIST or
//! Fashion-MNIST: both networks start from the same weights and train on identical batches (and
//! identical dropout masks), so the rule is the only difference. After every epoch each is tested
//! on the test set with the paper's metrics and a confusion matrix.

use super::{BatchOrder, DataAccess, DivergenceWatch, fill_batch_permuted, fill_test_chunk};
use crate::data::{DataSetId, IMAGE_PIXELS, NUM_CLASSES};
use crate::model::lenet::{Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use crate::nn::{AmpEnergy, BatchStats, PoolKind, TrainError};
use crate::stats::{ClassMetrics, Confusion};

/// Which rule a learner trains with (serialised by [`Rule::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Standard,
    /// AMP on the raw energy of the factor's input (the formula as written).
    Amp,
    /// AMP on the energy of the input centred on its running mean (see [`crate::cpu::amp`]).
    AmpCentred,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::Standard, Rule::Amp, Rule::AmpCentred];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Standard => "standard",
            Rule::Amp => "amp",
            Rule::AmpCentred => "amp-centred",
        }
    }

    /// `amp` is the raw energy; `amp-raw` says so explicitly.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Rule::Standard),
            "amp" | "amp-raw" => Some(Rule::Amp),
            "amp-centred" | "amp-centered" => Some(Rule::AmpCentred),
            _ => None,
        }
    }

    /// The metaplastic rule with factors from `energy`.
    pub fn amp(energy: AmpEnergy) -> Self {
        match energy {
            AmpEnergy::Raw => Rule::Amp,
            AmpEnergy::Centred => Rule::AmpCentred,
        }
    }

    pub fn energy(self) -> Option<AmpEnergy> {
        match self {
            Rule::Standard => None,
            Rule::Amp => Some(AmpEnergy::Raw),
            Rule::AmpCentred => Some(AmpEnergy::Centred),
        }
    }

    pub fn is_amp(self) -> bool {
        self != Rule::Standard
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LenetRunConfig {
    pub dataset: DataSetId,
    pub arch: Arch,
    /// The pooling layers' kind: the presets' max, or the paper's average (its section 4.3).
    pub pool: PoolKind,
    pub rules: Vec<Rule>,
    pub lr: f32,
    pub momentum: f32,
    pub batch: usize,
    /// The metaplastic rule's `B`, where its factors read `x`, and their clamp.
    pub amp_b: f32,
    pub amp_source: FactorSource,
    pub amp_clamp: (f32, f32),
    pub epochs: usize,
    /// A short classroom run: this many batches per epoch instead of a full pass.
    pub steps_per_epoch: Option<usize>,
    pub train_examples: usize,
    /// Test examples for the metrics at each epoch's end.
    pub test_examples: usize,
    /// Test examples for the live curves, measured every `eval_every` steps.
    pub live_test_examples: usize,
    pub eval_every: usize,
    pub seed: u64,
}

impl LenetRunConfig {
    /// The paper's optimizer on `arch`, both rules, a full pass per epoch, batches of 32 (the
    /// paper states none and the authors' training code is not public; 32 is Keras's default, our choice).
    pub fn standard_against_amp(dataset: DataSetId, arch: Arch, epochs: usize) -> Self {
        Self {
            dataset,
            arch,
            pool: PoolKind::Max,
            rules: vec![Rule::Standard, Rule::Amp],
            lr: 0.01,
            momentum: 0.9,
            batch: 32,
            amp_b: DEFAULT_AMP_B,
            amp_source: FactorSource::LayerInput,
            amp_clamp: (0.1, 10.0),
            epochs,
            steps_per_epoch: None,
            train_examples: 60_000,
            test_examples: 10_000,
            live_test_examples: 1_000,
            eval_every: 200,
            seed: 1,
        }
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch.unwrap_or(self.train_examples / self.batch)
    }

    pub fn net(&self, rule: Rule) -> LenetConfig {
        let mut cfg = LenetConfig { batch: self.batch, lr: self.lr, momentum: self.momentum, pool: self.pool, ..LenetConfig::authors_sgd(self.arch) };
        if let Some(energy) = rule.energy() {
            cfg = cfg.with_amp(self.amp_b, self.amp_source).with_amp_energy(energy);
            if let Some(amp) = cfg.amp.as_mut() {
                (amp.hyper.lo, amp.hyper.hi) = self.amp_clamp;
            }
        }
        cfg
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        if self.rules.is_empty() {
            return bad("at least one rule is needed".into());
        }
        for &rule in &self.rules {
            self.net(rule).validate()?;
        }
        if !(1..=200).contains(&self.epochs) {
            return bad(format!("{} epochs: choose 1 to 200", self.epochs));
        }
        if self.steps_per_epoch == Some(0) {
            return bad("an epoch needs at least one training step".into());
        }
        if !(self.batch..=60_000).contains(&self.train_examples) {
            return bad(format!("{} training examples: choose {} to 60000", self.train_examples, self.batch));
        }
        if !(2..=10_000).contains(&self.test_examples) || !(2..=10_000).contains(&self.live_test_examples) {
            return bad("test examples must be 2 to 10000".into());
        }
        if self.eval_every == 0 {
            return bad("evaluate at least every so many steps (eval_every > 0)".into());
        }
        Ok(())
    }
}

/// `B` by default (relative to the batch's mean energy, see [`crate::cpu::amp`]). Larger `B`
/// spreads the factors more and pushes more of them to the clamp.
pub const DEFAULT_AMP_B: f32 = 1.0;

/// Live measurements at one point of training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LenetPoint {
    pub step: usize,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_loss: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_acc: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub test_loss: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub test_acc: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LenetRecord {
    pub rule: Rule,
    pub curve: Vec<LenetPoint>,
    /// Test-set metrics after each epoch.
    pub epoch_metrics: Vec<ClassMetrics>,
    /// The confusion matrix of the last test.
    pub confusion: Option<Confusion>,
}

impl LenetRecord {
    /// The curve as `[step, test accuracy, training accuracy]` (what the accuracy chart draws).
    pub fn accuracy_points(&self) -> Vec<[f32; 3]> {
        self.curve.iter().map(|p| [p.step as f32, p.test_acc, p.train_acc]).collect()
    }

    /// The curve as `[step, test loss, training loss]`.
    pub fn loss_points(&self) -> Vec<[f32; 3]> {
        self.curve.iter().map(|p| [p.step as f32, p.test_loss, p.train_loss]).collect()
    }

    pub fn final_metrics(&self) -> Option<ClassMetrics> {
        self.epoch_metrics.last().copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenetProgress {
    Running,
    WaitingForData,
    /// Epoch `k` (from 0) ended and its metrics are recorded.
    EpochDone(usize),
    Finished,
}

struct Learner<T> {
    trainer: T,
    record: LenetRecord,
    watch: DivergenceWatch,
}

pub struct LenetRun<T: LenetTrainer> {
    cfg: LenetRunConfig,
    learners: Vec<Learner<T>>,
    order: BatchOrder,
    epoch: usize,
    step_in_epoch: usize,
    step: usize,
    x: Vec<f32>,
    y: Vec<u32>,
    ex: Vec<f32>,
    ey: Vec<u32>,
}

impl<T: LenetTrainer> LenetRun<T> {
    pub fn new(cfg: LenetRunConfig, mut make: impl FnMut(LenetConfig, LenetParams) -> Result<T, TrainError>) -> Result<Self, TrainError> {
        cfg.validate()?;
        let init = LenetParams::init(cfg.arch, cfg.seed);
        let learners = cfg
            .rules
            .iter()
            .map(|&rule| {
                Ok(Learner {
                    trainer: make(cfg.net(rule), init.clone())?,
                    record: LenetRecord { rule, curve: Vec::new(), epoch_metrics: Vec::new(), confusion: None },
                    watch: DivergenceWatch::default(),
                })
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        Ok(Self {
            order: BatchOrder::new((0..cfg.train_examples).collect(), cfg.seed ^ 0x1e7e),
            x: vec![0.0; cfg.batch * IMAGE_PIXELS],
            y: vec![0; cfg.batch],
            ex: Vec::new(),
            ey: Vec::new(),
            learners,
            epoch: 0,
            step_in_epoch: 0,
            step: 0,
            cfg,
        })
    }

    pub fn config(&self) -> &LenetRunConfig {
        &self.cfg
    }
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    pub fn step(&self) -> usize {
        self.step
    }
    pub fn total_steps(&self) -> usize {
        self.cfg.epochs * self.cfg.steps_per_epoch()
    }
    pub fn is_finished(&self) -> bool {
        self.epoch >= self.cfg.epochs
    }
    pub fn records(&self) -> impl Iterator<Item = &LenetRecord> {
        self.learners.iter().map(|l| &l.record)
    }
    pub fn trainers_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.learners.iter_mut().map(|l| &mut l.trainer)
    }
    /// The last training batch (images in [0, 1] and labels), for showing which examples got the
    /// largest and smallest metaplastic factors.
    pub fn last_batch(&self) -> (&[f32], &[u32]) {
        (&self.x, &self.y)
    }

    /// Trains every learner on up to `max_steps` identical batches.
    pub async fn advance(&mut self, data: &dyn DataAccess, max_steps: usize) -> Result<LenetProgress, TrainError> {
        for _ in 0..max_steps {
            if self.is_finished() {
                return Ok(LenetProgress::Finished);
            }
            let mut batch = None;
            data.with_train(&mut |train| batch = self.order.next(self.cfg.batch, train.len()));
            let Some(indices) = batch else { return Ok(LenetProgress::WaitingForData) };
            data.with_train(&mut |train| fill_batch_permuted(train, &indices, None, &mut self.x, &mut self.y));
            // Same dropout masks for every learner: the seed depends on the run and the step only.
            let seed = (self.cfg.seed as u32).wrapping_mul(0x9E37_79B9).wrapping_add(self.step as u32);
            for learner in &mut self.learners {
                learner.trainer.train_step(&self.x, &self.y, seed)?;
            }
            self.step += 1;
            self.step_in_epoch += 1;
            if self.step % self.cfg.eval_every == 0 {
                self.measure_curves(data).await?;
            }
            if self.step_in_epoch == self.cfg.steps_per_epoch() {
                let done = self.epoch;
                self.end_epoch(data).await?;
                return Ok(if self.is_finished() { LenetProgress::Finished } else { LenetProgress::EpochDone(done) });
            }
        }
        Ok(LenetProgress::Running)
    }

    async fn measure_curves(&mut self, data: &dyn DataAccess) -> Result<(), TrainError> {
        let (step, n) = (self.step, self.cfg.live_test_examples);
        for l in 0..self.learners.len() {
            let stats = self.learners[l].trainer.take_train_stats().await?;
            let name = self.learners[l].record.rule.name();
            self.learners[l].watch.check(name, stats, step)?;
            let (test, _) = self.test(l, n, data).await?;
            self.learners[l].record.curve.push(LenetPoint {
                step,
                train_loss: stats.mean_loss(),
                train_acc: stats.accuracy(),
                test_loss: test.mean_loss(),
                test_acc: test.accuracy(),
            });
        }
        Ok(())
    }

    async fn end_epoch(&mut self, data: &dyn DataAccess) -> Result<(), TrainError> {
        if self.step % self.cfg.eval_every != 0 {
            self.measure_curves(data).await?;
        }
        for l in 0..self.learners.len() {
            let (stats, confusion) = self.test(l, self.cfg.test_examples, data).await?;
            let record = &mut self.learners[l].record;
            record.epoch_metrics.push(confusion.metrics(stats.mean_loss()));
            record.confusion = Some(confusion);
        }
        self.epoch += 1;
        self.step_in_epoch = 0;
        Ok(())
    }

    /// Loss, accuracy and confusion matrix of learner `l` on the first `n` test images (those
    /// that have arrived).
    async fn test(&mut self, l: usize, n: usize, data: &dyn DataAccess) -> Result<(BatchStats, Confusion), TrainError> {
        let mut stats = BatchStats::default();
        let mut confusion = Confusion::new(NUM_CLASSES);
        let mut start = 0;
        while start < n {
            let len = self.cfg.arch.eval_batch().min(n - start);
            if !fill_test_chunk(data, start, len, None, &mut self.ex, &mut self.ey) {
                break;
            }
            let logits = self.learners[l].trainer.logits(&self.ex).await?;
            stats.add(score(&logits, &self.ey, &mut confusion));
            start += len;
        }
        Ok((stats, confusion))
    }
}

/// Cross-entropy and correct count of logits against labels, adding to a confusion matrix.
pub fn score(logits: &[f32], labels: &[u32], confusion: &mut Confusion) -> BatchStats {
    let mut stats = BatchStats::default();
    for (row, &label) in logits.chunks_exact(NUM_CLASSES).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|&z| (z - max).exp()).sum();
        // The first maximum wins ties, as in softmax_ce.
        let predicted = row.iter().enumerate().fold(0, |best, (i, &z)| if z > row[best] { i } else { best });
        confusion.add(label as usize, predicted);
        stats.add(BatchStats { loss_sum: sum.ln() - (row[label as usize] - max), correct: u32::from(predicted == label as usize), count: 1 });
    }
    stats
}
