//! Result caches keyed by node fingerprints: one in memory for the process, one on disk under the
//! project's `.pipewright/cache/` with a size budget and least-recently-used eviction.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use polars::prelude::{ParquetCompression, ParquetReader, ParquetWriter, SerReader};
use serde::{Deserialize, Serialize};

use crate::schema::Role;
use crate::value::{Learner, Model, Report, Table, Transform, Value};

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

/// The on-disk cache: one folder per fingerprint holding a manifest and one file per output.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
    budget_bytes: u64,
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

impl DiskCache {
    /// A cache in `dir` (created on first write) with a size budget.
    pub fn new(dir: impl Into<PathBuf>, budget_bytes: u64) -> Self {
        Self { dir: dir.into(), budget_bytes }
    }

    /// The project's cache: `<project>/.pipewright/cache`.
    pub fn for_project(project_dir: &Path) -> Self {
        Self::new(project_dir.join(".pipewright").join("cache"), DEFAULT_DISK_BUDGET_BYTES)
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The outputs stored under a fingerprint; any unreadable entry counts as a miss.
    pub fn get(&self, fingerprint: &str) -> Option<Vec<Value>> {
        let entry = self.dir.join(fingerprint);
        let manifest: Manifest = serde_json::from_slice(&fs::read(entry.join("manifest.json")).ok()?).ok()?;
        let mut values = Vec::with_capacity(manifest.outputs.len());
        for stored in manifest.outputs {
            values.push(match stored {
                Stored::Table { file, roles, categorical, attributes } => {
                    let frame = ParquetReader::new(File::open(entry.join(file)).ok()?).finish().ok()?;
                    Value::Table(Arc::new(Table { frame, roles, categorical, attributes }))
                }
                Stored::Learner { value } => Value::Learner(Arc::new(value)),
                Stored::Model { value } => Value::Model(Arc::new(value)),
                Stored::Transform { value } => Value::Transform(Arc::new(value)),
                Stored::Report { value } => Value::Report(Arc::new(value)),
            });
        }
        // Touch for least-recently-used eviction.
        let _ = File::open(entry.join("manifest.json")).and_then(|f| f.set_modified(SystemTime::now()));
        Some(values)
    }

    /// Stores outputs; written to a temporary folder and renamed, so readers never see half an entry.
    pub fn put(&self, fingerprint: &str, outputs: &[Value]) -> std::io::Result<()> {
        let entry = self.dir.join(fingerprint);
        if entry.join("manifest.json").exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(".{fingerprint}.{}.tmp", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        let mut stored = Vec::with_capacity(outputs.len());
        for (i, value) in outputs.iter().enumerate() {
            stored.push(match value {
                Value::Table(t) => {
                    let file = format!("{i}.parquet");
                    let mut frame = t.frame.clone();
                    // LZ4 writes several times faster than the default zstd; cache files are short-lived.
                    ParquetWriter::new(File::create(tmp.join(&file))?)
                        .with_compression(ParquetCompression::Lz4Raw)
                        .finish(&mut frame)
                        .map_err(std::io::Error::other)?;
                    Stored::Table {
                        file,
                        roles: t.roles.clone(),
                        categorical: t.categorical.clone(),
                        attributes: t.attributes.clone(),
                    }
                }
                Value::Learner(v) => Stored::Learner { value: (**v).clone() },
                Value::Model(v) => Stored::Model { value: (**v).clone() },
                Value::Transform(v) => Stored::Transform { value: (**v).clone() },
                Value::Report(v) => Stored::Report { value: (**v).clone() },
            });
        }
        let manifest = serde_json::to_vec(&Manifest { outputs: stored }).map_err(std::io::Error::other)?;
        fs::write(tmp.join("manifest.json"), manifest)?;
        if fs::rename(&tmp, &entry).is_err() {
            // Another process stored the same entry first; theirs is as good as ours.
            let _ = fs::remove_dir_all(&tmp);
        }
        self.evict()
    }

    /// Total bytes stored.
    pub fn size_bytes(&self) -> u64 {
        self.entries().iter().map(|(_, size, _)| size).sum()
    }

    fn entries(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(read) = fs::read_dir(&self.dir) else { return Vec::new() };
        read.filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter_map(|e| {
                let path = e.path();
                let files = fs::read_dir(&path).ok()?;
                let size = files.filter_map(Result::ok).filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
                let used = fs::metadata(path.join("manifest.json")).and_then(|m| m.modified()).ok()?;
                Some((path, size, used))
            })
            .collect()
    }

    /// Removes least recently used entries until the cache fits its budget, and the half-written
    /// entries of processes that were killed while writing (older than an hour).
    pub fn evict(&self) -> std::io::Result<()> {
        if let Ok(read) = fs::read_dir(&self.dir) {
            let stale = |e: &fs::DirEntry| {
                let name = e.file_name().to_string_lossy().into_owned();
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 3600);
                name.starts_with('.') && std::path::Path::new(&name).extension().is_some_and(|e| e == "tmp") && old
            };
            for entry in read.filter_map(Result::ok).filter(stale) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let mut entries = self.entries();
        let mut total: u64 = entries.iter().map(|(_, s, _)| s).sum();
        entries.sort_by_key(|(_, _, used)| *used);
        for (path, size, _) in entries {
            if total <= self.budget_bytes {
                break;
            }
            fs::remove_dir_all(&path)?;
            total -= size;
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
        let model = Value::Model(Arc::new(Model {
            algorithm: "a".into(),
            name: "A".into(),
            task: crate::value::Task::Regression,
            label: Some("y".into()),
            features: vec!["x".into()],
            classes: vec![],
            state: serde_json::json!({"w": [1.5]}),
            decoded: crate::value::Decoded::default(),
        }));
        cache.put("abc", &[table(), model]).expect("put");
        let back = cache.get("abc").expect("hit");
        let Value::Table(t) = &back[0] else { panic!("table expected") };
        assert_eq!(t.frame.height(), 3);
        assert_eq!(t.label(), Some("y"));
        let Value::Model(m) = &back[1] else { panic!("model expected") };
        assert_eq!(m.state["w"][0], 1.5);
        assert!(cache.get("missing").is_none());
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
