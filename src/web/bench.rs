//! The bench view (`?view=bench`): the benchmark's networks ([`crate::experiments::bench`]) timed
//! by the wasm build on the CPU in one worker, one thread, then on WebGPU in another worker (its
//! own device), the rows shown as they arrive, the WebGPU rows with what a training step asks of
//! the GPU (dispatches, submits, readbacks and their bytes, buffers and bind groups created). It
//! replaces the demos (nothing else loads or trains meanwhile), so its figures are the browser's
//! counterpart of `metaplastic bench --threads 1` and `--backend gpu`.
//!
//! The address picks the work: `bench.networks` (comma-separated names), `bench.steps` (1 to 200,
//! default 5), `bench.reps` (1 to 20, default 3) and `bench.compute` (`cpu`, `webgpu` or both,
//! default both), and `bench.profile=1` times each kernel of one WebGPU training step alone after
//! the step timings (slow on a software adapter). Under the table, per network on WebGPU, the
//! kernel each dense product runs (timed against the others on this adapter, see
//! `gpu::matmul::tune`) and, when asked, the profile. Unknown names are dropped and values out of range are moved to the nearest
//! allowed one, each with a visible note.

use super::dom::{self, WebError};
use super::protocol::{self, Outgoing};
use crate::demos::messages::{Compute, FromWorker, ToWorker};
use crate::experiments::bench::NETWORKS;
use crate::settings::query;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{ErrorEvent, MessageEvent, Worker};

const STEPS: (usize, usize, usize) = (1, 200, 5);
const REPS: (usize, usize, usize) = (1, 20, 3);

/// What the address asked for, corrected, with a note per correction.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub networks: Vec<&'static str>,
    pub steps: usize,
    pub reps: usize,
    /// The backends, in the order they are timed.
    pub computes: Vec<Compute>,
    /// Time each kernel of a WebGPU step alone too.
    pub profile: bool,
    pub notes: Vec<String>,
}

/// `Some` when the address asks for the bench view (`view=bench`).
pub fn requested(search: &str) -> Option<Request> {
    let pairs: Vec<(String, String)> = search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (query::decode(k), query::decode(v)))
        .collect();
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if get("view") != Some("bench") {
        return None;
    }
    let mut notes = Vec::new();
    let networks = match get("bench.networks") {
        None => NETWORKS.to_vec(),
        Some(list) => {
            let mut picked = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                match NETWORKS.iter().find(|&&n| n == name) {
                    Some(&n) if !picked.contains(&n) => picked.push(n),
                    Some(_) => {}
                    None => notes.push(format!("bench.networks: no network '{name}', left out (choose from {})", NETWORKS.join(", "))),
                }
            }
            if picked.is_empty() {
                notes.push("bench.networks: none left, so every network is timed".into());
                NETWORKS.to_vec()
            } else {
                picked
            }
        }
    };
    let mut count = |key: &str, (lo, hi, default): (usize, usize, usize)| match get(key) {
        None => default,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => {
                let n = (v.round().max(0.0) as usize).clamp(lo, hi);
                if n as f64 != v {
                    notes.push(format!("{key}={text} is outside {lo} to {hi} or not whole: {n} instead"));
                }
                n
            }
            _ => {
                notes.push(format!("{key}={text} is not a number: {default} instead"));
                default
            }
        },
    };
    let steps = count("bench.steps", STEPS);
    let reps = count("bench.reps", REPS);
    let mut computes = Vec::new();
    for name in get("bench.compute").unwrap_or("cpu,webgpu").split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "cpu" if !computes.contains(&Compute::Cpu) => computes.push(Compute::Cpu),
            "webgpu" if !computes.contains(&Compute::WebGpu) => computes.push(Compute::WebGpu),
            "cpu" | "webgpu" => {}
            other => notes.push(format!("bench.compute: no backend '{other}', left out (choose cpu, webgpu or both)")),
        }
    }
    if computes.is_empty() {
        notes.push("bench.compute: none left, so both are timed".into());
        computes = vec![Compute::Cpu, Compute::WebGpu];
    }
    let profile = match get("bench.profile") {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => {
            notes.push(format!("bench.profile={other} is neither 1 nor 0: no profile"));
            false
        }
    };
    Some(Request { networks, steps, reps, computes, profile, notes })
}

struct View {
    worker: Worker,
    req: Rc<Request>,
    /// The backend being timed: an index into `req.computes`.
    at: usize,
    received: usize,
    /// What the backends could not time (WebGPU missing), for the final status.
    missing: Vec<String>,
    _handlers: Option<(Closure<dyn FnMut(MessageEvent)>, Closure<dyn FnMut(ErrorEvent)>)>,
}

fn compute_name(c: Compute) -> &'static str {
    match c {
        Compute::Cpu => "the CPU (WebAssembly, one thread)",
        Compute::WebGpu => "WebGPU",
    }
}

/// Shows the bench view and starts the first worker; the rows fill in as each network is timed,
/// one backend after the other, so the two never share the machine.
pub fn start(req: Request) -> Result<(), WebError> {
    let body = dom::body()?;
    body.class_list().add_1("bench-view")?;
    dom::by_id::<web_sys::HtmlElement>("bench-view")?.set_hidden(false);
    if !req.notes.is_empty() {
        let note = dom::by_id::<web_sys::HtmlElement>("settings-note")?;
        note.set_text_content(Some(&format!("The address was corrected: {}.", req.notes.join("; "))));
        note.set_hidden(false);
    }
    time_on(Rc::new(req), 0, 0, Vec::new())
}

/// Times every network on backend `at` of the request in a fresh worker; the next backend starts
/// when this one is done.
fn time_on(req: Rc<Request>, at: usize, received: usize, missing: Vec<String>) -> Result<(), WebError> {
    let Some(&compute) = req.computes.get(at) else {
        return Ok(finish(&req, received, &missing));
    };
    let what = format!("{} steps x {} repetitions per network", req.steps, req.reps);
    dom::set_text("bench-status", &format!("Timing {} networks ({what}) on {} in a worker…", req.networks.len(), compute_name(compute)));
    let worker = Worker::new(super::remote::WORKER_SCRIPT)?;
    let view = Rc::new(RefCell::new(View { worker: worker.clone(), req: req.clone(), at, received, missing, _handlers: None }));
    let v = view.clone();
    let message = Outgoing::plain(ToWorker::Bench { networks: req.networks.iter().map(|n| n.to_string()).collect(), steps: req.steps, reps: req.reps, backend: compute, profile: req.profile });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let outcome = match protocol::read::<FromWorker>(&event.data()).map(|(m, _)| m) {
            Ok(FromWorker::Ready) => protocol::to_worker(&v.borrow().worker, &message).map_err(|e| e.to_string()),
            Ok(FromWorker::BenchRun { run }) => add_row(&run).map_err(|e| e.to_string()).map(|()| {
                let mut view = v.borrow_mut();
                view.received += 1;
                dom::set_text("bench-status", &format!("Timed {} networks; now on {} ({what})…", view.received, compute_name(compute)));
            }),
            Ok(FromWorker::BenchDone) => next(&v),
            // No adapter here: the CPU's rows stand, and the status says why WebGPU has none.
            Ok(FromWorker::Failed { message, gpu_lost: true }) => {
                v.borrow_mut().missing.push(message);
                next(&v)
            }
            Ok(FromWorker::Failed { message, .. }) => Err(message),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(message) = outcome {
            fail(&format!("The benchmark stopped: {message}"));
        }
    });
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        event.prevent_default();
        fail(&format!("The benchmark's worker crashed ({})", event.message()));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    view.borrow_mut()._handlers = Some((on_message, on_error));
    // The view lives as long as the page.
    std::mem::forget(view);
    Ok(())
}

/// This backend is done: its worker ends and the next backend starts.
fn next(view: &Rc<RefCell<View>>) -> Result<(), String> {
    let (req, at, received, missing) = {
        let v = view.borrow();
        v.worker.terminate();
        (v.req.clone(), v.at, v.received, v.missing.clone())
    };
    time_on(req, at + 1, received, missing).map_err(|e| e.to_string())
}

fn finish(req: &Request, received: usize, missing: &[String]) {
    let on: Vec<&str> = req.computes.iter().map(|&c| compute_name(c)).collect();
    let mut status = format!("Done: {received} run(s) of {} network(s), {} steps x {} repetitions, on {}.", req.networks.len(), req.steps, req.reps, on.join(" and "));
    for m in missing {
        status.push_str(&format!(" {m}."));
    }
    dom::set_text("bench-status", &status);
    let _ = dom::by_id::<web_sys::Element>("bench-view").and_then(|e| Ok(e.set_attribute("data-state", "done")?));
}

fn fail(message: &str) {
    dom::set_text("bench-status", message);
    let _ = dom::by_id::<web_sys::Element>("bench-view").and_then(|e| Ok(e.set_attribute("data-state", "failed")?));
}

/// One row of the table from one run of the benchmark's JSON.
fn add_row(run: &serde_json::Value) -> Result<(), WebError> {
    let num = |k: &str| run[k].as_f64().unwrap_or(f64::NAN);
    let backend = run["backend"].as_str().unwrap_or("?").to_string();
    let counts = match run["submits_per_step"].as_u64() {
        Some(submits) => format!(
            "{} / {submits} / {} ({} B) / {}",
            num("dispatches_per_step"),
            num("readbacks_per_step"),
            num("readback_bytes_per_step"),
            num("buffers_per_step")
        ),
        None => "–".into(),
    };
    let cells = [
        run["network"].as_str().unwrap_or("?").to_string(),
        backend.clone(),
        format!("{}", num("batch")),
        format!("{:.0}", num("examples_per_s")),
        format!("{:.2}", num("ms_per_step")),
        format!("{:.2}..{:.2}", num("ms_per_step_min"), num("ms_per_step_max")),
        counts,
    ];
    let document = dom::document()?;
    let tbody = dom::query("#bench-table tbody")?;
    let row = document.create_element("tr")?;
    row.set_attribute("data-network", &cells[0])?;
    row.set_attribute("data-backend", &backend)?;
    row.set_attribute("data-examples-per-s", &num("examples_per_s").to_string())?;
    for key in ["submits_per_step", "readbacks_per_step", "buffers_per_step", "dispatches_per_step"] {
        if let Some(v) = run[key].as_u64() {
            row.set_attribute(&format!("data-{}", key.replace('_', "-")), &v.to_string())?;
        }
    }
    for (i, text) in cells.iter().enumerate() {
        let cell = document.create_element(if i == 0 { "th" } else { "td" })?;
        if i == 0 {
            cell.set_attribute("scope", "row")?;
        }
        cell.set_text_content(Some(text));
        row.append_child(&cell)?;
    }
    tbody.append_child(&row)?;
    add_kernels(run, &cells[0], &backend)
}

/// What a WebGPU run says of its kernels, as a list item under the table: each dense product's
/// kernel with its time and the other kernel's, and the profile when one was taken.
fn add_kernels(run: &serde_json::Value, network: &str, backend: &str) -> Result<(), WebError> {
    let lines = |key: &str| run[key].as_array().map(|a| a.iter().filter_map(|v| v["line"].as_str().map(String::from)).collect::<Vec<_>>()).unwrap_or_default();
    let (products, kernels) = (lines("matmul"), lines("kernels"));
    if products.is_empty() && kernels.is_empty() {
        return Ok(());
    }
    let document = dom::document()?;
    let item = document.create_element("li")?;
    item.set_attribute("data-network", network)?;
    item.set_attribute("data-backend", backend)?;
    item.set_attribute("data-detail", &serde_json::json!({ "matmul": run["matmul"], "kernels": run["kernels"], "empty_submit_ms": run["empty_submit_ms"] }).to_string())?;
    let mut text = format!("{network} on {backend}. Dense products: {}.", if products.is_empty() { "none".to_string() } else { products.join("; ") });
    if !kernels.is_empty() {
        text.push_str(&format!(
            " Each kernel of one step run alone (an empty submit and wait: {:.2} ms): {}.",
            run["empty_submit_ms"].as_f64().unwrap_or(f64::NAN),
            kernels.join("; ")
        ));
    }
    item.set_text_content(Some(&text));
    dom::query("#bench-kernels")?.append_child(&item)?;
    Ok(())
}
