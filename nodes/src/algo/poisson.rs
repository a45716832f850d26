//! Poisson regression with a log link, fitted by Newton's method (iteratively reweighted least
//! squares) with step halving. It minimizes scikit-learn's `PoissonRegressor` objective
//! (1/n) Σ (μᵢ − yᵢ ηᵢ) + (α/2)‖w‖², with ηᵢ = w·xᵢ + b and μᵢ = exp ηᵢ; the intercept is not
//! penalized. (That is half the mean Poisson deviance plus the penalty, up to a constant.)

use serde::{Deserialize, Serialize};

use pipewright_compute::pass::{self, CHUNK_ROWS, NewtonSums, POISSON_MAX_ETA, PoissonNewton, row_chunks};

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
        (self.weights.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + self.intercept).min(POISSON_MAX_ETA)
    }
}

/// The objective of `fit` at these coefficients.
pub fn objective(x: &Matrix, y: &[f64], fit: &PoissonFit, l2: f64) -> f64 {
    let chunks = row_chunks(x.view(), y, CHUNK_ROWS);
    let theta: Vec<f64> = fit.weights.iter().copied().chain([fit.intercept]).collect();
    penalized(&pass::run(&PoissonNewton { theta: &theta, hessian: false }, &chunks), &fit.weights, l2)
}

/// The mean loss of the sums plus the L2 penalty on `weights`.
fn penalized(sums: &NewtonSums, weights: &[f64], l2: f64) -> f64 {
    sums.loss / sums.n + 0.5 * l2 * weights.iter().map(|w| w * w).sum::<f64>()
}

/// Fits; `y` must be non-negative with a positive mean (the caller checks). Each Newton step is one pass
/// over the rows for the gradient and Hessian, and the step-halving line search one pass per trial for the
/// loss.
pub fn fit(x: &Matrix, y: &[f64], s: PoissonSettings) -> PoissonFit {
    let chunks = row_chunks(x.view(), y, CHUNK_ROWS);
    let mean = y.iter().sum::<f64>() / x.rows as f64;
    let fitted = fit_over(x.cols, mean, s, |pass| Ok::<_, std::convert::Infallible>(pass::run(pass, &chunks)));
    match fitted {
        Ok(fit) => fit,
        Err(never) => match never {},
    }
}

/// Fits with `sums` running a [`PoissonNewton`] pass over all the rows (in memory, or a streamed table's
/// batches), given `p` features and the label's mean.
pub fn fit_over<E>(
    p: usize,
    mean: f64,
    s: PoissonSettings,
    sums: impl Fn(&PoissonNewton<'_>) -> Result<NewtonSums, E>,
) -> Result<PoissonFit, E> {
    let mut current = PoissonFit { weights: vec![0.0; p], intercept: mean.ln(), iterations: 0 };
    let theta_of = |f: &PoissonFit| -> Vec<f64> { f.weights.iter().copied().chain([f.intercept]).collect() };
    let loss_at = |f: &PoissonFit| -> Result<f64, E> {
        let theta = theta_of(f);
        Ok(penalized(&sums(&PoissonNewton { theta: &theta, hessian: false })?, &f.weights, s.l2))
    };
    let mut value = loss_at(&current)?;
    let dim = p + 1;
    while current.iterations < s.max_iterations {
        // Gradient and Hessian over the augmented row [x, 1], as means over the rows.
        let theta = theta_of(&current);
        let NewtonSums { n: rows, mut gradient, mut hessian, .. } =
            sums(&PoissonNewton { theta: &theta, hessian: true })?;
        for g in &mut gradient {
            *g /= rows;
        }
        for h in &mut hessian {
            *h /= rows;
        }
        for a in 0..p {
            gradient[a] += s.l2 * current.weights[a];
            hessian[a * dim + a] += s.l2;
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
            let trial_value = loss_at(&trial)?;
            // Near the optimum the objective is flat to rounding: allow a rise of a few ulps.
            if trial_value <= value + 1e-13 * value.abs() || scale < 1e-10 {
                current = trial;
                value = trial_value;
                break;
            }
            scale *= 0.5;
        }
    }
    Ok(current)
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
