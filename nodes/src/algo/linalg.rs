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
}
