//! The Data tab: a table as a virtualized grid. Only the rows and columns in view are formatted, so a million
//! rows (or thousands of columns) scroll smoothly; the header row and the row numbers stay in place.

use egui::{Align, Layout, Pos2, Rect, RichText, Sense, Ui, UiBuilder, Vec2, pos2, vec2};
use pipewright_engine::{ColumnType, Role, Table};
use polars::prelude::{AnyValue, Column};

use super::format::{CellKind, cell};
use crate::theme;

/// Narrowest and widest a data column is drawn.
const COLUMN_WIDTH_RANGE: (f32, f32) = (64.0, 280.0);
/// Width of one character of a column name and of the smaller line under it, to size columns without
/// laying text out.
const CHAR_WIDTH: f32 = 7.5;
const SMALL_CHAR_WIDTH: f32 = 5.5;

/// Where everything goes, in content coordinates (the top left of the whole grid is zero).
struct Geometry {
    row_height: f32,
    header_height: f32,
    index_width: f32,
    /// Left edge of each data column, from the left of the grid.
    lefts: Vec<f32>,
    widths: Vec<f32>,
    rows: usize,
    /// The table's first row's number less one (a page of a larger table starts further down).
    first_row: usize,
}

impl Geometry {
    fn new(ui: &Ui, table: &Table, first_row: usize) -> Self {
        let body = ui.text_style_height(&egui::TextStyle::Body);
        // An even whole number keeps row edges exact far down a million-row table.
        let row_height = (body + theme::SPACE_S).ceil();
        let row_height = row_height + row_height % 2.0;
        let header_height = body + ui.text_style_height(&egui::TextStyle::Small) + 2.0 * theme::SPACE_S;
        let rows = table.height();
        let digits = (first_row + rows).max(1).to_string().len() as f32;
        let index_width = digits * CHAR_WIDTH + 2.0 * theme::SPACE_M;
        let widths: Vec<f32> = table.frame.columns().iter().map(|c| column_width(table, c)).collect();
        let lefts = widths
            .iter()
            .scan(index_width, |left, width| {
                let this = *left;
                *left += width;
                Some(this)
            })
            .collect();
        Self { row_height, header_height, index_width, lefts, widths, rows, first_row }
    }

    fn size(&self) -> Vec2 {
        let width = self.lefts.last().zip(self.widths.last()).map_or(self.index_width, |(l, w)| l + w);
        vec2(width, self.header_height + self.row_height * self.rows as f32)
    }

    /// Rows at least partly visible below the header.
    fn visible_rows(&self, viewport: Rect) -> std::ops::Range<usize> {
        let first = (viewport.min.y / self.row_height).floor().max(0.0) as usize;
        let last = ((viewport.max.y - self.header_height) / self.row_height).ceil().max(0.0) as usize;
        first.min(self.rows)..last.min(self.rows)
    }

    /// Columns at least partly visible right of the row numbers.
    fn visible_columns(&self, viewport: Rect) -> std::ops::Range<usize> {
        let left = viewport.min.x + self.index_width;
        let first = self.lefts.iter().zip(&self.widths).take_while(|(l, w)| *l + *w <= left).count();
        let last = self.lefts.partition_point(|l| *l < viewport.max.x);
        first.min(last)..last
    }

    fn cell_rect(&self, origin: Pos2, row: usize, column: usize) -> Rect {
        let top = self.header_height + self.row_height * row as f32;
        Rect::from_min_size(origin + vec2(self.lefts[column], top), vec2(self.widths[column], self.row_height))
    }
}

/// A column's width from its type and its name's length.
fn column_width(table: &Table, column: &Column) -> f32 {
    let by_type: f32 = match ColumnType::of(column.dtype()) {
        ColumnType::Numeric => 96.0,
        ColumnType::Bool => 64.0,
        ColumnType::Text => 150.0,
        ColumnType::Date => 170.0,
        ColumnType::Other => 130.0,
    };
    let name = column.name().chars().count() as f32 * CHAR_WIDTH;
    let detail = header_detail(table, column).chars().count() as f32 * SMALL_CHAR_WIDTH;
    by_type.max(name.max(detail) + 2.0 * theme::SPACE_M).clamp(COLUMN_WIDTH_RANGE.0, COLUMN_WIDTH_RANGE.1)
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Feature => "feature",
        Role::Label => "label",
        Role::Score => "score",
        Role::Ignored => "ignored",
    }
}

/// The line under a column's name: its type, whether it is categorical, and its role.
fn header_detail(table: &Table, column: &Column) -> String {
    let name = column.name().as_str();
    let categorical = column.dtype().is_primitive_numeric() && table.categorical.contains(name);
    let dtype = column.dtype().to_string();
    let role = role_text(table.role(name));
    if categorical { format!("{dtype} · categorical · {role}") } else { format!("{dtype} · {role}") }
}

/// Draws the grid of `table`.
pub fn data_tab_ui(ui: &mut Ui, table: &Table) {
    page_ui(ui, table, 0);
}

/// Draws the grid of `table`, a page of a larger table whose rows are numbered from `first_row + 1`.
pub fn page_ui(ui: &mut Ui, table: &Table, first_row: usize) {
    if table.frame.width() == 0 {
        ui.label(RichText::new("The table has no columns.").color(theme::weak_text(ui.visuals().dark_mode)));
        return;
    }
    let geometry = Geometry::new(ui, table, first_row);
    egui::ScrollArea::both()
        .id_salt("output-data")
        .auto_shrink([false, false])
        .content_margin(egui::Margin::ZERO)
        .show_viewport(ui, |ui, viewport| grid_ui(ui, table, &geometry, viewport));
}

fn grid_ui(ui: &mut Ui, table: &Table, geometry: &Geometry, viewport: Rect) {
    ui.set_min_size(geometry.size());
    let origin = ui.max_rect().min;
    let rows = geometry.visible_rows(viewport);
    let columns = geometry.visible_columns(viewport);
    body_ui(ui, table, geometry, origin, rows.clone(), columns.clone());
    row_numbers_ui(ui, geometry, origin, viewport, rows);
    header_ui(ui, table, geometry, origin, viewport, columns);
}

/// The visible cells, striped; formatted from the frame only for the rows and columns in view.
fn body_ui(
    ui: &mut Ui,
    table: &Table,
    geometry: &Geometry,
    origin: Pos2,
    rows: std::ops::Range<usize>,
    columns: std::ops::Range<usize>,
) {
    let dark = ui.visuals().dark_mode;
    if geometry.rows == 0 {
        let rect = Rect::from_min_size(
            origin + vec2(geometry.index_width, geometry.header_height),
            vec2(240.0, geometry.row_height),
        );
        text_cell_ui(ui, rect, RichText::new("No rows.").color(theme::weak_text(dark)), Align::Min, ("empty", 0));
        return;
    }
    let frame_columns = table.frame.columns();
    let right = origin.x + geometry.size().x;
    for row in rows {
        let top = origin.y + geometry.header_height + geometry.row_height * row as f32;
        if row % 2 == 1 {
            let stripe = Rect::from_x_y_ranges(origin.x..=right, top..=top + geometry.row_height);
            ui.painter().rect_filled(stripe, 0.0, ui.visuals().faint_bg_color);
        }
        for index in columns.clone() {
            let Some(column) = frame_columns.get(index) else { continue };
            let value = cell(&column.get(row).unwrap_or(AnyValue::Null));
            let (text, align) = match value.kind {
                CellKind::Missing => (RichText::new(value.text).color(theme::weak_text(dark)), Align::Max),
                CellKind::Number => (RichText::new(value.text), Align::Max),
                CellKind::Text => (RichText::new(value.text), Align::Min),
            };
            text_cell_ui(ui, geometry.cell_rect(origin, row, index), text, align, (row, index));
        }
    }
}

/// The row numbers, kept at the left edge of the view while scrolling sideways.
fn row_numbers_ui(ui: &mut Ui, geometry: &Geometry, origin: Pos2, viewport: Rect, rows: std::ops::Range<usize>) {
    let dark = ui.visuals().dark_mode;
    let left = origin.x + viewport.min.x;
    let strip =
        Rect::from_min_size(pos2(left, origin.y + viewport.min.y), vec2(geometry.index_width, viewport.height()));
    ui.painter().rect_filled(strip, 0.0, ui.visuals().panel_fill);
    ui.painter().vline(strip.right(), strip.y_range(), ui.visuals().widgets.noninteractive.bg_stroke);
    // Cells scrolled beneath the strip are not hovered through it.
    ui.interact(strip, ui.id().with("output-row-numbers"), Sense::hover());
    for row in rows {
        let top = origin.y + geometry.header_height + geometry.row_height * row as f32;
        let rect = Rect::from_min_size(pos2(left, top), vec2(geometry.index_width, geometry.row_height));
        let number =
            RichText::new((geometry.first_row + row + 1).to_string()).color(theme::weak_text(dark)).monospace();
        text_cell_ui(ui, rect, number, Align::Max, ("row", row));
    }
}

/// Column names with type and role, kept at the top of the view while scrolling down.
fn header_ui(
    ui: &mut Ui,
    table: &Table,
    geometry: &Geometry,
    origin: Pos2,
    viewport: Rect,
    columns: std::ops::Range<usize>,
) {
    let dark = ui.visuals().dark_mode;
    let top = origin.y + viewport.min.y;
    let band =
        Rect::from_min_size(pos2(origin.x + viewport.min.x, top), vec2(viewport.width(), geometry.header_height));
    ui.painter().rect_filled(band, 0.0, ui.visuals().panel_fill);
    ui.painter().hline(band.x_range(), band.bottom(), ui.visuals().widgets.noninteractive.bg_stroke);
    ui.interact(band, ui.id().with("output-header"), Sense::hover());
    let frame_columns = table.frame.columns();
    for index in columns {
        let Some(column) = frame_columns.get(index) else { continue };
        let rect = Rect::from_min_size(
            pos2(origin.x + geometry.lefts[index], top),
            vec2(geometry.widths[index], geometry.header_height),
        );
        column_header_ui(ui, rect, table, column, dark);
    }
    // The corner above the row numbers covers headers scrolled beneath it.
    let corner = Rect::from_min_size(band.min, vec2(geometry.index_width, geometry.header_height));
    ui.painter().rect_filled(corner, 0.0, ui.visuals().panel_fill);
    ui.painter().vline(corner.right(), corner.y_range(), ui.visuals().widgets.noninteractive.bg_stroke);
    text_cell_ui(ui, corner, RichText::new("#").color(theme::weak_text(dark)), Align::Max, ("corner", 0));
}

fn column_header_ui(ui: &mut Ui, rect: Rect, table: &Table, column: &Column, dark: bool) {
    let name = column.name().as_str();
    let detail = header_detail(table, column);
    let detail_color = if table.role(name) == Role::Label { theme::accent(dark) } else { theme::weak_text(dark) };
    let inner = rect.shrink2(vec2(theme::SPACE_S + 2.0, theme::SPACE_S));
    // Aligned like the column's values: numbers to the right.
    let align = if column.dtype().is_primitive_numeric() { Align::Max } else { Align::Min };
    let builder = UiBuilder::new().max_rect(inner).layout(Layout::top_down(align)).id_salt(("header", name));
    ui.scope_builder(builder, |ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        ui.add(egui::Label::new(RichText::new(name).strong()).truncate());
        ui.add(egui::Label::new(RichText::new(detail).font(theme::small_font()).color(detail_color)).truncate());
    });
    ui.painter().vline(rect.right(), rect.y_range(), ui.visuals().widgets.noninteractive.bg_stroke);
}

/// A one-line label inside `rect`, truncated to its width (the full text shows on hover).
fn text_cell_ui(ui: &mut Ui, rect: Rect, text: RichText, align: Align, id: impl std::hash::Hash + std::fmt::Debug) {
    let layout =
        if align == Align::Max { Layout::right_to_left(Align::Center) } else { Layout::left_to_right(Align::Center) };
    let inner = rect.shrink2(vec2(theme::SPACE_S + 2.0, 0.0));
    ui.scope_builder(UiBuilder::new().max_rect(inner).layout(layout).id_salt(id), |ui| {
        ui.add(egui::Label::new(text).truncate());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn geometry(rows: usize, widths: Vec<f32>) -> Geometry {
        let lefts = widths.iter().scan(50.0, |l, w| {
            let this = *l;
            *l += w;
            Some(this)
        });
        Geometry {
            row_height: 20.0,
            header_height: 40.0,
            index_width: 50.0,
            lefts: lefts.collect(),
            widths,
            rows,
            first_row: 0,
        }
    }

    #[test]
    fn only_the_rows_and_columns_in_view_are_drawn() {
        let g = geometry(1_000_000, vec![100.0; 1000]);
        assert_eq!(g.size(), vec2(50.0 + 100_000.0, 40.0 + 20_000_000.0));
        // A 400 × 300 view at the top left: rows 0..13 (260 points under the header), columns 0..4.
        let top_left = Rect::from_min_size(Pos2::ZERO, vec2(400.0, 300.0));
        assert_eq!(g.visible_rows(top_left), 0..13);
        assert_eq!(g.visible_columns(top_left), 0..4);
        // Scrolled to the very end: the last rows and columns.
        let end = Rect::from_min_max(pos2(100_050.0 - 400.0, 20_000_040.0 - 300.0), pos2(100_050.0, 20_000_040.0));
        assert_eq!(g.visible_rows(end), 999_987..1_000_000);
        assert_eq!(g.visible_columns(end), 996..1000);
    }

    #[test]
    fn empty_tables_have_nothing_in_view() {
        let g = geometry(0, Vec::new());
        let view = Rect::from_min_size(Pos2::ZERO, vec2(400.0, 300.0));
        assert!(g.visible_rows(view).is_empty());
        assert!(g.visible_columns(view).is_empty());
        assert_eq!(g.size(), vec2(50.0, 40.0));
    }

    #[test]
    fn headers_name_type_and_role() {
        let mut table = Table::new(df!("pclass" => [1i64], "survived" => ["yes"]).expect("frame"));
        table.categorical.insert("pclass".into());
        table.roles.insert("survived".into(), Role::Label);
        let columns = table.frame.columns();
        assert_eq!(header_detail(&table, &columns[0]), "i64 · categorical · feature");
        assert_eq!(header_detail(&table, &columns[1]), "str · label");
    }
}
