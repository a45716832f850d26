//! Training and scoring blocks.

blocks! {
    block train_model::TrainModel,
    block cross_validate::CrossValidateModel,
    block tune_hyperparameters::TuneModelHyperparameters,
    block train_best_model::TrainBestModel,
    block train_clustering::TrainClusteringModel,
    block train_anomaly_detection::TrainAnomalyDetectionModel,
    block score_model::ScoreModel,
    block assign_clusters::AssignDataToClusters,
}

pub use score_model::{ANOMALY_SCORE, PROBABILITY_PREFIX, SCORED_LABELS, score};
pub use train_anomaly_detection::train_anomaly_detection;
pub use train_model::{classes_of, train, train_shard};

/// Name of the cluster index column written by clustering blocks.
pub const ASSIGNMENTS: &str = "Assignments";
/// Table attribute naming the columns a clustering was computed on, for Evaluate Model.
pub const CLUSTERING_FEATURES: &str = "clustering.features";
/// Name of the distance column written by clustering blocks.
pub const DISTANCE: &str = "DistanceToClusterCenter";
