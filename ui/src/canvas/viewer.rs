//! The [`SnarlViewer`] that draws the workflow's blocks, ports and context menus, and collects what the
//! user did as edits and application commands.

use std::collections::HashMap;

use egui::emath::TSTransform;
use egui::{CornerRadius, Frame, Margin, Painter, Pos2, Rect, Sense, Stroke, Style, Ui, vec2};
use egui_snarl::ui::{SnarlStyle, SnarlViewer};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};
use pipewright_engine::{Catalog, Category, Edge, NodeSpec, PortRef, PortType, Workflow};

use super::pins::{PortPin, pin_id};
use super::summary::{headline, phase_color, sparkline_ui, status_text};
use crate::app::{AppCommand, BlockFacts, CommandState};
use crate::command::Command;
use crate::runtime::{Phase, Runtime};
use crate::theme;

/// Draws the workflow's nodes; collects the user's edits as commands.
pub struct Viewer<'a> {
    /// Block kinds.
    pub catalog: &'a Catalog,
    /// The workflow as it is now.
    pub workflow: &'a Workflow,
    /// Run states and results.
    pub runtime: &'a Runtime,
    /// Edits made this frame.
    pub commands: Vec<Command>,
    /// Application commands chosen in the context menus this frame.
    pub app_commands: Vec<AppCommand>,
    /// The block a context menu command was chosen on: it becomes the selection the command acts on.
    pub select: Option<String>,
    /// What the application commands' enablement is decided from.
    pub state: &'a CommandState,
    /// A wire refused this frame.
    pub refusal: Option<String>,
    /// Replaces the view transform this frame (fit to view).
    pub set_transform: Option<TSTransform>,
    /// The view transform used this frame.
    pub transform: TSTransform,
    /// Whether the dark theme is on.
    pub dark: bool,
    /// Node ids selected in the designer.
    pub selection: &'a [String],
    /// Each node's spec by node id, looked up once per frame rather than per pin.
    pub specs: HashMap<&'a str, (&'a pipewright_engine::Node, Option<&'a NodeSpec>)>,
}

/// The per-frame index of nodes and their specs the viewer reads.
pub fn spec_index<'a>(
    workflow: &'a Workflow,
    catalog: &'a Catalog,
) -> HashMap<&'a str, (&'a pipewright_engine::Node, Option<&'a NodeSpec>)> {
    workflow.nodes.iter().map(|n| (n.id.as_str(), (n, catalog.get(&n.kind).map(|e| e.spec.as_ref())))).collect()
}

impl<'a> Viewer<'a> {
    fn spec(&self, id: &str) -> Option<&'a NodeSpec> {
        self.specs.get(id).and_then(|(_, spec)| *spec)
    }

    fn edge(&self, snarl: &Snarl<String>, from: OutPinId, to: InPinId) -> Option<Edge> {
        let from_id = snarl.get_node(from.node)?;
        let to_id = snarl.get_node(to.node)?;
        let from_port = self.spec(from_id)?.outputs.get(from.output)?.name;
        let to_port = self.spec(to_id)?.inputs.get(to.input)?.name;
        Some(Edge {
            from: PortRef { node: from_id.clone(), port: from_port.to_owned() },
            to: PortRef { node: to_id.clone(), port: to_port.to_owned() },
        })
    }

    fn add_node_menu_ui(&mut self, ui: &mut Ui, at: Pos2) {
        for category in Category::ALL {
            let entries: Vec<&NodeSpec> =
                self.catalog.entries().map(|e| e.spec.as_ref()).filter(|s| s.category == category).collect();
            if entries.is_empty() {
                continue;
            }
            ui.menu_button(format!("{} {}", theme::category_icon(category), category.label()), |ui| {
                for spec in entries {
                    if ui.button(spec.name).on_hover_text(spec.description).clicked() {
                        self.commands.push(Command::AddNode(crate::new_node(self.workflow, spec, [at.x, at.y])));
                        ui.close();
                    }
                }
            });
        }
    }
}

impl Viewer<'_> {
    /// A port's name beside its pin, with its type on hover; the pin it is drawn with.
    fn port_ui(
        &self,
        ui: &mut Ui,
        port: Option<(&String, &pipewright_engine::PortSpec)>,
        connected: bool,
        output: bool,
    ) -> PortPin {
        let Some((node, port)) = port else {
            return PortPin { ty: PortType::Table, connected, missing: false, record: None };
        };
        ui.label(egui::RichText::new(port.name).font(theme::small_font()).color(theme::weak_text(self.dark)))
            .on_hover_text(format!("{} {} — {}", theme::port_icon(port.ty), port.ty.label(), port.tooltip));
        PortPin {
            ty: port.ty,
            connected,
            missing: !output && port.required && !connected,
            record: Some(pin_id(node, port.name, output)),
        }
    }
}

impl SnarlViewer<String> for Viewer<'_> {
    fn title(&mut self, node: &String) -> String {
        self.specs.get(node.as_str()).map_or_else(String::new, |(n, spec)| match (&n.title, spec) {
            (Some(title), _) => title.clone(),
            (None, Some(spec)) => spec.name.to_owned(),
            (None, None) => n.kind.clone(),
        })
    }

    fn node_frame(
        &mut self,
        default: Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<String>,
    ) -> Frame {
        let Some(id) = snarl.get_node(node) else { return default };
        let phase = self.runtime.phase(id);
        let selected = self.selection.contains(id);
        let stroke = match &phase {
            _ if selected => Stroke::new(2.5, theme::accent(self.dark)),
            Phase::Failed(_) => Stroke::new(2.0, theme::error(self.dark)),
            Phase::Running { .. } => Stroke::new(2.0, theme::accent(self.dark)),
            _ if self.spec(id).is_none() || self.runtime.problems_of(id).next().is_some() => {
                Stroke::new(1.5, theme::warning(self.dark))
            }
            _ => default.stroke,
        };
        default.stroke(stroke)
    }

    fn header_frame(
        &mut self,
        default: Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<String>,
    ) -> Frame {
        let color = snarl
            .get_node(node)
            .and_then(|id| self.spec(id))
            .map_or(theme::error(self.dark), |s| theme::category_color(s.category));
        default
            .fill(color)
            .corner_radius(CornerRadius { nw: theme::RADIUS, ne: theme::RADIUS, sw: 0, se: 0 })
            .inner_margin(Margin::symmetric(8, 4))
            .stroke(Stroke::NONE)
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<String>,
    ) {
        let Some(id) = snarl.get_node(node).cloned() else { return };
        let title = self.title(&id);
        let (icon, fill) = self.spec(&id).map_or(("?", theme::error(self.dark)), |s| {
            (theme::category_icon(s.category), theme::category_color(s.category))
        });
        ui.set_min_width(theme::NODE_WIDTH - 16.0);
        ui.label(
            egui::RichText::new(format!("{icon}  {title}")).color(theme::text_on(fill)).font(theme::heading_font()),
        );
    }

    fn inputs(&mut self, node: &String) -> usize {
        self.spec(node).map_or(0, |s| s.inputs.len())
    }

    fn outputs(&mut self, node: &String) -> usize {
        self.spec(node).map_or(0, |s| s.outputs.len())
    }

    #[allow(refining_impl_trait, reason = "the canvas always draws its own pins")]
    fn show_input(&mut self, pin: &InPin, ui: &mut Ui, snarl: &mut Snarl<String>) -> PortPin {
        let spec = snarl.get_node(pin.id.node).and_then(|id| Some((id, self.spec(id)?.inputs.get(pin.id.input)?)));
        self.port_ui(ui, spec, !pin.remotes.is_empty(), false)
    }

    #[allow(refining_impl_trait, reason = "the canvas always draws its own pins")]
    fn show_output(&mut self, pin: &OutPin, ui: &mut Ui, snarl: &mut Snarl<String>) -> PortPin {
        let spec = snarl.get_node(pin.id.node).and_then(|id| Some((id, self.spec(id)?.outputs.get(pin.id.output)?)));
        self.port_ui(ui, spec, !pin.remotes.is_empty(), true)
    }

    fn has_body(&mut self, _node: &String) -> bool {
        false
    }

    fn has_footer(&mut self, _node: &String) -> bool {
        true
    }

    fn show_footer(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<String>,
    ) {
        let Some(id) = snarl.get_node(node).cloned() else { return };
        let phase = self.runtime.phase(&id);
        ui.vertical(|ui| {
            ui.set_min_width(theme::NODE_WIDTH - 16.0);
            ui.horizontal(|ui| {
                let color = phase_color(&phase, self.dark);
                let (dot, _) = ui.allocate_exact_size(vec2(8.0, 8.0), Sense::hover());
                ui.painter().circle_filled(dot.center(), 4.0, color);
                ui.label(egui::RichText::new(status_text(&phase)).font(theme::small_font()).color(color));
            });
            if let Phase::Running { fraction, message } = &phase {
                if let Some(f) = fraction {
                    ui.add(egui::ProgressBar::new(*f).desired_height(4.0).desired_width(theme::NODE_WIDTH - 24.0));
                }
                // Long blocks say how far they are: rows read, rows per second, time left.
                if !message.is_empty() {
                    let text = egui::RichText::new(message.as_str()).font(theme::small_font());
                    ui.add(egui::Label::new(text.color(theme::weak_text(self.dark))).wrap());
                }
            }
            if let Some(outputs) = self.runtime.outputs(&id)
                && let Some(first) = outputs.first()
            {
                let weak = self.runtime.is_outdated(&id);
                let text = egui::RichText::new(headline(first)).font(theme::small_font());
                ui.label(if weak { text.color(theme::weak_text(self.dark)) } else { text });
                sparkline_ui(ui, first, self.dark);
            }
        });
    }

    fn final_node_rect(&mut self, node: NodeId, rect: Rect, ui: &mut Ui, snarl: &mut Snarl<String>) {
        if let Some(id) = snarl.get_node(node) {
            let to_screen = ui.ctx().layer_transform_to_global(ui.layer_id()).unwrap_or_default();
            ui.ctx().data_mut(|d| d.insert_temp(egui::Id::new(("node-rect", id.as_str())), to_screen * rect));
        }
    }

    fn has_on_hover_popup(&mut self, node: &String) -> bool {
        matches!(self.runtime.phase(node), Phase::Failed(_) | Phase::Skipped(_))
            || self.runtime.problems_of(node).next().is_some()
    }

    fn show_on_hover_popup(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<String>,
    ) {
        let Some(id) = snarl.get_node(node).cloned() else { return };
        ui.set_max_width(360.0);
        if let Phase::Failed(message) | Phase::Skipped(message) = self.runtime.phase(&id) {
            ui.colored_label(theme::error(self.dark), message);
        }
        for problem in self.runtime.problems_of(&id) {
            ui.colored_label(theme::warning(self.dark), &problem.message);
        }
    }

    fn has_graph_menu(&mut self, _pos: Pos2, _snarl: &mut Snarl<String>) -> bool {
        true
    }

    fn show_graph_menu(&mut self, pos: Pos2, ui: &mut Ui, _snarl: &mut Snarl<String>) {
        ui.label(egui::RichText::new("Add node").strong());
        let search = AppCommand::QuickAddAt(pos);
        if ui.button(search.label()).on_hover_text(search.help()).clicked() {
            self.app_commands.push(search);
            ui.close();
        }
        ui.separator();
        self.add_node_menu_ui(ui, pos);
        ui.separator();
        for command in [AppCommand::Paste, AppCommand::SelectAll, AppCommand::AddComment, AppCommand::FitToView] {
            command.menu_item_ui(ui, self.state, &mut self.app_commands);
        }
    }

    fn has_node_menu(&mut self, _node: &String) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<String>,
    ) {
        let Some(id) = snarl.get_node(node).cloned() else { return };
        // The commands act on the selection, which becomes this block when one is chosen.
        let state = CommandState {
            selected_blocks: 1,
            selected_comment: false,
            selected: Some(BlockFacts::of(self.catalog, self.workflow, self.runtime, &id)),
            ..self.state.clone()
        };
        let chosen = self.app_commands.len();
        AppCommand::RunToSelected.menu_item_ui(ui, &state, &mut self.app_commands);
        // The block's own actions show only on the blocks that have them.
        for command in [AppCommand::PackageModel, AppCommand::DeploySelectedPackage, AppCommand::RegisterModel] {
            if command.enabled(&state).is_ok() {
                command.menu_item_ui(ui, &state, &mut self.app_commands);
            }
        }
        ui.separator();
        for command in [AppCommand::Duplicate, AppCommand::Copy, AppCommand::Cut, AppCommand::Delete] {
            command.menu_item_ui(ui, &state, &mut self.app_commands);
        }
        if self.app_commands.len() > chosen {
            self.select = Some(id);
        }
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<String>) {
        let Some(edge) = self.edge(snarl, from.id, to.id) else { return };
        match crate::document::check_wire(self.workflow, self.catalog, &edge) {
            Ok(()) => self.commands.push(Command::Connect(edge)),
            Err(e) => self.refusal = Some(e.to_string()),
        }
    }

    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<String>) {
        if let Some(edge) = self.edge(snarl, from.id, to.id) {
            self.commands.push(Command::Disconnect(edge));
        }
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<String>) {
        for remote in &pin.remotes {
            if let Some(edge) = self.edge(snarl, pin.id, *remote) {
                self.commands.push(Command::Disconnect(edge));
            }
        }
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<String>) {
        for remote in &pin.remotes {
            if let Some(edge) = self.edge(snarl, *remote, pin.id) {
                self.commands.push(Command::Disconnect(edge));
            }
        }
    }

    fn draw_background(
        &mut self,
        background: Option<&egui_snarl::ui::BackgroundPattern>,
        viewport: &Rect,
        snarl_style: &SnarlStyle,
        style: &Style,
        painter: &Painter,
        _snarl: &Snarl<String>,
    ) {
        if let Some(background) = background {
            background.draw(viewport, snarl_style, style, painter);
        }
        for comment in &self.workflow.comments {
            crate::comments::paint(painter, comment, self.dark);
        }
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<String>) {
        if let Some(transform) = self.set_transform.take() {
            *to_global = transform;
        }
        self.transform = *to_global;
    }
}
