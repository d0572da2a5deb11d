//! The lesson view, `?lesson=N`: step N of the guided path (`crate::settings::presets`) as one
//! projector screen. The page is the same page: a class on `<body>` hides everything but the step's
//! demo, and inside it everything but its controls, its state line and the step's one chart (CSS,
//! `static/style.css`); the lesson bar above says which step this is and what to look for, and
//! moves through the path (buttons, arrow keys). "Whole page" takes the class off again, in place,
//! so a run under way goes on with every chart and explanation back on screen.

use super::{App, dom};
use crate::settings::presets::{PRESETS, Preset};
use std::cell::Cell;
use std::rc::Rc;

thread_local! {
    /// The step shown as a lesson (1-based), while the lesson view is on.
    static SHOWN: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The step shown as a lesson, if the lesson view is on.
pub fn shown() -> Option<usize> {
    SHOWN.with(Cell::get)
}

/// The state line a lesson shows: where the run stands ("Task 2 of 3, batch 140 of 600"), without
/// the speed that follows the last " · " (a room watches the task, not the rate).
pub fn state_line(status: &str) -> &str {
    if shown().is_none() {
        return status;
    }
    status.rsplit_once(" · ").map_or(status, |(place, _)| place)
}

/// The demo a step runs: the one whose section holds the step's chart (`demo-<name>`).
pub fn demo_of(preset: &Preset) -> Option<String> {
    let chart = dom::by_id::<web_sys::Element>(preset.chart).ok()?;
    let section = chart.closest("section.demo").ok()??;
    section.id().strip_prefix("demo-").map(str::to_string)
}

/// Opens step `n` (1-based, already checked by the link's reading) as the lesson view.
pub fn open(app: &Rc<App>, n: usize) -> Result<(), dom::WebError> {
    let Some(preset) = n.checked_sub(1).and_then(|i| PRESETS.get(i)) else { return Ok(()) };
    let chart = dom::by_id::<web_sys::Element>(preset.chart)?;
    let figure = chart.closest("figure")?.ok_or_else(|| dom::WebError::MissingElement(format!("the figure of #{}", preset.chart)))?;
    let section = chart.closest("section")?.ok_or_else(|| dom::WebError::MissingElement(format!("the section of #{}", preset.chart)))?;
    figure.class_list().add_1("lesson-chart")?;
    section.class_list().add_1("lesson-shown")?;
    dom::set_text("lesson-count", &format!("{n} / {}", PRESETS.len()));
    dom::set_attr("lesson-count", "aria-label", &format!("Step {n} of {}", PRESETS.len()));
    dom::set_text("lesson-title", preset.title);
    dom::set_text("lesson-look", preset.look_at);
    if let Ok(status) = dom::by_id::<web_sys::Element>(&format!("{}-status", status_prefix(&section))) {
        status.set_text_content(Some("Press Run (or space) to start."));
    }
    // Only the step's chart: its caption is the sentence in the bar, its downloads one click away.
    let prev = dom::by_id::<web_sys::HtmlButtonElement>("lesson-prev")?;
    let next = dom::by_id::<web_sys::HtmlButtonElement>("lesson-next")?;
    prev.set_disabled(n == 1);
    next.set_disabled(n == PRESETS.len());
    dom::on_click(&prev, move || go(n.saturating_sub(1)));
    dom::on_click(&next, move || go(n + 1));
    let a = app.clone();
    dom::on_click(&dom::by_id("lesson-exit")?, move || close(&a));
    SHOWN.with(|s| s.set(Some(n)));
    dom::body()?.class_list().add_1("lesson")?;
    dom::set_hidden("lesson-bar", false);
    app.set_lesson(Some(n));
    Ok(())
}

/// The id prefix of a demo section's elements (`bnn`, `lenet`, `hebb`): its Run button's.
fn status_prefix(section: &web_sys::Element) -> String {
    section
        .query_selector("button.primary[id$=\"-run\"]")
        .ok()
        .flatten()
        .and_then(|b| b.id().strip_suffix("-run").map(str::to_string))
        .unwrap_or_default()
}

/// Opens step `n` of the path as a lesson (a new page: a step is a link), keeping presenter mode.
pub fn go(n: usize) {
    if n == 0 || n > PRESETS.len() {
        return;
    }
    let presenter = dom::body().is_ok_and(|b| b.class_list().contains("presenter"));
    let href = format!("?{}={n}{}", crate::settings::query::LESSON, if presenter { "&presenter=1" } else { "" });
    if let Ok(window) = dom::window() {
        let _ = window.location().assign(&href);
    }
}

/// Back to the whole page, in place: the run goes on, the settings and every chart come back.
fn close(app: &Rc<App>) {
    SHOWN.with(|s| s.set(None));
    let Ok(document) = dom::document() else { return };
    if let Ok(body) = dom::body() {
        let _ = body.class_list().remove_1("lesson");
    }
    dom::set_hidden("lesson-bar", true);
    let mut shown_section = None;
    for class in ["lesson-chart", "lesson-shown"] {
        if let Ok(list) = document.query_selector_all(&format!(".{class}")) {
            for i in 0..list.length() {
                if let Some(el) = list.item(i).and_then(|n| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(n).ok()) {
                    let _ = el.class_list().remove_1(class);
                    if class == "lesson-shown" {
                        shown_section = Some(el);
                    }
                }
            }
        }
    }
    app.set_lesson(None);
    super::exports::repaint_all();
    for pick in 0..app.demos.len() {
        super::remote::refresh(app, pick);
    }
    if let Some(section) = shown_section {
        section.scroll_into_view();
    }
}
