//! The one table of metrics: each metric's name, label, which way is better, the tasks that report it and its
//! place in the headline order. Tuning, feature importance, the designer's best-in-bold, the store's headline,
//! the canvas summary and the CLI all read it; no list of metric names lives anywhere else.

use serde::Serialize;

use crate::value::{Evaluation, Task};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Larger values are better (accuracy, AUC, R²).
    Higher,
    /// Smaller values are better (errors, losses).
    Lower,
    /// A count or a description, not a score (the number of clusters).
    Neither,
}

/// The facts about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    /// The name metrics are stored under, such as `roc_auc`.
    pub name: &'static str,
    /// Short label for people, such as `AUC`.
    pub label: &'static str,
    /// Which way it improves.
    pub better: Better,
    /// The tasks whose evaluation reports it.
    pub tasks: &'static [Task],
    /// Its place among headline metrics (first is preferred); `None` when it is never a headline.
    pub headline: Option<u8>,
    /// Whether hyperparameter tuning and permutation importance can rank by it.
    pub rankable: bool,
}

const CLASSIFICATION: &[Task] = &[Task::BinaryClassification, Task::MulticlassClassification];
const TWO_CLASS: &[Task] = &[Task::BinaryClassification, Task::AnomalyDetection];
const MULTICLASS: &[Task] = &[Task::MulticlassClassification];
const LABELLED: &[Task] = &[Task::BinaryClassification, Task::MulticlassClassification, Task::AnomalyDetection];
const REGRESSION: &[Task] = &[Task::Regression];
const CLUSTERING: &[Task] = &[Task::Clustering];
const ANOMALY: &[Task] = &[Task::AnomalyDetection];

const fn info(
    name: &'static str,
    label: &'static str,
    better: Better,
    tasks: &'static [Task],
    headline: Option<u8>,
    rankable: bool,
) -> MetricInfo {
    MetricInfo { name, label, better, tasks, headline, rankable }
}

/// Every metric Pipewright reports, in the order reports list them.
pub const METRICS: &[MetricInfo] = &[
    info("accuracy", "accuracy", Better::Higher, LABELLED, Some(3), true),
    info("balanced_accuracy", "balanced accuracy", Better::Higher, LABELLED, None, true),
    info("precision", "precision", Better::Higher, TWO_CLASS, None, false),
    info("recall", "recall", Better::Higher, TWO_CLASS, None, false),
    info("f1", "F1", Better::Higher, TWO_CLASS, None, true),
    info("mcc", "MCC", Better::Higher, LABELLED, None, true),
    info("roc_auc", "AUC", Better::Higher, TWO_CLASS, Some(1), true),
    info("macro_precision", "macro precision", Better::Higher, MULTICLASS, None, false),
    info("macro_recall", "macro recall", Better::Higher, MULTICLASS, None, false),
    info("macro_f1", "macro F1", Better::Higher, MULTICLASS, None, true),
    info("macro_roc_auc", "AUC", Better::Higher, MULTICLASS, Some(2), true),
    info("log_loss", "log loss", Better::Lower, CLASSIFICATION, None, true),
    info("anomaly_fraction", "anomaly fraction", Better::Neither, ANOMALY, None, false),
    info("mae", "MAE", Better::Lower, REGRESSION, None, true),
    info("rmse", "RMSE", Better::Lower, REGRESSION, Some(4), true),
    info("mse", "MSE", Better::Lower, REGRESSION, None, false),
    info("r2", "R²", Better::Higher, REGRESSION, Some(5), true),
    info("relative_absolute_error", "relative absolute error", Better::Lower, REGRESSION, None, false),
    info("relative_squared_error", "relative squared error", Better::Lower, REGRESSION, None, false),
    info("inertia", "inertia", Better::Lower, CLUSTERING, Some(7), false),
    info("silhouette", "silhouette", Better::Higher, CLUSTERING, Some(6), false),
    info("average_distance_to_center", "average distance to centre", Better::Lower, CLUSTERING, None, false),
    info("clusters", "clusters", Better::Neither, CLUSTERING, None, false),
];

impl MetricInfo {
    /// The metric with this name.
    pub fn of(name: &str) -> Option<&'static Self> {
        METRICS.iter().find(|m| m.name == name)
    }

    /// Whether `candidate` is strictly better than `incumbent` (false for NaN and for metrics that are not scores).
    pub fn is_better(&self, candidate: f64, incumbent: f64) -> bool {
        match self.better {
            Better::Higher => candidate > incumbent,
            Better::Lower => candidate < incumbent,
            Better::Neither => false,
        }
    }

    /// How much worse `after` is than `before`, positive when it got worse: the drop of a higher-is-better
    /// metric, the rise of a lower-is-better one (permutation importance).
    pub fn loss(&self, before: f64, after: f64) -> f64 {
        match self.better {
            Better::Higher => before - after,
            Better::Lower => after - before,
            Better::Neither => 0.0,
        }
    }

    /// Whether an evaluation of `task` reports it.
    pub fn applies_to(&self, task: Task) -> bool {
        self.tasks.contains(&task)
    }
}

/// The label of a metric name: the table's label, or the name itself for a metric the table does not know.
pub fn metric_label(name: &str) -> &str {
    MetricInfo::of(name).map_or(name, |m| m.label)
}

/// The metrics hyperparameter tuning and permutation importance may rank by, with `auto` first: the choices of
/// their `metric` parameter.
pub fn rankable_choices() -> Vec<&'static str> {
    std::iter::once("auto").chain(METRICS.iter().filter(|m| m.rankable).map(|m| m.name)).collect()
}

/// The headline of named values: the one whose metric comes first in the headline order.
pub fn headline_of<T>(values: impl IntoIterator<Item = T>, name: impl Fn(&T) -> &str) -> Option<T> {
    values
        .into_iter()
        .filter_map(|v| {
            let rank = MetricInfo::of(name(&v)).and_then(|m| m.headline)?;
            Some((rank, v))
        })
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, v)| v)
}

impl Evaluation {
    /// The evaluation's headline metric and its info: the first in the headline order, else its first metric.
    pub fn headline(&self) -> Option<(&crate::value::Metric, Option<&'static MetricInfo>)> {
        headline_of(self.metrics.iter(), |m| m.name.as_str())
            .or_else(|| self.metrics.first())
            .map(|m| (m, MetricInfo::of(&m.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_headlines_are_ordered_once() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len(), "a metric name appears twice");
        let mut ranks: Vec<u8> = METRICS.iter().filter_map(|m| m.headline).collect();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!(ranks.len(), METRICS.iter().filter(|m| m.headline.is_some()).count(), "two headlines share a rank");
        for m in METRICS {
            assert!(!m.tasks.is_empty(), "{} belongs to no task", m.name);
            if m.rankable {
                assert_ne!(m.better, Better::Neither, "{} is rankable but not a score", m.name);
            }
        }
    }

    #[test]
    fn better_and_loss_follow_the_direction() {
        let auc = MetricInfo::of("roc_auc").expect("known");
        let rmse = MetricInfo::of("rmse").expect("known");
        assert!(auc.is_better(0.9, 0.8) && !auc.is_better(0.8, 0.9) && !auc.is_better(f64::NAN, 0.8));
        assert!(rmse.is_better(0.1, 0.2) && !rmse.is_better(0.2, 0.1));
        assert!((auc.loss(0.9, 0.7) - 0.2).abs() < 1e-12);
        assert!((rmse.loss(1.0, 1.5) - 0.5).abs() < 1e-12);
        assert!(!MetricInfo::of("clusters").expect("known").is_better(3.0, 2.0));
    }

    #[test]
    fn the_headline_is_the_first_in_headline_order() {
        let named = [("accuracy", 0.8), ("log_loss", 0.4), ("roc_auc", 0.9)];
        assert_eq!(headline_of(named, |m| m.0), Some(("roc_auc", 0.9)));
        let regression = [("mae", 0.2), ("r2", 0.7), ("rmse", 0.3)];
        assert_eq!(headline_of(regression, |m| m.0), Some(("rmse", 0.3)));
        assert_eq!(headline_of([("mystery", 1.0)], |m| m.0), None);
        assert_eq!(metric_label("r2"), "R²");
        assert_eq!(metric_label("mystery"), "mystery");
        let choices = rankable_choices();
        assert_eq!(choices[0], "auto");
        assert!(choices.contains(&"mcc") && choices.contains(&"balanced_accuracy") && !choices.contains(&"clusters"));
    }
}
