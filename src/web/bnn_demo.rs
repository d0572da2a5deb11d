//! Demo 1: the binarized network, standard and metaplastic side by side, trained live.
//!
//! The run is advanced a few batches at a time between animation frames. It is taken out of the
//! demo's state while it trains, so a click (pause, reset, a changed setting) only flips flags and
//! can never meet a half-updated network; a stale run is dropped whole when it hands control back.

use super::{App, canvas_chart, dom};
use crate::backend::{Backend, Bnn};
use crate::charts::bnn as figures;
use crate::data::{DataSetId, Examples};
use crate::experiments::DataAccess;
use crate::experiments::permuted::{LearnerSpec, PermutedConfig, PermutedRun, Progress};
use crate::experiments::stream::{StreamConfig, StreamRun};
use crate::experiments::toy::{ToyConfig, run_toy};
use crate::model::TrainError;
use crate::model::bnn::BnnTrainer;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlInputElement, HtmlSelectElement};

/// Batches per slice of work between two frames: enough to keep the GPU busy, few enough that the
/// page stays responsive.
const SLICE_STEPS: usize = 10;
/// Weight histograms need a readback of every hidden weight: not on every frame.
const HISTOGRAM_EVERY_MS: f64 = 2500.0;
/// The toy picture shows the first steps, before the growing weight leaves the frame.
const TOY_STEPS: usize = 30;

enum Run {
    Permuted(PermutedRun<Bnn>),
    Stream(StreamRun<Bnn>),
}

#[derive(Default)]
struct State {
    run: Option<Run>,
    running: bool,
    /// Bumped by Reset and by changed settings: a run from an older generation is dropped.
    generation: u32,
    looping: bool,
    last_histogram: f64,
    /// Where the current run trains, for the status line.
    compute: String,
}

pub struct BnnDemo {
    state: RefCell<State>,
}

/// The browser's data as the experiments see it: borrowed only inside each call.
struct SlotData(Rc<RefCell<super::loader::DataSlot>>);

impl DataAccess for SlotData {
    fn with_train(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.0.borrow().train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.0.borrow().test)
    }
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    let run = dom::by_id::<web_sys::Element>("bnn-run")?;
    let a = app.clone();
    dom::on_click(&run, move || toggle_run(&a));
    let step = dom::by_id::<web_sys::Element>("bnn-step")?;
    let a = app.clone();
    dom::on_click(&step, move || step_once(&a));
    let reset = dom::by_id::<web_sys::Element>("bnn-reset")?;
    let a = app.clone();
    dom::on_click(&reset, move || {
        discard(&a, "Reset. Press Run to start again.");
    });
    // Any changed setting makes the current run stale: the next Run starts afresh with it.
    let form = dom::by_id::<web_sys::Element>("bnn-controls")?;
    let a = app.clone();
    dom::on_event(&form, "change", move || {
        show_experiment_fields();
        if a.bnn.state.borrow().run.is_some() {
            discard(&a, "Settings changed: the next Run starts a new run with them.");
        }
    });
    let layer = dom::by_id::<web_sys::Element>("bnn-hist-layer")?;
    let a = app.clone();
    dom::on_event(&layer, "change", move || redraw_histogram_now(&a));
    show_experiment_fields();
    draw_toy();
    Ok(())
}

/// While training, the next refresh picks the new layer up; while paused, redraw at once.
fn redraw_histogram_now(app: &Rc<App>) {
    let (generation, run) = {
        let mut s = app.bnn.state.borrow_mut();
        if s.looping {
            s.last_histogram = 0.0;
            return;
        }
        (s.generation, s.run.take())
    };
    let Some(mut run) = run else { return };
    let app = app.clone();
    app.bnn.state.borrow_mut().looping = true;
    wasm_bindgen_futures::spawn_local(async move {
        draw_histogram(&mut run).await;
        let resume = {
            let mut s = app.bnn.state.borrow_mut();
            s.looping = false;
            if s.generation == generation {
                s.run = Some(run);
            }
            s.running
        };
        // Run was pressed while the histogram was being read: start the loop it could not.
        if resume {
            start_loop(&app, false);
        }
    });
}

impl BnnDemo {
    pub fn new() -> Self {
        Self { state: RefCell::new(State::default()) }
    }
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

fn select_value(id: &str) -> String {
    dom::by_id::<HtmlSelectElement>(id).map(|s| s.value()).unwrap_or_default()
}

fn number<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, String> {
    let raw = dom::by_id::<HtmlInputElement>(id).map(|i| i.value()).map_err(|e| e.to_string())?;
    raw.trim().parse().map_err(|_| format!("{what}: '{raw}' is not a valid number"))
}

fn checked(id: &str) -> bool {
    dom::by_id::<HtmlInputElement>(id).is_ok_and(|i| i.checked())
}

/// The backend the form asks for. "auto" takes WebGPU on a hardware adapter; a software adapter
/// (SwiftShader, llvmpipe) computes correctly but far slower than the CPU path, so auto skips it.
fn backend(app: &App) -> Result<Backend, String> {
    let gpu = app.gpu.borrow().as_ref().filter(|ctx| ctx.check_alive().is_ok()).cloned();
    match (select_value("bnn-backend").as_str(), gpu) {
        ("cpu", _) => Ok(Backend::Cpu),
        ("webgpu", Some(ctx)) => Ok(Backend::Gpu(ctx)),
        ("webgpu", None) => Err("WebGPU is not available here (see the line at the top of the page); choose CPU or auto".into()),
        (_, Some(ctx)) if ctx.adapter.device_type != "Cpu" => Ok(Backend::Gpu(ctx)),
        _ => Ok(Backend::Cpu),
    }
}

/// Builds a run from the form, refusing out-of-range settings with a message.
fn new_run(app: &App) -> Result<(Run, String), String> {
    let hidden: usize = number("bnn-hidden", "Hidden units")?;
    let meta: f32 = number("bnn-meta", "Metaplasticity m")?;
    let lr: f32 = number("bnn-lr", "Learning rate")?;
    let seed: u64 = number("bnn-seed", "Seed")?;
    let backend = backend(app)?;
    let compute = match &backend {
        Backend::Cpu => "on the CPU".to_string(),
        Backend::Gpu(_) => "on WebGPU".to_string(),
    };
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
        return Ok((Run::Stream(StreamRun::new(cfg, make).map_err(err)?), compute));
    }
    let mut cfg = PermutedConfig::paper(hidden, &[0.0, meta]);
    cfg.lr = lr;
    cfg.seed = seed;
    cfg.tasks = number("bnn-tasks", "Tasks")?;
    cfg.steps_per_task = Some(number("bnn-steps", "Batches per task")?);
    cfg.bn_per_task = checked("bnn-bn-per-task");
    cfg.test_examples = 2000;
    cfg.live_test_examples = 500;
    cfg.eval_every = (cfg.steps_per_task() / 8).clamp(5, 500);
    if checked("bnn-ewc") {
        cfg.learners.push(LearnerSpec::ewc(number("bnn-ewc-lambda", "EWC lambda")?));
    }
    Ok((Run::Permuted(PermutedRun::new(cfg, make).map_err(err)?), compute))
}

fn toggle_run(app: &Rc<App>) {
    let running = app.bnn.state.borrow().running;
    if running {
        app.bnn.state.borrow_mut().running = false;
        set_buttons(false);
        dom::set_text("bnn-status", "Paused. Run continues; Step trains a few batches.");
        return;
    }
    if !ensure_run(app) {
        return;
    }
    app.bnn.state.borrow_mut().running = true;
    set_buttons(true);
    start_loop(app, false);
}

fn step_once(app: &Rc<App>) {
    if app.bnn.state.borrow().running || !ensure_run(app) {
        return;
    }
    start_loop(app, true);
}

/// Makes a run if there is none; `false` (with the reason shown) when the settings are refused.
fn ensure_run(app: &Rc<App>) -> bool {
    if app.bnn.state.borrow().run.is_some() || app.bnn.state.borrow().looping {
        return true;
    }
    match new_run(app) {
        Ok((run, compute)) => {
            dom::set_hidden("bnn-error", true);
            let mut s = app.bnn.state.borrow_mut();
            s.run = Some(run);
            s.compute = compute;
            true
        }
        Err(message) => {
            show_error(&message);
            false
        }
    }
}

fn discard(app: &Rc<App>, status: &str) {
    {
        let mut s = app.bnn.state.borrow_mut();
        s.generation += 1;
        s.running = false;
        s.run = None;
    }
    set_buttons(false);
    dom::set_hidden("bnn-error", true);
    dom::set_text("bnn-status", status);
}

fn set_buttons(running: bool) {
    dom::set_text("bnn-run", if running { "Pause" } else { "Run" });
    if let Ok(b) = dom::by_id::<web_sys::HtmlButtonElement>("bnn-step") {
        b.set_disabled(running);
    }
}

fn show_error(message: &str) {
    dom::set_text("bnn-error", message);
    dom::set_hidden("bnn-error", false);
}

fn start_loop(app: &Rc<App>, single: bool) {
    if app.bnn.state.borrow().looping {
        return;
    }
    app.bnn.state.borrow_mut().looping = true;
    let app = app.clone();
    wasm_bindgen_futures::spawn_local(async move {
        train_loop(&app, single).await;
        app.bnn.state.borrow_mut().looping = false;
    });
}

async fn train_loop(app: &Rc<App>, single: bool) {
    loop {
        let (generation, run) = {
            let mut s = app.bnn.state.borrow_mut();
            // Paused while the browser had its turn: train no further slice.
            if !single && !s.running {
                return;
            }
            (s.generation, s.run.take())
        };
        let Some(mut run) = run else { return };
        let started = dom::now();
        let result = advance(app, &mut run).await;
        let elapsed = dom::now() - started;
        let mut s = app.bnn.state.borrow_mut();
        if s.generation != generation {
            return; // reset or settings changed meanwhile: this run is dropped whole
        }
        let finished = match &result {
            Ok(Progress::Finished) => true,
            Ok(_) => false,
            Err(e) => {
                s.running = false;
                drop(s);
                set_buttons(false);
                report_error(app, e);
                app.bnn.state.borrow_mut().run = Some(run);
                return;
            }
        };
        let histogram_due = dom::now() - s.last_histogram > HISTOGRAM_EVERY_MS || finished || single;
        if histogram_due {
            s.last_histogram = dom::now();
        }
        let keep_going = s.running && !finished && !single;
        if finished {
            s.running = false;
        }
        drop(s);
        let compute = app.bnn.state.borrow().compute.clone();
        let status = draw(&run, result.as_ref().ok().copied(), elapsed, &compute);
        // Pause pressed during this slice: say so, with where the run stands.
        let paused = !finished && !single && !app.bnn.state.borrow().running;
        dom::set_text("bnn-status", &if paused { format!("Paused. {status}") } else { status });
        if histogram_due {
            draw_histogram(&mut run).await;
        }
        if app.bnn.state.borrow().generation == generation {
            app.bnn.state.borrow_mut().run = Some(run);
        }
        if finished {
            set_buttons(false);
        }
        if !keep_going {
            return;
        }
        dom::yield_to_browser().await;
    }
}

async fn advance(app: &Rc<App>, run: &mut Run) -> Result<Progress, TrainError> {
    match run {
        Run::Permuted(r) => r.advance(&SlotData(app.slot(DataSetId::Mnist).clone()), SLICE_STEPS).await,
        Run::Stream(r) => r.advance(&SlotData(app.slot(DataSetId::Fashion).clone()), SLICE_STEPS).await,
    }
}

/// A lost GPU or a diverged run stops training with a message; the charts so far stay.
fn report_error(app: &Rc<App>, e: &TrainError) {
    let message = match e {
        TrainError::Gpu(g) => {
            *app.gpu.borrow_mut() = None;
            dom::set_text("backend", "CPU: the GPU device was lost");
            dom::set_attr("backend", "data-backend", "cpu");
            format!("{g}. The charts so far are kept; press Reset, then Run, to continue on the CPU.")
        }
        other => format!("{other}. The charts so far are kept."),
    };
    show_error(&message);
    dom::set_text("bnn-status", "Stopped.");
}

fn canvas(id: &str) -> Option<HtmlCanvasElement> {
    dom::by_id::<HtmlCanvasElement>(id).ok()
}

/// Draws the charts and returns the status line.
fn draw(run: &Run, progress: Option<Progress>, elapsed_ms: f64, compute: &str) -> String {
    let rate = SLICE_STEPS as f64 / (elapsed_ms / 1000.0).max(1e-3);
    match run {
        Run::Permuted(r) => {
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
        Run::Stream(r) => {
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
async fn draw_histogram(run: &mut Run) {
    let layer = select_value("bnn-hist-layer").parse::<usize>().unwrap_or(1).min(2);
    let (specs, trainers): (Vec<LearnerSpec>, Vec<&mut Bnn>) = match run {
        Run::Permuted(r) => (r.records().map(|rec| rec.spec.clone()).collect(), r.trainers_mut().collect()),
        Run::Stream(r) => (r.records().map(|rec| rec.spec.clone()).collect(), r.trainers_mut().collect()),
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
