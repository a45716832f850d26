//! A confusion matrix as a heatmap: actual classes down, predicted classes across, each cell coloured by its
//! count and labelled with it. Hovering a cell tells its share of the actual class.

use std::f32::consts::FRAC_PI_2;

use egui::epaint::TextShape;
use egui::text::{LayoutJob, TextWrapping};
use egui::{Align2, Color32, FontId, Id, Rect, RichText, Sense, Stroke, Ui, pos2, vec2};
use pipewright_engine::ConfusionMatrix;

use super::format::{group_digits, percent};
use crate::theme;

/// Widest the class names left of the matrix are drawn (longer ones are cut with "…").
const MAX_ROW_LABEL_WIDTH: f32 = 96.0;
/// Width taken by the rotated "actual" title.
const AXIS_TITLE_WIDTH: f32 = 18.0;
/// Height of the "predicted" title and of the class names above the matrix, each.
const HEADER_LINE: f32 = 16.0;
/// Side of the whole matrix when classes are few; cells stay between the bounds below.
const MATRIX_SIDE: f32 = 240.0;
const CELL_SIDE_RANGE: (f32, f32) = (26.0, 72.0);

/// Side of a cell for `k` classes.
fn cell_side(k: usize) -> f32 {
    (MATRIX_SIDE / k.max(1) as f32).clamp(CELL_SIDE_RANGE.0, CELL_SIDE_RANGE.1)
}

/// Width of the class names left of the matrix: the longest name, up to [`MAX_ROW_LABEL_WIDTH`].
fn row_label_width(ui: &Ui, matrix: &ConfusionMatrix) -> f32 {
    let painter = ui.painter();
    let longest = matrix
        .classes
        .iter()
        .map(|c| painter.layout_no_wrap(c.clone(), theme::small_font(), Color32::PLACEHOLDER).size().x)
        .fold(0.0, f32::max);
    (longest + 2.0 * theme::SPACE_S).min(MAX_ROW_LABEL_WIDTH)
}

/// The width the heatmap takes.
pub fn width(ui: &Ui, matrix: &ConfusionMatrix) -> f32 {
    AXIS_TITLE_WIDTH + row_label_width(ui, matrix) + cell_side(matrix.classes.len()) * matrix.classes.len() as f32
}

/// The count of a cell; missing cells of a ragged matrix count zero.
fn count(matrix: &ConfusionMatrix, actual: usize, predicted: usize) -> u64 {
    matrix.counts.get(actual).and_then(|row| row.get(predicted)).copied().unwrap_or(0)
}

/// What a cell says on hover and to screen readers.
fn cell_text(matrix: &ConfusionMatrix, actual: usize, predicted: usize) -> String {
    let class = |i: usize| matrix.classes.get(i).map_or("?", String::as_str);
    let n = count(matrix, actual, predicted);
    let row_total: u64 = (0..matrix.classes.len()).map(|j| count(matrix, actual, j)).sum();
    let share = percent(n as usize, row_total as usize).map(|p| format!(" ({p} of actual {})", class(actual)));
    format!(
        "actual {}, predicted {}: {}{}",
        class(actual),
        class(predicted),
        group_digits(n as usize),
        share.unwrap_or_default()
    )
}

/// Text cut to `max_width` with "…".
fn elided(ui: &Ui, text: &str, max_width: f32, font: FontId, color: Color32) -> std::sync::Arc<egui::Galley> {
    let mut job = LayoutJob::simple_singleline(text.to_owned(), font, color);
    job.wrap = TextWrapping::truncate_at_width(max_width);
    ui.painter().layout_job(job)
}

/// Draws the heatmap of one input, titled with its name.
pub fn confusion_ui(ui: &mut Ui, matrix: &ConfusionMatrix, source: &str, index: usize) {
    let dark = ui.visuals().dark_mode;
    ui.label(RichText::new(format!("Confusion matrix · {source}")).strong().color(theme::series_color(index)));
    let k = matrix.classes.len();
    if k == 0 {
        ui.label(RichText::new("No classes.").color(theme::weak_text(dark)));
        return;
    }
    let side = cell_side(k);
    let label_width = row_label_width(ui, matrix);
    let size = vec2(AXIS_TITLE_WIDTH + label_width + side * k as f32, 2.0 * HEADER_LINE + side * k as f32);
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let grid_min = rect.min + vec2(AXIS_TITLE_WIDTH + label_width, 2.0 * HEADER_LINE);
    axes_ui(ui, matrix, rect, grid_min, side);
    let most = matrix.counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    // Every input has a matrix of the same classes: the input's position keeps their cells apart.
    let base = ui.id().with(("output-confusion", index));
    for actual in 0..k {
        for predicted in 0..k {
            let cell =
                Rect::from_min_size(grid_min + vec2(side * predicted as f32, side * actual as f32), vec2(side, side));
            cell_ui(ui, base.with((actual, predicted)), matrix, (actual, predicted), cell.shrink(1.0), most);
        }
    }
}

/// The titles "actual" and "predicted" and the class names along both sides.
fn axes_ui(ui: &Ui, matrix: &ConfusionMatrix, rect: Rect, grid_min: egui::Pos2, side: f32) {
    let dark = ui.visuals().dark_mode;
    let text_color = ui.visuals().text_color();
    let weak = theme::weak_text(dark);
    let font = theme::small_font();
    let painter = ui.painter();
    let k = matrix.classes.len() as f32;
    painter.text(
        pos2(grid_min.x + side * k / 2.0, rect.top() + HEADER_LINE / 2.0),
        Align2::CENTER_CENTER,
        "predicted",
        font.clone(),
        weak,
    );
    let actual = painter.layout_no_wrap("actual".to_owned(), font.clone(), weak);
    // Rotated a quarter turn anticlockwise, centred on the rows.
    let title_pos = pos2(
        rect.left() + (AXIS_TITLE_WIDTH - actual.size().y) / 2.0,
        grid_min.y + side * k / 2.0 + actual.size().x / 2.0,
    );
    painter.add(TextShape::new(title_pos, actual, weak).with_angle(-FRAC_PI_2));
    for (i, class) in matrix.classes.iter().enumerate() {
        let column = elided(ui, class, side - 2.0, font.clone(), text_color);
        let center_x = grid_min.x + side * (i as f32 + 0.5);
        let top = rect.top() + HEADER_LINE + (HEADER_LINE - column.size().y) / 2.0;
        painter.galley(pos2(center_x - column.size().x / 2.0, top), column, text_color);
        let row = elided(ui, class, MAX_ROW_LABEL_WIDTH - theme::SPACE_S * 2.0, font.clone(), text_color);
        let center_y = grid_min.y + side * (i as f32 + 0.5);
        painter.galley(
            pos2(grid_min.x - theme::SPACE_S - row.size().x, center_y - row.size().y / 2.0),
            row,
            text_color,
        );
    }
}

/// One cell: its colour, its count when it fits, a frame on the diagonal, and a tooltip.
fn cell_ui(ui: &mut Ui, id: Id, matrix: &ConfusionMatrix, (actual, predicted): (usize, usize), rect: Rect, most: u64) {
    let dark = ui.visuals().dark_mode;
    let n = count(matrix, actual, predicted);
    let fill = theme::heat_color(n as f32 / most as f32, dark);
    let painter = ui.painter();
    painter.rect_filled(rect, 2.0, fill);
    if actual == predicted {
        painter.rect_stroke(rect, 2.0, Stroke::new(1.0, theme::success(dark)), egui::StrokeKind::Inside);
    }
    let label = painter.layout_no_wrap(group_digits(n as usize), theme::small_font(), theme::text_on(fill));
    if label.size().x <= rect.width() - 2.0 {
        painter.galley(rect.center() - label.size() / 2.0, label, theme::text_on(fill));
    }
    let text = cell_text(matrix, actual, predicted);
    let response = ui.interact(rect, id, Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &text));
    response.on_hover_text(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_tell_their_share_of_the_actual_class() {
        let matrix =
            ConfusionMatrix { classes: vec!["no".into(), "yes".into()], counts: vec![vec![90, 10], vec![5, 15]] };
        assert_eq!(cell_text(&matrix, 0, 1), "actual no, predicted yes: 10 (10.0% of actual no)");
        assert_eq!(cell_text(&matrix, 1, 1), "actual yes, predicted yes: 15 (75.0% of actual yes)");
    }

    #[test]
    fn ragged_or_empty_matrices_count_zero() {
        let matrix = ConfusionMatrix { classes: vec!["a".into(), "b".into()], counts: vec![vec![3]] };
        assert_eq!(count(&matrix, 1, 1), 0);
        assert_eq!(cell_text(&matrix, 1, 0), "actual b, predicted a: 0");
    }

    #[test]
    fn many_classes_keep_cells_readable() {
        assert_eq!(cell_side(2), CELL_SIDE_RANGE.1);
        assert_eq!(cell_side(50), CELL_SIDE_RANGE.0);
    }
}
