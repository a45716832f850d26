//! Decision Forest Regression.


use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::decision_forest::{fit_forest, forest_params};
use super::{Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::forest::{Forest, Target};
use crate::frame::Matrix;

/// A random forest regressor.
pub struct DecisionForestRegression;

impl DecisionForestRegression {
    /// The kind id.
    pub const ID: &'static str = "model.decision_forest_regression";
}

impl NodeKind for DecisionForestRegression {
    fn spec(&self) -> NodeSpec {
        forest_params(
            NodeSpec::new(
                DecisionForestRegression::ID,
                "Decision Forest Regression",
                Category::Model,
                "Predicts a number as the average of many regression trees grown on bootstrap samples (a random forest). On tables of more than 4,096 rows, nodes of more than 256 rows choose their split among 256 quantile bins of each feature; smaller tables and nodes split exactly, as scikit-learn's RandomForestRegressor. A table streamed from a file larger than the memory budget is read into such bins (edges found on about 200,000 sampled rows) and every node splits on them.",
            ),
            "all",
        )
        .output("learner", PortType::Learner, "Untrained decision forest regressor")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for DecisionForestRegression {
    type State = Forest;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("a regression forest needs a numeric label"));
        };
        fit_forest(params, Target::Values(y), &data.x, ctx)
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &super::TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        super::decision_forest::fit_forest_batches(params, batches, false, ctx)
    }

    fn predict(&self, forest: &Forest, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
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
