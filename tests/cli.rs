//! The command-line tool as a researcher runs it: an experiment writes `summary.json` and
//! `metrics.csv` in the shape the page's downloads have (`experiments::summary`).

use std::path::PathBuf;
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("metaplastic-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_metaplastic"))
        .args(args)
        .output()
        .expect("the tool starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "metaplastic {args:?} failed:\n{text}");
    text
}

fn read_json(path: &PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary.json written"))
        .expect("summary.json is JSON")
}

#[test]
fn bnn_permuted_writes_summary_and_metrics_csv() {
    let dir = out_dir("permuted");
    let d = dir.to_string_lossy().to_string();
    run(&[
        "bnn-permuted",
        "--hidden",
        "16",
        "--tasks",
        "2",
        "--steps-per-task",
        "20",
        "--eval-every",
        "10",
        "--test-examples",
        "500",
        "--seeds",
        "4,5",
        "--meta",
        "0,1.35",
        "--out",
        &d,
    ]);
    let doc = read_json(&dir.join("summary.json"));
    assert_eq!(doc["experiment"], "bnn-permuted");
    assert_eq!(
        doc["config"]["layers"],
        serde_json::json!([784, 16, 16, 10])
    );
    assert_eq!(doc["config"]["backend"], "cpu");
    assert!(doc["config"]["elapsed_seconds"].is_number());
    let runs = doc["runs"].as_array().expect("runs");
    let names: Vec<(&str, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["variant"].as_str().unwrap_or(""),
                r["seed"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("m=0", 4), ("m=1.35", 4), ("m=0", 5), ("m=1.35", 5)]
    );
    for r in runs {
        let matrix = r["metrics"]["acc_matrix"].as_array().expect("acc_matrix");
        assert_eq!(matrix.len(), 2);
        assert!(
            r["metrics"]["curve"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        );
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv written");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("variant,seed,kind,step,final_mean_acc,task_acc_1,task_acc_2,train_acc,train_loss")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 9), "{csv}");
    let finals: Vec<&Vec<&str>> = rows.iter().filter(|r| r[2] == "final").collect();
    assert_eq!(finals.len(), 4);
    for (f, run) in finals.iter().zip(runs) {
        let mean: f64 = f[4].parse().expect("final_mean_acc is a number");
        assert!(
            (mean
                - run["metrics"]["final_mean_acc"]
                    .as_f64()
                    .unwrap_or(f64::NAN))
            .abs()
                < 1e-6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bnn_toy_writes_the_same_shape_without_data() {
    let dir = out_dir("toy");
    let d = dir.to_string_lossy().to_string();
    run(&["bnn-toy", "--steps", "50", "--meta", "0,1", "--out", &d]);
    let doc = read_json(&dir.join("summary.json"));
    assert_eq!(doc["experiment"], "bnn-toy");
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(2));
    assert!(dir.join("metrics.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_metaplastic")).args(args).output().expect("the tool starts");
    assert!(!out.status.success(), "metaplastic {args:?} should have been refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The help is generated from the flags' declarations (clap), with their defaults from the
/// presets; a typo, a value out of its choices and the other task's option are refused with a
/// message that names them, before anything runs.
#[test]
fn help_is_generated_and_bad_flags_are_refused() {
    let help = run(&["help"]);
    for command in ["bnn-permuted", "bnn-stream", "bnn-toy", "lenet", "hebbian", "bench", "info", "data"] {
        assert!(help.contains(command), "the help lists {command}:\n{help}");
    }
    let permuted = run(&["bnn-permuted", "--help"]);
    assert!(permuted.contains("--ewc-lambda") && permuted.contains("[default: 0.005]"), "{permuted}");
    let bench = run(&["bench", "--help"]);
    assert!(bench.contains("completion-recurrent"), "the benchmark's networks are listed:\n{bench}");
    assert!(refused(&["bnn-permuted", "--hiden", "64"]).contains("--hiden"));
    assert!(refused(&["bnn-stream", "--dataset", "cifar"]).contains("cifar"));
    assert!(refused(&["bench", "--threads", "0"]).contains("--threads"));
    assert!(refused(&["bnn-permuted", "--seeds", "0"]).contains("choose 1 to 100"));
    assert!(refused(&["hebbian", "--task", "denoise", "--bits", "8"]).contains("--bits is not an option of --task denoise"));
    assert!(refused(&["hebbian", "--dataset", "fashion"]).contains("--dataset is not an option of --task completion"));
    assert!(refused(&["hebbian", "--network", "feedforward", "--variant", "lstm"]).contains("the LSTM is a baseline of the recurrent network"));
    assert!(refused(&["hebbian", "--lstm-hidden", "80"]).contains("add lstm to --variant"));
    assert!(refused(&["hebbian", "--variant", "lstm", "--lstm-hidden", "50"]).contains("--lstm-hidden"));
}

/// The LSTM baseline runs beside the plastic network on the same episodes, and the summary
/// names it and its cells.
#[test]
fn hebbian_runs_the_lstm_baseline() {
    let dir = out_dir("lstm");
    let d = dir.to_string_lossy().to_string();
    run(&["hebbian", "--variant", "plastic,lstm", "--lstm-hidden", "60", "--steps", "20", "--test-episodes", "8", "--seeds", "1", "--out", &d]);
    let doc = read_json(&dir.join("summary.json"));
    let variants: Vec<&str> = doc["runs"].as_array().into_iter().flatten().filter_map(|r| r["variant"].as_str()).collect();
    assert_eq!(variants, ["plastic", "lstm"]);
    assert_eq!(doc["config"]["lstm"]["cells"], 60);
    assert_eq!(doc["runs"][1]["metrics"]["size"], 60);
    assert!(doc["runs"][1]["metrics"]["test_mse"].as_f64().is_some_and(f64::is_finite));
    let _ = std::fs::remove_dir_all(&dir);
}
