//! Result caches keyed by node fingerprints: one in memory for the process, one on disk under the
//! project's `.pipewright/cache/` with a size budget and least-recently-used eviction.

mod packed;

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use polars::prelude::{IpcReader, IpcWriter, ParquetCompression, ParquetReader, ParquetWriter, SerReader, SerWriter};
use serde::{Deserialize, Serialize};

use crate::schema::Role;
use crate::value::{Learner, Model, Report, Table, Transform, Value};

/// Tables up to this many cells (rows × columns) go into the disk cache as uncompressed Arrow IPC, written and
/// read at the speed of a copy; larger ones as LZ4-compressed Parquet, several times smaller on disk.
const ARROW_MAX_CELLS: usize = 1_000_000;

/// Outputs of one node run, shared.
pub type Outputs = Arc<Vec<Value>>;

/// The in-memory cache: fingerprint → outputs. Lives as long as the process (the designer keeps one).
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Outputs>>,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outputs stored under a fingerprint.
    pub fn get(&self, fingerprint: &str) -> Option<Outputs> {
        self.entries.lock().ok()?.get(fingerprint).cloned()
    }

    /// Stores outputs.
    pub fn put(&self, fingerprint: &str, outputs: Outputs) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(fingerprint.to_owned(), outputs);
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Default size budget of the on-disk cache.
pub const DEFAULT_DISK_BUDGET_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The on-disk cache. An entry is a manifest and one file per table output: small entries (up to
/// [`packed::PACKED_MAX_BYTES`]) are packed into a row of the cache's database, larger ones are a folder per
/// fingerprint, so that a run of many small blocks does not spend its time creating files.
///
/// Its accounting is incremental: the folder is listed once, when a write first needs the total (or
/// [`DiskCache::size_bytes`] asks for it), and from then on each write adds its entry's size and each hit
/// marks its entry as used, in memory. Only when the total passes the budget is the folder listed again (other
/// processes may have written or removed entries meanwhile), and then least recently used entries are removed
/// until the total is at most [`EVICT_TO_PERCENT`] % of the budget, so a full cache is listed once per that
/// much written rather than on every write. Clones share the accounting.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    budget_bytes: u64,
    index: Arc<Mutex<Option<Index>>>,
    packed: packed::Packed,
}

/// Eviction removes entries until the cache holds at most this share of its budget.
pub const EVICT_TO_PERCENT: u64 = 90;

/// What the cache holds, by fingerprint: sizes and the order of use.
#[derive(Debug, Default)]
struct Index {
    /// Fingerprint → (bytes, use stamp).
    entries: HashMap<String, (u64, u64)>,
    /// (use stamp, fingerprint), least recently used first.
    by_use: BTreeSet<(u64, String)>,
    total_bytes: u64,
    /// The next use stamp.
    clock: u64,
}

impl Index {
    /// Lists the folder and the database: every complete entry with its size, ordered by the time it was last
    /// used. Half-written entries of processes killed while writing (older than an hour) are removed.
    fn load(dir: &Path, packed: &packed::Packed) -> Self {
        let mut found: Vec<(SystemTime, String, u64)> =
            packed.list().into_iter().map(|(fingerprint, bytes, used)| (used, fingerprint, bytes)).collect();
        if let Ok(read) = fs::read_dir(dir) {
            for entry in read.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    if is_stale_partial(&entry, &name) {
                        let _ = fs::remove_dir_all(entry.path());
                    }
                    continue;
                }
                let path = entry.path();
                let Ok(used) = fs::metadata(path.join(MANIFEST)).and_then(|m| m.modified()) else { continue };
                found.push((used, name, folder_bytes(&path)));
            }
        }
        found.sort();
        let mut index = Self::default();
        for (_, name, bytes) in found {
            index.insert(name, bytes);
        }
        index
    }

    /// Adds (or replaces) an entry as the most recently used.
    fn insert(&mut self, fingerprint: String, bytes: u64) {
        self.remove(&fingerprint);
        let stamp = self.clock;
        self.clock += 1;
        self.total_bytes += bytes;
        self.by_use.insert((stamp, fingerprint.clone()));
        self.entries.insert(fingerprint, (bytes, stamp));
    }

    /// Marks an entry as just used.
    fn touch(&mut self, fingerprint: &str) {
        if let Some(&(bytes, _)) = self.entries.get(fingerprint) {
            self.insert(fingerprint.to_owned(), bytes);
        }
    }

    fn remove(&mut self, fingerprint: &str) -> Option<u64> {
        let (bytes, stamp) = self.entries.remove(fingerprint)?;
        self.by_use.remove(&(stamp, fingerprint.to_owned()));
        self.total_bytes -= bytes;
        Some(bytes)
    }

    /// The least recently used entry.
    fn oldest(&self) -> Option<String> {
        self.by_use.first().map(|(_, fingerprint)| fingerprint.clone())
    }
}

const MANIFEST: &str = "manifest.json";

/// Bytes of the files in an entry's folder.
fn folder_bytes(path: &Path) -> u64 {
    fs::read_dir(path)
        .map_or(0, |files| files.filter_map(Result::ok).filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum())
}

/// Whether a folder entry is the temporary folder of a write that a killed process left (over an hour old).
fn is_stale_partial(entry: &fs::DirEntry, name: &str) -> bool {
    let old = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 3600);
    Path::new(name).extension().is_some_and(|e| e == "tmp") && old
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Stored {
    Table {
        file: String,
        roles: std::collections::BTreeMap<String, Role>,
        categorical: std::collections::BTreeSet<String>,
        #[serde(default)]
        attributes: std::collections::BTreeMap<String, serde_json::Value>,
    },
    Learner {
        value: Learner,
    },
    Model {
        value: Model,
    },
    Transform {
        value: Transform,
    },
    Report {
        value: Report,
    },
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    outputs: Vec<Stored>,
}

/// Writes `values` as a folder in the cache's format (a manifest and a file per table) at `dir`, under a
/// temporary name renamed at the end, replacing an earlier folder there: readers never see half of it.
pub fn write_values(dir: &Path, values: &[Value]) -> std::io::Result<()> {
    let files = encode(values)?;
    let parent = dir.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    for (file, bytes) in &files {
        fs::write(tmp.join(file), bytes)?;
    }
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::rename(&tmp, dir)
}

/// The values of a folder written by [`write_values`] (or a disk-cache entry's folder); `None` if anything in
/// it is missing or unreadable.
pub fn read_values(dir: &Path) -> Option<Vec<Value>> {
    decode(&fs::read(dir.join(MANIFEST)).ok()?, |name| Some(Source::File(File::open(dir.join(name)).ok()?)))
}

/// Where a table's file is read from.
enum Source<'a> {
    Bytes(&'a [u8]),
    File(File),
}

/// An entry's files: one per table output (Arrow IPC when small, Parquet otherwise) and the manifest, last.
fn encode(outputs: &[Value]) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::with_capacity(outputs.len() + 1);
    let mut stored = Vec::with_capacity(outputs.len());
    for (i, value) in outputs.iter().enumerate() {
        stored.push(match value {
            Value::Table(t) => {
                let mut frame = t.frame.clone();
                let small = frame.height().saturating_mul(frame.width()) <= ARROW_MAX_CELLS;
                let file = if small { format!("{i}.arrow") } else { format!("{i}.parquet") };
                let mut bytes = Vec::new();
                if small {
                    IpcWriter::new(&mut bytes).with_parallel(false).finish(&mut frame)
                } else {
                    // LZ4 writes several times faster than the default zstd; cache files are short-lived.
                    ParquetWriter::new(&mut bytes)
                        .with_compression(ParquetCompression::Lz4Raw)
                        .finish(&mut frame)
                        .map(drop)
                }
                .map_err(std::io::Error::other)?;
                files.push((file.clone(), bytes));
                Stored::Table {
                    file,
                    roles: t.roles.clone(),
                    categorical: t.categorical.clone(),
                    attributes: t.attributes.clone(),
                }
            }
            // A streamed table is larger than memory: its block runs again rather than writing it all out.
            Value::Stream(_) => return Err(std::io::Error::other("a streamed table is not cached")),
            Value::Learner(v) => Stored::Learner { value: (**v).clone() },
            Value::Model(v) => Stored::Model { value: (**v).clone() },
            Value::Transform(v) => Stored::Transform { value: (**v).clone() },
            Value::Report(v) => Stored::Report { value: (**v).clone() },
        });
    }
    let manifest = serde_json::to_vec(&Manifest { outputs: stored }).map_err(std::io::Error::other)?;
    files.push((MANIFEST.to_owned(), manifest));
    Ok(files)
}

/// The outputs of an entry from its manifest, its tables' files opened by `open`; `None` if anything is
/// missing or unreadable.
fn decode<'a>(manifest: &[u8], open: impl Fn(&str) -> Option<Source<'a>>) -> Option<Vec<Value>> {
    let manifest: Manifest = serde_json::from_slice(manifest).ok()?;
    let mut values = Vec::with_capacity(manifest.outputs.len());
    for stored in manifest.outputs {
        values.push(match stored {
            Stored::Table { file, roles, categorical, attributes } => {
                let arrow = Path::new(&file).extension().is_some_and(|e| e == "arrow");
                let frame = match (open(&file)?, arrow) {
                    (Source::Bytes(bytes), true) => IpcReader::new(std::io::Cursor::new(bytes)).finish(),
                    (Source::Bytes(bytes), false) => ParquetReader::new(std::io::Cursor::new(bytes)).finish(),
                    (Source::File(file), true) => IpcReader::new(file).finish(),
                    (Source::File(file), false) => ParquetReader::new(file).finish(),
                }
                .ok()?;
                Value::Table(Arc::new(Table { frame, roles, categorical, attributes }))
            }
            Stored::Learner { value } => Value::Learner(Arc::new(value)),
            Stored::Model { value } => Value::Model(Arc::new(value)),
            Stored::Transform { value } => Value::Transform(Arc::new(value)),
            Stored::Report { value } => Value::Report(Arc::new(value)),
        });
    }
    Some(values)
}

impl DiskCache {
    /// A cache in `dir` (created on first write) with a size budget.
    pub fn new(dir: impl Into<PathBuf>, budget_bytes: u64) -> Self {
        let dir = dir.into();
        Self { packed: packed::Packed::new(&dir), dir, budget_bytes, index: Arc::default() }
    }

    /// A cache whose every entry is a folder written under a temporary name and renamed, with no database:
    /// safe for several processes on several machines sharing it over a network file system (a job bundle's
    /// cache, which its tasks read and write). No budget: nothing is evicted.
    pub fn shared(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self { packed: packed::Packed::none(&dir), dir, budget_bytes: u64::MAX, index: Arc::default() }
    }

    /// The project's cache: `<project>/.pipewright/cache`.
    pub fn for_project(project_dir: &Path) -> Self {
        Self::new(project_dir.join(".pipewright").join("cache"), DEFAULT_DISK_BUDGET_BYTES)
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its size budget.
    pub fn budget_bytes(&self) -> u64 {
        self.budget_bytes
    }

    /// The accounting, listing the folder first if this cache has not yet.
    fn index(&self) -> std::sync::MutexGuard<'_, Option<Index>> {
        let mut index = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if index.is_none() {
            *index = Some(Index::load(&self.dir, &self.packed));
        }
        index
    }

    /// The outputs stored under a fingerprint; any unreadable entry counts as a miss.
    pub fn get(&self, fingerprint: &str) -> Option<Vec<Value>> {
        let values = if let Some(content) = self.packed.get(fingerprint) {
            let files = packed::unpack(&content)?;
            decode(files.get(MANIFEST)?, |name| Some(Source::Bytes(files.get(name)?)))?
        } else {
            let entry = self.dir.join(fingerprint);
            let values = decode(&fs::read(entry.join(MANIFEST)).ok()?, |name| {
                Some(Source::File(File::open(entry.join(name)).ok()?))
            })?;
            // Touched for least-recently-used eviction by other processes.
            let _ = File::open(entry.join(MANIFEST)).and_then(|f| f.set_modified(SystemTime::now()));
            values
        };
        // Marked as used in memory for this process (without listing the folder if nothing was written yet).
        if let Some(index) = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_mut() {
            index.touch(fingerprint);
        }
        Some(values)
    }

    /// Stores outputs, packed into the database when they are small and as a folder otherwise (written to a
    /// temporary folder and renamed); readers never see half an entry.
    pub fn put(&self, fingerprint: &str, outputs: &[Value]) -> std::io::Result<()> {
        let entry = self.dir.join(fingerprint);
        if entry.join(MANIFEST).exists() || self.packed.contains(fingerprint) {
            return Ok(());
        }
        let files = encode(outputs)?;
        let total: usize = files.iter().map(|(_, bytes)| bytes.len()).sum();
        let in_database =
            (total <= packed::PACKED_MAX_BYTES).then(|| self.packed.put(fingerprint, &packed::pack(&files))).flatten();
        let bytes = match in_database {
            Some(bytes) => bytes,
            None => self.put_folder(fingerprint, &files)?,
        };
        let over_budget = {
            let mut index = self.index();
            let index = index.get_or_insert_default();
            index.insert(fingerprint.to_owned(), bytes);
            index.total_bytes > self.budget_bytes
        };
        if over_budget { self.evict() } else { Ok(()) }
    }

    /// Writes an entry's files as a folder; its size in bytes.
    fn put_folder(&self, fingerprint: &str, files: &[(String, Vec<u8>)]) -> std::io::Result<u64> {
        let entry = self.dir.join(fingerprint);
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{fingerprint}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        for (name, bytes) in files {
            fs::write(tmp.join(name), bytes)?;
        }
        if fs::rename(&tmp, &entry).is_err() {
            // Another process stored the same entry first; theirs is as good as ours.
            let _ = fs::remove_dir_all(&tmp);
            return Ok(folder_bytes(&entry));
        }
        Ok(files.iter().map(|(_, bytes)| bytes.len() as u64).sum())
    }

    /// Total bytes stored, as accounted (the folder is listed only the first time).
    pub fn size_bytes(&self) -> u64 {
        self.index().as_ref().map_or(0, |index| index.total_bytes)
    }

    /// Lists the folder afresh (entries other processes wrote or removed included), then removes least recently
    /// used entries until the cache holds at most [`EVICT_TO_PERCENT`] % of its budget, and the half-written
    /// entries of processes that were killed while writing (older than an hour).
    pub fn evict(&self) -> std::io::Result<()> {
        let mut guard = self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = guard.insert(Index::load(&self.dir, &self.packed));
        let target =
            u64::try_from(u128::from(self.budget_bytes) * u128::from(EVICT_TO_PERCENT) / 100).unwrap_or(u64::MAX);
        while index.total_bytes > target {
            let Some(oldest) = index.oldest() else { break };
            if self.packed.remove(&oldest) {
                index.remove(&oldest);
                continue;
            }
            match fs::remove_dir_all(self.dir.join(&oldest)) {
                Ok(()) => {}
                // Another process removed it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            index.remove(&oldest);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn table() -> Value {
        let frame = df!("x" => [1.0, 2.0, 3.0], "y" => ["a", "b", "a"]).expect("frame");
        let mut t = Table::new(frame);
        t.roles.insert("y".into(), Role::Label);
        Value::Table(Arc::new(t))
    }

    #[test]
    fn disk_cache_round_trips_tables_and_models() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path(), u64::MAX);
        cache.put("abc", &[table(), model()]).expect("put");
        let back = cache.get("abc").expect("hit");
        let Value::Table(t) = &back[0] else { panic!("table expected") };
        assert_eq!(t.frame.height(), 3);
        assert_eq!(t.label(), Some("y"));
        let Value::Model(m) = &back[1] else { panic!("model expected") };
        assert_eq!(m.state["w"][0], 1.5);
        assert!(cache.get("missing").is_none());
    }

    #[test]
    fn small_tables_are_cached_as_arrow_and_large_ones_as_parquet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path(), u64::MAX);
        let rows = ARROW_MAX_CELLS + 1;
        // Values that do not compress, so the entry is too large for the database.
        let values: Vec<i64> =
            (0..i64::try_from(rows).expect("fits")).map(|k| (k * 2_654_435_761) % 1_000_003).collect();
        let large = polars::prelude::DataFrame::new(rows, vec![polars::prelude::Column::new("x".into(), values)])
            .expect("frame");
        let large = Value::Table(Arc::new(Table::new(large)));
        cache.put("both", &[table(), large]).expect("put");
        let files: BTreeSet<String> = fs::read_dir(dir.path().join("both"))
            .expect("lists")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, BTreeSet::from(["0.arrow".into(), "1.parquet".into(), MANIFEST.to_owned()]));
        let back = cache.get("both").expect("hit");
        let (Value::Table(small), Value::Table(large)) = (&back[0], &back[1]) else { panic!("tables expected") };
        assert!(small.frame.equals_missing(&match table() {
            Value::Table(t) => t.frame.clone(),
            _ => unreachable!("a table"),
        }));
        assert_eq!(small.label(), Some("y"), "roles kept");
        assert_eq!(large.frame.height(), rows);
        assert_eq!(large.frame.column("x").expect("x").i64().expect("ints").get(1), Some(2_654_435_761 % 1_000_003));
        assert!(!rows_on_disk(dir.path()).iter().any(|(name, _)| name == "both"), "a large entry is a folder");
    }

    #[test]
    fn small_entries_are_rows_of_the_database_not_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path(), u64::MAX);
        for i in 0..3 {
            cache.put(&format!("e{i}"), &[numbered_table(i), model()]).expect("put");
        }
        assert!(folders_on_disk(dir.path()).is_empty(), "no folder per entry");
        assert_eq!(entries_on_disk(dir.path()), ["e0", "e1", "e2"]);
        let back = DiskCache::new(dir.path(), u64::MAX).get("e2").expect("a new process reads it");
        let (Value::Table(t), Value::Model(m)) = (&back[0], &back[1]) else { panic!("a table and a model") };
        assert!(t.frame.equals_missing(&match numbered_table(2) {
            Value::Table(t) => t.frame.clone(),
            _ => unreachable!("a table"),
        }));
        assert_eq!(m.features, ["x"]);
        // A damaged row counts as a miss.
        rusqlite::Connection::open(dir.path().join(packed::DATABASE))
            .expect("opens")
            .execute("UPDATE entries SET content = x'50574331ff' WHERE fingerprint = 'e1'", [])
            .expect("damages");
        assert!(cache.get("e1").is_none());
    }

    #[test]
    fn eviction_keeps_the_cache_within_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = DiskCache::new(dir.path(), 0);
        cache.put("one", &[table()]).expect("put");
        assert!(cache.get("one").is_none(), "a zero budget keeps nothing");
        let roomy = DiskCache::new(dir.path(), u64::MAX);
        roomy.put("two", &[table()]).expect("put");
        assert!(roomy.size_bytes() > 0);
        let tight = DiskCache::new(dir.path(), roomy.size_bytes() - 1);
        tight.evict().expect("evict");
        assert_eq!(tight.size_bytes(), 0);
    }

    /// The packed entries' sizes, read from the database directly.
    fn rows_on_disk(dir: &Path) -> Vec<(String, u64)> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            dir.join(packed::DATABASE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return Vec::new();
        };
        let mut statement = conn.prepare("SELECT fingerprint, length(content) FROM entries").expect("query");
        statement
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.unsigned_abs())))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// The entry folders (not the database's files, nor half-written folders).
    fn folders_on_disk(dir: &Path) -> Vec<PathBuf> {
        fs::read_dir(dir).map_or(Vec::new(), |read| {
            read.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.') && e.path().is_dir())
                .map(|e| e.path())
                .collect()
        })
    }

    /// Bytes of the cache's entries, counted on disk: the folders' files and the database's rows.
    fn bytes_on_disk(dir: &Path) -> u64 {
        folders_on_disk(dir).iter().map(|p| folder_bytes(p)).sum::<u64>()
            + rows_on_disk(dir).iter().map(|(_, bytes)| bytes).sum::<u64>()
    }

    /// The fingerprints of the entries on disk, folders and rows, sorted.
    fn entries_on_disk(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = folders_on_disk(dir)
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .chain(rows_on_disk(dir).into_iter().map(|(name, _)| name))
            .collect();
        names.sort();
        names
    }

    /// A table of its own per `i`, so every entry has its own bytes.
    fn numbered_table(i: usize) -> Value {
        let frame = df!("x" => (0..50).map(|k| (k * i) as f64).collect::<Vec<_>>()).expect("frame");
        Value::Table(Arc::new(Table::new(frame)))
    }

    #[test]
    fn the_accounted_size_matches_the_folder_after_writes_evictions_and_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let probe = DiskCache::new(dir.path().join("probe"), u64::MAX);
        probe.put("probe", &[numbered_table(1)]).expect("put");
        let entry_bytes = bytes_on_disk(probe.dir());
        // Room for about five entries: writing twenty evicts all along.
        let budget = entry_bytes * 5 + entry_bytes / 2;
        let cache = DiskCache::new(dir.path().join("cache"), budget);
        for i in 0..20 {
            cache.put(&format!("e{i:02}"), &[numbered_table(i)]).expect("put");
            let on_disk = bytes_on_disk(cache.dir());
            assert_eq!(cache.size_bytes(), on_disk, "after writing entry {i}");
            assert!(on_disk <= budget, "entry {i}: {on_disk} bytes on disk, budget {budget}");
        }
        let kept = entries_on_disk(cache.dir());
        assert!(kept.len() >= 3 && kept.len() <= 5, "{kept:?}");
        assert_eq!(kept.last().map(String::as_str), Some("e19"), "the newest entry is kept");
        // Restarted (a new process): the folder is listed once and agrees.
        let restarted = DiskCache::new(cache.dir(), budget);
        assert_eq!(restarted.size_bytes(), bytes_on_disk(cache.dir()));
        restarted.put("after-restart", &[numbered_table(99)]).expect("put");
        assert_eq!(restarted.size_bytes(), bytes_on_disk(cache.dir()));
        // Another process removed an entry behind this one's back: eviction lists the folder again.
        let victim = entries_on_disk(cache.dir())[0].clone();
        rusqlite::Connection::open(cache.dir().join(packed::DATABASE))
            .expect("opens")
            .execute("DELETE FROM entries WHERE fingerprint = ?1", [&victim])
            .expect("removes");
        restarted.evict().expect("evict");
        assert_eq!(restarted.size_bytes(), bytes_on_disk(cache.dir()));
    }

    #[test]
    fn eviction_removes_the_least_recently_used_entries_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roomy = DiskCache::new(dir.path(), u64::MAX);
        for i in 0..4 {
            roomy.put(&format!("e{i}"), &[numbered_table(i)]).expect("put");
        }
        // The oldest entry was just read: it is now the most recently used.
        assert!(roomy.get("e0").is_some());
        let total = roomy.size_bytes();
        // Room for a little over three entries: one must go, and it is e1, the least recently used.
        let tight = DiskCache::new(dir.path(), total - total / 8);
        tight.put("e4", &[numbered_table(4)]).expect("put");
        let kept = entries_on_disk(dir.path());
        assert!(kept.contains(&"e0".to_owned()) && kept.contains(&"e4".to_owned()), "{kept:?}");
        assert!(!kept.contains(&"e1".to_owned()), "{kept:?}");
        assert!(tight.size_bytes() <= tight.budget_bytes() * EVICT_TO_PERCENT / 100);
    }

    #[test]
    fn an_entry_written_by_this_release_still_loads() {
        // `tests/fixtures/cache/` holds entries in the format `DiskCache::put` of release 0.1 writes (its Parquet
        // file written by `put`); a change to the format must keep reading them (or change the fingerprints, so
        // that they are never looked up).
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cache");
        let cache = DiskCache::new(&fixtures, u64::MAX);
        let values = cache.get("release-0.1").expect("the fixture entry loads");
        let Value::Table(t) = &values[0] else { panic!("table expected") };
        assert_eq!(t.frame.shape(), (3, 2));
        assert_eq!(t.label(), Some("y"));
        let Value::Model(m) = &values[1] else { panic!("model expected") };
        assert_eq!(m.state["w"][0], 1.5);
        assert_eq!(m.features, ["x"]);
        let Value::Report(r) = &values[2] else { panic!("report expected") };
        assert_eq!(r.evaluations[0].metrics[0].value.to_bits(), 0.1_f64.to_bits());
    }

    /// Writes the fixture of `an_entry_written_by_this_release_still_loads`
    /// (`cargo test --workspace --lib -- --ignored write_the_release_fixture`), once per release whose format
    /// changed, beside the older ones.
    #[test]
    #[ignore = "writes the fixture; run by hand"]
    fn write_the_release_fixture() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cache");
        let report = Report {
            evaluations: vec![crate::value::Evaluation {
                source: "scored".into(),
                task: crate::value::Task::Regression,
                metrics: vec![crate::value::Metric { name: "rmse".into(), value: 0.1 }],
                confusion: None,
                curves: vec![],
            }],
        };
        let _ = fs::remove_dir_all(fixtures.join("release-0.1"));
        DiskCache::new(&fixtures, u64::MAX)
            .put("release-0.1", &[table(), model(), Value::Report(Arc::new(report))])
            .expect("put");
    }

    fn model() -> Value {
        Value::Model(Arc::new(Model {
            algorithm: "a".into(),
            name: "A".into(),
            task: crate::value::Task::Regression,
            label: Some("y".into()),
            features: vec!["x".into()],
            classes: vec![],
            state: serde_json::json!({"w": [1.5]}).into(),
            decoded: crate::value::Decoded::default(),
        }))
    }

    #[test]
    fn entries_half_written_by_killed_processes_are_cleaned_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stale = dir.path().join(".abc.123.tmp");
        let fresh = dir.path().join(".def.456.tmp");
        fs::create_dir_all(&stale).expect("stale");
        fs::create_dir_all(&fresh).expect("fresh");
        let two_hours_ago = SystemTime::now() - std::time::Duration::from_hours(2);
        File::open(&stale).and_then(|f| f.set_modified(two_hours_ago)).expect("age the stale entry");
        DiskCache::new(dir.path(), u64::MAX).evict().expect("evict");
        assert!(!stale.exists(), "a stale partial entry is removed");
        assert!(fresh.exists(), "a recent one may still be in progress");
    }
}
