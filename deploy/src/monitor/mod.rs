//! Monitoring what an endpoint sees: the capture store's records of a model version, cut into windows (a
//! number of records, or a span of time), each compared with the version's training profile — per-feature
//! drift with Evidently's default tests and PSI beside them (see [`drift`]), the prediction's and the score's
//! drift, data quality (missing values, values outside the training range, records refused for a wrong type,
//! a missing value or an unseen category), and dataset drift when at least half of the features drift.

pub mod drift;
pub mod labels;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::{DataFrame, ParquetReader, SerReader};
use rayon::prelude::*;
use serde::Serialize;

use pipewright_nodes::deploy::{ColumnProfile, Distribution, Profile};

use crate::capture::{INPUT_PREFIX, folder_name};
use drift::{Current, Drift, column_drift};

/// The share of drifting features at which the dataset drifts.
pub const DATASET_DRIFT_SHARE: f64 = 0.5;

/// How records are cut into windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// Consecutive runs of this many records (the last may be shorter).
    Records(usize),
    /// Spans of this many seconds, aligned to the Unix epoch (days start at midnight UTC).
    Seconds(f64),
}

impl std::str::FromStr for Window {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("window `{text}`: give a number of records (1000) or a span (30m, 12h, 1d, 7d)");
        if let Ok(n) = text.parse::<usize>() {
            return if n == 0 { Err(bad()) } else { Ok(Self::Records(n)) };
        }
        let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return Err(bad()),
        };
        if number > 0.0 { Ok(Self::Seconds(number * seconds)) } else { Err(bad()) }
    }
}

/// One column's findings in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    /// The field, `prediction` or `score`.
    pub name: String,
    /// Its drift; `None` when a side has no values.
    pub drift: Option<Drift>,
    /// The share of records without a value.
    pub missing_rate: f64,
    /// The share of values outside the training range (numbers) or not seen in training (text).
    pub out_of_range: f64,
    /// Records refused for this field: a wrong type, a missing required value, an unseen category.
    pub refused: BTreeMap<String, u64>,
}

/// One window's findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowReport {
    /// The first record's time, seconds since the Unix epoch.
    pub start: f64,
    /// The last record's time.
    pub end: f64,
    /// Records scored in it.
    pub records: usize,
    /// Records refused in it.
    pub refused: usize,
    /// Each input field, in the package's order.
    pub features: Vec<ColumnReport>,
    /// The prediction and the score.
    pub outputs: Vec<ColumnReport>,
    /// The share of features that drifted.
    pub drift_share: f64,
    /// Whether at least half of the features drifted.
    pub dataset_drift: bool,
    /// Records with a true label.
    pub labelled: usize,
    /// The model's metrics on them.
    pub metrics: BTreeMap<String, f64>,
}

/// What the true labels are compared with: the model's task and classes, and the labels by request.
pub struct Truth<'a> {
    /// The task.
    pub task: pipewright_engine::Task,
    /// The classes, in the model's order (the last is the positive one of two).
    pub classes: &'a [String],
    /// The labels.
    pub labels: &'a labels::Labels,
}

/// The capture store's records of one model version.
pub struct Captured {
    /// The scored records, by time.
    pub scored: DataFrame,
    /// The refused ones, by time.
    pub refused: Option<DataFrame>,
}

fn read_folder(dir: &Path) -> Result<Option<DataFrame>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(None) };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet") && p.is_file())
        .collect();
    files.sort();
    let mut frame: Option<DataFrame> = None;
    for file in files {
        let open = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let part = ParquetReader::new(open).finish().map_err(|e| format!("{}: {e}", file.display()))?;
        frame = Some(match frame {
            None => part,
            Some(mut all) => {
                all.vstack_mut(&part).map_err(|e| format!("{}: {e}", file.display()))?;
                all
            }
        });
    }
    Ok(frame.map(|mut f| {
        f.rechunk_mut();
        f
    }))
}

/// Reads what the capture store in `dir` holds of `model` version `version` (the answers, or with `shadow` the
/// version's scores in the shadow).
pub fn read_capture(dir: &Path, model: &str, version: i64, shadow: bool) -> Result<Captured, String> {
    let folder = dir.join(folder_name(model)).join(format!("v{version}"));
    let scored = read_folder(&folder)?.ok_or_else(|| {
        format!(
            "the capture store {} holds nothing of {model} version {version} (serve it with --capture)",
            dir.display()
        )
    })?;
    let keep = scored
        .column("shadow")
        .and_then(|c| c.bool().cloned())
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .iter()
        .map(|s| s == Some(shadow))
        .collect::<polars::prelude::BooleanChunked>();
    let scored = scored.filter(&keep).map_err(|e| e.to_string())?;
    let scored = scored.sort(["time"], polars::prelude::SortMultipleOptions::default()).map_err(|e| e.to_string())?;
    let refused = if shadow { None } else { read_folder(&folder.join("rejected"))? };
    Ok(Captured { scored, refused })
}

/// The time column of a frame.
fn times(frame: &DataFrame) -> Vec<f64> {
    pipewright_nodes::frame::numeric_values(frame, "time")
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.unwrap_or(0.0))
        .collect()
}

/// Row ranges of each window over records sorted by `time`.
fn windows(time: &[f64], window: Window) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < time.len() {
        let end = match window {
            Window::Records(n) => (start + n).min(time.len()),
            Window::Seconds(span) => {
                let bucket = (time[start] / span).floor();
                start + time[start..].iter().take_while(|t| (*t / span).floor() == bucket).count()
            }
        };
        ranges.push((start, end));
        start = end;
    }
    ranges
}

/// One column of a window against its profile.
fn column_report(
    profile: &ColumnProfile,
    frame: &DataFrame,
    column: &str,
    refused: BTreeMap<String, u64>,
) -> ColumnReport {
    let rows = frame.height().max(1) as f64;
    let (current, missing, out_of_range) = match &profile.values {
        Distribution::Numeric { min, max, .. } => {
            let values = pipewright_nodes::frame::numeric_values(frame, column).unwrap_or_default();
            let missing = values.iter().filter(|v| v.is_none()).count();
            let outside = values.iter().flatten().filter(|v| **v < *min || **v > *max).count();
            (Current::numbers(values), missing, outside)
        }
        Distribution::Categorical { counts } => {
            // Counted straight from the column's text, without a string per record.
            let text = pipewright_nodes::frame::text_column(frame, column).ok();
            let cells = text.as_ref().and_then(|t| t.str().ok());
            let mut seen: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
            let mut missing = if cells.is_none() { frame.height() } else { 0 };
            for cell in cells.into_iter().flat_map(polars::prelude::ChunkedArray::iter) {
                match cell {
                    Some(v) => *seen.entry(v).or_default() += 1,
                    None => missing += 1,
                }
            }
            let unseen =
                seen.iter().filter(|(v, _)| !counts.iter().any(|(k, _)| k == *v)).map(|(_, n)| *n).sum::<u64>();
            let current = Current::Texts(seen.into_iter().map(|(k, n)| (k.to_owned(), n)).collect());
            (current, missing, usize::try_from(unseen).unwrap_or(usize::MAX))
        }
    };
    ColumnReport {
        name: profile.name.clone(),
        drift: column_drift(profile, &current),
        missing_rate: missing as f64 / rows,
        out_of_range: out_of_range as f64 / rows,
        refused,
    }
}

/// Refused requests, and refused records per field and kind of problem, among `refused` rows from `start`
/// (inclusive) to `end` (exclusive).
fn refusals(refused: Option<&DataFrame>, start: f64, end: f64) -> (usize, BTreeMap<String, BTreeMap<String, u64>>) {
    let mut by_field: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let Some(frame) = refused else { return (0, by_field) };
    let time = times(frame);
    let fields = pipewright_nodes::frame::text_values(frame, "field").unwrap_or_default();
    let problems = pipewright_nodes::frame::text_values(frame, "problem").unwrap_or_default();
    let ids = pipewright_nodes::frame::text_values(frame, "request_id").unwrap_or_default();
    let mut requests = std::collections::BTreeSet::new();
    for (i, &t) in time.iter().enumerate() {
        if t < start || t >= end {
            continue;
        }
        requests.insert(ids.get(i).cloned().flatten());
        let field = fields.get(i).cloned().flatten().unwrap_or_default();
        let problem = problems.get(i).cloned().flatten().unwrap_or_default();
        *by_field.entry(field).or_default().entry(problem).or_default() += 1;
    }
    (requests.len(), by_field)
}

/// Compares each window of `captured` with `profile`, and with the true labels when there are some.
pub fn monitor(profile: &Profile, captured: &Captured, window: Window, truth: Option<&Truth<'_>>) -> Vec<WindowReport> {
    let frame = &captured.scored;
    let time = times(frame);
    let mut reports = Vec::new();
    let ranges = windows(&time, window);
    for (k, &(from, to)) in ranges.iter().enumerate() {
        let part = frame.slice(i64::try_from(from).unwrap_or(i64::MAX), to - from);
        let (start, end) = (time[from], time[to - 1]);
        // Refused requests count in the window their time falls in: the first takes those before it, the
        // last those after it.
        let lower = if k == 0 { f64::NEG_INFINITY } else { start };
        let upper = ranges.get(k + 1).map_or(f64::INFINITY, |&(next, _)| time[next]);
        let (refused, mut by_field) = refusals(captured.refused.as_ref(), lower, upper);
        // Columns are independent: each is compared on a core of its own.
        let refusals: Vec<BTreeMap<String, u64>> =
            profile.features.iter().map(|f| by_field.remove(&f.name).unwrap_or_default()).collect();
        let features: Vec<ColumnReport> = profile
            .features
            .par_iter()
            .zip(refusals)
            .map(|(f, refused)| column_report(f, &part, &format!("{INPUT_PREFIX}{}", f.name), refused))
            .collect();
        let outputs: Vec<ColumnReport> = [&profile.prediction, &profile.score]
            .into_par_iter()
            .flatten()
            .filter(|p| part.column(&p.name).is_ok())
            .map(|p| column_report(p, &part, &p.name, BTreeMap::new()))
            .collect();
        let (labelled, metrics) =
            truth.map_or_else(Default::default, |t| labels::metrics(t.task, t.classes, &part, t.labels));
        let tested = features.iter().filter(|f| f.drift.is_some()).count();
        let drifted = features.iter().filter(|f| f.drift.is_some_and(|d| d.drifted)).count();
        let drift_share = if tested == 0 { 0.0 } else { drifted as f64 / tested as f64 };
        reports.push(WindowReport {
            start,
            end,
            records: to - from,
            refused,
            features,
            outputs,
            drift_share,
            dataset_drift: tested > 0 && drift_share >= DATASET_DRIFT_SHARE,
            labelled,
            metrics,
        });
    }
    reports
}

/// What one monitoring pass computed and recorded.
pub struct Monitored {
    /// The version monitored.
    pub version: pipewright_store::ModelVersion,
    /// Its training rows.
    pub reference_rows: u64,
    /// The windows.
    pub windows: Vec<WindowReport>,
    /// The alerts raised now.
    pub alerts: Vec<pipewright_store::Alert>,
    /// How long it took, reading the capture included.
    pub seconds: f64,
}

/// The store's record of a window.
pub fn to_record(model: &str, version: i64, w: &WindowReport) -> pipewright_store::WindowRecord {
    let wide = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let column = |c: &ColumnReport| pipewright_store::ColumnRecord {
        name: c.name.clone(),
        method: c.drift.map(|d| format!("{:?}", d.method).to_lowercase()),
        statistic: c.drift.map(|d| d.statistic),
        threshold: c.drift.map(|d| d.threshold),
        drifted: c.drift.is_some_and(|d| d.drifted),
        psi: c.drift.map(|d| d.psi),
        missing_rate: c.missing_rate,
        out_of_range: c.out_of_range,
        refused: i64::try_from(c.refused.values().sum::<u64>()).unwrap_or(i64::MAX),
    };
    pipewright_store::WindowRecord {
        model: model.to_owned(),
        version,
        start: w.start,
        end: w.end,
        records: wide(w.records),
        refused: wide(w.refused),
        drift_share: w.drift_share,
        dataset_drift: w.dataset_drift,
        columns: w.features.iter().chain(&w.outputs).map(column).collect(),
        labelled: wide(w.labelled),
        metrics: w.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
    }
}

/// Monitors the version `spec` names: reads its captured records (its answers, or with `shadow` its scores in
/// the shadow) and the labels from the capture store in `capture`, compares each window with the training
/// profile its package carries, and records the windows and alerts in `store`.
pub fn run(
    store: &pipewright_store::Store,
    capture: &Path,
    spec: &crate::ModelSpec,
    window: Window,
    shadow: bool,
) -> Result<Monitored, String> {
    let version = spec.resolve(store)?;
    let package = crate::package_of(store, &version)?;
    let Some(profile) = &package.manifest.profile else {
        return Err(format!(
            "{} version {} has no training profile: its run did not keep the raw rows it learned from (tables \
             over 100,000 cells are not recorded); register a model whose run keeps them",
            version.name, version.version
        ));
    };
    let started = std::time::Instant::now();
    let captured = read_capture(capture, &version.name, version.version, shadow)?;
    let labels = labels::read(capture, &version.name)?;
    let truth = Truth { task: package.manifest.task, classes: &package.manifest.classes, labels: &labels };
    let windows = monitor(profile, &captured, window, (!labels.is_empty()).then_some(&truth));
    let seconds = started.elapsed().as_secs_f64();
    let records: Vec<_> = windows.iter().map(|w| to_record(&version.name, version.version, w)).collect();
    let alerts = store.record_windows(&records).map_err(|e| e.to_string())?;
    Ok(Monitored { reference_rows: profile.rows, version, windows, alerts, seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_as_records_or_spans() {
        assert_eq!("1000".parse::<Window>(), Ok(Window::Records(1000)));
        assert_eq!("1d".parse::<Window>(), Ok(Window::Seconds(86_400.0)));
        assert_eq!("30m".parse::<Window>(), Ok(Window::Seconds(1800.0)));
        assert!("0".parse::<Window>().is_err() && "1y".parse::<Window>().expect_err("no years").contains("30m, 12h"));
        let time = [0.0, 1.0, 59.0, 60.0, 130.0];
        assert_eq!(windows(&time, Window::Seconds(60.0)), vec![(0, 3), (3, 4), (4, 5)]);
        assert_eq!(windows(&time, Window::Records(2)), vec![(0, 2), (2, 4), (4, 5)]);
    }
}
