//! The typed result of a run: what `pipewright run --json` prints, what a cluster job writes to `result.json`
//! (and its log's result line), and what `pipewright submit` reads back — one struct on both sides, so neither
//! writes nor reads keys by hand.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::catalog::Device;
use crate::executor::{NodeStatus, RunReport};
use crate::value::Value;
use crate::workflow::Workflow;

/// How a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// It ran.
    Finished,
    /// Its outputs came from a cache.
    Cached,
    /// It failed (`error` says why).
    Failed,
    /// It did not run because an input failed or the run stopped (`error` says why).
    Skipped,
}

impl NodeState {
    /// How results and the run store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Cached => "cached",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// The state of a node's outcome.
    pub fn of(status: &NodeStatus) -> Self {
        match status {
            NodeStatus::Finished => Self::Finished,
            NodeStatus::Cached { .. } => Self::Cached,
            NodeStatus::Failed(_) => Self::Failed,
            NodeStatus::Skipped(_) => Self::Skipped,
        }
    }
}

/// Which cache a node's outputs came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheSource {
    /// The project's cache on disk.
    Disk,
    /// This process's memory.
    Memory,
}

/// One node of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResult {
    /// Node id.
    pub id: String,
    /// Its kind id.
    #[serde(default)]
    pub kind: String,
    /// How it ended.
    pub status: NodeState,
    /// Whether its outputs came from a cache.
    #[serde(default)]
    pub cache_hit: bool,
    /// Which cache, on a hit.
    #[serde(default)]
    pub cache: Option<CacheSource>,
    /// Wall time, seconds.
    #[serde(default)]
    pub duration_secs: f64,
    /// Where its kernels ran; none for cache hits, skipped nodes and blocks without kernels.
    #[serde(default)]
    pub device: Option<String>,
    /// Why it failed or was skipped.
    #[serde(default)]
    pub error: Option<String>,
    /// One-line summaries of its outputs.
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// An output a run wrote to a results folder (`pipewright run --results DIR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// The node that produced it.
    pub node: String,
    /// Its output port.
    pub port: String,
    /// model, transform, report or table.
    pub kind: String,
    /// Its path inside the results folder.
    pub file: String,
}

/// Metrics by node, then by evaluated input (`scored`, `scored_2`…), then by metric name.
pub type MetricsByNode = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The workflow's name.
    pub workflow: String,
    /// The workflow file, when it was run from one.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Whether every planned node finished or came from a cache.
    pub success: bool,
    /// Whether it was stopped.
    #[serde(default)]
    pub cancelled: bool,
    /// The device policy.
    #[serde(default)]
    pub device: Device,
    /// Wall time, seconds.
    #[serde(default)]
    pub duration_secs: f64,
    /// The planned nodes in the order they were planned.
    pub nodes: Vec<NodeResult>,
    /// The metrics of every block that reported some.
    #[serde(default)]
    pub metrics: MetricsByNode,
    /// The run's number in the project store, when it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    /// Outputs written to a results folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputFile>,
}

impl RunResult {
    /// The result of a finished run of `workflow`.
    pub fn of(workflow: &Workflow, file: Option<PathBuf>, report: &RunReport, device: Device) -> Self {
        let mut metrics = MetricsByNode::new();
        let kinds: std::collections::HashMap<&str, &str> =
            workflow.nodes.iter().map(|n| (n.id.as_str(), n.kind.as_str())).collect();
        let nodes = report
            .nodes
            .iter()
            .map(|n| {
                for value in n.outputs.iter() {
                    if let Value::Report(r) = value {
                        let by_source = metrics.entry(n.node.clone()).or_default();
                        for evaluation in &r.evaluations {
                            let values = by_source.entry(evaluation.source.clone()).or_default();
                            values.extend(evaluation.metrics.iter().map(|m| (m.name.clone(), m.value)));
                        }
                    }
                }
                let (cache, error) = match &n.status {
                    NodeStatus::Finished => (None, None),
                    NodeStatus::Cached { from_disk: true } => (Some(CacheSource::Disk), None),
                    NodeStatus::Cached { from_disk: false } => (Some(CacheSource::Memory), None),
                    NodeStatus::Failed(m) | NodeStatus::Skipped(m) => (None, Some(m.clone())),
                };
                let status = NodeState::of(&n.status);
                NodeResult {
                    id: n.node.clone(),
                    kind: kinds.get(n.node.as_str()).map(|k| (*k).to_owned()).unwrap_or_default(),
                    status,
                    cache_hit: cache.is_some(),
                    cache,
                    duration_secs: n.duration.as_secs_f64(),
                    device: n.device.clone(),
                    error,
                    outputs: n.summaries.clone(),
                }
            })
            .collect();
        Self {
            workflow: workflow.name.clone(),
            file,
            success: report.success,
            cancelled: report.cancelled,
            device,
            duration_secs: report.duration.as_secs_f64(),
            nodes,
            metrics,
            run: None,
            outputs: Vec::new(),
        }
    }

    /// Every metric as (node, source, name, value).
    pub fn metric_list(&self) -> Vec<(String, String, String, f64)> {
        self.metrics
            .iter()
            .flat_map(|(node, sources)| {
                sources.iter().flat_map(move |(source, values)| {
                    values.iter().map(move |(name, value)| (node.clone(), source.clone(), name.clone(), *value))
                })
            })
            .collect()
    }

    /// The first failed node's message, as `node "id" failed: message`.
    pub fn failure(&self) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| n.status == NodeState::Failed)
            .map(|n| format!("node \"{}\" failed: {}", n.id, n.error.as_deref().unwrap_or("no message")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_reads_back_what_it_wrote_and_names_its_failure() {
        let text = r#"{"workflow": "w", "success": false,
            "nodes": [{"id": "a", "status": "finished"}, {"id": "b", "status": "failed", "error": "no column"},
                      {"id": "c", "status": "cached", "cache_hit": true, "cache": "disk"}],
            "metrics": {"eval": {"scored": {"roc_auc": 0.5, "accuracy": 0.75}}}}"#;
        let result: RunResult = serde_json::from_str(text).expect("a result");
        assert_eq!(result.failure().as_deref(), Some("node \"b\" failed: no column"));
        assert_eq!(result.nodes[2].cache, Some(CacheSource::Disk));
        assert_eq!(
            result.metric_list(),
            vec![
                ("eval".into(), "scored".into(), "accuracy".into(), 0.75),
                ("eval".into(), "scored".into(), "roc_auc".into(), 0.5)
            ]
        );
        let again: RunResult = serde_json::from_value(serde_json::to_value(&result).expect("json")).expect("reads");
        assert_eq!(again, result);
        assert!(
            serde_json::from_str::<RunResult>(
                r#"{"workflow": "w", "success": true, "nodes": [{"id": "a", "status": "exploded"}]}"#
            )
            .is_err()
        );
    }
}
