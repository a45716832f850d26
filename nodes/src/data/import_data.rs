//! Import Data: a table from a CSV, Parquet, JSON or NDJSON file, a workbook, a query on a `SQLite` database or
//! on `PostgreSQL`; files may be local or at `http(s)://` and `s3://` addresses.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::{DataFrame, ParquetReader, SerReader};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{choice, int};
use pipewright_engine::{
    BatchSource, TableStream,
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Table, Value,
};

use super::csv_reading::{CsvSettings, read_csv_bytes, read_with_polars, unique_header};
use super::json_reading::read_json_bytes;
use super::sqlite_reading::read_sqlite;
use super::stream_source::{CsvSource, ParquetSource};

/// Reads a CSV, Parquet, JSON or NDJSON file, or the result of a `SQLite` query.
pub struct ImportData;

impl ImportData {
    /// The kind id.
    pub const ID: &'static str = "data.import_data";
}

/// How much of a CSV file schema propagation reads.
const PEEK_BYTES: usize = 1 << 20;

/// How much of a CSV file is read to check its separator before it is parsed.
const SNIFF_LINES_BYTES: usize = 1 << 16;

/// How many result rows of a `SQLite` query schema propagation reads.
const PEEK_ROWS: usize = 1000;

/// Reads the file as the parameters say; `peek_bytes` limits a CSV read to whole lines within that many bytes.
/// Returns the frame and notes on columns renamed to keep names unique.
fn read(path: &Path, params: &Params, peek_bytes: Option<usize>) -> Result<(DataFrame, Vec<String>), NodeError> {
    let (frame, notes) = read_raw(path, params, peek_bytes)?;
    // Parquet columns carry their types; text read from anything else may hold dates.
    if format_of(path, params)? == "parquet" {
        return Ok((frame, notes));
    }
    Ok((super::dates::recognise(frame, params.text("date_format")?)?, notes))
}

/// Reads the file as [`read`] does, leaving dates as text.
fn read_raw(path: &Path, params: &Params, peek_bytes: Option<usize>) -> Result<(DataFrame, Vec<String>), NodeError> {
    let format = format_of(path, params)?;
    let open_error = |e: std::io::Error| NodeError::Io(format!("cannot read {}: {e}", path.display()));
    if format == "parquet" {
        let file = File::open(path).map_err(open_error)?;
        let mut reader = ParquetReader::new(file);
        if peek_bytes.is_some() {
            reader = reader.with_slice(Some((0, 0)));
        }
        return reader
            .finish()
            .map(|frame| (frame, Vec::new()))
            .map_err(|e| NodeError::data(format!("{} is not a readable Parquet file: {e}", path.display())));
    }
    if format == "sqlite" {
        return read_sqlite(path, params.text("query")?, peek_bytes.map(|_| PEEK_ROWS))
            .map(|frame| (frame, Vec::new()));
    }
    if format == "excel" {
        let (sheet, range, header) = (params.text("sheet")?, params.text("range")?, params.bool("has_header")?);
        return super::excel_reading::read_workbook(path, sheet, range, header, peek_bytes.map(|_| PEEK_ROWS))
            .map(|frame| (frame, Vec::new()));
    }
    // A file that is not text at all (UTF-16, compressed, binary) is named for what it is, before any parser
    // quotes a piece of it back.
    if let Some(problem) = super::file_kind::not_text(path) {
        return Err(NodeError::data(problem));
    }
    if format == "json" || format == "ndjson" {
        // A JSON array cannot be read in part, so schema propagation reads the whole file.
        let limit = if format == "ndjson" { peek_bytes } else { None };
        let bytes = read_bytes(path, limit)?;
        return read_json_bytes(&bytes, format == "ndjson")
            .map_err(|e| NodeError::data(format!("{}: {e}", path.display())));
    }
    let settings = csv_settings(params)?;
    if let Some(problem) =
        super::file_kind::delimiter_mismatch(&read_bytes(path, Some(SNIFF_LINES_BYTES))?, settings.delimiter)
    {
        return Err(NodeError::data(format!(
            "{} does not look like the table it was set up for: {problem}",
            path.display()
        )));
    }
    let utf8 = params.text("encoding")? != "latin-1";
    // A whole UTF-8 file of the simple shape is read block by block, never held in memory whole.
    let streamed = peek_bytes.is_none() && utf8;
    if streamed && let Some(frame) = super::fast_csv::read_file(path, &settings) {
        return Ok((frame, Vec::new()));
    }
    let mut bytes = read_bytes(path, peek_bytes)?;
    bytes = match params.text("encoding")? {
        "latin-1" => bytes.iter().map(|&b| char::from(b)).collect::<String>().into_bytes(),
        _ => match String::from_utf8(bytes) {
            Ok(text) => text.into_bytes(),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                #[allow(clippy::naive_bytecount, reason = "runs once, on an error path")]
                let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                let advice = if super::file_kind::may_be_latin1(e.as_bytes()) {
                    "set the encoding parameter to latin-1"
                } else {
                    "it holds bytes no text file has, so it is not latin-1 text either: check that the path names the data file you meant"
                };
                return Err(NodeError::data(format!("{} is not valid UTF-8 (line {line}): {advice}", path.display())));
            }
        },
    };
    let (bytes, renamed) = unique_header(bytes, &settings);
    // Files the block reader declined go straight to Polars.
    let read = if streamed && renamed.is_empty() {
        read_with_polars(&bytes, &settings)
    } else {
        read_csv_bytes(&bytes, &settings)
    };
    let frame = read.map_err(|e| NodeError::data(format!("{}: {e}", path.display())))?;
    Ok((frame, renamed))
}

/// The file's format as the parameters say: given, or by the extension.
fn format_of<'p>(path: &Path, params: &'p Params) -> Result<&'p str, NodeError> {
    Ok(match params.text("format")? {
        "auto" => {
            let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            match extension.as_str() {
                "parquet" => "parquet",
                "json" => "json",
                "ndjson" | "jsonl" => "ndjson",
                "db" | "sqlite" | "sqlite3" => "sqlite",
                "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => "excel",
                _ => "csv",
            }
        }
        other => other,
    })
}

/// The file as a stream when it is larger than half the memory budget (its table would take about as much
/// again): CSV with a header in UTF-8, or Parquet. Other files, and smaller ones, are read whole.
/// A CSV file read more than once (the fits of several blocks, then a model) is copied into a spill the second
/// time, and read from it after.
fn stream_of(
    path: &Path,
    params: &Params,
    memory_budget: u64,
    spill: &pipewright_engine::spill::SpillDir,
) -> Result<Option<TableStream>, NodeError> {
    let Ok(size) = std::fs::metadata(path).map(|m| m.len()) else { return Ok(None) };
    if size <= memory_budget / 2 {
        return Ok(None);
    }
    // Batches of about an eighth of the budget, so a few of them in flight stay well inside it.
    let batch_bytes = spill.batch_bytes();
    let source: Arc<dyn BatchSource> = match format_of(path, params)? {
        "parquet" => Arc::new(ParquetSource::open(path, batch_bytes)?),
        "csv" => {
            let settings = csv_settings(params)?;
            if !settings.has_header || params.text("encoding")? == "latin-1" {
                return Ok(None);
            }
            if let Some(problem) = super::file_kind::not_text(path) {
                return Err(NodeError::data(problem));
            }
            let csv = Arc::new(CsvSource::new(path, settings, batch_bytes));
            Arc::new(pipewright_engine::spill::SpillOnReread::new(csv, spill.clone()))
        }
        _ => return Ok(None),
    };
    Ok(Some(TableStream::new(source)))
}

/// A table with the notes of its reading as its warning, which the block's summary shows.
fn with_notes(frame: DataFrame, notes: &[String]) -> Table {
    let mut table = Table::new(frame);
    if !notes.is_empty() {
        table.attributes.insert(
            crate::transform::WARNING_ATTRIBUTE.into(),
            json!(format!("renamed columns: {}", notes.join("; "))),
        );
    }
    table
}

/// Reads a data file the way Import Data does with its default settings: the format by the extension (CSV,
/// Parquet, JSON, NDJSON), CSV as UTF-8 with a header row.
pub fn read_file(path: &Path) -> Result<DataFrame, NodeError> {
    let spec = ImportData.spec();
    let defaults = spec.params.iter().map(|p| (p.name.to_owned(), p.default.clone())).collect();
    read(path, &Params::from_map(defaults), None).map(|(frame, _)| frame)
}

/// The file's bytes; `peek_bytes` limits them to whole lines within that many bytes.
fn read_bytes(path: &Path, peek_bytes: Option<usize>) -> Result<Vec<u8>, NodeError> {
    let open_error = |e: std::io::Error| NodeError::Io(format!("cannot read {}: {e}", path.display()));
    Ok(match peek_bytes {
        None => std::fs::read(path).map_err(open_error)?,
        Some(limit) => {
            let mut head = Vec::with_capacity(limit);
            File::open(path).map_err(open_error)?.take(limit as u64).read_to_end(&mut head).map_err(open_error)?;
            if head.len() == limit {
                let end = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                head.truncate(end);
            }
            head
        }
    })
}

fn csv_settings(params: &Params) -> Result<CsvSettings, NodeError> {
    Ok(CsvSettings {
        delimiter: match params.text("delimiter")? {
            "semicolon" => b';',
            "tab" => b'\t',
            "pipe" => b'|',
            "space" => b' ',
            _ => b',',
        },
        has_header: params.bool("has_header")?,
        quote: match params.text("quote")? {
            "single" => Some(b'\''),
            "none" => None,
            _ => Some(b'"'),
        },
        null_markers: params
            .text("missing_markers")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        infer_rows: params.count("infer_rows")?,
    })
}

impl NodeKind for ImportData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(Self::ID, "Import Data", Category::Data, "Reads a table from a CSV, Parquet, JSON (an array of objects) or NDJSON (one object per line) file, a workbook (Excel or OpenDocument), or the result of a SQL query on a SQLite database or a PostgreSQL server. The file may be on this machine, at an http(s) URL or in S3 (s3://bucket/key). Column types are inferred; malformed rows are reported with their line and column.")
            .param("path", "File", ParamKind::FilePath { extensions: vec!["csv", "tsv", "txt", "parquet", "json", "ndjson", "jsonl", "db", "sqlite", "sqlite3", "xlsx", "xlsm", "xlsb", "xls", "ods"], read: true }, Json::Null, "The file, relative to the workflow file; or an http:// or https:// URL, or s3://bucket/key (credentials, region and an S3-compatible endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL or the AWS profile). A remote file is downloaded into the project's cache and fetched again only when its ETag or Last-Modified changes.")
            .param("format", "Format", choice(&["auto", "csv", "parquet", "json", "ndjson", "sqlite", "excel", "postgres"]), json!("auto"), "auto: by the file extension (.parquet is Parquet, .json JSON, .ndjson and .jsonl NDJSON, .db, .sqlite and .sqlite3 a SQLite database, .xlsx, .xlsm, .xlsb, .xls and .ods a workbook, anything else CSV). postgres: a PostgreSQL query or table through the connection named below (no file); it is read again on every run. JSON keys become columns; values that are all integers, numbers or booleans get that type, anything else is text.")
            .param("sheet", "Sheet", ParamKind::Text, json!(""), "excel: the sheet to read; empty: the first. A name that is not there is refused, listing the sheets.")
            .param("range", "Cell range", ParamKind::Text, json!(""), "excel: the cells to read, as A1:D200, or B3: from B3 to the end of the used area; empty: the whole used area. Its first row names the columns when the header setting is on. Whole numbers make integer columns, numbers float columns, true/false boolean columns, dates ISO 8601 text; mixed columns are text; empty cells and formula errors are missing.")
            .param("query", "SQL query", ParamKind::Text, json!(""), "sqlite and postgres: the query whose result is the table, for example SELECT * FROM flights WHERE year = 2024. SQLite: the database is opened read-only; INTEGER values make integer columns, INTEGER mixed with REAL float columns, anything else text (BLOBs as hex). PostgreSQL: the query runs in a read-only transaction; integer types make integer columns, real and numeric float columns, dates and times ISO 8601 text, other types must be cast in the query. NULL is a missing value.")
            .param("connection", "Connection", ParamKind::Text, json!("DATABASE_URL"), "postgres: the connection's name: an environment variable holding the connection string (postgresql://user:password@host:5432/database), or a connection saved with `pipewright connection add NAME`. The connection string, and its password, is never written into the workflow or the run history.")
            .param("table", "Table", ParamKind::Text, json!(""), "postgres: a table (or schema.table) to read whole, when no query is given.")
            .live_when("format", "postgres")
            .required_unless("path", "format", "postgres")
            .param("date_format", "Date format", ParamKind::Text, json!("auto"), "How dates in text are read. auto: ISO 8601 (2026-01-02, 2026-01-02T08:15:00, with a fraction and Z or an offset, converted to UTC); a pattern such as %d/%m/%Y or %m/%d/%y %I:%M %p (%Y %y %m %d %b %B %H %I %p %M %S %f); none: dates stay text. A text column whose first value is a date becomes a Date column (a Datetime column when values have times); a later value that is not a date is refused, naming its row.")
            .param("delimiter", "Delimiter", choice(&["comma", "semicolon", "tab", "pipe", "space"]), json!("comma"), "CSV field separator.")
            .param("has_header", "First row is a header", ParamKind::Bool, json!(true), "Off: columns are named column_1, column_2, ….")
            .param("quote", "Quote character", choice(&["double", "single", "none"]), json!("double"), "Fields enclosed in this character may contain the delimiter.")
            .param("missing_markers", "Missing-value markers", ParamKind::Text, json!("NA"), "Comma-separated cell texts read as missing, besides empty cells.")
            .param("encoding", "Encoding", choice(&["utf-8", "latin-1"]), json!("utf-8"), "Text encoding of the file.")
            .param("infer_rows", "Rows for type inference", int(1, i64::from(u32::MAX)), json!(10_000), "How many rows decide each column's type.")
            .output("data", PortType::Table, "The table")
    }

    fn output_schemas(&self, _inputs: &[Option<Schema>], params: &Params, env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        // A database is not asked while the workflow is edited: its columns are known once a run has read it.
        if params.optional_text("format") == Some("postgres") {
            return vec![None];
        }
        // Peek at the start of the file so column parameters downstream can be checked and offered.
        // A remote file is peeked at in its downloaded copy, once a run has fetched it: no network here.
        let schema = env
            .base_dir
            .zip(params.optional_text("path"))
            .and_then(|(dir, path)| {
                if pipewright_engine::remote::is_remote(path) {
                    pipewright_engine::remote::cached(path, dir)
                } else {
                    Some(dir.join(path))
                }
            })
            .and_then(|path| read(&path, params, Some(PEEK_BYTES)).ok());
        vec![schema.map(|(frame, notes)| with_notes(frame, &notes).schema())]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        if ctx.params.text("format")? == "postgres" {
            let (query, table) = (ctx.params.text("query")?, ctx.params.text("table")?);
            ctx.report_progress(0.0, "querying PostgreSQL");
            let frame = super::postgres::read(ctx.params.text("connection")?, query, table, None)?;
            let frame = super::dates::recognise(frame, ctx.params.text("date_format")?)?;
            return Ok(vec![Value::Table(Arc::new(Table::new(frame)))]);
        }
        let path = ctx.params.optional_text("path").ok_or_else(|| {
            NodeError::param("path", "choose the file to read (or set the format to postgres to read a database)")
        })?;
        let path = ctx.local_file(path)?;
        if let Some(stream) = stream_of(&path, ctx.params, ctx.memory_budget, ctx.spill)? {
            return Ok(vec![Value::Stream(Arc::new(stream))]);
        }
        let (frame, notes) = read(&path, ctx.params, None)?;
        Ok(vec![Value::Table(Arc::new(with_notes(frame, &notes)))])
    }
}
