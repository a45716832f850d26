//! Decision Forest Regression.

use serde_json::Value as Json;

use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::decision_forest::{fit_forest, forest_params};
use super::{Algorithm, Labels, Prediction, TrainingSet, decode_state, learner_output};
use crate::algo::forest::{Forest, Target};
use crate::frame::Matrix;

pub(super) const ID: &str = "model.decision_forest_regression";

/// A random forest regressor.
pub struct DecisionForestRegression;

impl NodeKind for DecisionForestRegression {
    fn spec(&self) -> NodeSpec {
        forest_params(
            NodeSpec::new(
                ID,
                "Decision Forest Regression",
                Category::Model,
                "Predicts a number as the average of many regression trees grown on bootstrap samples (a random forest).",
            ),
            "all",
        )
        .output("learner", PortType::Learner, "Untrained decision forest regressor")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Algorithm for DecisionForestRegression {
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("a regression forest needs a numeric label"));
        };
        fit_forest(params, Target::Values(y), &data.x, ctx)
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let forest: Forest = decode_state(model)?;
        let mut out = [0.0];
        Ok(Prediction::Values(
            (0..x.rows)
                .map(|i| {
                    forest.predict_row(x.row(i), &mut out);
                    out[0]
                })
                .collect(),
        ))
    }
}
