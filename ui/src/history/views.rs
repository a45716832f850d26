//! The history window's three views: the run list, the comparison of ticked runs and the model
//! registry (with the registration form).

use std::collections::BTreeSet;
use std::time::Duration;

use egui::{RichText, Ui};

use pipewright_engine::Catalog;
use pipewright_store::{RunRecord, RunStatus, Stage, format_utc};

use super::{History, HistoryView};
use crate::app::AppCommand;
use crate::output::charts::{self, Series};
use crate::output::format::format_metric;
use crate::theme;

/// What a button in the Models view asks for.
enum ModelAction {
    Promote(String, i64),
    Rollback(String),
    Deploy(String),
    /// The split form of a version, with the share shown.
    OpenSplit(String, i64, f64),
    Split(String, i64, f64),
    Shadow(String, Option<i64>),
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
    pub(super) fn runs_ui(&mut self, ui: &mut Ui, queue: &mut Vec<AppCommand>) {
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
                    match &row.tasks {
                        Some((line, details)) => {
                            ui.label(format!("{} · {line}", r.source)).on_hover_text(details);
                        }
                        None => {
                            ui.label(&r.source);
                        }
                    }
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
                            queue.push(self.open_snapshot(r.id, false));
                        }
                        if ui
                            .small_button("Restore")
                            .on_hover_text("Make this run's workflow the current one (Ctrl+Z undoes it)")
                            .clicked()
                        {
                            queue.push(self.open_snapshot(r.id, true));
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

    pub(super) fn compare_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
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

    pub(super) fn models_ui(&mut self, ui: &mut Ui, queue: &mut Vec<AppCommand>) {
        let dark = ui.visuals().dark_mode;
        let weak = theme::weak_text(dark);
        if let Some(command) = self.register_ui(ui) {
            queue.push(command);
        }
        if self.models.is_empty() {
            ui.label(
                "No registered models yet. Select a Train Model block after a run and choose \"Register model…\" \
                 in its output panel.",
            );
            return;
        }
        self.deployed_ui(ui, queue);
        let mut stage_changes = Vec::new();
        let mut notes_saved = Vec::new();
        let mut actions: Vec<ModelAction> = Vec::new();
        egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
            egui::Grid::new("history-models").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
                for heading in [
                    "model",
                    "version",
                    "stage",
                    "traffic",
                    "",
                    "run",
                    "block",
                    "headline",
                    "registered (UTC)",
                    "notes",
                ] {
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
                    ui.label(self.traffic_text(&m.name, m.version, m.stage));
                    ui.horizontal(|ui| actions.extend(self.row_actions(ui, m)));
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
        for action in actions {
            let command = match action {
                ModelAction::Promote(name, version) => Some(self.promote(&name, version)),
                ModelAction::Rollback(name) => Some(self.rollback(&name)),
                ModelAction::Deploy(spec) => Some(self.deploy(&spec)),
                ModelAction::OpenSplit(name, version, percent) => {
                    self.split_form = Some((name, version, percent));
                    None
                }
                ModelAction::Split(name, version, percent) => {
                    self.split_form = None;
                    Some(self.split(&name, version, percent))
                }
                ModelAction::Shadow(name, version) => Some(self.shadow(&name, version)),
            };
            queue.extend(command);
        }
        for (name, version, stage) in stage_changes {
            queue.push(self.set_stage(&name, version, stage));
        }
        for (name, version, notes) in notes_saved {
            if let Some(store) = &self.store {
                match store.set_notes(&name, version, &notes) {
                    Ok(()) => {
                        queue.push(AppCommand::notify(format!("Saved the notes of {name} v{version}"), false));
                    }
                    Err(e) => queue.push(AppCommand::notify(e.to_string(), true)),
                }
            }
            self.reload();
        }
    }

    /// The share of requests a version gets, as the traffic column shows it.
    fn traffic_text(&self, name: &str, version: i64, stage: Stage) -> String {
        let traffic = self.traffic.get(name);
        if traffic.and_then(|t| t.shadow) == Some(version) {
            return "shadow".into();
        }
        let split = traffic.map(|t| t.split.as_slice()).unwrap_or_default();
        let total: f64 = split.iter().map(|(_, w)| w).sum();
        match split.iter().find(|(v, _)| *v == version) {
            Some((_, weight)) => format!("{:.0}%", 100.0 * weight / total),
            None if split.is_empty() && stage == Stage::Production => "100%".into(),
            None => "—".into(),
        }
    }

    /// A version's buttons: Promote, Roll back (production), Deploy, Split… and Shadow (candidates).
    fn row_actions(&self, ui: &mut Ui, m: &pipewright_store::ModelVersion) -> Vec<ModelAction> {
        let mut actions = Vec::new();
        if let Some(next) = super::next_stage(m.stage) {
            if ui.small_button("Promote").on_hover_text(format!("Move v{} to {}", m.version, next.as_str())).clicked() {
                actions.push(ModelAction::Promote(m.name.clone(), m.version));
            }
        } else if ui
            .small_button("Roll back")
            .on_hover_text("Put back in production the version that was there before this one")
            .clicked()
        {
            actions.push(ModelAction::Rollback(m.name.clone()));
        }
        let spec = if m.stage == Stage::Production { m.name.clone() } else { format!("{}@{}", m.name, m.version) };
        let hover = if m.stage == Stage::Production {
            "Serve this model on this machine, following its production version as it changes".to_owned()
        } else {
            format!("Serve version {} on this machine", m.version)
        };
        if ui.small_button("Deploy").on_hover_text(hover).clicked() {
            actions.push(ModelAction::Deploy(spec));
        }
        let has_production = self.models.iter().any(|o| o.name == m.name && o.stage == Stage::Production);
        if m.stage != Stage::Production && has_production {
            let traffic = self.traffic.get(&m.name);
            let form = self.split_form.as_ref().filter(|(n, v, _)| *n == m.name && *v == m.version);
            if let Some((_, _, percent)) = form {
                let mut percent = *percent;
                ui.add(egui::Slider::new(&mut percent, 0.0..=50.0).suffix("%").integer());
                actions.push(ModelAction::OpenSplit(m.name.clone(), m.version, percent));
                if ui.small_button("Apply").clicked() {
                    actions.push(ModelAction::Split(m.name.clone(), m.version, percent));
                }
            } else if ui.small_button("Split…").on_hover_text("Send a share of the requests to this version").clicked()
            {
                actions.push(ModelAction::OpenSplit(m.name.clone(), m.version, 10.0));
            }
            let shadowing = traffic.and_then(|t| t.shadow) == Some(m.version);
            let label = if shadowing { "Stop shadow" } else { "Shadow" };
            if ui
                .small_button(label)
                .on_hover_text(
                    "Score every request with this version too, capturing its answers without returning them",
                )
                .clicked()
            {
                actions.push(ModelAction::Shadow(m.name.clone(), (!shadowing).then_some(m.version)));
            }
        }
        actions
    }

    /// The endpoint this window runs, with its address and a Stop button.
    fn deployed_ui(&mut self, ui: &mut Ui, queue: &mut Vec<AppCommand>) {
        let dark = ui.visuals().dark_mode;
        let Some(deployed) = self.deployed() else { return };
        let served = deployed.server.describe();
        let url = deployed.server.url();
        let mut stop = false;
        ui.horizontal(|ui| {
            for model in served.as_array().into_iter().flatten() {
                let name = model["name"].as_str().unwrap_or_default();
                let version = model["version"].as_i64().unwrap_or_default();
                let stage = model["stage"].as_str().unwrap_or("none");
                let endpoint = format!("{url}{}", pipewright_deploy::score_path(name));
                ui.colored_label(theme::success(dark), "Serving");
                ui.label(format!("{name} v{version} ({stage}) at"));
                if ui.link(&endpoint).on_hover_text("Copy the address").clicked() {
                    ui.ctx().copy_text(endpoint.clone());
                    queue.push(AppCommand::notify(format!("Copied {endpoint}"), false));
                }
            }
            stop = ui.button("■ Stop").clicked();
        });
        ui.add_space(theme::SPACE_S);
        if stop {
            self.stop_serving();
        }
    }

    fn register_ui(&mut self, ui: &mut Ui) -> Option<AppCommand> {
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
