//! The values that flow on wires, shared through `Arc`: none changes while another holder can see it (a block may
//! change a table in place only when the run handed it the only reference, see `NodeContext::take_table`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::schema::{ColumnInfo, ColumnType, Role, Schema};
use crate::spec::PortType;

/// A table: a Polars data frame plus the column roles learners read.
#[derive(Debug, Clone)]
pub struct Table {
    /// The data.
    pub frame: DataFrame,
    /// Roles of columns that are not plain features.
    pub roles: BTreeMap<String, Role>,
    /// Numeric columns marked categorical (text columns always are).
    pub categorical: BTreeSet<String>,
    /// Facts blocks leave for later blocks, such as the columns a clustering used (`clustering.features`).
    pub attributes: BTreeMap<String, Json>,
}

impl Table {
    /// A table whose columns are all features.
    pub fn new(frame: DataFrame) -> Self {
        Self { frame, roles: BTreeMap::new(), categorical: BTreeSet::new(), attributes: BTreeMap::new() }
    }

    /// The same roles and categorical marks on a new frame, for the columns that still exist.
    pub fn with_frame(&self, frame: DataFrame) -> Self {
        let keep = |name: &String| frame.column(name).is_ok();
        Self {
            roles: self.roles.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), *v)).collect(),
            categorical: self.categorical.iter().filter(|k| keep(k)).cloned().collect(),
            attributes: self.attributes.clone(),
            frame,
        }
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// The role of a column.
    pub fn role(&self, name: &str) -> Role {
        self.roles.get(name).copied().unwrap_or_default()
    }

    /// The column marked as label, if exactly one is.
    pub fn label(&self) -> Option<&str> {
        let mut labels = self.roles.iter().filter(|(_, r)| **r == Role::Label);
        match (labels.next(), labels.next()) {
            (Some((name, _)), None) => Some(name),
            _ => None,
        }
    }

    /// The schema.
    pub fn schema(&self) -> Schema {
        Schema {
            columns: self
                .frame
                .columns()
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name().to_string(),
                    ty: ColumnType::of(c.dtype()),
                    role: self.role(c.name()),
                })
                .collect(),
        }
    }
}

/// What a learner learns, which decides how it is trained, scored and evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes.
    BinaryClassification,
    /// Three or more classes.
    MulticlassClassification,
    /// A number.
    Regression,
    /// Groups without a label.
    Clustering,
    /// Rows unlike the rest, learned without a label.
    AnomalyDetection,
}

impl Task {
    /// The name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::BinaryClassification => "two-class classification",
            Self::MulticlassClassification => "multiclass classification",
            Self::Regression => "regression",
            Self::Clustering => "clustering",
            Self::AnomalyDetection => "anomaly detection",
        }
    }

    /// Whether it predicts classes.
    pub fn is_classification(self) -> bool {
        matches!(self, Self::BinaryClassification | Self::MulticlassClassification)
    }
}

/// An untrained model: an algorithm and its hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Learner {
    /// The kind id of the node that declared it, which also names the algorithm.
    pub algorithm: String,
    /// Display name.
    pub name: String,
    /// The tasks it can learn; the first is the one it learns when the label allows several.
    pub tasks: Vec<Task>,
    /// Checked hyperparameters, with the seed resolved.
    pub params: BTreeMap<String, Json>,
}

/// Fitted state decoded into its typed struct, once, when the model or transform is loaded or fitted; predicting
/// reads it and never parses JSON. Clones share the decoded value. Whoever changes the serialized state builds
/// a new `Decoded` (the default, empty one) beside it.
#[derive(Clone, Default)]
pub struct Decoded(Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>);

impl Decoded {
    /// A slot already holding `value`, for state fitted in this process.
    pub fn holding<T: std::any::Any + Send + Sync>(value: T) -> Self {
        Self::holding_shared(Arc::new(value))
    }

    /// A slot already holding the shared `value`.
    pub fn holding_shared<T: std::any::Any + Send + Sync>(value: Arc<T>) -> Self {
        let slot = Self::default();
        let _ = slot.0.set(value);
        slot
    }

    /// The decoded value, decoding it with `decode` the first time. A value of another type (never expected)
    /// is decoded afresh and not kept.
    pub fn get_or_decode<T, E>(&self, decode: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E>
    where
        T: std::any::Any + Send + Sync,
    {
        if let Some(value) = self.0.get() {
            if let Ok(typed) = Arc::clone(value).downcast::<T>() {
                return Ok(typed);
            }
            return decode().map(Arc::new);
        }
        let typed = Arc::new(decode()?);
        let _ = self.0.set(Arc::clone(&typed) as Arc<dyn std::any::Any + Send + Sync>);
        Ok(typed)
    }

    /// Whether the state has been decoded.
    pub fn is_decoded(&self) -> bool {
        self.0.get().is_some()
    }
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_decoded() { "Decoded(yes)" } else { "Decoded(no)" })
    }
}

/// The decoded form is a cache of the serialized state: it never makes two values differ.
impl PartialEq for Decoded {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A model's fitted state as JSON: read from a file, or, for a state fitted in this process, serialized from the
/// typed state the first time it is read (when the model is stored, shown or packaged), so that a run that only
/// scores with the model never pays for it. Clones share it.
#[derive(Clone)]
pub struct StateJson {
    json: Arc<std::sync::OnceLock<Json>>,
    make: Option<Arc<dyn Fn() -> Json + Send + Sync>>,
}

impl StateJson {
    /// JSON made by `make` the first time it is read.
    pub fn lazy(make: impl Fn() -> Json + Send + Sync + 'static) -> Self {
        Self { json: Arc::default(), make: Some(Arc::new(make)) }
    }

    /// The JSON, made now if it has not been yet.
    pub fn get(&self) -> &Json {
        self.json.get_or_init(|| self.make.as_ref().map_or(Json::Null, |make| make()))
    }
}

impl From<Json> for StateJson {
    fn from(json: Json) -> Self {
        Self { json: Arc::new(std::sync::OnceLock::from(json)), make: None }
    }
}

impl std::ops::Deref for StateJson {
    type Target = Json;

    fn deref(&self) -> &Json {
        self.get()
    }
}

impl PartialEq for StateJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for StateJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for StateJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StateJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Json::deserialize(deserializer).map(Self::from)
    }
}

/// A trained model and the feature schema it expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The learner's algorithm id.
    pub algorithm: String,
    /// Display name.
    pub name: String,
    /// What it predicts.
    pub task: Task,
    /// The label column it was trained on (none for clustering).
    pub label: Option<String>,
    /// The feature columns it reads, in order.
    pub features: Vec<String>,
    /// Class names in the order of its probabilities (classification), as text.
    pub classes: Vec<String>,
    /// Algorithm-specific fitted state, serialized.
    pub state: StateJson,
    /// The same state decoded into the algorithm's typed struct.
    #[serde(skip)]
    pub decoded: Decoded,
}

/// Fitted preprocessing that can be applied to other data with the same columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    /// The kind id of the node that fitted it.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Kind-specific fitted state, serialized.
    pub state: Json,
    /// The same state decoded into the kind's typed struct.
    #[serde(skip)]
    pub decoded: Decoded,
}

/// One named number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name such as `accuracy`.
    pub name: String,
    /// Value.
    pub value: f64,
}

/// Points of a curve such as ROC or precision–recall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Name such as `roc`.
    pub name: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Points.
    pub points: Vec<[f64; 2]>,
}

/// A confusion matrix: `counts[actual][predicted]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names, in row and column order.
    pub classes: Vec<String>,
    /// Counts by actual (row) and predicted (column) class.
    pub counts: Vec<Vec<u64>>,
}

/// The evaluation of one scored table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Which input it came from, such as `scored` or `scored_2`.
    pub source: String,
    /// What was evaluated.
    pub task: Task,
    /// Metrics; the first is the headline.
    pub metrics: Vec<Metric>,
    /// Classification only.
    pub confusion: Option<ConfusionMatrix>,
    /// ROC and precision–recall points (binary classification).
    pub curves: Vec<Curve>,
}

impl Evaluation {
    /// The metric with this name.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }
}

/// Metrics and charts; several evaluations side by side when several inputs were scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One entry per evaluated input.
    pub evaluations: Vec<Evaluation>,
}

/// A value on a wire.
#[derive(Debug, Clone)]
pub enum Value {
    /// A table.
    Table(Arc<Table>),
    /// A table read from its source a batch at a time (larger than the memory budget).
    Stream(Arc<crate::stream::TableStream>),
    /// An untrained model.
    Learner(Arc<Learner>),
    /// A trained model.
    Model(Arc<Model>),
    /// Fitted preprocessing.
    Transform(Arc<Transform>),
    /// Metrics.
    Report(Arc<Report>),
}

impl Value {
    /// The port type it flows on.
    pub fn port_type(&self) -> PortType {
        match self {
            Self::Table(_) | Self::Stream(_) => PortType::Table,
            Self::Learner(_) => PortType::Learner,
            Self::Model(_) => PortType::Model,
            Self::Transform(_) => PortType::Transform,
            Self::Report(_) => PortType::Report,
        }
    }

    /// A one-line summary for the canvas and the CLI.
    pub fn summary(&self) -> String {
        match self {
            Self::Table(t) => {
                let shape = format!("{} rows × {} columns", t.frame.height(), t.frame.width());
                // A block may leave a note for the user on its output, such as "no row matched the filter".
                match t.attributes.get("warning").and_then(|w| w.as_str()) {
                    Some(warning) => format!("{shape} ({warning})"),
                    None => shape,
                }
            }
            Self::Stream(s) => format!("streamed from {}, a batch at a time", s.describe()),
            Self::Learner(l) => format!("learner: {}", l.name),
            Self::Model(m) => format!("model: {} on {} features", m.name, m.features.len()),
            Self::Transform(t) => format!("transform: {}", t.name),
            Self::Report(r) => r
                .evaluations
                .iter()
                .filter_map(|e| e.metrics.first().map(|m| format!("{} {} = {:.4}", e.source, m.name, m.value)))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_lazy_state_is_serialized_once_when_first_read_and_equals_the_same_json_read_from_a_file() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let lazy = StateJson::lazy(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            serde_json::json!({ "w": [1.5, -2.0] })
        });
        let shared = lazy.clone();
        assert_eq!(made.load(Ordering::SeqCst), 0, "nothing read it yet");
        assert_eq!(shared["w"][1], -2.0);
        assert_eq!(lazy.get(), shared.get());
        assert_eq!(made.load(Ordering::SeqCst), 1, "clones share the one serialization");
        let text = serde_json::to_string(&lazy).expect("serializes");
        assert_eq!(text, r#"{"w":[1.5,-2.0]}"#);
        let read: StateJson = serde_json::from_str(&text).expect("reads");
        assert_eq!(read, lazy);
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }
}
