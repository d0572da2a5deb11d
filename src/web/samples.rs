//! The sample viewer: a grid of real test images with their labels, drawn as soon as the first
//! examples of the shown data set have arrived.

use super::{App, dom};
use crate::data::{DataSetId, Examples, IMAGE_SIDE};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::rc::Rc;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

const COLS: usize = 7;
const ROWS: usize = 5;
const CELL: usize = 84;
const SCALE: usize = 2;
const BACKGROUND: [u8; 3] = [17, 19, 26];

pub struct SampleGrid {
    /// Which data set is on the canvas, and from how many loaded examples it was picked.
    drawn: Option<(DataSetId, usize)>,
    shuffles: u64,
}

impl SampleGrid {
    pub fn new() -> Self {
        Self { drawn: None, shuffles: 0 }
    }
}

pub fn wire_shuffle(app: &Rc<App>) -> Result<(), dom::WebError> {
    let button = dom::by_id::<web_sys::Element>("shuffle")?;
    let app = app.clone();
    dom::on_click(&button, move || {
        app.samples.borrow_mut().shuffles += 1;
        redraw(&app, true);
    });
    Ok(())
}

/// Draws the grid for the shown data set if it changed (or `force`), once enough test examples
/// have arrived; before that, draws what there is.
pub fn redraw(app: &Rc<App>, force: bool) {
    let id = *app.shown.borrow();
    let slot = app.slot(id).borrow();
    let available = slot.test.len();
    let wanted = COLS * ROWS;
    let mut grid = app.samples.borrow_mut();
    let up_to_date = matches!(grid.drawn, Some((drawn, n)) if drawn == id && (n >= wanted || n == available));
    if available == 0 || (up_to_date && !force) {
        return;
    }
    // The first grid shows the first test images; "other examples" picks at random among those loaded.
    let indices: Vec<usize> = if grid.shuffles == 0 {
        (0..wanted.min(available)).collect()
    } else {
        let mut rng = StdRng::seed_from_u64(grid.shuffles);
        (0..wanted).map(|_| rng.random_range(0..available)).collect()
    };
    match draw(id, &slot.test, &indices) {
        Ok(()) => grid.drawn = Some((id, available)),
        Err(e) => dom::fatal(&format!("Drawing the samples failed: {e}")),
    }
}

fn draw(id: DataSetId, examples: &dyn Examples, indices: &[usize]) -> Result<(), dom::WebError> {
    let canvas: HtmlCanvasElement = dom::by_id("samples")?;
    let (width, height) = (canvas.width() as usize, canvas.height() as usize);
    let mut rgba = vec![255u8; width * height * 4];
    for px in rgba.chunks_exact_mut(4) {
        px[..3].copy_from_slice(&BACKGROUND);
    }
    let side = IMAGE_SIDE * SCALE;
    let margin = (CELL - side) / 2;
    for (slot, &i) in indices.iter().enumerate() {
        let (x0, y0) = ((slot % COLS) * CELL + margin, (slot / COLS) * CELL + 4);
        for (p, &v) in examples.image(i).iter().enumerate() {
            let (px, py) = (p % IMAGE_SIDE, p / IMAGE_SIDE);
            for dy in 0..SCALE {
                for dx in 0..SCALE {
                    let (x, y) = (x0 + px * SCALE + dx, y0 + py * SCALE + dy);
                    if x < width && y < height {
                        let at = (y * width + x) * 4;
                        rgba[at..at + 3].copy_from_slice(&[v, v, v]);
                    }
                }
            }
        }
    }
    let ctx: CanvasRenderingContext2d = canvas
        .get_context_with_context_options("2d", &super::canvas_chart::cpu_canvas_options())?
        .ok_or_else(|| dom::WebError::Js("the canvas has no 2d context".into()))?
        .dyn_into()
        .map_err(|_| dom::WebError::Js("the canvas context is not 2d".into()))?;
    let image = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width as u32, height as u32)?;
    ctx.put_image_data(&image, 0.0, 0.0)?;
    ctx.set_fill_style_str("#e8ecf5");
    ctx.set_font("600 13px system-ui, sans-serif");
    ctx.set_text_align("center");
    let names = id.class_names();
    for (slot, &i) in indices.iter().enumerate() {
        let x = (slot % COLS) * CELL + CELL / 2;
        let y = (slot / COLS) * CELL + 4 + side + 15;
        ctx.fill_text(names[examples.label(i) as usize], x as f64, y as f64)?;
    }
    canvas.set_attribute("data-drawn", id.dir())?;
    let caption = format!("{} test images and their labels.", id.title());
    dom::set_text("samples-caption", &caption);
    Ok(())
}
