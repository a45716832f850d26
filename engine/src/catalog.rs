//! The node-kind trait and the catalog that maps kind ids to kinds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::NodeError;
use crate::params::Params;
use crate::schema::Schema;
use crate::spec::NodeSpec;
use crate::value::{Learner, Model, Report, Table, Transform, Value};

/// Where compute-heavy kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// A GPU when one exists and the work pays off, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// A GPU adapter, failing when there is none.
    Gpu,
}

impl Device {
    /// `auto`, `cpu` or `gpu`, as the CLI and the settings spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!("unknown device \"{other}\": use auto, cpu or gpu")),
        }
    }
}

/// Shared flag that stops a run: nodes not yet started never start, running ones stop at their next check.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where a running node's kernels ran, as the node reports it ("cpu", "gpu: NVIDIA H100 (vulkan, discrete)").
/// A GPU report is kept over later CPU ones: the node used the GPU.
#[derive(Debug, Default)]
pub struct DeviceRecord(std::sync::Mutex<Option<String>>);

impl DeviceRecord {
    /// Notes that a kernel ran on `label`.
    pub fn record(&self, label: &str) {
        let mut used = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if used.as_deref().is_none_or(|u| !u.starts_with("gpu")) {
            *used = Some(label.to_owned());
        }
    }

    /// What was recorded, if the node used a kernel.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Where a run comes from, for blocks that write it into what they produce (a model package's manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The workflow file, when the workflow was run from one.
    pub workflow: Option<std::path::PathBuf>,
    /// The run's id in the project store, when the run is recorded.
    pub run: Option<i64>,
}

/// A table input as it came: whole in memory, or streamed.
#[derive(Debug, Clone)]
pub enum Rows {
    /// In memory.
    Table(Arc<Table>),
    /// Read from its source a batch at a time.
    Stream(Arc<crate::stream::TableStream>),
}

/// Everything a node sees while it runs.
pub struct NodeContext<'a> {
    /// The node id, for messages.
    pub node_id: &'a str,
    /// Resolved parameters.
    pub params: &'a Params,
    /// Input values in port order; `None` for unconnected optional ports.
    pub inputs: Inputs,
    /// The folder relative paths are resolved against (the workflow file's folder).
    pub base_dir: &'a Path,
    /// The device policy of the run.
    pub device: Device,
    /// Where the node's kernels ran; blocks that use the compute kernels record it here.
    pub device_used: &'a DeviceRecord,
    /// Stop flag.
    pub cancel: &'a CancelToken,
    /// Progress callback: a fraction in 0..=1 and a short message.
    pub progress: &'a (dyn Fn(f32, &str) + Sync),
    /// The kind's spec, for port names in messages.
    pub spec: &'a NodeSpec,
    /// The workflow file and the recorded run, when known.
    pub provenance: &'a Provenance,
    /// Bytes a block may hold in memory; a table read from a larger file is streamed.
    pub memory_budget: u64,
    /// Where tables that do not fit the budget go on disk.
    pub spill: &'a crate::spill::SpillDir,
}

/// A block's input values in port order, each `None` for an unconnected optional port. A table that the run
/// hands over to its last reader can be taken out ([`NodeContext::take_table`]) and changed in place.
#[derive(Debug, Default)]
pub struct Inputs {
    values: std::sync::Mutex<Vec<Option<Value>>>,
    taken: std::sync::Mutex<Vec<usize>>,
}

impl From<Vec<Option<Value>>> for Inputs {
    fn from(values: Vec<Option<Value>>) -> Self {
        Self { values: std::sync::Mutex::new(values), taken: std::sync::Mutex::default() }
    }
}

impl Inputs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Value>>> {
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The values still held (a taken table is `None`).
    pub fn snapshot(&self) -> Vec<Option<Value>> {
        self.lock().clone()
    }

    fn get(&self, index: usize) -> Option<Value> {
        self.lock().get(index).cloned().flatten()
    }

    fn was_taken(&self, index: usize) -> bool {
        self.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&index)
    }

    /// The table at `index`, out of the inputs: the only reference to it when the run handed it over.
    fn take_table(&self, index: usize) -> Option<Arc<Table>> {
        let mut values = self.lock();
        let slot = values.get_mut(index)?;
        match slot {
            // A table without rows stays: the messages about empty tables read it after the block ran.
            Some(Value::Table(t)) if t.height() > 0 => {}
            _ => return None,
        }
        let Some(Value::Table(table)) = slot.take() else { return None };
        self.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(index);
        Some(table)
    }
}

impl NodeContext<'_> {
    fn port_index(&self, port: &str) -> Result<usize, NodeError> {
        let (index, _) = self
            .spec
            .input_port(port)
            .ok_or_else(|| NodeError::Input { port: port.into(), message: "no such port".into() })?;
        Ok(index)
    }

    fn input(&self, port: &str) -> Result<Option<Value>, NodeError> {
        let index = self.port_index(port)?;
        if self.inputs.was_taken(index) {
            return Err(NodeError::Data(format!(
                "internal error: input \"{port}\" was read after the block took it (please report this)"
            )));
        }
        Ok(self.inputs.get(index))
    }

    fn required(&self, port: &str) -> Result<Value, NodeError> {
        self.input(port)?.ok_or_else(|| NodeError::Input { port: port.into(), message: "not connected".into() })
    }

    /// A required table input for a block whose output is this table changed: taken out of the inputs, so that
    /// when the run handed it over (this block is its last reader and nothing else holds it) its columns can be
    /// changed in place without a copy. Otherwise it shares its columns with the input, and a changed column is
    /// a new one. A streamed table is read whole. The port cannot be read again after this.
    pub fn take_table(&self, port: &str) -> Result<Table, NodeError> {
        let index = self.port_index(port)?;
        if let Some(table) = self.inputs.take_table(index) {
            return Ok(Arc::unwrap_or_clone(table));
        }
        match self.required(port)? {
            Value::Table(t) => Ok(Arc::unwrap_or_clone(t)),
            Value::Stream(s) => self.collect(&s),
            other => Err(Self::wrong(port, "Table", &other)),
        }
    }

    fn wrong(port: &str, expected: &str, got: &Value) -> NodeError {
        NodeError::Input {
            port: port.into(),
            message: format!("expected a {expected}, got a {}", got.port_type().label()),
        }
    }

    /// A required table input, in memory: a streamed table is read whole (its batches stacked).
    pub fn table(&self, port: &str) -> Result<Arc<Table>, NodeError> {
        match self.required(port)? {
            Value::Table(t) => Ok(t),
            Value::Stream(s) => Ok(Arc::new(self.collect(&s)?)),
            other => Err(Self::wrong(port, "Table", &other)),
        }
    }

    /// An optional table input, in memory or streamed.
    pub fn optional_rows(&self, port: &str) -> Result<Option<Rows>, NodeError> {
        match self.input(port)? {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Rows::Table(t))),
            Some(Value::Stream(s)) => Ok(Some(Rows::Stream(s))),
            Some(other) => Err(Self::wrong(port, "Table", &other)),
        }
    }

    /// An optional table input, in memory.
    pub fn optional_table(&self, port: &str) -> Result<Option<Arc<Table>>, NodeError> {
        match self.input(port)? {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(Value::Stream(s)) => Ok(Some(Arc::new(s.collect()?))),
            Some(other) => Err(Self::wrong(port, "Table", &other)),
        }
    }

    /// A required table input as it came: in memory, or streamed for a block that works row by row.
    pub fn rows(&self, port: &str) -> Result<Rows, NodeError> {
        match self.required(port)? {
            Value::Table(t) => Ok(Rows::Table(t)),
            Value::Stream(s) => Ok(Rows::Stream(s)),
            other => Err(Self::wrong(port, "Table", &other)),
        }
    }

    /// A required table input as it came, for a block whose outputs are made from its columns: in memory, taken
    /// out of the inputs as [`take_table`](Self::take_table) does (the `Arc` is then the only reference to it
    /// when the run handed the table over), or streamed.
    pub fn take_rows(&self, port: &str) -> Result<Rows, NodeError> {
        match self.rows(port)? {
            Rows::Table(table) => {
                drop(table);
                Ok(Rows::Table(Arc::new(self.take_table(port)?)))
            }
            stream @ Rows::Stream(_) => Ok(stream),
        }
    }

    /// A required learner input.
    pub fn learner(&self, port: &str) -> Result<Arc<Learner>, NodeError> {
        match self.required(port)? {
            Value::Learner(l) => Ok(l),
            other => Err(Self::wrong(port, "Learner", &other)),
        }
    }

    /// A required model input.
    pub fn model(&self, port: &str) -> Result<Arc<Model>, NodeError> {
        match self.required(port)? {
            Value::Model(m) => Ok(m),
            other => Err(Self::wrong(port, "Model", &other)),
        }
    }

    /// A required transform input.
    pub fn transform(&self, port: &str) -> Result<Arc<Transform>, NodeError> {
        match self.required(port)? {
            Value::Transform(t) => Ok(t),
            other => Err(Self::wrong(port, "Transform", &other)),
        }
    }

    /// An optional transform input.
    pub fn optional_transform(&self, port: &str) -> Result<Option<Arc<Transform>>, NodeError> {
        match self.input(port)? {
            None => Ok(None),
            Some(Value::Transform(t)) => Ok(Some(t)),
            Some(other) => Err(Self::wrong(port, "Transform", &other)),
        }
    }

    /// An optional report input.
    pub fn optional_report(&self, port: &str) -> Result<Option<Arc<Report>>, NodeError> {
        match self.input(port)? {
            None => Ok(None),
            Some(Value::Report(r)) => Ok(Some(r)),
            Some(other) => Err(Self::wrong(port, "Report", &other)),
        }
    }

    /// A path parameter resolved against the workflow's folder.
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    /// A file a block reads, on this machine: a local path resolved against the workflow's folder, or, for an
    /// `http(s)://` or `s3://` address, the up-to-date copy in the project's download cache (downloaded with
    /// progress when the server says it changed; Stop ends the download).
    pub fn local_file(&self, path: &str) -> Result<PathBuf, NodeError> {
        if !crate::remote::is_remote(path) {
            return Ok(self.resolve_path(path));
        }
        let started = std::time::Instant::now();
        let mut progress = |received: u64, total: Option<u64>| {
            if self.cancel.is_cancelled() {
                return Err("stopped".to_owned());
            }
            let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
            let (fraction, message) = match total {
                Some(total) if total > 0 => {
                    (received as f32 / total as f32, format!("downloading {}: {} of {}", path, mb(received), mb(total)))
                }
                _ => (0.0, format!("downloading {}: {}", path, mb(received))),
            };
            if started.elapsed().as_millis() > 200 {
                self.report_progress(fraction, &message);
            }
            Ok(())
        };
        crate::remote::fetch(path, self.base_dir, &mut progress)
            .map_err(|e| if self.cancel.is_cancelled() { NodeError::Cancelled } else { NodeError::Io(e) })
    }

    /// Returns `Err(Cancelled)` when the run was stopped; call it between chunks of long work.
    pub fn check_cancelled(&self) -> Result<(), NodeError> {
        if self.cancel.is_cancelled() { Err(NodeError::Cancelled) } else { Ok(()) }
    }

    /// Reports progress.
    pub fn report_progress(&self, fraction: f32, message: &str) {
        (self.progress)(fraction.clamp(0.0, 1.0), message);
    }

    /// Every row of `stream` in memory, read with progress (Stop ends it between batches).
    pub fn collect(&self, stream: &crate::stream::TableStream) -> Result<Table, NodeError> {
        let mut frame: Option<polars::prelude::DataFrame> = None;
        for batch in self.read(stream, "reading into memory")? {
            let batch = batch?;
            match &mut frame {
                None => frame = Some(batch),
                Some(all) => {
                    all.vstack_mut(&batch)?;
                }
            }
        }
        let mut frame = frame.unwrap_or_default();
        frame.rechunk_mut();
        Ok(stream.table_of(frame))
    }

    /// The batches of `stream` for a pass named `what` ("pass 3"), reporting as they are read, at most twice a
    /// second: the rows read, the rows per second and, when the source knows about how many it holds, the
    /// fraction done and the time left. Stop ends the pass between batches.
    pub fn read<'s>(
        &'s self,
        stream: &'s crate::stream::TableStream,
        what: &str,
    ) -> Result<crate::stream::Batches<'s>, NodeError> {
        let total = stream.rows_hint();
        let started = std::time::Instant::now();
        let mut shown = started;
        let mut rows = 0usize;
        let what = what.to_owned();
        let progress = self.progress;
        let cancel = self.cancel;
        Ok(Box::new(stream.counted_batches()?.map(move |batch| {
            if cancel.is_cancelled() {
                return Err(NodeError::Cancelled);
            }
            let (frame, read) = batch?;
            let first = rows == 0;
            rows += read;
            // The first batch names the pass at once; then twice a second at most.
            if first || shown.elapsed() >= std::time::Duration::from_millis(500) {
                shown = std::time::Instant::now();
                let (fraction, message) = reading_progress(&what, rows, total, started.elapsed());
                progress(fraction, &message);
            }
            Ok(frame)
        })))
    }
}

/// What a pass that has read `rows` rows (of about `total`) in `elapsed` says: the fraction done and a line
/// such as "pass 2: 1,200,000 of 4,000,000 rows, 850,000 rows/s, about 3 s left".
pub fn reading_progress(what: &str, rows: usize, total: Option<usize>, elapsed: std::time::Duration) -> (f32, String) {
    let rate = rows as f64 / elapsed.as_secs_f64().max(1e-3);
    let rate_text = format!("{} rows/s", group_digits(rate as usize));
    // Too early for a rate worth reading: how far, alone.
    if elapsed < std::time::Duration::from_millis(250) {
        return match total.filter(|&t| t > 0) {
            Some(total) => (
                (rows as f64 / total as f64).min(1.0) as f32,
                format!("{what}: {} of about {} rows", group_digits(rows), group_digits(total)),
            ),
            None => (0.0, format!("{what}: {} rows", group_digits(rows))),
        };
    }
    match total.filter(|&t| t > 0) {
        Some(total) => {
            let fraction = (rows as f64 / total as f64).min(1.0);
            let left = (total.saturating_sub(rows)) as f64 / rate.max(1.0);
            let left = if left < 60.0 { format!("{left:.0} s") } else { format!("{:.0} min", left / 60.0) };
            let message = format!(
                "{what}: {} of about {} rows, {rate_text}, about {left} left",
                group_digits(rows),
                group_digits(total)
            );
            (fraction as f32, message)
        }
        None => (0.0, format!("{what}: {} rows, {rate_text}", group_digits(rows))),
    }
}

/// `1234567` as "1,234,567".
fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod reading_tests {
    use super::*;

    #[test]
    fn a_pass_reports_rows_rate_and_time_left() {
        let (fraction, message) =
            reading_progress("pass 2", 1_200_000, Some(4_000_000), std::time::Duration::from_secs(2));
        assert!((fraction - 0.3).abs() < 1e-6);
        assert_eq!(message, "pass 2: 1,200,000 of about 4,000,000 rows, 600,000 rows/s, about 5 s left");
        let (_, message) = reading_progress("reading", 999, None, std::time::Duration::from_secs(1));
        assert_eq!(message, "reading: 999 rows, 999 rows/s");
        let (_, message) = reading_progress("pass 1", 1_000, Some(1_000_000), std::time::Duration::from_secs(1));
        assert!(message.ends_with("about 17 min left"), "{message}");
        let (_, message) = reading_progress("pass 3", 1_000, Some(4_000), std::time::Duration::from_millis(10));
        assert_eq!(message, "pass 3: 1,000 of about 4,000 rows", "no rate from the first moments of a pass");
    }
}

/// What schema propagation may look at besides the input schemas.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaEnv<'a> {
    /// The folder relative paths resolve against, when the workflow has a file.
    pub base_dir: Option<&'a Path>,
}

/// A node kind. Declare it once: its spec, optionally its output schemas, and how it runs.
pub trait NodeKind: Send + Sync {
    /// The declaration. Called once, when the kind is registered.
    fn spec(&self) -> NodeSpec;

    /// Output schemas from input schemas (`None` where unknown), before anything runs; a kind that
    /// reads a file may peek at it through `env`. The default knows nothing.
    fn output_schemas(
        &self,
        _inputs: &[Option<Schema>],
        _params: &Params,
        _env: &SchemaEnv<'_>,
    ) -> Vec<Option<Schema>> {
        Vec::new()
    }

    /// Runs the node: one value per output port, in order.
    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError>;

    /// How the block's work splits into independent units a cluster can run at once (a sweep's settings ×
    /// folds); `None` for a block that runs as one piece. A block that has one runs through it locally too
    /// ([`crate::fan_out::run_here`]), unless its units are rows scored one by one (Batch Score), whose
    /// partitions stacked are the table scored whole.
    fn fan_out(&self) -> Option<&dyn crate::fan_out::FanOut> {
        None
    }

    /// For a block that trains over shards ([`NodeSpec::trains_over_shards`]): what its shards carry of its
    /// training rows `data` for `learner`, or why it cannot train over shards.
    fn sharded_training(
        &self,
        _learner: &Learner,
        _data: &Table,
        _params: &Params,
    ) -> Result<ShardedTraining, NodeError> {
        Err(NodeError::data("this block does not train over shards"))
    }

    /// A block that trains over shards: its outputs from the model its data-parallel fit made and its training
    /// rows. The default: the model alone.
    fn outputs_of_fit(&self, model: Model, _data: &Table) -> Result<Vec<Value>, NodeError> {
        Ok(vec![Value::Model(Arc::new(model))])
    }
}

/// What the shards of a block that trains over shards carry: its label (empty: none, a clustering) and the
/// columns of its rows (empty: every one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedTraining {
    /// The label column, or empty.
    pub label: String,
    /// The columns the shards hold; empty for every column.
    pub columns: Vec<String>,
}

/// A kind registered by reference (a registry keeping it for its other capabilities) is the same kind.
impl<K: NodeKind + ?Sized> NodeKind for &'static K {
    fn spec(&self) -> NodeSpec {
        (**self).spec()
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        (**self).output_schemas(inputs, params, env)
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        (**self).run(ctx)
    }

    fn fan_out(&self) -> Option<&dyn crate::fan_out::FanOut> {
        (**self).fan_out()
    }

    fn sharded_training(&self, learner: &Learner, data: &Table, params: &Params) -> Result<ShardedTraining, NodeError> {
        (**self).sharded_training(learner, data, params)
    }

    fn outputs_of_fit(&self, model: Model, data: &Table) -> Result<Vec<Value>, NodeError> {
        (**self).outputs_of_fit(model, data)
    }
}

/// A registered kind.
#[derive(Clone)]
pub struct Entry {
    /// Its declaration.
    pub spec: Arc<NodeSpec>,
    /// Its implementation.
    pub kind: Arc<dyn NodeKind>,
}

/// Decodes and checks a value read back from storage (a cached model or transform), refusing a damaged one.
pub type ValueLoader = Arc<dyn Fn(&Value) -> Result<(), NodeError> + Send + Sync>;

/// All known node kinds by id.
#[derive(Clone, Default)]
pub struct Catalog {
    entries: BTreeMap<&'static str, Entry>,
    loader: Option<ValueLoader>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a kind; a second kind with the same id replaces the first.
    pub fn register(&mut self, kind: impl NodeKind + 'static) {
        let spec = kind.spec();
        self.entries.insert(spec.id, Entry { spec: Arc::new(spec), kind: Arc::new(kind) });
    }

    /// Sets how values read back from storage are decoded and checked (the blocks' typed fitted state).
    pub fn set_loader(&mut self, loader: ValueLoader) {
        self.loader = Some(loader);
    }

    /// Decodes and checks a value read back from storage; without a loader every value passes.
    pub fn load(&self, value: &Value) -> Result<(), NodeError> {
        self.loader.as_ref().map_or(Ok(()), |load| load(value))
    }

    /// The kind with this id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// Every kind, sorted by id.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// How many kinds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
