//! Two-Class Logistic Regression.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{Algorithm, Labels, Prediction, TrainingSet, decode_state, encode_state, learner_output, probabilities};
use crate::algo::logistic::{self, LogisticCoefficients, LogisticSettings};
use crate::frame::Matrix;

pub(super) const ID: &str = "model.logistic_regression_two_class";

/// Logistic regression for a label with two classes.
pub struct TwoClassLogisticRegression;

/// The hyperparameters shared by both logistic regression blocks.
pub(super) fn logistic_params(spec: NodeSpec) -> NodeSpec {
    spec.param(
        "l2_weight",
        "L2 regularization weight",
        float(0.0, 1e6),
        json!(1.0),
        "Penalty on squared weights (1/C in scikit-learn). 0 turns regularization off.",
    )
    .param("max_iterations", "Maximum iterations", int(1, 10_000), json!(100), "Newton iterations at most.")
    .param(
        "tolerance",
        "Optimization tolerance",
        float(0.0, 1.0),
        json!(1e-8),
        "Stop when no coefficient moves more than this.",
    )
    .param("fit_intercept", "Fit intercept", ParamKind::Bool, json!(true), "Learn a bias term.")
    .tunable("l2_weight", TuneRange::Float { min: 1e-4, max: 100.0, log: true })
}

pub(super) fn settings(params: &Params) -> Result<LogisticSettings, NodeError> {
    Ok(LogisticSettings {
        l2: params.float("l2_weight")?,
        max_iterations: params.count("max_iterations")?,
        tolerance: params.float("tolerance")?,
        fit_intercept: params.bool("fit_intercept")?,
    })
}

pub(super) fn fit_logistic(params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
    let Labels::Classes { y, classes } = &data.labels else {
        return Err(NodeError::data("logistic regression needs a class label"));
    };
    let settings = settings(params)?;
    let backend = crate::device::backend(ctx, data.x.rows * data.x.cols)?;
    let fitted = logistic::fit(&data.x, y, classes.len(), settings, &backend, |i| {
        ctx.report_progress(i as f32 / settings.max_iterations as f32, "Newton iterations");
        !ctx.cancel.is_cancelled()
    })
    .map_err(crate::device::kernel_error)?;
    ctx.check_cancelled()?;
    encode_state(&fitted)
}

pub(super) fn predict_logistic(model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
    let coefficients: LogisticCoefficients = decode_state(model)?;
    let classes = model.classes.len();
    Ok(Prediction::Probabilities(probabilities(x, classes, |row, out| coefficients.probabilities(row, out))))
}

impl NodeKind for TwoClassLogisticRegression {
    fn spec(&self) -> NodeSpec {
        logistic_params(NodeSpec::new(
            ID,
            "Two-Class Logistic Regression",
            Category::Model,
            "Predicts one of two classes from a weighted sum of the features passed through the logistic function. Fast, interpretable, and a strong baseline.",
        ))
        .output("learner", PortType::Learner, "Untrained two-class logistic regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification]))
    }
}

impl Algorithm for TwoClassLogisticRegression {
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
        fit_logistic(params, data, ctx)
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        predict_logistic(model, x)
    }
}
