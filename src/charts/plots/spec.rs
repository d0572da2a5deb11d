//! What each chart shows: the specs the builders take, plain data with defaults.

use crate::charts::{Color, DEFAULT_HEIGHT, DEFAULT_WIDTH};

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
    /// and likewise for y (row 0 at the bottom, `y_range.0`). See [`sample_grid`](super::sample_grid).
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
