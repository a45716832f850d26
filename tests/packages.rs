//! Model packages and cache entries written by release 0.1 (whose fitted models were decoded from JSON at every
//! prediction) keep loading and give the same predictions now that fitted state is typed and decoded once; and a
//! damaged package is refused when it is loaded, naming the part that is damaged, instead of failing while it
//! scores. The files under `tests/fixtures/release-0.1/` were written by that release's `pipewright run` of
//! `compat.flow.json` (see the folder's README), with the predictions the models made in that run.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_deploy::{Package, PackageError};
use pipewright_e2e::repo_root;
use pipewright_engine::{DiskCache, NodeStatus, RunOptions, Table, Workflow};
use pipewright_nodes::train::{PROBABILITY_PREFIX, SCORED_LABELS};

fn release() -> PathBuf {
    repo_root().join("tests/fixtures/release-0.1")
}

/// The Titanic passengers as `pipewright score` read them.
fn passengers() -> Table {
    let path = repo_root().join("assets/datasets/titanic.csv");
    Table::new(pipewright_nodes::data::read_file(&path).expect("the bundled titanic data reads"))
}

fn column(table: &Table, name: &str) -> Vec<Option<f64>> {
    let cast = table.frame.column(name).unwrap_or_else(|_| panic!("no column {name}")).cast(&DataType::Float64);
    cast.expect("numbers").f64().expect("f64").iter().collect()
}

fn texts(table: &Table, name: &str) -> Vec<Option<String>> {
    let cast = table.frame.column(name).unwrap_or_else(|_| panic!("no column {name}")).cast(&DataType::String);
    cast.expect("text").str().expect("str").iter().map(|v| v.map(str::to_owned)).collect()
}

#[test]
fn packages_of_release_0_1_load_and_predict_what_the_models_did_in_their_run() {
    for name in ["titanic-logistic", "titanic-forest"] {
        let package = Package::read(&release().join(format!("{name}.pwmodel")))
            .unwrap_or_else(|e| panic!("{name} written by release 0.1 no longer loads: {e}"));
        let scored = package.score_table(&passengers()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let then = Table::new(
            pipewright_nodes::data::read_file(&release().join(format!("{name}.scored.csv"))).expect("reads"),
        );
        assert_eq!(scored.height(), then.height(), "{name}: rows");
        assert_eq!(texts(&scored, SCORED_LABELS), texts(&then, SCORED_LABELS), "{name}: labels");
        for class in &package.model.classes {
            let probability = format!("{PROBABILITY_PREFIX}{class}");
            for (i, (now, before)) in column(&scored, &probability).iter().zip(column(&then, &probability)).enumerate()
            {
                let (now, before) = (now.expect("a probability"), before.expect("a probability"));
                assert!((now - before).abs() <= 1e-12, "{name}: row {i}, {probability}: {now} now, {before} in 0.1");
            }
        }
    }
}

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("readable").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copied");
        }
    }
}

#[test]
fn cache_entries_of_release_0_1_are_read_back() {
    let dir = tempfile::tempdir().expect("a folder");
    copy_tree(&release().join("cache"), &dir.path().join(".pipewright/cache"));
    let text = std::fs::read_to_string(release().join("compat.flow.json")).expect("the workflow");
    let workflow: Workflow = serde_json::from_str(&text).expect("a workflow");
    let options = RunOptions {
        base_dir: dir.path().to_path_buf(),
        disk_cache: Some(DiskCache::for_project(dir.path())),
        ..RunOptions::default()
    };
    let report = pipewright_engine::run(&workflow, &pipewright_nodes::catalog(), &options, &|_| {}).expect("runs");
    for node in ["select", "clean", "normalize", "indicators", "split", "train", "train_forest"] {
        let status = &report.node(node).expect("ran").status;
        assert_eq!(*status, NodeStatus::Cached { from_disk: true }, "{node} came from the 0.1 cache");
    }
    // The cached models predict: the packages written from them score like the 0.1 ones.
    assert!(report.nodes.iter().all(|n| n.status.is_success()), "{:?}", report.nodes);
    let package = Package::read(&dir.path().join("titanic-forest.pwmodel")).expect("written from the cached model");
    let before = Package::read(&release().join("titanic-forest.pwmodel")).expect("reads");
    assert_eq!(package.model.state, before.model.state, "the same fitted forest");
}

/// The release 0.1 logistic package as JSON, to damage.
fn package_json(name: &str) -> Json {
    let bytes = std::fs::read(release().join(format!("{name}.pwmodel"))).expect("reads");
    serde_json::from_slice(&bytes).expect("json")
}

fn refusal(json: &Json) -> String {
    match Package::from_bytes(&serde_json::to_vec(json).expect("bytes")) {
        Ok(_) => panic!("a damaged package loaded"),
        Err(PackageError::Format(message)) => message,
        Err(other) => panic!("not a format error: {other}"),
    }
}

#[test]
fn a_package_with_a_truncated_weight_list_is_refused_at_load() {
    let mut json = package_json("titanic-logistic");
    let block = json.pointer_mut("/model/state/blocks/0").and_then(Json::as_array_mut).expect("a coefficient block");
    block.pop();
    let message = refusal(&json);
    assert!(message.contains("the package's model") && message.contains("coefficient block"), "{message}");
    assert!(message.contains("damaged"), "{message}");
}

#[test]
fn a_forest_whose_tree_is_damaged_is_refused_at_load() {
    let mut json = package_json("titanic-forest");
    let nodes = json.pointer_mut("/model/state/trees/3/nodes").and_then(Json::as_array_mut).expect("tree 3");
    let split = nodes.iter_mut().find(|n| n["feature"] != json!(u32::MAX)).expect("a split");
    split["feature"] = json!(99);
    let message = refusal(&json);
    assert!(message.contains("tree 3 splits on feature 99"), "{message}");
    // A child that points back to the root would make a walk through the tree never end.
    let mut json = package_json("titanic-forest");
    let nodes = json.pointer_mut("/model/state/trees/0/nodes").and_then(Json::as_array_mut).expect("tree 0");
    let split = nodes.iter_mut().find(|n| n["feature"] != json!(u32::MAX)).expect("a split");
    split["left"] = json!(0);
    let message = refusal(&json);
    assert!(message.contains("tree 0 reaches node 0 twice"), "{message}");
}

#[test]
fn a_damaged_step_is_refused_at_load_naming_the_step() {
    let mut json = package_json("titanic-logistic");
    // Normalize Data is the second step; its scaling of the first column loses its number.
    let scaling = json.pointer_mut("/steps/1/state/columns/0").and_then(Json::as_object_mut).expect("a scaling");
    scaling.insert("scale".into(), json!("wide"));
    let message = refusal(&json);
    assert!(message.contains("step 2 (Normalize Data)"), "{message}");
}
