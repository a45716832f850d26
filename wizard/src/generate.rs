//! The starter workflow: data → (mark the label, leave out identifiers) → clean missing data → indicator
//! values for text columns → normalize when an algorithm needs it → split (stratified for classification) →
//! one branch per algorithm (learner → train → score) → Evaluate Model, laid out left to right.

use serde_json::{Value as Json, json};

use pipewright_engine::{Edge, Node, PortRef, Workflow};
use pipewright_nodes::{data, deploy, evaluate, train, transform};

use crate::WizardError;
use crate::profile::{ColumnKind, Profile};
use crate::recommend::TRAIN_FRACTION;
use crate::rules::{AlgorithmRule, Goal, GoalRule};

/// Algorithms compared side by side at most (the inputs of Evaluate Model).
pub const MAX_COMPARED: usize = 3;

/// Horizontal distance between columns of blocks.
const COLUMN_WIDTH: f32 = 240.0;
/// Vertical distance between branches.
const BRANCH_HEIGHT: f32 = 230.0;

/// The bundled datasets, as the Sample Dataset block offers them.
pub fn sample_names(catalog: &pipewright_engine::Catalog) -> Vec<String> {
    let spec = catalog.get(data::SampleDataset::ID).map(|e| e.spec.clone());
    let choices = spec.and_then(|s| s.params.iter().find(|p| p.name == "dataset").map(|p| p.kind.clone()));
    match choices {
        Some(pipewright_engine::ParamKind::Choice { choices }) => choices.iter().map(|c| (*c).to_owned()).collect(),
        _ => Vec::new(),
    }
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A bundled sample dataset, by name.
    Sample(String),
    /// A file, as the workflow's Import Data block names it (relative to the workflow file, or absolute).
    File(String),
}

impl DataSource {
    /// A short name for titles: the dataset or the file's stem.
    pub fn short_name(&self) -> String {
        match self {
            Self::Sample(name) => name.clone(),
            Self::File(path) => {
                let file = std::path::Path::new(path).file_name().map(|f| f.to_string_lossy().into_owned());
                let file = file.unwrap_or_else(|| path.clone());
                file.split('.').next().unwrap_or(&file).to_owned()
            }
        }
    }

    /// The block that reads it.
    pub fn node(&self) -> Node {
        match self {
            Self::Sample(name) => node("data", data::SampleDataset::ID, json!({ "dataset": name })),
            Self::File(path) => node("data", data::ImportData::ID, json!({ "path": path })),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    /// The data.
    pub data: &'a DataSource,
    /// The label column, if any.
    pub label: Option<&'a str>,
    /// The goal's rule (its family names the workflow; a goal without blocks generates nothing).
    pub goal: &'a GoalRule,
    /// The algorithms, best first; more than one are compared side by side.
    pub algorithms: &'a [&'a AlgorithmRule],
    /// "Try them all": instead of the algorithms, Train Best Model tries every learner of the goal (each with a
    /// search of its settings, cross-validated) and the winner is scored, evaluated and packaged.
    pub try_all: bool,
}

fn node(id: &str, kind: &str, params: Json) -> Node {
    let params = match params {
        Json::Object(map) => map.into_iter().collect(),
        _ => std::collections::BTreeMap::new(),
    };
    Node { id: id.to_owned(), kind: kind.to_owned(), title: None, params, position: [0.0, 0.0] }
}

/// Places blocks column by column and wires them.
struct Builder {
    workflow: Workflow,
}

impl Builder {
    fn add(&mut self, mut node: Node, column: usize, y: f32) -> String {
        node.position = [column as f32 * COLUMN_WIDTH, y];
        let id = node.id.clone();
        self.workflow.nodes.push(node);
        id
    }

    fn titled(&mut self, mut node: Node, title: &str, column: usize, y: f32) -> String {
        node.title = Some(title.to_owned());
        self.add(node, column, y)
    }

    fn wire(&mut self, from: (&str, &str), to: (&str, &str)) {
        self.workflow.edges.push(Edge { from: PortRef::new(from.0, from.1), to: PortRef::new(to.0, to.1) });
    }
}

/// The id of a learner block: its kind without the category.
fn learner_id(kind: &str) -> String {
    kind.strip_prefix("model.").unwrap_or(kind).to_owned()
}

/// The evaluation input a branch's scores go to.
fn evaluate_port(branch: usize) -> String {
    if branch == 0 { "scored".to_owned() } else { format!("scored_{}", branch + 1) }
}

/// Builds the starter workflow.
#[allow(clippy::too_many_lines, reason = "the chain of blocks reads best in order, top to bottom")]
pub fn generate(profile: &Profile, choice: &Choice<'_>) -> Result<Workflow, WizardError> {
    let goal = choice.goal.id;
    if choice.goal.unavailable.is_some() {
        return Err(WizardError::Unavailable(goal));
    }
    let family = choice.goal.family.to_lowercase();
    let best_goal = match goal {
        Goal::TwoClass => Some("two_class"),
        Goal::Multiclass => Some("multiclass"),
        Goal::Values => Some("regression"),
        _ => None,
    };
    if choice.try_all && best_goal.is_none() {
        return Err(WizardError::TryAllNeedsPrediction(goal));
    }
    if choice.algorithms.is_empty() && !choice.try_all {
        return Err(WizardError::NoAlgorithm);
    }
    if choice.algorithms.len() > MAX_COMPARED {
        return Err(WizardError::TooMany(choice.algorithms.len()));
    }
    let label = match choice.label {
        Some(name) => Some(profile.label(name).ok_or_else(|| WizardError::NoColumn {
            name: name.to_owned(),
            columns: profile.columns.iter().map(|c| c.name.clone()).collect(),
        })?),
        None if goal.needs_label() => return Err(WizardError::NeedsLabel(goal)),
        None => None,
    };
    // Anomaly metrics need a two-class label; any other label is left out.
    let label = label.filter(|l| goal != Goal::Unusual || l.distinct == 2);
    let label_name = label.as_ref().map(|l| l.name.clone());
    let mut ignored: Vec<String> = profile.left_out(label_name.as_deref()).iter().map(|c| c.name.clone()).collect();
    if let Some(marked) = &profile.marked_label
        && label_name.is_none()
    {
        ignored.push(marked.clone());
    }
    if let (Some(chosen), None) = (choice.label, &label_name) {
        ignored.push(chosen.to_owned());
    }
    ignored.sort();
    ignored.dedup();
    ignored.retain(|c| profile.column(c).is_some());
    let features: Vec<&str> = profile
        .features(label_name.as_deref())
        .map(|c| c.name.as_str())
        .filter(|c| !ignored.iter().any(|i| i == c))
        .collect();
    if features.is_empty() {
        return Err(WizardError::NoFeatures);
    }

    let names: Vec<String> = choice.algorithms.iter().map(|a| learner_id(&a.kind)).collect();
    let mut workflow = Workflow::new(format!("{} · {family}", choice.data.short_name()));
    let with = if choice.try_all { "every learner tried (Train Best Model)".to_owned() } else { names.join(", ") };
    workflow.description = format!(
        "Generated by the cheat-sheet wizard: {}{}, with {with}.",
        family,
        label_name.as_deref().map(|l| format!(" of {l}")).unwrap_or_default(),
    );
    let mut b = Builder { workflow };
    let mut column = 0;
    let mut last = b.add(choice.data.node(), column, 0.0);
    let mut chain = |b: &mut Builder, node: Node, title: &str| {
        column += 1;
        let id = b.titled(node, title, column, 0.0);
        b.wire((&last, "data"), (&id, "data"));
        last = id;
    };
    // Train Model is told the label; marking it is needed where other blocks must leave it alone: a number
    // that Normalize Data would rescale, or a label the clustering and anomaly blocks must not learn from.
    if let Some(label) = &label
        && profile.marked_label.as_deref() != Some(label.name.as_str())
        && (label.kind != ColumnKind::Text || !goal.needs_label())
    {
        let mark = node("label", transform::EditMetadata::ID, json!({ "columns": [label.name], "role": "label" }));
        chain(&mut b, mark, "Mark the label");
    }
    if !ignored.is_empty() {
        let ignore = node("leave_out", transform::EditMetadata::ID, json!({ "columns": ignored, "role": "ignored" }));
        let title = if ignored.len() == 1 {
            "Leave out 1 column".to_owned()
        } else {
            format!("Leave out {} columns", ignored.len())
        };
        chain(&mut b, ignore, &title);
    }
    if let Some(label) = &label
        && label.missing > 0
    {
        let drop = node(
            "unlabelled",
            transform::CleanMissingData::ID,
            json!({ "columns": [label.name], "mode": "remove_row" }),
        );
        chain(&mut b, drop, "Remove unlabelled rows");
    }
    let with_missing: Vec<&str> =
        features.iter().copied().filter(|f| profile.column(f).is_some_and(|c| c.missing > 0)).collect();
    let cleaned = if with_missing.is_empty() { &features } else { &with_missing };
    chain(
        &mut b,
        node("clean", transform::CleanMissingData::ID, json!({ "columns": cleaned, "mode": "mean" })),
        "Clean Missing Data",
    );
    // The fitted transforms a package replays, in the order they apply.
    let mut fitted = vec!["clean".to_owned()];
    let text: Vec<&str> =
        features.iter().copied().filter(|f| profile.column(f).is_some_and(|c| c.kind == ColumnKind::Text)).collect();
    if !text.is_empty() {
        let indicators = node("indicators", transform::ConvertToIndicatorValues::ID, json!({ "columns": text }));
        chain(&mut b, indicators, "Convert to Indicator Values");
        fitted.push("indicators".into());
    }
    // Trying them all includes learners that need scaled features.
    if choice.try_all || choice.algorithms.iter().any(|a| a.needs_scaling) {
        chain(&mut b, node("normalize", transform::NormalizeData::ID, json!({ "method": "zscore" })), "Normalize Data");
        fitted.push("normalize".into());
    }
    let prepared = last.clone();
    let (train_data, test_data) = if goal == Goal::Structure {
        ((prepared.clone(), "data"), (prepared, "data"))
    } else {
        let stratify = label_name.as_ref().filter(|_| goal.is_classification() || goal == Goal::Unusual);
        let mut params = json!({ "fraction": TRAIN_FRACTION });
        if let Some(label) = stratify {
            params["stratify_column"] = json!(label);
        }
        column += 1;
        let split = b.add(node("split", transform::SplitData::ID, params), column, 0.0);
        b.wire((&prepared, "data"), (&split, "data"));
        ((split.clone(), "first"), (split, "second"))
    };

    if let (true, Some(best_goal)) = (choice.try_all, best_goal) {
        let label = label_name.as_deref().unwrap_or_default();
        try_all(&mut b, (train_data, test_data), column + 1, label, best_goal, &fitted, &choice.data.short_name());
        return Ok(b.workflow);
    }
    let wraps = choice.algorithms.iter().any(|a| a.wraps.is_some());
    let learner_column = column + 1 + usize::from(wraps);
    let n = choice.algorithms.len();
    for (i, (rule, id)) in choice.algorithms.iter().zip(&names).enumerate() {
        let y = (i as f32 - (n as f32 - 1.0) / 2.0) * BRANCH_HEIGHT;
        let learner = b.add(node(id, &rule.kind, json!({})), learner_column, y - 90.0);
        if let Some(wrapped) = &rule.wraps {
            let base = b.add(node(&format!("{id}_learner"), wrapped, json!({})), learner_column - 1, y - 90.0);
            b.wire((&base, "learner"), (&learner, "learner"));
        }
        let train_id = format!("train_{id}");
        let score_id = format!("score_{id}");
        let (train_kind, train_params, score_kind) = match goal {
            Goal::Structure => (train::TrainClusteringModel::ID, json!({}), train::AssignDataToClusters::ID),
            Goal::Unusual => (train::TrainAnomalyDetectionModel::ID, json!({}), train::ScoreModel::ID),
            _ => (train::TrainModel::ID, json!({ "label_column": label_name }), train::ScoreModel::ID),
        };
        let train = b.add(node(&train_id, train_kind, train_params), learner_column + 1, y);
        b.wire((&learner, "learner"), (&train, "learner"));
        b.wire((&train_data.0, train_data.1), (&train, "data"));
        let score = b.add(node(&score_id, score_kind, json!({})), learner_column + 2, y);
        b.wire((&train, "model"), (&score, "model"));
        b.wire((&test_data.0, test_data.1), (&score, "data"));
    }
    let title = if n > 1 { format!("Compare {n} models") } else { "Evaluate".to_owned() };
    let evaluate = b.titled(node("evaluate", evaluate::EvaluateModel::ID, json!({})), &title, learner_column + 3, 0.0);
    for (i, id) in names.iter().enumerate() {
        b.wire((&format!("score_{id}"), "data"), (&evaluate, &evaluate_port(i)));
    }
    Ok(b.workflow)
}

/// "Try them all": Train Best Model on the training rows, its winner scored on the test rows, evaluated, and
/// packaged with the fitted transforms in front of it.
fn try_all(
    b: &mut Builder,
    (train_data, test_data): ((String, &str), (String, &str)),
    column: usize,
    label: &str,
    goal: &str,
    fitted: &[String],
    name: &str,
) {
    let best = b.titled(
        node("best", train::TrainBestModel::ID, json!({ "label_column": label, "goal": goal })),
        "Try every learner",
        column,
        0.0,
    );
    b.wire((&train_data.0, train_data.1), (&best, "data"));
    let score = b.add(node("score_best", train::ScoreModel::ID, json!({})), column + 1, 0.0);
    b.wire((&best, "model"), (&score, "model"));
    b.wire((&test_data.0, test_data.1), (&score, "data"));
    let evaluate =
        b.titled(node("evaluate", evaluate::EvaluateModel::ID, json!({})), "Evaluate the winner", column + 2, 0.0);
    b.wire((&score, "data"), (&evaluate, "scored"));
    let file =
        format!("models/{}-best.pwmodel", name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    let package = b.titled(
        node("package", deploy::ExportModelPackage::ID, json!({ "path": file })),
        "Export Model Package",
        column + 3,
        0.0,
    );
    b.wire((&best, "model"), (&package, "model"));
    for (i, id) in fitted.iter().take(4).enumerate() {
        let port = if i == 0 { "transform".to_owned() } else { format!("transform_{}", i + 1) };
        b.wire((id, "transform"), (&package, &port));
    }
    b.wire((&evaluate, "report"), (&package, "report"));
    b.wire(("data", "data"), (&package, "data"));
}
