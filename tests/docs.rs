//! The docs' generated tables are what the code and the results give: every quoted result is listed
//! by `metaplastic reproduce`, its folder holds the summary its command wrote, the tables of
//! `docs/results.md` and the figures of `index.html` are what `metaplastic reproduce --tables`
//! computes from those files, and `docs/classroom.md`'s settings and guided path are their
//! declarations. No document refers to anything outside the repository.

use metaplastic::experiments::quoted;
use metaplastic::experiments::reproduce::RESULTS;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_listed_result_has_its_files_and_says_how_they_were_made() {
    for r in RESULTS {
        let s = quoted::load_result(root(), r.name).unwrap_or_else(|| panic!("results/{}/summary.json is missing or unreadable", r.name));
        let p = s.provenance.as_ref().unwrap_or_else(|| panic!("{}: summary.json records no provenance", r.name));
        assert_eq!(p.command, r.command(), "{}: made by another command than the one listed", r.name);
        assert!(!p.commit.is_empty() && p.date.len() == 10, "{}: commit and date", r.name);
        let mut seeds: Vec<u64> = s.runs.iter().filter_map(|run| run["seed"].as_u64()).collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds, r.seeds(), "{}: the seeds its command names", r.name);
    }
}

#[test]
fn every_folder_in_results_is_a_listed_result() {
    for entry in std::fs::read_dir(root().join("results")).expect("results/ exists") {
        let entry = entry.expect("a readable entry");
        let name = entry.file_name().into_string().expect("a UTF-8 name");
        assert!(entry.path().is_dir(), "results/{name}: only result folders belong here");
        assert!(RESULTS.iter().any(|r| r.name == name), "results/{name} is not listed by `metaplastic reproduce --list`");
    }
}

#[test]
fn the_docs_show_every_result_once_in_the_listed_order() {
    let docs = std::fs::read_to_string(root().join("docs/results.md")).expect("docs/results.md");
    let shown = quoted::docs_regions(&docs);
    let listed: Vec<String> = RESULTS.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(shown, listed);
}

#[test]
fn the_generated_tables_and_the_pages_figures_match_what_makes_them() {
    for (file, old, new) in metaplastic::docs::rebuild_all(root()).expect("every generated table can be made") {
        if old != new {
            let first = old.lines().zip(new.lines()).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{file} differs from results/ (run `cargo run --release -- reproduce --tables`); first difference at line {}:\n  is:        {}\n  should be: {}",
                first + 1,
                old.lines().nth(first).unwrap_or(""),
                new.lines().nth(first).unwrap_or("")
            );
        }
    }
}

#[test]
fn the_page_quotes_figures_from_results() {
    let page = std::fs::read_to_string(root().join("index.html")).expect("index.html");
    assert!(page.contains("data-figure=\""), "the page's measured figures come from results/ (data-figure spans)");
}

/// Every file a clone has that a reader or the code follows, checked for references to documents
/// that are not in the repository.
#[test]
fn nothing_refers_to_a_document_outside_the_repository() {
    let outside = ["ALGORITHMS.md", "DESIGN.md", "DATA.md", "TOOLCHAIN.md", "STYLE.md", "shared/reference", "../shared"];
    let mut offenders = Vec::new();
    let mut stack = vec![root().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable folder").flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | "dist" | ".git" | "data" | "results" | "test-results") {
                    stack.push(path);
                }
                continue;
            }
            let checked = ["rs", "wgsl", "md", "sh", "py", "mjs", "js", "html", "toml", "css"];
            if !path.extension().and_then(|e| e.to_str()).is_some_and(|e| checked.contains(&e)) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            for (i, line) in text.lines().enumerate() {
                if outside.iter().any(|o| line.contains(o)) && !line.contains("let outside = [") {
                    offenders.push(format!("{}:{}: {}", path.strip_prefix(root()).unwrap_or(&path).display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "references to documents a clone does not have:\n{}", offenders.join("\n"));
}
