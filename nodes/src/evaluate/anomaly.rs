//! Evaluate Model on the output of an anomaly detector: with a two-class label, the two-class metrics of
//! Scored Labels (1 = anomaly) against the label's anomaly class, and ROC AUC of the anomaly score;
//! without a label, how many rows were flagged.

use pipewright_engine::{ConfusionMatrix, Curve, Evaluation, Metric, NodeError, Table, Task};

use super::metrics;
use crate::frame::{numeric_values, sorted_classes, text_values};
use crate::train::{ANOMALY_SCORE, SCORED_LABELS};

fn metric(name: &str, value: f64) -> Metric {
    Metric { name: name.to_owned(), value }
}

/// Metrics of a table scored by an anomaly detector. The anomaly class is `positive` when given, else the
/// label's minority class (the second in sorted order on a tie).
pub(super) fn anomaly(table: &Table, source: &str, positive: Option<&str>) -> Result<Evaluation, NodeError> {
    let flags: Vec<Option<bool>> =
        numeric_values(&table.frame, SCORED_LABELS)?.into_iter().map(|v| v.map(|f| f > 0.5)).collect();
    let scores = numeric_values(&table.frame, ANOMALY_SCORE)?;
    let Some(label) = table.label() else {
        let flagged = flags.iter().flatten().filter(|&&f| f).count() as f64;
        let known: Vec<f64> = scores.iter().flatten().copied().collect();
        return Ok(Evaluation {
            source: source.to_owned(),
            task: Task::AnomalyDetection,
            metrics: vec![
                metric("anomaly_fraction", flagged / flags.len().max(1) as f64),
                metric("mean_anomaly_score", known.iter().sum::<f64>() / known.len().max(1) as f64),
            ],
            confusion: None,
            curves: Vec::new(),
        });
    };
    let actual = text_values(&table.frame, label)?;
    let classes = sorted_classes(&actual);
    if classes.len() != 2 {
        return Err(NodeError::data(format!(
            "label \"{label}\" has {} classes: anomaly metrics need exactly two (normal and anomaly)",
            classes.len()
        )));
    }
    let anomaly_class = if let Some(p) = positive {
        classes.iter().position(|c| c == p).ok_or_else(|| {
            NodeError::param("positive_class", format!("\"{p}\" is not a class (classes: {})", classes.join(", ")))
        })?
    } else {
        let first = actual.iter().filter(|a| a.as_deref() == Some(classes[0].as_str())).count();
        let second = actual.iter().filter(|a| a.as_deref() == Some(classes[1].as_str())).count();
        usize::from(second <= first)
    };
    let rows: Vec<(bool, bool, f64)> = actual
        .iter()
        .zip(&flags)
        .zip(&scores)
        .filter_map(|((a, f), s)| {
            let a = classes.iter().position(|c| Some(c) == a.as_ref())?;
            Some((a == anomaly_class, (*f)?, (*s)?))
        })
        .collect();
    if rows.is_empty() {
        return Err(NodeError::data(format!("no row of \"{source}\" has both a label and an anomaly score")));
    }
    let normal_class = 1 - anomaly_class;
    let mut counts = vec![vec![0u64; 2]; 2];
    for &(truth, flagged, _) in &rows {
        let a = if truth { anomaly_class } else { normal_class };
        let p = if flagged { anomaly_class } else { normal_class };
        counts[a][p] += 1;
    }
    let true_positives = counts[anomaly_class][anomaly_class];
    let predicted = counts[0][anomaly_class] + counts[1][anomaly_class];
    let actual_anomalies = counts[anomaly_class].iter().sum();
    let (precision, recall, f1) = metrics::precision_recall_f1(true_positives, predicted, actual_anomalies);
    let accuracy = (counts[0][0] + counts[1][1]) as f64 / rows.len() as f64;
    let truth: Vec<bool> = rows.iter().map(|r| r.0).collect();
    let score: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let mut out = vec![
        metric("accuracy", accuracy),
        metric("balanced_accuracy", metrics::balanced_accuracy(&counts)),
        metric("mcc", metrics::matthews(&counts)),
        metric("precision", precision),
        metric("recall", recall),
        metric("f1", f1),
    ];
    if let Some(auc) = metrics::roc_auc(&truth, &score) {
        out.push(metric("roc_auc", auc));
    }
    out.push(metric("anomaly_fraction", predicted as f64 / rows.len() as f64));
    let (roc, pr) = metrics::curves(&truth, &score, 200);
    Ok(Evaluation {
        source: source.to_owned(),
        task: Task::AnomalyDetection,
        metrics: out,
        confusion: Some(ConfusionMatrix { classes, counts }),
        curves: vec![
            Curve {
                name: "roc".into(),
                x_label: "false positive rate".into(),
                y_label: "true positive rate".into(),
                points: roc,
            },
            Curve {
                name: "precision_recall".into(),
                x_label: "recall".into(),
                y_label: "precision".into(),
                points: pr,
            },
        ],
    })
}
