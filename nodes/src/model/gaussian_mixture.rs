//! Gaussian Mixture Model.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::gaussian_mixture::{self, Covariance, MixtureError, MixtureFit, MixtureSettings};
use crate::frame::Matrix;

/// A Gaussian mixture clustering.
pub struct GaussianMixture;

impl GaussianMixture {
    /// The kind id.
    pub const ID: &'static str = "model.gaussian_mixture";
}

impl NodeKind for GaussianMixture {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            GaussianMixture::ID,
            "Gaussian Mixture Model",
            Category::Model,
            "Models the rows as drawn from a mix of Gaussian (normal) distributions, fitted by expectation–maximization, and puts each row in its most likely component. Unlike K-Means, clusters may be elongated ellipsoids of different sizes. DistanceToClusterCenter is the Euclidean distance to the component mean; the model keeps the weights, means, covariances and the training mean log-likelihood.",
        )
        .param("components", "Number of components", int(1, 1000), json!(3), "Gaussian components, one per cluster.")
        .param(
            "covariance",
            "Covariance type",
            choice(&["full", "diagonal"]),
            json!("full"),
            "full: each component has its own covariance matrix (any orientation); diagonal: variances only, ellipsoids aligned with the axes (fewer parameters).",
        )
        .param(
            "starts",
            "Number of starts",
            int(1, 1000),
            json!(1),
            "Independent k-means++ initializations; the fit with the highest likelihood wins.",
        )
        .param("max_iterations", "Maximum iterations", int(1, 100_000), json!(100), "EM iterations per start at most.")
        .param(
            "tolerance",
            "Tolerance",
            float(0.0, 1.0),
            json!(1e-3),
            "Stop when an iteration raises the mean log-likelihood per row by less than this.",
        )
        .param(
            "reg_covar",
            "Covariance regularization",
            float(0.0, 1.0),
            json!(1e-6),
            "Added to every variance so that covariances stay invertible; raise it if the fit reports a singular covariance.",
        )
        .param("seed", "Random number seed", ParamKind::Seed, Json::Null, "Seeds the k-means++ initialization. Empty: derived from the workflow seed.")
        .tunable("components", TuneRange::Int { min: 2, max: 20 })
        .tunable("covariance", TuneRange::Choice { values: vec![json!("full"), json!("diagonal")] })
        .output("learner", PortType::Learner, "Untrained Gaussian mixture")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Clustering]))
    }
}

fn mixture_error(e: &MixtureError) -> NodeError {
    match e {
        MixtureError::Cancelled => NodeError::Cancelled,
        MixtureError::Singular => NodeError::param("reg_covar", e.to_string()),
    }
}

impl Learn for GaussianMixture {
    type State = MixtureFit;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let settings = MixtureSettings {
            components: params.count("components")?,
            covariance: if params.text("covariance")? == "diagonal" { Covariance::Diagonal } else { Covariance::Full },
            max_iterations: params.count("max_iterations")?,
            tolerance: params.float("tolerance")?,
            reg_covar: params.float("reg_covar")?,
            starts: params.count("starts")?,
            seed: params.seed("seed")?,
        };
        if settings.components > data.x.rows {
            return Err(NodeError::param(
                "components",
                format!("{} components need at least as many rows; the table has {}", settings.components, data.x.rows),
            ));
        }
        let fitted = gaussian_mixture::fit(&data.x, settings, &|start| {
            ctx.report_progress(start as f32 / settings.starts as f32, "EM starts");
            !ctx.cancel.is_cancelled()
        })
        .map_err(|e| mixture_error(&e))?;
        Ok(fitted)
    }

    fn predict(&self, fitted: &MixtureFit, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Clusters(fitted.assign(x).map_err(|e| mixture_error(&e))?))
    }
}

impl FittedState for MixtureFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        let (k, d) = (self.weights.len(), model.features.len());
        super::expect_len("the component means", self.means.len(), k)?;
        super::expect_len("the component covariances", self.covariances.len(), k)?;
        let size = match self.covariance {
            crate::algo::gaussian_mixture::Covariance::Full => d * d,
            crate::algo::gaussian_mixture::Covariance::Diagonal => d,
        };
        for (mean, covariance) in self.means.iter().zip(&self.covariances) {
            super::expect_len("a component mean", mean.len(), d)?;
            super::expect_len("a component covariance", covariance.len(), size)?;
        }
        if k == 0 { Err("it has no components".into()) } else { Ok(()) }
    }
}
