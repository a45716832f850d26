//! Import Data: a table from a CSV or Parquet file.

use std::fs::File;
use std::sync::Arc;

use polars::prelude::{ParquetReader, SerReader};
use serde_json::json;

use pipewright_engine::spec::{choice, int};
use pipewright_engine::{Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Value};

use super::csv_reading::{CsvSettings, read_csv_bytes};

/// Reads a CSV or Parquet file.
pub struct ImportData;

impl NodeKind for ImportData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("data.import_data", "Import Data", Category::Data, "Reads a table from a CSV or Parquet file. Column types are inferred; malformed rows are reported with their line and column.")
            .required_param("path", "File", ParamKind::FilePath { extensions: vec!["csv", "tsv", "txt", "parquet"], read: true }, "The file, relative to the workflow file.")
            .param("format", "Format", choice(&["auto", "csv", "parquet"]), json!("auto"), "auto: by the file extension (.parquet is Parquet, anything else CSV).")
            .param("delimiter", "Delimiter", choice(&["comma", "semicolon", "tab", "pipe", "space"]), json!("comma"), "CSV field separator.")
            .param("has_header", "First row is a header", ParamKind::Bool, json!(true), "Off: columns are named column_1, column_2, ….")
            .param("quote", "Quote character", choice(&["double", "single", "none"]), json!("double"), "Fields enclosed in this character may contain the delimiter.")
            .param("missing_markers", "Missing-value markers", ParamKind::Text, json!("NA"), "Comma-separated cell texts read as missing, besides empty cells.")
            .param("encoding", "Encoding", choice(&["utf-8", "latin-1"]), json!("utf-8"), "Text encoding of the file.")
            .param("infer_rows", "Rows for type inference", int(1, i64::from(u32::MAX)), json!(10_000), "How many rows decide each column's type.")
            .output("data", PortType::Table, "The table")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let relative = ctx.params.column("path")?;
        let path = ctx.resolve_path(relative);
        let format = match ctx.params.text("format")? {
            "auto" if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) => "parquet",
            "auto" => "csv",
            other => other,
        };
        let open_error = |e: std::io::Error| NodeError::Io(format!("cannot read {}: {e}", path.display()));
        let frame = if format == "parquet" {
            let file = File::open(&path).map_err(open_error)?;
            ParquetReader::new(file)
                .finish()
                .map_err(|e| NodeError::data(format!("{} is not a readable Parquet file: {e}", path.display())))?
        } else {
            let bytes = std::fs::read(&path).map_err(open_error)?;
            let bytes = match ctx.params.text("encoding")? {
                "latin-1" => bytes.iter().map(|&b| char::from(b)).collect::<String>().into_bytes(),
                _ => match String::from_utf8(bytes) {
                    Ok(text) => text.into_bytes(),
                    Err(e) => {
                        let at = e.utf8_error().valid_up_to();
                        #[allow(clippy::naive_bytecount, reason = "runs once, on an error path")]
                        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                        return Err(NodeError::data(format!(
                            "{} is not valid UTF-8 (line {line}): set the encoding parameter to latin-1",
                            path.display()
                        )));
                    }
                },
            };
            let settings = CsvSettings {
                delimiter: match ctx.params.text("delimiter")? {
                    "semicolon" => b';',
                    "tab" => b'\t',
                    "pipe" => b'|',
                    "space" => b' ',
                    _ => b',',
                },
                has_header: ctx.params.bool("has_header")?,
                quote: match ctx.params.text("quote")? {
                    "single" => Some(b'\''),
                    "none" => None,
                    _ => Some(b'"'),
                },
                null_markers: ctx
                    .params
                    .text("missing_markers")?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                infer_rows: ctx.params.count("infer_rows")?,
            };
            read_csv_bytes(&bytes, &settings).map_err(|e| NodeError::data(format!("{}: {e}", path.display())))?
        };
        Ok(vec![Value::Table(Arc::new(Table::new(frame)))])
    }
}
