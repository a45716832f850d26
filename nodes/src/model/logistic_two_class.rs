//! Two-Class Logistic Regression.

use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use pipewright_compute::{Backend, Evaluation, LogisticData, LogisticProblem, MatrixRef, hessian_part};

use super::{FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingSet, learner_output, probabilities};
use crate::algo::logistic::{self, LogLoss, LogisticCoefficients, LogisticSettings};
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
    })?;
    ctx.check_cancelled()?;
    Ok(fitted)
}

/// The log loss of a streamed table's rows: a pass of its batches for each evaluation, on the CPU.
struct BatchedLoss<'a> {
    batches: &'a TrainingBatches<'a>,
    ctx: &'a NodeContext<'a>,
    blocks: usize,
    rows: usize,
}

impl BatchedLoss<'_> {
    /// One pass: loss and gradient at `theta`, with the Hessian's parts summed beside them when `curvature`.
    fn pass(&self, theta: &[f64], curvature: bool) -> Result<(Evaluation, Option<Vec<f64>>), NodeError> {
        let (blocks, rows) = (self.blocks, self.rows);
        let mut total = Evaluation { loss: 0.0, gradient: vec![0.0; theta.len()], hessian: Vec::new() };
        let mut hessian = curvature.then(|| vec![0.0; theta.len() * theta.len()]);
        self.batches.each_labelled(self.ctx, |x, y, first_row| {
            let data = LogisticData { x: x.view(), y, blocks };
            let part = LogisticProblem::new(&Backend::Cpu, data).evaluate(theta, false).map_err(crate::device::kernel_error)?;
            total.loss += part.loss;
            for (t, p) in total.gradient.iter_mut().zip(part.gradient) {
                *t += p;
            }
            if let Some(hessian) = &mut hessian {
                for (t, p) in hessian.iter_mut().zip(hessian_part(data, theta, first_row, rows)) {
                    *t += p;
                }
            }
            Ok(())
        })?;
        Ok((total, hessian))
    }
}

impl LogLoss for BatchedLoss<'_> {
    fn evaluate(&mut self, theta: &[f64]) -> Result<Evaluation, NodeError> {
        Ok(self.pass(theta, false)?.0)
    }

    fn hessian(&mut self, theta: &[f64]) -> Result<Vec<f64>, NodeError> {
        let mut total = vec![0.0; theta.len() * theta.len()];
        self.batches.each_labelled(self.ctx, |x, y, first_row| {
            let data = LogisticData { x: x.view(), y, blocks: self.blocks };
            for (t, p) in total.iter_mut().zip(hessian_part(data, theta, first_row, self.rows)) {
                *t += p;
            }
            Ok(())
        })?;
        Ok(total)
    }

    /// The Hessian in the same pass as the loss: it is taken on a sample of rows, so it costs little beside them,
    /// and saves Newton's method a pass a step.
    fn evaluate_fused(&mut self, theta: &[f64]) -> Result<(Evaluation, Option<Vec<f64>>), NodeError> {
        self.pass(theta, true)
    }

    fn precision(&self) -> f64 {
        LogisticProblem::new(&Backend::Cpu, LogisticData { x: MatrixRef::new(0, 0, &[]), y: &[], blocks: 1 })
            .loss_precision()
    }
}

/// Fits over passes of a streamed table: Newton's method as in memory, each loss, gradient and Hessian a pass.
pub(super) fn fit_logistic_batches(
    params: &Params,
    batches: &TrainingBatches<'_>,
    ctx: &NodeContext<'_>,
) -> Result<LogisticCoefficients, NodeError> {
    let Some(classes) = batches.classes else {
        return Err(NodeError::data("logistic regression needs a class label"));
    };
    let settings = settings(params)?;
    let blocks = if classes.names.len() <= 2 { 1 } else { classes.names.len() };
    let mut loss = BatchedLoss { batches, ctx, blocks, rows: classes.rows };
    let fitted = logistic::fit_loss(&mut loss, batches.features.len(), blocks, settings, |_| !ctx.cancel.is_cancelled())?;
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

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        fit_logistic_batches(params, batches, ctx)
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
