//! Evaluate Model.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, ConfusionMatrix, Curve, Evaluation, Metric, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind,
    PortType, Report, Role, Rows, Table, Task, Value,
};

use super::metrics;
use crate::frame::{nan_values, numeric_values, text_values};
use crate::train::{ASSIGNMENTS, CLUSTERING_FEATURES, DISTANCE, PROBABILITY_PREFIX, SCORED_LABELS};

/// Computes metrics of scored data; with two or three inputs, side by side.
pub struct EvaluateModel;

impl EvaluateModel {
    /// The kind id.
    pub const ID: &'static str = "evaluate.evaluate_model";
}

fn metric(name: &str, value: f64) -> Metric {
    Metric { name: name.to_owned(), value }
}

fn label_column(table: &Table) -> Result<String, NodeError> {
    table.label().map(str::to_owned).ok_or_else(|| {
        NodeError::data(
            "no column is marked as label: score the data with Score Model, or mark the label with Edit Metadata",
        )
    })
}

#[allow(clippy::too_many_lines, reason = "the metrics of one confusion matrix, best read together")]
fn classification(table: &Table, source: &str, positive: Option<&str>) -> Result<Evaluation, NodeError> {
    let label = label_column(table)?;
    let classes: Vec<String> = table
        .frame
        .get_column_names()
        .iter()
        .filter_map(|n| n.strip_prefix(PROBABILITY_PREFIX).map(str::to_owned))
        .collect();
    let actual = text_values(&table.frame, &label)?;
    let predicted = text_values(&table.frame, SCORED_LABELS)?;
    let probabilities: Vec<Vec<f64>> = classes
        .iter()
        .map(|c| {
            numeric_values(&table.frame, &format!("{PROBABILITY_PREFIX}{c}"))
                .map(|v| v.into_iter().map(Option::unwrap_or_default).collect())
        })
        .collect::<Result<_, _>>()?;
    // Rows whose label is missing or a class the model never saw cannot be scored against.
    let rows: Vec<(usize, usize, usize)> = actual
        .iter()
        .zip(&predicted)
        .enumerate()
        .filter_map(|(i, (a, p))| {
            let a = classes.iter().position(|c| Some(c) == a.as_ref())?;
            let p = classes.iter().position(|c| Some(c) == p.as_ref())?;
            Some((i, a, p))
        })
        .collect();
    if rows.is_empty() {
        return Err(NodeError::data(format!(
            "no row of \"{source}\" has a label among the model's classes ({})",
            classes.join(", ")
        )));
    }
    let k = classes.len();
    let mut counts = vec![vec![0u64; k]; k];
    for &(_, a, p) in &rows {
        counts[a][p] += 1;
    }
    let n = rows.len() as f64;
    let accuracy = (0..k).map(|c| counts[c][c]).sum::<u64>() as f64 / n;
    let per_class: Vec<(f64, f64, f64)> = (0..k)
        .map(|c| {
            let predicted: u64 = (0..k).map(|a| counts[a][c]).sum();
            let actual: u64 = counts[c].iter().sum();
            metrics::precision_recall_f1(counts[c][c], predicted, actual)
        })
        .collect();
    let log_loss = metrics::log_loss(rows.iter().map(|&(i, a, _)| probabilities[a][i]));
    let mut out = vec![
        metric("accuracy", accuracy),
        metric("balanced_accuracy", metrics::balanced_accuracy(&counts)),
        metric("mcc", metrics::matthews(&counts)),
    ];
    let mut curves = Vec::new();
    let task = if k == 2 { Task::BinaryClassification } else { Task::MulticlassClassification };
    if k == 2 {
        let pos = match positive {
            Some(p) => classes.iter().position(|c| c == p).ok_or_else(|| {
                NodeError::param("positive_class", format!("\"{p}\" is not a class (classes: {})", classes.join(", ")))
            })?,
            None => 1,
        };
        let (precision, recall, f1) = per_class[pos];
        let truth: Vec<bool> = rows.iter().map(|&(_, a, _)| a == pos).collect();
        let score: Vec<f64> = rows.iter().map(|&(i, _, _)| probabilities[pos][i]).collect();
        out.extend([metric("precision", precision), metric("recall", recall), metric("f1", f1)]);
        if let Some(auc) = metrics::roc_auc(&truth, &score) {
            out.push(metric("roc_auc", auc));
        }
        let (roc, pr) = metrics::curves(&truth, &score, 200);
        curves.push(Curve {
            name: "roc".into(),
            x_label: "false positive rate".into(),
            y_label: "true positive rate".into(),
            points: roc,
        });
        curves.push(Curve {
            name: "precision_recall".into(),
            x_label: "recall".into(),
            y_label: "precision".into(),
            points: pr,
        });
    } else {
        let macro_avg = |f: fn(&(f64, f64, f64)) -> f64| per_class.iter().map(f).sum::<f64>() / k as f64;
        out.extend([
            metric("macro_precision", macro_avg(|m| m.0)),
            metric("macro_recall", macro_avg(|m| m.1)),
            metric("macro_f1", macro_avg(|m| m.2)),
        ]);
        let aucs: Option<Vec<f64>> = (0..k)
            .map(|c| {
                let truth: Vec<bool> = rows.iter().map(|&(_, a, _)| a == c).collect();
                let score: Vec<f64> = rows.iter().map(|&(i, _, _)| probabilities[c][i]).collect();
                metrics::roc_auc(&truth, &score)
            })
            .collect();
        if let Some(aucs) = aucs {
            out.push(metric("macro_roc_auc", aucs.iter().sum::<f64>() / k as f64));
        }
    }
    out.push(metric("log_loss", log_loss));
    Ok(Evaluation {
        source: source.to_owned(),
        task,
        metrics: out,
        confusion: Some(ConfusionMatrix { classes, counts }),
        curves,
    })
}

fn regression(table: &Table, source: &str) -> Result<Evaluation, NodeError> {
    let label = label_column(table)?;
    let pairs: Vec<(f64, f64)> = numeric_values(&table.frame, &label)?
        .into_iter()
        .zip(numeric_values(&table.frame, SCORED_LABELS)?)
        .filter_map(|(a, p)| Some((a?, p?)))
        .collect();
    if pairs.is_empty() {
        return Err(NodeError::data(format!("\"{source}\" has no rows with both a label and a prediction")));
    }
    let (actual, predicted): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
    let metrics = metrics::regression(&actual, &predicted).iter().map(|(n, v)| metric(n, *v)).collect();
    let residuals = Curve {
        name: "residuals".into(),
        x_label: "predicted".into(),
        y_label: "residual (actual − predicted)".into(),
        points: every_nth(actual.len(), CHART_POINTS).map(|i| [predicted[i], actual[i] - predicted[i]]).collect(),
    };
    Ok(Evaluation {
        source: source.to_owned(),
        task: Task::Regression,
        metrics,
        confusion: None,
        curves: vec![residuals],
    })
}

fn clustering(table: &Table, source: &str, sample: usize, seed: u64) -> Result<Evaluation, NodeError> {
    use rayon::prelude::*;
    let assignments: Vec<usize> =
        nan_values(&table.frame, ASSIGNMENTS)?.into_iter().map(|v| if v.is_nan() { 0 } else { v as usize }).collect();
    let distances: Vec<f64> =
        nan_values(&table.frame, DISTANCE)?.into_iter().map(|v| if v.is_nan() { 0.0 } else { v }).collect();
    // The columns the model clustered on; tables from elsewhere fall back to every numeric feature.
    let features: Vec<String> = match table.attributes.get(CLUSTERING_FEATURES) {
        Some(listed) => serde_json::from_value(listed.clone())
            .map_err(|e| NodeError::data(format!("unreadable clustering columns: {e}")))?,
        None => crate::frame::numeric_feature_columns(table),
    };
    let columns: Vec<Vec<f64>> = features
        .par_iter()
        .map(|f| nan_values(&table.frame, f).map(|v| v.into_iter().map(|x| if x.is_nan() { 0.0 } else { x }).collect()))
        .collect::<Result<_, _>>()?;
    // Only the rows the silhouette and the chart use are gathered into rows.
    let gather = |indices: &[usize]| -> (Vec<Vec<f64>>, Vec<usize>) {
        (
            indices.iter().map(|&i| columns.iter().map(|c| c[i]).collect()).collect(),
            indices.iter().map(|&i| assignments[i]).collect(),
        )
    };
    let n = table.height();
    let clusters = assignments.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![
        metric("inertia", distances.iter().map(|d| d * d).sum()),
        metric("average_distance_to_center", distances.iter().sum::<f64>() / distances.len().max(1) as f64),
        metric("clusters", clusters as f64),
    ];
    let (rows, assigned) = gather(&metrics::silhouette_rows(n, sample, seed));
    if let Some(s) = metrics::silhouette(&rows, &assigned, usize::MAX, seed) {
        out.insert(1, metric("silhouette", s));
    }
    // The chart's axes come from up to 100,000 evenly spread rows.
    let (rows, assigned) = gather(&every_nth(n, 100_000).collect::<Vec<_>>());
    Ok(Evaluation {
        source: source.to_owned(),
        task: Task::Clustering,
        metrics: out,
        confusion: None,
        curves: cluster_scatter(&rows, &assigned),
    })
}

/// Rows drawn at most in a chart of the report; larger tables are thinned evenly.
const CHART_POINTS: usize = 3000;

/// Indices of at most `limit` of `n` rows, evenly spread.
fn every_nth(n: usize, limit: usize) -> impl Iterator<Item = usize> {
    let step = n.div_ceil(limit.max(1)).max(1);
    (0..n).step_by(step)
}

/// The rows on their first two principal components, one curve per cluster (`pca:<cluster>`).
fn cluster_scatter(rows: &[Vec<f64>], assignments: &[usize]) -> Vec<Curve> {
    let shown: Vec<usize> = every_nth(rows.len(), CHART_POINTS).collect();
    let Some(axes) = metrics::principal_axes(rows, 2) else { return Vec::new() };
    let d = axes.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64).collect();
    let project =
        |row: &[f64], axis: &[f64]| row.iter().zip(&mean).zip(axis).map(|((x, m), a)| (x - m) * a).sum::<f64>();
    let clusters = assignments.iter().copied().max().map_or(0, |m| m + 1);
    (0..clusters)
        .map(|k| Curve {
            name: format!("pca:{k}"),
            x_label: "PC1".into(),
            y_label: "PC2".into(),
            points: shown
                .iter()
                .filter(|&&i| assignments[i] == k)
                .map(|&i| [project(&rows[i], &axes[0]), axes.get(1).map_or(0.0, |a| project(&rows[i], a))])
                .collect(),
        })
        .collect()
}

fn evaluate(table: &Table, source: &str, ctx: &NodeContext<'_>) -> Result<Evaluation, NodeError> {
    let options = EvaluateOptions {
        positive_class: ctx.params.optional_text("positive_class"),
        silhouette_sample: ctx.params.count("silhouette_sample")?,
        seed: ctx.params.seed("seed")?,
    };
    evaluate_scored(table, source, &options)
}

/// Settings of an evaluation.
pub struct EvaluateOptions<'a> {
    /// Two-class metrics are about this class (`None`: the second in sorted order).
    pub positive_class: Option<&'a str>,
    /// Rows the silhouette is computed on at most.
    pub silhouette_sample: usize,
    /// Seed of the silhouette sample.
    pub seed: u64,
}

/// Metrics of a scored table (from Score Model or Assign Data to Clusters), as Evaluate Model computes them.
pub fn evaluate_scored(table: &Table, source: &str, options: &EvaluateOptions<'_>) -> Result<Evaluation, NodeError> {
    let has = |name: &str| table.frame.column(name).is_ok();
    let scored_columns = table.roles.iter().filter(|(_, r)| **r == Role::Score).count();
    if has(ASSIGNMENTS) && has(DISTANCE) {
        clustering(table, source, options.silhouette_sample, options.seed)
    } else if has(SCORED_LABELS) && has(crate::train::ANOMALY_SCORE) {
        super::anomaly::anomaly(table, source, options.positive_class)
    } else if table.frame.get_column_names().iter().any(|n| n.starts_with(PROBABILITY_PREFIX)) {
        classification(table, source, options.positive_class)
    } else if has(SCORED_LABELS) && scored_columns > 0 {
        regression(table, source)
    } else {
        Err(NodeError::Input {
            port: source.to_owned(),
            message: "this table has no predictions: connect the output of Score Model or Assign Data to Clusters"
                .into(),
        })
    }
}

impl NodeKind for EvaluateModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Evaluate Model",
            Category::Evaluate,
            "Metrics of scored data. Classification: accuracy, balanced accuracy, Matthews correlation (MCC), precision, recall, F1, ROC AUC, log loss, confusion matrix, ROC and precision-recall curves. Regression: MAE, RMSE, R², relative absolute and squared error. Clustering: inertia and silhouette. With two or three inputs, side by side.",
        )
        .input("scored", PortType::Table, "Scored data (from Score Model or Assign Data to Clusters)")
        .optional_input("scored_2", PortType::Table, "Scored data of a second model, to compare")
        .optional_input("scored_3", PortType::Table, "Scored data of a third model, to compare")
        .param("positive_class", "Positive class", ParamKind::Text, json!(""), "Two-class metrics are about this class. Empty: the second class in sorted order (for example \"yes\" of no/yes, or 1 of 0/1).")
        .param("silhouette_sample", "Silhouette sample size", int(2, 1_000_000), json!(2000), "Clustering: the silhouette is computed on at most this many rows (it costs rows² distances).")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Seed of the silhouette sample. Empty: derived from the workflow seed.")
        .output("report", PortType::Report, "The metrics")
        .reports_metrics()
        .version(3)
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let mut evaluations = vec![evaluate(&scored_rows(ctx, ctx.rows("scored")?)?, "scored", ctx)?];
        for port in ["scored_2", "scored_3"] {
            if let Some(rows) = ctx.optional_rows(port)? {
                evaluations.push(evaluate(&scored_rows(ctx, rows)?, port, ctx)?);
            }
        }
        Ok(vec![Value::Report(Arc::new(Report { evaluations }))])
    }
}

/// The scored rows in memory. A streamed table of predictions is read with its label and score columns
/// alone (what the metrics need), so a test part of tens of millions of rows takes a few columns' memory.
fn scored_rows(ctx: &NodeContext<'_>, rows: Rows) -> Result<Table, NodeError> {
    let stream = match rows {
        Rows::Table(table) => return Ok((*table).clone()),
        Rows::Stream(stream) => stream,
    };
    let meta = stream.head(0)?;
    let names: Vec<String> = meta.frame.get_column_names().iter().map(ToString::to_string).collect();
    let clustering = names.iter().any(|n| n == ASSIGNMENTS);
    let keep: Vec<String> = names
        .into_iter()
        .filter(|n| matches!(meta.roles.get(n), Some(Role::Label | Role::Score)))
        .collect();
    if clustering || keep.is_empty() {
        return ctx.collect(&stream);
    }
    let narrowed = stream.then(Arc::new(move |frame: polars::prelude::DataFrame| Ok(frame.select(keep.clone())?)));
    ctx.collect(&narrowed)
}
