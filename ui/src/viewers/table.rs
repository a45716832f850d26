//! A table as a virtualized grid: only the rows in view are formatted, so a million rows scroll smoothly.

use egui::{Align, Layout, RichText, Ui};
use pipewright_engine::{ColumnType, Role, Table};
use polars::prelude::AnyValue;

use crate::theme;

/// Width of a data column, in points.
const COLUMN_WIDTH: f32 = 120.0;
/// Width of the row-number column.
const INDEX_WIDTH: f32 = 64.0;

/// One cell as text: numbers right-aligned with sensible precision, missing as a dash.
pub fn cell_text(value: &AnyValue<'_>) -> (String, bool) {
    match value {
        AnyValue::Null => ("—".to_owned(), false),
        AnyValue::Float64(x) => (format_float(*x), true),
        AnyValue::Float32(x) => (format_float(f64::from(*x)), true),
        AnyValue::Boolean(b) => (b.to_string(), false),
        AnyValue::String(s) => ((*s).to_owned(), false),
        AnyValue::StringOwned(s) => (s.to_string(), false),
        other if other.is_primitive_numeric() => (other.to_string(), true),
        other => (other.to_string().trim_matches('"').to_owned(), false),
    }
}

/// A float with up to six significant decimals, without trailing zeros; NaN as a dash.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "—".to_owned();
    }
    if x != 0.0 && (x.abs() >= 1e9 || x.abs() < 1e-4) {
        return format!("{x:.4e}");
    }
    let text = format!("{x:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Label => "label",
        Role::Score => "score",
        Role::Feature => "",
        Role::Ignored => "ignored",
    }
}

/// Draws the grid.
pub fn table_ui(ui: &mut Ui, table: &Table) {
    let dark = ui.visuals().dark_mode;
    let frame = &table.frame;
    let columns = frame.columns();
    let rows = frame.height();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::horizontal().id_salt("table-h").auto_shrink([false, false]).show(ui, |ui| {
        let total_width = INDEX_WIDTH + COLUMN_WIDTH * columns.len() as f32;
        ui.set_min_width(total_width);
        ui.horizontal(|ui| {
            ui.allocate_ui_with_layout(egui::vec2(INDEX_WIDTH, 34.0), Layout::right_to_left(Align::Center), |ui| {
                ui.label(RichText::new("#").color(theme::weak_text(dark)));
            });
            for column in columns {
                let name = column.name().to_string();
                let role = role_text(table.role(&name));
                let kind = match ColumnType::of(column.dtype()) {
                    ColumnType::Numeric => "number",
                    ColumnType::Bool => "bool",
                    _ if table.categorical.contains(&name) => "category",
                    _ => "text",
                };
                ui.allocate_ui_with_layout(egui::vec2(COLUMN_WIDTH, 34.0), Layout::top_down(Align::Min), |ui| {
                    ui.set_width(COLUMN_WIDTH);
                    ui.add(egui::Label::new(RichText::new(&name).strong()).truncate())
                        .on_hover_text(format!("{name}: {}", column.dtype()));
                    let detail = if role.is_empty() { kind.to_owned() } else { format!("{kind} · {role}") };
                    ui.label(RichText::new(detail).font(theme::small_font()).color(theme::weak_text(dark)));
                });
            }
        });
        ui.separator();
        egui::ScrollArea::vertical().id_salt("table-v").auto_shrink([false, false]).show_rows(
            ui,
            row_height,
            rows,
            |ui, range| {
                for row in range {
                    ui.horizontal(|ui| {
                        ui.allocate_ui_with_layout(
                            egui::vec2(INDEX_WIDTH, row_height),
                            Layout::right_to_left(Align::Center),
                            |ui| {
                                ui.label(
                                    RichText::new((row + 1).to_string()).color(theme::weak_text(dark)).monospace(),
                                );
                            },
                        );
                        for column in columns {
                            let value = column.get(row).unwrap_or(AnyValue::Null);
                            let (text, numeric) = cell_text(&value);
                            let layout = if numeric {
                                Layout::right_to_left(Align::Center)
                            } else {
                                Layout::left_to_right(Align::Center)
                            };
                            ui.allocate_ui_with_layout(egui::vec2(COLUMN_WIDTH, row_height), layout, |ui| {
                                ui.set_width(COLUMN_WIDTH - 8.0);
                                let text = if matches!(value, AnyValue::Null) {
                                    RichText::new(text).color(theme::weak_text(dark))
                                } else {
                                    RichText::new(text)
                                };
                                ui.add(egui::Label::new(text).truncate());
                            });
                        }
                    });
                }
            },
        );
    });
    let _ = rows;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_compactly() {
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(1.5e-7), "1.5000e-7");
        assert_eq!(format_float(f64::NAN), "—");
        assert_eq!(cell_text(&AnyValue::Null).0, "—");
        assert_eq!(cell_text(&AnyValue::Int64(42)), ("42".to_owned(), true));
    }
}
