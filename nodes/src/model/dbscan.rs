//! DBSCAN clustering.

use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::dbscan::{self, DbscanFit};
use crate::frame::Matrix;

/// Density-based clustering.
pub struct Dbscan;

impl Dbscan {
    /// The kind id.
    pub const ID: &'static str = "model.dbscan";
}

impl NodeKind for Dbscan {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Dbscan::ID,
            "DBSCAN",
            Category::Model,
            "Finds clusters of any shape as regions where rows lie densely (density-based spatial clustering with noise); the number of clusters follows from the data. A row with at least the minimum number of rows within the radius is a core row; core rows within the radius of each other share a cluster and rows near a core row join it. Rows near no core row are noise: they get the cluster number after the last cluster (with 2 clusters, noise is 2). Train Clustering Model and Assign Data to Clusters give every row the cluster of its nearest core row if that is within the radius, else noise; DistanceToClusterCenter is the distance to that core row. Distances are Euclidean, so normalize the features first.",
        )
        .param(
            "eps",
            "Neighborhood radius",
            float(1e-12, 1e12),
            json!(0.5),
            "Rows at most this Euclidean distance apart are neighbours (scikit-learn's eps).",
        )
        .param(
            "min_samples",
            "Minimum points per neighborhood",
            int(1, 1_000_000),
            json!(5),
            "Rows, the row itself included, that must lie within the radius for a row to be a core row.",
        )
        .tunable("eps", TuneRange::Float { min: 0.05, max: 5.0, log: true })
        .tunable("min_samples", TuneRange::Int { min: 2, max: 50 })
        .output("learner", PortType::Learner, "Untrained DBSCAN")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Clustering]))
    }
}

impl Learn for Dbscan {
    type State = DbscanFit;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let eps = params.float("eps")?;
        let min_samples = params.count("min_samples")?;
        let (fitted, _) = dbscan::fit(&data.x, eps, min_samples, &|done| {
            ctx.report_progress(done, "finding dense neighbourhoods");
            !ctx.cancel.is_cancelled()
        })
        .ok_or(NodeError::Cancelled)?;
        Ok(fitted)
    }

    fn predict(&self, fitted: &DbscanFit, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Clusters(fitted.assign(x)))
    }
}

impl FittedState for DbscanFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the core clusters", self.core_clusters.len(), self.core.len())?;
        for point in &self.core {
            super::expect_len("a core point", point.len(), model.features.len())?;
        }
        if self.core_clusters.iter().any(|&c| c >= self.clusters) {
            return Err("a core point belongs to no cluster".into());
        }
        Ok(())
    }
}
