//! k-Nearest Neighbors Regression: predicts the mean label of the closest training rows.

use serde::{Deserialize, Serialize};

use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::knn_classifier::{Memory, Search, knn_params, search};
use pipewright_compute::Backend;

use super::{DeviceChoice, FittedState, Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::knn;
use crate::frame::Matrix;

/// A k-nearest-neighbours regressor.
pub struct KNearestNeighborsRegression;

impl KNearestNeighborsRegression {
    /// The kind id.
    pub const ID: &'static str = "model.knn_regression";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    search: Search,
    memory: Memory,
    y: Vec<f64>,
}

impl NodeKind for KNearestNeighborsRegression {
    fn spec(&self) -> NodeSpec {
        knn_params(NodeSpec::new(
            KNearestNeighborsRegression::ID,
            "k-Nearest Neighbors Regression",
            Category::Model,
            "Predicts a number as the (optionally distance-weighted) mean label of the k training rows closest to a row.",
        ))
        .output("learner", PortType::Learner, "Untrained k-nearest-neighbors regressor")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for KNearestNeighborsRegression {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("k-nearest-neighbors regression needs a numeric label"));
        };
        let search = search(params, data.x.rows)?;
        Ok(State { search, memory: Memory::of(&data.x), y: y.clone() })
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(Backend::Cpu))
    }

    fn predict_on(&self, state: &State, _model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let Search { k, metric, weights } = state.search;
        let train = state.memory.matrix();
        let backend = device(x.rows.saturating_mul(train.rows).saturating_mul(train.cols.max(1)))?;
        let found = knn::nearest_all(&train, x, k, metric, &backend).map_err(crate::device::kernel_error)?;
        Ok(Prediction::Values(found.iter().map(|n| knn::mean_of(n, &state.y, weights)).collect()))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        let rows = self.memory.check(model.features.len())?;
        super::expect_len("the stored labels", self.y.len(), rows)
    }
}
