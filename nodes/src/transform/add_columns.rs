//! Add Columns.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Value,
};

use super::rows::unique_name;

/// Puts two tables side by side.
pub struct AddColumns;

impl AddColumns {
    /// The kind id.
    pub const ID: &'static str = "transform.add_columns";
}

/// The names the right table's columns get: clashing ones take the suffix (then a number).
fn right_names(left: &[String], right: &[String], suffix: &str) -> Vec<String> {
    let mut taken: HashSet<String> = left.iter().cloned().collect();
    right.iter().map(|n| unique_name(n, suffix, &mut taken)).collect()
}

impl NodeKind for AddColumns {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Add Columns",
            Category::Transform,
            "Puts the columns of the right table after those of the left table, row by row. Both tables need the same number of rows; right columns whose names are already taken get a suffix. Column roles of both tables are kept.",
        )
        .input("left", PortType::Table, "The table whose columns come first")
        .input("right", PortType::Table, "The table whose columns are added")
        .param("suffix", "Suffix for clashing names", ParamKind::Text, json!("_2"), "Added to a right column whose name the left table already uses (a number follows if that is taken too).")
        .output("data", PortType::Table, "Both tables side by side")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let (Some(Some(left)), Some(Some(right))) = (inputs.first(), inputs.get(1)) else { return vec![None] };
        let names = right_names(&left.names(), &right.names(), params.text("suffix").unwrap_or("_2"));
        let mut columns = left.columns.clone();
        columns.extend(right.columns.iter().zip(names).map(|(c, name)| {
            let mut c = c.clone();
            c.name = name;
            c
        }));
        vec![Some(Schema { columns })]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let left = ctx.table("left")?;
        let right = ctx.table("right")?;
        if left.height() != right.height() {
            return Err(NodeError::data(format!(
                "the left table has {} rows and the right table has {}: Add Columns pairs rows one to one, so both need the same number of rows (use Join Data to match rows by a key)",
                left.height(),
                right.height()
            )));
        }
        let suffix = ctx.params.text("suffix")?;
        let left_names = super::rows::column_names(&left.frame);
        let right_old = super::rows::column_names(&right.frame);
        let new_names = right_names(&left_names, &right_old, suffix);
        let mut columns = Vec::with_capacity(right_old.len());
        for (old, new) in right_old.iter().zip(&new_names) {
            let mut column = right.frame.column(old)?.clone();
            column.rename(new.as_str().into());
            columns.push(column);
        }
        let mut out = left.with_frame(left.frame.hstack(&columns)?);
        for (old, new) in right_old.iter().zip(&new_names) {
            if let Some(role) = right.roles.get(old) {
                out.roles.insert(new.clone(), *role);
            }
            if right.categorical.contains(old) {
                out.categorical.insert(new.clone());
            }
        }
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
