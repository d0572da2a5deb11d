//! The native command-line tool: the app's experiments, headless, for reproduction and benchmarks.
//! Every experiment writes `summary.json` and `metrics.csv` in one shape
//! (`metaplastic::experiments::summary`, the same files the page offers as downloads), plus SVG
//! charts drawn by the same code as the app's.

mod args;
mod bench;
mod bnn;
mod charts;
mod error;
mod hebbian;
mod lenet;
mod provenance;
mod reproduce;

pub use error::CliError;
use metaplastic::backend::Backend;
use metaplastic::data::{DataSet, DataSetId, Examples};
use metaplastic::gpu::GpuContext;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

/// metaplastic: standard and metaplastic learning, side by side (the native tool).
///
/// Each experiment writes DIR/summary.json, DIR/metrics.csv and SVG charts into --out DIR: the
/// same files the page offers as downloads.
#[derive(Debug, Parser)]
#[command(name = "metaplastic", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The compute backends found here (wgpu adapter, CPU), with the GPU self-test
    Info,
    /// Load and check the data sets
    Data {
        /// The data sets' directory
        #[arg(long, default_value = "static/data")]
        data: PathBuf,
    },
    /// Continual learning on permuted MNIST, binarized network, standard vs metaplastic (and EWC)
    BnnPermuted(bnn::PermutedArgs),
    /// Stream learning: class-balanced subsets in sequence against the whole set at once
    BnnStream(bnn::StreamArgs),
    /// The 2-D quadratic toy problem: hidden-weight trajectories for several m
    BnnToy(bnn::ToyArgs),
    /// LeNet-5, standard vs artificial metaplasticity (AMP) in the convolutional layers
    Lenet(lenet::LenetArgs),
    /// Differentiable Hebbian plasticity (Miconi et al. 2018), plastic vs non-plastic: pattern
    /// completion or denoising
    Hebbian(hebbian::HebbianArgs),
    /// Make a quoted result again by name (--list), print its seeds as separate commands (--print),
    /// merge them (--merge), or rebuild the docs' tables and the page's figures (--tables)
    Reproduce(reproduce::ReproduceArgs),
    /// Training speed of every network: median and spread over repetitions of whole training steps
    /// after a warm-up step (denoise and completion count episodes as examples)
    Bench(bench::BenchArgs),
}

pub fn main() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    COMMAND.with(|c| *c.borrow_mut() = typed("metaplastic", &words));
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Info => info(),
        Command::Data { data: dir } => data(&dir),
        Command::BnnPermuted(a) => bnn::permuted(a),
        Command::BnnStream(a) => bnn::stream(a),
        Command::BnnToy(a) => bnn::toy(a),
        Command::Bench(a) => bench::bench(a),
        Command::Lenet(a) => lenet::lenet(a),
        Command::Hebbian(a) => hebbian::hebbian(a),
        Command::Reproduce(a) => reproduce::reproduce(a),
    }
}

/// Runs the tool's command `words` (what follows `metaplastic`), recording `command` as what
/// made the files it writes.
fn run_words(words: &[String], command: &str) -> Result<(), CliError> {
    let cli = Cli::try_parse_from(std::iter::once("metaplastic").chain(words.iter().map(String::as_str)))?;
    let before = COMMAND.with(|c| c.replace(command.to_string()));
    let result = run(cli.command);
    COMMAND.with(|c| *c.borrow_mut() = before);
    result
}

thread_local! {
    /// The command line being run, as summary.json's provenance records it.
    static COMMAND: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A command line as it can be typed again (words with spaces quoted).
fn typed(program: &str, words: &[String]) -> String {
    std::iter::once(program.to_string())
        .chain(words.iter().map(|w| if w.is_empty() || w.contains(char::is_whitespace) { format!("'{w}'") } else { w.clone() }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cpu`, or `gpu`: the first wgpu adapter, trusted only after its self-test.
pub fn open_backend(name: &str) -> Result<Backend, CliError> {
    match name {
        "cpu" => Ok(Backend::Cpu),
        "gpu" => {
            let ctx = pollster::block_on(GpuContext::request()).map_err(CliError::Gpu)?;
            pollster::block_on(metaplastic::backend::gpu_self_test(&ctx)).map_err(CliError::Gpu)?;
            Ok(Backend::Gpu(Rc::new(ctx)))
        }
        other => Err(CliError::Choice { flag: "backend", value: other.into(), choices: "cpu or gpu" }),
    }
}

/// A data set from its directory; an error names the set.
pub fn load_data(root: &Path, id: DataSetId) -> Result<DataSet, CliError> {
    DataSet::load(root, id).map_err(|source| CliError::Data { set: id.title(), source })
}

/// An accuracy as a percentage with one decimal.
pub fn pct(x: f32) -> String {
    if x.is_finite() { format!("{:.1}%", 100.0 * x) } else { "-".into() }
}

pub use metaplastic::experiments::summary::Summary;

/// Writes `summary.json` and `metrics.csv` into a directory (the page offers the same two files
/// as downloads).
pub trait WriteSummary {
    /// With what made it: this command, the commit, the day and the machine.
    fn write(&self, dir: &str) -> Result<(), CliError>;
    /// As it is (a merge keeps its seeds' provenance).
    fn write_as_made(&self, dir: &str) -> Result<(), CliError>;
}

impl WriteSummary for Summary {
    fn write(&self, dir: &str) -> Result<(), CliError> {
        let mut s = self.clone();
        s.provenance = Some(provenance::now(&COMMAND.with(|c| c.borrow().clone())));
        s.write_as_made(dir)
    }

    fn write_as_made(&self, dir: &str) -> Result<(), CliError> {
        std::fs::create_dir_all(dir).map_err(CliError::create(Path::new(dir)))?;
        let path = Path::new(dir).join("summary.json");
        std::fs::write(&path, self.to_pretty_string()).map_err(CliError::write(&path))?;
        println!("wrote {}", path.display());
        let csv = Path::new(dir).join("metrics.csv");
        std::fs::write(&csv, metaplastic::experiments::summary::metrics_csv(self)).map_err(CliError::write(&csv))?;
        println!("wrote {}", csv.display());
        Ok(())
    }
}

/// Writes an SVG chart into `dir`, saying where.
pub fn write_svg(dir: &str, name: &str, svg: String) -> Result<(), CliError> {
    let path = Path::new(dir).join(name);
    std::fs::write(&path, svg).map_err(CliError::write(&path))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn info() -> Result<(), CliError> {
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

fn data(root: &Path) -> Result<(), CliError> {
    for id in DataSetId::ALL {
        let start = std::time::Instant::now();
        let set = load_data(root, id)?;
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

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};
    use metaplastic::experiments::reproduce::RESULTS;
    use metaplastic::settings::{self, Kind, Setting, fmt_float};

    pub(super) fn parse(words: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("metaplastic").chain(words.iter().copied()))
    }

    /// A range that refused one of the quoted results' commands would stop `metaplastic reproduce`.
    #[test]
    fn every_listed_result_and_each_of_its_seeds_parses() {
        for r in RESULTS {
            let words = r.words();
            parse(&words.iter().map(String::as_str).collect::<Vec<_>>()).unwrap_or_else(|e| panic!("{}: {e}", r.command()));
            for (_, command) in r.per_seed() {
                let words: Vec<&str> = command.split_whitespace().skip(1).collect();
                parse(&words).unwrap_or_else(|e| panic!("{command}: {e}"));
            }
        }
    }

    /// Defaults go through the flags' parsers too: the tool's own budgets must be allowed.
    #[test]
    fn every_command_parses_at_its_defaults() {
        let commands: [&[&str]; 9] =
            [&["info"], &["data"], &["bnn-permuted"], &["bnn-stream"], &["bnn-toy"], &["lenet"], &["hebbian"], &["hebbian", "--task", "denoise"], &["bench"]];
        for words in commands {
            parse(words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        }
    }

    #[test]
    fn every_flag_has_a_help_line() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version")) {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                assert!(!help.trim().is_empty(), "{} --{}: no help", sub.get_name(), arg.get_id());
            }
        }
    }

    /// How a flag that is a page setting takes its help.
    enum Help {
        /// The setting's, word for word.
        Same,
        /// Its own: the flag means a little more than the page's setting (its comment says why).
        Own,
    }

    /// Every flag declared by a page setting: (command, flag, setting, help, whether it takes a value).
    fn declared() -> Vec<(&'static str, &'static str, &'static Setting, Help, bool)> {
        use Help::{Own, Same};
        use settings::{bnn, hebbian, lenet};
        vec![
            ("bnn-permuted", "meta", &bnn::META, Own, true),
            ("bnn-permuted", "hidden", &bnn::HIDDEN, Same, true),
            ("bnn-permuted", "lr", &bnn::LR, Same, true),
            ("bnn-permuted", "tasks", &bnn::TASKS, Same, true),
            ("bnn-permuted", "steps-per-task", &bnn::STEPS, Own, true),
            ("bnn-permuted", "bn-per-task", &bnn::BN_PER_TASK, Same, true),
            ("bnn-permuted", "ewc", &bnn::EWC, Same, false),
            ("bnn-permuted", "ewc-lambda", &bnn::EWC_LAMBDA, Same, true),
            ("bnn-stream", "meta", &bnn::META, Own, true),
            ("bnn-stream", "hidden", &bnn::HIDDEN, Same, true),
            ("bnn-stream", "lr", &bnn::LR, Same, true),
            ("bnn-stream", "subsets", &bnn::SUBSETS, Same, true),
            ("bnn-stream", "epochs", &bnn::EPOCHS, Same, true),
            ("bnn-toy", "meta", &bnn::TOY_META, Own, true),
            ("lenet", "dataset", &lenet::DATASET, Same, true),
            ("lenet", "arch", &lenet::ARCH, Same, true),
            ("lenet", "pool", &lenet::POOL, Same, true),
            ("lenet", "amp-energy", &lenet::ENERGY, Same, true),
            ("lenet", "epochs", &lenet::EPOCHS, Same, true),
            ("lenet", "lr", &lenet::LR, Same, true),
            ("lenet", "amp-b", &lenet::B, Same, true),
            ("lenet", "amp-source", &lenet::SOURCE, Same, true),
            ("lenet", "steps-per-epoch", &lenet::STEPS, Own, true),
            ("lenet", "test-examples", &lenet::TEST, Same, true),
            ("hebbian", "task", &hebbian::TASK, Same, true),
            ("hebbian", "rule", &hebbian::RULE, Same, true),
            ("hebbian", "steps", &hebbian::STEPS, Same, true),
            ("hebbian", "test-episodes", &hebbian::TEST, Same, true),
            ("hebbian", "dataset", &hebbian::DATASET, Same, true),
        ]
    }

    /// A value the setting does not allow, and the allowed values as the refusal words them.
    fn outside(setting: &Setting) -> (String, String) {
        match setting.kind {
            Kind::Int { max, .. } => ((max + 1).to_string(), setting.allowed()),
            Kind::Float { max, .. } => (fmt_float(max * 10.0 + 1.0), setting.allowed()),
            Kind::FloatList { min, max, .. } => (fmt_float(max + 1.0), format!("a number from {} to {}", fmt_float(min), fmt_float(max))),
            Kind::Choice(_) => ("nonesuch".into(), setting.allowed()),
            Kind::Bool => ("maybe".into(), setting.allowed()),
        }
    }

    #[test]
    fn a_flag_that_is_a_page_setting_takes_its_help_and_its_range() {
        let cli = Cli::command();
        for (command, flag, setting, help, takes_value) in declared() {
            let sub = cli.find_subcommand(command).unwrap_or_else(|| panic!("no command {command}"));
            let arg = sub.get_arguments().find(|a| a.get_long() == Some(flag)).unwrap_or_else(|| panic!("{command} has no --{flag}"));
            let shown = arg.get_help().map(ToString::to_string).unwrap_or_default();
            match help {
                Help::Same => assert_eq!(shown, setting.help, "{command} --{flag}"),
                Help::Own => assert!(!shown.is_empty() && shown != setting.help, "{command} --{flag}: its own help"),
            }
            if !takes_value {
                continue;
            }
            let (bad, allowed) = outside(setting);
            let refused = parse(&[command, &format!("--{flag}"), &bad]).err().unwrap_or_else(|| panic!("{command} --{flag} {bad} is refused")).to_string();
            assert!(refused.contains(&format!("'{bad}'")) && refused.contains(&allowed), "{command} --{flag} {bad}: {refused}");
        }
    }
}
