//! Small DOM helpers and the app's error type at the JavaScript edge.

use wasm_bindgen::{JsCast, JsValue, closure::Closure};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    Js(String),
    #[error("the page has no element {0}")]
    MissingElement(String),
    #[error(transparent)]
    Data(#[from] crate::data::IdxError),
}

impl From<JsValue> for WebError {
    fn from(value: JsValue) -> Self {
        WebError::Js(describe(&value))
    }
}

impl From<WebError> for JsValue {
    fn from(e: WebError) -> Self {
        js_sys::Error::new(&e.to_string()).into()
    }
}

/// A readable one-line description of a thrown JavaScript value.
pub fn describe(value: &JsValue) -> String {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

pub fn window() -> Result<web_sys::Window, WebError> {
    web_sys::window().ok_or_else(|| WebError::Js("no window".into()))
}

pub fn document() -> Result<web_sys::Document, WebError> {
    window()?.document().ok_or_else(|| WebError::Js("no document".into()))
}

pub fn body() -> Result<web_sys::HtmlElement, WebError> {
    document()?.body().ok_or_else(|| WebError::MissingElement("body".into()))
}

pub fn by_id<T: JsCast>(id: &str) -> Result<T, WebError> {
    document()?
        .get_element_by_id(id)
        .and_then(|e| e.dyn_into::<T>().ok())
        .ok_or_else(|| WebError::MissingElement(format!("#{id}")))
}

pub fn query(selector: &str) -> Result<web_sys::Element, WebError> {
    document()?.query_selector(selector)?.ok_or_else(|| WebError::MissingElement(selector.into()))
}

/// Sets `id`'s text; an unchanged text is not written, so it costs the page no style or layout work.
pub fn set_text(id: &str, text: &str) {
    if let Ok(el) = by_id::<web_sys::Element>(id) {
        if el.text_content().as_deref() != Some(text) {
            el.set_text_content(Some(text));
        }
    }
}

/// Sets an attribute; an unchanged value is not written (see [`set_text`]).
pub fn set_attr(id: &str, name: &str, value: &str) {
    if let Ok(el) = by_id::<web_sys::Element>(id) {
        if el.get_attribute(name).as_deref() != Some(value) {
            let _ = el.set_attribute(name, value);
        }
    }
}

/// Replaces an element's content with `html` unless it already is exactly that.
pub fn set_html(el: &web_sys::Element, html: &str) {
    if el.inner_html() != html {
        el.set_inner_html(html);
    }
}

pub fn set_hidden(id: &str, hidden: bool) {
    if let Ok(el) = by_id::<web_sys::HtmlElement>(id) {
        el.set_hidden(hidden);
    }
}

/// The numbers behind a chart's lines, as `data-series` on its canvas (`{"name": [values]}`): a
/// screen reader, a teacher's script or a browser test reads them there, not off the pixels.
pub fn set_series(id: &str, series: &[(String, Vec<f32>)]) {
    let map: serde_json::Map<String, serde_json::Value> =
        series.iter().map(|(name, values)| (name.clone(), values.iter().map(|&v| serde_json::Value::from(v)).collect())).collect();
    set_attr(id, "data-series", &serde_json::Value::Object(map).to_string());
}

/// Calls `f` on every click for the life of the page.
pub fn on_click(target: &web_sys::Element, f: impl FnMut() + 'static) {
    let closure = Closure::<dyn FnMut()>::new(f);
    let _ = target.add_event_listener_with_callback("click", closure.as_ref().unchecked_ref());
    // The listener lives as long as the page; leaking the closure is how wasm-bindgen says so.
    closure.forget();
}

/// Calls `f` with the event on every click for the life of the page (a listener for many buttons).
pub fn on_click_event(target: &web_sys::Element, f: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let _ = target.add_event_listener_with_callback("click", closure.as_ref().unchecked_ref());
    closure.forget();
}

/// Calls `f` on every `event` (e.g. "change") for the life of the page.
pub fn on_event(target: &web_sys::Element, event: &str, f: impl FnMut() + 'static) {
    let closure = Closure::<dyn FnMut()>::new(f);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// Milliseconds since the page loaded.
pub fn now() -> f64 {
    window().ok().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// Resolves after `ms` milliseconds.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Ok(w) = window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A fatal error: shown in the banner, not only in the console.
pub fn fatal(message: &str) {
    log::error!("{message}");
    set_text("app-error", message);
    set_hidden("app-error", false);
}

/// Thousands separators, for counts a class reads off a projector.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
