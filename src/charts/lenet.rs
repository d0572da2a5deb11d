//! The LeNet-5 figures (standard vs artificial metaplasticity), for the app's canvases and the
//! tool's SVG files.

use super::palette;
use super::plots::{
    BarChart, BarSeries, Heatmap, Histogram, ImageGrid, LineChart, Series, Tile, TileScale, ValueSet, bar_chart, heatmap, histogram,
    image_grid, line_chart, normalize_rows,
};
use super::{Color, Figure};
use crate::data::IMAGE_SIDE;
use crate::stats::Confusion;

// The charts take numbers and names, not the experiments' records: a rule is its name
// (`experiments::lenet::Rule::name`), each rule's curve its points `[step, test, train]`.

/// Vermillion for standard training, blue for the metaplastic rule, as in every chart of the project.
pub fn rule_color(rule: &str) -> Color {
    match rule {
        "standard" => palette::STANDARD,
        "amp" => palette::METAPLASTIC,
        "amp-centred" => palette::ACCENT,
        _ => palette::MUTED,
    }
}

pub fn rule_title(rule: &str) -> &str {
    match rule {
        "standard" => "standard",
        "amp" => "metaplastic (AMP)",
        "amp-centred" => "metaplastic (AMP, centred energy)",
        other => other,
    }
}

/// One rule's test (solid) and training (dashed, lighter but still 3:1 on white) lines.
fn rule_lines(series: &mut Vec<Series>, rule: &str, points: &[[f32; 3]]) {
    let color = rule_color(rule);
    series.push(Series::new(format!("{} · test", rule_title(rule)), color, points.iter().map(|p| (p[0], p[1])).collect()));
    series.push(Series::new(format!("{} · train", rule_title(rule)), palette::legible(color.lighten(0.3)), points.iter().map(|p| (p[0], p[2])).collect()).dashed());
}

/// Test accuracy (solid) and training accuracy (dashed) over training, per rule: `curves` holds
/// each rule's name and its points `[step, test accuracy, training accuracy]`.
pub fn accuracy_curves(curves: &[(&str, Vec<[f32; 3]>)], total_steps: usize, width: f32, height: f32) -> Figure {
    let mut series = Vec::new();
    for (rule, points) in curves {
        rule_lines(&mut series, rule, points);
    }
    let lo = curves.iter().flat_map(|(_, p)| p.iter().map(|p| p[1].min(p[2]))).filter(|v| v.is_finite()).fold(1.0f32, f32::min);
    line_chart(&LineChart {
        title: "Accuracy while training".into(),
        x_label: "training batches".into(),
        y_label: "accuracy".into(),
        x_range: Some((0.0, total_steps.max(1) as f32)),
        // Zoomed on the top, where the rules differ, but never hiding a point.
        y_range: Some(((lo - 0.02).clamp(0.0, 0.9), 1.0)),
        series,
        width,
        height,
        ..Default::default()
    })
}

/// Test and training loss over training, log scale: points `[step, test loss, training loss]`.
pub fn loss_curves(curves: &[(&str, Vec<[f32; 3]>)], total_steps: usize, width: f32, height: f32) -> Figure {
    let mut series = Vec::new();
    for (rule, points) in curves {
        rule_lines(&mut series, rule, points);
    }
    line_chart(&LineChart {
        title: "Cross-entropy loss".into(),
        x_label: "training batches".into(),
        y_label: "loss".into(),
        x_range: Some((0.0, total_steps.max(1) as f32)),
        log_y: true,
        series,
        width,
        height,
        ..Default::default()
    })
}

/// Rows: true class; columns: predicted; each row as fractions of that class.
pub fn confusion(title: &str, c: &Confusion, class_names: &[&str], width: f32, height: f32) -> Figure {
    let counts: Vec<f32> = c.counts.iter().flatten().map(|&v| v as f32).collect();
    heatmap(&Heatmap {
        title: title.into(),
        rows: c.classes,
        cols: c.classes,
        values: normalize_rows(&counts, c.classes),
        row_labels: class_names.iter().map(|s| s.to_string()).collect(),
        col_labels: class_names.iter().map(|s| s.to_string()).collect(),
        y_label: "true class".into(),
        x_label: "predicted class".into(),
        range: Some((0.0, 1.0)),
        decimals: 2,
        width,
        height,
    })
}

/// The first convolutional layer's filters (`[count, k, k, 1]`): blue where a filter responds to
/// ink, red where ink suppresses it.
pub fn filters(title: &str, rule: &str, count: usize, k: usize, weights: &[f32], width: f32, height: f32) -> Figure {
    let tiles = weights
        .chunks_exact(k * k)
        .take(count)
        .enumerate()
        .map(|(i, w)| Tile { pixels: w.to_vec(), w: k, h: k, caption: format!("{}", i + 1), frame: Some(rule_color(rule)) })
        .collect();
    image_grid(&ImageGrid {
        title: title.into(),
        note: Some("blue: ink excites the filter, red: ink inhibits it (each filter scaled to its own maximum)".into()),
        tiles,
        cols: if count <= 8 { count } else { 8 },
        scale: TileScale::Diverging,
        width,
        height,
    })
}

/// The per-example metaplastic factors of one batch, per convolutional layer.
pub fn factor_histogram(layers: &[Vec<f32>], width: f32, height: f32) -> Figure {
    let colors = palette::shades(palette::METAPLASTIC, layers.len().max(2));
    histogram(&Histogram {
        title: "Factors 1/f*(x) in the last batch (mean 1)".into(),
        x_label: "factor scaling an example's gradient in the convolutional layers".into(),
        sets: layers.iter().enumerate().map(|(i, f)| ValueSet::new(format!("conv {}", i + 1), colors[i], f.clone())).collect(),
        bins: 30,
        width,
        height,
        ..Default::default()
    })
}

/// The `k` examples of the batch with the largest factors and the `k` with the smallest: what the
/// rule treats as rare (moves the weights more) and as common.
pub fn extreme_examples(x: &[f32], factors: &[f32], k: usize, width: f32, height: f32) -> Figure {
    let pixels = IMAGE_SIDE * IMAGE_SIDE;
    let mut order: Vec<usize> = (0..factors.len().min(x.len() / pixels)).collect();
    order.sort_by(|&a, &b| factors[b].total_cmp(&factors[a]));
    let k = k.min(order.len() / 2);
    let pick = order.iter().take(k).chain(order.iter().rev().take(k).collect::<Vec<_>>().into_iter().rev());
    let tiles = pick
        .map(|&i| Tile {
            pixels: x[i * pixels..(i + 1) * pixels].to_vec(),
            w: IMAGE_SIDE,
            h: IMAGE_SIDE,
            caption: format!("×{:.2}", factors[i]),
            frame: Some(if factors[i] >= 1.0 { palette::METAPLASTIC } else { palette::MUTED }),
        })
        .collect();
    image_grid(&ImageGrid {
        title: format!("Largest {k} and smallest {k} factors in the batch (first conv layer)"),
        note: Some("left: treated as rare, moves the weights most · right: treated as common".into()),
        tiles,
        cols: 2 * k.max(1),
        scale: TileScale::Grey,
        width,
        height,
    })
}

/// Test metrics per rule: mean and standard deviation over seeds.
pub fn metric_bars(rows: &[(&str, [(f32, f32); 4])], width: f32, height: f32) -> Figure {
    let lo = rows.iter().flat_map(|(_, m)| m.iter().map(|(mean, sd)| mean - sd)).filter(|v| v.is_finite()).fold(1.0f32, f32::min);
    bar_chart(&BarChart {
        title: "Test metrics (mean ± sd over seeds)".into(),
        y_label: "score".into(),
        groups: ["accuracy", "macro F1", "precision", "recall"].map(String::from).to_vec(),
        series: rows
            .iter()
            .map(|(rule, m)| BarSeries::new(rule_title(rule), rule_color(rule), m.iter().map(|v| v.0).collect(), m.iter().map(|v| v.1).collect()))
            .collect(),
        // Zoomed: the rules differ in the third digit, which bars from 0 would hide.
        y_range: Some((((lo - 0.01) * 100.0).floor() / 100.0, 1.0)),
        decimals: 4,
        width,
        height,
        ..Default::default()
    })
}
