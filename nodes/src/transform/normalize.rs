//! Normalize Data.

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Table,
    Transform, Value,
};

use super::chosen_columns;
use crate::frame::{numeric_feature_columns, numeric_values};

pub(super) const ID: &str = "transform.normalize_data";

/// Rescales numeric columns.
pub struct NormalizeData;

/// `(x - shift) / scale` per column.
#[derive(Debug, Serialize, Deserialize)]
struct Scaling {
    column: String,
    shift: f64,
    scale: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    method: String,
    columns: Vec<Scaling>,
}

fn fit(table: &Table, params: &Params) -> Result<State, NodeError> {
    let method = params.text("method")?.to_owned();
    let columns = chosen_columns(table, params.columns("columns"), numeric_feature_columns)?;
    let mut out = Vec::with_capacity(columns.len());
    for column in columns {
        let present: Vec<f64> = numeric_values(&table.frame, &column)?.into_iter().flatten().collect();
        if present.is_empty() {
            return Err(NodeError::data(format!("column \"{column}\" has no values to normalize")));
        }
        let n = present.len() as f64;
        let (shift, spread) = if method == "minmax" {
            let min = present.iter().copied().fold(f64::INFINITY, f64::min);
            let max = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max - min)
        } else {
            let mean = present.iter().sum::<f64>() / n;
            // Population standard deviation (ddof = 0), as scikit-learn's StandardScaler.
            (mean, (present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt())
        };
        // A constant column maps to 0.
        out.push(Scaling { column, shift, scale: if spread > 0.0 { spread } else { 1.0 } });
    }
    Ok(State { method, columns: out })
}

fn replay(state: &State, table: &Table) -> Result<Table, NodeError> {
    let mut frame = table.frame.clone();
    for s in &state.columns {
        let values: Vec<Option<f64>> =
            numeric_values(&frame, &s.column)?.into_iter().map(|v| v.map(|x| (x - s.shift) / s.scale)).collect();
        frame.with_column(Column::new(s.column.as_str().into(), values))?;
    }
    Ok(table.with_frame(frame))
}

pub(super) fn apply(transform: &Transform, table: &Table) -> Result<Table, NodeError> {
    let state: State = super::fitted_state(transform)?;
    replay(&state, table)
}

impl NodeKind for NormalizeData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            ID,
            "Normalize Data",
            Category::Transform,
            "Rescales numeric columns: z-score (mean 0, standard deviation 1, population formula) or min-max (0 to 1). Missing cells stay missing.",
        )
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
        let table = ctx.table("data")?;
        let state = fit(&table, ctx.params)?;
        let scaled = replay(&state, &table)?;
        super::fitted_outputs(ID, "Normalize Data", &state, scaled)
    }
}
