//! The designer window: tabs of open workflows, the start page, menus, shortcuts and the command palette,
//! and per tab the palette, canvas, inspector and output panel.
//!
//! What the user asks for is an [`AppCommand`], pushed into one queue by menus, shortcuts, the command
//! palette, the start page, the canvas's context menus and the history and wizard windows, and run in one
//! place (`command_handling.rs`) at the end of the frame.

mod command;
mod command_handling;
mod command_palette;
mod dialogs;
mod edit;
mod files;
mod menus;
mod output_panel;
mod shortcuts;
mod tab;
mod workspace;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Ui;

use pipewright_engine::Catalog;

pub use command::{AppCommand, BlockFacts, CommandState};
pub use command_palette::CommandPalette;
pub use tab::{SnapshotOf, Tab, new_node};

use crate::cluster::ClusterJob;
use crate::deploy::Deploy;
use crate::history::History;
use crate::palette::Palette;
use crate::settings::{self, Recovery, Settings};
use crate::start::{self, Example};
use crate::theme;
use crate::wizard::Wizard;

/// Autosave writes a recovery file this long after the last edit.
const AUTOSAVE_AFTER: Duration = Duration::from_secs(3);

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
    startup: Option<Startup>,
    /// Commands asked for this frame, run at its end.
    queue: Vec<AppCommand>,
    /// The command palette (Ctrl+Shift+P).
    pub command_palette: CommandPalette,
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

/// What the "Save changes?" question is about.
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
            startup: None,
            queue: Vec::new(),
            command_palette: CommandPalette::default(),
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
        self.push(AppCommand::Run);
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

    /// Which tab is active; `None` while the start page shows.
    pub fn active_index(&self) -> Option<usize> {
        self.active
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

    /// Draws one frame of the designer.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.apply_look(&ctx);
        self.poll_runs();
        self.shortcuts(&ctx);
        self.close_request(&ctx);
        let state = self.command_state();
        self.top_bar_ui(ui, &state);
        self.status_bar_ui(ui);
        match self.active {
            None => {
                egui::CentralPanel::default().show(ui, |ui| {
                    start::start_ui(ui, &self.examples, &self.settings.recent, &mut self.queue);
                });
            }
            Some(_) => self.workspace_ui(ui, &state),
        }
        if self.history.open {
            // Follows the active tab; looked up only while the window shows (it walks the file system).
            self.history.set_project(self.active_tab().and_then(Tab::project));
        }
        let catalog = self.catalog.clone();
        self.history.window_ui(&ctx, &catalog, &mut self.queue);
        self.wizard.window_ui(&ctx, &catalog, &mut self.queue);
        self.deploy.windows_ui(&ctx);
        self.cluster.window_ui(&ctx, &catalog);
        if self.command_palette.is_open() {
            let entries = self.palette_entries();
            self.command_palette.palette_ui(&ctx, &state, &entries, &mut self.queue);
        }
        self.recovery_ui(&ctx);
        self.confirm_close_ui(&ctx);
        self.run_commands(&ctx);
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
        if !self.queue.is_empty() {
            ctx.request_repaint();
        }
    }

    /// Takes in the runs' events and refreshes each tab's block states; reloads the history window after a
    /// run of its project was recorded.
    fn poll_runs(&mut self) {
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

/// The path with links and `..` resolved, to tell whether two paths name one file (itself if it cannot be).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The file name of a path, for messages (the full path is in the recent list and the tab's tooltip).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
