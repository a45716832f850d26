//! JSON (a model's fitted state, a learner's settings) as a collapsible tree. Objects and arrays open one
//! level at a time, so nothing below a closed node is drawn; long arrays show their first items and a button
//! for more, and arrays of numbers are written inline.

use egui::{Id, RichText, Ui};
use serde_json::Value as Json;

use super::format::{format_float, group_digits};
use crate::theme;

/// Children of an object or array shown at first, and added by each "Show more".
const PAGE: usize = 50;
/// Numbers of an all-number array written inline at first.
const INLINE_NUMBERS: usize = 24;

/// A scalar as text: numbers with [`format_float`] (integers as they are), strings unquoted.
pub fn scalar_text(value: &Json) -> String {
    match value {
        Json::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Json::Number(n) => n.as_f64().map_or_else(|| n.to_string(), format_float),
        Json::String(s) => s.clone(),
        Json::Null => "null".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) => format!("[{}]", counted(items.len(), "item")),
        Json::Object(map) => format!("{{{}}}", counted(map.len(), "key")),
    }
}

/// `n` things: `1 key`, `3 keys`.
fn counted(n: usize, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{} {thing}s", group_digits(n)) }
}

/// The first `limit` numbers of an array of numbers, written inline: `[0.1, 2, 3.5, … 997 more]`; `None`
/// when some item is not a number.
fn inline_numbers(items: &[Json], limit: usize) -> Option<String> {
    if items.is_empty() || !items.iter().all(Json::is_number) {
        return None;
    }
    let shown: Vec<String> = items.iter().take(limit).map(scalar_text).collect();
    let rest = items.len().saturating_sub(limit);
    let more = if rest > 0 { format!(", … {} more", group_digits(rest)) } else { String::new() };
    Some(format!("[{}{more}]", shown.join(", ")))
}

/// Draws `value` as a tree whose nodes keep their open state under `id`.
pub fn json_tree_ui(ui: &mut Ui, id: Id, value: &Json) {
    match value {
        Json::Object(map) => {
            let limit = shown(ui, id, map.len());
            for (key, item) in map.iter().take(limit) {
                entry_ui(ui, id.with(key), key, item);
            }
            more_ui(ui, id, limit, map.len());
        }
        Json::Array(items) => {
            let limit = shown(ui, id, items.len());
            for (i, item) in items.iter().enumerate().take(limit) {
                entry_ui(ui, id.with(i), &format!("[{i}]"), item);
            }
            more_ui(ui, id, limit, items.len());
        }
        scalar => {
            ui.label(scalar_text(scalar));
        }
    }
}

/// How many children of the node `id` are shown.
fn shown(ui: &Ui, id: Id, len: usize) -> usize {
    ui.data(|d| d.get_temp::<usize>(id.with("shown"))).unwrap_or(PAGE).min(len)
}

fn more_ui(ui: &mut Ui, id: Id, limit: usize, len: usize) {
    if limit >= len {
        return;
    }
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{} of {} shown", group_digits(limit), group_digits(len)))
                .color(theme::weak_text(ui.visuals().dark_mode)),
        );
        if ui.small_button(format!("Show {} more", group_digits(PAGE.min(len - limit)))).clicked() {
            ui.data_mut(|d| d.insert_temp(id.with("shown"), limit + PAGE));
        }
    });
}

fn entry_ui(ui: &mut Ui, id: Id, key: &str, value: &Json) {
    let dark = ui.visuals().dark_mode;
    match value {
        Json::Array(items)
            if !items.is_empty() && items.len() <= INLINE_NUMBERS && items.iter().all(Json::is_number) =>
        {
            key_value_ui(ui, key, inline_numbers(items, INLINE_NUMBERS).unwrap_or_default(), dark);
        }
        Json::Object(_) | Json::Array(_) if is_empty(value) => key_value_ui(ui, key, scalar_text(value), dark),
        Json::Object(_) | Json::Array(_) => {
            let preview = match value {
                Json::Array(items) => inline_numbers(items, 6).unwrap_or_else(|| scalar_text(value)),
                _ => scalar_text(value),
            };
            let header = RichText::new(format!("{key}  {preview}"));
            egui::CollapsingHeader::new(header).id_salt(id).show(ui, |ui| {
                if let Json::Array(items) = value
                    && let Some(all) = inline_numbers(items, shown(ui, id, items.len()))
                {
                    ui.add(egui::Label::new(RichText::new(all).monospace()).wrap());
                    more_ui(ui, id, shown(ui, id, items.len()), items.len());
                } else {
                    json_tree_ui(ui, id, value);
                }
            });
        }
        scalar => key_value_ui(ui, key, scalar_text(scalar), dark),
    }
}

fn is_empty(value: &Json) -> bool {
    match value {
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn key_value_ui(ui: &mut Ui, key: &str, value: String, dark: bool) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(key).color(theme::weak_text(dark)));
        ui.add(egui::Label::new(value).truncate());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_read_naturally() {
        assert_eq!(scalar_text(&json!(3)), "3");
        assert_eq!(scalar_text(&json!(0.125)), "0.125");
        assert_eq!(scalar_text(&json!("gini")), "gini");
        assert_eq!(scalar_text(&json!(null)), "null");
        assert_eq!(scalar_text(&json!([1, 2])), "[2 items]");
        assert_eq!(scalar_text(&json!({"a": 1})), "{1 key}");
    }

    #[test]
    fn long_arrays_of_numbers_are_cut() {
        let many: Vec<Json> = (0..1000).map(|i| json!(i)).collect();
        assert_eq!(inline_numbers(&many, 3).as_deref(), Some("[0, 1, 2, … 997 more]"));
        assert_eq!(inline_numbers(&[json!(0.5), json!(2)], 10).as_deref(), Some("[0.5, 2]"));
        assert_eq!(inline_numbers(&[json!(1), json!("a")], 10), None, "mixed arrays are a tree");
        assert_eq!(inline_numbers(&[], 10), None);
    }
}
