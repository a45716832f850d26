//! The start page: new workflow, open, recent workflows, the example projects and the cheat-sheet wizard.

use std::path::{Path, PathBuf};

use egui::{RichText, Ui};

use pipewright_engine::Workflow;

use crate::app::AppCommand;
use crate::theme;

/// An example project offered on the start page.
#[derive(Debug, Clone)]
pub struct Example {
    /// Its workflow's name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Its workflow file.
    pub path: PathBuf,
}

/// The examples under `projects_dir` (one workflow file per project folder), by name.
pub fn find_examples(projects_dir: &Path) -> Vec<Example> {
    let Ok(entries) = std::fs::read_dir(projects_dir) else { return Vec::new() };
    let mut examples: Vec<Example> = entries
        .filter_map(Result::ok)
        .filter_map(|e| pipewright_engine::find_workflow(&e.path()).ok())
        .filter_map(|path| {
            let workflow = Workflow::load(&path).ok()?;
            Some(Example { name: workflow.name, description: workflow.description, path })
        })
        .collect();
    examples.sort_by(|a, b| a.name.cmp(&b.name));
    examples
}

fn card_ui(ui: &mut Ui, title: &str, subtitle: &str, width: f32) -> egui::Response {
    let dark = ui.visuals().dark_mode;
    let frame = egui::Frame::new()
        .fill(if dark { egui::Color32::from_rgb(0x2a, 0x2e, 0x36) } else { egui::Color32::WHITE })
        .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
        .corner_radius(theme::RADIUS)
        .inner_margin(theme::SPACE_M + 4.0);
    let response = frame
        .show(ui, |ui| {
            ui.set_width(width);
            ui.set_min_height(64.0);
            ui.vertical(|ui| {
                ui.label(RichText::new(title).strong().size(15.0));
                ui.add(egui::Label::new(RichText::new(subtitle).color(theme::weak_text(dark))).wrap());
            });
        })
        .response;
    let response = response.interact(egui::Sense::click()).on_hover_cursor(egui::CursorIcon::PointingHand);
    if response.hovered() {
        ui.painter().rect_stroke(
            response.rect,
            theme::RADIUS,
            egui::Stroke::new(1.5, theme::accent(dark)),
            egui::StrokeKind::Inside,
        );
    }
    response
}

/// Draws the start page; what the user chooses goes into `queue`.
pub fn start_ui(ui: &mut Ui, examples: &[Example], recent: &[PathBuf], queue: &mut Vec<AppCommand>) {
    let dark = ui.visuals().dark_mode;
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.add_space(theme::SPACE_L * 2.0);
        let width = ui.available_width().min(980.0);
        let margin = ((ui.available_width() - width) / 2.0).max(theme::SPACE_L);
        ui.horizontal(|ui| {
            ui.add_space(margin);
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.label(RichText::new("Pipewright").size(30.0).strong());
                ui.label(
                    RichText::new("Design, run and ship machine-learning workflows — no code needed.")
                        .size(15.0)
                        .color(theme::weak_text(dark)),
                );
                ui.add_space(theme::SPACE_L);
                let card = (width - 3.0 * theme::SPACE_M) / 3.0 - 2.0 * (theme::SPACE_M + 4.0);
                ui.horizontal(|ui| {
                    if card_ui(ui, "➕  New workflow", "Start from an empty canvas", card).clicked() {
                        queue.push(AppCommand::NewWorkflow);
                    }
                    if card_ui(ui, "📂  Open file…", "A .flow.json workflow", card).clicked() {
                        queue.push(AppCommand::OpenFile);
                    }
                    if card_ui(ui, "📋  Cheat-sheet wizard…", "Your data and a goal in, a runnable workflow out", card)
                        .clicked()
                    {
                        queue.push(AppCommand::NewFromWizard);
                    }
                });
                ui.add_space(theme::SPACE_L);
                ui.label(RichText::new("Examples").heading());
                ui.add_space(theme::SPACE_S);
                if examples.is_empty() {
                    ui.label(
                        RichText::new("No example projects were found next to this program.")
                            .color(theme::weak_text(dark)),
                    );
                }
                let columns = 2;
                let example_width = (width - theme::SPACE_M) / columns as f32 - 2.0 * (theme::SPACE_M + 4.0);
                for row in examples.chunks(columns) {
                    ui.horizontal(|ui| {
                        for example in row {
                            if card_ui(ui, &format!("▶  {}", example.name), &example.description, example_width)
                                .on_hover_text(example.path.display().to_string())
                                .clicked()
                            {
                                queue.push(AppCommand::Open(example.path.clone()));
                            }
                        }
                    });
                }
                ui.add_space(theme::SPACE_L);
                ui.label(RichText::new("Recent").heading());
                ui.add_space(theme::SPACE_S);
                if recent.is_empty() {
                    ui.label(RichText::new("Workflows you open or save appear here.").color(theme::weak_text(dark)));
                }
                for path in recent {
                    let name = path
                        .file_name()
                        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
                    ui.horizontal(|ui| {
                        let exists = path.exists();
                        let link = ui.add_enabled(exists, egui::Link::new(name));
                        if link.clicked() {
                            queue.push(AppCommand::Open(path.clone()));
                        }
                        let folder = path.parent().map(|p| p.display().to_string()).unwrap_or_default();
                        ui.label(
                            RichText::new(if exists { folder } else { format!("{folder} (missing)") })
                                .color(theme::weak_text(dark)),
                        );
                    });
                }
            });
        });
    });
}
