//! Add Rows.

use std::sync::Arc;

use polars::prelude::*;

use pipewright_engine::{
    Category, ColumnInfo, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Schema, SchemaEnv, Value,
};

use super::rows::{column_names, common_column_type, common_type};

/// Stacks two tables.
pub struct AddRows;

impl AddRows {
    /// The kind id.
    pub const ID: &'static str = "transform.add_rows";
}

impl NodeKind for AddRows {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Add Rows",
            Category::Transform,
            "Puts the rows of the second table under those of the first. Columns are matched by name: the first table's columns come first, then those only the second has; a column one table lacks is missing in its rows. Types widen where they differ: integers and floats to floats, numbers and text to text.",
        )
        .input("top", PortType::Table, "The table whose rows come first")
        .input("bottom", PortType::Table, "The table whose rows are added below")
        .output("data", PortType::Table, "All rows of both tables")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let (Some(Some(top)), Some(Some(bottom))) = (inputs.first(), inputs.get(1)) else { return vec![None] };
        let mut columns: Vec<ColumnInfo> = top.columns.clone();
        for c in &mut columns {
            if let Some(other) = bottom.column(&c.name) {
                c.ty = common_column_type(c.ty, other.ty);
            }
        }
        columns.extend(bottom.columns.iter().filter(|c| top.column(&c.name).is_none()).cloned());
        vec![Some(Schema { columns })]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let top = ctx.table("top")?;
        let bottom = ctx.table("bottom")?;
        let mut names = column_names(&top.frame);
        names.extend(column_names(&bottom.frame).into_iter().filter(|n| top.frame.column(n).is_err()));
        let (mut upper, mut lower) = (Vec::with_capacity(names.len()), Vec::with_capacity(names.len()));
        for name in &names {
            let (a, b) = (top.frame.column(name).ok(), bottom.frame.column(name).ok());
            let dtype = match (a, b) {
                (Some(a), Some(b)) => common_type(a.dtype(), b.dtype()),
                (Some(c), None) | (None, Some(c)) => c.dtype().clone(),
                (None, None) => DataType::Null,
            };
            let fill = |column: Option<&Column>, height: usize| -> Result<Column, NodeError> {
                Ok(match column {
                    Some(c) => c
                        .cast(&dtype)
                        .map_err(|e| NodeError::data(format!("column \"{name}\" cannot be stacked as {dtype}: {e}")))?,
                    None => Column::full_null(name.as_str().into(), height, &dtype),
                })
            };
            upper.push(fill(a, top.height())?);
            lower.push(fill(b, bottom.height())?);
        }
        let frame = DataFrame::new(top.height(), upper)?.vstack(&DataFrame::new(bottom.height(), lower)?)?;
        let mut out = top.with_frame(frame);
        for (name, role) in &bottom.roles {
            out.roles.entry(name.clone()).or_insert(*role);
        }
        out.categorical.extend(bottom.categorical.iter().cloned());
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
