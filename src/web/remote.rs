//! The page's side of a comparison trained in workers, the same for every demo of
//! [`crate::demos::REGISTRY`]: one dedicated worker per network, all fed the same settings and
//! seed (hence the same initial weights and batch order), the data set's bytes handed to each
//! once. The page only draws: a report merges into the demo's board as it arrives (only what is
//! new), the board's paints are applied at the next animation frame, and Run / Pause / Step /
//! Reset are messages (or, for Reset and a changed setting, the workers' termination), so each
//! acts within a frame.

use super::protocol::{self, Outgoing};
use super::{App, dom, exports, form};
use crate::data::{DataSetId, IdxKind};
use crate::demos::messages::{Compute, Control, FromWorker, Init, Part, Progress, ToWorker};
use crate::demos::{Board, Controls, Demo, DemoError, Paint, Plan, Standing};
use crate::experiments::summary::metrics_csv;
use crate::settings::{Refused, Values};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// Loads the worker binary (`static/training_worker.js`, copied into dist/ by trunk).
pub(super) const WORKER_SCRIPT: &str = "./training_worker.js";
/// Steps a Step press trains.
pub const STEP_STEPS: usize = 10;
/// Bytes copied out of the page's memory per task when the data goes to a worker: small enough
/// that one copy stays far below a frame, even with both cores busy training.
const PIECE_BYTES: usize = 2 << 20;

/// A demo of the page, by its index in the registry (and in `App::demos`).
pub type Pick = usize;

/// A message waiting for its worker to be up.
enum Queued {
    Message(ToWorker),
    /// The data set's bytes, copied out only when they can be sent, a piece per task.
    Data(DataSetId),
}

struct Slot {
    worker: Worker,
    ready: bool,
    /// Messages wait here until the worker's module is up: a worker drops what arrives earlier.
    queue: Vec<Queued>,
    handlers: Option<(Closure<dyn FnMut(MessageEvent)>, Closure<dyn FnMut(ErrorEvent)>)>,
}

impl Drop for Slot {
    /// A message the worker posted before it was stopped may already wait in the page's event
    /// queue: the handlers are unhooked first, so it finds none, and the closures are freed after
    /// the current task, since a slot can be dropped from inside its own handler (an error that
    /// stops the run).
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
        if let Some(handlers) = self.handlers.take() {
            wasm_bindgen_futures::spawn_local(async move { drop(handlers) });
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Charts,
    Pictures,
}

struct Active {
    slots: Vec<Slot>,
    names: Vec<String>,
    board: Box<dyn Board>,
    /// "on the CPU", "on WebGPU".
    compute: String,
    standing: Standing,
    pictures: Vec<Option<Vec<f32>>>,
    charts_dirty: bool,
    pictures_dirty: bool,
    /// The drawing pass in progress, and its next part.
    pass: Option<(Pass, usize)>,
    /// The run's own time, for its rate.
    clock: Clock,
    /// What one training step learns from, `(count, unit)`.
    per_step: (usize, &'static str),
    stopped: bool,
    backend: Compute,
    /// The data set the networks learn from.
    data: Option<DataSetId>,
    /// Whether its networks classify images, and their latest answers about the drawing pad's
    /// drawing (class probabilities).
    classifies: bool,
    predictions: Vec<Option<Vec<f32>>>,
    /// When the workers were started and when the last learner finished (`dom::now`).
    started: f64,
    ended: Option<f64>,
}

impl Active {
    fn send(&mut self, i: usize, message: ToWorker) {
        let slot = &mut self.slots[i];
        if !slot.ready {
            slot.queue.push(Queued::Message(message));
            return;
        }
        self.post(i, Outgoing::plain(message));
    }

    fn post(&mut self, i: usize, out: Outgoing<ToWorker>) {
        if let Err(e) = protocol::to_worker(&self.slots[i].worker, &out) {
            log::error!("could not message a worker: {e}");
        }
    }

    fn send_all(&mut self, control: Control) {
        for i in 0..self.slots.len() {
            self.send(i, ToWorker::Control(control.clone()));
        }
    }

    fn finished(&self) -> bool {
        self.standing.all_finished()
    }

    fn terminate(&mut self) {
        for slot in &self.slots {
            slot.worker.terminate();
        }
    }

    /// The status line's rate: steps every network has completed over the time the run has run,
    /// evaluations included and pauses left out, in batches and in examples per second.
    fn rate_text(&self, now: f64) -> String {
        let Some((steps, seconds)) = self.clock.run(now) else { return "measuring speed".into() };
        let rate = steps as f64 / seconds;
        let (per_step, unit) = self.per_step;
        let examples = dom::grouped((rate * per_step as f64).round() as usize);
        let batches = if rate >= 10.0 {
            format!("{rate:.0} batches/s")
        } else if rate >= 1.0 {
            format!("{rate:.1} batches/s")
        } else {
            format!("{:.1} s per batch", 1.0 / rate)
        };
        format!("{batches} ({examples} {unit}/s) over the run")
    }
}

/// The run's own clock: steps every network has completed against the time the run has been
/// running (from Run to Pause, and again), so the rate covers everything a step costs, evaluations
/// included, and never a recent burst. Steps taken by Step presses are left out of both.
#[derive(Debug, Default)]
struct Clock {
    /// Time and steps of the intervals already ended.
    banked_ms: f64,
    banked_steps: usize,
    /// The interval running now: when it began and the steps done then.
    since: Option<(f64, usize)>,
    /// Steps every network has completed, as last reported.
    done: usize,
}

impl Clock {
    fn resume(&mut self, now: f64) {
        if self.since.is_none() {
            self.since = Some((now, self.done));
        }
    }

    fn pause(&mut self, now: f64) {
        if let Some((t, steps)) = self.since.take() {
            self.banked_ms += now - t;
            self.banked_steps += self.done - steps;
        }
    }

    /// `(steps, seconds)` of running so far, once there is a second and a step to go by.
    fn run(&self, now: f64) -> Option<(usize, f64)> {
        let (ms, steps) = match self.since {
            Some((t, s)) => (self.banked_ms + now - t, self.banked_steps + self.done - s),
            None => (self.banked_ms, self.banked_steps),
        };
        (ms >= 1000.0 && steps >= 1).then_some((steps, ms / 1000.0))
    }
}

struct State {
    active: Option<Active>,
    running: bool,
    /// Bumped by Reset, a changed setting and every new run: messages of older workers are ignored.
    generation: u32,
    frame_pending: bool,
    /// Pause was pressed (a finished Step is not "paused", it just stopped).
    paused: bool,
    /// Run or Step was pressed while the data set was still loading: the workers start when it is in.
    waiting: bool,
    /// The status of the last frame, kept so that Pause can say where the run stands.
    last_status: String,
}

/// One demo on the page: its registry entry, its settings and its run.
pub struct RemoteDemo {
    pub demo: &'static dyn Demo,
    /// Its element ids are `<prefix>-run`, `-step`, `-reset`, `-status`, `-error`, `-controls`,
    /// `-fields`, `-exports`; its section is `demo-<name>`.
    prefix: &'static str,
    /// The settings last read from the form (or a link): always allowed values.
    pub values: RefCell<Values>,
    state: RefCell<State>,
}

impl RemoteDemo {
    pub fn new(demo: &'static dyn Demo) -> Self {
        let decl = demo.decl();
        Self {
            demo,
            prefix: decl.prefix,
            values: RefCell::new(decl.defaults()),
            state: RefCell::new(State { active: None, running: false, generation: 0, frame_pending: false, paused: false, waiting: false, last_status: String::new() }),
        }
    }

    pub fn name(&self) -> &'static str {
        self.demo.decl().name
    }

    fn id(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// Reads the form through the declaration; on success the values are kept, on refusal
    /// nothing changes and the message says which setting and what is allowed.
    fn read_form(&self) -> Result<Values, Refused> {
        let mut values = self.values.borrow().clone();
        values.check_all(form::raw(self.demo.decl()))?;
        *self.values.borrow_mut() = values.clone();
        Ok(values)
    }

    /// The demo's view controls as they stand.
    fn controls(&self) -> Controls {
        self.demo
            .controls()
            .iter()
            .map(|&id| {
                let value = dom::by_id::<web_sys::Element>(id).ok().and_then(|el| js_sys::Reflect::get(&el, &"value".into()).ok()).and_then(|v| v.as_string());
                (id, value.unwrap_or_default())
            })
            .collect()
    }

    /// Asks the workers for fresh pictures (another histogram layer, a slider moved).
    fn request_pictures(&self) {
        let controls = self.controls();
        let mut s = self.state.borrow_mut();
        if let Some(active) = s.active.as_mut() {
            let detail = active.board.picture_detail(&controls);
            active.send_all(Control::Pictures { detail });
        }
    }

    /// Applies what the demo asks of the page.
    fn paint(&self, paints: Vec<Paint>) {
        for p in paints {
            match p {
                Paint::Chart { canvas, figure, series } => {
                    if let Some(series) = series {
                        dom::set_series(&canvas, &series);
                    }
                    if let Ok(c) = dom::by_id::<web_sys::HtmlCanvasElement>(&canvas) {
                        let _ = exports::draw_chart(&c, figure);
                    }
                }
                Paint::Html { id, html } => {
                    if let Ok(el) = dom::by_id::<web_sys::Element>(&id) {
                        dom::set_html(&el, &html);
                    }
                }
                Paint::Hidden { id, hidden } => dom::set_hidden(&id, hidden),
                Paint::Attr { id, name, value } => dom::set_attr(&id, &name, &value),
                Paint::ShowFor { shown } => {
                    let selector = format!("#demo-{} [data-for]", self.name());
                    if let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all(&selector)?)) {
                        for i in 0..list.length() {
                            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
                                el.set_hidden(el.get_attribute("data-for").as_deref() != Some(shown.as_str()));
                            }
                        }
                    }
                    exports::describe_charts();
                }
            }
        }
    }
}

/// Builds the form from the declaration (showing the demo's current values), wires the buttons,
/// the form and the view controls; the demo's own paints follow every accepted change of the form,
/// then the current run is dropped.
pub fn wire(app: &Rc<App>, pick: Pick) -> Result<(), dom::WebError> {
    let d = &app.demos[pick];
    form::build(&d.values.borrow())?;
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("run"))?, move || toggle_run(&a, pick));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("step"))?, move || step_once(&a, pick));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("reset"))?, move || reset(&a, pick));
    let a = app.clone();
    dom::on_event(&dom::by_id(&d.id("controls"))?, "change", move || {
        let d = &a.demos[pick];
        form::show_applicable(d.demo.decl());
        let checked = d.read_form();
        let started = d.state.borrow().active.is_some() || d.state.borrow().waiting;
        if started {
            discard(&a, pick, "Settings changed: the next Run starts a new run with them.");
        }
        match checked {
            Ok(values) => {
                dom::set_hidden(&d.id("error"), true);
                a.write_url();
                d.paint(d.demo.on_settings(&values));
            }
            Err(refused) => show_error(d, &refused.to_string()),
        }
    });
    for &id in d.demo.controls() {
        let a = app.clone();
        dom::on_event(&dom::by_id::<web_sys::Element>(id)?, "input", move || {
            let d = &a.demos[pick];
            d.paint(d.demo.on_control(&d.controls()));
            d.request_pictures();
        });
    }
    wire_exports(app, pick)?;
    wire_settings_toggle(d)?;
    d.paint(d.demo.on_settings(&d.values.borrow()));
    d.paint(d.demo.on_control(&d.controls()));
    Ok(())
}

/// In presenter mode a demo's settings are folded away behind this button (CSS shows it only then).
fn wire_settings_toggle(d: &RemoteDemo) -> Result<(), dom::WebError> {
    let form: web_sys::Element = dom::by_id(&d.id("controls"))?;
    let button = dom::document()?.create_element("button")?;
    button.set_attribute("type", "button")?;
    button.set_attribute("class", "settings-toggle")?;
    button.set_attribute("id", &d.id("settings-toggle"))?;
    button.set_attribute("aria-expanded", "false")?;
    button.set_attribute("aria-controls", &d.id("fields"))?;
    button.set_text_content(Some("Settings"));
    form.insert_before(&button, form.first_child().as_ref())?;
    let (f, b) = (form.clone(), button.clone());
    dom::on_click(&button, move || {
        let open = f.class_list().toggle("open").unwrap_or(false);
        let _ = b.set_attribute("aria-expanded", if open { "true" } else { "false" });
    });
    Ok(())
}

/// The demo's two downloads, `summary.json` and `metrics.csv`, in `#<prefix>-exports`.
fn wire_exports(app: &Rc<App>, pick: Pick) -> Result<(), dom::WebError> {
    let d = &app.demos[pick];
    let container: web_sys::Element = dom::by_id(&d.id("exports"))?;
    container.set_inner_html(&format!(
        "<span class=\"exports-label\">This run:</span>\
         <button type=\"button\" id=\"{p}-summary\" disabled title=\"The configuration and results in the shape the command-line tool writes\">summary.json</button>\
         <button type=\"button\" id=\"{p}-csv\" disabled title=\"Every curve point and final metric, one row each\">metrics.csv</button>",
        p = d.prefix
    ));
    for csv in [false, true] {
        let a = app.clone();
        let id = d.id(if csv { "csv" } else { "summary" });
        dom::on_click(&dom::by_id(&id)?, move || {
            let d = &a.demos[pick];
            let s = d.state.borrow();
            let Some(active) = s.active.as_ref() else { return };
            let Some(mut summary) = active.board.summary(backend_label(active.backend)) else { return };
            summary.elapsed = (active.ended.unwrap_or_else(dom::now) - active.started) / 1000.0;
            let name = summary.experiment.clone();
            let saved = if csv {
                exports::download_text(&format!("{name}-metrics.csv"), "text/csv", &metrics_csv(&summary))
            } else {
                // On a class seat's page, with the seat's code (`src/web/class.rs`).
                let json = super::class::stamp(summary.to_json());
                exports::download_text(&format!("{name}-summary.json"), "application/json", &serde_json::to_string_pretty(&json).unwrap_or_default())
            };
            drop(s);
            if let Err(e) = saved {
                show_error(d, &format!("The download failed: {}", dom::describe(&e)));
            }
        });
    }
    Ok(())
}

/// The backend as `summary.json` names it.
fn backend_label(compute: Compute) -> &'static str {
    match compute {
        Compute::Cpu => "cpu (browser, wasm)",
        Compute::WebGpu => "webgpu (browser)",
    }
}

fn set_exports(d: &RemoteDemo, enabled: bool) {
    for name in ["summary", "csv"] {
        if let Ok(b) = dom::by_id::<web_sys::HtmlButtonElement>(&d.id(name)) {
            if b.disabled() == enabled {
                b.set_disabled(!enabled);
            }
        }
    }
}

/// A button of a demo, pressed from elsewhere: `run=<demo>` in the URL on load, or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    RunPause,
    Step,
    Reset,
}

pub fn press(app: &Rc<App>, pick: Pick, what: Press) {
    match what {
        Press::RunPause => toggle_run(app, pick),
        Press::Step => step_once(app, pick),
        Press::Reset => reset(app, pick),
    }
}

fn reset(app: &Rc<App>, pick: Pick) {
    discard(app, pick, "Reset. Press Run to start again.");
    // A reset run is not what a copied link should start.
    if app.marked_run() == Some(app.demos[pick].name()) {
        app.mark_run(None);
    }
}

fn toggle_run(app: &Rc<App>, pick: Pick) {
    let d = &app.demos[pick];
    // A finished run stays on screen; Reset or a changed setting starts another.
    if d.state.borrow().active.as_ref().is_some_and(Active::finished) {
        return;
    }
    if d.state.borrow().running {
        {
            let mut s = d.state.borrow_mut();
            s.running = false;
            s.paused = true;
            if let Some(active) = s.active.as_mut() {
                active.send_all(Control::Pause);
                active.clock.pause(dom::now());
            }
        }
        set_buttons(d, false);
        let last = d.state.borrow().last_status.clone();
        dom::set_text(&d.id("status"), super::lesson::state_line(&format!("Paused. {last}")));
        return;
    }
    if !ensure_run(app, pick) {
        return;
    }
    app.mark_run(Some(d.name()));
    let mut s = d.state.borrow_mut();
    s.running = true;
    s.paused = false;
    if let Some(active) = s.active.as_mut() {
        active.send_all(Control::Run);
        active.clock.resume(dom::now());
    }
    drop(s);
    set_buttons(d, true);
}

fn step_once(app: &Rc<App>, pick: Pick) {
    let d = &app.demos[pick];
    let finished = d.state.borrow().active.as_ref().is_some_and(Active::finished);
    if finished || d.state.borrow().running || !ensure_run(app, pick) {
        return;
    }
    if let Some(active) = d.state.borrow_mut().active.as_mut() {
        active.send_all(Control::Step { steps: STEP_STEPS });
    }
}

fn discard(app: &Rc<App>, pick: Pick, status: &str) {
    let d = &app.demos[pick];
    {
        let mut s = d.state.borrow_mut();
        s.generation += 1;
        s.running = false;
        s.paused = false;
        s.waiting = false;
        if let Some(mut active) = s.active.take() {
            active.terminate();
        }
    }
    set_buttons(d, false);
    set_exports(d, false);
    dom::set_hidden(&d.id("error"), true);
    dom::set_text(&d.id("status"), status);
}

/// Where a run trains: decided by its `compute` setting, or, for "auto" with a GPU at hand, by
/// timing its network on both.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Choice {
    Fixed(Compute),
    Measure,
}

/// The backend a demo's `compute` setting asks for. "auto" with a WebGPU adapter is decided by
/// measuring (a software adapter computes correctly and may be faster or slower than the CPU
/// path; a hardware one need not be faster either, for a small network).
fn backend(app: &App, compute: &str) -> Result<Choice, NotStarted> {
    let gpu = app.gpu.borrow().as_ref().is_some_and(|ctx| ctx.check_alive().is_ok());
    Ok(match (compute, gpu) {
        ("cpu", _) => Choice::Fixed(Compute::Cpu),
        ("webgpu", true) => Choice::Fixed(Compute::WebGpu),
        ("webgpu", false) => return Err(NotStarted::NoWebGpu),
        (_, true) => Choice::Measure,
        (_, false) => Choice::Fixed(Compute::Cpu),
    })
}

fn where_it_trains(compute: Compute) -> &'static str {
    match compute {
        Compute::Cpu => "on the CPU",
        Compute::WebGpu => "on WebGPU",
    }
}

/// Each probe times its backend for this long after a warm-up step.
const PROBE_MS: f64 = 1000.0;

thread_local! {
    /// What "auto" measured while the page is open, by network: (CPU, WebGPU) examples per second.
    static MEASURED: RefCell<std::collections::HashMap<String, (f64, f64)>> = RefCell::new(std::collections::HashMap::new());
}

/// Times the network of `start` on one backend in a worker of its own: examples per second.
async fn probe(demo: &str, start: &Start, compute: Compute) -> Result<f64, String> {
    let worker = Worker::new(WORKER_SCRIPT).map_err(|e| dom::describe(&e))?;
    let (tx, rx) = futures_channel::oneshot::channel::<Result<f64, String>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let out = Outgoing::plain(ToWorker::Probe { demo: demo.into(), settings: start.settings.clone(), backend: compute, millis: PROBE_MS });
    let (w, t) = (worker.clone(), tx.clone());
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let answer = match protocol::read::<FromWorker>(&event.data()).map(|(m, _)| m) {
            Ok(FromWorker::Ready) => protocol::to_worker(&w, &out).err().map(|e| Err(e.to_string())),
            Ok(FromWorker::Probed { examples_per_s }) => Some(Ok(examples_per_s)),
            Ok(FromWorker::Failed { message, .. }) => Some(Err(message)),
            Ok(_) => None,
            Err(e) => Some(Err(e.to_string())),
        };
        if let Some(answer) = answer
            && let Some(tx) = t.borrow_mut().take()
        {
            let _ = tx.send(answer);
        }
    });
    let t = tx.clone();
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        event.prevent_default();
        if let Some(tx) = t.borrow_mut().take() {
            let _ = tx.send(Err(format!("its worker crashed ({})", event.message())));
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let answer = rx.await.unwrap_or_else(|_| Err("its worker stopped".into()));
    worker.set_onmessage(None);
    worker.set_onerror(None);
    worker.terminate();
    drop((on_message, on_error));
    answer
}

/// "auto": the faster of the CPU path and WebGPU for this run's network, timed once per network
/// while the page is open (the CPU first, then WebGPU, so they never share the machine), and both
/// figures said on the backend line.
async fn measure(app: &App, pick: Pick, start: &Start) -> Compute {
    let d = &app.demos[pick];
    let key = start.network.clone();
    let measured = match MEASURED.with(|m| m.borrow().get(&key).copied()) {
        Some(both) => Ok(both),
        None => {
            dom::set_text(&d.id("status"), "Timing this network on the CPU and on WebGPU to choose where it trains (a few seconds)…");
            let cpu = probe(d.name(), start, Compute::Cpu).await;
            let gpu = probe(d.name(), start, Compute::WebGpu).await;
            match (cpu, gpu) {
                (Ok(cpu), Ok(gpu)) => {
                    MEASURED.with(|m| m.borrow_mut().insert(key, (cpu, gpu)));
                    Ok((cpu, gpu))
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        }
    };
    let unit = start.plan.per_step.1;
    let adapter = dom::by_id::<web_sys::Element>("backend").ok().and_then(|b| b.get_attribute("data-adapter")).unwrap_or_default();
    match measured {
        Ok((cpu, gpu)) => {
            let chosen = if gpu > cpu { Compute::WebGpu } else { Compute::Cpu };
            let rate = |x: f64| dom::grouped(x.round() as usize);
            let line = format!(
                "{adapter} · demo {}: WebGPU {} {unit}/s, CPU {} {unit}/s: training {}",
                pick + 1,
                rate(gpu),
                rate(cpu),
                where_it_trains(chosen)
            );
            dom::set_text("backend", &line);
            chosen
        }
        Err(e) => {
            log::warn!("auto could not time WebGPU ({e}); training on the CPU");
            dom::set_text("backend", &format!("{adapter} · demo {}: WebGPU could not be timed ({e}): training on the CPU", pick + 1));
            Compute::Cpu
        }
    }
}

/// Why Run or Step did not start a run (said in the demo's error line).
#[derive(Debug, thiserror::Error)]
enum NotStarted {
    #[error(transparent)]
    Settings(#[from] Refused),
    #[error("WebGPU is not available here (see the line at the top of the page); choose CPU or auto")]
    NoWebGpu,
    /// The demo refuses the combination of settings.
    #[error(transparent)]
    Plan(#[from] DemoError),
}

/// A run as the page starts it: the demo's plan and where it trains.
struct Start {
    plan: Plan,
    settings: String,
    choice: Choice,
    /// The network a worker trains, as "auto" remembers its timing.
    network: String,
}

/// Starts the workers if there is no run; `false` (with the reason shown) when the settings are
/// refused or the data set has not arrived yet.
fn ensure_run(app: &Rc<App>, pick: Pick) -> bool {
    let d = &app.demos[pick];
    {
        let s = d.state.borrow();
        if s.waiting || s.active.as_ref().is_some_and(|a| !a.stopped) {
            return true;
        }
    }
    let start = d.read_form().map_err(NotStarted::from).and_then(|values| {
        let choice = backend(app, values.compute())?;
        let plan = d.demo.plan(&values)?;
        let network = d.demo.network(&values)?.key();
        Ok(Start { plan, settings: values.to_plain_query(), choice, network })
    });
    let start = match start {
        Ok(start) => start,
        Err(why) => {
            show_error(d, &why.to_string());
            return false;
        }
    };
    dom::set_hidden(&d.id("error"), true);
    let generation = {
        let mut s = d.state.borrow_mut();
        s.generation += 1;
        if let Some(mut old) = s.active.take() {
            old.terminate();
        }
        s.generation
    };
    // Every worker must see the same examples in the same order, so they start on the whole set;
    // and "auto" times the network on both backends first.
    let loading = start.plan.data.iter().copied().find(|&set| !app.slot(set).borrow().is_done());
    if loading.is_some() || start.choice == Choice::Measure {
        d.state.borrow_mut().waiting = true;
        if let Some(set) = loading {
            dom::set_text(&d.id("status"), &format!("Waiting for {} to finish loading; training starts when it has.", set.title()));
        }
        let a = app.clone();
        wasm_bindgen_futures::spawn_local(async move { start_when_ready(&a, pick, start, generation).await });
        return true;
    }
    launch(app, pick, start, generation)
}

async fn start_when_ready(app: &Rc<App>, pick: Pick, mut start: Start, generation: u32) {
    let gone = || app.demos[pick].state.borrow().generation != generation;
    while start.plan.data.iter().any(|&set| !app.slot(set).borrow().is_done()) {
        dom::sleep_ms(250).await;
        if gone() {
            return;
        }
    }
    if start.choice == Choice::Measure {
        start.choice = Choice::Fixed(measure(app, pick, &start).await);
        if gone() {
            return;
        }
    }
    let d = &app.demos[pick];
    d.state.borrow_mut().waiting = false;
    if launch(app, pick, start, generation) {
        let mut s = d.state.borrow_mut();
        let (running, paused) = (s.running, s.paused);
        if let Some(active) = s.active.as_mut() {
            if running {
                active.send_all(Control::Run);
                active.clock.resume(dom::now());
            } else if !paused {
                active.send_all(Control::Step { steps: STEP_STEPS });
            }
        }
    }
}

fn launch(app: &Rc<App>, pick: Pick, start: Start, generation: u32) -> bool {
    let d = &app.demos[pick];
    match spawn(app, pick, start, generation) {
        Ok(active) => {
            let mut s = d.state.borrow_mut();
            s.last_status = format!("Starting {} workers…", active.slots.len());
            s.active = Some(active);
            true
        }
        Err(e) => {
            show_error(d, &format!("The training workers could not start: {e}"));
            false
        }
    }
}

fn spawn(app: &Rc<App>, pick: Pick, start: Start, generation: u32) -> Result<Active, dom::WebError> {
    let Start { plan, settings, choice, .. } = start;
    // A measured choice is made before the run is spawned.
    let backend = match choice {
        Choice::Fixed(c) => c,
        Choice::Measure => Compute::Cpu,
    };
    let compute = where_it_trains(backend);
    let mut slots = Vec::new();
    for i in 0..plan.learners.len() {
        let worker = Worker::new(WORKER_SCRIPT)?;
        let a = app.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| on_message(&a, pick, generation, i, &event));
        let a = app.clone();
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            // The default would only log it; the page says it instead.
            event.prevent_default();
            let message = format!("the worker training one network crashed ({})", event.message());
            stop_with_error(&a, pick, generation, &message, false);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        slots.push(Slot { worker, ready: false, queue: Vec::new(), handlers: Some((on_message, on_error)) });
    }
    let n = slots.len();
    let d = &app.demos[pick];
    let detail = plan.board.picture_detail(&d.controls());
    let mut active = Active {
        slots,
        names: plan.learners,
        board: plan.board,
        compute: compute.into(),
        standing: Standing { steps: vec![None; n], finished: vec![false; n] },
        pictures: vec![None; n],
        charts_dirty: false,
        pictures_dirty: false,
        pass: None,
        clock: Clock::default(),
        per_step: plan.per_step,
        stopped: false,
        backend,
        data: plan.data.first().copied(),
        classifies: plan.classifies,
        predictions: vec![None; n],
        started: dom::now(),
        ended: None,
    };
    for i in 0..n {
        active.send(i, ToWorker::Init(Init { demo: d.name().into(), settings: settings.clone(), learner: i, backend }));
        active.send(i, ToWorker::Control(Control::Pictures { detail: detail.clone() }));
        for &set in &plan.data {
            active.slots[i].queue.push(Queued::Data(set));
        }
    }
    Ok(active)
}

/// Sends data set `set` to worker `i`: the page's shared buffers, once, where the page is
/// cross-origin isolated (nothing is copied: every worker reads the same bytes); else a copy of
/// each array in pieces, one per task. Then the messages that were queued after it.
async fn send_data(app: &Rc<App>, pick: Pick, generation: u32, i: usize, set: DataSetId) {
    let shared = {
        let slot = app.slot(set).borrow();
        match (slot.train.is_shared(), slot.train.complete(), slot.test.complete()) {
            (true, Some((train_images, train_labels)), Some((test_images, test_labels))) => {
                Some(vec![train_images.into(), train_labels.into(), test_images.into(), test_labels.into()])
            }
            _ => None,
        }
    };
    if let Some(parts) = shared {
        let mut s = app.demos[pick].state.borrow_mut();
        if s.generation == generation
            && let Some(active) = s.active.as_mut()
        {
            active.post(i, Outgoing { message: ToWorker::Shared { set }, parts, transfer: false });
        }
        return;
    }
    for part in Part::ALL {
        let total = part_len(&app.slot(set).borrow(), part);
        let mut offset = 0;
        while offset < total {
            let len = PIECE_BYTES.min(total - offset);
            let bytes = {
                let slot = app.slot(set).borrow();
                let (split, kind) = part_file(&slot, part);
                split.copy(kind, offset, len)
            };
            {
                let mut s = app.demos[pick].state.borrow_mut();
                if s.generation != generation {
                    return;
                }
                let Some(active) = s.active.as_mut() else { return };
                active.post(i, Outgoing { message: ToWorker::Data { set, part, offset, total }, parts: vec![bytes.into()], transfer: true });
            }
            offset += len;
            dom::sleep_ms(0).await;
        }
    }
}

fn part_file(slot: &super::loader::DataSlot, part: Part) -> (&super::store::HeldSplit, IdxKind) {
    match part {
        Part::TrainImages => (&slot.train, IdxKind::Images),
        Part::TrainLabels => (&slot.train, IdxKind::Labels),
        Part::TestImages => (&slot.test, IdxKind::Images),
        Part::TestLabels => (&slot.test, IdxKind::Labels),
    }
}

fn part_len(slot: &super::loader::DataSlot, part: Part) -> usize {
    let (split, kind) = part_file(slot, part);
    split.complete_len(kind)
}

thread_local! {
    /// Called when a network answered about the drawing pad's drawing (set by the pad).
    static ON_ANSWER: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// What to call when a network answers about a drawing.
pub fn on_answer(f: impl Fn() + 'static) {
    ON_ANSWER.with(|a| *a.borrow_mut() = Some(Box::new(f)));
}

fn on_message(app: &Rc<App>, pick: Pick, generation: u32, i: usize, event: &MessageEvent) {
    let d = &app.demos[pick];
    let (message, parts) = match protocol::read::<FromWorker>(&event.data()) {
        Ok(m) => m,
        Err(e) => return stop_with_error(app, pick, generation, &e.to_string(), false),
    };
    let mut s = d.state.borrow_mut();
    if s.generation != generation {
        return;
    }
    let Some(active) = s.active.as_mut() else { return };
    match message {
        FromWorker::Ready => {
            active.slots[i].ready = true;
            let queued = std::mem::take(&mut active.slots[i].queue);
            for m in queued {
                match m {
                    Queued::Message(m) => active.send(i, m),
                    Queued::Data(set) => {
                        let a = app.clone();
                        wasm_bindgen_futures::spawn_local(async move { send_data(&a, pick, generation, i, set).await });
                    }
                }
            }
        }
        FromWorker::Started { compute } => log::info!("{} ({}) trains on {compute}", active.names[i], d.prefix),
        FromWorker::Progress(Progress { step, finished, report, pictures }) => {
            if pictures && let Ok(p) = protocol::part::<js_sys::Float32Array>(&parts, 0) {
                active.pictures[i] = Some(p.to_vec());
                active.pictures_dirty = true;
            }
            match active.board.apply(i, &report) {
                Ok(changed) => active.charts_dirty |= changed || active.standing.finished[i] != finished,
                Err(e) => {
                    let message = format!("{}: {e}", active.names[i]);
                    drop(s);
                    return stop_with_error(app, pick, generation, &message, false);
                }
            }
            active.standing.steps[i] = Some(step);
            active.standing.finished[i] = finished;
            if let Some(done) = active.standing.steps.iter().copied().collect::<Option<Vec<usize>>>().and_then(|s| s.into_iter().min()) {
                active.clock.done = done;
            }
            drop(s);
            schedule_frame(app, pick, generation);
        }
        FromWorker::Prediction { probs } => {
            active.predictions[i] = Some(probs);
            drop(s);
            ON_ANSWER.with(|a| {
                if let Some(f) = a.borrow().as_ref() {
                    f();
                }
            });
        }
        FromWorker::Failed { message, gpu_lost } => {
            let name = active.names[i].clone();
            drop(s);
            stop_with_error(app, pick, generation, &format!("{name}: {message}"), gpu_lost);
        }
        // A demo's worker is never asked to benchmark or time.
        FromWorker::BenchRun { .. } | FromWorker::BenchDone | FromWorker::Probed { .. } => {}
    }
}

/// One network's answer about the drawing pad's drawing.
pub struct Answer {
    pub name: String,
    pub data: DataSetId,
    pub probs: Vec<f32>,
}

/// Asks every network of the demo's run (running, paused or finished) about a drawing.
pub fn ask(d: &RemoteDemo, drawing: &[u8]) {
    let mut s = d.state.borrow_mut();
    if let Some(active) = s.active.as_mut().filter(|a| !a.stopped && a.classifies) {
        active.send_all(Control::Predict { image: drawing.to_vec() });
    }
}

/// The latest answers of the demo's networks, in learner order.
pub fn answers(d: &RemoteDemo) -> Vec<Answer> {
    let s = d.state.borrow();
    let Some(active) = s.active.as_ref().filter(|a| a.classifies) else { return Vec::new() };
    let Some(data) = active.data else { return Vec::new() };
    active.names.iter().zip(&active.predictions).filter_map(|(name, p)| Some(Answer { name: name.clone(), data, probs: p.clone()? })).collect()
}

/// Whether the demo has a run whose networks classify images.
pub fn can_answer(d: &RemoteDemo) -> bool {
    d.state.borrow().active.as_ref().is_some_and(|a| !a.stopped && a.classifies)
}

/// A crashed worker or a failed network stops the whole comparison; the charts so far stay.
fn stop_with_error(app: &Rc<App>, pick: Pick, generation: u32, message: &str, gpu_lost: bool) {
    let d = &app.demos[pick];
    {
        let mut s = d.state.borrow_mut();
        if s.generation != generation {
            return;
        }
        s.running = false;
        if let Some(active) = s.active.as_mut() {
            active.send_all(Control::Pause);
            active.stopped = true;
        }
    }
    set_buttons(d, false);
    let message = if gpu_lost {
        *app.gpu.borrow_mut() = None;
        dom::set_text("backend", "CPU: the GPU device was lost");
        dom::set_attr("backend", "data-backend", "cpu");
        format!("{message}. The charts so far are kept; press Reset, then Run, to continue on the CPU.")
    } else {
        format!("{message}. The charts so far are kept.")
    };
    show_error(d, &message);
    dom::set_text(&d.id("status"), "Stopped.");
}

/// Draws the demo's status line (and what else is due) again at the next frame: the page's look
/// changed (the lesson view, which shows a shorter state line, was closed).
pub fn refresh(app: &Rc<App>, pick: Pick) {
    let generation = app.demos[pick].state.borrow().generation;
    schedule_frame(app, pick, generation);
}

fn schedule_frame(app: &Rc<App>, pick: Pick, generation: u32) {
    let d = &app.demos[pick];
    {
        let mut s = d.state.borrow_mut();
        if s.frame_pending {
            return;
        }
        s.frame_pending = true;
    }
    let a = app.clone();
    let callback = Closure::once_into_js(move || draw_frame(&a, pick, generation));
    let requested = dom::window().and_then(|w| Ok(w.request_animation_frame(callback.unchecked_ref())?));
    if requested.is_err() {
        d.state.borrow_mut().frame_pending = false;
    }
}

fn draw_frame(app: &Rc<App>, pick: Pick, generation: u32) {
    let d = &app.demos[pick];
    let controls = d.controls();
    let data = d.state.borrow().active.as_ref().and_then(|a| a.data).map(|set| super::SlotData(app.slot(set).clone()));
    let mut paints = Vec::new();
    let mut s = d.state.borrow_mut();
    s.frame_pending = false;
    if s.generation != generation {
        return;
    }
    let paused = s.paused;
    let Some(active) = s.active.as_mut() else { return };
    if active.stopped {
        return;
    }
    let now = dom::now();
    if active.finished() {
        active.clock.pause(now);
    }
    let rate = active.rate_text(now);
    let run = active.clock.run(now);
    let compute = active.compute.clone();
    let status = active.board.status(&active.standing, &rate, &compute);
    if active.pass.is_none() {
        if active.charts_dirty {
            active.charts_dirty = false;
            active.pass = Some((Pass::Charts, 0));
        } else if active.pictures_dirty {
            active.pictures_dirty = false;
            active.pass = Some((Pass::Pictures, 0));
        }
    }
    if let Some((pass, part)) = active.pass {
        let more = match pass {
            Pass::Charts => active.board.draw_charts(part, &mut paints),
            Pass::Pictures => active.board.draw_pictures(&active.pictures, part, &controls, data.as_ref().map(|d| d as &dyn crate::experiments::DataAccess), &mut paints),
        };
        active.pass = more.then_some((pass, part + 1));
    }
    let more = active.pass.is_some() || active.charts_dirty || active.pictures_dirty;
    let finished = active.finished();
    if finished {
        active.ended.get_or_insert_with(dom::now);
        super::class::finished(d.name(), &d.values.borrow(), active.board.as_ref(), backend_label(active.backend));
    }
    let reported = active.standing.steps.iter().any(Option::is_some);
    if finished {
        s.running = false;
    }
    s.last_status = status.clone();
    drop(s);
    d.paint(paints);
    // A finished status keeps where the run ran: a short run can end before its speed is shown.
    let shown = match (paused, finished) {
        (_, true) => format!("{status} Ran {compute}."),
        (true, false) => format!("Paused. {status}"),
        (false, false) => status,
    };
    dom::set_text(&d.id("status"), super::lesson::state_line(&shown));
    // The figures behind the rate, for a reader's script (and the browser tests).
    if let Some((steps, seconds)) = run {
        dom::set_attr(&d.id("status"), "data-run", &format!("{steps} {seconds:.3}"));
    }
    set_exports(d, reported);
    if finished {
        set_buttons(d, false);
    }
    if more {
        schedule_frame(app, pick, generation);
    }
}

fn set_buttons(d: &RemoteDemo, running: bool) {
    dom::set_text(&d.id("run"), if running { "Pause" } else { "Run" });
    if let Ok(b) = dom::by_id::<web_sys::HtmlButtonElement>(&d.id("step")) {
        b.set_disabled(running);
    }
}

fn show_error(d: &RemoteDemo, message: &str) {
    dom::set_text(&d.id("error"), message);
    dom::set_hidden(&d.id("error"), false);
}
