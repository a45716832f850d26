//! Train Anomaly Detection Model.

use std::sync::Arc;

use pipewright_engine::{
    Category, Learner, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Table, Task, Value,
};

use crate::frame::{feature_columns, feature_matrix};
use crate::model::{Labels, TrainingSet, algorithm_of};

/// Fits an anomaly-detection learner without a label.
pub struct TrainAnomalyDetectionModel;

impl TrainAnomalyDetectionModel {
    /// The kind id.
    pub const ID: &'static str = "train.train_anomaly_detection_model";
}

/// Fits an anomaly-detection `learner` on every feature column of `table`; a column marked as label is
/// left out of the features and remembered, so that Score Model keeps it for Evaluate Model.
pub fn train_anomaly_detection(learner: &Learner, table: &Table, ctx: &NodeContext<'_>) -> Result<Model, NodeError> {
    if learner.tasks != [Task::AnomalyDetection] {
        return Err(NodeError::Input {
            port: "learner".into(),
            message: format!(
                "{} is not an anomaly-detection learner: use Train Model or Train Clustering Model",
                learner.name
            ),
        });
    }
    let algo = algorithm_of(&learner.algorithm)?;
    if table.height() == 0 {
        return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
    }
    let label = table.label().map(str::to_owned);
    let features = feature_columns(table, label.as_deref());
    if features.is_empty() {
        return Err(NodeError::data("no feature columns: every column is ignored, a label or a score"));
    }
    let set = TrainingSet { x: feature_matrix(&table.frame, &features)?, labels: Labels::None };
    let (state, decoded) = algo.fit(&Params::from_map(learner.params.clone()), &set, ctx)?;
    Ok(Model {
        algorithm: learner.algorithm.clone(),
        name: learner.name.clone(),
        task: Task::AnomalyDetection,
        label,
        features,
        classes: Vec::new(),
        state,
        decoded,
    })
}

impl NodeKind for TrainAnomalyDetectionModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Train Anomaly Detection Model",
            Category::Train,
            "Trains an anomaly-detection learner (Isolation Forest, PCA-Based Anomaly Detection, One-Class SVM) on every feature column, without a label; a column marked as label is left out and kept for Evaluate Model. Score Model then adds Scored Labels (1 = anomaly) and Scored Probabilities (the anomaly score, 0 to 1).",
        )
        .input("learner", PortType::Learner, "An untrained anomaly-detection model")
        .input("data", PortType::Table, "Training data, mostly normal rows")
        .output("model", PortType::Model, "The trained anomaly detector")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let learner = ctx.learner("learner")?;
        let table = ctx.table("data")?;
        Ok(vec![Value::Model(Arc::new(train_anomaly_detection(&learner, &table, ctx)?))])
    }
}
