//! Small dense linear algebra for normal equations and Newton steps.

/// Solves `A x = b` for a symmetric positive-definite `A` (n × n, row-major) by Cholesky.
/// When `A` is singular or nearly so, a ridge of growing size is added to its diagonal; the returned
/// flag says whether that was needed.
pub fn solve_spd(a: &[f64], b: &[f64], n: usize) -> (Vec<f64>, bool) {
    let scale = (0..n).map(|i| a[i * n + i].abs()).sum::<f64>() / n.max(1) as f64;
    let mut jitter = 0.0;
    for attempt in 0..12 {
        if let Some(l) = cholesky(a, n, jitter) {
            return (cholesky_solve(&l, b, n), attempt > 0);
        }
        jitter = if jitter == 0.0 { scale.max(1e-300) * 1e-12 } else { jitter * 100.0 };
    }
    (vec![0.0; n], true)
}

fn cholesky(a: &[f64], n: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            if i == j {
                sum += jitter;
            }
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
        // Relative pivot check: a pivot that lost almost all of its diagonal means rank deficiency.
        if l[i * n + i] * l[i * n + i] < 1e-13 * (a[i * n + i].abs() + jitter) {
            return None;
        }
    }
    Some(l)
}

fn cholesky_solve(l: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i * n + k] * y[k];
        }
        y[i] = sum / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = y[i];
        for k in i + 1..n {
            sum -= l[k * n + i] * x[k];
        }
        x[i] = sum / l[i * n + i];
    }
    x
}

/// Eigenvalues and unit eigenvectors of a symmetric `n × n` matrix (row-major) by cyclic Jacobi rotations,
/// largest eigenvalue first. Each eigenvector's largest-magnitude entry is made positive, the sign
/// convention of scikit-learn's PCA, so results are reproducible.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j].powi(2))
            .sum();
        let scale: f64 = (0..n).map(|i| m[i * n + i].powi(2)).sum::<f64>().max(f64::MIN_POSITIVE);
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| m[b * n + b].total_cmp(&m[a * n + a]));
    let values = order.iter().map(|&k| m[k * n + k]).collect();
    let vectors = order
        .iter()
        .map(|&k| {
            let mut vector: Vec<f64> = (0..n).map(|i| v[i * n + k]).collect();
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
        assert_eq!(values, vec![5.0, 3.0, 1.0]);
        assert_eq!(vectors[0], vec![0.0, 1.0, 0.0]);
    }
}
