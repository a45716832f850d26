//! Support Vector Machine (linear): squared hinge loss with an L2 penalty, one-vs-rest for several classes.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::averaged_perceptron::squash;
use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output, probabilities};
use crate::algo::svm::{self, LinearScore, SvmSettings};
use crate::frame::Matrix;

/// A linear support vector machine, like scikit-learn's `LinearSVC`.
pub struct SupportVectorMachine;

impl SupportVectorMachine {
    /// The kind id.
    pub const ID: &'static str = "model.linear_svm";
}

/// One decision function for two classes (margin > 0: the second class), or one per class.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    scores: Vec<LinearScore>,
    classes: usize,
}

impl State {
    /// Probabilities from margins: the logistic function of the margin for two classes; for more,
    /// each class's logistic of its one-vs-rest margin, normalized to sum to 1. The largest margin
    /// always gets the largest probability, so the Scored Label is the machine's decision.
    fn probabilities(&self, row: &[f64], out: &mut [f64]) {
        if self.classes == 2 {
            out[1] = squash(self.scores[0].margin(row));
            out[0] = 1.0 - out[1];
            return;
        }
        out.iter_mut().zip(&self.scores).for_each(|(o, s)| *o = squash(s.margin(row)));
        let total: f64 = out.iter().sum();
        for o in out.iter_mut() {
            *o /= total;
        }
    }
}

impl NodeKind for SupportVectorMachine {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            SupportVectorMachine::ID,
            "Support Vector Machine",
            Category::Model,
            "Separates classes with the straight boundary that keeps the widest margin (a linear SVM: squared hinge loss, L2 penalty, one-vs-rest for more than two classes). Scored Probabilities are the logistic function of the margin, not calibrated probabilities.",
        )
        .param(
            "cost",
            "Cost (C)",
            float(1e-6, 1e6),
            json!(1.0),
            "Weight of the training errors against the penalty on the weights; smaller values regularize more (C in scikit-learn's LinearSVC).",
        )
        .param("max_iterations", "Maximum iterations", int(1, 100_000), json!(1000), "Passes of the solver over the rows at most.")
        .param(
            "tolerance",
            "Optimization tolerance",
            float(0.0, 1.0),
            json!(1e-6),
            "Stop when no row's projected gradient exceeds this.",
        )
        .tunable("cost", TuneRange::Float { min: 1e-3, max: 1e3, log: true })
        .output("learner", PortType::Learner, "Untrained linear support vector machine")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for SupportVectorMachine {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("a support vector machine needs a class label"));
        };
        let settings = SvmSettings {
            c: params.float("cost")?,
            max_iterations: params.count("max_iterations")?,
            tolerance: params.float("tolerance")?,
        };
        let classes = classes.len();
        let positives: Vec<usize> = if classes == 2 { vec![1] } else { (0..classes).collect() };
        let mut scores = Vec::with_capacity(positives.len());
        for (done, positive) in positives.iter().enumerate() {
            ctx.check_cancelled()?;
            ctx.report_progress(done as f32 / positives.len() as f32, "one-vs-rest machines");
            let mask: Vec<bool> = y.iter().map(|c| c == positive).collect();
            scores.push(svm::fit_binary(&data.x, &mask, settings).0);
        }
        Ok(State { scores, classes })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Probabilities(probabilities(x, state.classes, |row, out| state.probabilities(row, out))))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the class list", self.classes, model.classes.len())?;
        for score in &self.scores {
            super::expect_len("a weight list", score.weights.len(), model.features.len())?;
            super::expect_finite("the weights", score.weights.iter().chain([&score.intercept]))?;
        }
        if self.scores.is_empty() { Err("it has no weights".into()) } else { Ok(()) }
    }
}
