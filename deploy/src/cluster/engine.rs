//! Submitting a bundle to its engine, following the job to its end, and recording it as a run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use pipewright_engine::{CancelToken, Workflow};
use pipewright_store::{NodeRecord, RunSource, RunStart, RunStatus, Store, experiment_of, store_path};

use super::kubernetes::Kubectl;
use super::ray::Ray;
use super::results::{JobResults, RESULT_MARKER, collect};
use super::slurm::{self, Rest};
use super::tasks::{self, TaskList};
use super::{Bundle, ClusterError, Target};

/// Where a bundle goes.
#[derive(Debug, Clone)]
pub enum Engine {
    /// Slurm through `sbatch`/`scontrol`/`scancel` on this machine (a login node; `SLURM_CONF` is honoured).
    SlurmCli,
    /// Slurm through slurmrestd.
    SlurmRest {
        /// `http://host:6820`.
        url: String,
        /// The user the token belongs to.
        user: String,
        /// The JWT.
        token: String,
    },
    /// A Ray cluster's Jobs API at its dashboard (`http://host:8265`).
    Ray {
        /// The dashboard's address.
        url: String,
    },
    /// Kubernetes through `kubectl`.
    Kubernetes {
        /// The kubeconfig; kubectl's default when `None`.
        kubeconfig: Option<PathBuf>,
    },
}

impl Engine {
    /// The target a bundle must have been exported for.
    pub fn target(&self) -> Target {
        match self {
            Self::SlurmCli | Self::SlurmRest { .. } => Target::Slurm,
            Self::Ray { .. } => Target::Ray,
            Self::Kubernetes { .. } => Target::Kubernetes,
        }
    }

    /// Where the job goes, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::SlurmCli => "Slurm (sbatch)".into(),
            Self::SlurmRest { url, .. } => format!("Slurm at {url}"),
            Self::Ray { url } => format!("Ray at {url}"),
            Self::Kubernetes { kubeconfig: Some(k) } => format!("Kubernetes ({})", k.display()),
            Self::Kubernetes { kubeconfig: None } => "Kubernetes".into(),
        }
    }

    /// The engine's API for one job.
    fn api(&self) -> Box<dyn JobApi> {
        match self {
            Self::SlurmCli => Box::new(slurm::Tools),
            Self::SlurmRest { url, user, token } => {
                Box::new(Rest { url: url.clone(), user: user.clone(), token: token.clone() })
            }
            Self::Ray { url } => Box::new(Ray { url: url.clone() }),
            Self::Kubernetes { kubeconfig } => Box::new(Kubectl { kubeconfig: kubeconfig.clone() }),
        }
    }
}

/// What `submit` needs of an engine: send the bundle, look at the job, read its log, cancel it.
pub(super) trait JobApi {
    /// Submits the bundle; returns the job's id on the engine.
    fn submit(&self, bundle: &Bundle) -> Result<String, ClusterError>;
    /// The job's state.
    fn state(&self, id: &str) -> Result<JobState, ClusterError>;
    /// The job's log so far (empty while there is none).
    fn logs(&self, bundle: &Bundle, id: &str) -> String;
    /// Cancels the job.
    fn cancel(&self, id: &str) -> Result<(), ClusterError>;
}

/// A job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Submitted, waiting for resources.
    Queued,
    /// Running.
    Running,
    /// Finished without error.
    Succeeded,
    /// Failed, with the reason.
    Failed(String),
    /// Stopped (by the user or an administrator).
    Cancelled,
}

impl JobState {
    /// Whether the job has ended.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed(_) | Self::Cancelled)
    }

    /// queued, running, done, failed or cancelled.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "done",
            Self::Failed(_) => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(why) => write!(f, "failed: {why}"),
            other => f.write_str(other.word()),
        }
    }
}

/// How to submit and follow.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// Time between two looks at the job.
    pub poll: Duration,
    /// Give up following (and cancel the job) after this long; `None` follows to the end.
    pub timeout: Option<Duration>,
    /// Stops following and cancels the job.
    pub cancel: CancelToken,
    /// The project whose run history receives the job; the bundle's project when `None`.
    pub project: Option<PathBuf>,
    /// Consecutive failed looks at the job (engine unreachable) before it is given up as failed.
    pub max_lost_polls: u32,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            timeout: None,
            cancel: CancelToken::new(),
            project: None,
            max_lost_polls: 30,
        }
    }
}

/// What the follower reports as the job goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The run was recorded in the store under this id.
    Recorded {
        /// The run's id.
        run: i64,
    },
    /// The engine accepted the job.
    Submitted {
        /// Its id on the engine.
        job: String,
    },
    /// The job's state changed.
    State(JobState),
    /// New lines of the job's log (the runner's result line left out).
    Log(String),
    /// Blocks finished so far, out of the workflow's.
    Progress {
        /// Blocks done (or from the cache).
        done: usize,
        /// Blocks in the workflow.
        total: usize,
    },
    /// Something the user should know that does not stop the job.
    Note(String),
}

/// How a submission ended.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The job's id on the engine; `None` when it was not accepted.
    pub job: Option<String>,
    /// Its last state.
    pub state: JobState,
    /// The run in the project's store, when it could be recorded.
    pub run: Option<i64>,
    /// What came back.
    pub results: JobResults,
}

/// Submits `bundle` to `engine`, follows the job to its end (reporting through `on_update`), brings its
/// results back and records it as a run (source `cluster`). Only a bundle that cannot be used is an `Err`;
/// an engine that cannot be reached, a refused job or a failed one end as a `Submission` in
/// [`JobState::Failed`], recorded as a failed run.
pub fn submit(
    bundle: &Bundle,
    engine: &Engine,
    options: &SubmitOptions,
    on_update: &dyn Fn(Update),
) -> Result<Submission, ClusterError> {
    if engine.target() != bundle.manifest.target {
        return Err(ClusterError::Bundle(format!(
            "{} was exported for {}, not {}; export it again with --target {}",
            bundle.dir.display(),
            bundle.manifest.target.title(),
            engine.target().title(),
            engine.target()
        )));
    }
    let workflow = bundle.workflow()?;
    let total = workflow.nodes.len();
    let api = engine.api();
    let project = options.project.clone().unwrap_or_else(|| bundle.manifest.project.clone());
    // Results of an earlier submission must not pass for this one's.
    clear_results(&bundle.results_dir())?;
    let task_list = TaskList::of(bundle)?;
    if let Some(list) = &task_list {
        // A data-parallel fit's earlier exchange and model must not pass for this one's.
        for fit in &list.fits {
            for stale in ["exchange", super::data_parallel::MODEL_DIR] {
                let path = bundle.dir.join(&fit.dir).join(stale);
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).map_err(|e| ClusterError::io(&path, e))?;
                }
            }
        }
    }
    if task_list.is_some() {
        for dir in [tasks::RESULTS_DIR, tasks::ERRORS_DIR] {
            let path = bundle.dir.join(dir);
            if path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(|e| ClusterError::io(&path, e))?;
            }
            std::fs::create_dir_all(&path).map_err(|e| ClusterError::io(&path, e))?;
        }
    }
    let record = Record::begin(bundle, &workflow, &project);
    let run = match &record {
        Ok(r) => {
            on_update(Update::Recorded { run: r.run });
            Some(r.run)
        }
        Err(e) => {
            on_update(Update::Note(format!("this job is not recorded in the run history: {e}")));
            None
        }
    };

    let job = match api.submit(bundle) {
        Ok(job) => job,
        Err(e) => {
            let state = JobState::Failed(e.to_string());
            let results = JobResults::default();
            if let Ok(r) = &record {
                r.end(engine, None, &state, &results, on_update);
            }
            return Ok(Submission { job: None, state, run, results });
        }
    };
    on_update(Update::Submitted { job: job.clone() });

    let (mut state, shown_log) = follow(bundle, api.as_ref(), &job, total, options, on_update);
    let log = api.logs(bundle, &job);
    if log.len() > shown_log && log.is_char_boundary(shown_log) {
        on_update(Update::Log(without_result(&log[shown_log..])));
    }
    let results = collect(bundle, log);
    // A job the engine forgot before it was seen to end is judged by its result.
    let succeeded = results.result.as_ref().is_some_and(|r| r.success);
    if state == JobState::Failed(slurm::FORGOTTEN.into()) && succeeded {
        state = JobState::Succeeded;
    }
    // A job the engine calls done whose workflow failed, or that left no result, is a failed run.
    if state == JobState::Succeeded {
        if let Some(failure) = results.failure() {
            state = JobState::Failed(failure);
        } else if results.result.is_none() {
            state = JobState::Failed("the job ended without a result; see its log".into());
        }
    } else if let (JobState::Failed(why), Some(failure)) = (&state, results.failure()) {
        state = JobState::Failed(format!("{why}; {failure}"));
    }
    // A fanned-out run that failed names the tasks that left no result and why.
    if let (JobState::Failed(why), Some(list)) = (&state, &task_list) {
        let failures = list.failures(&bundle.dir);
        if !failures.is_empty() && results.result.is_none() {
            state = JobState::Failed(format!("{why}; {}", tasks::summarize(&failures)));
        }
    }
    if let Ok(r) = &record {
        r.end(engine, Some(&job), &state, &results, on_update);
    }
    Ok(Submission { job: Some(job), state, run, results })
}

/// Looks at the job every `options.poll` until it ends, is cancelled, times out or is lost; reports states, new
/// log lines and progress. Returns the last state and how much of the log was reported.
fn follow(
    bundle: &Bundle,
    api: &dyn JobApi,
    job: &str,
    total: usize,
    options: &SubmitOptions,
    on_update: &dyn Fn(Update),
) -> (JobState, usize) {
    let started = Instant::now();
    let mut state = JobState::Queued;
    let mut shown_log = 0;
    let mut done_blocks = 0;
    let mut lost = 0;
    on_update(Update::State(state.clone()));
    loop {
        if options.cancel.is_cancelled() || options.timeout.is_some_and(|t| started.elapsed() > t) {
            let why = if options.cancel.is_cancelled() {
                JobState::Cancelled
            } else {
                JobState::Failed(format!(
                    "the job did not end within {} s; it was cancelled",
                    options.timeout.map_or(0, |t| t.as_secs())
                ))
            };
            if let Err(e) = api.cancel(job) {
                on_update(Update::Note(format!("the job could not be cancelled: {e}")));
            }
            state = why;
            on_update(Update::State(state.clone()));
            break;
        }
        match api.state(job) {
            Ok(now) => {
                lost = 0;
                if now != state {
                    state = now;
                    on_update(Update::State(state.clone()));
                }
            }
            Err(e) => {
                lost += 1;
                if lost >= options.max_lost_polls {
                    state = JobState::Failed(format!("lost contact with the job: {e}"));
                    on_update(Update::State(state.clone()));
                    break;
                }
            }
        }
        let log = api.logs(bundle, job);
        if log.len() > shown_log && log.is_char_boundary(shown_log) {
            let new = &log[shown_log..];
            // Whole lines only; the rest waits for the next look.
            if let Some(end) = new.rfind('\n') {
                let lines = &new[..=end];
                done_blocks += lines.lines().filter(|l| is_block_line(l)).count();
                on_update(Update::Log(without_result(lines)));
                on_update(Update::Progress { done: done_blocks.min(total), total });
                shown_log += end + 1;
            }
        }
        if state.is_final() {
            if matches!(state, JobState::Failed(_)) {
                // A job given up (it can never start, contact was lost) must not linger on the cluster; one
                // that already ended makes this a no-op.
                let _ = api.cancel(job);
            }
            break;
        }
        sleep(options.poll, &options.cancel);
    }

    (state, shown_log)
}

/// Log lines for people: the runner's machine-readable result line left out.
fn without_result(lines: &str) -> String {
    lines.lines().filter(|l| !l.starts_with(RESULT_MARKER)).fold(String::new(), |mut text, line| {
        text.push_str(line);
        text.push('\n');
        text
    })
}

/// Whether a log line is the runner's report of a finished block.
fn is_block_line(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("done ") || line.starts_with("cached ")
}

fn sleep(total: Duration, cancel: &CancelToken) {
    let end = Instant::now() + total;
    while Instant::now() < end && !cancel.is_cancelled() {
        std::thread::sleep(Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())));
    }
}

fn clear_results(dir: &Path) -> Result<(), ClusterError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| ClusterError::io(dir, e))?;
    }
    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts).map_err(|e| ClusterError::io(&artifacts, e))
}

/// The job's run in the project's store.
struct Record {
    store: Store,
    run: i64,
    bundle: PathBuf,
}

impl Record {
    fn begin(bundle: &Bundle, workflow: &Workflow, project: &Path) -> Result<Self, ClusterError> {
        let fail = |e: pipewright_store::StoreError| ClusterError::Bundle(e.to_string());
        let store = Store::open(&store_path(project)).map_err(fail)?;
        let m = &bundle.manifest;
        // The snapshot is the workflow as it runs, with the file paths it had before export, so the run
        // restores on this machine.
        let mut snapshot = workflow.clone();
        let originals = m.data.iter().map(|d| (&d.node, &d.param, &d.original));
        for (node, param, original) in originals.chain(m.outputs.iter().map(|o| (&o.node, &o.param, &o.original))) {
            if let Some(n) = snapshot.node_mut(node) {
                n.params.insert(param.clone(), serde_json::Value::String(original.clone()));
            }
        }
        let snapshot = snapshot.to_json();
        let run = store
            .begin_run(&RunStart {
                experiment: &experiment_of(&m.source_workflow),
                workflow_name: &m.workflow_name,
                workflow_file: &m.source_workflow.display().to_string(),
                snapshot: &snapshot,
                // No parameter overrides: the engine, job and bundle are in the run's job record.
                overrides: "{}",
                device: if m.resources.gpus > 0 { "gpu" } else { "cpu" },
                source: RunSource::Cluster,
            })
            .map_err(fail)?;
        Ok(Self { store, run, bundle: bundle.dir.clone() })
    }

    /// Records the nodes, metrics, outputs, files and log that came back, and how the job ended.
    fn end(
        &self,
        engine: &Engine,
        job: Option<&str>,
        state: &JobState,
        results: &JobResults,
        on_update: &dyn Fn(Update),
    ) {
        if let Err(e) = self.record(engine, job, state, results) {
            on_update(Update::Note(format!("the run's record is incomplete: {e}")));
        }
        let status = match state {
            JobState::Succeeded => RunStatus::Succeeded,
            JobState::Cancelled => RunStatus::Cancelled,
            _ => RunStatus::Failed,
        };
        if let Err(e) = self.store.finish_run(self.run, status) {
            on_update(Update::Note(format!("the run's end is not recorded: {e}")));
        }
    }

    fn record(
        &self,
        engine: &Engine,
        job: Option<&str>,
        state: &JobState,
        results: &JobResults,
    ) -> Result<(), pipewright_store::StoreError> {
        let (store, run) = (&self.store, self.run);
        let job_record = json!({
            "engine": engine.describe(),
            "bundle": self.bundle,
            "target": engine.target(),
            "job": job,
            "state": state.word(),
            "message": match state { JobState::Failed(why) => Some(why.as_str()), _ => None },
            "tasks": TaskList::of_dir(&self.bundle).map(|list| list.states(&self.bundle)),
        });
        let hash = store.put_artifact("job", job_record.to_string().as_bytes())?;
        store.link_artifact(run, "job", "record", &hash)?;
        if !results.log.is_empty() {
            let hash = store.put_artifact("log", results.log.as_bytes())?;
            store.link_artifact(run, "job", "log", &hash)?;
        }
        let Some(result) = &results.result else { return Ok(()) };
        for (node, source, name, value) in results.metrics() {
            store.record_metric(run, &node, &source, &name, value, None)?;
        }
        if let Some(dir) = &results.dir {
            for output in &result.outputs {
                if let Ok(bytes) = std::fs::read(dir.join(&output.file)) {
                    let hash = store.put_artifact(&output.kind, &bytes)?;
                    store.link_artifact(run, &output.node, &output.port, &hash)?;
                }
            }
            // The files the workflow wrote (model packages, exported tables).
            if let Ok(entries) = std::fs::read_dir(dir.join("artifacts")) {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if let Ok(bytes) = std::fs::read(entry.path()) {
                        let hash = store.put_artifact("file", &bytes)?;
                        store.link_artifact(run, "job", &format!("file:{name}"), &hash)?;
                    }
                }
            }
        }
        for node in &result.nodes {
            store.record_node(
                run,
                &NodeRecord {
                    node: node.id.clone(),
                    kind: node.kind.clone(),
                    status: node.status.as_str().to_owned(),
                    duration_secs: node.duration_secs,
                    cache_hit: node.cache_hit,
                    device: node.device.clone(),
                    error: node.error.clone(),
                },
            )?;
        }
        Ok(())
    }
}
