//! The output panel: the selected block's outputs, one port at a time, with "Register model…" for a
//! trained model of a recorded run.

use egui::{RichText, Ui};

use pipewright_engine::{Catalog, Value};

use super::command::{AppCommand, CommandState};
use super::tab::Tab;
use crate::runtime::Phase;
use crate::theme;

/// Draws the selected block's output; "Register model…" goes into `queue`.
pub(super) fn output_panel_ui(
    ui: &mut Ui,
    tab: &mut Tab,
    catalog: &Catalog,
    state: &CommandState,
    queue: &mut Vec<AppCommand>,
) {
    let dark = ui.visuals().dark_mode;
    // The panel keeps its height whatever it shows (a resizable panel otherwise shrinks to short content).
    ui.set_min_height(ui.available_height());
    let Some(node_id) = tab.selection.first().cloned() else {
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new("Select a block to see its output.").color(theme::weak_text(dark)));
        });
        return;
    };
    let Some(node) = tab.document.workflow().node(&node_id) else { return };
    let Some(spec) = catalog.get(&node.kind).map(|e| e.spec.clone()) else { return };
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
            let register = AppCommand::RegisterModel;
            let button = ui
                .add_enabled(register.enabled(state).is_ok(), egui::Button::new(register.label()))
                .on_hover_text(register.help())
                .on_disabled_hover_text(
                    "Save the workflow in a project and run it: recorded runs' models can be registered",
                );
            if button.clicked() {
                queue.push(register);
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
            _ => "Not run yet. Press ▶ Run (F5) or right-click the block and choose Run to selected.".to_owned(),
        };
        ui.label(RichText::new(text).color(theme::weak_text(dark)));
    }
}
