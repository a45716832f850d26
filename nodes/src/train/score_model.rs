//! Score Model.

use std::sync::Arc;

use polars::prelude::*;

use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, PortType, Role, Rows, Table, Task, Value,
};

use pipewright_compute::Backend;

use crate::frame::feature_matrix;
use crate::model::{Prediction, algorithm_of};

/// Name of the predicted label column.
pub const SCORED_LABELS: &str = "Scored Labels";
/// Prefix of the per-class probability columns, followed by the class name.
pub const PROBABILITY_PREFIX: &str = "Scored Probabilities_";
/// Name of the anomaly score column (0..1, higher is more anomalous) of an anomaly detector.
pub const ANOMALY_SCORE: &str = "Scored Probabilities";

/// Adds predictions of a trained model.
pub struct ScoreModel;

impl ScoreModel {
    /// The kind id.
    pub const ID: &'static str = "train.score_model";
}

/// Checks that the table has every feature the model reads.
pub(crate) fn require_features(model: &Model, table: &Table) -> Result<(), NodeError> {
    let missing: Vec<&str> =
        model.features.iter().filter(|f| table.frame.column(f).is_err()).map(String::as_str).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(NodeError::data(format!(
            "the table lacks {} column(s) the model was trained on: {} (apply the same transforms to this data as to the training data)",
            missing.len(),
            missing.join(", ")
        )))
    }
}

/// The table with the model's predictions added, computed on the CPU.
pub fn score(model: &Model, table: &Table) -> Result<Table, NodeError> {
    score_in(model, table, None)
}

/// The backend chooser of a block: the run's device policy when a block runs, else the CPU.
pub(crate) fn device_choice<'a>(ctx: Option<&'a NodeContext<'a>>) -> impl Fn(usize) -> Result<Backend, NodeError> + 'a {
    move |work| ctx.map_or(Ok(Backend::Cpu), |c| crate::device::backend(c, work))
}

/// The table with the model's predictions added, on the run's device when `ctx` is given.
pub fn score_in(model: &Model, table: &Table, ctx: Option<&NodeContext<'_>>) -> Result<Table, NodeError> {
    if model.task == Task::Clustering {
        return super::assign_clusters::assign_table(model, table, ctx);
    }
    let algo = algorithm_of(&model.algorithm)?;
    require_features(model, table)?;
    let x = feature_matrix(&table.frame, &model.features)?;
    let mut out = table.clone();
    match algo.predict_on(model, &x, &device_choice(ctx))? {
        Prediction::Probabilities(p) => {
            let labels: Vec<&str> = (0..p.rows)
                .map(|i| {
                    let row = p.row(i);
                    let best = (0..row.len()).fold(0, |b, k| if row[k] > row[b] { k } else { b });
                    model.classes[best].as_str()
                })
                .collect();
            out.frame.with_column(Column::new(SCORED_LABELS.into(), labels))?;
            out.roles.insert(SCORED_LABELS.into(), Role::Score);
            for (k, class) in model.classes.iter().enumerate() {
                let name = format!("{PROBABILITY_PREFIX}{class}");
                let column: Vec<f64> = (0..p.rows).map(|i| p.get(i, k)).collect();
                out.frame.with_column(Column::new(name.as_str().into(), column))?;
                out.roles.insert(name, Role::Score);
            }
        }
        Prediction::Values(v) => {
            out.frame.with_column(Column::new(SCORED_LABELS.into(), v))?;
            out.roles.insert(SCORED_LABELS.into(), Role::Score);
        }
        Prediction::Clusters(_) => return Err(NodeError::data("a clustering model cannot be scored here")),
        Prediction::Anomalies { scores, flags } => {
            let labels: Vec<i64> = flags.iter().map(|&f| i64::from(f)).collect();
            out.frame.with_column(Column::new(SCORED_LABELS.into(), labels))?;
            out.frame.with_column(Column::new(ANOMALY_SCORE.into(), scores))?;
            out.roles.insert(SCORED_LABELS.into(), Role::Score);
            out.roles.insert(ANOMALY_SCORE.into(), Role::Score);
        }
    }
    if let Some(label) = &model.label
        && out.frame.column(label).is_ok()
    {
        out.roles.retain(|_, r| *r != Role::Label);
        out.roles.insert(label.clone(), Role::Label);
    }
    Ok(out)
}

impl NodeKind for ScoreModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Score Model",
            Category::Train,
            "Adds a trained model's predictions: Scored Labels, and for classifiers one Scored Probabilities_<class> column per class.",
        )
        .uses_device()
        .input("model", PortType::Model, "A trained model")
        .input("data", PortType::Table, "Rows to score, with the model's feature columns")
        .output("data", PortType::Table, "The rows with predictions")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let model = ctx.model("model")?;
        match ctx.rows("data")? {
            Rows::Table(table) => Ok(vec![Value::Table(Arc::new(score_in(&model, &table, Some(ctx))?))]),
            // Streamed: every batch scored as it passes (on the CPU); the roles come from scoring the first row.
            Rows::Stream(stream) => {
                Ok(vec![Value::Stream(Arc::new(stream.map_tables(move |table| score_in(&model, table, None))?))])
            }
        }
    }
}
