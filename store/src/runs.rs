//! Recording runs: one row per run (with the workflow as run), one per node, and the metrics.

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError};

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSource {
    /// The designer.
    Designer,
    /// `pipewright run`.
    Cli,
    /// A cluster job.
    Cluster,
}

impl RunSource {
    /// designer, cli or cluster, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Designer => "designer",
            Self::Cli => "cli",
            Self::Cluster => "cluster",
        }
    }
}

/// How a run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Still going (or its process died without saying, until the store is next opened).
    Running,
    /// Every planned node finished or came from the cache.
    Succeeded,
    /// A node failed.
    Failed,
    /// Stopped by the user.
    Cancelled,
    /// Its process died during the run.
    Interrupted,
}

impl RunStatus {
    /// The status as stored and shown: running, succeeded, failed, cancelled or interrupted.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => Self::Interrupted,
        }
    }
}

/// What is known when a run starts.
#[derive(Debug, Clone)]
pub struct RunStart<'a> {
    /// The experiment (by default the workflow file's name); created on first use.
    pub experiment: &'a str,
    /// The workflow's name.
    pub workflow_name: &'a str,
    /// The workflow file, as given.
    pub workflow_file: &'a str,
    /// The workflow as run (its JSON, parameter overrides applied).
    pub snapshot: &'a str,
    /// The overrides (`--set`) as a JSON object.
    pub overrides: &'a str,
    /// The device policy.
    pub device: &'a str,
    /// Who started it.
    pub source: RunSource,
}

/// One node's result in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    /// Node id.
    pub node: String,
    /// Node kind.
    pub kind: String,
    /// finished, cached, failed or skipped.
    pub status: String,
    /// Wall seconds.
    pub duration_secs: f64,
    /// Whether it came from a cache.
    pub cache_hit: bool,
    /// Where its kernels ran.
    pub device: Option<String>,
    /// Its error, if it failed or was skipped.
    pub error: Option<String>,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Experiment name.
    pub experiment: String,
    /// Workflow name.
    pub workflow_name: String,
    /// The workflow file it ran from (absolute where it could be resolved).
    pub workflow_file: String,
    /// Status.
    pub status: RunStatus,
    /// Who started it.
    pub source: String,
    /// Device policy.
    pub device: String,
    /// Start, seconds since the Unix epoch.
    pub started_at: f64,
    /// End, if it ended.
    pub ended_at: Option<f64>,
}

const RUN_QUERY: &str = "SELECT runs.id, experiments.name, workflow_name, workflow_file, status, source, device,
    started_at, ended_at FROM runs JOIN experiments ON experiments.id = runs.experiment_id";

fn run_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        experiment: r.get(1)?,
        workflow_name: r.get(2)?,
        workflow_file: r.get(3)?,
        status: RunStatus::parse(&r.get::<_, String>(4)?),
        source: r.get(5)?,
        device: r.get(6)?,
        started_at: r.get(7)?,
        ended_at: r.get(8)?,
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of seconds since the Unix epoch, as run lists show times.
pub fn format_utc(seconds: f64) -> String {
    pipewright_engine::UtcTime::from_unix(seconds.max(0.0) as i64).plain()
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's name, to tell whose runs a store may judge dead.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` of this machine still runs. Where that cannot be known (no `/proc`), it is assumed
/// to run, so a live run is never marked interrupted.
pub(crate) fn process_alive(pid: i64) -> bool {
    if pid == i64::from(std::process::id()) {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// What [`Store::record_node_results`] writes for one node.
#[derive(Debug, Clone)]
pub struct NodeResult<'a> {
    /// The node's row.
    pub node: &'a NodeRecord,
    /// The metrics of its reports.
    pub metrics: Vec<NodeMetric<'a>>,
    /// The artifacts it produced.
    pub artifacts: Vec<NodeArtifact>,
}

/// One metric of a node's report.
#[derive(Debug, Clone, Copy)]
pub struct NodeMetric<'a> {
    /// The evaluated input (`scored`, `scored_2`).
    pub source: &'a str,
    /// The metric's name.
    pub name: &'a str,
    /// Its value.
    pub value: f64,
}

/// An artifact a node produced on one of its output ports.
#[derive(Debug, Clone)]
pub struct NodeArtifact {
    /// The output port.
    pub port: String,
    /// model, transform, report or table.
    pub kind: &'static str,
    /// Its hash and size, and its content when it goes into the database.
    pub staged: crate::StagedArtifact,
}

fn insert_node(conn: &rusqlite::Connection, run: i64, node: &NodeRecord) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO node_runs (run_id, node, kind, status, duration_secs, cache_hit, device, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        run,
        node.node,
        node.kind,
        node.status,
        node.duration_secs,
        node.cache_hit,
        node.device,
        node.error
    ])?;
    Ok(())
}

fn insert_metric(
    conn: &rusqlite::Connection,
    run: i64,
    node: &str,
    source: &str,
    name: &str,
    value: f64,
    step: Option<i64>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO metrics (run_id, node, source, name, value, step) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![run, node, source, name, value, step])?;
    Ok(())
}

impl Store {
    /// Records the start of a run; returns its id.
    pub fn begin_run(&self, start: &RunStart<'_>) -> Result<i64, StoreError> {
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let experiment: Option<i64> =
            tx.query_row("SELECT id FROM experiments WHERE name = ?1", [start.experiment], |r| r.get(0)).optional()?;
        let experiment = if let Some(id) = experiment {
            id
        } else {
            tx.execute("INSERT INTO experiments (name, created_at) VALUES (?1, ?2)", params![start.experiment, now()])?;
            tx.last_insert_rowid()
        };
        tx.execute(
            "INSERT INTO runs (experiment_id, workflow_name, workflow_file, snapshot, overrides, device, source, host, pid,
                               started_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running')",
            params![
                experiment,
                start.workflow_name,
                start.workflow_file,
                start.snapshot,
                start.overrides,
                start.device,
                start.source.as_str(),
                host_name(),
                i64::from(std::process::id()),
                now(),
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Records (or replaces) one node's result.
    pub fn record_node(&self, run: i64, node: &NodeRecord) -> Result<(), StoreError> {
        insert_node(&self.connection(), run, node)
    }

    /// Records nodes' results with the metrics of their reports and the artifacts they produced, all in one
    /// transaction: a reader sees a node's row with all of its metrics and artifacts or none of them, and a
    /// run of many blocks commits once per batch of finished blocks, not once per row.
    pub fn record_node_results(&self, run: i64, results: &[NodeResult<'_>]) -> Result<(), StoreError> {
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for result in results {
            for m in &result.metrics {
                insert_metric(&tx, run, &result.node.node, m.source, m.name, m.value, None)?;
            }
            for a in &result.artifacts {
                crate::artifacts::insert_artifact(&tx, a.kind, &a.staged)?;
                crate::artifacts::link_artifact(&tx, run, &result.node.node, &a.port, &a.staged.hash)?;
            }
            insert_node(&tx, run, result.node)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records one metric of a node's report (`source` is the evaluated input, `step` an optional index).
    pub fn record_metric(
        &self,
        run: i64,
        node: &str,
        source: &str,
        name: &str,
        value: f64,
        step: Option<i64>,
    ) -> Result<(), StoreError> {
        insert_metric(&self.connection(), run, node, source, name, value, step)
    }

    /// Records how a run ended.
    pub fn finish_run(&self, run: i64, status: RunStatus) -> Result<(), StoreError> {
        self.connection().execute(
            "UPDATE runs SET status = ?1, ended_at = ?2 WHERE id = ?3",
            params![status.as_str(), now(), run],
        )?;
        Ok(())
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(&format!("{RUN_QUERY} ORDER BY started_at DESC, runs.id DESC"))?;
        let rows = statement.query_map([], run_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One run.
    pub fn run(&self, run: i64) -> Result<Option<RunRecord>, StoreError> {
        Ok(self.connection().query_row(&format!("{RUN_QUERY} WHERE runs.id = ?1"), [run], run_of).optional()?)
    }

    /// The workflow as a run ran it (its JSON) and the overrides it was given (a JSON object).
    pub fn snapshot_of(&self, run: i64) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .connection()
            .query_row("SELECT snapshot, overrides FROM runs WHERE id = ?1", [run], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The run's headline metric: the first it recorded in the engine's headline order.
    pub fn headline(&self, run: i64) -> Result<Option<(String, f64)>, StoreError> {
        let metrics = self.metrics_of(run)?;
        Ok(pipewright_engine::metric::headline_of(metrics, |m| m.2.as_str()).map(|m| (m.2, m.3)))
    }

    /// The nodes recorded for a run, in the order they were recorded.
    pub fn nodes_of(&self, run: i64) -> Result<Vec<NodeRecord>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(
            "SELECT node, kind, status, duration_secs, cache_hit, device, error FROM node_runs WHERE run_id = ?1
             ORDER BY rowid",
        )?;
        let rows = statement.query_map([run], |r| {
            Ok(NodeRecord {
                node: r.get(0)?,
                kind: r.get(1)?,
                status: r.get(2)?,
                duration_secs: r.get(3)?,
                cache_hit: r.get(4)?,
                device: r.get(5)?,
                error: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The metrics of a run as (node, source, name, value).
    pub fn metrics_of(&self, run: i64) -> Result<Vec<(String, String, String, f64)>, StoreError> {
        let conn = self.connection();
        let mut statement =
            conn.prepare("SELECT node, source, name, value FROM metrics WHERE run_id = ?1 ORDER BY rowid")?;
        let rows = statement.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
