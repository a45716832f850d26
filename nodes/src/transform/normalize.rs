//! Normalize Data.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema, SchemaEnv, Table,
    TableStream, Value,
};

use super::{ColumnUse, MissingCells, Reads, Replay, TransformState, chosen_columns};
use pipewright_compute::pass::{ColumnMoments, Columns, Pass};
use pipewright_compute::{ColumnStats, column_stats};

use pipewright_engine::ColumnType;

use crate::frame::{F64Values, f64_values, missing_column, numeric_feature_columns, numeric_values};

/// Rescales numeric columns.
pub struct NormalizeData;

impl NormalizeData {
    /// The kind id.
    pub const ID: &'static str = "transform.normalize_data";
}

/// `(x - shift) / scale` per column.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Scaling {
    column: String,
    shift: f64,
    scale: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    method: String,
    columns: Vec<Scaling>,
}

fn fit(ctx: &NodeContext<'_>, table: &Table) -> Result<State, NodeError> {
    let columns = chosen_columns(table, ctx.params.columns("columns"), numeric_feature_columns)?;
    let values = columns.iter().map(|c| f64_values(&table.frame, c)).collect::<Result<Vec<_>, _>>()?;
    let backend = crate::device::backend(ctx, table.frame.height() * columns.len())?;
    let slices: Vec<&[f64]> = values.iter().map(F64Values::as_slice).collect();
    let stats = column_stats(&backend, &slices).map_err(crate::device::kernel_error)?;
    state_of(ctx.params.text("method")?, columns, &stats)
}

/// Fits on a streamed table: the column statistics in one pass over its batches, merged in order.
fn fit_stream(ctx: &NodeContext<'_>, stream: &TableStream) -> Result<State, NodeError> {
    let columns = chosen_columns(&stream.head(0)?, ctx.params.columns("columns"), numeric_feature_columns)?;
    let pass = ColumnMoments { columns: columns.len() };
    let mut total = pass.empty();
    for batch in ctx.read(stream, "statistics")? {
        let batch = batch?;
        let values = columns.iter().map(|c| f64_values(&batch, c)).collect::<Result<Vec<_>, _>>()?;
        let chunk = Columns(values.iter().map(F64Values::as_slice).collect());
        total = pass.reduce(total, pass.map(&chunk));
    }
    state_of(ctx.params.text("method")?, columns, &pass.finish(total))
}

/// The scaling of each column from its statistics.
fn state_of(method: &str, columns: Vec<String>, stats: &[ColumnStats]) -> Result<State, NodeError> {
    let mut out = Vec::with_capacity(columns.len());
    for (column, s) in columns.into_iter().zip(stats) {
        if s.count == 0 {
            return Err(NodeError::data(format!("column \"{column}\" has no values to normalize")));
        }
        // z-score uses the population standard deviation (ddof = 0), as scikit-learn's StandardScaler.
        let (shift, spread) = if method == "minmax" { (s.min, s.max - s.min) } else { (s.mean, s.variance.sqrt()) };
        // A constant column maps to 0.
        out.push(Scaling { column, shift, scale: if spread > 0.0 { spread } else { 1.0 } });
    }
    Ok(State { method: method.to_owned(), columns: out })
}

fn replay(state: &State, table: Table) -> Result<Table, NodeError> {
    let Table { frame, roles, categorical, attributes } = table;
    let mut scalings = std::collections::HashMap::new();
    for s in &state.columns {
        let column = frame.column(&s.column).map_err(|_| missing_column(&frame, &s.column))?;
        if !matches!(ColumnType::of(column.dtype()), ColumnType::Numeric | ColumnType::Bool) {
            // Reuses the clear "not numbers" message.
            numeric_values(&frame, &s.column)?;
        }
        scalings.insert(s.column.as_str(), (s.shift, s.scale));
    }
    let frame = crate::frame::map_columns(frame, |column| {
        let Some(&(shift, scale)) = scalings.get(column.name().as_str()) else { return Ok(column) };
        crate::frame::rewrite_f64(column, |values, validity| {
            // NaN cells are missing: they come out as missing cells.
            let present = |i: usize| validity.as_ref().is_none_or(|v| v.get_bit(i));
            if values.iter().enumerate().any(|(i, x)| x.is_nan() && present(i)) {
                let validity = values.iter().enumerate().map(|(i, x)| !x.is_nan() && present(i)).collect();
                for x in values.iter_mut() {
                    *x = (*x - shift) / scale;
                }
                return Some(validity);
            }
            // Times the reciprocal, as the scaling always was: the same bits, so that trees fitted on scaled
            // columns split the same rows.
            let factor = 1.0 / scale;
            for x in values.iter_mut() {
                *x = (*x - shift) * factor;
            }
            validity
        })
    })?;
    Ok(Table { frame, roles, categorical, attributes })
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        match self.columns.iter().find(|s| !(s.shift.is_finite() && s.scale.is_finite())) {
            Some(s) => Err(format!("the scaling of \"{}\" is not a finite number", s.column)),
            None => Ok(()),
        }
    }
}

impl Replay for NormalizeData {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table.clone())
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        state
            .columns
            .iter()
            .map(|s| ColumnUse {
                outputs: vec![s.column.clone()],
                column: s.column.clone(),
                reads: Reads::Number,
                missing: MissingCells::PassedOn,
            })
            .collect()
    }

    fn restricted(&self, state: &State, keep: &std::collections::BTreeSet<String>) -> Option<State> {
        let mut state = state.clone();
        state.columns.retain(|s| keep.contains(&s.column));
        Some(state)
    }
}

impl NodeKind for NormalizeData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            NormalizeData::ID,
            "Normalize Data",
            Category::Transform,
            "Rescales numeric columns: z-score (mean 0, standard deviation 1, population formula) or min-max (0 to 1). Missing cells stay missing.",
        )
        .uses_device()
        .input("data", PortType::Table, "The table")
        .param("method", "Method", choice(&["zscore", "minmax"]), json!("zscore"), "z-score or min-max.")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "Columns to rescale; empty rescales every numeric feature column (never the label).")
        .output("data", PortType::Table, "The rescaled table")
        .output("transform", PortType::Transform, "The fitted scaling, to apply to other data")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten(), None]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = match ctx.rows("data")? {
            Rows::Table(table) => table,
            // Streamed: fitted in one pass over the batches, then applied to each batch as it passes.
            Rows::Stream(stream) => {
                let state = fit_stream(ctx, &stream)?;
                return super::fitted_stream_outputs(NormalizeData::ID, "Normalize Data", state, &stream);
            }
        };
        let state = fit(ctx, &table)?;
        drop(table);
        let scaled = replay(&state, ctx.take_table("data")?)?;
        super::fitted_outputs(NormalizeData::ID, "Normalize Data", state, scaled)
    }
}
