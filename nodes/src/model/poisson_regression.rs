//! Poisson Regression: counts and other non-negative targets through a log link.

use serde_json::json;

use pipewright_compute::pass::{Pass, Rows as PassRows};
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
        check_labels(y.iter().filter(|v| **v < 0.0).count(), y.iter().all(|v| *v == 0.0))?;
        Ok(poisson::fit(&data.x, y, settings(params)?))
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    /// One pass for the label's mean (and its checks), then one per Newton step and per line-search trial.
    fn fit_batches(
        &self,
        params: &Params,
        batches: &super::TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<PoissonFit, NodeError> {
        let (mut sum, mut rows, mut negative) = (0.0, 0usize, 0usize);
        batches.each(ctx, |_, y| {
            sum += y.iter().sum::<f64>();
            rows += y.len();
            negative += y.iter().filter(|v| **v < 0.0).count();
            Ok(())
        })?;
        let (sum, rows, negative) =
            batches.across_shards((sum, rows, negative), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))?;
        if rows == 0 {
            return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
        }
        check_labels(negative, sum == 0.0)?;
        let settings = settings(params)?;
        poisson::fit_over(batches.features.len(), sum / rows as f64, settings, |pass| {
            let mut total = pass.empty();
            batches.each(ctx, |x, y| {
                let chunk = PassRows { x: x.view(), y };
                total = pass.reduce(std::mem::replace(&mut total, pass.empty()), pass.map(&chunk));
                Ok(())
            })?;
            batches.across_shards(total, |a, b| pass.reduce(a, b))
        })
    }

    fn predict(&self, fit: &PoissonFit, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Values((0..x.rows).map(|i| fit.predict(x.row(i))).collect()))
    }
}

/// Refuses negative labels and a label that is 0 everywhere.
fn check_labels(negative: usize, all_zero: bool) -> Result<(), NodeError> {
    if negative > 0 {
        return Err(NodeError::data(format!(
            "Poisson regression needs a label of 0 or more, but {negative} rows are negative: use Linear Regression or shift the label"
        )));
    }
    if all_zero {
        return Err(NodeError::data("every label is 0: Poisson regression needs some positive labels"));
    }
    Ok(())
}

fn settings(params: &Params) -> Result<PoissonSettings, NodeError> {
    Ok(PoissonSettings {
        l2: params.float("l2_weight")?,
        max_iterations: params.count("max_iterations")?,
        tolerance: params.float("tolerance")?,
    })
}

impl FittedState for PoissonFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the weight list", self.weights.len(), model.features.len())?;
        super::expect_finite("the weights", self.weights.iter().chain([&self.intercept]))
    }
}
