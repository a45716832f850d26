//! Editing the active workflow: document commands applied in one place, and the edit actions built on
//! them (clipboard, duplicate, delete, undo, comment frames, new blocks).

use std::time::Instant;

use egui::Pos2;

use pipewright_engine::{Edge, Node, Workflow};

use super::Designer;
use crate::canvas::CanvasGraph;
use crate::command::Command;
use crate::comments;

/// How far copies land from their originals, so they do not hide them.
const PASTE_OFFSET: f32 = 40.0;

impl Designer {
    /// Applies a command to the active document; a refused one is reported in the status bar.
    pub fn apply(&mut self, command: Command) {
        let catalog = self.catalog.clone();
        let Some(tab) = self.active_tab_mut() else { return };
        if let Some(snapshot) = &tab.snapshot {
            let run = snapshot.run;
            // Redraw the canvas from the unchanged workflow (a drag moved the blocks on screen already).
            tab.graph = CanvasGraph::default();
            self.notify(
                format!("Run {run}'s workflow is read-only: use Restore in Runs (Ctrl+H) to make it the current one"),
                true,
            );
            return;
        }
        match tab.document.apply(command, &catalog) {
            Ok(()) => tab.changed_at = Some(Instant::now()),
            Err(e) => self.notify(e.to_string(), true),
        }
    }

    /// Puts the selected blocks, and the wires between them, on the clipboard as workflow JSON.
    pub(super) fn copy_selection(&mut self, ctx: &egui::Context) {
        let Some(tab) = self.active_tab() else { return };
        let workflow = tab.document.workflow();
        let mut fragment = Workflow::new(workflow.name.clone());
        fragment.nodes = workflow.nodes.iter().filter(|n| tab.selection.contains(&n.id)).cloned().collect();
        fragment.edges = workflow
            .edges
            .iter()
            .filter(|e| tab.selection.contains(&e.from.node) && tab.selection.contains(&e.to.node))
            .cloned()
            .collect();
        if fragment.nodes.is_empty() {
            return;
        }
        let count = fragment.nodes.len();
        ctx.copy_text(fragment.to_json());
        self.notify(format!("Copied {count} block(s)"), false);
    }

    /// Pastes workflow JSON (from this or another window), offset so the copies do not hide the originals.
    pub fn paste(&mut self, text: &str) {
        let Ok(fragment) = Workflow::from_json(text) else {
            return;
        };
        if fragment.nodes.is_empty() {
            return;
        }
        let nodes: Vec<Node> = fragment
            .nodes
            .into_iter()
            .map(|mut n| {
                n.position = [n.position[0] + PASTE_OFFSET, n.position[1] + PASTE_OFFSET];
                n
            })
            .collect();
        self.apply(Command::Paste { nodes, edges: fragment.edges });
    }

    /// Copies the selected blocks, and the wires between them, beside the originals.
    pub(super) fn duplicate_selection(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        let ids = &tab.selection;
        let workflow = tab.document.workflow();
        let nodes: Vec<Node> = workflow
            .nodes
            .iter()
            .filter(|n| ids.contains(&n.id))
            .map(|n| Node { position: [n.position[0] + PASTE_OFFSET, n.position[1] + PASTE_OFFSET], ..n.clone() })
            .collect();
        let edges: Vec<Edge> =
            workflow.edges.iter().filter(|e| ids.contains(&e.from.node) && ids.contains(&e.to.node)).cloned().collect();
        if !nodes.is_empty() {
            self.apply(Command::Paste { nodes, edges });
        }
    }

    /// Removes the selected comment frame, or else the selected blocks.
    pub(super) fn delete_selection(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        if let Some(comment) = tab.selected_comment.clone() {
            self.apply(Command::RemoveComment(comment));
            if let Some(tab) = self.active_tab_mut() {
                tab.selected_comment = None;
            }
            return;
        }
        let ids = tab.selection.clone();
        if !ids.is_empty() {
            self.apply(Command::RemoveNodes(ids));
        }
    }

    /// Selects every block of the active workflow.
    pub(super) fn select_all(&mut self) {
        if let Some(tab) = self.active_tab_mut() {
            tab.selection = tab.document.workflow().nodes.iter().map(|n| n.id.clone()).collect();
            tab.selected_comment = None;
        }
    }

    pub(super) fn undo(&mut self) {
        if let Some(tab) = self.active_tab_mut()
            && tab.document.undo()
        {
            tab.changed_at = Some(Instant::now());
        }
    }

    pub(super) fn redo(&mut self) {
        if let Some(tab) = self.active_tab_mut()
            && tab.document.redo()
        {
            tab.changed_at = Some(Instant::now());
        }
    }

    /// Adds a comment frame around the selection, or in the middle of the view.
    pub(super) fn add_comment(&mut self) {
        let Some(tab) = self.active_tab() else { return };
        let center = tab.transform.inverse() * tab.canvas_rect.center();
        let comment = comments::new_comment(tab.document.workflow(), &tab.selection, center);
        self.apply(Command::PutComment(comment));
    }

    /// Adds a block of `kind` at graph position `at`.
    pub(super) fn add_block(&mut self, kind: &str, at: Pos2) {
        let Some(spec) = self.catalog.get(kind).map(|e| e.spec.clone()) else { return };
        let Some(tab) = self.active_tab() else { return };
        let node = super::new_node(tab.document.workflow(), &spec, [at.x, at.y]);
        self.apply(Command::AddNode(node));
    }
}
