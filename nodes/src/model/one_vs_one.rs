//! One-vs-One Multiclass: a multiclass learner made of one two-class model per pair of classes.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Value};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, algorithm_of};
use crate::frame::Matrix;

/// Trains one two-class model per pair of classes, each on the rows of those two classes only, and lets
/// them vote, as scikit-learn's `OneVsOneClassifier` does: each pair model votes for the class it
/// predicts (probability above one half), and a tie is broken by the summed confidences, where the
/// confidence of a pair model is the log-odds of its probability (its decision function for logistic
/// regression), counted for the second class of the pair and against the first. The score of a class is
/// scikit-learn's `decision_function`, votes + s / (3 (|s| + 1)) with s its summed confidence; the
/// scores shifted up by 1/3 (so that none is negative) and normalized to sum to one are the reported
/// probabilities. They rank the classes as the votes do, but are not calibrated probabilities.
pub struct OneVsOneMulticlass;

impl OneVsOneMulticlass {
    /// The kind id.
    pub const ID: &'static str = "model.one_vs_one";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    /// The two-class learner each model was trained with.
    inner_algorithm: String,
    inner_name: String,
    /// One fitted state per pair (i, j), i < j, in the order (0,1), (0,2), …, (1,2), …
    models: Vec<Json>,
    /// The same as models, decoded once.
    #[serde(skip)]
    inner: super::wrapper::InnerModels,
}

/// The class pairs (i, j), i < j, in scikit-learn's order.
fn pairs(classes: usize) -> Vec<(usize, usize)> {
    (0..classes).flat_map(|i| (i + 1..classes).map(move |j| (i, j))).collect()
}

impl State {
    fn inner_models(&self, model: &Model) -> Result<&[Model], NodeError> {
        let all = pairs(model.classes.len());
        let classes_of = |k: usize| all.get(k).map(|&(i, j)| vec![model.classes[i].clone(), model.classes[j].clone()]);
        self.inner.of(&self.inner_algorithm, &self.inner_name, model, &self.models, classes_of)
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the inner model list", self.models.len(), pairs(model.classes.len()).len())?;
        self.inner_models(model).map(drop).map_err(|e| format!("an inner model: {e}"))
    }
}

impl NodeKind for OneVsOneMulticlass {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            OneVsOneMulticlass::ID,
            "One-vs-One Multiclass",
            Category::Model,
            "Turns any two-class learner into a multiclass one: one model per pair of classes, trained on the rows of those two classes; each votes, and a row gets the class with most votes (ties broken by the models' summed confidence). Probabilities are the normalized vote scores.",
        )
        .input("learner", PortType::Learner, "A two-class learner, such as Two-Class Logistic Regression")
        .output("learner", PortType::Learner, "The multiclass learner")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        super::wrapper::wrap_two_class(ctx, OneVsOneMulticlass::ID, "One-vs-One")
    }
}

impl Learn for OneVsOneMulticlass {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("one-vs-one needs a class label"));
        };
        let (inner_algorithm, inner_name, inner_params) = super::wrapper::inner_of(params)?;
        let algorithm = algorithm_of(&inner_algorithm)?;
        let all = pairs(classes.len());
        let mut models = Vec::with_capacity(all.len());
        for (k, &(i, j)) in all.iter().enumerate() {
            ctx.check_cancelled()?;
            ctx.report_progress(k as f32 / all.len() as f32, &format!("{} against {}", classes[i], classes[j]));
            let rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == i || y[r] == j).collect();
            let binary = TrainingSet {
                x: data.x.select_rows(&rows),
                labels: Labels::Classes {
                    y: rows.iter().map(|&r| usize::from(y[r] == j)).collect(),
                    classes: vec![classes[i].clone(), classes[j].clone()],
                },
            };
            models.push(algorithm.fit(&inner_params, &binary, ctx)?.0.get().clone());
        }
        Ok(State { inner_algorithm, inner_name, models, inner: super::wrapper::InnerModels::default() })
    }

    fn predict(&self, state: &State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let algorithm = algorithm_of(&state.inner_algorithm)?;
        let k = model.classes.len();
        let all = pairs(k);
        if all.len() != state.models.len() {
            return Err(NodeError::data("the one-vs-one model does not match its classes: retrain it"));
        }
        let mut votes = Matrix::zeros(x.rows, k);
        let mut confidence = Matrix::zeros(x.rows, k);
        for (&(i, j), inner) in all.iter().zip(state.inner_models(model)?) {
            let Prediction::Probabilities(p) = algorithm.predict(inner, x)? else {
                return Err(NodeError::data(format!("{} gives no class probabilities", state.inner_name)));
            };
            for r in 0..x.rows {
                let second = p.get(r, 1);
                let winner = if second > 0.5 { j } else { i };
                votes.row_mut(r)[winner] += 1.0;
                let odds = log_odds(second);
                confidence.row_mut(r)[i] -= odds;
                confidence.row_mut(r)[j] += odds;
            }
        }
        let mut out = Matrix::zeros(x.rows, k);
        for r in 0..x.rows {
            let scores = decision_scores(votes.row(r), confidence.row(r));
            let total: f64 = scores.iter().map(|s| s + 1.0 / 3.0).sum();
            for (o, s) in out.row_mut(r).iter_mut().zip(&scores) {
                *o = (s + 1.0 / 3.0) / total;
            }
        }
        Ok(Prediction::Probabilities(out))
    }
}

/// ln(p / (1 − p)), kept finite for probabilities of exactly 0 or 1.
fn log_odds(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).ln()
}

/// scikit-learn's `_ovr_decision_function`: votes plus the summed confidences squeezed into (−1/3, 1/3).
fn decision_scores(votes: &[f64], confidences: &[f64]) -> Vec<f64> {
    votes.iter().zip(confidences).map(|(v, s)| v + s / (3.0 * (s.abs() + 1.0))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_scikit_learns_order() {
        assert_eq!(pairs(3), vec![(0, 1), (0, 2), (1, 2)]);
        assert_eq!(pairs(4).len(), 6);
    }

    #[test]
    fn confidences_break_a_three_way_tie_without_overturning_votes() {
        // Each class won one vote; class 2 has the largest summed confidence.
        let scores = decision_scores(&[1.0, 1.0, 1.0], &[-0.5, 0.1, 2.0]);
        let best = (0..3).fold(0, |b, c| if scores[c] > scores[b] { c } else { b });
        assert_eq!(best, 2);
        // Two votes beat one whatever the confidences.
        let scores = decision_scores(&[2.0, 1.0, 0.0], &[-100.0, 100.0, 0.0]);
        assert!(scores[0] > scores[1]);
        assert!(scores.iter().all(|s| s + 1.0 / 3.0 > 0.0));
    }
}
