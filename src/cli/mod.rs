//! The native command-line tool: the app's experiments, headless, for reproduction and benchmarks.
//! Every experiment writes `summary.json` and `metrics.csv` in one shape
//! (`metaplastic::experiments::summary`, the same files the page offers as downloads), plus SVG
//! charts drawn by the same code as the app's.

mod args;
mod bench;
mod bnn;
mod charts;
mod hebbian;
mod lenet;

use metaplastic::backend::Backend;
use metaplastic::data::{DataSet, DataSetId, Examples};
use metaplastic::gpu::GpuContext;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

const USAGE: &str = "\
metaplastic: standard and metaplastic learning, side by side (native tool)

USAGE:
    metaplastic <COMMAND> [--flag value ...]

COMMANDS:
    info          The compute backends found here (wgpu adapter, CPU), with the GPU self-test
    data          Load and check the data sets (--data DIR, default static/data)
    bnn-permuted  Continual learning on permuted MNIST, binarized network, standard vs metaplastic
                    --meta 0,1.35  --seeds 3 (a count, or a list 1,2,3)  --backend cpu|gpu
                    --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 [--steps-per-task N]
                    --train-examples 60000 --test-examples 10000 --eval-every 200
                    --bn-per-task true|false  [--ewc --ewc-lambda 5000 --ewc-examples 5000]
                    --out results/bnn-permuted  --data static/data
    bnn-stream    Stream learning: N class-balanced subsets in sequence vs the whole set
                    --dataset fashion|mnist --meta 0,2.5 --subsets 60 --epochs 20 --hidden 1024
                    --full-data true|false --seeds 3 --backend cpu|gpu --out results/bnn-stream
                    --bn-affine false --bn-stats running   (the authors' stream BatchNorm; the
                    continual-learning one, as before: --bn-affine true --bn-stats batch)
    bnn-toy       The 2-D quadratic toy problem: hidden-weight trajectories (--meta 0,0.5,1.35)
    lenet         LeNet-5, standard vs artificial metaplasticity (AMP) in the convolutional layers
                    --dataset mnist|fashion --arch classic|authors --rule standard,amp --epochs 5
                    --seeds 3 --backend cpu|gpu --amp-b 1 --amp-source layer|input --amp-clamp 0.1,10
                    --lr 0.01 --momentum 0.9 --batch 32 [--steps-per-epoch N] --train-examples 60000
                    --test-examples 10000 --eval-every 200  --out results/lenet-<dataset>-<arch>
    hebbian       Differentiable Hebbian plasticity (Miconi et al. 2018), plastic vs non-plastic
                    --task completion|denoise --variant plastic,non-plastic --seeds 3 --backend cpu|gpu
                    completion: --network recurrent|feedforward --preset small|miconi --bits
                      --patterns --presentations --present-steps --blank-steps --test-steps --gain 20
                      --rule simple|oja --lr 0.0003 --batch --steps --test-episodes --log-every
                      --out results/hebbian-completion[-feedforward]
                      recurrent (default; Miconi's network, neurons = bits + a bias neuron):
                        --preset small: 50 bits, 51 neurons, 2 patterns x 3 steps + 1 blank, 6 test
                        steps, batch 1, 8000 steps, 1000 test episodes; --non-plastic-hidden N runs
                        the non-plastic network with N neurons (more than bits) instead
                        --preset miconi: 1000 bits, 5 patterns, 2 x (6 steps + 4 blank), 6 test
                      feedforward (one plastic layer): --preset small: 50 bits, 3 patterns,
                        2 x (3 steps + 2 blank), 3 test, batch 8, 1000 steps
                    denoise (Upadhyay & Bagad's autoencoder): --dataset mnist|fashion
                      --channels 8,8,4 --pool average|max --images 3 --show-steps 2 --zero-steps 1
                      --noise 0.5 --rule simple|oja --lr 0.001 --batch 8 --steps 250
                      --test-episodes 256 --log-every 10 --data static/data
                      --out results/hebbian-denoise-<dataset>
    bench         Training speed of every network, median over repetitions of whole training steps:
                    --backend cpu|gpu --threads 2 --steps 10 --reps 5 --json FILE
                    --networks bnn-512,bnn-1024,lenet-classic-standard,lenet-classic-amp,denoise,completion,
                      completion-recurrent
                    (denoise and completion count episodes as examples)
    help          This message

Each experiment writes DIR/summary.json and SVG charts into --out DIR.
";

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    let result = match args.first().map(String::as_str) {
        Some("info") => info(),
        Some("data") => data(rest),
        Some("bnn-permuted") => bnn::permuted(rest),
        Some("bnn-stream") => bnn::stream(rest),
        Some("bnn-toy") => bnn::toy(rest),
        Some("bench") => bench::bench(rest),
        Some("lenet") => lenet::lenet(rest),
        Some("hebbian") => hebbian::hebbian(rest),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cpu`, or `gpu`: the first wgpu adapter, trusted only after its self-test.
pub fn open_backend(name: &str) -> Result<Backend, String> {
    match name {
        "cpu" => Ok(Backend::Cpu),
        "gpu" => {
            let ctx = pollster::block_on(GpuContext::request()).map_err(|e| format!("--backend gpu: {e}"))?;
            pollster::block_on(metaplastic::backend::gpu_self_test(&ctx)).map_err(|e| format!("--backend gpu: {e}"))?;
            Ok(Backend::Gpu(Rc::new(ctx)))
        }
        other => Err(format!("--backend {other}: choose cpu or gpu")),
    }
}

/// An accuracy as a percentage with one decimal.
pub fn pct(x: f32) -> String {
    if x.is_finite() { format!("{:.1}%", 100.0 * x) } else { "-".into() }
}

pub use metaplastic::experiments::summary::Summary;

/// Writes `summary.json` and `metrics.csv` into a directory (the page offers the same two files
/// as downloads).
pub trait WriteSummary {
    fn write(&self, dir: &str) -> Result<(), String>;
}

impl WriteSummary for Summary {
    fn write(&self, dir: &str) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        let path = Path::new(dir).join("summary.json");
        std::fs::write(&path, self.to_pretty_string()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
        let csv = Path::new(dir).join("metrics.csv");
        std::fs::write(&csv, metaplastic::experiments::summary::metrics_csv(self)).map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
        println!("wrote {}", csv.display());
        Ok(())
    }
}

/// Writes an SVG chart into `dir`, saying where.
pub fn write_svg(dir: &str, name: &str, svg: String) -> Result<(), String> {
    let path = Path::new(dir).join(name);
    std::fs::write(&path, svg).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn info() -> Result<(), String> {
    println!("CPU: {} threads available", std::thread::available_parallelism().map_or(1, |n| n.get()));
    match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => {
            println!("GPU: {}", ctx.adapter);
            match pollster::block_on(metaplastic::backend::gpu_self_test(&ctx)) {
                Ok(()) => println!("GPU self-test: passed (matmul matches the CPU reference)"),
                Err(e) => println!("GPU self-test: FAILED: {e}"),
            }
        }
        Err(e) => println!("GPU: none ({e}); the CPU path will be used"),
    }
    Ok(())
}

fn data(raw: &[String]) -> Result<(), String> {
    let parsed = args::Args::parse(raw, &[])?;
    let root = PathBuf::from(parsed.get("data", String::from("static/data"))?);
    parsed.finish()?;
    for id in DataSetId::ALL {
        let start = std::time::Instant::now();
        let set = DataSet::load(&root, id).map_err(|e| format!("{}: {e}", id.title()))?;
        let mut counts = [0usize; 10];
        for &l in set.train.labels() {
            counts[l as usize] += 1;
        }
        println!(
            "{}: {} train, {} test examples, decoded in {:.2} s; train class counts {:?}",
            id.title(),
            set.train.len(),
            set.test.len(),
            start.elapsed().as_secs_f64(),
            counts
        );
    }
    Ok(())
}
