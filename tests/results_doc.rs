//! The numbers the docs and the page quote are the numbers in `results/`: every quoted result is
//! listed by `metaplastic reproduce`, its folder holds the summary its command wrote, and the
//! tables of `docs/results.md` and the figures of `index.html` are what `metaplastic reproduce
//! --tables` computes from those files.

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
fn the_docs_tables_and_the_pages_figures_match_their_results() {
    for (file, old, new) in quoted::rebuild_all(root()).expect("every quoted figure can be computed") {
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
