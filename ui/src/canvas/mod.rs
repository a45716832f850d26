//! The canvas: the workflow drawn with egui-snarl. Nodes on the canvas are data only (their workflow ids);
//! one [`SnarlViewer`](egui_snarl::ui::SnarlViewer) reads the catalog to draw them and turns every user
//! gesture into a [`Command`] (an edit) or an [`AppCommand`](crate::app::AppCommand) (the context menus).
//! The snarl graph is a mirror of the document, refreshed whenever the document changes.

mod pins;
mod summary;
mod viewer;

use std::collections::HashMap;

use egui::emath::TSTransform;
use egui::{Color32, CornerRadius, Frame, Margin, Pos2, Rect, Stroke, pos2, vec2};
use egui_snarl::ui::{NodeLayout, PinPlacement, SnarlStyle, WireStyle};
use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};
use pipewright_engine::{Catalog, Edge, Workflow};

use crate::command::Command;
use crate::theme;

pub use pins::{node_rect, pin_rect};
pub use summary::headline;
pub use viewer::{Viewer, spec_index};

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
