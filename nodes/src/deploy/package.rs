//! The model package (`*.pwmodel`): one JSON file with a manifest (format version, when and by which
//! Pipewright it was made, the input fields and their JSON Schema, the outputs, metrics, where it came from)
//! and every fitted step from raw input to prediction — cleaning, indicator values, normalization, the
//! model — in the same serde form the workflow's values have. It loads with no project around it.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::{Model, NodeError, Report, Role, Table, Task, Transform};

use super::fields::{self, Field, FieldType, Problem};
use super::profile::{self, ColumnProfile, Profile};
use crate::train::{ANOMALY_SCORE, PROBABILITY_PREFIX, SCORED_LABELS};

/// The `format` of every package.
pub const FORMAT: &str = "pipewright-model-package";
/// The newest package version this build writes and reads.
pub const VERSION: u32 = 1;
/// The file extension.
pub const EXTENSION: &str = "pwmodel";

/// One output field of a prediction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputField {
    /// Key in each prediction object.
    pub name: String,
    /// JSON type.
    #[serde(rename = "type")]
    pub ty: String,
    /// What it holds.
    pub description: String,
}

/// A metric the model was evaluated with when it was packaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageMetric {
    /// The evaluated input (`scored`, `scored_2`…).
    pub source: String,
    /// Metric name.
    pub name: String,
    /// Value.
    pub value: f64,
}

/// Where a package came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The workflow file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The block that made the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The run in the project store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

/// What a package is, readable without the steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The package version it was written in.
    pub version: u32,
    /// The name shown on the endpoint.
    pub name: String,
    /// When it was made (UTC, RFC 3339).
    pub created: String,
    /// The Pipewright version that made it.
    pub pipewright_version: String,
    /// What the model predicts.
    pub task: Task,
    /// The algorithm's block kind.
    pub algorithm: String,
    /// The label column it was trained on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Classes, in the order of the probabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// The fields of one input record.
    pub inputs: Vec<Field>,
    /// The same as JSON Schema, for tools that read it.
    pub input_schema: Json,
    /// The fields of one prediction.
    pub outputs: Vec<OutputField>,
    /// Evaluation metrics at packaging time.
    #[serde(default)]
    pub metrics: Vec<PackageMetric>,
    /// Where it came from.
    #[serde(default)]
    pub source: Source,
    /// One record to try the endpoint with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Json>,
    /// What the training rows looked like, for monitoring; absent when the raw rows were not at hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// A model package: the manifest, the fitted steps in order, and the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// What it is.
    pub manifest: Manifest,
    /// Fitted preprocessing, applied in order to the input fields.
    pub steps: Vec<Transform>,
    /// The trained model.
    pub model: Model,
}

/// Why a package cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The file cannot be read or written.
    #[error("{0}")]
    Io(String),
    /// The file is not a package this build can use.
    #[error("{0}")]
    Format(String),
}

/// Why input cannot be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The input does not fit the package's fields.
    #[error("{}", fields::describe(.0))]
    Invalid(Vec<Problem>),
    /// A step or the model failed.
    #[error("{0}")]
    Failed(#[from] NodeError),
}

/// What goes into a package besides the fitted values.
#[derive(Debug, Clone, Default)]
pub struct PackageInfo<'a> {
    /// The endpoint's name; the model's name when empty.
    pub name: String,
    /// The evaluation to take metrics from.
    pub report: Option<&'a Report>,
    /// Raw rows the pipeline starts from: checked against the fields, ordering them, and giving the example.
    pub data: Option<&'a Table>,
    /// Where it came from.
    pub source: Source,
}

impl Package {
    /// A package of `model` after the fitted `steps`, in the order they were applied.
    pub fn build(model: &Model, steps: &[Transform], info: &PackageInfo<'_>) -> Result<Self, NodeError> {
        if model.task != Task::Clustering {
            crate::model::algorithm_of(&model.algorithm)?;
        }
        let (mut inputs, steps) = fields::derive(model, steps)?;
        let mut example = None;
        if let Some(data) = info.data {
            let absent: Vec<&str> =
                inputs.iter().filter(|f| data.frame.column(&f.name).is_err()).map(|f| f.name.as_str()).collect();
            if !absent.is_empty() {
                return Err(NodeError::data(format!(
                    "the model needs column(s) {} that the raw data lacks: connect every fitted transform between the data and the model (indicator values, PCA…)",
                    absent.join(", ")
                )));
            }
            let position = |name: &str| data.frame.get_column_index(name).unwrap_or(usize::MAX);
            inputs.sort_by_key(|f| position(&f.name));
            example = example_record(&inputs, data);
        }
        let name = if info.name.trim().is_empty() { model.name.clone() } else { info.name.trim().to_owned() };
        let metrics = info
            .report
            .map(|r| {
                r.evaluations
                    .iter()
                    .flat_map(|e| {
                        e.metrics.iter().map(|m| PackageMetric {
                            source: e.source.clone(),
                            name: m.name.clone(),
                            value: m.value,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            input_schema: fields::json_schema(&name, &inputs),
            name,
            created: rfc3339(SystemTime::now()),
            pipewright_version: env!("CARGO_PKG_VERSION").into(),
            task: model.task,
            algorithm: model.algorithm.clone(),
            label: model.label.clone(),
            classes: model.classes.clone(),
            inputs,
            outputs: outputs_of(model),
            metrics,
            source: info.source.clone(),
            example,
            profile: None,
        };
        let mut package = Self { manifest, steps, model: model.clone() };
        // The package must score what it describes: its own example, or a record of plain values.
        let trial = package.manifest.example.clone().unwrap_or_else(|| package.plain_record());
        package.score_records(&[trial]).map_err(|e| {
            NodeError::data(format!(
                "the package does not score a record of its own fields ({e}): check the transforms"
            ))
        })?;
        if let Some(data) = info.data {
            package.manifest.profile = Some(package.profile_of(data)?);
        }
        Ok(package)
    }

    /// The training profile of raw rows: each input field, and the predictions with their scores on those rows
    /// (left out when the rows cannot be scored as they are, such as rows missing a required value).
    fn profile_of(&self, data: &Table) -> Result<Profile, NodeError> {
        let features = profile::of_fields(&self.manifest.inputs, data)?;
        let mut profile = Profile { rows: data.height() as u64, features, prediction: None, score: None };
        let Ok(typed) = fields::from_table(&self.manifest.inputs, data) else { return Ok(profile) };
        let Ok(scored) = self.score_typed(typed) else { return Ok(profile) };
        let (prediction, score) = self.answers(&scored)?;
        profile.prediction = Some(prediction);
        profile.score = score;
        Ok(profile)
    }

    /// The predictions and scores of scored rows, profiled.
    fn answers(&self, scored: &Table) -> Result<(ColumnProfile, Option<ColumnProfile>), NodeError> {
        let frame = &scored.frame;
        let numbers = |name: &str| crate::frame::numeric_values(frame, name);
        Ok(match self.model.task {
            Task::BinaryClassification | Task::MulticlassClassification => {
                let labels = crate::frame::text_values(frame, SCORED_LABELS)?;
                let mut scores = vec![None; labels.len()];
                for class in &self.model.classes {
                    let p = numbers(&format!("{PROBABILITY_PREFIX}{class}"))?;
                    for (i, label) in labels.iter().enumerate() {
                        if label.as_deref() == Some(class.as_str()) {
                            scores[i] = p[i];
                        }
                    }
                }
                (ColumnProfile::categorical("prediction", &labels), Some(ColumnProfile::numeric("score", &scores)))
            }
            Task::Regression => (ColumnProfile::numeric("prediction", &numbers(SCORED_LABELS)?), None),
            Task::AnomalyDetection => (
                ColumnProfile::numeric("prediction", &numbers(SCORED_LABELS)?),
                Some(ColumnProfile::numeric("score", &numbers(ANOMALY_SCORE)?)),
            ),
            Task::Clustering => (
                ColumnProfile::numeric("prediction", &numbers(crate::train::ASSIGNMENTS)?),
                Some(ColumnProfile::numeric("score", &numbers(crate::train::DISTANCE)?)),
            ),
        })
    }

    /// A record with a plain value for every field: 0, the first category, empty text.
    pub fn plain_record(&self) -> Json {
        let record: serde_json::Map<String, Json> = self
            .manifest
            .inputs
            .iter()
            .map(|f| {
                let value = match f.ty {
                    FieldType::Number => json!(0.0),
                    FieldType::Text => json!(""),
                    FieldType::Category => f.categories.first().map_or(Json::Null, |c| json!(c)),
                };
                (f.name.clone(), value)
            })
            .collect();
        Json::Object(record)
    }

    /// The package as JSON text.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        serde_json::to_vec(self).map_err(|e| PackageError::Format(format!("cannot write the package: {e}")))
    }

    /// A package from JSON text, checked: its format, a version this build reads, algorithms and steps it
    /// knows.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PackageError> {
        let format = |m: String| PackageError::Format(m);
        let head: Json = serde_json::from_slice(bytes)
            .map_err(|e| format(format!("not a model package: the file is not valid JSON ({e})")))?;
        let manifest = head.get("manifest");
        if manifest.and_then(|m| m.get("format")).and_then(Json::as_str) != Some(FORMAT) {
            return Err(format(
                "not a Pipewright model package (its manifest does not say \"format\": \"pipewright-model-package\")"
                    .into(),
            ));
        }
        let version = manifest.and_then(|m| m.get("version")).and_then(Json::as_u64).unwrap_or(0);
        if version == 0 || version > u64::from(VERSION) {
            return Err(format(format!(
                "the package has format version {version}; this Pipewright reads versions 1 to {VERSION}: update Pipewright"
            )));
        }
        let package: Self =
            serde_json::from_value(head).map_err(|e| format(format!("the model package is damaged: {e}")))?;
        if package.model.task != Task::Clustering && crate::model::algorithm(&package.model.algorithm).is_none() {
            return Err(format(format!(
                "the package's model is a \"{}\", which this Pipewright does not have: update Pipewright",
                package.model.algorithm
            )));
        }
        // Every step and the model are decoded into their typed state now, once, and checked against each
        // other: a damaged package is refused here, naming the step, never while scoring.
        for (index, step) in package.steps.iter().enumerate() {
            crate::transform::load(step)
                .map_err(|e| format(format!("step {} ({}) of the package: {e}", index + 1, step.name)))?;
        }
        if crate::model::algorithm(&package.model.algorithm).is_some() {
            crate::model::load(&package.model).map_err(|e| format(format!("the package's model: {e}")))?;
        }
        fields::derive(&package.model, &package.steps).map_err(|e| format(format!("the package's steps: {e}")))?;
        Ok(package)
    }

    /// Reads a package file.
    pub fn read(path: &Path) -> Result<Self, PackageError> {
        let bytes =
            std::fs::read(path).map_err(|e| PackageError::Io(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            PackageError::Format(m) => PackageError::Format(format!("{}: {m}", path.display())),
            other @ PackageError::Io(_) => other,
        })
    }

    /// Writes the package atomically: a temporary file beside it, then renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), PackageError> {
        let bytes = self.to_bytes()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| PackageError::Io(format!("cannot create the folder {}: {e}", dir.display())))?;
        }
        pipewright_engine::write_atomic(path, &bytes)
            .map_err(|e| PackageError::Io(format!("cannot write {}: {e}", path.display())))
    }

    /// Scores a table of raw rows: the rows as they are with the prediction columns of Score Model added
    /// (`Scored Labels`, `Scored Probabilities_<class>`…).
    pub fn score_table(&self, table: &Table) -> Result<Table, ScoreError> {
        let typed = fields::from_table(&self.manifest.inputs, table).map_err(ScoreError::Invalid)?;
        let scored = self.score_typed(typed)?;
        let mut out = table.clone();
        for column in scored.frame.columns() {
            if scored.role(column.name()) == Role::Score {
                out.frame.with_column(column.clone()).map_err(NodeError::from)?;
                out.roles.insert(column.name().to_string(), Role::Score);
            }
        }
        Ok(out)
    }

    /// Scores JSON records: one prediction object per record.
    pub fn score_records(&self, records: &[Json]) -> Result<Vec<Json>, ScoreError> {
        let typed = fields::from_records(&self.manifest.inputs, records).map_err(ScoreError::Invalid)?;
        self.predictions(&self.score_typed(typed)?)
    }

    /// Scores CSV text with a header row: one prediction object per row.
    pub fn score_csv(&self, text: &[u8]) -> Result<Vec<Json>, ScoreError> {
        let typed = fields::from_csv(&self.manifest.inputs, text).map_err(ScoreError::Invalid)?;
        self.predictions(&self.score_typed(typed)?)
    }

    /// The steps and the model on a table of the package's typed fields.
    fn score_typed(&self, typed: Table) -> Result<Table, ScoreError> {
        let rows = typed.height();
        let mut table = typed;
        for step in &self.steps {
            table = crate::transform::apply(step, &table)?;
        }
        let scored = crate::train::score(&self.model, &table)?;
        if scored.height() != rows {
            return Err(ScoreError::Failed(NodeError::data(format!(
                "the package's steps kept {} of {rows} rows: a step removes rows, which scoring cannot",
                scored.height()
            ))));
        }
        Ok(scored)
    }

    /// One prediction object per scored row.
    fn predictions(&self, scored: &Table) -> Result<Vec<Json>, ScoreError> {
        let frame = &scored.frame;
        let rows = scored.height();
        let numbers = |name: &str| crate::frame::numeric_values(frame, name);
        let out = match self.model.task {
            Task::BinaryClassification | Task::MulticlassClassification => {
                let labels = crate::frame::text_values(frame, SCORED_LABELS)?;
                let probabilities = self
                    .model
                    .classes
                    .iter()
                    .map(|c| numbers(&format!("{PROBABILITY_PREFIX}{c}")))
                    .collect::<Result<Vec<_>, _>>()?;
                (0..rows)
                    .map(|i| {
                        let p: serde_json::Map<String, Json> = self
                            .model
                            .classes
                            .iter()
                            .zip(&probabilities)
                            .map(|(c, v)| (c.clone(), json!(v[i])))
                            .collect();
                        json!({ "prediction": labels[i], "probabilities": p })
                    })
                    .collect()
            }
            Task::Regression => numbers(SCORED_LABELS)?.into_iter().map(|v| json!({ "prediction": v })).collect(),
            Task::AnomalyDetection => {
                let flags = numbers(SCORED_LABELS)?;
                let scores = numbers(ANOMALY_SCORE)?;
                flags
                    .iter()
                    .zip(&scores)
                    .map(|(f, s)| json!({ "prediction": f.map(|f| f as i64), "score": s }))
                    .collect()
            }
            Task::Clustering => {
                let clusters = numbers(crate::train::ASSIGNMENTS)?;
                let distances = numbers(crate::train::DISTANCE)?;
                clusters
                    .iter()
                    .zip(&distances)
                    .map(|(c, d)| json!({ "prediction": c.map(|c| c as i64), "distance": d }))
                    .collect()
            }
        };
        Ok(out)
    }
}

/// The first row of `data` whose required fields all have values, as a record of the fields.
fn example_record(fields: &[Field], data: &Table) -> Option<Json> {
    // The first of the first thousand rows that has every required value.
    let row = |i: usize| Table::new(data.frame.slice(i64::try_from(i).unwrap_or(i64::MAX), 1));
    let typed = (0..data.height().min(1000)).find_map(|i| fields::from_table(fields, &row(i)).ok())?;
    let frame = typed.frame.head(Some(1));
    let record: serde_json::Map<String, Json> = fields
        .iter()
        .map(|f| {
            let value = match f.ty {
                FieldType::Number => crate::frame::numeric_values(&frame, &f.name)
                    .ok()
                    .and_then(|v| v.first().copied().flatten())
                    .map_or(Json::Null, |x| json!(x)),
                FieldType::Text | FieldType::Category => crate::frame::text_values(&frame, &f.name)
                    .ok()
                    .and_then(|v| v.into_iter().next().flatten())
                    .map_or(Json::Null, Json::String),
            };
            (f.name.clone(), value)
        })
        .collect();
    Some(Json::Object(record))
}

/// The fields of one prediction of `model`.
fn outputs_of(model: &Model) -> Vec<OutputField> {
    let field =
        |name: &str, ty: &str, description: String| OutputField { name: name.into(), ty: ty.into(), description };
    match model.task {
        Task::BinaryClassification | Task::MulticlassClassification => vec![
            field("prediction", "string", format!("The predicted class: one of {}", model.classes.join(", "))),
            field("probabilities", "object", "The probability of each class, by class name".into()),
        ],
        Task::Regression => {
            vec![field("prediction", "number", format!("The predicted {}", model.label.as_deref().unwrap_or("value")))]
        }
        Task::AnomalyDetection => vec![
            field("prediction", "integer", "1 for an anomaly, 0 otherwise".into()),
            field("score", "number", "Anomaly score from 0 to 1; higher is more anomalous".into()),
        ],
        Task::Clustering => vec![
            field("prediction", "integer", "The nearest cluster".into()),
            field("distance", "number", "The distance to that cluster's centre".into()),
        ],
    }
}

/// A time as RFC 3339 in UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    pipewright_engine::UtcTime::from_unix(i64::try_from(seconds).unwrap_or(i64::MAX)).rfc3339()
}
