//! The command palette (Ctrl+Shift+P): every command in a searchable list with its shortcut. Typing
//! filters, the arrow keys move, Enter runs, Escape closes; commands that cannot run now show greyed
//! with the reason.

use egui::{Align2, Id, Key, Modifiers, RichText};

use super::command::{AppCommand, CommandState};
use crate::theme;

/// How many rows show at once before the list scrolls.
const VISIBLE_ROWS: f32 = 12.0;

/// The palette's state: open or not, what is typed, which row is highlighted.
#[derive(Debug, Default)]
pub struct CommandPalette {
    open: bool,
    query: String,
    highlighted: usize,
}

/// How well `query` matches a command: lower is better; `None` when it does not match at all.
/// A label that starts with the query beats one that holds it, which beats a help text that holds it,
/// which beats a label holding the query's letters in order ("svas" finds "Save as…").
fn rank(command: &AppCommand, query: &str) -> Option<usize> {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return Some(0);
    }
    let label = command.label().to_lowercase();
    if label.starts_with(&query) {
        return Some(0);
    }
    if let Some(at) = label.find(&query) {
        return Some(1 + at);
    }
    if command.help().to_lowercase().contains(&query) {
        return Some(100);
    }
    let mut letters = label.chars();
    query.chars().filter(|c| !c.is_whitespace()).all(|q| letters.any(|l| l == q)).then_some(200)
}

/// The commands matching `query`, best first; commands that match equally keep the palette's order.
pub fn matching(query: &str) -> Vec<&'static AppCommand> {
    let mut found: Vec<(usize, &'static AppCommand)> =
        AppCommand::ALL.iter().filter_map(|c| rank(c, query).map(|r| (r, c))).collect();
    found.sort_by_key(|(r, _)| *r);
    found.into_iter().map(|(_, c)| c).collect()
}

impl CommandPalette {
    /// Opens it with an empty search, or closes it.
    pub fn toggle(&mut self) {
        self.open = !self.open;
        self.query.clear();
        self.highlighted = 0;
    }

    /// Whether it shows.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Draws the palette (when open); the command chosen goes into `queue`.
    pub fn palette_ui(&mut self, ctx: &egui::Context, state: &CommandState, queue: &mut Vec<AppCommand>) {
        if !self.open {
            return;
        }
        // The keys that steer the list, taken before the search field sees them.
        let (down, up, enter, escape) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::ArrowDown),
                i.consume_key(Modifiers::NONE, Key::ArrowUp),
                i.consume_key(Modifiers::NONE, Key::Enter),
                i.consume_key(Modifiers::NONE, Key::Escape),
            )
        });
        let found = matching(&self.query);
        if down {
            self.highlighted = (self.highlighted + 1).min(found.len().saturating_sub(1));
        }
        if up {
            self.highlighted = self.highlighted.saturating_sub(1);
        }
        let mut chosen = None;
        if enter && let Some(command) = found.get(self.highlighted) {
            chosen = Some(*command);
        }
        let area = egui::Modal::default_area(Id::new("command-palette")).anchor(Align2::CENTER_TOP, [0.0, 72.0]);
        let modal = egui::Modal::new(Id::new("command-palette"))
            .area(area)
            .backdrop_color(egui::Color32::from_black_alpha(60))
            .show(ctx, |ui| {
                let dark = ui.visuals().dark_mode;
                ui.set_width(560.0);
                let field = egui::TextEdit::singleline(&mut self.query)
                    .hint_text("Type a command…")
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Body)
                    .margin(egui::vec2(8.0, 6.0));
                let response = ui.add(field);
                response.request_focus();
                if response.changed() {
                    self.highlighted = 0;
                }
                ui.add_space(theme::SPACE_S);
                if found.is_empty() {
                    ui.label(RichText::new("No command matches.").color(theme::weak_text(dark)));
                }
                let row_height = ui.spacing().interact_size.y + 4.0;
                egui::ScrollArea::vertical().max_height(row_height * VISIBLE_ROWS).auto_shrink([false, true]).show(
                    ui,
                    |ui| {
                        for (i, command) in found.iter().enumerate() {
                            let highlighted = i == self.highlighted;
                            let response = row_ui(ui, command, state, highlighted, row_height, dark);
                            if highlighted && (down || up) {
                                response.scroll_to_me(None);
                            }
                            if response.clicked() {
                                chosen = Some(*command);
                            }
                            if response.hovered() && ui.input(|i| i.pointer.delta() != egui::Vec2::ZERO) {
                                self.highlighted = i;
                            }
                        }
                    },
                );
            });
        let chosen = chosen.filter(|c| c.enabled(state).is_ok());
        if escape || modal.should_close() || chosen.is_some() {
            self.toggle();
        }
        if let Some(command) = chosen {
            queue.push(command.clone());
        }
    }
}

/// One command: its label (greyed with the reason when it cannot run now) and its shortcut on the right.
fn row_ui(
    ui: &mut egui::Ui,
    command: &AppCommand,
    state: &CommandState,
    highlighted: bool,
    height: f32,
    dark: bool,
) -> egui::Response {
    let enabled = command.enabled(state);
    let weak = theme::weak_text(dark);
    let mut label = RichText::new(command.label());
    if enabled.is_err() {
        label = label.color(weak);
    } else if highlighted {
        label = label.color(ui.visuals().strong_text_color());
    }
    let mut button = egui::Button::selectable(highlighted, label).min_size(egui::vec2(ui.available_width(), height));
    let shortcut = command.shortcut_text(ui.ctx());
    match (&enabled, shortcut) {
        (Err(why), _) => button = button.right_text(RichText::new(*why).italics().color(weak)),
        (Ok(()), Some(text)) => button = button.right_text(RichText::new(text).color(weak)),
        (Ok(()), None) => {}
    }
    let response = ui.add(button).on_hover_text(command.help());
    if enabled.is_err() { response.on_hover_cursor(egui::CursorIcon::NotAllowed) } else { response }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_lists_every_command_and_filters_by_label_help_and_letters() {
        assert_eq!(matching("").len(), AppCommand::ALL.len(), "every command with nothing typed");
        for command in AppCommand::ALL {
            assert!(matching(command.label()).contains(&command), "{command:?} is found by its label");
            assert!(
                matching(&command.label().to_uppercase()).contains(&command),
                "{command:?}: the search ignores case"
            );
        }
        assert_eq!(matching("save").first(), Some(&&AppCommand::Save), "a label starting with the query first");
        assert_eq!(matching("history").first(), Some(&&AppCommand::ToggleHistory), "found by its help text");
        assert_eq!(matching("svas").first(), Some(&&AppCommand::SaveAs), "letters in order");
        assert!(matching("zzzz").is_empty());
    }
}
