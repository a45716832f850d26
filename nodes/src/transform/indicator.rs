//! Convert to Indicator Values (one-hot encoding).

use std::sync::Arc;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::{
    Category, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Role, Rows, Table,
    Value,
};

use super::{ColumnUse, MissingCells, Reads, Replay, TransformState, chosen_columns};
use crate::frame::{distinct_texts, sorted_classes};

/// Replaces categorical columns with one 0/1 column per category.
pub struct ConvertToIndicatorValues;

impl ConvertToIndicatorValues {
    /// The kind id.
    pub const ID: &'static str = "transform.convert_to_indicator_values";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Encoding {
    column: String,
    categories: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    columns: Vec<Encoding>,
    keep_original: bool,
}

/// Text feature columns and numeric columns marked categorical.
fn categorical_features(table: &Table) -> Vec<String> {
    table
        .frame
        .columns()
        .iter()
        .filter(|c| {
            table.role(c.name()) == Role::Feature
                && (ColumnType::of(c.dtype()) == ColumnType::Text || table.categorical.contains(c.name().as_str()))
        })
        .map(|c| c.name().to_string())
        .collect()
}

fn replay(state: &State, table: &Table) -> Result<Table, NodeError> {
    let mut columns: Vec<Column> = Vec::with_capacity(table.frame.width());
    let mut out = table.clone();
    for column in table.frame.columns() {
        let Some(encoding) = state.columns.iter().find(|e| e.column == column.name().as_str()) else {
            columns.push(column.clone());
            continue;
        };
        if state.keep_original {
            columns.push(column.clone());
        }
        let text = column.cast(&DataType::String)?;
        let index: std::collections::HashMap<&str, usize> =
            encoding.categories.iter().enumerate().map(|(k, c)| (c.as_str(), k)).collect();
        // Categories unseen when fitting, and missing cells, get 0 in every indicator.
        let codes: Vec<Option<usize>> = text.str()?.iter().map(|v| v.and_then(|v| index.get(v).copied())).collect();
        for (k, category) in encoding.categories.iter().enumerate() {
            let indicator: Float64Chunked = codes
                .iter()
                .map(|c| if *c == Some(k) { 1.0 } else { 0.0 })
                .collect_ca(format!("{}_{category}", encoding.column).into());
            columns.push(indicator.into_column());
        }
        if !state.keep_original {
            out.categorical.remove(&encoding.column);
        }
    }
    let frame = DataFrame::new(table.frame.height(), columns)?;
    Ok(out.with_frame(frame))
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Replay for ConvertToIndicatorValues {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table)
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        state
            .columns
            .iter()
            .map(|e| {
                let mut outputs: Vec<String> = e.categories.iter().map(|c| format!("{}_{c}", e.column)).collect();
                if state.keep_original {
                    outputs.push(e.column.clone());
                }
                ColumnUse {
                    column: e.column.clone(),
                    reads: Reads::Category(e.categories.clone()),
                    missing: MissingCells::Encoded,
                    outputs,
                }
            })
            .collect()
    }

    fn restricted(&self, state: &State, keep: &std::collections::BTreeSet<String>) -> Option<State> {
        let mut state = state.clone();
        state.columns.retain(|e| keep.contains(&e.column));
        Some(state)
    }
}

impl NodeKind for ConvertToIndicatorValues {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            ConvertToIndicatorValues::ID,
            "Convert to Indicator Values",
            Category::Transform,
            "One-hot encoding: each categorical column becomes one 0/1 column per category, named column_category, in the column's place. Categories not seen here get all zeros later.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "Columns to encode; empty encodes every text feature column and every column marked categorical.")
        .param("keep_original", "Keep original columns", ParamKind::Bool, json!(false), "Keep the encoded columns beside their indicators (marked ignored is up to you).")
        .output("data", PortType::Table, "The table with indicator columns")
        .output("transform", PortType::Transform, "The fitted encoding, to apply to other data")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let rows = ctx.rows("data")?;
        let meta = match &rows {
            Rows::Table(table) => table.clone(),
            Rows::Stream(stream) => Arc::new(stream.head(0)?),
        };
        let columns = chosen_columns(&meta, ctx.params.columns("columns"), categorical_features)?;
        // Each column's categories: of the whole table, or gathered over a stream's batches.
        let mut found: Vec<std::collections::HashSet<String>> = vec![std::collections::HashSet::new(); columns.len()];
        let mut add = |frame: &DataFrame| -> Result<(), NodeError> {
            for (set, column) in found.iter_mut().zip(&columns) {
                set.extend(distinct_texts(frame, column)?);
            }
            Ok(())
        };
        match &rows {
            Rows::Table(table) => add(&table.frame)?,
            Rows::Stream(stream) => {
                for batch in ctx.read(stream, "categories")? {
                    add(&batch?)?;
                }
            }
        }
        let mut encodings = Vec::with_capacity(columns.len());
        for (column, set) in columns.into_iter().zip(found) {
            let categories = sorted_classes(&set.into_iter().map(Some).collect::<Vec<_>>());
            if categories.len() > 1000 {
                return Err(NodeError::data(format!(
                    "column \"{column}\" has {} categories; more than 1000 indicators is rarely useful: exclude it or mark it ignored",
                    categories.len()
                )));
            }
            encodings.push(Encoding { column, categories });
        }
        let state = State { columns: encodings, keep_original: ctx.params.bool("keep_original")? };
        let table = match rows {
            Rows::Table(table) => table,
            // Streamed: every batch encoded as it passes, with the categories of the whole stream.
            Rows::Stream(stream) => {
                return super::fitted_stream_outputs(
                    ConvertToIndicatorValues::ID,
                    "Convert to Indicator Values",
                    state,
                    &stream,
                );
            }
        };
        let encoded = replay(&state, &table)?;
        super::fitted_outputs(ConvertToIndicatorValues::ID, "Convert to Indicator Values", state, encoded)
    }
}
