//! Keyboard shortcuts: read from the command list, never from a table of their own. The clipboard keys
//! arrive as copy, cut and paste events from the window and map to their commands too.

use egui::KeyboardShortcut;

use super::Designer;
use super::command::AppCommand;

/// Every command's shortcuts, the most specific first: egui matches Ctrl+S when Ctrl+Shift+S is pressed,
/// so Ctrl+Shift+S must be looked for (and consumed) before it.
pub(super) fn shortcuts_by_specificity() -> Vec<(KeyboardShortcut, &'static AppCommand)> {
    let mut shortcuts: Vec<(KeyboardShortcut, &'static AppCommand)> = AppCommand::ALL
        .iter()
        .filter(|command| !command.is_clipboard())
        .flat_map(|command| command.shortcuts().iter().map(move |shortcut| (*shortcut, command)))
        .collect();
    shortcuts.sort_by_key(|(shortcut, _)| {
        let m = shortcut.modifiers;
        std::cmp::Reverse(usize::from(m.alt) + usize::from(m.shift) + usize::from(m.command || m.ctrl || m.mac_cmd))
    });
    shortcuts
}

impl Designer {
    /// Queues the commands whose shortcuts were pressed this frame (those that can run now). While a text
    /// field has the keyboard, only the commands meant to work from anywhere take their keys.
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        let state = self.command_state();
        for (shortcut, command) in shortcuts_by_specificity() {
            if typing && !command.works_while_typing() {
                continue;
            }
            if ctx.input_mut(|i| i.consume_shortcut(&shortcut)) && command.enabled(&state).is_ok() {
                self.push(command.clone());
            }
        }
        if typing || !state.has_tab {
            return;
        }
        let events = ctx.input(|i| i.events.clone());
        for event in events {
            let command = match event {
                egui::Event::Copy => AppCommand::Copy,
                egui::Event::Cut => AppCommand::Cut,
                egui::Event::Paste(text) => AppCommand::PasteText(text),
                _ => continue,
            };
            if command.enabled(&state).is_ok() {
                self.push(command);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use egui::{Key, Modifiers};

    use super::*;

    #[test]
    fn a_shortcut_with_more_modifiers_is_looked_for_before_one_it_contains() {
        let order = shortcuts_by_specificity();
        let position = |shortcut: KeyboardShortcut| order.iter().position(|(s, _)| *s == shortcut);
        let save = position(KeyboardShortcut::new(Modifiers::COMMAND, Key::S)).expect("Save has Ctrl+S");
        let save_as = position(KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::S)).expect("Save as");
        assert!(save_as < save, "Ctrl+Shift+S before Ctrl+S");
        let run = position(KeyboardShortcut::new(Modifiers::NONE, Key::F5)).expect("Run has F5");
        let stop = position(KeyboardShortcut::new(Modifiers::SHIFT, Key::F5)).expect("Stop has Shift+F5");
        assert!(stop < run, "Shift+F5 before F5");
        assert!(order.iter().all(|(_, c)| !c.is_clipboard()), "the clipboard keys come as events");
    }
}
