//! Fan-out: a workflow's independent work as an indexed task set and a combine step.
//!
//! At export, the blocks that split into independent units ([`pipewright_engine::FanOut`]: a sweep's settings
//! × folds, a cross-validation's folds, a permutation importance's features) and that depend on no other such
//! block are found. What feeds them runs once, here, into the bundle's shared cache (`tasks/cache/`, one folder
//! per block output, keyed by its fingerprint: a hash of the block, its parameters and its inputs' data), and
//! their units are dealt into tasks (`tasks/tasks.json`, the task list: each index's units with what they
//! compute and the fingerprints of their inputs). On the cluster, `pipewright task BUNDLE --index I` computes
//! task I's units and writes each result to `tasks/results/`; `pipewright combine BUNDLE` joins every block's
//! unit results into its outputs, stores them in the shared cache, and runs the workflow, whose fanned blocks
//! and everything upstream then come from the cache. The units and their combination are the block's own, the
//! same code a local run goes through, so the cluster's results equal the desktop's.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::{
    CancelToken, Catalog, Device, DeviceRecord, DiskCache, Event, FanOut, NodeContext, NodeError, NodeStatus, Plan,
    PortType, Provenance, RunOptions, Session, ShardedTraining, Unit, UnitResult, Value, Workflow, ancestors,
    default_memory_budget, input_sources, read_values, write_atomic, write_values,
};

use super::bundle::WORKFLOW_FILE;
use super::{Bundle, ClusterError};

/// The task list, relative to the bundle.
pub const TASK_LIST: &str = "tasks/tasks.json";
/// The shared cache: the fanned blocks' inputs (written at export) and outputs (written by the combine).
pub const CACHE_DIR: &str = "tasks/cache";
/// Each unit's result: `tasks/results/NODE/UNIT/`.
pub const RESULTS_DIR: &str = "tasks/results";
/// Each failed task's last error: `tasks/errors/INDEX.txt`.
pub const ERRORS_DIR: &str = "tasks/errors";
/// The most tasks a task set has by default (Slurm's default `MaxArraySize` allows indices up to 1000);
/// more units than that are dealt several to a task.
pub const DEFAULT_MAX_TASKS: usize = 1000;

/// How a workflow fans out: `tasks/tasks.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// The device policy the fingerprints were computed under (the job runs under it too).
    pub device: Device,
    /// Tasks running at once (Slurm's `%M`, a Kubernetes Job's parallelism, the Ray driver's window); 0: all.
    pub at_once: u32,
    /// Retries of a failing task before the run fails.
    pub retries: u32,
    /// The blocks that fan out.
    pub blocks: Vec<FannedBlock>,
    /// The tasks: index `i` is `tasks[i]`.
    pub tasks: Vec<TaskEntry>,
    /// What did not fan out, and why.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Train Model blocks trained data-parallel: each a step of `ranks` ranks (`pipewright shard-fit`).
    #[serde(default)]
    pub fits: Vec<ParallelFit>,
}

/// A Train Model block trained data-parallel over shards of its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParallelFit {
    /// The block.
    pub node: String,
    /// Its fingerprint: the combine stores the model the ranks fitted under it.
    pub fingerprint: String,
    /// The fit's folder, relative to the bundle (`tasks/shards/NODE`): fit.json, the shards, the exchange.
    pub dir: String,
    /// Ranks, one a shard.
    pub ranks: usize,
}

/// A block whose units are spread over the tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FannedBlock {
    /// The block's id.
    pub node: String,
    /// Its title (or kind name), for messages.
    pub title: String,
    /// Its fingerprint: the combine stores its outputs under it.
    pub fingerprint: String,
    /// Its inputs in port order (`None`: an optional port left unconnected).
    pub inputs: Vec<Option<InputRef>>,
    /// How many units it has.
    pub units: usize,
    /// An independent branch: the task runs the workflow up to this block (a trainer) into the shared cache,
    /// and the combine finds its outputs there.
    #[serde(default)]
    pub branch: bool,
}

/// One input of a fanned block: which block's output, stored in the shared cache under which fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// The input port.
    pub port: String,
    /// The block it comes from.
    pub node: String,
    /// Which of that block's outputs.
    pub output: usize,
    /// That block's fingerprint (its folder under `tasks/cache/`).
    pub fingerprint: String,
}

/// One index of the task set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// Its index (Slurm's `SLURM_ARRAY_TASK_ID`, Kubernetes' `JOB_COMPLETION_INDEX`).
    pub index: usize,
    /// The units it computes, in order.
    pub units: Vec<UnitRef>,
}

/// One unit of a fanned block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRef {
    /// The block.
    pub node: String,
    /// The unit's position among the block's units.
    pub unit: usize,
    /// What it computes, for people.
    pub label: String,
    /// What it computes, for the block.
    pub spec: Json,
}

impl TaskEntry {
    /// What the task computes, for people: `task 7 (setting 2 × fold 3 of block "tune")`.
    pub fn describe(&self) -> String {
        let what = match (self.units.first(), self.units.last()) {
            (Some(first), Some(_)) if self.units.len() == 1 && first.spec["branch"] == json!(true) => {
                first.label.clone()
            }
            (Some(first), Some(_)) if self.units.len() == 1 => format!("{} of block \"{}\"", first.label, first.node),
            (Some(first), Some(last)) if first.node == last.node => {
                format!("{} to {} of block \"{}\"", first.label, last.label, first.node)
            }
            (Some(_), Some(_)) => format!("{} units of several blocks", self.units.len()),
            _ => "nothing".into(),
        };
        format!("task {} ({what})", self.index)
    }
}

impl TaskList {
    /// The task list of a bundle, if it fans out.
    pub fn of(bundle: &Bundle) -> Result<Option<Self>, ClusterError> {
        let path = bundle.dir.join(TASK_LIST);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ClusterError::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ClusterError::Bundle(format!("{}: not a readable task list: {e}", path.display())))
    }

    /// The task list in the bundle folder `dir`, if it is there and readable.
    pub fn of_dir(dir: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(TASK_LIST)).ok()?).ok()
    }

    /// The task list of a bundle that must fan out.
    pub fn required(bundle: &Bundle) -> Result<Self, ClusterError> {
        Self::of(bundle)?.ok_or_else(|| {
            ClusterError::Bundle(format!(
                "{}: this bundle has no task list (it was exported without --fan-out); run it with run.sh",
                bundle.dir.display()
            ))
        })
    }

    /// Tasks whose units have not all left a result, each with what it computed and its last error (from
    /// `tasks/errors/`, else the last line of its Slurm log): `task 3 (fold 4 of 5 of block "cv") failed: …`.
    pub fn failures(&self, bundle_dir: &Path) -> Vec<String> {
        self.states(bundle_dir)
            .into_iter()
            .filter(|t| t.state != TaskProgress::Done)
            .map(|t| match t.error {
                Some(error) => format!("{} failed: {error}", t.what),
                None => format!("{} left no result (it was killed, cancelled or never ran)", t.what),
            })
            .collect()
    }

    /// Every task's state as the bundle's files tell it: done (every unit's result is there), failed (an error
    /// or a log says why) or waiting (not started, running, or killed without a word).
    pub fn states(&self, bundle_dir: &Path) -> Vec<TaskState> {
        let logs: Vec<PathBuf> = std::fs::read_dir(bundle_dir.join(super::bundle::RESULTS_DIR))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        self.tasks
            .iter()
            .map(|task| {
                let records: Vec<Json> = task
                    .units
                    .iter()
                    .filter_map(|u| std::fs::read_to_string(result_dir(bundle_dir, u).join("unit.json")).ok())
                    .filter_map(|text| serde_json::from_str(&text).ok())
                    .collect();
                let mut places: Vec<String> = Vec::new();
                for r in &records {
                    let place =
                        format!("{} ({})", r["host"].as_str().unwrap_or("?"), r["device"].as_str().unwrap_or("cpu"));
                    if !places.contains(&place) {
                        places.push(place);
                    }
                }
                let done = records.len() == task.units.len();
                let error = if done {
                    None
                } else {
                    let error = std::fs::read_to_string(error_file(bundle_dir, task.index)).unwrap_or_default();
                    let error = error.trim().to_owned();
                    Some(if error.is_empty() { last_log_line(&logs, task.index) } else { error })
                        .filter(|e| !e.is_empty())
                };
                TaskState {
                    index: task.index,
                    what: task.describe(),
                    state: if done {
                        TaskProgress::Done
                    } else if error.is_some() {
                        TaskProgress::Failed
                    } else {
                        TaskProgress::Waiting
                    },
                    error,
                    places,
                    seconds: records.iter().filter_map(|r| r["seconds"].as_f64()).sum(),
                }
            })
            .collect()
    }
}

/// How far a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskProgress {
    /// Not started, running, or gone without a word.
    Waiting,
    /// Every unit's result is there.
    Done,
    /// It said why it failed (it may still be retried).
    Failed,
}

/// One task's state, for the job view and the run's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    /// Its index.
    pub index: usize,
    /// What it computes: `task 7 (setting 2 × fold 3 of block "tune")`.
    pub what: String,
    /// How far it is.
    pub state: TaskProgress,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The machines and devices its units ran on: `node7 (gpu: NVIDIA H100 …)`.
    pub places: Vec<String>,
    /// Compute seconds of its units.
    pub seconds: f64,
}

/// The failures in brief: the first few, and how many more.
pub fn summarize(failures: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = failures.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if failures.len() > SHOWN {
        let _ = write!(text, "; and {} more task(s)", failures.len() - SHOWN);
    }
    text
}

/// The last line of task `index`'s log (`task-ARRAY_INDEX.log`) that says something, if there is one.
fn last_log_line(logs: &[PathBuf], index: usize) -> String {
    let suffix = format!("_{index}.log");
    logs.iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("task-") && n.to_string_lossy().ends_with(&suffix))
        })
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_owned()))
        .next_back()
        .unwrap_or_default()
}

fn result_dir(bundle_dir: &Path, unit: &UnitRef) -> PathBuf {
    bundle_dir.join(RESULTS_DIR).join(&unit.node).join(unit.unit.to_string())
}

fn error_file(bundle_dir: &Path, index: usize) -> PathBuf {
    bundle_dir.join(ERRORS_DIR).join(format!("{index}.txt"))
}

/// How to fan out at export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanOutOptions {
    /// Tasks running at once; 0: as many as the engine will.
    pub at_once: u32,
    /// Retries of a failing task.
    pub retries: u32,
    /// The most tasks (units are dealt several to a task beyond it).
    pub max_tasks: usize,
    /// Shards of the rows a Train Model block whose learner trains data-parallel is fitted over, a rank each;
    /// 0 or 1: none.
    pub shards: usize,
}

impl Default for FanOutOptions {
    fn default() -> Self {
        Self { at_once: 0, retries: 2, max_tasks: DEFAULT_MAX_TASKS, shards: 0 }
    }
}

/// The bundle's workflow planned with its data hashed, under the task list's device policy, as the combine
/// plans it on the cluster.
fn planned(dir: &Path, catalog: &Catalog, device: Device) -> Result<(Workflow, Plan), ClusterError> {
    let path = dir.join(WORKFLOW_FILE);
    let workflow = Workflow::load(&path).map_err(|e| ClusterError::Bundle(format!("{}: {e}", path.display())))?;
    let options = RunOptions {
        base_dir: dir.to_path_buf(),
        device,
        disk_cache: Some(DiskCache::shared(dir.join(CACHE_DIR))),
        ..RunOptions::default()
    };
    let plan = Session::plan(&workflow, catalog, &options)
        .map_err(|e| ClusterError::Workflow(format!("{}: {e}", path.display())))?
        .planned()
        .clone();
    Ok((workflow, plan))
}

/// The blocks that fan out, the independent training branches and the data-parallel trainers of a workflow.
struct Chosen {
    fanned: Vec<usize>,
    branches: Vec<usize>,
    parallel: Vec<usize>,
}

fn choose(
    workflow: &Workflow,
    catalog: &Catalog,
    plan: &Plan,
    sources: &[Vec<Option<(usize, usize)>>],
    shards: usize,
) -> Chosen {
    // A fan-out block downstream of another one needs that one's combined outputs: it runs in the combine.
    let mut fanned: Vec<usize> = Vec::new();
    let mut downstream: HashSet<usize> = HashSet::new();
    for &i in &plan.order {
        let feeds_from_fanned = sources[i].iter().flatten().any(|&(from, _)| downstream.contains(&from));
        if feeds_from_fanned {
            downstream.insert(i);
            continue;
        }
        if catalog.get(&workflow.nodes[i].kind).is_some_and(|e| e.kind.fan_out().is_some()) {
            fanned.push(i);
            downstream.insert(i);
        }
    }
    // Independent branches: the trainers outside the fanned blocks' reach, none feeding another, each one task.
    let mut branches: Vec<usize> = Vec::new();
    for &i in &plan.order {
        let trains = catalog
            .get(&workflow.nodes[i].kind)
            .is_some_and(|e| e.kind.fan_out().is_none() && e.spec.inputs.iter().any(|p| p.ty == PortType::Learner));
        let id = workflow.nodes[i].id.as_str();
        let below_another = branches.iter().any(|&b| ancestors(workflow, id).contains(&workflow.nodes[b].id));
        if trains && !downstream.contains(&i) && !below_another {
            branches.push(i);
        }
    }
    // Trainers whose learner fits over sums merged by pass are trained data-parallel when shards are asked for.
    let parallel: Vec<usize> = if shards >= 2 {
        branches
            .iter()
            .copied()
            .filter(|&i| catalog.get(&workflow.nodes[i].kind).is_some_and(|e| e.spec.trains_over_shards))
            .collect()
    } else {
        Vec::new()
    };
    branches.retain(|i| !parallel.contains(i));
    if branches.len() < 2 {
        branches.clear();
    }
    Chosen { fanned, branches, parallel }
}

/// Finds the blocks of the bundle in `dir` that fan out, runs what feeds them into the shared cache, and writes
/// the task list. `None` when no block fans out (the bundle runs as one job). `say` reports progress.
pub(super) fn prepare(
    dir: &Path,
    catalog: &Catalog,
    device: Device,
    options: FanOutOptions,
    say: &dyn Fn(&str),
) -> Result<Option<TaskList>, ClusterError> {
    let (workflow, plan) = planned(dir, catalog, device)?;
    let sources = input_sources(&workflow, catalog, &plan);
    let Chosen { fanned, branches, parallel } = choose(&workflow, catalog, &plan, &sources, options.shards);
    if fanned.is_empty() && branches.is_empty() && parallel.is_empty() {
        return Ok(None);
    }
    let cache = DiskCache::shared(dir.join(CACHE_DIR));
    let feeding: Vec<usize> = {
        let mut seen = HashSet::new();
        fanned
            .iter()
            .chain(&branches)
            .chain(&parallel)
            .flat_map(|&i| sources[i].iter().flatten().map(|&(from, _)| from))
            .filter(|f| seen.insert(*f))
            .collect()
    };
    for &from in &feeding {
        let id = &workflow.nodes[from].id;
        say(&format!("running what feeds the fanned-out blocks: up to \"{id}\""));
        run_prefix(dir, &workflow, catalog, device, &cache, id)?;
    }
    let mut blocks = Vec::new();
    let mut units: Vec<UnitRef> = Vec::new();
    let mut notes = Vec::new();
    for &i in &fanned {
        let node = &workflow.nodes[i];
        let block = fanned_block(&workflow, catalog, &plan, &sources[i], i)?;
        let inputs = match load_inputs(dir, catalog, &cache, &block) {
            Ok(inputs) => inputs,
            Err(e) => {
                notes.push(format!("block \"{}\" runs in the combine: {e}", node.id));
                continue;
            }
        };
        let found =
            with_context(dir, catalog, &workflow, &plan, i, inputs, (device, &DeviceRecord::default()), |ctx, fan| {
                fan.units(ctx)
            })
            .map_err(|e| ClusterError::Workflow(format!("node \"{}\" cannot be split into tasks: {e}", node.id)))?;
        say(&format!("block \"{}\" ({}): {} units", node.id, block.title, found.len()));
        blocks.push(FannedBlock { units: found.len(), ..block });
        units.extend(found.into_iter().enumerate().map(|(unit, Unit { label, spec })| UnitRef {
            node: node.id.clone(),
            unit,
            label,
            spec,
        }));
    }
    for &i in &branches {
        let node = &workflow.nodes[i];
        let block = fanned_block(&workflow, catalog, &plan, &sources[i], i)?;
        blocks.push(FannedBlock { units: 1, branch: true, ..block });
        units.push(UnitRef {
            node: node.id.clone(),
            unit: 0,
            label: format!("the branch up to block \"{}\"", node.id),
            spec: json!({"branch": true}),
        });
    }
    let mut fits = Vec::new();
    for &i in &parallel {
        let block = fanned_block(&workflow, catalog, &plan, &sources[i], i)?;
        match write_shards(dir, catalog, &cache, &workflow, &plan, i, &block, options.shards)? {
            Ok(fit) => {
                say(&format!("block \"{}\": data-parallel over {} shards", block.node, fit.ranks));
                fits.push(fit);
            }
            Err(why) => notes.push(format!("block \"{}\" trains in one process: {why}", block.node)),
        }
    }
    if units.is_empty() && fits.is_empty() {
        return Ok(None);
    }
    let per_task = units.len().div_ceil(options.max_tasks.max(1)).max(1);
    let tasks: Vec<TaskEntry> =
        units.chunks(per_task).enumerate().map(|(index, chunk)| TaskEntry { index, units: chunk.to_vec() }).collect();
    let list = TaskList { device, at_once: options.at_once, retries: options.retries, blocks, tasks, notes, fits };
    for sub in [RESULTS_DIR, ERRORS_DIR] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| ClusterError::io(dir.join(sub), e))?;
    }
    let text = serde_json::to_string_pretty(&list).unwrap_or_default() + "\n";
    write_atomic(&dir.join(TASK_LIST), text.as_bytes())
        .map_err(|e| ClusterError::io(dir.join(TASK_LIST), std::io::Error::other(e.to_string())))?;
    Ok(Some(list))
}

/// Writes the shards of Train Model block `i`'s rows (`tasks/shards/NODE/part-K.parquet`, consecutive rows) and
/// its `fit.json`; `Ok(Err(why))` when its learner does not train data-parallel or its rows are not at hand.
#[allow(clippy::too_many_arguments, reason = "the block, where its inputs are, and how many shards")]
fn write_shards(
    dir: &Path,
    catalog: &Catalog,
    cache: &DiskCache,
    workflow: &Workflow,
    plan: &Plan,
    i: usize,
    block: &FannedBlock,
    shards: usize,
) -> Result<Result<ParallelFit, String>, ClusterError> {
    let inputs = match load_inputs(dir, catalog, cache, block) {
        Ok(inputs) => inputs,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let (Some(Value::Learner(learner)), Some(Value::Table(table))) =
        (inputs.first().cloned().flatten(), inputs.get(1).cloned().flatten())
    else {
        return Ok(Err("its learner or its rows are not at hand".into()));
    };
    if !pipewright_nodes::model::trains_data_parallel(&learner.algorithm) {
        return Ok(Err(format!("{} does not train data-parallel", learner.name)));
    }
    let Some(entry) = catalog.get(&workflow.nodes[i].kind) else {
        return Ok(Err(format!("this Pipewright has no block \"{}\"", workflow.nodes[i].kind)));
    };
    let ShardedTraining { label, columns } =
        match entry.kind.sharded_training(&learner, &table, &plan.analysis.params[i]) {
            Ok(training) => training,
            Err(e) => return Ok(Err(e.to_string())),
        };
    let table = if columns.is_empty() {
        table
    } else {
        match table.frame.select(columns) {
            Ok(frame) => Arc::new(table.with_frame(frame)),
            Err(e) => return Ok(Err(e.to_string())),
        }
    };
    let rows = table.height();
    if rows < shards {
        return Ok(Err(format!("{rows} rows cannot make {shards} shards")));
    }
    let classes = if label.is_empty() || learner.tasks.contains(&pipewright_engine::Task::Regression) {
        Vec::new()
    } else {
        let values = pipewright_nodes::frame::text_values(&table.frame, &label)
            .map_err(|e| ClusterError::Workflow(e.to_string()))?;
        pipewright_nodes::frame::sorted_classes(&values)
    };
    let node = &workflow.nodes[i].id;
    let relative = format!("tasks/shards/{node}");
    let folder = dir.join(&relative);
    std::fs::create_dir_all(&folder).map_err(|e| ClusterError::io(&folder, e))?;
    let per = rows.div_ceil(shards);
    let mut listed = Vec::new();
    for k in 0..shards {
        let offset = k * per;
        let count = per.min(rows.saturating_sub(offset));
        let part = table.with_frame(table.frame.slice(i64::try_from(offset).unwrap_or(i64::MAX), count));
        let file = format!("part-{k}.parquet");
        pipewright_nodes::data::write_table(&part, &folder.join(&file), true, true)
            .map_err(|e| ClusterError::Workflow(format!("node \"{node}\": shard {k}: {e}")))?;
        listed.push(super::data_parallel::Shard { file, rows: count, offset });
    }
    let fit = super::data_parallel::ShardedFit { learner: (*learner).clone(), label, classes, rows, shards: listed };
    let text = serde_json::to_string_pretty(&fit).unwrap_or_default() + "\n";
    let path = folder.join(super::data_parallel::FIT_FILE);
    write_atomic(&path, text.as_bytes()).map_err(|e| ClusterError::io(&path, std::io::Error::other(e.to_string())))?;
    Ok(Ok(ParallelFit { node: node.clone(), fingerprint: plan.fingerprints[i].clone(), dir: relative, ranks: shards }))
}

/// The outputs of the trainer block of data-parallel fit `fit` from the model its ranks made (`values`, as
/// rank 0 wrote them): its model, and a clustering's training rows with their clusters.
fn fit_outputs(
    dir: &Path,
    catalog: &Catalog,
    cache: &DiskCache,
    (workflow, plan): (&Workflow, &Plan),
    fit: &ParallelFit,
    values: &[Value],
) -> Result<Vec<Value>, ClusterError> {
    let failed = |e: &dyn std::fmt::Display| ClusterError::Workflow(format!("block \"{}\": {e}", fit.node));
    let Some(i) = workflow.nodes.iter().position(|n| n.id == fit.node) else {
        return Err(failed(&"the bundle's workflow has no such block"));
    };
    let (Some(Value::Model(model)), true) = (values.first(), values.len() == 1) else {
        return Err(failed(&"its data-parallel fit left something other than one model"));
    };
    let sources = input_sources(workflow, catalog, plan);
    let block = fanned_block(workflow, catalog, plan, &sources[i], i)?;
    let inputs = load_inputs(dir, catalog, cache, &block)?;
    let Some(Value::Table(data)) = inputs.get(1).cloned().flatten() else {
        return Err(failed(&"its training rows are not in the shared cache"));
    };
    let entry = catalog.get(&workflow.nodes[i].kind).ok_or_else(|| failed(&"this Pipewright has no such block"))?;
    entry.kind.outputs_of_fit((**model).clone(), &data).map_err(|e| failed(&e))
}

/// Runs the workflow up to `target` with the shared cache, so its outputs (and its ancestors') are stored.
fn run_prefix(
    dir: &Path,
    workflow: &Workflow,
    catalog: &Catalog,
    device: Device,
    cache: &DiskCache,
    target: &str,
) -> Result<(), ClusterError> {
    let options = RunOptions {
        base_dir: dir.to_path_buf(),
        target: Some(target.to_owned()),
        device,
        disk_cache: Some(cache.clone()),
        release_intermediate: true,
        ..RunOptions::default()
    };
    let report = pipewright_engine::run(workflow, catalog, &options, &|_: Event| {})
        .map_err(|e| ClusterError::Workflow(e.to_string()))?;
    if let Some(failed) = report.nodes.iter().find(|n| matches!(n.status, NodeStatus::Failed(_))) {
        let NodeStatus::Failed(message) = &failed.status else { unreachable!() };
        return Err(ClusterError::Workflow(format!("node \"{}\" failed: {message}", failed.node)));
    }
    Ok(())
}

/// The fanned block at node index `i`: its fingerprint and its inputs' fingerprints.
fn fanned_block(
    workflow: &Workflow,
    catalog: &Catalog,
    plan: &Plan,
    sources: &[Option<(usize, usize)>],
    i: usize,
) -> Result<FannedBlock, ClusterError> {
    let node = &workflow.nodes[i];
    let entry = catalog
        .get(&node.kind)
        .ok_or_else(|| ClusterError::Workflow(format!("node \"{}\": unknown kind \"{}\"", node.id, node.kind)))?;
    let inputs = entry
        .spec
        .inputs
        .iter()
        .zip(sources)
        .map(|(port, source)| {
            source.map(|(from, output)| InputRef {
                port: port.name.to_owned(),
                node: workflow.nodes[from].id.clone(),
                output,
                fingerprint: plan.fingerprints[from].clone(),
            })
        })
        .collect();
    Ok(FannedBlock {
        node: node.id.clone(),
        title: node.title.clone().unwrap_or_else(|| entry.spec.name.to_owned()),
        fingerprint: plan.fingerprints[i].clone(),
        inputs,
        units: 0,
        branch: false,
    })
}

/// A fanned block's inputs, read from the shared cache.
fn load_inputs(
    dir: &Path,
    catalog: &Catalog,
    cache: &DiskCache,
    block: &FannedBlock,
) -> Result<Vec<Option<Value>>, ClusterError> {
    block
        .inputs
        .iter()
        .map(|input| {
            let Some(input) = input else { return Ok(None) };
            let folder = dir.join(CACHE_DIR).join(&input.fingerprint);
            let value = cache
                .get(&input.fingerprint)
                .filter(|values| values.iter().all(|v| catalog.load(v).is_ok()))
                .and_then(|values| values.into_iter().nth(input.output));
            match value {
                Some(value) => Ok(Some(value)),
                None => Err(ClusterError::Bundle(format!(
                    "block \"{}\": its input \"{}\" from block \"{}\" cannot be read from {} (a block's output larger \
                     than the memory budget is streamed and cannot be shared; otherwise export the bundle again)",
                    block.node,
                    input.port,
                    input.node,
                    folder.display()
                ))),
            }
        })
        .collect()
}

/// Calls `f` with the context block `i` runs in (its parameters as planned, `inputs`) and its fan-out.
#[allow(clippy::too_many_arguments, reason = "the pieces of a block's context, each from a different place")]
fn with_context<T>(
    dir: &Path,
    catalog: &Catalog,
    workflow: &Workflow,
    plan: &Plan,
    i: usize,
    inputs: Vec<Option<Value>>,
    device: (Device, &DeviceRecord),
    f: impl FnOnce(&NodeContext<'_>, &dyn FanOut) -> Result<T, NodeError>,
) -> Result<T, NodeError> {
    let node = &workflow.nodes[i];
    let entry = catalog.get(&node.kind).ok_or_else(|| NodeError::data(format!("unknown kind \"{}\"", node.kind)))?;
    let fan = entry.kind.fan_out().ok_or_else(|| NodeError::data(format!("{} does not fan out", entry.spec.name)))?;
    let block = Block { dir, node_id: &node.id, spec: &entry.spec, params: &plan.analysis.params[i], device };
    block.run(inputs, |ctx| f(ctx, fan))
}

/// A block run on its own, outside a workflow's run (a task's unit, a combine, a rank of a fit): what its
/// context is made of.
pub(super) struct Block<'a> {
    /// The folder relative paths resolve against (the bundle).
    pub dir: &'a Path,
    /// The block's id.
    pub node_id: &'a str,
    /// Its kind's spec.
    pub spec: &'a pipewright_engine::NodeSpec,
    /// Its parameters.
    pub params: &'a pipewright_engine::Params,
    /// The device policy, and where the kernels' use is recorded.
    pub device: (Device, &'a DeviceRecord),
}

impl Block<'_> {
    /// Calls `f` with the block's context, given `inputs`.
    pub(super) fn run<T>(&self, inputs: Vec<Option<Value>>, f: impl FnOnce(&NodeContext<'_>) -> T) -> T {
        let memory_budget = default_memory_budget();
        let spill = pipewright_engine::spill::SpillDir::beside(None).with_budget(memory_budget);
        let provenance = Provenance { workflow: Some(self.dir.join(WORKFLOW_FILE)), run: None };
        let cancel = CancelToken::new();
        let ctx = NodeContext {
            node_id: self.node_id,
            params: self.params,
            inputs: inputs.into(),
            base_dir: self.dir,
            device: self.device.0,
            device_used: self.device.1,
            cancel: &cancel,
            progress: &|_, _| {},
            spec: self.spec,
            provenance: &provenance,
            memory_budget,
            spill: &spill,
        };
        f(&ctx)
    }
}

/// What one task did.
#[derive(Debug, Clone)]
pub struct TaskDone {
    /// The task.
    pub task: TaskEntry,
    /// Units computed now (the rest were already there from an earlier attempt).
    pub computed: usize,
    /// Wall time.
    pub duration: Duration,
}

/// Computes task `index` of the bundle in `dir`: each of its units whose result is not there yet, each result
/// written (under a temporary name, renamed) to `tasks/results/NODE/UNIT/`. On failure the error, with the task
/// named, is also written to `tasks/errors/INDEX.txt` for the combine and `pipewright submit` to report.
pub fn run_task(bundle: &Bundle, catalog: &Catalog, index: usize) -> Result<TaskDone, ClusterError> {
    let list = TaskList::required(bundle)?;
    let Some(task) = list.tasks.get(index).cloned() else {
        return Err(ClusterError::Bundle(format!(
            "index {index} is not in the task list of {} (indices 0 to {})",
            bundle.dir.display(),
            list.tasks.len().saturating_sub(1)
        )));
    };
    let errors = bundle.dir.join(ERRORS_DIR);
    let _ = std::fs::create_dir_all(&errors);
    let outcome = compute_task(bundle, catalog, &list, &task);
    match &outcome {
        Ok(_) => {
            let _ = std::fs::remove_file(error_file(&bundle.dir, index));
        }
        Err(e) => {
            let _ = std::fs::write(error_file(&bundle.dir, index), format!("{e}\n"));
        }
    }
    outcome
}

fn compute_task(
    bundle: &Bundle,
    catalog: &Catalog,
    list: &TaskList,
    task: &TaskEntry,
) -> Result<TaskDone, ClusterError> {
    let started = Instant::now();
    let dir = &bundle.dir;
    let (workflow, plan) = planned_without_hashing(dir, catalog, list.device)?;
    let cache = DiskCache::shared(dir.join(CACHE_DIR));
    let mut computed = 0;
    let mut inputs_of: BTreeMap<String, Vec<Option<Value>>> = BTreeMap::new();
    for unit in &task.units {
        let folder = result_dir(dir, unit);
        if folder.join("unit.json").is_file() {
            continue;
        }
        let block = list.blocks.iter().find(|b| b.node == unit.node).ok_or_else(|| {
            ClusterError::Bundle(format!(
                "{}: the task list names block \"{}\" but lists no such block",
                task.describe(),
                unit.node
            ))
        })?;
        let i = workflow.nodes.iter().position(|n| n.id == unit.node).ok_or_else(|| {
            ClusterError::Bundle(format!("{}: the bundle's workflow has no block \"{}\"", task.describe(), unit.node))
        })?;
        let unit_started = Instant::now();
        let device_used = DeviceRecord::default();
        let result = if block.branch {
            // A branch runs into the shared cache, where the combine finds its outputs.
            run_prefix(dir, &workflow, catalog, list.device, &cache, &unit.node)
                .map_err(|e| in_task(task, &format!("{}: {e}", unit.label)))?;
            UnitResult::default()
        } else {
            if !inputs_of.contains_key(&unit.node) {
                let inputs = load_inputs(dir, catalog, &cache, block).map_err(|e| in_task(task, &e.to_string()))?;
                inputs_of.insert(unit.node.clone(), inputs);
            }
            let inputs = inputs_of[&unit.node].clone();
            with_context(dir, catalog, &workflow, &plan, i, inputs, (list.device, &device_used), |ctx, fan| {
                fan.run_unit(ctx, &unit.spec)
            })
            .map_err(|e| in_task(task, &format!("{}: {e}", unit.label)))?
        };
        let device = if block.branch {
            "see the block's result".into()
        } else {
            device_used.get().unwrap_or_else(|| "cpu".into())
        };
        let record = json!({
            "node": unit.node,
            "unit": unit.unit,
            "label": unit.label,
            "task": task.index,
            "data": result.data,
            "seconds": unit_started.elapsed().as_secs_f64(),
            "host": host_name(),
            "device": device,
        });
        write_unit(&folder, &result.values, &record)?;
        computed += 1;
    }
    Ok(TaskDone { task: task.clone(), computed, duration: started.elapsed() })
}

fn in_task(task: &TaskEntry, message: &str) -> ClusterError {
    ClusterError::Workflow(format!("{}: {message}", task.describe()))
}

/// The workflow planned for its parameters only (a task reads its inputs by the task list's fingerprints, so
/// it does not hash the data again).
fn planned_without_hashing(dir: &Path, catalog: &Catalog, device: Device) -> Result<(Workflow, Plan), ClusterError> {
    let path = dir.join(WORKFLOW_FILE);
    let workflow = Workflow::load(&path).map_err(|e| ClusterError::Bundle(format!("{}: {e}", path.display())))?;
    let options = RunOptions { base_dir: dir.to_path_buf(), device, ..RunOptions::default() };
    let plan = Session::plan(&workflow, catalog, &options)
        .map_err(|e| ClusterError::Workflow(format!("{}: {e}", path.display())))?
        .planned()
        .clone();
    Ok((workflow, plan))
}

/// Writes a unit's values and its record (`unit.json`, last: its presence says the result is whole).
fn write_unit(folder: &Path, values: &[Value], record: &Json) -> Result<(), ClusterError> {
    let tmp = folder.with_extension(format!("{}.partial", std::process::id()));
    write_values(&tmp, values).map_err(|e| ClusterError::io(&tmp, e))?;
    let text = serde_json::to_string_pretty(record).unwrap_or_default() + "\n";
    std::fs::write(tmp.join("unit.json"), text).map_err(|e| ClusterError::io(tmp.join("unit.json"), e))?;
    if folder.exists() {
        std::fs::remove_dir_all(folder).map_err(|e| ClusterError::io(folder, e))?;
    }
    std::fs::rename(&tmp, folder).map_err(|e| ClusterError::io(folder, e))
}

/// A unit's result as the task wrote it.
fn read_unit(folder: &Path) -> Option<(UnitResult, Json)> {
    let record: Json = serde_json::from_str(&std::fs::read_to_string(folder.join("unit.json")).ok()?).ok()?;
    let values = read_values(folder)?;
    Some((UnitResult { data: record["data"].clone(), values }, record))
}

/// This machine's name, for the unit records.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// What the combine found.
#[derive(Debug, Clone)]
pub struct Combined {
    /// Per fanned block: its id, units, and the hosts and devices its units ran on.
    pub blocks: Vec<(String, usize, Vec<String>)>,
}

/// Waits (up to `wait`, or not at all) until every task has left its results and every data-parallel fit its
/// model; names what is missing when it gives up.
fn wait_for_results(list: &TaskList, dir: &Path, wait: Option<Duration>) -> Result<(), ClusterError> {
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        let mut failures = list.failures(dir);
        // Engines with no dependencies between jobs start the combine beside the data-parallel fits too.
        failures.extend(
            list.fits
                .iter()
                .filter(|f| !dir.join(&f.dir).join(super::data_parallel::MODEL_DIR).is_dir())
                .map(|f| format!("block \"{}\": its data-parallel fit ({} ranks) left no model yet", f.node, f.ranks)),
        );
        if failures.is_empty() || (wait.is_none() && list.failures(dir).is_empty()) {
            break;
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            let mut shown: Vec<String> = failures.iter().take(20).cloned().collect();
            if failures.len() > 20 {
                shown.push(format!("and {} more", failures.len() - 20));
            }
            return Err(ClusterError::Workflow(format!(
                "{} of {} tasks left no result:\n  {}",
                failures.len(),
                list.tasks.len(),
                shown.join("\n  ")
            )));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(())
}

/// Joins every fanned block's unit results into its outputs and stores them in the shared cache, so the
/// workflow's run finds them there. `wait`: keep looking for missing results this long (an engine without
/// dependencies between jobs starts the combine beside the tasks). A missing result fails it, naming the task
/// and what it computed.
pub fn combine(bundle: &Bundle, catalog: &Catalog, wait: Option<Duration>) -> Result<Combined, ClusterError> {
    let list = TaskList::required(bundle)?;
    let dir = &bundle.dir;
    wait_for_results(&list, dir, wait)?;
    let (workflow, plan) = planned(dir, catalog, list.device)?;
    let cache = DiskCache::shared(dir.join(CACHE_DIR));
    let mut combined = Vec::new();
    for block in &list.blocks {
        let i =
            workflow.nodes.iter().position(|n| n.id == block.node).ok_or_else(|| {
                ClusterError::Bundle(format!("the bundle's workflow has no block \"{}\"", block.node))
            })?;
        if plan.fingerprints[i] != block.fingerprint {
            return Err(ClusterError::Bundle(format!(
                "block \"{}\" is not what the tasks computed: the bundle's workflow or data changed after export; \
                 export it again",
                block.node
            )));
        }
        if block.branch {
            // Its task ran it into the shared cache; the workflow's run finds it there.
            combined.push((block.node.clone(), block.units, Vec::new()));
            continue;
        }
        let mut results = Vec::with_capacity(block.units);
        let mut hosts: Vec<String> = Vec::new();
        for unit in
            list.tasks.iter().flat_map(|t| t.units.iter().map(move |u| (t, u))).filter(|(_, u)| u.node == block.node)
        {
            let (task, unit) = unit;
            let (result, record) = read_unit(&result_dir(dir, unit)).ok_or_else(|| {
                ClusterError::Workflow(format!(
                    "{}: the result of {} cannot be read from {}",
                    task.describe(),
                    unit.label,
                    result_dir(dir, unit).display()
                ))
            })?;
            let place =
                format!("{} ({})", record["host"].as_str().unwrap_or("?"), record["device"].as_str().unwrap_or("cpu"));
            if !hosts.contains(&place) {
                hosts.push(place);
            }
            results.push(result);
        }
        let inputs = load_inputs(dir, catalog, &cache, block)?;
        let outputs = with_context(
            dir,
            catalog,
            &workflow,
            &plan,
            i,
            inputs,
            (list.device, &DeviceRecord::default()),
            |ctx, fan| fan.combine(ctx, results),
        )
        .map_err(|e| {
            ClusterError::Workflow(format!("node \"{}\" failed to combine its tasks' results: {e}", block.node))
        })?;
        cache.put(&block.fingerprint, &outputs).map_err(|e| ClusterError::io(dir.join(CACHE_DIR), e))?;
        combined.push((block.node.clone(), block.units, hosts));
    }
    for fit in &list.fits {
        let folder = dir.join(&fit.dir);
        let model = read_values(&folder.join(super::data_parallel::MODEL_DIR))
            .filter(|values| values.iter().all(|v| catalog.load(v).is_ok()))
            .ok_or_else(|| {
                ClusterError::Workflow(format!(
                    "block \"{}\": its data-parallel fit left no model in {} (did its {} ranks run? see their log)",
                    fit.node,
                    folder.join(super::data_parallel::MODEL_DIR).display(),
                    fit.ranks
                ))
            })?;
        let outputs = fit_outputs(dir, catalog, &cache, (&workflow, &plan), fit, &model)?;
        cache.put(&fit.fingerprint, &outputs).map_err(|e| ClusterError::io(dir.join(CACHE_DIR), e))?;
        combined.push((fit.node.clone(), fit.ranks, vec![format!("{} ranks", fit.ranks)]));
    }
    Ok(Combined { blocks: combined })
}
