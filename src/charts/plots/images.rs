//! Grids of small images with captions.

use super::frame::{Header, figure_size, no_data};
use super::spec::{ImageGrid, TileScale};
use super::text::{TICK_SIZE, text};
use crate::charts::{Anchor, Color, Figure, Shape, palette};

/// Tiles laid out in `cols` columns, each as large as fits, pixels as filled squares.
pub fn image_grid(spec: &ImageGrid) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    if spec.tiles.is_empty() {
        return no_data(&spec.title, width, height);
    }
    let head = Header::new(&spec.title, spec.note.clone());
    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    let n = spec.tiles.len();
    let cols = if spec.cols > 0 { spec.cols.min(n) } else { ((n as f32).sqrt().ceil() as usize).max(1) };
    let rows = n.div_ceil(cols);
    let caption_h = if spec.tiles.iter().any(|t| !t.caption.is_empty()) { TICK_SIZE + 6.0 } else { 0.0 };
    let gap = 8.0;
    let cell_w = (width - gap) / cols as f32;
    let cell_h = (height - head.top - gap) / rows as f32;
    for (i, tile) in spec.tiles.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let (w, h) = (tile.w.max(1), tile.h.max(1));
        let side = ((cell_w - gap) / w as f32).min((cell_h - gap - caption_h) / h as f32).max(0.5);
        let (tw, th) = (side * w as f32, side * h as f32);
        let x0 = gap / 2.0 + c as f32 * cell_w + (cell_w - tw) / 2.0;
        let y0 = head.top + r as f32 * cell_h + (cell_h - th - caption_h) / 2.0;
        let max_abs = tile.pixels.iter().filter(|v| v.is_finite()).fold(0.0f32, |m, v| m.max(v.abs()));
        for (p, &v) in tile.pixels.iter().enumerate().take(w * h) {
            let fill = match spec.scale {
                TileScale::Grey => {
                    let t = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
                    palette::WHITE.mix(palette::TEXT, t)
                }
                TileScale::Diverging => {
                    let t = if max_abs > 0.0 && v.is_finite() { v / max_abs } else { 0.0 };
                    if t >= 0.0 { palette::WHITE.mix(palette::ACCENT, t) } else { palette::WHITE.mix(palette::STANDARD, -t) }
                }
            };
            let (px, py) = (p % w, p / w);
            // A hair wider than the cell, so neighbouring squares leave no seams when drawn.
            fig.push(Shape::Rect { x: x0 + px as f32 * side, y: y0 + py as f32 * side, w: side + 0.3, h: side + 0.3, fill, stroke: None });
        }
        fig.push(Shape::Rect { x: x0, y: y0, w: tw, h: th, fill: Color::rgb(0, 0, 0).with_alpha(0.0), stroke: Some(tile.frame.unwrap_or(palette::GRID)) });
        if !tile.caption.is_empty() {
            fig.push(text(x0 + tw / 2.0, y0 + th + TICK_SIZE + 2.0, &tile.caption, TICK_SIZE, Anchor::Middle, palette::TEXT));
        }
    }
    fig
}
