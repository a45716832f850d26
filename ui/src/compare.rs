//! Comparing recorded runs: what differed in how they ran (parameters with the kinds' defaults filled in,
//! blocks present in some runs only, seed, device) and what came out (every metric side by side, the ROC
//! curves of their reports).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use pipewright_engine::{Catalog, Curve, Report, Workflow};
use pipewright_store::{RunRecord, Store};

use crate::output::scalar_text;

/// One setting whose value differs between the compared runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// The node id, or `workflow`/`run` for settings of the whole run.
    pub node: String,
    /// The parameter.
    pub param: String,
    /// Its value in each run; `None` where the run had no such block.
    pub values: Vec<Option<String>>,
}

/// One metric in the compared runs.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// The evaluating node.
    pub node: String,
    /// The evaluated input.
    pub source: String,
    /// Metric name.
    pub name: String,
    /// Its value in each run.
    pub values: Vec<Option<f64>>,
}

/// A ROC curve of one run's report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurve {
    /// Position of its run in the comparison.
    pub index: usize,
    /// Legend text: run number, node and input.
    pub label: String,
    /// The curve.
    pub curve: Curve,
    /// Its AUC, when the report has one.
    pub auc: Option<f64>,
}

/// Two or more runs side by side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// The runs, oldest first.
    pub runs: Vec<RunRecord>,
    /// Settings that differ.
    pub params: Vec<ParamRow>,
    /// Every metric of any of the runs.
    pub metrics: Vec<MetricRow>,
    /// The ROC curves of their reports.
    pub roc: Vec<RunCurve>,
    /// What could not be read (a damaged snapshot or artifact), for the user to see.
    pub problems: Vec<String>,
}

/// Every setting of a workflow as (node, param) → text, with each kind's defaults filled in so that an
/// explicit default and an omitted parameter compare equal.
fn settings_of(workflow: &Workflow, catalog: &Catalog) -> BTreeMap<(String, String), String> {
    let mut settings = BTreeMap::new();
    settings.insert(("workflow".to_owned(), "seed".to_owned()), workflow.seed.to_string());
    for node in &workflow.nodes {
        settings.insert((node.id.clone(), "kind".to_owned()), node.kind.clone());
        if let Some(entry) = catalog.get(&node.kind) {
            for p in &entry.spec.params {
                let value = node.params.get(p.name).unwrap_or(&p.default);
                settings.insert((node.id.clone(), p.name.to_owned()), value_text(value));
            }
        }
        for (name, value) in &node.params {
            settings.entry((node.id.clone(), name.clone())).or_insert_with(|| value_text(value));
        }
    }
    settings
}

fn value_text(value: &Json) -> String {
    match value {
        Json::Null => "(default)".to_owned(),
        Json::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(", "),
        other => scalar_text(other),
    }
}

/// Compares `runs` (in the order given) from the project's store.
pub fn compare(store: &Store, catalog: &Catalog, runs: &[i64]) -> Comparison {
    let mut comparison = Comparison::default();
    let mut settings = Vec::new();
    for &id in runs {
        let record = match store.run(id) {
            Ok(Some(record)) => record,
            Ok(None) => {
                comparison.problems.push(format!("run {id} is no longer in the store"));
                continue;
            }
            Err(e) => {
                comparison.problems.push(format!("run {id}: {e}"));
                continue;
            }
        };
        let mut these = match store.snapshot_of(id).map(|s| s.map(|(snapshot, _)| Workflow::from_json(&snapshot))) {
            Ok(Some(Ok(workflow))) => settings_of(&workflow, catalog),
            Ok(Some(Err(e))) => {
                comparison.problems.push(format!("run {id}: its workflow snapshot cannot be read: {e}"));
                BTreeMap::new()
            }
            Ok(None) | Err(_) => BTreeMap::new(),
        };
        these.insert(("run".to_owned(), "device".to_owned()), record.device.clone());
        settings.push(these);
        comparison.runs.push(record);
    }
    let keys: BTreeSet<&(String, String)> = settings.iter().flat_map(BTreeMap::keys).collect();
    for key in keys {
        let values: Vec<Option<String>> = settings.iter().map(|s| s.get(key).cloned()).collect();
        if values.windows(2).any(|w| w[0] != w[1]) {
            comparison.params.push(ParamRow { node: key.0.clone(), param: key.1.clone(), values });
        }
    }
    let n = comparison.runs.len();
    for (i, record) in comparison.runs.iter().enumerate() {
        for (node, source, name, value) in store.metrics_of(record.id).unwrap_or_default() {
            let at = comparison.metrics.iter().position(|r| r.node == node && r.source == source && r.name == name);
            let at = at.unwrap_or_else(|| {
                comparison.metrics.push(MetricRow { node, source, name, values: vec![None; n] });
                comparison.metrics.len() - 1
            });
            let row = &mut comparison.metrics[at];
            row.values[i] = Some(value);
        }
        for artifact in store.artifacts_of(record.id).unwrap_or_default().into_iter().filter(|a| a.kind == "report") {
            let report = store
                .read_artifact(&artifact.hash)
                .and_then(|bytes| serde_json::from_slice::<Report>(&bytes).map_err(|e| invalid(&e)));
            let report = match report {
                Ok(report) => report,
                Err(e) => {
                    comparison.problems.push(format!("run {}: the report of {}: {e}", record.id, artifact.node));
                    continue;
                }
            };
            for evaluation in &report.evaluations {
                for curve in evaluation.curves.iter().filter(|c| c.name == "roc") {
                    comparison.roc.push(RunCurve {
                        index: i,
                        label: format!("run {} · {} · {}", record.id, artifact.node, evaluation.source),
                        curve: curve.clone(),
                        auc: evaluation.metric("roc_auc"),
                    });
                }
            }
        }
    }
    comparison
}

fn invalid(e: &serde_json::Error) -> pipewright_store::StoreError {
    pipewright_store::StoreError::Invalid(format!("not a report ({e})"))
}
