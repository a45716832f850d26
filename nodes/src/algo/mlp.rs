//! A multilayer perceptron trained with Adam on mini-batches, written to follow scikit-learn's
//! `MLPClassifier` / `MLPRegressor` step for step: Glorot-uniform initialisation (bound `√(6 / (fan_in +
//! fan_out))`, `√(2 / …)` for the logistic activation), one logistic output for two classes, softmax for more,
//! identity output with half squared error for regression, an L2 penalty `alpha / 2 · ‖W‖² / batch` on the
//! weights (not the biases), bias-corrected Adam steps, rows shuffled every epoch, and a stop once the
//! epoch's training loss has failed to improve by `tolerance` for more than `epochs_without_improvement`
//! epochs. The random numbers come from [`SplitMix64`], so weights differ from scikit-learn's for the same
//! seed; accuracy and R² agree on average over seeds (`nodes/tests/learners_extra.rs`).

use serde::{Deserialize, Serialize};

use pipewright_compute::{Backend, ComputeError, MatrixRef, dense_backward, dense_forward};
use pipewright_engine::rng::SplitMix64;

use crate::frame::Matrix;

/// The non-linearity of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, z).
    Relu,
    /// tanh z.
    Tanh,
    /// 1 / (1 + e^(−z)).
    Logistic,
}

impl Activation {
    fn apply(self, z: &mut [f64]) {
        for v in z {
            *v = match self {
                Self::Relu => v.max(0.0),
                Self::Tanh => v.tanh(),
                Self::Logistic => logistic(*v),
            };
        }
    }

    /// The derivative expressed through the activation's output `a`.
    fn derivative(self, a: f64) -> f64 {
        match self {
            Self::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Tanh => 1.0 - a * a,
            Self::Logistic => a * (1.0 - a),
        }
    }
}

fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The output layer and its loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// One logistic unit, binary log-loss (two classes).
    Logistic,
    /// One unit per class, softmax, log-loss.
    Softmax,
    /// One linear unit, half squared error.
    Identity,
}

/// Training settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSettings {
    /// Units of each hidden layer, input side first.
    pub hidden: Vec<usize>,
    /// Hidden-layer activation.
    pub activation: Activation,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Adam's decay of the first moment.
    pub beta1: f64,
    /// Adam's decay of the second moment.
    pub beta2: f64,
    /// Adam's guard against division by zero.
    pub epsilon: f64,
    /// L2 penalty on the weights.
    pub alpha: f64,
    /// Rows per mini-batch; `None` means min(200, rows).
    pub batch_size: Option<usize>,
    /// Most passes over the data.
    pub max_epochs: usize,
    /// Least loss decrease that counts as an improvement.
    pub tolerance: f64,
    /// Epochs without improvement tolerated before stopping.
    pub epochs_without_improvement: usize,
    /// Seed of the initial weights and of the shuffles.
    pub seed: u64,
}

/// What the network learns.
#[derive(Debug, Clone, Copy)]
pub enum MlpTarget<'a> {
    /// Class indices in `0..classes` (at least two classes).
    Classes {
        /// Per-row class.
        y: &'a [usize],
        /// Number of classes.
        classes: usize,
    },
    /// Numbers.
    Values(&'a [f64]),
}

/// One dense layer: `weights` is `fan_in × fan_out`, row after row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Inputs.
    pub fan_in: usize,
    /// Outputs.
    pub fan_out: usize,
    /// Weights, `fan_in` rows of `fan_out`.
    pub weights: Vec<f64>,
    /// Biases, one per output.
    pub biases: Vec<f64>,
}

impl Layer {
    /// `out = a · W + b` for `rows` rows of `a`, on `backend`.
    fn forward(&self, a: &[f64], rows: usize, out: &mut Vec<f64>, backend: &Backend) -> Result<(), ComputeError> {
        *out = dense_forward(backend, MatrixRef::new(rows, self.fan_in, a), &self.weights, &self.biases)?;
        Ok(())
    }
}

/// A fitted network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    /// Layers, input side first; the last is the output layer.
    pub layers: Vec<Layer>,
    /// Hidden activation.
    pub activation: Activation,
    /// Output layer.
    pub output: Output,
    /// Epochs run.
    pub epochs: usize,
    /// Training loss of each epoch (penalty included).
    pub loss_curve: Vec<f64>,
}

impl Mlp {
    /// Output-layer values for `rows` rows of `x` (row after row): probabilities of the positive class
    /// (logistic), of every class (softmax), or the predicted number (identity).
    fn forward_all(
        &self,
        x: &[f64],
        rows: usize,
        activations: &mut Vec<Vec<f64>>,
        backend: &Backend,
    ) -> Result<(), ComputeError> {
        activations.resize(self.layers.len() + 1, Vec::new());
        activations[0].clear();
        activations[0].extend_from_slice(x);
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, after) = activations.split_at_mut(l + 1);
            layer.forward(&before[l], rows, &mut after[0], backend)?;
            if l + 1 < self.layers.len() {
                self.activation.apply(&mut after[0]);
            } else {
                finish_output(self.output, &mut after[0], layer.fan_out);
            }
        }
        Ok(())
    }

    /// The widest layer, inputs included: the work of one row.
    pub fn widest(&self) -> usize {
        self.layers.iter().map(|l| l.fan_in.max(l.fan_out)).max().unwrap_or(1)
    }

    /// Class probabilities of every row of `x` (`classes` per row), on `backend`.
    pub fn probabilities(&self, x: &Matrix, classes: usize, backend: &Backend) -> Result<Matrix, ComputeError> {
        let out = self.outputs(x, backend)?;
        if self.output != Output::Logistic {
            return Ok(Matrix { rows: x.rows, cols: classes, data: out });
        }
        let mut p = Matrix::zeros(x.rows, 2);
        for (i, v) in out.iter().enumerate() {
            p.row_mut(i).copy_from_slice(&[1.0 - v, *v]);
        }
        Ok(p)
    }

    /// Output-layer values of every row of `x` (see [`Mlp::forward_all`]), on `backend`, in batches of
    /// rows so that activations stay small.
    pub fn outputs(&self, x: &Matrix, backend: &Backend) -> Result<Vec<f64>, ComputeError> {
        let width = self.layers.last().map_or(1, |l| l.fan_out);
        let mut out = Vec::with_capacity(x.rows * width);
        let mut activations = Vec::new();
        let batch = 65_536;
        for start in (0..x.rows).step_by(batch) {
            let rows = batch.min(x.rows - start);
            self.forward_all(&x.data[start * x.cols..(start + rows) * x.cols], rows, &mut activations, backend)?;
            out.extend_from_slice(&activations[self.layers.len()]);
        }
        Ok(out)
    }

    /// Class probabilities (two classes or more) of one row; `out` has one entry per class.
    pub fn probabilities_row(&self, row: &[f64], out: &mut [f64]) {
        let mut activations = Vec::new();
        // The CPU never fails.
        let _ = self.forward_all(row, 1, &mut activations, &Backend::Cpu);
        let last = &activations[self.layers.len()];
        if self.output == Output::Logistic {
            out[0] = 1.0 - last[0];
            out[1] = last[0];
        } else {
            out.copy_from_slice(&last[..out.len()]);
        }
    }

    /// The predicted number of one row (regression).
    pub fn value_row(&self, row: &[f64]) -> f64 {
        let mut activations = Vec::new();
        // The CPU never fails.
        let _ = self.forward_all(row, 1, &mut activations, &Backend::Cpu);
        activations[self.layers.len()][0]
    }
}

fn finish_output(output: Output, z: &mut [f64], width: usize) {
    match output {
        Output::Identity => {}
        Output::Logistic => {
            for v in z.iter_mut() {
                *v = logistic(*v);
            }
        }
        Output::Softmax => {
            for row in z.chunks_mut(width) {
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for v in row.iter_mut() {
                    *v = (*v - max).exp();
                    total += *v;
                }
                for v in row.iter_mut() {
                    *v /= total;
                }
            }
        }
    }
}

/// Glorot-uniform initial weights and biases, as scikit-learn draws them (other random numbers).
fn initial_layers(sizes: &[usize], activation: Activation, rng: &mut SplitMix64) -> Vec<Layer> {
    let factor = if activation == Activation::Logistic { 2.0 } else { 6.0 };
    sizes
        .windows(2)
        .map(|w| {
            let (fan_in, fan_out) = (w[0], w[1]);
            let bound = (factor / (fan_in + fan_out) as f64).sqrt();
            let mut draw = || (2.0 * rng.next_f64() - 1.0) * bound;
            let weights = (0..fan_in * fan_out).map(|_| draw()).collect();
            let biases = (0..fan_out).map(|_| draw()).collect();
            Layer { fan_in, fan_out, weights, biases }
        })
        .collect()
}

/// Adam's moment estimates for every parameter, in layer order (weights, then biases).
struct Adam {
    first: Vec<f64>,
    second: Vec<f64>,
    steps: i32,
}

/// Trains a network; `keep_going` is asked with the epoch number before each epoch and stops the fit
/// (returning `None`) when it says no.
pub fn fit(
    x: &Matrix,
    target: MlpTarget<'_>,
    settings: &MlpSettings,
    backend: &Backend,
    keep_going: &dyn Fn(usize) -> bool,
) -> Result<Option<Mlp>, ComputeError> {
    let (outputs, output) = match target {
        MlpTarget::Classes { classes, .. } if classes <= 2 => (1, Output::Logistic),
        MlpTarget::Classes { classes, .. } => (classes, Output::Softmax),
        MlpTarget::Values(_) => (1, Output::Identity),
    };
    let mut sizes = vec![x.cols];
    sizes.extend(&settings.hidden);
    sizes.push(outputs);
    let mut rng = SplitMix64::new(settings.seed);
    let mut mlp = Mlp {
        layers: initial_layers(&sizes, settings.activation, &mut rng),
        activation: settings.activation,
        output,
        epochs: 0,
        loss_curve: Vec::new(),
    };
    // The target as the output layer sees it, one row of `outputs` per row.
    let truth: Vec<f64> = match target {
        MlpTarget::Classes { y, .. } if outputs == 1 => y.iter().map(|&c| if c == 1 { 1.0 } else { 0.0 }).collect(),
        MlpTarget::Classes { y, classes } => {
            y.iter().flat_map(|&c| (0..classes).map(move |k| if k == c { 1.0 } else { 0.0 })).collect()
        }
        MlpTarget::Values(y) => y.to_vec(),
    };
    let n = x.rows;
    let batch = settings.batch_size.unwrap_or(200).clamp(1, n.max(1));
    let parameters: usize = mlp.layers.iter().map(|l| l.weights.len() + l.biases.len()).sum();
    let mut adam = Adam { first: vec![0.0; parameters], second: vec![0.0; parameters], steps: 0 };
    let mut order: Vec<usize> = (0..n).collect();
    let mut best_loss = f64::INFINITY;
    let mut without_improvement = 0;
    let mut work = Work::default();
    for epoch in 0..settings.max_epochs {
        if !keep_going(epoch) {
            return Ok(None);
        }
        rng.shuffle(&mut order);
        let mut accumulated = 0.0;
        for rows in order.chunks(batch) {
            let loss = step(&mut mlp, x, &truth, rows, settings, &mut adam, &mut work, backend)?;
            accumulated += loss * rows.len() as f64;
        }
        let loss = accumulated / n.max(1) as f64;
        mlp.loss_curve.push(loss);
        mlp.epochs = epoch + 1;
        if !loss.is_finite() {
            break;
        }
        if loss > best_loss - settings.tolerance {
            without_improvement += 1;
        } else {
            without_improvement = 0;
        }
        best_loss = best_loss.min(loss);
        if without_improvement > settings.epochs_without_improvement {
            break;
        }
    }
    Ok(Some(mlp))
}

/// Buffers reused by every mini-batch.
#[derive(Default)]
struct Work {
    inputs: Vec<f64>,
    activations: Vec<Vec<f64>>,
    deltas: Vec<f64>,
    gradient: Vec<f64>,
}

/// One Adam step on the rows `rows`; returns the batch loss (penalty included).
#[allow(clippy::too_many_arguments)]
fn step(
    mlp: &mut Mlp,
    x: &Matrix,
    truth: &[f64],
    rows: &[usize],
    s: &MlpSettings,
    adam: &mut Adam,
    work: &mut Work,
    backend: &Backend,
) -> Result<f64, ComputeError> {
    let b = rows.len();
    let outputs = mlp.layers.last().map_or(1, |l| l.fan_out);
    work.inputs.clear();
    for &r in rows {
        work.inputs.extend_from_slice(x.row(r));
    }
    let inputs = std::mem::take(&mut work.inputs);
    let forward = mlp.forward_all(&inputs, b, &mut work.activations, backend);
    work.inputs = inputs;
    forward?;
    let depth = mlp.layers.len();
    let predicted = &work.activations[depth];

    // Loss and the output deltas (prediction − truth for all three output/loss pairs).
    let mut loss = 0.0;
    work.deltas.clear();
    for (k, &r) in rows.iter().enumerate() {
        for j in 0..outputs {
            let (p, t) = (predicted[k * outputs + j], truth[r * outputs + j]);
            work.deltas.push(p - t);
            loss += match mlp.output {
                Output::Identity => 0.5 * (p - t) * (p - t),
                Output::Softmax => {
                    if t > 0.0 {
                        -t * p.clamp(f64::EPSILON, 1.0).ln()
                    } else {
                        0.0
                    }
                }
                Output::Logistic => {
                    let p = p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                }
            };
        }
    }
    let squared_weights: f64 = mlp.layers.iter().flat_map(|l| &l.weights).map(|w| w * w).sum();
    loss = loss / b as f64 + 0.5 * s.alpha * squared_weights / b as f64;

    // Backpropagation: gradients of every layer, output side first, written in parameter order.
    let mut gradient = std::mem::take(&mut work.gradient);
    gradient.clear();
    gradient.resize(adam.first.len(), 0.0);
    let mut offsets = Vec::with_capacity(depth);
    let mut at = 0;
    for layer in &mlp.layers {
        offsets.push(at);
        at += layer.weights.len() + layer.biases.len();
    }
    for l in (0..depth).rev() {
        let layer = &mlp.layers[l];
        let a = &work.activations[l];
        let (fan_in, fan_out) = (layer.fan_in, layer.fan_out);
        let layer_gradients =
            dense_backward(backend, MatrixRef::new(b, fan_in, a), &work.deltas, &layer.weights, l > 0)?;
        let (gw, gb) = gradient[offsets[l]..offsets[l] + fan_in * fan_out + fan_out].split_at_mut(fan_in * fan_out);
        for ((g, d), w) in gw.iter_mut().zip(&layer_gradients.weights).zip(&layer.weights) {
            *g = (d + s.alpha * w) / b as f64;
        }
        for (g, d) in gb.iter_mut().zip(&layer_gradients.biases) {
            *g = d / b as f64;
        }
        if let Some(mut previous) = layer_gradients.inputs {
            // δ_{l−1} = δ_l · Wᵀ ⊙ f′(a_l)
            for (p, &av) in previous.iter_mut().zip(a) {
                *p *= mlp.activation.derivative(av);
            }
            work.deltas = previous;
        }
    }

    // Adam.
    adam.steps += 1;
    let t = adam.steps;
    let rate = s.learning_rate * (1.0 - s.beta2.powi(t)).sqrt() / (1.0 - s.beta1.powi(t));
    let mut p = 0;
    for layer in &mut mlp.layers {
        for value in layer.weights.iter_mut().chain(layer.biases.iter_mut()) {
            let g = gradient[p];
            adam.first[p] = s.beta1 * adam.first[p] + (1.0 - s.beta1) * g;
            adam.second[p] = s.beta2 * adam.second[p] + (1.0 - s.beta2) * g * g;
            *value -= rate * adam.first[p] / (adam.second[p].sqrt() + s.epsilon);
            p += 1;
        }
    }
    work.gradient = gradient;
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hidden: Vec<usize>) -> MlpSettings {
        MlpSettings {
            hidden,
            activation: Activation::Relu,
            learning_rate: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            alpha: 1e-4,
            batch_size: None,
            max_epochs: 2000,
            tolerance: 1e-6,
            epochs_without_improvement: 10,
            seed: 3,
        }
    }

    #[test]
    fn glorot_bounds_follow_fan_in_and_out() {
        let layers = initial_layers(&[4, 6, 2], Activation::Relu, &mut SplitMix64::new(1));
        let bound = (6.0_f64 / 10.0).sqrt();
        assert!(layers[0].weights.iter().all(|w| w.abs() <= bound));
        assert!(layers[0].weights.iter().any(|w| w.abs() > 0.5 * bound), "draws fill the range");
        let bound = (2.0_f64 / 10.0).sqrt();
        let layers = initial_layers(&[4, 6, 2], Activation::Logistic, &mut SplitMix64::new(1));
        assert!(layers[0].weights.iter().all(|w| w.abs() <= bound));
    }

    #[test]
    fn learns_xor_which_no_linear_model_can() {
        let x = Matrix { rows: 4, cols: 2, data: vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0] };
        let y = [0, 1, 1, 0];
        let mlp = fit(&x, MlpTarget::Classes { y: &y, classes: 2 }, &settings(vec![8]), &Backend::Cpu, &|_| true)
            .expect("cpu")
            .expect("fits");
        let mut p = [0.0; 2];
        for (i, &c) in y.iter().enumerate() {
            mlp.probabilities_row(x.row(i), &mut p);
            assert!(p[c] > 0.9, "row {i}: {p:?}");
        }
        assert!(mlp.loss_curve.last().expect("epochs") < &mlp.loss_curve[0]);
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let x = Matrix { rows: 3, cols: 2, data: vec![0.5, -1.0, 1.5, 0.2, -0.3, 0.8] };
        let truth = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let s = MlpSettings { activation: Activation::Tanh, alpha: 0.3, ..settings(vec![4]) };
        let mut mlp = Mlp {
            layers: initial_layers(&[2, 4, 3], Activation::Tanh, &mut SplitMix64::new(5)),
            activation: Activation::Tanh,
            output: Output::Softmax,
            epochs: 0,
            loss_curve: Vec::new(),
        };
        let loss_at = |mlp: &Mlp| {
            let mut copy = mlp.clone();
            let mut adam = Adam { first: vec![0.0; 27], second: vec![0.0; 27], steps: 0 };
            step(
                &mut copy,
                &x,
                &truth,
                &[0, 1, 2],
                &MlpSettings { learning_rate: 0.0, ..s.clone() },
                &mut adam,
                &mut Work::default(),
                &Backend::Cpu,
            )
            .expect("cpu")
        };
        let mut adam = Adam { first: vec![0.0; 27], second: vec![0.0; 27], steps: 0 };
        let mut work = Work::default();
        let before = mlp.clone();
        let zero = MlpSettings { learning_rate: 0.0, ..s.clone() };
        step(&mut mlp, &x, &truth, &[0, 1, 2], &zero, &mut adam, &mut work, &Backend::Cpu).expect("cpu");
        // With a zero step Adam leaves the weights alone and its first moment is 0.1 × the gradient.
        for (p, analytic) in [(0usize, adam.first[0] * 10.0), (9, adam.first[9] * 10.0), (14, adam.first[14] * 10.0)] {
            let h = 1e-6;
            let mut plus = before.clone();
            let mut minus = before.clone();
            let set = |m: &mut Mlp, d: f64| {
                let layer = if p < 12 { &mut m.layers[0] } else { &mut m.layers[1] };
                let q = if p < 12 { p } else { p - 12 };
                if q < layer.weights.len() {
                    layer.weights[q] += d;
                } else {
                    layer.biases[q - layer.weights.len()] += d;
                }
            };
            set(&mut plus, h);
            set(&mut minus, -h);
            let numeric = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
            assert!((numeric - analytic).abs() < 1e-6, "parameter {p}: {numeric} vs {analytic}");
        }
    }
}
