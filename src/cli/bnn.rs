//! `bnn-permuted`, `bnn-stream` and `bnn-toy`: the binarized-network experiments, headless.

use super::args::{Common, declared, positive};
use super::{CliError, Summary, WriteSummary, load_data, open_backend, pct};
use metaplastic::data::DataSetId;
use metaplastic::data::IMAGE_PIXELS;
use metaplastic::experiments::flips::{FlipBin, FlipConfig, flip_loss_increase};
use metaplastic::experiments::permuted::{LearnerRecord, LearnerSpec, PermutedConfig, PermutedRun, Progress};
use metaplastic::experiments::{EVAL_BATCH, fill_batch_permuted};
use metaplastic::experiments::stream::{StreamConfig, StreamRecord, StreamRun, TAIL_EVALS, is_full_data};
use metaplastic::experiments::summary::{permuted_config, permuted_metrics, stream_config, stream_metrics};
use metaplastic::experiments::toy::{AUTHORS_HESSIAN, IDENTITY, ToyConfig, run_toy};
use metaplastic::model::bnn::{BnnTrainer, GammaInit, Weights};
use metaplastic::nn::NormEval;
use metaplastic::settings::bnn;
use metaplastic::stats::{PairedDiff, mean_sd};
use serde_json::json;
use std::time::Instant;

fn reduced() -> PermutedConfig {
    PermutedConfig::authors_reduced(512, &[])
}

fn stream_paper() -> StreamConfig {
    StreamConfig::paper(&[])
}

#[derive(Debug, clap::Args)]
pub struct PermutedArgs {
    #[command(flatten)]
    common: Common,
    /// Values of m, a network each (0: the standard network)
    // The page's m is the metaplastic networks' only (the standard one is always there), so the
    // help is the tool's own; each value is checked against the page's range, which includes 0.
    #[arg(long, value_delimiter = ',', default_value = "0,1.35", value_parser = declared::<f32>(&bnn::META))]
    meta: Vec<f32>,
    #[arg(long, help = bnn::HIDDEN.help, default_value_t = reduced().hidden, value_parser = declared::<usize>(&bnn::HIDDEN))]
    hidden: usize,
    #[arg(long, help = bnn::LR.help, default_value_t = reduced().lr, value_parser = declared::<f32>(&bnn::LR))]
    lr: f32,
    /// Images per training batch
    #[arg(long, default_value_t = reduced().batch)]
    batch: usize,
    /// Adam's weight decay
    #[arg(long, default_value_t = reduced().weight_decay)]
    weight_decay: f32,
    #[arg(long, help = bnn::TASKS.help, default_value_t = reduced().tasks, value_parser = declared::<usize>(&bnn::TASKS))]
    tasks: usize,
    /// Epochs per task (over --train-examples)
    #[arg(long, default_value_t = reduced().epochs)]
    epochs: usize,
    /// Training steps per task, instead of --epochs
    // The page's steps are batches of a fixed 100 images; here --batch sets them, so the help is
    // the tool's own and the range the page's.
    #[arg(long, value_parser = declared::<usize>(&bnn::STEPS))]
    steps_per_task: Option<usize>,
    /// Training images an epoch passes over (the first of the training set)
    #[arg(long, default_value_t = reduced().train_examples)]
    train_examples: usize,
    /// Test images for the accuracy matrix at each task's end
    #[arg(long, default_value_t = reduced().test_examples)]
    test_examples: usize,
    /// Steps between two points of the live curves
    #[arg(long, default_value_t = reduced().eval_every)]
    eval_every: usize,
    #[arg(long, help = bnn::BN_PER_TASK.help, default_value_t = reduced().bn_per_task, action = clap::ArgAction::Set, value_parser = declared::<bool>(&bnn::BN_PER_TASK))]
    bn_per_task: bool,
    /// BatchNorm's initial scale: uniform in [0, 1) as the authors' PyTorch 1.1, or one
    // The page's gamma-uniform is a switch; the tool names the two starts, as summary.json does.
    #[arg(long, default_value = reduced().gamma_init.name(), value_parser = ["uniform", "one"])]
    bn_gamma: String,
    /// BatchNorm's statistics at test time: the batch's own (batches of 1000, the authors' current
    /// code) or the running statistics of training (PyTorch 1.1, which ran the paper's results)
    #[arg(long, default_value = reduced().bn_stats.name(), value_parser = ["batch", "running"])]
    bn_stats: String,
    /// Data sets learned one after the other, unpermuted, instead of permuted MNIST (one task each; sets --tasks)
    #[arg(long, value_delimiter = ',', value_parser = ["mnist", "fashion"])]
    sequence: Vec<String>,
    /// Binary weights (the paper's network) or full precision with ReLU (the paper's Fig. 2f)
    // The page's full-precision is a switch; the tool names the two kinds, as summary.json does.
    #[arg(long, default_value = reduced().weights.name(), value_parser = ["binary", "full"])]
    weights: String,
    #[arg(long, help = bnn::EWC.help)]
    ewc: bool,
    /// After the last task, flip binary weights of the hidden layer bin by bin of |Wh| and measure the loss on task 1 (the paper's Fig. 5c-e)
    #[arg(long)]
    flips: bool,
    #[arg(long, help = bnn::EWC_LAMBDA.help, default_value_t = 5e3, value_parser = declared::<f32>(&bnn::EWC_LAMBDA))]
    ewc_lambda: f32,
    /// Training examples whose squared gradients estimate the Fisher information
    #[arg(long, default_value_t = reduced().ewc_examples)]
    ewc_examples: usize,
    /// The folder for summary.json, metrics.csv and the charts
    #[arg(long, default_value = "results/bnn-permuted")]
    out: String,
}

pub fn permuted(args: PermutedArgs) -> Result<(), CliError> {
    let out = args.out;
    let seeds = args.common.seeds();
    let backend = open_backend(&args.common.backend)?;
    let data_dir = args.common.data;
    let mut cfg = PermutedConfig::authors_reduced(args.hidden, &args.meta);
    cfg.lr = args.lr;
    cfg.batch = args.batch;
    cfg.weight_decay = args.weight_decay;
    cfg.tasks = args.tasks;
    cfg.epochs = args.epochs;
    cfg.steps_per_task = args.steps_per_task;
    cfg.train_examples = args.train_examples;
    cfg.test_examples = args.test_examples;
    cfg.eval_every = args.eval_every;
    cfg.bn_per_task = args.bn_per_task;
    cfg.gamma_init = GammaInit::parse(&args.bn_gamma)?;
    cfg.bn_stats = NormEval::parse(&args.bn_stats).ok_or_else(|| CliError::Choice { flag: "bn-stats", value: args.bn_stats.clone(), choices: "batch or running" })?;
    cfg.weights = Weights::parse(&args.weights)?;
    if !args.sequence.is_empty() {
        let parse = |s: &String| DataSetId::parse(s).ok_or_else(|| CliError::Choice { flag: "sequence", value: s.clone(), choices: "mnist or fashion" });
        let sets = args.sequence.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
        cfg.tasks = sets.len();
        cfg.sequence = Some(sets);
    }
    if args.ewc {
        cfg.learners.push(LearnerSpec::ewc(args.ewc_lambda));
    }
    cfg.ewc_examples = args.ewc_examples;
    cfg.validate()?;
    let mut data = Vec::new();
    for k in 0..cfg.tasks {
        let id = cfg.data_set(k);
        if !data.iter().any(|d: &metaplastic::data::DataSet| d.id == id) {
            data.push(load_data(&data_dir, id)?);
        }
    }

    println!(
        "bnn-permuted: 784-{h}-{h}-10, {} tasks ({}) x {} steps, learners {}, seeds {:?}, backend {}",
        cfg.tasks,
        match &cfg.sequence {
            Some(sets) => sets.iter().map(|s| s.title()).collect::<Vec<_>>().join(" then "),
            None => "permuted MNIST".into(),
        },
        cfg.steps_per_task(),
        cfg.learners.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(" "),
        seeds,
        backend.name(),
        h = cfg.hidden
    );
    let mut summary = Summary::new("bnn-permuted", permuted_config(&cfg, &backend.name()));
    let start = Instant::now();
    let mut first: Option<(Vec<LearnerRecord>, Vec<(LearnerSpec, Vec<f32>)>)> = None;
    for &seed in &seeds {
        let mut run_cfg = cfg.clone();
        run_cfg.seed = seed;
        let mut run = PermutedRun::new(run_cfg, |c, p| backend.bnn(c, p))?;
        loop {
            let progress = pollster::block_on(run.advance(data.as_slice(), usize::MAX)).map_err(|source| CliError::Seed { seed, source })?;
            let ended = match progress {
                Progress::TaskDone(k) => Some(k),
                Progress::Finished => Some(cfg.tasks - 1),
                _ => None,
            };
            if let Some(k) = ended {
                let rows: Vec<String> =
                    run.records().map(|r| format!("{} [{}]", r.spec.name, r.acc_matrix[k][..=k].iter().map(|a| pct(*a)).collect::<Vec<_>>().join(" "))).collect();
                println!("  seed {seed} task {}/{} ({:.0} s): {}", k + 1, cfg.tasks, start.elapsed().as_secs_f64(), rows.join("; "));
            }
            if progress == Progress::Finished {
                break;
            }
            if progress == Progress::WaitingForData {
                return Err(CliError::NotEnoughData);
            }
        }
        let flips = if args.flips { Some(flip_bins(&mut run, &data, seed)?) } else { None };
        for (i, r) in run.records().enumerate() {
            let mut metrics = permuted_metrics(r);
            if let Some(flips) = &flips {
                metrics["flips"] = json!(flips[i]);
            }
            summary.run(&r.spec.name, seed, metrics);
        }
        if first.is_none() {
            let records: Vec<LearnerRecord> = run.records().cloned().collect();
            let mut weights = Vec::new();
            for (spec, trainer) in cfg.learners.iter().zip(run.trainers_mut()) {
                let params = pollster::block_on(trainer.params())?;
                weights.push((spec.clone(), params.wh[1].clone()));
            }
            first = Some((records, weights));
        }
    }
    summary.elapsed = start.elapsed().as_secs_f64();
    report_permuted(&summary, &cfg);
    summary.write(&out)?;
    let (records, weights) = first.unwrap_or_default();
    super::charts::permuted(&summary, &cfg, &records, &weights, &out)?;
    Ok(())
}

/// Every learner's loss increase per bin of flipped weights ([`FlipConfig::hidden_layer`]), on
/// the first 2,000 training examples of task 1 as task 1 showed them.
fn flip_bins<T: BnnTrainer>(run: &mut PermutedRun<T>, data: &[metaplastic::data::DataSet], seed: u64) -> Result<Vec<Vec<FlipBin>>, CliError> {
    let cfg = run.config().clone();
    let perm = run.permutation(0).map(<[u16]>::to_vec);
    let train = data.iter().find(|d| d.id == cfg.data_set(0)).ok_or(CliError::NotEnoughData)?;
    let batches: Vec<(Vec<f32>, Vec<u32>)> = (0..2)
        .map(|b| {
            let indices: Vec<usize> = (b * EVAL_BATCH..(b + 1) * EVAL_BATCH).collect();
            let (mut x, mut y) = (vec![0.0; EVAL_BATCH * IMAGE_PIXELS], vec![0; EVAL_BATCH]);
            fill_batch_permuted(&train.train, &indices, perm.as_deref(), &mut x, &mut y);
            (x, y)
        })
        .collect();
    let flip_cfg = FlipConfig::hidden_layer(seed);
    let mut out = Vec::new();
    for trainer in run.trainers_mut() {
        out.push(pollster::block_on(flip_loss_increase(trainer, &batches, &flip_cfg)).map_err(|source| CliError::Seed { seed, source })?);
    }
    Ok(out)
}

/// Mean and spread per variant over seeds, and the paired difference to the first variant.
fn report_permuted(summary: &Summary, cfg: &PermutedConfig) {
    let last = cfg.tasks - 1;
    let metric = |variant: &str, f: &dyn Fn(&serde_json::Value) -> Option<f32>| -> Vec<f32> {
        summary.runs.iter().filter(|r| r["variant"] == variant).filter_map(|r| f(&r["metrics"])).collect()
    };
    let final_mean = |m: &serde_json::Value| m["final_mean_acc"].as_f64().map(|v| v as f32);
    let task1 = |m: &serde_json::Value| m["acc_matrix"][last][0].as_f64().map(|v| v as f32);
    println!("\n{:<10} {:>22} {:>26}", "variant", "final mean acc", "task-1 acc after last task");
    let base = &cfg.learners[0].name;
    for l in &cfg.learners {
        let (fm, fs) = mean_sd(&metric(&l.name, &final_mean));
        let (tm, ts) = mean_sd(&metric(&l.name, &task1));
        println!("{:<10} {:>14} ± {:<6} {:>18} ± {:<6}", l.name, pct(fm), pct(fs), pct(tm), pct(ts));
    }
    for l in &cfg.learners {
        let flips = super::charts::flip_means(summary, &l.name);
        if !flips.is_empty() {
            let points: Vec<String> = flips.iter().map(|(m, inc)| format!("{m:.2}: {inc:+.3}")).collect();
            println!("{:<10} loss increase when flipping (|Wh| / max: increase): {}", l.name, points.join(", "));
        }
    }
    for l in cfg.learners.iter().skip(1) {
        for (what, f) in [("final mean acc", &final_mean as &dyn Fn(&serde_json::Value) -> Option<f32>), ("task-1 acc", &task1)] {
            let (a, b) = (metric(base, f), metric(&l.name, f));
            if a.len() == b.len() && !a.is_empty() {
                let d = PairedDiff::new(&a, &b);
                println!(
                    "{} - {base}, {what}: {:+.3} (95% CI ± {:.3}, {} seeds){}",
                    l.name,
                    d.mean,
                    d.ci95,
                    d.n,
                    if d.is_significant() { "" } else { "  not distinguishable from noise" }
                );
            }
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct StreamArgs {
    #[command(flatten)]
    common: Common,
    /// The data set cut into subsets (the page streams Fashion-MNIST)
    #[arg(long, default_value = "fashion", value_parser = ["mnist", "fashion"])]
    dataset: String,
    /// Values of m, a network each (0: the standard network)
    // As bnn-permuted's --meta: the tool's list includes the standard network.
    #[arg(long, value_delimiter = ',', default_value = "0,2.5", value_parser = declared::<f32>(&bnn::META))]
    meta: Vec<f32>,
    #[arg(long, help = bnn::HIDDEN.help, default_value_t = stream_paper().hidden, value_parser = declared::<usize>(&bnn::HIDDEN))]
    hidden: usize,
    #[arg(long, help = bnn::LR.help, default_value_t = stream_paper().lr, value_parser = declared::<f32>(&bnn::LR))]
    lr: f32,
    /// Images per training batch
    #[arg(long, default_value_t = stream_paper().batch)]
    batch: usize,
    #[arg(long, help = bnn::SUBSETS.help, default_value_t = stream_paper().subsets, value_parser = declared::<usize>(&bnn::SUBSETS))]
    subsets: usize,
    #[arg(long, help = bnn::EPOCHS.help, default_value_t = stream_paper().epochs, value_parser = declared::<usize>(&bnn::EPOCHS))]
    epochs: usize,
    /// Training images cut into the subsets
    #[arg(long, default_value_t = stream_paper().train_examples)]
    train_examples: usize,
    /// Test images for the final accuracy
    #[arg(long, default_value_t = stream_paper().test_examples)]
    test_examples: usize,
    /// Steps between two points of the live curves
    #[arg(long, default_value_t = stream_paper().eval_every)]
    eval_every: usize,
    /// The full-data baselines' m, one network each trained on the whole shuffled set for as
    /// many steps (the authors ran 0 and 2.5); "none" for no baseline
    #[arg(long, default_value = "0,2.5")]
    full_data: String,
    /// BatchNorm with a learned scale and shift (the authors' stream code: false)
    #[arg(long, default_value_t = stream_paper().norm.affine, action = clap::ArgAction::Set)]
    bn_affine: bool,
    /// BatchNorm's statistics at test time (the authors' stream code: running)
    #[arg(long, default_value = stream_paper().norm.eval.name(), value_parser = ["running", "batch"])]
    bn_stats: String,
    /// The folder for summary.json, metrics.csv and the charts
    #[arg(long, default_value = "results/bnn-stream")]
    out: String,
}

pub fn stream(args: StreamArgs) -> Result<(), CliError> {
    let out = args.out;
    let seeds = args.common.seeds();
    let backend = open_backend(&args.common.backend)?;
    let data_dir = args.common.data;
    let id = DataSetId::parse(&args.dataset).ok_or_else(|| CliError::Choice { flag: "dataset", value: args.dataset.clone(), choices: "mnist or fashion" })?;
    let mut cfg = StreamConfig::paper(&args.meta);
    cfg.hidden = args.hidden;
    cfg.lr = args.lr;
    cfg.batch = args.batch;
    cfg.subsets = args.subsets;
    cfg.epochs = args.epochs;
    cfg.train_examples = args.train_examples;
    cfg.test_examples = args.test_examples;
    cfg.eval_every = args.eval_every;
    cfg.full_data = if args.full_data == "none" {
        Vec::new()
    } else {
        args.full_data
            .split(',')
            .map(|v| v.trim().parse::<f32>().ok().filter(|m| metaplastic::model::bnn::META_RANGE.contains(m)))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| CliError::Choice { flag: "full-data", value: args.full_data.clone(), choices: "none, or values of m such as 0,2.5" })?
    };
    cfg.norm.affine = args.bn_affine;
    cfg.norm.eval = NormEval::parse(&args.bn_stats).ok_or_else(|| CliError::Choice { flag: "bn-stats", value: args.bn_stats.clone(), choices: "running or batch" })?;
    cfg.validate()?;
    let data = load_data(&data_dir, id)?;
    println!(
        "bnn-stream on {}: 784-{h}-{h}-10, {} subsets of {} x {} epochs ({} steps), learners {}, seeds {:?}, backend {}",
        id.title(),
        cfg.subsets,
        cfg.subset_len(),
        cfg.epochs,
        cfg.total_steps(),
        cfg.learners().iter().map(|l| l.name.clone()).collect::<Vec<_>>().join(" "),
        seeds,
        backend.name(),
        h = cfg.hidden
    );
    let config = stream_config(&cfg, id, &backend.name());
    let mut summary = Summary::new("bnn-stream", config);
    let start = Instant::now();
    let mut first: Vec<StreamRecord> = Vec::new();
    for &seed in &seeds {
        let mut run_cfg = cfg.clone();
        run_cfg.seed = seed;
        let mut run = StreamRun::new(run_cfg, |c, p| backend.bnn(c, p))?;
        let first_seed = seed == seeds[0];
        loop {
            let progress = pollster::block_on(run.advance(&data, usize::MAX)).map_err(|source| CliError::Seed { seed, source })?;
            match progress {
                Progress::Finished => break,
                Progress::WaitingForData => return Err(CliError::NotEnoughData),
                Progress::TaskDone(s) if (s + 1) % (cfg.subsets / 6).max(1) == 0 => {
                    let accs: Vec<String> =
                        run.records().map(|r| format!("{} {}", r.spec.name, r.curve.last().map_or("-".into(), |p| pct(p.test_acc)))).collect();
                    println!("  seed {seed} subset {}/{} ({:.0} s): {}", s + 1, cfg.subsets, start.elapsed().as_secs_f64(), accs.join("; "));
                }
                _ => {}
            }
        }
        for r in run.records() {
            summary.run(&r.spec.name, seed, stream_metrics(r));
        }
        if first_seed {
            first = run.records().cloned().collect();
        }
    }
    summary.elapsed = start.elapsed().as_secs_f64();
    let acc = |variant: &str| -> Vec<f32> {
        summary.runs.iter().filter(|r| r["variant"] == variant).filter_map(|r| r["metrics"]["test_acc"].as_f64().map(|v| v as f32)).collect()
    };
    let tail = |variant: &str| -> Vec<f32> {
        summary.runs.iter().filter(|r| r["variant"] == variant).filter_map(|r| r["metrics"]["tail_mean_acc"].as_f64().map(|v| v as f32)).collect()
    };
    println!("\n{:<18} {:>20} {:>28}", "variant", "final test acc", format!("mean of last {} readings", TAIL_EVALS.min(cfg.subsets)));
    for l in cfg.learners() {
        let (m, s) = mean_sd(&acc(&l.name));
        let (tm, ts) = mean_sd(&tail(&l.name));
        println!("{:<18} {:>12} ± {:<6} {:>18} ± {:<6}", l.name, pct(m), pct(s), pct(tm), pct(ts));
    }
    for baseline in cfg.learners().iter().filter(|l| is_full_data(&l.name)) {
        for &m in &cfg.metas {
            let d = PairedDiff::new(&tail(&format!("m={m}")), &tail(&baseline.name));
            println!("{} - m={m}: gap {:+.3} (95% CI ± {:.3}), on the mean of the last readings", baseline.name, d.mean, d.ci95);
        }
    }
    summary.write(&out)?;
    super::charts::stream(&summary, &cfg, &first, &out)?;
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ToyArgs {
    /// Values of m, a trajectory each
    // The page draws one metaplastic learner beside m = 0; each value here is checked against its
    // range.
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,1.35", value_parser = declared::<f32>(&bnn::TOY_META))]
    meta: Vec<f32>,
    /// Gradient steps of each trajectory
    #[arg(long, default_value_t = ToyConfig::default().steps, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    steps: usize,
    /// The step size
    #[arg(long, default_value_t = ToyConfig::default().lr, value_parser = positive)]
    lr: f32,
    /// The loss's curvature H: the authors' (from their notebook) or the identity
    #[arg(long, default_value = "authors", value_parser = ["authors", "identity"])]
    hessian: String,
    /// The folder for summary.json, metrics.csv and the charts
    #[arg(long, default_value = "results/bnn-toy")]
    out: String,
}

pub fn toy(args: ToyArgs) -> Result<(), CliError> {
    let out = args.out;
    let hessian = if args.hessian == "identity" { IDENTITY } else { AUTHORS_HESSIAN };
    let cfg = ToyConfig { metas: args.meta, steps: args.steps, lr: args.lr, hessian, ..ToyConfig::default() };
    let paths = run_toy(&cfg);
    let mut summary = Summary::new("bnn-toy", json!({"hessian": cfg.hessian, "target": cfg.target, "start": cfg.start, "lr": cfg.lr, "steps": cfg.steps}));
    for p in &paths {
        let end = p.points.last().copied().unwrap_or(cfg.start);
        let flips = p.points.windows(2).filter(|w| w[0][1].signum() != w[1][1].signum()).count();
        println!("m={}: final hidden weights ({:.2}, {:.2}), second weight flipped sign {flips} times", p.meta, end[0], end[1]);
        summary.run(&format!("m={}", p.meta), 0, json!({"final_hidden": end, "second_weight_flips": flips, "path": p.points}));
    }
    summary.write(&out)?;
    super::charts::toy(&paths, &cfg, &out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command, tests::parse};

    #[test]
    fn values_the_settings_allow_are_read_as_the_flags_types() {
        let Ok(Cli { command: Command::BnnPermuted(a) }) = parse(&["bnn-permuted", "--hidden", "64", "--lr", "0.02", "--meta", "0,1.35", "--bn-per-task", "off"]) else {
            panic!("allowed values");
        };
        assert_eq!((a.hidden, a.lr, a.meta, a.bn_per_task), (64, 0.02, vec![0.0, 1.35], false));
    }

    #[test]
    fn the_toy_refuses_no_steps_and_a_step_size_of_zero_before_it_runs() {
        for (flag, bad) in [("--steps", "0"), ("--steps", "100001"), ("--lr", "0"), ("--lr", "-1e-3"), ("--lr", "NaN")] {
            let refused = parse(&["bnn-toy", &format!("{flag}={bad}")]).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains(&format!("invalid value '{bad}' for '{flag}")), "{flag} {bad}: {refused}");
        }
    }
}
