//! The Pipewright designer (egui): start page, palette, canvas, inspector, output viewers. It drives the
//! engine through commands and events and never computes while drawing: runs happen on worker threads
//! and report back through engine events.
//!
//! State is split in two: the [`Document`] (the workflow and its undo history, changed only by
//! [`Command`]s applied in one place) and the runtime (runs, results, view state) beside it. What the user
//! asks the application to do (save, run, copy, export…) is an [`AppCommand`], pushed by menus, shortcuts,
//! the command palette and the windows alike and run by one handler.

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

pub use app::{
    AppCommand, BlockFacts, CommandPalette, CommandState, Designer, DesignerPaths, SnapshotOf, Tab, new_node,
};
pub use canvas::{headline, node_rect, pin_rect};
pub use cluster::{ClusterJob, JobView};
pub use command::Command;
pub use comments::title_rect as comment_title_rect;
pub use compare::{Comparison, MetricRow, ParamRow, RunCurve, compare};
pub use document::{CommandError, Document, check_wire, fresh_id};
pub use history::{History, HistoryView, RegisterForm};
pub use palette::{PaletteDrag, search as search_blocks};
pub use runtime::{Phase, RecordTarget, RunSettings, Runtime};
pub use settings::{Settings, default_config_dir};
pub use start::{Example, find_examples};
pub use wizard::{Step as WizardStep, Wizard};

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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// No source file grows past this many lines: a longer one is split by concern.
    const MAX_LINES: usize = 600;

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the source folder lists").map(|e| e.expect("an entry")) {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn no_source_file_is_over_600_lines() {
        let mut files = Vec::new();
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        assert!(files.len() > 20, "the walk found the sources: {files:?}");
        let long: Vec<String> = files
            .iter()
            .map(|f| (f, std::fs::read_to_string(f).expect("reads").lines().count()))
            .filter(|(_, lines)| *lines > MAX_LINES)
            .map(|(f, lines)| format!("{} has {lines} lines", f.display()))
            .collect();
        assert!(long.is_empty(), "split these by concern: {long:?}");
    }
}
