//! `metaplastic bench`: training speed of every network, whole training steps after a warm-up, on
//! synthetic in-memory data (the same inputs `bench/torch_bench.py` feeds PyTorch), with the
//! median and the spread over repetitions. `bash bench/compare.sh` runs both and prints the ratios.

use super::{CliError, open_backend};
use metaplastic::backend::Backend;
use metaplastic::experiments::bench::{NETWORKS, Workload, kernel_profile, kernels_json, matmul_json, matmul_line, run_json, step_counts, time};
use metaplastic::gpu::matmul;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Where the networks train: the CPU, or the first GPU adapter wgpu finds (trusted only after
    /// its self-test)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    backend: String,
    /// Threads of the CPU backend's matrix products and optimizer
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Steps per repetition
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    steps: u32,
    /// Repetitions (the median is reported)
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    reps: u32,
    /// Networks, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = NETWORKS.map(String::from), value_parser = NETWORKS)]
    networks: Vec<String>,
    /// On the GPU, also time each kernel of one training step alone (after the step timings),
    /// summed by kernel
    #[arg(long)]
    profile: bool,
    /// Also write the figures as JSON ({"runs": [...]}, as bench/torch_bench.py does)
    #[arg(long)]
    json: Option<String>,
}

pub fn bench(args: BenchArgs) -> Result<(), CliError> {
    let BenchArgs { backend: backend_name, threads, steps, reps, networks, profile, json: json_path } = args;
    let (threads, steps, reps) = (threads as usize, steps as usize, reps as usize);
    metaplastic::cpu::set_threads(threads);
    let backend = open_backend(&backend_name)?;
    println!("backend {}, {threads} threads, {reps} repetitions of {steps} steps after one warm-up step", backend.name());
    let gpu = matches!(backend, Backend::Gpu(_));
    if gpu {
        println!("per training step (recorded and submitted, not waited for): dispatches, submits, readbacks (bytes), buffers and bind groups created");
    }
    println!("{:<24} {:>6} {:>12} {:>12} {:>22} {:>30}", "network", "batch", "ex/s", "ms/step", "ms/step min..max", if gpu { "disp / subm / read (B) / new" } else { "" });
    let mut runs = Vec::new();
    let clock = Instant::now();
    let now = move || clock.elapsed().as_secs_f64() * 1000.0;
    for name in &networks {
        // Natively a dense product's kernel is timed where it is first bound, in the build.
        let serial = matmul::binds();
        let mut work = Workload::new(name, &backend)?;
        // The warm-up step makes what a trainer makes once; the second is the one counted.
        pollster::block_on(work.step())?;
        let counts = pollster::block_on(step_counts(&mut work))?;
        let t = pollster::block_on(time(&mut work, steps, reps, &now))?;
        let shown = if gpu { format!("{} / {} / {} ({}) / {}", counts.dispatches, counts.submits, counts.readbacks, counts.readback_bytes, counts.buffers + counts.bind_groups) } else { String::new() };
        println!("{name:<24} {:>6} {:>12.0} {:>12.2} {:>22} {shown:>30}", work.batch, t.examples_per_s, t.ms_per_step, format!("{:.2}..{:.2}", t.min, t.max));
        let mut run = run_json(name, &backend_name, work.batch, threads, &t, gpu.then_some(counts));
        if let Backend::Gpu(ctx) = &backend {
            let tuned = matmul::tuned_since(ctx, serial);
            for t in &tuned {
                println!("    matrix product {}", matmul_line(t));
            }
            run["matmul"] = matmul_json(&tuned);
            if profile {
                let (kernels, empty) = pollster::block_on(kernel_profile(&mut work, ctx, 2))?;
                let total: f64 = kernels.iter().map(|k| k.ms).sum();
                println!("    each kernel of one step alone (a submit and a wait each; an empty one: {empty:.2} ms), {total:.1} ms in all:");
                for k in &kernels {
                    println!("      {:<36} {:>4} x {:>10.2} ms {:>5.1}%", k.kernel, k.dispatches, k.ms, 100.0 * k.ms / total);
                }
                run["kernels"] = kernels_json(&kernels);
                run["empty_submit_ms"] = empty.into();
            }
        }
        runs.push(run);
    }
    if let Some(path) = json_path {
        let path = std::path::Path::new(&path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(CliError::create(dir))?;
        }
        let text = serde_json::to_string_pretty(&json!({ "runs": runs }))?;
        std::fs::write(path, text).map_err(CliError::write(path))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
