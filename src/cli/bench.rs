//! `metaplastic bench`: training speed of every network, whole training steps after a warm-up, on
//! synthetic in-memory data (the same inputs `bench/torch_bench.py` feeds PyTorch), with the
//! median and the spread over repetitions. `bash bench/compare.sh` runs both and prints the ratios.

use super::args::Args;
use super::open_backend;
use metaplastic::backend::Backend;
use metaplastic::gpu::kernel::dispatch_count;
use metaplastic::model::bnn::{BnnConfig, BnnParams, BnnTrainer};
use metaplastic::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, HebbianConfig, HebbianParams, HebbianTrainer};
use metaplastic::model::lenet::{Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use serde_json::json;
use std::time::Instant;

/// The networks, by the names the JSON and the PyTorch peer use.
pub const NETWORKS: [&str; 7] = ["bnn-512", "bnn-1024", "lenet-classic-standard", "lenet-classic-amp", "denoise", "completion", "completion-recurrent"];

/// One network ready to train: a step, and how many examples (or episodes) a step takes.
struct Bench {
    batch: usize,
    step: Box<dyn FnMut() -> Result<(), String>>,
}

/// `x[i] = (i % 255) / 255`, `y[i] = i % 10`: the data both sides of the comparison train on.
fn images(batch: usize) -> (Vec<f32>, Vec<u32>) {
    ((0..batch * 784).map(|i| (i % 255) as f32 / 255.0).collect(), (0..batch as u32).map(|i| i % 10).collect())
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn make(name: &str, backend: &Backend) -> Result<Bench, String> {
    Ok(match name {
        "bnn-512" | "bnn-1024" => {
            let hidden = if name == "bnn-512" { 512 } else { 1024 };
            let cfg = BnnConfig::authors_optimizer(hidden, 1.35);
            let mut net = backend.bnn(cfg.clone(), BnnParams::init(cfg.sizes(), 1)).map_err(err)?;
            let (x, y) = images(cfg.batch);
            Bench {
                batch: cfg.batch,
                step: Box::new(move || {
                    net.train_step(&x, &y).map_err(err)?;
                    // Reading the statistics waits for a GPU to finish the step.
                    pollster::block_on(net.take_train_stats()).map(drop).map_err(err)
                }),
            }
        }
        "lenet-classic-standard" | "lenet-classic-amp" => {
            let mut cfg = LenetConfig::paper(Arch::Classic);
            if name.ends_with("amp") {
                cfg = cfg.with_amp(metaplastic::experiments::lenet::DEFAULT_AMP_B, FactorSource::LayerInput);
            }
            let mut net = backend.lenet(cfg.clone(), LenetParams::init(Arch::Classic, 1)).map_err(err)?;
            let (x, y) = images(cfg.batch);
            let mut seed = 0;
            Bench {
                batch: cfg.batch,
                step: Box::new(move || {
                    seed += 1;
                    net.train_step(&x, &y, seed).map_err(err)?;
                    pollster::block_on(net.take_train_stats()).map(drop).map_err(err)
                }),
            }
        }
        "denoise" => {
            // The page trains 8 episodes per batch.
            let cfg = DenoiseConfig { batch: 8, ..DenoiseConfig::mnist(true) };
            let mut net = backend.denoise(cfg.clone(), DenoiseParams::init(&cfg, 1)).map_err(err)?;
            let n = cfg.batch * cfg.pixels();
            let xs: Vec<f32> = (0..cfg.episode_steps() * n).map(|i| (i % 255) as f32 / 255.0).collect();
            let targets = xs[..n].to_vec();
            Bench {
                batch: cfg.batch,
                step: Box::new(move || {
                    net.train_step(&xs, &targets).map_err(err)?;
                    pollster::block_on(net.take_train_loss()).map(drop).map_err(err)
                }),
            }
        }
        "completion" | "completion-recurrent" => {
            // The feed-forward layer as the page trained it until now; the recurrent network in
            // Miconi's small setting (one episode per step).
            let cfg = if name == "completion" { HebbianConfig::small(true) } else { HebbianConfig::recurrent_small(true) };
            let mut net = backend.hebbian(cfg.clone(), HebbianParams::init(&cfg, 1)).map_err(err)?;
            let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
            let episodes = metaplastic::experiments::completion::completion_batch(&cfg, cfg.batch, &mut rng);
            Bench {
                batch: cfg.batch,
                step: Box::new(move || {
                    net.train_step(&episodes.xs, &episodes.targets).map_err(err)?;
                    pollster::block_on(net.take_train_loss()).map(drop).map_err(err)
                }),
            }
        }
        other => return Err(format!("--networks: unknown network '{other}' (choose from {})", NETWORKS.join(", "))),
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

pub fn bench(raw: &[String]) -> Result<(), String> {
    let args = Args::parse(raw, &[])?;
    let backend_name: String = args.get("backend", String::from("cpu"))?;
    let threads: usize = args.get("threads", 2)?;
    let steps: usize = args.get("steps", 10)?;
    let reps: usize = args.get("reps", 5)?;
    let networks: String = args.get("networks", NETWORKS.join(","))?;
    let json_path: Option<String> = args.opt("json")?;
    args.finish()?;
    if !(1..=64).contains(&threads) {
        return Err(format!("--threads {threads}: choose 1 to 64"));
    }
    if !(1..=10_000).contains(&steps) || !(1..=1000).contains(&reps) {
        return Err(format!("--steps {steps} --reps {reps}: choose 1 to 10000 steps and 1 to 1000 repetitions"));
    }
    metaplastic::cpu::set_threads(threads);
    let backend = open_backend(&backend_name)?;
    println!("backend {}, {threads} threads, {reps} repetitions of {steps} steps after one warm-up step", backend.name());
    println!("{:<24} {:>6} {:>12} {:>12} {:>22} {:>11}", "network", "batch", "ex/s", "ms/step", "ms/step min..max", "dispatches");
    let mut runs = Vec::new();
    for name in networks.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut b = make(name, &backend)?;
        let before = dispatch_count();
        (b.step)()?;
        let dispatches = dispatch_count() - before;
        let mut times: Vec<f64> = Vec::with_capacity(reps);
        for _ in 0..reps {
            let start = Instant::now();
            for _ in 0..steps {
                (b.step)()?;
            }
            times.push(start.elapsed().as_secs_f64() * 1000.0 / steps as f64);
        }
        let (lo, hi) = (times.iter().copied().fold(f64::INFINITY, f64::min), times.iter().copied().fold(0.0, f64::max));
        let ms = median(&mut times);
        let per_s = b.batch as f64 * 1000.0 / ms;
        let shown = if matches!(backend, Backend::Gpu(_)) { dispatches.to_string() } else { "-".into() };
        println!("{name:<24} {:>6} {per_s:>12.0} {ms:>12.2} {:>22} {shown:>11}", b.batch, format!("{lo:.2}..{hi:.2}"));
        runs.push(json!({
            "network": name,
            "backend": backend_name,
            "batch": b.batch,
            "threads": threads,
            "examples_per_s": per_s,
            "ms_per_step": ms,
            "ms_per_step_min": lo,
            "ms_per_step_max": hi,
            "dispatches_per_step": if matches!(backend, Backend::Gpu(_)) { json!(dispatches) } else { json!(null) },
        }));
    }
    if let Some(path) = json_path {
        let path = std::path::Path::new(&path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&json!({ "runs": runs })).map_err(err)?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
