//! Two-Class Logistic Regression.

use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use pipewright_compute::{Backend, Evaluation, LogisticData, LogisticProblem, MatrixRef, hessian_part};

use super::{
    FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingColumns, TrainingSet, learner_output, probabilities,
};
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
    fn pass(&self, theta: &[f64], curvature: bool) -> Result<Part, NodeError> {
        let (blocks, rows) = (self.blocks, self.rows);
        let mut total = Evaluation { loss: 0.0, gradient: vec![0.0; theta.len()], hessian: Vec::new() };
        let mut hessian = curvature.then(|| vec![0.0; theta.len() * theta.len()]);
        // Each batch's columns read in place, a block of rows at a time in parallel, as in memory.
        self.batches.each_labelled_columns(self.ctx, |data, y, first_row| {
            let batch = ColumnLoss { data, y, blocks };
            batch.add_sums(theta, curvature, first_row, rows, &mut total, &mut hessian)
        })?;
        // A data-parallel fit: every shard's sums.
        self.batches.across_shards((total, hessian), |mut a, b| {
            add_part(&mut a.0, &mut a.1, b);
            a
        })
    }
}

/// A part of a sum over rows: loss and gradient, and the Hessian when it was asked for.
type Part = (Evaluation, Option<Vec<f64>>);

/// The loss and gradient at `theta` of some consecutive rows of a table, from `first_row` of `total_rows`, on the
/// CPU, with the rows' share of the Hessian when `curvature`.
fn loss_part(
    data: LogisticData<'_>,
    theta: &[f64],
    first_row: usize,
    total_rows: usize,
    curvature: bool,
) -> Result<Part, NodeError> {
    let problem = LogisticProblem::new(&Backend::Cpu, data);
    if curvature && data.blocks > 1 {
        // Several classes: every row counts in the Hessian, which the kernel sums in the pass of the loss.
        let mut part = problem.evaluate(theta, true).map_err(crate::device::kernel_error)?;
        let hessian = std::mem::take(&mut part.hessian);
        return Ok((part, Some(hessian)));
    }
    let part = problem.evaluate(theta, false).map_err(crate::device::kernel_error)?;
    Ok((part, curvature.then(|| hessian_part(data, theta, first_row, total_rows))))
}

/// Adds a part's loss, gradient and Hessian to the totals.
fn add_part(total: &mut Evaluation, hessian: &mut Option<Vec<f64>>, (part, part_hessian): Part) {
    total.loss += part.loss;
    for (t, p) in total.gradient.iter_mut().zip(part.gradient) {
        *t += p;
    }
    if let (Some(hessian), Some(part_hessian)) = (hessian, part_hessian) {
        for (t, p) in hessian.iter_mut().zip(part_hessian) {
            *t += p;
        }
    }
}

/// The log loss of rows read from their columns (a table's, or a streamed batch's) on the CPU, a block of rows at a
/// time in parallel ([`TrainingColumns::map_blocks`]).
struct ColumnLoss<'a> {
    data: &'a TrainingColumns<'a>,
    y: &'a [usize],
    blocks: usize,
}

impl ColumnLoss<'_> {
    fn sums(&self, theta: &[f64], curvature: bool) -> Result<Part, NodeError> {
        let mut total = Evaluation { loss: 0.0, gradient: vec![0.0; theta.len()], hessian: Vec::new() };
        let mut hessian = curvature.then(|| vec![0.0; theta.len() * theta.len()]);
        self.add_sums(theta, curvature, 0, self.data.rows, &mut total, &mut hessian)?;
        Ok((total, hessian))
    }

    /// Adds the loss, gradient and (when `curvature`) Hessian of these rows to the totals, a block of rows at a time
    /// in parallel, added in row order; the rows start at row `first_row` of a table of `total_rows`.
    fn add_sums(
        &self,
        theta: &[f64],
        curvature: bool,
        first_row: usize,
        total_rows: usize,
        total: &mut Evaluation,
        hessian: &mut Option<Vec<f64>>,
    ) -> Result<(), NodeError> {
        let blocks = self.blocks;
        let parts = self.data.map_blocks(|x, rows| {
            let y = &self.y[rows.clone()];
            loss_part(LogisticData { x, y, blocks }, theta, first_row + rows.start, total_rows, curvature)
        });
        for part in parts {
            add_part(total, hessian, part?);
        }
        Ok(())
    }
}

impl LogLoss for ColumnLoss<'_> {
    fn evaluate(&mut self, theta: &[f64]) -> Result<Evaluation, NodeError> {
        Ok(self.sums(theta, false)?.0)
    }

    fn hessian(&mut self, theta: &[f64]) -> Result<Vec<f64>, NodeError> {
        self.sums(theta, true)?.1.ok_or_else(|| NodeError::data("internal error: no Hessian (please report this)"))
    }

    /// The Hessian in the pass of the loss, as over a streamed table.
    fn evaluate_fused(&mut self, theta: &[f64]) -> Result<Part, NodeError> {
        self.sums(theta, true)
    }

    fn precision(&self) -> f64 {
        cpu_loss_precision()
    }
}

/// Fits on the CPU from the training table's columns, without a row-major copy of them: Newton's method as in
/// memory, each evaluation a parallel pass over blocks of rows.
pub(super) fn fit_logistic_columns(
    params: &Params,
    data: &TrainingColumns<'_>,
    ctx: &NodeContext<'_>,
) -> Result<LogisticCoefficients, NodeError> {
    let Labels::Classes { y, classes } = data.labels else {
        return Err(NodeError::data("logistic regression needs a class label"));
    };
    let settings = settings(params)?;
    let blocks = if classes.len() <= 2 { 1 } else { classes.len() };
    let mut loss = ColumnLoss { data, y, blocks };
    let fitted = logistic::fit_loss(&mut loss, data.columns.len(), blocks, settings, |i| {
        ctx.report_progress(i as f32 / settings.max_iterations as f32, "Newton iterations");
        !ctx.cancel.is_cancelled()
    })?;
    ctx.check_cancelled()?;
    Ok(fitted)
}

/// The precision of the loss as the CPU kernels sum it.
fn cpu_loss_precision() -> f64 {
    LogisticProblem::new(&Backend::Cpu, LogisticData { x: MatrixRef::new(0, 0, &[]), y: &[], blocks: 1 }).loss_precision()
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
    fn evaluate_fused(&mut self, theta: &[f64]) -> Result<Part, NodeError> {
        self.pass(theta, true)
    }

    fn precision(&self) -> f64 {
        cpu_loss_precision()
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

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_engine::rng::SplitMix64;

    /// `rows` × `cols` features and labels of `classes` classes, loosely related.
    fn data(rows: usize, cols: usize, classes: usize) -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut rng = SplitMix64::new(11);
        let columns: Vec<Vec<f64>> = (0..cols).map(|_| (0..rows).map(|_| rng.next_f64() * 4.0 - 2.0).collect()).collect();
        let y = (0..rows)
            .map(|r| {
                let score = columns[0][r] - 0.5 * columns[1 % cols][r] + rng.next_f64();
                ((score + 3.0).max(0.0) as usize).min(classes - 1)
            })
            .collect();
        (columns, y)
    }

    #[test]
    fn the_loss_read_from_columns_equals_the_loss_of_the_matrix() {
        // Past the rows where the two-class Hessian is sampled (every third row: blocks of 4,096 rows start off
        // the stride), and not a whole number of blocks.
        let (rows, cols) = (3 * pipewright_compute::HESSIAN_ROWS + 1234, 5);
        for classes in [2, 3] {
            let (columns, y) = data(rows, cols, classes);
            let blocks = if classes == 2 { 1 } else { classes };
            let labels = Labels::Classes { y: y.clone(), classes: (0..classes).map(|c| c.to_string()).collect() };
            let set = TrainingColumns { columns: columns.iter().map(Vec::as_slice).collect(), rows, labels: &labels };
            let matrix: Vec<f64> = (0..rows).flat_map(|r| columns.iter().map(move |c| c[r])).collect();
            let theta: Vec<f64> = (0..blocks * (cols + 1)).map(|i| 0.1 * i as f64 - 0.3).collect();

            let mut from_columns = ColumnLoss { data: &set, y: &y, blocks };
            let (e, hessian) = from_columns.evaluate_fused(&theta).expect("cpu");
            let whole = LogisticData { x: MatrixRef::new(rows, cols, &matrix), y: &y, blocks };
            let expected = LogisticProblem::new(&Backend::Cpu, whole).evaluate(&theta, true).expect("cpu");

            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
            assert!(close(e.loss, expected.loss), "{classes} classes: loss {} against {}", e.loss, expected.loss);
            for (a, b) in e.gradient.iter().zip(&expected.gradient) {
                assert!(close(*a, *b), "{classes} classes: gradient {a} against {b}");
            }
            let hessian = hessian.expect("asked for");
            let expected_hessian =
                if blocks == 1 { LogisticProblem::new(&Backend::Cpu, whole).hessian(&theta).expect("cpu") } else { expected.hessian };
            assert_eq!(hessian.len(), expected_hessian.len());
            for (a, b) in hessian.iter().zip(&expected_hessian) {
                assert!(close(*a, *b), "{classes} classes: Hessian {a} against {b}");
            }
        }
    }
}
