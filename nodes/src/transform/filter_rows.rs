//! Filter Rows.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema, SchemaEnv, Value,
};

use super::filter_expr::{evaluate, parse};

/// The table attribute that carries a warning for the output summary.
pub const WARNING_ATTRIBUTE: &str = "warning";

/// Keeps the rows for which a condition holds.
pub struct FilterRows;

impl FilterRows {
    /// The kind id.
    pub const ID: &'static str = "transform.filter_rows";
}

impl NodeKind for FilterRows {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Filter Rows",
            Category::Transform,
            "Keeps the rows for which a condition holds, such as `age >= 18 and (sex = 'female' or fare > 50)`. Conditions compare columns and values with = != < <= > >=, combine with and, or, not and parentheses, and test missing cells with `is null` / `is not null`. A comparison with a missing cell is neither true nor false, so such rows are dropped unless `is null` asks for them. Column names with spaces go in backticks.",
        )
        .input("data", PortType::Table, "The table")
        .required_param("expression", "Condition", ParamKind::Text, "The condition a row must meet to be kept; text values in single or double quotes, column names with spaces or symbols in `backticks`.")
        .passes_rows_through()
        .output("data", PortType::Table, "The rows that meet the condition (possibly none: the summary then warns)")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let text = ctx.params.text("expression")?;
        let expr = parse(text)?;
        let filter = move |frame: &DataFrame| -> Result<DataFrame, NodeError> {
            let keep = evaluate(&expr, frame)?;
            Ok(frame.filter(&BooleanChunked::from_slice("keep".into(), &keep))?)
        };
        let table = match ctx.rows("data")? {
            Rows::Table(table) => table,
            // Streamed: the same condition on every batch.
            Rows::Stream(stream) => {
                return Ok(vec![Value::Stream(Arc::new(stream.then(Arc::new(move |frame| filter(&frame)))))]);
            }
        };
        let mut out = table.with_frame(filter(&table.frame)?);
        out.attributes.remove(WARNING_ATTRIBUTE);
        if out.height() == 0 {
            out.attributes.insert(
                WARNING_ATTRIBUTE.into(),
                json!(format!("no row of {} meets \"{text}\": the table is empty", table.height())),
            );
        }
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
