//! `hebbian`: differentiable Hebbian plasticity (Miconi et al. 2018), plastic vs non-plastic.

use super::args::Args;
use super::{Summary, write_svg};
use metaplastic::charts::plots::{LineChart, Series, line_chart};
use metaplastic::charts::palette;
use metaplastic::cpu::plastic::HebbRule;
use metaplastic::experiments::completion::{CompletionRecord, CompletionSetup, run_completion};
use metaplastic::model::hebbian::HebbianConfig;
use metaplastic::stats::{PairedDiff, mean_sd};
use serde_json::json;
use std::time::Instant;

fn variant_name(plastic: bool) -> &'static str {
    if plastic { "plastic" } else { "non-plastic" }
}

pub fn hebbian(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &[])?;
    let task = args.get("task", String::from("completion"))?;
    match task.as_str() {
        "completion" => {}
        "denoise" => return Err("--task denoise: the denoising autoencoder (Upadhyay & Bagad) is not built yet; use --task completion".into()),
        other => return Err(format!("--task {other}: choose completion (denoise is not built yet)")),
    }
    let backend = args.get("backend", String::from("cpu"))?;
    match backend.as_str() {
        "cpu" => {}
        "gpu" => return Err("--backend gpu: the plastic layer's GPU kernels are not built yet; use --backend cpu".into()),
        other => return Err(format!("--backend {other}: choose cpu (gpu is not built yet)")),
    }
    let out = args.get("out", String::from("results/hebbian-completion"))?;
    let seeds = args.seeds(3)?;
    let mut variants = Vec::new();
    for v in args.list::<String>("plastic", "on,off")? {
        let plastic = match v.as_str() {
            "on" => true,
            "off" => false,
            other => return Err(format!("--plastic: '{other}' is not on or off")),
        };
        if variants.contains(&plastic) {
            return Err(format!("--plastic: '{v}' is given twice"));
        }
        variants.push(plastic);
    }
    let preset = args.get("preset", String::from("small"))?;
    let mut setup = match preset.as_str() {
        "small" => CompletionSetup::small(true),
        // Miconi's episodes; fewer test episodes, since each costs 100 steps of a 1000x1000 layer.
        "miconi" => CompletionSetup { net: HebbianConfig::miconi(true), test_episodes: 32, ..CompletionSetup::small(true) },
        other => return Err(format!("--preset {other}: choose small or miconi")),
    };
    let net = &mut setup.net;
    net.bits = args.get("bits", net.bits)?;
    net.patterns = args.get("patterns", net.patterns)?;
    net.presentations = args.get("presentations", net.presentations)?;
    net.present_steps = args.get("present-steps", net.present_steps)?;
    net.blank_steps = args.get("blank-steps", net.blank_steps)?;
    net.test_steps = args.get("test-steps", net.test_steps)?;
    net.input_gain = args.get("gain", net.input_gain)?;
    let rule = args.get("rule", String::from(net.rule.name()))?;
    net.rule = HebbRule::parse(&rule).ok_or(format!("--rule {rule}: choose simple or oja"))?;
    net.lr = args.get("lr", net.lr)?;
    net.batch = args.get("batch", net.batch)?;
    setup.train_steps = args.get("steps", setup.train_steps)?;
    setup.test_episodes = args.get("test-episodes", setup.test_episodes)?;
    setup.log_every = args.get("log-every", setup.log_every)?;
    args.finish()?;
    setup.validate().map_err(|e| e.to_string())?;

    let cfg = &setup.net;
    println!(
        "hebbian completion: {} bits, {} patterns, {} presentations x {} steps + {} blank, {} test steps ({} steps per episode), {} rule, gain {}, Adam lr {}, {} episodes per batch, {} steps, seeds {:?}",
        cfg.bits,
        cfg.patterns,
        cfg.presentations,
        cfg.present_steps,
        cfg.blank_steps,
        cfg.test_steps,
        cfg.episode_steps(),
        cfg.rule.name(),
        cfg.input_gain,
        cfg.lr,
        cfg.batch,
        setup.train_steps,
        seeds
    );
    let config = json!({
        "task": "completion",
        "bits": cfg.bits, "patterns": cfg.patterns, "presentations": cfg.presentations,
        "present_steps": cfg.present_steps, "blank_steps": cfg.blank_steps, "test_steps": cfg.test_steps,
        "episode_steps": cfg.episode_steps(), "input_gain": cfg.input_gain,
        "rule": cfg.rule.name(), "activation": cfg.activation.name(),
        "layer": "y = sigma((W + alpha * Hebb) x), one trace per episode, zero at its start",
        "optimizer": "Adam (b1 0.9, b2 0.999, eps 1e-8), no weight decay",
        "lr": cfg.lr, "batch_episodes": cfg.batch, "train_steps": setup.train_steps,
        "test_episodes": setup.test_episodes, "loss": "MSE of the last step's output against the full pattern",
        "non_plastic": "the same layer with alpha fixed at 0 and not trained",
        "backend": "cpu",
    });
    let mut summary = Summary::new("hebbian-completion", config);
    let start = Instant::now();
    let mut first: Vec<CompletionRecord> = Vec::new();
    for &seed in &seeds {
        for &plastic in &variants {
            let mut run_setup = setup.clone();
            run_setup.seed = seed;
            run_setup.net.plastic = plastic;
            let (record, params) = run_completion(run_setup).map_err(|e| format!("seed {seed}, {}: {e}", variant_name(plastic)))?;
            println!(
                "  seed {seed} {:<11} test MSE {:.4}  (eta {:.4}, {:.0} s)",
                variant_name(plastic),
                record.test_mse,
                params.eta,
                start.elapsed().as_secs_f64()
            );
            summary.run(
                variant_name(plastic),
                seed,
                json!({
                    "test_mse": record.test_mse,
                    "eta": params.eta,
                    "loss_curve": record.curve.iter().map(|p| json!({"step": p.step, "train_mse": p.train_mse})).collect::<Vec<_>>(),
                }),
            );
            if Some(&seed) == seeds.first() {
                first.push(record);
            }
        }
    }
    summary.elapsed = start.elapsed().as_secs_f64();
    let mse = |plastic: bool| -> Vec<f32> {
        summary
            .runs
            .iter()
            .filter(|r| r["variant"] == variant_name(plastic))
            .filter_map(|r| r["metrics"]["test_mse"].as_f64().map(|v| v as f32))
            .collect()
    };
    println!("\n{:<12} {:>24}", "variant", "test MSE (mean ± sd)");
    for &plastic in &variants {
        let (m, s) = mean_sd(&mse(plastic));
        println!("{:<12} {:>14.4} ± {:<7.4}", variant_name(plastic), m, s);
    }
    if variants.len() == 2 {
        let d = PairedDiff::new(&mse(false), &mse(true));
        println!(
            "plastic - non-plastic, test MSE: {:+.4} (95% CI ± {:.4}, {} seeds){}",
            d.mean,
            d.ci95,
            d.n,
            if d.is_significant() { "" } else { "  not distinguishable from noise" }
        );
    }
    println!("({:.1} s)", summary.elapsed);
    summary.write(&out)?;
    write_svg(&out, "loss-curves.svg", loss_chart(&first, seeds.first().copied().unwrap_or_default()))
}

/// Training loss of each variant for the first seed, on a log axis.
fn loss_chart(records: &[CompletionRecord], seed: u64) -> String {
    let series = records
        .iter()
        .map(|r| {
            let color = if r.plastic { palette::METAPLASTIC } else { palette::STANDARD };
            Series::new(variant_name(r.plastic), color, r.curve.iter().map(|p| (p.step as f32, p.train_mse)).collect())
        })
        .collect();
    line_chart(&LineChart {
        title: format!("Pattern completion: training loss (seed {seed})"),
        x_label: "training batches".into(),
        y_label: "MSE at the last step".into(),
        log_y: true,
        series,
        width: 800.0,
        height: 420.0,
        ..Default::default()
    })
    .to_svg()
}
