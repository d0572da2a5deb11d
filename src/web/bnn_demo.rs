//! Demo 1: the binarized network, standard and metaplastic side by side, trained live.
//!
//! Each network trains in its own worker ([`BnnWorkerRun`], one learner of the experiment); the
//! page builds the same settings into a plan, refuses out-of-range ones, and draws what the
//! workers report ([`BnnView`]). Both sides build the experiment's config from [`BnnSettings`], so
//! the learners of a comparison share the seed, hence the initial weights and the batch order.

use super::demo::{canvas, select_value};
use super::protocol::{Compute, f32_json, json_f32};
use super::remote::{self, Plan, RemoteDemo, Report, View};
use super::worker::HeldData;
use super::{App, canvas_chart, dom};
use crate::backend::{Backend, Bnn};
use crate::charts::BinnedSet;
use crate::charts::bnn as figures;
use crate::data::{DataSetId, NUM_CLASSES};
use crate::experiments::{drawing_batch, softmax};
use crate::experiments::permuted::{CurvePoint, LearnerRecord, LearnerSpec, PermutedConfig, PermutedRun, Progress};
use crate::experiments::stream::{StreamConfig, StreamPoint, StreamRecord, StreamRun};
use crate::experiments::summary::{self, Summary};
use crate::experiments::toy::{ToyConfig, run_toy};
use crate::nn::TrainError;
use crate::model::bnn::BnnTrainer;
use crate::model::bnn::GammaInit;
use crate::settings::{self, Values};
use serde_json::{Value, json};
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// The toy picture shows the first steps, before the growing weight leaves the frame.
const TOY_STEPS: usize = 30;
/// The workers count their hidden weights in this many bins and send the counts, not the up to a
/// million weights: the page only merges them into the figure's 60 bins.
const FINE_BINS: usize = 2048;

pub type BnnDemo = RemoteDemo;

pub fn new_demo() -> BnnDemo {
    RemoteDemo::new(&settings::bnn::DEMO, plan)
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    remote::wire(app, |a| &a.bnn, on_change)?;
    let layer = dom::by_id::<web_sys::Element>("bnn-hist-layer")?;
    let a = app.clone();
    dom::on_event(&layer, "change", move || a.bnn.request_pictures());
    Ok(())
}

/// After every accepted change of the form: the figures of the chosen experiment, and the toy
/// problem at its m (instant, two weights: drawn here rather than in a worker).
fn on_change(app: &App) {
    show_experiment_fields(app.bnn.values.borrow().choice("experiment"));
    draw_toy(app.bnn.values.borrow().float("toy-meta") as f32);
}

/// Shows the figures and captions of the chosen experiment.
fn show_experiment_fields(kind: &str) {
    if let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all("#demo-bnn [data-for]")?)) {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
                el.set_hidden(el.get_attribute("data-for").as_deref() != Some(kind));
            }
        }
    }
    dom::set_hidden("bnn-matrices", kind != "permuted");
    super::exports::describe_charts();
}

/// The accuracy-matrix canvases, one per learner in worker order; the third shows only when a run
/// has a third learner (a second m, or EWC).
const MATRICES: [&str; 3] = ["bnn-matrix-standard", "bnn-matrix-meta", "bnn-matrix-third"];

/// The demo's settings, typed: built from the declared values on the page and, from the same
/// values sent as text, in each worker.
#[derive(Debug, Clone, PartialEq)]
pub struct BnnSettings {
    stream: bool,
    hidden: usize,
    /// The metaplastic learners' m, beside the standard network's 0.
    metas: Vec<f32>,
    lr: f32,
    seed: u64,
    tasks: usize,
    steps: usize,
    subsets: usize,
    epochs: usize,
    ewc: Option<f32>,
    bn_per_task: bool,
    gamma_uniform: bool,
}

impl BnnSettings {
    fn from_values(v: &Values) -> Self {
        let stream = v.choice("experiment") == "stream";
        Self {
            stream,
            hidden: v.count("hidden"),
            metas: v.list("meta").iter().map(|&m| m as f32).collect(),
            lr: v.float("lr") as f32,
            seed: v.seed(),
            tasks: v.count("tasks"),
            steps: v.count("steps"),
            subsets: v.count("subsets"),
            epochs: v.count("epochs"),
            ewc: (!stream && v.flag("ewc")).then(|| v.float("ewc-lambda") as f32),
            bn_per_task: v.flag("bn-per-task"),
            gamma_uniform: v.flag("gamma-uniform"),
        }
    }

    /// Every learner's m: the standard network first, then the metaplastic ones.
    fn all_metas(&self) -> Vec<f32> {
        std::iter::once(0.0).chain(self.metas.iter().copied()).collect()
    }

    fn data_set(&self) -> DataSetId {
        if self.stream { DataSetId::Fashion } else { DataSetId::Mnist }
    }

    fn stream_config(&self) -> StreamConfig {
        let mut cfg = StreamConfig::paper(&self.all_metas());
        cfg.hidden = self.hidden;
        cfg.lr = self.lr;
        cfg.seed = self.seed;
        cfg.subsets = self.subsets;
        cfg.epochs = self.epochs;
        cfg.eval_every = (cfg.total_steps() / 60).clamp(10, 500);
        cfg
    }

    fn permuted_config(&self) -> PermutedConfig {
        let mut cfg = PermutedConfig::authors_reduced(self.hidden, &self.all_metas());
        cfg.lr = self.lr;
        cfg.seed = self.seed;
        cfg.tasks = self.tasks;
        cfg.steps_per_task = Some(self.steps);
        cfg.bn_per_task = self.bn_per_task;
        cfg.gamma_init = if self.gamma_uniform { GammaInit::Uniform } else { GammaInit::One };
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

/// Builds a run's plan from the declared values (already within their ranges; the experiment
/// still refuses combinations it cannot train, with its message).
fn plan(app: &App, values: &Values) -> Result<Plan, String> {
    let settings = BnnSettings::from_values(values);
    let (backend, compute) = super::demo::backend(app, values.choice("compute"))?;
    let view = if settings.stream {
        let cfg = settings.stream_config();
        cfg.validate().map_err(|e| e.to_string())?;
        BnnView::Stream(cfg)
    } else {
        let cfg = settings.permuted_config();
        cfg.validate().map_err(|e| e.to_string())?;
        BnnView::Permuted(cfg)
    };
    let learners = settings.learners();
    Ok(Plan {
        demo: "bnn",
        settings: values.to_plain_query(),
        learners: learners.iter().map(|l| l.name.clone()).collect(),
        seed: settings.seed,
        backend: match backend {
            Backend::Cpu => Compute::Cpu,
            Backend::Gpu(_) => Compute::WebGpu,
        },
        compute,
        data: Some(settings.data_set()),
        view: Box::new(view),
    })
}

// ---------------------------------------------------------------------------------------------
// In the worker: one learner of the experiment
// ---------------------------------------------------------------------------------------------

enum Experiment {
    Permuted(PermutedRun<Bnn>),
    Stream(StreamRun<Bnn>),
}

pub struct BnnWorkerRun {
    experiment: Experiment,
    data: DataSetId,
}

impl BnnWorkerRun {
    /// Learner `learner` of the comparison the settings describe, alone: same seed, so the same
    /// initial weights and batches as its partners in the other workers.
    pub fn new(settings: &str, learner: usize, backend: Backend) -> Result<Self, String> {
        let settings = BnnSettings::from_values(&Values::from_plain_query(&settings::bnn::DEMO, settings)?);
        let make = |c, p| backend.bnn(c, p);
        let err = |e: TrainError| e.to_string();
        let experiment = if settings.stream {
            let mut cfg = settings.stream_config();
            let metas = cfg.metas.len();
            if learner < metas {
                cfg.metas = vec![cfg.metas[learner]];
                cfg.full_data = false;
            } else if learner == metas && cfg.full_data {
                cfg.metas.clear();
            } else {
                return Err(format!("there is no learner {learner} in this run"));
            }
            Experiment::Stream(StreamRun::new(cfg, make).map_err(err)?)
        } else {
            let mut cfg = settings.permuted_config();
            let spec = cfg.learners.get(learner).cloned().ok_or_else(|| format!("there is no learner {learner} in this run"))?;
            cfg.learners = vec![spec];
            Experiment::Permuted(PermutedRun::new(cfg, make).map_err(err)?)
        };
        Ok(Self { experiment, data: settings.data_set() })
    }

    pub fn data_set(&self) -> DataSetId {
        self.data
    }

    pub async fn advance(&mut self, data: &HeldData) -> Result<bool, TrainError> {
        let progress = match &mut self.experiment {
            Experiment::Permuted(r) => r.advance(data, 1).await?,
            Experiment::Stream(r) => r.advance(data, 1).await?,
        };
        Ok(progress == Progress::Finished)
    }

    pub fn step(&self) -> usize {
        match &self.experiment {
            Experiment::Permuted(r) => r.step(),
            Experiment::Stream(r) => r.step(),
        }
    }

    pub fn metrics(&self) -> String {
        match &self.experiment {
            Experiment::Permuted(r) => json!({
                "at": { "task": r.task(), "step_in_task": r.step_in_task() },
                "record": r.records().next().map(permuted_record_json),
            }),
            Experiment::Stream(r) => json!({
                "at": { "subset": r.subset() },
                "record": r.records().next().map(stream_record_json),
            }),
        }
        .to_string()
    }

    /// Class probabilities for a drawing (28 x 28, 0 to 255). On permuted MNIST the drawing is
    /// shuffled as task 1's images were: the question is whether the network still reads the first
    /// task it learned.
    pub async fn predict(&mut self, drawing: &[u8], data: &HeldData) -> Option<Vec<f32>> {
        let (x, trainer) = match &mut self.experiment {
            Experiment::Permuted(r) => {
                let x = drawing_batch(drawing, data, Some(r.permutation(0)?));
                (x, r.trainers_mut().next()?)
            }
            Experiment::Stream(r) => (drawing_batch(drawing, data, None), r.trainers_mut().next()?),
        };
        let logits = trainer.logits(&x).await.ok()?;
        Some(softmax(logits.get(..NUM_CLASSES)?))
    }

    /// The hidden weights of the layer `detail` names, counted: `[lo, hi, counts...]`.
    pub async fn pictures(&mut self, detail: &str) -> Option<Vec<f32>> {
        let layer = detail.parse::<usize>().unwrap_or(1).min(2);
        let trainer = match &mut self.experiment {
            Experiment::Permuted(r) => r.trainers_mut().next()?,
            Experiment::Stream(r) => r.trainers_mut().next()?,
        };
        let params = trainer.params().await.ok()?;
        // Only the counts travel; the page colours each learner's set.
        let set = BinnedSet::count("", crate::charts::palette::STANDARD, params.wh.get(layer)?, FINE_BINS);
        // Counts below 2^24 are exact in f32; a layer has at most 4096 x 4096 weights.
        Some([set.lo, set.hi].into_iter().chain(set.counts.iter().map(|&c| c as f32)).collect())
    }
}

/// A learner as the charts know it (name and colour family).
fn learner(spec: &LearnerSpec) -> figures::Learner {
    figures::Learner::new(spec.name.clone(), spec.meta, spec.ewc_lambda, spec.name == crate::experiments::stream::FULL_DATA)
}

fn spec_json(spec: &LearnerSpec) -> Value {
    json!({ "name": spec.name, "meta": spec.meta, "ewc": spec.ewc_lambda })
}

fn spec_from(v: &Value) -> LearnerSpec {
    LearnerSpec { name: v["name"].as_str().unwrap_or("?").to_string(), meta: json_f32(&v["meta"]), ewc_lambda: json_f32(&v["ewc"]) }
}

fn permuted_record_json(r: &LearnerRecord) -> Value {
    json!({
        "spec": spec_json(&r.spec),
        "matrix": r.acc_matrix.iter().map(|row| row.iter().map(|&a| f32_json(a)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "curve": r.curve.iter().map(|p| json!([p.step, f32_json(p.train_loss), f32_json(p.train_acc), p.task_acc.iter().map(|&a| f32_json(a)).collect::<Vec<_>>()])).collect::<Vec<_>>(),
    })
}

fn permuted_record_from(v: &Value) -> Option<LearnerRecord> {
    let floats = |v: &Value| v.as_array().map(|a| a.iter().map(json_f32).collect::<Vec<f32>>()).unwrap_or_default();
    Some(LearnerRecord {
        spec: spec_from(&v["spec"]),
        acc_matrix: v["matrix"].as_array()?.iter().map(floats).collect(),
        curve: v["curve"]
            .as_array()?
            .iter()
            .map(|p| CurvePoint { step: p[0].as_u64().unwrap_or(0) as usize, train_loss: json_f32(&p[1]), train_acc: json_f32(&p[2]), task_acc: floats(&p[3]) })
            .collect(),
    })
}

fn stream_record_json(r: &StreamRecord) -> Value {
    json!({
        "spec": spec_json(&r.spec),
        "test_acc": r.test_acc.map(f32_json),
        "curve": r.curve.iter().map(|p| json!([p.step, f32_json(p.test_acc), f32_json(p.train_loss)])).collect::<Vec<_>>(),
    })
}

fn stream_record_from(v: &Value) -> Option<StreamRecord> {
    Some(StreamRecord {
        spec: spec_from(&v["spec"]),
        test_acc: v["test_acc"].as_f64().map(|x| x as f32),
        curve: v["curve"]
            .as_array()?
            .iter()
            .map(|p| StreamPoint { step: p[0].as_u64().unwrap_or(0) as usize, test_acc: json_f32(&p[1]), train_loss: json_f32(&p[2]) })
            .collect(),
    })
}

fn permuted_records(reports: &[Option<Report>]) -> Vec<LearnerRecord> {
    reports.iter().flatten().filter_map(|r| permuted_record_from(&r.metrics["record"])).collect()
}

fn stream_records(reports: &[Option<Report>]) -> Vec<StreamRecord> {
    reports.iter().flatten().filter_map(|r| stream_record_from(&r.metrics["record"])).collect()
}

// ---------------------------------------------------------------------------------------------
// On the page: drawing what the workers report
// ---------------------------------------------------------------------------------------------

enum BnnView {
    Permuted(PermutedConfig),
    Stream(StreamConfig),
}

impl View for BnnView {
    fn draw_charts(&mut self, reports: &[Option<Report>], part: usize) -> bool {
        match self {
            BnnView::Permuted(cfg) => {
                let records = permuted_records(reports);
                let refs: Vec<&LearnerRecord> = records.iter().collect();
                // The curves, then the table and the numbers behind the curves, then one matrix per
                // frame: each part stays well inside a frame on a main thread sharing its cores.
                match part {
                    0 => {
                        if let Some(c) = canvas("bnn-curves") {
                            let curves: Vec<(figures::Learner, Vec<(f32, Vec<f32>)>)> = refs.iter().map(|r| (learner(&r.spec), r.task_points())).collect();
                            let _ = canvas_chart::draw(&c, figures::permuted_curves(&curves, cfg.steps_per_task(), cfg.tasks, 760.0, 360.0));
                        }
                    }
                    1 => {
                        write_results_table(&refs);
                        let series: Vec<(String, Vec<f32>)> = refs
                            .iter()
                            .flat_map(|r| {
                                (0..cfg.tasks).map(move |t| {
                                    (format!("{} · task {}", r.spec.name, t + 1), r.curve.iter().filter_map(|p| p.task_acc.get(t).copied()).collect())
                                })
                            })
                            .collect();
                        dom::set_series("bnn-curves", &series);
                        if let Some(c) = canvas("bnn-pileup") {
                            let learners: Vec<figures::Learner> = refs.iter().map(|r| learner(&r.spec)).collect();
                            let matrices: Vec<Vec<Vec<Vec<f32>>>> = refs.iter().map(|r| vec![r.acc_matrix.clone()]).collect();
                            let _ = canvas_chart::draw(&c, figures::mean_accuracy_vs_tasks(&learners, &matrices, 560.0, 320.0));
                        }
                    }
                    _ => {
                        dom::set_hidden("bnn-matrix-third", refs.len() < 3);
                        if let (Some(c), Some(record)) = (MATRICES.get(part - 2).and_then(|id| canvas(id)), refs.get(part - 2)) {
                            let _ = canvas_chart::draw(&c, figures::accuracy_matrix(&record.spec.name, &record.acc_matrix, 360.0, 300.0));
                        }
                    }
                }
                part < refs.len().min(MATRICES.len()) + 1
            }
            BnnView::Stream(cfg) => {
                let records = stream_records(reports);
                let refs: Vec<&StreamRecord> = records.iter().collect();
                if let Some(c) = canvas("bnn-curves") {
                    let curves: Vec<(figures::Learner, Vec<(f32, f32)>)> = refs.iter().map(|r| (learner(&r.spec), r.points())).collect();
                    let _ = canvas_chart::draw(&c, figures::stream_curves(&curves, cfg.steps_per_subset(), cfg.subsets, 760.0, 360.0));
                }
                let series: Vec<(String, Vec<f32>)> = refs.iter().map(|r| (r.spec.name.clone(), r.curve.iter().map(|p| p.test_acc).collect())).collect();
                dom::set_series("bnn-curves", &series);
                false
            }
        }
    }

    fn status(&self, reports: &[Option<Report>], rate: &str, compute: &str) -> String {
        let all_finished = !reports.is_empty() && reports.iter().all(|r| r.as_ref().is_some_and(|r| r.finished));
        // The slowest network says where the comparison stands.
        let slowest = reports.iter().flatten().min_by_key(|r| r.step);
        match self {
            BnnView::Permuted(cfg) => {
                if all_finished {
                    let lines: Vec<String> = permuted_records(reports)
                        .iter()
                        .map(|rec| {
                            let last = rec.acc_matrix.last().map(|row| row[0]).unwrap_or(f32::NAN);
                            format!("{}: task 1 {:.0}%, mean {:.0}%", rec.spec.name, 100.0 * last, 100.0 * rec.final_mean_acc().unwrap_or(f32::NAN))
                        })
                        .collect();
                    return format!("Finished. After the last task: {}.", lines.join("; "));
                }
                let Some(slowest) = slowest else { return format!("Starting {compute}…") };
                let task = slowest.metrics["at"]["task"].as_u64().unwrap_or(0) as usize;
                let step = slowest.metrics["at"]["step_in_task"].as_u64().unwrap_or(0);
                format!("Task {} of {}, batch {} of {} · {rate} {compute}", (task + 1).min(cfg.tasks), cfg.tasks, step, cfg.steps_per_task())
            }
            BnnView::Stream(cfg) => {
                if all_finished {
                    let lines: Vec<String> =
                        stream_records(reports).iter().map(|rec| format!("{} {:.1}%", rec.spec.name, 100.0 * rec.test_acc.unwrap_or(f32::NAN))).collect();
                    return format!("Finished. Test accuracy: {}.", lines.join("; "));
                }
                let Some(slowest) = slowest else { return format!("Starting {compute}…") };
                let subset = slowest.metrics["at"]["subset"].as_u64().unwrap_or(0) as usize;
                format!("Subset {} of {}, batch {} of {} · {rate} {compute}", subset + 1, cfg.subsets, slowest.step, cfg.total_steps())
            }
        }
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], _part: usize) -> bool {
        let specs = match self {
            BnnView::Permuted(cfg) => cfg.learners.clone(),
            BnnView::Stream(cfg) => cfg.learners(),
        };
        let layer = self.picture_detail().parse::<usize>().unwrap_or(1).min(2);
        let colors = figures::learner_colors(&specs.iter().map(learner).collect::<Vec<_>>());
        let sets: Vec<BinnedSet> = specs
            .into_iter()
            .zip(colors)
            .zip(pictures)
            .filter_map(|((spec, color), p)| {
                let p = p.as_ref()?;
                let (&lo, &hi) = (p.first()?, p.get(1)?);
                let counts = p.get(2..)?.iter().map(|&c| c as u32).collect();
                Some(BinnedSet { name: spec.name.clone(), color, lo, hi, counts })
            })
            .collect();
        if let Some(c) = canvas("bnn-hist") {
            let _ = canvas_chart::draw(&c, figures::weight_histogram_binned(&sets, layer, 760.0, 300.0));
        }
        false
    }

    fn picture_detail(&self) -> String {
        select_value("bnn-hist-layer")
    }

    fn summary(&self, reports: &[Option<Report>], backend: &str) -> Option<Summary> {
        reports.iter().any(Option::is_some).then(|| match self {
            BnnView::Permuted(cfg) => {
                let mut s = Summary::new("bnn-permuted", summary::permuted_config(cfg, backend));
                for r in permuted_records(reports) {
                    s.run(&r.spec.name, cfg.seed, summary::permuted_metrics(&r));
                }
                s
            }
            BnnView::Stream(cfg) => {
                let mut s = Summary::new("bnn-stream", summary::stream_config(cfg, DataSetId::Fashion, backend));
                for r in stream_records(reports) {
                    s.run(&r.spec.name, cfg.seed, summary::stream_metrics(&r));
                }
                s
            }
        })
    }
}

/// The numbers behind the charts, for reading aloud (and for the browser tests).
fn write_results_table(records: &[&LearnerRecord]) {
    let Ok(table) = dom::by_id::<web_sys::Element>("bnn-results") else { return };
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
    dom::set_html(&table, &html);
}

thread_local! {
    /// The m the toy chart shows: every other setting's change leaves the chart as it is.
    static TOY_DRAWN: std::cell::Cell<Option<f32>> = const { std::cell::Cell::new(None) };
}

fn draw_toy(meta: f32) {
    if TOY_DRAWN.with(|d| d.replace(Some(meta))) == Some(meta) {
        return;
    }
    let cfg = ToyConfig { metas: vec![0.0, meta], ..ToyConfig::default() };
    if let Some(c) = canvas("bnn-toy") {
        let paths: Vec<figures::ToyPath> = run_toy(&cfg).into_iter().map(|t| (t.meta, t.points)).collect();
        let target = cfg.target;
        let _ = canvas_chart::draw(&c, figures::toy(&paths, target, &|w| crate::experiments::toy::toy_loss(w, target), TOY_STEPS, 760.0, 380.0));
    }
}
