//! Every `pipewright run` inside a project is recorded in its store (`.pipewright/project.db`) without the
//! user asking: the workflow as run, the overrides, the device, each node's result and the metrics.

use std::path::Path;

use serde_json::{Map, Value as Json};

use pipewright_engine::{Device, NodeStatus, RunReport, Value, Workflow};
use pipewright_store::{NodeRecord, RunSource, RunStart, RunStatus, Store, store_path};

/// A run being recorded.
pub struct Recorder {
    store: Store,
    run: i64,
}

/// The experiment a workflow file's runs belong to: the file's name without `.flow.json`.
fn experiment_of(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".flow.json").map_or(name.clone(), str::to_owned)
}

impl Recorder {
    /// Opens the project's store and records the start of the run. A store that cannot be used (a foreign
    /// file in its place, a newer schema) is reported and left alone; the run goes on unrecorded.
    pub fn start(
        project: &Path,
        path: &Path,
        workflow: &Workflow,
        overrides: &[String],
        device: Device,
    ) -> Option<Self> {
        let store = match Store::open(&store_path(project)) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("warning: this run is not recorded: {e}");
                return None;
            }
        };
        let overrides: Map<String, Json> = overrides
            .iter()
            .filter_map(|o| o.split_once('='))
            .map(|(k, v)| (k.to_owned(), Json::String(v.to_owned())))
            .collect();
        let start = RunStart {
            experiment: &experiment_of(path),
            workflow_name: &workflow.name,
            workflow_file: &path.display().to_string(),
            snapshot: &workflow.to_json(),
            overrides: &Json::Object(overrides).to_string(),
            device: device.as_str(),
            source: RunSource::Cli,
        };
        match store.begin_run(&start) {
            Ok(run) => Some(Self { store, run }),
            Err(e) => {
                eprintln!("warning: this run is not recorded: {e}");
                None
            }
        }
    }

    /// The run's id in the store.
    pub fn run_id(&self) -> i64 {
        self.run
    }

    /// Records every node's result and the metrics, then how the run ended.
    pub fn finish(self, workflow: &Workflow, report: &RunReport) {
        let result = (|| {
            for n in &report.nodes {
                let (status, error) = match &n.status {
                    NodeStatus::Finished => ("finished", None),
                    NodeStatus::Cached { .. } => ("cached", None),
                    NodeStatus::Failed(m) => ("failed", Some(m.clone())),
                    NodeStatus::Skipped(m) => ("skipped", Some(m.clone())),
                };
                let record = NodeRecord {
                    node: n.node.clone(),
                    kind: workflow.node(&n.node).map(|w| w.kind.clone()).unwrap_or_default(),
                    status: status.into(),
                    duration_secs: n.duration.as_secs_f64(),
                    cache_hit: matches!(n.status, NodeStatus::Cached { .. }),
                    device: n.device.clone(),
                    error,
                };
                self.store.record_node(self.run, &record)?;
                for value in n.outputs.iter() {
                    if let Value::Report(r) = value {
                        for e in &r.evaluations {
                            for m in &e.metrics {
                                self.store.record_metric(self.run, &n.node, &e.source, &m.name, m.value, None)?;
                            }
                        }
                    }
                }
            }
            let status = if report.cancelled {
                RunStatus::Cancelled
            } else if report.success {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            self.store.finish_run(self.run, status)
        })();
        if let Err(e) = result {
            eprintln!("warning: the run's record is incomplete: {e}");
        }
    }
}
