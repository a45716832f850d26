//! The run's device policy turned into a compute backend for one block, with the choice recorded for the
//! run's events and `pipewright run --json`.

use pipewright_compute::{Backend, ComputeError, Policy};
use pipewright_engine::{Device, NodeContext, NodeError};

/// The backend for `work_elements` (rows × columns) of this block's work under the run's device policy,
/// recorded as the device the block used.
pub fn backend(ctx: &NodeContext<'_>, work_elements: usize) -> Result<Backend, NodeError> {
    let policy = match ctx.device {
        Device::Auto => Policy::Auto,
        Device::Cpu => Policy::Cpu,
        Device::Gpu => Policy::Gpu,
    };
    let backend = Backend::choose(policy, work_elements)
        .map_err(|e| NodeError::data(format!("the run's device is gpu, but {e}: choose the auto or cpu device")))?;
    ctx.device_used.record(&backend.label());
    Ok(backend)
}

/// A kernel failure as this block's error.
#[allow(clippy::needless_pass_by_value, reason = "used as map_err(kernel_error)")]
pub fn kernel_error(e: ComputeError) -> NodeError {
    NodeError::data(format!("{e}; run again with the cpu device"))
}
