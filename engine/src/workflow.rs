//! The workflow document and its file format (`*.flow.json`).
//!
//! Files are pretty-printed JSON with a stable key order (struct fields in declaration order,
//! parameters sorted by name). `format` names the file type and `version` its layout; older
//! layouts go through [`migrate`]. A node whose kind the catalog does not know keeps its kind id and
//! parameters untouched, so loading and saving never drops anything.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::FileError;

/// The `format` field of every workflow file.
pub const FORMAT: &str = "pipewright.workflow";
/// The layout version this build writes.
pub const VERSION: u32 = 1;

/// A workflow: nodes, the wires between them, and canvas annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layout version, [`VERSION`] after loading.
    pub version: u32,
    /// Shown in the title bar and run history.
    pub name: String,
    /// Seed that stochastic nodes derive theirs from when they set none.
    #[serde(default)]
    pub seed: u64,
    /// Free text shown on the start page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The nodes in file order (required: a file without them is not a workflow, whatever else it holds).
    pub nodes: Vec<Node>,
    /// The wires.
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// Comment frames on the canvas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
}

/// One node: an instance of a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Stable id, unique in the workflow; edges, overrides and seeds refer to it.
    pub id: String,
    /// The kind id, such as `transform.normalize`.
    pub kind: String,
    /// A title shown instead of the kind's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Parameter values; missing ones take the kind's defaults.
    #[serde(default)]
    pub params: BTreeMap<String, Json>,
    /// Canvas position of the node's top-left corner.
    #[serde(default)]
    pub position: [f32; 2],
}

/// One end of a wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRef {
    /// Node id.
    pub node: String,
    /// Port name.
    pub port: String,
}

impl PortRef {
    /// A reference to `node`'s port `port`.
    pub fn new(node: impl Into<String>, port: impl Into<String>) -> Self {
        Self { node: node.into(), port: port.into() }
    }
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.node, self.port)
    }
}

/// A wire from an output port to an input port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    /// The output port.
    pub from: PortRef,
    /// The input port.
    pub to: PortRef,
}

/// A resizable coloured frame with a title; the nodes inside move with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Stable id.
    pub id: String,
    /// Title bar text.
    #[serde(default)]
    pub title: String,
    /// Body text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Top-left corner.
    #[serde(default)]
    pub position: [f32; 2],
    /// Width and height.
    #[serde(default)]
    pub size: [f32; 2],
    /// RGB colour.
    #[serde(default)]
    pub color: [u8; 3],
    /// Ids of the nodes it groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

impl Workflow {
    /// An empty workflow.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            name: name.into(),
            seed: 0,
            description: String::new(),
            nodes: Vec::new(),
            edges: Vec::new(),
            comments: Vec::new(),
        }
    }

    /// Parses a workflow file's text, migrating older layouts. A byte-order mark at the start is skipped, and
    /// a value of the wrong type is reported with its field path and line (`nodes[3].id: expected a string,
    /// found 7 (line 12)`).
    pub fn from_json(text: &str) -> Result<Self, FileError> {
        // Some editors on Windows start UTF-8 files with a byte-order mark; it is not part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw: Json = serde_json::from_str(text).map_err(|e| FileError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let current = raw.get("version").and_then(Json::as_u64) == Some(u64::from(VERSION));
        let raw = migrate(raw)?;
        let parsed = if current {
            // Read from the text itself, so that a wrong value is reported with its line.
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
        } else {
            serde_path_to_error::deserialize(raw)
        };
        parsed.map_err(|e| FileError::Layout(layout_message(&e)))
    }

    /// Pretty-printed JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Serializing plain structs, string maps and finite numbers cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Loads a workflow file.
    pub fn load(path: &Path) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::Io { path: path.to_owned(), message: e.to_string() })?;
        Self::from_json(&text)
    }

    /// Saves atomically: a temporary file beside the target, then a rename.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        write_atomic(path, self.to_json().as_bytes())
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node with this id, mutably.
    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// The wire into an input port, if any.
    pub fn edge_into(&self, node: &str, port: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.to.node == node && e.to.port == port)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let io = |e: std::io::Error| FileError::Io { path: path.to_owned(), message: e.to_string() };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// A serde error about a workflow's layout as a user reads it: the field path, what was expected and found,
/// and the line when known.
fn layout_message(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = error.inner();
    let mut message = inner.to_string();
    // serde_json appends the position itself; it is given as "(line N)" below.
    if inner.line() > 0
        && let Some(at) = message.rfind(" at line ")
    {
        message.truncate(at);
    }
    let path = error.path().to_string();
    let at_root = path == "." || path.is_empty();
    let message = if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        if at_root && field == "nodes" {
            "no \"nodes\" field: a workflow lists its blocks in \"nodes\": [ ... ] (an empty workflow has \"nodes\": [])"
                .to_owned()
        } else {
            format!("the field \"{field}\" is missing")
        }
    } else if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        format!("expected {expected}, found {}", found_value(found))
    } else {
        message
    };
    let located = if at_root { message } else { format!("{path}: {message}") };
    if inner.line() > 0 { format!("{located} (line {})", inner.line()) } else { located }
}

/// serde's description of an unexpected value (``integer `7` ``, `string "x"`, `map`) as the value itself.
fn found_value(found: &str) -> String {
    if let Some(start) = found.find('`')
        && let Some(end) = found.rfind('`')
        && end > start
    {
        return found[start + 1..end].to_owned();
    }
    if let Some(text) = found.strip_prefix("string ") {
        return text.to_owned();
    }
    match found {
        "map" => "an object".to_owned(),
        "sequence" => "an array".to_owned(),
        other => other.to_owned(),
    }
}

/// Brings a file of any known layout version to [`VERSION`].
///
/// Each future layout change adds one step `vN → vN+1` here; files newer than this build are refused
/// with a message rather than half-read.
pub fn migrate(mut raw: Json) -> Result<Json, FileError> {
    let Some(object) = raw.as_object_mut() else {
        return Err(FileError::Layout("a workflow file holds a JSON object at the top".into()));
    };
    match object.get("format").and_then(Json::as_str) {
        Some(FORMAT) => {}
        Some(other) => return Err(FileError::Layout(format!("\"format\" is \"{other}\", expected \"{FORMAT}\""))),
        None => {
            return Err(FileError::Layout(format!(
                "no \"format\" field: is this a Pipewright workflow (\"{FORMAT}\")?"
            )));
        }
    }
    let version = object
        .get("version")
        .and_then(Json::as_u64)
        .ok_or_else(|| FileError::Layout("no numeric \"version\" field".into()))?;
    if version > u64::from(VERSION) {
        return Err(FileError::Layout(format!(
            "the file has layout version {version}, this Pipewright reads up to {VERSION}: update Pipewright to open it"
        )));
    }
    if version == 0 {
        return Err(FileError::Layout("layout version 0 does not exist".into()));
    }
    // Version 1 is the first layout: no steps yet.
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Workflow {
        let mut wf = Workflow::new("demo");
        wf.seed = 42;
        wf.nodes.push(Node {
            id: "data".into(),
            kind: "vendor.reader".into(),
            title: Some("Iris".into()),
            params: BTreeMap::from([("dataset".into(), json!("iris"))]),
            position: [10.0, 20.0],
        });
        wf.nodes.push(Node {
            id: "mystery".into(),
            kind: "vendor.unknown_block".into(),
            title: None,
            params: BTreeMap::from([("zeta".into(), json!({"deep": [1, 2]})), ("alpha".into(), json!(3))]),
            position: [200.0, 20.0],
        });
        wf.edges.push(Edge { from: PortRef::new("data", "data"), to: PortRef::new("mystery", "in") });
        wf.comments.push(Comment {
            id: "c1".into(),
            title: "Input".into(),
            text: String::new(),
            position: [0.0, 0.0],
            size: [300.0, 200.0],
            color: [255, 200, 0],
            nodes: vec!["data".into()],
        });
        wf
    }

    #[test]
    fn round_trip_is_lossless_and_stable() {
        let wf = sample();
        let text = wf.to_json();
        let back = Workflow::from_json(&text).expect("parses");
        assert_eq!(back, wf);
        assert_eq!(back.to_json(), text, "saving twice gives the same bytes");
        // Parameters are written in sorted key order whatever order they were given in.
        assert!(text.find("\"alpha\"").expect("alpha") < text.find("\"zeta\"").expect("zeta"));
        // Unknown kinds keep their parameters verbatim.
        assert_eq!(back.node("mystery").expect("kept").params["zeta"], json!({"deep": [1, 2]}));
    }

    #[test]
    fn save_is_atomic_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.flow.json");
        sample().save(&path).expect("saves");
        assert_eq!(Workflow::load(&path).expect("loads"), sample());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = Workflow::from_json("{\n  \"format\": \"pipewright.workflow\",\n  \"version\": 1,,\n}")
            .expect_err("malformed");
        let FileError::Json { line, .. } = err else { panic!("expected a JSON error, got {err}") };
        assert_eq!(line, 3);
    }

    #[test]
    fn newer_and_foreign_files_are_refused_with_a_reason() {
        let newer = json!({"format": FORMAT, "version": VERSION + 1, "name": "x"}).to_string();
        assert!(Workflow::from_json(&newer).expect_err("newer").to_string().contains("update Pipewright"));
        let foreign = json!({"format": "other", "version": 1}).to_string();
        assert!(Workflow::from_json(&foreign).expect_err("foreign").to_string().contains("\"other\""));
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_field_path_and_line() {
        let text = "{\n  \"format\": \"pipewright.workflow\",\n  \"version\": 1,\n  \"name\": \"x\",\n  \"nodes\": [\n    {\"id\": \"a\", \"kind\": \"k\"},\n    {\"id\": \"b\", \"kind\": \"k\"},\n    {\"id\": \"c\", \"kind\": \"k\"},\n    {\n      \"kind\": \"k\",\n      \"id\": 7\n    }\n  ]\n}\n";
        let err = Workflow::from_json(text).expect_err("wrong type").to_string();
        assert!(err.contains("nodes[3].id: expected a string, found 7 (line 11)"), "{err}");
        let position = text.replace("\"kind\": \"k\",\n", "\"kind\": \"k\", \"position\": \"left\",\n");
        let err = Workflow::from_json(&position).expect_err("wrong type").to_string();
        assert!(err.contains("nodes[3].position: expected an array of length 2, found \"left\" (line 10)"), "{err}");
        let seed = json!({"format": FORMAT, "version": 1, "name": "x", "seed": "abc", "nodes": []}).to_string();
        let err = Workflow::from_json(&seed).expect_err("wrong type").to_string();
        assert!(err.contains("seed: expected u64, found \"abc\" (line 1)"), "{err}");
    }

    #[test]
    fn a_file_without_nodes_says_so_instead_of_listing_its_wires() {
        let text = json!({"format": FORMAT, "version": 1, "name": "x", "edges": [
            {"from": {"node": "a", "port": "data"}, "to": {"node": "b", "port": "data"}}
        ]})
        .to_string();
        let err = Workflow::from_json(&text).expect_err("no nodes").to_string();
        assert!(err.contains("no \"nodes\" field"), "{err}");
        assert!(!err.contains("wire"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let text = format!("\u{feff}{}", sample().to_json());
        assert_eq!(Workflow::from_json(&text).expect("a BOM is skipped"), sample());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bom.flow.json");
        std::fs::write(&path, text.as_bytes()).expect("write");
        assert_eq!(Workflow::load(&path).expect("loads"), sample());
    }

    #[test]
    fn missing_optional_fields_take_defaults() {
        let text =
            json!({"format": FORMAT, "version": 1, "name": "min", "nodes": [{"id": "a", "kind": "k"}]}).to_string();
        let wf = Workflow::from_json(&text).expect("parses");
        assert_eq!(wf.seed, 0);
        assert!(wf.nodes[0].params.is_empty());
        assert!(wf.edges.is_empty());
    }
}
