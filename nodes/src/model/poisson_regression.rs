//! Poisson Regression: counts and other non-negative targets through a log link.

use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::poisson::{self, PoissonFit, PoissonSettings};
use crate::frame::Matrix;

/// Poisson regression, like scikit-learn's `PoissonRegressor`.
pub struct PoissonRegression;

impl PoissonRegression {
    /// The kind id.
    pub const ID: &'static str = "model.poisson_regression";
}

impl NodeKind for PoissonRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            PoissonRegression::ID,
            "Poisson Regression",
            Category::Model,
            "Predicts a count or another non-negative number as exp of a weighted sum of the features (a Poisson model with a log link). The label must be 0 or more.",
        )
        .param(
            "l2_weight",
            "L2 regularization weight",
            float(0.0, 1e6),
            json!(1.0),
            "Penalty (α/2)·‖w‖² added to the mean half deviance (alpha in scikit-learn's PoissonRegressor); the intercept is not penalized.",
        )
        .param("max_iterations", "Maximum iterations", int(1, 1000), json!(100), "Newton steps at most.")
        .param(
            "tolerance",
            "Optimization tolerance",
            float(0.0, 1.0),
            json!(1e-8),
            "Stop when no component of the objective's gradient exceeds this.",
        )
        .tunable("l2_weight", TuneRange::Float { min: 1e-4, max: 10.0, log: true })
        .output("learner", PortType::Learner, "Untrained Poisson regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for PoissonRegression {
    type State = PoissonFit;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("Poisson regression needs a numeric label"));
        };
        let negative = y.iter().filter(|v| **v < 0.0).count();
        if negative > 0 {
            return Err(NodeError::data(format!(
                "Poisson regression needs a label of 0 or more, but {negative} rows are negative: use Linear Regression or shift the label"
            )));
        }
        if y.iter().all(|v| *v == 0.0) {
            return Err(NodeError::data("every label is 0: Poisson regression needs some positive labels"));
        }
        let settings = PoissonSettings {
            l2: params.float("l2_weight")?,
            max_iterations: params.count("max_iterations")?,
            tolerance: params.float("tolerance")?,
        };
        Ok(poisson::fit(&data.x, y, settings))
    }

    fn predict(&self, fit: &PoissonFit, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Values((0..x.rows).map(|i| fit.predict(x.row(i))).collect()))
    }
}

impl FittedState for PoissonFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the weight list", self.weights.len(), model.features.len())?;
        super::expect_finite("the weights", self.weights.iter().chain([&self.intercept]))
    }
}
