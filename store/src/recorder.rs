//! Recording a run as it happens, for the designer and `pipewright run` alike: the run's start (with the
//! workflow as run), each node's result, metrics and artifacts the moment the node is done (so a run killed
//! half-way keeps what it finished), and how it ended.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Map, Value as Json};

use pipewright_engine::{Catalog, Device, Done, Event, NodeOutcome, NodeState, NodeStatus, RunReport, Value, Workflow};

use crate::{
    NodeArtifact, NodeMetric, NodeRecord, NodeResult, RunSource, RunStart, RunStatus, Store, StoreError, store_path,
};

/// Tables up to this many cells (rows × columns) are kept as artifacts; larger ones are the data itself,
/// which the workflow can recompute from its inputs.
pub const SMALL_TABLE_CELLS: usize = 100_000;

/// What a recording needs to know when the run starts.
#[derive(Debug, Clone, Copy)]
pub struct RecordStart<'a> {
    /// The project folder (its `.pipewright/project.db` is the store).
    pub project: &'a Path,
    /// The workflow file.
    pub workflow_file: &'a Path,
    /// The workflow as it runs (overrides applied).
    pub workflow: &'a Workflow,
    /// Parameter overrides as given (`node.param=value`).
    pub overrides: &'a [String],
    /// The device policy.
    pub device: Device,
    /// Who started the run.
    pub source: RunSource,
}

/// A run being recorded. Share it (it is `Sync`) between the run's event stream and the code that ends the run.
/// Nodes are written by a thread of its own, off the run's critical path, in the order they are done; ending
/// the run waits for it.
pub struct Recorder {
    inner: Arc<Inner>,
    /// Outcomes waiting for the writer thread; `None` once the run ended (or without a thread: written inline).
    queue: Mutex<Option<Sender<Finished>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// What the writer thread and the recorder share.
struct Inner {
    store: Store,
    run: i64,
    /// Per node: its kind and the names of its output ports.
    ports: HashMap<String, (String, Vec<&'static str>)>,
    recorded: Mutex<HashSet<String>>,
    /// The first thing that could not be recorded, reported when the run ends.
    trouble: Mutex<Option<String>>,
}

/// The experiment a workflow file's runs belong to: the file's name without `.flow.json`.
pub fn experiment_of(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".flow.json").map_or(name.clone(), str::to_owned)
}

/// An output value as an artifact: its kind and bytes. Learners (their parameters are in the snapshot) and
/// large tables are not kept. Tables are written as uncompressed Arrow IPC files: many are recorded and few are
/// read back, and Parquet's writer would spend longer deciding on each column's encoding than copying it.
pub fn artifact_of(value: &Value) -> Option<(&'static str, Vec<u8>)> {
    use polars::prelude::SerWriter;
    if !is_recorded(value) {
        return None;
    }
    match value {
        Value::Model(m) => Some(("model", serde_json::to_vec(m.as_ref()).ok()?)),
        Value::Transform(t) => Some(("transform", serde_json::to_vec(t.as_ref()).ok()?)),
        Value::Report(r) => Some(("report", serde_json::to_vec(r.as_ref()).ok()?)),
        Value::Table(t) => {
            let mut bytes = Vec::new();
            let mut frame = t.frame.clone();
            polars::prelude::IpcWriter::new(&mut bytes).with_parallel(false).finish(&mut frame).ok()?;
            Some(("table", bytes))
        }
        Value::Stream(_) | Value::Learner(_) => None,
    }
}

/// Whether a value is recorded with its run: models, transforms, reports and small tables. A larger table is
/// not (the workflow can read it again from its source), nor a streamed one, nor an untrained learner.
fn is_recorded(value: &Value) -> bool {
    match value {
        Value::Model(_) | Value::Transform(_) | Value::Report(_) => true,
        Value::Table(t) => t.frame.height().saturating_mul(t.frame.width()) <= SMALL_TABLE_CELLS,
        Value::Stream(_) | Value::Learner(_) => false,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recorder {
    /// Opens the project's store and records the start of the run.
    pub fn start(start: &RecordStart<'_>, catalog: &Catalog) -> Result<Self, StoreError> {
        let store = Store::open(&store_path(start.project))?;
        let overrides: Map<String, Json> = start
            .overrides
            .iter()
            .filter_map(|o| o.split_once('='))
            .map(|(k, v)| (k.to_owned(), Json::String(v.to_owned())))
            .collect();
        // Kept absolute, so the designer can restore a run into its file from any working folder.
        let file = std::fs::canonicalize(start.workflow_file).unwrap_or_else(|_| start.workflow_file.to_path_buf());
        let run = store.begin_run(&RunStart {
            experiment: &experiment_of(start.workflow_file),
            workflow_name: &start.workflow.name,
            workflow_file: &file.display().to_string(),
            snapshot: &start.workflow.to_json(),
            overrides: &Json::Object(overrides).to_string(),
            device: start.device.as_str(),
            source: start.source,
        })?;
        let ports = start
            .workflow
            .nodes
            .iter()
            .map(|n| {
                let names = catalog.get(&n.kind).map(|e| e.spec.outputs.iter().map(|p| p.name).collect());
                (n.id.clone(), (n.kind.clone(), names.unwrap_or_default()))
            })
            .collect();
        let inner = Arc::new(Inner { store, run, ports, recorded: Mutex::default(), trouble: Mutex::default() });
        let (queue, outcomes) = channel::<Finished>();
        let shared = inner.clone();
        let writer = std::thread::Builder::new()
            .name("pipewright-recorder".into())
            .spawn(move || {
                // What finished while the last batch was written goes into the next transaction together.
                while let Ok(first) = outcomes.recv() {
                    let batch: Vec<_> = std::iter::once(first).chain(outcomes.try_iter()).collect();
                    shared.nodes_done(&batch.iter().collect::<Vec<_>>());
                }
            })
            .ok();
        // Without a thread of its own, nodes are written as they are done, on the run's threads.
        let queue = writer.is_some().then_some(queue);
        Ok(Self { inner, queue: Mutex::new(queue), writer: Mutex::new(writer) })
    }

    /// The run's id in the store.
    pub fn run_id(&self) -> i64 {
        self.inner.run
    }

    /// The store it records into.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Subscribes to the run's events: records each node the moment it is done.
    pub fn on_event(&self, event: &Event) {
        if let Event::NodeDone(Done(outcome)) = event {
            self.node_done(outcome);
        }
    }

    /// Records one node's result, the metrics of its reports and its artifacts.
    pub fn node_done(&self, outcome: &NodeOutcome) {
        let finished = Finished::of(outcome);
        let unsent = match lock(&self.queue).as_ref() {
            Some(queue) => queue.send(finished).err().map(|e| e.0),
            None => Some(finished),
        };
        if let Some(finished) = unsent {
            self.inner.nodes_done(&[&finished]);
        }
    }

    /// Waits until every node handed over so far is written.
    fn drain(&self) {
        drop(lock(&self.queue).take());
        if let Some(writer) = lock(&self.writer).take() {
            let _ = writer.join();
        }
    }
}

/// What the recorder keeps of a finished node until it is written: the outcome with only the outputs that are
/// recorded (a large table is not, and must not be kept alive: the block reading it next may change it in place),
/// each with its port number.
struct Finished {
    outcome: NodeOutcome,
    ports: Vec<usize>,
}

impl Finished {
    fn of(outcome: &NodeOutcome) -> Self {
        let (ports, outputs): (Vec<usize>, Vec<Value>) =
            outcome.outputs.iter().enumerate().filter(|(_, v)| is_recorded(v)).map(|(i, v)| (i, v.clone())).unzip();
        Self { outcome: NodeOutcome { outputs: Arc::new(outputs), ..outcome.clone() }, ports }
    }
}

impl Inner {
    /// Records the nodes not recorded yet, in one transaction.
    fn nodes_done(&self, outcomes: &[&Finished]) {
        let fresh: Vec<&Finished> = {
            let mut recorded = lock(&self.recorded);
            outcomes.iter().copied().filter(|o| recorded.insert(o.outcome.node.clone())).collect()
        };
        if fresh.is_empty() {
            return;
        }
        if let Err(e) = self.record(&fresh) {
            lock(&self.trouble).get_or_insert_with(|| e.to_string());
        }
    }

    fn record(&self, outcomes: &[&Finished]) -> Result<(), StoreError> {
        let rows: Vec<NodeRecord> = outcomes.iter().map(|f| self.row_of(&f.outcome)).collect();
        let mut results = Vec::with_capacity(outcomes.len());
        for (f, node) in outcomes.iter().zip(&rows) {
            let ports = self.ports.get(&f.outcome.node).map_or(&[][..], |(_, p)| p.as_slice());
            let mut metrics = Vec::new();
            let mut artifacts = Vec::new();
            for (&i, value) in f.ports.iter().zip(f.outcome.outputs.iter()) {
                if let Value::Report(r) = value {
                    for e in &r.evaluations {
                        metrics.extend(e.metrics.iter().map(|m| NodeMetric {
                            source: &e.source,
                            name: &m.name,
                            value: m.value,
                        }));
                    }
                }
                if let Some((kind, bytes)) = artifact_of(value) {
                    let staged = self.store.stage_artifact(bytes)?;
                    let port = ports.get(i).map_or_else(|| i.to_string(), |p| (*p).to_owned());
                    artifacts.push(NodeArtifact { port, kind, staged });
                }
            }
            results.push(NodeResult { node, metrics, artifacts });
        }
        // One transaction: once a node's row is there, so are its metrics and artifacts, even if the process
        // dies.
        self.store.record_node_results(self.run, &results)
    }

    /// A node's row.
    fn row_of(&self, n: &NodeOutcome) -> NodeRecord {
        let error = match &n.status {
            NodeStatus::Failed(m) | NodeStatus::Skipped(m) => Some(m.clone()),
            NodeStatus::Finished | NodeStatus::Cached { .. } => None,
        };
        NodeRecord {
            node: n.node.clone(),
            kind: self.ports.get(&n.node).map(|(k, _)| k.clone()).unwrap_or_default(),
            status: NodeState::of(&n.status).as_str().into(),
            duration_secs: n.duration.as_secs_f64(),
            cache_hit: matches!(n.status, NodeStatus::Cached { .. }),
            device: n.device.clone(),
            error,
        }
    }
}

impl Recorder {
    /// Records the nodes not yet recorded (those skipped) and how the run ended. Returns what could not be
    /// recorded, if anything.
    pub fn finish(&self, report: &RunReport) -> Result<(), StoreError> {
        self.drain();
        let finished: Vec<Finished> = report.nodes.iter().map(Finished::of).collect();
        self.inner.nodes_done(&finished.iter().collect::<Vec<_>>());
        let status = if report.cancelled {
            RunStatus::Cancelled
        } else if report.success {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        self.end(status)
    }

    /// Records how the run ended when it ended without a report (it could not start after all).
    pub fn end(&self, status: RunStatus) -> Result<(), StoreError> {
        self.drain();
        self.inner.store.finish_run(self.inner.run, status)?;
        match lock(&self.inner.trouble).take() {
            Some(trouble) => Err(StoreError::Invalid(format!("the run's record is incomplete: {trouble}"))),
            None => Ok(()),
        }
    }
}
