//! Evaluation blocks and the metric functions they use.

mod anomaly;
pub mod metrics;

blocks! {
    block evaluate_model::EvaluateModel,
    block permutation_importance::PermutationFeatureImportance,
}

pub use evaluate_model::{EvaluateOptions, evaluate_scored};
