//! Heat maps, and the row normalisation that turns a confusion matrix's counts into fractions.

use super::frame::{Axis, Header, figure_size, no_data};
use super::scale::{bounds, fmt_fixed, sane_range, tick_labels};
use super::spec::Heatmap;
use super::text::{LABEL_SIZE, TICK_SIZE, rotated_text, text, text_w};
use crate::charts::{Anchor, Color, Figure, Shape, palette};

/// Each row divided by its sum (confusion matrices: counts to the fraction of each true class).
/// A row that sums to zero becomes NaN: nothing measured.
pub fn normalize_rows(counts: &[f32], cols: usize) -> Vec<f32> {
    if cols == 0 {
        return Vec::new();
    }
    counts
        .chunks(cols)
        .flat_map(|row| {
            let sum: f32 = row.iter().filter(|v| v.is_finite()).sum();
            row.iter().map(move |&v| if sum > 0.0 { v / sum } else { f32::NAN })
        })
        .collect()
}

/// A heat map with the value printed in each cell (when the cells are big enough), row and column
/// labels and a colour scale at the right. Each cell is one `Rect` with a white border, and the
/// cells are the only rectangles with a white border.
pub fn heatmap(spec: &Heatmap) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let (rows, cols) = (spec.rows, spec.cols);
    let value = |r: usize, c: usize| spec.values.get(r * cols + c).copied().unwrap_or(f32::NAN);
    if rows == 0 || cols == 0 || rows.saturating_mul(cols) > 250_000 {
        return no_data(&spec.title, width, height);
    }
    let range = match spec.range {
        Some(r) => sane_range(r, false),
        None => match bounds(spec.values.iter().take(rows * cols).copied()) {
            Some((lo, hi)) => sane_range((lo, hi), false),
            None => (0.0, 1.0),
        },
    };
    let label = |labels: &[String], i: usize| labels.get(i).cloned().unwrap_or_else(|| (i + 1).to_string());
    let row_labels: Vec<String> = (0..rows).map(|r| label(&spec.row_labels, r)).collect();
    let col_labels: Vec<String> = (0..cols).map(|c| label(&spec.col_labels, c)).collect();

    let head = Header::new(&spec.title, None);
    let row_label_w = row_labels.iter().map(|s| text_w(s, TICK_SIZE)).fold(0.0, f32::max);
    let col_label_w = col_labels.iter().map(|s| text_w(s, TICK_SIZE)).fold(0.0, f32::max);
    let y_title_w = if spec.y_label.is_empty() { 0.0 } else { LABEL_SIZE + 12.0 };
    let left = 12.0 + y_title_w + row_label_w + 8.0;
    // The colour scale at the right: a bar, its tick labels, and some air.
    let scale_ticks = tick_labels(range.0, range.1, false, 5);
    let scale_w = 16.0 + 14.0 + 8.0 + scale_ticks.iter().map(|(_, l)| text_w(l, TICK_SIZE)).fold(0.0, f32::max);
    let avail_w = (width - left - scale_w - 12.0).max(20.0);
    // Column labels go under the cells, rotated when they are wider than a cell.
    let upright_h = 18.0;
    let x_title_h = if spec.x_label.is_empty() { 8.0 } else { 28.0 };
    let cell_upright = ((height - head.top - upright_h - x_title_h) / rows as f32).min(avail_w / cols as f32);
    let rotated = col_label_w + 6.0 > cell_upright;
    let labels_h = if rotated { col_label_w + 8.0 } else { upright_h };
    let avail_h = (height - head.top - labels_h - x_title_h).max(20.0);
    let cell = (avail_h / rows as f32).min(avail_w / cols as f32).max(1.0);
    let (mw, mh) = (cell * cols as f32, cell * rows as f32);
    // Centre the whole block (titles, labels, cells, scale) in the figure.
    let x0 = left + (avail_w - mw) / 2.0;
    let y0 = head.top;

    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    let value_size = (cell * 0.32).clamp(8.0, 14.0);
    let negative = spec.values.iter().any(|v| *v < 0.0);
    let sample = format!("{:.*}", spec.decimals, if negative { -0.99f32 } else { 0.99 });
    let print_values = text_w(&sample, value_size) + 4.0 <= cell && value_size + 4.0 <= cell;
    for r in 0..rows {
        for c in 0..cols {
            let v = value(r, c);
            let (x, y) = (x0 + c as f32 * cell, y0 + r as f32 * cell);
            let fill = if v.is_finite() { scale_color((v - range.0) / (range.1 - range.0)) } else { palette::MISSING };
            fig.push(Shape::Rect { x, y, w: cell, h: cell, fill, stroke: Some(palette::WHITE) });
            if print_values && v.is_finite() {
                let color = if fill.luminance() < 0.42 { palette::WHITE } else { palette::TEXT };
                fig.push(text(
                    x + cell / 2.0,
                    y + cell / 2.0 + value_size * 0.35,
                    &fmt_fixed(v, spec.decimals),
                    value_size,
                    Anchor::Middle,
                    color,
                ));
            }
        }
    }
    for (r, l) in row_labels.iter().enumerate() {
        let y = y0 + (r as f32 + 0.5) * cell + TICK_SIZE * 0.35;
        fig.push(text(x0 - 6.0, y, l, TICK_SIZE, Anchor::End, palette::AXIS));
    }
    for (c, l) in col_labels.iter().enumerate() {
        let x = x0 + (c as f32 + 0.5) * cell;
        if rotated {
            let mut t = text(x + TICK_SIZE * 0.35, y0 + mh + 6.0, l, TICK_SIZE, Anchor::End, palette::AXIS);
            if let Shape::Text { rotate, .. } = &mut t {
                *rotate = true;
            }
            fig.push(t);
        } else {
            fig.push(text(x, y0 + mh + 15.0, l, TICK_SIZE, Anchor::Middle, palette::AXIS));
        }
    }
    if !spec.x_label.is_empty() {
        let y = y0 + mh + labels_h + 14.0;
        fig.push(text(x0 + mw / 2.0, y, &spec.x_label, LABEL_SIZE, Anchor::Middle, palette::TEXT));
    }
    if !spec.y_label.is_empty() {
        let x = x0 - 6.0 - row_label_w - 12.0;
        fig.push(rotated_text(x, y0 + mh / 2.0, &spec.y_label, LABEL_SIZE, palette::TEXT));
    }
    // The colour scale, drawn as thin stacked bands (a gradient both renderers draw alike).
    let (sx, bar_w) = (x0 + mw + 16.0, 14.0);
    let steps = 32;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let y = y0 + mh * (1.0 - t0 - 1.0 / steps as f32);
        let fill = scale_color(t0 + 0.5 / steps as f32);
        fig.push(Shape::Rect { x: sx, y, w: bar_w, h: mh / steps as f32 + 0.5, fill, stroke: None });
    }
    fig.push(Shape::Rect {
        x: sx,
        y: y0,
        w: bar_w,
        h: mh,
        fill: palette::WHITE.with_alpha(0.0),
        stroke: Some(palette::AXIS),
    });
    let scale = Axis { lo: range.0, hi: range.1, log: false, p0: y0 + mh, p1: y0 };
    for (py, l) in scale.ticks_px(&scale_ticks) {
        fig.push(Shape::Line {
            points: vec![(sx + bar_w, py), (sx + bar_w + 4.0, py)],
            color: palette::AXIS,
            width: 1.0,
            dash: false,
        });
        fig.push(text(sx + bar_w + 7.0, py + TICK_SIZE * 0.35, &l, TICK_SIZE, Anchor::Start, palette::AXIS));
    }
    fig
}

/// The heat-map scale: white at 0, the accent colour at 1.
fn scale_color(t: f32) -> Color {
    palette::WHITE.mix(palette::ACCENT, t)
}
