//! Training and scoring blocks.

mod assign_clusters;
mod score_model;
mod train_clustering;
mod train_model;

pub use assign_clusters::AssignDataToClusters;
pub use score_model::{PROBABILITY_PREFIX, SCORED_LABELS, ScoreModel, score};
pub use train_clustering::TrainClusteringModel;
pub use train_model::TrainModel;

/// Name of the cluster index column written by clustering blocks.
pub const ASSIGNMENTS: &str = "Assignments";
/// Name of the distance column written by clustering blocks.
pub const DISTANCE: &str = "DistanceToClusterCenter";
