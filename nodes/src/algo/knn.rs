//! k-nearest neighbours by brute force: every query row is compared with every training row, the `k`
//! closest (ties broken by training order) vote or are averaged, uniformly or weighted by 1/distance
//! as scikit-learn's `KNeighborsClassifier` / `KNeighborsRegressor` do.

use serde::{Deserialize, Serialize};

use pipewright_compute::{Backend, ComputeError};

use crate::frame::Matrix;

/// How distances are measured: the compute kernels' metric (its serialized form is the models' state).
pub use pipewright_compute::Metric;

/// How much each neighbour counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// Every neighbour counts once.
    Uniform,
    /// A neighbour counts 1/distance; neighbours at distance 0, if any, take all the weight.
    Distance,
}

/// The `k` training rows closest to `row`, nearest first, as `(distance, training row)`.
pub fn nearest(train: &Matrix, row: &[f64], k: usize, metric: Metric) -> Vec<(f64, usize)> {
    pipewright_compute::nearest_cpu(train.view(), row, k, metric)
}

/// The `k` nearest training rows of every row of `x`, on `backend`.
pub fn nearest_all(
    train: &Matrix,
    x: &Matrix,
    k: usize,
    metric: Metric,
    backend: &Backend,
) -> Result<Vec<Vec<(f64, usize)>>, ComputeError> {
    pipewright_compute::nearest_neighbours(backend, train.view(), x.view(), k, metric)
}

/// The weight of each neighbour, in the order given.
pub fn neighbour_weights(neighbours: &[(f64, usize)], weights: Weights) -> Vec<f64> {
    match weights {
        Weights::Uniform => vec![1.0; neighbours.len()],
        Weights::Distance if neighbours.iter().any(|(d, _)| *d == 0.0) => {
            neighbours.iter().map(|(d, _)| if *d == 0.0 { 1.0 } else { 0.0 }).collect()
        }
        Weights::Distance => neighbours.iter().map(|(d, _)| 1.0 / d).collect(),
    }
}

/// Class shares of the neighbours of `row` (weights normalized to sum to 1) written into `out`.
pub fn class_shares(
    train: &Matrix,
    y: &[usize],
    row: &[f64],
    k: usize,
    metric: Metric,
    weights: Weights,
    out: &mut [f64],
) {
    shares_of(&nearest(train, row, k, metric), y, weights, out);
}

/// Class shares of `neighbours` (weights normalized to sum to 1) written into `out`.
pub fn shares_of(neighbours: &[(f64, usize)], y: &[usize], weights: Weights, out: &mut [f64]) {
    let w = neighbour_weights(neighbours, weights);
    out.fill(0.0);
    for ((_, i), wi) in neighbours.iter().zip(&w) {
        out[y[*i]] += wi;
    }
    let total: f64 = out.iter().sum();
    if total > 0.0 {
        for o in out.iter_mut() {
            *o /= total;
        }
    }
}

/// The (weighted) mean label of the neighbours of `row`.
pub fn mean_value(train: &Matrix, y: &[f64], row: &[f64], k: usize, metric: Metric, weights: Weights) -> f64 {
    mean_of(&nearest(train, row, k, metric), y, weights)
}

/// The (weighted) mean label of `neighbours`.
pub fn mean_of(neighbours: &[(f64, usize)], y: &[f64], weights: Weights) -> f64 {
    let w = neighbour_weights(neighbours, weights);
    let total: f64 = w.iter().sum();
    neighbours.iter().zip(&w).map(|((_, i), wi)| wi * y[*i]).sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Matrix {
        // Training rows at x = 0, 1, 2, 4, 8.
        Matrix { rows: 5, cols: 1, data: vec![0.0, 1.0, 2.0, 4.0, 8.0] }
    }

    #[test]
    fn nearest_rows_come_closest_first_with_ties_in_training_order() {
        let n = nearest(&line(), &[1.5], 3, Metric::Euclidean);
        assert_eq!(n, vec![(0.5, 1), (0.5, 2), (1.5, 0)]);
        let m = Matrix { rows: 2, cols: 2, data: vec![0.0, 0.0, 3.0, 4.0] };
        assert_eq!(nearest(&m, &[0.0, 0.0], 2, Metric::Euclidean)[1], (5.0, 1));
        assert_eq!(nearest(&m, &[0.0, 0.0], 2, Metric::Manhattan)[1], (7.0, 1));
    }

    #[test]
    fn votes_and_means_follow_the_weights() {
        let y = [0, 0, 1, 1, 1];
        let mut out = [0.0; 2];
        // Query 3: neighbours 2 (d 1), 4 (d 1), 1 (d 2) → classes 1, 1, 0.
        class_shares(&line(), &y, &[3.0], 3, Metric::Euclidean, Weights::Uniform, &mut out);
        assert_eq!(out, [1.0 / 3.0, 2.0 / 3.0]);
        // Query 0.9: neighbours 1 (d 0.1), 0 (d 0.9), 2 (d 1.1): weights 10, 1/0.9, 1/1.1.
        class_shares(&line(), &y, &[0.9], 3, Metric::Euclidean, Weights::Distance, &mut out);
        let (a, b, c) = (10.0, 1.0 / 0.9, 1.0 / 1.1);
        assert!((out[0] - (a + b) / (a + b + c)).abs() < 1e-12, "{out:?}");
        // An exact match takes all the weight.
        class_shares(&line(), &y, &[4.0], 3, Metric::Euclidean, Weights::Distance, &mut out);
        assert_eq!(out, [0.0, 1.0]);
        let values = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(mean_value(&line(), &values, &[3.0], 2, Metric::Euclidean, Weights::Uniform), 35.0);
        // Query 3 with k 3 and distance weights: rows 2, 3 at d 1 (w 1), row 1 at d 2 (w 0.5).
        let v = mean_value(&line(), &values, &[3.0], 3, Metric::Euclidean, Weights::Distance);
        assert!((v - (30.0 + 40.0 + 0.5 * 20.0) / 2.5).abs() < 1e-12, "{v}");
    }
}
