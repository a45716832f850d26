//! The history window's Monitor view: what a served model saw, from the project's capture store, compared
//! with its training profile window by window — the same computation as `pipewright monitor`, recorded in the
//! store. It shows the alerts, the last window column by column (the test, its statistic against the
//! threshold, PSI, data quality) and a chart of the chosen column's statistic over the windows with its
//! threshold, and the model's real metrics once labels arrived.

use egui::{RichText, Ui};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, Points};

use pipewright_deploy::ModelSpec;
use pipewright_deploy::monitor::Window;
use pipewright_store::{Alert, Stage, WindowRecord, format_utc};

use super::History;
use crate::app::AppCommand;
use crate::theme;

/// The Monitor view's state.
pub struct MonitorView {
    /// The model shown.
    pub model: String,
    /// The window, as `pipewright monitor --window` takes it.
    pub window: String,
    /// The column charted.
    pub column: Option<String>,
    /// The version shown and its recorded windows.
    pub windows: Option<(i64, Vec<WindowRecord>)>,
    /// The model's alerts, newest first.
    pub alerts: Vec<Alert>,
}

impl Default for MonitorView {
    fn default() -> Self {
        Self { model: String::new(), window: "1d".into(), column: None, windows: None, alerts: Vec::new() }
    }
}

impl History {
    /// The version the Monitor view follows: the model's production version, else its newest.
    fn monitored_spec(&self) -> Option<ModelSpec> {
        let name = &self.monitor.model;
        let versions: Vec<_> = self.models.iter().filter(|m| &m.name == name).collect();
        let version = versions.iter().find(|m| m.stage == Stage::Production).or_else(|| versions.first())?;
        format!("{name}@{}", version.version).parse().ok()
    }

    /// Reads the recorded windows and alerts of the model shown.
    pub fn load_monitor(&mut self) {
        let (Some(store), Some(spec)) = (&self.store, self.monitored_spec()) else {
            self.monitor.windows = None;
            return;
        };
        let pipewright_deploy::Follow::Version(version) = spec.follow else { return };
        self.monitor.windows = store.monitor_windows(&spec.name, version).ok().map(|w| (version, w));
        self.monitor.alerts = store.alerts(&spec.name).unwrap_or_default();
    }

    /// Computes the model's windows from the capture store and records them, as `pipewright monitor` does.
    pub fn compute_monitor(&mut self) -> AppCommand {
        let (Some(store), Some(project), Some(spec)) = (&self.store, &self.project, self.monitored_spec()) else {
            return AppCommand::notify("choose a registered model to monitor", true);
        };
        let window = match self.monitor.window.parse::<Window>() {
            Ok(window) => window,
            Err(e) => return AppCommand::notify(e, true),
        };
        let capture = pipewright_store::store_path(project).with_file_name("capture");
        let command = match pipewright_deploy::monitor::run(store, &capture, &spec, window, false) {
            Ok(done) => {
                let records: usize = done.windows.iter().map(|w| w.records).sum();
                let alerts =
                    if done.alerts.is_empty() { String::new() } else { format!("; {} alert(s)", done.alerts.len()) };
                AppCommand::notify(
                    format!(
                        "{spec}: {records} records in {} window(s) in {:.2} s{alerts}",
                        done.windows.len(),
                        done.seconds
                    ),
                    !done.alerts.is_empty(),
                )
            }
            Err(e) => AppCommand::notify(e, true),
        };
        self.load_monitor();
        command
    }

    pub(super) fn monitor_ui(&mut self, ui: &mut Ui, queue: &mut Vec<AppCommand>) {
        let dark = ui.visuals().dark_mode;
        let mut names: Vec<String> = self.models.iter().map(|m| m.name.clone()).collect();
        names.dedup();
        if names.is_empty() {
            ui.label("No registered models yet: register one, serve it with capture on (pipewright serve --capture), then monitor it here.");
            return;
        }
        if !names.contains(&self.monitor.model) {
            self.monitor.model.clone_from(&names[0]);
            self.load_monitor();
        }
        ui.horizontal(|ui| {
            ui.label("Model");
            let before = self.monitor.model.clone();
            egui::ComboBox::from_id_salt("monitor-model").selected_text(&self.monitor.model).show_ui(ui, |ui| {
                for name in &names {
                    ui.selectable_value(&mut self.monitor.model, name.clone(), name);
                }
            });
            if self.monitor.model != before {
                self.monitor.column = None;
                self.load_monitor();
            }
            ui.label("Window");
            ui.add(egui::TextEdit::singleline(&mut self.monitor.window).desired_width(60.0))
                .on_hover_text("A number of records (1000) or a span of time (30m, 12h, 1d, 7d)");
            if ui.button("Compute").on_hover_text("Compare the captured requests with the training profile").clicked() {
                queue.push(self.compute_monitor());
            }
        });
        for alert in self.monitor.alerts.iter().take(3) {
            ui.colored_label(theme::warning(dark), format!("⚠ {}  ({})", alert.message, format_utc(alert.raised_at)));
        }
        let Some((version, windows)) = &self.monitor.windows else { return };
        let Some(last) = windows.last() else {
            ui.label(format!("No windows recorded for version {version} yet: serve it with capture on, then Compute."));
            return;
        };
        ui.label(format!(
            "Version {version}: {} window(s); the last, {} to {}: {} records, {:.0}% of the features drifted{}",
            windows.len(),
            format_utc(last.start),
            format_utc(last.end),
            last.records,
            100.0 * last.drift_share,
            if last.dataset_drift { " — the dataset drifted" } else { "" }
        ));
        let chosen = self.last_window_ui(ui, last);
        if chosen.is_some() {
            self.monitor.column = chosen;
        }
        let column = self.monitor.column.clone().or_else(|| last.columns.first().map(|c| c.name.clone()));
        if let (Some(column), Some((_, windows))) = (column, &self.monitor.windows) {
            statistic_chart(ui, &column, windows);
        }
    }

    /// The last window's columns; returns the column clicked.
    fn last_window_ui(&self, ui: &mut Ui, last: &WindowRecord) -> Option<String> {
        let dark = ui.visuals().dark_mode;
        let weak = theme::weak_text(dark);
        let mut chosen = None;
        egui::Grid::new("monitor-columns").striped(true).spacing([theme::SPACE_L, theme::SPACE_S]).show(ui, |ui| {
            for heading in
                ["column", "test", "statistic", "threshold", "drifted", "PSI", "missing", "out of range", "refused"]
            {
                ui.label(RichText::new(heading).color(weak));
            }
            ui.end_row();
            for c in &last.columns {
                let selected = self.monitor.column.as_deref() == Some(c.name.as_str());
                if ui.selectable_label(selected, &c.name).on_hover_text("Chart it over the windows").clicked() {
                    chosen = Some(c.name.clone());
                }
                ui.label(c.method.as_deref().unwrap_or("—"));
                ui.label(c.statistic.map_or(String::new(), |s| format!("{s:.4}")));
                ui.label(c.threshold.map_or(String::new(), |t| t.to_string()));
                if c.drifted {
                    ui.colored_label(theme::error(dark), "drifted");
                } else {
                    ui.colored_label(theme::success(dark), "no");
                }
                ui.label(c.psi.map_or(String::new(), |p| format!("{p:.4}")));
                ui.label(format!("{:.1}%", 100.0 * c.missing_rate));
                ui.label(format!("{:.1}%", 100.0 * c.out_of_range));
                ui.label(c.refused.to_string());
                ui.end_row();
            }
        });
        if !last.metrics.is_empty() {
            let metrics: Vec<String> = last.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
            ui.label(format!("On {} labelled records: {}", last.labelled, metrics.join(", ")));
        }
        chosen
    }
}

/// A column's statistic over the windows, with its threshold.
fn statistic_chart(ui: &mut Ui, column: &str, windows: &[WindowRecord]) {
    let points: Vec<[f64; 2]> = windows
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.columns.iter().find(|c| c.name == column)?.statistic.map(|s| [i as f64 + 1.0, s]))
        .collect();
    let threshold = windows.iter().rev().find_map(|w| w.columns.iter().find(|c| c.name == column)?.threshold);
    let method = windows.iter().rev().find_map(|w| w.columns.iter().find(|c| c.name == column)?.method.clone());
    ui.label(RichText::new(format!("{column}: {} by window", method.as_deref().unwrap_or("statistic"))).strong());
    Plot::new(("monitor-chart", column)).height(180.0).legend(Legend::default()).x_axis_label("window").show(
        ui,
        |plot| {
            // Markers too: a single window is a point, not a line.
            plot.points(
                Points::new(column.to_owned(), PlotPoints::from(points.clone()))
                    .radius(3.5)
                    .color(theme::series_color(0)),
            );
            plot.line(Line::new(column.to_owned(), PlotPoints::from(points)).color(theme::series_color(0)));
            if let Some(t) = threshold {
                plot.hline(HLine::new("threshold", t).color(theme::series_color(1)));
            }
        },
    );
}
