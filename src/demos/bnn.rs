//! Demo 1: the binarized network, standard and metaplastic side by side, on permuted MNIST or on
//! Fashion-MNIST arriving as a stream (Laborieux et al. 2021).
//!
//! Each network trains in its own worker ([`BnnLearner`], one learner of the experiment); the page
//! draws what they report ([`BnnBoard`]). Both sides build the experiment's config from
//! [`BnnSettings`], so the learners of a comparison share the seed, hence the initial weights and
//! the batch order.

use super::{Board, Controls, Demo, DemoError, Learner, Paint, Plan, Standing, Step, control, decode, encode};
use crate::backend::{Backend, Bnn as BnnNet};
use crate::charts::BinnedSet;
use crate::charts::bnn as figures;
use crate::data::{DataSetId, NUM_CLASSES};
use crate::experiments::permuted::{CurvePoint, LearnerRecord, LearnerSpec, PermutedConfig, PermutedRun, Progress};
use crate::experiments::stream::{StreamConfig, TAIL_EVALS, is_full_data, StreamPoint, StreamRecord, StreamRun};
use crate::experiments::summary::{self, Summary};
use crate::experiments::toy::{ToyConfig, run_toy};
use crate::experiments::bench::Network;
use crate::experiments::flips::{FlipBin, FlipConfig, flip_loss_increase};
use crate::experiments::{DataAccess, TaskData, drawing_batch, fill_batch_permuted, softmax};
use crate::model::bnn::{BnnTrainer, GammaInit, Weights};
use crate::nn::{NormEval, TrainError};
use crate::settings::bnn as keys;
use crate::settings::{self, Values};
use serde::{Deserialize, Serialize};

/// The toy picture shows the first steps, before the growing weight leaves the frame.
const TOY_STEPS: usize = 30;
/// The workers count their hidden weights in this many bins and send the counts, not the up to a
/// million weights: the page only merges them into the figure's 60 bins.
const FINE_BINS: usize = 2048;
/// The accuracy-matrix canvases, one per learner in worker order; the third shows only when a run
/// has a third learner (a second m, or EWC).
const MATRICES: [&str; 3] = ["bnn-matrix-standard", "bnn-matrix-meta", "bnn-matrix-third"];
/// The control that picks the histogram's layer.
const HIST_LAYER: &str = "bnn-hist-layer";
/// Task 1's training images the page flips weights on: one batch, a quarter of what the tool uses
/// (`--flips`), so that at 1,024 units the measurement at a task's end stays a few seconds in a
/// worker.
const FLIP_EXAMPLES: usize = 500;

/// The demo's entry in the registry.
pub struct Bnn;

/// The demo's settings, typed: built from the declared values on the page and, from the same
/// values sent as text, in each worker.
#[derive(Debug, Clone, PartialEq)]
pub struct BnnSettings {
    stream: bool,
    hidden: usize,
    /// The metaplastic learners' m, beside the standard network's 0.
    metas: Vec<f32>,
    lr: f32,
    weight_decay: f32,
    seed: u64,
    tasks: usize,
    steps: usize,
    subsets: usize,
    epochs: usize,
    ewc: Option<f32>,
    bn_per_task: bool,
    gamma_uniform: bool,
    bn_running: bool,
    full_precision: bool,
    /// Two tasks, MNIST then Fashion-MNIST, unpermuted, instead of permuted MNIST.
    mnist_then_fashion: bool,
}

impl BnnSettings {
    pub fn from_values(v: &Values) -> Self {
        let stream = v.choice(&keys::EXPERIMENT) == "stream";
        Self {
            stream,
            hidden: v.count(&keys::HIDDEN),
            metas: v.list(&keys::META).iter().map(|&m| m as f32).collect(),
            lr: v.float(&keys::LR) as f32,
            weight_decay: v.float(&keys::WEIGHT_DECAY) as f32,
            seed: v.seed(),
            tasks: v.count(&keys::TASKS),
            steps: v.count(&keys::STEPS),
            subsets: v.count(&keys::SUBSETS),
            epochs: v.count(&keys::EPOCHS),
            ewc: (!stream && v.flag(&keys::EWC)).then(|| v.float(&keys::EWC_LAMBDA) as f32),
            bn_per_task: v.flag(&keys::BN_PER_TASK),
            gamma_uniform: v.flag(&keys::GAMMA_UNIFORM),
            bn_running: v.flag(&keys::BN_RUNNING),
            full_precision: v.flag(&keys::FULL_PRECISION),
            mnist_then_fashion: !stream && v.choice(&keys::SEQUENCE) == "mnist-fashion",
        }
    }

    /// Every learner's m: the standard network first, then the metaplastic ones.
    fn all_metas(&self) -> Vec<f32> {
        std::iter::once(0.0).chain(self.metas.iter().copied()).collect()
    }

    /// The data sets of the run's tasks, in order.
    fn data_sets(&self) -> Vec<DataSetId> {
        if self.stream {
            vec![DataSetId::Fashion]
        } else if self.mnist_then_fashion {
            vec![DataSetId::Mnist, DataSetId::Fashion]
        } else {
            vec![DataSetId::Mnist]
        }
    }

    pub fn stream_config(&self) -> StreamConfig {
        let mut cfg = StreamConfig::paper(&self.all_metas());
        cfg.hidden = self.hidden;
        cfg.lr = self.lr;
        cfg.weight_decay = self.weight_decay;
        cfg.seed = self.seed;
        cfg.subsets = self.subsets;
        cfg.epochs = self.epochs;
        cfg.eval_every = (cfg.total_steps() / 60).clamp(10, 500);
        // One baseline (m = 0): a second, at the stream's m as the authors also ran, would be a
        // fifth worker on a laptop's cores.
        cfg.full_data = vec![0.0];
        cfg
    }

    pub fn permuted_config(&self) -> PermutedConfig {
        let mut cfg = PermutedConfig::authors_reduced(self.hidden, &self.all_metas());
        cfg.lr = self.lr;
        cfg.weight_decay = self.weight_decay;
        cfg.seed = self.seed;
        cfg.tasks = self.tasks;
        cfg.steps_per_task = Some(self.steps);
        cfg.bn_per_task = self.bn_per_task;
        cfg.gamma_init = if self.gamma_uniform { GammaInit::Uniform } else { GammaInit::One };
        cfg.bn_stats = if self.bn_running { NormEval::Running } else { NormEval::Batch };
        cfg.weights = if self.full_precision { Weights::Full } else { Weights::Binary };
        if self.mnist_then_fashion {
            cfg.sequence = Some(self.data_sets());
            cfg.tasks = 2;
        }
        cfg.test_examples = 2000;
        cfg.live_test_examples = 500;
        cfg.eval_every = (cfg.steps_per_task() / 8).clamp(5, 500);
        if let Some(lambda) = self.ewc {
            cfg.learners.push(LearnerSpec::ewc(lambda));
        }
        cfg
    }

    /// The learners of the comparison, one worker each, in the order of the config.
    fn learners(&self) -> Vec<LearnerSpec> {
        if self.stream { self.stream_config().learners() } else { self.permuted_config().learners }
    }
}

impl Demo for Bnn {
    fn decl(&self) -> &'static settings::Demo {
        &keys::DEMO
    }

    fn controls(&self) -> &'static [&'static str] {
        &[HIST_LAYER]
    }

    /// The figures of the chosen experiment, and the toy problem at its m (two weights: drawn at
    /// once, no worker needed).
    fn on_settings(&self, values: &Values) -> Vec<Paint> {
        let kind = values.choice(&keys::EXPERIMENT);
        vec![Paint::ShowFor { shown: kind.into() }, Paint::hidden("bnn-matrices", kind != "permuted"), toy(values.float(&keys::TOY_META) as f32)]
    }

    fn plan(&self, values: &Values) -> Result<Plan, DemoError> {
        let settings = BnnSettings::from_values(values);
        let (board, batch) = if settings.stream {
            let cfg = settings.stream_config();
            cfg.validate()?;
            let batch = cfg.batch;
            (BnnBoard::new(Kind::Stream(cfg), settings.learners()), batch)
        } else {
            let cfg = settings.permuted_config();
            cfg.validate()?;
            let batch = cfg.batch;
            (BnnBoard::new(Kind::Permuted(cfg), settings.learners()), batch)
        };
        Ok(Plan {
            learners: settings.learners().iter().map(|l| l.name.clone()).collect(),
            data: settings.data_sets(),
            classifies: true,
            per_step: (batch, "images"),
            board: Box::new(board),
        })
    }

    fn learner(&self, values: &Values, learner: usize, backend: Backend) -> Result<Box<dyn Learner>, DemoError> {
        let settings = BnnSettings::from_values(values);
        let make = |c, p| backend.bnn(c, p);
        let experiment = if settings.stream {
            let mut cfg = settings.stream_config();
            let metas = cfg.metas.len();
            if learner < metas {
                cfg.metas = vec![cfg.metas[learner]];
                cfg.full_data.clear();
            } else if let Some(&meta) = cfg.full_data.get(learner - metas) {
                cfg.metas.clear();
                cfg.full_data = vec![meta];
            } else {
                return Err(DemoError::NoLearner(learner));
            }
            Experiment::Stream(StreamRun::new(cfg, make)?)
        } else {
            let mut cfg = settings.permuted_config();
            let spec = cfg.learners.get(learner).cloned().ok_or(DemoError::NoLearner(learner))?;
            cfg.learners = vec![spec];
            Experiment::Permuted(PermutedRun::new(cfg, make)?)
        };
        Ok(Box::new(BnnLearner { experiment, data: settings.data_sets(), sent_points: 0, sent_matrix: Vec::new(), sent_tail: 0, flips: None }))
    }

    fn network(&self, values: &Values) -> Result<Network, DemoError> {
        Ok(network(values))
    }
}

fn network(values: &Values) -> Network {
    let settings = BnnSettings::from_values(values);
    if settings.stream { Network::Bnn(settings.stream_config().net(0.0)) } else {
        let cfg = settings.permuted_config();
        Network::Bnn(cfg.net(&cfg.learners[0]))
    }
}

fn toy(meta: f32) -> Paint {
    let cfg = ToyConfig { metas: vec![0.0, meta], ..ToyConfig::default() };
    let paths: Vec<figures::ToyPath> = run_toy(&cfg).into_iter().map(|t| (t.meta, t.points)).collect();
    let target = cfg.target;
    Paint::chart("bnn-toy", figures::toy(&paths, target, &|w| cfg.loss(w), TOY_STEPS, 760.0, 380.0))
}

// ---------------------------------------------------------------------------------------------
// In the worker: one learner of the experiment
// ---------------------------------------------------------------------------------------------

enum Experiment {
    Permuted(PermutedRun<BnnNet>),
    Stream(StreamRun<BnnNet>),
}

pub struct BnnLearner {
    experiment: Experiment,
    data: Vec<DataSetId>,
    /// Curve points already reported.
    sent_points: usize,
    /// The accuracy matrix as last reported.
    sent_matrix: Vec<Vec<f32>>,
    sent_tail: usize,
    /// The last flip measurement: after how many tasks, on which layer.
    flips: Option<Flips>,
}

/// The loss increase when binary weights are flipped, as measured after `tasks` tasks.
#[derive(Debug, Clone, PartialEq)]
struct Flips {
    tasks: usize,
    layer: usize,
    /// Weights flipped together in each bin.
    sample: usize,
    bins: Vec<FlipBin>,
}

impl Flips {
    /// As the workers send it after the histogram's counts: `[tasks, layer, sample, bins,
    /// (magnitude, mean increase) per bin]`.
    fn encode(&self) -> Vec<f32> {
        let head = [self.tasks as f32, self.layer as f32, self.sample as f32, self.bins.len() as f32];
        head.into_iter().chain(self.bins.iter().flat_map(|b| [b.magnitude, b.mean_increase()])).collect()
    }

    /// `(tasks, sample, points)`, or `None` for anything that is not what [`Flips::encode`] writes.
    fn decode(v: &[f32]) -> Option<(usize, usize, Vec<(f32, f32)>)> {
        let &[tasks, _layer, sample, bins] = v.first_chunk::<4>()?;
        let rest = v.get(4..)?;
        if rest.len() != 2 * bins as usize {
            return None;
        }
        Some((tasks as usize, sample as usize, rest.chunks_exact(2).map(|p| (p[0], p[1])).collect()))
    }
}

/// What a learner reports: where it stands and what is new since its last report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum BnnUpdate {
    Permuted {
        task: usize,
        step_in_task: usize,
        spec: LearnerSpec,
        points: Vec<CurvePoint>,
        /// The whole accuracy matrix, when a task's end changed it.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "matrix_opt")]
        matrix: Option<Vec<Vec<f32>>>,
    },
    Stream {
        subset: usize,
        spec: LearnerSpec,
        points: Vec<StreamPoint>,
        /// Whole-test-set readings of the last subsets not sent before.
        tail: Vec<f32>,
    },
}

fn matrix_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Vec<f32>>>, D::Error> {
    crate::stats::nan::matrix(d).map(Some)
}

/// Two matrices alike, NaN (not measured yet) equal to NaN.
fn same_matrix(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()))
}

impl BnnLearner {
    fn trainer(&mut self) -> Option<&mut BnnNet> {
        match &mut self.experiment {
            Experiment::Permuted(r) => r.trainers_mut().next(),
            Experiment::Stream(r) => r.trainers_mut().next(),
        }
    }

    /// Measures the flip figure again when a task has ended (or the layer changed) since the last
    /// measurement: once per task, not at every picture, since it evaluates the network some
    /// thirty times.
    async fn flips(&mut self, layer: usize, data: &dyn DataAccess) -> Result<Option<&Flips>, TrainError> {
        let Experiment::Permuted(run) = &mut self.experiment else { return Ok(None) };
        let tasks = run.task();
        if tasks == 0 {
            return Ok(None);
        }
        if self.flips.as_ref().is_some_and(|f| f.tasks == tasks && f.layer == layer) {
            return Ok(self.flips.as_ref());
        }
        let perm = run.permutation(0).map(<[u16]>::to_vec);
        let seed = run.config().seed;
        let mut batch = None;
        data.with_train(&mut |train| {
            let n = FLIP_EXAMPLES.min(train.len());
            let indices: Vec<usize> = (0..n).collect();
            let (mut x, mut y) = (vec![0.0; n * crate::data::IMAGE_PIXELS], vec![0; n]);
            fill_batch_permuted(train, &indices, perm.as_deref(), &mut x, &mut y);
            batch = Some((x, y));
        });
        let Some(batch) = batch.filter(|(_, y)| !y.is_empty()) else { return Ok(None) };
        let Some(trainer) = run.trainers_mut().next() else { return Ok(None) };
        let weights = trainer.params().await?.wh.get(layer).map_or(0, Vec::len);
        // About 200 weights a bin at the paper's widths, fewer in the page's small networks so
        // that the bins of large |Wh| still hold enough to be drawn.
        let sample = (weights / 500).clamp(20, 200);
        let cfg = FlipConfig { layer, sample, ..FlipConfig::hidden_layer(seed) };
        // A failed measurement is not tried again until the next task: the training step reports
        // what went wrong, and the pictures keep coming.
        let measured = flip_loss_increase(trainer, &[batch], &cfg).await;
        let failed = measured.as_ref().err().cloned();
        self.flips = Some(Flips { tasks, layer, sample, bins: measured.unwrap_or_default() });
        match failed {
            Some(e) => Err(e),
            None => Ok(self.flips.as_ref()),
        }
    }

    fn update(&mut self) -> Option<BnnUpdate> {
        Some(match &self.experiment {
            Experiment::Permuted(r) => {
                let record = r.records().next()?;
                let points = record.curve.get(self.sent_points..).unwrap_or_default().to_vec();
                self.sent_points = record.curve.len();
                let matrix = (!same_matrix(&record.acc_matrix, &self.sent_matrix)).then(|| record.acc_matrix.clone());
                if let Some(m) = &matrix {
                    self.sent_matrix = m.clone();
                }
                BnnUpdate::Permuted { task: r.task(), step_in_task: r.step_in_task(), spec: record.spec.clone(), points, matrix }
            }
            Experiment::Stream(r) => {
                let record = r.records().next()?;
                let points = record.curve.get(self.sent_points..).unwrap_or_default().to_vec();
                self.sent_points = record.curve.len();
                let tail = record.tail_test_acc.get(self.sent_tail..).unwrap_or_default().to_vec();
                self.sent_tail = record.tail_test_acc.len();
                BnnUpdate::Stream { subset: r.subset(), spec: record.spec.clone(), points, tail }
            }
        })
    }
}

impl Learner for BnnLearner {
    fn data_sets(&self) -> Vec<DataSetId> {
        self.data.clone()
    }

    fn advance<'a>(&'a mut self, data: &'a dyn TaskData) -> Step<'a, Result<bool, TrainError>> {
        Box::pin(async move {
            let progress = match &mut self.experiment {
                Experiment::Permuted(r) => r.advance(data, 1).await?,
                Experiment::Stream(r) => match self.data.first().and_then(|&set| data.for_set(set)) {
                    Some(data) => r.advance(data, 1).await?,
                    None => Progress::WaitingForData,
                },
            };
            Ok(progress == Progress::Finished)
        })
    }

    fn step(&self) -> usize {
        match &self.experiment {
            Experiment::Permuted(r) => r.step(),
            Experiment::Stream(r) => r.step(),
        }
    }

    fn report(&mut self) -> Result<String, serde_json::Error> {
        encode(&self.update())
    }

    /// On permuted MNIST the drawing is shuffled as task 1's images were: the question is whether
    /// the network still reads the first task it learned (MNIST then Fashion-MNIST: as drawn).
    fn predict<'a>(&'a mut self, drawing: &'a [u8], data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async move {
            let perm = match &self.experiment {
                Experiment::Permuted(r) => r.permutation(0).map(<[u16]>::to_vec),
                Experiment::Stream(_) => None,
            };
            let x = drawing_batch(drawing, data, perm.as_deref());
            let logits = self.trainer()?.logits(&x).await.ok()?;
            Some(softmax(logits.get(..NUM_CLASSES)?))
        })
    }

    /// The hidden weights of the layer `detail` names, counted: `[lo, hi, counts...]`, then on
    /// permuted tasks the flip figure of that layer ([`Flips::encode`]) once a task has ended.
    fn pictures<'a>(&'a mut self, detail: &'a str, data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async move {
            let layer = detail.parse::<usize>().unwrap_or(1).min(2);
            let params = self.trainer()?.params().await.ok()?;
            // Only the counts travel; the page colours each learner's set.
            let set = BinnedSet::count("", crate::charts::palette::STANDARD, params.wh.get(layer)?, FINE_BINS);
            // Counts below 2^24 are exact in f32; a layer has at most 4096 x 4096 weights.
            let mut out: Vec<f32> = [set.lo, set.hi].into_iter().chain(set.counts.iter().map(|&c| c as f32)).collect();
            // A failed measurement leaves the histogram standing; the training step reports errors.
            if let Ok(Some(flips)) = self.flips(layer, data).await {
                out.extend(flips.encode());
            }
            Some(out)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// On the page: drawing what the workers report
// ---------------------------------------------------------------------------------------------

enum Kind {
    Permuted(PermutedConfig),
    Stream(StreamConfig),
}

/// Where the slowest learner stands: (task or subset, step in task).
#[derive(Debug, Clone, Copy, Default)]
struct At {
    stage: usize,
    step_in_task: usize,
}

pub struct BnnBoard {
    kind: Kind,
    specs: Vec<LearnerSpec>,
    permuted: Vec<Option<LearnerRecord>>,
    stream: Vec<Option<StreamRecord>>,
    at: Vec<At>,
}

impl BnnBoard {
    fn new(kind: Kind, specs: Vec<LearnerSpec>) -> Self {
        let n = specs.len();
        Self { kind, specs, permuted: vec![None; n], stream: vec![None; n], at: vec![At::default(); n] }
    }

    fn permuted_records(&self) -> Vec<&LearnerRecord> {
        self.permuted.iter().flatten().collect()
    }

    fn stream_records(&self) -> Vec<&StreamRecord> {
        self.stream.iter().flatten().collect()
    }
}

/// A learner as the charts know it (name and colour family).
fn learner(spec: &LearnerSpec) -> figures::Learner {
    figures::Learner::new(spec.name.clone(), spec.meta, spec.ewc_lambda, is_full_data(&spec.name))
}

impl Board for BnnBoard {
    fn apply(&mut self, i: usize, report: &str) -> Result<bool, DemoError> {
        let Some(update) = decode::<Option<BnnUpdate>>(report)? else { return Ok(false) };
        let (Some(slot), Some(at)) = (self.permuted.get_mut(i), self.at.get_mut(i)) else { return Err(DemoError::NoLearner(i)) };
        Ok(match update {
            BnnUpdate::Permuted { task, step_in_task, spec, points, matrix } => {
                *at = At { stage: task, step_in_task };
                let record = slot.get_or_insert_with(|| LearnerRecord { spec, acc_matrix: Vec::new(), curve: Vec::new() });
                let changed = !points.is_empty() || matrix.is_some();
                record.curve.extend(points);
                if let Some(m) = matrix {
                    record.acc_matrix = m;
                }
                changed
            }
            BnnUpdate::Stream { subset, spec, points, tail } => {
                *at = At { stage: subset, step_in_task: 0 };
                let record = self.stream[i].get_or_insert_with(|| StreamRecord { spec, curve: Vec::new(), test_acc: None, tail_test_acc: Vec::new() });
                let changed = !points.is_empty() || !tail.is_empty();
                record.curve.extend(points);
                record.test_acc = tail.last().copied().or(record.test_acc);
                record.tail_test_acc.extend(tail);
                changed
            }
        })
    }

    fn draw_charts(&mut self, part: usize, out: &mut Vec<Paint>) -> bool {
        match &self.kind {
            Kind::Permuted(cfg) => {
                let refs = self.permuted_records();
                // The curves, then the table and the numbers behind the curves, then one matrix per
                // frame: each part stays well inside a frame on a main thread sharing its cores.
                match part {
                    0 => {
                        let curves: Vec<(figures::Learner, Vec<(f32, Vec<f32>)>)> = refs.iter().map(|r| (learner(&r.spec), r.task_points())).collect();
                        let series: Vec<(String, Vec<f32>)> = refs
                            .iter()
                            .flat_map(|r| {
                                (0..cfg.tasks).map(move |t| (format!("{} · task {}", r.spec.name, t + 1), r.curve.iter().filter_map(|p| p.task_acc.get(t).copied()).collect()))
                            })
                            .collect();
                        out.push(Paint::Chart {
                            canvas: "bnn-curves".into(),
                            figure: figures::permuted_curves(&curves, cfg.steps_per_task(), cfg.tasks, 760.0, 360.0),
                            series: Some(series),
                        });
                    }
                    1 => {
                        out.push(Paint::Html { id: "bnn-results".into(), html: results_table(&refs) });
                        let learners: Vec<figures::Learner> = refs.iter().map(|r| learner(&r.spec)).collect();
                        let matrices: Vec<Vec<Vec<Vec<f32>>>> = refs.iter().map(|r| vec![r.acc_matrix.clone()]).collect();
                        out.push(Paint::chart("bnn-pileup", figures::mean_accuracy_vs_tasks(&learners, &matrices, 560.0, 320.0)));
                    }
                    _ => {
                        out.push(Paint::hidden("bnn-matrix-third", refs.len() < 3));
                        if let (Some(canvas), Some(record)) = (MATRICES.get(part - 2), refs.get(part - 2)) {
                            out.push(Paint::chart(canvas, figures::accuracy_matrix(&record.spec.name, &record.acc_matrix, 360.0, 300.0)));
                        }
                    }
                }
                part < refs.len().min(MATRICES.len()) + 1
            }
            Kind::Stream(cfg) => {
                let refs = self.stream_records();
                let curves: Vec<(figures::Learner, Vec<(f32, f32)>)> = refs.iter().map(|r| (learner(&r.spec), r.points())).collect();
                let series: Vec<(String, Vec<f32>)> = refs.iter().map(|r| (r.spec.name.clone(), r.curve.iter().map(|p| p.test_acc).collect())).collect();
                out.push(Paint::Chart {
                    canvas: "bnn-curves".into(),
                    figure: figures::stream_curves(&curves, cfg.steps_per_subset(), cfg.subsets, 760.0, 360.0),
                    series: Some(series),
                });
                false
            }
        }
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], _part: usize, controls: &Controls, _data: Option<&dyn DataAccess>, out: &mut Vec<Paint>) -> bool {
        let layer = control::<usize>(controls, HIST_LAYER).unwrap_or(1).min(2);
        let colors = figures::learner_colors(&self.specs.iter().map(learner).collect::<Vec<_>>());
        let sets: Vec<BinnedSet> = self
            .specs
            .iter()
            .zip(colors)
            .zip(pictures)
            .filter_map(|((spec, color), p)| {
                let p = p.as_ref()?;
                let (&lo, &hi) = (p.first()?, p.get(1)?);
                let counts = p.get(2..2 + FINE_BINS)?.iter().map(|&c| c as u32).collect();
                Some(BinnedSet { name: spec.name.clone(), color, lo, hi, counts })
            })
            .collect();
        out.push(Paint::chart("bnn-hist", figures::weight_histogram_binned(&sets, layer, 760.0, 300.0)));
        if let Kind::Permuted(_) = self.kind {
            let flips: Vec<(LearnerSpec, usize, usize, Vec<(f32, f32)>)> = self
                .specs
                .iter()
                .zip(pictures)
                .filter_map(|(spec, p)| {
                    let (tasks, sample, points) = Flips::decode(p.as_ref()?.get(2 + FINE_BINS..)?)?;
                    Some((spec.clone(), tasks, sample, points))
                })
                .collect();
            out.push(flip_figure(&flips, layer));
        }
        false
    }

    fn status(&self, standing: &Standing, rate: &str, compute: &str) -> String {
        // The slowest network says where the comparison stands.
        let slowest = standing.steps.iter().enumerate().filter_map(|(i, s)| Some((s.as_ref()?, i))).min().map(|(_, i)| self.at[i]);
        match &self.kind {
            Kind::Permuted(cfg) => {
                if standing.all_finished() {
                    let lines: Vec<String> = self
                        .permuted_records()
                        .iter()
                        .map(|rec| {
                            let last = rec.acc_matrix.last().and_then(|row| row.first().copied()).unwrap_or(f32::NAN);
                            let first = if cfg.sequence.is_some() { cfg.data_set(0).title() } else { "task 1" };
                            format!("{}: {first} {:.0}%, mean {:.0}%", rec.spec.name, 100.0 * last, 100.0 * rec.final_mean_acc().unwrap_or(f32::NAN))
                        })
                        .collect();
                    return format!("Finished. After the last task: {}.", lines.join("; "));
                }
                let Some(at) = slowest else { return format!("Starting {compute}…") };
                let task = (at.stage + 1).min(cfg.tasks);
                let named = if cfg.sequence.is_some() { format!(" ({})", cfg.data_set(task - 1).title()) } else { String::new() };
                format!("Task {task} of {}{named}, batch {} of {} · {rate} {compute}", cfg.tasks, at.step_in_task, cfg.steps_per_task())
            }
            Kind::Stream(cfg) => {
                if standing.all_finished() {
                    let lines: Vec<String> =
                        self.stream_records().iter().map(|rec| format!("{} {:.1}%", rec.spec.name, 100.0 * rec.tail_mean_acc().unwrap_or(f32::NAN))).collect();
                    let readings = TAIL_EVALS.min(cfg.subsets);
                    return format!("Finished. Test accuracy (mean of the whole test set's readings after the last {readings} subsets): {}.", lines.join("; "));
                }
                let (Some(at), Some(step)) = (slowest, standing.slowest()) else { return format!("Starting {compute}…") };
                format!("Subset {} of {}, batch {} of {} · {rate} {compute}", at.stage + 1, cfg.subsets, step, cfg.total_steps())
            }
        }
    }

    fn picture_detail(&self, controls: &Controls) -> String {
        control::<usize>(controls, HIST_LAYER).unwrap_or(1).to_string()
    }

    fn summary(&self, backend: &str) -> Option<Summary> {
        match &self.kind {
            Kind::Permuted(cfg) => {
                let records = self.permuted_records();
                (!records.is_empty()).then(|| {
                    let mut s = Summary::new("bnn-permuted", summary::permuted_config(cfg, backend));
                    for r in records {
                        s.run(&r.spec.name, cfg.seed, summary::permuted_metrics(r));
                    }
                    s
                })
            }
            Kind::Stream(cfg) => {
                let records = self.stream_records();
                (!records.is_empty()).then(|| {
                    let mut s = Summary::new("bnn-stream", summary::stream_config(cfg, DataSetId::Fashion, backend));
                    for r in records {
                        s.run(&r.spec.name, cfg.seed, summary::stream_metrics(r));
                    }
                    s
                })
            }
        }
    }
}

/// The flip figure from what the learners last measured (empty until a task has ended).
fn flip_figure(flips: &[(LearnerSpec, usize, usize, Vec<(f32, f32)>)], layer: usize) -> Paint {
    let sample = flips.iter().map(|f| f.2).max().unwrap_or(0);
    let curves: Vec<(figures::Learner, Vec<(f32, f32)>)> = flips.iter().map(|(spec, _, _, points)| (learner(spec), points.clone())).collect();
    let series = flips.iter().map(|(spec, tasks, _, points)| (format!("{} · after task {tasks}", spec.name), points.iter().map(|p| p.1).collect())).collect();
    Paint::Chart { canvas: "bnn-flips".into(), figure: figures::flip_curves(&curves, layer, sample, 760.0, 320.0), series: Some(series) }
}

/// The numbers behind the charts, for reading aloud (and for the browser tests).
fn results_table(records: &[&LearnerRecord]) -> String {
    let mut html = String::from("<tr><th>network</th><th>task 1 now</th><th>mean over tasks seen</th></tr>");
    for rec in records {
        let Some(point) = rec.curve.last() else { continue };
        let task1 = point.task_acc.first().copied().unwrap_or(f32::NAN);
        let mean = point.task_acc.iter().sum::<f32>() / point.task_acc.len().max(1) as f32;
        html.push_str(&format!(
            "<tr data-learner=\"{name}\" data-task1=\"{task1:.4}\" data-mean=\"{mean:.4}\"><td>{name}</td><td>{:.1}%</td><td>{:.1}%</td></tr>",
            100.0 * task1,
            100.0 * mean,
            name = rec.spec.name,
        ));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demos::REGISTRY;

    /// Two permuted tasks of 10 batches at 16 hidden units: seconds natively.
    fn tiny() -> Values {
        let mut values = keys::DEMO.defaults();
        values.set(&keys::HIDDEN, crate::settings::Value::Int(16));
        values.set(&keys::TASKS, crate::settings::Value::Int(2));
        values.set(&keys::STEPS, crate::settings::Value::Int(10));
        values
    }

    /// A tiny permuted-MNIST run on synthetic images: two learners trained natively, their
    /// reports merged by the board.
    #[test]
    fn reports_carry_only_what_is_new_and_the_board_rebuilds_the_records() {
        let values = tiny();
        let demo = REGISTRY[0];
        let mut plan = demo.plan(&values).expect("plans");
        assert_eq!(plan.learners, ["m=0", "m=6"]);
        let data = crate::demos::tests_support::synthetic(600, 300);
        let mut sizes = Vec::new();
        for i in 0..2 {
            let mut l = demo.learner(&values, i, Backend::Cpu).expect("builds");
            let mut done = false;
            while !done {
                done = pollster::block_on(l.advance(&data)).expect("trains");
                let report = l.report().expect("encodes");
                sizes.push(report.len());
                plan.board.apply(i, &report).expect("applies");
            }
        }
        // Reports do not grow with the run: the last is no larger than the largest early one.
        let early = sizes[..5].iter().max().copied().unwrap_or(0);
        assert!(sizes.iter().all(|&s| s <= early.max(600)), "{sizes:?}");
        let mut out = Vec::new();
        let mut part = 0;
        while plan.board.draw_charts(part, &mut out) {
            part += 1;
        }
        assert!(out.iter().any(|p| matches!(p, Paint::Chart { canvas, .. } if canvas == "bnn-matrix-meta")));
        let summary = plan.board.summary("cpu").expect("a summary");
        assert_eq!(summary.variants(), ["m=0", "m=6"]);
        let matrix = &summary.runs[1]["metrics"]["acc_matrix"];
        assert!(matrix[1][1].as_f64().is_some_and(|a| a > 0.0), "{matrix}");
        let standing = Standing { steps: vec![Some(20), Some(20)], finished: vec![true, true] };
        assert!(plan.board.status(&standing, "", "").starts_with("Finished."));
    }

    /// The flip figure arrives once a task has ended, behind the histogram's counts, and the board
    /// draws one line per network.
    #[test]
    fn pictures_carry_the_flip_figure_once_a_task_has_ended() {
        let values = tiny();
        let demo = REGISTRY[0];
        let mut plan = demo.plan(&values).expect("plans");
        let data = crate::demos::tests_support::synthetic(600, 300);
        let mut pictures = Vec::new();
        for i in 0..2 {
            let mut l = demo.learner(&values, i, Backend::Cpu).expect("builds");
            let before = pollster::block_on(l.pictures("1", &data)).expect("a histogram");
            assert_eq!(before.len(), 2 + FINE_BINS, "nothing to flip before task 1 ends");
            while l.step() < 10 {
                pollster::block_on(l.advance(&data)).expect("trains");
            }
            let after = pollster::block_on(l.pictures("1", &data)).expect("a histogram");
            let (tasks, sample, points) = Flips::decode(&after[2 + FINE_BINS..]).expect("a flip figure");
            assert_eq!((tasks, sample), (1, 20));
            assert!(!points.is_empty() && points.iter().all(|&(m, inc)| (0.0..=1.0).contains(&m) && inc.is_finite()), "{points:?}");
            // Measured once per task: asked again, the same figure.
            assert_eq!(pollster::block_on(l.pictures("1", &data)).expect("a histogram"), after);
            pictures.push(Some(after));
        }
        let controls: Controls = vec![(HIST_LAYER, "1".into())];
        let mut out = Vec::new();
        plan.board.draw_pictures(&pictures, 0, &controls, None, &mut out);
        let series = out.iter().find_map(|p| match p {
            Paint::Chart { canvas, series, .. } if canvas == "bnn-flips" => series.clone(),
            _ => None,
        });
        let names: Vec<String> = series.expect("the flip figure").into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["m=0 · after task 1", "m=6 · after task 1"]);
    }

    #[test]
    fn a_flip_figure_of_the_wrong_length_is_refused() {
        let flips = Flips { tasks: 2, layer: 1, sample: 20, bins: vec![FlipBin { bin: 3, magnitude: 0.35, candidates: 40, increase: vec![0.1, 0.3] }] };
        let v = flips.encode();
        assert_eq!(Flips::decode(&v), Some((2, 20, vec![(0.35, 0.2)])));
        assert_eq!(Flips::decode(&v[..v.len() - 1]), None);
        assert_eq!(Flips::decode(&v[..3]), None);
    }
}
