//! Monitoring results: each window of a served model version's captured records as compared with its training
//! profile (per column: the test, its statistic, whether it drifted, PSI, data quality), and the alerts raised
//! when a window's dataset drifted. Computing a window again replaces it; an alert is raised once per window.

use rusqlite::params;

use crate::{Store, StoreError};

/// One column of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRecord {
    /// The field, `prediction` or `score`.
    pub name: String,
    /// The test, when both sides had values.
    pub method: Option<String>,
    /// Its p-value or distance.
    pub statistic: Option<f64>,
    /// Its threshold.
    pub threshold: Option<f64>,
    /// Whether it drifted.
    pub drifted: bool,
    /// The population stability index.
    pub psi: Option<f64>,
    /// The share of records without a value.
    pub missing_rate: f64,
    /// The share of values outside the training range or unseen in training.
    pub out_of_range: f64,
    /// Records refused for this field.
    pub refused: i64,
}

/// One window of a model version's records.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRecord {
    /// The model.
    pub model: String,
    /// The version.
    pub version: i64,
    /// The first record's time, seconds since the Unix epoch.
    pub start: f64,
    /// The last record's time.
    pub end: f64,
    /// Records scored.
    pub records: i64,
    /// Requests refused.
    pub refused: i64,
    /// The share of features that drifted.
    pub drift_share: f64,
    /// Whether the dataset drifted.
    pub dataset_drift: bool,
    /// Each column.
    pub columns: Vec<ColumnRecord>,
    /// Records with a true label.
    pub labelled: i64,
    /// The model's metrics on them, by name.
    pub metrics: Vec<(String, f64)>,
}

/// An alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The model.
    pub model: String,
    /// The version.
    pub version: i64,
    /// The window's first record's time.
    pub start: f64,
    /// Its last.
    pub end: f64,
    /// What happened.
    pub message: String,
    /// When it was raised.
    pub raised_at: f64,
}

impl Store {
    /// Records computed windows, replacing those with the same start, and raises an alert for each window whose
    /// dataset drifted that had none. Returns the alerts raised now.
    pub fn record_windows(&self, windows: &[WindowRecord]) -> Result<Vec<Alert>, StoreError> {
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = crate::runs::now();
        let mut raised = Vec::new();
        for w in windows {
            for table in ["monitor_columns", "monitor_metrics"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE window_id IN
                         (SELECT id FROM monitor_windows WHERE model = ?1 AND version = ?2 AND start = ?3)"
                    ),
                    params![w.model, w.version, w.start],
                )?;
            }
            tx.execute(
                "DELETE FROM monitor_windows WHERE model = ?1 AND version = ?2 AND start = ?3",
                params![w.model, w.version, w.start],
            )?;
            tx.execute(
                "INSERT INTO monitor_windows (model, version, start, end, records, refused, drift_share, dataset_drift, labelled, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![w.model, w.version, w.start, w.end, w.records, w.refused, w.drift_share, w.dataset_drift, w.labelled, now],
            )?;
            let id = tx.last_insert_rowid();
            for (name, value) in &w.metrics {
                tx.execute(
                    "INSERT INTO monitor_metrics (window_id, name, value) VALUES (?1, ?2, ?3)",
                    params![id, name, value],
                )?;
            }
            for c in &w.columns {
                tx.execute(
                    "INSERT INTO monitor_columns (window_id, name, method, statistic, threshold, drifted, psi, missing_rate, out_of_range, refused)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![id, c.name, c.method, c.statistic, c.threshold, c.drifted, c.psi, c.missing_rate, c.out_of_range, c.refused],
                )?;
            }
            if w.dataset_drift {
                let drifted: Vec<&str> = w
                    .columns
                    .iter()
                    .filter(|c| c.drifted && c.name != "prediction" && c.name != "score")
                    .map(|c| c.name.as_str())
                    .collect();
                let message = format!(
                    "{} version {}: the data drifted ({:.0}% of the features: {})",
                    w.model,
                    w.version,
                    100.0 * w.drift_share,
                    drifted.join(", ")
                );
                let added = tx.execute(
                    "INSERT OR IGNORE INTO monitor_alerts (model, version, start, end, message, raised_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![w.model, w.version, w.start, w.end, message, now],
                )?;
                if added > 0 {
                    raised.push(Alert {
                        model: w.model.clone(),
                        version: w.version,
                        start: w.start,
                        end: w.end,
                        message,
                        raised_at: now,
                    });
                }
            }
        }
        tx.commit()?;
        Ok(raised)
    }

    /// The recorded windows of a model version, oldest first.
    pub fn monitor_windows(&self, model: &str, version: i64) -> Result<Vec<WindowRecord>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(
            "SELECT id, start, end, records, refused, drift_share, dataset_drift, labelled FROM monitor_windows
             WHERE model = ?1 AND version = ?2 ORDER BY start",
        )?;
        let heads: Vec<(i64, WindowRecord)> = statement
            .query_map(params![model, version], |r| {
                Ok((
                    r.get(0)?,
                    WindowRecord {
                        model: model.to_owned(),
                        version,
                        start: r.get(1)?,
                        end: r.get(2)?,
                        records: r.get(3)?,
                        refused: r.get(4)?,
                        drift_share: r.get(5)?,
                        dataset_drift: r.get(6)?,
                        columns: Vec::new(),
                        labelled: r.get(7)?,
                        metrics: Vec::new(),
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        let mut columns = conn.prepare(
            "SELECT name, method, statistic, threshold, drifted, psi, missing_rate, out_of_range, refused
             FROM monitor_columns WHERE window_id = ?1 ORDER BY rowid",
        )?;
        let mut metrics =
            conn.prepare("SELECT name, value FROM monitor_metrics WHERE window_id = ?1 ORDER BY rowid")?;
        let mut windows = Vec::with_capacity(heads.len());
        for (id, mut w) in heads {
            w.metrics = metrics.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            w.columns = columns
                .query_map([id], |r| {
                    Ok(ColumnRecord {
                        name: r.get(0)?,
                        method: r.get(1)?,
                        statistic: r.get(2)?,
                        threshold: r.get(3)?,
                        drifted: r.get(4)?,
                        psi: r.get(5)?,
                        missing_rate: r.get(6)?,
                        out_of_range: r.get(7)?,
                        refused: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            windows.push(w);
        }
        Ok(windows)
    }

    /// The alerts raised for a model, newest first.
    pub fn alerts(&self, model: &str) -> Result<Vec<Alert>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(
            "SELECT version, start, end, message, raised_at FROM monitor_alerts WHERE model = ?1 ORDER BY raised_at DESC, id DESC",
        )?;
        let rows = statement.query_map([model], |r| {
            Ok(Alert {
                model: model.to_owned(),
                version: r.get(0)?,
                start: r.get(1)?,
                end: r.get(2)?,
                message: r.get(3)?,
                raised_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
