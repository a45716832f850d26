//! The designer's modal questions: restoring unsaved work after a crash, and saving before closing.

use std::time::Instant;

use egui::{Id, RichText};

use pipewright_engine::Workflow;

use super::{ConfirmClose, Designer};
use crate::document::Document;
use crate::{settings, theme};

impl Designer {
    /// Asks before the window closes with unsaved work.
    pub(super) fn close_request(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && self.tabs.iter().any(|t| t.document.is_dirty()) {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_close = Some(ConfirmClose::Window);
        }
    }

    pub(super) fn recovery_ui(&mut self, ctx: &egui::Context) {
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

    pub(super) fn confirm_close_ui(&mut self, ctx: &egui::Context) {
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
