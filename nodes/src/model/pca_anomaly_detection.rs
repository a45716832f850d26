//! PCA-Based Anomaly Detection.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::anomaly::{contamination_threshold, percentile};
use crate::algo::pca_anomaly::{self, PcaSubspace};
use crate::frame::Matrix;

/// PCA-based anomaly detection.
pub struct PcaAnomalyDetection;

impl PcaAnomalyDetection {
    /// The kind id.
    pub const ID: &'static str = "model.pca_anomaly_detection";
}

/// The score is `e / (e + m)` for a reconstruction error `e` and the median training error `m`: 0 on the
/// subspace, ½ for a typical training row, approaching 1 far from it; monotone in `e`.
#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    subspace: PcaSubspace,
    median_error: f64,
    threshold: f64,
}

impl State {
    fn score(&self, error: f64) -> f64 {
        if self.median_error > 0.0 {
            error / (error + self.median_error)
        } else if error > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

/// The checked contamination parameter shared by the anomaly learners that threshold a score.
pub(super) fn contamination(params: &Params) -> Result<f64, NodeError> {
    let c = params.float("contamination")?;
    if (0.0..=0.5).contains(&c) {
        Ok(c)
    } else {
        Err(NodeError::param(
            "contamination",
            format!("{c} is not in 0..0.5: it is the fraction of anomalies expected"),
        ))
    }
}

impl NodeKind for PcaAnomalyDetection {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            PcaAnomalyDetection::ID,
            "PCA-Based Anomaly Detection",
            Category::Model,
            "Anomaly detection by principal components: normal rows lie near the subspace of the training data's top principal axes; the score grows with a row's squared reconstruction error e as e / (e + median training error). Train it with Train Anomaly Detection Model.",
        )
        .param("components", "Number of components", int(1, 10_000), json!(2), "Principal axes that span normal data; fewer than the feature columns.")
        .param("centring", "Centre features", ParamKind::Bool, json!(true), "Subtract each feature's mean first, as PCA does.")
        .param("scaling", "Scale features", ParamKind::Bool, json!(false), "Divide each feature by its standard deviation first (for features in different units).")
        .param(
            "contamination",
            "Contamination",
            float(0.0, 0.5),
            json!(0.1),
            "The fraction of training rows expected to be anomalies: rows scoring above that quantile of the training scores get Scored Labels 1.",
        )
        .tunable("components", TuneRange::Int { min: 1, max: 20 })
        .tunable("scaling", TuneRange::Choice { values: vec![json!(false), json!(true)] })
        .tunable("contamination", TuneRange::Float { min: 0.01, max: 0.3, log: true })
        .output("learner", PortType::Learner, "Untrained PCA anomaly detector")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::AnomalyDetection]))
    }
}

impl Learn for PcaAnomalyDetection {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let components = params.count("components")?;
        let contamination = contamination(params)?;
        if components == 0 || components >= data.x.cols {
            return Err(NodeError::param(
                "components",
                format!(
                    "{components} components of {} feature columns leave no error to score: choose 1 to {}",
                    data.x.cols,
                    data.x.cols.saturating_sub(1).max(1)
                ),
            ));
        }
        if data.x.rows < 2 {
            return Err(NodeError::data("PCA needs at least two training rows"));
        }
        let subspace = pca_anomaly::fit(&data.x, components, params.bool("centring")?, params.bool("scaling")?);
        let errors = subspace.errors(&data.x);
        let median_error = percentile(&errors, 50.0).unwrap_or_default();
        let mut state = State { subspace, median_error, threshold: 0.0 };
        let scores: Vec<f64> = errors.iter().map(|&e| state.score(e)).collect();
        state.threshold = contamination_threshold(&scores, contamination);
        Ok(state)
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let scores: Vec<f64> = state.subspace.errors(x).into_iter().map(|e| state.score(e)).collect();
        let flags = scores.iter().map(|&s| s > state.threshold).collect();
        Ok(Prediction::Anomalies { scores, flags })
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        let features = model.features.len();
        super::expect_len("the means", self.subspace.mean.len(), features)?;
        super::expect_len("the scales", self.subspace.scale.len(), features)?;
        for component in &self.subspace.components {
            super::expect_len("a component", component.len(), features)?;
        }
        super::expect_finite("the threshold", [&self.threshold, &self.median_error])
    }
}
