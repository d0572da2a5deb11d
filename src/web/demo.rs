//! What every live demo shares: Run / Pause / Step / Reset, a run advanced a slice at a time
//! between browser turns, periodic slow readbacks, and errors shown without losing the charts.
//!
//! The run is taken out of the demo's state while it trains, so a click (pause, reset, a changed
//! setting) only flips flags and can never meet a half-updated network; a stale run (older
//! generation) is dropped whole when it hands control back.

use super::{App, dom};
use crate::backend::Backend;
use crate::nn::TrainError;
use std::cell::RefCell;
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};

/// A run a demo drives.
#[allow(async_fn_in_trait)]
pub trait DemoRun: Sized + 'static {
    /// Trains one slice; `Ok(true)` once the run is finished.
    async fn advance(&mut self, app: &Rc<App>) -> Result<bool, TrainError>;
    /// Draws the charts that need no readback and returns the status line.
    fn draw(&self, elapsed_ms: f64, compute: &str) -> String;
    /// Charts that need a readback of the networks (weights, filters): drawn every few seconds,
    /// after a Step and at the end.
    async fn refresh(&mut self, app: &Rc<App>);
}

/// Builds a run from the demo's form, or says which setting is refused; the string says where the
/// run computes ("on WebGPU", "on the CPU").
pub type MakeRun<R> = fn(&App) -> Result<(R, String), String>;

struct State<R> {
    run: Option<R>,
    running: bool,
    /// Bumped by Reset and by changed settings: a run from an older generation is dropped.
    generation: u32,
    looping: bool,
    last_refresh: f64,
    /// How long the last refresh took: refreshes wait three times that, so that readbacks on a
    /// slow adapter take at most a quarter of the time.
    refresh_cost: f64,
    compute: String,
}

pub struct Demo<R> {
    /// The element ids are `<prefix>-run`, `-step`, `-reset`, `-status`, `-error`, `-controls`.
    prefix: &'static str,
    refresh_ms: f64,
    make: MakeRun<R>,
    state: RefCell<State<R>>,
}

impl<R: DemoRun> Demo<R> {
    pub fn new(prefix: &'static str, refresh_ms: f64, make: MakeRun<R>) -> Self {
        Self { prefix, refresh_ms, make, state: RefCell::new(State { run: None, running: false, generation: 0, looping: false, last_refresh: 0.0, refresh_cost: 0.0, compute: String::new() }) }
    }

    fn id(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    pub fn has_run(&self) -> bool {
        self.state.borrow().run.is_some()
    }
}

/// Wires the buttons and the form of the demo that `demo` picks out of the app. `on_change` runs on
/// every change of the form (to show and hide fields) before the current run is dropped.
pub fn wire<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>, on_change: fn()) -> Result<(), dom::WebError> {
    let d = demo(app);
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("run"))?, move || toggle_run(&a, demo));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("step"))?, move || step_once(&a, demo));
    let a = app.clone();
    dom::on_click(&dom::by_id(&d.id("reset"))?, move || discard(&a, demo, "Reset. Press Run to start again."));
    // Any changed setting makes the current run stale: the next Run starts afresh with it.
    let a = app.clone();
    dom::on_event(&dom::by_id(&d.id("controls"))?, "change", move || {
        on_change();
        if demo(&a).has_run() {
            discard(&a, demo, "Settings changed: the next Run starts a new run with them.");
        }
    });
    on_change();
    Ok(())
}

/// Runs `f` on the current run while no slice is training, then puts it back (a redraw asked for
/// while paused, such as another layer's histogram). While training, the next refresh picks the
/// change up.
pub fn with_idle_run<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>) {
    let d = demo(app);
    let (generation, run) = {
        let mut s = d.state.borrow_mut();
        if s.looping {
            s.last_refresh = 0.0;
            return;
        }
        (s.generation, s.run.take())
    };
    let Some(mut run) = run else { return };
    d.state.borrow_mut().looping = true;
    let app = app.clone();
    wasm_bindgen_futures::spawn_local(async move {
        run.refresh(&app).await;
        let d = demo(&app);
        let resume = {
            let mut s = d.state.borrow_mut();
            s.looping = false;
            if s.generation == generation {
                s.run = Some(run);
            }
            s.running
        };
        // Run was pressed while the readback was in flight: start the loop it could not.
        if resume {
            start_loop(&app, demo, false);
        }
    });
}

fn toggle_run<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>) {
    let d = demo(app);
    if d.state.borrow().running {
        d.state.borrow_mut().running = false;
        set_buttons(d, false);
        dom::set_text(&d.id("status"), "Paused. Run continues; Step trains a few batches.");
        return;
    }
    if !ensure_run(app, d) {
        return;
    }
    d.state.borrow_mut().running = true;
    set_buttons(d, true);
    start_loop(app, demo, false);
}

fn step_once<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>) {
    let d = demo(app);
    if d.state.borrow().running || !ensure_run(app, d) {
        return;
    }
    start_loop(app, demo, true);
}

/// Makes a run if there is none; `false` (with the reason shown) when the settings are refused.
fn ensure_run<R: DemoRun>(app: &App, d: &Demo<R>) -> bool {
    if d.state.borrow().run.is_some() || d.state.borrow().looping {
        return true;
    }
    match (d.make)(app) {
        Ok((run, compute)) => {
            dom::set_hidden(&d.id("error"), true);
            let mut s = d.state.borrow_mut();
            s.run = Some(run);
            s.compute = compute;
            s.last_refresh = 0.0;
            true
        }
        Err(message) => {
            show_error(d, &message);
            false
        }
    }
}

fn discard<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>, status: &str) {
    let d = demo(app);
    {
        let mut s = d.state.borrow_mut();
        s.generation += 1;
        s.running = false;
        s.run = None;
    }
    set_buttons(d, false);
    dom::set_hidden(&d.id("error"), true);
    dom::set_text(&d.id("status"), status);
}

fn set_buttons<R>(d: &Demo<R>, running: bool) {
    dom::set_text(&format!("{}-run", d.prefix), if running { "Pause" } else { "Run" });
    if let Ok(b) = dom::by_id::<web_sys::HtmlButtonElement>(&format!("{}-step", d.prefix)) {
        b.set_disabled(running);
    }
}

fn show_error<R>(d: &Demo<R>, message: &str) {
    dom::set_text(&format!("{}-error", d.prefix), message);
    dom::set_hidden(&format!("{}-error", d.prefix), false);
}

fn start_loop<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>, single: bool) {
    let d = demo(app);
    if d.state.borrow().looping {
        return;
    }
    d.state.borrow_mut().looping = true;
    let app = app.clone();
    wasm_bindgen_futures::spawn_local(async move {
        train_loop(&app, demo, single).await;
        demo(&app).state.borrow_mut().looping = false;
    });
}

async fn train_loop<R: DemoRun>(app: &Rc<App>, demo: fn(&App) -> &Demo<R>, single: bool) {
    loop {
        let d = demo(app);
        let (generation, run) = {
            let mut s = d.state.borrow_mut();
            // Paused while the browser had its turn: train no further slice.
            if !single && !s.running {
                return;
            }
            (s.generation, s.run.take())
        };
        let Some(mut run) = run else { return };
        let started = dom::now();
        let result = run.advance(app).await;
        let elapsed = dom::now() - started;
        let d = demo(app);
        let mut s = d.state.borrow_mut();
        if s.generation != generation {
            return; // reset or settings changed meanwhile: this run is dropped whole
        }
        let finished = match &result {
            Ok(done) => *done,
            Err(e) => {
                s.running = false;
                drop(s);
                set_buttons(d, false);
                report_error(app, d, e);
                d.state.borrow_mut().run = Some(run);
                return;
            }
        };
        let refresh_due = dom::now() - s.last_refresh > d.refresh_ms.max(3.0 * s.refresh_cost) || finished || single;
        if refresh_due {
            s.last_refresh = dom::now();
        }
        let keep_going = s.running && !finished && !single;
        if finished {
            s.running = false;
        }
        let compute = s.compute.clone();
        drop(s);
        let status = run.draw(elapsed, &compute);
        // Pause pressed during this slice: say so, with where the run stands.
        let paused = !finished && !single && !d.state.borrow().running;
        dom::set_text(&d.id("status"), &if paused { format!("Paused. {status}") } else { status });
        if refresh_due {
            let before = dom::now();
            run.refresh(app).await;
            d.state.borrow_mut().refresh_cost = dom::now() - before;
        }
        if d.state.borrow().generation == generation {
            d.state.borrow_mut().run = Some(run);
        }
        if finished {
            set_buttons(d, false);
        }
        if !keep_going {
            return;
        }
        dom::yield_to_browser().await;
    }
}

/// A lost GPU or a diverged run stops training with a message; the charts so far stay.
fn report_error<R>(app: &App, d: &Demo<R>, e: &TrainError) {
    let message = match e {
        TrainError::Device(g) => {
            *app.gpu.borrow_mut() = None;
            dom::set_text("backend", "CPU: the GPU device was lost");
            dom::set_attr("backend", "data-backend", "cpu");
            format!("{g}. The charts so far are kept; press Reset, then Run, to continue on the CPU.")
        }
        other => format!("{other}. The charts so far are kept."),
    };
    show_error(d, &message);
    dom::set_text(&format!("{}-status", d.prefix), "Stopped.");
}

// ---------------------------------------------------------------------------------------------
// Reading a demo's form
// ---------------------------------------------------------------------------------------------

pub fn select_value(id: &str) -> String {
    dom::by_id::<HtmlSelectElement>(id).map(|s| s.value()).unwrap_or_default()
}

pub fn number<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, String> {
    let raw = dom::by_id::<HtmlInputElement>(id).map(|i| i.value()).map_err(|e| e.to_string())?;
    raw.trim().parse().map_err(|_| format!("{what}: '{raw}' is not a valid number"))
}

pub fn checked(id: &str) -> bool {
    dom::by_id::<HtmlInputElement>(id).is_ok_and(|i| i.checked())
}

/// The backend a demo's compute selector (`id`) asks for. "auto" takes WebGPU on a hardware
/// adapter; a software adapter (SwiftShader, llvmpipe) computes correctly but far slower than the
/// CPU path, so auto skips it.
pub fn backend(app: &App, id: &str) -> Result<(Backend, String), String> {
    let gpu = app.gpu.borrow().as_ref().filter(|ctx| ctx.check_alive().is_ok()).cloned();
    let backend = match (select_value(id).as_str(), gpu) {
        ("cpu", _) => Backend::Cpu,
        ("webgpu", Some(ctx)) => Backend::Gpu(ctx),
        ("webgpu", None) => return Err("WebGPU is not available here (see the line at the top of the page); choose CPU or auto".into()),
        (_, Some(ctx)) if ctx.adapter.device_type != "Cpu" => Backend::Gpu(ctx),
        _ => Backend::Cpu,
    };
    let compute = match &backend {
        Backend::Cpu => "on the CPU",
        Backend::Gpu(_) => "on WebGPU",
    };
    Ok((backend, compute.to_string()))
}

pub fn canvas(id: &str) -> Option<web_sys::HtmlCanvasElement> {
    dom::by_id::<web_sys::HtmlCanvasElement>(id).ok()
}
