//! The canvas: the workflow drawn with egui-snarl. Nodes on the canvas are data only (their workflow ids);
//! one [`SnarlViewer`] reads the catalog to draw them and turns every user gesture into a [`Command`].
//! The snarl graph is a mirror of the document, refreshed whenever the document changes.

use std::collections::HashMap;

use egui::emath::TSTransform;
use egui::{Color32, CornerRadius, Frame, Margin, Painter, Pos2, Rect, Sense, Stroke, Style, Ui, pos2, vec2};
use egui_snarl::ui::{NodeLayout, PinPlacement, PinShape, PinWireInfo, SnarlPin, SnarlStyle, SnarlViewer, WireStyle};
use egui_snarl::{InPin, InPinId, NodeId, OutPin, OutPinId, Snarl};
use pipewright_engine::{Catalog, Category, Edge, NodeSpec, PortRef, PortType, Value, Workflow};

use crate::command::Command;
use crate::runtime::{Phase, Runtime};
use crate::theme;

/// The snarl mirror of a document's graph.
#[derive(Default)]
pub struct CanvasGraph {
    snarl: Snarl<String>,
    ids: HashMap<String, NodeId>,
    synced_revision: Option<u64>,
}

impl CanvasGraph {
    /// Brings the mirror in line with the workflow (nodes, positions, wires) after it changed.
    pub fn sync(&mut self, workflow: &Workflow, revision: u64, catalog: &Catalog) {
        if self.synced_revision == Some(revision) {
            return;
        }
        self.synced_revision = Some(revision);
        let gone: Vec<String> = self.ids.keys().filter(|id| workflow.node(id).is_none()).cloned().collect();
        for id in gone {
            if let Some(snarl_id) = self.ids.remove(&id) {
                self.snarl.remove_node(snarl_id);
            }
        }
        for node in &workflow.nodes {
            let pos = pos2(node.position[0], node.position[1]);
            if let Some(&snarl_id) = self.ids.get(&node.id) {
                if let Some(info) = self.snarl.get_node_info_mut(snarl_id) {
                    info.pos = pos;
                }
            } else {
                let snarl_id = self.snarl.insert_node(pos, node.id.clone());
                self.ids.insert(node.id.clone(), snarl_id);
            }
        }
        let wires: Vec<(OutPinId, InPinId)> = self.snarl.wires().collect();
        for (from, to) in wires {
            self.snarl.disconnect(from, to);
        }
        for edge in &workflow.edges {
            if let Some((from, to)) = self.pins_of(workflow, catalog, edge) {
                self.snarl.connect(from, to);
            }
        }
    }

    fn pins_of(&self, workflow: &Workflow, catalog: &Catalog, edge: &Edge) -> Option<(OutPinId, InPinId)> {
        let spec_of = |id: &str| catalog.get(&workflow.node(id)?.kind).map(|e| e.spec.clone());
        let output = spec_of(&edge.from.node)?.output_port(&edge.from.port)?.0;
        let input = spec_of(&edge.to.node)?.input_port(&edge.to.port)?.0;
        Some((
            OutPinId { node: *self.ids.get(&edge.from.node)?, output },
            InPinId { node: *self.ids.get(&edge.to.node)?, input },
        ))
    }

    /// Node positions the user dragged to this frame, as a move command.
    pub fn moved_nodes(&self, workflow: &Workflow) -> Option<Command> {
        let moves: Vec<(String, [f32; 2])> = self
            .snarl
            .nodes_pos_ids()
            .filter_map(|(_, pos, id)| {
                let node = workflow.node(id)?;
                let now = [pos.x, pos.y];
                ((node.position[0] - now[0]).abs() > 0.01 || (node.position[1] - now[1]).abs() > 0.01)
                    .then(|| (id.clone(), now))
            })
            .collect();
        (!moves.is_empty()).then_some(Command::MoveNodes(moves))
    }

    /// Workflow ids of the given snarl nodes.
    pub fn workflow_ids(&self, nodes: &[NodeId]) -> Vec<String> {
        nodes.iter().filter_map(|n| self.snarl.get_node(*n).cloned()).collect()
    }

    /// The snarl graph, for drawing.
    pub fn snarl_mut(&mut self) -> &mut Snarl<String> {
        &mut self.snarl
    }
}

/// A refused wire, shown as a tooltip where it was dropped.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// Why.
    pub message: String,
    /// Where (screen position).
    pub at: Pos2,
    /// When (egui time in seconds).
    pub since: f64,
}

/// What the viewer asks the tab to do beyond editing the document.
#[derive(Debug, Clone, PartialEq)]
pub enum CanvasAction {
    /// Run up to this node.
    RunTo(String),
    /// Duplicate these nodes.
    Duplicate(Vec<String>),
    /// Copy these nodes to the clipboard.
    Copy(Vec<String>),
    /// Open the quick-add search at this graph position.
    QuickAdd(Pos2),
    /// Package the model this node trained.
    PackageModel(String),
    /// Serve the package this Export Model Package node wrote.
    DeployPackage(String),
}

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
    /// Other requests made this frame.
    pub actions: Vec<CanvasAction>,
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

/// Text of a node's status line.
pub fn status_text(phase: &Phase) -> String {
    phase.label()
}

fn phase_color(phase: &Phase, dark: bool) -> Color32 {
    match phase {
        Phase::NotRun => theme::weak_text(dark),
        Phase::Stale | Phase::Skipped(_) => theme::warning(dark),
        Phase::Queued | Phase::Running { .. } => theme::accent(dark),
        Phase::Cached => theme::cached(dark),
        Phase::Done { .. } => theme::success(dark),
        Phase::Failed(_) => theme::error(dark),
    }
}

/// The headline of an output: a table's shape or a report's first metric of each evaluation.
pub fn headline(value: &Value) -> String {
    match value {
        Value::Table(_) => value.summary(),
        Value::Report(r) => r
            .evaluations
            .iter()
            .filter_map(|e| {
                let (metric, info) = e.headline()?;
                let label = info.map_or(metric.name.as_str(), |i| i.label);
                Some(format!("{label} {:.3}", metric.value))
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.summary(),
    }
}

/// A tiny chart for the node body: the ROC curve of a report.
fn sparkline_ui(ui: &mut Ui, value: &Value, dark: bool) {
    let Value::Report(report) = value else { return };
    let curves: Vec<&pipewright_engine::Curve> =
        report.evaluations.iter().filter_map(|e| e.curves.iter().find(|c| c.name == "roc")).collect();
    if curves.is_empty() {
        return;
    }
    let (rect, _) = ui.allocate_exact_size(vec2(theme::NODE_WIDTH - 24.0, 36.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_stroke(
        rect,
        2.0,
        Stroke::new(1.0, theme::weak_text(dark).gamma_multiply(0.4)),
        egui::StrokeKind::Inside,
    );
    painter.line_segment(
        [rect.left_bottom(), rect.right_top()],
        Stroke::new(1.0, theme::weak_text(dark).gamma_multiply(0.5)),
    );
    for (i, curve) in curves.iter().enumerate() {
        let points: Vec<Pos2> = curve
            .points
            .iter()
            .map(|[x, y]| pos2(rect.left() + *x as f32 * rect.width(), rect.bottom() - *y as f32 * rect.height()))
            .collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.5, theme::series_color(i))));
    }
}

/// How a port is drawn: its type's shape and colour, hollow when unconnected.
pub struct PortPin {
    /// The port's type.
    pub ty: PortType,
    /// Whether a wire is attached.
    pub connected: bool,
    /// Whether the input is required and still unconnected.
    pub missing: bool,
    /// Where to record the pin's screen rectangle (see [`pin_rect`]).
    pub record: Option<egui::Id>,
}

fn pin_id(node: &str, port: &str, output: bool) -> egui::Id {
    egui::Id::new(("pin", node, port, output))
}

/// Where the pin of `node`'s `port` was drawn last frame (screen coordinates): for guided tours and tests
/// that wire blocks the way a user does.
pub fn pin_rect(ctx: &egui::Context, node: &str, port: &str, output: bool) -> Option<Rect> {
    ctx.data(|d| d.get_temp::<Rect>(pin_id(node, port, output)))
}

/// Where `node` was drawn last frame (screen coordinates).
pub fn node_rect(ctx: &egui::Context, node: &str) -> Option<Rect> {
    ctx.data(|d| d.get_temp::<Rect>(egui::Id::new(("node-rect", node))))
}

impl SnarlPin for PortPin {
    fn draw(self, _snarl_style: &SnarlStyle, style: &Style, rect: Rect, painter: &Painter) -> PinWireInfo {
        if let Some(id) = self.record {
            let ctx = painter.ctx();
            let to_screen = ctx.layer_transform_to_global(painter.layer_id()).unwrap_or_default();
            ctx.data_mut(|d| d.insert_temp(id, to_screen * rect));
        }
        let color = theme::port_color(self.ty);
        let fill = if self.connected { color } else { style.visuals.extreme_bg_color };
        let stroke = Stroke::new(if self.missing { 2.0 } else { 1.5 }, color);
        let shape = match self.ty {
            PortType::Table => Some(PinShape::Circle),
            PortType::Learner => Some(PinShape::Triangle),
            PortType::Model => Some(PinShape::Square),
            PortType::Transform => Some(PinShape::Star),
            PortType::Report => None,
        };
        if let Some(shape) = shape {
            egui_snarl::ui::PinInfo::default().with_shape(shape).with_fill(fill).with_stroke(stroke).draw(
                &SnarlStyle::new(),
                style,
                rect,
                painter,
            )
        } else {
            let c = rect.center();
            let r = rect.width().min(rect.height()) * 0.55;
            let points = vec![pos2(c.x, c.y - r), pos2(c.x + r, c.y), pos2(c.x, c.y + r), pos2(c.x - r, c.y)];
            painter.add(egui::Shape::convex_polygon(points, fill, stroke));
            PinWireInfo { color, style: WireStyle::Bezier5 }
        }
        .with_color(color)
    }
}

trait WithColor {
    fn with_color(self, color: Color32) -> Self;
}

impl WithColor for PinWireInfo {
    fn with_color(mut self, color: Color32) -> Self {
        self.color = color;
        self
    }
}

/// The canvas style: grid background, node frames, wires.
pub fn snarl_style(dark: bool) -> SnarlStyle {
    let mut style = SnarlStyle::new();
    style.node_layout = Some(NodeLayout::coil());
    style.pin_placement = Some(PinPlacement::Edge);
    style.pin_size = Some(11.0);
    style.wire_width = Some(2.0);
    style.wire_style = Some(WireStyle::Bezier5);
    style.collapsible = Some(false);
    style.bg_frame = Some(Frame::new().fill(theme::canvas(dark)).inner_margin(Margin::ZERO));
    style.bg_pattern = Some(egui_snarl::ui::BackgroundPattern::grid(vec2(24.0, 24.0), 0.0));
    style.bg_pattern_stroke =
        Some(Stroke::new(1.0, if dark { Color32::from_gray(44) } else { Color32::from_gray(222) }));
    style.node_frame = Some(
        Frame::new()
            .fill(theme::node_fill(dark))
            .corner_radius(CornerRadius::same(theme::RADIUS))
            .inner_margin(Margin::symmetric(8, 6))
            .stroke(Stroke::new(1.0, if dark { Color32::from_gray(70) } else { Color32::from_gray(200) }))
            .shadow(egui::Shadow { offset: [0, 2], blur: 8, spread: 0, color: Color32::from_black_alpha(60) }),
    );
    // The designer draws the selection itself (as the node's outline); the box being dragged stays visible.
    style.select_style = Some(egui_snarl::ui::SelectionStyle {
        margin: Margin::ZERO,
        rounding: CornerRadius::ZERO,
        fill: Color32::TRANSPARENT,
        stroke: Stroke::NONE,
    });
    style.select_fill = Some(theme::accent(dark).gamma_multiply(0.12));
    style.select_stoke = Some(Stroke::new(1.0, theme::accent(dark)));
    style.min_scale = Some(0.2);
    style.max_scale = Some(2.0);
    style.centering = Some(false);
    style
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
            if let Phase::Running { fraction: Some(f), .. } = phase {
                ui.add(egui::ProgressBar::new(f).desired_height(4.0).desired_width(theme::NODE_WIDTH - 24.0));
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
        if ui.button("Search blocks…").clicked() {
            self.actions.push(CanvasAction::QuickAdd(pos));
            ui.close();
        }
        ui.separator();
        self.add_node_menu_ui(ui, pos);
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
        if ui.button("▶ Run to here").clicked() {
            self.actions.push(CanvasAction::RunTo(id.clone()));
            ui.close();
        }
        let kind = self.workflow.node(&id).map(|n| n.kind.as_str()).unwrap_or_default();
        let trains = self.catalog.get(kind).is_some_and(|e| {
            e.spec.category == pipewright_engine::Category::Train
                && e.spec.output_port("model").is_some_and(|(_, p)| p.ty == pipewright_engine::PortType::Model)
        });
        if trains && ui.button("📦 Package model…").clicked() {
            self.actions.push(CanvasAction::PackageModel(id.clone()));
            ui.close();
        }
        let writes_package =
            self.catalog.get(kind).is_some_and(|e| e.spec.writes == Some(pipewright_engine::Writes::Package));
        if writes_package && ui.button("🚀 Deploy locally…").clicked() {
            self.actions.push(CanvasAction::DeployPackage(id.clone()));
            ui.close();
        }
        if ui.button("Duplicate").clicked() {
            self.actions.push(CanvasAction::Duplicate(vec![id.clone()]));
            ui.close();
        }
        if ui.button("Copy").clicked() {
            self.actions.push(CanvasAction::Copy(vec![id.clone()]));
            ui.close();
        }
        ui.separator();
        if ui.button("Delete").clicked() {
            self.commands.push(Command::RemoveNodes(vec![id]));
            ui.close();
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

/// Smallest scale a workflow opens at: below it block titles are hard to read, so a tall workflow opens
/// showing its top part and "Fit to view" (Home) shows all of it.
const READABLE_SCALE: f32 = 0.8;

/// The view transform that shows every node and comment inside `view` (screen rectangle); with
/// `readable`, never smaller than a readable scale, showing the workflow's start (its left edge: blocks
/// flow left to right).
pub fn fit_transform(workflow: &Workflow, view: Rect, readable: bool) -> TSTransform {
    let mut bounds = Rect::NOTHING;
    for node in &workflow.nodes {
        let min = pos2(node.position[0], node.position[1]);
        bounds = bounds.union(Rect::from_min_size(min, vec2(theme::NODE_WIDTH, 110.0)));
    }
    for comment in &workflow.comments {
        let min = pos2(comment.position[0], comment.position[1]);
        bounds = bounds.union(Rect::from_min_size(min, vec2(comment.size[0], comment.size[1])));
    }
    if !bounds.is_positive() {
        return TSTransform::from_translation(view.min.to_vec2() + vec2(40.0, 40.0));
    }
    let bounds = bounds.expand(40.0);
    let scale = (view.width() / bounds.width()).min(view.height() / bounds.height()).clamp(0.2, 1.25);
    if readable && scale < READABLE_SCALE {
        let anchor = pos2(bounds.left(), bounds.center().y);
        let target = pos2(view.left(), view.center().y);
        return TSTransform::new(target.to_vec2() - anchor.to_vec2() * READABLE_SCALE, READABLE_SCALE);
    }
    TSTransform::new(view.center().to_vec2() - bounds.center().to_vec2() * scale, scale)
}
