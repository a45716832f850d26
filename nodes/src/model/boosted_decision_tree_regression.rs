//! Boosted Decision Tree Regression.


use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::boosted_decision_tree::{boosting_params, fit_boosted, fit_boosted_columns};
use super::{Labels, Learn, Prediction, TrainingColumns, TrainingSet, learner_output};
use crate::algo::boosting::{BoostTarget, BoostedTrees};
use crate::frame::Matrix;

/// A gradient-boosted tree regressor.
pub struct BoostedDecisionTreeRegression;

impl BoostedDecisionTreeRegression {
    /// The kind id.
    pub const ID: &'static str = "model.boosted_decision_tree_regression";
}

impl NodeKind for BoostedDecisionTreeRegression {
    fn spec(&self) -> NodeSpec {
        boosting_params(NodeSpec::new(
            BoostedDecisionTreeRegression::ID,
            "Boosted Decision Tree Regression",
            Category::Model,
            "Predicts a number with an ensemble of small trees, each fitted to the residuals of those before it (gradient boosting on the squared error, with histogram splits as in scikit-learn's HistGradientBoostingRegressor).",
        ))
        .output("learner", PortType::Learner, "Untrained boosted decision tree regressor")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for BoostedDecisionTreeRegression {
    type State = BoostedTrees;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("boosted decision tree regression needs a numeric label"));
        };
        fit_boosted(params, BoostTarget::Values(y), &data.x, ctx)
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = data.labels else {
            return Err(NodeError::data("boosted decision tree regression needs a numeric label"));
        };
        fit_boosted_columns(params, BoostTarget::Values(y), data, ctx)
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &super::TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        super::boosted_decision_tree::fit_boosted_batches(params, batches, ctx)
    }

    fn predict(&self, fitted: &BoostedTrees, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Values(fitted.raw_rows(x)))
    }
}
