//! Artifacts: files a run produced (trained models, fitted transforms, reports with their charts' data, small
//! tables), stored once by content hash under `.pipewright/artifacts/` and linked to the runs that made them.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError};

/// The value an artifact holds, read back as the run produced it (a table without its column roles, which
/// Parquet does not keep); `None` for an unknown kind or unreadable bytes. Models and transforms are decoded and
/// checked when they are used.
pub fn value_of_artifact(kind: &str, bytes: &[u8]) -> Option<pipewright_engine::Value> {
    use std::sync::Arc;

    use pipewright_engine::{Model, Report, Table, Transform, Value};
    use polars::prelude::SerReader;
    Some(match kind {
        "model" => Value::Model(Arc::new(serde_json::from_slice::<Model>(bytes).ok()?)),
        "transform" => Value::Transform(Arc::new(serde_json::from_slice::<Transform>(bytes).ok()?)),
        "report" => Value::Report(Arc::new(serde_json::from_slice::<Report>(bytes).ok()?)),
        "table" => {
            let frame = polars::prelude::ParquetReader::new(std::io::Cursor::new(bytes)).finish().ok()?;
            Value::Table(Arc::new(Table::new(frame)))
        }
        _ => return None,
    })
}

/// An artifact a run's node produced on one of its output ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLink {
    /// The node that produced it.
    pub node: String,
    /// Its output port.
    pub port: String,
    /// Content hash (blake3, hex).
    pub hash: String,
    /// model, transform, report or table.
    pub kind: String,
    /// Size in bytes.
    pub bytes: u64,
}

fn io(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// The row of a stored artifact (kept if it is there already).
pub(crate) fn insert_artifact(
    conn: &rusqlite::Connection,
    hash: &str,
    kind: &str,
    bytes: usize,
) -> Result<(), StoreError> {
    conn.prepare("INSERT OR IGNORE INTO artifacts (hash, kind, bytes, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![hash, kind, i64::try_from(bytes).unwrap_or(i64::MAX), crate::runs::now()])?;
    Ok(())
}

/// The row linking an artifact to the node and port that produced it.
pub(crate) fn link_artifact(
    conn: &rusqlite::Connection,
    run: i64,
    node: &str,
    port: &str,
    hash: &str,
) -> Result<(), StoreError> {
    conn.prepare("INSERT OR REPLACE INTO run_artifacts (run_id, node, port, hash) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![run, node, port, hash])?;
    Ok(())
}

impl Store {
    /// The folder artifacts are stored in: `.pipewright/artifacts/` beside the store file.
    pub fn artifacts_dir(&self) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join("artifacts")
    }

    /// Where the artifact with this hash lives.
    pub fn artifact_path(&self, hash: &str) -> PathBuf {
        self.artifacts_dir().join(hash.get(..2).unwrap_or("00")).join(hash)
    }

    /// Stores `bytes` as an artifact of `kind` (once per content) and returns its hash. The file is written
    /// beside its final name and renamed into place, so a reader never sees half an artifact.
    pub fn put_artifact(&self, kind: &str, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = self.write_artifact_file(bytes)?;
        insert_artifact(&self.connection(), &hash, kind, bytes.len())?;
        Ok(hash)
    }

    /// Writes an artifact's file (once per content) and returns its hash; its row is the caller's to insert.
    pub(crate) fn write_artifact_file(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let path = self.artifact_path(&hash);
        let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !present {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let tmp = dir.join(format!(".{hash}.{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        }
        Ok(hash)
    }

    /// Links an artifact to the node and port of a run that produced it.
    pub fn link_artifact(&self, run: i64, node: &str, port: &str, hash: &str) -> Result<(), StoreError> {
        link_artifact(&self.connection(), run, node, port, hash)
    }

    /// The artifacts a run produced, in the order they were recorded.
    pub fn artifacts_of(&self, run: i64) -> Result<Vec<ArtifactLink>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(
            "SELECT node, port, run_artifacts.hash, kind, bytes FROM run_artifacts
             JOIN artifacts ON artifacts.hash = run_artifacts.hash WHERE run_id = ?1 ORDER BY run_artifacts.rowid",
        )?;
        let rows = statement.query_map([run], |r| {
            Ok(ArtifactLink {
                node: r.get(0)?,
                port: r.get(1)?,
                hash: r.get(2)?,
                kind: r.get(3)?,
                bytes: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The kind of a stored artifact, if the store knows it.
    pub fn artifact_kind(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection()
            .query_row("SELECT kind FROM artifacts WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()?)
    }

    /// An artifact's bytes, checked against its hash: a file changed or damaged on disk is an error, never
    /// silently different content.
    pub fn read_artifact(&self, hash: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.artifact_path(hash);
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        if blake3::hash(&bytes).to_hex().as_str() != hash {
            return Err(io(&path, "the file no longer matches its content hash (it was changed or damaged)"));
        }
        Ok(bytes)
    }
}
