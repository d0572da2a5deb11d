//! A demo's form, built from its declaration (`crate::settings`): one field per setting, with the
//! declared label, range and help, so the page holds no range of its own. The fields are read back
//! as raw text and checked by the declaration; the page's state then goes into the URL.

use super::dom;
use crate::settings::{self, Demo, Kind, Setting, Value, Values, query};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};

/// `&`, `<`, `>` and `"` as HTML entities: labels and help go into attributes and text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML of one setting's field, showing `value`.
fn field_html(demo: &Demo, s: &Setting, value: &Value) -> String {
    let id = demo.field_id(s);
    let when = s.only_when.map(|(other, v)| format!(" data-when=\"{other}={v}\"")).unwrap_or_default();
    let head = format!("data-setting=\"{}\" title=\"{}\"{when}", s.name, escape(s.help));
    let value = escape(&value.to_string());
    let label = escape(s.label);
    match s.kind {
        Kind::Int { min, max } => {
            format!("<label {head}>{label} <input id=\"{id}\" name=\"{}\" type=\"number\" min=\"{min}\" max=\"{max}\" step=\"1\" value=\"{value}\"></label>", s.name)
        }
        Kind::Float { min, max, step } => format!(
            "<label {head}>{label} <input id=\"{id}\" name=\"{}\" type=\"number\" min=\"{}\" max=\"{}\" step=\"{}\" value=\"{value}\"></label>",
            s.name,
            settings::fmt_float(min),
            settings::fmt_float(max),
            settings::fmt_float(step)
        ),
        Kind::FloatList { .. } => format!(
            "<label {head}>{label} <input id=\"{id}\" name=\"{}\" type=\"text\" inputmode=\"decimal\" size=\"9\" value=\"{value}\"></label>",
            s.name
        ),
        Kind::Choice(choices) => {
            let options: String = choices
                .iter()
                .map(|c| format!("<option value=\"{}\"{}>{}</option>", c.value, if value == c.value { " selected" } else { "" }, escape(c.label)))
                .collect();
            format!("<label {head}>{label} <select id=\"{id}\" name=\"{}\">{options}</select></label>", s.name)
        }
        Kind::Bool => format!(
            "<label class=\"check\" {head}><input id=\"{id}\" name=\"{}\" type=\"checkbox\"{}> {label}</label>",
            s.name,
            if value == "true" { " checked" } else { "" }
        ),
    }
}

/// Fills `#<prefix>-fields` with the demo's fields, showing `values`.
pub fn build(values: &Values) -> Result<(), dom::WebError> {
    let demo = values.demo;
    let container = dom::by_id::<web_sys::Element>(&format!("{}-fields", demo.prefix))?;
    let html: String = values.iter().map(|(s, v)| field_html(demo, s, v)).collect();
    container.set_inner_html(&html);
    show_applicable(demo);
    Ok(())
}

/// The raw text of every field, as the declaration reads it (a checkbox as `true` / `false`).
pub fn raw(demo: &'static Demo) -> Vec<(&'static str, String)> {
    demo.settings
        .iter()
        .filter_map(|s| {
            let id = demo.field_id(s);
            let text = match s.kind {
                Kind::Bool => dom::by_id::<HtmlInputElement>(&id).ok()?.checked().to_string(),
                Kind::Choice(_) => dom::by_id::<HtmlSelectElement>(&id).ok()?.value(),
                _ => dom::by_id::<HtmlInputElement>(&id).ok()?.value(),
            };
            Some((s.name, text))
        })
        .collect()
}

/// Hides the fields that do not apply under the choices now in the form (the stream's fields in a
/// permuted-MNIST run). Reads the raw choices, so it follows the form even while a number in it
/// is refused.
pub fn show_applicable(demo: &'static Demo) {
    let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all(&format!("#{}-fields [data-when]", demo.prefix))?)) else { return };
    let raw = raw(demo);
    for i in 0..list.length() {
        let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) else { continue };
        let Some((other, value)) = el.get_attribute("data-when").and_then(|w| w.split_once('=').map(|(a, b)| (a.to_string(), b.to_string()))) else { continue };
        let now = raw.iter().find(|(name, _)| *name == other).map(|(_, v)| v.as_str());
        el.set_hidden(now != Some(value.as_str()));
    }
}

/// Writes the page's state into its URL without a new history entry: a reload or a copied link
/// gives the same settings (and, with `run`, starts the same run).
pub fn write_url(values: &[&Values], run: Option<&str>, view: query::View) {
    let Ok(window) = dom::window() else { return };
    let Ok(history) = window.history() else { return };
    let hash = window.location().hash().unwrap_or_default();
    let url = format!("{}{hash}", query::write(values, run, view));
    // Each write is a same-document navigation for the browser (milliseconds): skip a no-op.
    let search = window.location().search().unwrap_or_default();
    if url == format!("{search}{hash}") {
        return;
    }
    if let Err(e) = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url)) {
        log::warn!("could not write the settings into the URL: {}", dom::describe(&e));
    }
}

/// Shows what a link asked for that the page changed or ignored, and marks the fields concerned.
pub fn show_notes(notes: &[query::Note]) {
    let Ok(note) = dom::by_id::<web_sys::HtmlElement>("settings-note") else { return };
    if notes.is_empty() {
        note.set_hidden(true);
        return;
    }
    let items: String = notes
        .iter()
        .map(|n| format!("<li data-key=\"{}\">{}</li>", escape(n.key().unwrap_or("")), escape(&n.to_string())))
        .collect();
    note.set_inner_html(&format!(
        "<strong>This link asked for settings the page cannot use as written;</strong> it uses the nearest allowed values instead:<ul>{items}</ul><button type=\"button\" id=\"settings-note-close\">OK</button>"
    ));
    note.set_hidden(false);
    if let Ok(close) = dom::by_id::<web_sys::Element>("settings-note-close") {
        dom::on_click(&close, || dom::set_hidden("settings-note", true));
    }
    for key in notes.iter().filter_map(query::Note::key) {
        let Some((demo, name)) = key.split_once('.') else { continue };
        let Some(demo) = crate::demos::find(demo).map(|(_, d)| d.decl()) else { continue };
        let Some(setting) = demo.setting(name) else { continue };
        if let Ok(field) = dom::by_id::<web_sys::Element>(&demo.field_id(setting)) {
            let _ = field.set_attribute("data-corrected", "1");
            let _ = field.set_attribute("title", &notes.iter().filter(|n| n.key() == Some(key)).map(ToString::to_string).collect::<Vec<_>>().join("; "));
        }
    }
}
