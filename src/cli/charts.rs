//! The tool's SVG charts: the app's figures (`metaplastic::charts::bnn`) written as files.

use super::{CliError, Summary, write_svg};
use metaplastic::charts::bnn as figures;
use metaplastic::experiments::permuted::{LearnerRecord, LearnerSpec, PermutedConfig};
use metaplastic::experiments::stream::{StreamConfig, StreamRecord, is_full_data};
use metaplastic::experiments::flips::{FlipBin, FlipConfig};
use metaplastic::experiments::toy::{ToyConfig, Trajectory};
use metaplastic::stats::mean_sd;

/// A learner as the charts know it (name and colour family).
fn learner(spec: &LearnerSpec) -> figures::Learner {
    figures::Learner::new(spec.name.clone(), spec.meta, spec.ewc_lambda, is_full_data(&spec.name))
}

/// A metric of one variant over all seeds of a summary.
fn per_seed(summary: &Summary, variant: &str, f: impl Fn(&serde_json::Value) -> Option<f64>) -> Vec<f32> {
    summary.runs.iter().filter(|r| r["variant"] == variant).filter_map(|r| f(&r["metrics"]).map(|v| v as f32)).collect()
}

fn bars(summary: &Summary, specs: &[LearnerSpec], f: impl Fn(&serde_json::Value) -> Option<f64>) -> Vec<(figures::Learner, f32, f32)> {
    specs
        .iter()
        .map(|spec| {
            let (mean, sd) = mean_sd(&per_seed(summary, &spec.name, &f));
            (learner(spec), mean, sd)
        })
        .collect()
}

/// Curves and weights from the first seed; matrices and bars over all seeds.
pub fn permuted(summary: &Summary, cfg: &PermutedConfig, first: &[LearnerRecord], weights: &[(LearnerSpec, Vec<f32>)], dir: &str) -> Result<(), CliError> {
    let curves: Vec<(figures::Learner, Vec<(f32, Vec<f32>)>)> = first.iter().map(|r| (learner(&r.spec), r.task_points())).collect();
    write_svg(dir, "accuracy-curves.svg", figures::permuted_curves(&curves, cfg.steps_per_task(), cfg.tasks, 960.0, 440.0).to_svg())?;
    let seeds = summary.runs.iter().filter(|r| r["variant"] == cfg.learners[0].name.as_str()).count().max(1);
    for spec in &cfg.learners {
        let mut mean = vec![vec![0.0f32; cfg.tasks]; cfg.tasks];
        for run in summary.runs.iter().filter(|r| r["variant"] == spec.name.as_str()) {
            for (i, row) in mean.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v += run["metrics"]["acc_matrix"][i][j].as_f64().map_or(f32::NAN, |a| a as f32) / seeds as f32;
                }
            }
        }
        let name = format!("{} (mean of {seeds} seeds)", spec.name);
        write_svg(dir, &format!("accuracy-matrix-{}.svg", spec.name.replace('=', "")), figures::accuracy_matrix(&name, &mean, 560.0, 460.0).to_svg())?;
    }
    let matrices: Vec<Vec<Vec<Vec<f32>>>> = cfg
        .learners
        .iter()
        .map(|spec| {
            summary
                .runs
                .iter()
                .filter(|r| r["variant"] == spec.name.as_str())
                .map(|r| {
                    (0..cfg.tasks)
                        .map(|i| (0..cfg.tasks).map(|j| r["metrics"]["acc_matrix"][i][j].as_f64().map_or(f32::NAN, |a| a as f32)).collect())
                        .collect()
                })
                .collect()
        })
        .collect();
    let learners: Vec<figures::Learner> = cfg.learners.iter().map(learner).collect();
    write_svg(dir, "mean-accuracy-vs-tasks.svg", figures::mean_accuracy_vs_tasks(&learners, &matrices, 760.0, 420.0).to_svg())?;
    let last = cfg.tasks - 1;
    let final_mean = bars(summary, &cfg.learners, |m| m["final_mean_acc"].as_f64());
    let title = format!("Mean test accuracy over the {} tasks after the last (± sd over seeds)", cfg.tasks);
    write_svg(dir, "final-mean-accuracy.svg", figures::variant_bars(&title, "test accuracy", &final_mean, 640.0, 400.0).to_svg())?;
    let task1 = bars(summary, &cfg.learners, |m| m["acc_matrix"][last][0].as_f64());
    write_svg(dir, "task1-after-last.svg", figures::variant_bars("Task 1 after the last task (± sd over seeds)", "test accuracy", &task1, 640.0, 400.0).to_svg())?;
    let weights: Vec<(figures::Learner, Vec<f32>)> = weights.iter().map(|(spec, w)| (learner(spec), w.clone())).collect();
    write_svg(dir, "hidden-weights-layer2.svg", figures::weight_histogram(&weights, 1, 800.0, 380.0).to_svg())?;
    let flips: Vec<(figures::Learner, Vec<(f32, f32)>)> = cfg.learners.iter().map(|spec| (learner(spec), flip_means(summary, &spec.name))).collect();
    if flips.iter().any(|(_, points)| !points.is_empty()) {
        let sample = FlipConfig::hidden_layer(0);
        write_svg(dir, "flip-loss.svg", figures::flip_curves(&flips, sample.layer, sample.sample, 760.0, 420.0).to_svg())?;
    }
    Ok(())
}

/// A learner's flip results over seeds: per bin, the mean magnitude and the mean loss increase.
pub fn flip_means(summary: &Summary, variant: &str) -> Vec<(f32, f32)> {
    let mut bins: std::collections::BTreeMap<usize, (f32, f32, usize)> = Default::default();
    for run in summary.runs.iter().filter(|r| r["variant"] == variant) {
        let Ok(flips) = serde_json::from_value::<Vec<FlipBin>>(run["metrics"]["flips"].clone()) else { continue };
        for b in flips {
            let e = bins.entry(b.bin).or_default();
            *e = (e.0 + b.magnitude, e.1 + b.mean_increase(), e.2 + 1);
        }
    }
    bins.values().map(|&(m, inc, n)| (m / n as f32, inc / n as f32)).collect()
}

pub fn stream(summary: &Summary, cfg: &StreamConfig, first: &[StreamRecord], dir: &str) -> Result<(), CliError> {
    let curves: Vec<(figures::Learner, Vec<(f32, f32)>)> = first.iter().map(|r| (learner(&r.spec), r.points())).collect();
    write_svg(dir, "stream-curves.svg", figures::stream_curves(&curves, cfg.steps_per_subset(), cfg.subsets, 960.0, 440.0).to_svg())?;
    let acc = bars(summary, &cfg.learners(), |m| m["test_acc"].as_f64());
    write_svg(dir, "final-test-accuracy.svg", figures::variant_bars("Final test accuracy (± sd over seeds)", "test accuracy", &acc, 640.0, 400.0).to_svg())
}

pub fn toy(paths: &[Trajectory], cfg: &ToyConfig, dir: &str) -> Result<(), CliError> {
    let paths: Vec<figures::ToyPath> = paths.iter().map(|t| (t.meta, t.points.clone())).collect();
    let target = cfg.target;
    write_svg(dir, "toy-plane.svg", figures::toy(&paths, target, &|w| cfg.loss(w), 30, 900.0, 420.0).to_svg())?;
    write_svg(dir, "toy-weights.svg", figures::toy_weights(&paths, 900.0, 420.0).to_svg())
}
