//! Dense layers for the neural-network blocks: the forward product `Z = A·W + b` and the backward products
//! `∂W = Aᵀ·Δ`, `∂b = Σ Δ` and `Δ·Wᵀ` (the caller applies activations and their derivatives). Shaders:
//! `shaders/matmul.wgsl` (forward and `Δ·Wᵀ`) and `shaders/crossprod.wgsl` (`Aᵀ·Δ` with a ones column for
//! the biases).
//!
//! GPU products are f32 with f32 sums over the inner dimension (a layer's width, or a batch's rows for the
//! gradients): about 1e-6 relative to the sum of absolute terms.

use crate::crossprod::{self, DeviceB};
use crate::{Backend, ComputeError, MatrixRef};

const SHADER: &str = include_str!("../shaders/matmul.wgsl");

/// Gradients of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseGradients {
    /// `fan_in × fan_out`: `Aᵀ·Δ`.
    pub weights: Vec<f64>,
    /// `fan_out`: the column sums of Δ.
    pub biases: Vec<f64>,
    /// `rows × fan_in`: `Δ·Wᵀ`, the deltas passed to the layer below (when asked for).
    pub inputs: Option<Vec<f64>>,
}

/// `A·W + b` for `a` (`rows × fan_in`), `weights` (`fan_in × fan_out`, row after row) and `biases`.
pub fn dense_forward(
    backend: &Backend,
    a: MatrixRef<'_>,
    weights: &[f64],
    biases: &[f64],
) -> Result<Vec<f64>, ComputeError> {
    let fan_out = biases.len();
    match backend {
        Backend::Cpu => {
            let mut out = vec![0.0; a.rows * fan_out];
            for r in 0..a.rows {
                let o = &mut out[r * fan_out..(r + 1) * fan_out];
                o.copy_from_slice(biases);
                for (i, &v) in a.row(r).iter().enumerate() {
                    if v != 0.0 {
                        for (o, w) in o.iter_mut().zip(&weights[i * fan_out..(i + 1) * fan_out]) {
                            *o += v * w;
                        }
                    }
                }
            }
            Ok(out)
        }
        Backend::Gpu(gpu) => matmul(gpu, a.data, a.rows, a.cols, weights, fan_out, false, Some(biases)),
    }
}

#[allow(clippy::too_many_arguments)]
fn matmul(
    gpu: &crate::Gpu,
    a: &[f64],
    m: usize,
    n: usize,
    b: &[f64],
    c: usize,
    transpose_b: bool,
    bias: Option<&[f64]>,
) -> Result<Vec<f64>, ComputeError> {
    let pipeline = gpu.pipeline("matmul", SHADER, "main")?;
    let a_buffer = gpu.storage("left factor", &crossprod::to_f32(a));
    let b_buffer = gpu.storage("right factor", &crossprod::to_f32(b));
    let bias_buffer = gpu.storage("biases", &crossprod::to_f32(bias.unwrap_or(&[])));
    let out = gpu.output("product", m * c);
    let params = gpu.params([m as u32, n as u32, c as u32, u32::from(transpose_b), u32::from(bias.is_some()), 0, 0, 0]);
    let mut encoder = gpu.encoder();
    gpu.dispatch(
        &mut encoder,
        &pipeline,
        &[&params, &a_buffer, &b_buffer, &bias_buffer, &out],
        (c.div_ceil(16) as u32, m.div_ceil(16) as u32),
    );
    let values = gpu.read::<f32>(encoder, &[(&out, m * c)])?;
    Ok(values.into_iter().flatten().map(f64::from).collect())
}

/// The gradients of a layer with inputs `a` (`rows × fan_in`), output deltas `deltas` (`rows × fan_out`)
/// and `weights` (`fan_in × fan_out`); `Δ·Wᵀ` only when `with_inputs`.
pub fn dense_backward(
    backend: &Backend,
    a: MatrixRef<'_>,
    deltas: &[f64],
    weights: &[f64],
    with_inputs: bool,
) -> Result<DenseGradients, ComputeError> {
    let (rows, fan_in) = (a.rows, a.cols);
    let fan_out = deltas.len().checked_div(rows).unwrap_or_else(|| weights.len() / fan_in.max(1));
    match backend {
        Backend::Cpu => {
            let mut gw = vec![0.0; fan_in * fan_out];
            let mut gb = vec![0.0; fan_out];
            for k in 0..rows {
                let delta = &deltas[k * fan_out..(k + 1) * fan_out];
                for (i, &v) in a.row(k).iter().enumerate() {
                    if v != 0.0 {
                        for (g, d) in gw[i * fan_out..(i + 1) * fan_out].iter_mut().zip(delta) {
                            *g += v * d;
                        }
                    }
                }
                for (g, d) in gb.iter_mut().zip(delta) {
                    *g += d;
                }
            }
            let inputs = with_inputs.then(|| {
                let mut previous = vec![0.0; rows * fan_in];
                for k in 0..rows {
                    let delta = &deltas[k * fan_out..(k + 1) * fan_out];
                    for i in 0..fan_in {
                        let w = &weights[i * fan_out..(i + 1) * fan_out];
                        previous[k * fan_in + i] = w.iter().zip(delta).map(|(w, d)| w * d).sum();
                    }
                }
                previous
            });
            Ok(DenseGradients { weights: gw, biases: gb, inputs })
        }
        Backend::Gpu(gpu) => {
            let block = gpu.upload_matrix(a);
            let d = gpu.storage("deltas", &crossprod::to_f32(deltas));
            // (fan_in + 1) × fan_out: the last row (the ones column) holds the bias gradients.
            let both = crossprod::on_gpu(gpu, &block, 1, &DeviceB::Rows { buffer: &d, cols: fan_out, ones: 0 }, None)?;
            let (gw, gb) = both.split_at(fan_in * fan_out);
            let inputs =
                if with_inputs { Some(matmul(gpu, deltas, rows, fan_out, weights, fan_in, true, None)?) } else { None };
            Ok(DenseGradients { weights: gw.to_vec(), biases: gb.to_vec(), inputs })
        }
    }
}
