//! L2-regularized logistic regression (binary and multinomial) fitted by Newton's method with a
//! backtracking line search. It minimizes the same objective as scikit-learn's
//! `LogisticRegression(C = 1/l2)`: the summed log loss plus `l2/2 · ‖w‖²`, intercepts unpenalized.

use pipewright_compute::{Backend, Evaluation, LogisticData, LogisticProblem};
use pipewright_engine::NodeError;

use super::linalg::solve_spd;
use crate::frame::Matrix;

/// Settings of one fit.
#[derive(Debug, Clone, Copy)]
pub struct LogisticSettings {
    /// Strength of the L2 penalty (scikit-learn's `1 / C`).
    pub l2: f64,
    /// Newton iterations at most.
    pub max_iterations: usize,
    /// Stop when the largest coefficient change is below this.
    pub tolerance: f64,
    /// Whether to fit an intercept.
    pub fit_intercept: bool,
}

/// Fitted coefficients: `blocks` rows of `cols + 1` values (weights, then intercept).
/// Binary problems have one block (the log-odds of class 1); multinomial ones one per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticCoefficients {
    /// Number of feature columns.
    pub cols: usize,
    /// Coefficient blocks, each `cols + 1` long.
    pub blocks: Vec<Vec<f64>>,
    /// Newton iterations used.
    pub iterations: usize,
}

impl LogisticCoefficients {
    /// Class probabilities for one row (`classes` of them).
    pub fn probabilities(&self, row: &[f64], out: &mut [f64]) {
        if self.blocks.len() == 1 {
            let z = dot_intercept(&self.blocks[0], row);
            let p1 = sigmoid(z);
            out[0] = 1.0 - p1;
            out[1] = p1;
        } else {
            for (k, block) in self.blocks.iter().enumerate() {
                out[k] = dot_intercept(block, row);
            }
            softmax(out);
        }
    }
}

fn dot_intercept(block: &[f64], row: &[f64]) -> f64 {
    let (w, b) = block.split_at(row.len());
    w.iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + b[0]
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn softmax(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// The summed log loss of a fit's rows as Newton's method asks for it: loss and gradient at a point, and the
/// Hessian. In memory it is one [`LogisticProblem`]; over a streamed table, a pass of its batches per call.
pub trait LogLoss {
    /// Loss and gradient at `theta` (no Hessian).
    fn evaluate(&mut self, theta: &[f64]) -> Result<Evaluation, NodeError>;
    /// The Hessian at `theta`, `dim × dim`.
    fn hessian(&mut self, theta: &[f64]) -> Result<Vec<f64>, NodeError>;
    /// Relative precision of the loss: decreases smaller than this times the loss are noise.
    fn precision(&self) -> f64;
    /// Loss and gradient at `theta`, and the Hessian there too when it comes at little cost (a loss read over
    /// passes computes it in the same pass, so a step whose point is accepted needs no pass of its own for the
    /// next curvature).
    fn evaluate_fused(&mut self, theta: &[f64]) -> Result<(Evaluation, Option<Vec<f64>>), NodeError> {
        Ok((self.evaluate(theta)?, None))
    }
}

impl LogLoss for LogisticProblem<'_> {
    fn evaluate(&mut self, theta: &[f64]) -> Result<Evaluation, NodeError> {
        LogisticProblem::evaluate(self, theta, false).map_err(crate::device::kernel_error)
    }

    fn hessian(&mut self, theta: &[f64]) -> Result<Vec<f64>, NodeError> {
        LogisticProblem::hessian(self, theta).map_err(crate::device::kernel_error)
    }

    fn precision(&self) -> f64 {
        self.loss_precision()
    }
}

/// Fits the model on `backend`. `y` holds class indices in `0..classes`.
pub fn fit(
    x: &Matrix,
    y: &[usize],
    classes: usize,
    settings: LogisticSettings,
    backend: &Backend,
    on_iteration: impl FnMut(usize) -> bool,
) -> Result<LogisticCoefficients, NodeError> {
    let blocks = if classes <= 2 { 1 } else { classes };
    let mut problem = LogisticProblem::new(backend, LogisticData { x: x.view(), y, blocks });
    fit_loss(&mut problem, x.cols, blocks, settings, on_iteration)
}

/// Newton's method with a backtracking line search on `loss`, the log loss of rows with `cols` features and
/// `blocks` coefficient blocks (1 for two classes), plus the L2 penalty.
pub fn fit_loss(
    loss: &mut dyn LogLoss,
    cols: usize,
    blocks: usize,
    settings: LogisticSettings,
    mut on_iteration: impl FnMut(usize) -> bool,
) -> Result<LogisticCoefficients, NodeError> {
    let noise = loss.precision();
    let p1 = cols + 1;
    let dim = blocks * p1;
    let mut theta = vec![0.0; dim];
    let is_weight = |i: usize| i % p1 != cols;
    // The penalty's share of the loss and gradient (intercepts are never penalized; without an intercept
    // their gradient is zero so they stay at 0).
    let penalized = |theta: &[f64], e: &mut Evaluation| {
        for i in (0..dim).filter(|&i| is_weight(i)) {
            e.loss += 0.5 * settings.l2 * theta[i] * theta[i];
            e.gradient[i] += settings.l2 * theta[i];
        }
        if !settings.fit_intercept {
            for i in (0..dim).filter(|&i| !is_weight(i)) {
                e.gradient[i] = 0.0;
            }
        }
    };
    let mut iterations = 0;
    // Loss and gradient at the current point (and its Hessian when it came along): from the line search's
    // accepted candidate after the first step.
    let (mut e, mut next_hessian) = loss.evaluate_fused(&theta)?;
    penalized(&theta, &mut e);
    for iteration in 0..settings.max_iterations {
        iterations = iteration + 1;
        if !on_iteration(iteration) {
            break;
        }
        let mut hessian = match next_hessian.take() {
            Some(hessian) => hessian,
            None => loss.hessian(&theta)?,
        };
        for i in 0..dim {
            hessian[i * dim + i] += if is_weight(i) {
                settings.l2
            } else if settings.fit_intercept {
                0.0
            } else {
                1.0
            };
        }
        let (mut step, _) = solve_spd(&hessian, &e.gradient, dim);
        if blocks > 1 && settings.fit_intercept {
            // Adding one constant to every class's intercept changes no probability, so the Hessian is singular
            // along that direction and rounding in the gradient (f32 on a GPU) would push the intercepts along
            // it without bound. Keep the intercept steps summing to zero.
            let mean = (0..blocks).map(|k| step[k * p1 + cols]).sum::<f64>() / blocks as f64;
            for k in 0..blocks {
                step[k * p1 + cols] -= mean;
            }
        }
        // Backtracking line search on the objective.
        let mut t = 1.0;
        let slope: f64 = e.gradient.iter().zip(&step).map(|(g, s)| g * s).sum();
        let mut accepted = false;
        for _ in 0..30 {
            let candidate: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let (mut c, candidate_hessian) = loss.evaluate_fused(&candidate)?;
            penalized(&candidate, &mut c);
            if c.loss <= e.loss - 1e-4 * t * slope || (e.loss - c.loss).abs() <= noise * e.loss.abs() {
                theta = candidate;
                e = c;
                next_hessian = candidate_hessian;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        let largest = step.iter().fold(0.0f64, |m, s| m.max((t * s).abs()));
        if !accepted || largest < settings.tolerance {
            break;
        }
    }
    Ok(LogisticCoefficients { cols, blocks: theta.chunks(p1).map(<[f64]>::to_vec).collect(), iterations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_is_zero_at_the_optimum() {
        // A small noisy problem: the fitted point must zero the penalized gradient.
        let mut rng = pipewright_engine::rng::SplitMix64::new(1);
        let n = 200;
        let mut x = Matrix::zeros(n, 2);
        let mut y = vec![0; n];
        for (i, yi) in y.iter_mut().enumerate() {
            x.row_mut(i).copy_from_slice(&[rng.next_normal(), rng.next_normal()]);
            let z = 1.5 * x.get(i, 0) - 0.5 * x.get(i, 1) + 0.3 + rng.next_normal();
            *yi = usize::from(z > 0.0);
        }
        let settings = LogisticSettings { l2: 1.0, max_iterations: 100, tolerance: 1e-12, fit_intercept: true };
        let fit = fit(&x, &y, 2, settings, &Backend::Cpu, |_| true).expect("the CPU never fails");
        let theta: Vec<f64> = fit.blocks.concat();
        let data = LogisticData { x: x.view(), y: &y, blocks: 1 };
        let mut e = pipewright_compute::logistic_evaluate(&Backend::Cpu, data, &theta, false).expect("cpu");
        for (g, t) in e.gradient.iter_mut().zip(&theta).take(2) {
            *g += t;
        }
        assert!(e.gradient.iter().all(|g| g.abs() < 1e-8), "{:?}", e.gradient);
        assert!(fit.blocks[0][0] > 0.5 && fit.blocks[0][1] < 0.0);
    }
}
