//! Schedules: named jobs (batch scoring, retraining, monitoring) on a cron expression, with what each one
//! runs as JSON, the next time it is due, and the history of its runs (when, why — the clock, a drift alert, a
//! person — how it ended and what it said). `pipewright agent` runs them.

use rusqlite::{OptionalExtension, Row, params};

use crate::{Store, StoreError};

/// A schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Its name.
    pub name: String,
    /// `score`, `retrain` or `monitor`.
    pub kind: String,
    /// The cron expression (UTC).
    pub cron: String,
    /// What it runs, as its kind reads it.
    pub spec: serde_json::Value,
    /// When it was added, seconds since the Unix epoch.
    pub created_at: f64,
    /// When it is due next.
    pub next_at: Option<f64>,
}

/// One run of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRun {
    /// Row id.
    pub id: i64,
    /// The schedule's name.
    pub schedule: String,
    /// `cron`, `drift` (an alert) or `manual`.
    pub trigger: String,
    /// When it started.
    pub started_at: f64,
    /// When it ended.
    pub ended_at: Option<f64>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// What it did, or why it failed.
    pub message: String,
    /// The workflow run it recorded, for a retraining.
    pub run_id: Option<i64>,
}

fn schedule_of(r: &Row<'_>) -> rusqlite::Result<Schedule> {
    Ok(Schedule {
        name: r.get(0)?,
        kind: r.get(1)?,
        cron: r.get(2)?,
        spec: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
        created_at: r.get(4)?,
        next_at: r.get(5)?,
    })
}

fn run_of(r: &Row<'_>) -> rusqlite::Result<ScheduleRun> {
    Ok(ScheduleRun {
        id: r.get(0)?,
        schedule: r.get(1)?,
        trigger: r.get(2)?,
        started_at: r.get(3)?,
        ended_at: r.get(4)?,
        status: r.get(5)?,
        message: r.get(6)?,
        run_id: r.get(7)?,
    })
}

const SCHEDULE_COLUMNS: &str = "name, kind, cron, spec, created_at, next_at";
const RUN_COLUMNS: &str = "id, schedule, trigger, started_at, ended_at, status, message, run_id";

impl Store {
    /// Adds a schedule; a name in use is refused.
    pub fn add_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        if self.schedule(&schedule.name)?.is_some() {
            return Err(StoreError::Invalid(format!(
                "a schedule named `{}` exists: remove it first, or choose another name",
                schedule.name
            )));
        }
        self.connection().execute(
            &format!("INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                schedule.name,
                schedule.kind,
                schedule.cron,
                schedule.spec.to_string(),
                schedule.created_at,
                schedule.next_at
            ],
        )?;
        Ok(())
    }

    /// Every schedule, by name.
    pub fn schedules(&self) -> Result<Vec<Schedule>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(&format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"))?;
        let rows = statement.query_map([], schedule_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One schedule.
    pub fn schedule(&self, name: &str) -> Result<Option<Schedule>, StoreError> {
        Ok(self
            .connection()
            .query_row(&format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = ?1"), [name], schedule_of)
            .optional()?)
    }

    /// Removes a schedule (its run history stays); refused naming the schedules when there is none by that name.
    pub fn remove_schedule(&self, name: &str) -> Result<(), StoreError> {
        let removed = self.connection().execute("DELETE FROM schedules WHERE name = ?1", [name])?;
        if removed == 0 {
            let names: Vec<String> = self.schedules()?.into_iter().map(|s| s.name).collect();
            return Err(StoreError::Invalid(if names.is_empty() {
                format!("no schedule `{name}`: there are none")
            } else {
                format!("no schedule `{name}`; the schedules: {}", names.join(", "))
            }));
        }
        Ok(())
    }

    /// Sets when a schedule is due next.
    pub fn set_next(&self, name: &str, next_at: Option<f64>) -> Result<(), StoreError> {
        self.connection().execute("UPDATE schedules SET next_at = ?1 WHERE name = ?2", params![next_at, name])?;
        Ok(())
    }

    /// Records that a schedule's run started; returns its id.
    pub fn begin_schedule_run(&self, schedule: &str, trigger: &str) -> Result<i64, StoreError> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO schedule_runs (schedule, trigger, started_at, status, message) VALUES (?1, ?2, ?3, 'running', '')",
            params![schedule, trigger, crate::runs::now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records how a schedule's run ended.
    pub fn end_schedule_run(
        &self,
        id: i64,
        succeeded: bool,
        message: &str,
        run: Option<i64>,
    ) -> Result<(), StoreError> {
        self.connection().execute(
            "UPDATE schedule_runs SET ended_at = ?1, status = ?2, message = ?3, run_id = ?4 WHERE id = ?5",
            params![crate::runs::now(), if succeeded { "succeeded" } else { "failed" }, message, run, id],
        )?;
        Ok(())
    }

    /// A schedule's runs, newest first (every schedule's with `None`).
    pub fn schedule_runs(&self, schedule: Option<&str>) -> Result<Vec<ScheduleRun>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE ?1 IS NULL OR schedule = ?1 ORDER BY started_at DESC, id DESC"
        ))?;
        let rows = statement.query_map([schedule], run_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alerts for `model` raised after `since` (seconds since the Unix epoch).
    pub fn alerts_since(&self, model: &str, since: f64) -> Result<Vec<crate::Alert>, StoreError> {
        Ok(self.alerts(model)?.into_iter().filter(|a| a.raised_at > since).collect())
    }
}
