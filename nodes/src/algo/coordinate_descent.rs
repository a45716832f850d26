//! Elastic-net regression (Lasso when the L1 share is 1) by cyclic coordinate descent on the normal equations:
//! the fit reads the data only through its centred Gram matrix `XᵀX`, `Xᵀy` and `yᵀy` — sums over rows, which
//! one pass over the data (or over its chunks and shards) gives. Objective, updates, stopping rule and duality
//! gap follow scikit-learn's `ElasticNet` (`sklearn/linear_model/_cd_fast.pyx`):
//!
//! `1/(2n) ‖y − Xw‖² + α·ρ‖w‖₁ + α(1 − ρ)/2 ‖w‖²`, with `α` the weight and `ρ` the L1 share.

/// The data as the fit sees it: centred sums over `rows` rows.
#[derive(Debug, Clone, Copy)]
pub struct NormalEquations<'a> {
    /// `XᵀX`, `p × p`, row after row.
    pub gram: &'a [f64],
    /// `Xᵀy`, `p` values.
    pub xty: &'a [f64],
    /// `yᵀy`.
    pub yty: f64,
    /// Rows summed.
    pub rows: usize,
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElasticNetSettings {
    /// Regularization weight `α` (> 0).
    pub alpha: f64,
    /// Share of the penalty that is L1, `ρ` in 0..=1 (1: Lasso).
    pub l1_ratio: f64,
    /// Most sweeps over the coefficients.
    pub max_iterations: usize,
    /// The fit stops when the duality gap is below `tolerance · yᵀy`.
    pub tolerance: f64,
}

/// A fit: the coefficients and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticNetFit {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// Sweeps done.
    pub iterations: usize,
    /// The duality gap at the end, in the objective's units (divided by the rows, as scikit-learn's `dual_gap_`).
    pub dual_gap: f64,
    /// Whether the gap fell below the tolerance.
    pub converged: bool,
}

/// The duality gap of `w` (scikit-learn's `gap_enet`), given `q = XᵀX w`.
fn duality_gap(eq: &NormalEquations<'_>, w: &[f64], q: &[f64], l1: f64, l2: f64) -> f64 {
    let w_xty: f64 = w.iter().zip(eq.xty).map(|(a, b)| a * b).sum();
    let w_q: f64 = w.iter().zip(q).map(|(a, b)| a * b).sum();
    // ‖R‖² and Rᵀy with R = y − Xw, from the sums.
    let r_norm2 = (eq.yty - 2.0 * w_xty + w_q).max(0.0);
    let ry = eq.yty - w_xty;
    let w_l2 = w.iter().map(|v| v * v).sum::<f64>();
    // XᵀR − l2·w.
    let xta = eq.xty.iter().zip(q).zip(w).map(|((xy, qj), wj)| xy - qj - l2 * wj);
    if l1 == 0.0 {
        // Formulation B (no L1 part): XᵀR without the ridge term.
        let xtr2: f64 = eq.xty.iter().zip(q).map(|(xy, qj)| (xy - qj).powi(2)).sum();
        return r_norm2 + 0.5 * l2 * w_l2 - ry + xtr2 / (2.0 * l2);
    }
    let dual_norm = xta.fold(0.0_f64, |m, v| m.max(v.abs()));
    let w_l1: f64 = w.iter().map(|v| v.abs()).sum();
    let primal = 0.5 * (r_norm2 + l2 * w_l2) + l1 * w_l1;
    let scale = if dual_norm > l1 { l1 / dual_norm } else { 1.0 };
    let dual = -0.5 * scale * scale * (r_norm2 + l2 * w_l2) + scale * ry;
    primal - dual
}

/// Fits the weights; `keep_going(sweep)` is asked after every sweep and stops the fit (`None`) when false.
pub fn fit(
    eq: &NormalEquations<'_>,
    settings: ElasticNetSettings,
    keep_going: impl Fn(usize) -> bool,
) -> Option<ElasticNetFit> {
    let p = eq.xty.len();
    let n = eq.rows as f64;
    let l1 = settings.alpha * settings.l1_ratio * n;
    let l2 = settings.alpha * (1.0 - settings.l1_ratio) * n;
    let tolerance = settings.tolerance * eq.yty;
    let mut w = vec![0.0; p];
    // q = XᵀX w, kept up to date as weights change.
    let mut q = vec![0.0; p];
    let mut gap = duality_gap(eq, &w, &q, l1, l2);
    if gap <= tolerance {
        return Some(ElasticNetFit { weights: w, iterations: 0, dual_gap: gap / n, converged: true });
    }
    let mut iterations = 0;
    let mut converged = false;
    for sweep in 0..settings.max_iterations {
        iterations = sweep + 1;
        let (mut w_max, mut d_w_max) = (0.0_f64, 0.0_f64);
        for j in 0..p {
            let g_jj = eq.gram[j * p + j];
            if g_jj == 0.0 {
                continue;
            }
            let w_j = w[j];
            let tmp = eq.xty[j] - q[j] + w_j * g_jj;
            w[j] = tmp.signum() * (tmp.abs() - l1).max(0.0) / (g_jj + l2);
            let change = w[j] - w_j;
            if change != 0.0 {
                for (qk, g) in q.iter_mut().zip(&eq.gram[j * p..(j + 1) * p]) {
                    *qk += change * g;
                }
            }
            d_w_max = d_w_max.max(change.abs());
            w_max = w_max.max(w[j].abs());
        }
        if !keep_going(sweep) {
            return None;
        }
        if w_max == 0.0 || d_w_max / w_max <= settings.tolerance || sweep + 1 == settings.max_iterations {
            gap = duality_gap(eq, &w, &q, l1, l2);
            if gap <= tolerance {
                converged = true;
                break;
            }
        }
    }
    Some(ElasticNetFit { weights: w, iterations, dual_gap: gap / n, converged })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums of a small problem: X (3 rows, 2 columns, centred), y centred.
    fn problem() -> (Vec<f64>, Vec<f64>, f64) {
        let x = [[-1.0, 0.5], [0.0, -1.0], [1.0, 0.5]];
        let y = [-2.0, 0.5, 1.5];
        let mut gram = vec![0.0; 4];
        let mut xty = vec![0.0; 2];
        for (row, target) in x.iter().zip(y) {
            for a in 0..2 {
                xty[a] += row[a] * target;
                for b in 0..2 {
                    gram[a * 2 + b] += row[a] * row[b];
                }
            }
        }
        (gram, xty, y.iter().map(|v| v * v).sum())
    }

    #[test]
    fn a_tiny_weight_gives_least_squares_and_a_huge_one_gives_zero() {
        let (gram, xty, yty) = problem();
        let eq = NormalEquations { gram: &gram, xty: &xty, yty, rows: 3 };
        let settings = ElasticNetSettings { alpha: 1e-9, l1_ratio: 1.0, max_iterations: 10_000, tolerance: 1e-14 };
        let fit = fit(&eq, settings, |_| true).expect("not stopped");
        // Least squares: solve the 2 × 2 normal equations.
        let det = gram[0] * gram[3] - gram[1] * gram[2];
        let ols = [(gram[3] * xty[0] - gram[1] * xty[1]) / det, (gram[0] * xty[1] - gram[2] * xty[0]) / det];
        assert!((fit.weights[0] - ols[0]).abs() < 1e-6 && (fit.weights[1] - ols[1]).abs() < 1e-6, "{fit:?}");
        assert!(fit.converged);
        let settings = ElasticNetSettings { alpha: 1e3, ..settings };
        let fit = super::fit(&eq, settings, |_| true).expect("not stopped");
        assert_eq!(fit.weights, vec![0.0, 0.0]);
        assert_eq!(fit.iterations, 0, "zero weights are optimal at once");
    }

    #[test]
    fn stopping_is_honoured() {
        let (gram, xty, yty) = problem();
        let eq = NormalEquations { gram: &gram, xty: &xty, yty, rows: 3 };
        let settings = ElasticNetSettings { alpha: 0.01, l1_ratio: 0.5, max_iterations: 100, tolerance: 1e-14 };
        assert!(fit(&eq, settings, |_| false).is_none());
    }
}
