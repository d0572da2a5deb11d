//! `reproduce`: every result the docs and the page quote, made again by name
//! (`metaplastic::experiments::reproduce` lists them), split into one command per seed for a batch
//! scheduler, merged back, and the docs' tables and the page's figures rebuilt from the files.

use super::{CliError, Summary, WriteSummary};
use metaplastic::experiments::reproduce::{RESULTS, Reproducible, find};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  metaplastic reproduce --list\n  metaplastic reproduce bnn-classroom lenet-mnist-classic\n  \
    metaplastic reproduce bnn-permuted --print | parallel -j 3   # or one Slurm array task per line\n  \
    metaplastic reproduce bnn-permuted --merge\n  metaplastic reproduce --tables")]
pub struct ReproduceArgs {
    /// Results to make again, by name (see --list); `all` for every one
    names: Vec<String>,
    /// List every result the docs and the page quote: its command, seeds and last run time
    #[arg(long)]
    list: bool,
    /// Print each seed's run as one independent command instead of running it (writing
    /// results/NAME/seed-K/), then the command that merges them
    #[arg(long)]
    print: bool,
    /// Merge the seed folders the --print commands wrote into results/NAME/ (charts: the first
    /// seed's)
    #[arg(long)]
    merge: bool,
    /// Rebuild every generated table: docs/results.md's and the figures index.html quotes (from
    /// results/), and docs/classroom.md's settings and guided path (from their declarations)
    #[arg(long)]
    tables: bool,
    /// With --tables: change nothing; fail if a table or a figure differs from its results
    #[arg(long, requires = "tables")]
    check: bool,
}

pub fn reproduce(args: ReproduceArgs) -> Result<(), CliError> {
    if args.list {
        return list();
    }
    if args.tables {
        return tables(Path::new("."), args.check);
    }
    let chosen: Vec<&Reproducible> = if args.names.iter().any(|n| n == "all") {
        RESULTS.iter().collect()
    } else {
        args.names.iter().map(|n| find(n).ok_or_else(|| CliError::NoResult(n.clone()))).collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(CliError::NothingNamed);
    }
    for r in chosen {
        if args.print {
            for (_, command) in r.per_seed() {
                println!("{command}");
            }
            println!("# then: metaplastic reproduce {} --merge", r.name);
        } else if args.merge {
            merge(r)?;
        } else {
            println!("== {}: {}\n{}", r.name, r.title, r.command());
            super::run_words(&r.words(), &r.command())?;
        }
    }
    Ok(())
}

fn read_summary(path: &Path) -> Option<Summary> {
    Summary::parse(&std::fs::read_to_string(path).ok()?).ok()
}


fn list() -> Result<(), CliError> {
    for r in RESULTS {
        let last = read_summary(&Path::new(&r.dir()).join("summary.json"));
        let took = match &last {
            Some(s) => format!("last run {} min{}", (s.elapsed / 60.0).ceil(), s.provenance.as_ref().map(|p| format!(", {}, {}", p.date, p.machine)).unwrap_or_default()),
            None => "not run yet".into(),
        };
        println!("{:<36} {} seed(s), {took}\n    {}\n    {}", r.name, r.seeds().len(), r.title, r.command());
    }
    Ok(())
}

/// results/NAME/seed-K/ folders, by seed.
fn seed_dirs(r: &Reproducible) -> Vec<(u64, PathBuf)> {
    let mut dirs: Vec<(u64, PathBuf)> = std::fs::read_dir(r.dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((name.strip_prefix("seed-")?.parse().ok()?, e.path()))
        })
        .collect();
    dirs.sort();
    dirs
}

/// One summary from the seeds' own: their runs in seed order, their times added up.
fn merge(r: &Reproducible) -> Result<(), CliError> {
    let dirs = seed_dirs(r);
    let missing: Vec<u64> = r.seeds().into_iter().filter(|k| !dirs.iter().any(|(d, _)| d == k)).collect();
    if !missing.is_empty() {
        return Err(CliError::MissingSeeds { name: r.name, seeds: missing });
    }
    let mut merged: Option<Summary> = None;
    let mut commits = Vec::new();
    for (seed, dir) in &dirs {
        let path = dir.join("summary.json");
        let s = read_summary(&path).ok_or_else(|| CliError::NotASummary(path.clone()))?;
        if let Some(p) = &s.provenance
            && !commits.contains(&p.commit)
        {
            commits.push(p.commit.clone());
        }
        match merged.as_mut() {
            None => merged = Some(s),
            Some(m) => {
                if m.experiment != s.experiment || m.config != s.config {
                    return Err(CliError::SeedDiffers { seed: *seed, path });
                }
                m.runs.extend(s.runs);
                m.elapsed += s.elapsed;
            }
        }
    }
    let mut merged = merged.ok_or(CliError::NothingToMerge(r.name))?;
    if let Some(p) = merged.provenance.as_mut() {
        p.command = r.command();
        p.commit = commits.join(", ");
    }
    merged.write_as_made(&r.dir())?;
    if let Some((_, first)) = dirs.first() {
        for e in std::fs::read_dir(first).map_err(CliError::read(first))?.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "svg") {
                let to = Path::new(&r.dir()).join(e.file_name());
                std::fs::copy(&path, &to).map_err(CliError::copy(&path))?;
            }
        }
    }
    println!("merged {} seeds into {} (the charts are the first seed's)", dirs.len(), r.dir());
    Ok(())
}

/// Rebuilds (or, with `check`, compares) the docs' tables and the page's quoted figures.
pub fn tables(root: &Path, check: bool) -> Result<(), CliError> {
    let mut stale = Vec::new();
    for (file, old, new) in metaplastic::docs::rebuild_all(root)? {
        if new == old {
            continue;
        }
        if check {
            stale.push(file);
        } else {
            let path = root.join(file);
            std::fs::write(&path, new).map_err(CliError::write(&path))?;
            println!("rewrote {file}");
        }
    }
    if !stale.is_empty() {
        return Err(CliError::Stale(stale));
    }
    Ok(())
}
