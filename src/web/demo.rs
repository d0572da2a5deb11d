//! What every demo's page side shares: reading its view controls, choosing its backend, and the page's data
//! as the experiments see it. The run itself lives in workers (see `remote` and `worker`).

use super::{App, dom};
use crate::backend::Backend;
use std::cell::RefCell;
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};

// ---------------------------------------------------------------------------------------------
// Reading the view controls (the settings themselves are read through `form`)
// ---------------------------------------------------------------------------------------------

pub fn select_value(id: &str) -> String {
    dom::by_id::<HtmlSelectElement>(id).map(|s| s.value()).unwrap_or_default()
}

pub fn number<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, String> {
    let raw = dom::by_id::<HtmlInputElement>(id).map(|i| i.value()).map_err(|e| e.to_string())?;
    raw.trim().parse().map_err(|_| format!("{what}: '{raw}' is not a valid number"))
}

/// The backend a demo's `compute` setting asks for. "auto" takes WebGPU on a hardware adapter; a
/// software adapter (SwiftShader, llvmpipe) computes correctly but far slower than the CPU path,
/// so auto skips it.
pub fn backend(app: &App, compute: &str) -> Result<(Backend, String), String> {
    let gpu = app.gpu.borrow().as_ref().filter(|ctx| ctx.check_alive().is_ok()).cloned();
    let backend = match (compute, gpu) {
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

/// The browser's data as the experiments see it: borrowed only inside each call.
pub(super) struct SlotData(pub(super) Rc<RefCell<super::loader::DataSlot>>);

impl crate::experiments::DataAccess for SlotData {
    fn with_train(&self, f: &mut dyn FnMut(&dyn crate::data::Examples)) {
        f(&self.0.borrow().train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn crate::data::Examples)) {
        f(&self.0.borrow().test)
    }
}

pub fn canvas(id: &str) -> Option<web_sys::HtmlCanvasElement> {
    dom::by_id::<web_sys::HtmlCanvasElement>(id).ok()
}
