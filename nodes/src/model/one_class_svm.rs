//! One-Class SVM.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::one_class_svm::{self, OneClassFit, OneClassSettings};
use crate::frame::Matrix;

/// One-class SVM anomaly detection.
pub struct OneClassSvm;

impl OneClassSvm {
    /// The kind id.
    pub const ID: &'static str = "model.one_class_svm";
}

/// The score of a decision value `d` is `1 / (1 + exp(d / s))`, with `s` the standard deviation of the
/// training rows' decision values: monotone decreasing in `d`, exactly ½ on the boundary (`d = 0`), so
/// rows scored above ½ are the ones the sign of `d` flags.
#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    svm: OneClassFit,
    spread: f64,
}

impl State {
    fn score(&self, decision: f64) -> f64 {
        1.0 / (1.0 + (decision / self.spread).exp())
    }
}

/// γ from the parameter: "scale" (scikit-learn's default), "auto" (1 / features) or a positive number.
fn gamma(params: &Params, x: &Matrix) -> Result<f64, NodeError> {
    let value = params.get("gamma");
    let number = match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) if s.trim() == "scale" || s.trim().is_empty() => return Ok(one_class_svm::scale_gamma(x)),
        Json::String(s) if s.trim() == "auto" => return Ok(1.0 / x.cols.max(1) as f64),
        Json::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number {
        Some(g) if g > 0.0 && g.is_finite() => Ok(g),
        _ => Err(NodeError::param("gamma", format!("{value} is not \"scale\", \"auto\" or a positive number"))),
    }
}

impl NodeKind for OneClassSvm {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            OneClassSvm::ID,
            "One-Class SVM",
            Category::Model,
            "Anomaly detection by a support vector machine with an RBF kernel that encloses the normal training rows (libsvm's one-class formulation, as scikit-learn's OneClassSVM). Rows with a decision value ≤ 0 are anomalies; the score is 1 / (1 + exp(d / s)), s the spread of the training decision values, so ½ is the boundary. Train it with Train Anomaly Detection Model.",
        )
        .param(
            "nu",
            "ν",
            float(0.0, 1.0),
            json!(0.1),
            "Upper bound on the fraction of training rows outside the boundary and lower bound on the fraction of support vectors; in (0, 1].",
        )
        .param(
            "gamma",
            "Kernel γ",
            ParamKind::Text,
            json!("scale"),
            "Width of the RBF kernel exp(−γ‖x − y‖²): \"scale\" = 1 / (features × variance of the data), \"auto\" = 1 / features, or a positive number.",
        )
        .param("tolerance", "Tolerance", float(1e-10, 1.0), json!(1e-3), "Stop when the largest violation of the optimality conditions is below this.")
        .tunable("nu", TuneRange::Float { min: 0.01, max: 0.5, log: true })
        .tunable("gamma", TuneRange::Choice { values: vec![json!("scale"), json!("0.01"), json!("0.1"), json!("1")] })
        .output("learner", PortType::Learner, "Untrained one-class SVM")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::AnomalyDetection]))
    }
}

impl Learn for OneClassSvm {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let nu = params.float("nu")?;
        if !(nu > 0.0 && nu <= 1.0) {
            return Err(NodeError::param("nu", format!("ν = {nu} is outside (0, 1]: choose a fraction such as 0.1")));
        }
        if data.x.rows == 0 {
            return Err(NodeError::data("the training table has no rows"));
        }
        let settings = OneClassSettings { nu, gamma: gamma(params, &data.x)?, tolerance: params.float("tolerance")? };
        let svm = one_class_svm::fit(&data.x, settings, &|| !ctx.cancel.is_cancelled()).ok_or(NodeError::Cancelled)?;
        let decisions = svm.decisions(&data.x);
        let count = decisions.len().max(1) as f64;
        let mean = decisions.iter().sum::<f64>() / count;
        let spread = (decisions.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / count).sqrt();
        Ok(State { svm, spread: if spread > 0.0 { spread } else { 1.0 } })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let decisions = state.svm.decisions(x);
        let scores = decisions.iter().map(|&d| state.score(d)).collect();
        let flags = decisions.iter().map(|&d| d <= 0.0).collect();
        Ok(Prediction::Anomalies { scores, flags })
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the support vector weights", self.svm.alpha.len(), self.svm.support.len())?;
        for vector in &self.svm.support {
            super::expect_len("a support vector", vector.len(), model.features.len())?;
        }
        super::expect_finite("the weights", self.svm.alpha.iter().chain([&self.svm.rho, &self.svm.gamma, &self.spread]))
    }
}
