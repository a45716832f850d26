//! Comment frames on the canvas: coloured, titled, resizable rectangles drawn behind the nodes. Dragging a
//! frame's title bar moves it together with the nodes it holds; the corner handle resizes it.

use egui::emath::TSTransform;
use egui::{Color32, CornerRadius, Id, Order, Painter, Pos2, Rect, Sense, Stroke, Ui, pos2, vec2};
use pipewright_engine::{Comment, Workflow};

use crate::command::Command;
use crate::theme;

/// Height of a frame's title bar, in canvas units.
const TITLE_HEIGHT: f32 = 26.0;
/// Side of the resize handle, in canvas units.
const HANDLE: f32 = 14.0;
/// Smallest frame.
const MIN_SIZE: [f32; 2] = [120.0, 60.0];

/// Colours offered for frames.
pub const PALETTE: [[u8; 3]; 6] = [
    [0x4c, 0x9a, 0xff],
    [0x50, 0xc8, 0x78],
    [0xf5, 0xa6, 0x23],
    [0xe0, 0x4f, 0x7f],
    [0xa0, 0x7a, 0xeb],
    [0x8a, 0x94, 0xa6],
];

fn rect_of(comment: &Comment) -> Rect {
    Rect::from_min_size(
        pos2(comment.position[0], comment.position[1]),
        vec2(comment.size[0].max(MIN_SIZE[0]), comment.size[1].max(MIN_SIZE[1])),
    )
}

fn color_of(comment: &Comment) -> Color32 {
    let [r, g, b] = comment.color;
    if [r, g, b] == [0, 0, 0] { Color32::from_rgb(0x8a, 0x94, 0xa6) } else { Color32::from_rgb(r, g, b) }
}

/// Paints a frame (in canvas coordinates; the painter carries the view transform).
pub fn paint(painter: &Painter, comment: &Comment, dark: bool) {
    let rect = rect_of(comment);
    let color = color_of(comment);
    let radius = CornerRadius::same(theme::RADIUS);
    painter.rect_filled(rect, radius, color.gamma_multiply(if dark { 0.12 } else { 0.10 }));
    painter.rect_stroke(rect, radius, Stroke::new(1.5, color.gamma_multiply(0.8)), egui::StrokeKind::Inside);
    let title = Rect::from_min_size(rect.min, vec2(rect.width(), TITLE_HEIGHT));
    painter.rect_filled(
        title,
        CornerRadius { nw: theme::RADIUS, ne: theme::RADIUS, sw: 0, se: 0 },
        color.gamma_multiply(0.75),
    );
    let title_text = if comment.title.is_empty() { "Comment" } else { comment.title.as_str() };
    painter.text(
        title.left_center() + vec2(theme::SPACE_M, 0.0),
        egui::Align2::LEFT_CENTER,
        title_text,
        theme::heading_font(),
        theme::text_on(color),
    );
    if !comment.text.is_empty() {
        painter.text(
            rect.min + vec2(theme::SPACE_M, TITLE_HEIGHT + theme::SPACE_S),
            egui::Align2::LEFT_TOP,
            &comment.text,
            theme::small_font(),
            if dark { Color32::from_gray(200) } else { Color32::from_gray(60) },
        );
    }
    let corner = rect.max;
    for i in 1..=3 {
        let d = i as f32 * 4.0;
        painter.line_segment(
            [pos2(corner.x - d, corner.y - 2.0), pos2(corner.x - 2.0, corner.y - d)],
            Stroke::new(1.0, color),
        );
    }
}

/// Handles dragging and resizing of the frames; returns the edits and the frame clicked, if any.
pub fn interact_ui(
    ui: &Ui,
    workflow: &Workflow,
    transform: TSTransform,
    canvas: Rect,
) -> (Vec<Command>, Option<String>) {
    let mut commands = Vec::new();
    let mut clicked = None;
    for comment in &workflow.comments {
        let rect = rect_of(comment);
        let title = transform * Rect::from_min_size(rect.min, vec2(rect.width(), TITLE_HEIGHT));
        let handle = transform * Rect::from_min_max(rect.max - vec2(HANDLE, HANDLE), rect.max);
        ui.ctx().data_mut(|d| d.insert_temp(title_id(&comment.id), title));
        let drag = area_response(ui, Id::new(("comment-title", &comment.id)), title, canvas);
        if let Some(drag) = drag {
            if drag.clicked() {
                clicked = Some(comment.id.clone());
            }
            let delta = drag.drag_delta() / transform.scaling;
            if drag.dragged() && delta != egui::Vec2::ZERO {
                clicked = Some(comment.id.clone());
                let nodes = comment
                    .nodes
                    .iter()
                    .filter_map(|id| workflow.node(id))
                    .map(|n| (n.id.clone(), [n.position[0] + delta.x, n.position[1] + delta.y]))
                    .collect();
                commands.push(Command::MoveComment {
                    id: comment.id.clone(),
                    position: [comment.position[0] + delta.x, comment.position[1] + delta.y],
                    nodes,
                });
            }
        }
        let resize = area_response(ui, Id::new(("comment-resize", &comment.id)), handle, canvas);
        if let Some(resize) = resize {
            if resize.hovered() || resize.dragged() {
                ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeNwSe);
            }
            let delta = resize.drag_delta() / transform.scaling;
            if resize.dragged() && delta != egui::Vec2::ZERO {
                let size = [(rect.width() + delta.x).max(MIN_SIZE[0]), (rect.height() + delta.y).max(MIN_SIZE[1])];
                let grown = Rect::from_min_size(rect.min, vec2(size[0], size[1]));
                commands.push(Command::PutComment(Comment {
                    size,
                    nodes: nodes_inside(workflow, grown),
                    ..comment.clone()
                }));
            }
        }
    }
    (commands, clicked)
}

fn title_id(comment: &str) -> Id {
    Id::new(("comment-title-rect", comment))
}

/// Where the title bar of a comment frame was drawn last frame (screen coordinates).
pub fn title_rect(ctx: &egui::Context, comment: &str) -> Option<Rect> {
    ctx.data(|d| d.get_temp::<Rect>(title_id(comment)))
}

/// An interactive area above the canvas covering `rect` (screen), if it is visible.
fn area_response(ui: &Ui, id: Id, rect: Rect, canvas: Rect) -> Option<egui::Response> {
    let visible = rect.intersect(canvas);
    if !visible.is_positive() {
        return None;
    }
    let response = egui::Area::new(id)
        .order(Order::Middle)
        .fixed_pos(visible.min)
        .constrain(false)
        .sense(Sense::hover())
        .show(ui.ctx(), |ui| ui.allocate_response(visible.size(), Sense::click_and_drag()))
        .inner;
    if response.hovered() && !response.dragged() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::Grab);
    }
    Some(response)
}

/// Ids of the nodes whose top-left corner lies inside `rect` (canvas units).
pub fn nodes_inside(workflow: &Workflow, rect: Rect) -> Vec<String> {
    workflow.nodes.iter().filter(|n| rect.contains(pos2(n.position[0], n.position[1]))).map(|n| n.id.clone()).collect()
}

/// A new frame around the given nodes (or at `at` when there are none), with a fresh id.
pub fn new_comment(workflow: &Workflow, nodes: &[String], at: Pos2) -> Comment {
    let positions: Vec<Pos2> =
        nodes.iter().filter_map(|id| workflow.node(id)).map(|n| pos2(n.position[0], n.position[1])).collect();
    let rect = if positions.is_empty() {
        Rect::from_min_size(at, vec2(320.0, 200.0))
    } else {
        let mut bounds = Rect::NOTHING;
        for p in &positions {
            bounds = bounds.union(Rect::from_min_size(*p, vec2(theme::NODE_WIDTH, 110.0)));
        }
        Rect::from_min_max(bounds.min - vec2(20.0, TITLE_HEIGHT + 16.0), bounds.max + vec2(20.0, 20.0))
    };
    let taken: std::collections::HashSet<String> = workflow.comments.iter().map(|c| c.id.clone()).collect();
    Comment {
        id: crate::document::fresh_id("comment", &taken),
        title: "Comment".into(),
        text: String::new(),
        position: [rect.min.x, rect.min.y],
        size: [rect.width(), rect.height()],
        color: PALETTE[workflow.comments.len() % PALETTE.len()],
        nodes: nodes_inside(workflow, rect),
    }
}
