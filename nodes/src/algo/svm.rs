//! Linear support vector machines with the squared hinge loss and an L2 penalty, solved by dual
//! coordinate descent (Hsieh et al., 2008: the method behind liblinear and scikit-learn's `LinearSVC`).
//!
//! For labels ±1 it minimizes ½‖w‖² + ½b² + C Σ max(0, 1 − yᵢ(w·xᵢ + b))². As in liblinear, the
//! intercept is an extra feature of constant 1 and so is penalized too (`intercept_scaling=1`).
//! Several classes are handled one-vs-rest. The optimum is unique, so the row order of the sweeps
//! (fixed here) changes only how fast it is reached, not where.

use serde::{Deserialize, Serialize};

use crate::frame::Matrix;

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct SvmSettings {
    /// Weight of the loss against the penalty (C).
    pub c: f64,
    /// Sweeps over the rows at most.
    pub max_iterations: usize,
    /// Stop when no projected gradient exceeds this.
    pub tolerance: f64,
}

/// One linear decision function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearScore {
    /// Feature weights.
    pub weights: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl LinearScore {
    /// w·x + b.
    pub fn margin(&self, row: &[f64]) -> f64 {
        self.weights.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + self.intercept
    }
}

/// Fits one binary machine: `positive[i]` says whether row `i` is in the +1 class. Returns the
/// decision function and the sweeps it took.
pub fn fit_binary(x: &Matrix, positive: &[bool], s: SvmSettings) -> (LinearScore, usize) {
    let (n, p) = (x.rows, x.cols);
    let diag = 0.5 / s.c;
    let q: Vec<f64> = (0..n).map(|i| x.row(i).iter().map(|v| v * v).sum::<f64>() + 1.0 + diag).collect();
    let mut alpha = vec![0.0; n];
    let mut w = vec![0.0; p];
    let mut b = 0.0;
    let mut sweeps = 0;
    while sweeps < s.max_iterations {
        sweeps += 1;
        let mut worst = 0.0f64;
        for i in 0..n {
            let y = if positive[i] { 1.0 } else { -1.0 };
            let row = x.row(i);
            let margin = w.iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + b;
            let gradient = y * margin - 1.0 + diag * alpha[i];
            let projected = if alpha[i] == 0.0 { gradient.min(0.0) } else { gradient };
            worst = worst.max(projected.abs());
            if projected != 0.0 {
                let old = alpha[i];
                alpha[i] = (old - gradient / q[i]).max(0.0);
                let step = (alpha[i] - old) * y;
                w.iter_mut().zip(row).for_each(|(wj, xj)| *wj += step * xj);
                b += step;
            }
        }
        if worst <= s.tolerance {
            break;
        }
    }
    (LinearScore { weights: w, intercept: b }, sweeps)
}

/// The primal objective ½‖w‖² + ½b² + C Σ max(0, 1 − y(w·x + b))², for checks.
pub fn objective(x: &Matrix, positive: &[bool], score: &LinearScore, c: f64) -> f64 {
    let penalty = 0.5 * (score.weights.iter().map(|w| w * w).sum::<f64>() + score.intercept * score.intercept);
    let loss: f64 = (0..x.rows)
        .map(|i| {
            let y = if positive[i] { 1.0 } else { -1.0 };
            (1.0 - y * score.margin(x.row(i))).max(0.0).powi(2)
        })
        .sum();
    penalty + c * loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_points_meet_the_closed_form_optimum() {
        // Rows x = 1 (+1) and x = −1 (−1). By symmetry b = 0 and both margins equal w, so the objective
        // is ½w² + 2C(1 − w)², whose derivative w − 4C(1 − w) vanishes at w = 4C / (1 + 4C): 0.8 for C = 1.
        let x = Matrix { rows: 2, cols: 1, data: vec![1.0, -1.0] };
        let (score, _) = fit_binary(&x, &[true, false], SvmSettings { c: 1.0, max_iterations: 1000, tolerance: 1e-12 });
        assert!((score.weights[0] - 0.8).abs() < 1e-9, "{score:?}");
        assert!(score.intercept.abs() < 1e-9, "{score:?}");
    }

    #[test]
    fn the_fit_is_a_minimum_of_the_primal_objective() {
        let x = Matrix { rows: 6, cols: 2, data: vec![0.0, 1.0, 1.0, 2.0, 2.0, 0.5, 3.0, 3.0, 4.0, 1.0, 5.0, 4.0] };
        let positive = [false, false, false, true, true, true];
        let c = 0.7;
        let (score, _) = fit_binary(&x, &positive, SvmSettings { c, max_iterations: 10_000, tolerance: 1e-12 });
        let best = objective(&x, &positive, &score, c);
        for k in 0..3 {
            for delta in [1e-4, -1e-4] {
                let mut moved = score.clone();
                if k < 2 {
                    moved.weights[k] += delta;
                } else {
                    moved.intercept += delta;
                }
                assert!(objective(&x, &positive, &moved, c) > best, "moving coordinate {k} by {delta} improves");
            }
        }
    }
}
