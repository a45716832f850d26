//! Isolation Forest.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::anomaly::contamination_threshold;
use crate::algo::isolation_forest::{self, IsolationSettings};
use crate::frame::Matrix;

/// Isolation Forest anomaly detection.
pub struct IsolationForest;

impl IsolationForest {
    /// The kind id.
    pub const ID: &'static str = "model.isolation_forest";
}

#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    forest: isolation_forest::IsolationForest,
    threshold: f64,
}

impl NodeKind for IsolationForest {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            IsolationForest::ID,
            "Isolation Forest",
            Category::Model,
            "Anomaly detection by random trees: rows that random splits isolate in few steps are anomalies. The score is 2^(−mean path length / c(sample size)), as scikit-learn's IsolationForest; train it with Train Anomaly Detection Model.",
        )
        .param("trees", "Number of trees", int(1, 10_000), json!(100), "More trees give steadier scores and take longer.")
        .param(
            "sample_size",
            "Sample size",
            int(2, 1_000_000),
            json!(256),
            "Rows each tree is grown on, drawn without replacement (at most the table's rows).",
        )
        .param(
            "contamination",
            "Contamination",
            float(0.0, 0.5),
            json!(0.1),
            "The fraction of training rows expected to be anomalies: rows scoring above that quantile of the training scores get Scored Labels 1.",
        )
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .tunable("trees", TuneRange::Int { min: 50, max: 500 })
        .tunable("sample_size", TuneRange::Int { min: 64, max: 1024 })
        .tunable("contamination", TuneRange::Float { min: 0.01, max: 0.3, log: true })
        .output("learner", PortType::Learner, "Untrained isolation forest")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::AnomalyDetection]))
    }
}

impl Learn for IsolationForest {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let settings = IsolationSettings {
            trees: params.count("trees")?,
            max_samples: params.count("sample_size")?,
            seed: params.seed("seed")?,
        };
        let contamination = super::pca_anomaly_detection::contamination(params)?;
        if data.x.rows == 0 {
            return Err(NodeError::data("the training table has no rows"));
        }
        let forest =
            isolation_forest::fit(&data.x, settings, &|| !ctx.cancel.is_cancelled()).ok_or(NodeError::Cancelled)?;
        let threshold = contamination_threshold(&forest.scores(&data.x), contamination);
        Ok(State { forest, threshold })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let scores = state.forest.scores(x);
        let flags = scores.iter().map(|&s| s > state.threshold).collect();
        Ok(Prediction::Anomalies { scores, flags })
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        self.forest.check(model.features.len())?;
        super::expect_finite("the threshold", [&self.threshold])
    }
}
