//! The "Export job…" window: the workflow as a job bundle for Slurm, Ray or Kubernetes, and its submission,
//! followed on a worker thread (state, progress, the job's log) until its results are in the run history.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::Ui;

use pipewright_deploy::cluster::{
    self, Bundle, DataMode, Engine, ExportOptions, FanOutOptions, JobState, Resources, Runner, SubmitOptions, Target,
    TaskList, TaskProgress, TaskState, Update,
};
use pipewright_engine::{CancelToken, Catalog};

/// What the follower thread has seen of a submitted job.
#[derive(Debug, Default, Clone)]
pub struct JobView {
    /// The run it is recorded as.
    pub run: Option<i64>,
    /// The job's id on the engine.
    pub job: Option<String>,
    /// Its state.
    pub state: Option<JobState>,
    /// Blocks done, out of all.
    pub progress: (usize, usize),
    /// The job's log so far.
    pub log: String,
    /// Notes on the way.
    pub notes: Vec<String>,
    /// Set when following is over: the final line, or why the bundle could not be submitted.
    pub finished: Option<Result<String, String>>,
}

/// A job being followed.
struct Following {
    view: Arc<Mutex<JobView>>,
    cancel: CancelToken,
    /// A fanned-out bundle's folder and task list: each task's state is read from its files.
    tasks: Option<(PathBuf, TaskList)>,
}

/// Which engine the window submits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    SlurmTools,
    SlurmRest,
    Ray,
    Kubernetes,
}

/// The form's fan-out settings.
struct FanOutForm {
    on: bool,
    at_once: u32,
    retries: u32,
}

/// The "Export job…" window.
pub struct ClusterJob {
    /// Whether it shows.
    pub open: bool,
    flow: Option<PathBuf>,
    dirty: bool,
    target: Target,
    resources: Resources,
    memory_gib: f64,
    data: DataMode,
    runner_path: String,
    out_dir: String,
    overwrite: bool,
    fan_out: FanOutForm,
    exported: Option<Result<Bundle, String>>,
    via: Via,
    slurm_rest: String,
    slurm_token: String,
    ray_url: String,
    kubeconfig: String,
    following: Option<Following>,
}

impl Default for ClusterJob {
    fn default() -> Self {
        let resources = Resources::default();
        Self {
            open: false,
            flow: None,
            dirty: false,
            target: Target::Slurm,
            memory_gib: resources.memory_mib as f64 / 1024.0,
            resources,
            data: DataMode::Copy,
            runner_path: String::new(),
            out_dir: String::new(),
            overwrite: false,
            fan_out: FanOutForm { on: false, at_once: 0, retries: FanOutOptions::default().retries },
            exported: None,
            via: Via::SlurmTools,
            slurm_rest: "http://127.0.0.1:6820".into(),
            slurm_token: String::new(),
            ray_url: "http://127.0.0.1:8265".into(),
            kubeconfig: String::new(),
            following: None,
        }
    }
}

fn lock(view: &Mutex<JobView>) -> std::sync::MutexGuard<'_, JobView> {
    view.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClusterJob {
    /// Opens the window for a workflow file (`None`: the workflow has not been saved yet).
    pub fn open_for(&mut self, flow: Option<&Path>, dirty: bool) {
        self.open = true;
        self.dirty = dirty;
        if self.flow.as_deref() != flow {
            self.flow = flow.map(Path::to_path_buf);
            self.exported = None;
            self.out_dir = flow.map(|f| default_out(f, self.target)).unwrap_or_default();
        }
    }

    /// Chooses the engine (the output folder follows when it was the default one).
    pub fn set_target(&mut self, target: Target) {
        if let Some(flow) = &self.flow
            && self.out_dir == default_out(flow, self.target)
        {
            self.out_dir = default_out(flow, target);
        }
        self.target = target;
        self.via = match target {
            Target::Slurm => Via::SlurmTools,
            Target::Ray => Via::Ray,
            Target::Kubernetes => Via::Kubernetes,
        };
    }

    /// The folder the bundle is written to.
    pub fn set_out_dir(&mut self, dir: &Path) {
        self.out_dir = dir.display().to_string();
    }

    /// The Ray dashboard address to submit to.
    pub fn set_ray_url(&mut self, url: &str) {
        url.clone_into(&mut self.ray_url);
    }

    /// Submits Slurm jobs through slurmrestd at `url` with `token` (instead of sbatch on this machine).
    pub fn set_slurm_rest(&mut self, url: &str, token: &str) {
        self.via = Via::SlurmRest;
        url.clone_into(&mut self.slurm_rest);
        token.clone_into(&mut self.slurm_token);
    }

    /// What the job asks for: GPUs, CPU cores, memory in GiB.
    pub fn set_resources(&mut self, gpus: u32, cpus: u32, memory_gib: f64) {
        self.resources.gpus = gpus;
        self.resources.cpus = cpus;
        self.memory_gib = memory_gib;
    }

    /// The runner the bundle calls on the cluster, instead of bundling this binary.
    pub fn set_runner_path(&mut self, path: &str) {
        path.clone_into(&mut self.runner_path);
    }

    /// Spreads the workflow's independent work over a task set: at most `at_once` tasks at once (0: all),
    /// each retried `retries` times.
    pub fn set_fan_out(&mut self, fan_out: bool, at_once: u32, retries: u32) {
        self.fan_out = FanOutForm { on: fan_out, at_once, retries };
    }

    /// Each task's state, when the followed job fans out.
    pub fn task_states(&self) -> Option<Vec<TaskState>> {
        let (dir, list) = self.following.as_ref()?.tasks.as_ref()?;
        Some(list.states(dir))
    }

    /// The exported bundle, if the last export worked.
    pub fn bundle(&self) -> Option<&Bundle> {
        self.exported.as_ref().and_then(|e| e.as_ref().ok())
    }

    /// What the follower has seen of the submitted job.
    pub fn job_view(&self) -> Option<JobView> {
        self.following.as_ref().map(|f| lock(&f.view).clone())
    }

    /// The window; call every frame.
    pub fn window_ui(&mut self, ctx: &egui::Context, catalog: &Catalog) {
        if !self.open {
            return;
        }
        let mut open = self.open;
        egui::Window::new("Export job")
            .id(egui::Id::new("cluster-job-window"))
            .open(&mut open)
            .default_size([660.0, 620.0])
            .collapsible(false)
            .show(ctx, |ui| egui::ScrollArea::vertical().show(ui, |ui| self.contents_ui(ui, catalog)));
        self.open = open;
        if self.following.as_ref().is_some_and(|f| lock(&f.view).finished.is_none()) {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
    }

    fn contents_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        let Some(flow) = self.flow.clone() else {
            ui.label("Save the workflow to a file first: the job runs the file.");
            return;
        };
        ui.label(format!("Workflow: {}", flow.display()));
        if self.dirty {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "The workflow has unsaved changes: the file as saved is exported.",
            );
        }
        ui.horizontal(|ui| {
            ui.label("Engine:");
            for target in Target::ALL {
                if ui.selectable_label(self.target == target, target.title()).clicked() {
                    self.set_target(target);
                }
            }
        });
        self.resources_ui(ui);
        ui.horizontal(|ui| {
            ui.label("Data:");
            ui.radio_value(&mut self.data, DataMode::Copy, "copy into the bundle");
            ui.radio_value(&mut self.data, DataMode::Reference, "keep paths (the cluster reads them)");
        });
        ui.horizontal(|ui| {
            ui.label("Runner on the cluster:");
            let hint = if self.target == Target::Kubernetes { cluster::IMAGE_RUNNER } else { "bundle this binary" };
            ui.add(egui::TextEdit::singleline(&mut self.runner_path).hint_text(hint).desired_width(260.0));
        });
        ui.horizontal(|ui| {
            ui.label("Bundle folder:");
            ui.add(egui::TextEdit::singleline(&mut self.out_dir).desired_width(340.0));
            if ui.button("Browse…").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                self.out_dir = dir.display().to_string();
            }
        });
        ui.checkbox(
            &mut self.fan_out.on,
            "Fan out: sweeps, folds, importances, scoring partitions and independent branches as a task set",
        )
        .on_hover_text(
            "Each setting × fold, fold, feature, partition or training branch becomes one task the cluster runs at \
             the same time as the others (a Slurm job array, a Kubernetes Indexed Job, Ray tasks); a combine step \
             joins them. What feeds those blocks runs here first, when exporting.",
        );
        if self.fan_out.on {
            ui.horizontal(|ui| {
                ui.label("Tasks at once:");
                ui.add(egui::DragValue::new(&mut self.fan_out.at_once).range(0..=100_000))
                    .on_hover_text("0: as many as the cluster runs");
                ui.label("Retries of a failing task:");
                ui.add(egui::DragValue::new(&mut self.fan_out.retries).range(0..=20));
            });
        }
        ui.checkbox(&mut self.overwrite, "Replace the bundle already in that folder");
        if ui.button("Export bundle").clicked() {
            self.export(&flow, catalog);
        }
        match &self.exported {
            Some(Ok(bundle)) => {
                let m = &bundle.manifest;
                ui.label(format!("Exported to {}", bundle.dir.display()));
                ui.label(format!("{} files: {}", m.target.title(), m.engine_files.join(", ")));
                let copied = m.data.iter().filter(|d| d.copied).count();
                let data = match (m.data.len(), copied) {
                    (0, _) => "No data files (bundled sample datasets)".to_owned(),
                    (n, c) if n == c => format!("{n} data file(s) copied"),
                    (n, c) => format!("{n} data file(s), {c} copied, {} read from the cluster", n - c),
                };
                ui.label(format!("{data}; runner: {}", if m.runner_bundled { "bundled" } else { m.runner.as_str() }));
                match &m.fan_out {
                    Some(f) => {
                        ui.label(format!(
                            "Task set: {} tasks for {} units of {}",
                            f.tasks,
                            f.units,
                            f.blocks.join(", ")
                        ));
                    }
                    None if self.fan_out.on => {
                        ui.label("Nothing in this workflow fans out: it runs as one job.");
                    }
                    None => {}
                }
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
        ui.separator();
        self.submit_ui(ui);
    }

    fn resources_ui(&mut self, ui: &mut Ui) {
        let r = &mut self.resources;
        egui::Grid::new("cluster-resources").num_columns(4).spacing([12.0, 4.0]).show(ui, |ui| {
            ui.label("GPUs:");
            ui.add(egui::DragValue::new(&mut r.gpus).range(0..=64));
            ui.label("CPUs:");
            ui.add(egui::DragValue::new(&mut r.cpus).range(1..=512));
            ui.end_row();
            ui.label("Memory (GiB):");
            ui.add(egui::DragValue::new(&mut self.memory_gib).range(0.25..=4096.0).speed(0.25));
            ui.label("Time limit (min):");
            ui.add(egui::DragValue::new(&mut r.time_limit_minutes).range(1..=100_000));
            ui.end_row();
            match self.target {
                Target::Slurm => {
                    ui.label("Partition:");
                    let mut partition = r.partition.clone().unwrap_or_default();
                    ui.add(egui::TextEdit::singleline(&mut partition).hint_text("default").desired_width(120.0));
                    r.partition = Some(partition).filter(|p| !p.trim().is_empty());
                    ui.end_row();
                }
                Target::Kubernetes => {
                    ui.label("Namespace:");
                    ui.add(egui::TextEdit::singleline(&mut r.namespace).desired_width(120.0));
                    ui.label("Image:");
                    ui.add(egui::TextEdit::singleline(&mut r.image).desired_width(200.0));
                    ui.end_row();
                    ui.label("Volume claim:");
                    ui.add(egui::TextEdit::singleline(&mut r.volume_claim).desired_width(120.0));
                    ui.label("Retries:");
                    ui.add(egui::DragValue::new(&mut r.backoff_limit).range(0..=20));
                    ui.end_row();
                }
                Target::Ray => {}
            }
        });
    }

    fn export(&mut self, flow: &Path, catalog: &Catalog) {
        let runner = if self.runner_path.trim().is_empty() {
            match Runner::default_for(self.target) {
                Ok(runner) => runner,
                Err(e) => {
                    self.exported = Some(Err(e));
                    return;
                }
            }
        } else {
            Runner::Installed(self.runner_path.trim().to_owned())
        };
        // The form edits GiB; the job asks in MiB.
        self.resources.memory_mib = (self.memory_gib * 1024.0).round().max(1.0) as u64;
        let options = ExportOptions {
            target: self.target,
            resources: self.resources.clone(),
            data: self.data,
            runner,
            job_name: None,
            overwrite: self.overwrite,
            fan_out: self.fan_out.on.then_some(FanOutOptions {
                at_once: self.fan_out.at_once,
                retries: self.fan_out.retries,
                ..FanOutOptions::default()
            }),
        };
        let out = PathBuf::from(self.out_dir.trim());
        self.exported = Some(cluster::export(flow, catalog, &options, &out).map_err(|e| e.to_string()));
    }

    fn engine(&self) -> Engine {
        match self.via {
            Via::SlurmTools => Engine::SlurmCli,
            Via::SlurmRest => Engine::SlurmRest {
                url: self.slurm_rest.trim().to_owned(),
                user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
                token: self.slurm_token.trim().to_owned(),
            },
            Via::Ray => Engine::Ray { url: self.ray_url.trim().to_owned() },
            Via::Kubernetes => Engine::Kubernetes {
                kubeconfig: Some(PathBuf::from(self.kubeconfig.trim())).filter(|p| !p.as_os_str().is_empty()),
            },
        }
    }

    fn submit_ui(&mut self, ui: &mut Ui) {
        ui.label(egui::RichText::new("Submit").strong());
        let busy = self.following.as_ref().is_some_and(|f| lock(&f.view).finished.is_none());
        ui.add_enabled_ui(!busy, |ui| match self.target {
            Target::Slurm => {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut self.via, Via::SlurmTools, "with sbatch on this machine");
                    ui.radio_value(&mut self.via, Via::SlurmRest, "through slurmrestd");
                });
                if self.via == Via::SlurmRest {
                    ui.horizontal(|ui| {
                        ui.label("URL:");
                        ui.add(egui::TextEdit::singleline(&mut self.slurm_rest).desired_width(200.0));
                        ui.label("Token:");
                        ui.add(egui::TextEdit::singleline(&mut self.slurm_token).password(true).desired_width(160.0));
                    });
                }
            }
            Target::Ray => {
                ui.horizontal(|ui| {
                    ui.label("Dashboard:");
                    ui.add(egui::TextEdit::singleline(&mut self.ray_url).desired_width(240.0));
                });
            }
            Target::Kubernetes => {
                ui.horizontal(|ui| {
                    ui.label("kubeconfig:");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.kubeconfig)
                            .hint_text("kubectl's default")
                            .desired_width(240.0),
                    );
                });
            }
        });
        let can_submit = self.bundle().is_some_and(|b| b.manifest.target == self.target) && !busy;
        ui.horizontal(|ui| {
            if ui.add_enabled(can_submit, egui::Button::new("▶ Submit")).clicked() {
                self.submit();
            }
            if busy
                && ui.button("■ Cancel job").clicked()
                && let Some(f) = &self.following
            {
                f.cancel.cancel();
            }
            if self.bundle().is_none() {
                ui.label(egui::RichText::new("Export the bundle first.").weak());
            }
        });
        let Some(view) = self.job_view() else { return };
        if let Some(run) = view.run {
            ui.label(format!("Recorded as run {run} in the project's history"));
        }
        let state = view.state.as_ref().map_or("submitting", JobState::word);
        ui.horizontal(|ui| {
            if view.finished.is_none() {
                ui.spinner();
            }
            match (&view.job, &view.finished) {
                (Some(job), _) => ui.label(format!("Job {job}: {state}")),
                (None, Some(_)) => ui.label("Not submitted"),
                (None, None) => ui.label("Submitting…"),
            };
        });
        // A job of data-parallel fits alone has no task set to show.
        if let Some(tasks) = self.task_states().filter(|t| !t.is_empty()) {
            tasks_ui(ui, &tasks);
        }
        let (done, total) = view.progress;
        if total > 0 {
            ui.add(egui::ProgressBar::new(done as f32 / total as f32).text(format!("{done} / {total} blocks")));
        }
        for note in &view.notes {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        match &view.finished {
            Some(Ok(line)) => {
                ui.label(line);
            }
            Some(Err(line)) => {
                ui.colored_label(ui.visuals().error_fg_color, line);
            }
            None => {}
        }
        if !view.log.is_empty() {
            egui::CollapsingHeader::new("Job log").default_open(true).show(ui, |ui| {
                egui::ScrollArea::vertical().max_height(200.0).stick_to_bottom(true).show(ui, |ui| {
                    ui.add(egui::Label::new(egui::RichText::new(&view.log).monospace().small()).wrap());
                });
            });
        }
    }

    fn submit(&mut self) {
        let Some(bundle) = self.bundle().cloned() else { return };
        let bundle_dir = bundle.dir.clone();
        let engine = self.engine();
        let view = Arc::new(Mutex::new(JobView::default()));
        let cancel = CancelToken::new();
        let options = SubmitOptions { cancel: cancel.clone(), ..SubmitOptions::default() };
        let shared = view.clone();
        let spawned = std::thread::Builder::new().name("pipewright-cluster-job".into()).spawn(move || {
            let on_update = |update: Update| {
                let mut v = lock(&shared);
                match update {
                    Update::Recorded { run } => v.run = Some(run),
                    Update::Submitted { job } => v.job = Some(job),
                    Update::State(state) => v.state = Some(state),
                    Update::Log(lines) => v.log.push_str(&lines),
                    Update::Progress { done, total } => v.progress = (done, total),
                    Update::Note(note) => v.notes.push(note),
                }
            };
            let outcome = cluster::submit(&bundle, &engine, &options, &on_update);
            let mut v = lock(&shared);
            v.finished = Some(match outcome {
                Ok(s) => {
                    let metrics = s.results.metrics();
                    let headline = pipewright_engine::metric::headline_of(metrics.iter(), |m| m.2.as_str())
                        .map(|m| format!("; {} = {:.4}", m.2, m.3))
                        .unwrap_or_default();
                    v.state = Some(s.state.clone());
                    match s.state {
                        JobState::Succeeded => {
                            Ok(format!("Succeeded: {} metric(s) brought back{headline}", metrics.len()))
                        }
                        JobState::Failed(why) => Err(format!("Failed: {why}")),
                        other => Err(format!("The job ended {other}")),
                    }
                }
                Err(e) => Err(e.to_string()),
            });
        });
        if let Err(e) = spawned {
            lock(&view).finished = Some(Err(format!("Cannot submit: no thread to follow the job on ({e})")));
        }
        let tasks = TaskList::of_dir(&bundle_dir).map(|list| (bundle_dir, list));
        self.following = Some(Following { view, cancel, tasks });
    }
}

/// A fanned-out job's tasks: a bar of how many are done, and a square per task (green done, red failed, grey
/// waiting or running) that names the task, where it ran and why it failed on hover.
fn tasks_ui(ui: &mut Ui, tasks: &[TaskState]) {
    let done = tasks.iter().filter(|t| t.state == TaskProgress::Done).count();
    let failed = tasks.iter().filter(|t| t.state == TaskProgress::Failed).count();
    let mut text = format!("{done} / {} tasks done", tasks.len());
    if failed > 0 {
        let _ = write!(text, ", {failed} failed");
    }
    ui.add(egui::ProgressBar::new(done as f32 / tasks.len().max(1) as f32).text(text));
    let side = 10.0;
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = egui::vec2(2.0, 2.0);
        for task in tasks {
            let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
            let colour = match task.state {
                TaskProgress::Done => crate::theme::success(dark),
                TaskProgress::Failed => crate::theme::error(dark),
                TaskProgress::Waiting => ui.visuals().widgets.inactive.bg_fill,
            };
            ui.painter().rect_filled(rect, 2.0, colour);
            let mut hover = format!("{}: {:?}", task.what, task.state).to_lowercase();
            if !task.places.is_empty() {
                let _ = write!(hover, "\non {} in {:.1} s", task.places.join(", "), task.seconds);
            }
            if let Some(error) = &task.error {
                let _ = write!(hover, "\n{error}");
            }
            response.on_hover_text(hover);
        }
    });
}

/// `<workflow folder>/jobs/<name>-<target>`.
fn default_out(flow: &Path, target: Target) -> String {
    let stem = flow.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = stem.trim_end_matches(".flow.json");
    flow.parent().unwrap_or(Path::new(".")).join("jobs").join(format!("{stem}-{target}")).display().to_string()
}
