//! Continual learning on permuted MNIST (Laborieux et al. 2021, Fig. 2): task `k` shows MNIST with
//! its own fixed random permutation of the 784 pixels (task 1 is permuted too, as the authors do).
//! Or a sequence of data sets as they are, MNIST then Fashion-MNIST: the paper's first example of
//! forgetting (its Fig. 1; the authors' `--task-sequence MNIST FMNIST`).
//! After each task, every learner is tested on every task seen so far, filling the accuracy
//! matrix; a fresh optimizer starts at each task boundary, as in the authors' code.

use super::{BatchOrder, DataAccess, DivergenceWatch, TaskData, EVAL_BATCH, fill_batch_permuted, fill_test_chunk, pixel_permutation};
use crate::data::{DataSetId, IMAGE_PIXELS};
use crate::model::bnn::{BnParams, BnnConfig, BnnParams, BnnTrainer, GammaInit, Weights};
use crate::nn::{Norm, NormEval, TrainError};

/// One learner of a run: the standard network is `m = 0`; EWC is a penalty on top of `m = 0`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnerSpec {
    pub name: String,
    pub meta: f32,
    pub ewc_lambda: f32,
}

impl LearnerSpec {
    pub fn meta(meta: f32) -> Self {
        Self { name: format!("m={meta}"), meta, ewc_lambda: 0.0 }
    }
    pub fn ewc(lambda: f32) -> Self {
        Self { name: "ewc".into(), meta: 0.0, ewc_lambda: lambda }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PermutedConfig {
    pub hidden: usize,
    pub lr: f32,
    pub batch: usize,
    pub weight_decay: f32,
    pub learners: Vec<LearnerSpec>,
    pub tasks: usize,
    pub epochs: usize,
    /// A short classroom run: this many batches per task instead of `epochs` full epochs.
    pub steps_per_task: Option<usize>,
    /// Training examples per epoch: the first this many of the training set.
    pub train_examples: usize,
    /// Test examples for the accuracy matrix at each task's end.
    pub test_examples: usize,
    /// Test examples for the live curves, measured every `eval_every` steps.
    pub live_test_examples: usize,
    pub eval_every: usize,
    /// The authors' "task" scenario: each task keeps its own BatchNorm gamma and beta, restored
    /// when that task is tested.
    pub bn_per_task: bool,
    /// Which statistics BatchNorm normalises with at test time: the batch's own (batches of 1000,
    /// the authors' current code) or the running statistics of training (momentum 0.1, what
    /// PyTorch 1.1 ran their published results with; saved and restored per task with `bn_per_task`).
    pub bn_stats: NormEval,
    /// BatchNorm's gamma at the start: U(0, 1) as in the authors' runs (PyTorch 1.1), or 1. The
    /// choice matters here: with U(0, 1) the metaplastic network keeps far more of task 1.
    pub gamma_init: GammaInit,
    /// Binary weights (the paper's network) or its full-precision twin (the paper's Fig. 2f).
    pub weights: Weights,
    /// `None`: every task is MNIST under its own permutation. Otherwise task `k` is this list's
    /// `k`-th data set, unpermuted (one entry per task).
    pub sequence: Option<Vec<DataSetId>>,
    /// Fisher estimate for EWC: over this many training examples of the task at its end (the
    /// authors' 5,000), each example's squared gradient on its own.
    pub ewc_examples: usize,
    pub seed: u64,
}

impl PermutedConfig {
    /// The authors' network and optimizer at `hidden` units, at a budget a session can afford: 5
    /// tasks x 5 epochs (the paper: 6 tasks x 40 epochs at up to 4,096 hidden units), with the
    /// standard (m = 0) and metaplastic networks.
    pub fn authors_reduced(hidden: usize, metas: &[f32]) -> Self {
        Self {
            hidden,
            lr: 0.005,
            batch: 100,
            weight_decay: 1e-7,
            learners: metas.iter().map(|&m| LearnerSpec::meta(m)).collect(),
            tasks: 5,
            epochs: 5,
            steps_per_task: None,
            train_examples: 60_000,
            test_examples: 10_000,
            live_test_examples: 1_000,
            eval_every: 200,
            bn_per_task: true,
            gamma_init: GammaInit::Uniform,
            bn_stats: NormEval::Batch,
            weights: Weights::Binary,
            sequence: None,
            ewc_examples: 5_000,
            seed: 1,
        }
    }

    /// The data set task `k` shows.
    pub fn data_set(&self, k: usize) -> DataSetId {
        self.sequence.as_ref().and_then(|s| s.get(k).copied()).unwrap_or(DataSetId::Mnist)
    }

    pub fn steps_per_task(&self) -> usize {
        self.steps_per_task.unwrap_or(self.epochs * self.train_examples / self.batch)
    }

    pub fn net(&self, learner: &LearnerSpec) -> BnnConfig {
        BnnConfig {
            hidden: self.hidden,
            meta: [learner.meta; 3],
            lr: self.lr,
            weight_decay: self.weight_decay,
            batch: self.batch,
            ewc_lambda: learner.ewc_lambda,
            norm: Norm { affine: true, eval: self.bn_stats },
            weights: self.weights,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |msg: String| Err(TrainError::Config(msg));
        for learner in &self.learners {
            self.net(learner).validate()?;
        }
        if self.learners.is_empty() {
            return bad("at least one learner is needed".into());
        }
        if !(1..=50).contains(&self.tasks) {
            return bad(format!("{} tasks: choose 1 to 50", self.tasks));
        }
        if let Some(sets) = &self.sequence
            && sets.len() != self.tasks
        {
            return bad(format!("a sequence of {} data sets for {} tasks: give one per task", sets.len(), self.tasks));
        }
        if self.steps_per_task.is_none() && !(1..=100).contains(&self.epochs) {
            return bad(format!("{} epochs per task: choose 1 to 100", self.epochs));
        }
        if self.steps_per_task == Some(0) {
            return bad("a task needs at least one training step".into());
        }
        if !(self.batch..=60_000).contains(&self.train_examples) {
            return bad(format!("{} training examples: choose {} to 60000", self.train_examples, self.batch));
        }
        if !(1..=10_000).contains(&self.test_examples) || !(1..=10_000).contains(&self.live_test_examples) {
            return bad("test examples must be 1 to 10000".into());
        }
        if self.eval_every == 0 {
            return bad("evaluate at least every so many steps (eval_every > 0)".into());
        }
        if !(1..=60_000).contains(&self.ewc_examples) {
            return bad(format!("{} examples for the EWC Fisher estimate: choose 1 to 60000", self.ewc_examples));
        }
        Ok(())
    }
}

/// Test accuracy on every task seen so far, at one point of training.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CurvePoint {
    pub step: usize,
    #[serde(deserialize_with = "crate::stats::nan::vec")]
    pub task_acc: Vec<f32>,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_loss: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub train_acc: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LearnerRecord {
    pub spec: LearnerSpec,
    /// Row `i`: after training task `i`; column `j`: test accuracy on task `j` (NaN: not yet).
    pub acc_matrix: Vec<Vec<f32>>,
    pub curve: Vec<CurvePoint>,
}

impl LearnerRecord {
    /// The curve as `(step, accuracy on each task so far)`, what the charts draw.
    pub fn task_points(&self) -> Vec<(f32, Vec<f32>)> {
        self.curve.iter().map(|p| (p.step as f32, p.task_acc.clone())).collect()
    }

    /// Mean test accuracy over all tasks after the last task.
    pub fn final_mean_acc(&self) -> Option<f32> {
        let last = self.acc_matrix.last()?;
        last.iter().all(|a| a.is_finite()).then(|| last.iter().sum::<f32>() / last.len() as f32)
    }
}

struct Learner<T> {
    trainer: T,
    bn: Vec<Option<BnParams>>,
    record: LearnerRecord,
    watch: DivergenceWatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Trained some steps; more to do.
    Running,
    /// No training example has arrived yet.
    WaitingForData,
    /// Task `k` (from 0) ended and its row of the accuracy matrix is filled.
    TaskDone(usize),
    Finished,
}

pub struct PermutedRun<T: BnnTrainer> {
    cfg: PermutedConfig,
    /// Each task's pixel order (`None`: as it is).
    perms: Vec<Option<Vec<u16>>>,
    learners: Vec<Learner<T>>,
    order: BatchOrder,
    task: usize,
    step_in_task: usize,
    step: usize,
    x: Vec<f32>,
    y: Vec<u32>,
    ex: Vec<f32>,
    ey: Vec<u32>,
}

impl<T: BnnTrainer> PermutedRun<T> {
    /// Every learner starts from the same initial weights (seeded), so the only difference
    /// between them is the rule.
    pub fn new(cfg: PermutedConfig, mut make: impl FnMut(BnnConfig, BnnParams) -> Result<T, TrainError>) -> Result<Self, TrainError> {
        cfg.validate()?;
        let sizes = cfg.net(&cfg.learners[0]).sizes();
        let init = BnnParams::init_with(sizes, cfg.seed, cfg.gamma_init);
        let learners = cfg
            .learners
            .iter()
            .map(|spec| {
                Ok(Learner {
                    trainer: make(cfg.net(spec), init.clone())?,
                    bn: vec![None; cfg.tasks],
                    record: LearnerRecord { spec: spec.clone(), acc_matrix: vec![vec![f32::NAN; cfg.tasks]; cfg.tasks], curve: Vec::new() },
                    watch: DivergenceWatch::default(),
                })
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let perms = (0..cfg.tasks)
            .map(|k| cfg.sequence.is_none().then(|| pixel_permutation(cfg.seed.wrapping_mul(1000).wrapping_add(k as u64))))
            .collect();
        Ok(Self {
            order: BatchOrder::new((0..cfg.train_examples).collect(), cfg.seed ^ 0x5eed),
            x: vec![0.0; cfg.batch * IMAGE_PIXELS],
            y: vec![0; cfg.batch],
            ex: Vec::new(),
            ey: Vec::new(),
            perms,
            learners,
            task: 0,
            step_in_task: 0,
            step: 0,
            cfg,
        })
    }

    pub fn config(&self) -> &PermutedConfig {
        &self.cfg
    }
    /// The task being learned (from 0); equals `tasks` once finished.
    pub fn task(&self) -> usize {
        self.task
    }
    pub fn step(&self) -> usize {
        self.step
    }
    pub fn step_in_task(&self) -> usize {
        self.step_in_task
    }
    pub fn is_finished(&self) -> bool {
        self.task >= self.cfg.tasks
    }
    pub fn records(&self) -> impl Iterator<Item = &LearnerRecord> {
        self.learners.iter().map(|l| &l.record)
    }
    /// Task `k`'s pixel permutation (`None` past the last task, or where its images are shown as
    /// they are).
    pub fn permutation(&self, k: usize) -> Option<&[u16]> {
        self.perms.get(k)?.as_deref()
    }

    pub fn trainers_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.learners.iter_mut().map(|l| &mut l.trainer)
    }

    /// Trains every learner on up to `max_steps` identical batches, measuring the live curves
    /// every `eval_every` steps and the accuracy matrix at each task's end.
    pub async fn advance<D: TaskData + ?Sized>(&mut self, data: &D, max_steps: usize) -> Result<Progress, TrainError> {
        for _ in 0..max_steps {
            if self.is_finished() {
                return Ok(Progress::Finished);
            }
            let Some(train_data) = data.for_set(self.cfg.data_set(self.task)) else { return Ok(Progress::WaitingForData) };
            let mut batch = None;
            train_data.with_train(&mut |train| batch = self.order.next(self.cfg.batch, train.len()));
            let Some(indices) = batch else { return Ok(Progress::WaitingForData) };
            let perm = self.perms[self.task].as_deref();
            train_data.with_train(&mut |train| fill_batch_permuted(train, &indices, perm, &mut self.x, &mut self.y));
            for learner in &mut self.learners {
                learner.trainer.train_step(&self.x, &self.y)?;
            }
            self.step += 1;
            self.step_in_task += 1;
            if self.step % self.cfg.eval_every == 0 {
                self.measure_curves(data).await?;
            }
            if self.step_in_task == self.cfg.steps_per_task() {
                let done = self.task;
                self.end_task(data).await?;
                return Ok(if self.is_finished() { Progress::Finished } else { Progress::TaskDone(done) });
            }
        }
        Ok(Progress::Running)
    }

    async fn measure_curves<D: TaskData + ?Sized>(&mut self, data: &D) -> Result<(), TrainError> {
        let (step, n) = (self.step, self.cfg.live_test_examples);
        for l in 0..self.learners.len() {
            let stats = self.learners[l].trainer.take_train_stats().await?;
            let name = self.learners[l].record.spec.name.clone();
            self.learners[l].watch.check(&name, stats, step)?;
            let mut task_acc = Vec::new();
            for j in 0..=self.task.min(self.cfg.tasks - 1) {
                task_acc.push(self.test_task(l, j, n, data).await?);
            }
            self.learners[l].record.curve.push(CurvePoint { step, task_acc, train_loss: stats.mean_loss(), train_acc: stats.accuracy() });
        }
        Ok(())
    }

    /// Fills the accuracy matrix's row for this task, then moves to the next task: BatchNorm is
    /// saved for this task, EWC anchors its penalty, and the optimizer starts afresh.
    async fn end_task<D: TaskData + ?Sized>(&mut self, data: &D) -> Result<(), TrainError> {
        let task = self.task;
        if self.step % self.cfg.eval_every != 0 {
            self.measure_curves(data).await?;
        }
        if self.cfg.bn_per_task {
            for learner in &mut self.learners {
                learner.bn[task] = Some(learner.trainer.bn_params().await?);
            }
        }
        for l in 0..self.learners.len() {
            for j in 0..=task {
                let acc = self.test_task(l, j, self.cfg.test_examples, data).await?;
                self.learners[l].record.acc_matrix[task][j] = acc;
            }
        }
        for l in 0..self.learners.len() {
            if self.learners[l].record.spec.ewc_lambda > 0.0 {
                let batches = data.for_set(self.cfg.data_set(task)).map(|d| self.fisher_batches(d)).unwrap_or_default();
                self.learners[l].trainer.consolidate_ewc(&batches).await?;
            }
            self.learners[l].trainer.reset_optimizer();
        }
        self.task += 1;
        self.step_in_task = 0;
        Ok(())
    }

    /// `ewc_examples` training examples of the task just learned, in chunks of [`EVAL_BATCH`]
    /// (the estimate treats each example on its own, so the chunking changes nothing but speed).
    fn fisher_batches(&self, data: &dyn DataAccess) -> Vec<(Vec<f32>, Vec<u32>)> {
        let perm = self.perms[self.task].as_deref();
        let total = self.cfg.ewc_examples;
        let mut order = BatchOrder::new((0..self.cfg.train_examples).collect(), self.cfg.seed ^ (self.task as u64 + 77));
        let mut out = Vec::new();
        data.with_train(&mut |train| {
            let mut left = total;
            while left > 0 {
                let batch = left.min(EVAL_BATCH);
                left -= batch;
                let Some(indices) = order.next(batch, train.len()) else { return };
                let (mut x, mut y) = (vec![0.0; batch * IMAGE_PIXELS], vec![0; batch]);
                fill_batch_permuted(train, &indices, perm, &mut x, &mut y);
                out.push((x, y));
            }
        });
        out
    }

    /// Test accuracy of learner `l` on task `j` (the first `n` test images, permuted as task `j`),
    /// with that task's own BatchNorm when BatchNorm is kept per task.
    async fn test_task<D: TaskData + ?Sized>(&mut self, l: usize, j: usize, n: usize, data: &D) -> Result<f32, TrainError> {
        let Some(data) = data.for_set(self.cfg.data_set(j)) else { return Ok(f32::NAN) };
        let swap = if self.cfg.bn_per_task && j != self.task { self.learners[l].bn[j].clone() } else { None };
        let current = match &swap {
            Some(saved) => {
                let current = self.learners[l].trainer.bn_params().await?;
                self.learners[l].trainer.load_bn(saved).await?;
                Some(current)
            }
            None => None,
        };
        let mut stats = crate::nn::BatchStats::default();
        let mut start = 0;
        let mut result = Ok(());
        while start < n {
            let len = EVAL_BATCH.min(n - start);
            if !self.fill_test(j, start, len, data) {
                break;
            }
            match self.learners[l].trainer.evaluate(&self.ex, &self.ey).await {
                Ok(s) => stats.add(s),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            start += len;
        }
        if let Some(current) = current {
            self.learners[l].trainer.load_bn(&current).await?;
        }
        result.map(|()| stats.accuracy())
    }

    fn fill_test(&mut self, j: usize, start: usize, len: usize, data: &dyn DataAccess) -> bool {
        fill_test_chunk(data, start, len, self.perms[j].as_deref(), &mut self.ex, &mut self.ey)
    }
}
