//! Blocks whose work splits into independent units: the settings × folds of a sweep, the folds of a
//! cross-validation, the features of a permutation importance. Such a block declares how (its [`FanOut`]),
//! and runs through it everywhere: in this process every unit runs on the machine's cores ([`run_here`]);
//! exported with fan-out, every unit is one index of a cluster's task set (a Slurm job array, a Kubernetes
//! Indexed Job, Ray tasks) and a combine step joins their results. Both paths compute the same units and combine
//! them the same way, so a sweep fanned out over a cluster ranks exactly as it does on the desktop.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde_json::Value as Json;

use crate::catalog::NodeContext;
use crate::error::NodeError;
use crate::value::Value;

/// One independent unit of a block's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// What it computes, for people: `setting 3 × fold 2`, `feature "age"`.
    pub label: String,
    /// What it computes, for [`FanOut::run_unit`]: the block's own description (indices, parameter values).
    pub spec: Json,
}

/// What one unit computed: numbers and descriptions as JSON, tables and models as values.
#[derive(Debug, Clone, Default)]
pub struct UnitResult {
    /// Small results (a metric, an evaluation).
    pub data: Json,
    /// Tables and models (the held-out rows a fold scored).
    pub values: Vec<Value>,
}

impl UnitResult {
    /// A result of JSON only.
    pub fn data(data: Json) -> Self {
        Self { data, values: Vec::new() }
    }
}

/// How a block's work splits into independent units and how their results join into its outputs. Every
/// method sees the block's inputs and parameters in its context, as `run` does.
pub trait FanOut: Send + Sync {
    /// The units, in order; the same inputs and parameters always give the same units.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError>;

    /// Computes one unit (its [`Unit::spec`]). An error fails the block, naming the unit; a unit whose failure
    /// is part of the result (a setting a sweep cannot train) says so in its result instead.
    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError>;

    /// The block's outputs from every unit's result, in the order of [`FanOut::units`].
    fn combine(&self, ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError>;
}

/// Runs a fan-out block in this process: its units in parallel on the machine's cores, with progress, then
/// the combine. The first failing unit (in unit order) fails the block with the unit named.
pub fn run_here(fan: &dyn FanOut, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
    let units = fan.units(ctx)?;
    let total = units.len();
    let done = AtomicUsize::new(0);
    let results: Vec<Result<UnitResult, NodeError>> = units
        .par_iter()
        .map(|unit| {
            ctx.check_cancelled()?;
            let result = fan.run_unit(ctx, &unit.spec).map_err(|e| in_unit(e, &unit.label));
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            ctx.report_progress(
                finished as f32 / total.max(1) as f32,
                &format!("{finished} of {total}: {}", unit.label),
            );
            result
        })
        .collect();
    ctx.check_cancelled()?;
    let results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    fan.combine(ctx, results)
}

/// An error of one unit, with the unit named (cancellation passes unchanged).
pub fn in_unit(error: NodeError, label: &str) -> NodeError {
    match error {
        NodeError::Cancelled => NodeError::Cancelled,
        NodeError::Param { param, message } => NodeError::Param { param, message: format!("{label}: {message}") },
        NodeError::Input { port, message } => NodeError::Input { port, message: format!("{label}: {message}") },
        other => NodeError::data(format!("{label}: {other}")),
    }
}
