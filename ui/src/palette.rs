//! The palette: every block kind by category, filtered by a search box; blocks are dragged onto the canvas
//! (or double-clicked to add at the centre of the view).

use egui::{Id, RichText, Ui};
use pipewright_engine::{Catalog, Category, NodeSpec};

use crate::theme;

/// What is dragged from the palette: a block kind id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaletteDrag(pub String);

/// Palette state.
#[derive(Debug, Default)]
pub struct Palette {
    /// The search text.
    pub query: String,
    /// Put the keyboard focus in the search box on the next frame (Ctrl+F).
    pub focus_search: bool,
}

/// Whether `spec` matches a search: every word appears in its name, category or description.
pub fn matches(spec: &NodeSpec, query: &str) -> bool {
    let haystack = format!("{} {} {}", spec.name, spec.category.label(), spec.description).to_lowercase();
    query.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

/// Block kinds matching `query`, best first: name matches before description matches.
pub fn search<'a>(catalog: &'a Catalog, query: &str) -> Vec<&'a NodeSpec> {
    let mut found: Vec<&NodeSpec> = catalog.entries().map(|e| e.spec.as_ref()).filter(|s| matches(s, query)).collect();
    let q = query.trim().to_lowercase();
    found.sort_by_key(|s| (!s.name.to_lowercase().contains(&q), s.category, s.name));
    found
}

impl Palette {
    /// Draws the palette. Returns a kind to add at the centre of the view (double-click).
    pub fn palette_ui(&mut self, ui: &mut Ui, catalog: &Catalog) -> Option<String> {
        let mut add = None;
        ui.add_space(theme::SPACE_S);
        let search = ui.add(
            egui::TextEdit::singleline(&mut self.query)
                .hint_text("🔍 Search blocks (Ctrl+F)")
                .desired_width(f32::INFINITY),
        );
        if std::mem::take(&mut self.focus_search) {
            search.request_focus();
        }
        ui.add_space(theme::SPACE_S);
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            let searching = !self.query.trim().is_empty();
            for category in Category::ALL {
                let specs: Vec<&NodeSpec> = catalog
                    .entries()
                    .map(|e| e.spec.as_ref())
                    .filter(|s| s.category == category && matches(s, &self.query))
                    .collect();
                if specs.is_empty() {
                    continue;
                }
                let header = RichText::new(format!("{}  {}", theme::category_icon(category), category.label()))
                    .color(theme::category_color(category))
                    .strong();
                egui::CollapsingHeader::new(header)
                    .id_salt(("palette", category.label()))
                    .default_open(true)
                    .open(searching.then_some(true))
                    .show(ui, |ui| {
                        for spec in specs {
                            if block_ui(ui, spec) {
                                add = Some(spec.id.to_owned());
                            }
                        }
                    });
            }
            if catalog.entries().all(|e| !matches(&e.spec, &self.query)) {
                ui.label(RichText::new("No block matches the search.").color(theme::weak_text(ui.visuals().dark_mode)));
            }
        });
        add
    }
}

/// One palette entry; a drag source. Returns true when double-clicked.
fn block_ui(ui: &mut Ui, spec: &NodeSpec) -> bool {
    let id = Id::new(("palette-block", spec.id));
    let response = ui
        .dnd_drag_source(id, PaletteDrag(spec.id.to_owned()), |ui| {
            ui.horizontal(|ui| {
                let (dot, _) = ui.allocate_exact_size(egui::vec2(6.0, 16.0), egui::Sense::hover());
                ui.painter().rect_filled(dot, 2.0, theme::category_color(spec.category));
                ui.label(spec.name);
            });
        })
        .response;
    let response = response.on_hover_ui(|ui| {
        ui.set_max_width(320.0);
        ui.label(RichText::new(spec.name).strong());
        ui.label(spec.description);
    });
    response.double_clicked()
}
