//! The cheat-sheet wizard window: choose data (a sample dataset or a file, with a preview) → the label
//! column → the goal (pre-selected from the label, with the reason) → priorities → the ranked
//! recommendations with their reasons → a generated workflow, opened in a new tab and run at once.

mod steps;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use egui::{RichText, Ui};

use pipewright_engine::{Catalog, Table, Workflow};
use pipewright_wizard::{
    AlgorithmRule, Choice, DataSource, Goal, MAX_COMPARED, Priorities, Profile, Recommendation, Rules, Suggestion,
    generate, load, notes, recommend, suggest_goal,
};

use crate::app::AppCommand;
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
    /// "Try them all": Train Best Model instead of the picked algorithms.
    try_all: bool,
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
            try_all: false,
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

    /// Chooses "Try them all" (Train Best Model over every learner of the goal) instead of the picked ones.
    pub fn set_try_all(&mut self, try_all: bool) {
        self.try_all = try_all;
        self.refresh_preview();
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
        let spawned = std::thread::Builder::new().name("pipewright-wizard-read".into()).spawn(move || {
            // The window may be gone by the time the data is read; nothing is lost then.
            send.send(read(source, &base, &catalog)).ok();
        });
        self.loaded = None;
        match spawned {
            Ok(_) => {
                self.loading = Some(receive);
                self.error = None;
            }
            Err(e) => self.error = Some(format!("Cannot read the file: no thread to read it on ({e}).")),
        }
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
            Step::Recommendations => !self.picked.is_empty() || self.try_all,
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
        let rules = if self.try_all { Vec::new() } else { rules };
        let choice = Choice {
            data: &loaded.source,
            label: self.label.as_deref(),
            goal,
            algorithms: &rules,
            try_all: self.try_all,
        };
        generate(&loaded.profile, &choice).map_err(|e| e.to_string())
    }

    /// Draws the window (when open); the generated workflow, once asked for, goes into `queue`.
    pub fn window_ui(&mut self, ctx: &egui::Context, catalog: &Catalog, queue: &mut Vec<AppCommand>) {
        if !self.open {
            return;
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
        queue.extend(action);
    }

    fn contents_ui(&mut self, ui: &mut Ui, catalog: &Catalog) -> Option<AppCommand> {
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

    fn buttons_ui(&mut self, ui: &mut Ui, catalog: &Catalog) -> Option<AppCommand> {
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
                            Ok(workflow) => action = Some(AppCommand::OpenGenerated(Box::new(workflow))),
                            Err(why) => self.error = Some(why),
                        }
                    }
                }
            });
        });
        action
    }
}
