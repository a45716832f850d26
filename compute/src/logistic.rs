//! The objective of L2-regularized logistic regression over all rows — summed log loss, its gradient and
//! its Hessian — for the Newton fit of the logistic-regression blocks. Shaders: `shaders/logistic.wgsl`
//! (scores, loss, residuals, Newton weights), `shaders/pair_weights.wgsl` (multinomial Hessian weights) and
//! `shaders/crossprod.wgsl` (the gradient `X̃ᵀ(p − y)` and the Hessian `X̃ᵀ W X̃`).
//!
//! On the CPU, two-class problems of more than [`HESSIAN_ROWS`] rows compute the Hessian on every k-th row
//! (a sub-sampled Newton method): a good enough curvature for the step at a fraction of the cost, while loss
//! and gradient stay exact.
//!
//! The penalty is the caller's. Coefficients are `blocks` rows of `cols + 1` values (weights, then the
//! intercept); two classes use one block (the log-odds of class 1). On the GPU the loss is an f32 sum per
//! 256 rows added in f64 (each row's loss computed without cancellation), so it is exact to about 1e-6 relative: [`LogisticProblem::loss_precision`] tells a
//! line search how far to trust a decrease.

use rayon::prelude::*;

use crate::crossprod::{self, DeviceB};
use crate::gpu::GpuMatrix;
use crate::{Backend, ComputeError, Gpu, MatrixRef};

const SHADER: &str = concat!(include_str!("../shaders/workgroup_sum.wgsl"), include_str!("../shaders/logistic.wgsl"));
const PAIR_SHADER: &str = include_str!("../shaders/pair_weights.wgsl");

/// Rows from which the CPU twin estimates the two-class Hessian on a regular subsample of about this many.
pub const HESSIAN_ROWS: usize = 200_000;

/// Classes the device handles at most (the shader's private array).
const MAX_DEVICE_BLOCKS: usize = 32;

/// The data of a fit.
#[derive(Debug, Clone, Copy)]
pub struct LogisticData<'a> {
    /// Features.
    pub x: MatrixRef<'a>,
    /// Class index of each row, in `0..classes`.
    pub y: &'a [usize],
    /// Coefficient blocks: 1 for two classes, else the number of classes.
    pub blocks: usize,
}

/// Loss, gradient and (when asked) Hessian at one point; `dim = blocks × (cols + 1)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Summed log loss.
    pub loss: f64,
    /// `dim` values.
    pub gradient: Vec<f64>,
    /// `dim × dim` values, row after row (empty when not asked for).
    pub hessian: Vec<f64>,
}

/// One fit's data, placed where its backend computes (uploaded once on the GPU).
pub struct LogisticProblem<'a> {
    data: LogisticData<'a>,
    device: Option<DeviceState>,
}

struct DeviceState {
    gpu: std::sync::Arc<Gpu>,
    x: std::sync::Arc<GpuMatrix>,
    y: wgpu::Buffer,
    resid: wgpu::Buffer,
    weight: wgpu::Buffer,
}

impl<'a> LogisticProblem<'a> {
    /// Prepares the data for `backend`. More than 32 classes compute on the CPU whatever the backend.
    pub fn new(backend: &Backend, data: LogisticData<'a>) -> Self {
        let device = match backend {
            Backend::Gpu(gpu) if data.blocks <= MAX_DEVICE_BLOCKS => {
                let labels: Vec<u32> = data.y.iter().map(|&c| c as u32).collect();
                Some(DeviceState {
                    gpu: gpu.clone(),
                    x: gpu.matrix(data.x),
                    y: gpu.storage("labels", &labels),
                    resid: gpu.output("residuals", data.x.rows * data.blocks),
                    weight: gpu.output("newton weights", data.x.rows),
                })
            }
            _ => None,
        };
        Self { data, device }
    }

    /// The backend actually used.
    pub fn backend(&self) -> Backend {
        self.device.as_ref().map_or(Backend::Cpu, |d| Backend::Gpu(d.gpu.clone()))
    }

    /// Relative precision of [`Evaluation::loss`]: decreases smaller than this times the loss are noise.
    pub fn loss_precision(&self) -> f64 {
        if self.device.is_some() { 1e-5 } else { 1e-14 }
    }

    /// The Hessian at `theta` alone (`dim × dim`), for a step whose loss and gradient are already known.
    pub fn hessian(&self, theta: &[f64]) -> Result<Vec<f64>, ComputeError> {
        match &self.device {
            None if self.data.blocks == 1 => Ok(cpu_binary_hessian(self.data, theta)),
            _ => Ok(self.evaluate(theta, true)?.hessian),
        }
    }

    /// Loss and gradient at `theta`, and the Hessian when `with_hessian`.
    pub fn evaluate(&self, theta: &[f64], with_hessian: bool) -> Result<Evaluation, ComputeError> {
        match &self.device {
            None => Ok(cpu(self.data, theta, with_hessian)),
            Some(d) => on_gpu(d, self.data, theta, with_hessian),
        }
    }
}

/// Loss and gradient (and Hessian) at `theta` on `backend`, for a single evaluation.
pub fn logistic_evaluate(
    backend: &Backend,
    data: LogisticData<'_>,
    theta: &[f64],
    with_hessian: bool,
) -> Result<Evaluation, ComputeError> {
    LogisticProblem::new(backend, data).evaluate(theta, with_hessian)
}

/// `σ(z)` and `log(1 + e^z)` from one exponential, without overflow.
fn sigmoid_and_softplus(z: f64) -> (f64, f64) {
    let e = (-z.abs()).exp();
    let softplus = z.max(0.0) + e.ln_1p();
    let sigmoid = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (sigmoid, softplus)
}

/// Rows beyond which the two-class Hessian is estimated on every k-th row (see the module docs).
fn hessian_stride(rows: usize) -> usize {
    (rows / HESSIAN_ROWS).max(1)
}

/// The two-class Hessian on the CPU: Newton weights `p(1 − p)` of the sampled rows, then their weighted Gram
/// matrix, scaled to all rows.
fn cpu_binary_hessian(data: LogisticData<'_>, theta: &[f64]) -> Vec<f64> {
    let x = data.x;
    let stride = hessian_stride(x.rows);
    let mut weights = vec![0.0; x.rows];
    weights.par_chunks_mut(4096).enumerate().for_each(|(c, w)| {
        for (k, slot) in w.iter_mut().enumerate() {
            let i = c * 4096 + k;
            if i % stride == 0 {
                let z = theta[..x.cols].iter().zip(x.row(i)).map(|(a, b)| a * b).sum::<f64>() + theta[x.cols];
                let (p, _) = sigmoid_and_softplus(z);
                *slot = p * (1.0 - p);
            }
        }
    });
    scaled_gram(x, &weights, stride)
}

/// The Hessian's share of some consecutive rows of a larger table, on the CPU: summed over the parts of a table
/// (in any batches), the table's Hessian as [`LogisticProblem::hessian`] computes it in memory. The part's rows
/// are rows `first_row..` of a table of `total_rows`; for two classes only those on the table's sampling stride
/// count, scaled as the whole table's sample is.
pub fn hessian_part(data: LogisticData<'_>, theta: &[f64], first_row: usize, total_rows: usize) -> Vec<f64> {
    if data.blocks != 1 {
        return cpu(data, theta, true).hessian;
    }
    let x = data.x;
    let stride = hessian_stride(total_rows);
    let sampled: Vec<usize> = (0..x.rows).filter(|i| (first_row + i).is_multiple_of(stride)).collect();
    let mut rows = Vec::with_capacity(sampled.len() * x.cols);
    let weights: Vec<f64> = sampled
        .iter()
        .map(|&i| {
            rows.extend_from_slice(x.row(i));
            let z = theta[..x.cols].iter().zip(x.row(i)).map(|(a, b)| a * b).sum::<f64>() + theta[x.cols];
            let (p, _) = sigmoid_and_softplus(z);
            p * (1.0 - p)
        })
        .collect();
    let mut hessian = crossprod::gram_every(MatrixRef::new(sampled.len(), x.cols, &rows), true, &weights, 1);
    if stride > 1 {
        let scale = total_rows as f64 / total_rows.div_ceil(stride) as f64;
        for h in &mut hessian {
            *h *= scale;
        }
    }
    hessian
}

fn scaled_gram(x: MatrixRef<'_>, weights: &[f64], stride: usize) -> Vec<f64> {
    let mut hessian = crossprod::gram_every(x, true, weights, stride);
    if stride > 1 {
        let scale = x.rows as f64 / x.rows.div_ceil(stride) as f64;
        for h in &mut hessian {
            *h *= scale;
        }
    }
    hessian
}

/// The CPU twin. Two classes: one pass for loss, gradient and weights, then the weighted Gram matrix.
/// More classes: per-row outer products into the lower triangle of each block pair.
fn cpu(data: LogisticData<'_>, theta: &[f64], with_hessian: bool) -> Evaluation {
    let x = data.x;
    let blocks = data.blocks;
    let p1 = x.cols + 1;
    let dim = blocks * p1;
    let chunk = 4096;
    let binary = blocks == 1;
    let mut weights = if binary && with_hessian { vec![0.0; x.rows] } else { Vec::new() };
    let multinomial_hessian = with_hessian && !binary;
    let partial = |(c, w_chunk): (usize, &mut [f64])| {
        let start = c * chunk;
        let end = (start + chunk).min(x.rows);
        let mut e = Evaluation {
            loss: 0.0,
            gradient: vec![0.0; dim],
            hessian: if multinomial_hessian { vec![0.0; dim * dim] } else { Vec::new() },
        };
        let mut z = vec![0.0; blocks.max(2)];
        let mut probs = vec![0.0; blocks.max(2)];
        for i in start..end {
            let row = x.row(i);
            if binary {
                let zi: f64 = theta[..x.cols].iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + theta[x.cols];
                let yi = if data.y[i] == 1 { 1.0 } else { 0.0 };
                let (p, softplus) = sigmoid_and_softplus(zi);
                e.loss += softplus - yi * zi;
                let r = p - yi;
                for (g, xv) in e.gradient.iter_mut().zip(row) {
                    *g += r * xv;
                }
                e.gradient[x.cols] += r;
                if !w_chunk.is_empty() {
                    w_chunk[i - start] = p * (1.0 - p);
                }
            } else {
                for k in 0..blocks {
                    let t = &theta[k * p1..(k + 1) * p1];
                    z[k] = t[..x.cols].iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + t[x.cols];
                }
                let max = z[..blocks].iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + z[..blocks].iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                e.loss += lse - z[data.y[i]];
                for k in 0..blocks {
                    probs[k] = (z[k] - lse).exp();
                    let r = probs[k] - if data.y[i] == k { 1.0 } else { 0.0 };
                    let g = &mut e.gradient[k * p1..(k + 1) * p1];
                    for (g, xv) in g.iter_mut().zip(row) {
                        *g += r * xv;
                    }
                    g[x.cols] += r;
                }
                if multinomial_hessian {
                    for k in 0..blocks {
                        for l in 0..=k {
                            let w = if k == l { probs[k] * (1.0 - probs[k]) } else { -probs[k] * probs[l] };
                            add_outer(&mut e.hessian, dim, k * p1, l * p1, row, w);
                        }
                    }
                }
            }
        }
        e
    };
    let parts: Vec<Evaluation> = if weights.is_empty() {
        (0..x.rows.div_ceil(chunk)).into_par_iter().map(|c| partial((c, &mut []))).collect()
    } else {
        weights.par_chunks_mut(chunk).enumerate().map(partial).collect()
    };
    let mut e = parts.into_iter().reduce(|mut a, b| {
        a.loss += b.loss;
        a.gradient.iter_mut().zip(&b.gradient).for_each(|(x, y)| *x += y);
        a.hessian.iter_mut().zip(&b.hessian).for_each(|(x, y)| *x += y);
        a
    });
    let mut e = e.take().unwrap_or(Evaluation {
        loss: 0.0,
        gradient: vec![0.0; dim],
        hessian: if multinomial_hessian { vec![0.0; dim * dim] } else { Vec::new() },
    });
    if binary && with_hessian {
        // Beyond HESSIAN_ROWS rows, every k-th row (scaled by k) estimates the Hessian: it only shapes the
        // Newton step, while the loss and gradient stay exact, so the fit reaches the same optimum.
        e.hessian = scaled_gram(x, &weights, hessian_stride(x.rows));
    } else if multinomial_hessian {
        // Only blocks with k >= l and, inside each, the lower triangle were filled: mirror.
        for i in 0..dim {
            for j in 0..i {
                e.hessian[j * dim + i] = e.hessian[i * dim + j];
            }
        }
    }
    e
}

/// Adds `w · ṽ ṽᵀ` (ṽ = v with a trailing 1) to the lower triangle of block (`row0`, `col0`) of a
/// `dim × dim` matrix.
fn add_outer(h: &mut [f64], dim: usize, row0: usize, col0: usize, v: &[f64], w: f64) {
    if w == 0.0 {
        return;
    }
    let p1 = v.len() + 1;
    let at = |i: usize| if i < v.len() { v[i] } else { 1.0 };
    for a in 0..p1 {
        let wa = w * at(a);
        let row = &mut h[(row0 + a) * dim + col0..];
        let limit = if row0 == col0 { a + 1 } else { p1 };
        for (b, slot) in row[..limit].iter_mut().enumerate() {
            *slot += wa * at(b);
        }
    }
}

fn on_gpu(
    d: &DeviceState,
    data: LogisticData<'_>,
    theta: &[f64],
    with_hessian: bool,
) -> Result<Evaluation, ComputeError> {
    let gpu = &d.gpu;
    let blocks = data.blocks;
    let cols = data.x.cols;
    let p1 = cols + 1;
    let dim = blocks * p1;
    let pipeline = gpu.pipeline("logistic", SHADER, "main")?;
    let theta_buffer = gpu.storage("coefficients", &crossprod::to_f32(theta));
    let mut encoder = gpu.encoder();
    let mut losses = Vec::new();
    for block in &d.x.blocks {
        let groups = block.rows.div_ceil(256).max(1);
        let params = gpu.params([block.rows as u32, cols as u32, blocks as u32, block.row0 as u32, 0, 0, 0, 0]);
        let loss = gpu.output("loss partials", groups);
        gpu.dispatch(
            &mut encoder,
            &pipeline,
            &[&params, &block.buffer, &d.y, &theta_buffer, &d.resid, &d.weight, &loss],
            gpu.spread(groups),
        );
        losses.push((loss, groups));
    }
    let sources: Vec<(&wgpu::Buffer, usize)> = losses.iter().map(|(b, n)| (b, *n)).collect();
    let loss: f64 = gpu.read::<f32>(encoder, &sources)?.iter().flatten().map(|&v| f64::from(v)).sum();
    // X̃ᵀ R is p1 × blocks; the coefficient layout is blocks × p1.
    let xr = crossprod::on_gpu(gpu, &d.x, 1, &DeviceB::Rows { buffer: &d.resid, cols: blocks, ones: 0 }, None)?;
    let mut gradient = vec![0.0; dim];
    for j in 0..p1 {
        for k in 0..blocks {
            gradient[k * p1 + j] = xr[j * blocks + k];
        }
    }
    let mut hessian = Vec::new();
    if with_hessian {
        if blocks == 1 {
            hessian = crossprod::on_gpu(gpu, &d.x, 1, &DeviceB::Same, Some(&d.weight))?;
        } else {
            hessian = vec![0.0; dim * dim];
            let pair = gpu.pipeline("pair_weights", PAIR_SHADER, "main")?;
            let rows = data.x.rows;
            for k in 0..blocks {
                for l in 0..=k {
                    let params = gpu.params([rows as u32, blocks as u32, k as u32, l as u32, 0, 0, 0, 0]);
                    let mut encoder = gpu.encoder();
                    gpu.dispatch(
                        &mut encoder,
                        &pair,
                        &[&params, &d.y, &d.resid, &d.weight],
                        gpu.spread(rows.div_ceil(256)),
                    );
                    gpu.submit(encoder);
                    let h = crossprod::on_gpu(gpu, &d.x, 1, &DeviceB::Same, Some(&d.weight))?;
                    for a in 0..p1 {
                        for b in 0..p1 {
                            hessian[(k * p1 + a) * dim + l * p1 + b] = h[a * p1 + b];
                            hessian[(l * p1 + b) * dim + k * p1 + a] = h[a * p1 + b];
                        }
                    }
                }
            }
        }
    }
    Ok(Evaluation { loss, gradient, hessian })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a noisy problem with `cols` features and a class per row.
    fn problem(rows: usize, cols: usize, classes: usize) -> (Vec<f64>, Vec<usize>) {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x: Vec<f64> = (0..rows * cols).map(|_| next()).collect();
        let y = (0..rows).map(|i| ((x[i * cols] + 0.3 * next() + 0.5) * classes as f64) as usize % classes).collect();
        (x, y)
    }

    #[test]
    fn hessian_parts_of_any_batching_sum_to_the_whole_tables_hessian() {
        // Two classes past the sampling threshold (every second row), and three classes.
        for (rows, classes) in [(2 * HESSIAN_ROWS + 7, 2), (5000, 3)] {
            let cols = 3;
            let (x, y) = problem(rows, cols, classes);
            let blocks = if classes == 2 { 1 } else { classes };
            let theta: Vec<f64> = (0..blocks * (cols + 1)).map(|i| 0.1 * i as f64 - 0.2).collect();
            let data = |start: usize, end: usize| LogisticData {
                x: MatrixRef::new(end - start, cols, &x[start * cols..end * cols]),
                y: &y[start..end],
                blocks,
            };
            let whole = LogisticProblem::new(&Backend::Cpu, data(0, rows)).hessian(&theta).expect("cpu");
            for batch in [1001, 65_536, rows] {
                let mut sum = vec![0.0; whole.len()];
                for start in (0..rows).step_by(batch) {
                    let part = hessian_part(data(start, (start + batch).min(rows)), &theta, start, rows);
                    for (s, p) in sum.iter_mut().zip(part) {
                        *s += p;
                    }
                }
                for (a, b) in whole.iter().zip(&sum) {
                    assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "batches of {batch}: {a} vs {b}");
                }
            }
        }
    }
}
