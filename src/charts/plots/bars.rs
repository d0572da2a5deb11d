//! Grouped bar charts with error bars.

use super::frame::{Axis, Frame, Header, bottom_margin, figure_size, left_margin, no_data};
use super::legend::{Legend, LegendEntry, Swatch};
use super::scale::{fmt_fixed, nice_range, sane_range, tick_labels};
use super::spec::{BarChart, BarSeries};
use super::text::{text, text_w};
use crate::charts::{Anchor, Figure, Shape, palette};

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
