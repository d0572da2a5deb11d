//! Downloads: every chart as PNG (the canvas as drawn) and as SVG (the same figure through the SVG
//! renderer the command-line tool uses), and a demo's run as `summary.json` and `metrics.csv`, the
//! two files the tool writes, so a classroom run and a headless run compare directly.

use super::{canvas_chart, dom};
use crate::charts::Figure;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlAnchorElement, HtmlButtonElement, HtmlCanvasElement};

thread_local! {
    /// The figure each chart canvas shows now, by canvas id: its SVG download is drawn from it.
    static SHOWN: RefCell<HashMap<String, Figure>> = RefCell::new(HashMap::new());
    /// Charts waiting to be painted, by canvas id, in order; a newer figure for the same canvas
    /// replaces a waiting one.
    static QUEUE: RefCell<Queue> = RefCell::new(Queue::default());
}

#[derive(Default)]
struct Queue {
    waiting: std::collections::VecDeque<(String, Figure)>,
    /// The chart being painted: its canvas id, its figure and how far it got.
    current: Option<(String, Figure, canvas_chart::Painting)>,
    /// Where charts are painted before they are shown: one canvas off the page, for every chart.
    scratch: Option<HtmlCanvasElement>,
    frame_pending: bool,
}

/// Milliseconds of painting per animation frame: a chart takes a few frames, and no frame grows
/// long, even with the training workers taking every core.
const PAINT_MS: f64 = 3.0;

/// Draws `fig` on `canvas` (unless it shows that figure already) and keeps it for the SVG download.
/// The figure is painted off the page a few milliseconds per animation frame, then shown whole.
pub fn draw_chart(canvas: &HtmlCanvasElement, fig: Figure) -> Result<(), JsValue> {
    let id = canvas.id();
    if SHOWN.with(|s| s.borrow().get(&id) == Some(&fig)) {
        return Ok(());
    }
    enqueue(id, fig);
    Ok(())
}

/// Draws every chart again as it is (the page's look changed: presenter mode).
pub fn repaint_all() {
    let shown: Vec<(String, Figure)> = SHOWN.with(|s| s.borrow().iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    for (id, fig) in shown {
        enqueue(id, fig);
    }
}

fn enqueue(id: String, fig: Figure) {
    let schedule = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        match q.waiting.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) => slot.1 = fig,
            None => q.waiting.push_back((id, fig)),
        }
        !std::mem::replace(&mut q.frame_pending, true)
    });
    if schedule {
        request_frame();
    }
}

fn request_frame() {
    let callback = wasm_bindgen::closure::Closure::once_into_js(pump);
    if dom::window().and_then(|w| Ok(w.request_animation_frame(callback.unchecked_ref())?)).is_err() {
        QUEUE.with(|q| q.borrow_mut().frame_pending = false);
    }
}

/// One animation frame's painting: charts in turn until the frame's few milliseconds are spent.
fn pump() {
    let start = dom::now();
    let done = move || dom::now() - start > PAINT_MS;
    loop {
        let step = QUEUE.with(|q| -> Result<Option<(String, Figure)>, JsValue> {
            let mut q = q.borrow_mut();
            if q.current.is_none() {
                let Some((id, fig)) = q.waiting.pop_front() else { return Ok(None) };
                if q.scratch.is_none() {
                    q.scratch = Some(dom::document().map_err(|e| JsValue::from_str(&e.to_string()))?.create_element("canvas")?.dyn_into()?);
                }
                let scratch = q.scratch.as_ref().ok_or_else(|| JsValue::from_str("no scratch canvas"))?;
                let painting = canvas_chart::Painting::begin(scratch, &fig)?;
                q.current = Some((id, fig, painting));
            }
            let Some((_, fig, painting)) = q.current.as_mut() else { return Ok(None) };
            if !painting.paint_some(fig, &done)? {
                return Ok(None);
            }
            let Some((id, fig, _)) = q.current.take() else { return Ok(None) };
            let scratch = q.scratch.as_ref().ok_or_else(|| JsValue::from_str("no scratch canvas"))?;
            if let Ok(canvas) = dom::by_id::<HtmlCanvasElement>(&id) {
                canvas_chart::show(&canvas, scratch, &fig)?;
            }
            Ok(Some((id, fig)))
        });
        match step {
            Ok(Some((id, fig))) => {
                let first = SHOWN.with(|s| s.borrow_mut().insert(id.clone(), fig).is_none());
                chart_drawn(&id, first);
                if done() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                log::warn!("a chart could not be painted: {}", dom::describe(&e));
                QUEUE.with(|q| q.borrow_mut().current = None);
                break;
            }
        }
    }
    let more = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        let more = q.current.is_some() || !q.waiting.is_empty();
        q.frame_pending = more;
        more
    });
    if more {
        request_frame();
    }
}

/// A chart's text alternative: its label (role img, in the HTML), described by its caption (what to
/// look for); the numbers behind it are the demo's metrics.csv and summary.json. Where a figure has
/// a caption per experiment or task (`data-for`), the one shown describes it.
fn describe(figure: &Element) -> Result<(), dom::WebError> {
    let captions = figure.query_selector_all("figcaption")?;
    let shown = (0..captions.length())
        .filter_map(|i| captions.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()))
        .enumerate()
        .find(|(_, c)| !c.hidden());
    let Some((i, caption)) = shown else { return Ok(()) };
    if caption.id().is_empty() {
        let first = figure.query_selector("canvas[id]")?.map(|c| c.id()).unwrap_or_default();
        caption.set_id(&format!("{first}-caption-{i}"));
    }
    let canvases = figure.query_selector_all("canvas[id]")?;
    for j in 0..canvases.length() {
        if let Some(canvas) = canvases.item(j).and_then(|n| n.dyn_into::<Element>().ok()) {
            canvas.set_attribute("aria-describedby", &caption.id())?;
        }
    }
    Ok(())
}

/// Points every chart at its shown caption again, after captions were switched (`data-for`).
pub fn describe_charts() {
    let Ok(figures) = dom::document().and_then(|d| Ok(d.query_selector_all("figure.chart")?)) else { return };
    for i in 0..figures.length() {
        if let Some(figure) = figures.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
            let _ = describe(&figure);
        }
    }
}

/// Adds PNG and SVG buttons under every chart canvas, disabled until the chart is first drawn, and
/// one listener for all of them.
pub fn wire_charts() -> Result<(), dom::WebError> {
    let document = dom::document()?;
    let figures = document.query_selector_all("figure.chart")?;
    for i in 0..figures.length() {
        let Some(figure) = figures.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let canvases = figure.query_selector_all("canvas[id]")?;
        if canvases.length() == 0 {
            continue;
        }
        describe(&figure)?;
        let tools = document.create_element("div")?;
        tools.set_class_name("chart-tools");
        tools.set_attribute("role", "group")?;
        tools.set_attribute("aria-label", "Download this chart")?;
        let several = canvases.length() > 1;
        let mut html = String::new();
        for j in 0..canvases.length() {
            let Some(canvas) = canvases.item(j).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let id = canvas.id();
            let label = canvas
                .get_attribute("aria-label")
                .unwrap_or_else(|| id.clone());
            // In a figure of several canvases, each pair says which one it saves.
            let short = label.rsplit(", ").next().unwrap_or(&label).to_string();
            html.push_str(&format!(
                "<span class=\"chart-tool\" data-canvas=\"{id}\"{}>",
                if canvas.has_attribute("hidden") {
                    " hidden"
                } else {
                    ""
                }
            ));
            if several {
                html.push_str(&format!(
                    "<span class=\"chart-tool-name\">{}</span>",
                    escape(&short)
                ));
            }
            for kind in ["png", "svg"] {
                html.push_str(&format!(
                    "<button type=\"button\" data-export=\"{kind}\" data-canvas=\"{id}\" disabled title=\"Download {label} as {upper}\" aria-label=\"Download {label} as {upper}\">{upper}</button>",
                    label = escape(&label),
                    upper = kind.to_ascii_uppercase(),
                ));
            }
            html.push_str("</span>");
        }
        tools.set_inner_html(&html);
        figure.append_child(&tools)?;
    }
    let body: Element = dom::body()?.into();
    dom::on_click_event(&body, |event| {
        let Some(button) = event
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest("button[data-export]").ok().flatten())
        else {
            return;
        };
        let (Some(kind), Some(id)) = (
            button.get_attribute("data-export"),
            button.get_attribute("data-canvas"),
        ) else {
            return;
        };
        let saved = match kind.as_str() {
            "png" => save_png(&id),
            // As shown: in presenter mode, the projector palette.
            _ => match SHOWN.with(|s| s.borrow().get(&id).map(|fig| canvas_chart::as_shown(fig).as_ref().unwrap_or(fig).to_svg())) {
                Some(svg) => download_text(&format!("{id}.svg"), "image/svg+xml", &svg),
                None => Err(JsValue::from_str("nothing is drawn there yet")),
            },
        };
        if let Err(e) = saved {
            log::warn!("download of {id} as {kind} failed: {e:?}");
        }
    });
    Ok(())
}

/// Called at each drawing of canvas `id`: the first enables its download buttons, and each shows
/// or hides its group with the canvas (a demo shows some canvases only for some runs).
fn chart_drawn(id: &str, first: bool) {
    let Ok(document) = dom::document() else {
        return;
    };
    if first {
        if let Ok(buttons) = document.query_selector_all(&format!("button[data-canvas=\"{id}\"]")) {
            for i in 0..buttons.length() {
                if let Some(b) = buttons
                    .item(i)
                    .and_then(|n| n.dyn_into::<HtmlButtonElement>().ok())
                {
                    b.set_disabled(false);
                }
            }
        }
    }
    let hidden = dom::by_id::<Element>(id).map_or(true, |c| c.has_attribute("hidden"));
    if let Ok(Some(group)) =
        document.query_selector(&format!("span.chart-tool[data-canvas=\"{id}\"]"))
    {
        if group.has_attribute("hidden") != hidden {
            let _ = if hidden {
                group.set_attribute("hidden", "")
            } else {
                group.remove_attribute("hidden")
            };
        }
    }
}

fn save_png(id: &str) -> Result<(), JsValue> {
    let canvas =
        dom::by_id::<HtmlCanvasElement>(id).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let url = canvas.to_data_url()?;
    click_link(&format!("{id}.png"), &url)
}

/// Offers `text` as a file download named `name`.
pub fn download_text(name: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let clicked = click_link(name, &url);
    // The download has its own reference to the blob once the click is handled.
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    clicked
}

fn click_link(name: &str, href: &str) -> Result<(), JsValue> {
    let document = dom::document().map_err(|e| JsValue::from_str(&e.to_string()))?;
    let a: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(href);
    a.set_download(name);
    // Clicked while detached: in the page, its click would bubble into the listener that is
    // handling the button's click right now.
    a.click();
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}
