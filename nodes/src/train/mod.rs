//! Training and scoring blocks.

mod assign_clusters;
mod cross_validate;
mod score_model;
mod train_anomaly_detection;
mod train_clustering;
mod train_model;
mod tune_hyperparameters;

pub use assign_clusters::AssignDataToClusters;
pub use cross_validate::CrossValidateModel;
pub use score_model::ANOMALY_SCORE;
pub use score_model::{PROBABILITY_PREFIX, SCORED_LABELS, ScoreModel, score};
pub use train_anomaly_detection::{TrainAnomalyDetectionModel, train_anomaly_detection};
pub use train_clustering::TrainClusteringModel;
pub use train_model::{TrainModel, train};
pub use tune_hyperparameters::TuneModelHyperparameters;

/// Name of the cluster index column written by clustering blocks.
pub const ASSIGNMENTS: &str = "Assignments";
/// Table attribute naming the columns a clustering was computed on, for Evaluate Model.
pub const CLUSTERING_FEATURES: &str = "clustering.features";
/// Name of the distance column written by clustering blocks.
pub const DISTANCE: &str = "DistanceToClusterCenter";
