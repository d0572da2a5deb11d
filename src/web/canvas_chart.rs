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

/// Presenter mode on or off: thicker lines in the projector palette from the next drawing on.
pub fn set_presenter(on: bool) {
    LINE_SCALE.with(|s| s.set(if on { PRESENTER_LINES } else { 1.0 }));
}

/// Whether charts are drawn for a projector (presenter mode).
pub fn presenter() -> bool {
    LINE_SCALE.with(std::cell::Cell::get) != 1.0
}

/// The figure as presenter mode shows it (and its SVG download saves it): the projector palette.
pub fn as_shown(fig: &Figure) -> Option<Figure> {
    presenter().then(|| fig.for_projector())
}

/// The canvas's backing size for a figure: `devicePixelRatio` pixels per figure pixel (crisp on
/// high-density screens).
fn backing(fig: &Figure) -> (f64, f64, f64, u32, u32) {
    let dpr = web_sys::window().map(|w| w.device_pixel_ratio()).filter(|r| r.is_finite() && *r > 0.0).unwrap_or(1.0);
    let (w, h) = (f64::from(fig.width.max(1.0)), f64::from(fig.height.max(1.0)));
    (dpr, w, h, (w * dpr).round() as u32, (h * dpr).round() as u32)
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context_with_context_options("2d", &cpu_canvas_options())?
        .ok_or_else(|| JsValue::from_str("the canvas has no 2d context"))?
        .dyn_into()
        .map_err(|_| JsValue::from_str("the canvas context is not 2d"))
}

/// A figure being painted a slice at a time on a canvas of its own (off the page), then shown.
pub struct Painting {
    ctx: CanvasRenderingContext2d,
    next: usize,
    /// The figure in the projector palette, painted instead in presenter mode.
    projected: Option<Figure>,
}

impl Painting {
    /// Starts painting `fig` on `scratch`: sized, cleared, white.
    pub fn begin(scratch: &HtmlCanvasElement, fig: &Figure) -> Result<Self, JsValue> {
        let (dpr, w, h, pw, ph) = backing(fig);
        // Setting the size clears the canvas and resets its state, so only do it when it changes.
        if scratch.width() != pw {
            scratch.set_width(pw);
        }
        if scratch.height() != ph {
            scratch.set_height(ph);
        }
        let ctx = context(scratch)?;
        ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0)?;
        ctx.set_line_dash(&js_sys::Array::new())?;
        ctx.clear_rect(0.0, 0.0, w, h);
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, w, h);
        ctx.set_text_baseline("alphabetic");
        ctx.set_line_join("round");
        ctx.set_line_cap("round");
        Ok(Self { ctx, next: 0, projected: as_shown(fig) })
    }

    /// Paints shapes until `done()` says the slice's time is up; `true` once every shape is painted.
    pub fn paint_some(&mut self, fig: &Figure, done: &dyn Fn() -> bool) -> Result<bool, JsValue> {
        let fig = self.projected.as_ref().unwrap_or(fig);
        let mut pen = Pen { ctx: &self.ctx, fill: String::new(), stroke: String::new(), width: -1.0, dash: None, font: String::new(), align: "", path_open: false };
        while let Some(shape) = fig.shapes.get(self.next) {
            pen.draw(shape)?;
            self.next += 1;
            // Lines gathered into one path are stroked before the slice ends.
            if done() {
                break;
            }
        }
        pen.flush();
        Ok(self.next >= fig.shapes.len())
    }
}

/// Shows the finished painting of `fig` from `scratch` on the page's `canvas`, shown at the
/// figure's size in CSS pixels, shrinking with its aspect ratio kept where the page is narrower.
pub fn show(canvas: &HtmlCanvasElement, scratch: &HtmlCanvasElement, fig: &Figure) -> Result<(), JsValue> {
    let (_, w, _, pw, ph) = backing(fig);
    if canvas.width() != pw {
        canvas.set_width(pw);
    }
    if canvas.height() != ph {
        canvas.set_height(ph);
    }
    set_css_size(canvas, w)?;
    let ctx = context(canvas)?;
    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
    ctx.clear_rect(0.0, 0.0, f64::from(pw), f64::from(ph));
    ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(scratch, 0.0, 0.0, f64::from(pw), f64::from(ph), 0.0, 0.0, f64::from(pw), f64::from(ph))
}

/// The 2-D context's drawing state as last set: a chart sets the same colour, width, dash and font
/// for shape after shape, and each setting is a string the browser parses again, so only changes
/// are passed on (a chart's markers and ticks are most of its shapes).
struct Pen<'a> {
    ctx: &'a CanvasRenderingContext2d,
    fill: String,
    stroke: String,
    width: f64,
    /// `Some(None)`: solid; `Some(Some(w))`: dashed for a line `w` wide.
    dash: Option<Option<u32>>,
    font: String,
    align: &'static str,
    /// Lines of the same colour, width and dash in a row (a chart's grid, its ticks) go into one
    /// path, stroked once when the run of them ends: a stroke is the costly call.
    path_open: bool,
}

impl Pen<'_> {
    /// Strokes the lines gathered so far.
    fn flush(&mut self) {
        if self.path_open {
            self.ctx.stroke();
            self.path_open = false;
        }
    }

    fn fill(&mut self, css: String) {
        if css != self.fill {
            self.ctx.set_fill_style_str(&css);
            self.fill = css;
        }
    }

    fn stroke(&mut self, css: String, width: f64) {
        if css != self.stroke || width != self.width {
            self.flush();
        }
        if css != self.stroke {
            self.ctx.set_stroke_style_str(&css);
            self.stroke = css;
        }
        if width != self.width {
            self.ctx.set_line_width(width);
            self.width = width;
        }
    }

    fn dash(&mut self, dashed: Option<f32>) -> Result<(), JsValue> {
        let key = dashed.map(|w| w.to_bits());
        if self.dash == Some(key) {
            return Ok(());
        }
        self.flush();
        let pattern: js_sys::Array = match dashed {
            Some(w) => dash_pattern(w).iter().map(|&v| JsValue::from_f64(f64::from(v))).collect(),
            None => js_sys::Array::new(),
        };
        self.ctx.set_line_dash(&pattern)?;
        self.dash = Some(key);
        Ok(())
    }

    fn draw(&mut self, shape: &Shape) -> Result<(), JsValue> {
        let ctx = self.ctx;
        if !matches!(shape, Shape::Line { .. }) {
            self.flush();
        }
        match shape {
            Shape::Line { points, color, width, dash } => {
                let mut pts = points.iter().filter(|(x, y)| x.is_finite() && y.is_finite());
                let Some(&(x0, y0)) = pts.next() else { return Ok(()) };
                let width = *width * LINE_SCALE.with(std::cell::Cell::get);
                // A change of style strokes the lines before it, so the state is set first.
                self.dash(dash.then_some(width))?;
                self.stroke(color.to_css(), f64::from(width));
                if !self.path_open {
                    ctx.begin_path();
                    self.path_open = true;
                }
                ctx.move_to(f64::from(x0), f64::from(y0));
                for &(x, y) in pts {
                    ctx.line_to(f64::from(x), f64::from(y));
                }
            }
            Shape::Rect { x, y, w, h, fill, stroke } => {
                let (x, y, w, h) = (f64::from(*x), f64::from(*y), f64::from(w.max(0.0)), f64::from(h.max(0.0)));
                if fill.a > 0.0 {
                    self.fill(fill.to_css());
                    ctx.fill_rect(x, y, w, h);
                }
                if let Some(stroke) = stroke.filter(|s| s.a > 0.0) {
                    self.dash(None)?;
                    self.stroke(stroke.to_css(), f64::from(RECT_STROKE_WIDTH));
                    ctx.stroke_rect(x, y, w, h);
                }
            }
            Shape::Text { x, y, text, size, anchor, color, bold, rotate } => {
                let weight = if *bold { BOLD_WEIGHT } else { 400 };
                let font = format!("{weight} {size}px {FONT_FAMILY}");
                if font != self.font {
                    ctx.set_font(&font);
                    self.font = font;
                }
                let align = match anchor {
                    Anchor::Start => "start",
                    Anchor::Middle => "center",
                    Anchor::End => "end",
                };
                if align != self.align {
                    ctx.set_text_align(align);
                    self.align = align;
                }
                self.fill(color.to_css());
                let (x, y) = (f64::from(*x), f64::from(*y));
                if *rotate {
                    // -90 degrees about (x, y), as the SVG's rotate(-90 x y): reads bottom to top.
                    // A rotation without save/restore, so the pen's state stays what it knows.
                    ctx.translate(x, y)?;
                    ctx.rotate(-std::f64::consts::FRAC_PI_2)?;
                    ctx.fill_text(text, 0.0, 0.0)?;
                    ctx.rotate(std::f64::consts::FRAC_PI_2)?;
                    ctx.translate(-x, -y)?;
                } else {
                    ctx.fill_text(text, x, y)?;
                }
            }
            Shape::Circle { cx, cy, r, fill, stroke } => {
                ctx.begin_path();
                ctx.arc(f64::from(*cx), f64::from(*cy), f64::from(r.max(0.0)), 0.0, std::f64::consts::TAU)?;
                if fill.a > 0.0 {
                    self.fill(fill.to_css());
                    ctx.fill();
                }
                if let Some(stroke) = stroke.filter(|s| s.a > 0.0) {
                    self.dash(None)?;
                    self.stroke(stroke.to_css(), f64::from(CIRCLE_STROKE_WIDTH));
                    ctx.stroke();
                }
            }
        }
        Ok(())
    }
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
