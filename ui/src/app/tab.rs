//! One open workflow: its document, its runtime and its view state.

use std::path::{Path, PathBuf};
use std::time::Instant;

use egui::emath::TSTransform;
use egui::{Id, Pos2, Rect};

use pipewright_engine::{Node, Workflow, project_dir_of};

use crate::canvas::{CanvasGraph, Refusal};
use crate::document::Document;
use crate::output::OutputView;
use crate::runtime::Runtime;

/// The id of the snarl widget of a tab.
pub(super) fn snarl_id(slot: u64) -> Id {
    Id::new(("canvas", slot))
}

/// One open workflow: the document, its runtime, and its view state.
pub struct Tab {
    pub(super) slot: u64,
    /// The document.
    pub document: Document,
    /// Runs and results.
    pub runtime: Runtime,
    pub(super) graph: CanvasGraph,
    pub(super) selection: Vec<String>,
    /// The selection egui-snarl keeps itself (box selection), to notice what it adds.
    pub(super) snarl_selection: Vec<String>,
    pub(super) selected_comment: Option<String>,
    pub(super) output: OutputView,
    pub(super) output_port: usize,
    pub(super) transform: TSTransform,
    /// Fit the view on the next frame: `Some(true)` at a readable scale (on opening), `Some(false)` all.
    pub(super) fit_pending: Option<bool>,
    /// Centre the view on this block on the next frame.
    pub(super) focus_pending: Option<String>,
    pub(super) canvas_rect: Rect,
    pub(super) refusal: Option<Refusal>,
    pub(super) quick_add: Option<QuickAdd>,
    pub(super) autosaved_revision: u64,
    pub(super) changed_at: Option<Instant>,
    /// Set when the tab shows a recorded run's workflow, read-only.
    pub snapshot: Option<SnapshotOf>,
}

/// The recorded run a read-only tab shows.
#[derive(Debug, Clone)]
pub struct SnapshotOf {
    /// The run.
    pub run: i64,
    /// The workflow file it ran from (relative paths in it resolve against its folder).
    pub file: PathBuf,
}

/// The block search open at a place on the canvas.
pub(super) struct QuickAdd {
    /// Where the block goes (graph position).
    pub(super) at: Pos2,
    /// Where the search shows (screen position).
    pub(super) screen: Pos2,
    pub(super) query: String,
}

impl Tab {
    pub(super) fn new(slot: u64, document: Document) -> Self {
        Self {
            slot,
            autosaved_revision: document.revision(),
            document,
            runtime: Runtime::default(),
            graph: CanvasGraph::default(),
            selection: Vec::new(),
            snarl_selection: Vec::new(),
            selected_comment: None,
            output: OutputView::default(),
            output_port: 0,
            transform: TSTransform::IDENTITY,
            fit_pending: Some(true),
            focus_pending: None,
            canvas_rect: Rect::NOTHING,
            refusal: None,
            quick_add: None,
            changed_at: None,
            snapshot: None,
        }
    }

    /// The folder relative paths resolve against and the project whose cache runs use.
    pub(super) fn base_dir(&self) -> PathBuf {
        self.workflow_file()
            .and_then(Path::parent)
            .map_or_else(|| std::env::current_dir().unwrap_or_default(), Path::to_path_buf)
    }

    /// The tab's label: file name or workflow name, with a dot when unsaved.
    pub fn title(&self) -> String {
        if let Some(snapshot) = &self.snapshot {
            return format!("run {} · {} (read-only)", snapshot.run, self.document.workflow().name);
        }
        let name = self.document.path().and_then(Path::file_name).map_or_else(
            || self.document.workflow().name.clone(),
            |n| n.to_string_lossy().trim_end_matches(".flow.json").to_owned(),
        );
        if self.document.is_dirty() { format!("⏺ {name}") } else { name }
    }

    /// The project the tab's runs are recorded in: its file's project, or the project of the run it shows.
    pub fn project(&self) -> Option<PathBuf> {
        self.workflow_file().map(project_dir_of)
    }

    /// The file the tab's workflow belongs to: its own, or the one the run it shows ran from.
    pub(super) fn workflow_file(&self) -> Option<&Path> {
        self.document.path().or(self.snapshot.as_ref().map(|s| s.file.as_path()))
    }

    /// Node ids selected on the canvas.
    pub fn selection(&self) -> &[String] {
        &self.selection
    }

    /// Opens the block search at graph position `at`.
    pub(super) fn open_quick_add(&mut self, at: Pos2) {
        let screen = self.transform * at;
        self.quick_add = Some(QuickAdd { at, screen, query: String::new() });
    }
}

/// A new node of `spec`'s kind at `position` with a fresh id derived from the kind's name.
pub fn new_node(workflow: &Workflow, spec: &pipewright_engine::NodeSpec, position: [f32; 2]) -> Node {
    let taken: std::collections::HashSet<String> = workflow.nodes.iter().map(|n| n.id.clone()).collect();
    let base: String = spec
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    Node {
        id: crate::document::fresh_id(&base, &taken),
        kind: spec.id.to_owned(),
        title: None,
        params: std::collections::BTreeMap::new(),
        position,
    }
}
