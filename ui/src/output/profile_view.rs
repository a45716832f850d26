//! The Profile tab: column profiles computed on a background thread (a million rows take a moment), shown as
//! one row per column with a small histogram or bar chart.

use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;

use egui::{Align, Layout, Rect, RichText, Sense, Ui, vec2};
use pipewright_engine::Table;

use super::format::{format_float, group_digits, percent};
use super::profile::{ColumnProfile, Distribution, profile};
use crate::theme;

/// Profiles kept for tables shown recently, so switching between blocks does not recompute them.
const KEPT_PROFILES: usize = 4;

/// A profile being computed on its thread, or done.
struct Entry {
    /// The profiled table. A weak reference does not keep a table the panel no longer shows in memory, yet
    /// keeps its address from being reused by another table.
    table: Weak<Table>,
    /// Filled by the thread when it is done.
    done: Arc<OnceLock<Vec<ColumnProfile>>>,
    /// The thread, while it runs; `None` when it could not be started.
    worker: Option<JoinHandle<()>>,
}

/// Where a table's profile stands.
pub enum ProfileState<'a> {
    /// The background thread is still working.
    Computing,
    /// Done.
    Ready(&'a [ColumnProfile]),
    /// The thread could not start or stopped without a result.
    Failed,
}

/// Profiles by table identity (its `Arc`), computed off the UI thread when first asked for.
#[derive(Default)]
pub struct ProfileCache {
    /// Most recently used last.
    entries: Vec<Entry>,
}

impl ProfileCache {
    /// The profile of `table`, starting its computation on a background thread the first time; `ctx` is
    /// asked to repaint when it is done.
    pub fn get(&mut self, table: &Arc<Table>, ctx: &egui::Context) -> ProfileState<'_> {
        // Profiles of tables that no longer exist are of no use.
        self.entries.retain(|e| e.table.strong_count() > 0);
        if let Some(index) = self.entries.iter().position(|e| std::ptr::eq(e.table.as_ptr(), Arc::as_ptr(table))) {
            let entry = self.entries.remove(index);
            self.entries.push(entry);
        } else {
            if self.entries.len() >= KEPT_PROFILES {
                // A dropped entry's thread finishes on its own and frees its result.
                self.entries.remove(0);
            }
            self.entries.push(start(table, ctx));
        }
        let Some(entry) = self.entries.last() else { return ProfileState::Failed };
        match (entry.done.get(), &entry.worker) {
            (Some(profiles), _) => ProfileState::Ready(profiles),
            (None, Some(worker)) if !worker.is_finished() => ProfileState::Computing,
            (None, _) => ProfileState::Failed,
        }
    }
}

fn start(table: &Arc<Table>, ctx: &egui::Context) -> Entry {
    let done: Arc<OnceLock<Vec<ColumnProfile>>> = Arc::default();
    let (shown, result, ctx) = (Arc::clone(table), Arc::clone(&done), ctx.clone());
    let worker = std::thread::Builder::new()
        .name("pipewright-profile".into())
        .spawn(move || {
            let _ = result.set(profile(&shown));
            ctx.request_repaint();
        })
        .ok();
    Entry { table: Arc::downgrade(table), done, worker }
}

/// Width of each column of the profile grid: column, type, missing, unique, mean, std, min, max, chart.
const WIDTHS: [f32; 9] = [180.0, 80.0, 110.0, 80.0, 90.0, 90.0, 90.0, 90.0, 180.0];
/// Headings of the profile grid.
const HEADINGS: [&str; 9] = ["column", "type", "missing", "unique", "mean", "std", "min", "max", "distribution"];
/// Height of a row (fits the chart).
const ROW_HEIGHT: f32 = 30.0;
/// Size of the histogram or bar chart in a row.
const CHART_SIZE: egui::Vec2 = vec2(160.0, 24.0);

/// Draws the profile tab of `table`.
pub fn profile_tab_ui(ui: &mut Ui, cache: &mut ProfileCache, table: &Arc<Table>) {
    let dark = ui.visuals().dark_mode;
    match cache.get(table, ui.ctx()) {
        ProfileState::Computing => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Profiling {} rows…", group_digits(table.height())));
            });
        }
        ProfileState::Failed => {
            ui.colored_label(
                theme::error(dark),
                "The profile could not be computed: the profiling thread stopped without a result.",
            );
        }
        ProfileState::Ready([]) => {
            ui.label(RichText::new("The table has no columns.").color(theme::weak_text(dark)));
        }
        ProfileState::Ready(profiles) => profiles_ui(ui, profiles),
    }
}

/// The grid: a fixed header above rows that scroll (only the rows in view are drawn).
fn profiles_ui(ui: &mut Ui, profiles: &[ColumnProfile]) {
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::horizontal().id_salt("output-profile-h").auto_shrink([false, false]).show(ui, |ui| {
        ui.set_min_width(WIDTHS.iter().sum::<f32>() + theme::SPACE_M * WIDTHS.len() as f32);
        ui.horizontal(|ui| {
            for (heading, width) in HEADINGS.iter().zip(WIDTHS) {
                let align =
                    if matches!(*heading, "column" | "type" | "distribution") { Align::Min } else { Align::Max };
                cell_ui(ui, width, align, RichText::new(*heading).color(theme::weak_text(dark)));
            }
        });
        ui.separator();
        egui::ScrollArea::vertical().id_salt("output-profile-v").auto_shrink([false, false]).show_rows(
            ui,
            ROW_HEIGHT,
            profiles.len(),
            |ui, rows| {
                for p in &profiles[rows] {
                    ui.horizontal(|ui| {
                        ui.set_height(ROW_HEIGHT);
                        profile_row_ui(ui, p, dark);
                    });
                }
            },
        );
    });
}

fn profile_row_ui(ui: &mut Ui, p: &ColumnProfile, dark: bool) {
    let number = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), format_float);
    let [name_w, type_w, missing_w, unique_w, mean_w, std_w, min_w, max_w, chart_w] = WIDTHS;
    cell_ui(ui, name_w, Align::Min, RichText::new(&p.name).strong());
    cell_ui(ui, type_w, Align::Min, RichText::new(&p.dtype).color(theme::weak_text(dark)));
    let missing = match percent(p.missing, p.rows) {
        Some(share) if p.missing > 0 => format!("{} ({share})", group_digits(p.missing)),
        _ => group_digits(p.missing),
    };
    let missing = RichText::new(missing);
    cell_ui(ui, missing_w, Align::Max, if p.missing > 0 { missing.color(theme::warning(dark)) } else { missing });
    cell_ui(ui, unique_w, Align::Max, RichText::new(p.unique.map_or_else(|| "—".to_owned(), group_digits)));
    cell_ui(ui, mean_w, Align::Max, RichText::new(number(p.mean)));
    cell_ui(ui, std_w, Align::Max, RichText::new(number(p.std)));
    cell_ui(ui, min_w, Align::Max, RichText::new(number(p.min)));
    cell_ui(ui, max_w, Align::Max, RichText::new(number(p.max)));
    ui.allocate_ui_with_layout(vec2(chart_w, ROW_HEIGHT), Layout::left_to_right(Align::Center), |ui| {
        distribution_ui(ui, &p.distribution, dark);
    });
}

/// A label in a cell of fixed width, truncated to it (the full text shows on hover).
fn cell_ui(ui: &mut Ui, width: f32, align: Align, text: RichText) {
    let layout =
        if align == Align::Max { Layout::right_to_left(Align::Center) } else { Layout::left_to_right(Align::Center) };
    let height = ui.spacing().interact_size.y;
    ui.allocate_ui_with_layout(vec2(width, height), layout, |ui| {
        ui.set_width(width);
        ui.add(egui::Label::new(text).truncate());
    });
}

/// One bar of a small chart, with what its tooltip says.
struct Bar {
    count: u64,
    tip: String,
    muted: bool,
}

fn bars(distribution: &Distribution) -> Vec<Bar> {
    match distribution {
        Distribution::Histogram { low, high, counts } => {
            let width = (high - low) / counts.len().max(1) as f64;
            counts
                .iter()
                .enumerate()
                .map(|(i, &count)| {
                    let from = low + width * i as f64;
                    let tip = format!("{} – {}: {count}", format_float(from), format_float(from + width));
                    Bar { count, tip, muted: false }
                })
                .collect()
        }
        Distribution::TopValues { top, others } => {
            let mut bars: Vec<Bar> = top
                .iter()
                .map(|(value, count)| Bar { count: *count, tip: format!("{value}: {count}"), muted: false })
                .collect();
            if *others > 0 {
                bars.push(Bar { count: *others, tip: format!("other values: {others}"), muted: true });
            }
            bars
        }
        Distribution::Empty => Vec::new(),
    }
}

/// A small histogram or bar chart of the most frequent values, drawn with the painter; hovering a bar tells
/// its range or value and count.
fn distribution_ui(ui: &mut Ui, distribution: &Distribution, dark: bool) {
    let bars = bars(distribution);
    if bars.is_empty() {
        ui.label(RichText::new("—").color(theme::weak_text(dark)));
        return;
    }
    let (rect, response) = ui.allocate_exact_size(CHART_SIZE, Sense::hover());
    let painter = ui.painter_at(rect);
    let tallest = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let step = rect.width() / bars.len() as f32;
    let hovered = response.hover_pos().map(|pos| ((pos.x - rect.left()) / step) as usize);
    for (i, bar) in bars.iter().enumerate() {
        let height = (rect.height() * bar.count as f32 / tallest as f32).max(if bar.count > 0 { 1.0 } else { 0.0 });
        let left = rect.left() + step * i as f32;
        let shape = Rect::from_min_max(
            egui::pos2(left + 0.5, rect.bottom() - height),
            egui::pos2(left + step - 0.5, rect.bottom()),
        );
        let color = if bar.muted { theme::weak_text(dark) } else { theme::accent(dark) };
        let color = if hovered == Some(i) { color } else { color.gamma_multiply(0.75) };
        painter.rect_filled(shape, 1.0, color);
    }
    if let Some(bar) = hovered.and_then(|i| bars.get(i)) {
        response.on_hover_text(&bar.tip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn wait(cache: &mut ProfileCache, table: &Arc<Table>, ctx: &egui::Context) -> Vec<ColumnProfile> {
        let started = std::time::Instant::now();
        loop {
            match cache.get(table, ctx) {
                ProfileState::Ready(profiles) => return profiles.to_vec(),
                ProfileState::Failed => panic!("profiling failed"),
                ProfileState::Computing => {
                    assert!(started.elapsed().as_secs() < 30, "profiling takes too long");
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
    }

    #[test]
    fn profiles_are_computed_once_per_table_and_recent_ones_are_kept() {
        let ctx = egui::Context::default();
        let mut cache = ProfileCache::default();
        let shown = |cache: &ProfileCache, table: &Arc<Table>| {
            cache.entries.iter().any(|e| std::ptr::eq(e.table.as_ptr(), Arc::as_ptr(table)))
        };
        let table = Arc::new(Table::new(df!("x" => [1.0, 2.0, 3.0]).expect("frame")));
        let first = wait(&mut cache, &table, &ctx);
        assert_eq!(first[0].mean, Some(2.0));
        assert!(matches!(cache.get(&table, &ctx), ProfileState::Ready(_)), "the second request is served at once");
        // An equal table in another Arc is another table.
        let twin = Arc::new(Table::clone(&table));
        wait(&mut cache, &twin, &ctx);
        assert_eq!(cache.entries.len(), 2);
        let others: Vec<Arc<Table>> =
            (0..KEPT_PROFILES).map(|i| Arc::new(Table::new(df!("y" => [i as f64]).expect("frame")))).collect();
        for other in &others {
            wait(&mut cache, other, &ctx);
        }
        assert_eq!(cache.entries.len(), KEPT_PROFILES);
        assert!(!shown(&cache, &table) && !shown(&cache, &twin), "the oldest are dropped");
        // A table that is gone takes its profile with it (once its thread has let go of it).
        let gone: Vec<Weak<Table>> = others.iter().map(Arc::downgrade).collect();
        drop(others);
        let started = std::time::Instant::now();
        while gone.iter().any(|t| t.strong_count() > 0) {
            assert!(started.elapsed().as_secs() < 30, "the profiling thread keeps the table");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        wait(&mut cache, &table, &ctx);
        assert_eq!(cache.entries.len(), 1, "only the table asked for again");
    }

    #[test]
    fn chart_bars_tell_ranges_and_values() {
        let histogram = Distribution::Histogram { low: 0.0, high: 2.0, counts: vec![3, 1] };
        let tips: Vec<String> = bars(&histogram).into_iter().map(|b| b.tip).collect();
        assert_eq!(tips, ["0 – 1: 3", "1 – 2: 1"]);
        let top = Distribution::TopValues { top: vec![("a".into(), 2)], others: 5 };
        let bars = bars(&top);
        assert_eq!((bars[1].tip.as_str(), bars[1].count, bars[1].muted), ("other values: 5", 5, true));
    }
}
