//! Export Data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema, SchemaEnv, Table, Value,
    Writes,
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
    write_batches(std::iter::once(Ok(table.frame.clone())), path, parquet, overwrite, &mut |_| Ok(())).map(drop)
}

/// Writes batches of rows to `path` as one file, atomically as [`write_table`] does; `on_batch` hears the
/// rows written so far after each batch (and may stop the write with an error). Returns the rows written.
pub fn write_batches(
    batches: impl Iterator<Item = Result<DataFrame, NodeError>>,
    path: &Path,
    parquet: bool,
    overwrite: bool,
    on_batch: &mut dyn FnMut(usize) -> Result<(), NodeError>,
) -> Result<usize, NodeError> {
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
        let mut rows = 0;
        if parquet {
            let mut writer = None;
            let mut file = Some(file);
            for batch in batches {
                // The batched writer walks the columns' chunks side by side: columns added one by one (scores
                // beside the rows read) may be chunked differently.
                let mut batch = batch?;
                if batch.should_rechunk() {
                    batch.rechunk_mut();
                }
                if writer.is_none() {
                    let file = file.take().ok_or_else(|| io("write", &"the file was already handed on"))?;
                    writer = Some(ParquetWriter::new(file).batched(batch.schema()).map_err(|e| io("write", &e))?);
                }
                if let Some(w) = writer.as_mut() {
                    w.write_batch(&batch).map_err(|e| io("write", &e))?;
                }
                rows += batch.height();
                on_batch(rows)?;
            }
            match (writer, file) {
                (Some(w), _) => {
                    w.finish().map_err(|e| io("write", &e))?;
                }
                // No batch at all: an empty table.
                (None, Some(file)) => {
                    ParquetWriter::new(file).finish(&mut DataFrame::empty()).map_err(|e| io("write", &e))?;
                }
                (None, None) => {}
            }
        } else {
            let mut writer = BufWriter::new(file);
            let mut header = true;
            for batch in batches {
                let mut batch = batch?;
                CsvWriter::new(&mut writer).include_header(header).finish(&mut batch).map_err(|e| io("write", &e))?;
                // The header once, with the first batch (even one a filter left empty).
                header = false;
                rows += batch.height();
                on_batch(rows)?;
            }
            writer.flush().map_err(|e| io("write", &e))?;
            writer.into_inner().map_err(|e| io("write", &e.error()))?.sync_all().map_err(|e| io("write", &e))?;
        }
        std::fs::rename(&temporary, path).map_err(|e| io("replace", &e))?;
        Ok(rows)
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
        let relative = ctx.params.column("path")?;
        let path = ctx.resolve_path(relative);
        let (parquet, overwrite) = (is_parquet(ctx.params, relative)?, ctx.params.bool("overwrite")?);
        let table = match ctx.rows("data")? {
            Rows::Table(table) => table,
            // Streamed: written a batch at a time, with the rows so far as progress; Stop ends it between batches.
            Rows::Stream(stream) => {
                let mut on_batch = |_rows: usize| ctx.check_cancelled();
                write_batches(ctx.read(&stream, "writing")?, &path, parquet, overwrite, &mut on_batch)?;
                let mut out = (*stream).clone();
                out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(path.display().to_string()));
                return Ok(vec![Value::Stream(Arc::new(out))]);
            }
        };
        write_table(&table, &path, parquet, overwrite)?;
        let mut out = (*table).clone();
        out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(path.display().to_string()));
        Ok(vec![Value::Table(Arc::new(out))])
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::{Column, DataFrame};

    use super::*;

    fn batch(values: &[i64]) -> DataFrame {
        DataFrame::new(values.len(), vec![Column::new("x".into(), values.to_vec())]).expect("a batch")
    }

    #[test]
    fn batches_make_one_csv_with_one_header_even_when_the_first_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.csv");
        let mut seen = Vec::new();
        let batches = [batch(&[]), batch(&[1, 2]), batch(&[]), batch(&[3])].map(Ok);
        let mut on_batch = |rows: usize| {
            seen.push(rows);
            Ok(())
        };
        let rows = write_batches(batches.into_iter(), &path, false, true, &mut on_batch).expect("writes");
        assert_eq!(rows, 3);
        assert_eq!(seen, [0, 2, 2, 3], "rows written after each batch");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "x\n1\n2\n3\n");
    }

    #[test]
    fn a_failing_batch_leaves_no_file_and_keeps_the_one_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.parquet");
        std::fs::write(&path, b"the earlier file").expect("writes");
        let batches = [Ok(batch(&[1])), Err(NodeError::data("line 7: not a number"))];
        let err = write_batches(batches.into_iter(), &path, true, true, &mut |_| Ok(())).expect_err("fails");
        assert!(err.to_string().contains("line 7"), "{err}");
        assert_eq!(std::fs::read(&path).expect("reads"), b"the earlier file");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).expect("lists").flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        assert_eq!(names, ["out.parquet"], "no temporary file is left");
    }
}
