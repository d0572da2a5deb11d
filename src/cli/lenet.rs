//! `lenet`: standard vs artificial-metaplasticity LeNet-5 on MNIST or Fashion-MNIST, over seeds,
//! with the paper's metrics, the paired difference, and the app's charts as SVG.

use super::args::{Common, declared};
use super::{CliError, Summary, WriteSummary, load_data, open_backend, pct, write_svg};
use metaplastic::backend::Backend;
use metaplastic::charts::lenet as figures;
use metaplastic::data::{DataSet, DataSetId};
use metaplastic::experiments::lenet::{LenetProgress, LenetRecord, LenetRun, LenetRunConfig, Rule};
use metaplastic::experiments::summary::{LENET_METRICS as METRICS, lenet_config, lenet_metrics};
use metaplastic::model::lenet::{Arch, FactorSource, LenetTrainer};
use metaplastic::nn::{AmpEnergy, PoolKind};
use metaplastic::settings::lenet as page;
use metaplastic::stats::{PairedDiff, mean_sd};
use std::time::Instant;

/// The paper's test metrics (Vives-Boix and Ruiz-Fernandez 2021, LeNet-5): accuracy standard and
/// with AMP. The paper gives no seeds or error bars.
pub const PAPER_ACCURACY: [(DataSetId, f32, f32); 2] = [(DataSetId::Mnist, 0.9886, 0.9910), (DataSetId::Fashion, 0.9014, 0.9031)];

fn defaults() -> LenetRunConfig {
    LenetRunConfig::standard_against_amp(DataSetId::Mnist, Arch::Classic, 5)
}

#[derive(Debug, clap::Args)]
pub struct LenetArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, help = page::DATASET.help, default_value = "mnist", value_parser = declared::<String>(&page::DATASET))]
    dataset: String,
    #[arg(long, help = page::ARCH.help, default_value = "classic", value_parser = declared::<String>(&page::ARCH))]
    arch: String,
    #[arg(long, help = page::POOL.help, default_value = "max", value_parser = declared::<String>(&page::POOL))]
    pool: String,
    /// Rules, a network each: standard, amp (its energy is --amp-energy's), amp-raw, amp-centred
    // The page compares standard with one AMP network (B = 0 is standard); the tool runs a list.
    #[arg(long, value_delimiter = ',', default_value = "standard,amp")]
    rule: Vec<String>,
    #[arg(long, help = page::ENERGY.help, default_value = "raw", value_parser = declared::<String>(&page::ENERGY))]
    amp_energy: String,
    #[arg(long, help = page::EPOCHS.help, default_value_t = defaults().epochs, value_parser = declared::<usize>(&page::EPOCHS))]
    epochs: usize,
    #[arg(long, help = page::LR.help, default_value_t = defaults().lr, value_parser = declared::<f32>(&page::LR))]
    lr: f32,
    /// SGD's Nesterov momentum
    #[arg(long, default_value_t = defaults().momentum)]
    momentum: f32,
    /// Images per training batch
    #[arg(long, default_value_t = defaults().batch)]
    batch: usize,
    #[arg(long, help = page::B.help, default_value_t = defaults().amp_b, value_parser = declared::<f32>(&page::B))]
    amp_b: f32,
    #[arg(long, help = page::SOURCE.help, default_value = "layer", value_parser = declared::<String>(&page::SOURCE))]
    amp_source: String,
    /// The factors' clamp, lo,hi
    #[arg(long, value_delimiter = ',', num_args = 2, default_values_t = [defaults().amp_clamp.0, defaults().amp_clamp.1])]
    amp_clamp: Vec<f32>,
    /// Training steps per epoch, instead of a whole pass over --train-examples
    // The page's steps are batches of a fixed 64 images; here --batch sets them, so the help is
    // the tool's own and the range the page's.
    #[arg(long, value_parser = declared::<usize>(&page::STEPS))]
    steps_per_epoch: Option<usize>,
    /// Training images (the first of the training set)
    #[arg(long, default_value_t = defaults().train_examples)]
    train_examples: usize,
    #[arg(long, help = page::TEST.help, default_value_t = defaults().test_examples, value_parser = declared::<usize>(&page::TEST))]
    test_examples: usize,
    /// Steps between two points of the live curves
    #[arg(long, default_value_t = defaults().eval_every)]
    eval_every: usize,
    /// [default: results/lenet-<dataset>-<arch>]
    #[arg(long)]
    out: Option<String>,
}

pub fn lenet(args: LenetArgs) -> Result<(), CliError> {
    let choice = |flag, value: &str, choices| CliError::Choice { flag, value: value.into(), choices };
    let dataset = DataSetId::parse(&args.dataset).ok_or_else(|| choice("dataset", &args.dataset, "mnist or fashion"))?;
    let arch = Arch::parse(&args.arch).ok_or_else(|| choice("arch", &args.arch, "classic or authors"))?;
    let rules = args
        .rule
        .iter()
        .map(|r| Rule::parse(r.trim()).ok_or_else(|| choice("rule", r, "from standard, amp, amp-raw, amp-centred (a list: standard,amp)")))
        .collect::<Result<Vec<_>, _>>()?;
    // `--amp-energy centred` makes a bare `amp` the centred rule (amp-raw and amp-centred say
    // which outright).
    let energy = AmpEnergy::parse(&args.amp_energy).ok_or_else(|| choice("amp-energy", &args.amp_energy, "raw or centred"))?;
    let rules: Vec<Rule> = rules.into_iter().map(|r| if r == Rule::Amp { Rule::amp(energy) } else { r }).collect();
    let seeds = args.common.seeds();
    let backend = open_backend(&args.common.backend)?;
    let out = args.out.unwrap_or_else(|| format!("results/lenet-{}-{}", dataset.dir(), arch.name()));
    let data_dir = args.common.data;
    let mut cfg = LenetRunConfig::standard_against_amp(dataset, arch, args.epochs);
    cfg.rules = rules;
    cfg.pool = if args.pool == "average" { PoolKind::Average } else { PoolKind::Max };
    cfg.lr = args.lr;
    cfg.momentum = args.momentum;
    cfg.batch = args.batch;
    cfg.amp_b = args.amp_b;
    cfg.amp_source = match args.amp_source.as_str() {
        "layer" => FactorSource::LayerInput,
        "input" => FactorSource::NetworkInput,
        other => return Err(choice("amp-source", other, "layer (each conv layer's input) or input (the image)")),
    };
    let [lo, hi] = args.amp_clamp[..] else { return Err(CliError::Flag { flag: "amp-clamp", reason: "give two values, lo,hi".into() }) };
    cfg.amp_clamp = (lo, hi);
    cfg.steps_per_epoch = args.steps_per_epoch;
    cfg.train_examples = args.train_examples;
    cfg.test_examples = args.test_examples;
    cfg.eval_every = args.eval_every;
    cfg.validate()?;
    let data = load_data(&data_dir, dataset)?;

    println!(
        "lenet: {} LeNet-5 ({} pooling) on {}, {} epochs x {} batches of {}, rules {}, B = {}, seeds {:?}, backend {}",
        arch.name(),
        cfg.pool.name(),
        dataset.title(),
        cfg.epochs,
        cfg.steps_per_epoch(),
        cfg.batch,
        cfg.rules.iter().map(|r| r.name()).collect::<Vec<_>>().join(","),
        cfg.amp_b,
        seeds,
        backend.name()
    );
    let mut summary = Summary::new("lenet", lenet_config(&cfg, &backend.name()));
    let start = Instant::now();
    let mut first: Option<(Vec<LenetRecord>, Vec<(Rule, Vec<f32>)>, Vec<Vec<f32>>, Vec<f32>)> = None;
    for &seed in &seeds {
        let mut run_cfg = cfg.clone();
        run_cfg.seed = seed;
        let seed_start = Instant::now();
        let outcome = run_seed(&backend, run_cfg, &data, seed, first.is_none())?;
        println!("  seed {seed} done in {:.0} s", seed_start.elapsed().as_secs_f64());
        for r in &outcome.records {
            if let Some(metrics) = lenet_metrics(r) {
                summary.run(r.rule.name(), seed, metrics);
            }
        }
        if first.is_none() {
            first = Some((outcome.records, outcome.filters, outcome.factors, outcome.batch));
        }
    }
    summary.elapsed = start.elapsed().as_secs_f64();
    report(&summary, &cfg);
    summary.write(&out)?;
    if let Some((records, filters, factors, batch)) = first {
        charts(&summary, &cfg, &records, &filters, &factors, &batch, &out)?;
    }
    Ok(())
}

/// What one seed leaves: the records, and for the charts the first-layer filters per rule and the
/// last batch with its factors.
struct Outcome {
    records: Vec<LenetRecord>,
    filters: Vec<(Rule, Vec<f32>)>,
    factors: Vec<Vec<f32>>,
    batch: Vec<f32>,
}

fn run_seed(backend: &Backend, cfg: LenetRunConfig, data: &DataSet, seed: u64, keep_pictures: bool) -> Result<Outcome, CliError> {
    drive(LenetRun::new(cfg, |c, p| backend.lenet(c, p))?, data, seed, keep_pictures)
}

fn drive<T: LenetTrainer>(mut run: LenetRun<T>, data: &DataSet, seed: u64, keep_pictures: bool) -> Result<Outcome, CliError> {
    let start = Instant::now();
    let epochs = run.config().epochs;
    loop {
        let progress = pollster::block_on(run.advance(data, usize::MAX)).map_err(|source| CliError::Seed { seed, source })?;
        let ended = match progress {
            LenetProgress::EpochDone(k) => Some(k),
            LenetProgress::Finished => Some(epochs - 1),
            _ => None,
        };
        if let Some(k) = ended {
            let rows: Vec<String> = run
                .records()
                .filter_map(|r| r.epoch_metrics.get(k).map(|m| format!("{} {} (loss {:.4})", r.rule.name(), pct(m.accuracy), m.loss)))
                .collect();
            println!("  seed {seed} epoch {}/{epochs} ({:.0} s): {}", k + 1, start.elapsed().as_secs_f64(), rows.join("; "));
        }
        match progress {
            LenetProgress::Finished => break,
            LenetProgress::WaitingForData => return Err(CliError::NotEnoughData),
            _ => {}
        }
    }
    let records: Vec<LenetRecord> = run.records().cloned().collect();
    let (mut filters, mut factors) = (Vec::new(), Vec::new());
    let batch = run.last_batch().0.to_vec();
    if keep_pictures {
        let rules: Vec<Rule> = records.iter().map(|r| r.rule).collect();
        for (rule, trainer) in rules.into_iter().zip(run.trainers_mut()) {
            let params = pollster::block_on(trainer.params())?;
            if let Some((_, _, w)) = params.first_filters(trainer.config().arch) {
                filters.push((rule, w.to_vec()));
            }
            let f = pollster::block_on(trainer.last_factors())?;
            if !f.is_empty() {
                factors = f;
            }
        }
    }
    Ok(Outcome { records, filters, factors, batch })
}

fn per_seed(summary: &Summary, rule: Rule, name: &str) -> Vec<f32> {
    summary.runs.iter().filter(|r| r["variant"] == rule.name()).filter_map(|r| r["metrics"][name].as_f64().map(|v| v as f32)).collect()
}

/// Mean ± sd per rule for every metric, the paired difference amp - standard with its 95%
/// interval, and the paper's numbers beside them.
fn report(summary: &Summary, cfg: &LenetRunConfig) {
    println!("\n{:<12} {:>18} {:>18} {:>18} {:>18} {:>18}", "rule", "accuracy", "macro F1", "precision", "recall", "loss");
    for &rule in &cfg.rules {
        let cells: Vec<String> = METRICS
            .iter()
            .map(|name| {
                let (m, s) = mean_sd(&per_seed(summary, rule, name));
                format!("{m:.4} ± {s:.4}")
            })
            .collect();
        println!("{:<12} {:>18} {:>18} {:>18} {:>18} {:>18}", rule.name(), cells[0], cells[1], cells[2], cells[3], cells[4]);
    }
    // Every pair of the rules run, each metaplastic one against standard and the two energies
    // against each other.
    let pairs = [(Rule::Standard, Rule::Amp), (Rule::Standard, Rule::AmpCentred), (Rule::Amp, Rule::AmpCentred)];
    for (base, other) in pairs.into_iter().filter(|(a, b)| cfg.rules.contains(a) && cfg.rules.contains(b)) {
        for name in METRICS {
            let d = PairedDiff::new(&per_seed(summary, base, name), &per_seed(summary, other, name));
            let verdict = if d.n < 2 {
                "one seed: no interval"
            } else if d.is_significant() {
                "the interval excludes 0"
            } else {
                "the interval includes 0: no difference shown"
            };
            println!("{} - {}, {name}: {:+.4} (95% CI ± {:.4}, {} seeds; {verdict})", other.name(), base.name(), d.mean, d.ci95, d.n);
        }
    }
    if let Some((_, s, a)) = PAPER_ACCURACY.iter().find(|(id, ..)| *id == cfg.dataset) {
        println!("paper (LeNet-5, one run, no error bars): standard {s:.4}, AMP {a:.4}");
    }
}

fn charts(
    summary: &Summary,
    cfg: &LenetRunConfig,
    records: &[LenetRecord],
    filters: &[(Rule, Vec<f32>)],
    factors: &[Vec<f32>],
    batch: &[f32],
    dir: &str,
) -> Result<(), CliError> {
    let total = cfg.epochs * cfg.steps_per_epoch();
    let accuracy: Vec<(&str, Vec<[f32; 3]>)> = records.iter().map(|r| (r.rule.name(), r.accuracy_points())).collect();
    let loss: Vec<(&str, Vec<[f32; 3]>)> = records.iter().map(|r| (r.rule.name(), r.loss_points())).collect();
    write_svg(dir, "accuracy-curves.svg", figures::accuracy_curves(&accuracy, total, 900.0, 420.0).to_svg())?;
    write_svg(dir, "loss-curves.svg", figures::loss_curves(&loss, total, 900.0, 420.0).to_svg())?;
    let names = cfg.dataset.class_names();
    for r in records {
        if let Some(c) = &r.confusion {
            let title = format!("{}: confusion matrix (seed {})", figures::rule_title(r.rule.name()), cfg_first_seed(summary));
            write_svg(dir, &format!("confusion-{}.svg", r.rule.name()), figures::confusion(&title, c, &names, 560.0, 520.0).to_svg())?;
        }
    }
    let first_conv = cfg.arch.layers().into_iter().find_map(|l| match l {
        metaplastic::nn::Layer::Conv { out, k, .. } => Some((out, k)),
        _ => None,
    });
    if let Some((count, k)) = first_conv {
        for (rule, w) in filters {
            let title = format!("{}: first-layer filters", figures::rule_title(rule.name()));
            let rows = count.div_ceil(8) as f32;
            write_svg(dir, &format!("filters-{}.svg", rule.name()), figures::filters(&title, rule.name(), count, k, w, 640.0, 90.0 + 80.0 * rows).to_svg())?;
        }
    }
    if !factors.is_empty() {
        write_svg(dir, "factors.svg", figures::factor_histogram(factors, 720.0, 380.0).to_svg())?;
        write_svg(dir, "extreme-examples.svg", figures::extreme_examples(batch, &factors[0], 6, 900.0, 220.0).to_svg())?;
    }
    let rows: Vec<(&str, [(f32, f32); 4])> =
        cfg.rules.iter().map(|&rule| (rule.name(), ["accuracy", "macro_f1", "precision", "recall"].map(|n| mean_sd(&per_seed(summary, rule, n))))).collect();
    write_svg(dir, "metrics.svg", figures::metric_bars(&rows, 720.0, 400.0).to_svg())?;
    Ok(())
}

fn cfg_first_seed(summary: &Summary) -> u64 {
    summary.runs.first().and_then(|r| r["seed"].as_u64()).unwrap_or(1)
}
