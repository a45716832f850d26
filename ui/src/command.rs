//! Every change the designer makes to a workflow is a [`Command`], applied in one place
//! ([`crate::Document::apply`]); that is what gives undo and redo for parameters and graph edits alike.

use serde_json::Value as Json;

use pipewright_engine::{Comment, Edge, Node, Workflow};

/// One edit of the workflow document.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Adds a node (its id must be new).
    AddNode(Node),
    /// Removes nodes and every wire touching them.
    RemoveNodes(Vec<String>),
    /// Moves nodes to new canvas positions.
    MoveNodes(Vec<(String, [f32; 2])>),
    /// Sets a parameter; `Json::Null` returns it to the kind's default.
    SetParam {
        /// Node id.
        node: String,
        /// Parameter name.
        param: String,
        /// New value.
        value: Json,
    },
    /// Sets or clears a node's title.
    SetTitle {
        /// Node id.
        node: String,
        /// New title; `None` shows the kind's name.
        title: Option<String>,
    },
    /// Adds a wire; a wire already feeding the same input is replaced.
    Connect(Edge),
    /// Removes a wire.
    Disconnect(Edge),
    /// Adds nodes and the wires among them (pasted or duplicated); ids that clash are renamed.
    Paste {
        /// The nodes.
        nodes: Vec<Node>,
        /// Wires among them.
        edges: Vec<Edge>,
    },
    /// Adds or replaces a comment frame (by id).
    PutComment(Comment),
    /// Moves a comment frame and the nodes inside it (a drag of its title bar).
    MoveComment {
        /// Comment id.
        id: String,
        /// New top-left corner.
        position: [f32; 2],
        /// New positions of the nodes it holds.
        nodes: Vec<(String, [f32; 2])>,
    },
    /// Removes a comment frame.
    RemoveComment(String),
    /// Renames the workflow.
    Rename(String),
    /// Sets the workflow seed.
    SetSeed(u64),
    /// Replaces the whole workflow (a recorded run's snapshot restored); one undo step.
    Replace(Box<Workflow>),
}

impl Command {
    /// Whether this command and the previous one are one step for undo: consecutive moves of the same
    /// nodes (a drag), or consecutive edits of the same parameter (typing).
    pub fn merges_with(&self, previous: &Self) -> bool {
        match (self, previous) {
            (Self::MoveNodes(a), Self::MoveNodes(b)) => a.iter().map(|(id, _)| id).eq(b.iter().map(|(id, _)| id)),
            (Self::SetParam { node: n1, param: p1, .. }, Self::SetParam { node: n2, param: p2, .. }) => {
                n1 == n2 && p1 == p2
            }
            (Self::SetTitle { node: a, .. }, Self::SetTitle { node: b, .. })
            | (Self::MoveComment { id: a, .. }, Self::MoveComment { id: b, .. }) => a == b,
            (Self::Rename(_), Self::Rename(_)) => true,
            (Self::PutComment(a), Self::PutComment(b)) => a.id == b.id,
            _ => false,
        }
    }
}
