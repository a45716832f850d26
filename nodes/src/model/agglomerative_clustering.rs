//! Hierarchical Clustering (agglomerative).

use serde_json::json;

use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::hierarchical::{self, HierarchicalFit, Linkage, MAX_ROWS};
use crate::frame::Matrix;

/// Agglomerative clustering.
pub struct AgglomerativeClustering;

impl AgglomerativeClustering {
    /// The kind id.
    pub const ID: &'static str = "model.agglomerative_clustering";
}

impl NodeKind for AgglomerativeClustering {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            AgglomerativeClustering::ID,
            "Hierarchical Clustering",
            Category::Model,
            "Builds clusters bottom-up: every row starts alone and the two closest clusters merge until the chosen number remain (agglomerative clustering, Euclidean distances). Training rows keep the cluster the merging gave them; Assign Data to Clusters puts new rows in the cluster with the nearest centroid. Needs memory for all pairwise distances, so at most 15,000 training rows.",
        )
        .param("clusters", "Number of clusters", int(1, 10_000), json!(3), "Clusters left when merging stops.")
        .param(
            "linkage",
            "Linkage",
            choice(&["ward", "complete", "average"]),
            json!("ward"),
            "Distance between clusters: ward merges the pair that least increases the within-cluster sum of squares (compact clusters of similar size); complete uses the farthest rows; average the mean distance between rows.",
        )
        .tunable("clusters", TuneRange::Int { min: 2, max: 20 })
        .tunable("linkage", TuneRange::Choice { values: vec![json!("ward"), json!("complete"), json!("average")] })
        .output("learner", PortType::Learner, "Untrained hierarchical clustering")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Clustering]))
    }
}

impl Learn for AgglomerativeClustering {
    type State = HierarchicalFit;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let k = params.count("clusters")?;
        let linkage = match params.text("linkage")? {
            "complete" => Linkage::Complete,
            "average" => Linkage::Average,
            _ => Linkage::Ward,
        };
        if k > data.x.rows {
            return Err(NodeError::param(
                "clusters",
                format!("{k} clusters need at least as many rows; the table has {}", data.x.rows),
            ));
        }
        if data.x.rows > MAX_ROWS {
            return Err(NodeError::data(format!(
                "hierarchical clustering keeps every pairwise distance and takes at most {MAX_ROWS} rows; the table has {}: sample it with Split Data or use K-Means Clustering",
                data.x.rows
            )));
        }
        let fitted = hierarchical::fit(&data.x, k, linkage, &|done| {
            ctx.report_progress(done, "merging clusters");
            !ctx.cancel.is_cancelled()
        })
        .ok_or(NodeError::Cancelled)?;
        Ok(fitted)
    }

    fn predict(&self, fitted: &HierarchicalFit, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Clusters(fitted.assign(x)))
    }
}

impl FittedState for HierarchicalFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the cluster sizes", self.sizes.len(), self.centroids.len())?;
        for centroid in &self.centroids {
            super::expect_len("a centroid", centroid.len(), model.features.len())?;
        }
        Ok(())
    }
}
