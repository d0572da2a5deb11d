//! What the experiment commands share on their command line (parsed by clap, whose help is
//! generated from these declarations): the seeds, the backend and the data directory.

use std::path::PathBuf;
use std::str::FromStr;

/// `--seeds 3` means seeds 1, 2, 3; `--seeds 4,8` means exactly those.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeds(pub Vec<u64>);

impl FromStr for Seeds {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        if raw.contains(',') {
            let seeds = raw.split(',').map(|v| v.trim().parse::<u64>().map_err(|_| format!("'{v}' is not a seed (a whole number)"))).collect::<Result<Vec<_>, _>>()?;
            return Ok(Seeds(seeds));
        }
        let n: u64 = raw.trim().parse().map_err(|_| format!("'{raw}' is neither a count (3) nor a list (1,2,3)"))?;
        if !(1..=100).contains(&n) {
            return Err(format!("{n} seeds: choose 1 to 100"));
        }
        Ok(Seeds((1..=n).collect()))
    }
}

/// The options every experiment takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Seeds: a count (3 means 1, 2, 3) or a list (4,8)
    #[arg(long, default_value = "3")]
    pub seeds: Seeds,
    /// Where the networks train: the CPU, or the first GPU adapter wgpu finds (trusted only after
    /// its self-test)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    pub backend: String,
    /// The data sets' directory (scripts/fetch-data.sh fills it)
    #[arg(long, default_value = "static/data")]
    pub data: PathBuf,
}
