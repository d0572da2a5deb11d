//! Histograms: of values, or of values already counted where they live.

use super::frame::{Axis, Frame, Header, bottom_margin, figure_size, left_margin, no_data};
use super::legend::{Legend, LegendEntry, Swatch};
use super::scale::{bounds, log_range, nice_range, sane_range, short, tick_labels};
use super::spec::Histogram;
use crate::charts::{Color, Figure, Shape};

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
