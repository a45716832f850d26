//! Output viewers (placeholder until the full viewers land; the viewer work replaces this file).

/// State of the output panel.
#[derive(Default)]
pub struct OutputView;

impl OutputView {
    /// Draws `value`.
    pub fn show_ui(&mut self, ui: &mut egui::Ui, value: &pipewright_engine::Value) {
        ui.label(crate::headline(value));
    }
}
