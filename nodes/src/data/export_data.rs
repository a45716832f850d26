//! Export Data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::{CsvWriter, ParquetWriter, SerWriter};
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Table, Value, Writes,
};

/// Writes a table to a CSV or Parquet file.
pub struct ExportData;

impl ExportData {
    /// The kind id.
    pub const ID: &'static str = "data.export_data";
}

/// The table attribute that records where a table was written.
pub const EXPORTED_TO_ATTRIBUTE: &str = "export.path";

/// Writes `table` to `path` atomically: into a temporary file beside it, then renamed over it, so a
/// reader never sees half a file and a failed write leaves any earlier file intact.
pub fn write_table(table: &Table, path: &Path, parquet: bool, overwrite: bool) -> Result<(), NodeError> {
    let io = |what: &str, e: &dyn std::fmt::Display| NodeError::Io(format!("cannot {what} {}: {e}", path.display()));
    if path.exists() && !overwrite {
        return Err(NodeError::param(
            "path",
            format!("{} exists: switch on overwrite or choose another file", path.display()),
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", &e))?;
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = File::create(&temporary).map_err(|e| io("create a temporary file for", &e))?;
        let mut frame = table.frame.clone();
        if parquet {
            ParquetWriter::new(file).finish(&mut frame).map_err(|e| io("write", &e))?;
        } else {
            let mut writer = BufWriter::new(file);
            CsvWriter::new(&mut writer).finish(&mut frame).map_err(|e| io("write", &e))?;
            writer.flush().map_err(|e| io("write", &e))?;
            writer.into_inner().map_err(|e| io("write", &e.error()))?.sync_all().map_err(|e| io("write", &e))?;
        }
        std::fs::rename(&temporary, path).map_err(|e| io("replace", &e))
    })();
    if result.is_err() {
        // Best effort: the temporary file is ours and useless after a failure.
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn is_parquet(params: &Params, path: &str) -> Result<bool, NodeError> {
    Ok(match params.text("format")? {
        "parquet" => true,
        "csv" => false,
        _ => Path::new(path).extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")),
    })
}

impl NodeKind for ExportData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Export Data",
            Category::Data,
            "Writes the table to a CSV or Parquet file, relative to the workflow file. The file is written to a temporary file first and then renamed, so it is never left half-written. The table passes through unchanged, so later blocks can follow.",
        )
        .input("data", PortType::Table, "The table to write")
        .required_param("path", "File", ParamKind::FilePath { extensions: vec!["csv", "parquet"], read: false }, "The file to write, relative to the workflow file; missing folders are created.")
        .param("format", "Format", choice(&["auto", "csv", "parquet"]), json!("auto"), "auto: by the file extension (.parquet is Parquet, anything else CSV).")
        .param("overwrite", "Overwrite an existing file", ParamKind::Bool, json!(true), "Off: the block fails instead of replacing a file that exists.")
        .output("data", PortType::Table, "The same table, unchanged")
        .writes(Writes::File)
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let relative = ctx.params.column("path")?;
        let path = ctx.resolve_path(relative);
        write_table(&table, &path, is_parquet(ctx.params, relative)?, ctx.params.bool("overwrite")?)?;
        let mut out = (*table).clone();
        out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(path.display().to_string()));
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
