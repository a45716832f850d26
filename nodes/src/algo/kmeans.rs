//! K-means: greedy k-means++ seeding (as scikit-learn does it), Lloyd iterations, several inits
//! keeping the one with the least inertia.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_compute::{Backend, ComputeError, KMeansProblem, LloydStep};
use pipewright_engine::NodeError;
use pipewright_engine::rng::SplitMix64;

use crate::frame::Matrix;

/// How the first centres are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// k-means++ with 2 + ln k candidates per centre.
    KMeansPlusPlus,
    /// k distinct random rows.
    Random,
}

/// Settings of a fit.
#[derive(Debug, Clone, Copy)]
pub struct KMeansSettings {
    /// Number of clusters.
    pub k: usize,
    /// Seeding method.
    pub init: Init,
    /// Independent starts; the best is kept.
    pub n_init: usize,
    /// Lloyd iterations per start at most.
    pub max_iterations: usize,
    /// Convergence: centre movement (squared, summed) below `tolerance × mean feature variance`.
    pub tolerance: f64,
    /// Seed.
    pub seed: u64,
}

/// A fitted clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansFit {
    /// `k` rows of centres.
    pub centers: Vec<Vec<f64>>,
    /// Sum of squared distances of rows to their centre.
    pub inertia: f64,
    /// Lloyd iterations over every row of the kept start (after those on the seeding sample).
    pub iterations: usize,
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centre of each row and the squared distance to it, on `backend`.
pub fn assign(x: &Matrix, centers: &[Vec<f64>], backend: &Backend) -> Result<Vec<(usize, f64)>, ComputeError> {
    let flat: Vec<f64> = centers.concat();
    let a = pipewright_compute::assign(backend, x.view(), &flat, centers.len())?;
    Ok(a.labels.into_iter().zip(a.distances).collect())
}

fn seed_plus_plus(x: &Matrix, k: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let trials = 2 + (k as f64).ln() as usize;
    let mut centers = vec![x.row(rng.below(x.rows)).to_vec()];
    let mut closest: Vec<f64> =
        (0..x.rows).into_par_iter().with_min_len(4096).map(|i| squared_distance(x.row(i), &centers[0])).collect();
    while centers.len() < k {
        let potential: f64 = closest.iter().sum();
        // The trial candidates are drawn first, then one pass over the rows gives every candidate's potential
        // (each row is read once for all of them), summed over fixed chunks of rows so that the result does not
        // depend on the number of threads.
        let picks: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.next_f64() * potential;
                let mut acc = 0.0;
                for (i, d) in closest.iter().enumerate() {
                    acc += d;
                    if acc > target {
                        return i;
                    }
                }
                x.rows - 1
            })
            .collect();
        let chunk = 4096;
        let partials: Vec<Vec<f64>> = closest
            .par_chunks(chunk)
            .enumerate()
            .map(|(c, ds)| {
                let mut sums = vec![0.0; picks.len()];
                for (k, &d) in ds.iter().enumerate() {
                    let row = x.row(c * chunk + k);
                    for (sum, &pick) in sums.iter_mut().zip(&picks) {
                        *sum += d.min(squared_distance(row, x.row(pick)));
                    }
                }
                sums
            })
            .collect();
        let mut best: Option<(f64, usize)> = None;
        for (t, &pick) in picks.iter().enumerate() {
            let total: f64 = partials.iter().map(|p| p[t]).sum();
            if best.is_none_or(|(b, _)| total < b) {
                best = Some((total, pick));
            }
        }
        let Some((_, pick)) = best else { break };
        let chosen = x.row(pick);
        closest
            .par_iter_mut()
            .with_min_len(4096)
            .enumerate()
            .for_each(|(i, d)| *d = d.min(squared_distance(x.row(i), chosen)));
        centers.push(chosen.to_vec());
    }
    centers
}

fn seed_random(x: &Matrix, k: usize, rng: &mut SplitMix64) -> Vec<Vec<f64>> {
    let mut rows: Vec<usize> = (0..x.rows).collect();
    rng.shuffle(&mut rows);
    rows[..k].iter().map(|&i| x.row(i).to_vec()).collect()
}

/// Rows the seeding looks at: past this many, every k-th row by its place in the table (a sample that a pass
/// over a streamed table draws the same way), so seeding costs the same for a million rows as for a billion.
pub const SEED_ROWS: usize = 100_000;

/// The rows k-means reads: a matrix in memory, or passes over a streamed table.
pub trait LloydRows {
    /// Rows.
    fn rows(&self) -> usize;
    /// Features per row.
    fn cols(&self) -> usize;
    /// The mean over the columns of their population variances (the scale of the tolerance).
    fn mean_variance(&mut self) -> Result<f64, NodeError>;
    /// The rows whose place is a multiple of `stride`, in order.
    fn sample(&mut self, stride: usize) -> Result<Matrix, NodeError>;
    /// One Lloyd step from `centers` (`k × cols`).
    fn step(&mut self, centers: &[f64], k: usize) -> Result<LloydStep, NodeError>;
}

/// A matrix in memory, on `backend`.
struct InMemory<'a> {
    x: &'a Matrix,
    problem: KMeansProblem<'a>,
}

impl LloydRows for InMemory<'_> {
    fn rows(&self) -> usize {
        self.x.rows
    }

    fn cols(&self) -> usize {
        self.x.cols
    }

    fn mean_variance(&mut self) -> Result<f64, NodeError> {
        let x = self.x;
        // Two passes over row chunks in parallel: column means, then squared deviations.
        let sums = |f: &(dyn Fn(usize, f64) -> f64 + Sync)| -> Vec<f64> {
            x.data
                .par_chunks((x.cols * 8192).max(1))
                .map(|chunk| {
                    let mut acc = vec![0.0; x.cols];
                    for row in chunk.chunks(x.cols.max(1)) {
                        acc.iter_mut().enumerate().zip(row).for_each(|((j, a), &v)| *a += f(j, v));
                    }
                    acc
                })
                .reduce(|| vec![0.0; x.cols], |a, b| a.iter().zip(&b).map(|(a, b)| a + b).collect())
        };
        let n = x.rows as f64;
        let means: Vec<f64> = sums(&|_, v| v).into_iter().map(|s| s / n).collect();
        let total: f64 = sums(&|j, v| (v - means[j]) * (v - means[j])).into_iter().map(|s| s / n).sum();
        Ok(total / x.cols.max(1) as f64)
    }

    fn sample(&mut self, stride: usize) -> Result<Matrix, NodeError> {
        let rows: Vec<f64> = (0..self.x.rows).step_by(stride.max(1)).flat_map(|i| self.x.row(i).to_vec()).collect();
        Ok(Matrix { rows: rows.len() / self.x.cols.max(1), cols: self.x.cols, data: rows })
    }

    fn step(&mut self, centers: &[f64], k: usize) -> Result<LloydStep, NodeError> {
        self.problem.step(centers, k).map_err(crate::device::kernel_error)
    }
}

/// Fits k-means to `x` on `backend`; `None` when `keep_going` says stop (or `k` is out of range).
pub fn fit(
    x: &Matrix,
    s: KMeansSettings,
    backend: &Backend,
    keep_going: &dyn Fn(usize) -> bool,
) -> Result<Option<KMeansFit>, NodeError> {
    let mut rows = InMemory { x, problem: KMeansProblem::new(backend, x.view()) };
    fit_rows(&mut rows, s, keep_going)
}

/// Fits k-means to `rows`: seeding on a sample of at most about [`SEED_ROWS`] rows (all of them below that), Lloyd
/// steps on that sample until they converge, then Lloyd steps over every row, for each start; the start with the least
/// inertia wins. [`KMeansFit::iterations`] counts the steps over every row.
pub fn fit_rows(
    rows: &mut dyn LloydRows,
    s: KMeansSettings,
    keep_going: &dyn Fn(usize) -> bool,
) -> Result<Option<KMeansFit>, NodeError> {
    let n = rows.rows();
    if s.k == 0 || s.k > n {
        return Ok(None);
    }
    let threshold = s.tolerance * rows.mean_variance()?;
    let sample = rows.sample((n / SEED_ROWS).max(1))?;
    let mut rng = SplitMix64::new(s.seed);
    let mut best: Option<KMeansFit> = None;
    for start in 0..s.n_init.max(1) {
        if !keep_going(start) {
            return Ok(None);
        }
        let k = s.k.min(sample.rows);
        let mut centers = match s.init {
            Init::KMeansPlusPlus => seed_plus_plus(&sample, k, &mut rng),
            Init::Random => seed_random(&sample, k, &mut rng),
        };
        if sample.rows < n {
            // Converged on the sample first (a tenth of a full step each), the full Lloyd steps start near their
            // end: on 1M blobs, 41 full steps from the seeds become a handful.
            let mut on_sample = InMemory { x: &sample, problem: KMeansProblem::new(&Backend::Cpu, sample.view()) };
            let refined = lloyd(&mut on_sample, &mut centers, threshold, s.max_iterations, &|| keep_going(start))?;
            if refined.is_none() {
                return Ok(None);
            }
        }
        let Some(iterations) = lloyd(rows, &mut centers, threshold, s.max_iterations, &|| keep_going(start))? else {
            return Ok(None);
        };
        let inertia = rows.step(&centers.concat(), k)?.inertia;
        if best.as_ref().is_none_or(|b| inertia < b.inertia) {
            best = Some(KMeansFit { centers, inertia, iterations });
        }
    }
    Ok(best)
}

/// Lloyd steps from `centers` until they move less than `threshold` (squared, summed) or `max_iterations`; the
/// steps taken, or `None` when `keep_going` says stop.
fn lloyd(
    rows: &mut dyn LloydRows,
    centers: &mut [Vec<f64>],
    threshold: f64,
    max_iterations: usize,
    keep_going: &dyn Fn() -> bool,
) -> Result<Option<usize>, NodeError> {
    let (k, cols) = (centers.len(), rows.cols());
    let mut iterations = 0;
    for _ in 0..max_iterations {
        iterations += 1;
        let step = rows.step(&centers.concat(), k)?;
        let mut shift = 0.0;
        for (c, center) in centers.iter_mut().enumerate() {
            if step.counts[c] == 0 {
                continue; // An empty cluster keeps its centre.
            }
            let new: Vec<f64> = step.sums[c * cols..(c + 1) * cols].iter().map(|v| v / step.counts[c] as f64).collect();
            shift += squared_distance(&new, center);
            *center = new;
        }
        if !keep_going() {
            return Ok(None);
        }
        if shift <= threshold {
            break;
        }
    }
    Ok(Some(iterations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_two_obvious_groups() {
        let x =
            Matrix { rows: 6, cols: 2, data: vec![0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 10.0, 10.0, 10.1, 10.0, 10.0, 10.1] };
        let s = KMeansSettings {
            k: 2,
            init: Init::KMeansPlusPlus,
            n_init: 3,
            max_iterations: 100,
            tolerance: 1e-4,
            seed: 1,
        };
        let fit = fit(&x, s, &Backend::Cpu, &|_| true).expect("cpu").expect("fits");
        let labels = assign(&x, &fit.centers, &Backend::Cpu).expect("cpu");
        assert_eq!(labels[0].0, labels[2].0);
        assert_ne!(labels[0].0, labels[3].0);
        assert!((fit.inertia - 4.0 * 0.1 * 0.1 * 2.0 / 3.0).abs() < 1e-9, "{}", fit.inertia);
    }

    /// Overlapping Gaussian blobs, `n` rows of `cols` features around `k` centres in [-10, 10], deviation 4.
    fn blobs(n: usize, cols: usize, k: usize, seed: u64) -> Matrix {
        let mut rng = SplitMix64::new(seed);
        let centres: Vec<f64> = (0..k * cols).map(|_| rng.next_f64() * 20.0 - 10.0).collect();
        let mut data = Vec::with_capacity(n * cols);
        for i in 0..n {
            let c = i % k;
            for j in 0..cols {
                let (u, v) = (rng.next_f64().max(f64::MIN_POSITIVE), rng.next_f64());
                data.push(centres[c * cols + j] + 4.0 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos());
            }
        }
        Matrix { rows: n, cols, data }
    }

    #[test]
    fn a_start_converged_on_the_sample_needs_fewer_full_steps_for_the_same_inertia() {
        let x = blobs(3 * SEED_ROWS, 16, 8, 2);
        let s = KMeansSettings {
            k: 8,
            init: Init::KMeansPlusPlus,
            n_init: 1,
            max_iterations: 300,
            tolerance: 1e-4,
            seed: 3,
        };
        let fit = fit(&x, s, &Backend::Cpu, &|_| true).expect("cpu").expect("fits");

        // The same seeds, Lloyd steps on every row from the start.
        let mut rows = InMemory { x: &x, problem: KMeansProblem::new(&Backend::Cpu, x.view()) };
        let threshold = s.tolerance * rows.mean_variance().expect("variance");
        let sample = rows.sample(3).expect("sample");
        let mut centers = seed_plus_plus(&sample, s.k, &mut SplitMix64::new(s.seed));
        let plain = lloyd(&mut rows, &mut centers, threshold, s.max_iterations, &|| true).expect("cpu").expect("runs");
        let plain_inertia = rows.step(&centers.concat(), s.k).expect("cpu").inertia;

        assert!(
            (fit.inertia - plain_inertia).abs() <= 0.005 * plain_inertia,
            "inertia {} against {plain_inertia}",
            fit.inertia
        );
        assert!(
            fit.iterations < plain,
            "{} full steps after the sample against {plain} from the seeds",
            fit.iterations
        );
    }
}
