//! Design tokens: every colour, spacing and font size the designer uses comes from here, in a light and a
//! dark variant. Widgets ask for a token by meaning (a category, a port type, a node state), never for a
//! literal colour.

use egui::{Color32, CornerRadius, FontFamily, FontId, Stroke, TextStyle, Visuals};
use pipewright_engine::{Category, PortType};

/// Small gap between related items.
pub const SPACE_S: f32 = 4.0;
/// Gap between groups.
pub const SPACE_M: f32 = 8.0;
/// Gap between sections.
pub const SPACE_L: f32 = 16.0;
/// Corner radius of nodes, frames and cards.
pub const RADIUS: u8 = 6;
/// Width of the palette and the inspector.
pub const SIDE_PANEL_WIDTH: f32 = 260.0;
/// Height of the output panel when first shown.
pub const OUTPUT_PANEL_HEIGHT: f32 = 320.0;
/// Width of a node on the canvas.
pub const NODE_WIDTH: f32 = 190.0;

/// Light or dark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Theme {
    /// Dark surfaces, light text.
    #[default]
    Dark,
    /// Light surfaces, dark text.
    Light,
}

impl Theme {
    /// Whether it is the dark theme.
    pub fn is_dark(self) -> bool {
        self == Self::Dark
    }

    /// The other theme.
    pub fn toggled(self) -> Self {
        match self {
            Self::Dark => Self::Light,
            Self::Light => Self::Dark,
        }
    }
}

/// Accent: selection, primary buttons, focus.
pub fn accent(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x4c, 0x9a, 0xff) } else { Color32::from_rgb(0x1f, 0x6f, 0xe5) }
}

/// Errors and failed nodes.
pub fn error(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0xff, 0x6b, 0x6b) } else { Color32::from_rgb(0xc9, 0x2a, 0x2a) }
}

/// Warnings and stale results.
pub fn warning(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0xf0, 0xb4, 0x29) } else { Color32::from_rgb(0xb3, 0x6b, 0x00) }
}

/// Success: finished nodes.
pub fn success(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x4c, 0xc3, 0x8a) } else { Color32::from_rgb(0x1a, 0x8a, 0x4f) }
}

/// Results served from the cache.
pub fn cached(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x7f, 0xb8, 0xd8) } else { Color32::from_rgb(0x2b, 0x6f, 0x94) }
}

/// Secondary text: hints, units, captions.
pub fn weak_text(dark: bool) -> Color32 {
    if dark { Color32::from_gray(150) } else { Color32::from_gray(105) }
}

/// The canvas background.
pub fn canvas(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x1b, 0x1e, 0x24) } else { Color32::from_rgb(0xf3, 0xf4, 0xf7) }
}

/// The body of a node.
pub fn node_fill(dark: bool) -> Color32 {
    if dark { Color32::from_rgb(0x2a, 0x2e, 0x36) } else { Color32::WHITE }
}

/// The header colour of a category's nodes.
pub fn category_color(category: Category) -> Color32 {
    match category {
        Category::Data => Color32::from_rgb(0x2f, 0x80, 0xd1),
        Category::Transform => Color32::from_rgb(0x8e, 0x5b, 0xd6),
        Category::Model => Color32::from_rgb(0xd9, 0x7a, 0x1c),
        Category::Train => Color32::from_rgb(0x1f, 0x9e, 0x89),
        Category::Evaluate => Color32::from_rgb(0xc8, 0x3e, 0x6a),
        Category::Deploy => Color32::from_rgb(0x5a, 0x6b, 0x7d),
    }
}

/// The icon shown beside a category's name.
pub fn category_icon(category: Category) -> &'static str {
    match category {
        Category::Data => "🗄",
        Category::Transform => "⚙",
        Category::Model => "💡",
        Category::Train => "🎓",
        Category::Evaluate => "📊",
        Category::Deploy => "🚀",
    }
}

/// The colour of a port and its wires.
pub fn port_color(port: PortType) -> Color32 {
    match port {
        PortType::Table => Color32::from_rgb(0x3d, 0xa5, 0xf4),
        PortType::Learner => Color32::from_rgb(0xf5, 0xa6, 0x23),
        PortType::Model => Color32::from_rgb(0x50, 0xc8, 0x78),
        PortType::Transform => Color32::from_rgb(0xb3, 0x7f, 0xeb),
        PortType::Report => Color32::from_rgb(0xef, 0x5d, 0x8a),
    }
}

/// The glyph naming a port type in lists and tooltips (its shape on the canvas matches).
pub fn port_icon(port: PortType) -> &'static str {
    match port {
        PortType::Table => "⏺",
        PortType::Learner => "▲",
        PortType::Model => "■",
        PortType::Transform => "★",
        PortType::Report => "📊",
    }
}

/// Colour `index` of a categorical series (clusters, classes, compared models).
pub fn series_color(index: usize) -> Color32 {
    const SERIES: [Color32; 8] = [
        Color32::from_rgb(0x3d, 0xa5, 0xf4),
        Color32::from_rgb(0xf5, 0x8a, 0x23),
        Color32::from_rgb(0x50, 0xc8, 0x78),
        Color32::from_rgb(0xe0, 0x4f, 0x7f),
        Color32::from_rgb(0xa0, 0x7a, 0xeb),
        Color32::from_rgb(0xd4, 0xc2, 0x2e),
        Color32::from_rgb(0x2e, 0xc4, 0xc4),
        Color32::from_rgb(0x9c, 0x8b, 0x7a),
    ];
    SERIES[index % SERIES.len()]
}

/// A sequential colour for heatmaps: `t` in 0..=1 from the background towards the accent.
pub fn heat_color(t: f32, dark: bool) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let low = if dark { Color32::from_rgb(0x23, 0x27, 0x30) } else { Color32::from_rgb(0xf4, 0xf7, 0xfb) };
    let high = accent(dark);
    let mix = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
    Color32::from_rgb(mix(low.r(), high.r()), mix(low.g(), high.g()), mix(low.b(), high.b()))
}

/// Text colour readable on top of `fill`.
pub fn text_on(fill: Color32) -> Color32 {
    let luma = 0.299 * f32::from(fill.r()) + 0.587 * f32::from(fill.g()) + 0.114 * f32::from(fill.b());
    if luma > 150.0 { Color32::from_gray(20) } else { Color32::WHITE }
}

/// Font of a node's title and of section headings.
pub fn heading_font() -> FontId {
    FontId::new(14.0, FontFamily::Proportional)
}

/// Font of captions and inline summaries.
pub fn small_font() -> FontId {
    FontId::new(11.0, FontFamily::Proportional)
}

/// Applies the theme to egui's style: surfaces, text sizes, spacing.
pub fn apply(ctx: &egui::Context, theme: Theme) {
    let dark = theme.is_dark();
    let mut visuals = if dark { Visuals::dark() } else { Visuals::light() };
    visuals.selection.bg_fill = accent(dark).gamma_multiply(if dark { 0.55 } else { 0.35 });
    visuals.selection.stroke = Stroke::new(1.5, accent(dark));
    visuals.hyperlink_color = accent(dark);
    visuals.window_corner_radius = CornerRadius::same(RADIUS);
    visuals.menu_corner_radius = CornerRadius::same(RADIUS);
    visuals.extreme_bg_color = if dark { Color32::from_rgb(0x16, 0x18, 0x1d) } else { Color32::WHITE };
    visuals.panel_fill = if dark { Color32::from_rgb(0x22, 0x25, 0x2c) } else { Color32::from_rgb(0xfa, 0xfa, 0xfc) };
    visuals.error_fg_color = error(dark);
    visuals.warn_fg_color = warning(dark);
    let egui_theme = if dark { egui::Theme::Dark } else { egui::Theme::Light };
    ctx.set_theme(egui_theme);
    ctx.set_visuals_of(egui_theme, visuals);
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(SPACE_M, SPACE_S + 2.0);
        style.spacing.button_padding = egui::vec2(SPACE_M, SPACE_S);
        style.spacing.interact_size.y = 22.0;
        style.text_styles.insert(TextStyle::Heading, FontId::new(18.0, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Body, FontId::new(13.5, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Button, FontId::new(13.5, FontFamily::Proportional));
        style.text_styles.insert(TextStyle::Small, small_font());
        style.text_styles.insert(TextStyle::Monospace, FontId::new(12.5, FontFamily::Monospace));
    });
}
