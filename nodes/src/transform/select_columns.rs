//! Select Columns.

use std::sync::Arc;

use polars::prelude::DataFrame;
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema, SchemaEnv, Value,
};

use crate::frame::require_columns;

/// Keeps (or drops) the chosen columns.
pub struct SelectColumns;

impl SelectColumns {
    /// The kind id.
    pub const ID: &'static str = "transform.select_columns";
}

fn keep(all: &[String], listed: &[String], mode: &str) -> Vec<String> {
    if mode == "exclude" { all.iter().filter(|c| !listed.contains(c)).cloned().collect() } else { listed.to_vec() }
}

impl NodeKind for SelectColumns {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Select Columns",
            Category::Transform,
            "Keeps the chosen columns, in the order given, or drops them.",
        )
        .input("data", PortType::Table, "The table")
        .param(
            "columns",
            "Columns",
            ParamKind::ColumnList { port: "data" },
            json!([]),
            "The columns to keep (or to drop).",
        )
        .param(
            "mode",
            "Mode",
            choice(&["include", "exclude"]),
            json!("include"),
            "include: keep only these; exclude: keep all others.",
        )
        .passes_rows_through()
        .output("data", PortType::Table, "The table with the chosen columns")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let schema = inputs.first().cloned().flatten().map(|s| {
            let names = keep(&s.names(), &params.columns("columns"), params.text("mode").unwrap_or("include"));
            Schema { columns: names.iter().filter_map(|n| s.column(n).cloned()).collect() }
        });
        vec![schema]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let listed = ctx.params.columns("columns");
        let mode = ctx.params.text("mode")?.to_owned();
        if listed.is_empty() && mode == "include" {
            return Err(NodeError::param("columns", "choose at least one column to keep"));
        }
        let select = move |frame: &DataFrame| -> Result<DataFrame, NodeError> {
            require_columns(frame, &listed)?;
            let all: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
            Ok(frame.select(keep(&all, &listed, &mode))?)
        };
        Ok(vec![match ctx.rows("data")? {
            Rows::Table(table) => Value::Table(Arc::new(table.with_frame(select(&table.frame)?))),
            // Streamed: the same selection on every batch.
            Rows::Stream(stream) => Value::Stream(Arc::new(stream.then(Arc::new(move |frame| select(&frame))))),
        }])
    }
}
