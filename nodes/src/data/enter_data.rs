//! Enter Data Manually.

use std::sync::Arc;

use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Table, Value,
};

use super::csv_reading::{CsvSettings, read_csv_bytes};

/// A small table typed into the inspector.
pub struct EnterDataManually;

impl EnterDataManually {
    /// The kind id.
    pub const ID: &'static str = "data.enter_data_manually";
}

fn read(params: &Params) -> Result<Table, NodeError> {
    let text = params.text("data")?;
    if text.trim().is_empty() {
        return Err(NodeError::param("data", "type the table as CSV: a header line, then one line per row"));
    }
    let settings = CsvSettings {
        delimiter: match params.text("delimiter")? {
            "semicolon" => b';',
            "tab" => b'\t',
            _ => b',',
        },
        has_header: params.bool("has_header")?,
        null_markers: vec!["NA".into()],
        ..CsvSettings::default()
    };
    let frame = read_csv_bytes(text.trim_start_matches(['\n', '\r']).as_bytes(), &settings)
        .map_err(|e| NodeError::param("data", e.to_string()))?;
    Ok(Table::new(frame))
}

impl NodeKind for EnterDataManually {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Enter Data Manually",
            Category::Data,
            "A small table typed as CSV text, one line per row. Column types are inferred as by Import Data; empty cells and NA are missing.",
        )
        .param("data", "Data", ParamKind::Text, json!("name,value\na,1\nb,2"), "The table as CSV text: one line per row, the first line naming the columns when the header is on.")
        .param("has_header", "First line is a header", ParamKind::Bool, json!(true), "Off: columns are named column_1, column_2, ….")
        .param("delimiter", "Delimiter", choice(&["comma", "semicolon", "tab"]), json!("comma"), "The character between cells.")
        .output("data", PortType::Table, "The table")
    }

    fn output_schemas(&self, _inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![read(params).ok().map(|t| t.schema())]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(vec![Value::Table(Arc::new(read(ctx.params)?))])
    }
}
