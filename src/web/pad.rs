//! Draw your own: a pad (mouse, touch or pen) where a student draws a digit or a garment; the
//! drawing is prepared as MNIST's images were (`data::prepare_drawing`), shown as the 28 x 28
//! image the networks see, and every network of demos 1 and 2 (in its worker) answers with its
//! class probabilities, standard beside metaplastic. "Use a test image" is the keyboard's way in.

use super::remote::{self, Answer};
use super::{App, dom, exports};
use crate::charts::pad::{AnswerRow, answer_bars, answer_color};
use crate::data::{DataSetId, Examples, IMAGE_PIXELS, IMAGE_SIDE, prepare_drawing};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{Clamped, JsCast, closure::Closure};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData, PointerEvent};

/// The pad's backing size; strokes are a tenth of it wide, as a pen on MNIST's 28 pixels is ~2.
const PAD: f64 = 280.0;
const STROKE: f64 = 22.0;
/// While a drawing is on the pad and a demo trains, its networks are asked again this often.
const REASK_MS: i32 = 2000;

#[derive(Default)]
struct Pad {
    last: Option<(f64, f64)>,
    /// The prepared drawing (784 bytes) the networks are asked about.
    image: Option<Vec<u8>>,
    frame_pending: bool,
}

thread_local! {
    static PAD_STATE: RefCell<Pad> = RefCell::new(Pad::default());
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    let canvas: HtmlCanvasElement = dom::by_id("pad")?;
    clear(&canvas)?;
    for (event, down) in [("pointerdown", Some(true)), ("pointermove", None), ("pointerup", Some(false)), ("pointercancel", Some(false))] {
        let a = app.clone();
        let c = canvas.clone();
        let handler = Closure::<dyn FnMut(PointerEvent)>::new(move |e: PointerEvent| on_pointer(&a, &c, &e, down));
        canvas.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref())?;
        // The pad lives as long as the page.
        handler.forget();
    }
    let a = app.clone();
    let c = canvas.clone();
    dom::on_click(&dom::by_id("pad-clear")?, move || {
        let _ = clear(&c);
        PAD_STATE.with(|p| p.borrow_mut().image = None);
        let _ = draw_preview(None);
        dom::set_text("pad-note", "Draw a digit or a garment with the mouse, a finger or a pen.");
        draw_answers(&a);
    });
    let a = app.clone();
    let c = canvas;
    dom::on_click(&dom::by_id("pad-sample")?, move || use_test_image(&a, &c));
    let a = app.clone();
    let tick = Closure::<dyn FnMut()>::new(move || {
        let image = PAD_STATE.with(|p| p.borrow().image.clone());
        if let Some(image) = image {
            ask_all(&a, &image);
        }
    });
    dom::window()?.set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), REASK_MS)?;
    tick.forget();
    let a = Rc::downgrade(app);
    remote::on_answer(move || {
        if let Some(app) = a.upgrade() {
            answers_changed(&app);
        }
    });
    draw_answers(app);
    Ok(())
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, dom::WebError> {
    canvas
        .get_context_with_context_options("2d", &super::canvas_chart::cpu_canvas_options())?
        .ok_or_else(|| dom::WebError::Js("the pad has no 2d context".into()))?
        .dyn_into()
        .map_err(|_| dom::WebError::Js("the pad's context is not 2d".into()))
}

fn clear(canvas: &HtmlCanvasElement) -> Result<(), dom::WebError> {
    let ctx = context(canvas)?;
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, PAD, PAD);
    Ok(())
}

/// The pointer's position in the pad's own pixels, whatever size the page shows it at.
fn position(canvas: &HtmlCanvasElement, e: &PointerEvent) -> (f64, f64) {
    let rect = canvas.get_bounding_client_rect();
    let sx = if rect.width() > 0.0 { PAD / rect.width() } else { 1.0 };
    let sy = if rect.height() > 0.0 { PAD / rect.height() } else { 1.0 };
    ((f64::from(e.client_x()) - rect.left()) * sx, (f64::from(e.client_y()) - rect.top()) * sy)
}

/// `down`: `Some(true)` starts a stroke, `Some(false)` ends it, `None` moves.
fn on_pointer(app: &Rc<App>, canvas: &HtmlCanvasElement, e: &PointerEvent, down: Option<bool>) {
    let at = position(canvas, e);
    match down {
        Some(true) => {
            e.prevent_default();
            let _ = canvas.set_pointer_capture(e.pointer_id());
            stroke(canvas, at, at);
            PAD_STATE.with(|p| p.borrow_mut().last = Some(at));
        }
        None => {
            let Some(last) = PAD_STATE.with(|p| p.borrow().last) else { return };
            stroke(canvas, last, at);
            PAD_STATE.with(|p| p.borrow_mut().last = Some(at));
        }
        Some(false) => {
            if PAD_STATE.with(|p| p.borrow_mut().last.take()).is_some() {
                drawing_changed(app, canvas);
            }
        }
    }
}

fn stroke(canvas: &HtmlCanvasElement, from: (f64, f64), to: (f64, f64)) {
    let Ok(ctx) = context(canvas) else { return };
    ctx.set_stroke_style_str("#111111");
    ctx.set_line_width(STROKE);
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    ctx.begin_path();
    ctx.move_to(from.0, from.1);
    ctx.line_to(to.0 + 0.01, to.1);
    ctx.stroke();
}

/// Reads the pad, prepares the drawing, shows it and asks the networks.
fn drawing_changed(app: &Rc<App>, canvas: &HtmlCanvasElement) {
    let Ok(ctx) = context(canvas) else { return };
    let Ok(data) = ctx.get_image_data(0.0, 0.0, PAD, PAD) else { return };
    let rgba = data.data();
    // Ink is darkness: the pad is white paper.
    let ink: Vec<f32> = rgba.chunks_exact(4).map(|p| 1.0 - f32::from(p[0]) / 255.0).collect();
    let side = PAD as usize;
    let Some(image) = prepare_drawing(&ink, side, side) else { return };
    dom::set_text("pad-note", "Your drawing, prepared as MNIST's images were: the ink scaled into a 20 x 20 box and centred by its centre of mass.");
    set_drawing(app, image);
}

fn set_drawing(app: &Rc<App>, image: Vec<u8>) {
    let _ = draw_preview(Some(&image));
    ask_all(app, &image);
    PAD_STATE.with(|p| p.borrow_mut().image = Some(image));
    draw_answers(app);
}

fn ask_all(app: &App, image: &[u8]) {
    for d in &app.demos {
        remote::ask(d, image);
    }
}

/// Puts a random test image of the chosen data set on the pad, as a student would draw it.
fn use_test_image(app: &Rc<App>, canvas: &HtmlCanvasElement) {
    let set = match dom::by_id::<web_sys::HtmlSelectElement>("pad-set").map(|s| s.value()) {
        Ok(v) if v == "fashion" => DataSetId::Fashion,
        _ => DataSetId::Mnist,
    };
    let picked = {
        let slot = app.slot(set).borrow();
        let n = slot.test.len();
        (n > 0).then(|| {
            let i = (js_sys::Math::random() * n as f64) as usize % n;
            (i, slot.test.image(i).to_vec(), slot.test.label(i))
        })
    };
    let Some((i, image, label)) = picked else {
        dom::set_text("pad-note", &format!("The {} test images have not arrived yet.", set.title()));
        return;
    };
    if let Ok(ctx) = context(canvas) {
        let cell = PAD / IMAGE_SIDE as f64;
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, PAD, PAD);
        for (p, &v) in image.iter().enumerate() {
            if v > 0 {
                let shade = 255 - v;
                ctx.set_fill_style_str(&format!("rgb({shade},{shade},{shade})"));
                ctx.fill_rect((p % IMAGE_SIDE) as f64 * cell, (p / IMAGE_SIDE) as f64 * cell, cell, cell);
            }
        }
    }
    let name = set.class_names().get(usize::from(label)).copied().unwrap_or("?");
    dom::set_text("pad-note", &format!("{} test image #{i}, labelled \u{201c}{name}\u{201d}.", set.title()));
    dom::set_attr("pad", "data-label", name);
    set_drawing(app, image);
}

/// The 28 x 28 image the networks see, ink bright on dark as the data sets store it.
fn draw_preview(image: Option<&[u8]>) -> Result<(), dom::WebError> {
    let canvas: HtmlCanvasElement = dom::by_id("pad-preview")?;
    let ctx = context(&canvas)?;
    let mut rgba = vec![0u8; IMAGE_PIXELS * 4];
    for (p, px) in rgba.chunks_exact_mut(4).enumerate() {
        let v = image.and_then(|i| i.get(p)).copied().unwrap_or(0);
        px.copy_from_slice(&[v, v, v, 255]);
    }
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), IMAGE_SIDE as u32, IMAGE_SIDE as u32)?;
    ctx.put_image_data(&data, 0.0, 0.0)?;
    canvas.set_attribute("data-ink", &image.map_or(0, |i| i.iter().filter(|&&v| v > 0).count()).to_string())?;
    Ok(())
}

/// A network answered: redraw the bars at the next frame (answers come from several workers).
fn answers_changed(app: &Rc<App>) {
    let pending = PAD_STATE.with(|p| std::mem::replace(&mut p.borrow_mut().frame_pending, true));
    if pending {
        return;
    }
    let a = app.clone();
    let callback = Closure::once_into_js(move || {
        PAD_STATE.with(|p| p.borrow_mut().frame_pending = false);
        draw_answers(&a);
    });
    if dom::window().and_then(|w| Ok(w.request_animation_frame(callback.unchecked_ref())?)).is_err() {
        PAD_STATE.with(|p| p.borrow_mut().frame_pending = false);
    }
}

fn draw_answers(app: &App) {
    let has_image = PAD_STATE.with(|p| p.borrow().image.is_some());
    let answers: Vec<(String, Answer)> = if has_image {
        app.demos.iter().enumerate().flat_map(|(i, d)| remote::answers(d).into_iter().map(move |a| (format!("demo {}", i + 1), a))).collect()
    } else {
        Vec::new()
    };
    let names: Vec<String> = answers.iter().map(|(demo, a)| format!("{demo}: {}", a.name)).collect();
    let rows: Vec<AnswerRow> = answers
        .iter()
        .zip(&names)
        .map(|((_, a), name)| AnswerRow { name, color: answer_color(&a.name), classes: a.data.class_names(), probs: &a.probs })
        .collect();
    // The numbers behind the bars, for reading aloud and for the browser tests.
    let series: Vec<(String, Vec<f32>)> = names.iter().cloned().zip(answers.iter().map(|(_, a)| a.probs.clone())).collect();
    dom::set_series("pad-bars", &series);
    if let Ok(c) = dom::by_id::<HtmlCanvasElement>("pad-bars") {
        let _ = exports::draw_chart(&c, answer_bars(&rows, 560.0));
    }
    let waiting = has_image && rows.is_empty() && app.demos.iter().any(remote::can_answer);
    dom::set_hidden("pad-waiting", !waiting);
}
