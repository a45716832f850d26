//! Filter Based Feature Selection.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::{Column, DataFrame};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{choice, int};
use pipewright_engine::{Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Role, Value};

use crate::frame::{feature_columns, numeric_values, text_values};

/// Keeps the features that score highest against the label.
pub struct FilterBasedFeatureSelection;

impl FilterBasedFeatureSelection {
    /// The kind id.
    pub const ID: &'static str = "transform.filter_based_feature_selection";
}

/// Bins a numeric feature is cut into for mutual information.
pub const MI_BINS: usize = 10;

/// |Pearson correlation| of two equally long series (0 when either is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 { 0.0 } else { (sxy / (sxx * syy).sqrt()).abs() }
}

/// scikit-learn's `chi2` statistic of a non-negative feature against class labels.
pub fn chi_squared(x: &[f64], classes: &[usize], k: usize) -> f64 {
    let n = x.len() as f64;
    let total: f64 = x.iter().sum();
    let mut observed = vec![0.0; k];
    let mut counts = vec![0.0; k];
    for (v, &c) in x.iter().zip(classes) {
        observed[c] += v;
        counts[c] += 1.0;
    }
    (0..k)
        .map(|c| {
            let expected = counts[c] / n * total;
            if expected > 0.0 { (observed[c] - expected).powi(2) / expected } else { 0.0 }
        })
        .sum()
}

/// Equal-width bin of each value over the column's range (`MI_BINS` bins).
pub fn bins(x: &[f64]) -> Vec<usize> {
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = (max - min) / MI_BINS as f64;
    x.iter().map(|v| if width > 0.0 { (((v - min) / width) as usize).min(MI_BINS - 1) } else { 0 }).collect()
}

/// Mutual information (natural log) between two discrete series, as scikit-learn's `mutual_info_score`.
pub fn mutual_information(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let mut joint: HashMap<(usize, usize), f64> = HashMap::new();
    let mut pa: HashMap<usize, f64> = HashMap::new();
    let mut pb: HashMap<usize, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *joint.entry((x, y)).or_default() += 1.0;
        *pa.entry(x).or_default() += 1.0;
        *pb.entry(y).or_default() += 1.0;
    }
    joint.iter().map(|(&(x, y), &c)| c / n * (c * n / (pa[&x] * pb[&y])).ln()).sum::<f64>().max(0.0)
}

impl NodeKind for FilterBasedFeatureSelection {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Filter Based Feature Selection",
            Category::Transform,
            "Scores every numeric feature against the label and keeps the best ones. Pearson: absolute correlation (classes numbered in sorted order). Chi-squared: scikit-learn's chi2 statistic (features must not be negative). Mutual information: between the label and the feature cut into 10 equal-width bins. The other features are marked ignored, so learners leave them out; nothing is deleted.",
        )
        .input("data", PortType::Table, "Labelled data")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The column to score against. Empty: the column marked as label.")
        .param("method", "Scoring method", choice(&["pearson", "chi_squared", "mutual_information"]), json!("pearson"), "How each feature is scored against the label.")
        .param("features", "Number of features to keep", int(1, 100_000), json!(5), "The best-scoring features kept (all of them if there are fewer).")
        .output("data", PortType::Table, "The table with the features not kept marked ignored")
        .output("scores", PortType::Table, "Every feature's score, best first, and whether it was kept")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let label = match ctx.params.optional_text("label_column") {
            Some(l) => l.to_owned(),
            None => table.label().map(str::to_owned).ok_or_else(|| {
                NodeError::param("label_column", "choose the label column (no column is marked as label)")
            })?,
        };
        let method = ctx.params.text("method")?;
        crate::frame::require_finite_label(&table.frame, &label)?;
        let labels =
            text_values(&table.frame, &label).map_err(|_| crate::frame::missing_column(&table.frame, &label))?;
        if labels.iter().any(Option::is_none) {
            return Err(NodeError::data(format!("label \"{label}\" has missing values: remove those rows first")));
        }
        let classes = crate::frame::sorted_classes(&labels);
        let index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let class_of: Vec<usize> =
            labels.iter().map(|v| v.as_deref().and_then(|c| index.get(c).copied()).unwrap_or(0)).collect();
        let numeric_label = numeric_values(&table.frame, &label).ok().filter(|v| v.iter().all(Option::is_some));
        let label_numbers: Vec<f64> = match &numeric_label {
            Some(values) => values.iter().map(|v| v.unwrap_or_default()).collect(),
            None => class_of.iter().map(|&c| c as f64).collect(),
        };
        let mut scores: Vec<(String, f64)> = Vec::new();
        for feature in feature_columns(&table, Some(&label)) {
            let Ok(values) = numeric_values(&table.frame, &feature) else { continue };
            if values.iter().any(Option::is_none) {
                return Err(NodeError::data(format!("feature \"{feature}\" has missing values: clean them first")));
            }
            let x: Vec<f64> = values.into_iter().flatten().collect();
            let score = match method {
                "chi_squared" => {
                    if x.iter().any(|v| *v < 0.0) {
                        return Err(NodeError::param(
                            "method",
                            format!(
                                "chi-squared needs non-negative features; \"{feature}\" has negative values (scale with min-max first)"
                            ),
                        ));
                    }
                    chi_squared(&x, &class_of, classes.len())
                }
                "mutual_information" => mutual_information(&bins(&x), &class_of),
                _ => pearson(&x, &label_numbers),
            };
            // A feature with infinite values has no meaningful score: it ranks last rather than first.
            scores.push((feature, if score.is_finite() { score } else { 0.0 }));
        }
        if scores.is_empty() {
            return Err(NodeError::data("there are no numeric feature columns to score"));
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let keep = ctx.params.count("features")?.min(scores.len());
        let mut out = (*table).clone();
        for (feature, _) in &scores[keep..] {
            out.roles.insert(feature.clone(), Role::Ignored);
        }
        let n = scores.len();
        let frame = DataFrame::new(
            n,
            vec![
                Column::new("feature".into(), scores.iter().map(|s| s.0.as_str()).collect::<Vec<_>>()),
                Column::new("score".into(), scores.iter().map(|s| s.1).collect::<Vec<_>>()),
                Column::new("kept".into(), (0..n).map(|i| i < keep).collect::<Vec<_>>()),
            ],
        )?;
        Ok(vec![Value::Table(Arc::new(out)), Value::Table(Arc::new(pipewright_engine::Table::new(frame)))])
    }
}
