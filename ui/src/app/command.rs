//! Application actions as one enum. Menus, keyboard shortcuts, the command palette, the start page, the
//! canvas context menu, the output panel and the history and wizard windows all push an [`AppCommand`] into
//! the designer's queue, and one handler (`command_handling.rs`) runs them. Each command knows its label,
//! its keyboard shortcuts, a line of help and whether it can run now, so menus, the palette and the
//! shortcut handling read the same facts.
//!
//! Edits of the workflow itself are document [`Command`](crate::Command)s; an application action may apply
//! some (Delete, Paste, Add comment frame…).

use std::path::PathBuf;

use egui::{Key, KeyboardShortcut, Modifiers, Pos2};
use pipewright_engine::{Catalog, Category, PortType, Value, Workflow};

use crate::history::HistoryView;
use crate::runtime::Runtime;

/// An application action: what the user asked the designer to do.
///
/// The variants without data ([`AppCommand::ALL`]) act on the active tab and its selection. The variants with
/// data carry what a list or a window picked (a recent file, an example, a tab, a run, a generated workflow);
/// the command palette offers those a user picks by name (files, examples, tabs, history views) as one row
/// each.
#[derive(Debug, Clone, PartialEq)]
pub enum AppCommand {
    /// A new, empty workflow in a new tab.
    NewWorkflow,
    /// Opens the cheat-sheet wizard.
    NewFromWizard,
    /// Asks for a workflow file and opens it.
    OpenFile,
    /// Saves the active workflow to its file.
    Save,
    /// Saves the active workflow to a file chosen now.
    SaveAs,
    /// Closes the active tab (asking first if it has unsaved changes).
    CloseTab,
    /// Shows the start page.
    ShowStartPage,
    /// Shows the next tab (after the last, the first).
    NextTab,
    /// Shows the previous tab (before the first, the last).
    PreviousTab,
    /// Opens the "Export job…" window for the active workflow.
    ExportJob,
    /// Opens the window that serves a model package on this machine.
    DeployModelPackage,
    /// Closes the window (asking first about unsaved changes).
    Quit,
    /// Undoes the last edit.
    Undo,
    /// Redoes the last undone edit.
    Redo,
    /// Copies the selected blocks and removes them.
    Cut,
    /// Copies the selected blocks to the clipboard as workflow JSON.
    Copy,
    /// Pastes blocks from the clipboard.
    Paste,
    /// Duplicates the selected blocks.
    Duplicate,
    /// Removes the selected blocks (or the selected comment frame).
    Delete,
    /// Selects every block.
    SelectAll,
    /// Adds a comment frame around the selection (or in the middle of the view).
    AddComment,
    /// Puts the cursor into the block palette's search field.
    FindBlock,
    /// Opens the block search at the pointer (or in the middle of the view).
    QuickAdd,
    /// Opens or closes the command palette.
    CommandPalette,
    /// Opens or closes the project history window.
    ToggleHistory,
    /// Fits every block into view.
    FitToView,
    /// Switches between the light and the dark theme.
    ToggleTheme,
    /// Draws the designer at 100 %.
    Scale100,
    /// Draws the designer at 125 %.
    Scale125,
    /// Draws the designer at 150 %.
    Scale150,
    /// Runs the whole workflow.
    Run,
    /// Runs the selected block and what it needs.
    RunToSelected,
    /// Stops the run.
    Stop,
    /// Computes on the GPU for large inputs, on the CPU otherwise.
    DeviceAuto,
    /// Computes on the CPU only.
    DeviceCpu,
    /// Computes on the GPU.
    DeviceGpu,
    /// Offers to write the model the selected training block trained as a model package.
    PackageModel,
    /// Opens the deployment window on the package the selected Export Model Package block writes.
    DeploySelectedPackage,
    /// Opens the registration form for the selected block's model from its recorded run.
    RegisterModel,
    /// Makes the read-only run workflow of the active tab the current workflow of its file.
    RestoreSnapshot,

    /// Opens a workflow file (a recent one, an example) in a new tab, or shows it if it is open.
    Open(PathBuf),
    /// Closes the tab at this index (asking first if it has unsaved changes).
    CloseTabAt(usize),
    /// Shows the tab at this index.
    ShowTab(usize),
    /// Sets the memory a block may hold, in MiB (`None`: half of the machine's memory).
    SetMemoryBudget(Option<u64>),
    /// Opens the block search at this canvas position.
    QuickAddAt(Pos2),
    /// Pastes workflow JSON that came from the clipboard.
    PasteText(String),
    /// Opens the project history window on this view.
    ShowHistory(HistoryView),
    /// Opens a run's workflow, as it ran, read-only in a new tab.
    OpenRun {
        /// The run.
        run: i64,
        /// Its snapshot.
        workflow: Box<Workflow>,
        /// The workflow file it ran from.
        file: PathBuf,
    },
    /// Makes a run's workflow the current workflow of its file (one undoable step).
    RestoreRun {
        /// The run.
        run: i64,
        /// Its snapshot.
        workflow: Box<Workflow>,
        /// The workflow file it ran from.
        file: PathBuf,
    },
    /// Opens a workflow the wizard generated in a new tab and runs it.
    OpenGenerated(Box<Workflow>),
    /// Tells the user in the status bar.
    Notify {
        /// The message.
        text: String,
        /// Whether it reports an error.
        is_error: bool,
    },
}

/// What the commands' enablement is decided from: a few facts about the designer, gathered once a frame.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(clippy::struct_excessive_bools, reason = "independent facts the enablement reads, not states of one thing")]
pub struct CommandState {
    /// A workflow tab (not the start page) shows.
    pub has_tab: bool,
    /// The active tab shows a recorded run's workflow, read-only.
    pub read_only: bool,
    /// The active tab's workflow has blocks.
    pub has_blocks: bool,
    /// The active tab is running.
    pub running: bool,
    /// How many workflow tabs are open.
    pub tabs: usize,
    /// The active document has an edit to undo.
    pub can_undo: bool,
    /// The active document has an undone edit to redo.
    pub can_redo: bool,
    /// How many blocks are selected.
    pub selected_blocks: usize,
    /// A comment frame is selected.
    pub selected_comment: bool,
    /// What the first selected block is.
    pub selected: Option<BlockFacts>,
}

/// What a block offers beyond editing, for the commands that act on the selected block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockFacts {
    /// It trains a model (a Train block with a model output).
    pub trains_model: bool,
    /// It writes a model package (Export Model Package).
    pub writes_package: bool,
    /// Its output holds a model that a recorded run trained.
    pub recorded_model: bool,
}

impl BlockFacts {
    /// The facts about block `node` of `workflow`.
    pub fn of(catalog: &Catalog, workflow: &Workflow, runtime: &Runtime, node: &str) -> Self {
        let kind = workflow.node(node).map(|n| n.kind.as_str()).unwrap_or_default();
        let trains_model = catalog.get(kind).is_some_and(|e| {
            e.spec.category == Category::Train
                && e.spec.output_port("model").is_some_and(|(_, p)| p.ty == PortType::Model)
        });
        let has_model = runtime.outputs(node).is_some_and(|o| o.iter().any(|v| matches!(v, Value::Model(_))));
        Self {
            trains_model,
            writes_package: catalog
                .get(kind)
                .is_some_and(|e| e.spec.writes == Some(pipewright_engine::Writes::Package)),
            recorded_model: has_model && runtime.recorded_run_of(node).is_some(),
        }
    }
}

const fn key(modifiers: Modifiers, key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(modifiers, key)
}

const CTRL: Modifiers = Modifiers::COMMAND;
const CTRL_SHIFT: Modifiers = Modifiers::COMMAND.plus(Modifiers::SHIFT);

impl AppCommand {
    /// Every command the palette offers, in the order it lists them when nothing is typed.
    pub const ALL: &'static [Self] = &[
        Self::Run,
        Self::RunToSelected,
        Self::Stop,
        Self::Save,
        Self::SaveAs,
        Self::OpenFile,
        Self::NewWorkflow,
        Self::NewFromWizard,
        Self::CloseTab,
        Self::ShowStartPage,
        Self::NextTab,
        Self::PreviousTab,
        Self::Undo,
        Self::Redo,
        Self::Cut,
        Self::Copy,
        Self::Paste,
        Self::Duplicate,
        Self::Delete,
        Self::SelectAll,
        Self::AddComment,
        Self::FindBlock,
        Self::QuickAdd,
        Self::ToggleHistory,
        Self::FitToView,
        Self::CommandPalette,
        Self::PackageModel,
        Self::DeploySelectedPackage,
        Self::RegisterModel,
        Self::RestoreSnapshot,
        Self::DeployModelPackage,
        Self::ExportJob,
        Self::ToggleTheme,
        Self::Scale100,
        Self::Scale125,
        Self::Scale150,
        Self::DeviceAuto,
        Self::DeviceCpu,
        Self::DeviceGpu,
        Self::Quit,
    ];

    /// A message for the status bar (`is_error`: shown as an error).
    pub fn notify(text: impl Into<String>, is_error: bool) -> Self {
        Self::Notify { text: text.into(), is_error }
    }

    /// The text of its menu entry and palette row. Text that opens a window or a dialog ends in "…".
    pub fn label(&self) -> &'static str {
        match self {
            Self::NewWorkflow => "New workflow",
            Self::NewFromWizard => "New from the cheat-sheet wizard…",
            Self::OpenFile => "Open…",
            Self::Save => "Save",
            Self::SaveAs => "Save as…",
            Self::CloseTab => "Close",
            Self::ShowStartPage => "Start page",
            Self::NextTab => "Next tab",
            Self::PreviousTab => "Previous tab",
            Self::ExportJob => "Export job…",
            Self::DeployModelPackage => "Deploy a model package locally…",
            Self::Quit => "Quit",
            Self::Undo => "Undo",
            Self::Redo => "Redo",
            Self::Cut => "Cut",
            Self::Copy => "Copy",
            Self::Paste => "Paste",
            Self::Duplicate => "Duplicate",
            Self::Delete => "Delete",
            Self::SelectAll => "Select all",
            Self::AddComment => "Add comment frame",
            Self::FindBlock => "Search blocks",
            Self::QuickAdd => "Add block here…",
            Self::CommandPalette => "Command palette…",
            Self::ToggleHistory => "Runs and models…",
            Self::FitToView => "Fit to view",
            Self::ToggleTheme => "Switch light / dark theme",
            Self::Scale100 => "Scale 100 %",
            Self::Scale125 => "Scale 125 %",
            Self::Scale150 => "Scale 150 %",
            Self::Run => "Run",
            Self::RunToSelected => "Run to selected",
            Self::Stop => "Stop",
            Self::DeviceAuto => "Device: auto",
            Self::DeviceCpu => "Device: CPU",
            Self::DeviceGpu => "Device: GPU",
            Self::PackageModel => "Package model…",
            Self::DeploySelectedPackage => "Deploy locally…",
            Self::RegisterModel => "Register model…",
            Self::RestoreSnapshot => "Restore as the current workflow",
            Self::Open(_) => "Open file",
            Self::CloseTabAt(_) => "Close tab",
            Self::ShowTab(_) => "Go to tab",
            Self::SetMemoryBudget(_) => "Set the memory budget",
            Self::QuickAddAt(_) => "Search blocks…",
            Self::PasteText(_) => "Paste blocks",
            Self::ShowHistory(_) => "Show the project history",
            Self::OpenRun { .. } => "Open a run's workflow",
            Self::RestoreRun { .. } => "Restore a run's workflow",
            Self::OpenGenerated(_) => "Open the generated workflow",
            Self::Notify { .. } => "Show a message",
        }
    }

    /// A line saying what it does, shown on hover and searched by the palette.
    pub fn help(&self) -> &'static str {
        match self {
            Self::NewWorkflow => "Start an empty workflow in a new tab",
            Self::NewFromWizard => "Pick data and a goal; the wizard suggests algorithms and builds a workflow",
            Self::OpenFile => "Open a .flow.json workflow or a project folder",
            Self::Save => "Save the workflow to its file",
            Self::SaveAs => "Save the workflow to a new file",
            Self::CloseTab => "Close this workflow's tab",
            Self::ShowStartPage => "Show the start page: examples, recent workflows, the wizard",
            Self::NextTab => "Show the workflow in the tab to the right",
            Self::PreviousTab => "Show the workflow in the tab to the left",
            Self::ExportJob => "Run this workflow on a Slurm, Ray or Kubernetes cluster",
            Self::DeployModelPackage => "Serve a .pwmodel package on this machine and try it",
            Self::Quit => "Close the designer",
            Self::Undo => "Undo the last edit",
            Self::Redo => "Redo the last undone edit",
            Self::Cut => "Copy the selected blocks to the clipboard and remove them",
            Self::Copy => "Copy the selected blocks to the clipboard",
            Self::Paste => "Paste blocks from the clipboard (from this or another window)",
            Self::Duplicate => "Duplicate the selected blocks beside them",
            Self::Delete => "Remove the selected blocks or comment frame",
            Self::SelectAll => "Select every block on the canvas",
            Self::AddComment => "Frame the selected blocks with a titled note",
            Self::FindBlock => "Search the block palette",
            Self::QuickAdd => "Search for a block and add it at the pointer",
            Self::CommandPalette => "Search every command and run it",
            Self::ToggleHistory => "Open or close the project history: runs, comparison, model registry",
            Self::FitToView => "Show every block on the canvas",
            Self::ToggleTheme => "Switch between the light and the dark theme",
            Self::Scale100 | Self::Scale125 | Self::Scale150 => "Make text and widgets larger or smaller",
            Self::Run => "Run the whole workflow",
            Self::RunToSelected => "Run the selected block and what it needs",
            Self::Stop => "Stop the run",
            Self::DeviceAuto => "Large inputs on the GPU when there is one, small ones on the CPU",
            Self::DeviceCpu => "Every kernel on the CPU",
            Self::DeviceGpu => "Every kernel on the GPU; runs are refused without one",
            Self::PackageModel => "Write the selected block's trained model and its transforms as a model package",
            Self::DeploySelectedPackage => "Serve the package the selected Export Model Package block writes",
            Self::RegisterModel => "Add the selected block's trained model to the project's model registry",
            Self::RestoreSnapshot => "Make this run's workflow the current one of its file (undoable)",
            Self::Open(_) => "Open a workflow file",
            Self::CloseTabAt(_) => "Close a tab",
            Self::ShowTab(_) => "Show a tab's workflow",
            Self::SetMemoryBudget(_) => {
                "Memory a block may hold: a larger CSV or Parquet file streams through row-wise blocks, a batch at a time"
            }
            Self::QuickAddAt(_) => "Search for a block and add it here",
            Self::PasteText(_) => "Paste blocks given as workflow JSON",
            Self::ShowHistory(_) => "Open the project history window",
            Self::OpenRun { .. } => "Open a recorded run's workflow read-only",
            Self::RestoreRun { .. } => "Make a recorded run's workflow the current one",
            Self::OpenGenerated(_) => "Open and run a generated workflow",
            Self::Notify { .. } => "Show a message in the status bar",
        }
    }

    /// Its keyboard shortcuts; the first is the one menus and the palette show.
    pub fn shortcuts(&self) -> &'static [KeyboardShortcut] {
        match self {
            Self::NewWorkflow => const { &[key(CTRL, Key::N)] },
            Self::OpenFile => const { &[key(CTRL, Key::O)] },
            Self::Save => const { &[key(CTRL, Key::S)] },
            Self::SaveAs => const { &[key(CTRL_SHIFT, Key::S)] },
            Self::CloseTab => const { &[key(CTRL, Key::W)] },
            Self::NextTab => const { &[key(CTRL, Key::PageDown)] },
            Self::PreviousTab => const { &[key(CTRL, Key::PageUp)] },
            Self::Quit => const { &[key(CTRL, Key::Q)] },
            Self::Undo => const { &[key(CTRL, Key::Z)] },
            Self::Redo => const { &[key(CTRL_SHIFT, Key::Z), key(CTRL, Key::Y)] },
            Self::Cut => const { &[key(CTRL, Key::X)] },
            Self::Copy => const { &[key(CTRL, Key::C)] },
            Self::Paste => const { &[key(CTRL, Key::V)] },
            Self::Duplicate => const { &[key(CTRL, Key::D)] },
            Self::Delete => const { &[key(Modifiers::NONE, Key::Delete), key(Modifiers::NONE, Key::Backspace)] },
            Self::SelectAll => const { &[key(CTRL, Key::A)] },
            Self::FindBlock => const { &[key(CTRL, Key::F)] },
            Self::QuickAdd => const { &[key(Modifiers::NONE, Key::Space)] },
            Self::CommandPalette => const { &[key(CTRL_SHIFT, Key::P)] },
            Self::ToggleHistory => const { &[key(CTRL, Key::H)] },
            Self::FitToView => const { &[key(Modifiers::NONE, Key::Home)] },
            Self::Run => const { &[key(Modifiers::NONE, Key::F5)] },
            Self::Stop => const { &[key(Modifiers::SHIFT, Key::F5)] },
            _ => &[],
        }
    }

    /// The clipboard commands: the window turns their keys into copy, cut and paste events, which the
    /// shortcut handling reads instead of the keys.
    pub fn is_clipboard(&self) -> bool {
        matches!(self, Self::Cut | Self::Copy | Self::Paste)
    }

    /// Whether its shortcut also works while a text field has the keyboard (the others leave the keys to
    /// the field: Ctrl+Z there undoes typing).
    pub fn works_while_typing(&self) -> bool {
        matches!(
            self,
            Self::NewWorkflow
                | Self::OpenFile
                | Self::Save
                | Self::SaveAs
                | Self::CloseTab
                | Self::Quit
                | Self::FindBlock
                | Self::CommandPalette
                | Self::ToggleHistory
                | Self::Run
                | Self::Stop
        )
    }

    /// `Ok` when it can run now; otherwise why not, in a few words.
    pub fn enabled(&self, state: &CommandState) -> Result<(), &'static str> {
        let check = |ok: bool, why: &'static str| if ok { Ok(()) } else { Err(why) };
        let tab = check(state.has_tab, "open a workflow first");
        let selected = state.selected.filter(|_| state.selected_blocks > 0);
        match self {
            Self::Save
            | Self::SaveAs
            | Self::CloseTab
            | Self::ExportJob
            | Self::Paste
            | Self::AddComment
            | Self::FindBlock
            | Self::QuickAdd
            | Self::FitToView => tab,
            Self::NextTab | Self::PreviousTab => {
                check(state.tabs > usize::from(state.has_tab), "no other workflow is open")
            }
            Self::Undo => tab.and(check(state.can_undo, "nothing to undo")),
            Self::Redo => tab.and(check(state.can_redo, "nothing to redo")),
            Self::Cut | Self::Copy | Self::Duplicate => {
                tab.and(check(state.selected_blocks > 0, "select blocks first"))
            }
            Self::Delete => {
                tab.and(check(state.selected_blocks > 0 || state.selected_comment, "select blocks or a frame first"))
            }
            Self::SelectAll => tab.and(check(state.has_blocks, "the workflow has no blocks")),
            Self::Run => tab.and(check(!state.running, "a run is going on")),
            Self::RunToSelected => tab
                .and(check(!state.running, "a run is going on"))
                .and(check(state.selected_blocks > 0, "select a block first")),
            Self::Stop => check(state.running, "nothing is running"),
            Self::PackageModel => tab.and(check(selected.is_some_and(|s| s.trains_model), "select a training block")),
            Self::DeploySelectedPackage => {
                tab.and(check(selected.is_some_and(|s| s.writes_package), "select an Export Model Package block"))
            }
            Self::RegisterModel => tab.and(check(
                selected.is_some_and(|s| s.recorded_model),
                "select a block whose model a recorded run trained",
            )),
            Self::RestoreSnapshot => tab.and(check(state.read_only, "only for a recorded run's workflow")),
            Self::NewWorkflow
            | Self::NewFromWizard
            | Self::OpenFile
            | Self::ShowStartPage
            | Self::DeployModelPackage
            | Self::Quit
            | Self::CommandPalette
            | Self::ToggleHistory
            | Self::ToggleTheme
            | Self::Scale100
            | Self::Scale125
            | Self::Scale150
            | Self::DeviceAuto
            | Self::DeviceCpu
            | Self::DeviceGpu
            | Self::Open(_)
            | Self::CloseTabAt(_)
            | Self::ShowTab(_)
            | Self::SetMemoryBudget(_)
            | Self::QuickAddAt(_)
            | Self::PasteText(_)
            | Self::ShowHistory(_)
            | Self::OpenRun { .. }
            | Self::RestoreRun { .. }
            | Self::OpenGenerated(_)
            | Self::Notify { .. } => Ok(()),
        }
    }

    /// The text of its first shortcut as this platform writes it ("Ctrl+S"), or nothing.
    pub fn shortcut_text(&self, ctx: &egui::Context) -> Option<String> {
        self.shortcuts().first().map(|s| ctx.format_shortcut(s))
    }

    /// A menu entry for it: its label, shortcut and help; greyed with the reason when it cannot run now.
    /// A click pushes it into `queue` and closes the menu.
    pub fn menu_item_ui(&self, ui: &mut egui::Ui, state: &CommandState, queue: &mut Vec<AppCommand>) {
        let mut button = egui::Button::new(self.label());
        if let Some(text) = self.shortcut_text(ui.ctx()) {
            button = button.shortcut_text(text);
        }
        let enabled = self.enabled(state);
        let response = ui.add_enabled(enabled.is_ok(), button).on_hover_text(self.help());
        let response = match enabled {
            Err(why) => response.on_disabled_hover_text(format!("{} — {why}", self.help())),
            Ok(()) => response,
        };
        if response.clicked() {
            queue.push(self.clone());
            ui.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_shortcut_belongs_to_one_command_and_every_label_is_unique() {
        let mut shortcuts = HashSet::new();
        let mut labels = HashSet::new();
        for command in AppCommand::ALL {
            assert!(labels.insert(command.label()), "two commands are labelled {:?}", command.label());
            assert!(!command.help().is_empty(), "{command:?} has help");
            for shortcut in command.shortcuts() {
                assert!(shortcuts.insert(*shortcut), "{shortcut:?} is the shortcut of two commands");
            }
        }
        assert!(shortcuts.len() >= 20, "{} shortcuts", shortcuts.len());
    }

    #[test]
    fn commands_say_why_they_cannot_run() {
        let empty = CommandState::default();
        assert_eq!(AppCommand::Save.enabled(&empty), Err("open a workflow first"));
        assert_eq!(AppCommand::NewWorkflow.enabled(&empty), Ok(()));
        let tab = CommandState { has_tab: true, ..CommandState::default() };
        assert_eq!(AppCommand::Duplicate.enabled(&tab), Err("select blocks first"));
        assert_eq!(AppCommand::Undo.enabled(&tab), Err("nothing to undo"));
        let trainer = CommandState {
            selected_blocks: 1,
            selected: Some(BlockFacts { trains_model: true, ..BlockFacts::default() }),
            ..tab.clone()
        };
        assert_eq!(AppCommand::PackageModel.enabled(&trainer), Ok(()));
        assert!(AppCommand::DeploySelectedPackage.enabled(&trainer).is_err());
        let running = CommandState { running: true, ..trainer };
        assert_eq!(AppCommand::Run.enabled(&running), Err("a run is going on"));
        assert_eq!(AppCommand::Stop.enabled(&running), Ok(()));
    }
}
