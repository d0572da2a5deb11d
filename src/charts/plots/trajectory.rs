//! Paths across a 2-D landscape, drawn as filled contour bands with contour lines.

use super::frame::{Axis, Frame, Header, bottom_margin, figure_size, left_margin, no_data};
use super::legend::{Legend, LegendEntry, Swatch};
use super::marks::push_star;
use super::scale::{bounds, sane_range, tick_labels};
use super::spec::Trajectories;
use super::text::LABEL_SIZE;
use crate::charts::{Anchor, Color, Figure, Shape, palette};
use std::collections::HashMap;

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
