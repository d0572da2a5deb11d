//! `metaplastic bench`: training speed of every network, whole training steps after a warm-up, on
//! synthetic in-memory data (the same inputs `bench/torch_bench.py` feeds PyTorch), with the
//! median and the spread over repetitions. `bash bench/compare.sh` runs both and prints the ratios.

use super::args::Args;
use super::open_backend;
use metaplastic::backend::Backend;
use metaplastic::experiments::bench::{NETWORKS, Workload, run_json, time};
use metaplastic::gpu::kernel::dispatch_count;
use serde_json::json;
use std::time::Instant;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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
    let clock = Instant::now();
    let now = move || clock.elapsed().as_secs_f64() * 1000.0;
    for name in networks.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut work = Workload::new(name, &backend).map_err(err)?;
        let before = dispatch_count();
        pollster::block_on(work.step()).map_err(err)?;
        let dispatches = dispatch_count() - before;
        let t = pollster::block_on(time(&mut work, steps, reps, &now)).map_err(err)?;
        let gpu = matches!(backend, Backend::Gpu(_));
        let shown = if gpu { dispatches.to_string() } else { "-".into() };
        println!("{name:<24} {:>6} {:>12.0} {:>12.2} {:>22} {shown:>11}", work.batch, t.examples_per_s, t.ms_per_step, format!("{:.2}..{:.2}", t.min, t.max));
        runs.push(run_json(name, &backend_name, work.batch, threads, &t, gpu.then_some(dispatches as u64)));
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
