//! The workspace of the active tab: the block palette, the inspector, the output panel and the canvas,
//! with the canvas's selection, hints, refused wires and quick-add search.

use std::time::Duration;

use egui::emath::TSTransform;
use egui::{Id, Key, Pos2, Rect, RichText, Ui};

use pipewright_engine::Catalog;

use super::Designer;
use super::command::{AppCommand, CommandState};
use super::output_panel::output_panel_ui;
use super::tab::{Tab, snarl_id};
use crate::canvas::{Refusal, Viewer, fit_transform, snarl_style};
use crate::palette::PaletteDrag;
use crate::{comments, inspector, theme};

impl Designer {
    pub(super) fn workspace_ui(&mut self, ui: &mut Ui, state: &CommandState) {
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
        {
            let Some(tab) = self.tabs.get_mut(index) else { return };
            let queue = &mut self.queue;
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
                .show(ui, |ui| output_panel_ui(ui, tab, &catalog, state, queue));
            if let Some(snapshot) = &tab.snapshot {
                let run = snapshot.run;
                egui::Panel::top("snapshot-banner").show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(format!("Run {run}'s workflow as it ran — read-only")).strong());
                        let restore = AppCommand::RestoreSnapshot;
                        if ui.button(restore.label()).on_hover_text(restore.help()).clicked() {
                            queue.push(restore);
                        }
                    });
                });
            }
        }
        for command in commands {
            self.apply(command);
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.canvas_ui(ui, index, state));
    }

    fn canvas_ui(&mut self, ui: &mut Ui, index: usize, state: &CommandState) {
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
            app_commands: Vec::new(),
            select: None,
            state,
            refusal: None,
            set_transform,
            transform: tab.transform,
            dark,
            selection: &tab.selection,
            specs: crate::canvas::spec_index(tab.document.workflow(), &catalog),
        };
        let widget = egui_snarl::ui::SnarlWidget::new().id(snarl_id(tab.slot)).style(snarl_style(dark));
        let response = widget.show(tab.graph.snarl_mut(), &mut viewer, ui);
        let Viewer { mut commands, app_commands, select, refusal, transform, .. } = viewer;
        tab.transform = transform;
        let selection = pick_selection(ui, tab, canvas_rect);
        if !selection.is_empty() {
            tab.selected_comment = None;
        }
        if selection != tab.selection {
            tab.output_port = 0;
        }
        tab.selection = selection;
        // A context menu command acts on the block it was chosen on: the selection's first, or the selection.
        if let Some(id) = select {
            if !tab.selection.contains(&id) {
                tab.selection.clear();
            }
            tab.selection.retain(|s| *s != id);
            tab.selection.insert(0, id);
            tab.selected_comment = None;
        }
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
        self.queue.extend(app_commands);
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
