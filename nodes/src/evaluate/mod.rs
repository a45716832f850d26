//! Evaluation blocks and the metric functions they use.

mod anomaly;
mod evaluate_model;
pub mod metrics;
mod permutation_importance;

pub use evaluate_model::{EvaluateModel, EvaluateOptions, evaluate_scored};
pub use permutation_importance::PermutationFeatureImportance;
