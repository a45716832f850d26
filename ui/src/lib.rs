//! The Pipewright designer (egui): canvas, palette, inspector, output viewers, run history and the
//! cheat-sheet wizard. It will drive the engine through commands and events and never compute while
//! drawing. This build does not have the window yet; the binary's `gui` feature links this crate.

/// Tells the user that this build has no designer window yet.
pub fn announce() {
    eprintln!("The designer window is not part of this build yet.");
}
