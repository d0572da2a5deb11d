//! The speed benchmark's workloads, shared by `metaplastic bench` (natively, any backend) and the
//! page's bench view (`?view=bench`: the wasm build on the CPU, in a worker): whole training steps
//! of every network on synthetic in-memory data, the same inputs `bench/torch_bench.py` feeds
//! PyTorch, timed over repetitions after a warm-up step.

use crate::backend::{Backend, Bnn, Denoise, Hebbian, Lenet};
use crate::model::bnn::{BnnConfig, BnnParams, BnnTrainer};
use crate::model::hebbian::{DenoiseConfig, DenoiseParams, DenoiseTrainer, HebbianConfig, HebbianParams, HebbianTrainer};
use crate::model::lenet::{Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use crate::nn::TrainError;
use serde_json::{Value, json};

/// The networks, by the names the JSON, the page and the PyTorch peer use.
pub const NETWORKS: [&str; 7] = ["bnn-512", "bnn-1024", "lenet-classic-standard", "lenet-classic-amp", "denoise", "completion", "completion-recurrent"];

/// `x[i] = (i % 255) / 255`, `y[i] = i % 10`: the data both sides of the comparison train on.
fn images(batch: usize) -> (Vec<f32>, Vec<u32>) {
    ((0..batch * 784).map(|i| (i % 255) as f32 / 255.0).collect(), (0..batch as u32).map(|i| i % 10).collect())
}

enum Net {
    Bnn(Bnn, Vec<f32>, Vec<u32>),
    Lenet(Lenet, Vec<f32>, Vec<u32>, u32),
    Denoise(Denoise, Vec<f32>, Vec<f32>),
    Hebbian(Hebbian, Vec<f32>, Vec<f32>),
}

/// A network to time, as a demo or the benchmark list names it: its configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Network {
    Bnn(BnnConfig),
    Lenet(LenetConfig),
    Denoise(DenoiseConfig),
    Completion(HebbianConfig),
}

impl Network {
    /// The benchmark network `name` (one of [`NETWORKS`]).
    pub fn named(name: &str) -> Result<Self, TrainError> {
        Ok(match name {
            "bnn-512" => Network::Bnn(BnnConfig::authors_optimizer(512, 1.35)),
            "bnn-1024" => Network::Bnn(BnnConfig::authors_optimizer(1024, 1.35)),
            "lenet-classic-standard" => Network::Lenet(LenetConfig::authors_sgd(Arch::Classic)),
            "lenet-classic-amp" => Network::Lenet(LenetConfig::authors_sgd(Arch::Classic).with_amp(super::lenet::DEFAULT_AMP_B, FactorSource::LayerInput)),
            // The page trains 8 episodes per batch.
            "denoise" => Network::Denoise(DenoiseConfig { batch: 8, ..DenoiseConfig::mnist(true) }),
            // The feed-forward layer, and the recurrent network in Miconi's small setting (one
            // episode per step).
            "completion" => Network::Completion(HebbianConfig::small(true)),
            "completion-recurrent" => Network::Completion(HebbianConfig::recurrent_small(true)),
            other => return Err(TrainError::Config(format!("no benchmark network '{other}' (choose from {})", NETWORKS.join(", ")))),
        })
    }

    /// A short description that tells two networks of a demo apart (the probe's cache key).
    pub fn key(&self) -> String {
        format!("{self:?}")
    }
}

/// One network ready to train on its batch, over and over.
pub struct Workload {
    /// Examples (or episodes, for the Hebbian networks) per step.
    pub batch: usize,
    net: Net,
}

impl Workload {
    /// The network `name` (one of [`NETWORKS`]) on `backend`, built from seed 1.
    pub fn new(name: &str, backend: &Backend) -> Result<Self, TrainError> {
        Self::build(&Network::named(name)?, backend)
    }

    /// `network` on `backend`, built from seed 1, training on synthetic data of its shape.
    pub fn build(network: &Network, backend: &Backend) -> Result<Self, TrainError> {
        Ok(match network {
            Network::Bnn(cfg) => {
                let net = backend.bnn(cfg.clone(), BnnParams::init(cfg.sizes(), 1))?;
                let (x, y) = images(cfg.batch);
                Self { batch: cfg.batch, net: Net::Bnn(net, x, y) }
            }
            Network::Lenet(cfg) => {
                let net = backend.lenet(cfg.clone(), LenetParams::init(cfg.arch, 1))?;
                let (x, y) = images(cfg.batch);
                Self { batch: cfg.batch, net: Net::Lenet(net, x, y, 0) }
            }
            Network::Denoise(cfg) => {
                let net = backend.denoise(cfg.clone(), DenoiseParams::init(cfg, 1))?;
                let n = cfg.batch * cfg.pixels();
                let xs: Vec<f32> = (0..cfg.episode_steps() * n).map(|i| (i % 255) as f32 / 255.0).collect();
                let targets = xs[..n].to_vec();
                Self { batch: cfg.batch, net: Net::Denoise(net, xs, targets) }
            }
            Network::Completion(cfg) => {
                let net = backend.hebbian(cfg.clone(), HebbianParams::init(cfg, 1))?;
                let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
                let episodes = super::completion::completion_batch(cfg, cfg.batch, &mut rng);
                Self { batch: cfg.batch, net: Net::Hebbian(net, episodes.xs, episodes.targets) }
            }
        })
    }

    /// One whole training step, waited for: reading its statistics waits for a GPU to finish.
    pub async fn step(&mut self) -> Result<(), TrainError> {
        self.train()?;
        self.finish().await
    }

    /// One training step, recorded and submitted but not waited for.
    pub fn train(&mut self) -> Result<(), TrainError> {
        match &mut self.net {
            Net::Bnn(net, x, y) => net.train_step(x, y),
            Net::Lenet(net, x, y, seed) => {
                *seed += 1;
                net.train_step(x, y, *seed)
            }
            Net::Denoise(net, xs, targets) => net.train_step(xs, targets),
            Net::Hebbian(net, xs, targets) => net.train_step(xs, targets),
        }
    }

    /// Reads the training statistics of the steps so far, which waits for them.
    pub async fn finish(&mut self) -> Result<(), TrainError> {
        match &mut self.net {
            Net::Bnn(net, ..) => net.take_train_stats().await.map(drop),
            Net::Lenet(net, ..) => net.take_train_stats().await.map(drop),
            Net::Denoise(net, ..) => net.take_train_loss().await.map(drop),
            Net::Hebbian(net, ..) => net.take_train_loss().await.map(drop),
        }
    }
}

/// What one training step asks of the GPU (the counts of [`crate::gpu::counts`]): the step is
/// recorded and submitted, then waited for outside the count.
pub async fn step_counts(work: &mut Workload) -> Result<crate::gpu::GpuCounts, TrainError> {
    let before = crate::gpu::counts();
    work.train()?;
    let counts = crate::gpu::counts().since(before);
    work.finish().await?;
    Ok(counts)
}

/// Examples per second of `work` over about `millis` of whole steps after a warm-up step (at least
/// one step is timed, however long): what "auto" compares between the CPU and the GPU.
pub async fn probe(work: &mut Workload, millis: f64, now: &dyn Fn() -> f64) -> Result<f64, TrainError> {
    work.step().await?;
    let start = now();
    let mut steps = 0usize;
    while steps == 0 || now() - start < millis {
        work.step().await?;
        steps += 1;
    }
    Ok((steps * work.batch) as f64 * 1000.0 / (now() - start).max(1e-3))
}

/// Milliseconds per step: the median over repetitions, and the fastest and slowest repetition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub ms_per_step: f64,
    pub min: f64,
    pub max: f64,
    pub examples_per_s: f64,
}

/// Times `reps` repetitions of `steps` steps (no warm-up: the caller takes one first), reading the
/// clock `now` in milliseconds.
pub async fn time(work: &mut Workload, steps: usize, reps: usize, now: &dyn Fn() -> f64) -> Result<Timing, TrainError> {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = now();
        for _ in 0..steps.max(1) {
            work.step().await?;
        }
        times.push((now() - start) / steps.max(1) as f64);
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let ms = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2.0 };
    Ok(Timing { ms_per_step: ms, min: times[0], max: times[n - 1], examples_per_s: work.batch as f64 * 1000.0 / ms })
}

/// A dense product as the GPU tuner measured it (`gpu::matmul::tune`): its shape, the kernel
/// that runs it and those it beat, each with its milliseconds per dispatch.
pub fn matmul_line(t: &crate::gpu::matmul::Tuned) -> String {
    let s = t.shape;
    let layout = match (s.has(crate::nn::MatmulShape::TRANS_A), s.has(crate::nn::MatmulShape::TRANS_B)) {
        (true, _) => ", A transposed",
        (_, true) => ", B transposed",
        _ => "",
    };
    let others: Vec<String> = t.others.iter().filter_map(|(kernel, ms)| ms.map(|ms| format!("{kernel} {ms:.2} ms"))).collect();
    match t.ms {
        Some(picked) => format!("{} x {} x {}{layout}: {} {picked:.2} ms (beside {})", s.m, s.k, s.n, t.kernel, others.join(", ")),
        None => format!("{} x {} x {}{layout}: {} (not timed)", s.m, s.k, s.n, t.kernel),
    }
}

/// The tuner's choices as the bench's JSON holds them (`"matmul"` of a GPU run).
pub fn matmul_json(tuned: &[crate::gpu::matmul::Tuned]) -> Value {
    tuned
        .iter()
        .map(|t| {
            json!({
                "m": t.shape.m, "k": t.shape.k, "n": t.shape.n, "flags": t.shape.flags,
                "kernel": t.kernel, "ms": t.ms,
                "others": t.others.iter().map(|(kernel, ms)| json!({ "kernel": kernel, "ms": ms })).collect::<Vec<_>>(),
                "line": matmul_line(t),
            })
        })
        .collect()
}

/// Each kernel of one training step of `work` timed alone on its GPU (`gpu::kernel::profile`,
/// `rounds` rounds after a warm-up), summed by kernel, with an empty submit's milliseconds. Run
/// after the step timings: the calls run again on the network's own buffers.
pub async fn kernel_profile(work: &mut Workload, ctx: &crate::gpu::GpuContext, rounds: usize) -> Result<(Vec<crate::gpu::kernel::KernelTime>, f64), TrainError> {
    let (trained, calls) = crate::gpu::kernel::capture(|| work.train());
    trained?;
    work.finish().await?;
    Ok(crate::gpu::kernel::profile(ctx, &calls, rounds).await?)
}

/// A profile as the bench's JSON holds it (`"kernels"` of a GPU run), each with a line to show.
pub fn kernels_json(kernels: &[crate::gpu::kernel::KernelTime]) -> Value {
    kernels
        .iter()
        .map(|k| json!({ "kernel": k.kernel, "dispatches": k.dispatches, "ms": k.ms, "line": format!("{} x{} {:.2} ms", k.kernel, k.dispatches, k.ms) }))
        .collect()
}

/// One row of the benchmark's JSON (`{"runs": [...]}`), as the tool, the page and
/// `bench/torch_bench.py` write it; `gpu` is what a GPU training step asks of the GPU.
pub fn run_json(network: &str, backend: &str, batch: usize, threads: usize, t: &Timing, gpu: Option<crate::gpu::GpuCounts>) -> Value {
    json!({
        "network": network,
        "backend": backend,
        "batch": batch,
        "threads": threads,
        "examples_per_s": t.examples_per_s,
        "ms_per_step": t.ms_per_step,
        "ms_per_step_min": t.min,
        "ms_per_step_max": t.max,
        "dispatches_per_step": gpu.map(|c| c.dispatches),
        "submits_per_step": gpu.map(|c| c.submits),
        "readbacks_per_step": gpu.map(|c| c.readbacks),
        "readback_bytes_per_step": gpu.map(|c| c.readback_bytes),
        "buffers_per_step": gpu.map(|c| c.buffers + c.bind_groups),
    })
}
