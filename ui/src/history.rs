//! The project history window, read from the project store: Runs (every recorded run with its status,
//! duration and headline metric; filters by workflow and status; a run's workflow opened read-only or restored
//! as the current workflow), Compare (two or more runs: differing settings, metrics side by side, ROC curves
//! overlaid) and Models (the registry: register a trained model from a recorded run, versions, stages, notes).
//!
//! The store is read when the window opens, after each recorded run of the designer, every few seconds while
//! it is open (runs of `pipewright run` appear too) and on Refresh. Viewing never creates a store.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use pipewright_engine::{Catalog, Workflow};
use pipewright_store::{ModelVersion, Registration, RunRecord, RunStatus, Stage, Store, format_utc, store_path};

use crate::compare::{Comparison, compare};
use crate::output::charts::{self, Series};
use crate::output::format::format_metric;
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
}

/// What the designer does for the window.
#[derive(Debug, Clone)]
pub enum HistoryAction {
    /// Open a run's workflow, as it ran, read-only in a new tab.
    Open {
        /// The run.
        run: i64,
        /// Its snapshot.
        workflow: Box<Workflow>,
        /// The workflow file it ran from.
        file: PathBuf,
    },
    /// Make a run's workflow the current workflow of its file (one undoable step).
    Restore {
        /// The run.
        run: i64,
        /// Its snapshot.
        workflow: Box<Workflow>,
        /// The workflow file it ran from.
        file: PathBuf,
    },
    /// Tell the user in the status bar (`true`: an error).
    Notify(String, bool),
}

/// A run as the list shows it.
#[derive(Debug, Clone)]
struct RunRow {
    record: RunRecord,
    headline: Option<(String, f64)>,
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
}

fn status_color(status: RunStatus, dark: bool) -> egui::Color32 {
    match status {
        RunStatus::Succeeded => theme::success(dark),
        RunStatus::Failed => theme::error(dark),
        RunStatus::Cancelled | RunStatus::Interrupted => theme::warning(dark),
        RunStatus::Running => theme::accent(dark),
    }
}

fn duration_text(record: &RunRecord) -> String {
    record.ended_at.map_or_else(
        || "—".to_owned(),
        |end| crate::runtime::format_duration(Duration::from_secs_f64((end - record.started_at).max(0.0))),
    )
}

impl History {
    /// The project whose store the window shows (the active tab's); a change reloads.
    pub fn set_project(&mut self, project: Option<PathBuf>) {
        if self.project == project {
            return;
        }
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
                .map(|record| Ok(RunRow { headline: store.headline(record.id)?, record }))
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
            Ok((rows, models, histories))
        });
        match loaded {
            Ok((runs, models, histories)) => {
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
    pub fn submit_register(&mut self) -> Option<HistoryAction> {
        let form = self.register.as_mut()?;
        let Some(store) = &self.store else {
            form.error = Some("this project has no store yet: run the workflow first".into());
            return None;
        };
        let registration = Registration { name: &form.name, run: form.run, node: &form.node, notes: &form.notes };
        match store.register_model(&registration) {
            Ok(version) => {
                self.register = None;
                self.reload();
                Some(HistoryAction::Notify(
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
                form.error = Some(e.to_string());
                None
            }
        }
    }

    /// Moves a model version to a stage.
    pub fn set_stage(&mut self, name: &str, version: i64, stage: Stage) -> HistoryAction {
        let Some(store) = &self.store else { return HistoryAction::Notify("no project store".into(), true) };
        let action = match store.set_stage(name, version, stage) {
            Ok(demoted) if demoted.is_empty() => {
                HistoryAction::Notify(format!("{name} version {version} is now in {}", stage.as_str()), false)
            }
            Ok(demoted) => HistoryAction::Notify(
                format!(
                    "{name} version {version} is now in production; version {} moved to staging",
                    demoted.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
                false,
            ),
            Err(e) => HistoryAction::Notify(e.to_string(), true),
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

    /// What restoring `run` means: its snapshot, to replace its file's workflow.
    pub fn restore_action(&self, run: i64) -> HistoryAction {
        self.open_snapshot(run, true)
    }

    /// What opening `run` read-only means.
    pub fn open_action(&self, run: i64) -> HistoryAction {
        self.open_snapshot(run, false)
    }

    fn open_snapshot(&self, run: i64, restore: bool) -> HistoryAction {
        let Some(store) = &self.store else { return HistoryAction::Notify("no project store".into(), true) };
        let found = store.run(run).and_then(|r| Ok(r.zip(store.snapshot_of(run)?)));
        match found {
            Ok(Some((record, (snapshot, _)))) => match Workflow::from_json(&snapshot) {
                Ok(workflow) => {
                    let (workflow, file) = (Box::new(workflow), PathBuf::from(record.workflow_file));
                    if restore {
                        HistoryAction::Restore { run, workflow, file }
                    } else {
                        HistoryAction::Open { run, workflow, file }
                    }
                }
                Err(e) => HistoryAction::Notify(format!("Run {run}'s workflow snapshot cannot be read: {e}"), true),
            },
            Ok(None) => HistoryAction::Notify(format!("Run {run} is no longer in the store"), true),
            Err(e) => HistoryAction::Notify(e.to_string(), true),
        }
    }

    /// Draws the window (when open) and returns what the designer should do.
    pub fn window_ui(&mut self, ctx: &egui::Context, catalog: &Catalog) -> Vec<HistoryAction> {
        let mut actions = Vec::new();
        if !self.open {
            return actions;
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
            .show(ctx, |ui| self.contents_ui(ui, catalog, &mut actions));
        self.open = open;
        actions
    }

    fn contents_ui(&mut self, ui: &mut Ui, catalog: &Catalog, actions: &mut Vec<HistoryAction>) {
        let dark = ui.visuals().dark_mode;
        ui.horizontal(|ui| {
            for (view, label) in [
                (HistoryView::Runs, format!("Runs ({})", self.runs.len())),
                (HistoryView::Compare, format!("Compare ({})", self.checked.len())),
                (HistoryView::Models, format!("Models ({})", self.models.len())),
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
            HistoryView::Runs => self.runs_ui(ui, actions),
            HistoryView::Compare => self.compare_ui(ui, catalog),
            HistoryView::Models => self.models_ui(ui, actions),
        }
    }

    fn runs_ui(&mut self, ui: &mut Ui, actions: &mut Vec<HistoryAction>) {
        let dark = ui.visuals().dark_mode;
        if self.runs.is_empty() {
            ui.label("No runs recorded yet: press ▶ Run (F5), or run `pipewright run` in this project.");
            return;
        }
        let experiments: BTreeSet<String> = self.runs.iter().map(|r| r.record.experiment.clone()).collect();
        ui.horizontal(|ui| {
            ui.label("Workflow");
            egui::ComboBox::from_id_salt("history-workflow")
                .selected_text(self.workflow_filter.clone().unwrap_or_else(|| "all".into()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.workflow_filter, None, "all");
                    for e in experiments {
                        ui.selectable_value(&mut self.workflow_filter, Some(e.clone()), e);
                    }
                });
            ui.label("Status");
            egui::ComboBox::from_id_salt("history-status")
                .selected_text(self.status_filter.map_or("all", RunStatus::as_str))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.status_filter, None, "all");
                    for s in [
                        RunStatus::Succeeded,
                        RunStatus::Failed,
                        RunStatus::Cancelled,
                        RunStatus::Interrupted,
                        RunStatus::Running,
                    ] {
                        ui.selectable_value(&mut self.status_filter, Some(s), s.as_str());
                    }
                });
            let compare = egui::Button::new(format!("Compare {} ticked", self.checked.len()));
            if ui
                .add_enabled(self.checked.len() >= 2, compare)
                .on_disabled_hover_text("Tick two or more runs to compare them")
                .clicked()
            {
                self.view = HistoryView::Compare;
            }
        });
        ui.add_space(theme::SPACE_S);
        let mut toggled = None;
        egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
            egui::Grid::new("history-runs").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
                for heading in
                    ["", "run", "status", "workflow", "from", "device", "started (UTC)", "duration", "headline", ""]
                {
                    ui.label(RichText::new(heading).color(theme::weak_text(dark)));
                }
                ui.end_row();
                for row in self.filtered() {
                    let r = &row.record;
                    let mut ticked = self.checked.contains(&r.id);
                    if ui.checkbox(&mut ticked, "").on_hover_text("Tick to compare").changed() {
                        toggled = Some(r.id);
                    }
                    ui.label(RichText::new(r.id.to_string()).monospace());
                    ui.colored_label(status_color(r.status, dark), r.status.as_str());
                    ui.label(&r.workflow_name).on_hover_text(&r.workflow_file);
                    ui.label(&r.source);
                    ui.label(&r.device);
                    ui.label(format_utc(r.started_at));
                    ui.label(duration_text(r));
                    ui.label(
                        row.headline.as_ref().map_or(String::new(), |(n, v)| format!("{n} {}", format_metric(n, *v))),
                    );
                    ui.horizontal(|ui| {
                        if ui
                            .small_button("Open")
                            .on_hover_text("Open the workflow as this run ran it, read-only")
                            .clicked()
                        {
                            actions.push(self.open_snapshot(r.id, false));
                        }
                        if ui
                            .small_button("Restore")
                            .on_hover_text("Make this run's workflow the current one (Ctrl+Z undoes it)")
                            .clicked()
                        {
                            actions.push(self.open_snapshot(r.id, true));
                        }
                    });
                    ui.end_row();
                }
            });
        });
        if let Some(id) = toggled {
            if !self.checked.remove(&id) {
                self.checked.insert(id);
            }
            self.comparison = None;
        }
    }

    fn compare_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        let dark = ui.visuals().dark_mode;
        let weak = theme::weak_text(dark);
        if self.comparison(catalog).is_none() {
            ui.label("Tick two or more runs in the Runs list to compare them.");
            return;
        }
        let Some((_, comparison)) = &self.comparison else { return };
        egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
            for problem in &comparison.problems {
                ui.colored_label(theme::warning(dark), problem);
            }
            let run_headers = |ui: &mut Ui| {
                for r in &comparison.runs {
                    ui.label(RichText::new(format!("run {}", r.id)).strong()).on_hover_text(format!(
                        "{} · {} · {}",
                        r.workflow_name,
                        format_utc(r.started_at),
                        r.status.as_str()
                    ));
                }
                ui.end_row();
            };
            ui.label(RichText::new("Settings that differ").strong());
            if comparison.params.is_empty() {
                ui.label(RichText::new("The runs ran the same workflow with the same settings.").color(weak));
            } else {
                egui::Grid::new("compare-params").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(
                    ui,
                    |ui| {
                        ui.label(RichText::new("block").color(weak));
                        ui.label(RichText::new("setting").color(weak));
                        run_headers(ui);
                        for row in &comparison.params {
                            ui.label(&row.node);
                            ui.label(&row.param);
                            for value in &row.values {
                                match value {
                                    Some(v) => ui.label(RichText::new(v).monospace()),
                                    None => ui.label(RichText::new("(no such block)").color(weak)),
                                };
                            }
                            ui.end_row();
                        }
                    },
                );
            }
            ui.add_space(theme::SPACE_L);
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.label(RichText::new("Metrics").strong());
                    if comparison.metrics.is_empty() {
                        ui.label(RichText::new("None of these runs recorded metrics.").color(weak));
                    } else {
                        egui::Grid::new("compare-metrics")
                            .striped(true)
                            .spacing([theme::SPACE_L, theme::SPACE_S])
                            .show(ui, |ui| {
                                ui.label(RichText::new("block · input").color(weak));
                                ui.label(RichText::new("metric").color(weak));
                                run_headers(ui);
                                for row in &comparison.metrics {
                                    ui.label(format!("{} · {}", row.node, row.source));
                                    ui.label(&row.name);
                                    let best = crate::output::best_of(&row.name, &row.values);
                                    for (i, value) in row.values.iter().enumerate() {
                                        match value {
                                            Some(v) => {
                                                let text = RichText::new(format_metric(&row.name, *v)).monospace();
                                                ui.label(if best == Some(i) { text.strong() } else { text });
                                            }
                                            None => {
                                                ui.label(RichText::new("—").color(weak));
                                            }
                                        }
                                    }
                                    ui.end_row();
                                }
                            });
                    }
                });
                if !comparison.roc.is_empty() {
                    ui.add_space(theme::SPACE_L);
                    ui.vertical(|ui| {
                        // One colour per curve: a run's report may hold several (one per evaluated input).
                        let series: Vec<Series<'_>> = comparison
                            .roc
                            .iter()
                            .enumerate()
                            .map(|(i, c)| Series { index: i, source: &c.label, curve: &c.curve, auc: c.auc })
                            .collect();
                        let width =
                            (charts::CHART_WIDTH * 1.3).max(ui.available_width().min(charts::CHART_WIDTH * 1.6));
                        charts::curves_ui(ui, "compare", "roc", &series, width);
                    });
                }
            });
        });
    }

    fn models_ui(&mut self, ui: &mut Ui, actions: &mut Vec<HistoryAction>) {
        let dark = ui.visuals().dark_mode;
        let weak = theme::weak_text(dark);
        if let Some(action) = self.register_ui(ui) {
            actions.push(action);
        }
        if self.models.is_empty() {
            ui.label(
                "No registered models yet. Select a Train Model block after a run and choose \"Register model…\" \
                 in its output panel.",
            );
            return;
        }
        let mut stage_changes = Vec::new();
        let mut notes_saved = Vec::new();
        egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
            egui::Grid::new("history-models").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
                for heading in ["model", "version", "stage", "run", "block", "headline", "registered (UTC)", "notes"] {
                    ui.label(RichText::new(heading).color(weak));
                }
                ui.end_row();
                for m in &self.models {
                    ui.label(RichText::new(&m.name).strong());
                    ui.label(format!("v{}", m.version));
                    let mut stage = m.stage;
                    egui::ComboBox::from_id_salt(("model-stage", m.id))
                        .selected_text(stage.as_str())
                        .show_ui(ui, |ui| {
                            for s in Stage::ALL {
                                ui.selectable_value(&mut stage, s, s.as_str());
                            }
                        })
                        .response
                        .on_hover_text(self.stage_histories.get(&m.id).map_or("", String::as_str));
                    if stage != m.stage {
                        stage_changes.push((m.name.clone(), m.version, stage));
                    }
                    ui.label(m.run.map_or("—".into(), |r| r.to_string()));
                    ui.label(m.node.as_deref().unwrap_or("—"));
                    let headline = m
                        .headline()
                        .map_or(String::new(), |x| format!("{} {}", x.name, format_metric(&x.name, x.value)));
                    ui.label(headline);
                    ui.label(format_utc(m.created_at));
                    let text = self.notes.entry(m.id).or_insert_with(|| m.notes.clone());
                    let edit = ui.add_sized([240.0, 20.0], egui::TextEdit::singleline(text).hint_text("notes"));
                    if edit.lost_focus() && *text != m.notes {
                        notes_saved.push((m.name.clone(), m.version, text.clone()));
                    }
                    ui.end_row();
                }
            });
        });
        for (name, version, stage) in stage_changes {
            actions.push(self.set_stage(&name, version, stage));
        }
        for (name, version, notes) in notes_saved {
            if let Some(store) = &self.store {
                match store.set_notes(&name, version, &notes) {
                    Ok(()) => {
                        actions.push(HistoryAction::Notify(format!("Saved the notes of {name} v{version}"), false));
                    }
                    Err(e) => actions.push(HistoryAction::Notify(e.to_string(), true)),
                }
            }
            self.reload();
        }
    }

    fn register_ui(&mut self, ui: &mut Ui) -> Option<HistoryAction> {
        let dark = ui.visuals().dark_mode;
        let names: BTreeSet<String> = self.models.iter().map(|m| m.name.clone()).collect();
        let form = self.register.as_mut()?;
        let mut submit = false;
        let mut cancel = false;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.label(RichText::new(format!("Register the model of {} from run {}", form.node, form.run)).strong());
            egui::Grid::new("register-form").spacing([theme::SPACE_M, theme::SPACE_S]).show(ui, |ui| {
                ui.label("Name");
                ui.horizontal(|ui| {
                    let edit = ui.add(egui::TextEdit::singleline(&mut form.name).id_salt("register-name"));
                    submit |= edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    for name in &names {
                        if ui.small_button(name).on_hover_text("A new version of this model").clicked() {
                            form.name.clone_from(name);
                        }
                    }
                });
                ui.end_row();
                ui.label("Notes");
                ui.add(egui::TextEdit::singleline(&mut form.notes).id_salt("register-notes").desired_width(360.0));
                ui.end_row();
            });
            if let Some(error) = &form.error {
                ui.colored_label(theme::error(dark), error);
            }
            ui.horizontal(|ui| {
                submit |= ui.button("Register").clicked();
                cancel = ui.button("Cancel").clicked();
            });
        });
        ui.add_space(theme::SPACE_M);
        if cancel {
            self.register = None;
            return None;
        }
        if submit { self.submit_register() } else { None }
    }
}

fn form_run(version: &ModelVersion) -> String {
    version.run.map_or_else(|| "—".to_owned(), |r| r.to_string())
}
