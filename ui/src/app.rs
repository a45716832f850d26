//! The designer window: tabs of open workflows, the start page, menus and shortcuts, and per tab the
//! palette, canvas, inspector and output panel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::emath::TSTransform;
use egui::{Id, Key, KeyboardShortcut, Modifiers, Pos2, Rect, RichText, Ui};
use serde_json::json;

use pipewright_engine::{Catalog, Edge, Node, Value, Workflow, project_dir_of};

use crate::canvas::{CanvasAction, CanvasGraph, Refusal, Viewer, fit_transform, snarl_style};
use crate::cluster::ClusterJob;
use crate::command::Command;
use crate::deploy::Deploy;
use crate::document::Document;
use crate::history::{History, HistoryAction, HistoryView};
use crate::output::OutputView;
use crate::palette::{Palette, PaletteDrag};
use crate::runtime::{Phase, RecordTarget, RunSettings, Runtime, format_duration};
use crate::settings::{self, Recovery, Settings};
use crate::start::{Example, StartAction};
use crate::wizard::{Wizard, WizardAction};
use crate::{comments, inspector, start, theme};

/// Autosave writes a recovery file this long after the last edit.
const AUTOSAVE_AFTER: Duration = Duration::from_secs(3);

/// The id of the snarl widget of a tab.
fn snarl_id(slot: u64) -> Id {
    Id::new(("canvas", slot))
}

/// One open workflow: the document, its runtime, and its view state.
pub struct Tab {
    slot: u64,
    /// The document.
    pub document: Document,
    /// Runs and results.
    pub runtime: Runtime,
    graph: CanvasGraph,
    selection: Vec<String>,
    /// The selection egui-snarl keeps itself (box selection), to notice what it adds.
    snarl_selection: Vec<String>,
    selected_comment: Option<String>,
    output: OutputView,
    output_port: usize,
    transform: TSTransform,
    /// Fit the view on the next frame: `Some(true)` at a readable scale (on opening), `Some(false)` all.
    fit_pending: Option<bool>,
    /// Centre the view on this block on the next frame.
    focus_pending: Option<String>,
    canvas_rect: Rect,
    refusal: Option<Refusal>,
    quick_add: Option<QuickAdd>,
    autosaved_revision: u64,
    changed_at: Option<Instant>,
    /// Set when the tab shows a recorded run's workflow, read-only.
    pub snapshot: Option<SnapshotOf>,
}

/// The recorded run a read-only tab shows.
#[derive(Debug, Clone)]
pub struct SnapshotOf {
    /// The run.
    pub run: i64,
    /// The workflow file it ran from (relative paths in it resolve against its folder).
    pub file: PathBuf,
}

struct QuickAdd {
    at: Pos2,
    screen: Pos2,
    query: String,
}

impl Tab {
    fn new(slot: u64, document: Document) -> Self {
        Self {
            slot,
            autosaved_revision: document.revision(),
            document,
            runtime: Runtime::default(),
            graph: CanvasGraph::default(),
            selection: Vec::new(),
            snarl_selection: Vec::new(),
            selected_comment: None,
            output: OutputView::default(),
            output_port: 0,
            transform: TSTransform::IDENTITY,
            fit_pending: Some(true),
            focus_pending: None,
            canvas_rect: Rect::NOTHING,
            refusal: None,
            quick_add: None,
            changed_at: None,
            snapshot: None,
        }
    }

    /// The folder relative paths resolve against and the project whose cache runs use.
    fn base_dir(&self) -> PathBuf {
        self.workflow_file()
            .and_then(Path::parent)
            .map_or_else(|| std::env::current_dir().unwrap_or_default(), Path::to_path_buf)
    }

    /// The tab's label: file name or workflow name, with a dot when unsaved.
    pub fn title(&self) -> String {
        if let Some(snapshot) = &self.snapshot {
            return format!("run {} · {} (read-only)", snapshot.run, self.document.workflow().name);
        }
        let name = self.document.path().and_then(Path::file_name).map_or_else(
            || self.document.workflow().name.clone(),
            |n| n.to_string_lossy().trim_end_matches(".flow.json").to_owned(),
        );
        if self.document.is_dirty() { format!("⏺ {name}") } else { name }
    }

    /// The project the tab's runs are recorded in: its file's project, or the project of the run it shows.
    pub fn project(&self) -> Option<PathBuf> {
        self.workflow_file().map(project_dir_of)
    }

    /// The file the tab's workflow belongs to: its own, or the one the run it shows ran from.
    fn workflow_file(&self) -> Option<&Path> {
        self.document.path().or(self.snapshot.as_ref().map(|s| s.file.as_path()))
    }

    /// Node ids selected on the canvas.
    pub fn selection(&self) -> &[String] {
        &self.selection
    }
}

/// Where the designer keeps its files and finds its examples.
#[derive(Debug, Clone)]
pub struct DesignerPaths {
    /// Settings and recovery files.
    pub config_dir: PathBuf,
    /// The example projects (folders with a workflow each).
    pub projects_dir: Option<PathBuf>,
}

/// A message in the status bar.
#[derive(Debug, Clone)]
struct Notice {
    text: String,
    is_error: bool,
}

/// The whole designer.
pub struct Designer {
    catalog: Arc<Catalog>,
    paths: DesignerPaths,
    settings: Settings,
    tabs: Vec<Tab>,
    active: Option<usize>,
    examples: Vec<Example>,
    recoveries: Vec<(PathBuf, Recovery)>,
    palette: Palette,
    notice: Option<Notice>,
    next_slot: u64,
    applied_look: Option<(theme::Theme, f32)>,
    window_title: String,
    confirm_close: Option<ConfirmClose>,
    pending_run: bool,
    startup: Option<Startup>,
    /// The project history window (runs, comparison, models).
    pub history: History,
    /// The cheat-sheet wizard window.
    pub wizard: Wizard,
    /// The packaging and local deployment windows.
    pub deploy: Deploy,
    /// The "Export job…" window (cluster bundles and their submission).
    pub cluster: ClusterJob,
}

/// Reports how long the window took to show its first frame (`--report-startup`).
#[derive(Debug, Clone, Copy)]
struct Startup {
    launched: Instant,
    exit_after: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ConfirmClose {
    Tab(usize),
    Window,
}

impl Designer {
    /// A designer with no open workflows, showing the start page (and an offer to restore unsaved work
    /// from a previous session, if any).
    pub fn new(catalog: Arc<Catalog>, paths: DesignerPaths) -> Self {
        let settings = Settings::load(&paths.config_dir);
        let examples = paths.projects_dir.as_deref().map(start::find_examples).unwrap_or_default();
        let recoveries = settings::leftover_recoveries(&paths.config_dir);
        Self {
            catalog,
            paths,
            settings,
            tabs: Vec::new(),
            active: None,
            examples,
            recoveries,
            palette: Palette::default(),
            notice: None,
            next_slot: 1,
            applied_look: None,
            window_title: String::new(),
            confirm_close: None,
            pending_run: false,
            startup: None,
            history: History::default(),
            wizard: Wizard::default(),
            deploy: Deploy::default(),
            cluster: ClusterJob::default(),
        }
    }

    /// Switches between the light and the dark theme (remembered in the settings).
    pub fn set_theme(&mut self, theme: theme::Theme) {
        self.settings.theme = theme;
        self.save_settings();
    }

    /// Runs the active workflow as soon as the window shows (`pipewright FLOW --run`).
    pub fn run_when_shown(&mut self) {
        self.pending_run = true;
    }

    /// Prints the time from `launched` to the end of the first frame; with `exit_after`, closes then.
    pub fn report_startup(&mut self, launched: Instant, exit_after: bool) {
        self.startup = Some(Startup { launched, exit_after });
    }

    /// Selects blocks of the active workflow, as clicking them would, and brings the first into view.
    pub fn select(&mut self, ids: &[String]) {
        if let Some(tab) = self.active_tab_mut() {
            tab.selection = ids.iter().filter(|id| tab.document.workflow().node(id).is_some()).cloned().collect();
            tab.output_port = 0;
            if let Some(first) = tab.selection.first() {
                tab.focus_pending = Some(first.clone());
            }
        }
    }

    /// The open tabs.
    pub fn tabs(&self) -> &[Tab] {
        &self.tabs
    }

    /// The active tab, if a workflow (not the start page) is shown.
    pub fn active_tab(&self) -> Option<&Tab> {
        self.active.and_then(|i| self.tabs.get(i))
    }

    fn active_tab_mut(&mut self) -> Option<&mut Tab> {
        self.active.and_then(|i| self.tabs.get_mut(i))
    }

    /// The examples offered on the start page.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn notify(&mut self, text: impl Into<String>, is_error: bool) {
        self.notice = Some(Notice { text: text.into(), is_error });
    }

    fn save_settings(&mut self) {
        if let Err(e) = self.settings.save(&self.paths.config_dir) {
            self.notify(format!("Could not save settings in {}: {e}", self.paths.config_dir.display()), true);
        }
    }

    /// Opens a workflow file in a new tab (or shows it if it is open already).
    pub fn open(&mut self, path: &Path) {
        let resolved = pipewright_engine::find_workflow(path).unwrap_or_else(|_| path.to_path_buf());
        let absolute = canonical(&resolved);
        if let Some(i) = self.tabs.iter().position(|t| t.document.path().is_some_and(|p| canonical(p) == absolute)) {
            self.active = Some(i);
            return;
        }
        // Kept absolute, so the recent list and recovery files work from any working folder.
        let resolved = if absolute.exists() { absolute } else { resolved };
        match Document::open(&resolved) {
            Ok(document) => {
                self.settings.remember(&resolved);
                self.save_settings();
                self.add_tab(document);
                self.notify(format!("Opened {}", file_name(&resolved)), false);
            }
            Err(e) => self.notify(format!("Could not open {}: {e}", resolved.display()), true),
        }
    }

    /// Adds a tab for a document and shows it.
    pub fn add_tab(&mut self, document: Document) {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.tabs.push(Tab::new(slot, document));
        self.active = Some(self.tabs.len() - 1);
    }

    /// Gathers the model trained by `node` and the transforms in front of it from the last run, and offers to
    /// write them as a model package.
    pub fn package_model(&mut self, node: &str) {
        let Some(tab) = self.active_tab() else { return };
        let assembled =
            crate::deploy::assemble(tab.document.workflow(), &tab.runtime, &self.catalog, node, tab.workflow_file());
        let base_dir = tab.base_dir();
        match assembled {
            Ok((package, notes)) => self.deploy.offer_package(package, notes, base_dir),
            Err(e) => self.notify(format!("Cannot package the model of {node}: {e}"), true),
        }
    }

    /// Opens the deployment window on the package an Export Model Package block writes.
    pub fn deploy_package(&mut self, node: &str) {
        let Some(tab) = self.active_tab() else { return };
        let path = tab.document.workflow().node(node).and_then(|n| n.params.get("path")).and_then(|p| p.as_str());
        let Some(path) = path.map(|p| tab.base_dir().join(p)) else { return };
        if path.exists() {
            self.deploy.open_package(&path);
        } else {
            self.notify(format!("{} does not exist yet: run the workflow first (▶ Run)", path.display()), true);
        }
    }

    /// Opens the "Export job…" window for the active tab's workflow file.
    pub fn open_export_job(&mut self) {
        let (file, dirty) = self
            .active_tab()
            .map_or((None, false), |t| (t.document.path().map(Path::to_path_buf), t.document.is_dirty()));
        self.cluster.open_for(file.as_deref(), dirty);
    }

    /// Opens the cheat-sheet wizard.
    pub fn open_wizard(&mut self) {
        self.wizard.start(&self.catalog);
    }

    /// Opens a workflow the wizard generated in a new tab and runs it.
    fn add_generated(&mut self, workflow: Workflow) {
        let name = workflow.name.clone();
        let reports_metrics = |kind: &str| self.catalog.get(kind).is_some_and(|e| e.spec.reports_metrics);
        let evaluate: Vec<String> =
            workflow.nodes.iter().filter(|n| reports_metrics(&n.kind)).map(|n| n.id.clone()).collect();
        // Unsaved work from the start: closing asks first, and autosave keeps a recovery copy.
        self.add_tab(Document::recovered(None, Workflow::new(name.clone()), workflow));
        if let Some(tab) = self.active_tab_mut() {
            // Its evaluation in the output panel as soon as the run is done.
            tab.selection = evaluate;
            tab.changed_at = Some(Instant::now());
        }
        self.pending_run = true;
        self.notify(
            format!("Generated \"{name}\"; running it. Save it with Ctrl+S to keep it and record its runs."),
            false,
        );
    }

    fn new_workflow(&mut self) {
        let n = self.tabs.len() + 1;
        self.add_tab(Document::new(Workflow::new(format!("Untitled {n}"))));
    }

    fn open_dialog(&mut self) {
        let mut dialog = rfd::FileDialog::new().add_filter("Pipewright workflow", &["json"]);
        if let Some(dir) = self.settings.recent.first().and_then(|p| p.parent()) {
            dialog = dialog.set_directory(dir);
        }
        if let Some(path) = dialog.pick_file() {
            self.open(&path);
        }
    }

    /// Saves the active workflow to its file, or asks where (`save_as`, or a never-saved workflow).
    pub fn save_active(&mut self, save_as: bool) {
        let Some(tab) = self.active_tab() else { return };
        let target = if save_as || tab.document.path().is_none() {
            let name = format!("{}.flow.json", tab.document.workflow().name.replace(['/', '\\'], "-"));
            match rfd::FileDialog::new().add_filter("Pipewright workflow", &["json"]).set_file_name(name).save_file() {
                Some(path) => Some(path),
                None => return,
            }
        } else {
            None
        };
        self.save_active_to(target.as_deref());
    }

    /// Saves the active workflow to `path` (or its own file), atomically; reports the outcome.
    pub fn save_active_to(&mut self, path: Option<&Path>) {
        let config_dir = self.paths.config_dir.clone();
        let Some(tab) = self.active_tab_mut() else { return };
        match tab.document.save(path) {
            Ok(()) => {
                settings::clear_recovery(&config_dir, tab.slot);
                let saved = tab.document.path().map(Path::to_path_buf);
                if let Some(saved) = saved {
                    self.settings.remember(&saved);
                    self.save_settings();
                    self.notify(format!("Saved {}", file_name(&saved)), false);
                }
            }
            Err(e) => self.notify(format!("Could not save: {e}"), true),
        }
    }

    fn close_tab(&mut self, index: usize, force: bool) {
        let Some(tab) = self.tabs.get(index) else { return };
        if tab.document.is_dirty() && !force {
            self.confirm_close = Some(ConfirmClose::Tab(index));
            return;
        }
        tab.runtime.stop();
        settings::clear_recovery(&self.paths.config_dir, tab.slot);
        self.tabs.remove(index);
        self.active = match self.active {
            Some(a) if a == index => (!self.tabs.is_empty()).then(|| index.min(self.tabs.len() - 1)),
            Some(a) if a > index => Some(a - 1),
            other => other,
        };
    }

    /// Applies a command to the active document; a refused one is reported in the status bar.
    pub fn apply(&mut self, command: Command) {
        let catalog = self.catalog.clone();
        let Some(tab) = self.active_tab_mut() else { return };
        if let Some(snapshot) = &tab.snapshot {
            let run = snapshot.run;
            // Redraw the canvas from the unchanged workflow (a drag moved the blocks on screen already).
            tab.graph = CanvasGraph::default();
            self.notify(
                format!("Run {run}'s workflow is read-only: use Restore in Runs (Ctrl+H) to make it the current one"),
                true,
            );
            return;
        }
        match tab.document.apply(command, &catalog) {
            Ok(()) => tab.changed_at = Some(Instant::now()),
            Err(e) => self.notify(e.to_string(), true),
        }
    }

    /// Runs the active workflow, all of it or up to `target`.
    pub fn run(&mut self, target: Option<String>, ctx: &egui::Context) {
        let catalog = self.catalog.clone();
        let device = self.settings.device();
        if device == pipewright_engine::Device::Gpu
            && let Err(e) = pipewright_compute::shared()
        {
            self.notify(format!("Cannot run on the GPU: {e}; choose the cpu or auto device"), true);
            return;
        }
        let Some(tab) = self.active_tab_mut() else { return };
        let settings = RunSettings {
            base_dir: tab.base_dir(),
            target,
            device,
            disk_cache_dir: tab.project(),
            // A recorded run's workflow opened read-only runs (and is recorded) as part of its project too.
            record: tab
                .workflow_file()
                .map(|file| RecordTarget { project: project_dir_of(file), workflow_file: file.to_path_buf() }),
        };
        let repaint = {
            let ctx = ctx.clone();
            move || ctx.request_repaint()
        };
        let workflow = tab.document.workflow().clone();
        if !tab.runtime.start(&workflow, &catalog, settings, repaint) {
            let reason = tab.runtime.last_refusal.clone().unwrap_or_else(|| "a run is going on".into());
            self.notify(format!("Cannot run: {reason}"), true);
        }
    }

    fn copy_selection(&mut self, ctx: &egui::Context) {
        let Some(tab) = self.active_tab() else { return };
        let workflow = tab.document.workflow();
        let mut fragment = Workflow::new(workflow.name.clone());
        fragment.nodes = workflow.nodes.iter().filter(|n| tab.selection.contains(&n.id)).cloned().collect();
        fragment.edges = workflow
            .edges
            .iter()
            .filter(|e| tab.selection.contains(&e.from.node) && tab.selection.contains(&e.to.node))
            .cloned()
            .collect();
        if fragment.nodes.is_empty() {
            return;
        }
        let count = fragment.nodes.len();
        ctx.copy_text(fragment.to_json());
        self.notify(format!("Copied {count} block(s)"), false);
    }

    /// Pastes workflow JSON (from this or another window), offset so the copies do not hide the originals.
    pub fn paste(&mut self, text: &str) {
        let Ok(fragment) = Workflow::from_json(text) else {
            return;
        };
        if fragment.nodes.is_empty() {
            return;
        }
        let nodes: Vec<Node> = fragment
            .nodes
            .into_iter()
            .map(|mut n| {
                n.position = [n.position[0] + 40.0, n.position[1] + 40.0];
                n
            })
            .collect();
        self.apply(Command::Paste { nodes, edges: fragment.edges });
    }

    fn duplicate(&mut self, ids: &[String]) {
        let Some(tab) = self.active_tab() else { return };
        let workflow = tab.document.workflow();
        let nodes: Vec<Node> = workflow
            .nodes
            .iter()
            .filter(|n| ids.contains(&n.id))
            .map(|n| Node { position: [n.position[0] + 40.0, n.position[1] + 40.0], ..n.clone() })
            .collect();
        let edges: Vec<Edge> =
            workflow.edges.iter().filter(|e| ids.contains(&e.from.node) && ids.contains(&e.to.node)).cloned().collect();
        if !nodes.is_empty() {
            self.apply(Command::Paste { nodes, edges });
        }
    }

    fn delete_selection(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        if let Some(comment) = tab.selected_comment.clone() {
            self.apply(Command::RemoveComment(comment));
            if let Some(tab) = self.active_tab_mut() {
                tab.selected_comment = None;
            }
            return;
        }
        let ids = tab.selection.clone();
        if !ids.is_empty() {
            self.apply(Command::RemoveNodes(ids));
        }
    }

    fn undo(&mut self) {
        if let Some(tab) = self.active_tab_mut()
            && tab.document.undo()
        {
            tab.changed_at = Some(Instant::now());
        }
    }

    fn redo(&mut self) {
        if let Some(tab) = self.active_tab_mut()
            && tab.document.redo()
        {
            tab.changed_at = Some(Instant::now());
        }
    }

    /// Keyboard shortcuts and clipboard events. Text fields keep their own keys.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        let shortcut = |modifiers: Modifiers, key: Key| {
            ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(modifiers, key)))
        };
        if shortcut(Modifiers::COMMAND, Key::S) {
            self.save_active(false);
        }
        if shortcut(Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
            self.save_active(true);
        }
        if shortcut(Modifiers::COMMAND, Key::O) {
            self.open_dialog();
        }
        if shortcut(Modifiers::COMMAND, Key::N) {
            self.new_workflow();
        }
        if shortcut(Modifiers::COMMAND, Key::W)
            && let Some(i) = self.active
        {
            self.close_tab(i, false);
        }
        if shortcut(Modifiers::NONE, Key::F5) {
            self.run(None, ctx);
        }
        if shortcut(Modifiers::COMMAND, Key::F) {
            self.palette.focus_search = true;
        }
        if shortcut(Modifiers::COMMAND, Key::H) {
            self.toggle_history();
        }
        let typing = ctx.egui_wants_keyboard_input();
        if typing || self.active.is_none() {
            return;
        }
        if shortcut(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z) || shortcut(Modifiers::COMMAND, Key::Y) {
            self.redo();
        }
        if shortcut(Modifiers::COMMAND, Key::Z) {
            self.undo();
        }
        if shortcut(Modifiers::COMMAND, Key::D) {
            let ids = self.active_tab().map(|t| t.selection.clone()).unwrap_or_default();
            self.duplicate(&ids);
        }
        if shortcut(Modifiers::NONE, Key::Delete) || shortcut(Modifiers::NONE, Key::Backspace) {
            self.delete_selection();
        }
        if shortcut(Modifiers::NONE, Key::Home)
            && let Some(tab) = self.active_tab_mut()
        {
            tab.fit_pending = Some(false);
        }
        if shortcut(Modifiers::NONE, Key::Space)
            && let Some(tab) = self.active_tab_mut()
            && let Some(screen) = ctx.pointer_latest_pos().filter(|p| tab.canvas_rect.contains(*p))
        {
            let at = tab.transform.inverse() * screen;
            tab.quick_add = Some(QuickAdd { at, screen, query: String::new() });
        }
        let events = ctx.input(|i| i.events.clone());
        for event in events {
            match event {
                egui::Event::Copy => self.copy_selection(ctx),
                egui::Event::Cut => {
                    self.copy_selection(ctx);
                    self.delete_selection();
                }
                egui::Event::Paste(text) => self.paste(&text),
                _ => {}
            }
        }
    }

    /// Opens or closes the project history window (runs, comparison, models).
    pub fn toggle_history(&mut self) {
        if self.history.open {
            self.history.open = false;
        } else {
            self.open_history(self.history.view);
        }
    }

    /// Opens the project history window on `view`, for the active tab's project.
    fn open_history(&mut self, view: HistoryView) {
        self.history.set_project(self.active_tab().and_then(Tab::project));
        self.history.show_view(view);
    }

    /// Carries out what the history window asked for.
    fn history_action(&mut self, action: HistoryAction) {
        match action {
            HistoryAction::Notify(text, is_error) => self.notify(text, is_error),
            HistoryAction::Open { run, workflow, file } => {
                let existing = self.tabs.iter().position(|t| t.snapshot.as_ref().is_some_and(|s| s.run == run));
                if let Some(i) = existing {
                    self.active = Some(i);
                    return;
                }
                self.add_tab(Document::new(*workflow));
                if let Some(tab) = self.active_tab_mut() {
                    tab.snapshot = Some(SnapshotOf { run, file });
                }
                self.notify(format!("Opened run {run}'s workflow as it ran, read-only"), false);
            }
            HistoryAction::Restore { run, workflow, file } => {
                if file.exists() {
                    self.open(&file);
                }
                let into_file = self.active_tab().is_some_and(|t| {
                    t.snapshot.is_none() && t.document.path().is_some_and(|p| canonical(p) == canonical(&file))
                });
                if into_file {
                    self.apply(Command::Replace(workflow));
                    self.notify(
                        format!("Restored run {run}'s workflow as the current one: save to keep it, Ctrl+Z undoes it"),
                        false,
                    );
                } else {
                    // Its file is gone or cannot be opened: the workflow opens as a new, unsaved document.
                    let why = if file.exists() { "could not be opened" } else { "no longer exists" };
                    self.add_tab(Document::new(*workflow));
                    self.notify(
                        format!("Restored run {run}'s workflow into a new document ({} {why})", file.display()),
                        false,
                    );
                }
            }
        }
    }

    fn apply_look(&mut self, ctx: &egui::Context) {
        let look = (self.settings.theme, self.settings.zoom);
        if self.applied_look != Some(look) {
            theme::apply(ctx, look.0);
            ctx.set_zoom_factor(look.1);
            self.applied_look = Some(look);
        }
    }

    fn update_window_title(&mut self, ctx: &egui::Context) {
        let title = match self.active_tab() {
            Some(tab) => format!("{} — Pipewright", tab.title()),
            None => "Pipewright".to_owned(),
        };
        if title != self.window_title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.window_title = title;
        }
    }

    fn autosave(&mut self) {
        let config_dir = self.paths.config_dir.clone();
        let mut failure = None;
        for tab in &mut self.tabs {
            let due = tab.changed_at.is_some_and(|t| t.elapsed() >= AUTOSAVE_AFTER);
            if !due || tab.autosaved_revision == tab.document.revision() {
                continue;
            }
            tab.autosaved_revision = tab.document.revision();
            tab.changed_at = None;
            if tab.document.is_dirty() {
                if let Err(e) =
                    settings::write_recovery(&config_dir, tab.slot, tab.document.path(), tab.document.workflow())
                {
                    failure = Some(format!("Autosave failed: {e}"));
                }
            } else {
                settings::clear_recovery(&config_dir, tab.slot);
            }
        }
        if let Some(message) = failure {
            self.notify(message, true);
        }
    }

    /// Draws one frame of the designer.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.apply_look(&ctx);
        let mut recorded = Vec::new();
        for tab in &mut self.tabs {
            let was_running = tab.runtime.is_running();
            tab.runtime.poll();
            if was_running && !tab.runtime.is_running() {
                recorded.push((tab.project(), tab.runtime.last_record.clone()));
            }
            let base = tab.base_dir();
            let device = self.settings.device();
            tab.runtime.refresh(tab.document.workflow(), tab.document.revision(), &self.catalog, &base, device);
        }
        for (project, record) in recorded {
            match record {
                Some(Ok(_)) if project.is_some() && project.as_deref() == self.history.project() => {
                    self.history.reload();
                }
                Some(Err(why)) => self.notify(format!("This run is not recorded: {why}"), true),
                _ => {}
            }
        }
        self.shortcuts(&ctx);
        self.close_request(&ctx);
        self.top_bar_ui(ui);
        self.status_bar_ui(ui);
        match self.active {
            None => {
                egui::CentralPanel::default().show(ui, |ui| {
                    let action = start::start_ui(ui, &self.examples, &self.settings.recent);
                    match action {
                        Some(StartAction::New) => self.new_workflow(),
                        Some(StartAction::OpenDialog) => self.open_dialog(),
                        Some(StartAction::Open(path)) => self.open(&path),
                        Some(StartAction::Wizard) => self.open_wizard(),
                        None => {}
                    }
                });
            }
            Some(_) => self.workspace_ui(ui),
        }
        if std::mem::take(&mut self.pending_run) {
            self.run(None, &ctx);
        }
        if self.history.open {
            // Follows the active tab; looked up only while the window shows (it walks the file system).
            self.history.set_project(self.active_tab().and_then(Tab::project));
        }
        let catalog = self.catalog.clone();
        for action in self.history.window_ui(&ctx, &catalog) {
            self.history_action(action);
        }
        if let Some(WizardAction::Generated(workflow)) = self.wizard.window_ui(&ctx, &catalog) {
            self.add_generated(*workflow);
        }
        self.deploy.windows_ui(&ctx);
        self.cluster.window_ui(&ctx, &catalog);
        self.recovery_ui(&ctx);
        self.confirm_close_ui(&ctx);
        if let Some(startup) = self.startup.take() {
            eprintln!("first frame after {:.0} ms", startup.launched.elapsed().as_secs_f64() * 1000.0);
            if startup.exit_after {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
        self.autosave();
        self.update_window_title(&ctx);
        if self.tabs.iter().any(|t| t.runtime.is_running()) {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if self.tabs.iter().any(|t| t.changed_at.is_some()) {
            ctx.request_repaint_after(AUTOSAVE_AFTER);
        }
    }

    fn close_request(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && self.tabs.iter().any(|t| t.document.is_dirty()) {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = Some(ConfirmClose::Window);
        }
    }

    fn top_bar_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        egui::Panel::top("top-bar").show(ui, |ui| {
            ui.add_space(2.0);
            egui::MenuBar::new().ui(ui, |ui| {
                self.menus_ui(ui, &ctx);
                ui.separator();
                self.run_controls_ui(ui, &ctx);
            });
            ui.add_space(2.0);
            self.tab_strip_ui(ui);
        });
    }

    fn menus_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let has_tab = self.active.is_some();
        ui.menu_button("File", |ui| {
            if ui.button("New workflow").clicked() {
                self.new_workflow();
            }
            if ui.button("New from the cheat-sheet wizard…").clicked() {
                self.open_wizard();
            }
            if ui.button("Open…").clicked() {
                self.open_dialog();
            }
            if ui.button("Deploy a model package locally…").clicked() {
                self.deploy.open = true;
                ui.close();
            }
            if ui
                .add_enabled(has_tab, egui::Button::new("Export job…"))
                .on_hover_text("Run this workflow on a Slurm, Ray or Kubernetes cluster")
                .clicked()
            {
                self.open_export_job();
                ui.close();
            }
            ui.menu_button("Open recent", |ui| {
                for path in self.settings.recent.clone() {
                    if ui.button(path.display().to_string()).clicked() {
                        self.open(&path);
                    }
                }
            });
            ui.separator();
            if ui.add_enabled(has_tab, egui::Button::new("Save").shortcut_text("Ctrl+S")).clicked() {
                self.save_active(false);
            }
            if ui.add_enabled(has_tab, egui::Button::new("Save as…").shortcut_text("Ctrl+Shift+S")).clicked() {
                self.save_active(true);
            }
            if ui.add_enabled(has_tab, egui::Button::new("Close").shortcut_text("Ctrl+W")).clicked()
                && let Some(i) = self.active
            {
                self.close_tab(i, false);
            }
            ui.separator();
            if ui.button("Start page").clicked() {
                self.active = None;
            }
        });
        ui.menu_button("Edit", |ui| {
            let (can_undo, can_redo, selected) = self.active_tab().map_or((false, false, false), |t| {
                (t.document.can_undo(), t.document.can_redo(), !t.selection.is_empty())
            });
            if ui.add_enabled(can_undo, egui::Button::new("Undo").shortcut_text("Ctrl+Z")).clicked() {
                self.undo();
            }
            if ui.add_enabled(can_redo, egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z")).clicked() {
                self.redo();
            }
            ui.separator();
            if ui.add_enabled(selected, egui::Button::new("Copy").shortcut_text("Ctrl+C")).clicked() {
                self.copy_selection(ctx);
            }
            if ui.add_enabled(selected, egui::Button::new("Duplicate").shortcut_text("Ctrl+D")).clicked() {
                let ids = self.active_tab().map(|t| t.selection.clone()).unwrap_or_default();
                self.duplicate(&ids);
            }
            if ui.add_enabled(selected, egui::Button::new("Delete").shortcut_text("Del")).clicked() {
                self.delete_selection();
            }
            ui.separator();
            if ui.add_enabled(has_tab, egui::Button::new("Add comment frame")).clicked() {
                self.add_comment();
            }
        });
        ui.menu_button("View", |ui| {
            if ui.add(egui::Button::new("Runs and models…").shortcut_text("Ctrl+H")).clicked() {
                self.toggle_history();
            }
            if ui.add_enabled(has_tab, egui::Button::new("Fit to view").shortcut_text("Home")).clicked()
                && let Some(tab) = self.active_tab_mut()
            {
                tab.fit_pending = Some(false);
            }
            let dark = self.settings.theme.is_dark();
            if ui.button(if dark { "☀ Light theme" } else { "🌙 Dark theme" }).clicked() {
                self.settings.theme = self.settings.theme.toggled();
                self.save_settings();
            }
            ui.horizontal(|ui| {
                ui.label("Scale");
                for zoom in [1.0_f32, 1.25, 1.5] {
                    if ui
                        .selectable_label((self.settings.zoom - zoom).abs() < 0.01, format!("{:.0}%", zoom * 100.0))
                        .clicked()
                    {
                        self.settings.zoom = zoom;
                        self.save_settings();
                    }
                }
            });
        });
    }

    fn add_comment(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        let center = tab.transform.inverse() * tab.canvas_rect.center();
        let comment = comments::new_comment(tab.document.workflow(), &tab.selection, center);
        self.apply(Command::PutComment(comment));
    }

    fn run_controls_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let has_tab = self.active.is_some();
        let running = self.active_tab().is_some_and(|t| t.runtime.is_running());
        let selected = self.active_tab().and_then(|t| t.selection.first().cloned());
        let dark = ui.visuals().dark_mode;
        let run = egui::Button::new(RichText::new("▶ Run").strong().color(theme::text_on(theme::success(dark))))
            .fill(theme::success(dark));
        if ui.add_enabled(has_tab && !running, run).on_hover_text("Run the whole workflow (F5)").clicked() {
            self.run(None, ctx);
        }
        if ui
            .add_enabled(has_tab && !running && selected.is_some(), egui::Button::new("⏭ Run to selected"))
            .on_hover_text("Run the selected block and what it needs")
            .clicked()
        {
            self.run(selected, ctx);
        }
        if ui.add_enabled(running, egui::Button::new("⏹ Stop")).clicked()
            && let Some(tab) = self.active_tab()
        {
            tab.runtime.stop();
        }
        ui.separator();
        ui.label("Device");
        let before = self.settings.device.clone();
        egui::ComboBox::from_id_salt("device").selected_text(&self.settings.device).width(70.0).show_ui(ui, |ui| {
            for device in ["auto", "cpu", "gpu"] {
                ui.selectable_value(&mut self.settings.device, device.to_owned(), device);
            }
        });
        if before != self.settings.device {
            self.save_settings();
        }
        let (text, hover) = device_in_use(&self.settings.device, ui.ctx());
        ui.label(RichText::new(text).color(theme::weak_text(dark))).on_hover_text(hover);
    }

    fn tab_strip_ui(&mut self, ui: &mut Ui) {
        let mut close = None;
        ui.horizontal(|ui| {
            if ui.selectable_label(self.active.is_none(), "🏠 Start").clicked() {
                self.active = None;
            }
            for (i, tab) in self.tabs.iter().enumerate() {
                let label = ui.selectable_label(self.active == Some(i), tab.title());
                let label = match tab.document.path() {
                    Some(path) => label.on_hover_text(path.display().to_string()),
                    None => label.on_hover_text("not saved yet"),
                };
                if label.clicked() {
                    self.active = Some(i);
                }
                if label.middle_clicked() {
                    close = Some(i);
                }
                if ui.small_button("×").on_hover_text("Close").clicked() {
                    close = Some(i);
                }
            }
        });
        if let Some(i) = close {
            self.close_tab(i, false);
        }
    }

    fn status_bar_ui(&mut self, ui: &mut Ui) {
        let mut open_history = false;
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                let dark = ui.visuals().dark_mode;
                if let Some(tab) = self.active_tab() {
                    if let Some(run) = tab.runtime.active_run() {
                        ui.spinner();
                        ui.label(format!("Running… {}", format_duration(run.elapsed())));
                    } else if let Some(last) = &tab.runtime.last_run {
                        let (text, color) = if last.cancelled {
                            ("Stopped".to_owned(), theme::warning(dark))
                        } else if last.success {
                            (
                                format!(
                                    "Finished in {} · {} ran, {} from cache",
                                    format_duration(last.duration),
                                    last.ran,
                                    last.cached
                                ),
                                theme::success(dark),
                            )
                        } else {
                            ("Run failed — see the red blocks".to_owned(), theme::error(dark))
                        };
                        ui.colored_label(color, text);
                        match &tab.runtime.last_record {
                            Some(Ok(run))
                                if ui
                                    .link(format!("recorded as run {run}"))
                                    .on_hover_text("Runs and models (Ctrl+H)")
                                    .clicked() =>
                            {
                                open_history = true;
                            }
                            Some(Err(why)) => {
                                ui.colored_label(theme::warning(dark), "not recorded").on_hover_text(why);
                            }
                            _ => {}
                        }
                    }
                    let problems = tab.runtime.problems().len();
                    if problems > 0 {
                        ui.separator();
                        ui.colored_label(theme::warning(dark), format!("⚠ {problems} problem(s)"));
                    }
                }
                if let Some(notice) = &self.notice {
                    ui.separator();
                    let color = if notice.is_error { theme::error(dark) } else { theme::weak_text(dark) };
                    ui.colored_label(color, &notice.text);
                }
            });
        });
        if open_history {
            self.open_history(HistoryView::Runs);
        }
    }

    fn workspace_ui(&mut self, ui: &mut Ui) {
        let Some(index) = self.active else { return };
        let catalog = self.catalog.clone();
        egui::Panel::left("palette").resizable(true).default_size(theme::SIDE_PANEL_WIDTH - 40.0).show(ui, |ui| {
            if let Some(kind) = self.palette.palette_ui(ui, &catalog)
                && let Some(tab) = self.tabs.get(index)
            {
                let at = tab.transform.inverse() * tab.canvas_rect.center();
                self.add_block(&kind, at);
            }
        });
        let mut commands = Vec::new();
        let mut register = None;
        let mut restore = None;
        {
            let Some(tab) = self.tabs.get_mut(index) else { return };
            let base_dir = tab.base_dir();
            egui::Panel::right("inspector").resizable(true).default_size(theme::SIDE_PANEL_WIDTH + 40.0).show(
                ui,
                |ui| {
                    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                        if tab.snapshot.is_some() {
                            ui.disable();
                        }
                        let workflow = tab.document.workflow();
                        let ctx = inspector::Inspected {
                            catalog: &catalog,
                            workflow,
                            runtime: &tab.runtime,
                            base_dir: &base_dir,
                        };
                        if let Some(comment) =
                            tab.selected_comment.as_ref().and_then(|c| workflow.comments.iter().find(|x| &x.id == c))
                        {
                            inspector::comment_ui(ui, comment, &mut commands);
                        } else if let Some(node) = tab.selection.first().and_then(|id| workflow.node(id)) {
                            inspector::node_ui(ui, &ctx, node, &mut commands);
                        } else {
                            inspector::workflow_ui(ui, workflow, &tab.runtime, &mut commands);
                        }
                    });
                },
            );
            egui::Panel::bottom("output")
                .resizable(true)
                .default_size(theme::OUTPUT_PANEL_HEIGHT)
                .min_size(120.0)
                .show(ui, |ui| {
                    register = output_panel_ui(ui, tab, &catalog);
                });
            if let Some(snapshot) = &tab.snapshot {
                let run = snapshot.run;
                egui::Panel::top("snapshot-banner").show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(format!("Run {run}'s workflow as it ran — read-only")).strong());
                        if ui.button("Restore as the current workflow").clicked() {
                            restore = Some(run);
                        }
                    });
                });
            }
        }
        if let Some((run, node)) = register {
            let name = self.active_tab().map(|t| t.document.workflow().name.clone()).unwrap_or_default();
            self.history.set_project(self.active_tab().and_then(Tab::project));
            self.history.begin_register(run, &node, &name);
        }
        if let Some(run) = restore {
            self.history.set_project(self.active_tab().and_then(Tab::project));
            self.history.reload();
            let action = self.history.restore_action(run);
            self.history_action(action);
        }
        for command in commands {
            self.apply(command);
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.canvas_ui(ui, index));
    }

    fn add_block(&mut self, kind: &str, at: Pos2) {
        let Some(spec) = self.catalog.get(kind).map(|e| e.spec.clone()) else { return };
        let Some(tab) = self.active_tab() else { return };
        let node = crate::new_node(tab.document.workflow(), &spec, [at.x, at.y]);
        self.apply(Command::AddNode(node));
    }

    fn canvas_ui(&mut self, ui: &mut Ui, index: usize) {
        let catalog = self.catalog.clone();
        let dark = self.settings.theme.is_dark();
        let Some(tab) = self.tabs.get_mut(index) else { return };
        tab.graph.sync(tab.document.workflow(), tab.document.revision(), &catalog);
        let canvas_rect = ui.available_rect_before_wrap();
        tab.canvas_rect = canvas_rect;
        let mut set_transform =
            tab.fit_pending.take().map(|readable| fit_transform(tab.document.workflow(), canvas_rect, readable));
        if let Some(node) = tab.focus_pending.take().and_then(|id| tab.document.workflow().node(&id)) {
            let scale = set_transform.unwrap_or(tab.transform).scaling.max(0.8);
            let center = egui::pos2(node.position[0] + theme::NODE_WIDTH / 2.0, node.position[1] + 50.0);
            set_transform = Some(TSTransform::new(canvas_rect.center().to_vec2() - center.to_vec2() * scale, scale));
        }
        let mut viewer = Viewer {
            catalog: &catalog,
            workflow: tab.document.workflow(),
            runtime: &tab.runtime,
            commands: Vec::new(),
            actions: Vec::new(),
            refusal: None,
            set_transform,
            transform: tab.transform,
            dark,
            selection: &tab.selection,
            specs: crate::canvas::spec_index(tab.document.workflow(), &catalog),
        };
        let widget = egui_snarl::ui::SnarlWidget::new().id(snarl_id(tab.slot)).style(snarl_style(dark));
        let response = widget.show(tab.graph.snarl_mut(), &mut viewer, ui);
        let Viewer { mut commands, actions, refusal, transform, .. } = viewer;
        tab.transform = transform;
        let selection = pick_selection(ui, tab, canvas_rect);
        if !selection.is_empty() {
            tab.selected_comment = None;
        }
        if selection != tab.selection {
            tab.output_port = 0;
        }
        tab.selection = selection;
        if let Some(message) = refusal
            && let Some(at) = ui.ctx().pointer_latest_pos()
        {
            tab.refusal = Some(Refusal { message, at, since: ui.input(|i| i.time) });
        }
        if let Some(moved) = tab.graph.moved_nodes(tab.document.workflow()) {
            commands.insert(0, moved);
        }
        let (comment_commands, clicked_comment) =
            comments::interact_ui(ui, tab.document.workflow(), tab.transform, canvas_rect);
        commands.extend(comment_commands);
        if let Some(comment) = clicked_comment {
            tab.selected_comment = Some(comment);
        }
        let mut dropped = None;
        if let Some(payload) = response.dnd_release_payload::<PaletteDrag>()
            && let Some(screen) = ui.ctx().pointer_interact_pos()
        {
            dropped = Some((payload.0.clone(), tab.transform.inverse() * screen));
        }
        if response.dnd_hover_payload::<PaletteDrag>().is_some() {
            ui.painter().rect_stroke(
                canvas_rect.shrink(2.0),
                4.0,
                egui::Stroke::new(2.0, theme::accent(dark)),
                egui::StrokeKind::Inside,
            );
        }
        hint_ui(ui, tab, canvas_rect, dark);
        refusal_ui(ui, tab);
        let quick = quick_add_ui(ui, tab, &catalog);
        if ui.input(|i| i.pointer.any_released()) {
            tab.document.end_gesture();
        }
        for command in commands {
            self.apply(command);
        }
        if let Some((kind, at)) = dropped.or(quick) {
            self.add_block(&kind, at);
        }
        for action in actions {
            match action {
                CanvasAction::RunTo(node) => self.run(Some(node), &ui.ctx().clone()),
                CanvasAction::Duplicate(ids) => self.duplicate(&ids),
                CanvasAction::Copy(ids) => {
                    if let Some(tab) = self.active_tab_mut() {
                        tab.selection = ids;
                    }
                    self.copy_selection(&ui.ctx().clone());
                }
                CanvasAction::PackageModel(node) => self.package_model(&node),
                CanvasAction::DeployPackage(node) => self.deploy_package(&node),
                CanvasAction::QuickAdd(at) => {
                    if let Some(tab) = self.active_tab_mut() {
                        let screen = tab.transform * at;
                        tab.quick_add = Some(QuickAdd { at, screen, query: String::new() });
                    }
                }
            }
        }
    }

    fn recovery_ui(&mut self, ctx: &egui::Context) {
        if self.recoveries.is_empty() {
            return;
        }
        let mut restore = None;
        let mut discard = None;
        let mut discard_all = false;
        egui::Modal::new(Id::new("recovery")).show(ctx, |ui| {
            ui.set_width(460.0);
            ui.heading("Restore unsaved work?");
            ui.label("Pipewright closed without saving these workflows. Their last autosaved state can be restored.");
            ui.add_space(theme::SPACE_M);
            for (i, (_, recovery)) in self.recoveries.iter().enumerate() {
                ui.horizontal(|ui| {
                    let place =
                        recovery.path.as_ref().map_or_else(|| "never saved".to_owned(), |p| p.display().to_string());
                    ui.label(RichText::new(&recovery.workflow.name).strong());
                    ui.label(RichText::new(place).color(theme::weak_text(ui.visuals().dark_mode)));
                    if ui.button("Restore").clicked() {
                        restore = Some(i);
                    }
                    if ui.button("Discard").clicked() {
                        discard = Some(i);
                    }
                });
            }
            ui.add_space(theme::SPACE_M);
            if ui.button("Discard all").clicked() {
                discard_all = true;
            }
        });
        if let Some(i) = restore {
            let (file, recovery) = self.recoveries.remove(i);
            let saved =
                recovery.path.as_deref().and_then(|p| Workflow::load(p).ok()).unwrap_or_else(|| Workflow::new(""));
            self.add_tab(Document::recovered(recovery.path, saved, recovery.workflow));
            if let Some(tab) = self.tabs.last_mut() {
                tab.changed_at = Some(Instant::now());
                tab.autosaved_revision = u64::MAX;
            }
            let _ = std::fs::remove_file(file);
        }
        if let Some(i) = discard {
            let (file, _) = self.recoveries.remove(i);
            let _ = std::fs::remove_file(file);
        }
        if discard_all {
            for (file, _) in self.recoveries.drain(..) {
                let _ = std::fs::remove_file(file);
            }
        }
    }

    fn confirm_close_ui(&mut self, ctx: &egui::Context) {
        let Some(what) = self.confirm_close else { return };
        let mut choice = None;
        egui::Modal::new(Id::new("confirm-close")).show(ctx, |ui| {
            ui.set_width(380.0);
            ui.heading("Save changes?");
            ui.label(match what {
                ConfirmClose::Tab(_) => "This workflow has unsaved changes.",
                ConfirmClose::Window => "Some workflows have unsaved changes.",
            });
            ui.horizontal(|ui| {
                if ui.button("Save").clicked() {
                    choice = Some(0);
                }
                if ui.button("Don't save").clicked() {
                    choice = Some(1);
                }
                if ui.button("Cancel").clicked() {
                    choice = Some(2);
                }
            });
        });
        let Some(choice) = choice else { return };
        self.confirm_close = None;
        match (what, choice) {
            (ConfirmClose::Tab(i), 0) => {
                self.active = Some(i);
                self.save_active(false);
                if self.tabs.get(i).is_some_and(|t| !t.document.is_dirty()) {
                    self.close_tab(i, true);
                }
            }
            (ConfirmClose::Tab(i), 1) => self.close_tab(i, true),
            (ConfirmClose::Window, 0) => {
                for i in 0..self.tabs.len() {
                    if self.tabs[i].document.is_dirty() {
                        self.active = Some(i);
                        self.save_active(false);
                    }
                }
                if self.tabs.iter().all(|t| !t.document.is_dirty()) {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            (ConfirmClose::Window, 1) => {
                for tab in &mut self.tabs {
                    settings::clear_recovery(&self.paths.config_dir, tab.slot);
                    tab.document = Document::new(tab.document.workflow().clone());
                }
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            _ => {}
        }
    }
}

/// The selection after this frame's clicks: a click on a block selects it, Shift+click adds or removes it,
/// a click on the empty canvas clears the selection, and Shift+drag selects the blocks in a box.
fn pick_selection(ui: &Ui, tab: &mut Tab, canvas: Rect) -> Vec<String> {
    let ctx = ui.ctx();
    let boxed: Vec<String> = {
        let now = tab.graph.workflow_ids(&egui_snarl::ui::get_selected_nodes(snarl_id(tab.slot), ctx));
        let added = now.iter().filter(|id| !tab.snarl_selection.contains(id)).cloned().collect();
        tab.snarl_selection = now;
        added
    };
    let mut selection: Vec<String> =
        tab.selection.iter().filter(|id| tab.document.workflow().node(id).is_some()).cloned().collect();
    let (clicked, pos, shift) =
        ctx.input(|i| (i.pointer.primary_clicked(), i.pointer.interact_pos(), i.modifiers.shift));
    let on_canvas = pos
        .filter(|p| canvas.contains(*p))
        .filter(|p| ctx.layer_id_at(*p).is_none_or(|layer| layer.order == egui::Order::Background));
    if clicked && let Some(pos) = on_canvas {
        let hit = tab
            .document
            .workflow()
            .nodes
            .iter()
            .rev()
            .find(|n| crate::canvas::node_rect(ctx, &n.id).is_some_and(|r| r.contains(pos)))
            .map(|n| n.id.clone());
        match (hit, shift) {
            (Some(id), true) => {
                if let Some(i) = selection.iter().position(|s| s == &id) {
                    selection.remove(i);
                } else {
                    selection.push(id);
                }
            }
            (Some(id), false) => selection = vec![id],
            (None, false) => selection.clear(),
            (None, true) => {}
        }
    } else {
        for id in boxed {
            if !selection.contains(&id) {
                selection.push(id);
            }
        }
    }
    selection
}

/// The file name of a path, for messages (the full path is in the recent list and the tab's tooltip).
/// The path with links and `..` resolved, to tell whether two paths name one file (itself if it cannot be).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn hint_ui(ui: &Ui, tab: &Tab, canvas: Rect, dark: bool) {
    if !tab.document.workflow().nodes.is_empty() {
        return;
    }
    ui.painter().text(
        canvas.center(),
        egui::Align2::CENTER_CENTER,
        "Drag blocks here from the palette, or right-click to add one",
        theme::heading_font(),
        theme::weak_text(dark),
    );
}

fn refusal_ui(ui: &Ui, tab: &mut Tab) {
    let Some(refusal) = &tab.refusal else { return };
    let now = ui.input(|i| i.time);
    if now - refusal.since > 4.0 {
        tab.refusal = None;
        return;
    }
    ui.ctx().request_repaint_after(Duration::from_millis(250));
    egui::Area::new(Id::new("wire-refused"))
        .order(egui::Order::Tooltip)
        .fixed_pos(refusal.at + egui::vec2(12.0, 12.0))
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.set_max_width(320.0);
                ui.colored_label(theme::error(ui.visuals().dark_mode), RichText::new("Cannot connect").strong());
                ui.label(&refusal.message);
            });
        });
}

/// The quick-add search at the cursor; returns the kind chosen and where to put it.
fn quick_add_ui(ui: &Ui, tab: &mut Tab, catalog: &Catalog) -> Option<(String, Pos2)> {
    let quick = tab.quick_add.as_mut()?;
    let mut chosen = None;
    let mut close = false;
    egui::Area::new(Id::new("quick-add")).order(egui::Order::Foreground).fixed_pos(quick.screen).show(ui.ctx(), |ui| {
        egui::Frame::popup(ui.style()).show(ui, |ui| {
            ui.set_width(260.0);
            let field = ui.add(egui::TextEdit::singleline(&mut quick.query).hint_text("Add block…"));
            field.request_focus();
            let found = crate::palette::search(catalog, &quick.query);
            for spec in found.iter().take(8) {
                if ui.selectable_label(false, spec.name).clicked() {
                    chosen = Some(spec.id.to_owned());
                }
            }
            if ui.input(|i| i.key_pressed(Key::Enter))
                && let Some(first) = found.first()
            {
                chosen = Some(first.id.to_owned());
            }
            if ui.input(|i| i.key_pressed(Key::Escape)) {
                close = true;
            }
        });
    });
    let at = quick.at;
    if chosen.is_some() || close {
        tab.quick_add = None;
    }
    chosen.map(|kind| (kind, at))
}

/// Draws the selected block's output; returns the (run, node) whose model the user asked to register.
fn output_panel_ui(ui: &mut Ui, tab: &mut Tab, catalog: &Catalog) -> Option<(i64, String)> {
    let dark = ui.visuals().dark_mode;
    // The panel keeps its height whatever it shows (a resizable panel otherwise shrinks to short content).
    ui.set_min_height(ui.available_height());
    let Some(node_id) = tab.selection.first().cloned() else {
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new("Select a block to see its output.").color(theme::weak_text(dark)));
        });
        return None;
    };
    let node = tab.document.workflow().node(&node_id)?;
    let spec = catalog.get(&node.kind).map(|e| e.spec.clone())?;
    let mut register = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(node.title.as_deref().unwrap_or(spec.name)).strong());
        for (i, port) in spec.outputs.iter().enumerate() {
            let text = format!("{} {}", theme::port_icon(port.ty), port.name);
            if ui.selectable_label(tab.output_port == i, text).clicked() {
                tab.output_port = i;
            }
        }
        if tab.runtime.is_outdated(&node_id) {
            ui.colored_label(theme::warning(dark), "⚠ from before the last edit — run again to refresh");
        }
        let has_model = tab.runtime.outputs(&node_id).is_some_and(|o| o.iter().any(|v| matches!(v, Value::Model(_))));
        if has_model {
            let run = tab.runtime.recorded_run_of(&node_id);
            let button = ui
                .add_enabled(run.is_some(), egui::Button::new("Register model…"))
                .on_hover_text("Add this trained model to the project's model registry")
                .on_disabled_hover_text(
                    "Save the workflow in a project and run it: recorded runs' models can be registered",
                );
            if button.clicked() {
                register = run.map(|run| (run, node_id.clone()));
            }
        }
    });
    ui.separator();
    let value: Option<Value> = tab.runtime.outputs(&node_id).and_then(|o| o.get(tab.output_port).cloned());
    if let Some(value) = value {
        tab.output.show_ui(ui, &value);
    } else {
        let text = match tab.runtime.phase(&node_id) {
            Phase::Failed(message) => format!("This block failed: {message}"),
            Phase::Running { .. } | Phase::Queued => "Running…".to_owned(),
            _ => "Not run yet. Press ▶ Run (F5) or right-click the block and choose Run to here.".to_owned(),
        };
        ui.label(RichText::new(text).color(theme::weak_text(dark)));
    }
    register
}

impl eframe::App for Designer {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.ui(ui);
    }

    fn on_exit(&mut self) {
        for tab in &self.tabs {
            tab.runtime.stop();
        }
    }
}

/// A new node of `spec`'s kind at `position` with a fresh id derived from the kind's name.
pub fn new_node(workflow: &Workflow, spec: &pipewright_engine::NodeSpec, position: [f32; 2]) -> Node {
    let taken: std::collections::HashSet<String> = workflow.nodes.iter().map(|n| n.id.clone()).collect();
    let base: String = spec
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let _ = json!(null);
    Node {
        id: crate::document::fresh_id(&base, &taken),
        kind: spec.id.to_owned(),
        title: None,
        params: std::collections::BTreeMap::new(),
        position,
    }
}

/// The top bar's "in use" text for a device setting, and its tooltip. The adapters are listed once, on a
/// thread of their own (it takes a Vulkan instance), so the first frame does not wait for them.
fn device_in_use(setting: &str, ctx: &egui::Context) -> (String, String) {
    // Filled once compute's own (blocking, cached) lookup has answered on the thread below.
    static ADAPTER: std::sync::OnceLock<Option<&'static pipewright_compute::AdapterInfo>> = std::sync::OnceLock::new();
    static LOOKUP: std::sync::Once = std::sync::Once::new();
    LOOKUP.call_once(|| {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let _ = ADAPTER.set(pipewright_compute::preferred_adapter());
            ctx.request_repaint();
        });
    });
    let threshold = pipewright_compute::AUTO_MIN_ELEMENTS;
    if setting == "cpu" {
        return ("in use: CPU".into(), "Every kernel runs on the CPU (multi-threaded).".into());
    }
    // Until the lookup answers: auto computes on the CPU unless a hardware GPU turns up.
    let Some(adapter) = ADAPTER.get() else {
        let text = if setting == "gpu" { "in use: GPU" } else { "in use: CPU" };
        return (text.into(), "Looking for GPU adapters…".into());
    };
    let adapter = *adapter;
    let hardware = adapter.filter(|a| !a.software);
    match (setting, adapter) {
        ("gpu", Some(a)) => (
            format!("in use: {}", a.name),
            format!(
                "Kernels run on {}{}.",
                a.label(),
                if a.software { ", a software adapter (CPU speed)" } else { "" }
            ),
        ),
        ("gpu", None) => ("no GPU".into(), "No GPU adapter was found: runs on the gpu device are refused.".into()),
        (_, _) => match hardware {
            Some(a) => (
                format!("in use: {} / CPU", a.name),
                format!(
                    "auto: kernels with at least {threshold} cells (rows × columns) run on {}, smaller ones on the CPU.",
                    a.label()
                ),
            ),
            None => ("in use: CPU".into(), "auto: no hardware GPU was found, so every kernel runs on the CPU.".into()),
        },
    }
}
