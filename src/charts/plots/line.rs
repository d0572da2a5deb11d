//! Line charts, with labelled vertical markers.

use super::frame::{Axis, Frame, Header, bottom_margin, figure_size, left_margin, no_data};
use super::legend::{Legend, LegendEntry, Swatch};
use super::marks::PointMark;
use super::scale::{bounds, log_range, nice_range, sane_range, tick_labels};
use super::spec::{LineChart, Marker};
use super::text::{text, text_w};
use crate::charts::{Anchor, Figure, Shape, palette};

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
