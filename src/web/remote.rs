//! The page's side of a comparison trained in workers: one dedicated worker per network, all fed
//! the same settings and seed (hence the same initial weights and batch order), the data set's
//! bytes handed to each once. The page only draws: reports are kept as they arrive and drawn at
//! the next animation frame, and Run / Pause / Step / Reset are messages (or, for Reset and a
//! changed setting, the workers' termination), so each acts within a frame.

use super::protocol::{Compute, Control, DataPiece, FromWorker, Init, Part, SharedData, ToWorker};
use super::{App, dom, form};
use crate::data::{DataSetId, IdxKind};
use crate::experiments::summary::{Summary, metrics_csv};
use crate::settings::{Demo, Values};
use std::cell::RefCell;
use std::collections::VecDeque;
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
/// The rate is measured over this much recent time, so it follows a change of speed.
const RATE_WINDOW_MS: f64 = 5000.0;

/// What a demo hands the driver to start a run.
pub struct Plan {
    pub demo: &'static str,
    pub settings: String,
    /// One worker per learner; the names are only for messages.
    pub learners: Vec<String>,
    pub seed: u64,
    pub backend: Compute,
    /// "on the CPU", "on WebGPU".
    pub compute: String,
    /// The data set the workers read, if any.
    pub data: Option<DataSetId>,
    pub view: Box<dyn View>,
}

/// The latest report of one learner.
pub struct Report {
    pub step: usize,
    pub finished: bool,
    pub metrics: serde_json::Value,
}

/// A demo's drawing side. Reports put where a run stands (step, task) under the key `at` of their
/// metrics: a report that changed only there redraws the status line, not the charts.
pub trait View {
    /// Draws part `part` (from 0) of the charts from the learners' latest reports (`None`: not
    /// reported yet); `true` while more parts follow. One part is drawn per animation frame, so
    /// no frame (with the browser's painting after it) grows long.
    fn draw_charts(&mut self, reports: &[Option<Report>], part: usize) -> bool;
    /// The status line; `rate` is the measured speed, already worded.
    fn status(&self, reports: &[Option<Report>], rate: &str, compute: &str) -> String;
    /// Draws part `part` of the pictures (e.g. weight histograms) the learners sent last; `true`
    /// while more parts follow.
    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], part: usize) -> bool;
    /// What the workers should put in their pictures (e.g. which layer).
    fn picture_detail(&self) -> String;
    /// The run so far as the command-line tool's `summary.json` (`backend` names where it ran);
    /// `None` before any learner has reported.
    fn summary(&self, reports: &[Option<Report>], backend: &str) -> Option<Summary>;
}

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
    view: Box<dyn View>,
    compute: String,
    reports: Vec<Option<Report>>,
    pictures: Vec<Option<Vec<f32>>>,
    charts_dirty: bool,
    pictures_dirty: bool,
    /// The drawing pass in progress, and its next part.
    pass: Option<(Pass, usize)>,
    /// (time, steps every learner has completed), over the last few seconds.
    rate: VecDeque<(f64, usize)>,
    stopped: bool,
    backend: Compute,
    /// The data set the networks learn from, and their latest answers about the drawing pad's
    /// drawing (class probabilities).
    data: Option<DataSetId>,
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
        self.post(i, message);
    }

    fn post(&mut self, i: usize, message: ToWorker) {
        let slot = &self.slots[i];
        let encoded = message.encode();
        if let Err(e) = slot.worker.post_message_with_transfer(&encoded.message, &encoded.transfer) {
            log::error!("could not message a worker: {}", dom::describe(&e));
        }
    }

    fn send_all(&mut self, control: Control) {
        for i in 0..self.slots.len() {
            self.send(i, ToWorker::Control(control.clone()));
        }
    }

    /// Every network has reported its last step.
    fn finished(&self) -> bool {
        self.reports.iter().all(|r| r.as_ref().is_some_and(|r| r.finished))
    }

    fn terminate(&mut self) {
        for slot in &self.slots {
            slot.worker.terminate();
        }
    }

    fn rate_text(&self) -> String {
        let (Some(first), Some(last)) = (self.rate.front(), self.rate.back()) else { return "measuring speed".into() };
        let seconds = (last.0 - first.0) / 1000.0;
        let steps = (last.1 - first.1) as f64;
        if seconds < 0.5 || steps < 1.0 {
            return "measuring speed".into();
        }
        let rate = steps / seconds;
        if rate >= 10.0 {
            format!("{rate:.0} batches/s")
        } else if rate >= 1.0 {
            format!("{rate:.1} batches/s")
        } else {
            format!("{:.1} s/batch", 1.0 / rate)
        }
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

pub struct RemoteDemo {
    /// The demo's settings as declared; its element ids are `<prefix>-run`, `-step`, `-reset`,
    /// `-status`, `-error`, `-controls`, `-fields`.
    pub decl: &'static Demo,
    prefix: &'static str,
    /// The settings last read from the form (or a link): always allowed values.
    pub values: RefCell<Values>,
    plan: fn(&App, &Values) -> Result<Plan, String>,
    state: RefCell<State>,
}

type Pick = fn(&App) -> &RemoteDemo;

impl RemoteDemo {
    pub fn new(decl: &'static Demo, plan: fn(&App, &Values) -> Result<Plan, String>) -> Self {
        Self { decl, prefix: decl.prefix, values: RefCell::new(decl.defaults()), plan, state: RefCell::new(State { active: None, running: false, generation: 0, frame_pending: false, paused: false, waiting: false, last_status: String::new() }) }
    }

    fn id(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// Reads the form through the declaration; on success the values are kept, on refusal
    /// nothing changes and the message says which setting and what is allowed.
    fn read_form(&self) -> Result<Values, String> {
        let mut values = self.values.borrow().clone();
        values.check_all(form::raw(self.decl)).map_err(|e| e.to_string())?;
        *self.values.borrow_mut() = values.clone();
        Ok(values)
    }

    /// Asks the workers for fresh pictures (e.g. another histogram layer was chosen).
    pub fn request_pictures(&self) {
        let mut s = self.state.borrow_mut();
        if let Some(active) = s.active.as_mut() {
            let detail = active.view.picture_detail();
            active.send_all(Control::Pictures(detail));
        }
    }
}

/// Builds the form from the declaration (showing the demo's current values), wires the buttons
/// and the form; `on_change` runs after every accepted change of the form (to show and hide
/// figures), then the current run is dropped.
pub fn wire(app: &Rc<App>, pick: Pick, on_change: fn(&App)) -> Result<(), dom::WebError> {
    let d = pick(app);
    form::build(&d.values.borrow())?;
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("run"))?, move || toggle_run(&a, pick));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("step"))?, move || step_once(&a, pick));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("reset"))?, move || reset(&a, pick));
    let a = app.clone();
    dom::on_event(&dom::by_id(&d.id("controls"))?, "change", move || {
        let d = pick(&a);
        form::show_applicable(d.decl);
        let checked = d.read_form();
        let started = d.state.borrow().active.is_some() || d.state.borrow().waiting;
        if started {
            discard(&a, pick, "Settings changed: the next Run starts a new run with them.");
        }
        match checked {
            Ok(_) => {
                dom::set_hidden(&d.id("error"), true);
                a.write_url();
                on_change(&a);
            }
            Err(message) => show_error(d, &message),
        }
    });
    wire_exports(app, pick)?;
    wire_settings_toggle(d)?;
    on_change(app);
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
    let d = pick(app);
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
            let d = pick(&a);
            let s = d.state.borrow();
            let Some(active) = s.active.as_ref() else { return };
            let backend = match active.backend {
                Compute::Cpu => "cpu (browser, wasm)",
                Compute::WebGpu => "webgpu (browser)",
            };
            let Some(mut summary) = active.view.summary(&active.reports, backend) else { return };
            summary.elapsed = (active.ended.unwrap_or_else(dom::now) - active.started) / 1000.0;
            let name = summary.experiment.clone();
            let saved = if csv {
                super::exports::download_text(&format!("{name}-metrics.csv"), "text/csv", &metrics_csv(&summary))
            } else {
                super::exports::download_text(&format!("{name}-summary.json"), "application/json", &summary.to_pretty_string())
            };
            drop(s);
            if let Err(e) = saved {
                show_error(d, &format!("The download failed: {}", dom::describe(&e)));
            }
        });
    }
    Ok(())
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
    if app.marked_run() == Some(pick(app).decl.name) {
        app.mark_run(None);
    }
}

fn toggle_run(app: &Rc<App>, pick: Pick) {
    let d = pick(app);
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
                active.rate.clear();
            }
        }
        set_buttons(d, false);
        let last = d.state.borrow().last_status.clone();
        dom::set_text(&d.id("status"), &format!("Paused. {last}"));
        return;
    }
    if !ensure_run(app, pick) {
        return;
    }
    app.mark_run(Some(d.decl.name));
    let mut s = d.state.borrow_mut();
    s.running = true;
    s.paused = false;
    if let Some(active) = s.active.as_mut() {
        active.send_all(Control::Run);
    }
    drop(s);
    set_buttons(d, true);
}

fn step_once(app: &Rc<App>, pick: Pick) {
    let d = pick(app);
    let finished = d.state.borrow().active.as_ref().is_some_and(Active::finished);
    if finished || d.state.borrow().running || !ensure_run(app, pick) {
        return;
    }
    if let Some(active) = d.state.borrow_mut().active.as_mut() {
        active.rate.clear();
        active.send_all(Control::Step(STEP_STEPS));
    }
}

fn discard(app: &Rc<App>, pick: Pick, status: &str) {
    let d = pick(app);
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

/// Starts the workers if there is no run; `false` (with the reason shown) when the settings are
/// refused or the data set has not arrived yet.
fn ensure_run(app: &Rc<App>, pick: Pick) -> bool {
    let d = pick(app);
    {
        let s = d.state.borrow();
        if s.waiting || s.active.as_ref().is_some_and(|a| !a.stopped) {
            return true;
        }
    }
    let plan = match d.read_form().and_then(|values| (d.plan)(app, &values)) {
        Ok(plan) => plan,
        Err(message) => {
            show_error(d, &message);
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
    // Every worker must see the same examples in the same order, so they start on the whole set.
    if let Some(set) = plan.data.filter(|&set| !app.slot(set).borrow().is_done()) {
        d.state.borrow_mut().waiting = true;
        dom::set_text(&d.id("status"), &format!("Waiting for {} to finish loading; training starts when it has.", set.title()));
        let a = app.clone();
        wasm_bindgen_futures::spawn_local(async move { start_when_loaded(&a, pick, plan, generation).await });
        return true;
    }
    start(app, pick, plan, generation)
}

async fn start_when_loaded(app: &Rc<App>, pick: Pick, plan: Plan, generation: u32) {
    loop {
        dom::sleep_ms(250).await;
        if pick(app).state.borrow().generation != generation {
            return;
        }
        if plan.data.is_none_or(|set| app.slot(set).borrow().is_done()) {
            break;
        }
    }
    let d = pick(app);
    d.state.borrow_mut().waiting = false;
    if start(app, pick, plan, generation) {
        let mut s = d.state.borrow_mut();
        let (running, paused) = (s.running, s.paused);
        if let Some(active) = s.active.as_mut() {
            if running {
                active.send_all(Control::Run);
            } else if !paused {
                active.send_all(Control::Step(STEP_STEPS));
            }
        }
    }
}

fn start(app: &Rc<App>, pick: Pick, plan: Plan, generation: u32) -> bool {
    let d = pick(app);
    match spawn(app, pick, plan, generation) {
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

fn spawn(app: &Rc<App>, pick: Pick, plan: Plan, generation: u32) -> Result<Active, dom::WebError> {
    let mut slots = Vec::new();
    for (i, _) in plan.learners.iter().enumerate() {
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
    let mut active = Active {
        slots,
        names: plan.learners,
        view: plan.view,
        compute: plan.compute,
        reports: (0..n).map(|_| None).collect(),
        pictures: vec![None; n],
        charts_dirty: false,
        pictures_dirty: false,
        pass: None,
        rate: VecDeque::new(),
        stopped: false,
        backend: plan.backend,
        data: plan.data,
        predictions: vec![None; n],
        started: dom::now(),
        ended: None,
    };
    let detail = active.view.picture_detail();
    for i in 0..n {
        active.send(i, ToWorker::Init(Init { demo: plan.demo.into(), settings: plan.settings.clone(), learner: i, seed: plan.seed, backend: plan.backend }));
        active.send(i, ToWorker::Control(Control::Pictures(detail.clone())));
        if let Some(set) = plan.data {
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
            (true, Some((train_images, train_labels)), Some((test_images, test_labels))) => Some([train_images, train_labels, test_images, test_labels]),
            _ => None,
        }
    };
    if let Some(parts) = shared {
        let mut s = pick(app).state.borrow_mut();
        if s.generation == generation {
            if let Some(active) = s.active.as_mut() {
                active.post(i, ToWorker::Shared(SharedData { set, parts }));
            }
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
                let mut s = pick(app).state.borrow_mut();
                if s.generation != generation {
                    return;
                }
                let Some(active) = s.active.as_mut() else { return };
                active.post(i, ToWorker::Data(DataPiece { set, part, offset, total, bytes }));
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

fn on_message(app: &Rc<App>, pick: Pick, generation: u32, i: usize, event: &MessageEvent) {
    let d = pick(app);
    let message = match FromWorker::decode(&event.data()) {
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
        FromWorker::Progress(p) => {
            let metrics = serde_json::from_str(&p.metrics).unwrap_or(serde_json::Value::Null);
            if let Some(pictures) = p.pictures {
                active.pictures[i] = Some(pictures.to_vec());
                active.pictures_dirty = true;
            }
            let changed = active.reports[i].as_ref().is_none_or(|old| !same_but_position(&old.metrics, &metrics) || old.finished != p.finished);
            active.charts_dirty |= changed;
            active.reports[i] = Some(Report { step: p.step, finished: p.finished, metrics });
            if active.reports.iter().all(Option::is_some) {
                let done = active.reports.iter().flatten().map(|r| r.step).min().unwrap_or(0);
                let now = dom::now();
                active.rate.push_back((now, done));
                while active.rate.front().is_some_and(|(t, _)| now - t > RATE_WINDOW_MS) && active.rate.len() > 2 {
                    active.rate.pop_front();
                }
            }
            drop(s);
            schedule_frame(app, pick, generation);
        }
        FromWorker::Prediction { probs } => {
            active.predictions[i] = Some(probs);
            drop(s);
            super::pad::answers_changed(app);
        }
        FromWorker::Failed { message, gpu_lost } => {
            let name = active.names[i].clone();
            drop(s);
            stop_with_error(app, pick, generation, &format!("{name}: {message}"), gpu_lost);
        }
        // A demo's worker is never asked to benchmark.
        FromWorker::BenchRun { .. } | FromWorker::BenchDone => {}
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
    if let Some(active) = s.active.as_mut().filter(|a| !a.stopped && a.data.is_some()) {
        active.send_all(Control::Predict(drawing.to_vec()));
    }
}

/// The latest answers of the demo's networks, in learner order.
pub fn answers(d: &RemoteDemo) -> Vec<Answer> {
    let s = d.state.borrow();
    let Some(active) = s.active.as_ref() else { return Vec::new() };
    let Some(data) = active.data else { return Vec::new() };
    active.names.iter().zip(&active.predictions).filter_map(|(name, p)| Some(Answer { name: name.clone(), data, probs: p.clone()? })).collect()
}

/// Whether the demo has a run whose networks classify images.
pub fn can_answer(d: &RemoteDemo) -> bool {
    d.state.borrow().active.as_ref().is_some_and(|a| !a.stopped && a.data.is_some())
}

/// A crashed worker or a failed network stops the whole comparison; the charts so far stay.
fn stop_with_error(app: &Rc<App>, pick: Pick, generation: u32, message: &str, gpu_lost: bool) {
    let d = pick(app);
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

/// Draws the demo's charts and pictures again (the page's look changed).
pub fn redraw(app: &Rc<App>, pick: Pick) {
    let generation = {
        let mut s = pick(app).state.borrow_mut();
        let generation = s.generation;
        let Some(active) = s.active.as_mut() else { return };
        active.charts_dirty = true;
        active.pictures_dirty = true;
        generation
    };
    schedule_frame(app, pick, generation);
}

fn schedule_frame(app: &Rc<App>, pick: Pick, generation: u32) {
    let d = pick(app);
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
    let d = pick(app);
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
    let rate = active.rate_text();
    let compute = active.compute.clone();
    let status = active.view.status(&active.reports, &rate, &compute);
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
            Pass::Charts => active.view.draw_charts(&active.reports, part),
            Pass::Pictures => active.view.draw_pictures(&active.pictures, part),
        };
        active.pass = more.then_some((pass, part + 1));
    }
    let more = active.pass.is_some() || active.charts_dirty || active.pictures_dirty;
    let finished = active.finished();
    if finished {
        active.ended.get_or_insert_with(dom::now);
    }
    let reported = active.reports.iter().any(Option::is_some);
    if finished {
        s.running = false;
    }
    s.last_status = status.clone();
    drop(s);
    // A finished status keeps where the run ran: a short run can end before its speed is shown.
    let shown = match (paused, finished) {
        (_, true) => format!("{status} Ran {compute}."),
        (true, false) => format!("Paused. {status}"),
        (false, false) => status,
    };
    dom::set_text(&d.id("status"), &shown);
    set_exports(d, reported);
    if finished {
        set_buttons(d, false);
    }
    if more {
        schedule_frame(app, pick, generation);
    }
}

/// Two reports' metrics are the same but for `at` (where the run stands).
fn same_but_position(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a.len() == b.len() && a.iter().all(|(k, v)| k == "at" || b.get(k) == Some(v)),
        _ => a == b,
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
