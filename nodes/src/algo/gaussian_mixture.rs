//! Gaussian mixture models fitted by expectation–maximization, as scikit-learn's `GaussianMixture`
//! with `init_params="k-means++"`: each start picks k-means++ centres (greedy, 2 + ln k candidates),
//! gives every row to its nearest centre, then alternates E and M steps until the mean
//! log-likelihood gains less than the tolerance. The start with the highest likelihood is kept.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_engine::rng::SplitMix64;

use crate::frame::Matrix;

/// The shape of each component's covariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Covariance {
    /// A full matrix per component.
    Full,
    /// Variances only (axis-aligned ellipsoids).
    Diagonal,
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct MixtureSettings {
    /// Number of components.
    pub components: usize,
    /// Covariance shape.
    pub covariance: Covariance,
    /// EM iterations per start at most.
    pub max_iterations: usize,
    /// Stop when the mean log-likelihood gains less than this.
    pub tolerance: f64,
    /// Added to the diagonal of every covariance, to keep it invertible.
    pub reg_covar: f64,
    /// Independent starts; the best is kept.
    pub starts: usize,
    /// Seed.
    pub seed: u64,
}

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixtureError {
    /// A covariance matrix lost positive definiteness.
    #[error(
        "a component's covariance became singular: raise the covariance regularization, use fewer components or remove duplicated columns"
    )]
    Singular,
    /// The caller stopped the fit.
    #[error("cancelled")]
    Cancelled,
}

/// A fitted mixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixtureFit {
    /// Mixing weights, summing to 1.
    pub weights: Vec<f64>,
    /// Component means.
    pub means: Vec<Vec<f64>>,
    /// Covariances: `p × p` row-major (full) or `p` variances (diagonal).
    pub covariances: Vec<Vec<f64>>,
    /// Covariance shape.
    pub covariance: Covariance,
    /// Mean log-likelihood of the training rows.
    pub mean_log_likelihood: f64,
    /// Whether the kept start met the tolerance.
    pub converged: bool,
    /// EM iterations of the kept start.
    pub iterations: usize,
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Lower Cholesky factor of a `p × p` matrix, or `None` when it is not positive definite (a pivot
/// below 1e-12 of the largest variance counts as zero: rounding leaves such crumbs of a constant column).
fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let floor = 1e-12 * (0..p).map(|i| a[i * p + i].abs()).fold(0.0, f64::max);
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = a[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            if i == j {
                if s <= floor || !s.is_finite() {
                    return None;
                }
                l[i * p + i] = s.sqrt();
            } else {
                l[i * p + j] = s / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// What the E step needs of one component: its Cholesky factor (or standard deviations) and the
/// log of its weight minus half the log determinant and the normalizing constant.
struct Prepared {
    factor: Vec<f64>,
    offset: f64,
}

fn prepare(fit: &MixtureFit, p: usize) -> Result<Vec<Prepared>, MixtureError> {
    let constant = -0.5 * p as f64 * (2.0 * std::f64::consts::PI).ln();
    fit.covariances
        .iter()
        .zip(&fit.weights)
        .map(|(cov, &w)| {
            let factor = match fit.covariance {
                Covariance::Full => cholesky(cov, p).ok_or(MixtureError::Singular)?,
                Covariance::Diagonal => {
                    let floor = 1e-12 * cov.iter().copied().fold(0.0, f64::max);
                    if cov.iter().any(|&v| v <= floor || !v.is_finite()) {
                        return Err(MixtureError::Singular);
                    }
                    cov.iter().map(|v| v.sqrt()).collect()
                }
            };
            let log_det_half: f64 = match fit.covariance {
                Covariance::Full => (0..p).map(|i| factor[i * p + i].ln()).sum(),
                Covariance::Diagonal => factor.iter().map(|s| s.ln()).sum(),
            };
            Ok(Prepared { factor, offset: w.ln() + constant - log_det_half })
        })
        .collect()
}

/// `ln(w_k N(row | μ_k, Σ_k))` for every component.
fn weighted_log_densities(fit: &MixtureFit, prepared: &[Prepared], row: &[f64], out: &mut [f64]) {
    let p = row.len();
    let mut z = vec![0.0; p];
    for (k, prep) in prepared.iter().enumerate() {
        let mean = &fit.means[k];
        let quad = match fit.covariance {
            Covariance::Full => {
                // Solve L z = x − μ by forward substitution.
                for i in 0..p {
                    let s: f64 = (0..i).map(|j| prep.factor[i * p + j] * z[j]).sum();
                    z[i] = (row[i] - mean[i] - s) / prep.factor[i * p + i];
                }
                z.iter().map(|v| v * v).sum::<f64>()
            }
            Covariance::Diagonal => (0..p).map(|i| ((row[i] - mean[i]) / prep.factor[i]).powi(2)).sum::<f64>(),
        };
        out[k] = prep.offset - 0.5 * quad;
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Responsibilities (row-major `n × k`) and the mean log-likelihood.
fn e_step(x: &Matrix, fit: &MixtureFit) -> Result<(Vec<f64>, f64), MixtureError> {
    let k = fit.weights.len();
    let prepared = prepare(fit, x.cols)?;
    let mut resp = vec![0.0; x.rows * k];
    let total: f64 = resp
        .par_chunks_mut(k)
        .enumerate()
        .map(|(i, out)| {
            weighted_log_densities(fit, &prepared, x.row(i), out);
            let norm = log_sum_exp(out);
            for v in out.iter_mut() {
                *v = (*v - norm).exp();
            }
            norm
        })
        .sum();
    Ok((resp, total / x.rows as f64))
}

/// Weights, means and covariances from responsibilities.
fn m_step(x: &Matrix, resp: &[f64], k: usize, covariance: Covariance, reg_covar: f64) -> MixtureFit {
    let (n, p) = (x.rows, x.cols);
    let mut nk = vec![10.0 * f64::EPSILON; k];
    let mut means = vec![vec![0.0; p]; k];
    for i in 0..n {
        for c in 0..k {
            let r = resp[i * k + c];
            nk[c] += r;
            means[c].iter_mut().zip(x.row(i)).for_each(|(m, v)| *m += r * v);
        }
    }
    for c in 0..k {
        means[c].iter_mut().for_each(|m| *m /= nk[c]);
    }
    let covariances: Vec<Vec<f64>> = (0..k)
        .map(|c| {
            let mut cov = vec![0.0; if covariance == Covariance::Full { p * p } else { p }];
            let mut diff = vec![0.0; p];
            for i in 0..n {
                let r = resp[i * k + c];
                diff.iter_mut().zip(x.row(i)).zip(&means[c]).for_each(|((d, v), m)| *d = v - m);
                match covariance {
                    Covariance::Full => {
                        for a in 0..p {
                            for b in 0..=a {
                                cov[a * p + b] += r * diff[a] * diff[b];
                            }
                        }
                    }
                    Covariance::Diagonal => cov.iter_mut().zip(&diff).for_each(|(s, d)| *s += r * d * d),
                }
            }
            match covariance {
                Covariance::Full => {
                    for a in 0..p {
                        for b in 0..=a {
                            let v = cov[a * p + b] / nk[c] + if a == b { reg_covar } else { 0.0 };
                            cov[a * p + b] = v;
                            cov[b * p + a] = v;
                        }
                    }
                }
                Covariance::Diagonal => cov.iter_mut().for_each(|s| *s = *s / nk[c] + reg_covar),
            }
            cov
        })
        .collect();
    MixtureFit {
        weights: nk.iter().map(|v| v / n as f64).collect(),
        means,
        covariances,
        covariance,
        mean_log_likelihood: f64::NEG_INFINITY,
        converged: false,
        iterations: 0,
    }
}

/// Greedy k-means++ centres (row indices), as scikit-learn's `kmeans_plusplus`.
fn plus_plus(x: &Matrix, k: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let trials = 2 + (k as f64).ln() as usize;
    let mut picks = vec![rng.below(x.rows)];
    let mut closest: Vec<f64> = (0..x.rows).map(|i| squared_distance(x.row(i), x.row(picks[0]))).collect();
    while picks.len() < k {
        let potential: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let target = rng.next_f64() * potential;
            let mut acc = 0.0;
            let mut pick = x.rows - 1;
            for (i, d) in closest.iter().enumerate() {
                acc += d;
                if acc > target {
                    pick = i;
                    break;
                }
            }
            let updated: Vec<f64> =
                closest.iter().enumerate().map(|(i, &d)| d.min(squared_distance(x.row(i), x.row(pick)))).collect();
            let total: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|(b, _, _)| total < *b) {
                best = Some((total, pick, updated));
            }
        }
        let Some((_, pick, updated)) = best else { break };
        picks.push(pick);
        closest = updated;
    }
    picks
}

/// Fits a mixture; `keep_going` is asked before each start with its number.
pub fn fit(x: &Matrix, s: MixtureSettings, keep_going: &dyn Fn(usize) -> bool) -> Result<MixtureFit, MixtureError> {
    let k = s.components;
    let mut rng = SplitMix64::new(s.seed);
    // Starts are compared on the lower bound they ended with, as scikit-learn does.
    let mut best: Option<(f64, MixtureFit)> = None;
    for start in 0..s.starts.max(1) {
        if !keep_going(start) {
            return Err(MixtureError::Cancelled);
        }
        let centres = plus_plus(x, k, &mut rng);
        let mut resp = vec![0.0; x.rows * k];
        for i in 0..x.rows {
            let nearest = (0..k)
                .min_by(|&a, &b| {
                    squared_distance(x.row(i), x.row(centres[a]))
                        .total_cmp(&squared_distance(x.row(i), x.row(centres[b])))
                })
                .unwrap_or(0);
            resp[i * k + nearest] = 1.0;
        }
        let mut model = m_step(x, &resp, k, s.covariance, s.reg_covar);
        let mut lower_bound = f64::NEG_INFINITY;
        let mut converged = false;
        let mut iterations = 0;
        for _ in 0..s.max_iterations {
            iterations += 1;
            let (resp, mean_ll) = e_step(x, &model)?;
            model = m_step(x, &resp, k, s.covariance, s.reg_covar);
            let change = mean_ll - lower_bound;
            lower_bound = mean_ll;
            if change.abs() < s.tolerance {
                converged = true;
                break;
            }
        }
        // The likelihood of the final parameters, which predictions use.
        let (_, mean_ll) = e_step(x, &model)?;
        model.mean_log_likelihood = mean_ll;
        model.converged = converged;
        model.iterations = iterations;
        if best.as_ref().is_none_or(|(b, _)| lower_bound > *b) {
            best = Some((lower_bound, model));
        }
    }
    best.map(|(_, model)| model).ok_or(MixtureError::Cancelled)
}

impl MixtureFit {
    /// The most likely component of each row and the distance to its mean.
    pub fn assign(&self, x: &Matrix) -> Result<Vec<(usize, f64)>, MixtureError> {
        let (resp, _) = e_step(x, self)?;
        let k = self.weights.len();
        Ok((0..x.rows)
            .map(|i| {
                let r = &resp[i * k..(i + 1) * k];
                let c = (0..k).fold(0, |b, c| if r[c] > r[b] { c } else { b });
                (c, squared_distance(x.row(i), &self.means[c]).sqrt())
            })
            .collect())
    }

    /// Mean log-likelihood of rows under the mixture.
    pub fn score(&self, x: &Matrix) -> Result<f64, MixtureError> {
        Ok(e_step(x, self)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(components: usize, covariance: Covariance) -> MixtureSettings {
        MixtureSettings {
            components,
            covariance,
            max_iterations: 500,
            tolerance: 1e-10,
            reg_covar: 0.0,
            starts: 3,
            seed: 7,
        }
    }

    #[test]
    fn one_component_is_the_sample_mean_and_population_covariance() {
        let x = Matrix { rows: 4, cols: 2, data: vec![0.0, 0.0, 2.0, 0.0, 0.0, 1.0, 2.0, 3.0] };
        let fit = fit(&x, settings(1, Covariance::Full), &|_| true).expect("fits");
        assert!((fit.weights[0] - 1.0).abs() < 1e-12);
        assert!(squared_distance(&fit.means[0], &[1.0, 1.0]) < 1e-24);
        // Var x 1, var y 1.5, cov 0.5.
        for (got, want) in fit.covariances[0].iter().zip([1.0, 0.5, 0.5, 1.5]) {
            assert!((got - want).abs() < 1e-12, "{:?}", fit.covariances[0]);
        }
        // ln N at the mean etc.: mean log-likelihood = −ln(2π) − ½ ln|Σ| − ½ E[quad] with E[quad] = p.
        let det: f64 = 1.0 * 1.5 - 0.25;
        let expected = -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln() - 1.0;
        assert!((fit.mean_log_likelihood - expected).abs() < 1e-12);
    }

    #[test]
    fn two_separated_blobs_get_one_component_each_with_diagonal_covariances() {
        let mut data = Vec::new();
        for i in 0..20 {
            let t = f64::from(i) / 19.0;
            data.extend([t, 1.0 - t]);
            data.extend([10.0 + t, 10.0 + 2.0 * t]);
        }
        let x = Matrix { rows: 40, cols: 2, data };
        let fit = fit(&x, settings(2, Covariance::Diagonal), &|_| true).expect("fits");
        let labels: Vec<usize> = fit.assign(&x).expect("assigns").into_iter().map(|(c, _)| c).collect();
        for i in (0..40).step_by(2) {
            assert_eq!(labels[i], labels[0]);
            assert_ne!(labels[i + 1], labels[0]);
        }
        assert!(fit.weights.iter().all(|w| (w - 0.5).abs() < 1e-12));
        assert!(fit.converged);
    }

    #[test]
    fn a_constant_column_without_regularization_is_singular() {
        let x = Matrix { rows: 3, cols: 2, data: vec![0.0, 1.0, 1.0, 1.0, 2.0, 1.0] };
        assert_eq!(fit(&x, settings(1, Covariance::Full), &|_| true), Err(MixtureError::Singular));
        let regularized = MixtureSettings { reg_covar: 1e-6, ..settings(1, Covariance::Full) };
        assert!(fit(&x, regularized, &|_| true).is_ok());
    }
}
