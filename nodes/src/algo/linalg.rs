//! Dense linear algebra through `faer`: Cholesky solves for normal equations and Newton steps, symmetric
//! eigen-decompositions for principal components, and the cross products that feed them.

use faer::linalg::solvers::Solve as _;
use faer::{Mat, MatRef, Side};

/// Solves `A x = b` for a symmetric positive-definite `A` (n × n, row-major) by Cholesky.
/// When `A` is singular or nearly so, a ridge of growing size is added to its diagonal; the returned
/// flag says whether that was needed.
pub fn solve_spd(a: &[f64], b: &[f64], n: usize) -> (Vec<f64>, bool) {
    let scale = (0..n).map(|i| a[i * n + i].abs()).sum::<f64>() / n.max(1) as f64;
    let rhs = Mat::from_fn(n, 1, |i, _| b[i]);
    let mut jitter = 0.0;
    for attempt in 0..12 {
        let matrix = Mat::from_fn(n, n, |i, j| if i == j { a[i * n + j] + jitter } else { a[i * n + j] });
        if let Ok(llt) = matrix.llt(Side::Lower)
            && well_conditioned(llt.L(), a, n, jitter)
        {
            let x = llt.solve(&rhs);
            return ((0..n).map(|i| x[(i, 0)]).collect(), attempt > 0);
        }
        jitter = if jitter == 0.0 { scale.max(1e-300) * 1e-12 } else { jitter * 100.0 };
    }
    (vec![0.0; n], true)
}

/// Relative pivot check: a pivot that lost almost all of its diagonal means rank deficiency, which the
/// factorization alone does not refuse (rounding leaves a tiny positive pivot).
fn well_conditioned(l: MatRef<'_, f64>, a: &[f64], n: usize, jitter: f64) -> bool {
    (0..n).all(|i| {
        let pivot = l[(i, i)];
        pivot.is_finite() && pivot * pivot >= 1e-13 * (a[i * n + i].abs() + jitter)
    })
}

/// `ZᵀZ` of an `n × d` matrix, row-major `d × d`: the scatter matrix of centred rows.
pub fn cross_product(z: MatRef<'_, f64>) -> Vec<f64> {
    let product = z.transpose() * z;
    let d = z.ncols();
    let mut out = vec![0.0; d * d];
    for a in 0..d {
        for b in 0..d {
            // Symmetric by construction; the lower half is mirrored so rounding cannot make it otherwise.
            out[a * d + b] = if b >= a { product[(a, b)] } else { product[(b, a)] };
        }
    }
    out
}

/// `Z W` where the columns of `W` are the given axes: the scores of `n` rows on `k` axes, as `k` columns.
pub fn project(z: MatRef<'_, f64>, axes: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let w = Mat::from_fn(z.ncols(), axes.len(), |j, k| axes[k][j]);
    let scores = z * &w;
    (0..axes.len()).map(|k| scores.col(k).iter().copied().collect()).collect()
}

/// Eigenvalues and unit eigenvectors of a symmetric `n × n` matrix (row-major), largest eigenvalue first.
/// Each eigenvector's largest-magnitude entry is made positive, the sign convention of scikit-learn's PCA,
/// so results are reproducible. A decomposition that does not converge (non-finite input) gives no vectors.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let matrix = Mat::from_fn(n, n, |i, j| a[i * n + j]);
    let Ok(eigen) = matrix.self_adjoint_eigen(Side::Lower) else { return (Vec::new(), Vec::new()) };
    let (s, u) = (eigen.S(), eigen.U());
    // Eigenvalues come in increasing order; a stable sort keeps that order among equal ones reversed alike.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let values = order.iter().map(|&k| s[k]).collect();
    let vectors = order
        .iter()
        .map(|&k| {
            let mut vector: Vec<f64> = (0..n).map(|i| u[(i, k)]).collect();
            let largest = vector.iter().copied().fold(0.0_f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
            if largest < 0.0 {
                for x in &mut vector {
                    *x = -*x;
                }
            }
            vector
        })
        .collect();
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_system() {
        let a = [4.0, 1.0, 1.0, 3.0];
        let (x, regularized) = solve_spd(&a, &[1.0, 2.0], 2);
        assert!(!regularized);
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12, "{x:?}");
    }

    #[test]
    fn singular_systems_are_regularized_not_fatal() {
        let a = [1.0, 1.0, 1.0, 1.0];
        let (x, regularized) = solve_spd(&a, &[2.0, 2.0], 2);
        assert!(regularized);
        assert!((x[0] + x[1] - 2.0).abs() < 1e-6, "{x:?}");
    }

    #[test]
    fn symmetric_eigen_of_a_known_matrix() {
        // [[2, 1], [1, 2]]: eigenvalues 3 and 1, vectors (1, 1)/sqrt2 and (1, -1)/sqrt2 (largest entry positive).
        let (values, vectors) = super::symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((values[0] - 3.0).abs() < 1e-12 && (values[1] - 1.0).abs() < 1e-12, "{values:?}");
        let r = 0.5f64.sqrt();
        assert!((vectors[0][0] - r).abs() < 1e-12 && (vectors[0][1] - r).abs() < 1e-12, "{vectors:?}");
        assert!((vectors[1][0].abs() - r).abs() < 1e-12 && (vectors[1][0] + vectors[1][1]).abs() < 1e-12);
        // Diagonal input: eigenvalues sorted, unit vectors.
        let (values, vectors) = super::symmetric_eigen(&[1.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 3.0], 3);
        assert!(values.iter().zip([5.0, 3.0, 1.0]).all(|(v, e)| (v - e).abs() < 1e-12), "{values:?}");
        assert_eq!(vectors[0], vec![0.0, 1.0, 0.0]);
    }
}
