//! Poisson regression with a log link, fitted by Newton's method (iteratively reweighted least
//! squares) with step halving. It minimizes scikit-learn's `PoissonRegressor` objective
//! (1/n) Σ (μᵢ − yᵢ ηᵢ) + (α/2)‖w‖², with ηᵢ = w·xᵢ + b and μᵢ = exp ηᵢ; the intercept is not
//! penalized. (That is half the mean Poisson deviance plus the penalty, up to a constant.)

use serde::{Deserialize, Serialize};

use super::linalg::solve_spd;
use crate::frame::Matrix;

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct PoissonSettings {
    /// L2 penalty α on the weights.
    pub l2: f64,
    /// Newton steps at most.
    pub max_iterations: usize,
    /// Stop when no gradient component exceeds this.
    pub tolerance: f64,
}

/// A fitted Poisson regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoissonFit {
    /// Feature weights.
    pub weights: Vec<f64>,
    /// Intercept (log of the mean when every weight is 0).
    pub intercept: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

impl PoissonFit {
    /// The predicted mean exp(w·x + b).
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.linear(row).exp()
    }

    fn linear(&self, row: &[f64]) -> f64 {
        (self.weights.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + self.intercept).min(700.0)
    }
}

/// The objective of `fit` at these coefficients.
pub fn objective(x: &Matrix, y: &[f64], fit: &PoissonFit, l2: f64) -> f64 {
    let n = x.rows as f64;
    let loss: f64 = (0..x.rows)
        .map(|i| {
            let eta = fit.linear(x.row(i));
            eta.exp() - y[i] * eta
        })
        .sum();
    loss / n + 0.5 * l2 * fit.weights.iter().map(|w| w * w).sum::<f64>()
}

/// Fits; `y` must be non-negative with a positive mean (the caller checks).
pub fn fit(x: &Matrix, y: &[f64], s: PoissonSettings) -> PoissonFit {
    let (n, p) = (x.rows, x.cols);
    let mean = y.iter().sum::<f64>() / n as f64;
    let mut current = PoissonFit { weights: vec![0.0; p], intercept: mean.ln(), iterations: 0 };
    let mut value = objective(x, y, &current, s.l2);
    let dim = p + 1;
    while current.iterations < s.max_iterations {
        // Gradient and Hessian over the augmented row [x, 1].
        let mut gradient = vec![0.0; dim];
        let mut hessian = vec![0.0; dim * dim];
        for (i, yi) in y.iter().enumerate().take(n) {
            let row = x.row(i);
            let mu = current.predict(row);
            let residual = mu - yi;
            for a in 0..dim {
                let xa = if a < p { row[a] } else { 1.0 };
                gradient[a] += residual * xa;
                for c in 0..=a {
                    let xc = if c < p { row[c] } else { 1.0 };
                    hessian[a * dim + c] += mu * xa * xc;
                }
            }
        }
        for a in 0..dim {
            gradient[a] /= n as f64;
            for c in 0..=a {
                hessian[a * dim + c] /= n as f64;
                hessian[c * dim + a] = hessian[a * dim + c];
            }
            if a < p {
                gradient[a] += s.l2 * current.weights[a];
                hessian[a * dim + a] += s.l2;
            }
        }
        if gradient.iter().all(|g| g.abs() <= s.tolerance) {
            break;
        }
        let (step, _) = solve_spd(&hessian, &gradient, dim);
        current.iterations += 1;
        // Halve the Newton step until the objective does not rise.
        let mut scale = 1.0;
        loop {
            let trial = PoissonFit {
                weights: current.weights.iter().zip(&step).map(|(w, d)| w - scale * d).collect(),
                intercept: current.intercept - scale * step[p],
                iterations: current.iterations,
            };
            let trial_value = objective(x, y, &trial, s.l2);
            // Near the optimum the objective is flat to rounding: allow a rise of a few ulps.
            if trial_value <= value + 1e-13 * value.abs() || scale < 1e-10 {
                current = trial;
                value = trial_value;
                break;
            }
            scale *= 0.5;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_binary_feature_gives_the_log_group_means() {
        // Without a penalty the optimum fits each group's mean exactly: exp(b) = mean of the x = 0
        // rows (2), exp(w + b) = mean of the x = 1 rows (8), so b = ln 2 and w = ln 4.
        let x = Matrix { rows: 4, cols: 1, data: vec![0.0, 0.0, 1.0, 1.0] };
        let y = [1.0, 3.0, 6.0, 10.0];
        let fit = fit(&x, &y, PoissonSettings { l2: 0.0, max_iterations: 100, tolerance: 1e-12 });
        assert!((fit.intercept - 2f64.ln()).abs() < 1e-10, "{fit:?}");
        assert!((fit.weights[0] - 4f64.ln()).abs() < 1e-10, "{fit:?}");
        assert!((fit.predict(&[1.0]) - 8.0).abs() < 1e-9);
    }

    #[test]
    fn the_penalty_shrinks_the_weight_to_its_stationary_point() {
        // With α > 0 the gradient in w is (1/n) Σ (μ − y)x + αw = 0; check it at the fit.
        let x = Matrix { rows: 4, cols: 1, data: vec![0.0, 0.0, 1.0, 1.0] };
        let y = [1.0, 3.0, 6.0, 10.0];
        let l2 = 0.5;
        let fit = fit(&x, &y, PoissonSettings { l2, max_iterations: 100, tolerance: 1e-12 });
        assert!(fit.weights[0] < 4f64.ln() && fit.weights[0] > 0.0, "{fit:?}");
        let gw = (0..4).map(|i| (fit.predict(x.row(i)) - y[i]) * x.get(i, 0)).sum::<f64>() / 4.0 + l2 * fit.weights[0];
        let gb = (0..4).map(|i| fit.predict(x.row(i)) - y[i]).sum::<f64>() / 4.0;
        assert!(gw.abs() < 1e-12 && gb.abs() < 1e-12, "{gw} {gb}");
    }
}
