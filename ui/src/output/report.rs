//! Evaluate Model's report: the metrics of every evaluated input side by side, a confusion-matrix heatmap per
//! input, and the charts (ROC and precision–recall with the inputs overlaid, regression residuals, clusters
//! on their first two principal components). Parts sit side by side when the panel is wide and wrap when it
//! is not.

use egui::{RichText, Ui};
use pipewright_engine::{ConfusionMatrix, Curve, Evaluation, Report};

use super::charts::{self, CLUSTER_PREFIX, Series};
use super::confusion;
use super::format::{format_metric, task_text};
use crate::theme;

/// One part of the report, laid out as a block of known width.
enum Card<'a> {
    /// The metrics table.
    Metrics(&'a [Evaluation]),
    /// The confusion matrix of one input.
    Confusion { index: usize, source: &'a str, matrix: &'a ConfusionMatrix },
    /// One curve name (such as `roc`) of every input, overlaid.
    Curves { name: &'a str, series: Vec<Series<'a>> },
    /// The `pca:*` scatter of one input.
    Clusters { index: usize, source: &'a str, clusters: Vec<&'a Curve> },
}

impl Card<'_> {
    /// The width the part asks for before it was drawn once (then its drawn width is used).
    fn width(&self, ui: &Ui) -> f32 {
        match self {
            Self::Metrics(evaluations) => metrics_width(evaluations),
            Self::Confusion { matrix, .. } => confusion::width(ui, matrix),
            Self::Curves { .. } | Self::Clusters { .. } => charts::CHART_WIDTH,
        }
    }

    /// Whether it is drawn at the width it is given (charts) rather than the width its content takes.
    fn fills_width(&self) -> bool {
        matches!(self, Self::Curves { .. } | Self::Clusters { .. })
    }

    /// Identifies the part across frames, to remember its drawn width.
    fn id(&self) -> egui::Id {
        match self {
            Self::Metrics(_) => egui::Id::new("output-card-metrics"),
            Self::Confusion { index, .. } => egui::Id::new(("output-card-confusion", index)),
            Self::Curves { name, .. } => egui::Id::new(("output-card-curves", name)),
            Self::Clusters { index, .. } => egui::Id::new(("output-card-clusters", index)),
        }
    }

    fn ui(&self, ui: &mut Ui, width: f32) {
        match self {
            Self::Metrics(evaluations) => metrics_ui(ui, evaluations),
            Self::Confusion { index, source, matrix } => confusion::confusion_ui(ui, matrix, source, *index),
            Self::Curves { name, series } => charts::curves_ui(ui, "output", name, series, width),
            Self::Clusters { index, source, clusters } => charts::clusters_ui(ui, source, *index, clusters, width),
        }
    }
}

/// Draws `report`.
pub fn report_ui(ui: &mut Ui, report: &Report) {
    if report.evaluations.is_empty() {
        ui.label(RichText::new("The report is empty.").color(theme::weak_text(ui.visuals().dark_mode)));
        return;
    }
    let cards = cards(report);
    egui::ScrollArea::both().id_salt("output-report").auto_shrink([false, false]).show(ui, |ui| flow_ui(ui, &cards));
}

/// The parts of a report, in reading order: metrics, confusion matrices, shared charts, cluster scatters.
fn cards(report: &Report) -> Vec<Card<'_>> {
    let evaluations = &report.evaluations;
    let mut cards = vec![Card::Metrics(evaluations)];
    for (index, evaluation) in evaluations.iter().enumerate() {
        if let Some(matrix) = &evaluation.confusion {
            cards.push(Card::Confusion { index, source: &evaluation.source, matrix });
        }
    }
    for name in curve_names(evaluations) {
        let series = evaluations
            .iter()
            .enumerate()
            .filter_map(|(index, e)| {
                let curve = e.curves.iter().find(|c| c.name == name)?;
                Some(Series {
                    index,
                    source: &e.source,
                    curve,
                    auc: (name == "roc").then(|| e.metric("roc_auc")).flatten(),
                })
            })
            .collect();
        cards.push(Card::Curves { name, series });
    }
    for (index, evaluation) in evaluations.iter().enumerate() {
        let clusters: Vec<&Curve> = evaluation.curves.iter().filter(|c| c.name.starts_with(CLUSTER_PREFIX)).collect();
        if !clusters.is_empty() {
            cards.push(Card::Clusters { index, source: &evaluation.source, clusters });
        }
    }
    cards
}

/// Names of the curves drawn overlaid (all but the cluster scatters), in order of first appearance.
fn curve_names(evaluations: &[Evaluation]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for curve in evaluations.iter().flat_map(|e| &e.curves) {
        if !curve.name.starts_with(CLUSTER_PREFIX) && !names.contains(&curve.name.as_str()) {
            names.push(&curve.name);
        }
    }
    names
}

/// Lays the parts out left to right, starting a new line when the next one does not fit. Parts that size
/// themselves are placed by the width they took in the previous frame.
fn flow_ui(ui: &mut Ui, cards: &[Card<'_>]) {
    let available = ui.available_width();
    let gap = theme::SPACE_L;
    let mut lines: Vec<Vec<(f32, &Card<'_>)>> = vec![Vec::new()];
    let mut used = 0.0;
    for card in cards {
        let drawn = ui.data(|d| d.get_temp::<f32>(card.id()));
        let width = drawn.unwrap_or_else(|| card.width(ui));
        let width = if card.fills_width() { width.min(available.max(charts::MIN_CHART_WIDTH)) } else { width };
        if used > 0.0 && used + width > available {
            lines.push(Vec::new());
            used = 0.0;
        }
        used += width + gap;
        if let Some(line) = lines.last_mut() {
            line.push((width, card));
        }
    }
    for line in lines {
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = gap;
            for (width, card) in line {
                let drawn = ui.vertical(|ui| {
                    if card.fills_width() {
                        ui.set_width(width);
                    }
                    card.ui(ui, width);
                });
                let drawn_width = drawn.response.rect.width();
                ui.data_mut(|d| d.insert_temp(card.id(), drawn_width));
            }
        });
        ui.add_space(theme::SPACE_M);
    }
}

/// The index of the best of several values of a metric, when there is a single best.
pub(crate) fn best_of(name: &str, values: &[Option<f64>]) -> Option<usize> {
    let info = pipewright_engine::MetricInfo::of(name).filter(|m| m.better != pipewright_engine::Better::Neither)?;
    let present: Vec<(usize, f64)> =
        values.iter().enumerate().filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|x| (i, x))).collect();
    if present.len() < 2 {
        return None;
    }
    let (best, value) =
        present.iter().copied().reduce(|best, next| if info.is_better(next.1, best.1) { next } else { best })?;
    let tied = present.iter().filter(|(_, x)| *x == value).count() > 1;
    (!tied).then_some(best)
}

/// Metric names in order of first appearance.
fn metric_names(evaluations: &[Evaluation]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for metric in evaluations.iter().flat_map(|e| &e.metrics) {
        if !names.contains(&metric.name.as_str()) {
            names.push(&metric.name);
        }
    }
    names
}

fn metrics_width(evaluations: &[Evaluation]) -> f32 {
    let longest =
        metric_names(evaluations).iter().map(|n| pipewright_engine::metric_label(n).chars().count()).max().unwrap_or(0);
    let name = (longest as f32 * 7.5).max(60.0);
    let values: f32 =
        evaluations.iter().map(|e| (e.source.chars().count().max(10) as f32 * 7.5).max(80.0) + theme::SPACE_L).sum();
    name + values + theme::SPACE_L
}

/// The metrics: one row per metric, one column per evaluated input; the better value is bold.
fn metrics_ui(ui: &mut Ui, evaluations: &[Evaluation]) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new("Metrics").strong());
    egui::Grid::new("output-metrics").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
        ui.label(RichText::new("metric").color(theme::weak_text(dark)));
        for (i, evaluation) in evaluations.iter().enumerate() {
            ui.label(RichText::new(&evaluation.source).strong().color(theme::series_color(i)))
                .on_hover_text(task_text(evaluation.task));
        }
        ui.end_row();
        for name in metric_names(evaluations) {
            ui.label(pipewright_engine::metric_label(name)).on_hover_text(name);
            let values: Vec<Option<f64>> = evaluations.iter().map(|e| e.metric(name)).collect();
            let best = best_of(name, &values);
            for (i, value) in values.iter().enumerate() {
                match value {
                    Some(value) => {
                        let text = RichText::new(format_metric(name, *value)).monospace();
                        ui.label(if best == Some(i) { text.strong() } else { text });
                    }
                    None => {
                        ui.label(RichText::new("—").color(theme::weak_text(dark)));
                    }
                }
            }
            ui.end_row();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_engine::{Metric, Task};

    fn evaluation(source: &str, metrics: &[(&str, f64)], curves: &[&str]) -> Evaluation {
        Evaluation {
            source: source.into(),
            task: Task::BinaryClassification,
            metrics: metrics.iter().map(|(n, v)| Metric { name: (*n).into(), value: *v }).collect(),
            confusion: None,
            curves: curves
                .iter()
                .map(|n| Curve {
                    name: (*n).into(),
                    x_label: "x".into(),
                    y_label: "y".into(),
                    points: vec![[0.0, 1.0]],
                })
                .collect(),
        }
    }

    #[test]
    fn the_better_value_depends_on_the_metric() {
        assert_eq!(best_of("roc_auc", &[Some(0.8), Some(0.9)]), Some(1));
        assert_eq!(best_of("log_loss", &[Some(0.8), Some(0.9)]), Some(0));
        assert_eq!(best_of("accuracy", &[Some(0.9), Some(0.9)]), None, "a tie has no winner");
        assert_eq!(best_of("accuracy", &[Some(0.9), None]), None, "one value is not a comparison");
        assert_eq!(best_of("accuracy", &[Some(f64::NAN), Some(0.5)]), None);
        assert_eq!(best_of("clusters", &[Some(3.0), Some(4.0)]), None, "a count is neither better nor worse");
    }

    #[test]
    fn charts_overlay_both_inputs_and_clusters_get_one_each() {
        let report = Report {
            evaluations: vec![
                evaluation("scored", &[("accuracy", 0.8)], &["roc", "precision_recall"]),
                evaluation("scored_2", &[("accuracy", 0.7), ("roc_auc", 0.75)], &["roc", "pca:0", "pca:1"]),
            ],
        };
        assert_eq!(metric_names(&report.evaluations), ["accuracy", "roc_auc"]);
        assert_eq!(curve_names(&report.evaluations), ["roc", "precision_recall"]);
        let cards = cards(&report);
        let kinds: Vec<String> = cards
            .iter()
            .map(|c| match c {
                Card::Metrics(e) => format!("metrics {}", e.len()),
                Card::Confusion { source, .. } => format!("confusion {source}"),
                Card::Curves { name, series } => format!("{name} {}", series.len()),
                Card::Clusters { source, clusters, .. } => format!("clusters {source} {}", clusters.len()),
            })
            .collect();
        assert_eq!(kinds, ["metrics 2", "roc 2", "precision_recall 1", "clusters scored_2 2"]);
        let Card::Curves { series, .. } = &cards[1] else { panic!("roc") };
        assert_eq!((series[0].auc, series[1].auc), (None, Some(0.75)));
    }
}
