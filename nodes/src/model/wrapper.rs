//! What One-vs-All and One-vs-One share: a learner that wraps a two-class learner, keeping the inner
//! learner's kind, name and parameters among its own parameters.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use pipewright_engine::{Learner, Model, NodeContext, NodeError, Params, Task, Value};

use super::algorithm_of;

/// The learner output of a wrapper block `id` around the two-class learner on its `learner` input;
/// `label` names the strategy in the learner's name ("One-vs-All (Two-Class Logistic Regression)").
pub(super) fn wrap_two_class(ctx: &NodeContext<'_>, id: &str, label: &str) -> Result<Vec<Value>, NodeError> {
    let inner = ctx.learner("learner")?;
    if !inner.tasks.contains(&Task::BinaryClassification) {
        return Err(NodeError::Input {
            port: "learner".into(),
            message: format!("{} is not a two-class learner: connect a two-class classifier", inner.name),
        });
    }
    algorithm_of(&inner.algorithm)?;
    let params = [
        ("inner_algorithm".to_owned(), json!(inner.algorithm)),
        ("inner_name".to_owned(), json!(inner.name)),
        ("inner_params".to_owned(), Json::Object(inner.params.clone().into_iter().collect())),
    ];
    Ok(vec![Value::Learner(Arc::new(Learner {
        algorithm: id.to_owned(),
        name: format!("{label} ({})", inner.name),
        tasks: vec![Task::BinaryClassification, Task::MulticlassClassification],
        params: params.into_iter().collect(),
    }))])
}

/// The wrapped learner's kind, name and parameters.
pub(super) fn inner_of(params: &Params) -> Result<(String, String, Params), NodeError> {
    let text = |name: &str| {
        params
            .get(name)
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| NodeError::data("the multiclass learner lost its two-class learner: rebuild it"))
    };
    let inner_params =
        params.get("inner_params").as_object().map(|m| m.clone().into_iter().collect()).unwrap_or_default();
    Ok((text("inner_algorithm")?, text("inner_name")?, Params::from_map(inner_params)))
}

/// The two-class models inside a wrapper's state, as models of their own, built and decoded once, the first time
/// the wrapper's model is loaded or predicts.
#[derive(Debug, Default)]
pub(super) struct InnerModels(std::sync::OnceLock<Vec<Model>>);

impl InnerModels {
    /// The inner models of `outer`: one per fitted state, the `k`-th with the classes `classes_of(k)`; each is
    /// checked by its own algorithm.
    pub fn of(
        &self,
        algorithm: &str,
        name: &str,
        outer: &Model,
        states: &[Json],
        classes_of: impl Fn(usize) -> Option<Vec<String>>,
    ) -> Result<&[Model], NodeError> {
        if let Some(models) = self.0.get() {
            return Ok(models);
        }
        let inner_algorithm = algorithm_of(algorithm)?;
        let models = states
            .iter()
            .enumerate()
            .map(|(k, state)| {
                let classes = classes_of(k).ok_or_else(|| {
                    NodeError::data(format!(
                        "the {} model has more inner models than its classes allow: retrain it",
                        outer.name
                    ))
                })?;
                let inner = Model {
                    algorithm: algorithm.to_owned(),
                    name: name.to_owned(),
                    task: Task::BinaryClassification,
                    label: outer.label.clone(),
                    features: outer.features.clone(),
                    classes,
                    state: state.clone().into(),
                    decoded: pipewright_engine::Decoded::default(),
                };
                inner_algorithm.load(&inner)?;
                Ok(inner)
            })
            .collect::<Result<Vec<_>, NodeError>>()?;
        let _ = self.0.set(models);
        Ok(self.0.get().map_or(&[], Vec::as_slice))
    }
}
