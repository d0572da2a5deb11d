//! Why a command of the tool stopped. Each variant keeps what the message needs (the flag, the
//! path, the seed) beside the library's own error; `main` prints it as its one `error: ...` line.

use metaplastic::data::IdxError;
use metaplastic::docs::DocsError;
use metaplastic::nn::{DeviceError, TrainError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command line that clap refused (a reproduced command: the tool's own are refused by clap
    /// before anything runs).
    #[error("{0}")]
    Args(#[from] clap::Error),
    /// A flag's value outside its choices.
    #[error("--{flag} {value}: choose {choices}")]
    Choice { flag: &'static str, value: String, choices: &'static str },
    /// A flag's value that the command cannot use, with the reason.
    #[error("--{flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    /// A flag of the other task (`hebbian --task`), refused so that a typo of the task is not
    /// silently ignored.
    #[error("--{flag} is not an option of --task {task}")]
    OtherTask { flag: &'static str, task: &'static str },
    /// Flags that do not go together: the reason names them.
    #[error("{0}")]
    Conflict(&'static str),
    /// The configuration a flag changed, refused by the experiment.
    #[error("--{flag}: {source}")]
    FlagConfig { flag: &'static str, source: TrainError },
    #[error("--backend gpu: {0}")]
    Gpu(#[source] DeviceError),
    #[error("{set}: {source}")]
    Data { set: &'static str, source: IdxError },
    /// The run waits for training examples the data set does not have.
    #[error("not enough training data")]
    NotEnoughData,
    #[error("the test split has too few images for an episode")]
    TooFewTestImages,
    /// A configuration the experiment refuses, or a failed step outside a seed's run.
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("seed {seed}: {source}")]
    Seed { seed: u64, source: TrainError },
    #[error("seed {seed}, {variant}: {source}")]
    SeedVariant { seed: u64, variant: &'static str, source: TrainError },
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot copy {}: {source}", path.display())]
    Copy { path: PathBuf, source: std::io::Error },
    #[error("cannot write the benchmark's JSON: {0}")]
    Json(#[from] serde_json::Error),

    // `reproduce`
    #[error("no result called '{0}' (metaplastic reproduce --list)")]
    NoResult(String),
    #[error("name a result (metaplastic reproduce --list), or give --list or --tables")]
    NothingNamed,
    #[error("{name}: no seed-K folder for seeds {seeds:?} yet (run the commands of --print first)")]
    MissingSeeds { name: &'static str, seeds: Vec<u64> },
    #[error("{}: not a summary", .0.display())]
    NotASummary(PathBuf),
    #[error("seed {seed}: its configuration differs from the first seed's ({})", path.display())]
    SeedDiffers { seed: u64, path: PathBuf },
    #[error("{0}: nothing to merge")]
    NothingToMerge(&'static str),
    #[error("{} differ from results/ (metaplastic reproduce --tables rewrites them)", .0.join(" and "))]
    Stale(Vec<&'static str>),
    #[error(transparent)]
    Docs(#[from] DocsError),
}

/// `map_err`s for a file operation on `path`: `.map_err(CliError::write(&path))`.
impl CliError {
    pub fn create(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Create { path: path.to_path_buf(), source }
    }

    pub fn write(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Write { path: path.to_path_buf(), source }
    }

    pub fn read(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Read { path: path.to_path_buf(), source }
    }

    pub fn copy(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Copy { path: path.to_path_buf(), source }
    }
}
