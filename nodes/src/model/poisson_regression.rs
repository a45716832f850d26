//! Poisson Regression: counts and other non-negative targets through a log link.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{Algorithm, Labels, Prediction, TrainingSet, decode_state, encode_state, learner_output};
use crate::algo::poisson::{self, PoissonFit, PoissonSettings};
use crate::frame::Matrix;

pub(super) const ID: &str = "model.poisson_regression";

/// Poisson regression, like scikit-learn's `PoissonRegressor`.
pub struct PoissonRegression;

impl NodeKind for PoissonRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            ID,
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

impl Algorithm for PoissonRegression {
    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
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
        encode_state(&poisson::fit(&data.x, y, settings))
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let fit: PoissonFit = decode_state(model)?;
        Ok(Prediction::Values((0..x.rows).map(|i| fit.predict(x.row(i))).collect()))
    }
}
