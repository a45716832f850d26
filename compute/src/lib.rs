//! Compute for Pipewright's blocks: wgpu adapter discovery, the device policy (auto, cpu, gpu), and the
//! kernels the heavy blocks use — each a WGSL shader under `compute/shaders/` with a multi-threaded CPU twin
//! behind one function, so a block asks for a result and the [`Backend`] decides where it is computed.
//!
//! Precision: the CPU twins compute in f64. On the GPU, feature values are stored and multiplied in f32;
//! sums inside a workgroup are f32, and the per-workgroup partial sums are added on the host in f64. The
//! tests (`compute/tests/agree.rs`) hold every kernel's two sides to 1e-5 relative on sums and means of
//! well-scaled data and 1e-4 on variances and on logistic gradients and Hessians; the blocks' metrics (`nodes/tests/devices.rs`)
//! agree within 1e-3 for logistic regression, 1e-4 for linear regression and k-means, exactly for k-NN, and
//! within 0.05 accuracy for a neural network after 100 epochs of f32 Adam steps; see each kernel's docs.

mod crossprod;
mod dense;
mod gpu;
mod kmeans;
mod knn;
mod logistic;
mod matrix;
pub mod pass;
mod stats;

use std::sync::Arc;

pub use crossprod::{CrossB, crossprod, gram};
pub use dense::{DenseGradients, dense_backward, dense_forward};
pub use gpu::{AdapterInfo, Gpu, adapters, preferred_adapter, shared};
pub use kmeans::{Assignment, KMeansProblem, LloydStep, assign};
pub use knn::{Metric, nearest_cpu, nearest_neighbours};
pub use logistic::{Evaluation, HESSIAN_ROWS, LogisticData, LogisticProblem, hessian_part, logistic_evaluate};
pub use matrix::MatrixRef;
pub use stats::{ColumnStats, column_stats};

/// What went wrong on the device.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ComputeError {
    /// No usable adapter.
    #[error("no GPU is available: {0}")]
    NoAdapter(String),
    /// A kernel could not be compiled or run.
    #[error("GPU kernel failed: {0}")]
    Kernel(String),
}

/// Where the user wants kernels to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// A real (hardware) GPU when one exists and the work is at least [`AUTO_MIN_ELEMENTS`], else the CPU.
    #[default]
    Auto,
    /// Always the CPU twins.
    Cpu,
    /// Always the GPU: the best adapter there is, a software one (lavapipe) included; an error when none.
    Gpu,
}

/// Work, in matrix elements (rows × columns), from which `auto` sends a kernel to a hardware GPU: below
/// it, upload and dispatch cost more than the multi-threaded CPU twin takes.
pub const AUTO_MIN_ELEMENTS: usize = 1 << 21;

/// Where one computation runs.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// The CPU twins (rayon).
    #[default]
    Cpu,
    /// The shared GPU.
    Gpu(Arc<Gpu>),
}

impl Backend {
    /// The backend for `work_elements` of work under `policy`.
    pub fn choose(policy: Policy, work_elements: usize) -> Result<Self, ComputeError> {
        match policy {
            Policy::Cpu => Ok(Self::Cpu),
            Policy::Gpu => shared().map(Self::Gpu),
            Policy::Auto if work_elements < AUTO_MIN_ELEMENTS => Ok(Self::Cpu),
            // The adapter list says whether a hardware GPU exists; only then is a device opened.
            Policy::Auto => Ok(match preferred_adapter() {
                Some(a) if !a.software => shared().map_or(Self::Cpu, Self::Gpu),
                _ => Self::Cpu,
            }),
        }
    }

    /// Whether this is the GPU.
    pub fn is_gpu(&self) -> bool {
        matches!(self, Self::Gpu(_))
    }

    /// "cpu", or "gpu: NAME (backend, type)".
    pub fn label(&self) -> String {
        match self {
            Self::Cpu => "cpu".into(),
            Self::Gpu(gpu) => format!("gpu: {}", gpu.info.label()),
        }
    }
}
