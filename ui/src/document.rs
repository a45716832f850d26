//! The document: a workflow, where it is saved, whether it changed, and its undo history.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pipewright_engine::{Catalog, Edge, FileError, Workflow, ancestors};

use crate::command::Command;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The command names a node that does not exist.
    #[error("there is no node \"{0}\"")]
    UnknownNode(String),
    /// A new node's id is taken.
    #[error("a node with id \"{0}\" exists already")]
    DuplicateId(String),
    /// The wire cannot be made.
    #[error("{0}")]
    Wire(String),
}

/// Undo steps kept at most.
const HISTORY_LIMIT: usize = 500;

/// An open workflow.
#[derive(Debug, Clone)]
pub struct Document {
    workflow: Workflow,
    path: Option<PathBuf>,
    /// Workflow before each step, with the command that made it (`None`: never merges with the next).
    undo: Vec<(Workflow, Option<Command>)>,
    redo: Vec<Workflow>,
    saved: Workflow,
    /// Counts changes of the workflow (edits, undo, redo), so views know when to refresh.
    revision: u64,
}

impl Document {
    /// A new, unsaved document.
    pub fn new(workflow: Workflow) -> Self {
        Self { saved: workflow.clone(), workflow, path: None, undo: Vec::new(), redo: Vec::new(), revision: 0 }
    }

    /// A document restored from a recovery file: `current` is the unsaved work, `saved` what its file
    /// (if any) holds, so it opens dirty and saving writes the recovered work to `path`.
    pub fn recovered(path: Option<PathBuf>, saved: Workflow, current: Workflow) -> Self {
        Self { path, saved, ..Self::new(current) }
    }

    /// Changes with every edit, undo and redo.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Opens a workflow file.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let workflow = Workflow::load(path)?;
        Ok(Self { path: Some(path.to_path_buf()), ..Self::new(workflow) })
    }

    /// The workflow as it is now.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    /// Where it is saved, if anywhere.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether it differs from the saved file.
    pub fn is_dirty(&self) -> bool {
        self.workflow != self.saved
    }

    /// Saves to its path, or to `path` (save as), atomically.
    pub fn save(&mut self, path: Option<&Path>) -> Result<(), FileError> {
        let target = path
            .map(Path::to_path_buf)
            .or_else(|| self.path.clone())
            .ok_or_else(|| FileError::Layout("choose where to save the workflow".into()))?;
        self.workflow.save(&target)?;
        self.path = Some(target);
        self.saved = self.workflow.clone();
        Ok(())
    }

    /// Ends the current gesture (a drag, a burst of typing): the next command starts a new undo step even
    /// if it would merge with the last one.
    pub fn end_gesture(&mut self) {
        if let Some(last) = self.undo.last_mut() {
            last.1 = None;
        }
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Undoes the last step.
    pub fn undo(&mut self) -> bool {
        let Some((before, _)) = self.undo.pop() else { return false };
        self.redo.push(std::mem::replace(&mut self.workflow, before));
        self.revision += 1;
        true
    }

    /// Redoes the last undone step.
    pub fn redo(&mut self) -> bool {
        let Some(after) = self.redo.pop() else { return false };
        let before = std::mem::replace(&mut self.workflow, after);
        self.undo.push((before, None));
        self.revision += 1;
        true
    }

    /// Applies a command: the one place the workflow changes. A refused command changes nothing.
    pub fn apply(&mut self, command: Command, catalog: &Catalog) -> Result<(), CommandError> {
        let before = self.workflow.clone();
        if let Err(e) = apply_to(&mut self.workflow, &command, catalog) {
            self.workflow = before;
            return Err(e);
        }
        if self.workflow == before {
            return Ok(());
        }
        self.redo.clear();
        self.revision += 1;
        match self.undo.last() {
            Some((_, Some(previous))) if command.merges_with(previous) => {
                if let Some(last) = self.undo.last_mut() {
                    last.1 = Some(command);
                }
            }
            _ => {
                self.undo.push((before, Some(command)));
                if self.undo.len() > HISTORY_LIMIT {
                    self.undo.remove(0);
                }
            }
        }
        Ok(())
    }
}

/// Checks that a wire may be made: both ports exist, their types match, and it makes no cycle.
pub fn check_wire(workflow: &Workflow, catalog: &Catalog, edge: &Edge) -> Result<(), CommandError> {
    let spec_of = |id: &str| -> Result<_, CommandError> {
        let node = workflow.node(id).ok_or_else(|| CommandError::UnknownNode(id.to_owned()))?;
        Ok(catalog.get(&node.kind).map(|e| e.spec.clone()))
    };
    let (Some(from), Some(to)) = (spec_of(&edge.from.node)?, spec_of(&edge.to.node)?) else {
        return Err(CommandError::Wire("a block of unknown kind cannot be wired".into()));
    };
    let (_, out) = from
        .output_port(&edge.from.port)
        .ok_or_else(|| CommandError::Wire(format!("{} has no output \"{}\"", from.name, edge.from.port)))?;
    let (_, inp) = to
        .input_port(&edge.to.port)
        .ok_or_else(|| CommandError::Wire(format!("{} has no input \"{}\"", to.name, edge.to.port)))?;
    if out.ty != inp.ty {
        return Err(CommandError::Wire(format!(
            "{} \"{}\" takes a {}, but {} \"{}\" gives a {}",
            to.name,
            inp.name,
            inp.ty.label(),
            from.name,
            out.name,
            out.ty.label()
        )));
    }
    if edge.from.node == edge.to.node || ancestors(workflow, &edge.from.node).contains(&edge.to.node) {
        return Err(CommandError::Wire("this wire would make a cycle: a block cannot depend on its own output".into()));
    }
    Ok(())
}

fn node_mut<'a>(workflow: &'a mut Workflow, id: &str) -> Result<&'a mut pipewright_engine::Node, CommandError> {
    workflow.node_mut(id).ok_or_else(|| CommandError::UnknownNode(id.to_owned()))
}

/// A fresh id based on `base` that no node in `taken` has: `base`, else `stem_2`, `stem_3`, ….
pub fn fresh_id<S: std::hash::BuildHasher>(base: &str, taken: &HashSet<String, S>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    let stem = base.trim_end_matches(|c: char| c.is_ascii_digit()).trim_end_matches('_');
    // `taken` is finite, so one of its length + 2 candidates is free.
    (2..=taken.len() + 2).map(|n| format!("{stem}_{n}")).find(|id| !taken.contains(id)).unwrap_or_default()
}

fn apply_to(workflow: &mut Workflow, command: &Command, catalog: &Catalog) -> Result<(), CommandError> {
    match command {
        Command::Replace(replacement) => *workflow = (**replacement).clone(),
        Command::AddNode(node) => {
            if workflow.node(&node.id).is_some() {
                return Err(CommandError::DuplicateId(node.id.clone()));
            }
            workflow.nodes.push(node.clone());
        }
        Command::RemoveNodes(ids) => {
            for id in ids {
                if workflow.node(id).is_none() {
                    return Err(CommandError::UnknownNode(id.clone()));
                }
            }
            workflow.nodes.retain(|n| !ids.contains(&n.id));
            workflow.edges.retain(|e| !ids.contains(&e.from.node) && !ids.contains(&e.to.node));
            for comment in &mut workflow.comments {
                comment.nodes.retain(|n| !ids.contains(n));
            }
        }
        Command::MoveNodes(moves) => {
            for (id, position) in moves {
                node_mut(workflow, id)?.position = *position;
            }
        }
        Command::SetParam { node, param, value } => {
            let node = node_mut(workflow, node)?;
            if value.is_null() {
                node.params.remove(param);
            } else {
                node.params.insert(param.clone(), value.clone());
            }
        }
        Command::SetTitle { node, title } => node_mut(workflow, node)?.title = title.clone().filter(|t| !t.is_empty()),
        Command::Connect(edge) => {
            check_wire(workflow, catalog, edge)?;
            workflow.edges.retain(|e| e.to != edge.to);
            workflow.edges.push(edge.clone());
        }
        Command::Disconnect(edge) => workflow.edges.retain(|e| e != edge),
        Command::Paste { nodes, edges } => {
            let mut taken: HashSet<String> = workflow.nodes.iter().map(|n| n.id.clone()).collect();
            let mut renamed = std::collections::HashMap::new();
            for node in nodes {
                let id = fresh_id(&node.id, &taken);
                taken.insert(id.clone());
                renamed.insert(node.id.clone(), id.clone());
                workflow.nodes.push(pipewright_engine::Node { id, ..node.clone() });
            }
            for edge in edges {
                let (Some(from), Some(to)) = (renamed.get(&edge.from.node), renamed.get(&edge.to.node)) else {
                    continue;
                };
                let mut edge = edge.clone();
                edge.from.node.clone_from(from);
                edge.to.node.clone_from(to);
                workflow.edges.push(edge);
            }
        }
        Command::PutComment(comment) => match workflow.comments.iter_mut().find(|c| c.id == comment.id) {
            Some(existing) => *existing = comment.clone(),
            None => workflow.comments.push(comment.clone()),
        },
        Command::MoveComment { id, position, nodes } => {
            let comment = workflow
                .comments
                .iter_mut()
                .find(|c| &c.id == id)
                .ok_or_else(|| CommandError::UnknownNode(id.clone()))?;
            comment.position = *position;
            for (node, position) in nodes {
                node_mut(workflow, node)?.position = *position;
            }
        }
        Command::RemoveComment(id) => workflow.comments.retain(|c| &c.id != id),
        Command::Rename(name) => workflow.name.clone_from(name),
        Command::SetSeed(seed) => workflow.seed = *seed,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_engine::{Node, PortRef};
    use pipewright_nodes::data::SampleDataset;
    use pipewright_nodes::model::LinearRegression;
    use pipewright_nodes::transform::SplitData;
    use serde_json::json;

    fn node(id: &str, kind: &str) -> Node {
        Node {
            id: id.into(),
            kind: kind.into(),
            title: None,
            params: std::collections::BTreeMap::new(),
            position: [0.0, 0.0],
        }
    }

    fn wire(from: &str, fp: &str, to: &str, tp: &str) -> Edge {
        Edge { from: PortRef::new(from, fp), to: PortRef::new(to, tp) }
    }

    fn doc() -> (Document, Catalog) {
        let catalog = pipewright_nodes::catalog();
        let mut doc = Document::new(Workflow::new("test"));
        for (id, kind) in [("data", SampleDataset::ID), ("split", SplitData::ID), ("lr", LinearRegression::ID)] {
            doc.apply(Command::AddNode(node(id, kind)), &catalog).expect("add");
        }
        (doc, catalog)
    }

    #[test]
    fn every_edit_undoes_and_redoes() {
        let (mut doc, catalog) = doc();
        doc.apply(Command::Connect(wire("data", "data", "split", "data")), &catalog).expect("connect");
        doc.apply(Command::SetParam { node: "split".into(), param: "fraction".into(), value: json!(0.8) }, &catalog)
            .expect("set");
        let edited = doc.workflow().clone();
        assert!(doc.undo());
        assert!(doc.workflow().node("split").expect("split").params.is_empty());
        assert!(doc.undo());
        assert!(doc.workflow().edges.is_empty());
        assert!(doc.redo() && doc.redo());
        assert_eq!(doc.workflow(), &edited);
        assert!(!doc.redo());
    }

    #[test]
    fn a_drag_and_typing_are_one_undo_step_each() {
        let (mut doc, catalog) = doc();
        let steps_before = doc.undo.len();
        for x in 0..10 {
            doc.apply(Command::MoveNodes(vec![("data".into(), [x as f32, 0.0])]), &catalog).expect("move");
        }
        for text in ["0", "0.", "0.9"] {
            doc.apply(
                Command::SetParam { node: "split".into(), param: "fraction".into(), value: json!(text) },
                &catalog,
            )
            .expect("set");
        }
        assert_eq!(doc.undo.len(), steps_before + 2);
        doc.undo();
        doc.undo();
        assert_eq!(doc.workflow().node("data").expect("data").position, [0.0, 0.0]);
    }

    #[test]
    fn wrong_wires_and_cycles_are_refused_with_a_reason_and_change_nothing() {
        let (mut doc, catalog) = doc();
        let before = doc.workflow().clone();
        let err =
            doc.apply(Command::Connect(wire("lr", "learner", "split", "data")), &catalog).expect_err("type mismatch");
        assert_eq!(
            err.to_string(),
            "Split Data \"data\" takes a Table, but Linear Regression \"learner\" gives a Learner"
        );
        doc.apply(Command::AddNode(node("split2", SplitData::ID)), &catalog).expect("add");
        doc.apply(Command::Connect(wire("split", "first", "split2", "data")), &catalog).expect("connect");
        let err = doc.apply(Command::Connect(wire("split2", "first", "split", "data")), &catalog).expect_err("cycle");
        assert!(err.to_string().contains("cycle"), "{err}");
        doc.undo();
        doc.undo();
        assert_eq!(doc.workflow(), &before);
    }

    #[test]
    fn a_new_wire_replaces_the_one_feeding_the_same_input() {
        let (mut doc, catalog) = doc();
        doc.apply(Command::AddNode(node("data2", SampleDataset::ID)), &catalog).expect("add");
        doc.apply(Command::Connect(wire("data", "data", "split", "data")), &catalog).expect("connect");
        doc.apply(Command::Connect(wire("data2", "data", "split", "data")), &catalog).expect("connect");
        assert_eq!(doc.workflow().edges, [wire("data2", "data", "split", "data")]);
    }

    #[test]
    fn pasting_renames_clashing_ids_and_keeps_inner_wires() {
        let (mut doc, catalog) = doc();
        let nodes = vec![node("data", SampleDataset::ID), node("split", SplitData::ID)];
        let edges = vec![wire("data", "data", "split", "data"), wire("elsewhere", "data", "split", "data")];
        doc.apply(Command::Paste { nodes, edges }, &catalog).expect("paste");
        assert!(doc.workflow().node("data_2").is_some() && doc.workflow().node("split_2").is_some());
        assert_eq!(doc.workflow().edges, [wire("data_2", "data", "split_2", "data")]);
    }

    #[test]
    fn removing_nodes_removes_their_wires_and_dirty_tracks_the_saved_file() {
        let (mut doc, catalog) = doc();
        doc.apply(Command::Connect(wire("data", "data", "split", "data")), &catalog).expect("connect");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.flow.json");
        doc.save(Some(&path)).expect("save");
        assert!(!doc.is_dirty());
        doc.apply(Command::RemoveNodes(vec!["data".into()]), &catalog).expect("remove");
        assert!(doc.workflow().edges.is_empty());
        assert!(doc.is_dirty());
        doc.undo();
        assert!(!doc.is_dirty(), "undoing back to the saved state is clean");
        assert_eq!(Document::open(&path).expect("open").workflow(), doc.workflow());
        assert_eq!(
            doc.apply(Command::RemoveNodes(vec!["ghost".into()]), &catalog),
            Err(CommandError::UnknownNode("ghost".into()))
        );
    }
}
