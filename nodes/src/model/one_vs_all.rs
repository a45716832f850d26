//! One-vs-All Multiclass: a multiclass learner made of one two-class model per class.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Value};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, algorithm_of};
use crate::frame::Matrix;

/// Trains one two-class model per class (that class against all others) and predicts the class whose model
/// is most confident, with the probabilities normalized to sum to one (scikit-learn's `OneVsRestClassifier`).
pub struct OneVsAllMulticlass;

impl OneVsAllMulticlass {
    /// The kind id.
    pub const ID: &'static str = "model.one_vs_all";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    /// The two-class learner each model was trained with.
    inner_algorithm: String,
    inner_name: String,
    /// One fitted state per class, in class order.
    models: Vec<Json>,
    /// The same as models, decoded once.
    #[serde(skip)]
    inner: super::wrapper::InnerModels,
}

impl State {
    fn inner_models(&self, model: &Model) -> Result<&[Model], NodeError> {
        let classes_of = |k: usize| model.classes.get(k).map(|class| binary_classes(class));
        self.inner.of(&self.inner_algorithm, &self.inner_name, model, &self.models, classes_of)
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        super::expect_len("the inner model list", self.models.len(), model.classes.len())?;
        self.inner_models(model).map(drop).map_err(|e| format!("an inner model: {e}"))
    }
}

/// The binary problem of class `k` against the rest: classes `["rest", "<k>"]`.
fn binary_classes(k: &str) -> Vec<String> {
    vec!["rest".to_owned(), k.to_owned()]
}

impl NodeKind for OneVsAllMulticlass {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            OneVsAllMulticlass::ID,
            "One-vs-All Multiclass",
            Category::Model,
            "Turns any two-class learner into a multiclass one: one model per class learns that class against all the others; a row gets the class whose model is most confident (probabilities normalized to sum to one).",
        )
        .input("learner", PortType::Learner, "A two-class learner, such as Two-Class Logistic Regression")
        .output("learner", PortType::Learner, "The multiclass learner")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        super::wrapper::wrap_two_class(ctx, OneVsAllMulticlass::ID, "One-vs-All")
    }
}

impl Learn for OneVsAllMulticlass {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("one-vs-all needs a class label"));
        };
        let (inner_algorithm, inner_name, inner_params) = super::wrapper::inner_of(params)?;
        let algorithm = algorithm_of(&inner_algorithm)?;
        let mut models = Vec::with_capacity(classes.len());
        for (k, class) in classes.iter().enumerate() {
            ctx.check_cancelled()?;
            ctx.report_progress(k as f32 / classes.len() as f32, &format!("class {class} against the rest"));
            let binary = TrainingSet {
                x: data.x.clone(),
                labels: Labels::Classes {
                    y: y.iter().map(|&c| usize::from(c == k)).collect(),
                    classes: binary_classes(class),
                },
            };
            models.push(algorithm.fit(&inner_params, &binary, ctx)?.0.get().clone());
        }
        Ok(State { inner_algorithm, inner_name, models, inner: super::wrapper::InnerModels::default() })
    }

    fn predict(&self, state: &State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let algorithm = algorithm_of(&state.inner_algorithm)?;
        let k = model.classes.len();
        let mut out = Matrix::zeros(x.rows, k);
        for (c, inner) in state.inner_models(model)?.iter().enumerate() {
            let Prediction::Probabilities(p) = algorithm.predict(inner, x)? else {
                return Err(NodeError::data(format!("{} gives no class probabilities", state.inner_name)));
            };
            for i in 0..x.rows {
                out.row_mut(i)[c] = p.get(i, 1);
            }
        }
        for i in 0..x.rows {
            let row = out.row_mut(i);
            let total: f64 = row.iter().sum();
            for v in row.iter_mut() {
                *v = if total > 0.0 { *v / total } else { 1.0 / k as f64 };
            }
        }
        Ok(Prediction::Probabilities(out))
    }
}
