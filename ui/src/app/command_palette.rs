//! The command palette (Ctrl+Shift+P): every command in a searchable list with its shortcut, and a row for
//! each thing a command can be given by name (a recent workflow, an example, an open tab, a view of the
//! project history). Typing filters, the arrow keys move, Enter runs, Escape closes; commands that cannot run
//! now show greyed with the reason.

use egui::{Align2, Id, Key, Modifiers, RichText};

use super::Designer;
use super::command::{AppCommand, CommandState};
use crate::history::HistoryView;
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

/// A row of the palette: a command and the words it is listed and found by.
#[derive(Debug, Clone, PartialEq)]
pub struct PaletteEntry {
    /// What choosing the row runs.
    pub command: AppCommand,
    /// The row's text.
    pub label: String,
    /// The line shown on hover, searched too.
    pub help: String,
}

impl PaletteEntry {
    /// The row of a command without data: its own label and help.
    pub fn of(command: &AppCommand) -> Self {
        Self { command: command.clone(), label: command.label().to_owned(), help: command.help().to_owned() }
    }

    /// The row of a command given something by name ("Open example: Titanic").
    pub fn named(command: AppCommand, label: impl Into<String>, help: impl Into<String>) -> Self {
        Self { command, label: label.into(), help: help.into() }
    }
}

/// How well `query` matches a row: lower is better; `None` when it does not match at all.
/// A label that starts with the query beats one that holds it, which beats a help text that holds it,
/// which beats a label holding the query's letters in order ("svas" finds "Save as…").
fn rank(entry: &PaletteEntry, query: &str) -> Option<usize> {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return Some(0);
    }
    let label = entry.label.to_lowercase();
    if label.starts_with(&query) {
        return Some(0);
    }
    if let Some(at) = label.find(&query) {
        return Some(1 + at);
    }
    if entry.help.to_lowercase().contains(&query) {
        return Some(100);
    }
    let mut letters = label.chars();
    query.chars().filter(|c| !c.is_whitespace()).all(|q| letters.any(|l| l == q)).then_some(200)
}

/// The rows matching `query`, best first; rows that match equally keep the palette's order.
pub fn matching<'a>(entries: &'a [PaletteEntry], query: &str) -> Vec<&'a PaletteEntry> {
    let mut found: Vec<(usize, &PaletteEntry)> =
        entries.iter().filter_map(|e| rank(e, query).map(|r| (r, e))).collect();
    found.sort_by_key(|(r, _)| *r);
    found.into_iter().map(|(_, e)| e).collect()
}

impl Designer {
    /// The palette's rows: every command without data, then the open tabs, the views of the project
    /// history, the recent workflows and the examples.
    pub(super) fn palette_entries(&self) -> Vec<PaletteEntry> {
        let mut entries: Vec<PaletteEntry> = AppCommand::ALL.iter().map(PaletteEntry::of).collect();
        for (i, tab) in self.tabs.iter().enumerate() {
            let file = tab.document.path().map_or_else(|| "not saved yet".to_owned(), |p| p.display().to_string());
            entries.push(PaletteEntry::named(AppCommand::ShowTab(i), format!("Go to tab: {}", tab.title()), file));
        }
        for (view, name, help) in [
            (HistoryView::Runs, "runs", "Every recorded run of this project, newest first"),
            (HistoryView::Compare, "compare runs", "The ticked runs side by side: parameters and metrics"),
            (HistoryView::Models, "model registry", "The project's registered models, their versions and stages"),
            (
                HistoryView::Monitor,
                "model monitoring",
                "Drift and data quality of what served models saw, window by window",
            ),
        ] {
            entries.push(PaletteEntry::named(AppCommand::ShowHistory(view), format!("Project history: {name}"), help));
        }
        let default = crate::settings::budget_text(pipewright_engine::default_memory_budget() / (1024 * 1024));
        entries.push(PaletteEntry::named(
            AppCommand::SetMemoryBudget(None),
            format!("Memory budget: half of this machine ({default})"),
            AppCommand::SetMemoryBudget(None).help(),
        ));
        for mib in crate::settings::MEMORY_BUDGETS_MIB {
            entries.push(PaletteEntry::named(
                AppCommand::SetMemoryBudget(Some(mib)),
                format!("Memory budget: {}", crate::settings::budget_text(mib)),
                AppCommand::SetMemoryBudget(None).help(),
            ));
        }
        for path in &self.settings.recent {
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            entries.push(PaletteEntry::named(
                AppCommand::Open(path.clone()),
                format!("Open recent: {name}"),
                path.display().to_string(),
            ));
        }
        for example in &self.examples {
            entries.push(PaletteEntry::named(
                AppCommand::Open(example.path.clone()),
                format!("Open example: {}", example.name),
                example.description.clone(),
            ));
        }
        entries
    }
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

    /// Draws the palette (when open) listing `entries`; the command chosen goes into `queue`.
    pub fn palette_ui(
        &mut self,
        ctx: &egui::Context,
        state: &CommandState,
        entries: &[PaletteEntry],
        queue: &mut Vec<AppCommand>,
    ) {
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
        let found = matching(entries, &self.query);
        if down {
            self.highlighted = (self.highlighted + 1).min(found.len().saturating_sub(1));
        }
        if up {
            self.highlighted = self.highlighted.saturating_sub(1);
        }
        let mut chosen = None;
        if enter && let Some(entry) = found.get(self.highlighted) {
            chosen = Some(&entry.command);
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
                        for (i, entry) in found.iter().enumerate() {
                            let highlighted = i == self.highlighted;
                            let response = row_ui(ui, entry, state, highlighted, row_height, dark);
                            if highlighted && (down || up) {
                                response.scroll_to_me(None);
                            }
                            if response.clicked() {
                                chosen = Some(&entry.command);
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

/// One row: its label (greyed with the reason when it cannot run now) and its shortcut on the right.
fn row_ui(
    ui: &mut egui::Ui,
    entry: &PaletteEntry,
    state: &CommandState,
    highlighted: bool,
    height: f32,
    dark: bool,
) -> egui::Response {
    let command = &entry.command;
    let enabled = command.enabled(state);
    let weak = theme::weak_text(dark);
    let mut label = RichText::new(entry.label.as_str());
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
    let response = ui.add(button).on_hover_text(entry.help.as_str());
    if enabled.is_err() { response.on_hover_cursor(egui::CursorIcon::NotAllowed) } else { response }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(entries: &[PaletteEntry], query: &str) -> Option<AppCommand> {
        matching(entries, query).first().map(|e| e.command.clone())
    }

    #[test]
    fn the_palette_lists_every_command_and_filters_by_label_help_and_letters() {
        let entries: Vec<PaletteEntry> = AppCommand::ALL.iter().map(PaletteEntry::of).collect();
        assert_eq!(matching(&entries, "").len(), AppCommand::ALL.len(), "every command with nothing typed");
        for entry in &entries {
            assert!(matching(&entries, &entry.label).contains(&entry), "{entry:?} is found by its label");
            assert!(
                matching(&entries, &entry.label.to_uppercase()).contains(&entry),
                "{entry:?}: the search ignores case"
            );
        }
        assert_eq!(first(&entries, "save"), Some(AppCommand::Save), "a label starting with the query first");
        assert_eq!(first(&entries, "history"), Some(AppCommand::ToggleHistory), "found by its help text");
        assert_eq!(first(&entries, "svas"), Some(AppCommand::SaveAs), "letters in order");
        assert!(matching(&entries, "zzzz").is_empty());
    }

    #[test]
    fn commands_given_something_by_name_are_found_by_that_name_and_what_it_holds() {
        let titanic = std::path::PathBuf::from("/projects/titanic/titanic.flow.json");
        let entries = vec![
            PaletteEntry::of(&AppCommand::Save),
            PaletteEntry::named(AppCommand::Open(titanic.clone()), "Open example: Titanic", "Who survived"),
            PaletteEntry::named(AppCommand::ShowTab(1), "Go to tab: churn", "/projects/churn.flow.json"),
        ];
        assert_eq!(first(&entries, "titanic"), Some(AppCommand::Open(titanic)), "by the example's name");
        assert_eq!(first(&entries, "survived").map(|c| c.label()), Some("Open file"), "by what it holds");
        assert_eq!(first(&entries, "churn"), Some(AppCommand::ShowTab(1)));
    }
}
