//! The native command-line tool: the app's experiments, headless, for reproduction and benchmarks.

use metaplastic::data::{DataSet, DataSetId, Examples};
use metaplastic::gpu::{self, GpuContext};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
metaplastic: standard and metaplastic learning, side by side (native tool)

USAGE:
    metaplastic <COMMAND> [OPTIONS]

COMMANDS:
    info        Report the compute backends found here (wgpu adapter, CPU) and run the GPU self-test
    data        Load and check the data sets under --data DIR (default: static/data)
    help        Print this message
";

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("info") => info(),
        Some("data") => data(&args[1..]),
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

fn info() -> Result<(), String> {
    println!("CPU: {} threads available", std::thread::available_parallelism().map_or(1, |n| n.get()));
    match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => {
            println!("GPU: {}", ctx.adapter);
            match pollster::block_on(gpu::self_test(&ctx)) {
                Ok(()) => println!("GPU self-test: passed (matmul matches the CPU reference)"),
                Err(e) => println!("GPU self-test: FAILED: {e}"),
            }
        }
        Err(e) => println!("GPU: none ({e}); the CPU path will be used"),
    }
    Ok(())
}

fn data(args: &[String]) -> Result<(), String> {
    let mut root = PathBuf::from("static/data");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--data" => root = it.next().ok_or("--data needs a directory")?.into(),
            other => return Err(format!("unknown option '{other}' for 'data'")),
        }
    }
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
