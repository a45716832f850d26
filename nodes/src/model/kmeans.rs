//! K-Means Clustering.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{DeviceChoice, FittedState, Learn, Prediction, TrainingSet, learner_output};
use pipewright_compute::Backend;

use crate::algo::kmeans::{self, Init, KMeansFit, KMeansSettings};
use crate::frame::Matrix;

/// K-means clustering.
pub struct KMeansClustering;

impl KMeansClustering {
    /// The kind id.
    pub const ID: &'static str = "model.kmeans";
}

impl NodeKind for KMeansClustering {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            KMeansClustering::ID,
            "K-Means Clustering",
            Category::Model,
            "Groups rows into k clusters around centres that minimize the squared distance of each row to its centre.",
        )
        .param("clusters", "Number of centroids", int(1, 10_000), json!(3), "k, the number of clusters.")
        .param(
            "init",
            "Initialization",
            choice(&["k-means++", "random"]),
            json!("k-means++"),
            "How the first centres are picked.",
        )
        .param(
            "starts",
            "Number of starts",
            int(1, 1000),
            json!(10),
            "Independent initializations; the one with the least inertia wins.",
        )
        .param("max_iterations", "Iterations", int(1, 100_000), json!(300), "Lloyd iterations per start at most.")
        .param(
            "tolerance",
            "Tolerance",
            float(0.0, 1.0),
            json!(1e-4),
            "Stop when centres move less than this, relative to the data's variance.",
        )
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .tunable("clusters", TuneRange::Int { min: 2, max: 20 })
        .tunable("init", TuneRange::Choice { values: vec![json!("k-means++"), json!("random")] })
        .output("learner", PortType::Learner, "Untrained k-means")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Clustering]))
    }
}

impl Learn for KMeansClustering {
    type State = KMeansFit;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let settings = KMeansSettings {
            k: params.count("clusters")?,
            init: if params.text("init")? == "random" { Init::Random } else { Init::KMeansPlusPlus },
            n_init: params.count("starts")?,
            max_iterations: params.count("max_iterations")?,
            tolerance: params.float("tolerance")?,
            seed: params.seed("seed")?,
        };
        if settings.k > data.x.rows {
            return Err(NodeError::param(
                "clusters",
                format!("{} clusters need at least as many rows; the table has {}", settings.k, data.x.rows),
            ));
        }
        let backend = crate::device::backend(ctx, data.x.rows * data.x.cols)?;
        let fitted = kmeans::fit(&data.x, settings, &backend, &|start| {
            ctx.report_progress(start as f32 / settings.n_init as f32, "k-means starts");
            !ctx.cancel.is_cancelled()
        })
        .map_err(crate::device::kernel_error)?
        .ok_or(NodeError::Cancelled)?;
        Ok(fitted)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(Backend::Cpu))
    }

    fn predict_on(&self, fitted: &KMeansFit, _model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let backend = device(x.rows * x.cols)?;
        let assigned = kmeans::assign(x, &fitted.centers, &backend).map_err(crate::device::kernel_error)?;
        Ok(Prediction::Clusters(assigned.into_iter().map(|(c, d)| (c, d.sqrt())).collect()))
    }
}

impl FittedState for KMeansFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        if self.centers.is_empty() {
            return Err("it has no cluster centres".into());
        }
        for center in &self.centers {
            super::expect_len("a cluster centre", center.len(), model.features.len())?;
            super::expect_finite("the cluster centres", center)?;
        }
        Ok(())
    }
}
