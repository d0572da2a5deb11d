//! What every chart is laid out with: axes from data to pixels, the plot frame with its grid and
//! axis lines, the title, the margins, and the figure that stands in for a chart with no data.

use super::NO_DATA;
use super::text::{LABEL_SIZE, NOTE_SIZE, TICK_SIZE, TITLE_SIZE, rotated_text, text, text_w};
use crate::charts::{Anchor, Color, DEFAULT_HEIGHT, DEFAULT_WIDTH, Figure, Shape, palette};

/// An axis mapping data values `lo..hi` to pixels `p0..p1` (p0 > p1 for a y axis, which grows up).
#[derive(Debug, Clone, Copy)]
pub(super) struct Axis {
    pub(super) lo: f32,
    pub(super) hi: f32,
    pub(super) log: bool,
    pub(super) p0: f32,
    pub(super) p1: f32,
}

impl Axis {
    pub(super) fn map(&self, v: f32) -> f32 {
        let t = if self.log {
            (v.max(f32::MIN_POSITIVE).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.p0 + (self.p1 - self.p0) * t
    }

    /// [`Axis::map`], held inside the plot: a value off the scale is drawn at its edge.
    pub(super) fn map_clamped(&self, v: f32) -> f32 {
        self.map(v).clamp(self.p0.min(self.p1), self.p0.max(self.p1))
    }

    pub(super) fn unmap(&self, p: f32) -> f32 {
        self.lo + (self.hi - self.lo) * (p - self.p0) / (self.p1 - self.p0)
    }

    pub(super) fn ticks_px(&self, ticks: &[(f32, String)]) -> Vec<(f32, String)> {
        ticks.iter().map(|(v, l)| (self.map(*v), l.clone())).collect()
    }
}

/// A plot area with its two axes.
pub(super) struct Frame {
    pub(super) x: Axis,
    pub(super) y: Axis,
}

impl Frame {
    pub(super) fn left(&self) -> f32 {
        self.x.p0
    }
    pub(super) fn right(&self) -> f32 {
        self.x.p1
    }
    pub(super) fn bottom(&self) -> f32 {
        self.y.p0
    }
    pub(super) fn top(&self) -> f32 {
        self.y.p1
    }

    /// Light horizontal lines at the y ticks, under everything else.
    pub(super) fn draw_grid(&self, fig: &mut Figure, y_ticks: &[(f32, String)]) {
        for (v, _) in y_ticks {
            let y = self.y.map(*v);
            fig.push(Shape::Line {
                points: vec![(self.left(), y), (self.right(), y)],
                color: palette::GRID,
                width: 1.0,
                dash: false,
            });
        }
    }

    /// The left and bottom axis lines, tick marks and labels (positions already in pixels), and
    /// the axis titles.
    pub(super) fn draw_axes(
        &self,
        fig: &mut Figure,
        x_ticks: &[(f32, String)],
        y_ticks: &[(f32, String)],
        x_label: &str,
        y_label: &str,
    ) {
        let (l, r, t, b) = (self.left(), self.right(), self.top(), self.bottom());
        let axis = |points| Shape::Line { points, color: palette::AXIS, width: 1.0, dash: false };
        fig.push(axis(vec![(l, t), (l, b), (r, b)]));
        let mut widest = 0.0f32;
        for (y, label) in y_ticks {
            fig.push(axis(vec![(l - 4.0, *y), (l, *y)]));
            fig.push(text(l - 7.0, y + TICK_SIZE * 0.35, label, TICK_SIZE, Anchor::End, palette::AXIS));
            widest = widest.max(text_w(label, TICK_SIZE));
        }
        for (x, label) in x_ticks {
            fig.push(axis(vec![(*x, b), (*x, b + 4.0)]));
            fig.push(text(*x, b + 17.0, label, TICK_SIZE, Anchor::Middle, palette::AXIS));
        }
        if !x_label.is_empty() {
            fig.push(text((l + r) / 2.0, b + 38.0, x_label, LABEL_SIZE, Anchor::Middle, palette::TEXT));
        }
        if !y_label.is_empty() {
            let x = (l - 7.0 - widest - 10.0).max(LABEL_SIZE + 2.0);
            fig.push(rotated_text(x, (t + b) / 2.0, y_label, LABEL_SIZE, palette::TEXT));
        }
    }
}

/// The title (and a note under it); `top` is where the plot may start.
pub(super) struct Header {
    title: String,
    note: Option<String>,
    pub(super) top: f32,
}

impl Header {
    pub(super) fn new(title: &str, note: Option<String>) -> Self {
        let top = match (title.is_empty(), &note) {
            (_, Some(_)) => 56.0,
            (false, None) => 42.0,
            (true, None) => 16.0,
        };
        Self { title: title.to_string(), note, top }
    }

    pub(super) fn draw(&self, fig: &mut Figure, width: f32) {
        if !self.title.is_empty() {
            fig.push(Shape::Text {
                x: width / 2.0,
                y: 25.0,
                text: self.title.clone(),
                size: TITLE_SIZE,
                anchor: Anchor::Middle,
                color: palette::TEXT,
                bold: true,
                rotate: false,
            });
        }
        if let Some(note) = &self.note {
            let y = if self.title.is_empty() { 22.0 } else { 43.0 };
            fig.push(text(width / 2.0, y, note, NOTE_SIZE, Anchor::Middle, palette::MUTED));
        }
    }
}

/// The figure that stands in for a chart with nothing to show.
pub(super) fn no_data(title: &str, width: f32, height: f32) -> Figure {
    let mut fig = Figure::new(width, height);
    let head = Header::new(title, None);
    head.draw(&mut fig, width);
    let (x, y) = (24.0, head.top);
    let (w, h) = ((width - 48.0).max(1.0), (height - y - 24.0).max(1.0));
    fig.push(Shape::Rect { x, y, w, h, fill: Color::hex(0xfafafa), stroke: Some(palette::GRID) });
    fig.push(text(x + w / 2.0, y + h / 2.0 + 5.0, NO_DATA, 14.0, Anchor::Middle, palette::MUTED));
    fig
}

/// Width and height, replaced by the defaults when not finite or too small to lay anything out.
pub(super) fn figure_size(width: f32, height: f32) -> (f32, f32) {
    let ok = |v: f32, min: f32| v.is_finite() && v >= min;
    (if ok(width, 160.0) { width } else { DEFAULT_WIDTH }, if ok(height, 120.0) { height } else { DEFAULT_HEIGHT })
}

pub(super) fn bottom_margin(x_label: &str) -> f32 {
    if x_label.is_empty() { 30.0 } else { 52.0 }
}

pub(super) fn left_margin(y_ticks: &[(f32, String)], y_label: &str) -> f32 {
    let widest = y_ticks.iter().map(|(_, l)| text_w(l, TICK_SIZE)).fold(0.0, f32::max);
    12.0 + if y_label.is_empty() { 0.0 } else { LABEL_SIZE + 10.0 } + widest + 8.0
}
