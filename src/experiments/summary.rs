//! `summary.json`: one shape for every experiment, written by the command-line tool to a file and
//! by the page as a download, so a classroom run and a headless run compare field by field:
//! `{"experiment", "config", "runs": [{"variant", "seed", "metrics"}]}`, accuracies as fractions.
//!
//! The configuration and the per-run metrics of each experiment are built here, once; the tool
//! adds what only it measures (seconds, learned plasticity rates) to a run's metrics. Each
//! configuration is a struct serialised by serde, its fields the document's keys: the numbers
//! from the experiment's settings, and beside them the sentences that say what a reader cannot
//! see from the numbers (which optimizer, which statistics, where a rule comes from).

use super::completion::{CompletionRecord, CompletionSetup};
use super::denoise::{DenoiseRecord, DenoiseSetup};
use super::lenet::{LenetRecord, LenetRunConfig};
use super::permuted::{LearnerRecord, PermutedConfig};
use super::stream::{StreamConfig, StreamRecord, TAIL_EVALS};
use crate::data::DataSetId;
use crate::model::bnn::Weights;
use crate::model::hebbian::{HebbianConfig, Network};
use crate::model::lenet::FactorSource;
use crate::nn::NormEval;
use crate::stats::ClassMetrics;
use serde::Serialize;
use serde_json::{Value, json};

/// An experiment's configuration and its runs, one per variant and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub experiment: String,
    pub config: Value,
    pub runs: Vec<Value>,
    /// Wall-clock seconds of the whole experiment.
    pub elapsed: f64,
    /// How the file was made (the tool's runs; the page's downloads have none).
    pub provenance: Option<Provenance>,
}

/// What made a results file: enough to make it again and to know which engine it measured.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The command line, as it can be typed again (`metaplastic bnn-permuted ... --out DIR`).
    pub command: String,
    /// The repository's commit (`git rev-parse`), with ` (modified)` when the engine's sources
    /// differed from it; `unknown` outside a git checkout.
    pub commit: String,
    /// The day the run ended, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The machine in a few words (threads the run could use, the processor).
    pub machine: String,
}

/// Why a file is not a summary this crate can read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no '{0}' field")]
    Missing(&'static str),
}

impl Summary {
    pub fn new(experiment: &str, config: Value) -> Self {
        Self { experiment: experiment.into(), config, runs: Vec::new(), elapsed: 0.0, provenance: None }
    }

    pub fn run(&mut self, variant: &str, seed: u64, metrics: Value) {
        self.runs
            .push(json!({"variant": variant, "seed": seed, "metrics": metrics}));
    }

    /// The document as written, `elapsed_seconds` (one decimal) in the configuration.
    pub fn to_json(&self) -> Value {
        let mut config = self.config.clone();
        config["elapsed_seconds"] = json!((self.elapsed * 10.0).round() / 10.0);
        let mut doc = json!({"experiment": self.experiment, "config": config, "runs": self.runs});
        if let Some(p) = &self.provenance {
            doc["provenance"] = serde_json::to_value(p).expect("four strings serialise");
        }
        doc
    }

    pub fn to_pretty_string(&self) -> String {
        // A `Value` always serialises; the fallback only keeps this total.
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads a document [`Summary::to_json`] wrote.
    pub fn parse(text: &str) -> Result<Self, SummaryError> {
        let mut doc: Value = serde_json::from_str(text)?;
        let experiment = doc["experiment"].as_str().ok_or(SummaryError::Missing("experiment"))?.to_string();
        let mut config = doc["config"].take();
        let elapsed = config.as_object_mut().ok_or(SummaryError::Missing("config"))?.remove("elapsed_seconds").and_then(|v| v.as_f64()).unwrap_or(0.0);
        let runs = match doc["runs"].take() {
            Value::Array(runs) => runs,
            _ => return Err(SummaryError::Missing("runs")),
        };
        let provenance = match doc.get("provenance") {
            Some(p) => Some(serde_json::from_value(p.clone())?),
            None => None,
        };
        Ok(Self { experiment, config, runs, elapsed, provenance })
    }

    /// The variants in the order their runs first appear.
    pub fn variants(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for v in self.runs.iter().filter_map(|r| r["variant"].as_str()) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// A configuration as the document's `config` object.
fn config_value(config: &impl Serialize) -> Value {
    serde_json::to_value(config).expect("a configuration of numbers and strings serialises")
}

#[derive(Serialize)]
struct LearnerConfig<'a> {
    variant: &'a str,
    m: f32,
    ewc_lambda: f32,
}

#[derive(Serialize)]
struct PermutedSummaryConfig<'a> {
    /// `mnist` (permuted), or the data sets learned in turn (`mnist,fashion`).
    dataset: String,
    layers: [usize; 4],
    lr: f32,
    batch: usize,
    weight_decay: f32,
    tasks: usize,
    /// `None` when the tasks are set in steps.
    epochs_per_task: Option<usize>,
    steps_per_task: usize,
    train_examples: usize,
    test_examples: usize,
    bn_per_task: bool,
    bn_gamma_init: &'static str,
    weights: &'static str,
    bn_statistics: &'static str,
    optimizer: &'static str,
    learners: Vec<LearnerConfig<'a>>,
    ewc: String,
    backend: &'a str,
}

/// Continual learning on permuted MNIST (`bnn-permuted`).
pub fn permuted_config(cfg: &PermutedConfig, backend: &str) -> Value {
    config_value(&PermutedSummaryConfig {
        dataset: match &cfg.sequence {
            Some(sets) => sets.iter().map(|s| s.dir()).collect::<Vec<_>>().join(","),
            None => "mnist".into(),
        },
        layers: [784, cfg.hidden, cfg.hidden, 10],
        lr: cfg.lr,
        batch: cfg.batch,
        weight_decay: cfg.weight_decay,
        tasks: cfg.tasks,
        epochs_per_task: cfg.steps_per_task.map_or(Some(cfg.epochs), |_| None),
        steps_per_task: cfg.steps_per_task(),
        train_examples: cfg.train_examples,
        test_examples: cfg.test_examples,
        bn_per_task: cfg.bn_per_task,
        bn_gamma_init: cfg.gamma_init.name(),
        weights: match cfg.weights {
            Weights::Binary => "binary: sign(Wh) in every linear layer, sign activations",
            Weights::Full => "full precision: Wh itself in every linear layer (bias held at 0), ReLU activations",
        },
        bn_statistics: match (cfg.bn_stats, cfg.bn_per_task) {
            (NormEval::Batch, _) => "batch statistics at test time (batches of 1000)",
            (NormEval::Running, true) => "running statistics (momentum 0.1) at test time, each task's saved and restored with its gamma and beta",
            (NormEval::Running, false) => "running statistics (momentum 0.1) at test time, the current task's for every task",
        },
        optimizer: "Adam (b1 0.9, b2 0.999, eps 1e-8), reset at each task boundary; metaplastic on hidden weights, plain on BatchNorm",
        learners: cfg.learners.iter().map(|l| LearnerConfig { variant: &l.name, m: l.meta, ewc_lambda: l.ewc_lambda }).collect(),
        ewc: format!(
            "Fisher = mean over {} training examples of each example's squared gradient (BatchNorm on the task's running statistics); penalty on the weights the forward pass uses ({})",
            cfg.ewc_examples,
            match cfg.weights {
                Weights::Binary => "sign(Wh)",
                Weights::Full => "Wh",
            }
        ),
        backend,
    })
}

pub fn permuted_metrics(r: &LearnerRecord) -> Value {
    json!({
        "acc_matrix": r.acc_matrix,
        "final_mean_acc": r.final_mean_acc(),
        "curve": r.curve,
    })
}

#[derive(Serialize)]
struct StreamSummaryConfig<'a> {
    dataset: &'static str,
    layers: [usize; 4],
    lr: f32,
    batch: usize,
    weight_decay: f32,
    subsets: usize,
    subset_size: usize,
    epochs_per_subset: usize,
    total_steps: usize,
    train_examples: usize,
    test_examples: usize,
    batch_norm: String,
    optimizer: &'static str,
    /// `None` without a baseline.
    full_data_baseline: Option<String>,
    /// What `test_acc` and `tail_mean_acc` are.
    final_readings: String,
    backend: &'a str,
}

/// Stream learning (`bnn-stream`).
pub fn stream_config(cfg: &StreamConfig, dataset: DataSetId, backend: &str) -> Value {
    config_value(&StreamSummaryConfig {
        dataset: dataset.dir(),
        layers: [784, cfg.hidden, cfg.hidden, 10],
        lr: cfg.lr,
        batch: cfg.batch,
        weight_decay: cfg.weight_decay,
        subsets: cfg.subsets,
        subset_size: cfg.subset_len(),
        epochs_per_subset: cfg.epochs,
        total_steps: cfg.total_steps(),
        train_examples: cfg.train_examples,
        test_examples: cfg.test_examples,
        batch_norm: cfg.norm.describe(),
        optimizer: "one Adam (b1 0.9, b2 0.999, eps 1e-8) through the whole stream",
        full_data_baseline: (!cfg.full_data.is_empty()).then(|| {
            let metas: Vec<String> = cfg.full_data.iter().map(f32::to_string).collect();
            format!("m = {} trained on the whole shuffled training set for the same number of presentations", metas.join(" and m = "))
        }),
        final_readings: format!(
            "test_acc: the whole test set after the last subset; tail_mean_acc: the mean of its readings after each of the last {} subsets (tail_test_acc)",
            TAIL_EVALS.min(cfg.subsets)
        ),
        backend,
    })
}

pub fn stream_metrics(r: &StreamRecord) -> Value {
    json!({
        "test_acc": r.test_acc,
        "tail_test_acc": r.tail_test_acc,
        "tail_mean_acc": r.tail_mean_acc(),
        "curve": r.curve,
    })
}

/// The paper's test metrics, by the names `summary.json` gives them.
pub const LENET_METRICS: [&str; 5] = ["accuracy", "macro_f1", "precision", "recall", "loss"];

/// One of [`LENET_METRICS`] from a set of class metrics.
pub fn lenet_metric(m: &ClassMetrics, name: &str) -> f32 {
    match name {
        "accuracy" => m.accuracy,
        "macro_f1" => m.macro_f1,
        "precision" => m.precision,
        "recall" => m.recall,
        _ => m.loss,
    }
}

#[derive(Serialize)]
struct AmpEnergies {
    amp: &'static str,
    #[serde(rename = "amp-centred")]
    amp_centred: &'static str,
}

#[derive(Serialize)]
struct AmpConfig {
    #[serde(rename = "B")]
    b: f32,
    source: &'static str,
    clamp: [f32; 2],
    normalised: &'static str,
    scales: &'static str,
    energy: AmpEnergies,
}

#[derive(Serialize)]
struct LenetSummaryConfig<'a> {
    dataset: &'static str,
    arch: &'static str,
    pooling: &'static str,
    rules: Vec<&'static str>,
    optimizer: String,
    batch: usize,
    epochs: usize,
    steps_per_epoch: usize,
    train_examples: usize,
    test_examples: usize,
    amp: AmpConfig,
    batchnorm_at_test: &'static str,
    backend: &'a str,
}

/// LeNet-5, standard against artificial metaplasticity (`lenet`).
pub fn lenet_config(cfg: &LenetRunConfig, backend: &str) -> Value {
    config_value(&LenetSummaryConfig {
        dataset: cfg.dataset.dir(),
        arch: cfg.arch.name(),
        pooling: cfg.pool.name(),
        rules: cfg.rules.iter().map(|r| r.name()).collect(),
        optimizer: format!("SGD lr {} Nesterov momentum {}", cfg.lr, cfg.momentum),
        batch: cfg.batch,
        epochs: cfg.epochs,
        steps_per_epoch: cfg.steps_per_epoch(),
        train_examples: cfg.train_examples,
        test_examples: cfg.test_examples,
        amp: AmpConfig {
            b: cfg.amp_b,
            source: match cfg.amp_source {
                FactorSource::LayerInput => "layer input",
                FactorSource::NetworkInput => "network input",
            },
            clamp: [cfg.amp_clamp.0, cfg.amp_clamp.1],
            normalised: "per batch to mean 1 (A and (2pi)^N cancel)",
            scales: "convolutional layers' weight and bias gradients only",
            energy: AmpEnergies {
                amp: "raw: sum x^2 of the layer's input as it is",
                amp_centred: "sum (x - mu)^2, mu the running mean of the layer's input (cumulative for 100 batches, then rate 0.01)",
            },
        },
        batchnorm_at_test: "batch statistics (batches of 1000)",
        backend,
    })
}

/// A finished rule's metrics; `None` before its first test.
pub fn lenet_metrics(r: &LenetRecord) -> Option<Value> {
    let m = r.final_metrics()?;
    let mut metrics = json!({
        "epoch_metrics": r.epoch_metrics.iter().map(|m| json!({"accuracy": m.accuracy, "macro_f1": m.macro_f1, "precision": m.precision, "recall": m.recall, "loss": m.loss})).collect::<Vec<_>>(),
        "confusion": r.confusion.as_ref().map(|c| c.counts.clone()),
        "curve": r.curve,
    });
    for name in LENET_METRICS {
        metrics[name] = json!(lenet_metric(&m, name));
    }
    Some(metrics)
}

#[derive(Serialize)]
struct CompletionSummaryConfig<'a> {
    task: &'static str,
    network: &'static str,
    /// The recurrent network's sizes (`None` for the feed-forward layer).
    neurons: Option<usize>,
    non_plastic_neurons: Option<usize>,
    pattern_balance: &'static str,
    init: &'static str,
    bits: usize,
    patterns: usize,
    presentations: usize,
    present_steps: usize,
    blank_steps: usize,
    test_steps: usize,
    episode_steps: usize,
    input_gain: f32,
    rule: &'static str,
    activation: &'static str,
    layer: &'static str,
    optimizer: &'static str,
    lr: f32,
    batch_episodes: usize,
    train_steps: usize,
    test_episodes: usize,
    loss: &'static str,
    non_plastic: &'static str,
    backend: &'a str,
}

/// Pattern completion (`hebbian-completion`): the plastic network's setup and the non-plastic
/// one's (which may differ in size).
pub fn completion_config(
    setup: &CompletionSetup,
    non_plastic: &CompletionSetup,
    backend: &str,
) -> Value {
    let cfg = &setup.net;
    let recurrent = cfg.network == Network::Recurrent;
    let layer = if recurrent {
        "y(t) = tanh(y(t-1) (W + alpha * Hebb) + input(t)), Hebb from y(t-1) and y(t); input on neurons 0..bits, bias (gain x 1) on the last neuron, read-out neurons 0..bits; one trace per episode, zero at its start"
    } else {
        "y = sigma((W + alpha * Hebb) x), one trace per episode, zero at its start"
    };
    let non_plastic_text = if recurrent {
        "the same recurrent network (an RNN with memory in its state) with alpha fixed at 0 and not trained, of non_plastic_neurons neurons"
    } else {
        "the same layer with alpha fixed at 0 and not trained (no memory at all)"
    };
    config_value(&CompletionSummaryConfig {
        task: "completion",
        network: cfg.network.name(),
        neurons: recurrent.then_some(cfg.neurons),
        non_plastic_neurons: recurrent.then_some(non_plastic.net.neurons),
        pattern_balance: "each exactly half +1 and half -1",
        init: if recurrent { "W, alpha ~ 0.01 randn (alpha's diagonal 0), eta 0.01" } else { "W ~ U(+-1/(gain sqrt n)), alpha ~ U(+-1/(gain^2 sqrt n)), eta 0.01" },
        bits: cfg.bits,
        patterns: cfg.patterns,
        presentations: cfg.presentations,
        present_steps: cfg.present_steps,
        blank_steps: cfg.blank_steps,
        test_steps: cfg.test_steps,
        episode_steps: cfg.episode_steps(),
        input_gain: cfg.input_gain,
        rule: cfg.rule.name(),
        activation: cfg.activation.name(),
        layer,
        optimizer: "Adam (b1 0.9, b2 0.999, eps 1e-8), no weight decay",
        lr: cfg.lr,
        batch_episodes: cfg.batch,
        train_steps: setup.train_steps,
        test_episodes: setup.test_episodes,
        loss: "MSE of the last step's output against the full pattern",
        non_plastic: non_plastic_text,
        backend,
    })
}

/// The LSTM baseline's own part of a completion run's configuration (its episodes, read-out,
/// loss and optimizer are the recurrent network's).
pub fn lstm_config(lstm: &HebbianConfig) -> Value {
    json!({
        "cells": lstm.neurons,
        "parameters": lstm.lstm_shape(1).param_len(),
        "cell": "LSTM with forget gate (PyTorch nn.LSTM form), h = c = 0 at the episode's start; input bit j also added to cell j's candidate (Miconi's clamping); read-out h_j, j < bits",
        "init": "U(+-1/sqrt(cells)), input columns divided by the gain",
        "backend": "cpu only",
    })
}

/// A completion run's metrics: the test error, the network's size and the loss curve.
pub fn completion_metrics(record: &CompletionRecord, size: usize) -> Value {
    json!({
        "test_mse": record.test_mse,
        "size": size,
        "loss_curve": record.curve,
    })
}

#[derive(Serialize)]
struct DenoiseSummaryConfig<'a> {
    task: &'static str,
    dataset: &'static str,
    channels: [usize; 3],
    pool: &'static str,
    activation: &'static str,
    encoder: &'static str,
    code_plastic: String,
    decoder: &'static str,
    output_plastic: String,
    batch_norm: &'static str,
    images: usize,
    show_steps: usize,
    zero_steps: usize,
    episode_steps: usize,
    noise_std: f32,
    noise: &'static str,
    rule: &'static str,
    loss: &'static str,
    optimizer: &'static str,
    lr: f32,
    batch_episodes: usize,
    train_steps: usize,
    test_episodes: usize,
    test_images: &'static str,
    tape_bytes: u64,
    non_plastic: &'static str,
    backend: &'a str,
}

/// Denoising with a plastic bottleneck (`hebbian-denoise`).
pub fn denoise_config(setup: &DenoiseSetup, dataset: DataSetId, backend: &str) -> Value {
    let cfg = &setup.net;
    config_value(&DenoiseSummaryConfig {
        task: "denoise",
        dataset: dataset.dir(),
        channels: cfg.channels,
        pool: cfg.pool.name(),
        activation: "relu",
        encoder: "[conv3x3 c1, ReLU, BN, pool2] [conv3x3 c2, ReLU, BN, pool2] [conv3x3 code, ReLU, BN]",
        code_plastic: format!("{} -> {} tanh plastic layer on the flattened code, W starts at the identity", cfg.code_len(), cfg.code_len()),
        decoder: "[convT3x3 c2, ReLU, BN, up2] [convT3x3 c1, ReLU, BN, up2] [convT3x3 1] -> logits d",
        output_plastic: format!("{} -> {} tanh plastic layer on avgpool2(d), W starts at 0; image = sigmoid(d + up2(plastic))", cfg.out_plastic_len(), cfg.out_plastic_len()),
        batch_norm: "statistics of the batch of episodes at each step, in training and test",
        images: cfg.images,
        show_steps: cfg.show_steps,
        zero_steps: cfg.zero_steps,
        episode_steps: cfg.episode_steps(),
        noise_std: cfg.noise_std,
        noise: "Gaussian, not clipped, on the last image only",
        rule: cfg.rule.name(),
        loss: "MSE of the last step's reconstruction against the clean image",
        optimizer: "Adam (b1 0.9, b2 0.999, eps 1e-8), no weight decay",
        lr: cfg.lr,
        batch_episodes: cfg.batch,
        train_steps: setup.train_steps,
        test_episodes: setup.test_episodes,
        test_images: "test split, never trained on",
        tape_bytes: cfg.tape_bytes(),
        non_plastic: "the same network with both plastic layers' alpha fixed at 0 and not trained",
        backend,
    })
}

/// A denoising run's metrics: the test error, the noisy input's own error and the loss curve.
pub fn denoise_metrics(record: &DenoiseRecord) -> Value {
    json!({
        "test_mse": record.test_mse,
        "noisy_input_mse": record.noisy_mse,
        "loss_curve": record.curve,
    })
}

/// The runs as one table for a spreadsheet: `variant, seed, kind, step`, then every field of a
/// curve point and every scalar metric in alphabetical order (an array such as `task_acc` spread
/// into `task_acc_1`, `task_acc_2`, ...). Each run gives its curve's rows (`kind` = `curve`) and
/// one row of its final scalars (`kind` = `final`); a cell a row does not have is empty.
pub fn metrics_csv(summary: &Summary) -> String {
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<(String, String, &'static str, Vec<(String, String)>)> = Vec::new();
    for run in &summary.runs {
        let variant = run["variant"].as_str().unwrap_or("").to_string();
        let seed = run["seed"].to_string();
        let Some(metrics) = run["metrics"].as_object() else {
            continue;
        };
        for (key, value) in metrics {
            if let (true, Some(points)) = (key == "curve" || key == "loss_curve", value.as_array())
            {
                for point in points {
                    let cells = flatten(point);
                    rows.push((variant.clone(), seed.clone(), "curve", cells));
                }
            }
        }
        let scalars: Vec<(String, String)> = metrics
            .iter()
            .filter(|(_, v)| v.is_number() || v.is_null())
            .map(|(k, v)| (k.clone(), cell(v)))
            .collect();
        rows.push((variant, seed, "final", scalars));
    }
    for (_, _, _, cells) in &rows {
        for (name, _) in cells {
            if name != "step" && !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    // Alphabetical, a spread array's columns in numeric order (task_acc_2 before task_acc_10).
    columns.sort_by_key(|c| match c.rsplit_once('_') {
        Some((base, i)) if i.parse::<usize>().is_ok() => {
            (base.to_string(), i.parse::<usize>().unwrap_or(0))
        }
        _ => (c.clone(), 0),
    });
    let mut out = String::from("variant,seed,kind,step");
    for c in &columns {
        out.push(',');
        out.push_str(&quote(c));
    }
    out.push('\n');
    for (variant, seed, kind, cells) in &rows {
        let get = |name: &str| {
            cells
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        };
        out.push_str(&format!("{},{seed},{kind},{}", quote(variant), get("step")));
        for c in &columns {
            out.push(',');
            out.push_str(get(c));
        }
        out.push('\n');
    }
    out
}

/// A curve point's fields as named cells, arrays spread into numbered columns.
fn flatten(point: &Value) -> Vec<(String, String)> {
    let Some(fields) = point.as_object() else {
        return Vec::new();
    };
    let mut cells = Vec::new();
    for (name, value) in fields {
        match value.as_array() {
            Some(items) => cells.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{name}_{}", i + 1), cell(v))),
            ),
            None => cells.push((name.clone(), cell(value))),
        }
    }
    cells
}

/// A number as written in JSON; anything else (null, a NaN written as null) is an empty cell.
fn cell(v: &Value) -> String {
    if v.is_number() {
        v.to_string()
    } else {
        String::new()
    }
}

/// A CSV field, quoted when it holds a separator or a quote.
fn quote(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_one_shape_with_elapsed_seconds_in_the_config() {
        let mut s = Summary::new("bnn-toy", json!({"steps": 3}));
        s.run("m=0", 1, json!({"x": 1}));
        s.elapsed = 12.345;
        let doc = s.to_json();
        assert_eq!(doc["experiment"], "bnn-toy");
        assert_eq!(doc["config"]["steps"], 3);
        assert_eq!(doc["config"]["elapsed_seconds"], 12.3);
        assert_eq!(
            doc["runs"][0],
            json!({"variant": "m=0", "seed": 1, "metrics": {"x": 1}})
        );
        let back: Value = serde_json::from_str(&s.to_pretty_string()).expect("valid JSON");
        assert_eq!(back, doc);
    }

    #[test]
    fn a_document_reads_back_to_the_bit() {
        // f32 values widened to f64, as every metric is written; a merge of seed folders reads
        // and writes them again and must not move one by an ulp.
        let losses: Vec<f32> = vec![1.710_430_5, 1.153_512_5, 0.1, f32::MIN_POSITIVE, 3.0e-38];
        let mut s = Summary::new("bnn-permuted", json!({"lr": 0.005f32}));
        s.run("m=0", 1, json!({"curve": losses.iter().map(|&l| json!({"train_loss": l})).collect::<Vec<_>>()}));
        s.provenance = Some(Provenance { command: "metaplastic x".into(), commit: "abc".into(), date: "2026-12-06".into(), machine: "2 threads".into() });
        let text = s.to_pretty_string();
        let back = Summary::parse(&text).expect("reads");
        assert_eq!(back.to_pretty_string(), text);
        assert_eq!(back.variants(), ["m=0"]);
    }

    #[test]
    fn every_lenet_metric_is_read_by_its_name() {
        let m = ClassMetrics {
            accuracy: 0.1,
            macro_f1: 0.2,
            precision: 0.3,
            recall: 0.4,
            loss: 0.5,
            ..ClassMetrics::default()
        };
        let got: Vec<f32> = LENET_METRICS.iter().map(|n| lenet_metric(&m, n)).collect();
        assert_eq!(got, vec![0.1, 0.2, 0.3, 0.4, 0.5]);
    }

    #[test]
    fn the_csv_has_a_row_per_curve_point_and_one_final_row_per_run() {
        let mut s = Summary::new("bnn-permuted", json!({}));
        s.run("m=0", 3, json!({"final_mean_acc": 0.5, "curve": [{"step": 10, "train_loss": 1.5, "task_acc": [0.9, null]}, {"step": 20, "train_loss": 1.0, "task_acc": [0.8, 0.7]}]}));
        s.run(
            "m=1.35, \"a\"",
            3,
            json!({"final_mean_acc": null, "loss_curve": [{"step": 5, "train_mse": 0.25}]}),
        );
        let csv = metrics_csv(&s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "variant,seed,kind,step,final_mean_acc,task_acc_1,task_acc_2,train_loss,train_mse"
        );
        assert_eq!(lines[1], "m=0,3,curve,10,,0.9,,1.5,");
        assert_eq!(lines[2], "m=0,3,curve,20,,0.8,0.7,1.0,");
        assert_eq!(lines[3], "m=0,3,final,,0.5,,,,");
        assert_eq!(lines[4], "\"m=1.35, \"\"a\"\"\",3,curve,5,,,,,0.25");
        assert_eq!(lines[5], "\"m=1.35, \"\"a\"\"\",3,final,,,,,,");
        assert_eq!(lines.len(), 6);
    }
}
