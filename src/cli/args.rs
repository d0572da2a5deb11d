//! What the experiment commands share on their command line (parsed by clap, whose help is
//! generated from these declarations): the seeds, the backend and the data directory.

use metaplastic::experiments::reproduce::Seeds;
use std::path::PathBuf;

/// The options every experiment takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Seeds: a count (3 means 1, 2, 3) or a list (4,8)
    #[arg(long, default_value = "3")]
    seeds: Seeds,
    /// Only this seed (what `metaplastic reproduce NAME --print` gives each run of a sweep)
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Where the networks train: the CPU, or the first GPU adapter wgpu finds (trusted only after
    /// its self-test)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    pub backend: String,
    /// The data sets' directory (scripts/fetch-data.sh fills it)
    #[arg(long, default_value = "static/data")]
    pub data: PathBuf,
}

impl Common {
    /// The seeds to run, in order.
    pub fn seeds(&self) -> Vec<u64> {
        match self.seed {
            Some(k) => vec![k],
            None => self.seeds.0.clone(),
        }
    }
}
