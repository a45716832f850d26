//! Elastic Net Regression: least squares with an L1 and an L2 penalty, fitted by coordinate descent on the
//! normal equations; Lasso Regression is the same fit with the whole penalty on L1.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::linear_regression::{CentredSums, centred_sums, of_moments};
use pipewright_compute::pass::Moments;
use super::{FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingColumns, TrainingSet, learner_output};
use crate::algo::coordinate_descent::{self, ElasticNetSettings, NormalEquations};
use crate::frame::Matrix;

/// Linear regression with a mix of L1 and L2 penalties (scikit-learn's `ElasticNet`).
pub struct ElasticNetRegression;

impl ElasticNetRegression {
    /// The kind id.
    pub const ID: &'static str = "model.elastic_net_regression";
}

/// A fitted sparse linear model: what Lasso and Elastic Net keep.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    coefficients: Vec<f64>,
    intercept: f64,
    /// Coordinate-descent sweeps used.
    iterations: usize,
    /// The duality gap at the end (scikit-learn's `dual_gap_`).
    dual_gap: f64,
    /// Whether the gap fell below the tolerance within the sweeps allowed.
    converged: bool,
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the coefficient list", self.coefficients.len(), model.features.len())?;
        super::expect_finite("the coefficients", self.coefficients.iter().chain([&self.intercept]))
    }
}

/// The parameters Lasso and Elastic Net share: the weight, the sweeps, the tolerance and the intercept.
pub(super) fn penalized_params(spec: NodeSpec) -> NodeSpec {
    spec.param("alpha", "Regularization weight (alpha)", float(1e-12, 1e9), json!(1.0), "How strongly large weights are penalized (alpha in scikit-learn); larger values set more weights to exactly 0.")
        .param("max_iterations", "Maximum sweeps", int(1, 1_000_000), json!(1000), "Coordinate-descent sweeps over the weights at most.")
        .param("tolerance", "Tolerance", float(0.0, 1.0), json!(1e-4), "The fit stops when the duality gap is below this share of the label's spread.")
        .param("fit_intercept", "Fit intercept", ParamKind::Bool, json!(true), "Learn a bias term (it is never penalized).")
        .tunable("alpha", TuneRange::Float { min: 1e-4, max: 10.0, log: true })
}

/// Fits a penalized linear model with the L1 share `l1_ratio`.
pub(super) fn fit_penalized(
    params: &Params,
    l1_ratio: f64,
    data: &TrainingSet,
    ctx: &NodeContext<'_>,
) -> Result<State, NodeError> {
    let Labels::Values(y) = &data.labels else {
        return Err(NodeError::data("a penalized linear regression needs a numeric label"));
    };
    let sums = centred_sums(&data.x, y, params.bool("fit_intercept")?, ctx)?;
    penalized_from_sums(params, l1_ratio, &sums, data.x.rows, ctx)
}

/// Fits a penalized linear model from the centred moments (one pass over a streamed table's batches).
pub(super) fn penalized_from_moments(
    params: &Params,
    l1_ratio: f64,
    moments: &Moments,
    ctx: &NodeContext<'_>,
) -> Result<State, NodeError> {
    let sums = of_moments(moments.clone(), params.bool("fit_intercept")?);
    penalized_from_sums(params, l1_ratio, &sums, moments.n as usize, ctx)
}

/// Coordinate descent on the normal equations of `rows` rows.
fn penalized_from_sums(
    params: &Params,
    l1_ratio: f64,
    sums: &CentredSums,
    rows: usize,
    ctx: &NodeContext<'_>,
) -> Result<State, NodeError> {
    let settings = ElasticNetSettings {
        alpha: params.float("alpha")?,
        l1_ratio,
        max_iterations: params.count("max_iterations")?,
        tolerance: params.float("tolerance")?,
    };
    let equations = NormalEquations { gram: &sums.gram, xty: &sums.xty, yty: sums.yty, rows };
    let fit = coordinate_descent::fit(&equations, settings, |sweep| {
        ctx.report_progress(sweep as f32 / settings.max_iterations as f32, "coordinate descent");
        !ctx.cancel.is_cancelled()
    })
    .ok_or(NodeError::Cancelled)?;
    let intercept = sums.intercept(&fit.weights);
    Ok(State {
        coefficients: fit.weights,
        intercept,
        iterations: fit.iterations,
        dual_gap: fit.dual_gap,
        converged: fit.converged,
    })
}

/// The prediction of a fitted penalized linear model.
pub(super) fn predict_penalized(state: &State, x: &Matrix) -> Prediction {
    Prediction::Values(
        (0..x.rows)
            .map(|i| x.row(i).iter().zip(&state.coefficients).map(|(a, b)| a * b).sum::<f64>() + state.intercept)
            .collect(),
    )
}

impl NodeKind for ElasticNetRegression {
    fn spec(&self) -> NodeSpec {
        penalized_params(NodeSpec::new(
            Self::ID,
            "Elastic Net Regression",
            Category::Model,
            "Predicts a number as a weighted sum of the features, with a penalty that mixes L1 (which sets weights of unhelpful features to exactly 0) and L2 (which shrinks correlated features together). Fitted by coordinate descent, as scikit-learn's ElasticNet.",
        ))
        .param("l1_ratio", "L1 share", float(0.0, 1.0), json!(0.5), "The share of the penalty that is L1 (l1_ratio in scikit-learn): 1 is Lasso, 0 is ridge.")
        .tunable("l1_ratio", TuneRange::Float { min: 0.05, max: 1.0, log: false })
        .output("learner", PortType::Learner, "Untrained elastic net regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for ElasticNetRegression {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<State, NodeError> {
        fit_penalized(params, params.float("l1_ratio")?, data, ctx)
    }

    const STREAMS: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<State, NodeError> {
        penalized_from_moments(params, params.float("l1_ratio")?, &batches.moments(ctx)?, ctx)
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(&self, params: &Params, data: &TrainingColumns<'_>, ctx: &NodeContext<'_>) -> Result<State, NodeError> {
        penalized_from_moments(params, params.float("l1_ratio")?, &data.moments()?, ctx)
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(predict_penalized(state, x))
    }
}
