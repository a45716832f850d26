//! Sort: rows ordered by one or more columns.

use std::cmp::Ordering;
use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv,
    Table, Value,
};

use crate::frame::take_rows;

/// Orders rows by key columns.
pub struct SortRows;

impl SortRows {
    /// The kind id.
    pub const ID: &'static str = "transform.sort";
}

/// One key column's values, compared as numbers (numbers, booleans, dates and times) or as text.
enum Key {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl Key {
    fn of(frame: &DataFrame, name: &str) -> Result<Self, NodeError> {
        let column = frame.column(name).map_err(|_| {
            let names: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
            NodeError::param("columns", format!("no column \"{name}\" (the table has: {})", names.join(", ")))
        })?;
        Ok(match ColumnType::of(column.dtype()) {
            ColumnType::Numeric | ColumnType::Bool | ColumnType::Date => {
                let numbers = column.to_physical_repr().cast(&DataType::Float64)?;
                Self::Numbers(numbers.f64()?.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
            }
            _ => {
                let texts = column.cast(&DataType::String)?;
                Self::Texts(texts.str()?.iter().map(|v| v.map(str::to_owned)).collect())
            }
        })
    }

    /// The order of two rows; missing values after every value, whichever the direction.
    fn compare(&self, a: usize, b: usize, descending: bool) -> Ordering {
        let order = |x: Option<Ordering>| x.map(|o| if descending { o.reverse() } else { o });
        let found = match self {
            Self::Numbers(v) => match (v[a], v[b]) {
                (Some(x), Some(y)) => order(x.partial_cmp(&y)),
                (x, y) => Some(x.is_none().cmp(&y.is_none())),
            },
            Self::Texts(v) => match (&v[a], &v[b]) {
                (Some(x), Some(y)) => order(Some(x.cmp(y))),
                (x, y) => Some(x.is_none().cmp(&y.is_none())),
            },
        };
        found.unwrap_or(Ordering::Equal)
    }
}

/// The rows of `table` in the order of `columns` (a stable sort: equal keys keep their order).
pub fn sorted_rows(frame: &DataFrame, columns: &[String], descending: bool) -> Result<Vec<usize>, NodeError> {
    let keys = columns.iter().map(|c| Key::of(frame, c)).collect::<Result<Vec<_>, _>>()?;
    let mut rows: Vec<usize> = (0..frame.height()).collect();
    rows.sort_by(|&a, &b| keys.iter().map(|k| k.compare(a, b, descending)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal));
    Ok(rows)
}

/// The table sorted by `columns`.
pub fn sort_table(table: &Table, columns: &[String], descending: bool) -> Result<Table, NodeError> {
    take_rows(table, &sorted_rows(&table.frame, columns, descending)?)
}

impl NodeKind for SortRows {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Sort",
            Category::Transform,
            "Orders the rows by one or more columns: numbers, dates and times by value, text alphabetically (by code point). Rows with equal keys keep their order; missing values come last.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Sort by", ParamKind::ColumnList { port: "data" }, json!([]), "The key columns, the first deciding first.")
        .param("order", "Order", choice(&["ascending", "descending"]), json!("ascending"), "ascending: smallest, earliest or A first.")
        .passes_rows_through()
        .output("data", PortType::Table, "The sorted table")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let columns = ctx.params.columns("columns");
        if columns.is_empty() {
            return Err(NodeError::param("columns", "choose the columns to sort by"));
        }
        let descending = ctx.params.text("order")? == "descending";
        Ok(vec![Value::Table(Arc::new(sort_table(&table, &columns, descending)?))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_with_missing_values_last() {
        let frame = df!(
            "group" => ["b", "a", "b", "a", "c"],
            "value" => [Some(2.0), Some(5.0), None, Some(1.0), Some(2.0)],
        )
        .expect("frame");
        assert_eq!(sorted_rows(&frame, &["value".into()], false).expect("sorts"), [3, 0, 4, 1, 2]);
        assert_eq!(sorted_rows(&frame, &["value".into()], true).expect("sorts"), [1, 0, 4, 3, 2]);
        assert_eq!(sorted_rows(&frame, &["group".into(), "value".into()], false).expect("sorts"), [3, 1, 0, 2, 4]);
        let err = sorted_rows(&frame, &["nope".into()], false).expect_err("refused").to_string();
        assert!(err.contains("no column \"nope\""), "{err}");
    }
}
