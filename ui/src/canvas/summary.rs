//! What a block's footer shows: its state, and the headline and a small chart of its first output.

use egui::{Color32, Pos2, Sense, Stroke, Ui, pos2, vec2};
use pipewright_engine::Value;

use crate::runtime::Phase;
use crate::theme;

/// Text of a node's status line.
pub fn status_text(phase: &Phase) -> String {
    phase.label()
}

pub(super) fn phase_color(phase: &Phase, dark: bool) -> Color32 {
    match phase {
        Phase::NotRun => theme::weak_text(dark),
        Phase::Stale | Phase::Skipped(_) => theme::warning(dark),
        Phase::Queued | Phase::Running { .. } => theme::accent(dark),
        Phase::Cached => theme::cached(dark),
        Phase::Done { .. } => theme::success(dark),
        Phase::Failed(_) => theme::error(dark),
    }
}

/// The headline of an output: a table's shape or a report's first metric of each evaluation.
pub fn headline(value: &Value) -> String {
    match value {
        Value::Table(_) => value.summary(),
        Value::Report(r) => r
            .evaluations
            .iter()
            .filter_map(|e| {
                let (metric, info) = e.headline()?;
                let label = info.map_or(metric.name.as_str(), |i| i.label);
                Some(format!("{label} {:.3}", metric.value))
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.summary(),
    }
}

/// A tiny chart for the node body: the ROC curve of a report.
pub(super) fn sparkline_ui(ui: &mut Ui, value: &Value, dark: bool) {
    let Value::Report(report) = value else { return };
    let curves: Vec<&pipewright_engine::Curve> =
        report.evaluations.iter().filter_map(|e| e.curves.iter().find(|c| c.name == "roc")).collect();
    if curves.is_empty() {
        return;
    }
    let (rect, _) = ui.allocate_exact_size(vec2(theme::NODE_WIDTH - 24.0, 36.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, theme::weak_text(dark).gamma_multiply(0.4)),
        egui::StrokeKind::Inside,
    );
    painter.line_segment(
        [rect.left_bottom(), rect.right_top()],
        Stroke::new(1.0, theme::weak_text(dark).gamma_multiply(0.5)),
    );
    for (i, curve) in curves.iter().enumerate() {
        let points: Vec<Pos2> = curve
            .points
            .iter()
            .map(|[x, y]| pos2(rect.left() + *x as f32 * rect.width(), rect.bottom() - *y as f32 * rect.height()))
            .collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.5, theme::series_color(i))));
    }
}
