//! Evaluate Model's report: the metrics side by side, confusion matrices as heatmaps, ROC and
//! precision-recall curves (both models overlaid), regression residuals, and clusters on their first two
//! principal components.

use egui::{RichText, Sense, Stroke, Ui, vec2};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use pipewright_engine::{ConfusionMatrix, Curve, Evaluation, Report};

use crate::theme;

/// Height of a chart.
const CHART_HEIGHT: f32 = 240.0;
/// Width of a chart.
const CHART_WIDTH: f32 = 300.0;

/// Draws the report.
pub fn report_ui(ui: &mut Ui, report: &Report) {
    if report.evaluations.is_empty() {
        ui.label("The report is empty.");
        return;
    }
    // Each part with the width it takes; parts flow left to right and wrap to the panel's width.
    let mut parts: Vec<(f32, Box<dyn FnOnce(&mut Ui) + '_>)> = Vec::new();
    let metric_width = 110.0 + 64.0 * report.evaluations.len() as f32;
    parts.push((metric_width, Box::new(|ui: &mut Ui| metrics_ui(ui, &report.evaluations))));
    for (i, evaluation) in report.evaluations.iter().enumerate() {
        if let Some(confusion) = &evaluation.confusion {
            let width =
                CONFUSION_LABEL_WIDTH + confusion_cell(confusion.classes.len()) * confusion.classes.len() as f32;
            parts.push((
                width.max(200.0),
                Box::new(move |ui: &mut Ui| confusion_ui(ui, confusion, &evaluation.source, i)),
            ));
        }
    }
    for name in ["roc", "precision_recall", "residuals"] {
        let curves: Vec<(usize, &Evaluation, &Curve)> = report
            .evaluations
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.curves.iter().find(|c| c.name == name).map(|c| (i, e, c)))
            .collect();
        if !curves.is_empty() {
            parts.push((CHART_WIDTH, Box::new(move |ui: &mut Ui| curve_chart_ui(ui, name, &curves))));
        }
    }
    for (i, evaluation) in report.evaluations.iter().enumerate() {
        let clusters: Vec<&Curve> = evaluation.curves.iter().filter(|c| c.name.starts_with("pca:")).collect();
        if !clusters.is_empty() {
            parts.push((
                CHART_WIDTH + 80.0,
                Box::new(move |ui: &mut Ui| clusters_ui(ui, &evaluation.source, i, &clusters)),
            ));
        }
    }
    egui::ScrollArea::vertical().id_salt("report").auto_shrink([false, false]).show(ui, |ui| {
        let available = ui.available_width();
        let gap = theme::SPACE_L;
        let mut rows: Vec<Vec<(f32, Box<dyn FnOnce(&mut Ui) + '_>)>> = vec![Vec::new()];
        let mut used = 0.0;
        for (width, part) in parts {
            if used > 0.0 && used + width > available {
                rows.push(Vec::new());
                used = 0.0;
            }
            used += width + gap;
            if let Some(row) = rows.last_mut() {
                row.push((width, part));
            }
        }
        for row in rows {
            ui.horizontal_top(|ui| {
                ui.spacing_mut().item_spacing.x = gap;
                for (width, part) in row {
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        part(ui);
                    });
                }
            });
            ui.add_space(theme::SPACE_M);
        }
    });
}

/// The metrics as a table: one row per metric, one column per evaluated input.
fn metrics_ui(ui: &mut Ui, evaluations: &[Evaluation]) {
    ui.label(RichText::new("Metrics").strong());
    let mut names: Vec<&str> = Vec::new();
    for evaluation in evaluations {
        for metric in &evaluation.metrics {
            if !names.contains(&metric.name.as_str()) {
                names.push(&metric.name);
            }
        }
    }
    egui::Grid::new("metrics").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
        ui.label(RichText::new("metric").color(theme::weak_text(ui.visuals().dark_mode)));
        for (i, evaluation) in evaluations.iter().enumerate() {
            ui.label(RichText::new(&evaluation.source).strong().color(theme::series_color(i)));
        }
        ui.end_row();
        for name in names {
            ui.label(name);
            for evaluation in evaluations {
                match evaluation.metric(name) {
                    Some(value) => ui.label(RichText::new(format_metric(value)).monospace()),
                    None => ui.label("—"),
                };
            }
            ui.end_row();
        }
    });
}

/// A metric with four decimals (counts without).
pub fn format_metric(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e12 { format!("{value:.0}") } else { format!("{value:.4}") }
}

/// Width of the class names left of a confusion matrix.
const CONFUSION_LABEL_WIDTH: f32 = 80.0;

/// Side of a confusion-matrix cell for `k` classes.
fn confusion_cell(k: usize) -> f32 {
    (220.0 / k.max(1) as f32).clamp(28.0, 64.0)
}

fn confusion_ui(ui: &mut Ui, confusion: &ConfusionMatrix, source: &str, index: usize) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new(format!("Confusion matrix · {source}")).strong().color(theme::series_color(index)));
    let k = confusion.classes.len();
    let cell = confusion_cell(k);
    let max = confusion.counts.iter().flatten().copied().max().unwrap_or(1).max(1);
    let label_width = CONFUSION_LABEL_WIDTH;
    ui.label(
        RichText::new("rows: actual · columns: predicted").font(theme::small_font()).color(theme::weak_text(dark)),
    );
    let (rect, _) = ui.allocate_exact_size(vec2(label_width + cell * k as f32, 18.0 + cell * k as f32), Sense::hover());
    let painter = ui.painter_at(rect);
    for (j, class) in confusion.classes.iter().enumerate() {
        painter.text(
            rect.min + vec2(label_width + cell * (j as f32 + 0.5), 9.0),
            egui::Align2::CENTER_CENTER,
            class,
            theme::small_font(),
            ui.visuals().text_color(),
        );
    }
    for (i, row) in confusion.counts.iter().enumerate() {
        let top = rect.min.y + 18.0 + cell * i as f32;
        painter.text(
            egui::pos2(rect.min.x + label_width - 6.0, top + cell / 2.0),
            egui::Align2::RIGHT_CENTER,
            confusion.classes.get(i).map_or("", String::as_str),
            theme::small_font(),
            ui.visuals().text_color(),
        );
        for (j, count) in row.iter().enumerate() {
            let cell_rect = egui::Rect::from_min_size(
                egui::pos2(rect.min.x + label_width + cell * j as f32, top),
                vec2(cell, cell),
            )
            .shrink(1.0);
            let fill = theme::heat_color(*count as f32 / max as f32, dark);
            painter.rect_filled(cell_rect, 2.0, fill);
            if i == j {
                painter.rect_stroke(cell_rect, 2.0, Stroke::new(1.0, theme::success(dark)), egui::StrokeKind::Inside);
            }
            painter.text(
                cell_rect.center(),
                egui::Align2::CENTER_CENTER,
                count.to_string(),
                theme::small_font(),
                theme::text_on(fill),
            );
        }
    }
}

fn title_of(name: &str) -> &'static str {
    match name {
        "roc" => "ROC curve",
        "precision_recall" => "Precision–recall",
        _ => "Residuals",
    }
}

fn curve_chart_ui(ui: &mut Ui, name: &str, curves: &[(usize, &Evaluation, &Curve)]) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new(title_of(name)).strong());
    let (x_label, y_label) =
        curves.first().map_or((String::new(), String::new()), |(_, _, c)| (c.x_label.clone(), c.y_label.clone()));
    let scatter = name == "residuals";
    Plot::new(("chart", name))
        .width(CHART_WIDTH)
        .height(CHART_HEIGHT)
        .legend(Legend::default())
        .x_axis_label(x_label)
        .y_axis_label(y_label)
        .allow_scroll(false)
        .show(ui, |plot| {
            if name == "roc" {
                plot.line(
                    Line::new("chance", PlotPoints::new(vec![[0.0, 0.0], [1.0, 1.0]]))
                        .color(theme::weak_text(dark))
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
            if scatter {
                let (lo, hi) = curves
                    .iter()
                    .flat_map(|(_, _, c)| c.points.iter().map(|p| p[0]))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
                if lo.is_finite() {
                    plot.line(
                        Line::new("zero", PlotPoints::new(vec![[lo, 0.0], [hi, 0.0]])).color(theme::weak_text(dark)),
                    );
                }
            }
            for (i, evaluation, curve) in curves {
                let color = theme::series_color(*i);
                let points = PlotPoints::new(curve.points.clone());
                if scatter {
                    plot.points(
                        Points::new(evaluation.source.clone(), points).color(color.gamma_multiply(0.7)).radius(1.5),
                    );
                } else {
                    plot.line(Line::new(evaluation.source.clone(), points).color(color).width(2.0));
                }
            }
        });
}

fn clusters_ui(ui: &mut Ui, source: &str, index: usize, clusters: &[&Curve]) {
    ui.label(RichText::new(format!("Clusters on the first two principal components · {source}")).strong());
    Plot::new(("clusters", index))
        .width(CHART_WIDTH + 80.0)
        .height(CHART_HEIGHT)
        .legend(Legend::default())
        .x_axis_label("PC1")
        .y_axis_label("PC2")
        .data_aspect(1.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (k, curve) in clusters.iter().enumerate() {
                let name = format!("cluster {}", curve.name.trim_start_matches("pca:"));
                plot.points(
                    Points::new(name, PlotPoints::new(curve.points.clone())).color(theme::series_color(k)).radius(2.5),
                );
            }
        });
}
