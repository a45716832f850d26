//! `pipewright run` on bad input as a user meets it: an export aimed at the project store or at the workflow
//! itself is refused before anything is written, and a workflow file with a wrong value or a byte-order mark
//! is reported or read the way a user expects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn pipewright(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn write_flow(dir: &Path, name: &str, nodes: &Json, edges: &Json) -> PathBuf {
    let flow =
        json!({"format": "pipewright.workflow", "version": 1, "name": name, "seed": 0, "nodes": nodes, "edges": edges});
    let path = dir.join(format!("{name}.flow.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
    path
}

fn export_flow(dir: &Path, name: &str, target: &str) -> PathBuf {
    write_flow(
        dir,
        name,
        &json!([
            {"id": "data", "kind": "data.import_data", "params": {"path": "data.csv"}},
            {"id": "export", "kind": "data.export_data", "params": {"path": target}}
        ]),
        &json!([{"from": {"node": "data", "port": "data"}, "to": {"node": "export", "port": "data"}}]),
    )
}

#[test]
fn an_export_over_the_run_history_or_the_workflow_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::write(root.join("data.csv"), b"x,y\n1,2\n3,4\n").expect("data");
    // A first run creates the store and records one run.
    let first = export_flow(root, "fine", "out.csv");
    let ran = pipewright(&["run", first.to_str().expect("utf-8")], root);
    assert!(ran.status.success(), "{}", text(&ran));
    let store = root.join(".pipewright/project.db");
    let before = std::fs::read(&store).expect("the store exists");

    for (name, target, words) in [
        ("history", ".pipewright/project.db", &["project store", ".pipewright/project.db"][..]),
        ("itself", "itself.flow.json", &["workflow file", "itself.flow.json"]),
        ("input", "data.csv", &["Import Data \"data\" reads", "data.csv"]),
    ] {
        let flow = export_flow(root, name, target);
        let flow_text = std::fs::read(&flow).expect("flow");
        let refused = pipewright(&["run", flow.to_str().expect("utf-8")], root);
        let out = text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{out}");
        assert!(out.contains("node \"export\"") && out.contains("Export Data"), "{out}");
        for w in words {
            assert!(out.contains(w), "{name}: \"{out}\" should say \"{w}\"");
        }
        assert_eq!(std::fs::read(&flow).expect("flow"), flow_text, "the workflow is untouched");
        let validated = pipewright(&["validate", flow.to_str().expect("utf-8")], root);
        assert_eq!(validated.status.code(), Some(2), "validate finds it too: {}", text(&validated));
    }
    assert_eq!(std::fs::read(root.join("data.csv")).expect("data"), b"x,y\n1,2\n3,4\n");
    assert!(before.starts_with(b"SQLite format 3"));
    assert!(std::fs::read(&store).expect("store").starts_with(b"SQLite format 3"), "still the store");
    let history = pipewright(&["runs", "--json"], root);
    assert!(history.status.success(), "the run history still opens: {}", text(&history));
    let runs: Json = serde_json::from_slice(&history.stdout).expect("json");
    assert!(runs.to_string().contains("fine"), "the first run is still recorded: {runs}");
}

#[test]
fn a_workflow_file_with_a_wrong_value_names_the_field_and_line_and_a_bom_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let flow = write_flow(
        root,
        "typed",
        &json!([{"id": "data", "kind": "data.sample_dataset", "params": {"dataset": "iris"}}, {"id": 7, "kind": "x"}]),
        &json!([]),
    );
    let out = pipewright(&["validate", flow.to_str().expect("utf-8")], root);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("nodes[1].id: expected a string, found 7 (line 15)"), "{}", text(&out));

    let good = write_flow(
        root,
        "bom",
        &json!([{"id": "data", "kind": "data.sample_dataset", "params": {"dataset": "iris"}}]),
        &json!([]),
    );
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), &std::fs::read(&good).expect("read")].concat();
    std::fs::write(&good, with_bom).expect("write");
    let out = pipewright(&["run", good.to_str().expect("utf-8"), "--no-record"], root);
    assert!(out.status.success(), "{}", text(&out));
}
