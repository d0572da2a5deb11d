//! The chart builders: pure functions from a spec to a [`Figure`](super::Figure). Axes, ticks,
//! labels and legends are drawn with the same shapes as the data, so a renderer only knows four
//! kinds of shape.
//!
//! Every builder accepts any input without panicking: non-finite values are skipped, and a chart
//! with nothing to show is a figure that says "no data yet".
//!
//! The specs are in `spec`; each chart's builder is in a module of its own (with the helpers that
//! belong to that chart alone, such as [`bin`] for histograms); what they all lay out with is in
//! `frame`, `legend`, `marks`, `scale` and `text`. Everything public is re-exported here, so a
//! chart is `plots::X` whichever file it lives in.

mod bars;
mod frame;
mod heatmap;
mod histogram;
mod images;
mod legend;
mod line;
mod marks;
mod scale;
mod spec;
mod text;
mod trajectory;

pub use bars::bar_chart;
pub use heatmap::{heatmap, normalize_rows};
pub use histogram::{BinnedSet, bin, binned_histogram, histogram};
pub use images::image_grid;
pub use line::line_chart;
pub use marks::PointMark;
pub use scale::{nice_step, nice_ticks};
pub use spec::{BarChart, BarSeries, Heatmap, Histogram, ImageGrid, LineChart, Marker, Path, Series, Tile, TileScale, Trajectories, ValueSet};
pub use trajectory::{sample_grid, trajectory_plot};

/// The text shown by a chart that has nothing to draw.
pub const NO_DATA: &str = "no data yet";
