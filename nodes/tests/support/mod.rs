//! Helpers the learner test files share: small workflows built from `(id, kind, params)` nodes and
//! `"node.port"` wires, their run, and typed access to outputs; the bundled datasets as matrices.
//! Each test file uses a part of them.
#![allow(dead_code, reason = "every test binary compiles this module and uses only some helpers")]

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::{Edge, Model, Node, NodeStatus, PortRef, RunOptions, RunReport, Table, Value, Workflow};
use pipewright_nodes::frame::Matrix;

pub fn workflow(nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> Workflow {
    let mut wf = Workflow::new("learner tests");
    wf.seed = 1;
    for (id, kind, params) in nodes {
        let params = params.as_object().expect("params are a JSON object").clone().into_iter().collect();
        wf.nodes.push(Node { id: (*id).into(), kind: (*kind).into(), title: None, params, position: [0.0, 0.0] });
    }
    for (from, to) in edges {
        wf.edges.push(Edge { from: port(from), to: port(to) });
    }
    wf
}

pub fn port(text: &str) -> PortRef {
    let (node, port) = text.split_once('.').unwrap_or_else(|| panic!("\"{text}\" is not node.port"));
    PortRef::new(node, port)
}

pub struct Ran {
    pub workflow: Workflow,
    pub report: RunReport,
}

pub fn run(workflow: Workflow) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    match pipewright_engine::run(&workflow, &pipewright_nodes::catalog(), &options, &|_| {}) {
        Ok(report) => Ran { workflow, report },
        Err(e) => panic!("the run was refused: {e}"),
    }
}

impl Ran {
    pub fn value(&self, at: &str) -> &Value {
        let at = port(at);
        let node = self.workflow.node(&at.node).unwrap_or_else(|| panic!("no node {}", at.node));
        let outcome = self.report.node(&at.node).unwrap_or_else(|| panic!("{} did not run", at.node));
        assert!(outcome.status.is_success(), "{} did not succeed: {:?}", at.node, outcome.status);
        let catalog = pipewright_nodes::catalog();
        let entry = catalog.get(&node.kind).unwrap_or_else(|| panic!("unknown kind {}", node.kind));
        let (k, _) = entry.spec.output_port(&at.port).unwrap_or_else(|| panic!("no output {}", at.port));
        &outcome.outputs[k]
    }

    pub fn table(&self, at: &str) -> &Table {
        match self.value(at) {
            Value::Table(t) => t,
            other => panic!("{at} is not a table: {}", other.summary()),
        }
    }

    pub fn model(&self, at: &str) -> &Model {
        match self.value(at) {
            Value::Model(m) => m,
            other => panic!("{at} is not a model: {}", other.summary()),
        }
    }

    pub fn metric(&self, at: &str, name: &str) -> f64 {
        match self.value(at) {
            Value::Report(r) => r.evaluations[0].metric(name).unwrap_or_else(|| panic!("{at} has no metric {name}")),
            other => panic!("{at} is not a report: {}", other.summary()),
        }
    }

    pub fn error(&self, node: &str) -> &str {
        match &self.report.node(node).unwrap_or_else(|| panic!("{node} did not run")).status {
            NodeStatus::Failed(message) => message,
            other => panic!("{node} was expected to fail but is {other:?}"),
        }
    }
}

pub fn floats(t: &Table, name: &str) -> Vec<f64> {
    let column = t.frame.column(name).unwrap_or_else(|_| panic!("no column {name}"));
    let cast = column.cast(&DataType::Float64).unwrap_or_else(|e| panic!("{name}: {e}"));
    cast.f64().expect("f64").iter().map(|v| v.unwrap_or_else(|| panic!("{name} has a missing cell"))).collect()
}

pub fn texts(t: &Table, name: &str) -> Vec<String> {
    let column = t.frame.column(name).unwrap_or_else(|_| panic!("no column {name}"));
    let cast = column.cast(&DataType::String).unwrap_or_else(|e| panic!("{name}: {e}"));
    cast.str().expect("str").iter().map(|v| v.expect("no missing label").to_owned()).collect()
}

/// A fixture file under `tests/fixtures/`.
pub fn load_fixtures(file: &str) -> Json {
    let path = format!("{}/../tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A bundled dataset: its feature rows, the table and the label column.
pub fn dataset(name: &str) -> (Vec<Vec<f64>>, Table, String) {
    let ran = run(workflow(&[("d", "data.sample_dataset", json!({ "dataset": name }))], &[]));
    let table = ran.table("d.data").clone();
    let label = table.label().expect("a label").to_owned();
    let features: Vec<String> =
        table.frame.get_column_names().iter().map(ToString::to_string).filter(|c| *c != label).collect();
    let columns: Vec<Vec<f64>> = features.iter().map(|c| floats(&table, c)).collect();
    let rows = (0..table.height()).map(|i| columns.iter().map(|c| c[i]).collect()).collect();
    (rows, table, label)
}

/// Rows standardized with the mean and population standard deviation of `train` (a zero deviation
/// counts as one, as in scikit-learn).
pub fn standardized(rows: &[Vec<f64>], train: &[usize], pick: &[usize]) -> Matrix {
    let p = rows[0].len();
    let n = train.len() as f64;
    let mean: Vec<f64> = (0..p).map(|j| train.iter().map(|&i| rows[i][j]).sum::<f64>() / n).collect();
    let sd: Vec<f64> = (0..p)
        .map(|j| {
            let var = train.iter().map(|&i| (rows[i][j] - mean[j]).powi(2)).sum::<f64>() / n;
            if var > 0.0 { var.sqrt() } else { 1.0 }
        })
        .collect();
    let data = pick.iter().flat_map(|&i| (0..p).map(|j| (rows[i][j] - mean[j]) / sd[j]).collect::<Vec<_>>()).collect();
    Matrix { rows: pick.len(), cols: p, data }
}
