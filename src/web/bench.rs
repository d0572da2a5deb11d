//! The bench view (`?view=bench`): the benchmark's networks ([`crate::experiments::bench`]) timed
//! by the wasm build on the CPU in one worker, one thread, the rows shown as they arrive. It
//! replaces the demos (nothing else loads or trains meanwhile), so its figures are the browser's
//! counterpart of `metaplastic bench --threads 1`.
//!
//! The address picks the work: `bench.networks` (comma-separated names), `bench.steps` (1 to 200,
//! default 5) and `bench.reps` (1 to 20, default 3). Unknown names are dropped and values out of
//! range are moved to the nearest allowed one, each with a visible note.

use super::dom::{self, WebError};
use super::protocol::{self, Outgoing};
use crate::demos::messages::{FromWorker, ToWorker};
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
    Some(Request { networks, steps, reps, notes })
}

struct View {
    worker: Worker,
    expected: usize,
    received: usize,
    _handlers: Option<(Closure<dyn FnMut(MessageEvent)>, Closure<dyn FnMut(ErrorEvent)>)>,
}

/// Shows the bench view and starts the worker; the rows fill in as each network is timed.
pub fn start(req: Request) -> Result<(), WebError> {
    let body = dom::body()?;
    body.class_list().add_1("bench-view")?;
    dom::by_id::<web_sys::HtmlElement>("bench-view")?.set_hidden(false);
    if !req.notes.is_empty() {
        let note = dom::by_id::<web_sys::HtmlElement>("settings-note")?;
        note.set_text_content(Some(&format!("The address was corrected: {}.", req.notes.join("; "))));
        note.set_hidden(false);
    }
    let what = format!("{} steps x {} repetitions per network", req.steps, req.reps);
    dom::set_text("bench-status", &format!("Timing {} networks ({what}) on the CPU in a worker…", req.networks.len()));
    let worker = Worker::new(super::remote::WORKER_SCRIPT)?;
    let view = Rc::new(RefCell::new(View { worker: worker.clone(), expected: req.networks.len(), received: 0, _handlers: None }));
    let v = view.clone();
    let message = Outgoing::plain(ToWorker::Bench { networks: req.networks.iter().map(|n| n.to_string()).collect(), steps: req.steps, reps: req.reps });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let outcome = match protocol::read::<FromWorker>(&event.data()).map(|(m, _)| m) {
            Ok(FromWorker::Ready) => protocol::to_worker(&v.borrow().worker, &message).map_err(|e| e.to_string()),
            Ok(FromWorker::BenchRun { run }) => add_row(&run).map_err(|e| e.to_string()).map(|()| {
                let mut view = v.borrow_mut();
                view.received += 1;
                dom::set_text("bench-status", &format!("Timed {} of {} networks ({what})…", view.received, view.expected));
            }),
            Ok(FromWorker::BenchDone) => {
                dom::set_text("bench-status", &format!("Done: {} network(s), {what}, on the CPU (WebAssembly, one thread).", v.borrow().received));
                let _ = dom::by_id::<web_sys::Element>("bench-view").and_then(|e| Ok(e.set_attribute("data-state", "done")?));
                Ok(())
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

fn fail(message: &str) {
    dom::set_text("bench-status", message);
    let _ = dom::by_id::<web_sys::Element>("bench-view").and_then(|e| Ok(e.set_attribute("data-state", "failed")?));
}

/// One row of the table from one run of the benchmark's JSON.
fn add_row(run: &serde_json::Value) -> Result<(), WebError> {
    let num = |k: &str| run[k].as_f64().unwrap_or(f64::NAN);
    let cells = [
        run["network"].as_str().unwrap_or("?").to_string(),
        format!("{}", num("batch")),
        format!("{:.0}", num("examples_per_s")),
        format!("{:.2}", num("ms_per_step")),
        format!("{:.2}..{:.2}", num("ms_per_step_min"), num("ms_per_step_max")),
    ];
    let document = dom::document()?;
    let tbody = dom::query("#bench-table tbody")?;
    let row = document.create_element("tr")?;
    let _ = row.set_attribute("data-network", &cells[0]);
    let _ = row.set_attribute("data-examples-per-s", &num("examples_per_s").to_string());
    for (i, text) in cells.iter().enumerate() {
        let cell = document.create_element(if i == 0 { "th" } else { "td" })?;
        if i == 0 {
            let _ = cell.set_attribute("scope", "row");
        }
        cell.set_text_content(Some(text));
        row.append_child(&cell)?;
    }
    tbody.append_child(&row)?;
    Ok(())
}
