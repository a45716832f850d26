//! How ports are drawn: each port type's pin shape and colour, hollow when unconnected; and where pins
//! and blocks were drawn, for tests and guided tours that work the canvas like a user.

use egui::{Color32, Painter, Rect, Stroke, Style, pos2};
use egui_snarl::ui::{PinShape, PinWireInfo, SnarlPin, SnarlStyle, WireStyle};
use pipewright_engine::PortType;

use crate::theme;

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

pub(super) fn pin_id(node: &str, port: &str, output: bool) -> egui::Id {
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
