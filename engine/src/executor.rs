//! The executor: plans a run (which nodes, in which order, with which fingerprints), then runs the
//! ready set on worker threads, serving unchanged nodes from the caches.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::cache::{DiskCache, MemoryCache, Outputs};
use crate::catalog::{CancelToken, Catalog, Device, NodeContext, Provenance};
use crate::error::NodeError;
use crate::events::Event;
use crate::spec::ParamKind;
use crate::validate::{Analysis, Problem, validate_in};
use crate::value::Value;
use crate::workflow::Workflow;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Folder that relative paths resolve against (the workflow file's folder).
    pub base_dir: PathBuf,
    /// Run only this node and its ancestors.
    pub target: Option<String>,
    /// Device policy.
    pub device: Device,
    /// Stop flag.
    pub cancel: CancelToken,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Cache kept across runs in this process.
    pub memory_cache: Option<Arc<MemoryCache>>,
    /// Cache kept across processes.
    pub disk_cache: Option<DiskCache>,
    /// Drop a node's tables and models as soon as every block that reads them has run (reports are kept),
    /// so a headless run holds only what is still needed. The designer keeps every output to show it.
    pub release_intermediate: bool,
    /// The workflow file and the recorded run, for blocks that write them down.
    pub provenance: Provenance,
    /// Bytes a block may hold in memory: a table read from a larger file is streamed a batch at a time.
    /// `None`: half of the machine's memory ([`default_memory_budget`]).
    pub memory_budget: Option<u64>,
}

/// Half of the machine's physical memory (4 GiB where it cannot be read).
pub fn default_memory_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map_or(4 << 30, |bytes| bytes / 2)
}

/// What happened to one node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeStatus {
    /// Ran successfully.
    Finished,
    /// Served from a cache.
    Cached {
        /// From the on-disk cache rather than memory.
        from_disk: bool,
    },
    /// Failed with this message.
    Failed(String),
    /// Not run because an input failed or the run stopped first.
    Skipped(String),
}

impl NodeStatus {
    /// Whether its outputs exist.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Finished | Self::Cached { .. })
    }
}

/// The result of one node in a run.
#[derive(Debug, Clone)]
pub struct NodeOutcome {
    /// Node id.
    pub node: String,
    /// What happened.
    pub status: NodeStatus,
    /// Wall time spent (near zero for cache hits).
    pub duration: Duration,
    /// Outputs in port order (empty unless successful).
    pub outputs: Outputs,
    /// Cache key.
    pub fingerprint: String,
    /// Where its kernels ran, for blocks that ran and use the compute kernels.
    pub device: Option<String>,
    /// One-line summaries of its outputs (kept when `release_intermediate` drops the outputs themselves).
    pub summaries: Vec<String>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Outcomes of the planned nodes, in topological order.
    pub nodes: Vec<NodeOutcome>,
    /// Whether every planned node succeeded.
    pub success: bool,
    /// Whether the run was stopped.
    pub cancelled: bool,
    /// Wall time.
    pub duration: Duration,
}

impl RunReport {
    /// The outcome of a node.
    pub fn node(&self, id: &str) -> Option<&NodeOutcome> {
        self.nodes.iter().find(|n| n.node == id)
    }
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The workflow (or the part needed for the target) has problems.
    #[error("the workflow is invalid:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    /// The target node does not exist.
    #[error("there is no node \"{0}\" to run up to")]
    UnknownTarget(String),
}

/// A planned run: the nodes to run in order and their fingerprints.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Node indices in topological order.
    pub order: Vec<usize>,
    /// Fingerprint by node index (empty for nodes outside the plan).
    pub fingerprints: Vec<String>,
    /// The validation it is based on.
    pub analysis: Analysis,
}

/// Validates and plans a run with the `auto` device policy.
pub fn plan(workflow: &Workflow, catalog: &Catalog, base_dir: &Path, target: Option<&str>) -> Result<Plan, RunError> {
    plan_on(workflow, catalog, base_dir, target, Device::Auto)
}

/// Validates and plans a run under a device policy (part of the fingerprints of blocks that use the compute
/// kernels, whose results on a GPU agree with the CPU's only within a tolerance).
pub fn plan_on(
    workflow: &Workflow,
    catalog: &Catalog,
    base_dir: &Path,
    target: Option<&str>,
    device: Device,
) -> Result<Plan, RunError> {
    plan_with(workflow, catalog, base_dir, target, true, device)
}

/// Plans a run; without `hash_files` (a run that uses no cache), files read by blocks enter the fingerprints by
/// path, size and modification time instead of their content, sparing a read of every data file.
fn plan_with(
    workflow: &Workflow,
    catalog: &Catalog,
    base_dir: &Path,
    target: Option<&str>,
    hash_files: bool,
    device: Device,
) -> Result<Plan, RunError> {
    let analysis = validate_in(workflow, catalog, Some(base_dir));
    let wires = Wires::of(workflow);
    let wanted: HashSet<String> = match target {
        None => workflow.nodes.iter().map(|n| n.id.clone()).collect(),
        Some(t) => {
            if workflow.node(t).is_none() {
                return Err(RunError::UnknownTarget(t.to_owned()));
            }
            ancestors(workflow, t)
        }
    };
    let problems = analysis.problems_of(&wanted);
    if !problems.is_empty() {
        return Err(RunError::Invalid(problems));
    }
    let order: Vec<usize> =
        analysis.order.iter().copied().filter(|&i| wanted.contains(&workflow.nodes[i].id)).collect();
    let mut fingerprints = vec![String::new(); workflow.nodes.len()];
    let index: HashMap<&str, usize> = workflow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    for &i in &order {
        let node = &workflow.nodes[i];
        let Some(entry) = catalog.get(&node.kind) else { continue };
        let spec = &entry.spec;
        let mut hasher = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(spec.id.as_bytes());
        field(&spec.version.to_le_bytes());
        if spec.uses_device {
            field(format!("device={device:?}").as_bytes());
        }
        field(
            canonical_json(&Json::Object(
                analysis.params[i].values().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ))
            .as_bytes(),
        );
        for port in &spec.inputs {
            match wires.feeding(&node.id, port.name) {
                Some(edge) => {
                    let upstream = index.get(edge.from.node.as_str()).map_or("", |&j| fingerprints[j].as_str());
                    field(format!("{}={upstream}.{}", port.name, edge.from.port).as_bytes());
                }
                None => field(format!("{}=none", port.name).as_bytes()),
            }
        }
        for p in &spec.params {
            if let ParamKind::FilePath { read: true, .. } = p.kind
                && let Some(path) = analysis.params[i].optional_text(p.name)
            {
                if crate::remote::is_remote(path) {
                    field(remote_stamp(path).as_bytes());
                    continue;
                }
                let path = base_dir.join(path);
                if hash_files {
                    field(&file_hash(&path));
                } else {
                    let stamp = std::fs::metadata(&path).and_then(|m| Ok((m.len(), m.modified()?)));
                    field(format!("{}:{stamp:?}", path.display()).as_bytes());
                }
            }
        }
        if spec.live_when.is_some() && spec.uncached(&analysis.params[i]) {
            // A live source may answer differently on every run: so may everything after it.
            field(format!("live:{:?}", std::time::SystemTime::now()).as_bytes());
        }
        fingerprints[i] = hasher.finalize().to_hex().to_string();
    }
    Ok(Plan { order, fingerprints, analysis })
}

/// What a remote file enters a fingerprint as: its address and version (`ETag`, `Last-Modified`), or, when the
/// server does not tell its version (or cannot be asked), a value of this moment, so the block runs again and
/// fetches it (or says why it cannot).
fn remote_stamp(url: &str) -> String {
    match crate::remote::validators(url) {
        Ok(v) if v.identify() => format!("{url}:{:?}:{:?}", v.etag, v.last_modified),
        _ => format!("{url}:unknown:{:?}", std::time::SystemTime::now()),
    }
}

/// A node and every node it depends on.
pub fn ancestors(workflow: &Workflow, node: &str) -> HashSet<String> {
    let mut feeding: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &workflow.edges {
        feeding.entry(e.to.node.as_str()).or_default().push(e.from.node.as_str());
    }
    let mut seen = HashSet::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if seen.insert(n.to_owned()) {
            stack.extend(feeding.get(n).map_or(&[][..], Vec::as_slice));
        }
    }
    seen
}

/// The wire into each input port, looked up in constant time (the first wire where a port has several, as
/// [`Workflow::edge_into`] finds it).
struct Wires<'a>(HashMap<(&'a str, &'a str), &'a crate::workflow::Edge>);

impl<'a> Wires<'a> {
    fn of(workflow: &'a Workflow) -> Self {
        let mut wires = HashMap::with_capacity(workflow.edges.len());
        for e in &workflow.edges {
            wires.entry((e.to.node.as_str(), e.to.port.as_str())).or_insert(e);
        }
        Self(wires)
    }

    fn feeding(&self, node: &str, port: &str) -> Option<&'a crate::workflow::Edge> {
        self.0.get(&(node, port)).copied()
    }
}

/// Per node index, where each of its input ports reads from: (upstream node index, output index).
pub fn input_sources(workflow: &Workflow, catalog: &Catalog, plan: &Plan) -> Vec<Vec<Option<(usize, usize)>>> {
    let wires = Wires::of(workflow);
    let index: HashMap<&str, usize> = workflow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut sources = vec![Vec::new(); workflow.nodes.len()];
    for &i in &plan.order {
        let node = &workflow.nodes[i];
        let Some(entry) = catalog.get(&node.kind) else { continue };
        sources[i] = entry
            .spec
            .inputs
            .iter()
            .map(|port| {
                let edge = wires.feeding(&node.id, port.name)?;
                let from = *index.get(edge.from.node.as_str())?;
                let (k, _) = catalog.get(&workflow.nodes[from].kind)?.spec.output_port(&edge.from.port)?;
                Some((from, k))
            })
            .collect();
    }
    sources
}

/// Content hash of a file read by a block. Hashes are remembered by path, size and modification time, so
/// re-planning after every edit in the designer does not re-read large data files.
fn file_hash(path: &Path) -> Vec<u8> {
    type Seen = HashMap<PathBuf, (u64, std::time::SystemTime, Vec<u8>)>;
    static SEEN: std::sync::OnceLock<std::sync::Mutex<Seen>> = std::sync::OnceLock::new();
    let stamp = std::fs::metadata(path).and_then(|m| Ok((m.len(), m.modified()?))).ok();
    let seen = SEEN.get_or_init(Default::default);
    if let Some((len, modified)) = stamp
        && let Ok(seen) = seen.lock()
        && let Some((l, m, hash)) = seen.get(path)
        && (*l, *m) == (len, modified)
    {
        return hash.clone();
    }
    // Large reads let blake3 hash many 1 KiB chunks at once with SIMD.
    let hashed = std::fs::File::open(path).and_then(|mut file| {
        use std::io::Read as _;
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Ok(hasher.finalize().as_bytes().to_vec());
            }
            hasher.update(&buffer[..n]);
        }
    });
    let hash = match hashed {
        Ok(hash) => hash,
        Err(e) => return format!("unreadable: {e}").into_bytes(),
    };
    if let Some((len, modified)) = stamp
        && let Ok(mut seen) = seen.lock()
    {
        seen.insert(path.to_path_buf(), (len, modified, hash.clone()));
    }
    hash
}

/// JSON with object keys sorted at every level: equal values give equal text.
pub fn canonical_json(value: &Json) -> String {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let ordered: BTreeMap<&String, Json> = map.iter().map(|(k, v)| (k, sorted(v))).collect();
                Json::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

struct Shared {
    ready: VecDeque<usize>,
    waiting_inputs: HashMap<usize, usize>,
    /// Per node, the successors that have not run yet (for `release_intermediate`).
    readers_left: HashMap<usize, usize>,
    /// Per output (node, port), the inputs reading it that have not started yet: the last one is handed the
    /// table (for `release_intermediate`).
    output_readers: HashMap<(usize, usize), usize>,
    running: usize,
    outcomes: HashMap<usize, NodeOutcome>,
}

/// Runs a workflow and reports every event to `on_event` (called from worker threads): plans it, then runs
/// the plan.
pub fn run(
    workflow: &Workflow,
    catalog: &Catalog,
    options: &RunOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<RunReport, RunError> {
    Ok(Session::plan(workflow, catalog, options)?.run(workflow, catalog, options, on_event))
}

/// A run planned once — validated, ordered, fingerprinted (data files hashed when a cache is used) — and then
/// run with that plan: the designer shows the plan's blocks as queued and the CLI records only a run that
/// planned, without validating or hashing again.
#[derive(Debug, Clone)]
pub struct Session {
    plan: Plan,
}

impl Session {
    /// Plans a run of `workflow` with `options` (its target, device policy and caches).
    pub fn plan(workflow: &Workflow, catalog: &Catalog, options: &RunOptions) -> Result<Self, RunError> {
        let cached = options.memory_cache.is_some() || options.disk_cache.is_some();
        let plan = plan_with(workflow, catalog, &options.base_dir, options.target.as_deref(), cached, options.device)?;
        Ok(Self { plan })
    }

    /// The plan: the order the blocks run in and their fingerprints.
    pub fn planned(&self) -> &Plan {
        &self.plan
    }

    /// Runs the plan (with the workflow, catalog and options it was planned with) and reports every event to
    /// `on_event`, called from worker threads.
    pub fn run(
        self,
        workflow: &Workflow,
        catalog: &Catalog,
        options: &RunOptions,
        on_event: &(dyn Fn(Event) + Sync),
    ) -> RunReport {
        execute(workflow, catalog, options, &self.plan, on_event)
    }
}

#[allow(clippy::too_many_lines, reason = "the scheduler: its threads, queue and cache writer read best together")]
fn execute(
    workflow: &Workflow,
    catalog: &Catalog,
    options: &RunOptions,
    plan: &Plan,
    on_event: &(dyn Fn(Event) + Sync),
) -> RunReport {
    let started = Instant::now();
    let planned: HashSet<usize> = plan.order.iter().copied().collect();
    let index: HashMap<&str, usize> = workflow.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut successors: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut waiting_inputs: HashMap<usize, usize> = plan.order.iter().map(|&i| (i, 0)).collect();
    for edge in &workflow.edges {
        if let (Some(&from), Some(&to)) = (index.get(edge.from.node.as_str()), index.get(edge.to.node.as_str()))
            && planned.contains(&from)
            && planned.contains(&to)
        {
            successors.entry(from).or_default().push(to);
            *waiting_inputs.entry(to).or_default() += 1;
        }
    }
    let ready: VecDeque<usize> = plan.order.iter().copied().filter(|i| waiting_inputs[i] == 0).collect();
    let mut predecessors: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&from, tos) in &successors {
        for &to in tos {
            predecessors.entry(to).or_default().push(from);
        }
    }
    let readers_left = successors.iter().map(|(&from, tos)| (from, tos.len())).collect();
    let sources = input_sources(workflow, catalog, plan);
    let mut output_readers: HashMap<(usize, usize), usize> = HashMap::new();
    for &i in &plan.order {
        for &(from, k) in sources[i].iter().flatten() {
            *output_readers.entry((from, k)).or_default() += 1;
        }
    }
    let shared = Mutex::new(Shared {
        ready,
        waiting_inputs,
        readers_left,
        output_readers,
        running: 0,
        outcomes: HashMap::new(),
    });
    let wake = Condvar::new();
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    } else {
        options.threads
    };
    let threads = threads.min(plan.order.len().max(1));

    // Outputs go to the disk cache on a thread of their own, off the critical path.
    let (to_disk, finished) = std::sync::mpsc::channel::<(String, Outputs)>();
    std::thread::scope(|scope| {
        if let Some(disk) = &options.disk_cache {
            // Without a thread for it nothing goes to the disk cache (the workers' sends fail quietly).
            let _ = std::thread::Builder::new().name("pipewright-disk-cache".into()).spawn_scoped(scope, move || {
                for (fingerprint, outputs) in finished {
                    // A cache that cannot be written only costs a re-run next time.
                    let _ = disk.put(&fingerprint, &outputs);
                }
            });
        }
        let mut workers = 0;
        for n in 0..threads {
            let to_disk = options.disk_cache.is_some().then(|| to_disk.clone());
            let (shared, wake, plan, sources, successors, predecessors) =
                (&shared, &wake, &plan, &sources, &successors, &predecessors);
            let work = move || {
                loop {
                    let next = {
                        let Ok(mut state) = shared.lock() else { return };
                        loop {
                            if options.cancel.is_cancelled() {
                                wake.notify_all();
                                return;
                            }
                            if let Some(i) = state.ready.pop_front() {
                                state.running += 1;
                                break i;
                            }
                            if state.running == 0 {
                                wake.notify_all();
                                return;
                            }
                            let Ok(guard) = wake.wait(state) else { return };
                            state = guard;
                        }
                    };
                    let outcome = run_node(workflow, catalog, options, plan, &sources[next], next, shared, on_event);
                    on_event(Event::NodeDone(crate::events::Done(Arc::new(outcome.clone()))));
                    let side_effect = catalog
                        .get(&workflow.nodes[next].kind)
                        .is_some_and(|e| e.spec.uncached(&plan.analysis.params[next]));
                    if let (Some(to_disk), NodeStatus::Finished, false) = (&to_disk, &outcome.status, side_effect) {
                        let _ = to_disk.send((outcome.fingerprint.clone(), outcome.outputs.clone()));
                    }
                    let Ok(mut state) = shared.lock() else { return };
                    state.running -= 1;
                    if outcome.status.is_success() {
                        for &succ in successors.get(&next).map_or(&[][..], Vec::as_slice) {
                            if let Some(waiting) = state.waiting_inputs.get_mut(&succ) {
                                *waiting -= 1;
                                if *waiting == 0 {
                                    state.ready.push_back(succ);
                                }
                            }
                        }
                    }
                    if options.release_intermediate {
                        for &from in predecessors.get(&next).map_or(&[][..], Vec::as_slice) {
                            let left = state.readers_left.get_mut(&from).map_or(0, |n| {
                                *n -= 1;
                                *n
                            });
                            if let (0, Some(done)) = (left, state.outcomes.get_mut(&from))
                                && !done.outputs.iter().any(|v| matches!(v, Value::Report(_)))
                            {
                                done.outputs = Arc::default();
                            }
                        }
                    }
                    state.outcomes.insert(next, outcome);
                    wake.notify_all();
                }
            };
            let spawned =
                std::thread::Builder::new().name(format!("pipewright-worker-{n}")).spawn_scoped(scope, work.clone());
            if spawned.is_ok() {
                workers += 1;
            } else {
                // No thread to be had: the run goes on with the workers it has, or on this thread alone.
                if workers == 0 {
                    work();
                }
                break;
            }
        }
        drop(to_disk);
    });

    let cancelled = options.cancel.is_cancelled();
    let mut outcomes = shared.into_inner().map(|s| s.outcomes).unwrap_or_default();
    let mut nodes = Vec::with_capacity(plan.order.len());
    for &i in &plan.order {
        let outcome = outcomes.remove(&i).unwrap_or_else(|| {
            let reason = if cancelled { "the run was stopped".to_owned() } else { "an input failed".to_owned() };
            NodeOutcome {
                node: workflow.nodes[i].id.clone(),
                status: NodeStatus::Skipped(reason),
                duration: Duration::ZERO,
                outputs: Arc::default(),
                fingerprint: plan.fingerprints[i].clone(),
                device: None,
                summaries: Vec::new(),
            }
        });
        nodes.push(outcome);
    }
    let success = !cancelled && nodes.iter().all(|n| n.status.is_success());
    let duration = started.elapsed();
    on_event(Event::RunFinished { success, cancelled, duration, device: options.device });
    RunReport { nodes, success, cancelled, duration }
}

/// A block's inputs from the outputs of the blocks before it (`None` when the run's state is poisoned). With
/// `release`, the last reader of a table is handed it ([`hand_over`]).
fn gather_inputs(
    shared: &Mutex<Shared>,
    sources: &[Option<(usize, usize)>],
    release: bool,
) -> Option<Vec<Option<Value>>> {
    let mut state = shared.lock().ok()?;
    let inputs = sources
        .iter()
        .map(|source| {
            let (from, k) = (*source)?;
            let left = state.output_readers.get_mut(&(from, k)).map_or(0, |n| {
                *n = n.saturating_sub(1);
                *n
            });
            let done = state.outcomes.get_mut(&from)?;
            if release && left == 0 { hand_over(done, k) } else { done.outputs.get(k).cloned() }
        })
        .collect();
    Some(inputs)
}

/// Output `k` of a finished block, for the last block that reads it: a table with rows leaves the block's
/// outputs (an empty table stands in its place, read by no one), so that the reader holds the only reference and
/// can change its columns in place. Other values are shared.
fn hand_over(done: &mut NodeOutcome, k: usize) -> Option<Value> {
    match done.outputs.get(k)? {
        Value::Table(t) if t.height() > 0 => {
            let released = Value::Table(Arc::new(crate::value::Table::new(polars::prelude::DataFrame::empty())));
            Some(std::mem::replace(&mut Arc::make_mut(&mut done.outputs)[k], released))
        }
        other => Some(other.clone()),
    }
}

/// The error of a block that panicked: a bug, reported as the block's failure instead of ending the run.
fn internal_error(block: &str, panic: &(dyn std::any::Any + Send)) -> NodeError {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    NodeError::Data(format!("internal error in {block}: {what} (please report this)"))
}

#[allow(clippy::too_many_arguments, reason = "internal helper of run that shares its locals")]
fn run_node(
    workflow: &Workflow,
    catalog: &Catalog,
    options: &RunOptions,
    plan: &Plan,
    sources: &[Option<(usize, usize)>],
    i: usize,
    shared: &Mutex<Shared>,
    on_event: &(dyn Fn(Event) + Sync),
) -> NodeOutcome {
    let node = &workflow.nodes[i];
    let fingerprint = plan.fingerprints[i].clone();
    let outcome = |status, duration, outputs: Outputs| NodeOutcome {
        node: node.id.clone(),
        status,
        duration,
        summaries: outputs.iter().map(Value::summary).collect(),
        outputs,
        fingerprint: fingerprint.clone(),
        device: None,
    };
    let started = Instant::now();
    // Blocks with side effects (Export Data) run every time: their effect is the point.
    let cacheable = catalog.get(&node.kind).is_none_or(|e| !e.spec.uncached(&plan.analysis.params[i]));
    let memory_cache = options.memory_cache.as_ref().filter(|_| cacheable);
    let disk_cache = options.disk_cache.as_ref().filter(|_| cacheable);
    if let Some(outputs) = memory_cache.and_then(|c| c.get(&fingerprint)) {
        on_event(Event::NodeCached { node: node.id.clone(), from_disk: false });
        return outcome(NodeStatus::Cached { from_disk: false }, started.elapsed(), outputs);
    }
    // A cached model or transform is decoded and checked as it is read back; a damaged entry is computed again.
    let loaded = |values: &Vec<crate::Value>| values.iter().all(|v| catalog.load(v).is_ok());
    if let Some(values) = disk_cache.and_then(|c| c.get(&fingerprint)).filter(loaded) {
        let outputs: Outputs = Arc::new(values);
        if let Some(memory) = memory_cache {
            memory.put(&fingerprint, outputs.clone());
        }
        on_event(Event::NodeCached { node: node.id.clone(), from_disk: true });
        return outcome(NodeStatus::Cached { from_disk: true }, started.elapsed(), outputs);
    }
    let Some(entry) = catalog.get(&node.kind) else {
        let message = format!("unknown kind \"{}\"", node.kind);
        on_event(Event::NodeFailed { node: node.id.clone(), message: message.clone() });
        return outcome(NodeStatus::Failed(message), started.elapsed(), Arc::default());
    };
    on_event(Event::NodeStarted { node: node.id.clone() });
    let Some(inputs) = gather_inputs(shared, sources, options.release_intermediate) else {
        return outcome(
            NodeStatus::Failed("internal error: run state poisoned".into()),
            Duration::ZERO,
            Arc::default(),
        );
    };
    let node_id = node.id.clone();
    let progress = move |fraction: f32, message: &str| {
        on_event(Event::NodeProgress { node: node_id.clone(), fraction, message: message.to_owned() });
    };
    let device_used = crate::catalog::DeviceRecord::default();
    let memory_budget = options.memory_budget.unwrap_or_else(default_memory_budget);
    let spill = crate::spill::SpillDir::beside(options.disk_cache.as_ref().map(crate::cache::DiskCache::dir))
        .with_budget(memory_budget);
    let ctx = NodeContext {
        node_id: &node.id,
        params: &plan.analysis.params[i],
        inputs: inputs.into(),
        base_dir: &options.base_dir,
        device: options.device,
        device_used: &device_used,
        cancel: &options.cancel,
        progress: &progress,
        spec: &entry.spec,
        provenance: &options.provenance,
        memory_budget,
        spill: &spill,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry.kind.run(&ctx)))
        .unwrap_or_else(|panic| Err(internal_error(entry.spec.name, panic.as_ref())))
        .and_then(|values| check_outputs(&entry.spec, values))
        .and_then(|values| spill_large(values, &ctx))
        .map(|values| crate::empty::mark_emptied(values, &ctx.inputs.snapshot(), &entry.spec, &node.id))
        .map_err(|e| crate::empty::explain(e, &ctx.inputs.snapshot(), &entry.spec));
    let duration = started.elapsed();
    match result {
        Ok(values) => {
            let outputs: Outputs = Arc::new(values);
            if let Some(memory) = memory_cache {
                memory.put(&fingerprint, outputs.clone());
            }
            let done = NodeOutcome { device: device_used.get(), ..outcome(NodeStatus::Finished, duration, outputs) };
            on_event(Event::NodeFinished {
                node: node.id.clone(),
                duration,
                summaries: done.summaries.clone(),
                device: done.device.clone(),
            });
            done
        }
        Err(e) => {
            let message = e.to_string();
            on_event(Event::NodeFailed { node: node.id.clone(), message: message.clone() });
            outcome(NodeStatus::Failed(message), duration, Arc::default())
        }
    }
}

/// Tables larger than half the memory budget go on to later blocks as streams of a spill on disk (in the
/// project's `.pipewright/spill/`), so the rest of the run holds a batch of them, not all.
fn spill_large(values: Vec<Value>, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
    let too_large = |t: &crate::value::Table| t.frame.estimated_size() as u64 > ctx.memory_budget / 2;
    if !values.iter().any(|v| matches!(v, Value::Table(t) if too_large(t))) {
        return Ok(values);
    }
    values
        .into_iter()
        .zip(&ctx.spec.outputs)
        .map(|(value, port)| match value {
            Value::Table(table) if too_large(&table) => {
                let what = format!("the {} output of block \"{}\"", port.name, ctx.node_id);
                Ok(Value::Stream(Arc::new(ctx.spill.table(&table, &what)?)))
            }
            other => Ok(other),
        })
        .collect()
}

fn check_outputs(spec: &crate::spec::NodeSpec, values: Vec<Value>) -> Result<Vec<Value>, NodeError> {
    if values.len() != spec.outputs.len() {
        return Err(NodeError::Data(format!(
            "internal error in {}: produced {} outputs for {} ports",
            spec.name,
            values.len(),
            spec.outputs.len()
        )));
    }
    for (value, port) in values.iter().zip(&spec.outputs) {
        if value.port_type() != port.ty {
            return Err(NodeError::Data(format!(
                "internal error in {}: output \"{}\" produced a {}",
                spec.name,
                port.name,
                value.port_type().label()
            )));
        }
    }
    Ok(values)
}
