//! The runtime side of an open document: what the last runs produced, the run in progress (on worker
//! threads, reporting through engine events), and each node's state as the canvas shows it. Nothing here
//! is saved with the workflow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use pipewright_engine::{
    Analysis, CancelToken, Catalog, Device, DiskCache, Done, Event, MemoryCache, NodeStatus, Outputs, Problem,
    Provenance, RunError, RunOptions, RunReport, Session, Workflow, plan_on, validate_in,
};
use pipewright_store::{RecordStart, Recorder, RunSource};

/// A node's state on the canvas.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Never run.
    NotRun,
    /// Edited (or fed by an edited node) since its last run: its results are out of date.
    Stale,
    /// Waiting in the current run.
    Queued,
    /// Running now.
    Running {
        /// 0..=1, when the block reports it.
        fraction: Option<f32>,
        /// What it is doing.
        message: String,
    },
    /// Served from the cache.
    Cached,
    /// Ran successfully.
    Done {
        /// How long it took.
        duration: Duration,
        /// Where its kernels ran, for blocks with compute kernels.
        device: Option<String>,
    },
    /// Failed with this message.
    Failed(String),
    /// Not run because an input failed or the run stopped.
    Skipped(String),
}

impl Phase {
    /// A short word for the state, as the node's status line and tests read it.
    pub fn label(&self) -> String {
        match self {
            Self::NotRun => "not run".into(),
            Self::Stale => "stale: run again".into(),
            Self::Queued => "queued".into(),
            Self::Running { fraction: Some(f), .. } => format!("running {:.0}%", f * 100.0),
            Self::Running { fraction: None, .. } => "running".into(),
            Self::Cached => "cached".into(),
            Self::Done { duration, .. } => format!("done in {}", format_duration(*duration)),
            Self::Failed(_) => "failed".into(),
            Self::Skipped(_) => "skipped".into(),
        }
    }
}

/// "0.42 s", "1 min 3 s".
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 0.01 {
        format!("{:.1} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        format!("{} min {} s", duration.as_secs() / 60, duration.as_secs() % 60)
    }
}

/// What a node produced in its last successful run.
#[derive(Debug, Clone)]
pub struct NodeResult {
    /// Its output values, by output port index.
    pub outputs: Outputs,
    /// The fingerprint they belong to.
    pub fingerprint: String,
}

/// How the last run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Every planned node finished or came from the cache.
    pub success: bool,
    /// It was stopped.
    pub cancelled: bool,
    /// Wall time.
    pub duration: Duration,
    /// Nodes that ran, and that came from the cache.
    pub ran: usize,
    /// Nodes served from the cache.
    pub cached: usize,
}

enum Message {
    Event(Event),
    Done(Box<Result<RunReport, RunError>>),
    /// The run's id in the project store, or why it is not (completely) recorded.
    Recorded(Result<i64, String>),
}

/// A run in progress.
pub struct ActiveRun {
    cancel: CancelToken,
    messages: Receiver<Message>,
    started: Instant,
    /// The node it runs up to, if not all.
    pub target: Option<String>,
}

impl ActiveRun {
    /// Time since it started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Runtime state of one document.
pub struct Runtime {
    phases: HashMap<String, Phase>,
    /// Fingerprint each node had when it last ran (or failed).
    ran_fingerprints: HashMap<String, String>,
    /// How each node ended in its last run; shown again when an undo brings the workflow back to it.
    ran_phases: HashMap<String, Phase>,
    results: HashMap<String, NodeResult>,
    current_fingerprints: HashMap<String, String>,
    analysis: Option<Analysis>,
    /// The document revision and device policy the analysis and fingerprints were made for.
    analysed_revision: Option<(u64, Device)>,
    memory_cache: Arc<MemoryCache>,
    run: Option<ActiveRun>,
    /// How the last run ended.
    pub last_run: Option<RunSummary>,
    /// Why the last run did not start.
    pub last_refusal: Option<String>,
    /// The store's id of the last recorded run, or why it was not recorded.
    pub last_record: Option<Result<i64, String>>,
    /// Per node, the recorded run its current results come from (to register its model).
    recorded_in: HashMap<String, i64>,
    /// The run being recorded, once its start is in the store.
    recording: Option<i64>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            phases: HashMap::new(),
            ran_fingerprints: HashMap::new(),
            ran_phases: HashMap::new(),
            results: HashMap::new(),
            current_fingerprints: HashMap::new(),
            analysis: None,
            analysed_revision: None,
            memory_cache: Arc::new(MemoryCache::new()),
            run: None,
            last_run: None,
            last_refusal: None,
            last_record: None,
            recorded_in: HashMap::new(),
            recording: None,
        }
    }
}

impl Runtime {
    /// Re-validates and re-fingerprints the workflow when it or the device policy changed; nodes whose inputs
    /// or parameters changed since they ran become stale (so do blocks with compute kernels when the device
    /// policy changes).
    pub fn refresh(&mut self, workflow: &Workflow, revision: u64, catalog: &Catalog, base_dir: &Path, device: Device) {
        if self.analysed_revision == Some((revision, device)) {
            return;
        }
        self.analysed_revision = Some((revision, device));
        self.analysis = Some(validate_in(workflow, catalog, Some(base_dir)));
        self.current_fingerprints = current_fingerprints(workflow, catalog, base_dir, device);
        if self.run.is_some() {
            return;
        }
        let ids: Vec<String> = workflow.nodes.iter().map(|n| n.id.clone()).collect();
        for id in ids {
            let now = self.current_fingerprints.get(&id);
            if now.is_none() || now != self.ran_fingerprints.get(&id) {
                let phase = if self.ran_fingerprints.contains_key(&id) { Phase::Stale } else { Phase::NotRun };
                self.phases.insert(id, phase);
            } else if let Some(phase) = self.ran_phases.get(&id) {
                self.phases.insert(id, phase.clone());
            }
        }
        self.phases.retain(|id, _| workflow.node(id).is_some());
    }

    /// The node's state.
    pub fn phase(&self, node: &str) -> Phase {
        self.phases.get(node).cloned().unwrap_or(Phase::NotRun)
    }

    /// Outputs of the node's last successful run, if they still match the workflow.
    pub fn outputs(&self, node: &str) -> Option<&Outputs> {
        self.results.get(node).map(|r| &r.outputs)
    }

    /// Whether the node's shown outputs are from before its last edit.
    pub fn is_outdated(&self, node: &str) -> bool {
        match (self.results.get(node), self.current_fingerprints.get(node)) {
            (Some(result), Some(now)) => &result.fingerprint != now,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Validation problems of the node.
    pub fn problems_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.analysis.iter().flat_map(|a| a.problems.iter()).filter(move |p| p.node.as_deref() == Some(node))
    }

    /// Every validation problem.
    pub fn problems(&self) -> &[Problem] {
        self.analysis.as_ref().map_or(&[], |a| a.problems.as_slice())
    }

    /// The analysis of the current workflow (schemas, resolved parameters).
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// The recorded run the node's current results come from, if they were recorded and are up to date.
    pub fn recorded_run_of(&self, node: &str) -> Option<i64> {
        self.recorded_in.get(node).copied().filter(|_| !self.is_outdated(node) && self.results.contains_key(node))
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// The run in progress.
    pub fn active_run(&self) -> Option<&ActiveRun> {
        self.run.as_ref()
    }

    /// Starts a run of the whole workflow or up to `target`, on worker threads. `repaint` is called
    /// whenever an event arrives, so the window redraws. Refused (with the reason kept in
    /// [`Runtime::last_refusal`]) when the workflow is invalid or a run is going on.
    pub fn start(
        &mut self,
        workflow: &Workflow,
        catalog: &Arc<Catalog>,
        settings: RunSettings,
        repaint: impl Fn() + Send + Sync + 'static,
    ) -> bool {
        if self.run.is_some() {
            return false;
        }
        let (sender, messages) = channel();
        let cancel = CancelToken::new();
        let options = RunOptions {
            base_dir: settings.base_dir.clone(),
            target: settings.target.clone(),
            device: settings.device,
            cancel: cancel.clone(),
            threads: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            memory_cache: Some(self.memory_cache.clone()),
            disk_cache: settings.disk_cache_dir.as_deref().map(DiskCache::for_project),
            // The designer shows every block's results.
            release_intermediate: false,
            provenance: Provenance { workflow: settings.record.as_ref().map(|r| r.workflow_file.clone()), run: None },
            memory_budget: settings.memory_budget,
        };
        // Planned once, here: the plan's blocks show as queued, and the run thread runs this plan.
        let session = match Session::plan(workflow, catalog, &options) {
            Ok(session) => session,
            Err(e) => {
                self.last_refusal = Some(e.to_string());
                return false;
            }
        };
        self.last_refusal = None;
        for &i in &session.planned().order {
            self.phases.insert(workflow.nodes[i].id.clone(), Phase::Queued);
        }
        let workflow = workflow.clone();
        let catalog = catalog.clone();
        let repaint = Arc::new(repaint);
        let record = settings.record.clone();
        let spawned = std::thread::Builder::new().name("pipewright-run".into()).spawn(move || {
            run_thread(&workflow, &catalog, session, options, record.as_ref(), &sender, repaint.as_ref());
        });
        if let Err(e) = spawned {
            self.last_refusal = Some(format!("could not start a worker thread: {e}"));
            return false;
        }
        self.run = Some(ActiveRun { cancel, messages, started: Instant::now(), target: settings.target });
        self.recording = None;
        self.last_record = None;
        true
    }

    /// Asks the run in progress to stop; nodes stop at their next check.
    pub fn stop(&self) {
        if let Some(run) = &self.run {
            run.cancel.cancel();
        }
    }

    /// Takes the events that arrived since the last frame. Returns whether anything changed.
    pub fn poll(&mut self) -> bool {
        let Some(run) = &self.run else { return false };
        let messages: Vec<Message> = run.messages.try_iter().collect();
        let changed = !messages.is_empty();
        let mut report = None;
        for message in messages {
            match message {
                Message::Event(event) => self.on_event(event),
                Message::Done(result) => report = Some(*result),
                Message::Recorded(Ok(id)) => self.recording = Some(id),
                Message::Recorded(Err(why)) => self.last_record = Some(Err(why)),
            }
        }
        if let Some(result) = report {
            self.run = None;
            match result {
                Ok(report) => self.finish(report),
                Err(e) => self.last_refusal = Some(e.to_string()),
            }
        }
        changed
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::NodeStarted { node } => {
                self.phases.insert(node, Phase::Running { fraction: None, message: String::new() });
            }
            Event::NodeProgress { node, fraction, message } => {
                self.phases.insert(node, Phase::Running { fraction: Some(fraction), message });
            }
            Event::NodeCached { node, .. } => {
                self.phases.insert(node, Phase::Cached);
            }
            Event::NodeFinished { node, duration, device, .. } => {
                self.phases.insert(node, Phase::Done { duration, device });
            }
            Event::NodeFailed { node, message } => {
                self.phases.insert(node, Phase::Failed(message));
            }
            // The block's outputs show the moment it is done, before the rest of the run ends.
            Event::NodeDone(Done(outcome)) => {
                if outcome.status.is_success() {
                    self.results.insert(
                        outcome.node.clone(),
                        NodeResult { outputs: outcome.outputs.clone(), fingerprint: outcome.fingerprint.clone() },
                    );
                }
            }
            Event::RunFinished { .. } => {}
        }
    }

    fn finish(&mut self, report: RunReport) {
        let mut summary = RunSummary {
            success: report.success,
            cancelled: report.cancelled,
            duration: report.duration,
            ran: 0,
            cached: 0,
        };
        for outcome in report.nodes {
            self.ran_fingerprints.insert(outcome.node.clone(), outcome.fingerprint.clone());
            let phase = match &outcome.status {
                NodeStatus::Finished => {
                    summary.ran += 1;
                    Phase::Done { duration: outcome.duration, device: outcome.device.clone() }
                }
                NodeStatus::Cached { .. } => {
                    summary.cached += 1;
                    Phase::Cached
                }
                NodeStatus::Failed(message) => Phase::Failed(message.clone()),
                NodeStatus::Skipped(reason) => Phase::Skipped(reason.clone()),
            };
            if outcome.status.is_success() {
                match self.recording {
                    Some(run) => self.recorded_in.insert(outcome.node.clone(), run),
                    None => self.recorded_in.remove(&outcome.node),
                };
                self.results.insert(
                    outcome.node.clone(),
                    NodeResult { outputs: outcome.outputs.clone(), fingerprint: outcome.fingerprint.clone() },
                );
            }
            self.ran_phases.insert(outcome.node.clone(), phase.clone());
            self.phases.insert(outcome.node, phase);
        }
        // The workflow may have been edited while it ran.
        let edited: Vec<String> = self
            .ran_fingerprints
            .iter()
            .filter(|(id, fp)| self.current_fingerprints.get(*id).is_some_and(|now| now != *fp))
            .map(|(id, _)| id.clone())
            .collect();
        for id in edited {
            self.phases.insert(id, Phase::Stale);
        }
        self.last_run = Some(summary);
        if let Some(run) = self.recording.take()
            && !matches!(self.last_record, Some(Err(_)))
        {
            self.last_record = Some(Ok(run));
        }
    }
}

/// Where and how a run happens.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Folder relative paths resolve against.
    pub base_dir: PathBuf,
    /// Run only this node and what it needs.
    pub target: Option<String>,
    /// Device policy.
    pub device: Device,
    /// Project folder whose on-disk cache to use (none for unsaved workflows).
    pub disk_cache_dir: Option<PathBuf>,
    /// Where to record the run (none for unsaved workflows).
    pub record: Option<RecordTarget>,
    /// Bytes a block may hold; `None`: half of the machine's memory.
    pub memory_budget: Option<u64>,
}

/// The project store a designer run is recorded in.
#[derive(Debug, Clone)]
pub struct RecordTarget {
    /// The project folder.
    pub project: PathBuf,
    /// The workflow's file.
    pub workflow_file: PathBuf,
}

fn run_thread(
    workflow: &Workflow,
    catalog: &Catalog,
    session: Session,
    mut options: RunOptions,
    record: Option<&RecordTarget>,
    sender: &Sender<Message>,
    repaint: &(dyn Fn() + Send + Sync),
) {
    // The store is opened here, off the UI thread; a store that cannot be used leaves the run unrecorded and
    // says why.
    let recorder = record.and_then(|target| {
        let start = RecordStart {
            project: &target.project,
            workflow_file: &target.workflow_file,
            workflow,
            overrides: &[],
            device: options.device,
            source: RunSource::Designer,
        };
        let started = Recorder::start(&start, catalog).map(Arc::new);
        let _ = sender.send(Message::Recorded(started.as_ref().map(|r| r.run_id()).map_err(ToString::to_string)));
        started.ok()
    });
    options.provenance.run = recorder.as_ref().map(|r| r.run_id());
    let on_event = |event: Event| {
        if let Some(recorder) = &recorder {
            recorder.on_event(&event);
        }
        // The receiver is gone only when the document was closed; the run then ends unobserved.
        let _ = sender.send(Message::Event(event));
        repaint();
    };
    let report = session.run(workflow, catalog, &options, &on_event);
    if let Some(Err(e)) = recorder.as_ref().map(|r| r.finish(&report)) {
        let _ = sender.send(Message::Recorded(Err(e.to_string())));
    }
    let _ = sender.send(Message::Done(Box::new(Ok(report))));
    repaint();
}

fn current_fingerprints(
    workflow: &Workflow,
    catalog: &Catalog,
    base_dir: &Path,
    device: Device,
) -> HashMap<String, String> {
    // Nodes on a broken path get no fingerprint; the rest still do, so a problem in one branch does not make
    // every other branch look stale.
    let Ok(planned) = plan_on(workflow, catalog, base_dir, None, device) else {
        return workflow
            .nodes
            .iter()
            .filter_map(|n| {
                let p = plan_on(workflow, catalog, base_dir, Some(&n.id), device).ok()?;
                let i = workflow.nodes.iter().position(|m| m.id == n.id)?;
                Some((n.id.clone(), p.fingerprints.get(i)?.clone()))
            })
            .collect();
    };
    planned.order.iter().map(|&i| (workflow.nodes[i].id.clone(), planned.fingerprints[i].clone())).collect()
}
