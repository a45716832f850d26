//! Linear Regression: ordinary least squares, or ridge with an L2 weight.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, float};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use pipewright_compute::pass::{self, CHUNK_ROWS, CrossMoments, Moments, row_chunks};
use pipewright_compute::{Backend, CrossB, crossprod, gram};

use super::{FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingColumns, TrainingSet, learner_output};
use crate::algo::linalg::solve_spd;
use crate::frame::Matrix;

/// Least-squares linear regression.
pub struct LinearRegression;

impl LinearRegression {
    /// The kind id.
    pub const ID: &'static str = "model.linear_regression";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    coefficients: Vec<f64>,
    intercept: f64,
    /// Whether the normal equations were singular and a tiny ridge was added.
    regularized: bool,
}

/// The normal equations of a linear model around the means (raw when there is no intercept): what least
/// squares, ridge, Lasso and Elastic Net fit from. One pass over the rows gives them.
pub(super) struct CentredSums {
    /// `XᵀX` of the centred features, `p × p`.
    pub gram: Vec<f64>,
    /// `Xᵀy` of the centred features and label.
    pub xty: Vec<f64>,
    /// `yᵀy` of the centred label.
    pub yty: f64,
    /// The feature means (zeros without an intercept).
    pub x_mean: Vec<f64>,
    /// The label mean (zero without an intercept).
    pub y_mean: f64,
}

impl CentredSums {
    /// The intercept that goes with `coefficients`.
    pub fn intercept(&self, coefficients: &[f64]) -> f64 {
        self.y_mean - coefficients.iter().zip(&self.x_mean).map(|(w, m)| w * m).sum::<f64>()
    }
}

/// The centred normal equations in one pass over the rows. On the CPU: the [`CrossMoments`] pass, chunk by
/// chunk (each chunk centred on its own means, chunks merged by Chan's formula), the same pass a cluster runs
/// per shard. On a GPU: `[X | 1]ᵀ[X | 1]` and `[X | 1]ᵀy` on the device, centred algebraically from the sums.
pub(super) fn centred_sums(
    x: &Matrix,
    y: &[f64],
    fit_intercept: bool,
    ctx: &NodeContext<'_>,
) -> Result<CentredSums, NodeError> {
    let backend = crate::device::backend(ctx, x.rows * x.cols)?;
    if matches!(backend, Backend::Cpu) {
        let m = pass::run(&CrossMoments { features: x.cols }, &row_chunks(x.view(), y, CHUNK_ROWS));
        return Ok(of_moments(m, fit_intercept));
    }
    let p = x.cols;
    let n = x.rows as f64;
    let p1 = p + 1;
    let full = gram(&backend, x.view(), true, None).map_err(crate::device::kernel_error)?;
    let xy = crossprod(&backend, x.view(), 1, CrossB::Rows { data: y, cols: 1 }, 0, None)
        .map_err(crate::device::kernel_error)?;
    let (x_mean, y_mean) =
        if fit_intercept { ((0..p).map(|a| full[p * p1 + a] / n).collect(), xy[p] / n) } else { (vec![0.0; p], 0.0) };
    let mut gram = vec![0.0; p * p];
    let mut xty = vec![0.0; p];
    for a in 0..p {
        xty[a] = xy[a] - n * x_mean[a] * y_mean;
        for c in 0..p {
            gram[a * p + c] = full[a * p1 + c] - n * x_mean[a] * x_mean[c];
        }
    }
    let yty = y.iter().map(|v| (v - y_mean).powi(2)).sum();
    Ok(CentredSums { gram, xty, yty, x_mean, y_mean })
}

/// Least squares (or ridge) from the normal equations.
fn solve(params: &Params, mut sums: CentredSums) -> Result<State, NodeError> {
    let p = sums.xty.len();
    let l2 = params.float("l2_weight")?;
    for a in 0..p {
        sums.gram[a * p + a] += l2;
    }
    let (coefficients, regularized) = solve_spd(&sums.gram, &sums.xty, p);
    let intercept = sums.intercept(&coefficients);
    Ok(State { coefficients, intercept, regularized })
}

/// The normal equations from the moments: centred with an intercept, raw (`XᵀX = C + n·x̄x̄ᵀ`) without.
pub(super) fn of_moments(m: Moments, fit_intercept: bool) -> CentredSums {
    if fit_intercept {
        return CentredSums { gram: m.xx, xty: m.xy, yty: m.yy, x_mean: m.x_mean, y_mean: m.y_mean };
    }
    let p = m.x_mean.len();
    let mut gram = m.xx;
    let mut xty = m.xy;
    for a in 0..p {
        xty[a] += m.n * m.x_mean[a] * m.y_mean;
        for c in 0..p {
            gram[a * p + c] += m.n * m.x_mean[a] * m.x_mean[c];
        }
    }
    let yty = m.yy + m.n * m.y_mean * m.y_mean;
    CentredSums { gram, xty, yty, x_mean: vec![0.0; p], y_mean: 0.0 }
}

impl NodeKind for LinearRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            LinearRegression::ID,
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

impl Learn for LinearRegression {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("linear regression needs a numeric label"));
        };
        let sums = centred_sums(&data.x, y, params.bool("fit_intercept")?, ctx)?;
        ctx.check_cancelled()?;
        solve(params, sums)
    }

    const STREAMS: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<State, NodeError> {
        solve(params, of_moments(batches.moments(ctx)?, params.bool("fit_intercept")?))
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(&self, params: &Params, data: &TrainingColumns<'_>, _ctx: &NodeContext<'_>) -> Result<State, NodeError> {
        solve(params, of_moments(data.moments()?, params.bool("fit_intercept")?))
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Values(
            (0..x.rows)
                .map(|i| x.row(i).iter().zip(&state.coefficients).map(|(a, b)| a * b).sum::<f64>() + state.intercept)
                .collect(),
        ))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the coefficient list", self.coefficients.len(), model.features.len())?;
        super::expect_finite("the coefficients", self.coefficients.iter().chain([&self.intercept]))
    }
}
