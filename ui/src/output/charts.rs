//! The report's charts, drawn with `egui_plot`: a curve of every evaluated input overlaid (ROC with its
//! chance diagonal, precision–recall, regression residuals around zero), and clusters as a scatter on their
//! first two principal components. Points that are not finite are left out.

use egui::{RichText, Ui};
use egui_plot::{Corner, HLine, Legend, Line, LineStyle, Plot, PlotPoints, Points};
use pipewright_engine::Curve;

use super::format::format_metric;
use crate::theme;

/// Width a chart asks for.
pub const CHART_WIDTH: f32 = 340.0;
/// Narrowest a chart is drawn when the panel is narrow.
pub const MIN_CHART_WIDTH: f32 = 220.0;
/// Height of a chart's plot area.
const CHART_HEIGHT: f32 = 220.0;
/// Curve names of the cluster scatter: `pca:<cluster>`.
pub const CLUSTER_PREFIX: &str = "pca:";

/// One input's curve in a chart.
pub struct Series<'a> {
    /// The input's position, which picks its colour.
    pub index: usize,
    /// The input's name, such as `scored`.
    pub source: &'a str,
    /// The points.
    pub curve: &'a Curve,
    /// The input's ROC AUC, shown in the legend of the ROC chart.
    pub auc: Option<f64>,
}

/// How a named curve is drawn.
struct Style {
    title: String,
    /// Where the legend goes: where the curves usually are not.
    legend: Corner,
    /// Points rather than a line.
    scatter: bool,
    /// Axes from 0 to 1 (rates).
    unit_square: bool,
    guide: Guide,
}

/// A reference line drawn under the curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guide {
    None,
    /// The diagonal of a classifier that guesses (ROC).
    Chance,
    /// A horizontal line at zero (residuals).
    Zero,
}

fn style(name: &str) -> Style {
    let base = Style {
        title: name.replace('_', " "),
        legend: Corner::RightTop,
        scatter: false,
        unit_square: false,
        guide: Guide::None,
    };
    match name {
        "roc" => Style {
            title: "ROC curve".into(),
            legend: Corner::RightBottom,
            unit_square: true,
            guide: Guide::Chance,
            ..base
        },
        "precision_recall" => {
            Style { title: "Precision–recall".into(), legend: Corner::LeftBottom, unit_square: true, ..base }
        }
        "residuals" => Style { title: "Residuals".into(), scatter: true, guide: Guide::Zero, ..base },
        _ => base,
    }
}

/// The finite points of a curve.
fn finite_points(curve: &Curve) -> PlotPoints<'static> {
    curve.points.iter().filter(|p| p[0].is_finite() && p[1].is_finite()).copied().collect()
}

/// A chart of the curve `name` of every input, overlaid in the inputs' colours; `place` tells charts of the
/// same curve in different places apart.
pub fn curves_ui(ui: &mut Ui, place: &str, name: &str, series: &[Series<'_>], width: f32) {
    let dark = ui.visuals().dark_mode;
    let style = style(name);
    ui.label(RichText::new(&style.title).strong());
    let (x_label, y_label) =
        series.first().map_or_else(Default::default, |s| (s.curve.x_label.clone(), s.curve.y_label.clone()));
    let mut plot = Plot::new((place, "chart", name))
        .width(width)
        .height(CHART_HEIGHT)
        .legend(Legend::default().position(style.legend))
        .x_axis_label(x_label)
        .y_axis_label(y_label)
        .allow_scroll(false);
    if style.unit_square {
        plot = plot.include_x(0.0).include_x(1.0).include_y(0.0).include_y(1.0);
    }
    plot.show(ui, |plot| {
        match style.guide {
            Guide::Chance => {
                let chance = Line::new("", PlotPoints::new(vec![[0.0, 0.0], [1.0, 1.0]]));
                plot.line(chance.color(theme::weak_text(dark)).style(LineStyle::dashed_loose()));
            }
            Guide::Zero => plot.hline(HLine::new("", 0.0).color(theme::weak_text(dark))),
            Guide::None => {}
        }
        for s in series {
            let color = theme::series_color(s.index);
            let legend = match s.auc {
                Some(auc) => format!("{} · AUC {}", s.source, format_metric("roc_auc", auc)),
                None => s.source.to_owned(),
            };
            if style.scatter {
                plot.points(Points::new(legend, finite_points(s.curve)).color(color.gamma_multiply(0.7)).radius(1.5));
            } else {
                plot.line(Line::new(legend, finite_points(s.curve)).color(color).width(2.0));
            }
        }
    });
}

/// The rows of one input on their first two principal components, one colour per cluster.
pub fn clusters_ui(ui: &mut Ui, source: &str, index: usize, clusters: &[&Curve], width: f32) {
    ui.label(RichText::new(format!("Clusters · {source}")).strong().color(theme::series_color(index)));
    let (x_label, y_label) =
        clusters.first().map_or_else(|| ("PC1".into(), "PC2".into()), |c| (c.x_label.clone(), c.y_label.clone()));
    Plot::new(("output-clusters", source))
        .width(width)
        .height(CHART_HEIGHT)
        .legend(Legend::default())
        .x_axis_label(x_label)
        .y_axis_label(y_label)
        .data_aspect(1.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (k, curve) in clusters.iter().enumerate() {
                let cluster = curve.name.strip_prefix(CLUSTER_PREFIX).unwrap_or(&curve.name);
                // Clusters are numbered from 0; their number picks the colour so it is the same in every chart.
                let color = theme::series_color(cluster.parse().unwrap_or(k));
                plot.points(Points::new(format!("cluster {cluster}"), finite_points(curve)).color(color).radius(2.0));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_that_are_not_finite_are_left_out() {
        let curve = Curve {
            name: "roc".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            points: vec![[0.0, 0.0], [f64::NAN, 0.5], [0.5, f64::INFINITY], [1.0, 1.0]],
        };
        let points = finite_points(&curve);
        let kept: Vec<[f64; 2]> = points.points().iter().map(|p| [p.x, p.y]).collect();
        assert_eq!(kept, [[0.0, 0.0], [1.0, 1.0]]);
    }

    #[test]
    fn known_curves_get_their_titles_and_guides() {
        assert!(style("roc").guide == Guide::Chance && style("roc").unit_square);
        assert_eq!(style("precision_recall").title, "Precision–recall");
        assert!(style("residuals").scatter && style("residuals").guide == Guide::Zero);
        assert_eq!(style("lift_chart").title, "lift chart");
    }
}
