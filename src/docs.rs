//! The tables the repository's docs and page show that the code or the results can move, written
//! by code instead of by hand: each result's table in `docs/results.md` and the figures the page
//! quotes (from `results/`, [`crate::experiments::quoted`]), and in `docs/classroom.md` every
//! setting a link can carry and every step of the guided path (from their declarations).
//!
//! `metaplastic reproduce --tables` rewrites them; `tests/docs.rs` fails when one differs.

use crate::experiments::quoted;
use crate::settings::presets::PRESETS;
use crate::settings::{Demo, Kind, query};
use std::fmt::Write as _;
use std::path::Path;

/// The generated region `NAME` of a document: between `<!-- generated:NAME -->` and
/// `<!-- /generated:NAME -->`.
fn generated(name: &str) -> Option<String> {
    match name {
        "settings" => Some(settings_table(&crate::demos::declarations())),
        "guided-path" => Some(guided_path_table()),
        _ => None,
    }
}

/// Every setting a link can carry: its key, its allowed values, its default and what it does.
pub fn settings_table(demos: &[&'static Demo]) -> String {
    let mut out = String::from("| key | allowed | default | what it sets |\n| --- | --- | --- | --- |\n");
    for demo in demos {
        for s in demo.settings {
            let allowed = match s.kind {
                Kind::Choice(choices) => choices.iter().map(|c| format!("`{}`", c.value)).collect::<Vec<_>>().join(", "),
                _ => s.allowed(),
            };
            let when = s.only_when.map(|(other, value)| format!(" (only when `{}.{other}` is `{value}`)", demo.name)).unwrap_or_default();
            let _ = writeln!(out, "| `{}.{}` | {allowed} | `{}` | {}{when} |", demo.name, s.name, s.default, s.help.replace('|', "\\|"));
        }
    }
    let names: Vec<String> = demos.iter().map(|d| format!("`{}`", d.name)).collect();
    let _ = writeln!(out, "| `{}` | {} | | starts that demo when the page opens |", query::RUN, names.join(", "));
    let _ = writeln!(
        out,
        "| `{}` | a whole number from 1 to {} | | opens step N of the guided path as one screen (its settings, then the link's own on top) |",
        query::LESSON,
        PRESETS.len()
    );
    let _ = writeln!(out, "| `{}` | `1`, `0` | `0` | presenter mode: large type, the projector palette, settings folded away |", query::PRESENTER);
    out
}

/// The guided path: each step's title, its lesson, its link and what to look for.
pub fn guided_path_table() -> String {
    let mut out = String::from("| step | as a lesson | link | what to look for |\n| --- | --- | --- | --- |\n");
    for (i, p) in PRESETS.iter().enumerate() {
        let _ = writeln!(out, "| {}. {} | `?{}={}` | `{}` | {} |", i + 1, p.title, query::LESSON, i + 1, p.href(), p.look_at.replace('|', "\\|"));
    }
    out
}

/// A generated region that cannot be rebuilt: the document's markers are broken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegionError {
    #[error("a generated region's marker is not closed")]
    UnclosedMarker,
    #[error("the region '{0}' is not closed")]
    Unclosed(String),
    #[error("no generated table is called '{0}'")]
    Unknown(String),
}

/// Why the generated files cannot be rebuilt, with the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("{file}: {source}")]
    Read { file: &'static str, source: std::io::Error },
    #[error("{file}: {source}")]
    Quote { file: &'static str, source: quoted::QuoteError },
    #[error("{file}: {source}")]
    Region { file: &'static str, source: RegionError },
}

/// A text with every `<!-- generated:NAME -->` region rebuilt.
fn update_generated(text: &str) -> Result<String, RegionError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!-- generated:") {
        let open_end = start + rest[start..].find("-->").ok_or(RegionError::UnclosedMarker)? + 3;
        let name = rest[start + "<!-- generated:".len()..open_end - 3].trim().to_string();
        let close = format!("<!-- /generated:{name} -->");
        let Some(close_at) = rest[open_end..].find(&close).map(|at| at + open_end) else { return Err(RegionError::Unclosed(name)) };
        let Some(body) = generated(&name) else { return Err(RegionError::Unknown(name)) };
        out.push_str(&rest[..open_end]);
        out.push('\n');
        out.push_str(&body);
        out.push_str(&close);
        rest = &rest[close_at + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every generated file under `root` as it is and as the code and results say it should be:
/// `(file, now, should be)`.
pub fn rebuild_all(root: &Path) -> Result<Vec<(&'static str, String, String)>, DocsError> {
    let mut load = |name: &str| quoted::load_result(root, name);
    let read = |file: &'static str| std::fs::read_to_string(root.join(file)).map_err(|source| DocsError::Read { file, source });
    let quote = |file: &'static str| move |source| DocsError::Quote { file, source };
    let results = read("docs/results.md")?;
    let page = read("index.html")?;
    let classroom = read("docs/classroom.md")?;
    Ok(vec![
        ("docs/results.md", results.clone(), quoted::update_docs(&results, &mut load).map_err(quote("docs/results.md"))?),
        ("index.html", page.clone(), quoted::update_page(&page, &mut load).map_err(quote("index.html"))?),
        (
            "docs/classroom.md",
            classroom.clone(),
            update_generated(&classroom).map_err(|source| DocsError::Region { file: "docs/classroom.md", source })?,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_and_every_step_of_the_path_is_a_row() {
        let table = settings_table(&crate::demos::declarations());
        let rows = table.lines().count() - 2;
        let settings: usize = crate::demos::declarations().iter().map(|d| d.settings.len()).sum();
        assert_eq!(rows, settings + 3, "every setting, run=, lesson= and presenter=");
        assert!(table.contains("| `bnn.hidden` | a whole number from 8 to 4096 | `128` |"), "{table}");
        assert!(table.contains("(only when `bnn.experiment` is `stream`)"), "{table}");
        assert_eq!(guided_path_table().lines().count() - 2, PRESETS.len());
        assert_eq!(update_generated("a\n<!-- generated:guided-path -->\nold\n<!-- /generated:guided-path -->\nb").map(|t| t.contains("1. Two weights")), Ok(true));
        assert_eq!(update_generated("<!-- generated:nothing -->\n<!-- /generated:nothing -->"), Err(RegionError::Unknown("nothing".into())));
        assert_eq!(update_generated("<!-- generated:guided-path -->\nold"), Err(RegionError::Unclosed("guided-path".into())));
    }
}
