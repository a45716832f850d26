//! One-class support vector machine (Schölkopf et al. 2001) with an RBF kernel, solved like libsvm's
//! `solve_one_class`: the dual `min ½ αᵀQα` subject to `0 ≤ αᵢ ≤ 1` and `Σαᵢ = ν·n`, by sequential minimal
//! optimization with second-order working-set selection (Fan, Chen and Lin 2005) until the maximal
//! violation is below the tolerance. The decision value `Σαᵢ K(xᵢ, x) − ρ` is positive for inliers.
//! Kernel rows are computed on demand and kept in a cache of bounded size.

use serde::{Deserialize, Serialize};

use crate::frame::Matrix;

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct OneClassSettings {
    /// ν in (0, 1]: an upper bound on the fraction of training outliers and a lower bound on the
    /// fraction of support vectors.
    pub nu: f64,
    /// γ of the kernel `exp(−γ‖x − y‖²)`.
    pub gamma: f64,
    /// Stop when the maximal KKT violation is below this (libsvm's `eps`, scikit-learn's `tol`).
    pub tolerance: f64,
}

/// A fitted one-class SVM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneClassFit {
    /// γ of the kernel.
    pub gamma: f64,
    /// The support vectors.
    pub support: Vec<Vec<f64>>,
    /// Their dual coefficients.
    pub alpha: Vec<f64>,
    /// The offset ρ.
    pub rho: f64,
}

/// Kernel memory kept at most, in bytes.
const CACHE_BYTES: usize = 256 << 20;
/// Smallest curvature used in a step (libsvm's `TAU`).
const TAU: f64 = 1e-12;

fn rbf(a: &[f64], b: &[f64], gamma: f64) -> f64 {
    (-gamma * a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>()).exp()
}

/// Kernel rows computed on demand.
struct KernelRows<'a> {
    x: &'a Matrix,
    gamma: f64,
    rows: Vec<Option<Vec<f64>>>,
    cached: usize,
    limit: usize,
}

impl<'a> KernelRows<'a> {
    fn new(x: &'a Matrix, gamma: f64) -> Self {
        let limit = (CACHE_BYTES / (8 * x.rows.max(1))).max(2);
        Self { x, gamma, rows: vec![None; x.rows], cached: 0, limit }
    }

    /// Makes sure row `i` is computed, dropping others (never `keep`) when the cache is full.
    fn ensure(&mut self, i: usize, keep: usize) {
        if self.rows[i].is_some() {
            return;
        }
        if self.cached >= self.limit {
            for (k, row) in self.rows.iter_mut().enumerate() {
                if k != keep {
                    *row = None;
                }
            }
            self.cached = usize::from(self.rows[keep].is_some());
        }
        let xi = self.x.row(i);
        self.rows[i] = Some((0..self.x.rows).map(|j| rbf(xi, self.x.row(j), self.gamma)).collect());
        self.cached += 1;
    }

    fn row(&self, i: usize) -> &[f64] {
        self.rows[i].as_deref().unwrap_or(&[])
    }
}

/// Solves the dual; `keep_going` is asked every thousand iterations and stops the fit (`None`) when it
/// says no.
pub fn fit(x: &Matrix, settings: OneClassSettings, keep_going: &dyn Fn() -> bool) -> Option<OneClassFit> {
    let n = x.rows;
    let total = settings.nu * n as f64;
    // libsvm's start: the first ⌊νn⌋ at the bound, the next one with the rest.
    let whole = (total.floor() as usize).min(n);
    let mut alpha = vec![0.0; n];
    for a in alpha.iter_mut().take(whole) {
        *a = 1.0;
    }
    if whole < n {
        alpha[whole] = total - whole as f64;
    }
    let mut kernel = KernelRows::new(x, settings.gamma);
    let mut gradient = vec![0.0; n];
    for (i, &a) in alpha.iter().enumerate() {
        if a > 0.0 {
            kernel.ensure(i, i);
            for (g, q) in gradient.iter_mut().zip(kernel.row(i)) {
                *g += a * q;
            }
        }
    }
    let max_iterations = (100 * n).max(10_000_000);
    for iteration in 0..max_iterations {
        if iteration % 1000 == 0 && !keep_going() {
            return None;
        }
        // i: the most violating index that may grow; j: the second-order best partner that may shrink.
        let mut g_max = f64::NEG_INFINITY;
        let mut up = None;
        for t in 0..n {
            if alpha[t] < 1.0 && -gradient[t] >= g_max {
                g_max = -gradient[t];
                up = Some(t);
            }
        }
        let Some(i) = up else { break };
        kernel.ensure(i, i);
        let mut g_max2 = f64::NEG_INFINITY;
        let mut best = f64::INFINITY;
        let mut low = None;
        {
            let qi = kernel.row(i);
            for t in 0..n {
                if alpha[t] > 0.0 {
                    g_max2 = g_max2.max(gradient[t]);
                    let difference = g_max + gradient[t];
                    if difference > 0.0 {
                        let curvature = (2.0 - 2.0 * qi[t]).max(TAU);
                        let gain = -difference * difference / curvature;
                        if gain <= best {
                            best = gain;
                            low = Some(t);
                        }
                    }
                }
            }
        }
        let Some(j) = low else { break };
        if g_max + g_max2 < settings.tolerance {
            break;
        }
        kernel.ensure(j, i);
        let qij = kernel.row(i)[j];
        let curvature = (2.0 - 2.0 * qij).max(TAU);
        let (old_i, old_j) = (alpha[i], alpha[j]);
        let delta = (gradient[i] - gradient[j]) / curvature;
        let (ai, aj) = clipped_step(old_i, old_j, delta);
        alpha[i] = ai;
        alpha[j] = aj;
        let (di, dj) = (ai - old_i, aj - old_j);
        let (qi, qj) = (kernel.row(i), kernel.row(j));
        for t in 0..n {
            gradient[t] += qi[t] * di + qj[t] * dj;
        }
    }
    let rho = offset(&alpha, &gradient);
    let support: Vec<usize> = (0..n).filter(|&i| alpha[i] > 0.0).collect();
    Some(OneClassFit {
        gamma: settings.gamma,
        support: support.iter().map(|&i| x.row(i).to_vec()).collect(),
        alpha: support.iter().map(|&i| alpha[i]).collect(),
        rho,
    })
}

/// The pair after moving `delta` from `αᵢ` to `αⱼ`, clipped to the box [0, 1]² on the line
/// `αᵢ + αⱼ = const` as libsvm clips it.
fn clipped_step(old_i: f64, old_j: f64, delta: f64) -> (f64, f64) {
    let sum = old_i + old_j;
    let mut ai = old_i - delta;
    let mut aj = old_j + delta;
    if sum > 1.0 {
        if ai > 1.0 {
            ai = 1.0;
            aj = sum - 1.0;
        }
    } else if aj < 0.0 {
        aj = 0.0;
        ai = sum;
    }
    if sum > 1.0 {
        if aj > 1.0 {
            aj = 1.0;
            ai = sum - 1.0;
        }
    } else if ai < 0.0 {
        ai = 0.0;
        aj = sum;
    }
    (ai, aj)
}

/// ρ as libsvm's `calculate_rho`: the mean gradient over free coefficients, else the middle of the
/// feasible interval.
fn offset(alpha: &[f64], gradient: &[f64]) -> f64 {
    let (mut upper, mut lower, mut free_sum, mut free) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for (&a, &g) in alpha.iter().zip(gradient) {
        if a >= 1.0 {
            lower = lower.max(g);
        } else if a <= 0.0 {
            upper = upper.min(g);
        } else {
            free += 1;
            free_sum += g;
        }
    }
    if free > 0 { free_sum / free as f64 } else { f64::midpoint(upper, lower) }
}

impl OneClassFit {
    /// The decision value of one row: positive inside the learned region, zero or less outside.
    pub fn decision(&self, row: &[f64]) -> f64 {
        self.support.iter().zip(&self.alpha).map(|(s, a)| a * rbf(s, row, self.gamma)).sum::<f64>() - self.rho
    }

    /// Decision values of every row.
    pub fn decisions(&self, x: &Matrix) -> Vec<f64> {
        use rayon::prelude::*;
        (0..x.rows).into_par_iter().map(|i| self.decision(x.row(i))).collect()
    }
}

/// scikit-learn's `gamma="scale"`: 1 / (features × variance of every value of the matrix); 1 when that
/// variance is zero.
pub fn scale_gamma(x: &Matrix) -> f64 {
    let count = x.data.len().max(1) as f64;
    let mean = x.data.iter().sum::<f64>() / count;
    let variance = x.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
    if variance > 0.0 { 1.0 / (x.cols as f64 * variance) } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_far_point_is_outside_and_the_dual_is_feasible() {
        let mut data = Vec::new();
        for i in 0..40 {
            data.extend([f64::from(i % 8) * 0.1, f64::from(i / 8) * 0.1]);
        }
        data.extend([5.0, 5.0]);
        let x = Matrix { rows: 41, cols: 2, data };
        let settings = OneClassSettings { nu: 0.1, gamma: 1.0, tolerance: 1e-6 };
        let fitted = fit(&x, settings, &|| true).expect("fits");
        let total: f64 = fitted.alpha.iter().sum();
        assert!((total - 0.1 * 41.0).abs() < 1e-9, "{total}");
        assert!(fitted.alpha.iter().all(|a| (0.0..=1.0).contains(a)));
        let decisions = fitted.decisions(&x);
        assert!(decisions[40] < 0.0);
        let lowest = (0..decisions.len()).fold(0, |b, i| if decisions[i] < decisions[b] { i } else { b });
        assert_eq!(lowest, 40);
    }
}
