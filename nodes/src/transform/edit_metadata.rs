//! Edit Metadata.

use std::sync::Arc;

use polars::prelude::DataFrame;
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role, Rows, Schema, SchemaEnv,
    Table, Value,
};

use crate::frame::require_columns;

/// Sets column roles (feature, label, ignored), categorical marks and names.
pub struct EditMetadata;

impl EditMetadata {
    /// The kind id.
    pub const ID: &'static str = "transform.edit_metadata";
}

fn parse_role(role: &str) -> Option<Role> {
    match role {
        "feature" => Some(Role::Feature),
        "label" => Some(Role::Label),
        "ignored" => Some(Role::Ignored),
        _ => None,
    }
}

fn new_names(params: &Params) -> Vec<String> {
    params
        .text("new_names")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `table` with the roles, marks and names the parameters set.
fn edited(table: &Table, params: &Params) -> Result<Table, NodeError> {
        let columns = params.columns("columns");
        require_columns(&table.frame, &columns)?;
        let names = new_names(params);
        if !names.is_empty() && names.len() != columns.len() {
            return Err(NodeError::param(
                "new_names",
                format!("give {} names, one per chosen column; got {}", columns.len(), names.len()),
            ));
        }
        let mut out: Table = (*table).clone();
        if let Some(role) = parse_role(params.text("role")?) {
            if role == Role::Label {
                out.roles.retain(|_, r| *r != Role::Label);
            }
            for c in &columns {
                out.roles.insert(c.clone(), role);
            }
        }
        match params.text("categorical")? {
            "categorical" => out.categorical.extend(columns.iter().cloned()),
            "not_categorical" => out.categorical.retain(|c| !columns.contains(c)),
            _ => {}
        }
        for (old, new) in columns.iter().zip(&names) {
            out.frame.rename(old, new.as_str().into())?;
            if let Some(role) = out.roles.remove(old) {
                out.roles.insert(new.clone(), role);
            }
            if out.categorical.remove(old) {
                out.categorical.insert(new.clone());
            }
        }
        Ok(out)
}

impl NodeKind for EditMetadata {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Edit Metadata",
            Category::Transform,
            "Marks columns as features, label or ignored, as categorical or not, and renames them.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "The columns to change.")
        .param(
            "role",
            "Role",
            choice(&["unchanged", "feature", "label", "ignored"]),
            json!("unchanged"),
            "Their new role. Marking a label unmarks any other label.",
        )
        .param(
            "categorical",
            "Categorical",
            choice(&["unchanged", "categorical", "not_categorical"]),
            json!("unchanged"),
            "Whether numeric columns hold categories rather than quantities.",
        )
        .param(
            "new_names",
            "New names",
            ParamKind::Text,
            json!(""),
            "Comma-separated new names, one per chosen column, in order. Empty keeps the names.",
        )
        .passes_rows_through()
        .output("data", PortType::Table, "The table with new metadata")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let columns = params.columns("columns");
        let role = params.text("role").ok().and_then(parse_role);
        let names = new_names(params);
        let schema = inputs.first().cloned().flatten().map(|mut s| {
            for c in &mut s.columns {
                if role == Some(Role::Label) && c.role == Role::Label {
                    c.role = Role::Feature;
                }
                if let Some(i) = columns.iter().position(|n| *n == c.name) {
                    if let Some(r) = role {
                        c.role = r;
                    }
                    if let Some(n) = names.get(i) {
                        c.name.clone_from(n);
                    }
                }
            }
            s
        });
        vec![schema]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        match ctx.rows("data")? {
            Rows::Table(table) => Ok(vec![Value::Table(Arc::new(edited(&table, ctx.params)?))]),
            // Streamed: the roles and marks change once; renamed columns are renamed in every batch.
            Rows::Stream(stream) => {
                let meta = edited(&stream.head(0)?, ctx.params)?;
                let renames: Vec<(String, String)> =
                    ctx.params.columns("columns").into_iter().zip(new_names(ctx.params)).collect();
                let step = move |mut frame: DataFrame| {
                    for (old, new) in &renames {
                        frame.rename(old, new.as_str().into())?;
                    }
                    Ok(frame)
                };
                let mut out = stream.then(Arc::new(step));
                out.roles = meta.roles;
                out.categorical = meta.categorical;
                Ok(vec![Value::Stream(Arc::new(out))])
            }
        }
    }
}
