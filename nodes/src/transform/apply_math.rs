//! Apply Math Operation.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::{choice, float, int};
use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Rows, Schema, SchemaEnv, Table, Value,
};

use super::chosen_columns;
use crate::frame::{numeric_feature_columns, numeric_values};

/// Applies a function to every number of the chosen columns.
pub struct ApplyMathOperation;

impl ApplyMathOperation {
    /// The kind id.
    pub const ID: &'static str = "transform.apply_math_operation";
}

const OPERATIONS: [&str; 11] =
    ["log", "log1p", "exp", "sqrt", "abs", "square", "power", "round", "floor", "ceil", "negate"];

/// The operation on one number, as numpy computes it (`round` halves to even, as `numpy.round`).
pub(crate) fn operate(operation: &str, x: f64, exponent: f64, decimals: i32) -> f64 {
    match operation {
        "log" => x.ln(),
        "log1p" => x.ln_1p(),
        "exp" => x.exp(),
        "sqrt" => x.sqrt(),
        "abs" => x.abs(),
        "square" => x * x,
        "power" => x.powf(exponent),
        "round" if decimals == 0 => x.round_ties_even(),
        "round" => {
            let scale = 10f64.powi(decimals);
            (x * scale).round_ties_even() / scale
        }
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        _ => -x,
    }
}

impl NodeKind for ApplyMathOperation {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Apply Math Operation",
            Category::Transform,
            "Applies a function to every number of the chosen columns: log, log1p, exp, sqrt, abs, square, power, round (halves to even, as numpy), floor, ceil or negate. Results that are not numbers (the log or square root of a negative number) become missing cells; the log of 0 is minus infinity.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "Numeric columns to transform; empty transforms every numeric feature column.")
        .param("operation", "Operation", choice(&OPERATIONS), json!("log1p"), "The function applied to each number.")
        .param("exponent", "Exponent", float(-1000.0, 1000.0), json!(2.0), "Used by power: each number is raised to this.")
        .param("decimals", "Decimals", int(-15, 15), json!(0), "Used by round: the number of decimals kept.")
        .param("output", "Output", choice(&["replace", "append"]), json!("replace"), "replace: results replace the column; append: a new column named column_operation.")
        .output("data", PortType::Table, "The table with the results")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let Some(Some(schema)) = inputs.first() else { return vec![None] };
        let mut out = schema.clone();
        let listed = params.columns("columns");
        if params.text("output").ok() == Some("append") {
            if listed.is_empty() {
                return vec![None];
            }
            let operation = params.text("operation").unwrap_or("log1p");
            out.columns.extend(listed.iter().map(|n| ColumnInfo {
                name: format!("{n}_{operation}"),
                ty: ColumnType::Numeric,
                role: Role::Feature,
            }));
        }
        vec![Some(out)]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let listed = ctx.params.columns("columns");
        let operation = ctx.params.text("operation")?.to_owned();
        let exponent = ctx.params.float("exponent")?;
        let decimals = i32::try_from(ctx.params.int("decimals")?)
            .map_err(|_| NodeError::param("decimals", "use a number between -15 and 15"))?;
        let append = ctx.params.text("output")? == "append";
        // The table's metadata (roles) with the rows of `frame`: the whole table, or one streamed batch.
        let apply = move |table: &Table| -> Result<DataFrame, NodeError> {
            let columns = chosen_columns(table, listed.clone(), numeric_feature_columns)?;
            let mut frame = table.frame.clone();
            for name in &columns {
                let results: Vec<Option<f64>> = numeric_values(&table.frame, name)?
                    .into_iter()
                    .map(|v| v.map(|x| operate(&operation, x, exponent, decimals)).filter(|y| !y.is_nan()))
                    .collect();
                let out_name = if append { format!("{name}_{operation}") } else { name.clone() };
                frame.with_column(Column::new(out_name.into(), results))?;
            }
            Ok(frame)
        };
        Ok(vec![match ctx.rows("data")? {
            Rows::Table(table) => Value::Table(Arc::new(table.with_frame(apply(&table)?))),
            Rows::Stream(stream) => {
                let meta = stream.clone();
                Value::Stream(Arc::new(stream.then(Arc::new(move |frame| apply(&meta.table_of(frame))))))
            }
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_match_numpy() {
        assert_eq!(operate("round", 2.5, 0.0, 0), 2.0, "halves go to even");
        assert_eq!(operate("round", 1.25, 0.0, 1), 1.2);
        assert_eq!(operate("power", 3.0, 3.0, 0), 27.0);
        assert_eq!(operate("log", 0.0, 0.0, 0), f64::NEG_INFINITY);
        assert!(operate("sqrt", -1.0, 0.0, 0).is_nan());
        assert_eq!(operate("negate", 2.0, 0.0, 0), -2.0);
    }
}
