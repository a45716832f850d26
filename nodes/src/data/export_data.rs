//! Export Data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};
use serde_json::{Value as Json, json};

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
            "Writes the table to a CSV or Parquet file (relative to the workflow file, at an http(s) URL or in S3), or to a PostgreSQL table. A local file is written to a temporary file first and then renamed, so it is never left half-written. The table passes through unchanged, so later blocks can follow.",
        )
        .input("data", PortType::Table, "The table to write")
        .param("path", "File", ParamKind::FilePath { extensions: vec!["csv", "parquet"], read: false }, Json::Null, "The file to write, relative to the workflow file (missing folders are created); or an http(s):// URL (uploaded with PUT) or s3://bucket/key (credentials as for Import Data).")
        .param("format", "Format", choice(&["auto", "csv", "parquet", "postgres"]), json!("auto"), "auto: by the file extension (.parquet is Parquet, anything else CSV). postgres: a table on a PostgreSQL server, through the connection named below (no file).")
        .param("overwrite", "Overwrite an existing file", ParamKind::Bool, json!(true), "Off: the block fails instead of replacing a file (or a PostgreSQL table) that exists.")
        .param("connection", "Connection", ParamKind::Text, json!("DATABASE_URL"), "postgres: the connection's name: an environment variable holding the connection string, or a connection saved with `pipewright connection add NAME`; never written into the workflow.")
        .param("table", "Table", ParamKind::Text, json!(""), "postgres: the table (or schema.table) to create. Integer columns become BIGINT, numbers DOUBLE PRECISION, booleans BOOLEAN, anything else TEXT; the table is replaced (or created) and filled in one transaction.")
        .required_unless("path", "format", "postgres")
        .output("data", PortType::Table, "The same table, unchanged")
        .writes(Writes::File)
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let overwrite = ctx.params.bool("overwrite")?;
        if ctx.params.text("format")? == "postgres" {
            let (connection, name) = (ctx.params.text("connection")?, ctx.params.text("table")?);
            let table = match ctx.rows("data")? {
                Rows::Table(table) => table,
                Rows::Stream(stream) => Arc::new(ctx.collect(&stream)?),
            };
            ctx.report_progress(0.0, &format!("writing {} rows to PostgreSQL", table.frame.height()));
            super::postgres::write(connection, name, &table.frame, overwrite)?;
            let mut out = (*table).clone();
            out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(format!("postgres:{connection}/{name}")));
            return Ok(vec![Value::Table(Arc::new(out))]);
        }
        let relative = ctx
            .params
            .optional_text("path")
            .ok_or_else(|| NodeError::param("path", "choose the file to write (or set the format to postgres)"))?;
        let parquet = is_parquet(ctx.params, relative)?;
        let remote = pipewright_engine::remote::is_remote(relative);
        if remote && !overwrite && pipewright_engine::remote::exists(relative).map_err(NodeError::Io)? {
            return Err(NodeError::param("path", format!("{relative} exists: switch on overwrite or choose another address")));
        }
        // A remote file is written here first, then uploaded whole.
        let path = if remote {
            let extension = if parquet { "parquet" } else { "csv" };
            std::env::temp_dir().join(format!("pipewright-upload-{}-{}.{extension}", std::process::id(), ctx.node_id))
        } else {
            ctx.resolve_path(relative)
        };
        let written = match ctx.rows("data")? {
            Rows::Table(table) => write_table(&table, &path, parquet, overwrite || remote).map(|()| Value::Table(table)),
            // Streamed: written a batch at a time, with the rows so far as progress; Stop ends it between batches.
            Rows::Stream(stream) => {
                let mut on_batch = |_rows: usize| ctx.check_cancelled();
                let written =
                    write_batches(ctx.read(&stream, "writing")?, &path, parquet, overwrite || remote, &mut on_batch);
                written.map(|_| Value::Stream(stream))
            }
        };
        let written = written.and_then(|value| {
            if remote {
                ctx.report_progress(0.0, &format!("uploading to {relative}"));
                let bytes = std::fs::read(&path).map_err(|e| NodeError::Io(format!("cannot read {}: {e}", path.display())))?;
                let kind = if parquet { "application/vnd.apache.parquet" } else { "text/csv" };
                pipewright_engine::remote::upload(relative, &bytes, kind).map_err(NodeError::Io)?;
            }
            Ok(value)
        });
        if remote {
            // Best effort: the local copy was only the upload's source.
            let _ = std::fs::remove_file(&path);
        }
        let where_to = if remote { relative.to_owned() } else { path.display().to_string() };
        Ok(vec![match written? {
            Value::Stream(stream) => {
                let mut out = (*stream).clone();
                out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(where_to));
                Value::Stream(Arc::new(out))
            }
            Value::Table(table) => {
                let mut out = (*table).clone();
                out.attributes.insert(EXPORTED_TO_ATTRIBUTE.into(), json!(where_to));
                Value::Table(Arc::new(out))
            }
            other => other,
        }])
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
