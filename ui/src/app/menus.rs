//! The top bar (menus, run controls, device, tab strip) and the status bar. Every entry pushes an
//! [`AppCommand`]; the menus list the commands with their shortcuts and say why one cannot run now.

use egui::{RichText, Ui};

use super::Designer;
use super::command::{AppCommand, CommandState};
use crate::history::HistoryView;
use crate::runtime::format_duration;
use crate::theme;

impl Designer {
    pub(super) fn top_bar_ui(&mut self, ui: &mut Ui, state: &CommandState) {
        egui::Panel::top("top-bar").show(ui, |ui| {
            ui.add_space(2.0);
            egui::MenuBar::new().ui(ui, |ui| {
                self.menus_ui(ui, state);
                ui.separator();
                self.run_controls_ui(ui, state);
            });
            ui.add_space(2.0);
            self.tab_strip_ui(ui);
        });
    }

    fn menus_ui(&mut self, ui: &mut Ui, state: &CommandState) {
        let queue = &mut self.queue;
        ui.menu_button("File", |ui| {
            for command in [
                AppCommand::NewWorkflow,
                AppCommand::NewFromWizard,
                AppCommand::OpenFile,
                AppCommand::DeployModelPackage,
                AppCommand::ExportJob,
            ] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.menu_button("Open recent", |ui| {
                if self.settings.recent.is_empty() {
                    ui.label(RichText::new("Workflows you open or save appear here.").weak());
                }
                for path in &self.settings.recent {
                    if ui.button(path.display().to_string()).clicked() {
                        queue.push(AppCommand::Open(path.clone()));
                        ui.close();
                    }
                }
            });
            ui.separator();
            for command in [AppCommand::Save, AppCommand::SaveAs, AppCommand::CloseTab] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.separator();
            AppCommand::ShowStartPage.menu_item_ui(ui, state, queue);
            AppCommand::Quit.menu_item_ui(ui, state, queue);
        });
        ui.menu_button("Edit", |ui| {
            AppCommand::Undo.menu_item_ui(ui, state, queue);
            AppCommand::Redo.menu_item_ui(ui, state, queue);
            ui.separator();
            for command in [
                AppCommand::Cut,
                AppCommand::Copy,
                AppCommand::Paste,
                AppCommand::Duplicate,
                AppCommand::Delete,
                AppCommand::SelectAll,
            ] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.separator();
            for command in [AppCommand::AddComment, AppCommand::QuickAdd, AppCommand::FindBlock] {
                command.menu_item_ui(ui, state, queue);
            }
        });
        ui.menu_button("View", |ui| {
            for command in [AppCommand::CommandPalette, AppCommand::ToggleHistory, AppCommand::FitToView] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.separator();
            let dark = self.settings.theme.is_dark();
            let theme = if dark { "☀ Light theme" } else { "🌙 Dark theme" };
            if ui.button(theme).on_hover_text(AppCommand::ToggleTheme.help()).clicked() {
                queue.push(AppCommand::ToggleTheme);
            }
            ui.horizontal(|ui| {
                ui.label("Scale");
                for (zoom, command) in
                    [(1.0_f32, AppCommand::Scale100), (1.25, AppCommand::Scale125), (1.5, AppCommand::Scale150)]
                {
                    let current = (self.settings.zoom - zoom).abs() < 0.01;
                    if ui.selectable_label(current, format!("{:.0}%", zoom * 100.0)).clicked() {
                        queue.push(command);
                    }
                }
            });
        });
        ui.menu_button("Run", |ui| {
            for command in [AppCommand::Run, AppCommand::RunToSelected, AppCommand::Stop] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.separator();
            for command in [AppCommand::PackageModel, AppCommand::DeploySelectedPackage, AppCommand::RegisterModel] {
                command.menu_item_ui(ui, state, queue);
            }
            ui.separator();
            memory_budget_menu_ui(ui, self.settings.memory_budget_mib, queue);
        });
    }

    fn run_controls_ui(&mut self, ui: &mut Ui, state: &CommandState) {
        let dark = ui.visuals().dark_mode;
        let run = egui::Button::new(RichText::new("▶ Run").strong().color(theme::text_on(theme::success(dark))))
            .fill(theme::success(dark));
        let controls = [
            (AppCommand::Run, run),
            (AppCommand::RunToSelected, egui::Button::new("⏭ Run to selected")),
            (AppCommand::Stop, egui::Button::new("⏹ Stop")),
        ];
        for (command, button) in controls {
            let hover = match command.shortcut_text(ui.ctx()) {
                Some(shortcut) => format!("{} ({shortcut})", command.help()),
                None => command.help().to_owned(),
            };
            let enabled = command.enabled(state);
            let response = ui.add_enabled(enabled.is_ok(), button).on_hover_text(&hover);
            let response = match enabled {
                Err(why) => response.on_disabled_hover_text(format!("{hover} — {why}")),
                Ok(()) => response,
            };
            if response.clicked() {
                self.queue.push(command);
            }
        }
        ui.separator();
        ui.label("Device");
        let mut device = self.settings.device.clone();
        egui::ComboBox::from_id_salt("device").selected_text(&device).width(70.0).show_ui(ui, |ui| {
            for choice in ["auto", "cpu", "gpu"] {
                ui.selectable_value(&mut device, choice.to_owned(), choice);
            }
        });
        if device != self.settings.device {
            self.queue.push(match device.as_str() {
                "cpu" => AppCommand::DeviceCpu,
                "gpu" => AppCommand::DeviceGpu,
                _ => AppCommand::DeviceAuto,
            });
        }
        let (text, hover) = device_in_use(&self.settings.device, ui.ctx());
        ui.label(RichText::new(text).color(theme::weak_text(dark))).on_hover_text(hover);
    }

    fn tab_strip_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if ui.selectable_label(self.active.is_none(), "🏠 Start").clicked() {
                self.queue.push(AppCommand::ShowStartPage);
            }
            for (i, tab) in self.tabs.iter().enumerate() {
                let label = ui.selectable_label(self.active == Some(i), tab.title());
                let label = match tab.document.path() {
                    Some(path) => label.on_hover_text(path.display().to_string()),
                    None => label.on_hover_text("not saved yet"),
                };
                if label.clicked() {
                    self.queue.push(AppCommand::ShowTab(i));
                }
                if label.middle_clicked() || ui.small_button("×").on_hover_text("Close").clicked() {
                    self.queue.push(AppCommand::CloseTabAt(i));
                }
            }
        });
    }

    pub(super) fn status_bar_ui(&mut self, ui: &mut Ui) {
        egui::Panel::bottom("status-bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                let dark = ui.visuals().dark_mode;
                if let Some(tab) = self.active.and_then(|i| self.tabs.get(i)) {
                    if let Some(run) = tab.runtime.active_run() {
                        ui.spinner();
                        ui.label(format!("Running… {}", format_duration(run.elapsed())));
                    } else if let Some(last) = &tab.runtime.last_run {
                        let (text, color) = if last.cancelled {
                            ("Stopped".to_owned(), theme::warning(dark))
                        } else if last.success {
                            (
                                format!(
                                    "Finished in {} · {} ran, {} from cache",
                                    format_duration(last.duration),
                                    last.ran,
                                    last.cached
                                ),
                                theme::success(dark),
                            )
                        } else {
                            ("Run failed — see the red blocks".to_owned(), theme::error(dark))
                        };
                        ui.colored_label(color, text);
                        match &tab.runtime.last_record {
                            Some(Ok(run))
                                if ui
                                    .link(format!("recorded as run {run}"))
                                    .on_hover_text("Runs and models (Ctrl+H)")
                                    .clicked() =>
                            {
                                self.queue.push(AppCommand::ShowHistory(HistoryView::Runs));
                            }
                            Some(Err(why)) => {
                                ui.colored_label(theme::warning(dark), "not recorded").on_hover_text(why);
                            }
                            _ => {}
                        }
                    }
                    let problems = tab.runtime.problems().len();
                    if problems > 0 {
                        ui.separator();
                        ui.colored_label(theme::warning(dark), format!("⚠ {problems} problem(s)"));
                    }
                }
                if let Some(notice) = &self.notice {
                    ui.separator();
                    let color = if notice.is_error { theme::error(dark) } else { theme::weak_text(dark) };
                    ui.colored_label(color, &notice.text);
                }
            });
        });
    }
}

/// The Run menu's memory budget: half of the machine by default, or one of a few sizes.
fn memory_budget_menu_ui(ui: &mut Ui, chosen: Option<u64>, queue: &mut Vec<AppCommand>) {
    let default = crate::settings::budget_text(pipewright_engine::default_memory_budget() / (1024 * 1024));
    let current = chosen.map_or_else(|| format!("half of this machine ({default})"), crate::settings::budget_text);
    let help = AppCommand::SetMemoryBudget(None).help();
    ui.menu_button(format!("Memory budget: {current}"), |ui| {
        ui.label(RichText::new(help).color(theme::weak_text(ui.visuals().dark_mode)));
        if ui.radio(chosen.is_none(), format!("Half of this machine ({default})")).clicked() {
            queue.push(AppCommand::SetMemoryBudget(None));
            ui.close();
        }
        for mib in crate::settings::MEMORY_BUDGETS_MIB {
            if ui.radio(chosen == Some(mib), crate::settings::budget_text(mib)).clicked() {
                queue.push(AppCommand::SetMemoryBudget(Some(mib)));
                ui.close();
            }
        }
    })
    .response
    .on_hover_text(help);
}

/// The top bar's "in use" text for a device setting, and its tooltip. The adapters are listed once, on a
/// thread of their own (it takes a Vulkan instance), so the first frame does not wait for them.
fn device_in_use(setting: &str, ctx: &egui::Context) -> (String, String) {
    // Filled once compute's own (blocking, cached) lookup has answered on the thread below.
    static ADAPTER: std::sync::OnceLock<Option<&'static pipewright_compute::AdapterInfo>> = std::sync::OnceLock::new();
    static LOOKUP: std::sync::Once = std::sync::Once::new();
    LOOKUP.call_once(|| {
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("pipewright-adapters".into()).spawn(move || {
            let _ = ADAPTER.set(pipewright_compute::preferred_adapter());
            ctx.request_repaint();
        });
        if spawned.is_err() {
            // No thread to look on: look here, once (the first frame waits for it).
            let _ = ADAPTER.set(pipewright_compute::preferred_adapter());
        }
    });
    let threshold = pipewright_compute::AUTO_MIN_ELEMENTS;
    if setting == "cpu" {
        return ("in use: CPU".into(), "Every kernel runs on the CPU (multi-threaded).".into());
    }
    // Until the lookup answers: auto computes on the CPU unless a hardware GPU turns up.
    let Some(adapter) = ADAPTER.get() else {
        let text = if setting == "gpu" { "in use: GPU" } else { "in use: CPU" };
        return (text.into(), "Looking for GPU adapters…".into());
    };
    let adapter = *adapter;
    let hardware = adapter.filter(|a| !a.software);
    match (setting, adapter) {
        ("gpu", Some(a)) => (
            format!("in use: {}", a.name),
            format!(
                "Kernels run on {}{}.",
                a.label(),
                if a.software { ", a software adapter (CPU speed)" } else { "" }
            ),
        ),
        ("gpu", None) => ("no GPU".into(), "No GPU adapter was found: runs on the gpu device are refused.".into()),
        (_, _) => match hardware {
            Some(a) => (
                format!("in use: {} / CPU", a.name),
                format!(
                    "auto: kernels with at least {threshold} cells (rows × columns) run on {}, smaller ones on the CPU.",
                    a.label()
                ),
            ),
            None => ("in use: CPU".into(), "auto: no hardware GPU was found, so every kernel runs on the CPU.".into()),
        },
    }
}
