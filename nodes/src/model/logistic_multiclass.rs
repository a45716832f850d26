//! Multiclass Logistic Regression.


use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::logistic_two_class::{
    fit_logistic, fit_logistic_batches, fit_logistic_columns, logistic_params, predict_logistic,
};
use crate::algo::logistic::LogisticCoefficients;
use super::{Learn, Prediction, TrainingBatches, TrainingColumns, TrainingSet, learner_output};
use crate::frame::Matrix;

/// Multinomial logistic regression for two or more classes.
pub struct MulticlassLogisticRegression;

impl MulticlassLogisticRegression {
    /// The kind id.
    pub const ID: &'static str = "model.logistic_regression_multiclass";
}

impl NodeKind for MulticlassLogisticRegression {
    fn spec(&self) -> NodeSpec {
        logistic_params(NodeSpec::new(
            MulticlassLogisticRegression::ID,
            "Multiclass Logistic Regression",
            Category::Model,
            "Predicts one of several classes with a softmax over one linear score per class (multinomial logistic regression).",
        ))
        .output("learner", PortType::Learner, "Untrained multiclass logistic regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::MulticlassClassification, Task::BinaryClassification]))
    }
}

impl Learn for MulticlassLogisticRegression {
    type State = LogisticCoefficients;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        fit_logistic(params, data, ctx)
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        fit_logistic_batches(params, batches, ctx)
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        fit_logistic_columns(params, data, ctx)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(predict_logistic(state, model, x))
    }
}
