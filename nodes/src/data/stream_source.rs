//! Files read a batch at a time, for tables larger than the memory budget: CSV in line-aligned blocks of bytes
//! (column types fixed by the first block, as an in-memory read infers them from the first rows) and Parquet in
//! slices of rows.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use pipewright_engine::{BatchSource, Batches, NodeError};

use super::csv_reading::{CsvSettings, read_csv_bytes};

/// A CSV file with a header, read in blocks of about `block_bytes`.
#[derive(Debug)]
pub struct CsvSource {
    path: PathBuf,
    settings: CsvSettings,
    block_bytes: usize,
}

impl CsvSource {
    /// `path` read with `settings` (which must say the file has a header) in blocks of about `block_bytes`.
    pub fn new(path: &Path, settings: CsvSettings, block_bytes: usize) -> Self {
        Self { path: path.to_path_buf(), settings, block_bytes: block_bytes.max(1 << 16) }
    }
}

/// Where the last complete record of `bytes` ends: after its last line end outside quotes (so a quoted field
/// holding a line break is never cut); 0 when there is none.
fn record_end(bytes: &[u8], quote: Option<u8>) -> usize {
    // Without a quote character in the block, the last line end; otherwise only quotes and line ends are visited.
    let Some(quote) = quote.filter(|&q| memchr::memchr(q, bytes).is_some()) else {
        return memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    };
    let mut quoted = false;
    let mut end = 0;
    for i in memchr::memchr2_iter(quote, b'\n', bytes) {
        if bytes[i] == quote {
            quoted = !quoted;
        } else if !quoted {
            end = i + 1;
        }
    }
    end
}

/// Reads up to `want` more bytes into `buffer`; whether the file ended.
fn fill(file: &mut File, buffer: &mut Vec<u8>, want: usize, path: &Path) -> Result<bool, NodeError> {
    super::fast_csv::fill(file, buffer, want).ok_or_else(|| NodeError::Io(format!("cannot read {}", path.display())))
}

/// The CSV batches of one reading.
struct CsvBatches<'a> {
    source: &'a CsvSource,
    file: File,
    header: Vec<u8>,
    buffer: Vec<u8>,
    ended: bool,
    /// The line the next batch starts on (the header is line 1).
    line: usize,
    /// Column types, from the first batch.
    schema: Option<Schema>,
    failed: bool,
}

impl CsvBatches<'_> {
    fn next_batch(&mut self) -> Result<Option<DataFrame>, NodeError> {
        let path = &self.source.path;
        // The first batch holds at least the rows types are inferred from, as an in-memory read infers them.
        let least_lines = if self.schema.is_none() { self.source.settings.infer_rows } else { 1 };
        loop {
            let cut = record_end(&self.buffer, self.source.settings.quote);
            let lines = memchr::memchr_iter(b'\n', &self.buffer[..cut]).count();
            if self.ended || (cut > 0 && lines >= least_lines && self.buffer.len() >= self.source.block_bytes / 2) {
                break;
            }
            self.ended = fill(&mut self.file, &mut self.buffer, self.source.block_bytes, path)?;
        }
        let cut = if self.ended { self.buffer.len() } else { record_end(&self.buffer, self.source.settings.quote) };
        let block: Vec<u8> = self.buffer.drain(..cut).collect();
        if block.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let lines = memchr::memchr_iter(b'\n', &block).count();
        let first_line = self.line;
        self.line += lines;
        let mut bytes = self.header.clone();
        bytes.extend_from_slice(&block);
        // The purpose-built reader where the block has its simple shape (as an in-memory read does), Polars'
        // reader otherwise, whose errors name the line.
        let frame = match super::fast_csv::read(&bytes, &self.source.settings) {
            Some(frame) => frame,
            None => read_csv_bytes(&bytes, &self.source.settings).map_err(|e| {
                // The reader counts lines in the batch (its header is line 1): name the file's lines instead.
                NodeError::data(format!("{}: {}", path.display(), shift_lines(&e.to_string(), first_line - 2)))
            })?,
        };
        Ok(Some(match &self.schema {
            None => {
                self.schema = Some(frame.schema().as_ref().clone());
                frame
            }
            Some(schema) => conform(&frame, schema, path, first_line)?,
        }))
    }
}

/// `message` with every "line N" moved on by `offset` lines.
fn shift_lines(message: &str, offset: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + "line ".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A later batch with the first batch's column types: integers widen to floats; anything else that differs is
/// an error naming the column and the lines.
fn conform(frame: &DataFrame, schema: &Schema, path: &Path, line: usize) -> Result<DataFrame, NodeError> {
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let column = frame.column(name)?;
        let fits = column.dtype() == dtype || column.null_count() == column.len();
        let widened = column.dtype().is_integer() && dtype.is_float();
        if !fits && !widened {
            // The first cell that does not convert names the line; the file's values are never quoted.
            let converted = column.cast(dtype).ok();
            let first_bad = converted.as_ref().and_then(|c| {
                let (present, kept) = (column.is_not_null(), c.is_not_null());
                (0..column.len()).find(|&i| present.get(i) == Some(true) && kept.get(i) != Some(true))
            });
            let at = first_bad
                .map_or_else(|| format!("in the rows from line {line} on"), |i| format!("at line {}", line + i));
            return Err(NodeError::data(format!(
                "{}: column \"{name}\" holds a {} value {at}, where the first rows made it {}; fix the value, add it to the missing-value markers, or raise the rows used for type inference",
                path.display(),
                column.dtype(),
                dtype
            )));
        }
        columns.push(column.cast(dtype)?);
    }
    Ok(DataFrame::new(frame.height(), columns)?)
}

impl Iterator for CsvBatches<'_> {
    type Item = Result<DataFrame, NodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_batch();
        self.failed = next.is_err();
        next.transpose()
    }
}

impl BatchSource for CsvSource {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        let open = |e: std::io::Error| NodeError::Io(format!("cannot read {}: {e}", self.path.display()));
        let mut file = File::open(&self.path).map_err(open)?;
        let mut buffer = Vec::new();
        let mut ended = fill(&mut file, &mut buffer, self.block_bytes, &self.path)?;
        // The header line.
        let header_end = loop {
            if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                break end + 1;
            }
            if ended {
                break buffer.len();
            }
            ended = fill(&mut file, &mut buffer, self.block_bytes, &self.path)?;
        };
        let mut header: Vec<u8> = buffer.drain(..header_end).collect();
        if !header.ends_with(b"\n") {
            header.push(b'\n');
        }
        Ok(Box::new(CsvBatches { source: self, file, header, buffer, ended, line: 2, schema: None, failed: false }))
    }

    fn describe(&self) -> String {
        file_name(&self.path)
    }

    /// The file's size over the mean length of its first lines (a quarter of a megabyte of them).
    fn rows_hint(&self) -> Option<usize> {
        use std::io::Read as _;
        let size = std::fs::metadata(&self.path).ok()?.len();
        let mut head = Vec::with_capacity(1 << 18);
        File::open(&self.path).ok()?.take(1 << 18).read_to_end(&mut head).ok()?;
        let lines = memchr::memchr_iter(b'\n', &head).count();
        let header = head.iter().position(|&b| b == b'\n')? + 1;
        let per_line = (head.len() - header) as f64 / (lines.saturating_sub(1)).max(1) as f64;
        Some(((size as f64 - header as f64) / per_line.max(1.0)).round() as usize)
    }
}

/// A Parquet file read in slices of rows.
#[derive(Debug)]
pub struct ParquetSource {
    path: PathBuf,
    rows: usize,
    batch_rows: usize,
}

impl ParquetSource {
    /// `path`, in slices of about `batch_bytes` of decoded data.
    pub fn open(path: &Path, batch_bytes: usize) -> Result<Self, NodeError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            NodeError::data(format!("{} is not a readable Parquet file: {e}", path.display()))
        };
        let file = File::open(path).map_err(|e| NodeError::Io(format!("cannot read {}: {e}", path.display())))?;
        let mut reader = ParquetReader::new(file);
        let rows = reader.num_rows().map_err(|e| unreadable(&e))?;
        let columns = reader.schema().map_err(|e| unreadable(&e))?.len().max(1);
        // Decoded, a cell takes about 8 bytes (numbers) to a few dozen (text).
        let batch_rows = (batch_bytes / (columns * 16)).clamp(1024, 1 << 20);
        Ok(Self { path: path.to_path_buf(), rows, batch_rows })
    }

    /// The batch that starts at row `start`.
    fn read(&self, start: usize) -> Result<DataFrame, NodeError> {
        let file =
            File::open(&self.path).map_err(|e| NodeError::Io(format!("cannot read {}: {e}", self.path.display())))?;
        ParquetReader::new(file)
            .with_slice(Some((start, self.batch_rows.min(self.rows - start))))
            .finish()
            .map_err(|e| NodeError::data(format!("{} is not a readable Parquet file: {e}", self.path.display())))
    }
}

impl BatchSource for ParquetSource {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        let starts = (0..self.rows).step_by(self.batch_rows);
        Ok(Box::new(starts.map(move |start| self.read(start))))
    }

    fn rows_hint(&self) -> Option<usize> {
        Some(self.rows)
    }

    fn describe(&self) -> String {
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn write_csv(dir: &Path, rows: usize) -> PathBuf {
        let path = dir.join("data.csv");
        let mut text = String::from("id,x,city\n");
        for i in 0..rows {
            let city = ["Cherbourg", "\"Queens,town\"", "Southampton"][i % 3];
            let x = if i % 7 == 3 { String::new() } else { format!("{}", i as f64 * 0.25) };
            let _ = writeln!(text, "{i},{x},{city}");
        }
        std::fs::write(&path, text).expect("writes");
        path
    }

    #[test]
    fn a_record_ends_at_the_last_line_end_outside_quotes() {
        let quoted = b"a,b\n1,\"x\ny\"\n2,\"z\n";
        // The last line end is inside the open quote of row 2: the records end after row 1.
        assert_eq!(record_end(quoted, Some(b'"')), b"a,b\n1,\"x\ny\"\n".len());
        // Without quoting, every line end ends a record.
        assert_eq!(record_end(quoted, None), quoted.len());
        assert_eq!(record_end(b"a,b\n1,2\n3,4", Some(b'"')), b"a,b\n1,2\n".len());
        assert_eq!(record_end(b"no line end", Some(b'"')), 0);
        assert_eq!(record_end(b"\"a\nb\"", Some(b'"')), 0);
    }

    #[test]
    fn csv_batches_stack_to_the_in_memory_read_for_any_block_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_csv(dir.path(), 5000);
        let whole = super::super::import_data::read_file(&path).expect("reads");
        for block in [1 << 16, 100_000] {
            let settings = CsvSettings { infer_rows: 100, ..CsvSettings::default() };
            let source = CsvSource::new(&path, settings, block);
            let batches: Vec<DataFrame> = source.batches().expect("opens").collect::<Result<_, _>>().expect("reads");
            assert!(block > 100_000 || batches.len() > 1, "several batches of {block} bytes");
            let mut stacked = batches[0].clone();
            for b in &batches[1..] {
                stacked.vstack_mut(b).expect("stacks");
            }
            assert!(stacked.equals_missing(&whole), "blocks of {block}: {stacked} vs {whole}");
        }
    }

    #[test]
    fn a_later_batch_that_does_not_fit_the_first_rows_types_names_the_column_and_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.csv");
        let mut text = String::from("id,x\n");
        for i in 0..20_000 {
            let _ = writeln!(text, "{i},{}", if i == 19_000 { "oops" } else { "1.5" });
        }
        std::fs::write(&path, text).expect("writes");
        let source = CsvSource::new(&path, CsvSettings { infer_rows: 100, ..CsvSettings::default() }, 1 << 16);
        let err = source.batches().expect("opens").collect::<Result<Vec<_>, _>>().expect_err("a text cell");
        let message = err.to_string();
        assert!(message.contains("\"x\"") && message.contains("line 19002"), "{message}");
    }

    #[test]
    fn lines_in_messages_count_from_the_start_of_the_file() {
        assert_eq!(
            shift_lines("malformed CSV at line 12, column 3; see line 2", 1000),
            "malformed CSV at line 1012, column 3; see line 1002"
        );
        assert_eq!(shift_lines("no numbers on this line", 5), "no numbers on this line");
    }

    #[test]
    fn parquet_slices_stack_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.parquet");
        let n = 5000;
        let mut frame = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), (0..i64::try_from(n).expect("fits")).collect::<Vec<_>>()),
                Column::new("x".into(), (0..n).map(|i| (i % 5 != 0).then_some(i as f64)).collect::<Vec<_>>()),
            ],
        )
        .expect("frame");
        ParquetWriter::new(File::create(&path).expect("creates")).finish(&mut frame).expect("writes");
        let source = ParquetSource::open(&path, 32 * 1024).expect("opens");
        let batches: Vec<DataFrame> = source.batches().expect("opens").collect::<Result<_, _>>().expect("reads");
        assert!(batches.len() > 1);
        let mut stacked = batches[0].clone();
        for b in &batches[1..] {
            stacked.vstack_mut(b).expect("stacks");
        }
        assert!(stacked.equals_missing(&frame));
    }
}
