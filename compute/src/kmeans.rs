//! k-means' two halves of a Lloyd iteration: assign every row to its nearest centre, and sum the rows of each
//! cluster. Shaders: `shaders/kmeans_assign.wgsl`, `shaders/kmeans_update.wgsl`.
//!
//! Ties go to the lower centre index on both sides. On the GPU distances are f32, so a row almost exactly
//! between two centres (relative difference below about 1e-6) may be assigned differently from the CPU;
//! sums are f32 per chunk of rows, added in f64.

use rayon::prelude::*;

use crate::gpu::GpuMatrix;
use crate::{Backend, ComputeError, Gpu, MatrixRef};

const ASSIGN_SHADER: &str =
    concat!(include_str!("../shaders/workgroup_sum.wgsl"), include_str!("../shaders/kmeans_assign.wgsl"));
const UPDATE_SHADER: &str = include_str!("../shaders/kmeans_update.wgsl");

/// Every row's nearest centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Centre index per row.
    pub labels: Vec<usize>,
    /// Squared distance to it per row.
    pub distances: Vec<f64>,
    /// Sum of the squared distances.
    pub inertia: f64,
}

/// One Lloyd iteration's results for the given centres.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LloydStep {
    /// Inertia of the given centres.
    pub inertia: f64,
    /// Per cluster, the sum of its rows (`k × cols`).
    pub sums: Vec<f64>,
    /// Rows per cluster.
    pub counts: Vec<usize>,
}

/// One clustering's data, placed where its backend computes (uploaded once on the GPU).
pub struct KMeansProblem<'a> {
    x: MatrixRef<'a>,
    device: Option<(std::sync::Arc<Gpu>, std::sync::Arc<GpuMatrix>, wgpu::Buffer, wgpu::Buffer)>,
}

/// Summed in four interleaved lanes, so the compiler keeps four additions in flight (and in one vector register)
/// instead of waiting on each in turn.
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (a_rest, b_rest) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for q in 0..4 {
            let d = x[q] - y[q];
            lanes[q] += d * d;
        }
    }
    let tail: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| (x - y) * (x - y)).sum();
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

/// The nearest of the `k` centres (`centers` holds `k × row.len()` values) to `row`, and its squared distance;
/// the first of equally near centres.
pub(crate) fn nearest(row: &[f64], centers: &[f64], k: usize) -> (usize, f64) {
    let cols = row.len();
    let mut best = (0, f64::INFINITY);
    for c in 0..k {
        let d = squared_distance(row, &centers[c * cols..(c + 1) * cols]);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}

impl<'a> KMeansProblem<'a> {
    /// Prepares `x` for `backend`.
    pub fn new(backend: &Backend, x: MatrixRef<'a>) -> Self {
        let device = match backend {
            Backend::Cpu => None,
            Backend::Gpu(gpu) => Some((
                gpu.clone(),
                gpu.matrix(x),
                gpu.output("cluster labels", x.rows),
                gpu.output("cluster distances", x.rows),
            )),
        };
        Self { x, device }
    }

    /// The nearest of the `k` centres (`centers` holds `k × cols` values) for every row.
    pub fn assign(&self, centers: &[f64], k: usize) -> Result<Assignment, ComputeError> {
        let Some((gpu, x, labels, distances)) = &self.device else {
            let pairs: Vec<(usize, f64)> =
                (0..self.x.rows).into_par_iter().with_min_len(1024).map(|i| self.nearest(i, centers, k)).collect();
            let inertia = pairs.iter().map(|p| p.1).sum();
            let (labels, distances) = pairs.into_iter().unzip();
            return Ok(Assignment { labels, distances, inertia });
        };
        let (encoder, _) = Self::dispatch_assign(gpu, x, labels, distances, centers, k)?;
        let mut read = gpu.read::<u32>(encoder, &[(labels, self.x.rows), (distances, self.x.rows)])?;
        let distances: Vec<f64> =
            read.pop().unwrap_or_default().into_iter().map(|d| f64::from(f32::from_bits(d))).collect();
        let labels = read.pop().unwrap_or_default().into_iter().map(|l| l as usize).collect();
        let inertia = distances.iter().sum();
        Ok(Assignment { labels, distances, inertia })
    }

    /// Assigns the rows to `centers` and sums each cluster's rows.
    pub fn step(&self, centers: &[f64], k: usize) -> Result<LloydStep, ComputeError> {
        let cols = self.x.cols;
        let Some((gpu, x, labels, distances)) = &self.device else {
            let pass = crate::pass::Lloyd { centers, k, cols };
            return Ok(crate::pass::run(&pass, &crate::pass::row_chunks(self.x, &[], 8192)));
        };
        let (mut encoder, inertia) = Self::dispatch_assign(gpu, x, labels, distances, centers, k)?;
        let update = gpu.pipeline("kmeans_update", UPDATE_SHADER, "main")?;
        let width = cols + 1;
        let mut outputs = Vec::new();
        for block in &x.blocks {
            let chunk = 4096usize;
            let chunks = block.rows.div_ceil(chunk).max(1);
            let params =
                gpu.params([block.rows as u32, cols as u32, k as u32, block.row0 as u32, chunk as u32, 0, 0, 0]);
            let sums = gpu.output("cluster sums", chunks * k * width);
            gpu.dispatch(&mut encoder, &update, &[&params, &block.buffer, labels, &sums], gpu.spread(chunks));
            outputs.push((sums, chunks * k * width));
        }
        let mut sources: Vec<(&wgpu::Buffer, usize)> = outputs.iter().map(|(b, n)| (b, *n)).collect();
        sources.extend(inertia.iter().map(|(b, n)| (b, *n)));
        let read = gpu.read::<f32>(encoder, &sources)?;
        let mut step = LloydStep { inertia: 0.0, sums: vec![0.0; k * cols], counts: vec![0; k] };
        let mut counts = vec![0.0f64; k];
        for part in &read[..outputs.len()] {
            for chunk in part.chunks(k * width) {
                for c in 0..k {
                    for j in 0..cols {
                        step.sums[c * cols + j] += f64::from(chunk[c * width + j]);
                    }
                    counts[c] += f64::from(chunk[c * width + cols]);
                }
            }
        }
        step.counts = counts.iter().map(|&n| n.round() as usize).collect();
        step.inertia = read[outputs.len()..].iter().flatten().map(|&v| f64::from(v)).sum();
        Ok(step)
    }

    fn nearest(&self, i: usize, centers: &[f64], k: usize) -> (usize, f64) {
        nearest(self.x.row(i), centers, k)
    }

    fn dispatch_assign(
        gpu: &Gpu,
        x: &GpuMatrix,
        labels: &wgpu::Buffer,
        distances: &wgpu::Buffer,
        centers: &[f64],
        k: usize,
    ) -> Result<(wgpu::CommandEncoder, Vec<(wgpu::Buffer, usize)>), ComputeError> {
        let pipeline = gpu.pipeline("kmeans_assign", ASSIGN_SHADER, "main")?;
        let centers = gpu.storage("centres", &crate::crossprod::to_f32(centers));
        let mut encoder = gpu.encoder();
        let mut inertia = Vec::new();
        for block in &x.blocks {
            let groups = block.rows.div_ceil(256).max(1);
            let params = gpu.params([block.rows as u32, x.cols as u32, k as u32, block.row0 as u32, 0, 0, 0, 0]);
            let partial = gpu.output("inertia partials", groups);
            gpu.dispatch(
                &mut encoder,
                &pipeline,
                &[&params, &block.buffer, &centers, labels, distances, &partial],
                gpu.spread(groups),
            );
            inertia.push((partial, groups));
        }
        Ok((encoder, inertia))
    }
}

/// The nearest of `k` centres for every row of `x`, on `backend`.
pub fn assign(backend: &Backend, x: MatrixRef<'_>, centers: &[f64], k: usize) -> Result<Assignment, ComputeError> {
    KMeansProblem::new(backend, x).assign(centers, k)
}
