//! What a results file records about how it was made: the command, the repository's commit (and
//! whether the engine's sources had changed since), the day and the machine.

use metaplastic::experiments::summary::Provenance;
use std::process::Command;

/// The paths whose changes change what a run computes.
const ENGINE: [&str; 4] = ["src", "shaders", "Cargo.toml", "Cargo.lock"];

pub fn now(command: &str) -> Provenance {
    Provenance { command: command.to_string(), commit: commit(), date: today(), machine: machine() }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit() -> String {
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else { return "unknown (not a git checkout)".into() };
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(ENGINE);
    match git(&status) {
        Some(changes) if changes.is_empty() => head,
        _ => format!("{head} (modified)"),
    }
}

/// Today's date in UTC, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// "2 threads, Intel Xeon ..." (the processor's name where the system says it).
fn machine() -> String {
    let threads = metaplastic::cpu::threads();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string()));
    match cpu {
        Some(cpu) => format!("{threads} threads, {cpu}"),
        None => format!("{threads} threads"),
    }
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_428), (2025, 12, 6));
    }
}
