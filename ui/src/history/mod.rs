//! The project history window, read from the project store: Runs (every recorded run with its status,
//! duration and headline metric; filters by workflow and status; a run's workflow opened read-only or restored
//! as the current workflow), Compare (two or more runs: differing settings, metrics side by side, ROC curves
//! overlaid) and Models (the registry: register a trained model from a recorded run, versions, stages, notes).
//!
//! The store is read when the window opens, after each recorded run of the designer, every few seconds while
//! it is open (runs of `pipewright run` appear too) and on Refresh. Viewing never creates a store.

mod monitor;
mod serving;
mod views;

pub use serving::{Deployed, next_stage};

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use pipewright_engine::{Catalog, Workflow};
use pipewright_store::{ModelVersion, RunRecord, RunStatus, Stage, Store, format_utc, store_path};

use crate::app::AppCommand;
use crate::compare::{Comparison, compare};
use crate::theme;

/// How often an open window re-reads the store.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Which part of the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistoryView {
    /// The list of runs.
    #[default]
    Runs,
    /// Ticked runs side by side.
    Compare,
    /// The model registry.
    Models,
    /// What served models saw against their training.
    Monitor,
}

/// A run as the list shows it.
#[derive(Debug, Clone)]
struct RunRow {
    record: RunRecord,
    headline: Option<(String, f64)>,
    /// A fanned-out cluster run's tasks: a short line and the details on hover.
    tasks: Option<(String, String)>,
}

/// The form that registers a trained model.
#[derive(Debug, Clone, Default)]
pub struct RegisterForm {
    /// The run that trained it.
    pub run: i64,
    /// The node that produced it.
    pub node: String,
    /// The model's name.
    pub name: String,
    /// Notes for the version.
    pub notes: String,
    /// Why the last attempt was refused.
    pub error: Option<String>,
}

/// State of the history window.
#[derive(Default)]
pub struct History {
    /// Whether the window shows.
    pub open: bool,
    /// Which part shows.
    pub view: HistoryView,
    project: Option<PathBuf>,
    store: Option<Store>,
    /// Why the store cannot be read.
    error: Option<String>,
    runs: Vec<RunRow>,
    models: Vec<ModelVersion>,
    workflow_filter: Option<String>,
    status_filter: Option<RunStatus>,
    /// Runs ticked for comparison.
    checked: BTreeSet<i64>,
    comparison: Option<(Vec<i64>, Comparison)>,
    loaded_at: Option<Instant>,
    /// The registration being filled in.
    pub register: Option<RegisterForm>,
    /// Notes being edited, by model version id.
    notes: HashMap<i64, String>,
    /// Each model version's stage changes as hover text, read with the models.
    stage_histories: HashMap<i64, String>,
    /// How each model's requests are shared, read with the models.
    traffic: std::collections::BTreeMap<String, pipewright_store::Traffic>,
    /// The share of requests being set for a candidate version: (name, version, percent).
    split_form: Option<(String, i64, f64)>,
    /// The endpoint serving a registered model from this window.
    deployed: Option<Deployed>,
    /// The Monitor view.
    monitor: monitor::MonitorView,
}

impl History {
    /// The project whose store the window shows (the active tab's); a change reloads.
    pub fn set_project(&mut self, project: Option<PathBuf>) {
        if self.project == project {
            return;
        }
        self.stop_serving();
        *self = Self { open: self.open, view: self.view, project, ..Self::default() };
        if self.open {
            self.reload();
        }
    }

    /// The project shown.
    pub fn project(&self) -> Option<&Path> {
        self.project.as_deref()
    }

    /// Opens the window (at `view`) and reads the store.
    pub fn show_view(&mut self, view: HistoryView) {
        self.open = true;
        self.view = view;
        self.reload();
    }

    /// Re-reads the runs and models from the store.
    pub fn reload(&mut self) {
        self.loaded_at = Some(Instant::now());
        self.comparison = None;
        let Some(project) = self.project.clone() else {
            self.error = None;
            self.runs.clear();
            self.models.clear();
            return;
        };
        if self.store.is_none() {
            let path = store_path(&project);
            if !path.exists() {
                self.error = None;
                self.runs.clear();
                self.models.clear();
                return;
            }
            match Store::open(&path) {
                Ok(store) => self.store = Some(store),
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
        }
        let Some(store) = &self.store else { return };
        let loaded = store.runs().and_then(|runs| {
            let rows = runs
                .into_iter()
                .map(|record| {
                    let tasks = if record.source == "cluster" { tasks_of(store, record.id) } else { None };
                    Ok(RunRow { headline: store.headline(record.id)?, tasks, record })
                })
                .collect::<Result<Vec<_>, pipewright_store::StoreError>>()?;
            let models = store.models()?;
            let histories = models
                .iter()
                .map(|m| {
                    let changes = store.stage_history(m.id)?;
                    let text = changes.iter().map(|c| format!("{} {}", format_utc(c.changed_at), c.stage.as_str()));
                    Ok((m.id, text.collect::<Vec<_>>().join("\n")))
                })
                .collect::<Result<HashMap<_, _>, pipewright_store::StoreError>>()?;
            Ok((rows, models, histories, store.all_traffic()?))
        });
        match loaded {
            Ok((runs, models, histories, traffic)) => {
                self.traffic = traffic;
                self.error = None;
                self.checked.retain(|id| runs.iter().any(|r| r.record.id == *id));
                // Only notes being edited (differing from the store) are kept.
                self.notes.retain(|id, text| models.iter().any(|m| m.id == *id && m.notes != *text));
                self.runs = runs;
                self.models = models;
                self.stage_histories = histories;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Ids of the runs the list shows with its filters, newest first.
    pub fn shown_runs(&self) -> Vec<i64> {
        self.filtered().map(|r| r.record.id).collect()
    }

    /// Filters the list by workflow (experiment) and status.
    pub fn set_filters(&mut self, workflow: Option<String>, status: Option<RunStatus>) {
        self.workflow_filter = workflow;
        self.status_filter = status;
    }

    /// Ticks runs for comparison.
    pub fn check(&mut self, runs: &[i64]) {
        self.checked.extend(runs);
        self.comparison = None;
    }

    /// The comparison of the ticked runs, computed when first asked for.
    pub fn comparison(&mut self, catalog: &Catalog) -> Option<&Comparison> {
        let ids: Vec<i64> = self.checked.iter().copied().collect();
        if ids.len() < 2 {
            return None;
        }
        if self.comparison.as_ref().is_none_or(|(of, _)| *of != ids) {
            let store = self.store.as_ref()?;
            self.comparison = Some((ids.clone(), compare(store, catalog, &ids)));
        }
        self.comparison.as_ref().map(|(_, c)| c)
    }

    /// The registered model versions.
    pub fn models(&self) -> &[ModelVersion] {
        &self.models
    }

    /// Opens the registration form for the model `node` produced in `run`.
    pub fn begin_register(&mut self, run: i64, node: &str, name: &str) {
        self.show_view(HistoryView::Models);
        self.register =
            Some(RegisterForm { run, node: node.to_owned(), name: name.to_owned(), notes: String::new(), error: None });
    }

    /// Registers what the form holds; the form closes on success and keeps the reason otherwise.
    pub fn submit_register(&mut self) -> Option<AppCommand> {
        let form = self.register.as_mut()?;
        let Some(store) = &self.store else {
            form.error = Some("this project has no store yet: run the workflow first".into());
            return None;
        };
        match pipewright_deploy::register(store, &form.name, form.run, &form.node, &form.notes) {
            Ok((version, _)) => {
                self.register = None;
                self.reload();
                Some(AppCommand::notify(
                    format!(
                        "Registered {} version {} from run {} ({})",
                        version.name,
                        version.version,
                        form_run(&version),
                        version.node.as_deref().unwrap_or("")
                    ),
                    false,
                ))
            }
            Err(e) => {
                form.error = Some(e);
                None
            }
        }
    }

    /// Moves a model version to a stage.
    pub fn set_stage(&mut self, name: &str, version: i64, stage: Stage) -> AppCommand {
        let Some(store) = &self.store else { return AppCommand::notify("no project store", true) };
        let action = match store.set_stage(name, version, stage) {
            Ok(demoted) if demoted.is_empty() => {
                AppCommand::notify(format!("{name} version {version} is now in {}", stage.as_str()), false)
            }
            Ok(demoted) => AppCommand::notify(
                format!(
                    "{name} version {version} is now in production; version {} moved to staging",
                    demoted.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
                false,
            ),
            Err(e) => AppCommand::notify(e.to_string(), true),
        };
        self.reload();
        action
    }

    fn filtered(&self) -> impl Iterator<Item = &RunRow> {
        self.runs.iter().filter(|r| {
            self.workflow_filter.as_ref().is_none_or(|w| *w == r.record.experiment)
                && self.status_filter.is_none_or(|s| s == r.record.status)
        })
    }

    /// The command that restores `run`: its snapshot, to replace its file's workflow.
    pub fn restore_command(&self, run: i64) -> AppCommand {
        self.open_snapshot(run, true)
    }

    fn open_snapshot(&self, run: i64, restore: bool) -> AppCommand {
        let Some(store) = &self.store else { return AppCommand::notify("no project store", true) };
        let found = store.run(run).and_then(|r| Ok(r.zip(store.snapshot_of(run)?)));
        match found {
            Ok(Some((record, (snapshot, _)))) => match Workflow::from_json(&snapshot) {
                Ok(workflow) => {
                    let (workflow, file) = (Box::new(workflow), PathBuf::from(record.workflow_file));
                    if restore {
                        AppCommand::RestoreRun { run, workflow, file }
                    } else {
                        AppCommand::OpenRun { run, workflow, file }
                    }
                }
                Err(e) => AppCommand::notify(format!("Run {run}'s workflow snapshot cannot be read: {e}"), true),
            },
            Ok(None) => AppCommand::notify(format!("Run {run} is no longer in the store"), true),
            Err(e) => AppCommand::notify(e.to_string(), true),
        }
    }

    /// Draws the window (when open); what the user asks the designer to do goes into `queue`.
    pub fn window_ui(&mut self, ctx: &egui::Context, catalog: &Catalog, queue: &mut Vec<AppCommand>) {
        if !self.open {
            return;
        }
        if self.loaded_at.is_none_or(|at| at.elapsed() >= RELOAD_EVERY) {
            self.reload();
        }
        ctx.request_repaint_after(RELOAD_EVERY);
        let mut open = self.open;
        egui::Window::new("Project history")
            .id(egui::Id::new("history-window"))
            .open(&mut open)
            .default_size([1040.0, 640.0])
            .resizable(true)
            .collapsible(false)
            .show(ctx, |ui| self.contents_ui(ui, catalog, queue));
        self.open = open;
    }

    fn contents_ui(&mut self, ui: &mut Ui, catalog: &Catalog, queue: &mut Vec<AppCommand>) {
        let dark = ui.visuals().dark_mode;
        ui.horizontal(|ui| {
            for (view, label) in [
                (HistoryView::Runs, format!("Runs ({})", self.runs.len())),
                (HistoryView::Compare, format!("Compare ({})", self.checked.len())),
                (HistoryView::Models, format!("Models ({})", self.models.len())),
                (HistoryView::Monitor, "Monitor".to_owned()),
            ] {
                if ui.selectable_label(self.view == view, label).clicked() {
                    self.view = view;
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("⟳ Refresh").clicked() {
                    self.reload();
                }
                if let Some(project) = &self.project {
                    ui.label(RichText::new(project.display().to_string()).color(theme::weak_text(dark)));
                }
            });
        });
        ui.separator();
        if self.project.is_none() {
            ui.label("Save the workflow into a project folder: its runs are recorded there from then on.");
            return;
        }
        if let Some(error) = &self.error {
            ui.colored_label(theme::error(dark), error);
            return;
        }
        match self.view {
            HistoryView::Runs => self.runs_ui(ui, queue),
            HistoryView::Compare => self.compare_ui(ui, catalog),
            HistoryView::Models => self.models_ui(ui, queue),
            HistoryView::Monitor => self.monitor_ui(ui, queue),
        }
    }
}

fn form_run(version: &ModelVersion) -> String {
    version.run.map_or_else(|| "—".to_owned(), |r| r.to_string())
}

/// A fanned-out cluster run's tasks from its job record: `25 tasks, 2 failed` and, for the hover, where they ran
/// and why those that did not finish failed.
fn tasks_of(store: &Store, run: i64) -> Option<(String, String)> {
    let record = store.job_record(run).ok()??;
    // A job of data-parallel fits alone has no task set to show.
    let tasks = record["tasks"].as_array().filter(|t| !t.is_empty())?;
    let count = |state: &str| tasks.iter().filter(|t| t["state"] == state).count();
    let (done, failed) = (count("done"), count("failed"));
    let mut line = format!("{} tasks", tasks.len());
    if done < tasks.len() {
        let _ = write!(line, ", {done} done");
    }
    if failed > 0 {
        let _ = write!(line, ", {failed} failed");
    }
    let mut places: Vec<&str> =
        tasks.iter().filter_map(|t| t["places"].as_array()).flatten().filter_map(|p| p.as_str()).collect();
    places.sort_unstable();
    places.dedup();
    let seconds: f64 = tasks.iter().filter_map(|t| t["seconds"].as_f64()).sum();
    let mut details = format!("{done} of {} tasks done, {seconds:.1} s of compute", tasks.len());
    if !places.is_empty() {
        let _ = write!(details, " on {}", places.join(", "));
    }
    for task in tasks.iter().filter(|t| t["state"] != "done").take(10) {
        let why = task["error"].as_str().unwrap_or("no result");
        let _ = write!(details, "\n{}: {why}", task["what"].as_str().unwrap_or("?"));
    }
    Some((line, details))
}
