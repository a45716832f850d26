//! Evaluation blocks and the metric functions they use.

mod evaluate_model;
pub mod metrics;

pub use evaluate_model::{EvaluateModel, EvaluateOptions, evaluate_scored};
