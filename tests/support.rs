//! Helpers for the end-to-end tests: paths of the repository, the scikit-learn fixtures, and running
//! an example project in a scratch copy so that tests never write into the repository.

pub mod cluster;

use std::path::{Path, PathBuf};

use pipewright_engine::{DiskCache, MemoryCache, RunOptions, RunReport, Value, Workflow};
use serde_json::Value as Json;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The scikit-learn reference values (`tests/fixtures/sklearn_reference.json`).
pub fn fixtures() -> Json {
    let path = repo_root().join("tests/fixtures/sklearn_reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An example project's workflow.
pub fn example(name: &str) -> Workflow {
    let folder = repo_root().join("projects").join(name);
    let path = pipewright_engine::find_workflow(&folder).unwrap_or_else(|e| panic!("{e}"));
    Workflow::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A scratch project folder with its own disk cache.
pub struct Scratch {
    /// The folder (deleted on drop).
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A new empty project folder.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")) }
    }

    /// Runs a workflow as a fresh process would: empty memory cache, the project's disk cache.
    pub fn run(&self, workflow: &Workflow) -> RunReport {
        let options = RunOptions {
            base_dir: self.dir.path().to_path_buf(),
            disk_cache: Some(DiskCache::for_project(self.dir.path())),
            memory_cache: Some(std::sync::Arc::new(MemoryCache::new())),
            ..RunOptions::default()
        };
        pipewright_engine::run(workflow, &pipewright_nodes::catalog(), &options, &|_| {})
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A metric of one evaluation (`scored` or `scored_2`) of an Evaluate node.
pub fn metric(report: &RunReport, node: &str, source: &str, name: &str) -> f64 {
    let outcome = report.node(node).unwrap_or_else(|| panic!("no node {node}"));
    let Some(Value::Report(r)) = outcome.outputs.first() else { panic!("{node} has no report: {:?}", outcome.status) };
    let evaluation =
        r.evaluations.iter().find(|e| e.source == source).unwrap_or_else(|| panic!("{node} has no {source}"));
    evaluation.metric(name).unwrap_or_else(|| panic!("{node}.{source} has no {name}"))
}

/// Asserts `actual` is within `tolerance` of `expected`.
pub fn assert_close(what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, scikit-learn {expected}, tolerance {tolerance}"
    );
}

/// A number from the fixtures by a `/`-separated path.
pub fn fixture_number(fixtures: &Json, path: &str) -> f64 {
    fixtures.pointer(&format!("/{path}")).and_then(Json::as_f64).unwrap_or_else(|| panic!("fixture {path} missing"))
}
