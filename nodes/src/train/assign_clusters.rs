//! Assign Data to Clusters.

use std::sync::Arc;

use polars::prelude::*;

use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, PortType, Role, Rows, Table, Task, Value,
};

use super::{ASSIGNMENTS, CLUSTERING_FEATURES, DISTANCE};
use crate::frame::feature_matrix;
use crate::model::{Prediction, algorithm_of};

/// Assigns rows to the clusters of a trained clustering model.
pub struct AssignDataToClusters;

impl AssignDataToClusters {
    /// The kind id.
    pub const ID: &'static str = "train.assign_data_to_clusters";
}

/// The table with the cluster of every row and its distance to the cluster centre.
pub(crate) fn assign_table(model: &Model, table: &Table, ctx: Option<&NodeContext<'_>>) -> Result<Table, NodeError> {
    if model.task != Task::Clustering {
        return Err(NodeError::Input {
            port: "model".into(),
            message: format!("{} is not a clustering model: use Score Model", model.name),
        });
    }
    let algo = algorithm_of(&model.algorithm)?;
    super::score_model::require_features(model, table)?;
    let x = feature_matrix(&table.frame, &model.features)?;
    let Prediction::Clusters(assignments) = algo.predict_on(model, &x, &super::score_model::device_choice(ctx))? else {
        return Err(NodeError::data("the model did not assign clusters"));
    };
    let mut out = table.clone();
    let clusters: Vec<i64> = assignments.iter().map(|(c, _)| i64::try_from(*c).unwrap_or(i64::MAX)).collect();
    let distances: Vec<f64> = assignments.iter().map(|(_, d)| *d).collect();
    out.frame.with_column(Column::new(ASSIGNMENTS.into(), clusters))?;
    out.frame.with_column(Column::new(DISTANCE.into(), distances))?;
    out.roles.insert(ASSIGNMENTS.into(), Role::Score);
    out.roles.insert(DISTANCE.into(), Role::Score);
    out.attributes.insert(CLUSTERING_FEATURES.into(), serde_json::json!(model.features));
    Ok(out)
}

impl NodeKind for AssignDataToClusters {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Assign Data to Clusters",
            Category::Train,
            "Adds the nearest cluster of every row (Assignments) and its distance to that cluster's centre.",
        )
        .uses_device()
        .input("model", PortType::Model, "A trained clustering model")
        .input("data", PortType::Table, "Rows to assign")
        .output("data", PortType::Table, "The rows with Assignments and DistanceToClusterCenter")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let model = ctx.model("model")?;
        match ctx.rows("data")? {
            Rows::Table(table) => Ok(vec![Value::Table(Arc::new(assign_table(&model, &table, Some(ctx))?))]),
            // Streamed: every batch assigned as it passes (on the CPU); the roles come from the first row.
            Rows::Stream(stream) => {
                Ok(vec![Value::Stream(Arc::new(stream.map_tables(move |table| assign_table(&model, table, None))?))])
            }
        }
    }
}
