//! Remove Duplicate Rows.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Value,
};

use super::chosen_columns;
use super::rows::{column_names, row_keys};
use crate::frame::take_rows;

/// Keeps one row of each group of rows with equal keys.
pub struct RemoveDuplicateRows;

impl RemoveDuplicateRows {
    /// The kind id.
    pub const ID: &'static str = "transform.remove_duplicate_rows";
}

/// The rows to keep, in table order: the first (or last) row of each key.
pub(crate) fn kept_rows(keys: &[String], keep_last: bool) -> Vec<usize> {
    let mut chosen: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if keep_last {
            chosen.insert(key, i);
        } else {
            chosen.entry(key).or_insert(i);
        }
    }
    let mut rows: Vec<usize> = chosen.into_values().collect();
    rows.sort_unstable();
    rows
}

impl NodeKind for RemoveDuplicateRows {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Remove Duplicate Rows",
            Category::Transform,
            "Removes rows whose key columns repeat an earlier (or later) row, keeping one row of each key in table order, as pandas' drop_duplicates. Missing cells are equal to each other.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Key columns", ParamKind::ColumnList { port: "data" }, json!([]), "Rows are duplicates when these columns are equal; empty compares every column.")
        .param("keep", "Row to keep", choice(&["first", "last"]), json!("first"), "first: the first row of each key stays; last: the last one.")
        .passes_rows_through()
        .output("data", PortType::Table, "The table without duplicate rows")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let columns = chosen_columns(&table, ctx.params.columns("columns"), |t| column_names(&t.frame))?;
        let keys = row_keys(&table.frame, &columns, None)?;
        let rows = kept_rows(&keys, ctx.params.text("keep")? == "last");
        Ok(vec![Value::Table(Arc::new(take_rows(&table, &rows)?))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_or_last_of_each_key_in_table_order() {
        let keys: Vec<String> = ["a", "b", "a", "c", "b"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(kept_rows(&keys, false), [0, 1, 3]);
        assert_eq!(kept_rows(&keys, true), [2, 3, 4]);
    }
}
