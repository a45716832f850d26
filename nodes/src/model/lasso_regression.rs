//! Lasso Regression: least squares with an L1 penalty, which sets the weights of unhelpful features to exactly 0.

use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::elastic_net_regression::{State, fit_penalized, penalized_params, predict_penalized};
use super::{Learn, Prediction, TrainingSet, learner_output};
use crate::frame::Matrix;

/// Linear regression with an L1 penalty (scikit-learn's `Lasso`).
pub struct LassoRegression;

impl LassoRegression {
    /// The kind id.
    pub const ID: &'static str = "model.lasso_regression";
}

impl NodeKind for LassoRegression {
    fn spec(&self) -> NodeSpec {
        penalized_params(NodeSpec::new(
            Self::ID,
            "Lasso Regression",
            Category::Model,
            "Predicts a number as a weighted sum of the features, with an L1 penalty that sets the weights of unhelpful features to exactly 0: a linear model that also selects features. Fitted by coordinate descent, as scikit-learn's Lasso.",
        ))
        .output("learner", PortType::Learner, "Untrained lasso regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for LassoRegression {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<State, NodeError> {
        fit_penalized(params, 1.0, data, ctx)
    }

    const STREAMS: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &super::TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<State, NodeError> {
        super::elastic_net_regression::penalized_from_moments(params, 1.0, &batches.moments(ctx)?, ctx)
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(
        &self,
        params: &Params,
        data: &super::TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<State, NodeError> {
        super::elastic_net_regression::penalized_from_moments(params, 1.0, &data.moments()?, ctx)
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(predict_penalized(state, x))
    }
}
