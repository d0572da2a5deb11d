//! The legend at the right of a plot.

use super::marks::{PointMark, push_star};
use super::text::{text, text_w};
use crate::charts::{Anchor, Color, Figure, Shape, palette};

const LEGEND_SIZE: f32 = 12.0;
const LEGEND_ROW: f32 = 18.0;
const SWATCH: f32 = 20.0;

#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    Line {
        dash: bool,
        marker: Option<PointMark>,
    },
    /// A translucent box with an outline (histograms).
    Box,
    /// A filled box (bars).
    Solid,
    Start,
    End,
    Optimum,
}

pub(super) struct LegendEntry {
    pub(super) name: String,
    pub(super) color: Color,
    pub(super) swatch: Swatch,
}

/// Legend entries in columns of as many rows as fit the plot's height.
pub(super) struct Legend {
    entries: Vec<LegendEntry>,
    rows: usize,
    col_w: f32,
}

impl Legend {
    pub(super) fn layout(entries: Vec<LegendEntry>, avail_h: f32) -> Self {
        let rows = ((avail_h / LEGEND_ROW) as usize).max(1);
        let col_w = SWATCH + 6.0 + entries.iter().map(|e| text_w(&e.name, LEGEND_SIZE)).fold(0.0, f32::max) + 12.0;
        Self { entries, rows, col_w }
    }

    /// Width to keep free at the right of the plot (0 without entries).
    pub(super) fn reserved_width(&self) -> f32 {
        if self.entries.is_empty() { 0.0 } else { self.entries.len().div_ceil(self.rows) as f32 * self.col_w + 8.0 }
    }

    pub(super) fn draw(&self, fig: &mut Figure, x: f32, y: f32) {
        for (i, e) in self.entries.iter().enumerate() {
            let ex = x + (i / self.rows) as f32 * self.col_w;
            let cy = y + (i % self.rows) as f32 * LEGEND_ROW + LEGEND_ROW / 2.0;
            let mid = ex + SWATCH / 2.0;
            match e.swatch {
                Swatch::Line { dash, marker } => {
                    fig.push(Shape::Line { points: vec![(ex, cy), (ex + SWATCH, cy)], color: e.color, width: 2.5, dash });
                    if let Some(marker) = marker {
                        marker.draw(fig, mid, cy, e.color);
                    }
                }
                Swatch::Box => fig.push(Shape::Rect {
                    x: ex + 3.0,
                    y: cy - 6.0,
                    w: SWATCH - 6.0,
                    h: 12.0,
                    fill: e.color.with_alpha(0.35 * e.color.a),
                    stroke: Some(e.color),
                }),
                Swatch::Solid => fig.push(Shape::Rect {
                    x: ex + 3.0,
                    y: cy - 6.0,
                    w: SWATCH - 6.0,
                    h: 12.0,
                    fill: e.color,
                    stroke: None,
                }),
                Swatch::Start => {
                    fig.push(Shape::Circle { cx: mid, cy, r: 4.5, fill: palette::WHITE, stroke: Some(e.color) })
                }
                Swatch::End => {
                    fig.push(Shape::Circle { cx: mid, cy, r: 4.5, fill: e.color, stroke: Some(palette::WHITE) })
                }
                Swatch::Optimum => push_star(fig, mid, cy, 6.0),
            }
            fig.push(text(
                ex + SWATCH + 6.0,
                cy + LEGEND_SIZE * 0.35,
                &e.name,
                LEGEND_SIZE,
                Anchor::Start,
                palette::TEXT,
            ));
        }
    }
}
