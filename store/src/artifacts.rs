//! Artifacts: what a run produced (trained models, fitted transforms, reports with their charts' data, small
//! tables), stored once by content hash and linked to the runs that made them. Small ones are kept inside the
//! database (a run of many blocks then creates no file per block), larger ones as files under
//! `.pipewright/artifacts/`.

use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError};

/// Artifacts up to this size are kept inside the database; larger ones are files beside it. `SQLite` reads
/// blobs of this size faster than the file system opens files, and a run of many blocks writes no file per block.
pub const INLINE_ARTIFACT_BYTES: usize = 256 * 1024;

/// The value an artifact holds, read back as the run produced it (a table without its column roles, which
/// neither Arrow IPC nor Parquet keeps); `None` for an unknown kind or unreadable bytes. Models and transforms
/// are decoded and checked when they are used. Tables are Arrow IPC files; stores written before 0.3 hold them
/// as Parquet, told apart by their first bytes.
pub fn value_of_artifact(kind: &str, bytes: &[u8]) -> Option<pipewright_engine::Value> {
    use std::sync::Arc;

    use pipewright_engine::{Model, Report, Table, Transform, Value};
    use polars::prelude::SerReader;
    Some(match kind {
        "model" => Value::Model(Arc::new(serde_json::from_slice::<Model>(bytes).ok()?)),
        "transform" => Value::Transform(Arc::new(serde_json::from_slice::<Transform>(bytes).ok()?)),
        "report" => Value::Report(Arc::new(serde_json::from_slice::<Report>(bytes).ok()?)),
        "table" => {
            let cursor = std::io::Cursor::new(bytes);
            let frame = if bytes.starts_with(b"PAR1") {
                polars::prelude::ParquetReader::new(cursor).finish().ok()?
            } else {
                polars::prelude::IpcReader::new(cursor).finish().ok()?
            };
            Value::Table(Arc::new(Table::new(frame)))
        }
        _ => return None,
    })
}

/// An artifact ready to be linked in a transaction: its hash and size, and its bytes when they go into the
/// database with the rows that link them (a larger artifact's file is already written).
#[derive(Debug, Clone)]
pub struct StagedArtifact {
    /// Content hash (blake3, hex).
    pub hash: String,
    /// Size in bytes.
    pub bytes: usize,
    /// The content, for an artifact kept inside the database.
    pub content: Option<Vec<u8>>,
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

/// The row of a stored artifact, with its content when it is kept inside the database (both kept if they are
/// there already).
pub(crate) fn insert_artifact(
    conn: &rusqlite::Connection,
    kind: &str,
    artifact: &StagedArtifact,
) -> Result<(), StoreError> {
    let size = i64::try_from(artifact.bytes).unwrap_or(i64::MAX);
    conn.prepare_cached("INSERT OR IGNORE INTO artifacts (hash, kind, bytes, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![artifact.hash, kind, size, crate::runs::now()])?;
    if let Some(content) = &artifact.content {
        conn.prepare_cached("INSERT OR IGNORE INTO artifact_contents (hash, content) VALUES (?1, ?2)")?
            .execute(params![artifact.hash, content])?;
    }
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
    conn.prepare_cached("INSERT OR REPLACE INTO run_artifacts (run_id, node, port, hash) VALUES (?1, ?2, ?3, ?4)")?
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

    /// Stores `bytes` as an artifact of `kind` (once per content) and returns its hash.
    pub fn put_artifact(&self, kind: &str, bytes: &[u8]) -> Result<String, StoreError> {
        let staged = self.stage_artifact(bytes.to_vec())?;
        insert_artifact(&self.connection(), kind, &staged)?;
        Ok(staged.hash)
    }

    /// Prepares `bytes` to be stored as an artifact: a small one is kept for the transaction that inserts its
    /// row, a larger one is written to its file now (once per content). Its rows are the caller's to insert.
    pub(crate) fn stage_artifact(&self, bytes: Vec<u8>) -> Result<StagedArtifact, StoreError> {
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let size = bytes.len();
        if size <= INLINE_ARTIFACT_BYTES {
            return Ok(StagedArtifact { hash, bytes: size, content: Some(bytes) });
        }
        self.write_artifact_file(&hash, &bytes)?;
        Ok(StagedArtifact { hash, bytes: size, content: None })
    }

    /// Writes an artifact's file, unless it is there already. The file is written beside its final name and
    /// renamed into place, so a reader never sees half an artifact.
    fn write_artifact_file(&self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.artifact_path(hash);
        let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !present {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let tmp = dir.join(format!(".{hash}.{}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        }
        Ok(())
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

    /// A cluster run's job record (engine, job id, state, message and, when it fanned out, each task's state),
    /// kept as its `job`/`record` artifact; `None` for a run that did not come from a cluster.
    pub fn job_record(&self, run: i64) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(link) = self.artifacts_of(run)?.into_iter().find(|a| a.node == "job" && a.port == "record") else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&self.read_artifact(&link.hash)?).ok())
    }

    /// The kind of a stored artifact, if the store knows it.
    pub fn artifact_kind(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .connection()
            .query_row("SELECT kind FROM artifacts WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()?)
    }

    /// An artifact's bytes, from the database or its file, checked against its hash: content changed or
    /// damaged on disk is an error, never silently different content.
    pub fn read_artifact(&self, hash: &str) -> Result<Vec<u8>, StoreError> {
        let inline: Option<Vec<u8>> = self
            .connection()
            .query_row("SELECT content FROM artifact_contents WHERE hash = ?1", [hash], |r| r.get(0))
            .optional()?;
        let (bytes, path) = if let Some(bytes) = inline {
            (bytes, self.path.clone())
        } else {
            let path = self.artifact_path(hash);
            (std::fs::read(&path).map_err(|e| io(&path, e))?, path)
        };
        if blake3::hash(&bytes).to_hex().as_str() != hash {
            return Err(io(
                &path,
                format!("artifact {hash} no longer matches its content hash (it was changed or damaged)"),
            ));
        }
        Ok(bytes)
    }
}
