//! The output panel's viewers: a node's output value in full. Tables as a virtualized grid and column
//! profiles; Evaluate Model reports as metrics and charts; learners, models and transforms as their
//! settings and fitted state.

mod profile;
mod report;
mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use egui::{RichText, Ui};
use serde_json::Value as Json;

use pipewright_engine::{Table, Value};

pub use profile::{ColumnProfile, Distribution, profile};
pub use table::format_float;

use crate::theme;

/// Which view of a table is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum TableTab {
    #[default]
    Data,
    Profile,
}

/// A profile being computed, or done.
type ProfileSlot = Arc<Mutex<Option<Vec<ColumnProfile>>>>;

/// State of the output panel: the chosen tab and profiles computed so far (keyed by table identity).
#[derive(Default)]
pub struct OutputView {
    table_tab: TableTab,
    profiles: HashMap<usize, (Arc<Table>, ProfileSlot)>,
}

impl OutputView {
    /// Draws `value` in full.
    pub fn show_ui(&mut self, ui: &mut Ui, value: &Value) {
        match value {
            Value::Table(table) => self.table_ui(ui, table),
            Value::Report(report) => report::report_ui(ui, report),
            Value::Learner(learner) => {
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                    key_values_ui(ui, &[("algorithm", learner.algorithm.clone()), ("name", learner.name.clone())]);
                    ui.label(RichText::new("Hyper-parameters").strong());
                    json_ui(ui, "learner-params", &Json::Object(learner.params.clone().into_iter().collect()));
                });
            }
            Value::Model(model) => {
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                    key_values_ui(
                        ui,
                        &[
                            ("algorithm", model.algorithm.clone()),
                            ("name", model.name.clone()),
                            ("task", format!("{:?}", model.task)),
                            ("label", model.label.clone().unwrap_or_else(|| "—".into())),
                            ("features", model.features.join(", ")),
                            ("classes", if model.classes.is_empty() { "—".into() } else { model.classes.join(", ") }),
                        ],
                    );
                    ui.label(RichText::new("Fitted state").strong());
                    json_ui(ui, "model-state", &model.state);
                });
            }
            Value::Transform(transform) => {
                egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                    key_values_ui(ui, &[("kind", transform.kind.clone()), ("name", transform.name.clone())]);
                    ui.label(RichText::new("Fitted state").strong());
                    json_ui(ui, "transform-state", &transform.state);
                });
            }
        }
    }

    fn table_ui(&mut self, ui: &mut Ui, table: &Arc<Table>) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.table_tab, TableTab::Data, "Data");
            ui.selectable_value(&mut self.table_tab, TableTab::Profile, "Profile");
            ui.label(
                RichText::new(format!("{} rows × {} columns", table.frame.height(), table.frame.width()))
                    .color(theme::weak_text(ui.visuals().dark_mode)),
            );
        });
        match self.table_tab {
            TableTab::Data => table::table_ui(ui, table),
            TableTab::Profile => self.profile_ui(ui, table),
        }
    }

    fn profile_ui(&mut self, ui: &mut Ui, table: &Arc<Table>) {
        let key = Arc::as_ptr(table) as usize;
        // Profiles of tables no longer shown are dropped; the current one is computed once, off the UI thread.
        self.profiles.retain(|k, _| *k == key);
        let slot = self
            .profiles
            .entry(key)
            .or_insert_with(|| {
                let slot: ProfileSlot = Arc::default();
                let (shown, done, ctx) = (table.clone(), slot.clone(), ui.ctx().clone());
                let spawned = std::thread::Builder::new().name("pipewright-profile".into()).spawn(move || {
                    let profiles = profile(&shown);
                    if let Ok(mut done) = done.lock() {
                        *done = Some(profiles);
                    }
                    ctx.request_repaint();
                });
                if spawned.is_err()
                    && let Ok(mut done) = slot.lock()
                {
                    *done = Some(Vec::new());
                }
                (table.clone(), slot)
            })
            .1
            .clone();
        let guard = slot.lock();
        match guard.as_ref().ok().and_then(|g| g.as_ref()) {
            Some(profiles) => profiles_ui(ui, profiles),
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Profiling columns…");
                });
            }
        }
    }
}

fn profiles_ui(ui: &mut Ui, profiles: &[ColumnProfile]) {
    let dark = ui.visuals().dark_mode;
    let number = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), format_float);
    egui::ScrollArea::both().id_salt("profile").auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("profile-grid").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
            for heading in ["column", "type", "missing", "unique", "mean", "std", "min", "max", "distribution"] {
                ui.label(RichText::new(heading).color(theme::weak_text(dark)));
            }
            ui.end_row();
            for p in profiles {
                ui.label(RichText::new(&p.name).strong());
                ui.label(&p.dtype);
                ui.label(p.missing.to_string());
                ui.label(p.unique.to_string());
                ui.label(number(p.mean));
                ui.label(number(p.std));
                ui.label(number(p.min));
                ui.label(number(p.max));
                distribution_ui(ui, &p.distribution, dark);
                ui.end_row();
            }
        });
    });
}

/// A small histogram or bar chart of the top values, drawn with the painter.
fn distribution_ui(ui: &mut Ui, distribution: &Distribution, dark: bool) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(160.0, 32.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let (counts, labels): (Vec<u64>, Vec<String>) = match distribution {
        Distribution::Histogram(bins) => (bins.clone(), Vec::new()),
        Distribution::TopValues(top) => top.iter().map(|(v, c)| (*c, v.clone())).unzip(),
    };
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let width = rect.width() / counts.len().max(1) as f32;
    for (i, count) in counts.iter().enumerate() {
        let height = rect.height() * *count as f32 / max as f32;
        let bar = egui::Rect::from_min_max(
            egui::pos2(rect.left() + width * i as f32 + 0.5, rect.bottom() - height),
            egui::pos2(rect.left() + width * (i as f32 + 1.0) - 0.5, rect.bottom()),
        );
        painter.rect_filled(bar, 1.0, theme::accent(dark).gamma_multiply(0.8));
    }
    if !labels.is_empty() {
        response
            .on_hover_text(labels.iter().zip(&counts).map(|(l, c)| format!("{l}: {c}")).collect::<Vec<_>>().join("\n"));
    }
}

fn key_values_ui(ui: &mut Ui, pairs: &[(&str, String)]) {
    egui::Grid::new(ui.next_auto_id()).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
        for (key, value) in pairs {
            ui.label(RichText::new(*key).color(theme::weak_text(ui.visuals().dark_mode)));
            ui.add(egui::Label::new(value.as_str()).wrap());
            ui.end_row();
        }
    });
}

/// Items of an array or object shown before "… more".
const JSON_ITEMS: usize = 50;

/// JSON as a collapsible tree.
fn json_ui(ui: &mut Ui, id: &str, value: &Json) {
    match value {
        Json::Object(map) => {
            for (i, (key, item)) in map.iter().enumerate().take(JSON_ITEMS) {
                json_entry_ui(ui, &format!("{id}/{i}"), key, item);
            }
            if map.len() > JSON_ITEMS {
                ui.label(format!("… {} more", map.len() - JSON_ITEMS));
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate().take(JSON_ITEMS) {
                json_entry_ui(ui, &format!("{id}/{i}"), &format!("[{i}]"), item);
            }
            if items.len() > JSON_ITEMS {
                ui.label(format!("… {} more", items.len() - JSON_ITEMS));
            }
        }
        other => {
            ui.label(scalar(other));
        }
    }
}

fn scalar(value: &Json) -> String {
    match value {
        Json::Number(n) => n.as_f64().map_or_else(|| n.to_string(), format_float),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_entry_ui(ui: &mut Ui, id: &str, key: &str, value: &Json) {
    match value {
        Json::Object(_) | Json::Array(_) => {
            let size = match value {
                Json::Object(m) => m.len(),
                Json::Array(a) => a.len(),
                _ => 0,
            };
            egui::CollapsingHeader::new(format!("{key} ({size})")).id_salt(id).show(ui, |ui| json_ui(ui, id, value));
        }
        other => {
            ui.horizontal(|ui| {
                ui.label(RichText::new(key).color(theme::weak_text(ui.visuals().dark_mode)));
                ui.label(scalar(other));
            });
        }
    }
}
