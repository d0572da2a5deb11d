//! The browser app: the only module that knows about the DOM. It wires the page in `index.html`
//! to the data, the backends and the experiments, and turns typed errors into messages.
//!
//! Two entry points, one per wasm binary trunk builds: [`start_page`] (the page's main thread:
//! data, forms, charts) and [`start_worker`] (a training worker, one per network of a comparison).

mod bench;
mod canvas_chart;
mod class;
mod dom;
mod exports;
mod form;
mod guide;
mod lesson;
mod loader;
mod offline;
mod pad;
mod protocol;
mod remote;
mod samples;
mod store;
mod worker;

use crate::data::DataSetId;
use crate::demos::REGISTRY;
use crate::gpu::GpuContext;
use crate::nn::DeviceError;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// Everything the page holds: loaded data, the GPU if there is one, and what is on screen.
pub struct App {
    pub data: [Rc<RefCell<loader::DataSlot>>; 2],
    pub gpu: RefCell<Option<Rc<GpuContext>>>,
    pub shown: RefCell<DataSetId>,
    pub samples: RefCell<samples::SampleGrid>,
    /// The demos of [`REGISTRY`], in its order.
    pub demos: Vec<remote::RemoteDemo>,
    pub offline: offline::Offline,
    /// The demo the URL's `run=` names: the last one started and not reset.
    run: RefCell<Option<&'static str>>,
    /// The lesson view and presenter mode, written into the URL with the settings.
    view: RefCell<crate::settings::query::View>,
}

use remote::Pick;

impl App {
    pub fn slot(&self, id: DataSetId) -> &Rc<RefCell<loader::DataSlot>> {
        &self.data[id as usize]
    }

    /// Writes every demo's settings and the run marker into the URL.
    pub fn write_url(&self) {
        if class::keeps_address() {
            return;
        }
        let values: Vec<std::cell::Ref<'_, crate::settings::Values>> = self.demos.iter().map(|d| d.values.borrow()).collect();
        let refs: Vec<&crate::settings::Values> = values.iter().map(|v| &**v).collect();
        form::write_url(&refs, *self.run.borrow(), *self.view.borrow());
    }

    pub fn set_lesson(&self, lesson: Option<usize>) {
        self.view.borrow_mut().lesson = lesson;
        self.write_url();
    }

    fn set_presenter(&self, on: bool) {
        self.view.borrow_mut().presenter = on;
        self.write_url();
    }

    pub fn mark_run(&self, demo: Option<&'static str>) {
        *self.run.borrow_mut() = demo;
        self.write_url();
    }

    pub fn marked_run(&self) -> Option<&'static str> {
        *self.run.borrow()
    }

    /// The demo called `name`.
    fn pick(&self, name: &str) -> Option<Pick> {
        self.demos.iter().position(|d| d.name() == name)
    }
}

/// A data set as the experiments see it, borrowed from the page's slot only inside each call.
pub struct SlotData(pub Rc<RefCell<loader::DataSlot>>);

impl crate::experiments::DataAccess for SlotData {
    fn with_train(&self, f: &mut dyn FnMut(&dyn crate::data::Examples)) {
        f(&self.0.borrow().train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn crate::data::Examples)) {
        f(&self.0.borrow().test)
    }
}

/// The page's entry point (the `app` binary).
pub fn start_page() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    if let Err(e) = boot() {
        dom::fatal(&format!("The app could not start: {e}"));
    }
}

/// A training worker's entry point (the `worker` binary).
pub fn start_worker() {
    worker::start();
}

fn boot() -> Result<(), dom::WebError> {
    let search = dom::window()?.location().search().unwrap_or_default();
    // The bench view replaces the demos: nothing loads or trains beside it.
    if let Some(request) = bench::requested(&search) {
        bench::start(request)?;
        dom::body()?.set_attribute("data-ready", "1")?;
        return Ok(());
    }
    // The class experiment: the teacher's page replaces the demos; a seat's page is the demos with
    // the seat's cell, its address the class link.
    let class_link = class::requested(&search);
    if let Some(link) = class_link.clone().filter(|l| l.teacher) {
        let presenter = crate::settings::query::parse(&crate::demos::class::without_class_keys(&search), &crate::demos::declarations()).view.presenter;
        class::start_teacher(link, presenter)?;
        dom::body()?.set_attribute("data-ready", "1")?;
        return Ok(());
    }
    let search = if class_link.is_some() { crate::demos::class::without_class_keys(&search) } else { search };
    let app = Rc::new(App {
        data: DataSetId::ALL.map(|id| Rc::new(RefCell::new(loader::DataSlot::new(id)))),
        gpu: RefCell::new(None),
        shown: RefCell::new(DataSetId::Mnist),
        samples: RefCell::new(samples::SampleGrid::new()),
        demos: REGISTRY.iter().map(|&d| remote::RemoteDemo::new(d)).collect(),
        offline: offline::Offline::new(),
        run: RefCell::new(None),
        view: RefCell::new(crate::settings::query::View::default()),
    });
    // The link's settings go into the forms before they are built; what it asked for and could
    // not have is corrected and shown, never refused: a link is not edited in place.
    let link = crate::settings::query::parse(&search, &crate::demos::declarations());
    for d in &app.demos {
        if let Some(values) = link.values(d.name()) {
            *d.values.borrow_mut() = values.clone();
        }
    }
    let seat_run = match &class_link {
        Some(link) => class::prepare_seat(&app, link)?,
        None => None,
    };
    guide::build()?;
    wire_dataset_switch(&app)?;
    samples::wire_shuffle(&app)?;
    exports::wire_charts()?;
    for pick in 0..app.demos.len() {
        remote::wire(&app, pick)?;
    }
    pad::wire(&app)?;
    form::show_notes(&link.notes);
    wire_keys(&app)?;
    wire_presenter(&app)?;
    if link.view.presenter {
        toggle_presenter(&app);
    }
    if let Some(n) = link.view.lesson.or(class_link.as_ref().map(|_| class::seat_lesson())) {
        lesson::open(&app, n)?;
    }
    if class_link.as_ref().is_some_and(|l| l.seat.is_none()) {
        dom::set_text("bnn-status", "Type your seat number above: your cell starts then.");
    }
    app.write_url();
    for id in DataSetId::ALL {
        loader::start(&app, id)?;
    }
    offline::start(&app);
    // `run=` waits for the backend probe: "auto" and "webgpu" need to know what the GPU is.
    let probe = probe_backend(app.clone());
    let start = link.run.or(seat_run).and_then(|name| app.pick(name));
    let a = app.clone();
    wasm_bindgen_futures::spawn_local(async move {
        probe.await;
        if let Some(pick) = start {
            remote::press(&a, pick, remote::Press::RunPause);
        }
    });
    dom::body()?.set_attribute("data-ready", "1")?;
    Ok(())
}

/// Finds a WebGPU adapter and trusts it only once it computed a product correctly.
async fn probe_backend(app: Rc<App>) {
    let result = async {
        let ctx = GpuContext::request().await?;
        crate::backend::gpu_self_test(&ctx).await?;
        Ok::<_, DeviceError>(ctx)
    }
    .await;
    let (kind, text) = match result {
        Ok(ctx) => {
            let text = match browser_adapter_label().await {
                Some(label) => format!("WebGPU: {label}"),
                None => format!("WebGPU: {}", ctx.adapter),
            };
            *app.gpu.borrow_mut() = Some(Rc::new(ctx));
            ("webgpu", text)
        }
        Err(e) => ("cpu", format!("CPU: {e}")),
    };
    log::info!("compute backend: {text}");
    if let Ok(el) = dom::by_id::<web_sys::HtmlElement>("backend") {
        el.set_text_content(Some(&text));
        let _ = el.set_attribute("data-backend", kind);
        // "auto" says what it measured after it.
        let _ = el.set_attribute("data-adapter", &text);
        let _ = el.set_attribute("title", "Where the networks are trained on this page");
    }
}

/// wgpu leaves the adapter's name empty in the browser; `GPUAdapter.info` has the vendor and
/// architecture (e.g. "google, swiftshader"), which is what a user recognises.
async fn browser_adapter_label() -> Option<String> {
    use js_sys::Reflect;
    let navigator = dom::window().ok()?.navigator();
    let gpu = Reflect::get(&navigator, &"gpu".into()).ok()?;
    let request = Reflect::get(&gpu, &"requestAdapter".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let promise = request.call0(&gpu).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let field = |name: &str| Reflect::get(&info, &name.into()).ok().and_then(|v| v.as_string()).filter(|s| !s.is_empty());
    let parts: Vec<String> = ["description", "vendor", "architecture"].iter().filter_map(|f| field(f)).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn wire_dataset_switch(app: &Rc<App>) -> Result<(), dom::WebError> {
    for id in DataSetId::ALL {
        let button = dom::query(&format!("button[data-dataset=\"{}\"]", id.dir()))?;
        let app = app.clone();
        dom::on_click(&button, move || {
            *app.shown.borrow_mut() = id;
            for other in DataSetId::ALL {
                if let Ok(b) = dom::query(&format!("button[data-dataset=\"{}\"]", other.dir())) {
                    let _ = b.set_attribute("aria-pressed", if other == id { "true" } else { "false" });
                }
            }
            samples::redraw(&app, true);
        });
    }
    Ok(())
}

/// Keys for a presenter: space runs or pauses, `s` steps, `r` resets the demo in front (the one
/// last started, else the one nearest the top of the window), `n` opens the next step of the
/// guided path, `?` shows the list. Keys typed into a field stay the field's.
fn wire_keys(app: &Rc<App>) -> Result<(), dom::WebError> {
    use wasm_bindgen::closure::Closure;
    let a = app.clone();
    let on_key = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        let get = |name: &str| js_sys::Reflect::get(&event, &name.into()).ok();
        let modifier = ["ctrlKey", "metaKey", "altKey"].iter().any(|m| get(m).and_then(|v| v.as_bool()).unwrap_or(false));
        let in_field = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA" | "BUTTON" | "A"));
        let Some(key) = get("key").and_then(|k| k.as_string()) else { return };
        if modifier || in_field {
            return;
        }
        let action = match key.as_str() {
            " " => Some(remote::Press::RunPause),
            "s" => Some(remote::Press::Step),
            "r" => Some(remote::Press::Reset),
            "n" | "ArrowRight" if lesson::shown().is_some() => {
                lesson::go(lesson::shown().unwrap_or(0) + 1);
                None
            }
            "ArrowLeft" if lesson::shown().is_some() => {
                lesson::go(lesson::shown().unwrap_or(1) - 1);
                None
            }
            "n" => {
                next_preset(&a);
                None
            }
            "p" => {
                toggle_presenter(&a);
                None
            }
            "?" => {
                let help = dom::by_id::<web_sys::HtmlElement>("keys-help");
                if let Ok(help) = help {
                    help.set_hidden(!help.hidden());
                }
                None
            }
            _ => return,
        };
        event.prevent_default();
        if let Some(action) = action {
            remote::press(&a, front_demo(&a), action);
        }
    });
    dom::document()?.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
    // The listener lives as long as the page.
    on_key.forget();
    Ok(())
}

/// The demo a key acts on: the one last started, else the one whose section is nearest the top of
/// the window.
fn front_demo(app: &App) -> Pick {
    if let Some(pick) = app.marked_run().and_then(|name| app.pick(name)) {
        return pick;
    }
    // A lesson shows one demo.
    let lesson = lesson::shown().and_then(|n| crate::settings::presets::PRESETS.get(n - 1)).and_then(lesson::demo_of);
    if let Some(pick) = lesson.and_then(|name| app.pick(&name)) {
        return pick;
    }
    let top = |pick: Pick| {
        // Each demo's section is `demo-<name>` (index.html).
        let id = format!("demo-{}", app.demos[pick].name());
        let scrolled = dom::window().ok().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0);
        dom::by_id::<web_sys::HtmlElement>(&id).map_or(f64::INFINITY, |el| f64::from(el.offset_top() + el.offset_height()) - scrolled)
    };
    // The first section whose bottom is still below the top of the window.
    (0..app.demos.len()).find(|&p| top(p) > 80.0).unwrap_or(0)
}

/// Opens the step of the guided path after the one the page shows now (the first when none).
/// Presenter mode: large type, the projector palette, thick chart lines, each demo's settings
/// folded behind a button; written into the URL (`presenter=1`) so a link opens it.
fn toggle_presenter(app: &App) {
    let Ok(body) = dom::body() else { return };
    let on = body.class_list().toggle("presenter").unwrap_or(false);
    dom::set_attr("presenter", "aria-pressed", if on { "true" } else { "false" });
    canvas_chart::set_presenter(on);
    exports::repaint_all();
    app.set_presenter(on);
}

fn wire_presenter(app: &Rc<App>) -> Result<(), dom::WebError> {
    let a = app.clone();
    dom::on_click(&dom::by_id("presenter")?, move || toggle_presenter(&a));
    Ok(())
}

fn next_preset(app: &App) {
    use crate::settings::{presets::PRESETS, query};
    let matches = |p: &crate::settings::presets::Preset| {
        let link = query::parse(p.query, &crate::demos::declarations());
        let wanted = p.query.trim_start_matches('?').split('&').filter_map(|kv| kv.split_once('=')).map(|(k, _)| k.to_string());
        wanted.into_iter().all(|key| {
            if key == query::RUN {
                return link.run == app.marked_run();
            }
            let Some((demo, name)) = key.split_once('.') else { return false };
            let Some(setting) = crate::demos::find(demo).and_then(|(_, d)| d.decl().setting(name)) else { return false };
            let now = app.pick(demo).map(|p| app.demos[p].values.borrow().get(setting).clone());
            now.is_some() && now.as_ref() == link.values(demo).map(|v| v.get(setting))
        })
    };
    let current = PRESETS.iter().rposition(matches);
    let next = current.map_or(0, |i| (i + 1) % PRESETS.len());
    if let Ok(window) = dom::window() {
        let _ = window.location().assign(&PRESETS[next].href());
    }
}
