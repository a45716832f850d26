//! What One-vs-All and One-vs-One share: a learner that wraps a two-class learner, keeping the inner
//! learner's kind, name and parameters among its own parameters.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use pipewright_engine::{Learner, NodeContext, NodeError, Params, Task, Value};

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
