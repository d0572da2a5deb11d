//! The chart builders: pure functions from a spec to a [`Figure`]. Axes, ticks, labels and legends
//! are drawn with the same shapes as the data, so a renderer only knows four kinds of shape.
//!
//! Every builder accepts any input without panicking: non-finite values are skipped, and a chart
//! with nothing to show is a figure that says "no data yet".

use super::{Anchor, Color, DEFAULT_HEIGHT, DEFAULT_WIDTH, Figure, Shape, fmt_num, palette};
use std::collections::HashMap;
use std::f32::consts::FRAC_1_SQRT_2;

const TITLE_SIZE: f32 = 16.0;
const NOTE_SIZE: f32 = 11.5;
const LABEL_SIZE: f32 = 13.0;
const TICK_SIZE: f32 = 11.5;
const LEGEND_SIZE: f32 = 12.0;
const LEGEND_ROW: f32 = 18.0;
const SWATCH: f32 = 20.0;
/// The text shown by a chart that has nothing to draw.
pub const NO_DATA: &str = "no data yet";

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

/// A line chart: curves over a shared x axis (accuracy per task over training, loss curves).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `None`: from the data, widened to nice ticks.
    pub x_range: Option<(f32, f32)>,
    /// `None`: from the data; accuracy charts fix `(0.0, 1.0)`.
    pub y_range: Option<(f32, f32)>,
    /// A logarithmic y axis (loss curves); values <= 0 are skipped.
    pub log_y: bool,
    pub series: Vec<Series>,
    /// Vertical lines with labels, such as task boundaries.
    pub markers: Vec<Marker>,
    pub width: f32,
    pub height: f32,
}

impl Default for LineChart {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_range: None,
            y_range: None,
            log_y: false,
            series: Vec::new(),
            markers: Vec::new(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// One curve. A series with an empty name has no legend entry; a named series without points has
/// one, which makes a key ("solid: standard, dashed: metaplastic") out of empty series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Color,
    pub points: Vec<(f32, f32)>,
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, color: Color, points: Vec<(f32, f32)>) -> Self {
        Self { name: name.into(), color, points, dashed: false }
    }

    pub fn dashed(self) -> Self {
        Self { dashed: true, ..self }
    }
}

/// A labelled vertical line at `x` (for example "task 2" where the second task starts).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f32,
    pub label: String,
}

impl Marker {
    pub fn new(x: f32, label: impl Into<String>) -> Self {
        Self { x, label: label.into() }
    }
}

/// A matrix of values as coloured cells (accuracy matrix, confusion matrix, trace matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub rows: usize,
    pub cols: usize,
    /// Row-major, `rows * cols` long. NaN marks a cell not measured yet; missing values count as
    /// NaN.
    pub values: Vec<f32>,
    /// Labels down the left side ("after task 1"); missing ones are numbered from 1.
    pub row_labels: Vec<String>,
    /// Labels under the columns ("task 1"); missing ones are numbered from 1.
    pub col_labels: Vec<String>,
    /// The title of the row axis (rotated, at the left) and of the column axis (below).
    pub y_label: String,
    pub x_label: String,
    /// The values mapped to white and to the accent colour; `None`: from the data.
    pub range: Option<(f32, f32)>,
    /// Decimals of the value printed in each cell (printed only when the cells are big enough).
    pub decimals: usize,
    pub width: f32,
    pub height: f32,
}

impl Default for Heatmap {
    fn default() -> Self {
        Self {
            title: String::new(),
            rows: 0,
            cols: 0,
            values: Vec::new(),
            row_labels: Vec::new(),
            col_labels: Vec::new(),
            y_label: String::new(),
            x_label: String::new(),
            range: Some((0.0, 1.0)),
            decimals: 2,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// Overlapping histograms of several value sets over shared bins (hidden weights per learner).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub sets: Vec<ValueSet>,
    pub bins: usize,
    /// `None`: from the smallest to the largest finite value of all sets.
    pub range: Option<(f32, f32)>,
    /// A logarithmic count axis, to see the tails.
    pub log_counts: bool,
    pub width: f32,
    pub height: f32,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            sets: Vec::new(),
            bins: 40,
            range: None,
            log_counts: false,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueSet {
    pub name: String,
    pub color: Color,
    pub values: Vec<f32>,
}

impl ValueSet {
    pub fn new(name: impl Into<String>, color: Color, values: Vec<f32>) -> Self {
        Self { name: name.into(), color, values }
    }
}

/// A 2-D landscape with paths across it (the paper's two-weight quadratic toy problem).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectories {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// `grid[iy * nx + ix]` is the value at `x = x_range.0 + ix * (x_range.1 - x_range.0) / (nx - 1)`
    /// and likewise for y (row 0 at the bottom, `y_range.0`). See [`sample_grid`].
    pub grid: Vec<f32>,
    pub nx: usize,
    pub ny: usize,
    pub x_range: (f32, f32),
    pub y_range: (f32, f32),
    /// Number of contour lines; the bands between them are filled from deep (low) to white (high).
    pub levels: usize,
    /// Space the contour levels evenly in `sqrt(value - min)`: evenly spaced rings for a quadratic
    /// bowl. Otherwise evenly in value.
    pub sqrt_levels: bool,
    pub paths: Vec<Path>,
    /// The marked point, the optimum W*, with its label.
    pub optimum: Option<(f32, f32)>,
    pub optimum_label: String,
    /// Lines at x = 0 and y = 0: where a binary weight (the sign of the hidden weight) flips.
    pub zero_axes: bool,
    pub width: f32,
    pub height: f32,
}

impl Default for Trajectories {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            grid: Vec::new(),
            nx: 0,
            ny: 0,
            x_range: (-1.0, 1.0),
            y_range: (-1.0, 1.0),
            levels: 10,
            sqrt_levels: true,
            paths: Vec::new(),
            optimum: None,
            optimum_label: "W*".into(),
            zero_axes: true,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// A path across the landscape, drawn with a hollow start marker and a filled end marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub name: String,
    pub color: Color,
    pub points: Vec<(f32, f32)>,
    pub dashed: bool,
}

impl Path {
    pub fn new(name: impl Into<String>, color: Color, points: Vec<(f32, f32)>) -> Self {
        Self { name: name.into(), color, points, dashed: false }
    }
}

/// Grouped bars with error bars (mean ± spread per group, one bar per series in each group).
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The group names under the x axis.
    pub groups: Vec<String>,
    pub series: Vec<BarSeries>,
    /// `None`: from 0 (or the smallest value) to the largest mean + spread.
    pub y_range: Option<(f32, f32)>,
    /// Decimals of the value printed over each bar (when there is room).
    pub decimals: usize,
    pub width: f32,
    pub height: f32,
}

impl Default for BarChart {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            groups: Vec::new(),
            series: Vec::new(),
            y_range: None,
            decimals: 2,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// One bar per group: `means[g] ± spreads[g]`. A NaN (or missing) mean draws no bar; a NaN,
/// zero or missing spread draws no error bar.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub color: Color,
    pub means: Vec<f32>,
    pub spreads: Vec<f32>,
}

impl BarSeries {
    pub fn new(name: impl Into<String>, color: Color, means: Vec<f32>, spreads: Vec<f32>) -> Self {
        Self { name: name.into(), color, means, spreads }
    }
}

/// Small images in a grid with a caption under each: learned filters, the examples a rule weighted
/// most, reconstructions.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGrid {
    pub title: String,
    /// A line under the title saying how to read the colours.
    pub note: Option<String>,
    pub tiles: Vec<Tile>,
    /// Tiles per row; 0 picks a near-square layout.
    pub cols: usize,
    /// `Grey`: 0 white to 1 black, clamped (images in [0, 1]). `Diverging`: each tile scaled by
    /// its largest |value|, negative red, zero white, positive blue (filters).
    pub scale: TileScale,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileScale {
    Grey,
    Diverging,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// Row-major, `w * h` values.
    pub pixels: Vec<f32>,
    pub w: usize,
    pub h: usize,
    pub caption: String,
    /// A frame in this colour (whose learner or rule the tile belongs to).
    pub frame: Option<Color>,
}

impl Default for ImageGrid {
    fn default() -> Self {
        Self { title: String::new(), note: None, tiles: Vec::new(), cols: 0, scale: TileScale::Grey, width: DEFAULT_WIDTH, height: DEFAULT_HEIGHT }
    }
}

// ---------------------------------------------------------------------------------------------
// Ticks and binning
// ---------------------------------------------------------------------------------------------

/// The step between ticks for a `span` that should get at most about `max_ticks` intervals:
/// 1, 2 or 5 times a power of ten, the smallest such step with `span / step <= max_ticks`.
pub fn nice_step(span: f32, max_ticks: usize) -> f32 {
    let span = span as f64;
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 + 1e-9 {
        1.0
    } else if norm <= 2.0 + 1e-9 {
        2.0
    } else if norm <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    (nice * mag) as f32
}

/// The multiples of [`nice_step`] that lie in `[lo, hi]` (at most `max_ticks + 1` of them).
pub fn nice_ticks(lo: f32, hi: f32, max_ticks: usize) -> Vec<f32> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if lo == hi {
        return vec![lo];
    }
    let step = nice_step(hi - lo, max_ticks) as f64;
    let first = (lo as f64 / step - 1e-6).ceil() as i64;
    let last = (hi as f64 / step + 1e-6).floor() as i64;
    // Computing each tick as i * step (not by repeated addition) keeps 0.3 from becoming 0.30000001.
    (first..=last).take(1000).map(|i| (i as f64 * step) as f32).collect()
}

/// Counts of `values` in `bins` equal bins over `[lo, hi]` (the last bin includes `hi`). Values
/// outside the range and non-finite values are not counted.
pub fn bin(values: &[f32], lo: f32, hi: f32, bins: usize) -> Vec<u32> {
    let mut counts = vec![0u32; bins];
    if bins == 0 || !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return counts;
    }
    let width = (hi - lo) as f64 / bins as f64;
    for &v in values {
        if !(v.is_finite() && v >= lo && v <= hi) {
            continue;
        }
        let i = (((v - lo) as f64 / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
}

/// Samples `f` on an `nx` x `ny` grid over the two ranges, in the layout [`Trajectories::grid`]
/// expects.
pub fn sample_grid(
    f: impl Fn(f32, f32) -> f32,
    nx: usize,
    ny: usize,
    x_range: (f32, f32),
    y_range: (f32, f32),
) -> Vec<f32> {
    let at = |i: usize, n: usize, (lo, hi): (f32, f32)| {
        if n < 2 { lo } else { lo + (hi - lo) * i as f32 / (n - 1) as f32 }
    };
    let mut grid = Vec::with_capacity(nx * ny);
    for iy in 0..ny {
        for ix in 0..nx {
            grid.push(f(at(ix, nx, x_range), at(iy, ny, y_range)));
        }
    }
    grid
}

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

// ---------------------------------------------------------------------------------------------
// Chart builders
// ---------------------------------------------------------------------------------------------

/// A line chart with axes, grid, markers and a legend at the right.
pub fn line_chart(spec: &LineChart) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let usable = |&(x, y): &(f32, f32)| x.is_finite() && y.is_finite() && (!spec.log_y || y > 0.0);
    let all = || spec.series.iter().flat_map(|s| s.points.iter().copied()).filter(usable);
    if all().next().is_none() {
        return no_data(&spec.title, width, height);
    }
    let xs = bounds(all().map(|p| p.0).chain(spec.markers.iter().map(|m| m.x)));
    let ys = bounds(all().map(|p| p.1));
    let head = Header::new(&spec.title, None);
    // Marker labels sit just above the plot, clear of the curves.
    let marker_room = if spec.markers.iter().any(|m| !m.label.is_empty()) { 8.0 } else { 0.0 };
    let (top, bottom) = (head.top + marker_room, height - bottom_margin(&spec.x_label));
    let y_max_ticks = ((bottom - top) / 40.0).clamp(2.0, 10.0) as usize;
    let (y_lo, y_hi) = match (spec.y_range, ys) {
        (Some(r), _) => sane_range(r, spec.log_y),
        (None, Some((lo, hi))) if spec.log_y => log_range(lo, hi),
        (None, Some((lo, hi))) => nice_range(lo, hi, y_max_ticks),
        (None, None) => (0.0, 1.0),
    };
    let y_ticks = tick_labels(y_lo, y_hi, spec.log_y, y_max_ticks);
    let entries: Vec<LegendEntry> = spec
        .series
        .iter()
        .filter(|s| !s.name.is_empty())
        .map(|s| LegendEntry { name: s.name.clone(), color: s.color, swatch: Swatch::Line { dash: s.dashed, marker: PointMark::for_color(s.color) } })
        .collect();
    let left = left_margin(&y_ticks, &spec.y_label);
    let legend = Legend::layout(entries, bottom - top);
    let right = width - 16.0 - legend.reserved_width();
    let x_max_ticks = ((right - left) / 60.0).clamp(2.0, 10.0) as usize;
    let (x_lo, x_hi) = match (spec.x_range, xs) {
        (Some(r), _) => sane_range(r, false),
        (None, Some((lo, hi))) => nice_range(lo, hi, x_max_ticks),
        (None, None) => (0.0, 1.0),
    };
    let frame = Frame {
        x: Axis { lo: x_lo, hi: x_hi, log: false, p0: left, p1: right },
        y: Axis { lo: y_lo, hi: y_hi, log: spec.log_y, p0: bottom, p1: top },
    };
    let x_ticks = tick_labels(x_lo, x_hi, false, x_max_ticks);

    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    frame.draw_grid(&mut fig, &y_ticks);
    draw_markers(&mut fig, &frame, &spec.markers);
    frame.draw_axes(&mut fig, &frame.x.ticks_px(&x_ticks), &frame.y.ticks_px(&y_ticks), &spec.x_label, &spec.y_label);
    for s in &spec.series {
        let pts: Vec<(f32, f32)> =
            s.points.iter().copied().filter(usable).map(|(x, y)| (frame.x.map(x), frame.y.map(y))).collect();
        match pts.len() {
            0 => {}
            // A single measurement is a dot: a polyline of one point draws nothing.
            1 => fig.push(Shape::Circle { cx: pts[0].0, cy: pts[0].1, r: 3.0, fill: s.color, stroke: None }),
            n => {
                let marker = PointMark::for_color(s.color);
                let every = n.div_ceil(MARKERS_PER_LINE).max(1);
                let marks: Vec<(f32, f32)> = pts.iter().copied().enumerate().filter(|(i, _)| i % every == 0 || *i == n - 1).map(|(_, p)| p).collect();
                fig.push(Shape::Line { points: pts, color: s.color, width: 2.0, dash: s.dashed });
                if let Some(marker) = marker {
                    for (x, y) in marks {
                        marker.draw(&mut fig, x, y, s.color);
                    }
                }
            }
        }
    }
    legend.draw(&mut fig, right + 14.0, top + 2.0);
    fig
}

/// At most this many markers along a line: enough to follow it, few enough not to hide it.
const MARKERS_PER_LINE: usize = 10;

/// The shape a learner's lines carry, so that standard and metaplastic are told apart without
/// colour (colour-blind readers, a washed-out projector, a greyscale printout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointMark {
    /// The standard learner.
    Square,
    /// The metaplastic learner.
    Circle,
    /// Any other learner (EWC, a second m): an open circle.
    Ring,
}

impl PointMark {
    /// The marker of the learner drawn in `color`; `None` for reference lines (the grey baseline)
    /// and for colours that are not a learner's.
    /// A shade of a learner's colour (one task's line) carries that learner's marker.
    pub fn for_color(color: Color) -> Option<PointMark> {
        let same_family = |base: Color| color == base || palette::shade_of(color, base);
        if same_family(palette::STANDARD) {
            Some(PointMark::Square)
        } else if same_family(palette::METAPLASTIC) {
            Some(PointMark::Circle)
        } else if same_family(palette::EWC) || palette::EXTRA_LEARNERS.iter().any(|&c| same_family(c)) {
            Some(PointMark::Ring)
        } else {
            None
        }
    }

    fn draw(self, fig: &mut Figure, x: f32, y: f32, color: Color) {
        match self {
            PointMark::Square => fig.push(Shape::Rect { x: x - 3.5, y: y - 3.5, w: 7.0, h: 7.0, fill: color, stroke: Some(palette::WHITE) }),
            PointMark::Circle => fig.push(Shape::Circle { cx: x, cy: y, r: 4.0, fill: color, stroke: Some(palette::WHITE) }),
            PointMark::Ring => fig.push(Shape::Circle { cx: x, cy: y, r: 3.8, fill: palette::WHITE, stroke: Some(color) }),
        }
    }
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

/// Overlapping histograms: semi-transparent bars per set over shared bins, each outlined in its
/// colour, with a legend at the right.
pub fn histogram(spec: &Histogram) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let bins = spec.bins.clamp(1, 1000);
    let data_bounds = bounds(spec.sets.iter().flat_map(|s| s.values.iter().copied()));
    let (lo, hi) = match (spec.range, data_bounds) {
        (Some(r), _) => sane_range(r, false),
        (None, Some(r)) => sane_range(r, false),
        (None, None) => return no_data(&spec.title, width, height),
    };
    let counts: Vec<Vec<u32>> = spec.sets.iter().map(|s| bin(&s.values, lo, hi, bins)).collect();
    let outside: usize =
        spec.sets.iter().map(|s| s.values.iter().filter(|v| v.is_finite() && (**v < lo || **v > hi)).count()).sum();
    let names: Vec<(String, Color)> = spec.sets.iter().map(|s| (s.name.clone(), s.color)).collect();
    histogram_from_counts(spec, &names, lo, hi, &counts, outside)
}

/// Values already counted where they live (a worker holding a million weights sends these
/// instead): `counts` in equal bins over `[lo, hi]`, finer than the figure's.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedSet {
    pub name: String,
    pub color: Color,
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<u32>,
}

impl BinnedSet {
    /// Counts the finite values in `fine` equal bins over their own range.
    pub fn count(name: impl Into<String>, color: Color, values: &[f32], fine: usize) -> Self {
        let (lo, hi) = match bounds(values.iter().copied()) {
            Some((lo, hi)) if hi > lo => (lo, hi),
            // All equal (or none): one bin around the value, so it still shows.
            Some((v, _)) => (v - 0.5, v + 0.5),
            None => (0.0, 1.0),
        };
        Self { name: name.into(), color, lo, hi, counts: bin(values, lo, hi, fine.max(1)) }
    }
}

/// [`histogram`] of pre-counted sets (`spec.sets` is ignored): each fine bin goes whole to the
/// figure's bin holding its centre, so an edge is off by at most half a fine bin.
pub fn binned_histogram(spec: &Histogram, sets: &[BinnedSet]) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let bins = spec.bins.clamp(1, 1000);
    let filled = || sets.iter().filter(|s| s.counts.iter().any(|&c| c > 0));
    let data_bounds = bounds(filled().flat_map(|s| [s.lo, s.hi]));
    let (lo, hi) = match (spec.range, data_bounds) {
        (Some(r), _) => sane_range(r, false),
        (None, Some(r)) => sane_range(r, false),
        (None, None) => return no_data(&spec.title, width, height),
    };
    let mut outside = 0;
    let counts: Vec<Vec<u32>> = sets
        .iter()
        .map(|s| {
            let mut out = vec![0u32; bins];
            let fine = s.counts.len().max(1) as f32;
            for (i, &c) in s.counts.iter().enumerate() {
                let centre = s.lo + (s.hi - s.lo) * (i as f32 + 0.5) / fine;
                if centre < lo || centre > hi {
                    outside += c as usize;
                    continue;
                }
                let k = (((centre - lo) / (hi - lo)) * bins as f32) as usize;
                out[k.min(bins - 1)] += c;
            }
            out
        })
        .collect();
    let names: Vec<(String, Color)> = sets.iter().map(|s| (s.name.clone(), s.color)).collect();
    histogram_from_counts(spec, &names, lo, hi, &counts, outside)
}

/// Draws counted bins, one row of `counts` per named set.
fn histogram_from_counts(spec: &Histogram, names: &[(String, Color)], lo: f32, hi: f32, counts: &[Vec<u32>], outside: usize) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let bins = counts.first().map_or(1, Vec::len).max(1);
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    if max == 0 {
        return no_data(&spec.title, width, height);
    }
    let note = (outside > 0).then(|| {
        format!(
            "{outside} value{} outside [{}, {}] not shown",
            if outside == 1 { "" } else { "s" },
            short(lo),
            short(hi)
        )
    });
    let head = Header::new(&spec.title, note);
    let (top, bottom) = (head.top, height - bottom_margin(&spec.x_label));
    let y_max_ticks = ((bottom - top) / 40.0).clamp(2.0, 10.0) as usize;
    let (y_lo, y_hi) =
        if spec.log_counts { (0.5, log_range(1.0, max as f32).1) } else { nice_range(0.0, max as f32, y_max_ticks) };
    let y_ticks = tick_labels(y_lo, y_hi, spec.log_counts, y_max_ticks);
    let y_label = if spec.log_counts { "count (log scale)" } else { "count" };
    let left = left_margin(&y_ticks, y_label);
    let entries = names
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, color)| LegendEntry { name: name.clone(), color: *color, swatch: Swatch::Box })
        .collect();
    let legend = Legend::layout(entries, bottom - top);
    let right = width - 16.0 - legend.reserved_width();
    let frame = Frame {
        x: Axis { lo, hi, log: false, p0: left, p1: right },
        y: Axis { lo: y_lo, hi: y_hi, log: spec.log_counts, p0: bottom, p1: top },
    };
    let x_ticks = tick_labels(lo, hi, false, ((right - left) / 60.0).clamp(2.0, 10.0) as usize);

    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    frame.draw_grid(&mut fig, &y_ticks);
    let edge = |i: usize| frame.x.map(lo + (hi - lo) * i as f32 / bins as f32);
    let level = |c: u32| if c == 0 { bottom } else { frame.y.map(c as f32) };
    for ((_, color), counts) in names.iter().zip(counts) {
        let fill = color.with_alpha(0.3 * color.a);
        for (i, &c) in counts.iter().enumerate() {
            if c > 0 {
                let (x, y) = (edge(i), level(c));
                fig.push(Shape::Rect { x, y, w: edge(i + 1) - x, h: bottom - y, fill, stroke: None });
            }
        }
    }
    // Outlines on top of all fills, so every set stays readable where they overlap.
    for ((_, color), counts) in names.iter().zip(counts) {
        let mut outline = vec![(edge(0), bottom)];
        for (i, &c) in counts.iter().enumerate() {
            outline.push((edge(i), level(c)));
            outline.push((edge(i + 1), level(c)));
        }
        outline.push((edge(bins), bottom));
        fig.push(Shape::Line { points: outline, color: *color, width: 1.5, dash: false });
    }
    frame.draw_axes(&mut fig, &frame.x.ticks_px(&x_ticks), &frame.y.ticks_px(&y_ticks), &spec.x_label, y_label);
    legend.draw(&mut fig, right + 14.0, top + 2.0);
    fig
}

/// A 2-D landscape as filled contour bands with contour lines, paths across it (hollow circle at
/// the start, filled at the end), the optimum, and the lines where a weight changes sign. The
/// axes have the same scale, so the geometry (gradients across contours) is true.
pub fn trajectory_plot(spec: &Trajectories) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let (nx, ny) = (spec.nx, spec.ny);
    let has_grid = nx >= 2 && ny >= 2 && spec.grid.len() >= nx * ny && bounds(spec.grid.iter().copied()).is_some();
    let has_paths = spec.paths.iter().any(|p| p.points.iter().any(|&(x, y)| x.is_finite() && y.is_finite()));
    if !has_grid && !has_paths {
        return no_data(&spec.title, width, height);
    }
    let (x_lo, x_hi) = sane_range(spec.x_range, false);
    let (y_lo, y_hi) = sane_range(spec.y_range, false);
    let head = Header::new(&spec.title, None);
    let (top, bottom_limit) = (head.top, height - bottom_margin(&spec.x_label));
    let y_max_ticks = ((bottom_limit - top) / 45.0).clamp(2.0, 10.0) as usize;
    let y_ticks = tick_labels(y_lo, y_hi, false, y_max_ticks);
    let left_limit = left_margin(&y_ticks, &spec.y_label);
    let mut entries: Vec<LegendEntry> = spec
        .paths
        .iter()
        .filter(|p| !p.name.is_empty())
        .map(|p| LegendEntry { name: p.name.clone(), color: p.color, swatch: Swatch::Line { dash: p.dashed, marker: None } })
        .collect();
    entries.push(LegendEntry { name: "start".into(), color: palette::AXIS, swatch: Swatch::Start });
    entries.push(LegendEntry { name: "end".into(), color: palette::AXIS, swatch: Swatch::End });
    if spec.optimum.is_some() {
        let name = if spec.optimum_label.is_empty() {
            "optimum".to_string()
        } else {
            format!("{} (optimum)", spec.optimum_label)
        };
        entries.push(LegendEntry { name, color: palette::TEXT, swatch: Swatch::Optimum });
    }
    let legend = Legend::layout(entries, bottom_limit - top);
    let right_limit = width - 16.0 - legend.reserved_width();
    // Same scale on both axes: the plot is as large as fits, centred in the space there is.
    let (avail_w, avail_h) = ((right_limit - left_limit).max(20.0), (bottom_limit - top).max(20.0));
    let scale = (avail_w / (x_hi - x_lo)).min(avail_h / (y_hi - y_lo));
    let (pw, ph) = ((x_hi - x_lo) * scale, (y_hi - y_lo) * scale);
    // Centre plot and legend together: the legend hugs the plot.
    let left = left_limit + (avail_w - pw) / 2.0;
    let (right, bottom) = (left + pw, top + ph);
    let frame = Frame {
        x: Axis { lo: x_lo, hi: x_hi, log: false, p0: left, p1: right },
        y: Axis { lo: y_lo, hi: y_hi, log: false, p0: bottom, p1: top },
    };
    let y_ticks = tick_labels(y_lo, y_hi, false, (ph / 45.0).clamp(2.0, 10.0) as usize);
    let x_ticks = tick_labels(x_lo, x_hi, false, (pw / 70.0).clamp(2.0, 10.0) as usize);

    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    if has_grid {
        draw_landscape(&mut fig, spec, &frame);
    }
    if spec.zero_axes {
        let axis_color = palette::AXIS.with_alpha(0.7);
        if x_lo < 0.0 && x_hi > 0.0 {
            let x = frame.x.map(0.0);
            fig.push(Shape::Line { points: vec![(x, top), (x, bottom)], color: axis_color, width: 1.0, dash: false });
        }
        if y_lo < 0.0 && y_hi > 0.0 {
            let y = frame.y.map(0.0);
            fig.push(Shape::Line { points: vec![(left, y), (right, y)], color: axis_color, width: 1.0, dash: false });
        }
    }
    fig.push(Shape::Rect {
        x: left,
        y: top,
        w: pw,
        h: ph,
        fill: palette::WHITE.with_alpha(0.0),
        stroke: Some(palette::AXIS),
    });
    frame.draw_axes(&mut fig, &frame.x.ticks_px(&x_ticks), &frame.y.ticks_px(&y_ticks), &spec.x_label, &spec.y_label);
    for p in &spec.paths {
        let pts: Vec<(f32, f32)> = p
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| (frame.x.map_clamped(x), frame.y.map_clamped(y)))
            .collect();
        let (Some(&first), Some(&last)) = (pts.first(), pts.last()) else { continue };
        if pts.len() > 1 {
            // A white halo under the path keeps it readable over any band.
            fig.push(Shape::Line {
                points: pts.clone(),
                color: palette::WHITE.with_alpha(0.8),
                width: 4.5,
                dash: false,
            });
            fig.push(Shape::Line { points: pts, color: p.color, width: 2.2, dash: p.dashed });
        }
        fig.push(Shape::Circle { cx: first.0, cy: first.1, r: 4.5, fill: palette::WHITE, stroke: Some(p.color) });
        fig.push(Shape::Circle { cx: last.0, cy: last.1, r: 4.5, fill: p.color, stroke: Some(palette::WHITE) });
    }
    if let Some((ox, oy)) = spec.optimum.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        let (cx, cy) = (frame.x.map_clamped(ox), frame.y.map_clamped(oy));
        push_star(&mut fig, cx, cy, 6.0);
        if !spec.optimum_label.is_empty() {
            fig.push(Shape::Text {
                x: cx + 8.0,
                y: cy - 7.0,
                text: spec.optimum_label.clone(),
                size: LABEL_SIZE,
                anchor: Anchor::Start,
                color: palette::TEXT,
                bold: true,
                rotate: false,
            });
        }
    }
    legend.draw(&mut fig, right + 14.0, top + 2.0);
    fig
}

/// Grouped bars with error bars (mean ± spread), the value printed over each bar when it fits.
pub fn bar_chart(spec: &BarChart) -> Figure {
    let (width, height) = figure_size(spec.width, spec.height);
    let groups = spec.groups.len().max(spec.series.iter().map(|s| s.means.len()).max().unwrap_or(0));
    let mean = |s: &BarSeries, g: usize| s.means.get(g).copied().filter(|v| v.is_finite());
    let spread =
        |s: &BarSeries, g: usize| s.spreads.get(g).copied().filter(|v| v.is_finite()).map(f32::abs).unwrap_or(0.0);
    let values = || {
        spec.series.iter().flat_map(move |s| {
            (0..groups).filter_map(move |g| mean(s, g).map(|m| (m - spread(s, g), m + spread(s, g))))
        })
    };
    if groups == 0 || spec.series.is_empty() || values().next().is_none() {
        return no_data(&spec.title, width, height);
    }
    let head = Header::new(&spec.title, None);
    let (top, bottom) = (head.top, height - bottom_margin(&spec.x_label));
    let y_max_ticks = ((bottom - top) / 40.0).clamp(2.0, 10.0) as usize;
    let (y_lo, y_hi) = match spec.y_range {
        Some(r) => sane_range(r, false),
        None => {
            let lo = values().map(|v| v.0).fold(0.0, f32::min);
            let hi = values().map(|v| v.1).fold(0.0, f32::max);
            nice_range(lo, hi, y_max_ticks)
        }
    };
    let y_ticks = tick_labels(y_lo, y_hi, false, y_max_ticks);
    let left = left_margin(&y_ticks, &spec.y_label);
    let entries = spec
        .series
        .iter()
        .filter(|s| !s.name.is_empty())
        .map(|s| LegendEntry { name: s.name.clone(), color: s.color, swatch: Swatch::Solid })
        .collect();
    let legend = Legend::layout(entries, bottom - top);
    let right = width - 16.0 - legend.reserved_width();
    let frame = Frame {
        x: Axis { lo: 0.0, hi: groups as f32, log: false, p0: left, p1: right },
        y: Axis { lo: y_lo, hi: y_hi, log: false, p0: bottom, p1: top },
    };
    let group_w = (right - left) / groups as f32;
    let bar_w = group_w * 0.75 / spec.series.len() as f32;
    let group_ticks: Vec<(f32, String)> = (0..groups)
        .map(|g| {
            (left + (g as f32 + 0.5) * group_w, spec.groups.get(g).cloned().unwrap_or_else(|| (g + 1).to_string()))
        })
        .collect();

    let mut fig = Figure::new(width, height);
    head.draw(&mut fig, width);
    frame.draw_grid(&mut fig, &y_ticks);
    let base = frame.y.map_clamped(0.0);
    let value_size = 10.5;
    for (k, s) in spec.series.iter().enumerate() {
        for g in 0..groups {
            let Some(m) = mean(s, g) else { continue };
            let x = left + g as f32 * group_w + group_w * 0.125 + k as f32 * bar_w;
            let y = frame.y.map_clamped(m);
            let (y0, h) = if y <= base { (y, base - y) } else { (base, y - base) };
            fig.push(Shape::Rect { x: x + 1.0, y: y0, w: (bar_w - 2.0).max(1.0), h, fill: s.color, stroke: None });
            let e = spread(s, g);
            let cx = x + bar_w / 2.0;
            let mut label_y = y.min(base) - 4.0;
            if e > 0.0 {
                let (ya, yb) = (frame.y.map_clamped(m - e), frame.y.map_clamped(m + e));
                let cap = (bar_w * 0.25).clamp(2.0, 7.0);
                let whisker = palette::TEXT;
                fig.push(Shape::Line { points: vec![(cx, ya), (cx, yb)], color: whisker, width: 1.3, dash: false });
                for yy in [ya, yb] {
                    fig.push(Shape::Line {
                        points: vec![(cx - cap, yy), (cx + cap, yy)],
                        color: whisker,
                        width: 1.3,
                        dash: false,
                    });
                }
                label_y = label_y.min(ya.min(yb) - 4.0);
            }
            let label = fmt_fixed(m, spec.decimals);
            if text_w(&label, value_size) <= bar_w + 2.0 && label_y > top + value_size {
                fig.push(text(cx, label_y, &label, value_size, Anchor::Middle, palette::AXIS));
            }
        }
    }
    frame.draw_axes(&mut fig, &group_ticks, &frame.y.ticks_px(&y_ticks), &spec.x_label, &spec.y_label);
    legend.draw(&mut fig, right + 14.0, top + 2.0);
    fig
}

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

// ---------------------------------------------------------------------------------------------
// Layout helpers
// ---------------------------------------------------------------------------------------------

/// An axis mapping data values `lo..hi` to pixels `p0..p1` (p0 > p1 for a y axis, which grows up).
#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f32,
    hi: f32,
    log: bool,
    p0: f32,
    p1: f32,
}

impl Axis {
    fn map(&self, v: f32) -> f32 {
        let t = if self.log {
            (v.max(f32::MIN_POSITIVE).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.p0 + (self.p1 - self.p0) * t
    }

    /// [`Axis::map`], held inside the plot: a value off the scale is drawn at its edge.
    fn map_clamped(&self, v: f32) -> f32 {
        self.map(v).clamp(self.p0.min(self.p1), self.p0.max(self.p1))
    }

    fn unmap(&self, p: f32) -> f32 {
        self.lo + (self.hi - self.lo) * (p - self.p0) / (self.p1 - self.p0)
    }

    fn ticks_px(&self, ticks: &[(f32, String)]) -> Vec<(f32, String)> {
        ticks.iter().map(|(v, l)| (self.map(*v), l.clone())).collect()
    }
}

/// A plot area with its two axes.
struct Frame {
    x: Axis,
    y: Axis,
}

impl Frame {
    fn left(&self) -> f32 {
        self.x.p0
    }
    fn right(&self) -> f32 {
        self.x.p1
    }
    fn bottom(&self) -> f32 {
        self.y.p0
    }
    fn top(&self) -> f32 {
        self.y.p1
    }

    /// Light horizontal lines at the y ticks, under everything else.
    fn draw_grid(&self, fig: &mut Figure, y_ticks: &[(f32, String)]) {
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
    fn draw_axes(
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
struct Header {
    title: String,
    note: Option<String>,
    top: f32,
}

impl Header {
    fn new(title: &str, note: Option<String>) -> Self {
        let top = match (title.is_empty(), &note) {
            (_, Some(_)) => 56.0,
            (false, None) => 42.0,
            (true, None) => 16.0,
        };
        Self { title: title.to_string(), note, top }
    }

    fn draw(&self, fig: &mut Figure, width: f32) {
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

#[derive(Debug, Clone, Copy)]
enum Swatch {
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

struct LegendEntry {
    name: String,
    color: Color,
    swatch: Swatch,
}

/// Legend entries in columns of as many rows as fit the plot's height.
struct Legend {
    entries: Vec<LegendEntry>,
    rows: usize,
    col_w: f32,
}

impl Legend {
    fn layout(entries: Vec<LegendEntry>, avail_h: f32) -> Self {
        let rows = ((avail_h / LEGEND_ROW) as usize).max(1);
        let col_w = SWATCH + 6.0 + entries.iter().map(|e| text_w(&e.name, LEGEND_SIZE)).fold(0.0, f32::max) + 12.0;
        Self { entries, rows, col_w }
    }

    /// Width to keep free at the right of the plot (0 without entries).
    fn reserved_width(&self) -> f32 {
        if self.entries.is_empty() { 0.0 } else { self.entries.len().div_ceil(self.rows) as f32 * self.col_w + 8.0 }
    }

    fn draw(&self, fig: &mut Figure, x: f32, y: f32) {
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

/// Labelled vertical dashed lines, the labels just above the plot. Where markers are too close
/// for all their labels, labels that would collide with the previous one are left out.
fn draw_markers(fig: &mut Figure, frame: &Frame, markers: &[Marker]) {
    let mut xs: Vec<(f32, &str)> = markers
        .iter()
        .filter(|m| m.x.is_finite() && m.x >= frame.x.lo && m.x <= frame.x.hi)
        .map(|m| (frame.x.map(m.x), m.label.as_str()))
        .collect();
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let size = 11.0;
    let color = palette::MUTED;
    let mut free_from = f32::NEG_INFINITY;
    for (x, label) in xs {
        fig.push(Shape::Line {
            points: vec![(x, frame.top()), (x, frame.bottom())],
            color: color.with_alpha(0.6),
            width: 1.0,
            dash: true,
        });
        let w = text_w(label, size);
        if label.is_empty() || x < free_from {
            continue;
        }
        // At the right edge of the figure, the label ends at its line instead of starting there.
        let (tx, anchor, end) = if x + 3.0 + w > fig.width - 4.0 {
            (x - 3.0, Anchor::End, x)
        } else {
            (x + 3.0, Anchor::Start, x + 3.0 + w)
        };
        fig.push(text(tx, frame.top() - 4.0, label, size, anchor, color));
        free_from = end + 6.0;
    }
}

/// Filled contour bands (row by row, as runs of equal band) and contour lines.
fn draw_landscape(fig: &mut Figure, spec: &Trajectories, frame: &Frame) {
    let (nx, ny) = (spec.nx, spec.ny);
    let grid = &spec.grid[..nx * ny];
    let Some((vmin, vmax)) = bounds(grid.iter().copied()) else { return };
    let n_levels = spec.levels.clamp(1, 40);
    let levels: Vec<f32> = (1..=n_levels)
        .map(|k| {
            let t = k as f32 / (n_levels + 1) as f32;
            vmin + (vmax - vmin) * if spec.sqrt_levels { t * t } else { t }
        })
        .collect();
    let band_color = |k: usize| {
        let deep = palette::ACCENT.lighten(0.6);
        deep.mix(Color::hex(0xfbfcff), k as f32 / n_levels as f32)
    };
    let (gx0, gx1) = spec.x_range;
    let (gy0, gy1) = spec.y_range;
    // The landscape's value at a data point, interpolated bilinearly between grid nodes.
    let value_at = |x: f32, y: f32| -> f32 {
        let fx = (x - gx0) / (gx1 - gx0) * (nx - 1) as f32;
        let fy = (y - gy0) / (gy1 - gy0) * (ny - 1) as f32;
        if !(fx >= 0.0 && fy >= 0.0 && fx <= (nx - 1) as f32 && fy <= (ny - 1) as f32) {
            return f32::NAN;
        }
        let (ix, iy) = ((fx as usize).min(nx - 2), (fy as usize).min(ny - 2));
        let (tx, ty) = (fx - ix as f32, fy - iy as f32);
        let g = |i: usize, j: usize| grid[j * nx + i];
        let bottom = g(ix, iy) * (1.0 - tx) + g(ix + 1, iy) * tx;
        let top = g(ix, iy + 1) * (1.0 - tx) + g(ix + 1, iy + 1) * tx;
        bottom * (1.0 - ty) + top * ty
    };
    let band = |v: f32| levels.iter().take_while(|&&l| v >= l).count();
    // Bands: 3-pixel rows, each cut into runs of one band. Rects overlap by half a pixel so no
    // hairline seams show between them.
    let px: f32 = 3.0;
    let (l, r, t, b) = (frame.left(), frame.right(), frame.top(), frame.bottom());
    let mut y = t;
    while y < b {
        let h = px.min(b - y);
        let vy = frame.y.unmap(y + h / 2.0);
        let mut run: Option<(f32, usize)> = None;
        let mut x = l;
        while x < r {
            let w = px.min(r - x);
            let v = value_at(frame.x.unmap(x + w / 2.0), vy);
            let k = v.is_finite().then(|| band(v));
            match (run, k) {
                (Some((_, rk)), Some(k)) if rk == k => {}
                _ => {
                    if let Some((x0, rk)) = run.take() {
                        fig.push(Shape::Rect {
                            x: x0,
                            y,
                            w: x - x0 + 0.5,
                            h: h + 0.5,
                            fill: band_color(rk),
                            stroke: None,
                        });
                    }
                    run = k.map(|k| (x, k));
                }
            }
            x += w;
        }
        if let Some((x0, rk)) = run {
            fig.push(Shape::Rect { x: x0, y, w: r - x0, h: h + 0.5, fill: band_color(rk), stroke: None });
        }
        y += h;
    }
    // Contour lines on the original grid (marching squares), which smooth the bands' steps.
    let line_color = palette::ACCENT.with_alpha(0.35);
    for &level in &levels {
        for line in contour_lines(grid, nx, ny, level) {
            let points = line
                .into_iter()
                .map(|(fx, fy)| {
                    let x = gx0 + (gx1 - gx0) * fx / (nx - 1) as f32;
                    let y = gy0 + (gy1 - gy0) * fy / (ny - 1) as f32;
                    (frame.x.map(x), frame.y.map(y))
                })
                .collect();
            fig.push(Shape::Line { points, color: line_color, width: 0.9, dash: false });
        }
    }
}

/// Where `level` crosses the grid, as polylines in fractional grid coordinates (marching squares,
/// with the segments of neighbouring cells joined through the edge they share).
fn contour_lines(grid: &[f32], nx: usize, ny: usize, level: f32) -> Vec<Vec<(f32, f32)>> {
    // An edge of the grid: (vertical?, ix, iy) of its lower/left node.
    type Edge = (bool, usize, usize);
    let g = |ix: usize, iy: usize| grid[iy * nx + ix];
    let crossing = |(vertical, ix, iy): Edge| -> (f32, f32) {
        let (a, b) = if vertical { (g(ix, iy), g(ix, iy + 1)) } else { (g(ix, iy), g(ix + 1, iy)) };
        let t = ((level - a) / (b - a)).clamp(0.0, 1.0);
        if vertical { (ix as f32, iy as f32 + t) } else { (ix as f32 + t, iy as f32) }
    };
    let mut segments: Vec<(Edge, Edge)> = Vec::new();
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            let corners = [g(ix, iy), g(ix + 1, iy), g(ix + 1, iy + 1), g(ix, iy + 1)];
            if corners.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let above = corners.map(|v| v >= level);
            // Edges in order: bottom, right, top, left; edge i joins corner i and corner i+1.
            let edges: [Edge; 4] = [(false, ix, iy), (true, ix + 1, iy), (false, ix, iy + 1), (true, ix, iy)];
            let crossed: Vec<usize> = (0..4).filter(|&i| above[i] != above[(i + 1) % 4]).collect();
            match crossed.len() {
                2 => segments.push((edges[crossed[0]], edges[crossed[1]])),
                4 => {
                    // A saddle: the cell centre decides which corners are joined.
                    let centre_above = corners.iter().sum::<f32>() / 4.0 >= level;
                    if centre_above == above[0] {
                        // Corners 0 and 2 are connected through the centre: cut off 1 and 3.
                        segments.push((edges[0], edges[1]));
                        segments.push((edges[2], edges[3]));
                    } else {
                        segments.push((edges[3], edges[0]));
                        segments.push((edges[1], edges[2]));
                    }
                }
                _ => {}
            }
        }
    }
    let mut at: HashMap<Edge, Vec<usize>> = HashMap::new();
    for (i, (a, b)) in segments.iter().enumerate() {
        at.entry(*a).or_default().push(i);
        at.entry(*b).or_default().push(i);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    // Follows unused segments from `edge` onwards, appending the edges it passes.
    let walk = |mut edge: Edge, used: &mut Vec<bool>, out: &mut Vec<Edge>| {
        while let Some(&next) = at.get(&edge).and_then(|s| s.iter().find(|&&i| !used[i])) {
            used[next] = true;
            let (a, b) = segments[next];
            edge = if a == edge { b } else { a };
            out.push(edge);
        }
    };
    for i in 0..segments.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let (a, b) = segments[i];
        let mut forward = vec![b];
        walk(b, &mut used, &mut forward);
        let mut backward = vec![a];
        walk(a, &mut used, &mut backward);
        let edges: Vec<Edge> = backward.into_iter().rev().chain(forward).collect();
        lines.push(edges.into_iter().map(crossing).collect());
    }
    lines
}

/// The optimum's marker: a black diamond-star drawn from lines, the same in every renderer.
fn push_star(fig: &mut Figure, cx: f32, cy: f32, r: f32) {
    fig.push(Shape::Circle { cx, cy, r: r * 0.6, fill: palette::TEXT, stroke: Some(palette::WHITE) });
    for (dx, dy) in [(1.0, 0.0), (0.0, 1.0), (FRAC_1_SQRT_2, FRAC_1_SQRT_2), (FRAC_1_SQRT_2, -FRAC_1_SQRT_2)] {
        fig.push(Shape::Line {
            points: vec![(cx - dx * r * 1.5, cy - dy * r * 1.5), (cx + dx * r * 1.5, cy + dy * r * 1.5)],
            color: palette::TEXT,
            width: 1.6,
            dash: false,
        });
    }
}

/// The figure that stands in for a chart with nothing to show.
fn no_data(title: &str, width: f32, height: f32) -> Figure {
    let mut fig = Figure::new(width, height);
    let head = Header::new(title, None);
    head.draw(&mut fig, width);
    let (x, y) = (24.0, head.top);
    let (w, h) = ((width - 48.0).max(1.0), (height - y - 24.0).max(1.0));
    fig.push(Shape::Rect { x, y, w, h, fill: Color::hex(0xfafafa), stroke: Some(palette::GRID) });
    fig.push(text(x + w / 2.0, y + h / 2.0 + 5.0, NO_DATA, 14.0, Anchor::Middle, palette::MUTED));
    fig
}

fn text(x: f32, y: f32, s: &str, size: f32, anchor: Anchor, color: Color) -> Shape {
    Shape::Text { x, y, text: s.to_string(), size, anchor, color, bold: false, rotate: false }
}

/// A title reading bottom to top, centred on `y`, its glyphs to the left of `x`.
fn rotated_text(x: f32, y: f32, s: &str, size: f32, color: Color) -> Shape {
    Shape::Text { x, y, text: s.to_string(), size, anchor: Anchor::Middle, color, bold: false, rotate: true }
}

/// An estimate of a text's width in pixels (no font metrics here; system-ui averages about 0.58 em
/// per character for digits and lower case).
fn text_w(s: &str, size: f32) -> f32 {
    s.chars().count() as f32 * size * 0.58
}

/// Width and height, replaced by the defaults when not finite or too small to lay anything out.
fn figure_size(width: f32, height: f32) -> (f32, f32) {
    let ok = |v: f32, min: f32| v.is_finite() && v >= min;
    (if ok(width, 160.0) { width } else { DEFAULT_WIDTH }, if ok(height, 120.0) { height } else { DEFAULT_HEIGHT })
}

fn bottom_margin(x_label: &str) -> f32 {
    if x_label.is_empty() { 30.0 } else { 52.0 }
}

fn left_margin(y_ticks: &[(f32, String)], y_label: &str) -> f32 {
    let widest = y_ticks.iter().map(|(_, l)| text_w(l, TICK_SIZE)).fold(0.0, f32::max);
    12.0 + if y_label.is_empty() { 0.0 } else { LABEL_SIZE + 10.0 } + widest + 8.0
}

/// The smallest and largest finite value, if any.
fn bounds(values: impl Iterator<Item = f32>) -> Option<(f32, f32)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A usable range: ordered, finite, not empty (and positive for a log axis).
fn sane_range((lo, hi): (f32, f32), log: bool) -> (f32, f32) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo.min(hi), lo.max(hi)) } else { (0.0, 1.0) };
    if log {
        let lo = if lo > 0.0 { lo } else { hi.abs().max(1.0) * 1e-3 };
        let hi = if hi > lo { hi } else { lo * 10.0 };
        return (lo, hi);
    }
    if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

/// The data range widened to whole nice steps.
fn nice_range(lo: f32, hi: f32, max_ticks: usize) -> (f32, f32) {
    let (lo, hi) = sane_range((lo, hi), false);
    let step = nice_step(hi - lo, max_ticks) as f64;
    let (lo, hi) = ((lo as f64 / step).floor() * step, (hi as f64 / step).ceil() * step);
    (lo as f32, hi as f32)
}

/// Whole decades around a positive range.
fn log_range(lo: f32, hi: f32) -> (f32, f32) {
    let (lo, hi) = sane_range((lo, hi), true);
    let (a, b) = (lo.log10().floor(), hi.log10().ceil());
    (10f32.powf(a), 10f32.powf(if b > a { b } else { a + 1.0 }))
}

/// Tick values with their labels, on a linear or a log axis.
fn tick_labels(lo: f32, hi: f32, log: bool, max_ticks: usize) -> Vec<(f32, String)> {
    if log {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let decades = (b - a).max(1) as usize;
        let mults: &[f32] = if decades <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        let every = decades.div_ceil(max_ticks.max(1)).max(1);
        return (a..=b)
            .filter(|k| ((k - a) as usize).is_multiple_of(every))
            .flat_map(|k| mults.iter().map(move |m| m * 10f32.powi(k)))
            .filter(|v| *v >= lo * 0.999 && *v <= hi * 1.001)
            .map(|v| (v, log_label(v)))
            .collect();
    }
    let step = nice_step(hi - lo, max_ticks);
    nice_ticks(lo, hi, max_ticks).into_iter().map(|v| (v, linear_label(v, step))).collect()
}

/// A tick label with as many decimals as the step needs; thousands as "20k" for large steps.
fn linear_label(v: f32, step: f32) -> String {
    if step >= 1000.0 && v != 0.0 {
        return format!("{}k", fmt_num(v / 1000.0, decimals_for(step / 1000.0)));
    }
    fmt_num(v, decimals_for(step))
}

fn decimals_for(step: f32) -> usize {
    (-(step.log10() + 1e-4).floor()).max(0.0) as usize
}

fn log_label(v: f32) -> String {
    if (1e-3..1e5).contains(&v) { fmt_num(v, decimals_for(v)) } else { format!("1e{}", v.log10().round() as i32) }
}

/// A short number for notes: "-1", "0.25", "1.2e-5".
fn short(v: f32) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) { fmt_num(v, 3) } else { format!("{v:.1e}") }
}

/// `v` with exactly `decimals` decimals ("0.90"), as printed in cells.
fn fmt_fixed(v: f32, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

/// The heat-map scale: white at 0, the accent colour at 1.
fn scale_color(t: f32) -> Color {
    palette::WHITE.mix(palette::ACCENT, t)
}
