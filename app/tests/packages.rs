//! `pipewright package` packages a block of a recorded run headless, as the designer's "Package model…" does
//! from its last run; a damaged package is refused by `pipewright score` and `pipewright serve` with a message
//! naming what is damaged (exit 2), never a crash.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pipewright(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The titanic-deploy example, run once in a scratch folder so its store records the run.
fn recorded_example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = repo_root().join("projects/titanic-deploy/titanic-deploy.flow.json");
    std::fs::copy(&flow, dir.path().join("titanic-deploy.flow.json")).expect("copy");
    let run = pipewright(&["run", "."], dir.path());
    assert!(run.status.success(), "{}", text(&run));
    dir
}

#[test]
fn a_block_of_a_recorded_run_is_packaged_headless() {
    let dir = recorded_example();
    let out = pipewright(&["package", "train", "-o", "headless.pwmodel"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("from run 1, 3 step(s)"), "{}", text(&out));
    let headless = pipewright_deploy::Package::read(&dir.path().join("headless.pwmodel")).expect("loads");
    let block = pipewright_deploy::Package::read(&dir.path().join("models/titanic-survival.pwmodel")).expect("loads");
    // The same pipeline as the Export Model Package block wrote in the run: steps, model, fields and metrics.
    assert_eq!(
        headless.steps.iter().map(|s| &s.state).collect::<Vec<_>>(),
        block.steps.iter().map(|s| &s.state).collect::<Vec<_>>()
    );
    assert_eq!(headless.model.state, block.model.state);
    assert_eq!(headless.manifest.inputs, block.manifest.inputs);
    assert_eq!(headless.manifest.metrics, block.manifest.metrics);
    assert_eq!(headless.manifest.source.run, Some(1));
    // It scores.
    let score = pipewright(
        &["score", "headless.pwmodel", &repo_root().join("assets/datasets/titanic.csv").display().to_string()],
        dir.path(),
    );
    assert!(score.status.success(), "{}", text(&score));

    let again = pipewright(&["package", "train", "-o", "headless.pwmodel"], dir.path());
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("exists: pass --force"), "{}", text(&again));
    let not_a_model = pipewright(&["package", "evaluate", "-o", "e.pwmodel"], dir.path());
    assert!(
        text(&not_a_model).contains("no recorded run has a model from block \"evaluate\""),
        "{}",
        text(&not_a_model)
    );
    let no_run = pipewright(&["package", "train", "--run", "9", "-o", "x.pwmodel"], dir.path());
    assert!(text(&no_run).contains("run 9 is not in the store"), "{}", text(&no_run));
    let store = pipewright(&["package", "train", "-o", ".pipewright/m.pwmodel"], dir.path());
    assert_eq!(store.status.code(), Some(2), "{}", text(&store));
    assert!(text(&store).contains("inside a project's .pipewright folder"), "{}", text(&store));
}

#[test]
fn a_damaged_package_is_refused_by_score_and_serve_naming_the_part() {
    let dir = recorded_example();
    let path = dir.path().join("models/titanic-survival.pwmodel");
    let mut json: Json = serde_json::from_slice(&std::fs::read(&path).expect("reads")).expect("json");
    json.pointer_mut("/model/state/blocks/0").and_then(Json::as_array_mut).expect("coefficients").truncate(3);
    std::fs::write(dir.path().join("damaged.pwmodel"), serde_json::to_vec(&json).expect("bytes")).expect("written");
    let data = repo_root().join("assets/datasets/titanic.csv").display().to_string();
    for args in [vec!["score", "damaged.pwmodel", data.as_str()], vec!["serve", "damaged.pwmodel", "--port", "0"]] {
        let out = pipewright(&args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let message = text(&out);
        assert!(
            message.contains("the package's model") && message.contains("coefficient block has 3 entries"),
            "{message}"
        );
        assert!(!message.contains("panicked"), "{message}");
    }
}
