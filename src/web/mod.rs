//! The browser app: the only module that knows about the DOM. It wires the page in `index.html`
//! to the data, the backends and the experiments, and turns typed errors into messages.
//!
//! Two entry points, one per wasm binary trunk builds: [`start_page`] (the page's main thread:
//! data, forms, charts) and [`start_worker`] (a training worker, one per network of a comparison).

mod bnn_demo;
mod canvas_chart;
mod demo;
mod hebbian_demo;
mod lenet_demo;
mod dom;
mod loader;
mod protocol;
mod remote;
mod samples;
mod worker;

use crate::data::DataSetId;
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
    pub bnn: bnn_demo::BnnDemo,
    pub lenet: lenet_demo::LenetDemo,
    pub hebbian: hebbian_demo::HebbianDemo,
}

impl App {
    pub fn slot(&self, id: DataSetId) -> &Rc<RefCell<loader::DataSlot>> {
        &self.data[id as usize]
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
    let app = Rc::new(App {
        data: DataSetId::ALL.map(|id| Rc::new(RefCell::new(loader::DataSlot::new(id)))),
        gpu: RefCell::new(None),
        shown: RefCell::new(DataSetId::Mnist),
        samples: RefCell::new(samples::SampleGrid::new()),
        bnn: bnn_demo::new_demo(),
        lenet: lenet_demo::new_demo(),
        hebbian: hebbian_demo::new_demo(),
    });
    wire_dataset_switch(&app)?;
    samples::wire_shuffle(&app)?;
    bnn_demo::wire(&app)?;
    lenet_demo::wire(&app)?;
    hebbian_demo::wire(&app)?;
    for id in DataSetId::ALL {
        loader::start(&app, id)?;
    }
    wasm_bindgen_futures::spawn_local(probe_backend(app.clone()));
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
