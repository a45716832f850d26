//! Two-Class Logistic Regression.

use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output, probabilities};
use crate::algo::logistic::{self, LogisticCoefficients, LogisticSettings};
use crate::frame::Matrix;

/// Logistic regression for a label with two classes.
pub struct TwoClassLogisticRegression;

impl TwoClassLogisticRegression {
    /// The kind id.
    pub const ID: &'static str = "model.logistic_regression_two_class";
}

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

pub(super) fn fit_logistic(params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<LogisticCoefficients, NodeError> {
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
    Ok(fitted)
}

pub(super) fn predict_logistic(coefficients: &LogisticCoefficients, model: &Model, x: &Matrix) -> Prediction {
    let classes = model.classes.len();
    Prediction::Probabilities(probabilities(x, classes, |row, out| coefficients.probabilities(row, out)))
}

impl NodeKind for TwoClassLogisticRegression {
    fn spec(&self) -> NodeSpec {
        logistic_params(NodeSpec::new(
            TwoClassLogisticRegression::ID,
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

impl Learn for TwoClassLogisticRegression {
    type State = LogisticCoefficients;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        fit_logistic(params, data, ctx)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(predict_logistic(state, model, x))
    }
}

impl FittedState for LogisticCoefficients {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the feature count", self.cols, model.features.len())?;
        let blocks = if model.classes.len() == 2 { 1 } else { model.classes.len() };
        // A two-class model fitted as multinomial keeps a block per class.
        if self.blocks.len() != blocks && self.blocks.len() != model.classes.len() {
            return Err(format!("it has {} coefficient blocks for {} classes", self.blocks.len(), model.classes.len()));
        }
        for block in &self.blocks {
            super::expect_len("a coefficient block", block.len(), self.cols + 1)?;
            super::expect_finite("the coefficients", block)?;
        }
        Ok(())
    }
}
