//! The Pipewright engine: the workflow model and its file format, node-kind declarations, validation,
//! schema propagation, the cache, and the executor that runs a workflow the same way in the designer,
//! on the command line and on a cluster. It knows nothing of egui.

mod cache;
mod catalog;
pub mod connections;
mod empty;
mod error;
mod events;
mod executor;
pub mod fan_out;
pub mod metric;
pub mod params;
mod project;
pub mod remote;
mod result;
pub mod rng;
mod schema;
pub mod spec;
pub mod spill;
pub mod stream;
mod time;
mod validate;
mod value;
mod workflow;
mod write_targets;

pub use cache::{DEFAULT_DISK_BUDGET_BYTES, DiskCache, MemoryCache, Outputs, read_values, write_values};
pub use catalog::{
    CancelToken, Catalog, Device, DeviceRecord, Entry, Inputs, NodeContext, NodeKind, Provenance, Rows, SchemaEnv,
    ShardedTraining, ValueLoader,
};
pub use empty::EMPTIED_BY_ATTRIBUTE;
pub use error::{FileError, NodeError};
pub use events::{Done, Event};
pub use executor::{
    NodeOutcome, NodeStatus, Plan, RunError, RunOptions, RunReport, Session, ancestors, canonical_json,
    default_memory_budget, input_sources, plan, plan_on, run,
};
pub use fan_out::{FanOut, Unit, UnitResult};
pub use metric::{Better, METRICS, MetricInfo, metric_label};
pub use params::{ParamProblem, Params};
pub use project::{find_workflow, project_dir_from, project_dir_of};
pub use result::{CacheSource, MetricsByNode, NodeResult, NodeState, OutputFile, RunResult};
pub use schema::{ColumnInfo, ColumnType, Role, Schema};
pub use spec::{Category, NodeSpec, ParamKind, ParamSpec, PortSpec, PortType, Writes};
pub use stream::{BatchSource, Batches, FrameBatches, PassStep, PassStepMaker, Step, TableStream};
pub use time::UtcTime;
pub use validate::{Analysis, Problem, validate, validate_in};
pub use value::{
    ConfusionMatrix, Curve, Decoded, Evaluation, Learner, Metric, Model, Report, StateJson, Table, Task, Transform,
    Value,
};
pub use workflow::{Comment, Edge, FORMAT, Node, PortRef, VERSION, Workflow, migrate, write_atomic};
