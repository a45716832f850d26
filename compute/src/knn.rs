//! Pairwise distances with top-k: the `k` training rows nearest to each query row, for the k-nearest-
//! neighbours blocks. Shader: `shaders/knn.wgsl`.
//!
//! The GPU scans in f32 and returns the indices of the k nearest; their distances are then recomputed in
//! f64 and sorted by (distance, training row), as on the CPU. Only rows whose f32 distances tie with the
//! k-th neighbour's to about 1e-6 relative can make the two sides pick a different k-th neighbour. More than
//! 64 neighbours, or training data larger than one binding, compute on the CPU.

use rayon::prelude::*;

use crate::{Backend, ComputeError, MatrixRef};

const SHADER: &str = include_str!("../shaders/knn.wgsl");

/// Neighbours the device keeps at most (the shader's private list).
const MAX_DEVICE_K: usize = 64;

/// How distances are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// √Σ(a−b)².
    Euclidean,
    /// Σ|a−b|.
    Manhattan,
}

impl Metric {
    /// The distance between two rows.
    pub fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            Self::Euclidean => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt(),
            Self::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
        }
    }
}

fn by_distance_then_row(a: &(f64, usize), b: &(f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The `k` training rows nearest to `row`, nearest first, as `(distance, training row)`; ties go to the
/// earlier training row.
pub fn nearest_cpu(train: MatrixRef<'_>, row: &[f64], k: usize, metric: Metric) -> Vec<(f64, usize)> {
    let mut all: Vec<(f64, usize)> = (0..train.rows).map(|i| (metric.distance(train.row(i), row), i)).collect();
    let k = k.min(all.len());
    if k < all.len() && k > 0 {
        all.select_nth_unstable_by(k - 1, by_distance_then_row);
        all.truncate(k);
    }
    all.sort_unstable_by(by_distance_then_row);
    all
}

/// For every query row, its `k` nearest training rows (see [`nearest_cpu`]).
pub fn nearest_neighbours(
    backend: &Backend,
    train: MatrixRef<'_>,
    queries: MatrixRef<'_>,
    k: usize,
    metric: Metric,
) -> Result<Vec<Vec<(f64, usize)>>, ComputeError> {
    let k = k.min(train.rows);
    match backend {
        Backend::Gpu(gpu) if k > 0 && k <= MAX_DEVICE_K && queries.rows > 0 && train.rows > 0 => {
            let t = gpu.matrix(train);
            if t.blocks.len() > 1 {
                // The shader scans one training block.
                return nearest_neighbours(&Backend::Cpu, train, queries, k, metric);
            }
            let pipeline = gpu.pipeline("knn", SHADER, "main")?;
            let q = gpu.matrix(queries);
            let mut encoder = gpu.encoder();
            let mut outputs = Vec::new();
            for block in &q.blocks {
                let params = gpu.params([
                    block.rows as u32,
                    train.rows as u32,
                    train.cols as u32,
                    k as u32,
                    u32::from(metric == Metric::Manhattan),
                    0,
                    0,
                    0,
                ]);
                let index = gpu.output("neighbour rows", block.rows * k);
                let distance = gpu.output("neighbour distances", block.rows * k);
                gpu.dispatch(
                    &mut encoder,
                    &pipeline,
                    &[&params, &block.buffer, &t.blocks[0].buffer, &index, &distance],
                    gpu.spread(block.rows.div_ceil(64)),
                );
                outputs.push((index, distance, block.rows * k));
            }
            let sources: Vec<(&wgpu::Buffer, usize)> = outputs.iter().map(|(i, _, n)| (i, *n)).collect();
            let read = gpu.read::<u32>(encoder, &sources)?;
            let indices: Vec<u32> = read.into_iter().flatten().collect();
            Ok(indices
                .par_chunks(k)
                .enumerate()
                .map(|(qi, rows)| {
                    let query = queries.row(qi);
                    let mut found: Vec<(f64, usize)> =
                        rows.iter().map(|&i| (metric.distance(train.row(i as usize), query), i as usize)).collect();
                    found.sort_unstable_by(by_distance_then_row);
                    found
                })
                .collect())
        }
        _ => Ok((0..queries.rows).into_par_iter().map(|qi| nearest_cpu(train, queries.row(qi), k, metric)).collect()),
    }
}
