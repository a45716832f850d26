//! The wizard's five steps, one function each: the data, the label, the goal, the priorities and the
//! ranked recommendations.

use egui::{RichText, Ui};

use pipewright_engine::Catalog;
use pipewright_wizard::{AlgorithmRule, Focus, Goal, MAX_COMPARED};

use super::{SourceKind, Wizard};
use crate::output::data_preview_ui;
use crate::theme;

impl Wizard {
    pub(super) fn data_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        let dark = ui.visuals().dark_mode;
        ui.label(RichText::new("Which data?").font(theme::heading_font()));
        ui.add_space(theme::SPACE_S);
        ui.horizontal(|ui| {
            if ui.radio(self.kind == SourceKind::Sample, "Sample dataset").clicked() && self.kind != SourceKind::Sample
            {
                self.kind = SourceKind::Sample;
                self.read_sample(catalog);
            }
            let mut chosen = self.sample.clone();
            egui::ComboBox::from_id_salt("wizard-sample").selected_text(&chosen).show_ui(ui, |ui| {
                for name in pipewright_wizard::sample_names(catalog) {
                    ui.selectable_value(&mut chosen, name.clone(), name);
                }
            });
            if chosen != self.sample {
                self.sample = chosen;
                self.kind = SourceKind::Sample;
                self.read_sample(catalog);
            }
        });
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.kind, SourceKind::File, "File");
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.file)
                    .hint_text("a CSV, Parquet, JSON or SQLite file")
                    .desired_width(420.0),
            );
            if field.gained_focus() {
                self.kind = SourceKind::File;
            }
            let submitted = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Browse…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("Data", &["csv", "tsv", "txt", "parquet", "json", "ndjson", "jsonl", "db", "sqlite"])
                    .pick_file()
            {
                self.file = path.to_string_lossy().into_owned();
                self.kind = SourceKind::File;
                self.read_file(catalog);
            }
            if (ui.add_enabled(!self.file.trim().is_empty(), egui::Button::new("Read")).clicked() || submitted)
                && !self.file.trim().is_empty()
            {
                self.kind = SourceKind::File;
                self.read_file(catalog);
            }
        });
        ui.add_space(theme::SPACE_M);
        if self.loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the data…");
            });
            return;
        }
        if let Some(error) = &self.error {
            ui.colored_label(theme::error(dark), error);
        }
        let Some(loaded) = &self.loaded else { return };
        for line in loaded.profile.summary(self.label.as_deref()) {
            ui.label(line);
        }
        ui.add_space(theme::SPACE_S);
        ui.label(RichText::new("Preview").strong());
        ui.allocate_ui(egui::vec2(ui.available_width(), 260.0), |ui| {
            data_preview_ui(ui, &loaded.table);
        });
    }

    pub(super) fn label_ui(&mut self, ui: &mut Ui) {
        let dark = ui.visuals().dark_mode;
        let Some(loaded) = &self.loaded else { return };
        ui.label(RichText::new("Which column do you want to predict?").font(theme::heading_font()));
        ui.add_space(theme::SPACE_S);
        let before = self.label.clone();
        let candidates = loaded.profile.label_candidates();
        for candidate in &candidates {
            ui.horizontal(|ui| {
                ui.radio_value(&mut self.label, Some(candidate.name.clone()), RichText::new(&candidate.name).strong());
                ui.label(RichText::new(&candidate.reason).color(theme::weak_text(dark)));
            });
        }
        ui.horizontal(|ui| {
            let other = self.label.as_ref().filter(|l| !candidates.iter().any(|c| &c.name == *l));
            ui.label("Another column:");
            egui::ComboBox::from_id_salt("wizard-label-other")
                .selected_text(other.map_or("choose…", String::as_str))
                .show_ui(ui, |ui| {
                    for column in &loaded.profile.columns {
                        ui.selectable_value(&mut self.label, Some(column.name.clone()), &column.name);
                    }
                });
        });
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.label, None, RichText::new("No label").strong());
            ui.label(RichText::new("find structure or unusual rows instead").color(theme::weak_text(dark)));
        });
        ui.add_space(theme::SPACE_M);
        if let Some(label) = self.label.as_deref().and_then(|l| loaded.profile.label(l)) {
            ui.label(label.summary());
            if let Some(column) = loaded.profile.column(&label.name)
                && let Some(why) = &column.leave_out
            {
                ui.colored_label(theme::warning(dark), format!("This column would not be a good label: {why}."));
            }
        }
        if before != self.label {
            self.suggest();
        }
    }

    pub(super) fn goal_ui(&mut self, ui: &mut Ui) {
        let dark = ui.visuals().dark_mode;
        let Ok(rules) = &self.rules else { return };
        ui.label(RichText::new("What do you want to do?").font(theme::heading_font()));
        ui.add_space(theme::SPACE_S);
        if let Some(suggestion) = &self.suggestion {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(
                    RichText::new(format!("Suggested from the data: {}", suggestion.reason)).color(theme::accent(dark)),
                );
            });
            ui.add_space(theme::SPACE_S);
        }
        for goal in &rules.goals {
            let missing_label = goal.id.needs_label() && self.label.is_none();
            let enabled = goal.unavailable.is_none() && !missing_label;
            ui.horizontal(|ui| {
                let radio = ui.add_enabled(
                    enabled,
                    egui::RadioButton::new(self.goal == goal.id, RichText::new(&goal.question).strong()),
                );
                let radio = match (&goal.unavailable, missing_label) {
                    (Some(why), _) => radio.on_disabled_hover_text(why),
                    (None, true) => radio.on_disabled_hover_text("Choose a label column first."),
                    _ => radio,
                };
                if radio.clicked() {
                    self.goal = goal.id;
                }
                ui.label(RichText::new(format!("{} · \"{}\"", goal.family, goal.asks)).color(theme::weak_text(dark)));
            });
        }
    }

    pub(super) fn priorities_ui(&mut self, ui: &mut Ui) {
        let dark = ui.visuals().dark_mode;
        ui.label(RichText::new("What matters most?").font(theme::heading_font()));
        ui.add_space(theme::SPACE_S);
        for focus in Focus::ALL {
            ui.radio_value(&mut self.priorities.focus, focus, focus.describe());
        }
        ui.add_space(theme::SPACE_M);
        ui.checkbox(&mut self.priorities.interpretable, "Prefer models whose decisions I can explain");
        ui.label(
            RichText::new("Linear models and single trees can be read; forests, boosted trees and networks cannot.")
                .color(theme::weak_text(dark)),
        );
    }

    pub(super) fn recommendations_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        if self.loaded.is_none() {
            return;
        }
        ui.label(RichText::new("Recommended for this data").font(theme::heading_font()));
        ui.add_space(theme::SPACE_S);
        if ui
            .checkbox(&mut self.compare, format!("Compare the top {MAX_COMPARED} side by side"))
            .on_hover_text("Parallel branches whose scores meet in one Evaluate Model")
            .changed()
        {
            self.pick_top();
        }
        let predicts = matches!(self.goal, Goal::TwoClass | Goal::Multiclass | Goal::Values);
        if ui
            .add_enabled(
                predicts,
                egui::Checkbox::new(&mut self.try_all, "Try them all: every learner, tuned and cross-validated"),
            )
            .on_hover_text(
                "Train Best Model tries every learner of this goal with a search of its settings on the same folds, \
                 ranks them on a leaderboard and packages the winner. On a cluster it fans out.",
            )
            .on_disabled_hover_text("For goals that predict a label")
            .changed()
        {
            self.refresh_preview();
        }
        ui.add_space(theme::SPACE_S);
        // Two columns of fixed width, so long notes wrap inside the window.
        let width = ui.available_width();
        let list_width = (width * 0.55).floor();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(list_width);
                self.ranked_ui(ui);
            });
            ui.vertical(|ui| {
                ui.set_width((width - list_width - theme::SPACE_L).max(120.0));
                self.about_ui(ui, catalog);
            });
        });
    }

    /// The ranked algorithms, each with its hint, ratings, reasons and a tick box.
    fn ranked_ui(&mut self, ui: &mut Ui) {
        let dark = ui.visuals().dark_mode;
        let mut toggled = None;
        for (rank, r) in self.ranked.iter().enumerate() {
            let picked = self.picked.contains(&r.rule.kind);
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.set_width(ui.available_width());
                let full = !picked && self.picked.len() >= MAX_COMPARED;
                let mut checked = picked;
                let tick = ui.add_enabled(
                    r.excluded.is_none() && !full,
                    egui::Checkbox::new(&mut checked, RichText::new(format!("{}. {}", rank + 1, r.name)).strong()),
                );
                let tick = if full { tick.on_disabled_hover_text("At most three are compared.") } else { tick };
                if tick.changed() {
                    toggled = Some(r.rule.kind.clone());
                }
                ui.label(RichText::new(ratings(&r.rule)).small().color(theme::weak_text(dark)));
                ui.label(&r.rule.hint);
                for reason in &r.reasons {
                    let (sign, color) =
                        if reason.favourable { ("+", theme::success(dark)) } else { ("−", theme::warning(dark)) };
                    ui.label(RichText::new(format!("{sign} {}", reason.text)).color(color));
                }
                if let Some(why) = &r.excluded {
                    ui.colored_label(theme::error(dark), format!("Cannot be used here: {why}"));
                }
            });
        }
        if let Some(kind) = toggled {
            if let Some(i) = self.picked.iter().position(|k| *k == kind) {
                self.picked.remove(i);
            } else {
                self.picked.push(kind);
            }
            self.refresh_preview();
        }
    }

    /// What the data calls for, and the blocks that will be generated.
    fn about_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        let dark = ui.visuals().dark_mode;
        let Some((workflow, notes)) = &self.preview else { return };
        if !notes.is_empty() {
            ui.label(RichText::new("About this data").strong());
            for note in notes {
                ui.label(format!("• {note}"));
            }
            ui.add_space(theme::SPACE_M);
        }
        ui.label(RichText::new("The workflow").strong());
        match workflow {
            Ok(workflow) => {
                let name_of = |kind: &str| catalog.get(kind).map_or(kind.to_owned(), |e| e.spec.name.to_owned());
                let line = |ui: &mut Ui, text: String| {
                    ui.label(RichText::new(format!("› {text}")).color(theme::weak_text(dark)));
                };
                // The preparation block by block, then one line per compared branch, then the evaluation.
                for node in
                    workflow.nodes.iter().filter(|n| n.kind.starts_with("data.") || n.kind.starts_with("transform."))
                {
                    line(ui, node.title.clone().unwrap_or_else(|| name_of(&node.kind)));
                }
                if self.try_all {
                    line(ui, "Train Best Model: every learner, tuned and cross-validated; the winner scored".into());
                    line(ui, "Export Model Package: the winner with its preparation".into());
                } else {
                    for kind in &self.picked {
                        let train =
                            if self.goal == Goal::Structure { "train, assign clusters" } else { "train, score" };
                        line(ui, format!("{}: {train}", name_of(kind)));
                    }
                }
                if let Some(evaluate) = workflow.node("evaluate") {
                    line(ui, evaluate.title.clone().unwrap_or_else(|| name_of(&evaluate.kind)));
                }
                ui.label("It runs as soon as it is generated; save it to keep it and record its runs.");
            }
            Err(_) if self.picked.is_empty() => {
                ui.colored_label(theme::warning(dark), "Tick at least one algorithm.");
            }
            Err(why) => {
                ui.colored_label(theme::error(dark), why);
            }
        }
        if let Some(error) = &self.error {
            ui.colored_label(theme::error(dark), error);
        }
    }
}

/// The ratings of a rule in one line.
fn ratings(rule: &AlgorithmRule) -> String {
    format!(
        "accuracy {} · training {} · {} · {} settings",
        rule.accuracy.as_str(),
        rule.training_time.as_str(),
        if rule.linear { "linear" } else { "non-linear" },
        rule.parameters
    )
}
