//! Opening, saving and closing workflows, and the autosave that keeps recovery copies of unsaved work.

use std::path::Path;
use std::time::Instant;

use pipewright_engine::Workflow;

use super::tab::Tab;
use super::{AUTOSAVE_AFTER, ConfirmClose, Designer, canonical, file_name};
use crate::document::Document;
use crate::settings;

impl Designer {
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

    pub(super) fn new_workflow(&mut self) {
        let n = self.tabs.len() + 1;
        self.add_tab(Document::new(Workflow::new(format!("Untitled {n}"))));
    }

    pub(super) fn open_dialog(&mut self) {
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

    /// Closes the tab at `index`; one with unsaved changes asks first unless `force`.
    pub(super) fn close_tab(&mut self, index: usize, force: bool) {
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

    /// Opens a workflow the wizard generated in a new tab, unsaved, and runs it.
    pub(super) fn add_generated(&mut self, workflow: Workflow) {
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
        self.run_when_shown();
        self.notify(
            format!("Generated \"{name}\"; running it. Save it with Ctrl+S to keep it and record its runs."),
            false,
        );
    }

    /// Writes a recovery file for each tab edited a while ago and not saved since.
    pub(super) fn autosave(&mut self) {
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
}
