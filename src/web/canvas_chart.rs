//! The canvas renderer: draws a chart [`Figure`] on a 2-D canvas, shape for shape the picture that
//! [`Figure::to_svg`] writes for the command-line tool.

use crate::charts::{
    Anchor, BOLD_WEIGHT, CIRCLE_STROKE_WIDTH, FONT_FAMILY, Figure, RECT_STROKE_WIDTH, Shape, dash_pattern,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

/// Options for the page's 2-D canvases: backed by memory, not the GPU (`willReadFrequently`). A
/// GPU-backed canvas makes the main thread wait for the GPU process, which the training workers
/// keep busy (on a software adapter for seconds at a time); charts are small enough for the CPU.
pub fn cpu_canvas_options() -> JsValue {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"willReadFrequently".into(), &JsValue::TRUE);
    options.into()
}

/// Presenter mode draws every chart line this much thicker: a projector washes thin lines out.
const PRESENTER_LINES: f32 = 1.7;

thread_local! {
    /// How much thicker lines are drawn than the figure says (1 but in presenter mode).
    static LINE_SCALE: std::cell::Cell<f32> = const { std::cell::Cell::new(1.0) };
}

/// Presenter mode on or off: thicker lines from the next drawing on.
pub fn set_presenter(on: bool) {
    LINE_SCALE.with(|s| s.set(if on { PRESENTER_LINES } else { 1.0 }));
}

/// Paints `fig` on `canvas`, replacing what was there. The canvas gets `devicePixelRatio` backing
/// pixels per figure pixel (crisp on high-density screens) and is shown at the figure's size in CSS
/// pixels, shrinking with its aspect ratio kept where the page is narrower.
pub fn paint(canvas: &HtmlCanvasElement, fig: &Figure) -> Result<(), JsValue> {
    let dpr = web_sys::window().map(|w| w.device_pixel_ratio()).filter(|r| r.is_finite() && *r > 0.0).unwrap_or(1.0);
    let (w, h) = (f64::from(fig.width.max(1.0)), f64::from(fig.height.max(1.0)));
    let (pw, ph) = ((w * dpr).round() as u32, (h * dpr).round() as u32);
    // Setting the size clears the canvas and resets its state, so only do it when it changes.
    if canvas.width() != pw {
        canvas.set_width(pw);
    }
    if canvas.height() != ph {
        canvas.set_height(ph);
    }
    set_css_size(canvas, w)?;
    let ctx: CanvasRenderingContext2d = canvas
        .get_context_with_context_options("2d", &cpu_canvas_options())?
        .ok_or_else(|| JsValue::from_str("the canvas has no 2d context"))?
        .dyn_into()
        .map_err(|_| JsValue::from_str("the canvas context is not 2d"))?;
    ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0)?;
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_text_baseline("alphabetic");
    ctx.set_line_join("round");
    ctx.set_line_cap("round");
    let no_dash = js_sys::Array::new();
    for shape in &fig.shapes {
        draw_shape(&ctx, shape, &no_dash)?;
    }
    Ok(())
}

fn draw_shape(ctx: &CanvasRenderingContext2d, shape: &Shape, no_dash: &js_sys::Array) -> Result<(), JsValue> {
    match shape {
        Shape::Line { points, color, width, dash } => {
            let mut pts = points.iter().filter(|(x, y)| x.is_finite() && y.is_finite());
            let Some(&(x0, y0)) = pts.next() else { return Ok(()) };
            ctx.begin_path();
            ctx.move_to(f64::from(x0), f64::from(y0));
            for &(x, y) in pts {
                ctx.line_to(f64::from(x), f64::from(y));
            }
            let width = &(*width * LINE_SCALE.with(std::cell::Cell::get));
            if *dash {
                let pattern: js_sys::Array =
                    dash_pattern(*width).iter().map(|&v| JsValue::from_f64(f64::from(v))).collect();
                ctx.set_line_dash(&pattern)?;
            } else {
                ctx.set_line_dash(no_dash)?;
            }
            ctx.set_stroke_style_str(&color.to_css());
            ctx.set_line_width(f64::from(*width));
            ctx.stroke();
        }
        Shape::Rect { x, y, w, h, fill, stroke } => {
            let (x, y, w, h) = (f64::from(*x), f64::from(*y), f64::from(w.max(0.0)), f64::from(h.max(0.0)));
            if fill.a > 0.0 {
                ctx.set_fill_style_str(&fill.to_css());
                ctx.fill_rect(x, y, w, h);
            }
            if let Some(stroke) = stroke.filter(|s| s.a > 0.0) {
                ctx.set_line_dash(no_dash)?;
                ctx.set_stroke_style_str(&stroke.to_css());
                ctx.set_line_width(f64::from(RECT_STROKE_WIDTH));
                ctx.stroke_rect(x, y, w, h);
            }
        }
        Shape::Text { x, y, text, size, anchor, color, bold, rotate } => {
            let weight = if *bold { BOLD_WEIGHT } else { 400 };
            ctx.set_font(&format!("{weight} {size}px {FONT_FAMILY}"));
            ctx.set_text_align(match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "center",
                Anchor::End => "end",
            });
            ctx.set_fill_style_str(&color.to_css());
            let (x, y) = (f64::from(*x), f64::from(*y));
            if *rotate {
                // -90 degrees about (x, y), as the SVG's rotate(-90 x y): reads bottom to top.
                ctx.save();
                ctx.translate(x, y)?;
                ctx.rotate(-std::f64::consts::FRAC_PI_2)?;
                ctx.fill_text(text, 0.0, 0.0)?;
                ctx.restore();
            } else {
                ctx.fill_text(text, x, y)?;
            }
        }
        Shape::Circle { cx, cy, r, fill, stroke } => {
            ctx.begin_path();
            ctx.arc(f64::from(*cx), f64::from(*cy), f64::from(r.max(0.0)), 0.0, std::f64::consts::TAU)?;
            if fill.a > 0.0 {
                ctx.set_fill_style_str(&fill.to_css());
                ctx.fill();
            }
            if let Some(stroke) = stroke.filter(|s| s.a > 0.0) {
                ctx.set_line_dash(no_dash)?;
                ctx.set_stroke_style_str(&stroke.to_css());
                ctx.set_line_width(f64::from(CIRCLE_STROKE_WIDTH));
                ctx.stroke();
            }
        }
    }
    Ok(())
}

/// Shows the canvas `width` CSS pixels wide (no wider than its container) with the height that
/// keeps the figure's proportions, keeping any other inline style the page gave it.
fn set_css_size(canvas: &HtmlCanvasElement, width: f64) -> Result<(), JsValue> {
    let old = canvas.get_attribute("style").unwrap_or_default();
    let mut style: String = old
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let name = d.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
            !matches!(name.as_str(), "width" | "height" | "max-width")
        })
        .map(|d| format!("{d};"))
        .collect();
    style.push_str(&format!("width:{width}px;max-width:100%;height:auto;"));
    if style != old {
        canvas.set_attribute("style", &style)?;
    }
    Ok(())
}
