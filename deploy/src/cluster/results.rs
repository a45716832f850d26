//! A job's results: written by the runner on the cluster (`pipewright run --results DIR`), read back by
//! `pipewright submit` from the bundle's folder or, where the cluster's files are out of reach, from the
//! job's log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value as Json, json};

use pipewright_engine::{NodeOutcome, write_atomic};

use super::ClusterError;
use super::bundle::Bundle;

/// The log line that carries the run's result (compact JSON after it), so engines whose files are out of
/// reach still give their metrics back through the log.
pub const RESULT_MARKER: &str = "pipewright-result: ";

/// The result file in a results folder.
pub const RESULT_FILE: &str = "result.json";

/// Writes a run's results into a folder as the run goes (`pipewright run --results DIR`): each block's
/// outputs that the run history keeps (`outputs/NODE.PORT.KIND`) the moment it is done — a headless run lets
/// go of intermediate values early — then `result.json`.
pub struct ResultsWriter {
    dir: PathBuf,
    ports: HashMap<String, Vec<String>>,
    listed: Mutex<Vec<Json>>,
    trouble: Mutex<Option<String>>,
}

impl ResultsWriter {
    /// A writer into `dir` (created); `ports` names each node's output ports.
    pub fn new(dir: &Path, ports: HashMap<String, Vec<String>>) -> Result<Self, ClusterError> {
        let outputs = dir.join("outputs");
        std::fs::create_dir_all(&outputs).map_err(|e| ClusterError::io(&outputs, e))?;
        Ok(Self { dir: dir.to_path_buf(), ports, listed: Mutex::default(), trouble: Mutex::default() })
    }

    /// Writes one finished block's outputs.
    pub fn node_done(&self, outcome: &NodeOutcome) {
        let ports = self.ports.get(&outcome.node).map_or(&[][..], Vec::as_slice);
        for (i, value) in outcome.outputs.iter().enumerate() {
            let Some((kind, bytes)) = pipewright_store::artifact_of(value) else { continue };
            let port = ports.get(i).cloned().unwrap_or_else(|| i.to_string());
            let file = format!("outputs/{}.{port}.{kind}", outcome.node);
            let path = self.dir.join(&file);
            match write_atomic(&path, &bytes) {
                Ok(()) => {
                    lock(&self.listed).push(json!({"node": outcome.node, "port": port, "kind": kind, "file": file}));
                }
                Err(e) => {
                    lock(&self.trouble).get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// Writes `result` (what `pipewright run --json` prints) with the outputs listed under `outputs` to
    /// `result.json`; returns it as written.
    pub fn finish(&self, mut result: Json) -> Result<Json, ClusterError> {
        result["outputs"] = Json::Array(lock(&self.listed).clone());
        let path = self.dir.join(RESULT_FILE);
        let text = serde_json::to_string_pretty(&result).unwrap_or_default() + "\n";
        write_atomic(&path, text.as_bytes())
            .map_err(|e| ClusterError::io(&path, std::io::Error::other(e.to_string())))?;
        match lock(&self.trouble).take() {
            Some(trouble) => {
                Err(ClusterError::io(&self.dir, std::io::Error::other(format!("an output was not written: {trouble}"))))
            }
            None => Ok(result),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What came back from a job.
#[derive(Debug, Clone, Default)]
pub struct JobResults {
    /// `result.json`: every block's status and time, the metrics, the outputs.
    pub result: Option<Json>,
    /// The results folder the outputs are in, when it could be read (shared with the cluster).
    pub dir: Option<PathBuf>,
    /// The job's log.
    pub log: String,
}

impl JobResults {
    /// The metrics: (node, source, name, value).
    pub fn metrics(&self) -> Vec<(String, String, String, f64)> {
        let mut out = Vec::new();
        let Some(Json::Object(nodes)) = self.result.as_ref().map(|r| &r["metrics"]) else { return out };
        for (node, sources) in nodes {
            let Json::Object(sources) = sources else { continue };
            for (source, metrics) in sources {
                let Json::Object(metrics) = metrics else { continue };
                for (name, value) in metrics {
                    if let Some(v) = value.as_f64() {
                        out.push((node.clone(), source.clone(), name.clone(), v));
                    }
                }
            }
        }
        out
    }

    /// The first failed block's message, as "node \"id\": message".
    pub fn failure(&self) -> Option<String> {
        let nodes = self.result.as_ref()?["nodes"].as_array()?;
        nodes.iter().find(|n| n["status"] == "failed").map(|n| {
            format!(
                "node \"{}\" failed: {}",
                n["id"].as_str().unwrap_or("?"),
                n["error"].as_str().unwrap_or("no message")
            )
        })
    }
}

/// Reads the results of the job that just ended: `results/result.json` in the bundle when it is there
/// (the folder is shared with the cluster), else the result line of the log.
pub(super) fn collect(bundle: &Bundle, log: String) -> JobResults {
    let dir = bundle.results_dir();
    let from_file = std::fs::read_to_string(dir.join(RESULT_FILE)).ok().and_then(|t| serde_json::from_str(&t).ok());
    if let Some(result) = from_file {
        return JobResults { result: Some(result), dir: Some(dir), log };
    }
    let result = log
        .lines()
        .rev()
        .find_map(|l| l.find(RESULT_MARKER).map(|i| &l[i + RESULT_MARKER.len()..]))
        .and_then(|t| serde_json::from_str(t).ok());
    JobResults { result, dir: None, log }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_failures_are_read_from_a_result() {
        let results = JobResults {
            result: Some(json!({
                "nodes": [{"id": "a", "status": "finished"}, {"id": "b", "status": "failed", "error": "no column"}],
                "metrics": {"eval": {"scored": {"auc": 0.5, "accuracy": 0.75}}},
            })),
            ..JobResults::default()
        };
        assert_eq!(
            results.metrics(),
            vec![
                ("eval".into(), "scored".into(), "auc".into(), 0.5),
                ("eval".into(), "scored".into(), "accuracy".into(), 0.75)
            ]
        );
        assert_eq!(results.failure().as_deref(), Some("node \"b\" failed: no column"));
    }
}
