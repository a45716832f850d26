//! Tables that do not fit the memory budget stay on disk: a block output larger than the budget is written to an
//! Arrow IPC file (the spill: uncompressed columns, so a pass reads it back at the speed of copying memory when
//! the system caches it) and handed on as a stream read back a batch at a time, and a fit that takes many passes
//! over a streamed table reads its columns from a spill instead of parsing the source again.
//!
//! A spill lives in the project's `.pipewright/spill/` (the system's temporary folder when the run has no
//! project cache), is written under a temporary name and renamed whole, and is deleted when the last stream
//! that reads it is dropped; files left by a process that ended without dropping them are removed by the next
//! run that spills.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;
use polars_arrow::io::ipc::read::{FileReader, read_file_metadata};
use polars_arrow::io::ipc::write::{FileWriter, WriteOptions};

use crate::error::NodeError;
use crate::stream::{BatchSource, Batches, TableStream};
use crate::value::Table;

/// Where a run spills, and in batches of about how many bytes it writes and reads spills.
#[derive(Debug, Clone)]
pub struct SpillDir {
    dir: PathBuf,
    batch_bytes: usize,
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
        Self { dir, batch_bytes: 8 << 20 }
    }

    /// The same folder, with batches of about an eighth of `memory_budget` (1 to 64 MiB), so that a few of them
    /// in flight stay well inside it and a large spill is written and read in few, large batches.
    #[must_use]
    pub fn with_budget(mut self, memory_budget: u64) -> Self {
        self.batch_bytes = usize::try_from(memory_budget / 8).unwrap_or(usize::MAX).clamp(1 << 20, 64 << 20);
        self
    }

    /// Bytes a batch of a streamed or spilled table holds, about.
    pub fn batch_bytes(&self) -> usize {
        self.batch_bytes
    }

    /// Rows of a batch of `columns` columns (numbers take 8 bytes a cell).
    fn batch_rows(&self, columns: usize) -> usize {
        (self.batch_bytes / (columns.max(1) * 8)).clamp(1024, 1 << 22)
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
        Ok(self.dir.join(format!("{}-{n}-{safe}.arrow", std::process::id())))
    }

    /// Writes `table` to a spill and returns it as a stream with the same roles and marks.
    pub fn table(&self, table: &Table, what: &str) -> Result<TableStream, NodeError> {
        let batch_rows = self.batch_rows(table.frame.width());
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

    /// The error of a spill that could not be written (the disk is full, say).
    fn failed(&self, what: &str, message: &str) -> NodeError {
        NodeError::Io(format!(
            "cannot spill {what} to {}: {message}; free some space there or raise the memory budget",
            self.dir.display()
        ))
    }

    fn write(
        &self,
        batches: impl Iterator<Item = Result<DataFrame, NodeError>>,
        what: &str,
        // Its roles, marks and attributes are the stream's (its frame is not read).
        meta: &Table,
    ) -> Result<TableStream, NodeError> {
        let mut writer = self.writer(what)?;
        for batch in batches {
            writer.push(&batch?)?;
        }
        let source = writer.finish()?;
        let mut stream = TableStream::new(Arc::new(source));
        stream.roles.clone_from(&meta.roles);
        stream.categorical.clone_from(&meta.categorical);
        stream.attributes.clone_from(&meta.attributes);
        Ok(stream)
    }

    /// A spill to write a batch at a time, named for messages by `what`.
    fn writer(&self, what: &str) -> Result<SpillWriter, NodeError> {
        let path = self.next_path(what)?;
        let tmp = path.with_extension("arrow.tmp");
        let file = File::create(&tmp).map_err(|e| self.failed(what, &e.to_string()))?;
        Ok(SpillWriter {
            dir: self.clone(),
            what: what.to_owned(),
            path,
            tmp,
            file: Some(file),
            writer: None,
            rows: 0,
            finished: false,
        })
    }
}

/// A spill being written: batches pushed in order, then finished into a source that reads it back. Dropped
/// unfinished (an error, a stopped run), it removes its partial file.
struct SpillWriter {
    dir: SpillDir,
    what: String,
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    writer: Option<FileWriter<BufWriter<File>>>,
    /// Rows written.
    rows: usize,
    finished: bool,
}

impl SpillWriter {
    fn disk(&self, e: &dyn std::fmt::Display) -> NodeError {
        self.dir.failed(&self.what, &e.to_string())
    }

    fn push(&mut self, batch: &DataFrame) -> Result<(), NodeError> {
        if self.writer.is_none() {
            let Some(file) = self.file.take() else { return Ok(()) };
            let schema = batch.schema().to_arrow(CompatLevel::newest());
            let writer = FileWriter::try_new(
                BufWriter::with_capacity(1 << 20, file),
                Arc::new(schema),
                None,
                WriteOptions { compression: None },
            )
            .map_err(|e| self.disk(&e))?;
            self.writer = Some(writer);
        }
        let mut batch = batch.clone();
        batch.rechunk_mut();
        let written = self.writer.as_mut().map_or(Ok(()), |writer| {
            batch.iter_chunks(CompatLevel::newest(), true).try_for_each(|chunk| writer.write(&chunk, None))
        });
        written.map_err(|e| self.disk(&e))?;
        self.rows += batch.height();
        Ok(())
    }

    fn finish(mut self) -> Result<IpcBatches, NodeError> {
        let writer = match self.writer.take() {
            Some(writer) => Some(writer),
            // No batch at all: a file with no columns.
            None => match self.file.take() {
                Some(file) => Some(
                    FileWriter::try_new(BufWriter::new(file), Arc::default(), None, WriteOptions { compression: None })
                        .map_err(|e| self.disk(&e))?,
                ),
                None => None,
            },
        };
        if let Some(mut writer) = writer {
            writer.finish().map_err(|e| self.disk(&e))?;
            writer.into_inner().flush().map_err(|e| self.disk(&e))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.disk(&e))?;
        self.finished = true;
        let file = Arc::new(SpillFile { path: self.path.clone() });
        Ok(IpcBatches { path: self.path.clone(), rows: self.rows, file })
    }
}

impl Drop for SpillWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A source read once from itself, then (when read again) copied into a spill as it is read the second time,
/// and from the third time on from the spill: a CSV file a workflow reads many times (fits of several
/// transforms, then a model) is parsed twice, not every time.
#[derive(Debug)]
pub struct SpillOnReread {
    inner: Arc<dyn BatchSource>,
    spill: SpillDir,
    state: std::sync::Mutex<Reread>,
}

#[derive(Debug, Default)]
struct Reread {
    /// Passes read to the end.
    complete: usize,
    /// The spill, once written.
    spilled: Option<Arc<IpcBatches>>,
}

impl SpillOnReread {
    /// `inner`, spilled to `spill` when read a second time.
    pub fn new(inner: Arc<dyn BatchSource>, spill: SpillDir) -> Self {
        Self { inner, spill, state: std::sync::Mutex::new(Reread::default()) }
    }
}

impl BatchSource for SpillOnReread {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        let (complete, spilled) = {
            let state =
                self.state.lock().map_err(|_| NodeError::data("internal error: a spill's state is poisoned"))?;
            (state.complete, state.spilled.clone())
        };
        if let Some(spilled) = spilled {
            return spilled.read();
        }
        let mut writer = if complete >= 1 {
            Some(self.spill.writer(&format!("a copy of {}", self.inner.describe()))?)
        } else {
            None
        };
        let mut inner = self.inner.batches()?;
        let mut done = false;
        Ok(Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            match inner.next() {
                Some(Ok(batch)) => {
                    if let Some(w) = &mut writer
                        && let Err(e) = w.push(&batch)
                    {
                        done = true;
                        return Some(Err(e));
                    }
                    Some(Ok(batch))
                }
                Some(Err(e)) => {
                    done = true;
                    Some(Err(e))
                }
                None => {
                    done = true;
                    let spilled = match writer.take().map(SpillWriter::finish).transpose() {
                        Ok(spilled) => spilled.map(Arc::new),
                        Err(e) => return Some(Err(e)),
                    };
                    if let Ok(mut state) = self.state.lock() {
                        state.complete += 1;
                        if state.spilled.is_none() {
                            state.spilled = spilled;
                        }
                    }
                    None
                }
            }
        })))
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn rows_hint(&self) -> Option<usize> {
        let spilled = self.state.lock().ok().and_then(|s| s.spilled.as_ref().map(|p| p.rows));
        spilled.or_else(|| self.inner.rows_hint())
    }
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

/// A spill read back: its record batches in the order written.
#[derive(Debug)]
pub struct IpcBatches {
    path: PathBuf,
    rows: usize,
    /// Deleted when the last reader is gone.
    file: Arc<SpillFile>,
}

impl IpcBatches {
    /// Every batch, from the start, owning what it reads.
    fn read(&self) -> Result<Batches<'static>, NodeError> {
        let path = self.path.clone();
        let unreadable =
            move |e: &dyn std::fmt::Display| NodeError::Io(format!("cannot read the spill {}: {e}", path.display()));
        let mut file = File::open(&self.path).map_err(|e| unreadable(&e))?;
        let metadata = read_file_metadata(&mut file).map_err(|e| unreadable(&e))?;
        let reader = FileReader::new(file, metadata, None, None);
        // The reader holds the file open; the spill stays until this pass is done.
        let keep = Arc::clone(&self.file);
        Ok(Box::new(reader.map(move |batch| {
            let _ = &keep;
            batch.map(DataFrame::from).map_err(|e| unreadable(&e))
        })))
    }
}

impl BatchSource for IpcBatches {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        self.read()
    }

    fn rows_hint(&self) -> Option<usize> {
        Some(self.rows)
    }

    fn describe(&self) -> String {
        "a spill on disk".into()
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
        let Ok(full) = File::create("/dev/full") else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = SpillDir::new(dir.path().join("spill"));
        let tmp = dir.path().join("partial.arrow.tmp");
        std::fs::write(&tmp, b"partial").expect("writes");
        let mut writer = SpillWriter {
            dir: spill.clone(),
            what: "block x's output".into(),
            path: dir.path().join("whole.arrow"),
            tmp: tmp.clone(),
            file: Some(full),
            writer: None,
            rows: 0,
            finished: false,
        };
        let failed = writer.push(&table(50_000).frame).and_then(|()| writer.finish().map(drop)).expect_err("full");
        let message = failed.to_string();
        assert!(
            message.starts_with(&format!("cannot spill block x's output to {}: ", spill.dir().display()))
                && message.contains("No space left on device")
                && message.ends_with("raise the memory budget"),
            "{message}"
        );
        assert!(!tmp.exists(), "the partial spill is removed");
        // A source that fails mid-way: its own error, and no partial spill.
        let batches = vec![Ok(table(10).frame), Err(NodeError::data("line 30000001: not a number"))];
        let error = spill.write(batches.into_iter(), "block x's output", &table(1)).expect_err("fails");
        assert_eq!(error.to_string(), NodeError::data("line 30000001: not a number").to_string());
        assert_eq!(std::fs::read_dir(spill.dir()).expect("lists").count(), 0, "no partial spill is left");
    }

    #[test]
    fn a_source_read_again_is_copied_into_a_spill_and_read_from_it_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spill = SpillDir::new(dir.path().join("spill"));
        let original = table(30_000);
        let inner = Arc::new(crate::stream::FrameBatches::new(original.frame.clone(), 4096));
        let source = SpillOnReread::new(inner, spill.clone());
        let stream = TableStream::new(Arc::new(source));
        let files = || std::fs::read_dir(spill.dir()).map_or(0, Iterator::count);
        // A preview that stops early is no pass; then a whole pass, from the source.
        assert_eq!(stream.head(10).expect("reads").height(), 10);
        assert!(stream.collect().expect("reads").frame.equals_missing(&original.frame));
        assert_eq!(files(), 0, "read once: nothing spilled");
        // The second pass copies it; later ones read the copy. Every pass gives the same rows.
        for _ in 0..3 {
            assert!(stream.collect().expect("reads").frame.equals_missing(&original.frame));
            assert_eq!(files(), 1);
        }
        drop(stream);
        assert_eq!(files(), 0, "the copy goes with the stream");
    }
}
