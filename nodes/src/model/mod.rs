//! Model blocks: each declares a learner (an algorithm and its hyperparameters) and implements
//! [`Algorithm`], which Train Model and Score Model call.

mod agglomerative_clustering;
mod averaged_perceptron;
mod boosted_decision_tree;
mod boosted_decision_tree_regression;
mod dbscan;
mod decision_forest;
mod decision_forest_regression;
mod decision_tree;
mod fast_forest_quantile_regression;
mod gaussian_mixture;
mod isolation_forest;
mod kmeans;
mod knn_classifier;
mod knn_regression;
mod linear_regression;
mod linear_svm;
mod logistic_multiclass;
mod logistic_two_class;
mod naive_bayes;
mod neural_network;
mod neural_network_regression;
mod one_class_svm;
mod one_vs_all;
mod one_vs_one;
mod pca_anomaly_detection;
mod poisson_regression;
mod wrapper;

use std::sync::Arc;

use serde_json::Value as Json;

use pipewright_engine::{Learner, Model, NodeContext, NodeError, Params, Task, Value};

use crate::frame::Matrix;

pub use agglomerative_clustering::AgglomerativeClustering;
pub use averaged_perceptron::AveragedPerceptron;
pub use boosted_decision_tree::BoostedDecisionTree;
pub use boosted_decision_tree_regression::BoostedDecisionTreeRegression;
pub use dbscan::Dbscan;
pub use decision_forest::DecisionForest;
pub use decision_forest_regression::DecisionForestRegression;
pub use decision_tree::DecisionTree;
pub use fast_forest_quantile_regression::FastForestQuantileRegression;
pub use gaussian_mixture::GaussianMixture;
pub use isolation_forest::IsolationForest;
pub use kmeans::KMeansClustering;
pub use knn_classifier::KNearestNeighbors;
pub use knn_regression::KNearestNeighborsRegression;
pub use linear_regression::LinearRegression;
pub use linear_svm::SupportVectorMachine;
pub use logistic_multiclass::MulticlassLogisticRegression;
pub use logistic_two_class::TwoClassLogisticRegression;
pub use naive_bayes::NaiveBayes;
pub use neural_network::NeuralNetwork;
pub use neural_network_regression::NeuralNetworkRegression;
pub use one_class_svm::OneClassSvm;
pub use one_vs_all::OneVsAllMulticlass;
pub use one_vs_one::OneVsOneMulticlass;
pub use pca_anomaly_detection::PcaAnomalyDetection;
pub use poisson_regression::PoissonRegression;

/// The label a learner is trained on.
#[derive(Debug, Clone)]
pub enum Labels {
    /// Class index per row, and the class names in index order.
    Classes {
        /// Per-row class index.
        y: Vec<usize>,
        /// Class names.
        classes: Vec<String>,
    },
    /// A number per row.
    Values(Vec<f64>),
    /// No label (clustering).
    None,
}

/// Rows ready for an algorithm.
pub struct TrainingSet {
    /// Features, one row per table row.
    pub x: Matrix,
    /// The label.
    pub labels: Labels,
}

/// What a model says about rows.
pub enum Prediction {
    /// Class probabilities, one row per table row, columns in the model's class order.
    Probabilities(Matrix),
    /// A number per row.
    Values(Vec<f64>),
    /// Cluster index and distance to its centre per row.
    Clusters(Vec<(usize, f64)>),
    /// Anomaly detection: a score per row in 0..1 (higher is more anomalous) and whether it is an anomaly.
    Anomalies {
        /// Anomaly score per row.
        scores: Vec<f64>,
        /// Whether each row is flagged as an anomaly.
        flags: Vec<bool>,
    },
}

/// Picks (and records) the backend for an amount of work, in matrix elements.
pub type DeviceChoice<'a> = dyn Fn(usize) -> Result<pipewright_compute::Backend, NodeError> + 'a;

/// An algorithm behind a learner block.
pub trait Algorithm: Sync {
    /// Fits and returns the model's state.
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError>;

    /// Predicts for feature rows in the model's feature order.
    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError>;

    /// Predicts with compute kernels where the algorithm has them: `device` gives the backend for a given
    /// amount of work (rows × columns) and records it; the others predict on the CPU.
    fn predict_on(&self, model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let _ = device;
        self.predict(model, x)
    }
}

/// The algorithm of a learner kind id.
pub fn algorithm(id: &str) -> Option<&'static dyn Algorithm> {
    Some(match id {
        logistic_two_class::ID => &TwoClassLogisticRegression,
        logistic_multiclass::ID => &MulticlassLogisticRegression,
        linear_regression::ID => &LinearRegression,
        decision_forest::ID => &DecisionForest,
        decision_forest_regression::ID => &DecisionForestRegression,
        kmeans::ID => &KMeansClustering,
        one_vs_all::ID => &OneVsAllMulticlass,
        decision_tree::ID => &DecisionTree,
        knn_classifier::ID => &KNearestNeighbors,
        knn_regression::ID => &KNearestNeighborsRegression,
        naive_bayes::ID => &NaiveBayes,
        averaged_perceptron::ID => &AveragedPerceptron,
        linear_svm::ID => &SupportVectorMachine,
        poisson_regression::ID => &PoissonRegression,
        boosted_decision_tree::ID => &BoostedDecisionTree,
        boosted_decision_tree_regression::ID => &BoostedDecisionTreeRegression,
        dbscan::ID => &Dbscan,
        agglomerative_clustering::ID => &AgglomerativeClustering,
        gaussian_mixture::ID => &GaussianMixture,
        isolation_forest::ID => &IsolationForest,
        pca_anomaly_detection::ID => &PcaAnomalyDetection,
        one_class_svm::ID => &OneClassSvm,
        neural_network::ID => &NeuralNetwork,
        neural_network_regression::ID => &NeuralNetworkRegression,
        one_vs_one::ID => &OneVsOneMulticlass,
        fast_forest_quantile_regression::ID => &FastForestQuantileRegression,
        _ => return None,
    })
}

/// The algorithm of a learner kind id, or an error saying this build lacks it.
pub(crate) fn algorithm_of(id: &str) -> Result<&'static dyn Algorithm, NodeError> {
    algorithm(id).ok_or_else(|| {
        NodeError::data(format!("this Pipewright has no algorithm \"{id}\": was the workflow made by a newer version?"))
    })
}

/// The output of every learner block: its kind, name and checked parameters.
pub(crate) fn learner_output(ctx: &NodeContext<'_>, tasks: &[Task]) -> Vec<Value> {
    vec![Value::Learner(Arc::new(Learner {
        algorithm: ctx.spec.id.to_owned(),
        name: ctx.spec.name.to_owned(),
        tasks: tasks.to_vec(),
        params: ctx.params.values().clone(),
    }))]
}

/// Decodes a model's stored state.
pub(crate) fn decode_state<T: serde::de::DeserializeOwned>(model: &Model) -> Result<T, NodeError> {
    serde_json::from_value(model.state.clone())
        .map_err(|e| NodeError::data(format!("the {} model's state is unreadable ({e}): retrain it", model.name)))
}

/// Encodes a model's state.
pub(crate) fn encode_state<T: serde::Serialize>(state: &T) -> Result<Json, NodeError> {
    serde_json::to_value(state).map_err(|e| NodeError::data(format!("cannot store the model: {e}")))
}

/// Class probabilities of every row.
pub(crate) fn probabilities(x: &Matrix, classes: usize, row_fn: impl Fn(&[f64], &mut [f64]) + Sync) -> Matrix {
    use rayon::prelude::*;
    let mut out = Matrix::zeros(x.rows, classes);
    out.data.par_chunks_mut(classes.max(1)).enumerate().for_each(|(i, row)| row_fn(x.row(i), row));
    out
}
