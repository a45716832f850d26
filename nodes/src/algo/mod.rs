//! Algorithms the model blocks use, written for this project and checked against scikit-learn.

pub mod forest;
pub mod kmeans;
pub mod linalg;
pub mod logistic;
