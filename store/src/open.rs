//! Opening the store: refusing files that are not ours, migrating older schemas, and marking the runs of
//! processes that died as interrupted.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// `PRAGMA application_id` of a Pipewright store ("PWST").
const APPLICATION_ID: i64 = 0x5057_5354;

/// The schema this build writes.
pub const SCHEMA_VERSION: i64 = 6;

/// Schema steps: entry `i` takes a store from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "
    CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id),
        workflow_name TEXT NOT NULL,
        workflow_file TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        overrides TEXT NOT NULL,
        device TEXT NOT NULL,
        source TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        status TEXT NOT NULL
    );
    CREATE INDEX runs_by_experiment ON runs(experiment_id, started_at);
    CREATE TABLE node_runs (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        node TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        duration_secs REAL NOT NULL,
        cache_hit INTEGER NOT NULL,
        device TEXT,
        error TEXT,
        PRIMARY KEY (run_id, node)
    );
    CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        node TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        step INTEGER
    );
    CREATE INDEX metrics_by_run ON metrics(run_id);
    CREATE TABLE artifacts (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE run_artifacts (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        node TEXT NOT NULL,
        port TEXT NOT NULL,
        hash TEXT NOT NULL REFERENCES artifacts(hash),
        PRIMARY KEY (run_id, node, port)
    );
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        run_id INTEGER REFERENCES runs(id),
        node TEXT,
        artifact TEXT REFERENCES artifacts(hash),
        metrics TEXT NOT NULL,
        stage TEXT NOT NULL,
        notes TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (name, version)
    );
    ",
    // 1 → 2: the history of each model version's stage (what was promoted when), filled with the stage every
    // existing version has; metrics found by name for comparisons across runs.
    "
    CREATE TABLE model_stage_changes (
        model_id INTEGER NOT NULL REFERENCES models(id),
        stage TEXT NOT NULL,
        changed_at REAL NOT NULL
    );
    INSERT INTO model_stage_changes (model_id, stage, changed_at) SELECT id, stage, created_at FROM models;
    CREATE INDEX metrics_by_name ON metrics(name, run_id);
    ",
    // 2 → 3: small artifacts kept inside the database instead of one file each; those already stored stay
    // files.
    "
    CREATE TABLE artifact_contents (
        hash TEXT PRIMARY KEY REFERENCES artifacts(hash),
        content BLOB NOT NULL
    );
    ",
    // 3 → 4: a registered version keeps its model package (the trained pipeline with its preprocessing), so
    // what is served is what was evaluated; how a model's requests are shared among its versions (A/B weights)
    // and which version scores them in the shadow.
    "
    ALTER TABLE models ADD COLUMN package TEXT REFERENCES artifacts(hash);
    CREATE TABLE model_traffic (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        weight REAL NOT NULL,
        shadow INTEGER NOT NULL,
        PRIMARY KEY (name, version)
    );
    ",
    // 4 → 5: monitoring: each window of a served version's captured records compared with its training
    // profile, per feature, the model's metrics on the labelled records, and the alerts raised.
    "
    CREATE TABLE monitor_windows (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        records INTEGER NOT NULL,
        refused INTEGER NOT NULL,
        drift_share REAL NOT NULL,
        dataset_drift INTEGER NOT NULL,
        labelled INTEGER NOT NULL,
        computed_at REAL NOT NULL,
        UNIQUE (model, version, start)
    );
    CREATE TABLE monitor_metrics (
        window_id INTEGER NOT NULL REFERENCES monitor_windows(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        value REAL NOT NULL
    );
    CREATE TABLE monitor_columns (
        window_id INTEGER NOT NULL REFERENCES monitor_windows(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        method TEXT,
        statistic REAL,
        threshold REAL,
        drifted INTEGER NOT NULL,
        psi REAL,
        missing_rate REAL NOT NULL,
        out_of_range REAL NOT NULL,
        refused INTEGER NOT NULL
    );
    CREATE INDEX monitor_columns_by_window ON monitor_columns(window_id);
    CREATE TABLE monitor_alerts (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        message TEXT NOT NULL,
        raised_at REAL NOT NULL,
        UNIQUE (model, version, start)
    );
    ",
    // 5 → 6: schedules the agent runs (batch scoring, retraining, monitoring) and the history of their runs.
    "
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        cron TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_at REAL
    );
    CREATE TABLE schedule_runs (
        id INTEGER PRIMARY KEY,
        schedule TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        run_id INTEGER
    );
    CREATE INDEX schedule_runs_by_schedule ON schedule_runs(schedule, started_at);
    ",
];

/// The schema steps, for tests that build a store as an older Pipewright left it.
#[doc(hidden)]
pub fn migration_steps() -> &'static [&'static str] {
    MIGRATIONS
}

/// The store of the project in `project_dir`.
pub fn store_path(project_dir: &Path) -> PathBuf {
    project_dir.join(".pipewright").join("project.db")
}

/// An open project store. Several processes (the designer, `pipewright run`) may hold the same store: `SQLite`'s
/// write-ahead log lets readers work during a write, and writers wait their turn.
#[derive(Debug)]
pub struct Store {
    pub(crate) path: PathBuf,
    pub(crate) conn: Mutex<Connection>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// Brings a store's schema to [`SCHEMA_VERSION`]. One writer migrates at a time; the others see the result once
/// it is committed.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer { path: path.to_path_buf(), found, known: SCHEMA_VERSION });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(step)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))?;
    }
    tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    tx.commit()?;
    Ok(())
}

/// Creates a new store at `path` whole: built under a temporary name (schema, WAL mode, application id) and
/// linked into place only if nothing is there yet. Two processes creating the same store at once (the designer
/// and `pipewright run` on a new project) then never write over each other's first runs: `SQLite` cannot
/// arbitrate between two connections that both found the file empty.
fn create(path: &Path) -> Result<(), StoreError> {
    // Unique per process and per call: threads of one process may create a store at the same time too.
    static CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{file}.{}.{n}.new", std::process::id()));
    let sidecars = |p: &Path| ["-wal", "-shm", "-journal"].map(|s| PathBuf::from(format!("{}{s}", p.display())));
    let clean = |p: &Path| {
        let _ = std::fs::remove_file(p);
        for sidecar in sidecars(p) {
            let _ = std::fs::remove_file(sidecar);
        }
    };
    clean(&tmp);
    let built = (|| {
        let mut conn = Connection::open(&tmp)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        migrate(&mut conn, path)?;
        // Closing checkpoints the log into the file, so the file alone is the whole store.
        conn.close().map_err(|(_, e)| StoreError::Sqlite(e))
    })();
    let linked = built.and_then(|()| match std::fs::hard_link(&tmp, path) {
        // A file system without hard links: a rename, unless another process was quicker.
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists && !path.exists() => {
            std::fs::rename(&tmp, path).map_err(|e| io(path, e))
        }
        // Linked, or another process created the store first: theirs is as good as ours.
        _ => Ok(()),
    });
    clean(&tmp);
    linked
}

impl Store {
    /// Opens (creating it if needed) the store at `path`, migrates it to [`SCHEMA_VERSION`], and marks runs
    /// of processes that are gone as interrupted.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(path, e))?;
        }
        if !path.exists() {
            create(path)?;
        }
        // The header is SQLite's to check (a foreign file fails with NotADatabase, below). Opening and closing
        // another descriptor on the file here would drop every POSIX lock this process holds on it, those of
        // other open stores included, and a store whose locks are gone can lose committed runs.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let foreign = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                StoreError::Foreign(path.to_path_buf())
            }
            other => StoreError::Sqlite(other),
        };
        let application: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(foreign)?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(foreign)?;
        if application != APPLICATION_ID && !(application == 0 && tables == 0) {
            return Err(StoreError::Foreign(path.to_path_buf()));
        }
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        let store = Self { path: path.to_path_buf(), conn: Mutex::new(conn) };
        store.migrate()?;
        store.mark_interrupted()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.connection().query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        migrate(&mut self.connection(), &self.path)
    }

    /// Runs still `running` whose process is gone (it crashed or was killed) become `interrupted`.
    fn mark_interrupted(&self) -> Result<usize, StoreError> {
        let conn = self.connection();
        let host = crate::runs::host_name();
        let mut statement = conn.prepare("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?1")?;
        let running: Vec<(i64, i64)> =
            statement.query_map([&host], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut marked = 0;
        for (id, pid) in running {
            if !crate::runs::process_alive(pid) {
                marked += conn.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ?1 WHERE id = ?2 AND status = 'running'",
                    rusqlite::params![crate::runs::now(), id],
                )?;
            }
        }
        Ok(marked)
    }
}
