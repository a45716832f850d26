//! The Pipewright designer (egui): start page, palette, canvas, inspector, output viewers. It drives the
//! engine through commands and events and never computes while drawing: runs happen on worker threads
//! and report back through engine events.
//!
//! State is split in two: the [`Document`] (the workflow and its undo history, changed only by
//! [`Command`]s applied in one place) and the runtime (runs, results, view state) beside it.

mod app;
mod canvas;
mod command;
mod comments;
mod document;
mod inspector;
pub mod output;
mod palette;
mod runtime;
mod settings;
mod start;
pub mod theme;

use std::path::PathBuf;
use std::sync::Arc;

pub use app::{Designer, DesignerPaths, Tab, new_node};
pub use canvas::{headline, node_rect, pin_rect};
pub use command::Command;
pub use document::{CommandError, Document, check_wire, fresh_id};
pub use palette::{PaletteDrag, search as search_blocks};
pub use runtime::{Phase, Runtime};
pub use settings::{Settings, default_config_dir};
pub use start::{Example, find_examples};

use pipewright_engine::Catalog;

/// Opens the designer window and returns when it is closed. `open` are workflow files to open at start.
pub fn run_designer(catalog: Catalog, paths: DesignerPaths, open: &[PathBuf]) -> Result<(), eframe::Error> {
    let started = std::time::Instant::now();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Pipewright")
            .with_app_id("pipewright")
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([800.0, 500.0]),
        ..Default::default()
    };
    let open = open.to_vec();
    eframe::run_native(
        "Pipewright",
        options,
        Box::new(move |_creation| {
            let mut designer = Designer::new(Arc::new(catalog), paths);
            for path in &open {
                designer.open(path);
            }
            if std::env::var_os("PIPEWRIGHT_REPORT_STARTUP").is_some() {
                eprintln!("designer ready after {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(Box::new(designer))
        }),
    )
}
