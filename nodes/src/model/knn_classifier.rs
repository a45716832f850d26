//! k-Nearest Neighbors: classifies a row by the classes of the closest training rows.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use pipewright_compute::Backend;

use super::{DeviceChoice, FittedState, Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::knn::{self, Metric, Weights};
use crate::frame::Matrix;

/// A k-nearest-neighbours classifier.
pub struct KNearestNeighbors;

impl KNearestNeighbors {
    /// The kind id.
    pub const ID: &'static str = "model.knn_classifier";
}

/// The neighbour search of both kNN blocks, checked against the training rows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct Search {
    pub k: usize,
    pub metric: Metric,
    pub weights: Weights,
}

/// The training rows a kNN model keeps, row-major.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Memory {
    pub cols: usize,
    pub rows: Vec<f64>,
}

impl Memory {
    pub fn of(x: &Matrix) -> Self {
        Self { cols: x.cols, rows: x.data.clone() }
    }

    pub fn matrix(&self) -> Matrix {
        Matrix { rows: self.rows.len().checked_div(self.cols).unwrap_or(0), cols: self.cols, data: self.rows.clone() }
    }
}

/// The hyperparameters of both kNN blocks.
pub(super) fn knn_params(spec: NodeSpec) -> NodeSpec {
    spec.param(
        "neighbors",
        "Number of neighbors",
        int(1, 10_000),
        json!(5),
        "k, how many of the closest training rows decide. At most the number of training rows.",
    )
    .param(
        "weights",
        "Weighting",
        choice(&["uniform", "distance"]),
        json!("uniform"),
        "uniform: every neighbor counts the same; distance: closer neighbors count more (1/distance).",
    )
    .param(
        "metric",
        "Distance metric",
        choice(&["euclidean", "manhattan"]),
        json!("euclidean"),
        "How far apart two rows are. Features on different scales should be normalized first.",
    )
    .tunable("neighbors", TuneRange::Int { min: 1, max: 50 })
    .tunable("weights", TuneRange::Choice { values: vec![json!("uniform"), json!("distance")] })
    .tunable("metric", TuneRange::Choice { values: vec![json!("euclidean"), json!("manhattan")] })
}

/// Reads and checks the search settings against the number of training rows.
pub(super) fn search(params: &Params, training_rows: usize) -> Result<Search, NodeError> {
    let k = params.count("neighbors")?;
    if k > training_rows {
        return Err(NodeError::param(
            "neighbors",
            format!(
                "k = {k} neighbors is more than the {training_rows} training rows: lower the number of neighbors or train on more rows"
            ),
        ));
    }
    Ok(Search {
        k,
        metric: if params.text("metric")? == "manhattan" { Metric::Manhattan } else { Metric::Euclidean },
        weights: if params.text("weights")? == "distance" { Weights::Distance } else { Weights::Uniform },
    })
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    search: Search,
    memory: Memory,
    y: Vec<usize>,
    classes: usize,
}

impl NodeKind for KNearestNeighbors {
    fn spec(&self) -> NodeSpec {
        knn_params(NodeSpec::new(
            KNearestNeighbors::ID,
            "k-Nearest Neighbors",
            Category::Model,
            "Classifies a row by a vote among the k training rows closest to it. No training beyond storing the rows; scoring compares every row with every training row.",
        ))
        .output("learner", PortType::Learner, "Untrained k-nearest-neighbors classifier")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for KNearestNeighbors {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("a k-nearest-neighbors classifier needs a class label"));
        };
        let search = search(params, data.x.rows)?;
        Ok(State { search, memory: Memory::of(&data.x), y: y.clone(), classes: classes.len() })
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(Backend::Cpu))
    }

    fn predict_on(&self, state: &State, _model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let Search { k, metric, weights } = state.search;
        let train = state.memory.matrix();
        // The work is every query row against every training row.
        let backend = device(x.rows.saturating_mul(train.rows).saturating_mul(train.cols.max(1)))?;
        let found = knn::nearest_all(&train, x, k, metric, &backend).map_err(crate::device::kernel_error)?;
        let mut out = Matrix::zeros(x.rows, state.classes);
        for (i, neighbours) in found.iter().enumerate() {
            knn::shares_of(neighbours, &state.y, weights, out.row_mut(i));
        }
        Ok(Prediction::Probabilities(out))
    }
}

impl Memory {
    /// Whether it holds whole rows of `features` values, and how many.
    pub fn check(&self, features: usize) -> Result<usize, String> {
        super::expect_len("the stored row width", self.cols, features)?;
        if self.cols == 0 || !self.rows.len().is_multiple_of(self.cols) {
            return Err(format!("the stored rows ({} values) are not whole rows of {features}", self.rows.len()));
        }
        Ok(self.rows.len() / self.cols)
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        let rows = self.memory.check(model.features.len())?;
        super::expect_len("the stored labels", self.y.len(), rows)?;
        super::expect_len("the class count", self.classes, model.classes.len())?;
        if self.y.iter().any(|&c| c >= self.classes) {
            return Err("a stored label is not one of the classes".into());
        }
        Ok(())
    }
}
