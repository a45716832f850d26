//! Learners, models and transforms: their facts as a key–value grid (algorithm, name, task, label, features,
//! classes, hyper-parameters) and their fitted state as a collapsible JSON tree.

use egui::{Id, RichText, Ui};
use pipewright_engine::{Learner, Model, Transform};
use serde_json::Value as Json;

use super::format::{group_digits, task_text};
use super::json::{json_tree_ui, scalar_text};
use crate::theme;

/// Names listed at most in one cell (features, classes); the rest are counted.
const LISTED_NAMES: usize = 40;

/// Names joined with commas, the first [`LISTED_NAMES`] of them, with the total.
fn name_list(names: &[String]) -> String {
    if names.is_empty() {
        return "—".to_owned();
    }
    let listed = names.iter().take(LISTED_NAMES).map(String::as_str).collect::<Vec<_>>().join(", ");
    match names.len() {
        n if n > LISTED_NAMES => format!("{listed}, … ({} in all)", group_digits(n)),
        n if n > 3 => format!("{listed} ({n})"),
        _ => listed,
    }
}

/// The rows of a learner's grid: what it is, then one row per hyper-parameter.
fn learner_facts(learner: &Learner) -> Vec<(String, String)> {
    let tasks = learner.tasks.iter().map(|t| task_text(*t)).collect::<Vec<_>>().join(", ");
    let mut facts = vec![
        ("algorithm".to_owned(), learner.algorithm.clone()),
        ("name".to_owned(), learner.name.clone()),
        ("tasks".to_owned(), if tasks.is_empty() { "—".to_owned() } else { tasks }),
    ];
    facts.extend(learner.params.iter().map(|(key, value)| (key.clone(), scalar_text(value))));
    facts
}

fn model_facts(model: &Model) -> Vec<(String, String)> {
    vec![
        ("algorithm".to_owned(), model.algorithm.clone()),
        ("name".to_owned(), model.name.clone()),
        ("task".to_owned(), task_text(model.task).to_owned()),
        ("label".to_owned(), model.label.clone().unwrap_or_else(|| "—".to_owned())),
        ("features".to_owned(), name_list(&model.features)),
        ("classes".to_owned(), name_list(&model.classes)),
    ]
}

/// Draws an untrained learner: what it is and its hyper-parameters.
pub fn learner_ui(ui: &mut Ui, learner: &Learner) {
    scroll_ui(ui, |ui| {
        let facts = learner_facts(learner);
        let (about, params) = facts.split_at(3);
        facts_ui(ui, "output-learner", about);
        section_ui(ui, "Hyper-parameters");
        if params.is_empty() {
            ui.label(RichText::new("None.").color(theme::weak_text(ui.visuals().dark_mode)));
        } else {
            facts_ui(ui, "output-learner-params", params);
        }
    });
}

/// Draws a trained model: what it learned from and its fitted state.
pub fn model_ui(ui: &mut Ui, model: &Model) {
    scroll_ui(ui, |ui| {
        facts_ui(ui, "output-model", &model_facts(model));
        state_ui(ui, Id::new("output-model-state"), &model.state);
    });
}

/// Draws fitted preprocessing: its kind and fitted state.
pub fn transform_ui(ui: &mut Ui, transform: &Transform) {
    scroll_ui(ui, |ui| {
        let facts = [("kind".to_owned(), transform.kind.clone()), ("name".to_owned(), transform.name.clone())];
        facts_ui(ui, "output-transform", &facts);
        state_ui(ui, Id::new("output-transform-state"), &transform.state);
    });
}

fn scroll_ui(ui: &mut Ui, content: impl FnOnce(&mut Ui)) {
    egui::ScrollArea::vertical().id_salt("output-facts").auto_shrink([false, false]).show(ui, content);
}

fn section_ui(ui: &mut Ui, title: &str) {
    ui.add_space(theme::SPACE_M);
    ui.label(RichText::new(title).strong());
}

/// Keys in the weak colour, values wrapped to the panel.
fn facts_ui(ui: &mut Ui, id: &str, facts: &[(String, String)]) {
    let dark = ui.visuals().dark_mode;
    egui::Grid::new(id).num_columns(2).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
        for (key, value) in facts {
            ui.label(RichText::new(key).color(theme::weak_text(dark)));
            ui.add(egui::Label::new(value.as_str()).wrap());
            ui.end_row();
        }
    });
}

fn state_ui(ui: &mut Ui, id: Id, state: &Json) {
    section_ui(ui, "Fitted state");
    match state {
        Json::Object(map) if map.is_empty() => {
            ui.label(RichText::new("Nothing is stored.").color(theme::weak_text(ui.visuals().dark_mode)));
        }
        Json::Null => {
            ui.label(RichText::new("Nothing is stored.").color(theme::weak_text(ui.visuals().dark_mode)));
        }
        state => json_tree_ui(ui, id, state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_engine::Task;
    use serde_json::json;

    #[test]
    fn long_name_lists_are_counted() {
        let few: Vec<String> = ["a", "b"].map(String::from).to_vec();
        assert_eq!(name_list(&few), "a, b");
        let some: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        assert_eq!(name_list(&some), "f0, f1, f2, f3, f4 (5)");
        let many: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
        assert!(name_list(&many).ends_with("f39, … (1,000 in all)"));
        assert_eq!(name_list(&[]), "—");
    }

    #[test]
    fn learners_list_their_hyper_parameters() {
        let learner = Learner {
            algorithm: pipewright_nodes::model::TwoClassLogisticRegression::ID.into(),
            name: "Two-Class Logistic Regression".into(),
            tasks: vec![Task::BinaryClassification],
            params: [("l2".to_owned(), json!(0.5)), ("max_iter".to_owned(), json!(100))].into_iter().collect(),
        };
        let facts = learner_facts(&learner);
        assert_eq!(facts[2], ("tasks".to_owned(), "two-class classification".to_owned()));
        assert_eq!(&facts[3..], [("l2".to_owned(), "0.5".to_owned()), ("max_iter".to_owned(), "100".to_owned())]);
    }
}
