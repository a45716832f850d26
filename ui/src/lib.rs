//! The Pipewright designer (egui): start page, palette, canvas, inspector, output viewers. It drives the
//! engine through commands and events and never computes while drawing: runs happen on worker threads
//! and report back through engine events.
//!
//! State is split in two: the [`Document`] (the workflow and its undo history, changed only by
//! [`Command`]s applied in one place) and the runtime (runs, results, view state) beside it.

mod app;
mod canvas;
mod cluster;
mod command;
mod comments;
mod compare;
mod deploy;
mod document;
mod history;
mod inspector;
pub mod output;
mod palette;
mod runtime;
mod settings;
mod start;
pub mod theme;
mod wizard;

use std::path::PathBuf;
use std::sync::Arc;

pub use app::{Designer, DesignerPaths, SnapshotOf, Tab, new_node};
pub use canvas::{headline, node_rect, pin_rect};
pub use cluster::{ClusterJob, JobView};
pub use command::Command;
pub use comments::title_rect as comment_title_rect;
pub use compare::{Comparison, MetricRow, ParamRow, RunCurve, compare};
pub use document::{CommandError, Document, check_wire, fresh_id};
pub use history::{History, HistoryAction, HistoryView, RegisterForm};
pub use palette::{PaletteDrag, search as search_blocks};
pub use runtime::{Phase, RecordTarget, RunSettings, Runtime};
pub use settings::{Settings, default_config_dir};
pub use start::{Example, find_examples};
pub use wizard::{Step as WizardStep, Wizard, WizardAction};

use pipewright_engine::Catalog;

/// How the designer starts.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// Workflow files or project folders to open.
    pub open: Vec<PathBuf>,
    /// Run the last opened workflow once the window shows.
    pub run: bool,
    /// Select these blocks (so the output panel shows the first one).
    pub select: Vec<String>,
    /// Print the time to the first frame; with `exit_after_first_frame`, close right after it.
    pub report_startup: bool,
    /// Close after the first frame (for startup benchmarks).
    pub exit_after_first_frame: bool,
}

/// Opens the designer window and returns when it is closed.
pub fn run_designer(catalog: Catalog, paths: DesignerPaths, launch: LaunchOptions) -> Result<(), eframe::Error> {
    let launched = std::time::Instant::now();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Pipewright")
            .with_app_id("pipewright")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Pipewright",
        options,
        Box::new(move |_creation| {
            let mut designer = Designer::new(Arc::new(catalog), paths);
            for path in &launch.open {
                designer.open(path);
            }
            if launch.run {
                designer.run_when_shown();
            }
            designer.select(&launch.select);
            if launch.report_startup || launch.exit_after_first_frame {
                designer.report_startup(launched, launch.exit_after_first_frame);
            }
            Ok(Box::new(designer))
        }),
    )
}
