//! The one place application commands run: every menu, shortcut, palette row and window pushes an
//! [`AppCommand`] into the queue, and [`Designer::run_commands`] carries them out once a frame.

use std::path::{Path, PathBuf};

use pipewright_engine::{Workflow, project_dir_of};

use super::command::{AppCommand, BlockFacts, CommandState};
use super::tab::{SnapshotOf, Tab};
use super::{Designer, canonical};
use crate::command::Command;
use crate::document::Document;
use crate::history::HistoryView;
use crate::runtime::{RecordTarget, RunSettings};

impl Designer {
    /// Queues a command; it runs at the end of this frame (or the next, when called between frames).
    pub fn push(&mut self, command: AppCommand) {
        self.queue.push(command);
    }

    /// What the commands' enablement is decided from, as the designer is now.
    pub fn command_state(&self) -> CommandState {
        let tabs = self.tabs.len();
        let Some(tab) = self.active_tab() else { return CommandState { tabs, ..CommandState::default() } };
        let workflow = tab.document.workflow();
        CommandState {
            tabs,
            has_tab: true,
            read_only: tab.snapshot.is_some(),
            has_blocks: !workflow.nodes.is_empty(),
            running: tab.runtime.is_running(),
            can_undo: tab.document.can_undo(),
            can_redo: tab.document.can_redo(),
            selected_blocks: tab.selection.len(),
            selected_comment: tab.selected_comment.is_some(),
            selected: tab.selection.first().map(|id| BlockFacts::of(&self.catalog, workflow, &tab.runtime, id)),
        }
    }

    /// Runs the queued commands, and those they queue in turn.
    pub(super) fn run_commands(&mut self, ctx: &egui::Context) {
        while !self.queue.is_empty() {
            for command in std::mem::take(&mut self.queue) {
                self.run_command(command, ctx);
            }
        }
    }

    fn run_command(&mut self, command: AppCommand, ctx: &egui::Context) {
        match command {
            AppCommand::NewWorkflow => self.new_workflow(),
            AppCommand::NewFromWizard => self.open_wizard(),
            AppCommand::OpenFile => self.open_dialog(),
            AppCommand::Open(path) => self.open(&path),
            AppCommand::Save => self.save_active(false),
            AppCommand::SaveAs => self.save_active(true),
            AppCommand::CloseTab => {
                if let Some(i) = self.active {
                    self.close_tab(i, false);
                }
            }
            AppCommand::CloseTabAt(i) => self.close_tab(i, false),
            AppCommand::ShowStartPage => self.active = None,
            AppCommand::ShowTab(i) => {
                if i < self.tabs.len() {
                    self.active = Some(i);
                }
            }
            AppCommand::NextTab | AppCommand::PreviousTab => {
                let n = self.tabs.len();
                if n > 0 {
                    let step = if command == AppCommand::NextTab { 1 } else { n - 1 };
                    self.active = Some(self.active.map_or(0, |i| (i + step) % n));
                }
            }
            AppCommand::ExportJob => self.open_export_job(),
            AppCommand::DeployModelPackage => self.deploy.open = true,
            AppCommand::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            AppCommand::Undo => self.undo(),
            AppCommand::Redo => self.redo(),
            AppCommand::Cut => {
                self.copy_selection(ctx);
                self.delete_selection();
            }
            AppCommand::Copy => self.copy_selection(ctx),
            // The window answers with a paste event carrying the clipboard's text (PasteText).
            AppCommand::Paste => ctx.send_viewport_cmd(egui::ViewportCommand::RequestPaste),
            AppCommand::PasteText(text) => self.paste(&text),
            AppCommand::Duplicate => self.duplicate_selection(),
            AppCommand::Delete => self.delete_selection(),
            AppCommand::SelectAll => self.select_all(),
            AppCommand::AddComment => self.add_comment(),
            AppCommand::FindBlock => self.palette.focus_search = true,
            AppCommand::QuickAdd => self.quick_add_at_pointer(ctx),
            AppCommand::QuickAddAt(at) => {
                if let Some(tab) = self.active_tab_mut() {
                    tab.open_quick_add(at);
                }
            }
            AppCommand::CommandPalette => self.command_palette.toggle(),
            AppCommand::ToggleHistory => self.toggle_history(),
            AppCommand::ShowHistory(view) => self.open_history(view),
            AppCommand::FitToView => {
                if let Some(tab) = self.active_tab_mut() {
                    tab.fit_pending = Some(false);
                }
            }
            AppCommand::ToggleTheme => self.set_theme(self.settings.theme.toggled()),
            AppCommand::Scale100 => self.set_scale(1.0),
            AppCommand::Scale125 => self.set_scale(1.25),
            AppCommand::Scale150 => self.set_scale(1.5),
            AppCommand::Run => self.run(None, ctx),
            AppCommand::RunToSelected => {
                let target = self.active_tab().and_then(|t| t.selection.first().cloned());
                if target.is_some() {
                    self.run(target, ctx);
                }
            }
            AppCommand::Stop => {
                if let Some(tab) = self.active_tab() {
                    tab.runtime.stop();
                }
            }
            AppCommand::SetMemoryBudget(mib) => {
                if self.settings.memory_budget_mib != mib {
                    self.settings.memory_budget_mib = mib;
                    self.save_settings();
                }
            }
            AppCommand::DeviceAuto => self.set_device("auto"),
            AppCommand::DeviceCpu => self.set_device("cpu"),
            AppCommand::DeviceGpu => self.set_device("gpu"),
            AppCommand::PackageModel => {
                if let Some(node) = self.first_selected() {
                    self.package_model(&node);
                }
            }
            AppCommand::DeploySelectedPackage => {
                if let Some(node) = self.first_selected() {
                    self.deploy_package(&node);
                }
            }
            AppCommand::RegisterModel => self.register_selected_model(),
            AppCommand::RestoreSnapshot => self.restore_snapshot(),
            AppCommand::OpenRun { run, workflow, file } => self.open_run(run, *workflow, file),
            AppCommand::RestoreRun { run, workflow, file } => self.restore_run(run, workflow, &file),
            AppCommand::OpenGenerated(workflow) => self.add_generated(*workflow),
            AppCommand::Notify { text, is_error } => self.notify(text, is_error),
        }
    }

    fn first_selected(&self) -> Option<String> {
        self.active_tab().and_then(|t| t.selection.first().cloned())
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
        let memory_budget = self.settings.memory_budget_mib.map(|mib| mib * 1024 * 1024);
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
            memory_budget,
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

    fn set_device(&mut self, device: &str) {
        if self.settings.device != device {
            device.clone_into(&mut self.settings.device);
            self.save_settings();
        }
    }

    fn set_scale(&mut self, zoom: f32) {
        self.settings.zoom = zoom;
        self.save_settings();
    }

    /// Opens the block search at the pointer when it is over the canvas, else in the middle of the view.
    fn quick_add_at_pointer(&mut self, ctx: &egui::Context) {
        let pointer = ctx.pointer_latest_pos();
        let Some(tab) = self.active_tab_mut() else { return };
        let screen = pointer.filter(|p| tab.canvas_rect.contains(*p)).unwrap_or_else(|| tab.canvas_rect.center());
        let at = tab.transform.inverse() * screen;
        tab.open_quick_add(at);
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

    /// Opens the registration form for the model the selected block trained in its recorded run.
    fn register_selected_model(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        let Some(node) = tab.selection.first() else { return };
        let Some(run) = tab.runtime.recorded_run_of(node) else { return };
        let (node, name) = (node.clone(), tab.document.workflow().name.clone());
        self.history.set_project(tab.project());
        self.history.begin_register(run, &node, &name);
    }

    /// Makes the active read-only run workflow the current workflow of its file.
    fn restore_snapshot(&mut self) {
        let Some(run) = self.active_tab().and_then(|t| t.snapshot.as_ref()).map(|s| s.run) else { return };
        self.history.set_project(self.active_tab().and_then(Tab::project));
        self.history.reload();
        let command = self.history.restore_command(run);
        self.push(command);
    }

    /// Opens a run's workflow, as it ran, read-only in a new tab (or shows the tab that has it).
    fn open_run(&mut self, run: i64, workflow: Workflow, file: PathBuf) {
        let existing = self.tabs.iter().position(|t| t.snapshot.as_ref().is_some_and(|s| s.run == run));
        if let Some(i) = existing {
            self.active = Some(i);
            return;
        }
        self.add_tab(Document::new(workflow));
        if let Some(tab) = self.active_tab_mut() {
            tab.snapshot = Some(SnapshotOf { run, file });
        }
        self.notify(format!("Opened run {run}'s workflow as it ran, read-only"), false);
    }

    /// Makes a run's workflow the current workflow of its file, or a new document when the file is gone.
    fn restore_run(&mut self, run: i64, workflow: Box<Workflow>, file: &Path) {
        if file.exists() {
            self.open(file);
        }
        let into_file = self.active_tab().is_some_and(|t| {
            t.snapshot.is_none() && t.document.path().is_some_and(|p| canonical(p) == canonical(file))
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
            self.notify(format!("Restored run {run}'s workflow into a new document ({} {why})", file.display()), false);
        }
    }
}
