//! Cross products over rows, `Ãᵀ · diag(w) · B̃`: the Gram matrix `XᵀX` and `Xᵀy` of linear and ridge
//! regression, the weighted Gram `Xᵀ diag(p(1 − p)) X` of a logistic Newton step, the gradient `Xᵀr`, and a
//! dense layer's weight gradient. `Ã` is a feature block with optional trailing columns of ones (the
//! intercept). Shader: `shaders/crossprod.wgsl`.
//!
//! GPU sums run in f32 over chunks of at most 8,192 rows and are added in f64 on the host: relative errors
//! stay near 1e-6 of the sum of absolute terms.

use rayon::prelude::*;

use crate::gpu::GpuMatrix;
use crate::{Backend, ComputeError, Gpu, MatrixRef};

const SHADER: &str = include_str!("../shaders/crossprod.wgsl");

/// The right-hand factor.
#[derive(Debug, Clone, Copy)]
pub enum CrossB<'a> {
    /// The left block itself (with its ones): a Gram matrix; only the upper triangle is summed on the CPU.
    Same,
    /// Another row-aligned matrix, `cols` values per row of the left block.
    Rows {
        /// Values, row after row.
        data: &'a [f64],
        /// Columns.
        cols: usize,
    },
}

/// `Ãᵀ · diag(w) · B̃`, an `(a.cols + a_ones) × (b cols + b_ones)` matrix, row after row. With
/// [`CrossB::Same`], `b_ones` is ignored (B̃ = Ã).
pub fn crossprod(
    backend: &Backend,
    a: MatrixRef<'_>,
    a_ones: usize,
    b: CrossB<'_>,
    b_ones: usize,
    w: Option<&[f64]>,
) -> Result<Vec<f64>, ComputeError> {
    match backend {
        Backend::Cpu => Ok(cpu(a, a_ones, b, b_ones, w)),
        Backend::Gpu(gpu) => {
            let matrix = gpu.matrix(a);
            let weights = w.map(|w| gpu.storage("weights", &to_f32(w)));
            let (b_buffer, b_cols);
            let right = match b {
                CrossB::Same => DeviceB::Same,
                CrossB::Rows { data, cols } => {
                    b_buffer = gpu.storage("right factor", &to_f32(data));
                    b_cols = cols;
                    DeviceB::Rows { buffer: &b_buffer, cols: b_cols, ones: b_ones }
                }
            };
            on_gpu(gpu, &matrix, a_ones, &right, weights.as_ref())
        }
    }
}

/// The Gram matrix `ÃᵀÃ` (weighted by `w` when given), with a trailing ones column when `intercept`.
pub fn gram(backend: &Backend, a: MatrixRef<'_>, intercept: bool, w: Option<&[f64]>) -> Result<Vec<f64>, ComputeError> {
    crossprod(backend, a, usize::from(intercept), CrossB::Same, 0, w)
}

pub(crate) fn to_f32(values: &[f64]) -> Vec<f32> {
    values.iter().map(|&v| v as f32).collect()
}

/// The right-hand factor, on the device.
pub(crate) enum DeviceB<'a> {
    Same,
    Rows { buffer: &'a wgpu::Buffer, cols: usize, ones: usize },
}

/// Chunks of rows per workgroup: as many as the dispatch allows, at most 8,192 rows each.
fn chunk_rows(gpu: &Gpu, rows: usize) -> usize {
    let limit = gpu.info.max_workgroups_per_dimension.max(1) as usize;
    rows.div_ceil(limit).max(8192.min(rows.max(1)))
}

pub(crate) fn on_gpu(
    gpu: &Gpu,
    a: &GpuMatrix,
    a_ones: usize,
    b: &DeviceB<'_>,
    w: Option<&wgpu::Buffer>,
) -> Result<Vec<f64>, ComputeError> {
    let a_cols = a.cols + a_ones;
    let (b_cols, b_ld, same) = match b {
        DeviceB::Same => (a_cols, a.cols, true),
        DeviceB::Rows { cols, ones, .. } => (cols + ones, *cols, false),
    };
    let pipeline = gpu.pipeline("crossprod", SHADER, "main")?;
    let tiles_a = a_cols.div_ceil(16);
    let tiles_b = b_cols.div_ceil(16);
    let dummy = gpu.output("unused", 1);
    let mut encoder = gpu.encoder();
    let mut outputs = Vec::new();
    for block in &a.blocks {
        let chunk = chunk_rows(gpu, block.rows);
        let chunks = block.rows.div_ceil(chunk).max(1);
        let flags = u32::from(same) | (u32::from(w.is_some()) << 1);
        let params = gpu.params([
            block.rows as u32,
            a_cols as u32,
            a.cols as u32,
            b_cols as u32,
            b_ld as u32,
            chunk as u32,
            flags,
            tiles_b as u32,
            block.row0 as u32,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        let out = gpu.output("cross partials", chunks * a_cols * b_cols);
        let right = match b {
            DeviceB::Same => &block.buffer,
            DeviceB::Rows { buffer, .. } => *buffer,
        };
        gpu.dispatch(
            &mut encoder,
            &pipeline,
            &[&params, &block.buffer, right, w.unwrap_or(&dummy), &out],
            ((tiles_a * tiles_b) as u32, chunks as u32),
        );
        outputs.push((out, chunks * a_cols * b_cols));
    }
    let sources: Vec<(&wgpu::Buffer, usize)> = outputs.iter().map(|(b, n)| (b, *n)).collect();
    let partials = gpu.read::<f32>(encoder, &sources)?;
    let size = a_cols * b_cols;
    let mut total = vec![0.0f64; size];
    for values in &partials {
        for part in values.chunks(size) {
            total.iter_mut().zip(part).for_each(|(t, v)| *t += f64::from(*v));
        }
    }
    Ok(total)
}

/// The CPU twin: chunks of rows in parallel, four rows per pass over the accumulator.
pub(crate) fn cpu(a: MatrixRef<'_>, a_ones: usize, b: CrossB<'_>, b_ones: usize, w: Option<&[f64]>) -> Vec<f64> {
    cpu_rows(a, a_ones, b, b_ones, w, 1)
}

/// The Gram matrix `ÃᵀWÃ` over every `stride`-th row only (rows 0, stride, 2·stride, …), on the CPU.
pub(crate) fn gram_every(a: MatrixRef<'_>, intercept: bool, w: &[f64], stride: usize) -> Vec<f64> {
    cpu_rows(a, usize::from(intercept), CrossB::Same, 0, Some(w), stride.max(1))
}

/// The CPU twin over the rows `0, stride, 2·stride, …`.
fn cpu_rows(
    a: MatrixRef<'_>,
    a_ones: usize,
    b: CrossB<'_>,
    b_ones: usize,
    w: Option<&[f64]>,
    stride: usize,
) -> Vec<f64> {
    let pa = a.cols + a_ones;
    let rows = a.rows.div_ceil(stride);
    let (pb, symmetric) = match b {
        CrossB::Same => (pa, true),
        CrossB::Rows { cols, .. } => (cols + b_ones, false),
    };
    let widen = |row: &[f64], ones: usize, scale: f64, out: &mut Vec<f64>| {
        out.clear();
        out.extend(row.iter().map(|v| v * scale));
        out.extend(std::iter::repeat_n(scale, ones));
    };
    let chunk = 4096;
    let partial = |start: usize| {
        let end = (start + chunk).min(rows);
        let mut acc = vec![0.0f64; pa * pb];
        let mut xa: [Vec<f64>; 4] = Default::default();
        let mut xb: [Vec<f64>; 4] = Default::default();
        let mut r = start;
        while r < end {
            let take = (end - r).min(4);
            for q in 0..4 {
                if q < take {
                    let i = (r + q) * stride;
                    let wi = w.map_or(1.0, |w| w[i]);
                    widen(a.row(i), a_ones, wi, &mut xa[q]);
                    match b {
                        CrossB::Same => widen(a.row(i), a_ones, 1.0, &mut xb[q]),
                        CrossB::Rows { data, cols } => widen(&data[i * cols..(i + 1) * cols], b_ones, 1.0, &mut xb[q]),
                    }
                } else {
                    xa[q].clear();
                    xa[q].resize(pa, 0.0);
                    xb[q].clear();
                    xb[q].resize(pb, 0.0);
                }
            }
            for i in 0..pa {
                let (a0, a1, a2, a3) = (xa[0][i], xa[1][i], xa[2][i], xa[3][i]);
                let from = if symmetric { i } else { 0 };
                let row = &mut acc[i * pb + from..(i + 1) * pb];
                let (b0, b1, b2, b3) = (&xb[0][from..], &xb[1][from..], &xb[2][from..], &xb[3][from..]);
                for (j, o) in row.iter_mut().enumerate() {
                    *o += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
                }
            }
            r += take;
        }
        acc
    };
    let mut total = (0..rows.div_ceil(chunk))
        .into_par_iter()
        .map(|c| partial(c * chunk))
        .reduce_with(|mut x, y| {
            x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
            x
        })
        .unwrap_or_else(|| vec![0.0; pa * pb]);
    if symmetric {
        for i in 0..pa {
            for j in 0..i {
                total[i * pb + j] = total[j * pb + i];
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_gram_and_cross_product_match_hand_computed_values() {
        // Rows (1, 2), (3, 4), (5, 6) with an intercept column.
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let x = MatrixRef::new(3, 2, &data);
        let g = gram(&Backend::Cpu, x, true, None).expect("cpu");
        assert_eq!(g, vec![35.0, 44.0, 9.0, 44.0, 56.0, 12.0, 9.0, 12.0, 3.0]);
        let w = [1.0, 0.0, 2.0];
        let g = gram(&Backend::Cpu, x, false, Some(&w)).expect("cpu");
        assert_eq!(g, vec![51.0, 62.0, 62.0, 76.0]);
        let y = [1.0, -1.0, 2.0];
        let xy = crossprod(&Backend::Cpu, x, 1, CrossB::Rows { data: &y, cols: 1 }, 0, None).expect("cpu");
        assert_eq!(xy, vec![8.0, 10.0, 2.0]);
        // Every second row: (1, 2) and (5, 6).
        assert_eq!(gram_every(x, false, &[1.0, 1.0, 1.0], 2), vec![26.0, 32.0, 32.0, 40.0]);
    }
}
