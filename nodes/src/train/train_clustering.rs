//! Train Clustering Model.

use std::sync::Arc;

use serde_json::json;

use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::assign_clusters::assign_table;
use crate::frame::{feature_matrix, numeric_feature_columns};
use crate::model::{Labels, TrainingSet, algorithm_of};
use crate::transform_columns;

/// Fits a clustering learner.
pub struct TrainClusteringModel;

impl TrainClusteringModel {
    /// The kind id.
    pub const ID: &'static str = "train.train_clustering_model";
}

impl NodeKind for TrainClusteringModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Train Clustering Model",
            Category::Train,
            "Fits a clustering learner such as K-Means and assigns every training row to a cluster.",
        )
        .uses_device()
        .input("learner", PortType::Learner, "An untrained clustering model")
        .input("data", PortType::Table, "Training data")
        .param(
            "columns",
            "Columns",
            ParamKind::ColumnList { port: "data" },
            json!([]),
            "Columns to cluster on; empty uses every numeric feature column (never the label).",
        )
        .output("model", PortType::Model, "The trained clustering model")
        .output(
            "data",
            PortType::Table,
            "The training data with Assignments and DistanceToClusterCenter columns",
        )
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let learner = ctx.learner("learner")?;
        let table = ctx.table("data")?;
        if learner.tasks != [Task::Clustering] {
            return Err(NodeError::Input {
                port: "learner".into(),
                message: format!("{} is not a clustering learner: use Train Model", learner.name),
            });
        }
        let algo = algorithm_of(&learner.algorithm)?;
        if table.height() == 0 {
            return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
        }
        let features = transform_columns(&table, ctx.params.columns("columns"), numeric_feature_columns)?;
        if features.is_empty() {
            return Err(NodeError::data("no numeric feature columns to cluster on"));
        }
        let set = TrainingSet { x: feature_matrix(&table.frame, &features)?, labels: Labels::None };
        let (state, decoded) = algo.fit(&Params::from_map(learner.params.clone()), &set, ctx)?;
        let model = Model {
            algorithm: learner.algorithm.clone(),
            name: learner.name.clone(),
            task: Task::Clustering,
            label: None,
            features,
            classes: Vec::new(),
            state,
            decoded,
        };
        let assigned = assign_table(&model, &table, Some(ctx))?;
        Ok(vec![Value::Model(Arc::new(model)), Value::Table(Arc::new(assigned))])
    }
}
