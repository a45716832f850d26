//! The Pipewright designer (egui): canvas, palette, inspector, output viewers, run history and the
//! cheat-sheet wizard. It drives the engine through commands and events and never computes while
//! drawing. This build has the document layer the window will stand on — the workflow, its file,
//! and the [`Command`]s that are the only way to change it, with undo and redo — but not the window yet.

mod command;
mod document;

pub use command::Command;
pub use document::{CommandError, Document, check_wire, fresh_id};

/// Tells the user that this build has no designer window yet.
pub fn announce() {
    eprintln!("The designer window is not part of this build yet.");
}
