//! Events a run sends to its subscribers: the canvas, the CLI progress bars, the store recorder, the results
//! writer. A run has this one stream: every finished block arrives with its outputs as [`Event::NodeDone`].

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Device;
use crate::executor::NodeOutcome;

/// A block that is done, with its outputs: what subscribers show, record or write the moment it happens.
#[derive(Debug, Clone)]
pub struct Done(pub Arc<NodeOutcome>);

/// Two done events are the same when they carry the same outcome.
impl PartialEq for Done {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A node began running.
    NodeStarted {
        /// Node id.
        node: String,
    },
    /// A running node reported progress.
    NodeProgress {
        /// Node id.
        node: String,
        /// 0..=1.
        fraction: f32,
        /// Short message.
        message: String,
    },
    /// A node's outputs came from the cache.
    NodeCached {
        /// Node id.
        node: String,
        /// Whether they came from the on-disk cache (else from memory).
        from_disk: bool,
    },
    /// A node ran successfully.
    NodeFinished {
        /// Node id.
        node: String,
        /// Wall time.
        duration: Duration,
        /// One-line summaries of its outputs.
        summaries: Vec<String>,
        /// Where its kernels ran ("cpu", "gpu: NAME (backend, type)"); `None` for blocks without kernels.
        device: Option<String>,
    },
    /// A node failed; its descendants are skipped.
    NodeFailed {
        /// Node id.
        node: String,
        /// What went wrong.
        message: String,
    },
    /// A node is done (ran, came from a cache, or failed), with its outcome and outputs; sent after the
    /// node's `NodeFinished`, `NodeCached` or `NodeFailed`.
    NodeDone(Done),
    /// The run ended.
    RunFinished {
        /// Whether every planned node finished or came from the cache.
        success: bool,
        /// Whether it was stopped.
        cancelled: bool,
        /// Wall time.
        duration: Duration,
        /// The device policy used.
        device: Device,
    },
}
