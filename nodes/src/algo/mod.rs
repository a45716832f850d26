//! Algorithms the model blocks use, written for this project and checked against scikit-learn.

pub mod anomaly;
pub mod bins;
pub mod boosting;
pub mod coordinate_descent;
pub mod dbscan;
pub mod forest;
pub mod gaussian_mixture;
pub mod hierarchical;
pub mod isolation_forest;
pub mod kmeans;
pub mod knn;
pub mod linalg;
pub mod logistic;
pub mod mlp;
pub mod one_class_svm;
pub mod pca_anomaly;
pub mod poisson;
pub mod quantile_forest;
pub mod svm;
