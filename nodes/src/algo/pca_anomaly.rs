//! PCA-based anomaly detection: the rows span a low-dimensional subspace (the top principal axes of the
//! training rows); a row's anomaly is its squared distance from that subspace, the reconstruction error
//! `‖z − VVᵀz‖²` of scikit-learn's `X − inverse_transform(transform(X))` when centring is on.

use serde::{Deserialize, Serialize};

use super::linalg;
use crate::frame::Matrix;

/// A fitted subspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PcaSubspace {
    /// Subtracted from each feature first (zeros without centring).
    pub mean: Vec<f64>,
    /// Each centred feature is divided by this (ones without scaling).
    pub scale: Vec<f64>,
    /// Unit principal axes, largest variance first.
    pub components: Vec<Vec<f64>>,
}

/// The principal subspace of `components` axes; centring subtracts the mean, scaling divides by the
/// population standard deviation (constant features keep a scale of 1).
pub fn fit(x: &Matrix, components: usize, centring: bool, scaling: bool) -> PcaSubspace {
    let (n, d) = (x.rows, x.cols);
    let count = n.max(1) as f64;
    let mean: Vec<f64> =
        (0..d).map(|j| if centring { (0..n).map(|i| x.get(i, j)).sum::<f64>() / count } else { 0.0 }).collect();
    let scale: Vec<f64> = (0..d)
        .map(|j| {
            if !scaling {
                return 1.0;
            }
            let m = (0..n).map(|i| x.get(i, j)).sum::<f64>() / count;
            let sd = ((0..n).map(|i| (x.get(i, j) - m).powi(2)).sum::<f64>() / count).sqrt();
            if sd > 0.0 { sd } else { 1.0 }
        })
        .collect();
    let z = faer::Mat::from_fn(n, d, |i, j| (x.get(i, j) - mean[j]) / scale[j]);
    let scatter = linalg::cross_product(z.as_ref());
    let (_, vectors) = linalg::symmetric_eigen(&scatter, d);
    PcaSubspace { mean, scale, components: vectors.into_iter().take(components).collect() }
}

impl PcaSubspace {
    /// The squared reconstruction error of one row.
    pub fn error(&self, row: &[f64]) -> f64 {
        let mut residual: Vec<f64> =
            row.iter().zip(&self.mean).zip(&self.scale).map(|((x, m), s)| (x - m) / s).collect();
        let z = residual.clone();
        for axis in &self.components {
            let projection: f64 = z.iter().zip(axis).map(|(a, b)| a * b).sum();
            for (r, a) in residual.iter_mut().zip(axis) {
                *r -= projection * a;
            }
        }
        residual.iter().map(|r| r * r).sum()
    }

    /// Errors of every row.
    pub fn errors(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows).map(|i| self.error(x.row(i))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_off_the_line_has_the_error() {
        // Points on the line y = 2x, and one 1 unit off it perpendicular to the line.
        let mut data: Vec<f64> = (0..10).flat_map(|i| [f64::from(i), 2.0 * f64::from(i)]).collect();
        let normal = [-2.0 / 5f64.sqrt(), 1.0 / 5f64.sqrt()];
        data.extend([4.5 + normal[0], 9.0 + normal[1]]);
        let x = Matrix { rows: 11, cols: 2, data };
        let subspace = fit(&x, 1, true, false);
        let errors = subspace.errors(&x);
        let top = (0..errors.len()).fold(0, |b, i| if errors[i] > errors[b] { i } else { b });
        assert_eq!(top, 10);
        assert!(errors[10] > 0.5 && errors[10] < 1.0, "{}", errors[10]);
    }
}
