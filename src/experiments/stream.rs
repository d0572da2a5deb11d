//! Stream learning (Laborieux et al. 2021, Fig. 4): the training set cut into `N` class-balanced
//! subsets learned one after the other, `E` epochs each, with one optimizer throughout; compared
//! with a network trained on the whole set (shuffled) for the same number of presentations.

use super::permuted::LearnerSpec;
use super::{BatchOrder, DataAccess, DivergenceWatch, EVAL_BATCH, fill_batch_permuted, fill_test_chunk};
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use crate::model::bnn::{BnnConfig, BnnParams, BnnTrainer, Weights};
use crate::nn::{BatchStats, Norm, TrainError};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

/// The name of the full-data baseline in records and `summary.json` (at m = 0; at another m the
/// name goes on with it, `full-data m=2.5`).
pub const FULL_DATA: &str = "full-data";

/// Whether a learner of that name is a full-data baseline.
pub fn is_full_data(name: &str) -> bool {
    name.starts_with(FULL_DATA)
}

/// Every learner is also tested on the whole test set at the end of each of the last this many
/// subsets: the baseline, which sees every class in every batch, swings by a point or two from one
/// evaluation to the next, so one final reading is a draw from that swing; their mean is not.
pub const TAIL_EVALS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    pub hidden: usize,
    pub lr: f32,
    pub batch: usize,
    pub weight_decay: f32,
    /// The stream learners' metaplasticity values (m = 0 is the standard network).
    pub metas: Vec<f32>,
    /// The full-data baselines' m: a network trained on the whole (shuffled) set for the same
    /// number of presentations, at each of these (the authors ran 0 and 2.5); empty for none.
    pub full_data: Vec<f32>,
    pub subsets: usize,
    /// Epochs over each subset.
    pub epochs: usize,
    pub train_examples: usize,
    pub test_examples: usize,
    pub live_test_examples: usize,
    pub eval_every: usize,
    pub seed: u64,
    /// Every BatchNorm layer's kind: the authors' stream code uses `affine=False` with running
    /// statistics at test time ([`Norm::STREAM`], the default); [`Norm::BATCH`] is the
    /// continual-learning network's (learned gamma and beta, batch statistics at test time).
    pub norm: Norm,
}

impl StreamConfig {
    /// The authors' setting: Fashion-MNIST in 60 subsets of 1000, 20 epochs each, 784-1024-1024-10.
    pub fn paper(metas: &[f32]) -> Self {
        Self {
            hidden: 1024,
            lr: 0.005,
            batch: 100,
            weight_decay: 1e-7,
            metas: metas.to_vec(),
            full_data: vec![0.0, 2.5],
            subsets: 60,
            epochs: 20,
            train_examples: 60_000,
            test_examples: 10_000,
            live_test_examples: 1_000,
            eval_every: 200,
            seed: 1,
            norm: Norm::STREAM,
        }
    }

    pub fn subset_len(&self) -> usize {
        self.train_examples / self.subsets.max(1) / NUM_CLASSES * NUM_CLASSES
    }

    pub fn steps_per_subset(&self) -> usize {
        (self.epochs * self.subset_len()).div_ceil(self.batch)
    }

    pub fn total_steps(&self) -> usize {
        self.subsets * self.steps_per_subset()
    }

    pub fn net(&self, meta: f32) -> BnnConfig {
        BnnConfig { hidden: self.hidden, meta: [meta; 3], lr: self.lr, weight_decay: self.weight_decay, batch: self.batch, ewc_lambda: 0.0, norm: self.norm, weights: Weights::Binary }
    }

    pub fn learners(&self) -> Vec<LearnerSpec> {
        let mut out: Vec<LearnerSpec> = self.metas.iter().map(|&m| LearnerSpec::meta(m)).collect();
        for &meta in &self.full_data {
            let name = if meta == 0.0 { FULL_DATA.to_string() } else { format!("{FULL_DATA} m={meta}") };
            out.push(LearnerSpec { name, meta, ewc_lambda: 0.0 });
        }
        out
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        for spec in self.learners() {
            self.net(spec.meta).validate()?;
        }
        if self.learners().is_empty() {
            return bad("at least one learner is needed".into());
        }
        if !(1..=600).contains(&self.subsets) {
            return bad(format!("{} subsets: choose 1 to 600", self.subsets));
        }
        if self.subset_len() < self.batch {
            return bad(format!("subsets of {} examples are smaller than a batch of {}", self.subset_len(), self.batch));
        }
        if !(1..=200).contains(&self.epochs) {
            return bad(format!("{} epochs per subset: choose 1 to 200", self.epochs));
        }
        if !(self.batch..=60_000).contains(&self.train_examples) {
            return bad(format!("{} training examples: choose {} to 60000", self.train_examples, self.batch));
        }
        if !(2..=10_000).contains(&self.test_examples) || !(2..=10_000).contains(&self.live_test_examples) {
            return bad("test examples must be 2 to 10000".into());
        }
        if self.eval_every == 0 {
            return bad("eval_every must be positive".into());
        }
        Ok(())
    }
}

/// Test accuracy over training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamPoint {
    pub step: usize,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub test_acc: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_loss: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub spec: LearnerSpec,
    pub curve: Vec<StreamPoint>,
    /// On the whole test set, at the end.
    pub test_acc: Option<f32>,
    /// On the whole test set at the end of each of the last [`TAIL_EVALS`] subsets (the last is
    /// `test_acc`).
    pub tail_test_acc: Vec<f32>,
}

impl StreamRecord {
    /// The curve as `(step, test accuracy)`, what the charts draw.
    pub fn points(&self) -> Vec<(f32, f32)> {
        self.curve.iter().map(|p| (p.step as f32, p.test_acc)).collect()
    }

    /// The mean of [`Self::tail_test_acc`]: the figure to compare learners by.
    pub fn tail_mean_acc(&self) -> Option<f32> {
        (!self.tail_test_acc.is_empty()).then(|| self.tail_test_acc.iter().sum::<f32>() / self.tail_test_acc.len() as f32)
    }
}

struct Learner<T> {
    trainer: T,
    record: StreamRecord,
    watch: DivergenceWatch,
    full_data: bool,
}

pub struct StreamRun<T: BnnTrainer> {
    cfg: StreamConfig,
    learners: Vec<Learner<T>>,
    /// Built once the training labels have arrived.
    subsets: Option<Vec<BatchOrder>>,
    full: BatchOrder,
    step: usize,
    finished: bool,
    x: Vec<f32>,
    y: Vec<u32>,
    ex: Vec<f32>,
    ey: Vec<u32>,
}

impl<T: BnnTrainer> StreamRun<T> {
    pub fn new(cfg: StreamConfig, mut make: impl FnMut(BnnConfig, BnnParams) -> Result<T, TrainError>) -> Result<Self, TrainError> {
        cfg.validate()?;
        let init = BnnParams::init(cfg.net(0.0).sizes(), cfg.seed);
        let learners = cfg
            .learners()
            .into_iter()
            .map(|spec| {
                Ok(Learner {
                    trainer: make(cfg.net(spec.meta), init.clone())?,
                    full_data: is_full_data(&spec.name),
                    record: StreamRecord { spec, curve: Vec::new(), test_acc: None, tail_test_acc: Vec::new() },
                    watch: DivergenceWatch::default(),
                })
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        Ok(Self {
            full: BatchOrder::new((0..cfg.train_examples).collect(), cfg.seed ^ 0xf011),
            x: vec![0.0; cfg.batch * IMAGE_PIXELS],
            y: vec![0; cfg.batch],
            ex: Vec::new(),
            ey: Vec::new(),
            subsets: None,
            learners,
            step: 0,
            finished: false,
            cfg,
        })
    }

    pub fn config(&self) -> &StreamConfig {
        &self.cfg
    }
    pub fn step(&self) -> usize {
        self.step
    }
    /// The subset being learned (from 0).
    pub fn subset(&self) -> usize {
        (self.step / self.cfg.steps_per_subset()).min(self.cfg.subsets - 1)
    }
    pub fn is_finished(&self) -> bool {
        self.finished
    }
    pub fn records(&self) -> impl Iterator<Item = &StreamRecord> {
        self.learners.iter().map(|l| &l.record)
    }
    pub fn trainers_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.learners.iter_mut().map(|l| &mut l.trainer)
    }

    /// Class-balanced subsets: each class's examples are shuffled and dealt out in equal shares.
    fn build_subsets(&self, labels: &dyn Fn(usize) -> u8) -> Vec<BatchOrder> {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); NUM_CLASSES];
        for i in 0..self.cfg.train_examples {
            by_class[labels(i) as usize].push(i);
        }
        let mut rng = StdRng::seed_from_u64(self.cfg.seed ^ 0x5b5e7);
        by_class.iter_mut().for_each(|c| c.shuffle(&mut rng));
        let per_class = self.cfg.subset_len() / NUM_CLASSES;
        (0..self.cfg.subsets)
            .map(|s| {
                let pool: Vec<usize> = by_class.iter().flat_map(|c| c.iter().skip(s * per_class).take(per_class).copied()).collect();
                BatchOrder::new(pool, self.cfg.seed.wrapping_add(s as u64))
            })
            .collect()
    }

    pub async fn advance(&mut self, data: &dyn DataAccess, max_steps: usize) -> Result<super::permuted::Progress, TrainError> {
        use super::permuted::Progress;
        if self.subsets.is_none() {
            let mut built = None;
            data.with_train(&mut |train| {
                if train.len() >= self.cfg.train_examples {
                    built = Some(self.build_subsets(&|i| train.label(i)));
                }
            });
            match built {
                Some(subsets) => self.subsets = Some(subsets),
                None => return Ok(Progress::WaitingForData),
            }
        }
        for _ in 0..max_steps {
            if self.finished {
                return Ok(Progress::Finished);
            }
            let subset = self.subset();
            let orders = self.subsets.as_mut().expect("built above");
            let mut stream_batch = None;
            let mut full_batch = None;
            let full = &mut self.full;
            data.with_train(&mut |train| {
                stream_batch = orders[subset].next(self.cfg.batch, train.len());
                full_batch = full.next(self.cfg.batch, train.len());
            });
            let (Some(stream_batch), Some(full_batch)) = (stream_batch, full_batch) else {
                return Ok(Progress::WaitingForData);
            };
            for (indices, for_full) in [(&stream_batch, false), (&full_batch, true)] {
                if !self.learners.iter().any(|l| l.full_data == for_full) {
                    continue;
                }
                data.with_train(&mut |train| fill_batch_permuted(train, indices, None, &mut self.x, &mut self.y));
                for learner in self.learners.iter_mut().filter(|l| l.full_data == for_full) {
                    learner.trainer.train_step(&self.x, &self.y)?;
                }
            }
            self.step += 1;
            let last = self.step == self.cfg.total_steps();
            if self.step % self.cfg.eval_every == 0 || last {
                self.measure(data, self.cfg.live_test_examples, false).await?;
            }
            let subset_done = self.step % self.cfg.steps_per_subset() == 0;
            if subset_done && subset + TAIL_EVALS >= self.cfg.subsets {
                self.measure(data, self.cfg.test_examples, true).await?;
            }
            if last {
                self.finished = true;
                return Ok(Progress::Finished);
            }
            if subset_done {
                return Ok(Progress::TaskDone(subset));
            }
        }
        Ok(Progress::Running)
    }

    /// Tests every learner on the first `n` test images: a point of the live curves, or (with
    /// `final_test`) one of the whole-test-set readings of the last subsets.
    async fn measure(&mut self, data: &dyn DataAccess, n: usize, final_test: bool) -> Result<(), TrainError> {
        for l in 0..self.learners.len() {
            let mut stats = BatchStats::default();
            let mut start = 0;
            while start < n {
                let len = EVAL_BATCH.min(n - start);
                let filled = fill_test_chunk(data, start, len, None, &mut self.ex, &mut self.ey);
                if !filled {
                    break;
                }
                stats.add(self.learners[l].trainer.evaluate(&self.ex, &self.ey).await?);
                start += len;
            }
            let learner = &mut self.learners[l];
            if final_test {
                learner.record.test_acc = Some(stats.accuracy());
                learner.record.tail_test_acc.push(stats.accuracy());
            } else {
                let train = learner.trainer.take_train_stats().await?;
                learner.watch.check(&learner.record.spec.name, train, self.step)?;
                learner.record.curve.push(StreamPoint { step: self.step, test_acc: stats.accuracy(), train_loss: train.mean_loss() });
            }
        }
        Ok(())
    }
}
