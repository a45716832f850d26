//! Ground truth that arrives after the predictions: a file of request ids (and, for requests of several
//! records, the record's place) with the true label, kept in the capture store beside the records
//! (`NAME/labels/`), and joined to them by request id to give a model's real metrics window by window.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use polars::prelude::{Column, DataFrame, ParquetReader, ParquetWriter, SerReader};

use pipewright_engine::Task;

use crate::capture::folder_name;

/// A true label: a class, or a value for regression.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A class (or any text).
    Text(String),
    /// A number.
    Number(f64),
}

/// The labels of a model's requests, by (request id, record).
pub type Labels = HashMap<(String, u32), Label>;

/// What an import added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Labels read.
    pub labels: usize,
    /// Distinct requests they belong to.
    pub requests: usize,
    /// The file written in the capture store.
    pub file: PathBuf,
}

/// The columns of a label file: the request id, the record's place (optional: 0 when absent) and the label.
#[derive(Debug, Clone)]
pub struct LabelColumns<'a> {
    /// The request id column.
    pub id: &'a str,
    /// The record column, if the file has one.
    pub record: Option<&'a str>,
    /// The label column.
    pub label: &'a str,
}

fn labels_dir(capture: &Path, model: &str) -> PathBuf {
    capture.join(folder_name(model)).join("labels")
}

/// Reads a label file (CSV, Parquet, JSON or NDJSON) and keeps its labels in the capture store. A missing
/// column is refused naming the columns the file has; rows without an id or a label are left out.
pub fn import(capture: &Path, model: &str, file: &Path, columns: &LabelColumns<'_>) -> Result<Imported, String> {
    let frame = pipewright_nodes::data::read_file(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let names: Vec<String> = frame.get_column_names().iter().map(ToString::to_string).collect();
    let missing =
        |column: &str| format!("{} has no column \"{column}\"; its columns: {}", file.display(), names.join(", "));
    let ids = pipewright_nodes::frame::text_values(&frame, columns.id).map_err(|_| missing(columns.id))?;
    let records = match columns.record {
        Some(record) => pipewright_nodes::frame::numeric_values(&frame, record).map_err(|_| missing(record))?,
        None => vec![Some(0.0); frame.height()],
    };
    let column = frame.column(columns.label).map_err(|_| missing(columns.label))?;
    let numeric = column.dtype().is_primitive_numeric();
    let (texts, numbers) = if numeric {
        (None, Some(pipewright_nodes::frame::numeric_values(&frame, columns.label).map_err(|e| e.to_string())?))
    } else {
        (Some(pipewright_nodes::frame::text_values(&frame, columns.label).map_err(|e| e.to_string())?), None)
    };
    let mut keep_ids = Vec::new();
    let mut keep_records = Vec::new();
    let mut keep_texts = Vec::new();
    let mut keep_numbers = Vec::new();
    for i in 0..frame.height() {
        let (Some(id), Some(record)) = (&ids[i], records[i]) else { continue };
        let label_present =
            texts.as_ref().map_or_else(|| numbers.as_ref().is_some_and(|n| n[i].is_some()), |t| t[i].is_some());
        if !label_present || record < 0.0 {
            continue;
        }
        keep_ids.push(id.clone());
        keep_records.push(record as u32);
        if let Some(t) = &texts {
            keep_texts.push(t[i].clone());
        }
        if let Some(n) = &numbers {
            keep_numbers.push(n[i]);
        }
    }
    if keep_ids.is_empty() {
        return Err(format!("{} has no row with both a request id and a label", file.display()));
    }
    let labels = keep_ids.len();
    let requests = keep_ids.iter().collect::<std::collections::HashSet<_>>().len();
    let label =
        if numeric { Column::new("label".into(), keep_numbers) } else { Column::new("label".into(), keep_texts) };
    let mut out = DataFrame::new(
        labels,
        vec![Column::new("request_id".into(), keep_ids), Column::new("record".into(), keep_records), label],
    )
    .map_err(|e| e.to_string())?;
    let dir = labels_dir(capture, model);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = pipewright_nodes::deploy::rfc3339(SystemTime::now()).replace(['-', ':'], "");
    let n = std::fs::read_dir(&dir).map_or(0, Iterator::count);
    let path = dir.join(format!("{stamp}-{n:06}.parquet"));
    let tmp = dir.join(format!(".{stamp}-{n:06}.parquet.part"));
    std::fs::File::create(&tmp)
        .map_err(|e| e.to_string())
        .and_then(|f| ParquetWriter::new(f).finish(&mut out).map_err(|e| e.to_string()))
        .and_then(|_| std::fs::rename(&tmp, &path).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Imported { labels, requests, file: path })
}

/// Every label kept for a model; a later file's label for the same record replaces an earlier one.
pub fn read(capture: &Path, model: &str) -> Result<Labels, String> {
    let dir = labels_dir(capture, model);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect())
        .unwrap_or_default();
    files.sort();
    let mut labels = Labels::new();
    for file in files {
        let open = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let frame = ParquetReader::new(open).finish().map_err(|e| format!("{}: {e}", file.display()))?;
        let ids = pipewright_nodes::frame::text_values(&frame, "request_id").map_err(|e| e.to_string())?;
        let records = pipewright_nodes::frame::numeric_values(&frame, "record").map_err(|e| e.to_string())?;
        let column = frame.column("label").map_err(|e| e.to_string())?;
        let values: Vec<Option<Label>> = if column.dtype().is_primitive_numeric() {
            pipewright_nodes::frame::numeric_values(&frame, "label")
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|v| v.map(Label::Number))
                .collect()
        } else {
            pipewright_nodes::frame::text_values(&frame, "label")
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|v| v.map(Label::Text))
                .collect()
        };
        for ((id, record), label) in ids.into_iter().zip(records).zip(values) {
            if let (Some(id), Some(record), Some(label)) = (id, record, label) {
                labels.insert((id, record as u32), label);
            }
        }
    }
    Ok(labels)
}

/// The model's metrics on the labelled records of a window: accuracy (and ROC AUC for two classes, the
/// positive class being the last) for classifiers, MAE, RMSE and R² for regression. Returns how many records
/// were labelled and the metrics.
pub fn metrics(task: Task, classes: &[String], frame: &DataFrame, labels: &Labels) -> (usize, BTreeMap<String, f64>) {
    let ids = pipewright_nodes::frame::text_values(frame, "request_id").unwrap_or_default();
    let records = pipewright_nodes::frame::numeric_values(frame, "record").unwrap_or_default();
    let truth: Vec<Option<&Label>> =
        ids.iter().zip(&records).map(|(id, record)| labels.get(&(id.clone()?, (*record)? as u32))).collect();
    let labelled = truth.iter().flatten().count();
    let mut out = BTreeMap::new();
    if labelled == 0 {
        return (0, out);
    }
    match task {
        Task::BinaryClassification | Task::MulticlassClassification => {
            let predicted = pipewright_nodes::frame::text_values(frame, "prediction").unwrap_or_default();
            let scores = pipewright_nodes::frame::numeric_values(frame, "score").unwrap_or_default();
            let text = |l: &Label| match l {
                Label::Text(t) => t.clone(),
                Label::Number(x) => x.to_string(),
            };
            let mut right = 0usize;
            let (mut is_positive, mut p_positive) = (Vec::new(), Vec::new());
            let positive = classes.last();
            for (i, t) in truth.iter().enumerate() {
                let Some(t) = t else { continue };
                let t = text(t);
                right += usize::from(predicted.get(i).and_then(Option::as_deref) == Some(t.as_str()));
                if let (2, Some(positive), Some(Some(p)), Some(Some(s))) =
                    (classes.len(), positive, predicted.get(i), scores.get(i))
                {
                    is_positive.push(&t == positive);
                    p_positive.push(if p == positive { *s } else { 1.0 - s });
                }
            }
            out.insert("accuracy".into(), right as f64 / labelled as f64);
            if let Some(auc) = pipewright_nodes::evaluate::metrics::roc_auc(&is_positive, &p_positive) {
                out.insert("roc_auc".into(), auc);
            }
        }
        Task::Regression => {
            let predicted = pipewright_nodes::frame::numeric_values(frame, "prediction").unwrap_or_default();
            let pairs: Vec<(f64, f64)> = truth
                .iter()
                .zip(&predicted)
                .filter_map(|(t, p)| match (t, p) {
                    (Some(Label::Number(t)), Some(p)) => Some((*t, *p)),
                    _ => None,
                })
                .collect();
            if !pairs.is_empty() {
                let n = pairs.len() as f64;
                let mean = pairs.iter().map(|(t, _)| t).sum::<f64>() / n;
                let sse: f64 = pairs.iter().map(|(t, p)| (t - p).powi(2)).sum();
                let sst: f64 = pairs.iter().map(|(t, _)| (t - mean).powi(2)).sum();
                out.insert("mae".into(), pairs.iter().map(|(t, p)| (t - p).abs()).sum::<f64>() / n);
                out.insert("rmse".into(), (sse / n).sqrt());
                if sst > 0.0 {
                    out.insert("r2".into(), 1.0 - sse / sst);
                }
            }
        }
        Task::AnomalyDetection | Task::Clustering => {}
    }
    (labelled, out)
}
