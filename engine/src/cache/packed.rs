//! Small disk-cache entries as rows of one database (`entries.db` in the cache's folder) instead of a folder
//! of files each: a run of many small blocks would otherwise spend most of its time creating files. An entry's
//! row holds its files packed together (see [`pack`]); large entries stay folders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, params};

/// The database's file in the cache's folder.
pub const DATABASE: &str = "entries.db";

/// Entries whose files together are at most this many bytes are rows of the database.
pub const PACKED_MAX_BYTES: usize = 1 << 20;

/// The first bytes of a packed entry.
const MAGIC: &[u8; 4] = b"PWC1";

/// The cache's database, opened when first needed. A database that cannot be opened (damaged, or not one)
/// is left alone: its entries count as misses and new entries are written as folders.
#[derive(Debug, Clone)]
pub struct Packed {
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
enum State {
    Unopened,
    Open(Connection),
    Unusable,
}

/// Nanoseconds since the Unix epoch: when an entry was last used, comparable with a folder's time.
pub fn stamp(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The time of a [`stamp`].
pub fn time_of(stamp: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(stamp).unwrap_or(0))
}

impl Packed {
    /// The database of the cache in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self { path: dir.join(DATABASE), state: Arc::new(Mutex::new(State::Unopened)) }
    }

    /// No database: every entry is a folder (a cache shared by the nodes of a cluster over a network file
    /// system, where a database's locks cannot be trusted).
    pub fn none(dir: &Path) -> Self {
        Self { path: dir.join(DATABASE), state: Arc::new(Mutex::new(State::Unusable)) }
    }

    /// Runs `f` on the database; `create`: open (creating) it if it is not there yet. `None` when there is no
    /// usable database or `f` failed.
    fn with<T>(&self, create: bool, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(*state, State::Unopened) {
            if !create && !self.path.exists() {
                return None;
            }
            *state = match open(&self.path) {
                Ok(conn) => State::Open(conn),
                Err(_) => State::Unusable,
            };
        }
        match &*state {
            State::Open(conn) => f(conn).ok(),
            State::Unopened | State::Unusable => None,
        }
    }

    /// Stores a packed entry (kept if another process stored it first); its size in bytes, or `None` when the
    /// database cannot take it.
    pub fn put(&self, fingerprint: &str, content: &[u8]) -> Option<u64> {
        let bytes = content.len() as u64;
        self.with(true, |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO entries (fingerprint, content, bytes, used_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                fingerprint,
                content,
                i64::try_from(bytes).unwrap_or(i64::MAX),
                stamp(SystemTime::now())
            ])
        })?;
        Some(bytes)
    }

    /// A packed entry's content, marked as just used.
    pub fn get(&self, fingerprint: &str) -> Option<Vec<u8>> {
        self.with(false, |conn| {
            let content: Option<Vec<u8>> = conn
                .prepare_cached("SELECT content FROM entries WHERE fingerprint = ?1")?
                .query_row([fingerprint], |r| r.get(0))
                .optional()?;
            if content.is_some() {
                conn.prepare_cached("UPDATE entries SET used_at = ?1 WHERE fingerprint = ?2")?
                    .execute(params![stamp(SystemTime::now()), fingerprint])?;
            }
            Ok(content)
        })
        .flatten()
    }

    /// Whether it holds an entry.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.with(false, |conn| {
            conn.prepare_cached("SELECT 1 FROM entries WHERE fingerprint = ?1")?
                .query_row([fingerprint], |_| Ok(()))
                .optional()
        })
        .flatten()
        .is_some()
    }

    /// Removes an entry; whether it held it.
    pub fn remove(&self, fingerprint: &str) -> bool {
        self.with(false, |conn| {
            conn.prepare_cached("DELETE FROM entries WHERE fingerprint = ?1")?.execute([fingerprint])
        })
        .is_some_and(|n| n > 0)
    }

    /// Every entry: fingerprint, bytes and when it was last used.
    pub fn list(&self) -> Vec<(String, u64, SystemTime)> {
        self.with(false, |conn| {
            let mut statement = conn.prepare("SELECT fingerprint, bytes, used_at FROM entries")?;
            let rows = statement.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs(), time_of(r.get(2)?)))
            })?;
            rows.collect()
        })
        .unwrap_or_default()
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS entries (
             fingerprint TEXT PRIMARY KEY,
             content BLOB NOT NULL,
             bytes INTEGER NOT NULL,
             used_at INTEGER NOT NULL
         );",
    )?;
    Ok(conn)
}

/// Files packed into one buffer: `PWC1`, then per file its name's length (u16), its name, its length (u64)
/// and its bytes, all little-endian.
pub fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let total: usize = files.iter().map(|(n, b)| 2 + n.len() + 8 + b.len()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + total);
    out.extend_from_slice(MAGIC);
    for (name, bytes) in files {
        out.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// The files of a [`pack`]ed buffer by name; `None` when it is damaged.
pub fn unpack(mut bytes: &[u8]) -> Option<HashMap<String, &[u8]>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    if take(&mut bytes, MAGIC.len())? != MAGIC {
        return None;
    }
    let mut files = HashMap::new();
    while !bytes.is_empty() {
        let name_len = u16::from_le_bytes(take(&mut bytes, 2)?.try_into().ok()?);
        let name = std::str::from_utf8(take(&mut bytes, usize::from(name_len))?).ok()?.to_owned();
        let len = usize::try_from(u64::from_le_bytes(take(&mut bytes, 8)?.try_into().ok()?)).ok()?;
        files.insert(name, take(&mut bytes, len)?);
    }
    Some(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_files_unpack_and_damage_is_found() {
        let files = vec![("manifest.json".to_owned(), b"{}".to_vec()), ("0.arrow".to_owned(), vec![1, 2, 3])];
        let packed = pack(&files);
        let back = unpack(&packed).expect("unpacks");
        assert_eq!(back.len(), 2);
        assert_eq!(back["0.arrow"], [1, 2, 3]);
        assert!(unpack(&packed[..packed.len() - 1]).is_none(), "cut short");
        assert!(unpack(b"nope").is_none(), "not a pack");
    }

    #[test]
    fn a_damaged_database_is_left_alone_and_counts_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(DATABASE), b"not a database at all, but someone's file").expect("writes");
        let packed = Packed::new(dir.path());
        assert!(packed.get("x").is_none());
        assert!(packed.put("x", b"content").is_none(), "not written into");
        assert!(packed.list().is_empty());
        assert_eq!(
            std::fs::read(dir.path().join(DATABASE)).expect("reads"),
            b"not a database at all, but someone's file"
        );
    }
}
