//! Two-Class Averaged Perceptron.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output, probabilities};
use crate::algo::svm::LinearScore;
use crate::frame::Matrix;

/// The averaged perceptron for two classes.
pub struct AveragedPerceptron;

impl AveragedPerceptron {
    /// The kind id.
    pub const ID: &'static str = "model.averaged_perceptron";
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
struct PerceptronSettings {
    learning_rate: f64,
    iterations: usize,
    seed: u64,
}

/// Runs the perceptron: each pass visits the rows in a fresh `SplitMix64` Fisher–Yates order; a row
/// whose signed margin y(w·x + b) is ≤ 0 moves w by rate·y·x and b by rate·y. The result is the
/// average of (w, b) after every row of every pass, which is far steadier than the last (w, b).
fn fit_perceptron(x: &Matrix, positive: &[bool], s: PerceptronSettings) -> LinearScore {
    let (n, p) = (x.rows, x.cols);
    let mut rng = SplitMix64::new(s.seed);
    let (mut w, mut b) = (vec![0.0; p], 0.0);
    let (mut w_sum, mut b_sum) = (vec![0.0; p], 0.0);
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..s.iterations {
        rng.shuffle(&mut order);
        for &i in &order {
            let row = x.row(i);
            let y = if positive[i] { 1.0 } else { -1.0 };
            let margin = w.iter().zip(row).map(|(a, v)| a * v).sum::<f64>() + b;
            if y * margin <= 0.0 {
                w.iter_mut().zip(row).for_each(|(a, v)| *a += s.learning_rate * y * v);
                b += s.learning_rate * y;
            }
            w_sum.iter_mut().zip(&w).for_each(|(a, v)| *a += v);
            b_sum += b;
        }
    }
    let steps = (s.iterations * n).max(1) as f64;
    LinearScore { weights: w_sum.into_iter().map(|v| v / steps).collect(), intercept: b_sum / steps }
}

/// The logistic function, turning a margin into a probability of the second class.
pub(super) fn squash(margin: f64) -> f64 {
    1.0 / (1.0 + (-margin).exp())
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    score: LinearScore,
}

impl NodeKind for AveragedPerceptron {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            AveragedPerceptron::ID,
            "Two-Class Averaged Perceptron",
            Category::Model,
            "Separates two classes with a straight boundary learned by the perceptron rule, averaging the weights over every step. Fast and good on linearly separable data; the Scored Probabilities are the logistic function of the margin, not calibrated probabilities.",
        )
        .param("learning_rate", "Learning rate", float(1e-6, 100.0), json!(1.0), "Size of each correction step.")
        .param(
            "iterations",
            "Maximum number of iterations",
            int(1, 10_000),
            json!(10),
            "Passes over the training rows, each in a new random order.",
        )
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .tunable("learning_rate", TuneRange::Float { min: 0.01, max: 10.0, log: true })
        .tunable("iterations", TuneRange::Int { min: 1, max: 100 })
        .output("learner", PortType::Learner, "Untrained averaged perceptron")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification]))
    }
}

impl Learn for AveragedPerceptron {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("the averaged perceptron needs a class label"));
        };
        if classes.len() != 2 {
            return Err(NodeError::data(format!(
                "the averaged perceptron separates two classes; the label has {}: use a multiclass learner",
                classes.len()
            )));
        }
        let settings = PerceptronSettings {
            learning_rate: params.float("learning_rate")?,
            iterations: params.count("iterations")?,
            seed: params.seed("seed")?,
        };
        let positive: Vec<bool> = y.iter().map(|&c| c == 1).collect();
        Ok(State { score: fit_perceptron(&data.x, &positive, settings) })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Probabilities(probabilities(x, 2, |row, out| {
            let p = squash(state.score.margin(row));
            out[0] = 1.0 - p;
            out[1] = p;
        })))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the weight list", self.score.weights.len(), model.features.len())?;
        super::expect_finite("the weights", self.score.weights.iter().chain([&self.score.intercept]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_over_two_rows_averages_the_steps() {
        // Rows x = 1 (+) and x = −1 (−), one pass. Whichever comes first has margin 0 and updates
        // (w, b) to (1, +1) or (1, −1); the second then has margin y(w·x + b) = 1 − 1 = 0 and updates
        // again, to (2, 0). The sums over the two steps are w: 1 + 2 = 3, b: ±1 + 0, so the average
        // is w = 1.5 and b = ±0.5 depending on the order.
        let x = Matrix { rows: 2, cols: 1, data: vec![1.0, -1.0] };
        let s = PerceptronSettings { learning_rate: 1.0, iterations: 1, seed: 7 };
        let score = fit_perceptron(&x, &[true, false], s);
        assert_eq!(score.weights, vec![1.5]);
        assert_eq!(score.intercept.abs(), 0.5);
        // A second pass makes no mistakes: (2, 0) is added twice more: w = (3 + 4) / 4, b = ±1 / 4.
        let score = fit_perceptron(&x, &[true, false], PerceptronSettings { iterations: 2, ..s });
        assert_eq!(score.weights, vec![1.75]);
        assert_eq!(score.intercept.abs(), 0.25);
    }

    #[test]
    fn the_squash_is_one_half_on_the_boundary() {
        assert_eq!(squash(0.0), 0.5);
        assert!((squash(2.0) + squash(-2.0) - 1.0).abs() < 1e-15);
    }
}
