//! Tables that do not fit the memory budget stay on disk: a block output larger than the budget is written to a
//! Parquet file (the spill) and handed on as a stream read back a slice of rows at a time, and a fit that takes
//! many passes over a streamed table reads its columns from a spill instead of parsing the source again.
//!
//! A spill lives in the project's `.pipewright/spill/` (the system's temporary folder when the run has no
//! project cache), is written under a temporary name and renamed whole, and is deleted when the last stream
//! that reads it is dropped; files left by a process that ended without dropping them are removed by the next
//! run that spills.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;

use crate::error::NodeError;
use crate::stream::{BatchSource, Batches, TableStream};
use crate::value::Table;

/// Where a run spills.
#[derive(Debug, Clone)]
pub struct SpillDir {
    dir: PathBuf,
}

/// A spilled file, deleted when the last reader is gone.
#[derive(Debug)]
struct SpillFile {
    path: PathBuf,
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl SpillDir {
    /// Spills under `dir` (created when first needed).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The spill folder beside a project cache folder (`.pipewright/cache` → `.pipewright/spill`), or the
    /// system's temporary folder.
    pub fn beside(cache_dir: Option<&Path>) -> Self {
        match cache_dir.and_then(Path::parent) {
            Some(project) => Self::new(project.join("spill")),
            None => Self::new(std::env::temp_dir().join("pipewright-spill")),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh file name, and the folder made (with files of processes that are gone removed).
    fn next_path(&self, what: &str) -> Result<PathBuf, NodeError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| NodeError::Io(format!("cannot make the spill folder {}: {e}", self.dir.display())))?;
        if NEXT.load(Ordering::Relaxed) == 0 {
            remove_orphans(&self.dir);
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let safe: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        Ok(self.dir.join(format!("{}-{n}-{safe}.parquet", std::process::id())))
    }

    /// Writes `table` to a spill and returns it as a stream with the same roles and marks.
    pub fn table(&self, table: &Table, what: &str) -> Result<TableStream, NodeError> {
        let batch_rows = batch_rows(table.frame.width());
        let height = table.frame.height();
        let batches = (0..height.max(1))
            .step_by(batch_rows)
            .map(|start| Ok(table.frame.slice(i64::try_from(start).unwrap_or(i64::MAX), batch_rows)));
        self.write(batches, what, table)
    }

    /// Reads `stream` once into a spill and returns it as a stream of the spilled rows, with the same roles and
    /// marks: what a fit that takes many passes reads instead of its source.
    pub fn stream(&self, stream: &TableStream, batches: Batches<'_>, what: &str) -> Result<TableStream, NodeError> {
        let meta = Table {
            frame: DataFrame::default(),
            roles: stream.roles.clone(),
            categorical: stream.categorical.clone(),
            attributes: stream.attributes.clone(),
        };
        self.write(batches, what, &meta)
    }

    fn failed(&self, what: &str, failed: Failed) -> NodeError {
        match failed {
            Failed::Disk(message) => NodeError::Io(format!(
                "cannot spill {what} to {}: {message}; free some space there or raise the memory budget",
                self.dir.display()
            )),
            Failed::Reading(e) => e,
        }
    }

    fn write(
        &self,
        batches: impl Iterator<Item = Result<DataFrame, NodeError>>,
        what: &str,
        // Its roles, marks and attributes are the stream's (its frame is not read).
        meta: &Table,
    ) -> Result<TableStream, NodeError> {
        let path = self.next_path(what)?;
        let tmp = path.with_extension("parquet.tmp");
        let written = write_parquet(&tmp, batches).map_err(|e| self.failed(what, e));
        let renamed = written.and_then(|()| {
            std::fs::rename(&tmp, &path)
                .map_err(|e| NodeError::Io(format!("cannot spill {what} to {}: {e}", path.display())))
        });
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let file = Arc::new(SpillFile { path: path.clone() });
        let source = ParquetBatches::open(&path, usize::MAX)?.holding(file);
        let mut stream = TableStream::new(Arc::new(source));
        stream.roles.clone_from(&meta.roles);
        stream.categorical.clone_from(&meta.categorical);
        stream.attributes.clone_from(&meta.attributes);
        Ok(stream)
    }
}

/// Rows per row group and per batch read back: about 8 MiB of numbers.
fn batch_rows(columns: usize) -> usize {
    ((8 << 20) / (columns.max(1) * 8)).clamp(1024, 1 << 20)
}

/// Why a spill was not written.
#[derive(Debug)]
enum Failed {
    /// The file could not be written (the disk is full, say).
    Disk(String),
    /// The rows could not be read.
    Reading(NodeError),
}

/// Writes the batches to `path` as Parquet (LZ4), a row group per batch.
fn write_parquet(path: &Path, batches: impl Iterator<Item = Result<DataFrame, NodeError>>) -> Result<(), Failed> {
    let io = |e: &dyn std::fmt::Display| Failed::Disk(e.to_string());
    let file = File::create(path).map_err(|e| io(&e))?;
    let mut writer: Option<polars::io::parquet::write::BatchedWriter<File>> = None;
    let mut file = Some(file);
    for batch in batches {
        let mut batch = batch.map_err(Failed::Reading)?;
        if writer.is_none() {
            let Some(file) = file.take() else { break };
            writer = Some(
                ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Lz4Raw)
                    .batched(batch.schema())
                    .map_err(|e| io(&e))?,
            );
        }
        if let Some(writer) = &mut writer {
            batch.rechunk_mut();
            writer.write_batch(&batch).map_err(|e| io(&e))?;
        }
    }
    if let Some(writer) = writer {
        return writer.finish().map(drop).map_err(|e| io(&e));
    }
    // No batch at all: an empty file with no columns.
    let Some(file) = file else { return Ok(()) };
    ParquetWriter::new(file).finish(&mut DataFrame::default()).map(drop).map_err(|e| io(&e))
}

/// Removes spills of processes that are no longer running (a run that ended without dropping its streams).
fn remove_orphans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A Parquet file read in slices of rows.
#[derive(Debug)]
pub struct ParquetBatches {
    path: PathBuf,
    rows: usize,
    batch_rows: usize,
    /// The spill it reads, kept as long as the source is.
    spill: Option<Arc<SpillFile>>,
}

impl ParquetBatches {
    /// `path`, in slices of about `batch_bytes` of decoded data (`usize::MAX`: the file's row groups' size).
    pub fn open(path: &Path, batch_bytes: usize) -> Result<Self, NodeError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            NodeError::data(format!("{} is not a readable Parquet file: {e}", path.display()))
        };
        let file = File::open(path).map_err(|e| NodeError::Io(format!("cannot read {}: {e}", path.display())))?;
        let mut reader = ParquetReader::new(file);
        let rows = reader.num_rows().map_err(|e| unreadable(&e))?;
        let columns = reader.schema().map_err(|e| unreadable(&e))?.len().max(1);
        let batch_rows = if batch_bytes == usize::MAX {
            batch_rows(columns)
        } else {
            // Decoded, a cell takes about 8 bytes (numbers) to a few dozen (text).
            (batch_bytes / (columns * 16)).clamp(1024, 1 << 20)
        };
        Ok(Self { path: path.to_path_buf(), rows, batch_rows, spill: None })
    }

    fn holding(mut self, spill: Arc<SpillFile>) -> Self {
        self.spill = Some(spill);
        self
    }
}

impl BatchSource for ParquetBatches {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        let starts = (0..self.rows).step_by(self.batch_rows);
        Ok(Box::new(starts.map(move |start| {
            let file = File::open(&self.path)
                .map_err(|e| NodeError::Io(format!("cannot read {}: {e}", self.path.display())))?;
            ParquetReader::new(file)
                .with_slice(Some((start, self.batch_rows.min(self.rows - start))))
                .finish()
                .map_err(|e| NodeError::data(format!("{} is not a readable Parquet file: {e}", self.path.display())))
        })))
    }

    fn rows_hint(&self) -> Option<usize> {
        Some(self.rows)
    }

    fn describe(&self) -> String {
        if self.spill.is_some() {
            return "a spill on disk".into();
        }
        self.path.file_name().map_or_else(|| self.path.display().to_string(), |n| n.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> Table {
        let id: Vec<i64> = (0..i64::try_from(rows).expect("rows")).collect();
        let x: Vec<Option<f64>> = (0..rows).map(|i| (i % 7 != 3).then_some(i as f64 * 0.5)).collect();
        let city: Vec<&str> = (0..rows).map(|i| ["a", "b", "c"][i % 3]).collect();
        let frame = DataFrame::new(
            rows,
            vec![Column::new("id".into(), id), Column::new("x".into(), x), Column::new("city".into(), city)],
        )
        .expect("frame");
        let mut table = Table::new(frame);
        table.categorical.insert("id".into());
        table
    }

    #[test]
    fn a_spilled_table_reads_back_whole_with_its_marks_and_its_file_goes_with_the_last_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = SpillDir::new(dir.path().join("spill"));
        let original = table(800_000);
        let stream = spill.table(&original, "block x's output").expect("spills");
        let files = || std::fs::read_dir(spill.dir()).expect("lists").count();
        assert_eq!(files(), 1);
        assert!(stream.batches().expect("reads").count() > 1, "read back in several batches");
        let back = stream.collect().expect("collects");
        assert!(back.frame.equals_missing(&original.frame));
        assert!(back.categorical.contains("id"));
        // Spilled again from the stream (what a fit of many passes does), then both dropped: no file is left.
        let again = spill.stream(&stream, stream.batches().expect("reads"), "training columns").expect("spills");
        assert!(again.collect().expect("collects").frame.equals_missing(&original.frame));
        drop((stream, again));
        assert_eq!(files(), 0);
    }

    #[test]
    fn a_full_disk_is_a_clear_error_and_leaves_no_file() {
        // /dev/full answers every write with "no space left on device".
        let Ok(file) = File::create("/dev/full") else { return };
        drop(file);
        let frame = table(50_000).frame;
        let failed = write_parquet(Path::new("/dev/full"), std::iter::once(Ok(frame))).expect_err("the disk is full");
        assert!(matches!(&failed, Failed::Disk(m) if m.contains("No space left on device")), "{failed:?}");
        let message = SpillDir::new("/work/.pipewright/spill".into()).failed("block x's output", failed).to_string();
        assert!(
            message.starts_with("cannot spill block x's output to /work/.pipewright/spill: ")
                && message.contains("No space left on device")
                && message.ends_with("raise the memory budget"),
            "{message}"
        );
        // A source that fails mid-way: its error, and no partial spill.
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = SpillDir::new(dir.path().join("spill"));
        let batches = vec![Ok(table(10).frame), Err(NodeError::data("line 30000001: not a number"))];
        let error = spill.write(batches.into_iter(), "block x's output", &table(1)).expect_err("fails");
        assert_eq!(error.to_string(), NodeError::data("line 30000001: not a number").to_string());
        assert_eq!(std::fs::read_dir(spill.dir()).expect("lists").count(), 0, "no partial spill is left");
    }
}
