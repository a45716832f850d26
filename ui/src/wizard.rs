//! The cheat-sheet wizard window: choose data (a sample dataset or a file, with a preview) → the label
//! column → the goal (pre-selected from the label, with the reason) → priorities → the ranked
//! recommendations with their reasons → a generated workflow, opened in a new tab and run at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use egui::{RichText, Ui};

use pipewright_engine::{Catalog, Table, Workflow};
use pipewright_wizard::{
    AlgorithmRule, Choice, DataSource, Focus, Goal, MAX_COMPARED, Priorities, Profile, Recommendation, Rules,
    Suggestion, generate, load, notes, recommend, suggest_goal,
};

use crate::output::data_preview_ui;
use crate::theme;

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Choose the data.
    Data,
    /// Choose the label column.
    Label,
    /// Choose the goal.
    Goal,
    /// Accuracy against training time, interpretability.
    Priorities,
    /// The ranked recommendations.
    Recommendations,
}

impl Step {
    const ALL: [Self; 5] = [Self::Data, Self::Label, Self::Goal, Self::Priorities, Self::Recommendations];

    fn title(self) -> &'static str {
        match self {
            Self::Data => "Data",
            Self::Label => "Label",
            Self::Goal => "Goal",
            Self::Priorities => "Priorities",
            Self::Recommendations => "Recommendations",
        }
    }

    fn next(self) -> Option<Self> {
        Self::ALL.iter().position(|s| *s == self).and_then(|i| Self::ALL.get(i + 1)).copied()
    }

    fn previous(self) -> Option<Self> {
        Self::ALL.iter().position(|s| *s == self).and_then(|i| i.checked_sub(1)).map(|i| Self::ALL[i])
    }
}

/// Where the user's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Sample,
    File,
}

/// Data that has been read and profiled.
struct Loaded {
    source: DataSource,
    table: Arc<Table>,
    profile: Profile,
}

/// What the wizard asks the designer to do.
#[derive(Debug, Clone)]
pub enum WizardAction {
    /// Open this workflow in a new tab and run it.
    Generated(Box<Workflow>),
}

/// The wizard's state while its window is open.
pub struct Wizard {
    /// Whether the window shows.
    pub open: bool,
    step: Step,
    rules: Result<Rules, String>,
    kind: SourceKind,
    sample: String,
    file: String,
    loaded: Option<Loaded>,
    loading: Option<Receiver<Result<Loaded, String>>>,
    error: Option<String>,
    label: Option<String>,
    goal: Goal,
    suggestion: Option<Suggestion>,
    priorities: Priorities,
    compare: bool,
    ranked: Vec<Recommendation>,
    picked: Vec<String>,
    /// The workflow the current picks make and the notes on the data, worked out when they change.
    preview: Option<(Result<Workflow, String>, Vec<String>)>,
}

impl Default for Wizard {
    fn default() -> Self {
        Self {
            open: false,
            step: Step::Data,
            rules: Rules::bundled().map_err(|e| e.to_string()),
            kind: SourceKind::Sample,
            sample: "titanic".to_owned(),
            file: String::new(),
            loaded: None,
            loading: None,
            error: None,
            label: None,
            goal: Goal::Structure,
            suggestion: None,
            priorities: Priorities::default(),
            compare: false,
            ranked: Vec::new(),
            picked: Vec::new(),
            preview: None,
        }
    }
}

fn read(source: DataSource, base_dir: &std::path::Path, catalog: &Catalog) -> Result<Loaded, String> {
    let table = load(&source, base_dir, catalog).map_err(|e| e.to_string())?;
    let profile = Profile::of(&table);
    Ok(Loaded { source, table: Arc::new(table), profile })
}

impl Wizard {
    /// Opens the window at its first step, with the default sample dataset read.
    pub fn start(&mut self, catalog: &Catalog) {
        *self = Self { open: true, ..Self::default() };
        self.read_sample(catalog);
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The goal chosen (or suggested).
    pub fn goal(&self) -> Goal {
        self.goal
    }

    /// The label column chosen.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The recommendations as ranked for the current answers.
    pub fn ranked(&self) -> &[Recommendation] {
        &self.ranked
    }

    /// The kinds of the algorithms that will be generated.
    pub fn picked(&self) -> &[String] {
        &self.picked
    }

    /// Reads the chosen sample dataset (bundled and small, so at once).
    fn read_sample(&mut self, catalog: &Catalog) {
        let source = DataSource::Sample(self.sample.clone());
        let loaded = read(source, std::path::Path::new("."), catalog);
        self.finish_loading(loaded);
    }

    /// Reads a file on a worker thread; the window shows a spinner meanwhile.
    fn read_file(&mut self, catalog: &Catalog) {
        let path = PathBuf::from(self.file.trim());
        if !path.is_file() {
            self.error = Some(format!("There is no file {}.", path.display()));
            return;
        }
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let base = path.parent().map(PathBuf::from).unwrap_or_default();
        let source = DataSource::File(path.to_string_lossy().into_owned());
        let (send, receive) = channel();
        let catalog = catalog.clone();
        std::thread::spawn(move || {
            // The window may be gone by the time the data is read; nothing is lost then.
            send.send(read(source, &base, &catalog)).ok();
        });
        self.loading = Some(receive);
        self.loaded = None;
        self.error = None;
    }

    fn finish_loading(&mut self, loaded: Result<Loaded, String>) {
        self.loading = None;
        match loaded {
            Ok(loaded) => {
                self.error = None;
                // The best candidate is offered, with its reason on the label step.
                self.label = loaded.profile.label_candidates().first().map(|c| c.name.clone());
                self.loaded = Some(loaded);
                self.suggest();
            }
            Err(why) => {
                self.loaded = None;
                self.error = Some(why);
            }
        }
    }

    /// Pre-selects the goal the label suggests.
    fn suggest(&mut self) {
        let Some(loaded) = &self.loaded else { return };
        let label = self.label.as_deref().and_then(|l| loaded.profile.label(l));
        let suggestion = suggest_goal(&loaded.profile, label.as_ref());
        self.goal = suggestion.goal;
        self.suggestion = Some(suggestion);
    }

    /// Ranks the algorithms for the current answers and picks the best (or the best three).
    fn rank(&mut self, catalog: &Catalog) {
        let (Some(loaded), Ok(rules)) = (&self.loaded, &self.rules) else { return };
        let label = self.label.as_deref().and_then(|l| loaded.profile.label(l));
        self.ranked = recommend(rules, catalog, self.goal, &loaded.profile, label.as_ref(), self.priorities);
        self.pick_top();
    }

    fn pick_top(&mut self) {
        let count = if self.compare { MAX_COMPARED } else { 1 };
        self.picked =
            self.ranked.iter().filter(|r| r.excluded.is_none()).take(count).map(|r| r.rule.kind.clone()).collect();
        self.refresh_preview();
    }

    /// Works out the workflow and the notes shown beside the recommendations.
    fn refresh_preview(&mut self) {
        let notes = self.loaded.as_ref().map_or_else(Vec::new, |loaded| {
            let label = self.label.as_deref().and_then(|l| loaded.profile.label(l));
            notes(&loaded.profile, label.as_ref(), self.goal)
        });
        self.preview = Some((self.workflow(), notes));
    }

    /// Whether the current step is answered, so Next can be pressed.
    fn can_continue(&self) -> bool {
        match self.step {
            Step::Data => self.loaded.is_some(),
            Step::Label | Step::Priorities => true,
            Step::Goal => {
                let available =
                    self.rules.as_ref().ok().and_then(|r| r.goal(self.goal)).is_some_and(|g| g.unavailable.is_none());
                available && (self.label.is_some() || !self.goal.needs_label())
            }
            Step::Recommendations => !self.picked.is_empty(),
        }
    }

    fn go(&mut self, step: Step, catalog: &Catalog) {
        if step == Step::Recommendations {
            self.rank(catalog);
        }
        self.step = step;
    }

    /// The workflow for the current answers.
    pub fn workflow(&self) -> Result<Workflow, String> {
        let loaded = self.loaded.as_ref().ok_or("Choose the data first.")?;
        let rules: Vec<&AlgorithmRule> = self
            .picked
            .iter()
            .filter_map(|k| self.ranked.iter().find(|r| &r.rule.kind == k))
            .map(|r| &r.rule)
            .collect();
        let goal =
            self.rules.as_ref().ok().and_then(|r| r.goal(self.goal)).ok_or("The cheat-sheet rules are unreadable.")?;
        let choice = Choice { data: &loaded.source, label: self.label.as_deref(), goal, algorithms: &rules };
        generate(&loaded.profile, &choice).map_err(|e| e.to_string())
    }

    /// Draws the window; returns what the designer should do.
    pub fn window_ui(&mut self, ctx: &egui::Context, catalog: &Catalog) -> Option<WizardAction> {
        if !self.open {
            return None;
        }
        if let Some(receive) = &self.loading {
            match receive.try_recv() {
                Ok(loaded) => self.finish_loading(loaded),
                Err(std::sync::mpsc::TryRecvError::Empty) => ctx.request_repaint_after(Duration::from_millis(100)),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.finish_loading(Err("reading the data stopped unexpectedly".into()));
                }
            }
        }
        let mut open = true;
        let mut action = None;
        egui::Window::new("Cheat-sheet wizard")
            .id(egui::Id::new("wizard-window"))
            .open(&mut open)
            .default_size([980.0, 640.0])
            .resizable(true)
            .collapsible(false)
            .pivot(egui::Align2::CENTER_CENTER)
            .default_pos(ctx.content_rect().center())
            .show(ctx, |ui| action = self.contents_ui(ui, catalog));
        if !open || action.is_some() {
            self.open = false;
        }
        action
    }

    fn contents_ui(&mut self, ui: &mut Ui, catalog: &Catalog) -> Option<WizardAction> {
        if let Err(why) = &self.rules {
            ui.colored_label(theme::error(ui.visuals().dark_mode), why);
            return None;
        }
        self.steps_ui(ui, catalog);
        ui.separator();
        let mut action = None;
        egui::Panel::bottom("wizard-buttons").show(ui, |ui| {
            action = self.buttons_ui(ui, catalog);
        });
        egui::ScrollArea::vertical().id_salt("wizard-step").auto_shrink([false, false]).show(ui, |ui| {
            match self.step {
                Step::Data => self.data_ui(ui, catalog),
                Step::Label => self.label_ui(ui),
                Step::Goal => self.goal_ui(ui),
                Step::Priorities => self.priorities_ui(ui),
                Step::Recommendations => self.recommendations_ui(ui, catalog),
            }
        });
        action
    }

    /// The step indicator; steps already reached can be clicked.
    fn steps_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
        let dark = ui.visuals().dark_mode;
        ui.horizontal(|ui| {
            for (i, step) in Step::ALL.into_iter().enumerate() {
                if i > 0 {
                    ui.label(RichText::new("›").color(theme::weak_text(dark)));
                }
                let text = format!("{} {}", i + 1, step.title());
                let current = step == self.step;
                let text =
                    if current { RichText::new(text).strong().color(theme::accent(dark)) } else { RichText::new(text) };
                let reachable = step <= self.step || self.loaded.is_some() && step < Step::Recommendations;
                if ui.add_enabled(reachable && !current, egui::Button::new(text).frame(false)).clicked() {
                    self.go(step, catalog);
                }
            }
        });
    }

    fn buttons_ui(&mut self, ui: &mut Ui, catalog: &Catalog) -> Option<WizardAction> {
        let mut action = None;
        ui.add_space(theme::SPACE_S);
        ui.horizontal(|ui| {
            if let Some(previous) = self.step.previous()
                && ui.button("‹ Back").clicked()
            {
                self.go(previous, catalog);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let ready = self.can_continue();
                if let Some(next) = self.step.next() {
                    if ui.add_enabled(ready, egui::Button::new("Next ›")).clicked() {
                        self.go(next, catalog);
                    }
                } else {
                    let generate = egui::Button::new(RichText::new("▶ Generate and run").strong());
                    if ui.add_enabled(ready, generate).clicked() {
                        match self.workflow() {
                            Ok(workflow) => action = Some(WizardAction::Generated(Box::new(workflow))),
                            Err(why) => self.error = Some(why),
                        }
                    }
                }
            });
        });
        action
    }

    fn data_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
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

    fn label_ui(&mut self, ui: &mut Ui) {
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

    fn goal_ui(&mut self, ui: &mut Ui) {
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

    fn priorities_ui(&mut self, ui: &mut Ui) {
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

    fn recommendations_ui(&mut self, ui: &mut Ui, catalog: &Catalog) {
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
                for kind in &self.picked {
                    let train = if self.goal == Goal::Structure { "train, assign clusters" } else { "train, score" };
                    line(ui, format!("{}: {train}", name_of(kind)));
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
