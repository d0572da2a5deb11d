//! The binarized-network figures, built once for the app's canvases and the tool's SVG files.
//! They take numbers and names, not the experiments' records: a learner is a [`Learner`] (its
//! name and colour family), curves are points, a matrix is rows of accuracies.

use super::palette;
use super::plots::{
    BarChart, BarSeries, BinnedSet, Heatmap, Histogram, LineChart, Marker, Path, Series, Trajectories, ValueSet, bar_chart, binned_histogram, heatmap, histogram,
    line_chart, sample_grid, trajectory_plot,
};
use super::{Color, Figure};

/// What a chart needs to know of a learner: its name, and which colour family (and marker) it
/// takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Learner {
    pub name: String,
    pub kind: LearnerKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerKind {
    /// m = 0: plain (binarized) Adam.
    Standard,
    Metaplastic,
    Ewc,
    /// The network trained on all the data at once (stream learning's upper bound).
    Baseline,
}

impl Learner {
    /// From the numbers that decide its family: m, EWC's lambda (0 for none), and whether it is
    /// the full-data baseline.
    pub fn new(name: impl Into<String>, meta: f32, ewc_lambda: f32, baseline: bool) -> Self {
        let kind = if baseline {
            LearnerKind::Baseline
        } else if ewc_lambda > 0.0 {
            LearnerKind::Ewc
        } else if meta == 0.0 {
            LearnerKind::Standard
        } else {
            LearnerKind::Metaplastic
        };
        Self { name: name.into(), kind }
    }
}

/// Vermillion for the standard network, blue for the metaplastic one, reddish purple for EWC,
/// grey for the full-data baseline: the same in every chart (with a marker each, `plots::PointMark`).
pub fn learner_color(learner: &Learner) -> Color {
    match learner.kind {
        LearnerKind::Baseline => palette::BASELINE,
        LearnerKind::Ewc => palette::EWC,
        LearnerKind::Standard => palette::STANDARD,
        LearnerKind::Metaplastic => palette::METAPLASTIC,
    }
}

/// [`learner_color`] for every learner of one run, where several metaplastic learners (m = 1.35
/// and m = 6 side by side) each need a colour: the first keeps the metaplastic blue, the others
/// take [`palette::EXTRA_LEARNERS`].
pub fn learner_colors(learners: &[Learner]) -> Vec<Color> {
    let mut metaplastic = 0;
    learners
        .iter()
        .map(|learner| {
            let color = learner_color(learner);
            if color != palette::METAPLASTIC {
                return color;
            }
            metaplastic += 1;
            if metaplastic == 1 { color } else { palette::EXTRA_LEARNERS[(metaplastic - 2).min(1)] }
        })
        .collect()
}

/// Test accuracy on every task over training, one line per task and learner; task 1 darkest.
/// `curves` holds each learner's points `(step, accuracy on each task so far)`.
pub fn permuted_curves(curves: &[(Learner, Vec<(f32, Vec<f32>)>)], steps_per_task: usize, tasks: usize, width: f32, height: f32) -> Figure {
    let mut series = Vec::new();
    let colors = learner_colors(&curves.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>());
    for ((learner, curve), &color) in curves.iter().zip(&colors) {
        let shades = palette::shades(color, tasks.max(2));
        for task in 0..tasks {
            let points: Vec<(f32, f32)> = curve.iter().filter_map(|(step, acc)| acc.get(task).map(|&a| (*step, a))).collect();
            if points.is_empty() {
                continue;
            }
            let mut s = Series::new(format!("{} · task {}", learner.name, task + 1), shades[task], points);
            if learner.kind == LearnerKind::Ewc {
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
pub fn accuracy_matrix(name: &str, matrix: &[Vec<f32>], width: f32, height: f32) -> Figure {
    let tasks = matrix.len();
    heatmap(&Heatmap {
        title: format!("{name}: accuracy matrix"),
        rows: tasks,
        cols: tasks,
        values: matrix.iter().flatten().copied().collect(),
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
pub fn weight_histogram(sets: &[(Learner, Vec<f32>)], layer: usize, width: f32, height: f32) -> Figure {
    histogram(&Histogram {
        title: format!("Hidden weights Wh of layer {}", layer + 1),
        x_label: "hidden weight Wh (its sign is the binary weight)".into(),
        sets: sets.iter().map(|(learner, values)| ValueSet::new(learner.name.clone(), learner_color(learner), values.clone())).collect(),
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

/// Stream learning: test accuracy over the stream, one line per learner (points `(step, accuracy)`).
pub fn stream_curves(curves: &[(Learner, Vec<(f32, f32)>)], steps_per_subset: usize, subsets: usize, width: f32, height: f32) -> Figure {
    let colors = learner_colors(&curves.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>());
    let series = curves
        .iter()
        .zip(colors)
        .map(|((learner, points), color)| {
            let s = Series::new(learner.name.clone(), color, points.clone());
            if learner.kind == LearnerKind::Baseline { s.dashed() } else { s }
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
pub fn mean_accuracy_vs_tasks(learners: &[Learner], matrices: &[Vec<Vec<Vec<f32>>>], width: f32, height: f32) -> Figure {
    let colors = learner_colors(learners);
    let mut series = Vec::new();
    let mut tasks = 1;
    for ((learner, color), seeds) in learners.iter().zip(colors).zip(matrices) {
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
        let name = if n > 1 { format!("{} ({n} seeds)", learner.name) } else { learner.name.clone() };
        let mut line = Series::new(name, color, points);
        if learner.kind == LearnerKind::Ewc {
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

/// The loss increase when binary weights of one bin of `|Wh|` are flipped together, against the
/// bin's mean `|Wh|` (as a fraction of the layer's largest): one line per learner, each point the
/// mean over draws and seeds (the paper's Fig. 5c–e). `flipped` 0: nothing measured yet (the page,
/// before its first task ends).
pub fn flip_curves(curves: &[(Learner, Vec<(f32, f32)>)], layer: usize, flipped: usize, width: f32, height: f32) -> Figure {
    let colors = learner_colors(&curves.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>());
    let series = curves
        .iter()
        .zip(colors)
        .map(|((learner, points), color)| {
            let s = Series::new(learner.name.clone(), color, points.clone());
            if learner.kind == LearnerKind::Ewc { s.dashed() } else { s }
        })
        .collect();
    line_chart(&LineChart {
        title: if flipped == 0 {
            format!("Loss increase when binary weights of layer {} are flipped: measured as each task ends", layer + 1)
        } else {
            format!("Loss increase when {flipped} binary weights of layer {} with about the same |Wh| are flipped", layer + 1)
        },
        x_label: "|Wh| of the flipped weights (fraction of the layer's largest)".into(),
        y_label: "loss increase on task 1".into(),
        x_range: Some((0.0, 1.0)),
        series,
        width,
        height,
        ..Default::default()
    })
}

/// Mean and spread over seeds of one metric per variant, as bars.
pub fn variant_bars(title: &str, y_label: &str, variants: &[(Learner, f32, f32)], width: f32, height: f32) -> Figure {
    bar_chart(&BarChart {
        title: title.into(),
        y_label: y_label.into(),
        groups: vec![String::new()],
        series: variants
            .iter()
            .map(|(learner, mean, sd)| BarSeries { name: learner.name.clone(), color: learner_color(learner), means: vec![*mean], spreads: vec![*sd] })
            .collect(),
        y_range: Some((0.0, 1.0)),
        decimals: 3,
        width,
        height,
        ..Default::default()
    })
}

/// A learner of the toy problem: its m and its hidden weights after each step, the start included.
pub type ToyPath = (f32, Vec<[f32; 2]>);

fn toy_color(meta: f32) -> Color {
    learner_color(&Learner::new("", meta, 0.0, false))
}

/// The toy problem in the plane of the two hidden weights, over the first `steps` steps: the
/// loss landscape `loss` with its optimum `target`, and each trajectory.
pub fn toy(paths: &[ToyPath], target: [f32; 2], loss: &dyn Fn([f32; 2]) -> f32, steps: usize, width: f32, height: f32) -> Figure {
    let shown: Vec<Vec<(f32, f32)>> = paths.iter().map(|(_, points)| points.iter().take(steps + 1).map(|p| (p[0], p[1])).collect()).collect();
    let max_x = shown.iter().flatten().map(|p| p.0).fold(target[0], f32::max) + 0.5;
    let (x_range, y_range) = ((-1.5f32, max_x.max(2.0)), (-1.5f32, 1.5f32));
    let (nx, ny) = (120, 48);
    let colors = paths.iter().map(|(meta, _)| toy_color(*meta));
    trajectory_plot(&Trajectories {
        title: format!("Hidden weights on the quadratic loss, first {steps} steps"),
        x_label: "hidden weight 1 (its sign matters more)".into(),
        y_label: "hidden weight 2".into(),
        grid: sample_grid(|x, y| loss([x, y]), nx, ny, x_range, y_range),
        nx,
        ny,
        x_range,
        y_range,
        paths: paths.iter().zip(shown).zip(colors).map(|(((meta, _), points), color)| Path::new(format!("m = {meta}"), color, points)).collect(),
        optimum: Some((target[0], target[1])),
        width,
        height,
        ..Default::default()
    })
}

/// Both hidden weights against the step: the important one grows steadily, the other flips.
pub fn toy_weights(paths: &[ToyPath], width: f32, height: f32) -> Figure {
    let mut series = Vec::new();
    for (meta, points) in paths {
        let (color, step) = (toy_color(*meta), |i: usize| i as f32);
        series.push(Series::new(format!("m = {meta}: weight 1"), color, points.iter().enumerate().map(|(i, p)| (step(i), p[0])).collect()));
        series.push(Series::new(format!("m = {meta}: weight 2"), color, points.iter().enumerate().map(|(i, p)| (step(i), p[1])).collect()).dashed());
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
