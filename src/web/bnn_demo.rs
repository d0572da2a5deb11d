//! Demo 1: the binarized network, standard and metaplastic side by side, trained live.
//!
//! The run is advanced a few batches at a time between animation frames. It is taken out of the
//! demo's state while it trains, so a click (pause, reset, a changed setting) only flips flags and
//! can never meet a half-updated network; a stale run is dropped whole when it hands control back.

use super::demo::{self, Demo, DemoRun, canvas, checked, number, select_value};
use super::{App, canvas_chart, dom};
use crate::backend::Bnn;
use crate::charts::bnn as figures;
use crate::data::{DataSetId, Examples};
use crate::experiments::DataAccess;
use crate::experiments::permuted::{LearnerSpec, PermutedConfig, PermutedRun, Progress};
use crate::experiments::stream::{StreamConfig, StreamRun};
use crate::experiments::toy::{ToyConfig, run_toy};
use crate::nn::TrainError;
use crate::model::bnn::GammaInit;
use crate::model::bnn::BnnTrainer;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// Batches per slice of work between two frames: enough to keep the GPU busy, few enough that the
/// page stays responsive.
const SLICE_STEPS: usize = 10;
/// Weight histograms need a readback of every hidden weight: not on every frame.
const HISTOGRAM_EVERY_MS: f64 = 2500.0;
/// The toy picture shows the first steps, before the growing weight leaves the frame.
const TOY_STEPS: usize = 30;

enum Experiment {
    Permuted(PermutedRun<Bnn>),
    Stream(StreamRun<Bnn>),
}

/// Demo 1's run, with what its last slice reported.
pub struct BnnRun {
    experiment: Experiment,
    last: Option<Progress>,
}

pub type BnnDemo = Demo<BnnRun>;

pub fn new_demo() -> BnnDemo {
    Demo::new("bnn", HISTOGRAM_EVERY_MS, new_run)
}

/// The browser's data as the experiments see it: borrowed only inside each call.
pub(super) struct SlotData(pub(super) Rc<RefCell<super::loader::DataSlot>>);

impl DataAccess for SlotData {
    fn with_train(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.0.borrow().train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.0.borrow().test)
    }
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    demo::wire(app, |a| &a.bnn, show_experiment_fields)?;
    let layer = dom::by_id::<web_sys::Element>("bnn-hist-layer")?;
    let a = app.clone();
    dom::on_event(&layer, "change", move || demo::with_idle_run(&a, |a| &a.bnn));
    draw_toy();
    Ok(())
}

fn show_experiment_fields() {
    let kind = select_value("bnn-experiment");
    if let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all("#demo-bnn [data-for]")?)) {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
                el.set_hidden(el.get_attribute("data-for").as_deref() != Some(kind.as_str()));
            }
        }
    }
    dom::set_hidden("bnn-matrices", kind != "permuted");
}

/// Builds a run from the form, refusing out-of-range settings with a message.
fn new_run(app: &App) -> Result<(BnnRun, String), String> {
    let hidden: usize = number("bnn-hidden", "Hidden units")?;
    let meta: f32 = number("bnn-meta", "Metaplasticity m")?;
    let lr: f32 = number("bnn-lr", "Learning rate")?;
    let seed: u64 = number("bnn-seed", "Seed")?;
    let (backend, compute) = demo::backend(app, "bnn-backend")?;
    let make = |c, p| backend.bnn(c, p);
    let err = |e: TrainError| e.to_string();
    if select_value("bnn-experiment") == "stream" {
        let mut cfg = StreamConfig::paper(&[0.0, meta]);
        cfg.hidden = hidden;
        cfg.lr = lr;
        cfg.seed = seed;
        cfg.subsets = number("bnn-subsets", "Subsets")?;
        cfg.epochs = number("bnn-epochs", "Epochs per subset")?;
        cfg.eval_every = (cfg.total_steps() / 60).clamp(10, 500);
        return Ok((BnnRun { experiment: Experiment::Stream(StreamRun::new(cfg, make).map_err(err)?), last: None }, compute));
    }
    let mut cfg = PermutedConfig::paper(hidden, &[0.0, meta]);
    cfg.lr = lr;
    cfg.seed = seed;
    cfg.tasks = number("bnn-tasks", "Tasks")?;
    cfg.steps_per_task = Some(number("bnn-steps", "Batches per task")?);
    cfg.bn_per_task = checked("bnn-bn-per-task");
    cfg.gamma_init = if checked("bnn-gamma-uniform") { GammaInit::Uniform } else { GammaInit::One };
    cfg.test_examples = 2000;
    cfg.live_test_examples = 500;
    cfg.eval_every = (cfg.steps_per_task() / 8).clamp(5, 500);
    if checked("bnn-ewc") {
        cfg.learners.push(LearnerSpec::ewc(number("bnn-ewc-lambda", "EWC lambda")?));
    }
    Ok((BnnRun { experiment: Experiment::Permuted(PermutedRun::new(cfg, make).map_err(err)?), last: None }, compute))
}

impl DemoRun for BnnRun {
    async fn advance(&mut self, app: &Rc<App>) -> Result<bool, TrainError> {
        let progress = match &mut self.experiment {
            Experiment::Permuted(r) => r.advance(&SlotData(app.slot(DataSetId::Mnist).clone()), SLICE_STEPS).await?,
            Experiment::Stream(r) => r.advance(&SlotData(app.slot(DataSetId::Fashion).clone()), SLICE_STEPS).await?,
        };
        self.last = Some(progress);
        Ok(progress == Progress::Finished)
    }

    fn draw(&self, elapsed_ms: f64, compute: &str) -> String {
        draw(&self.experiment, self.last, elapsed_ms, compute)
    }

    async fn refresh(&mut self, _app: &Rc<App>) {
        draw_histogram(&mut self.experiment).await;
    }
}

/// Draws the charts and returns the status line.
fn draw(run: &Experiment, progress: Option<Progress>, elapsed_ms: f64, compute: &str) -> String {
    let rate = SLICE_STEPS as f64 / (elapsed_ms / 1000.0).max(1e-3);
    match run {
        Experiment::Permuted(r) => {
            let cfg = r.config();
            let records: Vec<_> = r.records().collect();
            if let Some(c) = canvas("bnn-curves") {
                let _ = canvas_chart::draw(&c, &figures::permuted_curves(&records, cfg.steps_per_task(), cfg.tasks, 760.0, 360.0));
            }
            for (id, record) in [("bnn-matrix-standard", records.first()), ("bnn-matrix-meta", records.get(1))] {
                if let (Some(c), Some(record)) = (canvas(id), record) {
                    let _ = canvas_chart::draw(&c, &figures::accuracy_matrix(record, 360.0, 300.0));
                }
            }
            let status = if r.is_finished() {
                let lines: Vec<String> = records
                    .iter()
                    .map(|rec| {
                        let last = rec.acc_matrix.last().map(|row| row[0]).unwrap_or(f32::NAN);
                        format!("{}: task 1 {:.0}%, mean {:.0}%", rec.spec.name, 100.0 * last, 100.0 * rec.final_mean_acc().unwrap_or(f32::NAN))
                    })
                    .collect();
                format!("Finished. After the last task: {}.", lines.join("; "))
            } else {
                format!(
                    "Task {} of {}, batch {} of {} · {:.0} batches/s {compute}{}",
                    r.task() + 1,
                    cfg.tasks,
                    r.step_in_task(),
                    cfg.steps_per_task(),
                    rate,
                    if progress == Some(Progress::WaitingForData) { " · waiting for MNIST to arrive" } else { "" }
                )
            };
            write_results_table(&records);
            status
        }
        Experiment::Stream(r) => {
            let cfg = r.config();
            let records: Vec<_> = r.records().collect();
            if let Some(c) = canvas("bnn-curves") {
                let _ = canvas_chart::draw(&c, &figures::stream_curves(&records, cfg.steps_per_subset(), cfg.subsets, 760.0, 360.0));
            }
            let status = if r.is_finished() {
                let lines: Vec<String> =
                    records.iter().map(|rec| format!("{} {:.1}%", rec.spec.name, 100.0 * rec.test_acc.unwrap_or(f32::NAN))).collect();
                format!("Finished. Test accuracy: {}.", lines.join("; "))
            } else {
                format!(
                    "Subset {} of {}, batch {} of {} · {:.0} batches/s {compute}{}",
                    r.subset() + 1,
                    cfg.subsets,
                    r.step(),
                    cfg.total_steps(),
                    rate,
                    if progress == Some(Progress::WaitingForData) { " · waiting for Fashion-MNIST to arrive" } else { "" }
                )
            };
            status
        }
    }
}

/// The numbers behind the charts, for reading aloud (and for the browser tests).
fn write_results_table(records: &[&crate::experiments::permuted::LearnerRecord]) {
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
    table.set_inner_html(&html);
}

/// Reads the hidden weights of the chosen layer back (from the GPU, when training there) and
/// draws one histogram per network.
async fn draw_histogram(run: &mut Experiment) {
    let layer = select_value("bnn-hist-layer").parse::<usize>().unwrap_or(1).min(2);
    let (specs, trainers): (Vec<LearnerSpec>, Vec<&mut Bnn>) = match run {
        Experiment::Permuted(r) => (r.records().map(|rec| rec.spec.clone()).collect(), r.trainers_mut().collect()),
        Experiment::Stream(r) => (r.records().map(|rec| rec.spec.clone()).collect(), r.trainers_mut().collect()),
    };
    let mut sets = Vec::new();
    for (spec, trainer) in specs.into_iter().zip(trainers) {
        if let Ok(params) = trainer.params().await {
            sets.push((spec, params.wh[layer].clone()));
        }
    }
    if let Some(c) = canvas("bnn-hist") {
        let _ = canvas_chart::draw(&c, &figures::weight_histogram(&sets, layer, 760.0, 300.0));
    }
}

fn draw_toy() {
    let cfg = ToyConfig { metas: vec![0.0, 6.0], ..ToyConfig::default() };
    if let Some(c) = canvas("bnn-toy") {
        let _ = canvas_chart::draw(&c, &figures::toy(&run_toy(&cfg), &cfg, TOY_STEPS, 760.0, 380.0));
    }
}
