//! The numbers the docs and the page quote, computed from the results' `summary.json` files, never
//! typed by hand: each result's table in `docs/results.md` (between `<!-- results:NAME -->` and
//! `<!-- /results:NAME -->`) and each figure in the page's text (`<span data-figure="NAME VARIANT
//! FIGURE">`). `metaplastic reproduce --tables` rewrites both; `tests/results_doc.rs` fails when
//! either disagrees with its files.
//!
//! Every figure is over seeds: mean ± sample standard deviation, and between two variants the
//! paired difference seed by seed with its 95% interval. A difference whose interval excludes 0
//! is "resolved" and set in bold; one that does not is not a finding, whatever its sign.

use super::summary::Summary;
use crate::stats::{PairedDiff, mean_sd};
use serde_json::Value;
use std::fmt::Write as _;

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// A fraction, shown as a percentage (differences in percentage points).
    Fraction,
    /// A plain number (an error, a loss).
    Plain,
}

/// One figure an experiment reports per run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Figure {
    key: &'static str,
    label: &'static str,
    unit: Unit,
    /// Decimals as shown (of the percentage for fractions).
    digits: usize,
}

const fn fig(key: &'static str, label: &'static str, unit: Unit, digits: usize) -> Figure {
    Figure { key, label, unit, digits }
}

const BNN_PERMUTED: [Figure; 3] = [
    fig("mean", "mean over all tasks after the last", Unit::Fraction, 1),
    fig("task1", "task 1 after the last", Unit::Fraction, 1),
    fig("last", "the last task", Unit::Fraction, 1),
];
const BNN_STREAM: [Figure; 2] = [
    fig("test_acc", "final test accuracy", Unit::Fraction, 1),
    fig("tail_mean_acc", "mean over the last 5 subsets", Unit::Fraction, 1),
];
const LENET: [Figure; 5] = [
    fig("accuracy", "accuracy", Unit::Fraction, 2),
    fig("macro_f1", "macro F1", Unit::Fraction, 2),
    fig("precision", "precision", Unit::Fraction, 2),
    fig("recall", "recall", Unit::Fraction, 2),
    fig("loss", "loss", Unit::Plain, 4),
];
const COMPLETION: [Figure; 1] = [fig("test_mse", "test MSE per bit", Unit::Plain, 4)];
const DENOISE: [Figure; 2] = [fig("test_mse", "test MSE", Unit::Plain, 4), fig("noisy_input_mse", "the noisy input's MSE", Unit::Plain, 4)];

/// The figures of each experiment, in their tables' column order.
fn figures(experiment: &str) -> &'static [Figure] {
    match experiment {
        "bnn-permuted" => &BNN_PERMUTED,
        "bnn-stream" => &BNN_STREAM,
        "lenet" => &LENET,
        "hebbian-completion" => &COMPLETION,
        "hebbian-denoise" => &DENOISE,
        _ => &[],
    }
}

/// Why a quoted figure cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuoteError {
    #[error("results/{0}/summary.json is missing or unreadable")]
    NoResult(String),
    #[error("'{0}' is not a figure (write NAME VARIANT FIGURE [sd], or NAME A vs B FIGURE diff|gap|ci)")]
    Spec(String),
    #[error("{result}: no variant '{variant}' (it has {has})")]
    NoVariant { result: String, variant: String, has: String },
    #[error("{result}: experiment '{experiment}' reports no figure '{figure}'")]
    NoFigure { result: String, experiment: String, figure: String },
    #[error("{0}: the marker is not closed")]
    Unclosed(String),
}

/// A figure's value in one run (a `runs` entry of summary.json).
fn value(experiment: &str, key: &str, run: &Value) -> Option<f32> {
    let m = &run["metrics"];
    let v = match (experiment, key) {
        ("bnn-permuted", "mean") => m["final_mean_acc"].as_f64(),
        ("bnn-permuted", "task1" | "last") => {
            let matrix = m["acc_matrix"].as_array()?;
            let row = matrix.last()?.as_array()?;
            let col = if key == "task1" { 0 } else { matrix.len() - 1 };
            row.get(col)?.as_f64()
        }
        _ => m[key].as_f64(),
    }?;
    Some(v as f32)
}

/// `(seed, value)` of one variant's runs, in the file's order.
fn per_seed(s: &Summary, variant: &str, key: &str) -> Vec<(u64, f32)> {
    s.runs
        .iter()
        .filter(|r| r["variant"] == variant)
        .filter_map(|r| Some((r["seed"].as_u64()?, value(&s.experiment, key, r)?)))
        .collect()
}

/// `b - a` over the seeds both have.
fn paired(s: &Summary, a: &str, b: &str, key: &str) -> Option<PairedDiff> {
    let (xa, xb) = (per_seed(s, a, key), per_seed(s, b, key));
    let (va, vb): (Vec<f32>, Vec<f32>) = xa.iter().filter_map(|&(seed, x)| Some((x, xb.iter().find(|(t, _)| *t == seed)?.1))).unzip();
    (!va.is_empty()).then(|| PairedDiff::new(&va, &vb))
}

fn scale(f: &Figure) -> f32 {
    match f.unit {
        Unit::Fraction => 100.0,
        Unit::Plain => 1.0,
    }
}

fn mean_text(f: &Figure, x: f32, digits: usize) -> String {
    match f.unit {
        Unit::Fraction => format!("{:.digits$}%", 100.0 * x),
        Unit::Plain => format!("{x:.digits$}"),
    }
}

/// A spread or an interval, in the figure's unit (percentage points for fractions).
fn spread_text(f: &Figure, x: f32, digits: usize) -> String {
    format!("{:.digits$}", scale(f) * x)
}

/// A signed difference, with a real minus sign.
fn signed_text(f: &Figure, x: f32, digits: usize) -> String {
    let text = format!("{:+.digits$}", scale(f) * x);
    text.replacen('-', "−", 1)
}

fn cell(f: &Figure, values: &[f32]) -> String {
    let (m, sd) = mean_sd(values);
    match values.len() {
        0 => "–".into(),
        1 => mean_text(f, m, f.digits),
        _ => format!("{} ± {}", mean_text(f, m, f.digits), spread_text(f, sd, f.digits)),
    }
}

fn diff_cell(f: &Figure, d: Option<PairedDiff>) -> String {
    match d {
        Some(d) if d.n >= 2 => {
            let text = format!("{} (± {})", signed_text(f, d.mean, f.digits), spread_text(f, d.ci95, f.digits));
            if d.is_significant() { format!("**{text}**") } else { text }
        }
        Some(_) => "one seed: no interval".into(),
        None => "–".into(),
    }
}

/// From this many paired intervals, a table says how many would exclude 0 by chance alone.
const CAUTION_FROM: usize = 5;

/// Wall-clock time in words.
fn duration(seconds: f64) -> String {
    if seconds < 90.0 { format!("{seconds:.0} s") } else { format!("{:.0} min", seconds / 60.0) }
}

/// A result's table in the docs: mean ± sd of each figure per variant, then every paired
/// difference (a later variant minus an earlier one), then how the file was made.
pub fn table(name: &str, s: &Summary) -> String {
    let figs = figures(&s.experiment);
    let variants = s.variants();
    let mut out = String::new();
    let header = |first: &str| {
        let mut h = format!("| {first} |");
        let mut rule = String::from("| --- |");
        if first == "variant" {
            h.push_str(" seeds |");
            rule.push_str(" ---: |");
        }
        for f in figs {
            let _ = write!(h, " {} |", f.label);
            rule.push_str(" ---: |");
        }
        format!("{h}\n{rule}\n")
    };
    out.push_str(&header("variant"));
    for v in &variants {
        let seeds = s.runs.iter().filter(|r| r["variant"] == *v).count();
        let _ = write!(out, "| {v} | {seeds} |");
        for f in figs {
            let values: Vec<f32> = per_seed(s, v, f.key).into_iter().map(|(_, x)| x).collect();
            let _ = write!(out, " {} |", cell(f, &values));
        }
        out.push('\n');
    }
    let pairs: Vec<(&str, &str)> = variants.iter().enumerate().flat_map(|(i, a)| variants[i + 1..].iter().map(move |b| (*a, *b))).collect();
    if !pairs.is_empty() {
        out.push('\n');
        out.push_str(&header("paired difference, 95% interval"));
        let (mut intervals, mut resolved) = (0, 0);
        for (a, b) in pairs {
            let _ = write!(out, "| {b} − {a} |");
            for f in figs {
                let d = paired(s, a, b, f.key);
                if let Some(d) = d.filter(|d| d.n >= 2) {
                    intervals += 1;
                    resolved += usize::from(d.is_significant());
                }
                let _ = write!(out, " {} |", diff_cell(f, d));
            }
            out.push('\n');
        }
        // Many intervals at 95% each: some exclude 0 by chance alone, and a reader should weigh a
        // lone bold cell against that count.
        if intervals >= CAUTION_FROM {
            let _ = write!(
                out,
                "\n{intervals} intervals in this table, {resolved} excluding 0. At 95% each, about {:.1} would exclude 0 by chance alone: where only that many do, read them as chance.\n",
                intervals as f32 / 20.0
            );
        }
    }
    out.push('\n');
    match &s.provenance {
        Some(p) => {
            let _ = writeln!(out, "`{}`  ", p.command);
            let _ = writeln!(out, "Commit `{}`, {}, {} on {}.", p.commit, p.date, duration(s.elapsed), p.machine);
        }
        None => {
            let _ = writeln!(out, "`metaplastic reproduce {name}` (this file records no command).");
        }
    }
    out
}

/// A figure the page quotes: `NAME VARIANT FIGURE` (the mean), `NAME VARIANT FIGURE sd`, or
/// `NAME A vs B FIGURE diff` (A − B over the seeds both ran, signed), `... gap` (its size) or
/// `... ci` (the 95% interval's half-width). `digits` overrides the figure's own decimals.
pub fn quote(spec: &str, digits: Option<usize>, load: &mut dyn FnMut(&str) -> Option<Summary>) -> Result<String, QuoteError> {
    let bad = || QuoteError::Spec(spec.to_string());
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (name, variant, against, key, stat) = match words.as_slice() {
        [name, v, key] => (*name, *v, None, *key, "mean"),
        [name, v, key, stat @ "sd"] => (*name, *v, None, *key, *stat),
        [name, a, "vs", b, key, stat @ ("diff" | "gap" | "ci")] => (*name, *a, Some(*b), *key, *stat),
        _ => return Err(bad()),
    };
    let s = load(name).ok_or_else(|| QuoteError::NoResult(name.to_string()))?;
    let f = figures(&s.experiment)
        .iter()
        .find(|f| f.key == key)
        .ok_or_else(|| QuoteError::NoFigure { result: name.into(), experiment: s.experiment.clone(), figure: key.into() })?;
    let variants = s.variants();
    for v in std::iter::once(variant).chain(against) {
        if !variants.contains(&v) {
            return Err(QuoteError::NoVariant { result: name.into(), variant: v.into(), has: variants.join(", ") });
        }
    }
    let digits = digits.unwrap_or(f.digits);
    Ok(match against {
        None => {
            let values: Vec<f32> = per_seed(&s, variant, key).into_iter().map(|(_, x)| x).collect();
            let (m, sd) = mean_sd(&values);
            if stat == "sd" { spread_text(f, sd, digits) } else { mean_text(f, m, digits) }
        }
        Some(b) => {
            let d = paired(&s, b, variant, key).ok_or_else(bad)?;
            match stat {
                "diff" => signed_text(f, d.mean, digits),
                "gap" => spread_text(f, d.mean.abs(), digits),
                _ => spread_text(f, d.ci95, digits),
            }
        }
    })
}

/// The docs with every `<!-- results:NAME -->` region rebuilt from its result.
pub fn update_docs(text: &str, load: &mut dyn FnMut(&str) -> Option<Summary>) -> Result<String, QuoteError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!-- results:") {
        let open_end = start + rest[start..].find("-->").ok_or_else(|| QuoteError::Unclosed(rest[start..].lines().next().unwrap_or("").into()))? + 3;
        let name = rest[start + "<!-- results:".len()..open_end - 3].trim().to_string();
        let close = format!("<!-- /results:{name} -->");
        let close_at = rest[open_end..].find(&close).ok_or_else(|| QuoteError::Unclosed(name.clone()))? + open_end;
        let s = load(&name).ok_or_else(|| QuoteError::NoResult(name.clone()))?;
        out.push_str(&rest[..open_end]);
        out.push('\n');
        out.push_str(&table(&name, &s));
        out.push_str(&close);
        rest = &rest[close_at + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The names of the results a text's `<!-- results:NAME -->` regions show.
pub fn docs_regions(text: &str) -> Vec<String> {
    text.match_indices("<!-- results:").filter_map(|(i, m)| Some(text[i + m.len()..].split("-->").next()?.trim().to_string())).collect()
}

/// The page (or any HTML) with the text of every `<span data-figure="SPEC">` recomputed
/// (`data-digits="N"` after the spec sets its decimals).
pub fn update_page(html: &str, load: &mut dyn FnMut(&str) -> Option<Summary>) -> Result<String, QuoteError> {
    const OPEN: &str = "<span data-figure=\"";
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(OPEN) {
        let spec_start = start + OPEN.len();
        let spec_end = spec_start + rest[spec_start..].find('"').ok_or_else(|| QuoteError::Unclosed(rest[start..].chars().take(60).collect()))?;
        let spec = &rest[spec_start..spec_end];
        let tag_end = spec_end + rest[spec_end..].find('>').ok_or_else(|| QuoteError::Unclosed(spec.into()))? + 1;
        let attrs = &rest[spec_end..tag_end];
        let digits = attrs.split("data-digits=\"").nth(1).and_then(|d| d.split('"').next()).and_then(|d| d.parse().ok());
        let close = tag_end + rest[tag_end..].find("</span>").ok_or_else(|| QuoteError::Unclosed(spec.into()))?;
        out.push_str(&rest[..tag_end]);
        out.push_str(&quote(spec, digits, load)?);
        rest = &rest[close..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Reads `results/NAME/summary.json` under `root`.
pub fn load_result(root: &std::path::Path, name: &str) -> Option<Summary> {
    Summary::parse(&std::fs::read_to_string(root.join("results").join(name).join("summary.json")).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary() -> Summary {
        let mut s = Summary::new("bnn-stream", json!({}));
        for (seed, a, b) in [(1, 0.80, 0.85), (2, 0.82, 0.86), (3, 0.81, 0.88)] {
            s.run("m=0", seed, json!({"test_acc": a}));
            s.run("m=2.5", seed, json!({"test_acc": b}));
        }
        s
    }

    #[test]
    fn tables_give_mean_sd_and_paired_differences_in_points() {
        let t = table("x", &summary());
        assert!(t.contains("| m=0 | 3 | 81.0% ± 1.0 |"), "{t}");
        assert!(t.contains("| m=2.5 | 3 | 86.3% ± 1.5 |"), "{t}");
        // 5, 4, 7 points: mean 5.33, sd 1.53, t(2) 4.303 -> ± 3.8: resolved.
        assert!(t.contains("| m=2.5 − m=0 | **+5.3 (± 3.8)** |"), "{t}");
    }

    #[test]
    fn quoted_figures_follow_their_files() {
        let mut load = |name: &str| (name == "x").then(summary);
        assert_eq!(quote("x m=2.5 test_acc", None, &mut load), Ok("86.3%".into()));
        assert_eq!(quote("x m=2.5 test_acc sd", None, &mut load), Ok("1.5".into()));
        assert_eq!(quote("x m=2.5 vs m=0 test_acc diff", None, &mut load), Ok("+5.3".into()));
        assert_eq!(quote("x m=0 vs m=2.5 test_acc diff", Some(2), &mut load), Ok("−5.33".into()));
        assert_eq!(quote("x m=0 vs m=2.5 test_acc gap", None, &mut load), Ok("5.3".into()));
        assert!(matches!(quote("x m=9 test_acc", None, &mut load), Err(QuoteError::NoVariant { .. })));
        assert!(matches!(quote("y m=0 test_acc", None, &mut load), Err(QuoteError::NoResult(_))));
        assert!(matches!(quote("x m=0 loss", None, &mut load), Err(QuoteError::NoFigure { .. })));
        let page = "<p>ended at <span data-figure=\"x m=2.5 test_acc\">99%</span>, \
                    <span data-figure=\"x m=2.5 vs m=0 test_acc gap\" data-digits=\"2\">1</span> points up</p>";
        assert_eq!(
            update_page(page, &mut load),
            Ok("<p>ended at <span data-figure=\"x m=2.5 test_acc\">86.3%</span>, <span data-figure=\"x m=2.5 vs m=0 test_acc gap\" data-digits=\"2\">5.33</span> points up</p>".into())
        );
    }

    #[test]
    fn docs_regions_are_rebuilt_between_their_markers() {
        let mut load = |name: &str| (name == "x").then(summary);
        let doc = "intro\n<!-- results:x -->\nstale\n<!-- /results:x -->\nafter\n";
        let new = update_docs(doc, &mut load).expect("builds");
        assert!(new.starts_with("intro\n<!-- results:x -->\n| variant |") && new.ends_with("<!-- /results:x -->\nafter\n"), "{new}");
        assert_eq!(update_docs(&new, &mut load).as_deref(), Ok(new.as_str()), "rebuilding is stable");
        assert_eq!(docs_regions(&new), vec!["x".to_string()]);
        assert!(update_docs("<!-- results:x -->\nno end", &mut load).is_err());
    }
}
