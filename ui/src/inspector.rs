//! The inspector: the selected node's parameters as a form generated from its spec, its description,
//! ports, validation problems and last error. Every edit becomes a [`Command`].

use std::path::Path;

use egui::{RichText, Ui};
use serde_json::{Value as Json, json};

use pipewright_engine::{Catalog, Comment, Node, NodeSpec, ParamKind, ParamSpec, PortRef, Workflow};

use crate::command::Command;
use crate::runtime::{Phase, Runtime, format_duration};
use crate::theme;

/// What the inspector shows.
pub struct Inspected<'a> {
    /// Block kinds.
    pub catalog: &'a Catalog,
    /// The workflow.
    pub workflow: &'a Workflow,
    /// Run states, problems and schemas.
    pub runtime: &'a Runtime,
    /// Folder relative file paths resolve against.
    pub base_dir: &'a Path,
}

/// Draws the inspector for `node` and pushes the user's edits onto `commands`.
pub fn node_ui(ui: &mut Ui, ctx: &Inspected<'_>, node: &Node, commands: &mut Vec<Command>) {
    let dark = ui.visuals().dark_mode;
    let Some(entry) = ctx.catalog.get(&node.kind) else {
        ui.heading(&node.kind);
        ui.colored_label(
            theme::error(dark),
            format!("\"{}\" is not a block kind this version knows; it is kept as it is in the file.", node.kind),
        );
        return;
    };
    let spec = entry.spec.as_ref();
    ui.horizontal(|ui| {
        ui.label(RichText::new(theme::category_icon(spec.category)).color(theme::category_color(spec.category)));
        ui.heading(spec.name);
    });
    ui.label(RichText::new(format!("{} · id {}", spec.category.label(), node.id)).color(theme::weak_text(dark)));
    let mut title = node.title.clone().unwrap_or_default();
    ui.horizontal(|ui| {
        ui.label("Title");
        if ui.add(egui::TextEdit::singleline(&mut title).hint_text(spec.name).desired_width(f32::INFINITY)).changed() {
            commands.push(Command::SetTitle { node: node.id.clone(), title: Some(title.clone()) });
        }
    });
    status_ui(ui, ctx.runtime, &node.id, dark);
    ui.separator();
    if spec.params.is_empty() {
        ui.label(RichText::new("This block has no parameters.").color(theme::weak_text(dark)));
    }
    egui::Grid::new(("params", &node.id)).num_columns(2).spacing([theme::SPACE_M, theme::SPACE_M]).striped(false).show(
        ui,
        |ui| {
            for param in &spec.params {
                let label = ui.label(param.label);
                label.on_hover_text(param.help);
                if let Some(value) = param_ui(ui, ctx, node, spec, param) {
                    commands.push(Command::SetParam { node: node.id.clone(), param: param.name.to_owned(), value });
                }
                ui.end_row();
            }
        },
    );
    ui.add_space(theme::SPACE_M);
    egui::CollapsingHeader::new("Description").default_open(true).show(ui, |ui| {
        ui.label(spec.description);
    });
    egui::CollapsingHeader::new("Ports").default_open(false).show(ui, |ui| {
        for (direction, ports) in [("in", &spec.inputs), ("out", &spec.outputs)] {
            for port in ports {
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(theme::port_icon(port.ty)).color(theme::port_color(port.ty)));
                    ui.label(RichText::new(format!("{direction} · {}", port.name)).strong());
                    ui.label(RichText::new(port.ty.label()).color(theme::weak_text(dark)));
                    if !port.required && direction == "in" {
                        ui.label(RichText::new("optional").color(theme::weak_text(dark)));
                    }
                });
                ui.label(RichText::new(port.tooltip).color(theme::weak_text(dark)));
            }
        }
    });
}

fn status_ui(ui: &mut Ui, runtime: &Runtime, node: &str, dark: bool) {
    let phase = runtime.phase(node);
    match &phase {
        Phase::Failed(message) => {
            ui.colored_label(theme::error(dark), RichText::new("Last run failed").strong());
            ui.colored_label(theme::error(dark), message);
        }
        Phase::Skipped(message) => {
            ui.colored_label(theme::warning(dark), format!("Skipped: {message}"));
        }
        Phase::Done { duration, device } => {
            let on = device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
            ui.colored_label(theme::success(dark), format!("Done in {}{on}", format_duration(*duration)));
        }
        other => {
            ui.label(RichText::new(other.label()).color(theme::weak_text(dark)));
        }
    }
    for problem in runtime.problems_of(node) {
        ui.colored_label(theme::warning(dark), format!("⚠ {}", problem.message));
    }
}

fn current(node: &Node, param: &ParamSpec) -> Json {
    node.params.get(param.name).cloned().unwrap_or_else(|| param.default.clone())
}

/// Columns offered for a column parameter: those of the table the last run put on the wire (blocks such
/// as Convert to Indicator Values make columns only data can tell), else the schema propagated before
/// running, if known.
fn columns_of(ctx: &Inspected<'_>, node: &Node, port: &str) -> Option<Vec<String>> {
    let edge = ctx.workflow.edge_into(&node.id, port)?;
    let upstream = ctx.workflow.node(&edge.from.node)?;
    let ran = ctx.catalog.get(&upstream.kind).and_then(|entry| {
        let (index, _) = entry.spec.output_port(&edge.from.port)?;
        if ctx.runtime.is_outdated(&upstream.id) {
            return None;
        }
        match ctx.runtime.outputs(&upstream.id)?.get(index)? {
            pipewright_engine::Value::Table(table) => {
                Some(table.frame.get_column_names().iter().map(ToString::to_string).collect::<Vec<_>>())
            }
            _ => None,
        }
    });
    ran.or_else(|| {
        let schemas = &ctx.runtime.analysis()?.schemas;
        let schema = schemas.get(&PortRef { node: edge.from.node.clone(), port: edge.from.port.clone() })?;
        Some(schema.columns.iter().map(|c| c.name.clone()).collect())
    })
}

/// One parameter's editor; returns the new value when the user changed it.
fn param_ui(ui: &mut Ui, ctx: &Inspected<'_>, node: &Node, spec: &NodeSpec, param: &ParamSpec) -> Option<Json> {
    let value = current(node, param);
    let id = egui::Id::new(("param", &node.id, param.name));
    let _ = spec;
    match &param.kind {
        ParamKind::Integer { min, max } => {
            let mut v = value.as_i64().unwrap_or(*min);
            let response = ui.add(egui::DragValue::new(&mut v).range(*min..=*max).speed(0.25));
            response.changed().then(|| json!(v))
        }
        ParamKind::Float { min, max } => {
            let mut v = value.as_f64().unwrap_or(*min);
            let speed = ((max - min).abs() / 1000.0).clamp(1e-4, 1.0);
            let response = ui.add(egui::DragValue::new(&mut v).range(*min..=*max).speed(speed).max_decimals(6));
            response.changed().then(|| json!(v))
        }
        ParamKind::Bool => {
            let mut v = value.as_bool().unwrap_or(false);
            ui.checkbox(&mut v, "").changed().then(|| json!(v))
        }
        ParamKind::Choice { choices } => {
            let selected = value.as_str().unwrap_or_default().to_owned();
            let mut chosen = None;
            egui::ComboBox::from_id_salt(id).selected_text(&selected).show_ui(ui, |ui| {
                for choice in choices {
                    if ui.selectable_label(selected == *choice, *choice).clicked() && selected != *choice {
                        chosen = Some(json!(choice));
                    }
                }
            });
            chosen
        }
        ParamKind::Text => text_ui(ui, value.as_str().unwrap_or_default(), "").map(Json::from),
        ParamKind::Seed => {
            let text = value.as_u64().map(|s| s.to_string()).unwrap_or_default();
            let edited = text_ui(ui, &text, "derived from the workflow seed")?;
            let trimmed = edited.trim();
            if trimmed.is_empty() { Some(Json::Null) } else { trimmed.parse::<u64>().ok().map(Json::from) }
        }
        ParamKind::Column { port } => {
            let selected = value.as_str().unwrap_or_default().to_owned();
            match columns_of(ctx, node, port) {
                Some(columns) => {
                    let mut chosen = None;
                    egui::ComboBox::from_id_salt(id)
                        .selected_text(if selected.is_empty() { "(choose a column)" } else { &selected })
                        .show_ui(ui, |ui| {
                            if !param.required && ui.selectable_label(selected.is_empty(), "(none)").clicked() {
                                chosen = Some(Json::Null);
                            }
                            for column in &columns {
                                if ui.selectable_label(&selected == column, column).clicked() && &selected != column {
                                    chosen = Some(json!(column));
                                }
                            }
                        });
                    chosen
                }
                None => text_ui(ui, &selected, "connect an input to pick")
                    .map(|t| if t.is_empty() { Json::Null } else { Json::from(t) }),
            }
        }
        ParamKind::ColumnList { port } => column_list_ui(ui, ctx, node, port, &value),
        ParamKind::FilePath { extensions, .. } => {
            let text = value.as_str().unwrap_or_default().to_owned();
            let mut out = None;
            ui.horizontal(|ui| {
                if ui.button("Browse…").clicked()
                    && let Some(path) = pick_file(ctx.base_dir, extensions)
                {
                    out = Some(Json::from(path));
                }
                if let Some(edited) = text_ui(ui, &text, "path to a file") {
                    out = Some(if edited.is_empty() { Json::Null } else { Json::from(edited) });
                }
            });
            out
        }
    }
}

/// A single-line text editor; returns the text when it changed.
fn text_ui(ui: &mut Ui, text: &str, hint: &str) -> Option<String> {
    let mut edited = text.to_owned();
    let response = ui.add(egui::TextEdit::singleline(&mut edited).hint_text(hint).desired_width(f32::INFINITY));
    response.changed().then_some(edited)
}

fn column_list_ui(ui: &mut Ui, ctx: &Inspected<'_>, node: &Node, port: &str, value: &Json) -> Option<Json> {
    let chosen: Vec<String> =
        value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    let Some(columns) = columns_of(ctx, node, port) else {
        return text_ui(ui, &chosen.join(", "), "comma-separated; connect an input to pick").map(|t| {
            Json::from(t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Json::from).collect::<Vec<_>>())
        });
    };
    let summary = if chosen.is_empty() { "all that apply".to_owned() } else { format!("{} chosen", chosen.len()) };
    let mut out = None;
    ui.vertical(|ui| {
        egui::CollapsingHeader::new(summary).id_salt(("columns", &node.id, port)).show(ui, |ui| {
            egui::ScrollArea::vertical().max_height(180.0).show(ui, |ui| {
                for column in &columns {
                    let mut on = chosen.contains(column);
                    if ui.checkbox(&mut on, column).changed() {
                        let next: Vec<Json> = columns
                            .iter()
                            .filter(|c| if *c == column { on } else { chosen.contains(c) })
                            .map(|c| Json::from(c.as_str()))
                            .collect();
                        out = Some(Json::from(next));
                    }
                }
            });
            if !chosen.is_empty() && ui.small_button("Clear (use all)").clicked() {
                out = Some(Json::Null);
            }
        });
    });
    out
}

/// Opens the native file dialog; the answer is relative to `base_dir` when it lies inside it.
fn pick_file(base_dir: &Path, extensions: &[&str]) -> Option<String> {
    let mut dialog = rfd::FileDialog::new().set_directory(base_dir);
    if !extensions.is_empty() {
        dialog = dialog.add_filter("Data files", extensions);
    }
    let path = dialog.pick_file()?;
    let shown = path.strip_prefix(base_dir).map_or_else(|_| path.clone(), Path::to_path_buf);
    Some(shown.to_string_lossy().into_owned())
}

/// Draws the inspector for a comment frame.
pub fn comment_ui(ui: &mut Ui, comment: &Comment, commands: &mut Vec<Command>) {
    ui.heading("Comment");
    let mut edited = comment.clone();
    let mut changed = false;
    ui.label("Title");
    changed |= ui.add(egui::TextEdit::singleline(&mut edited.title).desired_width(f32::INFINITY)).changed();
    ui.label("Text");
    changed |=
        ui.add(egui::TextEdit::multiline(&mut edited.text).desired_rows(3).desired_width(f32::INFINITY)).changed();
    ui.label("Colour");
    ui.horizontal(|ui| {
        for color in crate::comments::PALETTE {
            let fill = egui::Color32::from_rgb(color[0], color[1], color[2]);
            let (rect, response) = ui.allocate_exact_size(egui::vec2(20.0, 20.0), egui::Sense::click());
            ui.painter().rect_filled(rect, 4.0, fill);
            if edited.color == color {
                ui.painter().rect_stroke(
                    rect,
                    4.0,
                    egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
                    egui::StrokeKind::Outside,
                );
            }
            if response.clicked() {
                edited.color = color;
                changed = true;
            }
        }
    });
    ui.label(
        RichText::new(format!("Holds {} node(s).", comment.nodes.len()))
            .color(theme::weak_text(ui.visuals().dark_mode)),
    );
    if changed {
        commands.push(Command::PutComment(edited));
    }
    if ui.button("Delete comment").clicked() {
        commands.push(Command::RemoveComment(comment.id.clone()));
    }
}

/// The workflow's own settings when nothing is selected.
pub fn workflow_ui(ui: &mut Ui, workflow: &Workflow, runtime: &Runtime, commands: &mut Vec<Command>) {
    let dark = ui.visuals().dark_mode;
    ui.heading("Workflow");
    let mut name = workflow.name.clone();
    ui.label("Name");
    if ui.add(egui::TextEdit::singleline(&mut name).desired_width(f32::INFINITY)).changed() {
        commands.push(Command::Rename(name));
    }
    ui.label("Seed");
    let mut seed = workflow.seed;
    if ui.add(egui::DragValue::new(&mut seed)).on_hover_text("Seeds of every random block derive from it.").changed() {
        commands.push(Command::SetSeed(seed));
    }
    ui.add_space(theme::SPACE_M);
    ui.label(
        RichText::new(format!("{} blocks, {} wires", workflow.nodes.len(), workflow.edges.len()))
            .color(theme::weak_text(dark)),
    );
    let problems = runtime.problems();
    if problems.is_empty() {
        ui.colored_label(theme::success(dark), "✔ No problems found");
    } else {
        ui.colored_label(theme::warning(dark), format!("⚠ {} problem(s):", problems.len()));
        for problem in problems {
            ui.label(problem.to_string());
        }
    }
    ui.add_space(theme::SPACE_M);
    ui.label(RichText::new("Select a block to see its parameters.").color(theme::weak_text(dark)));
}
