//! Train Clustering Model.

use std::sync::Arc;

use serde_json::json;

use pipewright_engine::{
    Category, Decoded, Learner, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows,
    ShardedTraining, Table, Task, Value,
};

use super::assign_clusters::assign_table;
use crate::frame::{feature_matrix, numeric_feature_columns};
use crate::model::{Labels, TrainingBatches, TrainingSet, algorithm_of, training_stream};
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
        .trains_over_shards()
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
        if learner.tasks != [Task::Clustering] {
            return Err(NodeError::Input {
                port: "learner".into(),
                message: format!("{} is not a clustering learner: use Train Model", learner.name),
            });
        }
        let algo = algorithm_of(&learner.algorithm)?;
        let params = Params::from_map(learner.params.clone());
        // A streamed table is fitted over passes of its batches by the learners whose fit is sums over rows, and
        // its rows are assigned as they pass; the others read it whole.
        if let Rows::Stream(stream) = ctx.rows("data")?
            && algo.streams()
        {
            let features = clustering_features(&stream.head(0)?, ctx.params)?;
            let training = training_stream(&stream, &features, None, algo.many_passes(), ctx)?;
            let batches = TrainingBatches::new(&training, &features, "", &learner.name, None);
            let (state, decoded) = algo.fit_batches(&params, &batches, ctx)?;
            let model = Arc::new(clustering_model(&learner, features, state, decoded));
            let assigning = model.clone();
            let assigned = stream.map_tables(move |table| assign_table(&assigning, table, None))?;
            return Ok(vec![Value::Model(model), Value::Stream(Arc::new(assigned))]);
        }
        let table = ctx.table("data")?;
        if table.height() == 0 {
            return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
        }
        let features = clustering_features(&table, ctx.params)?;
        let set = TrainingSet { x: feature_matrix(&table.frame, &features)?, labels: Labels::None };
        let (state, decoded) = algo.fit(&params, &set, ctx)?;
        let model = clustering_model(&learner, features, state, decoded);
        let assigned = assign_table(&model, &table, Some(ctx))?;
        Ok(vec![Value::Model(Arc::new(model)), Value::Table(Arc::new(assigned))])
    }

    /// Its shards hold the columns it clusters on, and no label.
    fn sharded_training(&self, _learner: &Learner, data: &Table, params: &Params) -> Result<ShardedTraining, NodeError> {
        Ok(ShardedTraining { label: String::new(), columns: clustering_features(data, params)? })
    }

    /// The model, and the training rows assigned to their clusters.
    fn outputs_of_fit(&self, model: Model, data: &Table) -> Result<Vec<Value>, NodeError> {
        let assigned = assign_table(&model, data, None)?;
        Ok(vec![Value::Model(Arc::new(model)), Value::Table(Arc::new(assigned))])
    }
}

/// The columns Train Clustering Model with parameters `params` clusters `table` on.
fn clustering_features(table: &Table, params: &Params) -> Result<Vec<String>, NodeError> {
    let features = transform_columns(table, params.columns("columns"), numeric_feature_columns)?;
    if features.is_empty() {
        return Err(NodeError::data("no numeric feature columns to cluster on"));
    }
    Ok(features)
}

/// The trained model of a clustering learner.
pub(crate) fn clustering_model(
    learner: &Learner,
    features: Vec<String>,
    state: pipewright_engine::StateJson,
    decoded: Decoded,
) -> Model {
    Model {
        algorithm: learner.algorithm.clone(),
        name: learner.name.clone(),
        task: Task::Clustering,
        label: None,
        features,
        classes: Vec::new(),
        state,
        decoded,
    }
}
