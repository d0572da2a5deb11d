//! The binarized-network figures, built once for the app's canvases and the tool's SVG files.

use super::palette;
use super::plots::{
    BarChart, BarSeries, BinnedSet, Heatmap, Histogram, LineChart, Marker, Path, Series, Trajectories, ValueSet, bar_chart, binned_histogram, heatmap, histogram,
    line_chart, sample_grid, trajectory_plot,
};
use super::{Color, Figure};
use crate::experiments::permuted::{LearnerRecord, LearnerSpec};
use crate::experiments::stream::{FULL_DATA, StreamRecord};
use crate::experiments::toy::{ToyConfig, Trajectory, toy_loss};

/// Vermillion for the standard network, blue for the metaplastic one, reddish purple for EWC,
/// grey for the full-data baseline: the same in every chart (with a marker each, `plots::PointMark`).
pub fn learner_color(spec: &LearnerSpec) -> Color {
    if spec.name == FULL_DATA {
        palette::BASELINE
    } else if spec.ewc_lambda > 0.0 {
        palette::EWC
    } else if spec.meta == 0.0 {
        palette::STANDARD
    } else {
        palette::METAPLASTIC
    }
}

/// [`learner_color`] for every learner of one run, where several metaplastic learners (m = 1.35
/// and m = 6 side by side) each need a colour: the first keeps the metaplastic blue, the others
/// take [`palette::EXTRA_LEARNERS`].
pub fn learner_colors(specs: &[LearnerSpec]) -> Vec<Color> {
    let mut metaplastic = 0;
    specs
        .iter()
        .map(|spec| {
            let color = learner_color(spec);
            if color != palette::METAPLASTIC {
                return color;
            }
            metaplastic += 1;
            if metaplastic == 1 { color } else { palette::EXTRA_LEARNERS[(metaplastic - 2).min(1)] }
        })
        .collect()
}

/// Test accuracy on every task over training, one line per task and learner; task 1 darkest.
pub fn permuted_curves(records: &[&LearnerRecord], steps_per_task: usize, tasks: usize, width: f32, height: f32) -> Figure {
    let mut series = Vec::new();
    let colors = learner_colors(&records.iter().map(|r| r.spec.clone()).collect::<Vec<_>>());
    for (record, &color) in records.iter().zip(&colors) {
        let shades = palette::shades(color, tasks.max(2));
        for task in 0..tasks {
            let points: Vec<(f32, f32)> =
                record.curve.iter().filter_map(|p| p.task_acc.get(task).map(|&a| (p.step as f32, a))).collect();
            if points.is_empty() {
                continue;
            }
            let mut s = Series::new(format!("{} · task {}", record.spec.name, task + 1), shades[task], points);
            if record.spec.ewc_lambda > 0.0 {
                s = s.dashed();
            }
            series.push(s);
        }
    }
    line_chart(&LineChart {
        title: "Test accuracy on each task, while the tasks are learned one after another".into(),
        x_label: "training batches".into(),
        y_label: "test accuracy".into(),
        x_range: Some((0.0, (tasks * steps_per_task) as f32)),
        y_range: Some((0.0, 1.0)),
        series,
        markers: (1..tasks).map(|k| Marker::new((k * steps_per_task) as f32, format!("task {}", k + 1))).collect(),
        width,
        height,
        ..Default::default()
    })
}

/// Row i: after training task i; column j: test accuracy on task j.
pub fn accuracy_matrix(record: &LearnerRecord, width: f32, height: f32) -> Figure {
    let tasks = record.acc_matrix.len();
    heatmap(&Heatmap {
        title: format!("{}: accuracy matrix", record.spec.name),
        rows: tasks,
        cols: tasks,
        values: record.acc_matrix.iter().flatten().copied().collect(),
        row_labels: (1..=tasks).map(|i| format!("after task {i}")).collect(),
        col_labels: (1..=tasks).map(|j| format!("task {j}")).collect(),
        x_label: "tested on".into(),
        y_label: "trained up to".into(),
        width,
        height,
        ..Default::default()
    })
}

/// Hidden weights of one layer, one histogram per learner.
pub fn weight_histogram(sets: &[(LearnerSpec, Vec<f32>)], layer: usize, width: f32, height: f32) -> Figure {
    histogram(&Histogram {
        title: format!("Hidden weights Wh of layer {}", layer + 1),
        x_label: "hidden weight Wh (its sign is the binary weight)".into(),
        sets: sets.iter().map(|(spec, values)| ValueSet::new(spec.name.clone(), learner_color(spec), values.clone())).collect(),
        bins: 60,
        log_counts: true,
        width,
        height,
        ..Default::default()
    })
}

/// [`weight_histogram`] from counts made where the weights live (the page's training workers).
pub fn weight_histogram_binned(sets: &[BinnedSet], layer: usize, width: f32, height: f32) -> Figure {
    let spec = Histogram {
        title: format!("Hidden weights Wh of layer {}", layer + 1),
        x_label: "hidden weight Wh (its sign is the binary weight)".into(),
        bins: 60,
        log_counts: true,
        width,
        height,
        ..Default::default()
    };
    binned_histogram(&spec, sets)
}

/// Stream learning: test accuracy over the stream, one line per learner.
pub fn stream_curves(records: &[&StreamRecord], steps_per_subset: usize, subsets: usize, width: f32, height: f32) -> Figure {
    let colors = learner_colors(&records.iter().map(|r| r.spec.clone()).collect::<Vec<_>>());
    let series = records
        .iter()
        .zip(colors)
        .map(|(r, color)| {
            let s = Series::new(r.spec.name.clone(), color, r.curve.iter().map(|p| (p.step as f32, p.test_acc)).collect());
            if r.spec.name == FULL_DATA { s.dashed() } else { s }
        })
        .collect();
    // A marker per subset only while they stay readable.
    let markers = if subsets <= 12 {
        (1..subsets).map(|k| Marker::new((k * steps_per_subset) as f32, format!("subset {}", k + 1))).collect()
    } else {
        Vec::new()
    };
    line_chart(&LineChart {
        title: "Test accuracy while the training set arrives in a stream of subsets".into(),
        x_label: "training batches".into(),
        y_label: "test accuracy".into(),
        x_range: Some((0.0, (subsets * steps_per_subset) as f32)),
        series,
        markers,
        width,
        height,
        ..Default::default()
    })
}

/// The mean over the tasks learned so far of each one's test accuracy, after each task: the
/// paper's picture of how a learner holds up as tasks pile up. `matrices[l]` holds learner `l`'s
/// accuracy matrices, one per seed (row `k`: after task `k + 1`); each line is the mean over seeds.
pub fn mean_accuracy_vs_tasks(specs: &[LearnerSpec], matrices: &[Vec<Vec<Vec<f32>>>], width: f32, height: f32) -> Figure {
    let colors = learner_colors(specs);
    let mut series = Vec::new();
    let mut tasks = 1;
    for ((spec, color), seeds) in specs.iter().zip(colors).zip(matrices) {
        let rows = seeds.iter().map(Vec::len).min().unwrap_or(0);
        tasks = tasks.max(rows);
        let points: Vec<(f32, f32)> = (0..rows)
            .filter_map(|k| {
                let means: Vec<f32> = seeds
                    .iter()
                    .filter_map(|m| {
                        let seen = m[k].get(..=k)?;
                        Some(seen.iter().sum::<f32>() / seen.len() as f32)
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                (!means.is_empty()).then(|| ((k + 1) as f32, means.iter().sum::<f32>() / means.len() as f32))
            })
            .collect();
        let n = seeds.len();
        let name = if n > 1 { format!("{} ({n} seeds)", spec.name) } else { spec.name.clone() };
        let mut line = Series::new(name, color, points);
        if spec.ewc_lambda > 0.0 {
            line = line.dashed();
        }
        series.push(line);
    }
    line_chart(&LineChart {
        title: "Mean test accuracy over the tasks learned so far".into(),
        x_label: "tasks learned".into(),
        y_label: "mean test accuracy".into(),
        x_range: Some((1.0, tasks.max(2) as f32)),
        y_range: Some((0.0, 1.0)),
        series,
        width,
        height,
        ..Default::default()
    })
}

/// Mean and spread over seeds of one metric per variant, as bars.
pub fn variant_bars(title: &str, y_label: &str, variants: &[(LearnerSpec, f32, f32)], width: f32, height: f32) -> Figure {
    bar_chart(&BarChart {
        title: title.into(),
        y_label: y_label.into(),
        groups: vec![String::new()],
        series: variants
            .iter()
            .map(|(spec, mean, sd)| BarSeries { name: spec.name.clone(), color: learner_color(spec), means: vec![*mean], spreads: vec![*sd] })
            .collect(),
        y_range: Some((0.0, 1.0)),
        decimals: 3,
        width,
        height,
        ..Default::default()
    })
}

/// The toy problem in the plane of the two hidden weights, over the first `steps` steps: the
/// loss landscape, the optimum W*, and each trajectory.
pub fn toy(paths: &[Trajectory], cfg: &ToyConfig, steps: usize, width: f32, height: f32) -> Figure {
    let shown: Vec<Vec<(f32, f32)>> = paths.iter().map(|t| t.points.iter().take(steps + 1).map(|p| (p[0], p[1])).collect()).collect();
    let max_x = shown.iter().flatten().map(|p| p.0).fold(cfg.target[0], f32::max) + 0.5;
    let (x_range, y_range) = ((-1.5f32, max_x.max(2.0)), (-1.5f32, 1.5f32));
    let (nx, ny) = (120, 48);
    let colors = paths.iter().map(|t| learner_color(&LearnerSpec::meta(t.meta)));
    trajectory_plot(&Trajectories {
        title: format!("Hidden weights on the quadratic loss, first {steps} steps"),
        x_label: "hidden weight 1 (its sign matters more)".into(),
        y_label: "hidden weight 2".into(),
        grid: sample_grid(|x, y| toy_loss([x, y], cfg.target), nx, ny, x_range, y_range),
        nx,
        ny,
        x_range,
        y_range,
        paths: paths.iter().zip(shown).zip(colors).map(|((t, points), color)| Path::new(format!("m = {}", t.meta), color, points)).collect(),
        optimum: Some((cfg.target[0], cfg.target[1])),
        width,
        height,
        ..Default::default()
    })
}

/// Both hidden weights against the step: the important one grows steadily, the other flips.
pub fn toy_weights(paths: &[Trajectory], width: f32, height: f32) -> Figure {
    let colors = paths.iter().map(|t| learner_color(&LearnerSpec::meta(t.meta)));
    let mut series = Vec::new();
    for (t, color) in paths.iter().zip(colors) {
        let step = |i: usize| i as f32;
        series.push(Series::new(format!("m = {}: weight 1", t.meta), color, t.points.iter().enumerate().map(|(i, p)| (step(i), p[0])).collect()));
        series.push(Series::new(format!("m = {}: weight 2", t.meta), color, t.points.iter().enumerate().map(|(i, p)| (step(i), p[1])).collect()).dashed());
    }
    line_chart(&LineChart {
        title: "Hidden weights over the steps".into(),
        x_label: "step".into(),
        y_label: "hidden weight".into(),
        series,
        width,
        height,
        ..Default::default()
    })
}
