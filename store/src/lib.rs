//! The project store (`SQLite`, `<project>/.pipewright/project.db`, WAL): experiments, runs with a snapshot of
//! the workflow, per-node results, metrics, artifacts by content hash (small ones inside the database, larger
//! ones under `.pipewright/artifacts/`) and the model registry.
//!
//! The file is opened safely — a corrupt or foreign file is refused, never overwritten; older schemas are
//! migrated through `user_version`; runs left `running` by a process that died are marked `interrupted` when
//! the store opens. [`Recorder`] records a run as it happens, for the designer and `pipewright run` alike.

mod artifacts;
mod error;
mod models;
mod monitor;
mod open;
mod recorder;
mod runs;
mod schedules;
mod traffic;

pub use artifacts::{ArtifactLink, INLINE_ARTIFACT_BYTES, StagedArtifact, value_of_artifact};
pub use error::StoreError;
pub use models::{ModelMetric, ModelVersion, Registration, Stage, StageChange};
pub use monitor::{Alert, ColumnRecord, WindowRecord};
#[doc(hidden)]
pub use open::migration_steps;
pub use open::{SCHEMA_VERSION, Store, store_path};
pub use recorder::{RecordStart, Recorder, SMALL_TABLE_CELLS, artifact_of, experiment_of};
pub use runs::{
    NodeArtifact, NodeMetric, NodeRecord, NodeResult, RunRecord, RunSource, RunStart, RunStatus, format_utc,
};
pub use schedules::{Schedule, ScheduleRun};
pub use traffic::{Rollback, Traffic};
