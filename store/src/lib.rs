//! The project store (`SQLite`, `<project>/.pipewright/project.db`, WAL): experiments, runs with a snapshot of
//! the workflow, per-node results, metrics, artifacts by content hash and the model registry.
//!
//! This first part holds the file itself — opening it safely (a corrupt or foreign file is refused, never
//! overwritten), schema migrations through `user_version`, runs left `running` by a process that died marked
//! `interrupted` when the store opens — and the recording of runs, nodes and metrics. The designer's panels,
//! the CLI commands and the model registry's operations build on it.

mod error;
mod open;
mod runs;

pub use error::StoreError;
pub use open::{SCHEMA_VERSION, Store, store_path};
pub use runs::{NodeRecord, RunRecord, RunSource, RunStart, RunStatus};
