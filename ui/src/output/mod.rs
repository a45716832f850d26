//! The output panel: the selected block's output value in full. Tables as a virtualized grid and column
//! profiles (computed off the UI thread); Evaluate Model reports as metrics, confusion matrices and charts;
//! learners, models and transforms as their settings and fitted state.

pub(crate) mod charts;
mod confusion;
pub(crate) mod format;
mod json;
mod model;
mod profile;
mod profile_view;
mod report;
mod table;

use std::sync::Arc;

use egui::{RichText, Ui};
use pipewright_engine::{Table, Value};

pub(crate) use self::json::scalar_text;
pub(crate) use self::report::best_of;

use self::format::group_digits;
use self::profile_view::ProfileCache;
pub(crate) use self::table::data_tab_ui as data_preview_ui;
use crate::theme;

/// Which view of a table is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum TableTab {
    /// The rows.
    #[default]
    Data,
    /// One row per column: statistics and a small chart.
    Profile,
}

/// State of the output panel (caches, chosen tabs); one per open document.
#[derive(Default)]
pub struct OutputView {
    table_tab: TableTab,
    profiles: ProfileCache,
    /// The page of the streamed table shown last: the stream's address, the page, and its rows.
    preview: Option<(usize, usize, Result<Arc<Table>, String>)>,
    /// Which page of a streamed table to show.
    page: usize,
    /// A page being read off the UI thread: the stream's address, the page, and where its rows arrive.
    reading: Option<(usize, usize, PageArrival)>,
}

/// Where the rows of a page read on its own thread arrive.
type PageArrival = std::sync::mpsc::Receiver<Result<Table, String>>;

/// Rows a page of a streamed table holds: it is larger than memory, so it is read a page at a time.
const PAGE_ROWS: usize = 1000;

impl OutputView {
    /// Draws `value` in full into `ui` (which is the bottom panel's content area).
    pub fn show_ui(&mut self, ui: &mut Ui, value: &Value) {
        match value {
            Value::Table(table) => self.table_ui(ui, table),
            Value::Stream(stream) => self.stream_ui(ui, stream),
            Value::Report(report) => report::report_ui(ui, report),
            Value::Learner(learner) => model::learner_ui(ui, learner),
            Value::Model(fitted) => model::model_ui(ui, fitted),
            Value::Transform(transform) => model::transform_ui(ui, transform),
        }
    }

    /// A streamed table, a page of rows at a time: the page is read from its source on a thread of its own
    /// (the rows before it are read and dropped), so a deep page of a large file never freezes the window.
    fn stream_ui(&mut self, ui: &mut Ui, stream: &Arc<pipewright_engine::TableStream>) {
        let key = Arc::as_ptr(stream) as usize;
        if self.preview.as_ref().is_some_and(|(k, _, _)| *k != key)
            || self.reading.as_ref().is_some_and(|(k, _, _)| *k != key)
        {
            // Another stream: start at its first page.
            (self.preview, self.reading, self.page) = (None, None, 0);
        }
        if let Some((_, page, arrived)) = &self.reading
            && let Ok(rows) = arrived.try_recv()
        {
            self.preview = Some((key, *page, rows.map(Arc::new)));
            self.reading = None;
        }
        let shown = self.preview.as_ref().is_some_and(|(_, p, _)| *p == self.page);
        let asked = self.reading.as_ref().is_some_and(|(_, p, _)| *p == self.page);
        if !shown && !asked {
            let (sender, receiver) = std::sync::mpsc::channel();
            let (reader, repaint, start) = (stream.clone(), ui.ctx().clone(), self.page * PAGE_ROWS);
            let spawned = std::thread::Builder::new().name("pipewright-page".into()).spawn(move || {
                let _ = sender.send(reader.page(start, PAGE_ROWS).map_err(|e| e.to_string()));
                repaint.request_repaint();
            });
            match spawned {
                Ok(_) => self.reading = Some((key, self.page, receiver)),
                Err(e) => {
                    self.preview = Some((key, self.page, Err(format!("cannot start a thread to read rows: {e}"))));
                }
            }
        }
        let dark = ui.visuals().dark_mode;
        let total = stream.rows_hint();
        ui.horizontal(|ui| {
            let first = self.page * PAGE_ROWS;
            let last = total.map_or(first + PAGE_ROWS, |t| (first + PAGE_ROWS).min(t));
            let of = total.map(|t| format!(" of about {}", group_digits(t))).unwrap_or_default();
            ui.label(
                RichText::new(format!(
                    "Streamed from {}, a batch at a time (larger than the memory budget). Rows {}–{}{of}:",
                    stream.describe(),
                    group_digits(first + 1),
                    group_digits(last),
                ))
                .color(theme::weak_text(dark)),
            );
            if ui.add_enabled(self.page > 0, egui::Button::new("◀ Previous")).clicked() {
                self.page -= 1;
            }
            let more = total.is_none_or(|t| (self.page + 1) * PAGE_ROWS < t);
            if ui.add_enabled(more, egui::Button::new("Next ▶")).clicked() {
                self.page += 1;
            }
            if self.reading.is_some() {
                ui.spinner();
            }
        });
        match self.preview.as_ref().map(|(_, _, p)| p.clone()) {
            Some(Ok(table)) => {
                if self.table_tab == TableTab::Profile {
                    ui.label(
                        RichText::new(format!(
                            "The profile is of the {} rows of this page, a sample of the table, not of all its rows.",
                            group_digits(table.height())
                        ))
                        .color(theme::weak_text(dark)),
                    );
                }
                let first_row = self.preview.as_ref().map_or(0, |(_, page, _)| page * PAGE_ROWS);
                self.page_ui(ui, &table, first_row);
            }
            Some(Err(why)) => {
                ui.colored_label(theme::error(dark), why);
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading rows…");
                });
            }
        }
    }

    fn table_ui(&mut self, ui: &mut Ui, table: &Arc<Table>) {
        self.page_ui(ui, table, 0);
    }

    /// A table, or a page of a larger one whose first row is number `first_row + 1`.
    fn page_ui(&mut self, ui: &mut Ui, table: &Arc<Table>, first_row: usize) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.table_tab, TableTab::Data, "Data");
            ui.selectable_value(&mut self.table_tab, TableTab::Profile, "Profile");
            ui.add_space(theme::SPACE_M);
            let size = format!("{} rows × {} columns", group_digits(table.height()), group_digits(table.frame.width()));
            ui.label(RichText::new(size).color(theme::weak_text(ui.visuals().dark_mode)));
        });
        ui.add_space(theme::SPACE_S);
        match self.table_tab {
            TableTab::Data => table::page_ui(ui, table, first_row),
            TableTab::Profile => profile_view::profile_tab_ui(ui, &mut self.profiles, table),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use egui::{Event, MouseWheelUnit, Pos2, vec2};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use pipewright_engine::{ConfusionMatrix, Curve, Evaluation, Learner, Metric, Model, Report, Role, Task};
    use polars::prelude::*;
    use serde_json::json;

    use super::*;

    fn harness(value: Value) -> Harness<'static, OutputView> {
        Harness::builder()
            .with_size([1100.0, 420.0])
            .build_ui_state(move |ui, view: &mut OutputView| view.show_ui(ui, &value), OutputView::default())
    }

    /// Steps until `label` shows (a profile arrives from its thread).
    fn step_until(harness: &mut Harness<'_, OutputView>, label: &str) {
        let started = Instant::now();
        while harness.query_by_label(label).is_none() {
            assert!(started.elapsed() < Duration::from_secs(30), "\"{label}\" never showed");
            std::thread::sleep(Duration::from_millis(10));
            harness.step();
        }
    }

    fn million_rows() -> Value {
        let n = 1_000_000u32;
        let ids: Vec<u32> = (0..n).collect();
        let x: Vec<Option<f64>> = (0..n).map(|i| (i % 10 != 3).then(|| f64::from(i) * 0.5)).collect();
        let city: Vec<&str> = (0..n).map(|i| ["Cherbourg", "Queenstown", "Southampton"][(i % 3) as usize]).collect();
        let frame = df!("id" => ids, "x" => x, "city" => city).expect("frame");
        let mut table = Table::new(frame);
        table.roles.insert("city".into(), Role::Label);
        Value::Table(Arc::new(table))
    }

    #[test]
    fn a_streamed_table_pages_through_its_rows_read_off_the_ui_thread() {
        let ids: Vec<i64> = (100_000..102_500).collect();
        let frame = df!("id" => ids).expect("frame");
        let source = pipewright_engine::FrameBatches::new(frame, 300);
        let stream = pipewright_engine::TableStream::new(Arc::new(source));
        let mut harness = harness(Value::Stream(Arc::new(stream)));
        step_until(&mut harness, "100005");
        harness.get_by_label_contains("Rows 1–1,000 of about 2,500");
        harness.get_by_label("Next ▶").click();
        step_until(&mut harness, "101005");
        harness.get_by_label_contains("Rows 1,001–2,000 of about 2,500");
        harness.get_by_label("1006");
        assert!(harness.query_by_label("100005").is_none(), "the first page is gone");
        harness.get_by_label("Next ▶").click();
        step_until(&mut harness, "102005");
        harness.get_by_label_contains("Rows 2,001–2,500 of about 2,500");
        harness.get_by_label("◀ Previous").click();
        step_until(&mut harness, "101005");
        // The profile says it is of the page, not of the table.
        harness.get_by_label("Profile").click();
        harness.run_steps(2);
        harness.get_by_label_contains("a sample of the table");
    }

    #[test]
    fn a_million_rows_draw_only_the_rows_in_view() {
        let mut harness = harness(million_rows());
        harness.run_steps(2);
        harness.get_by_label("1,000,000 rows × 3 columns");
        harness.get_by_label("city");
        harness.get_by_label("str · label");
        // Row 4 (id 3) has a missing x, drawn as a dash; the first rows show, the last do not exist yet.
        assert!(harness.query_all_by_label("Southampton").count() >= 1);
        assert!(harness.query_all_by_label("—").count() >= 1, "a missing value is a dash");
        harness.get_by_label("2.5");
        assert!(harness.query_by_label("1000000").is_none(), "rows out of view are not drawn");
        // Scrolled to the end, the last row shows and the first is gone.
        harness.hover_at(Pos2::new(500.0, 250.0));
        harness.event(Event::MouseWheel {
            unit: MouseWheelUnit::Page,
            delta: vec2(0.0, -1_000_000.0),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
        });
        let started = Instant::now();
        harness.run_steps(3);
        assert!(started.elapsed() < Duration::from_secs(5), "three frames took {:?}", started.elapsed());
        harness.get_by_label("1000000");
        harness.get_by_label("499999.5");
        assert!(harness.query_all_by_label("Cherbourg").count() >= 1);
        assert!(harness.query_by_label("1").is_none(), "the first row scrolled away");
    }

    #[test]
    fn the_profile_tab_computes_in_the_background() {
        let frame = df!("x" => [Some(1.0), Some(2.0), None, Some(4.0), Some(8.0)], "city" => ["b", "a", "b", "c", "b"])
            .expect("frame");
        let mut harness = harness(Value::Table(Arc::new(Table::new(frame))));
        harness.run_steps(1);
        harness.get_by_label("Profile").click();
        step_until(&mut harness, "3.75");
        // x: 1 missing of 5, 4 unique, mean 3.75, std 3.095696 (n − 1), min 1, max 8.
        harness.get_by_label("1 (20.0%)");
        harness.get_by_label("3.095696");
        harness.get_by_label("8");
        harness.get_by_label("city");
        harness.get_by_label("Data").click();
        harness.run_steps(2);
        harness.get_by_label("c");
    }

    fn evaluation(source: &str, auc: f64) -> Evaluation {
        let roc = vec![[0.0, 0.0], [0.2, 0.7], [f64::NAN, 0.8], [1.0, 1.0]];
        Evaluation {
            source: source.into(),
            task: Task::BinaryClassification,
            metrics: vec![
                Metric { name: "accuracy".into(), value: 0.8 },
                Metric { name: "roc_auc".into(), value: auc },
            ],
            confusion: Some(ConfusionMatrix {
                classes: vec!["no".into(), "yes".into()],
                counts: vec![vec![90, 10], vec![5, 15]],
            }),
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
                    points: Vec::new(),
                },
            ],
        }
    }

    #[test]
    fn reports_show_both_inputs_side_by_side() {
        let report = Report { evaluations: vec![evaluation("scored", 0.835_021), evaluation("scored_2", 0.791)] };
        let mut harness = harness(Value::Report(Arc::new(report)));
        harness.run_steps(3);
        harness.get_by_label("AUC");
        harness.get_by_label("0.8350");
        harness.get_by_label("0.7910");
        assert_eq!(harness.query_all_by_label("0.8000").count(), 2, "accuracy of both inputs");
        harness.get_by_label("Confusion matrix · scored");
        harness.get_by_label("Confusion matrix · scored_2");
        assert_eq!(harness.query_all_by_label("actual yes, predicted no: 5 (25.0% of actual yes)").count(), 2);
        harness.get_by_label("ROC curve");
        harness.get_by_label("Precision–recall");
        // The ROC charts' legend carries each input's AUC.
        assert!(harness.query_by_label_contains("scored · AUC 0.8350").is_some());
    }

    #[test]
    fn regression_and_clustering_reports_get_their_charts() {
        let residuals = Curve {
            name: "residuals".into(),
            x_label: "predicted".into(),
            y_label: "residual".into(),
            points: vec![[1.0, 0.5], [2.0, -0.25]],
        };
        let regression = Evaluation {
            source: "scored".into(),
            task: Task::Regression,
            metrics: vec![Metric { name: "rmse".into(), value: 0.395 }],
            confusion: None,
            curves: vec![residuals],
        };
        let cluster = |k: usize| Curve {
            name: format!("pca:{k}"),
            x_label: "PC1".into(),
            y_label: "PC2".into(),
            points: vec![[k as f64, 1.0]],
        };
        let clustering = Evaluation {
            source: "scored_2".into(),
            task: Task::Clustering,
            metrics: vec![Metric { name: "clusters".into(), value: 2.0 }],
            confusion: None,
            curves: vec![cluster(0), cluster(1)],
        };
        let mut harness = harness(Value::Report(Arc::new(Report { evaluations: vec![regression, clustering] })));
        harness.run_steps(3);
        harness.get_by_label("Residuals");
        harness.get_by_label("0.3950");
        harness.get_by_label("2");
        harness.get_by_label("Clusters · scored_2");
        assert!(harness.query_by_label_contains("cluster 1").is_some());
    }

    #[test]
    fn empty_values_do_not_break_the_panel() {
        for value in [
            Value::Table(Arc::new(Table::new(DataFrame::empty()))),
            Value::Table(Arc::new(Table::new(df!("x" => Vec::<f64>::new()).expect("frame")))),
            Value::Report(Arc::new(Report { evaluations: Vec::new() })),
        ] {
            let mut harness = harness(value);
            harness.run_steps(2);
            if let Some(profile) = harness.query_by_label("Profile") {
                profile.click();
                harness.run_steps(2);
            }
        }
    }

    #[test]
    fn models_show_their_facts_and_state() {
        let weights: Vec<f64> = (0..500).map(|i| f64::from(i) / 4.0).collect();
        let model = Model {
            algorithm: pipewright_nodes::model::TwoClassLogisticRegression::ID.into(),
            name: "Two-Class Logistic Regression".into(),
            task: Task::BinaryClassification,
            label: Some("survived".into()),
            features: vec!["age".into(), "fare".into()],
            classes: vec!["0".into(), "1".into()],
            state: json!({ "intercept": -0.5, "weights": weights, "scaler": { "mean": [1.0, 2.0] } }).into(),
            decoded: pipewright_engine::Decoded::default(),
        };
        let mut view = harness(Value::Model(Arc::new(model)));
        view.run_steps(2);
        view.get_by_label("two-class classification");
        view.get_by_label("age, fare");
        view.get_by_label("-0.5");
        view.get_by_label_contains("weights").click();
        view.run_steps(2);
        view.get_by_label("50 of 500 shown");
        view.get_by_label("Show 50 more").click();
        view.run_steps(2);
        view.get_by_label("100 of 500 shown");
        let learner = Learner {
            algorithm: pipewright_nodes::model::KMeansClustering::ID.into(),
            name: "K-Means Clustering".into(),
            tasks: vec![Task::Clustering],
            params: [("k".to_owned(), json!(3))].into_iter().collect(),
        };
        let mut view = harness(Value::Learner(Arc::new(learner)));
        view.run_steps(2);
        view.get_by_label("Hyper-parameters");
        view.get_by_label("clustering");
        view.get_by_label("3");
    }
}
