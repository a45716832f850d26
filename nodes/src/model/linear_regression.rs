//! Linear Regression: ordinary least squares, or ridge with an L2 weight.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use pipewright_compute::{CrossB, crossprod, gram};

use super::{Algorithm, Labels, Prediction, TrainingSet, decode_state, encode_state, learner_output};
use crate::algo::linalg::solve_spd;
use crate::frame::Matrix;

pub(super) const ID: &str = "model.linear_regression";

/// Least-squares linear regression.
pub struct LinearRegression;

#[derive(Debug, Serialize, Deserialize)]
struct State {
    coefficients: Vec<f64>,
    intercept: f64,
    /// Whether the normal equations were singular and a tiny ridge was added.
    regularized: bool,
}

impl NodeKind for LinearRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            ID,
            "Linear Regression",
            Category::Model,
            "Predicts a number as a weighted sum of the features, solved exactly by least squares; an L2 weight above 0 makes it ridge regression.",
        )
        .param("l2_weight", "L2 regularization weight", float(0.0, 1e9), json!(0.0), "0 gives ordinary least squares; above 0, ridge regression with this penalty (alpha in scikit-learn).")
        .param("fit_intercept", "Fit intercept", ParamKind::Bool, json!(true), "Learn a bias term (it is never penalized).")
        .tunable("l2_weight", TuneRange::Float { min: 0.0, max: 1000.0, log: false })
        .output("learner", PortType::Learner, "Untrained linear regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Algorithm for LinearRegression {
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("linear regression needs a numeric label"));
        };
        let (x, p) = (&data.x, data.x.cols);
        let n = x.rows as f64;
        let fit_intercept = params.bool("fit_intercept")?;
        // [X | 1]ᵀ[X | 1] and [X | 1]ᵀy in one pass each; centring follows algebraically from the sums.
        let backend = crate::device::backend(ctx, x.rows * x.cols)?;
        let p1 = p + 1;
        let full = gram(&backend, x.view(), true, None).map_err(crate::device::kernel_error)?;
        let xy = crossprod(&backend, x.view(), 1, CrossB::Rows { data: y, cols: 1 }, 0, None)
            .map_err(crate::device::kernel_error)?;
        let (x_mean, y_mean) = if fit_intercept {
            ((0..p).map(|a| full[p * p1 + a] / n).collect(), xy[p] / n)
        } else {
            (vec![0.0; p], 0.0)
        };
        let mut gram = vec![0.0; p * p];
        let mut xty = vec![0.0; p];
        for a in 0..p {
            xty[a] = xy[a] - n * x_mean[a] * y_mean;
            for c in 0..p {
                gram[a * p + c] = full[a * p1 + c] - n * x_mean[a] * x_mean[c];
            }
        }
        ctx.check_cancelled()?;
        let l2 = params.float("l2_weight")?;
        for a in 0..p {
            gram[a * p + a] += l2;
        }
        let (coefficients, regularized) = solve_spd(&gram, &xty, p);
        let intercept = y_mean - coefficients.iter().zip(&x_mean).map(|(w, m)| w * m).sum::<f64>();
        encode_state(&State { coefficients, intercept, regularized })
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let state: State = decode_state(model)?;
        Ok(Prediction::Values(
            (0..x.rows)
                .map(|i| x.row(i).iter().zip(&state.coefficients).map(|(a, b)| a * b).sum::<f64>() + state.intercept)
                .collect(),
        ))
    }
}
