//! The `pipewright` binary as a user drives it: exit codes, messages that name the node and the
//! problem, JSON output, and the on-disk cache across processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn pipewright(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A copy of an example project in a scratch folder, so runs never write into the repository.
fn scratch_example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = repo_root().join("projects").join(name);
    for entry in std::fs::read_dir(&from).expect("project").flatten() {
        if entry.file_name().to_string_lossy().ends_with(".flow.json") {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
    }
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn write_flow(dir: &Path, name: &str, nodes: &Json, edges: &Json) -> PathBuf {
    let flow =
        json!({"format": "pipewright.workflow", "version": 1, "name": name, "seed": 0, "nodes": nodes, "edges": edges});
    let path = dir.join(format!("{name}.flow.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
    path
}

fn edge(from: &str, fp: &str, to: &str, tp: &str) -> Json {
    json!({"from": {"node": from, "port": fp}, "to": {"node": to, "port": tp}})
}

#[test]
fn run_prints_metrics_then_serves_the_second_run_from_the_cache() {
    let (_keep, project) = scratch_example("diabetes-regression");
    let first = pipewright(&["run", "."], &project);
    assert!(first.status.success(), "{}", text(&first));
    let out = text(&first);
    assert!(
        out.contains("OLS vs ridge") && out.contains("rmse") && out.contains("Succeeded: 10 nodes, 0 from cache"),
        "{out}"
    );
    let second = pipewright(&["run", ".", "--json"], &project);
    assert!(second.status.success(), "{}", text(&second));
    let result: Json = serde_json::from_slice(&second.stdout).expect("one JSON document on stdout");
    let nodes = result["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 10);
    assert!(
        nodes.iter().all(|n| n["status"] == "cached" && n["cache"] == "disk" && n["cache_hit"] == true),
        "{result:#}"
    );
    let r2 = result["metrics"]["evaluate"]["scored"]["r2"].as_f64().expect("r2");
    assert!((r2 - 0.3533).abs() < 1e-3, "{r2}");
    // --set on the last node re-runs that node alone.
    let third = pipewright(&["run", ".", "--json", "--set", "evaluate.silhouette_sample=100"], &project);
    let result: Json = serde_json::from_slice(&third.stdout).expect("json");
    let ran: Vec<&str> = result["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["status"] == "finished")
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ran, ["evaluate"]);
}

#[test]
fn run_up_to_a_node_runs_only_what_it_needs() {
    let (_keep, project) = scratch_example("iris-clustering");
    let out = pipewright(&["run", ".", "--json", "--to", "normalize", "--no-cache"], &project);
    assert!(out.status.success(), "{}", text(&out));
    let result: Json = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = result["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, ["data", "normalize"]);
    assert!(!project.join(".pipewright/cache").exists(), "--no-cache writes nothing");
}

#[test]
fn a_failing_node_exits_1_and_names_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two-class logistic regression on iris, which has three classes.
    let path = write_flow(
        dir.path(),
        "wrong-learner",
        &json!([
            {"id": "iris", "kind": "data.sample_dataset", "params": {"dataset": "iris"}},
            {"id": "lr", "kind": "model.logistic_regression_two_class"},
            {"id": "train", "kind": "train.train_model"}
        ]),
        &json!([edge("lr", "learner", "train", "learner"), edge("iris", "data", "train", "data")]),
    );
    let out = pipewright(&["run", path.to_str().expect("path")], dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("FAILED    train (Train Model)") && all.contains("exactly two classes") && all.contains("has 3"),
        "{all}"
    );
}

#[test]
fn a_malformed_csv_is_reported_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("data.csv"), "id,score\n1,10\n2,11\n3,eleven\n").expect("csv");
    std::fs::write(dir.path().join("ragged.csv"), "a,b\n1,2\n3,4,5\n").expect("csv");
    for (file, needle) in
        [("data.csv", "line 4, column 2 (\"score\")"), ("ragged.csv", "line 3: expected 2 fields, found 3")]
    {
        let path = write_flow(
            dir.path(),
            "import",
            &json!([{"id": "import", "kind": "data.import_data", "params": {"path": file, "infer_rows": 2}}]),
            &json!([]),
        );
        let out = pipewright(&["run", path.to_str().expect("path"), "--no-cache"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(needle), "{file}: {}", text(&out));
        assert!(text(&out).contains("import (Import Data)"), "{}", text(&out));
    }
}

#[test]
fn validate_lists_every_problem_of_broken_files_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, PathBuf, Vec<&str>)> = vec![
        (
            "cycle",
            write_flow(
                dir.path(),
                "cycle",
                &json!([{"id": "a", "kind": "transform.select_columns"}, {"id": "b", "kind": "transform.select_columns"}]),
                &json!([edge("a", "data", "b", "data"), edge("b", "data", "a", "data")]),
            ),
            vec!["node \"a\": is part of a cycle", "node \"b\": is part of a cycle"],
        ),
        (
            "unknown kind",
            write_flow(
                dir.path(),
                "unknown",
                &json!([{"id": "x", "kind": "transform.teleport", "params": {"speed": 9}}]),
                &json!([]),
            ),
            vec!["node \"x\": unknown kind \"transform.teleport\""],
        ),
        (
            "type mismatch",
            write_flow(
                dir.path(),
                "mismatch",
                &json!([{"id": "lr", "kind": "model.linear_regression"}, {"id": "sel", "kind": "transform.select_columns"}]),
                &json!([edge("lr", "learner", "sel", "data")]),
            ),
            vec![
                "node \"sel\": wrong port type: input \"data\" takes a Table but is wired from lr.learner which gives a Learner",
            ],
        ),
        (
            "missing input",
            write_flow(dir.path(), "missing", &json!([{"id": "score", "kind": "train.score_model"}]), &json!([])),
            vec!["node \"score\": missing required input \"model\"", "node \"score\": missing required input \"data\""],
        ),
        (
            "bad parameter",
            write_flow(
                dir.path(),
                "param",
                &json!([
                    {"id": "iris", "kind": "data.sample_dataset", "params": {"dataset": "mnist"}},
                    {"id": "split", "kind": "transform.split_data", "params": {"fraction": 1.5, "stratify_column": "colour"}}
                ]),
                &json!([edge("iris", "data", "split", "data")]),
            ),
            vec![
                "node \"iris\": parameter \"dataset\": \"mnist\" is not one of",
                "node \"split\": parameter \"fraction\": must be between 0 and 1, got 1.5",
            ],
        ),
        (
            "unknown column",
            write_flow(
                dir.path(),
                "column",
                &json!([
                    {"id": "iris", "kind": "data.sample_dataset", "params": {"dataset": "iris"}},
                    {"id": "split", "kind": "transform.split_data", "params": {"stratify_column": "colour"}}
                ]),
                &json!([edge("iris", "data", "split", "data")]),
            ),
            vec!["node \"split\": parameter \"stratify_column\": column \"colour\" is not in input \"data\""],
        ),
    ];
    for (case, path, needles) in cases {
        for command in ["validate", "run"] {
            let out = pipewright(&[command, path.to_str().expect("path")], dir.path());
            assert_eq!(out.status.code(), Some(2), "{case} ({command}): {}", text(&out));
            for needle in &needles {
                assert!(text(&out).contains(needle), "{case} ({command}): missing {needle:?} in\n{}", text(&out));
            }
        }
    }
    let malformed = dir.path().join("malformed.flow.json");
    std::fs::write(&malformed, "{\n  \"format\": \"pipewright.workflow\",\n  \"version\": 1\n  \"name\": \"x\"\n}\n")
        .expect("write");
    let out = pipewright(&["validate", malformed.to_str().expect("path")], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("malformed JSON at line 4"), "{}", text(&out));
}

#[test]
fn validate_checks_columns_of_imported_files_before_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Import Data peeks at its file, so columns of user data are checked before anything runs.
    std::fs::write(dir.path().join("people.csv"), "name,age,city\nAda,36,London\n").expect("csv");
    let path = write_flow(
        dir.path(),
        "imported",
        &json!([
            {"id": "people", "kind": "data.import_data", "params": {"path": "people.csv"}},
            {"id": "split", "kind": "transform.split_data", "params": {"stratify_column": "town"}}
        ]),
        &json!([edge("people", "data", "split", "data")]),
    );
    let out = pipewright(&["validate", path.to_str().expect("path")], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("column \"town\" is not in input \"data\" (it has: name, age, city)"),
        "{}",
        text(&out)
    );
}

#[test]
fn validate_accepts_every_example() {
    for name in ["titanic-two-class", "penguins-multiclass", "diabetes-regression", "iris-clustering", "titanic-deploy"]
    {
        let out = pipewright(&["validate", &format!("projects/{name}")], &repo_root());
        assert!(out.status.success(), "{name}: {}", text(&out));
        assert!(text(&out).contains("valid ("), "{}", text(&out));
    }
}

#[test]
fn nodes_lists_the_catalog_as_text_and_json() {
    let out = pipewright(&["nodes", "--json"], &repo_root());
    assert!(out.status.success());
    let specs: Json = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = specs.as_array().expect("array").iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.contains(&"transform.split_data") && ids.contains(&"evaluate.evaluate_model"), "{ids:?}");
    let split = specs.as_array().expect("array").iter().find(|s| s["id"] == "transform.split_data").expect("split");
    assert_eq!(split["outputs"][1]["name"], "second");
    let out = pipewright(&["nodes"], &repo_root());
    assert!(text(&out).contains("Split Data  (transform.split_data)"), "{}", text(&out));
}

#[test]
fn bad_overrides_and_devices_are_refused_clearly() {
    let (_keep, project) = scratch_example("iris-clustering");
    let out = pipewright(&["run", ".", "--set", "nosuch.k=3"], &project);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("there is no node \"nosuch\""), "{}", text(&out));
    let out = pipewright(&["run", ".", "--set", "kmeans.clusters=0"], &project);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("node \"kmeans\": parameter \"clusters\": must be between 1"), "{}", text(&out));
    let out = pipewright(&["run", ".", "--device", "tpu"], &project);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unknown device \"tpu\""), "{}", text(&out));
}

#[test]
fn every_run_is_recorded_in_the_project_store_and_listed() {
    let (_keep, dir) = scratch_example("iris-clustering");
    let first = pipewright(&["run", ".", "--json"], &dir);
    assert!(first.status.success(), "{}", text(&first));
    let result: Json = serde_json::from_slice(&first.stdout).expect("json");
    let run = result["run"].as_i64().expect("the run's number in the store");
    let second = pipewright(&["run", ".", "--set", "kmeans.clusters=4"], &dir);
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("Recorded as run"), "{}", text(&second));

    let listed = pipewright(&["runs", "--json"], &dir);
    assert!(listed.status.success(), "{}", text(&listed));
    let runs: Json = serde_json::from_slice(&listed.stdout).expect("json");
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["id"].as_i64(), Some(run), "newest first");
    assert!(runs.iter().all(|r| r["status"] == "succeeded" && r["source"] == "cli" && r["device"] == "auto"));
    assert_eq!(runs[0]["headline"]["name"], "silhouette");
    let table = text(&pipewright(&["runs"], &dir));
    assert!(table.contains("succeeded") && table.contains("silhouette"), "{table}");

    let shown = pipewright(&["runs", "show", &run.to_string(), "--json"], &dir);
    let shown: Json = serde_json::from_slice(&shown.stdout).expect("json");
    let nodes = shown["nodes"].as_array().expect("nodes");
    assert!(nodes.iter().any(|n| n["kind"] == "train.train_clustering_model" && n["device"] == "cpu"), "{shown}");
    assert!(shown["metrics"].as_array().is_some_and(|m| m.iter().any(|m| m["name"] == "inertia")), "{shown}");
    let missing = pipewright(&["runs", "show", "999"], &dir);
    assert!(!missing.status.success() && text(&missing).contains("no run 999"), "{}", text(&missing));
}

#[test]
fn a_foreign_file_in_place_of_the_store_is_left_alone_and_the_run_still_runs() {
    let (_keep, dir) = scratch_example("iris-clustering");
    std::fs::create_dir_all(dir.join(".pipewright")).expect("mkdir");
    let store = dir.join(".pipewright").join("project.db");
    std::fs::write(&store, b"my own notes").expect("write");
    let output = pipewright(&["run", "."], &dir);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("not a Pipewright project store"), "{}", text(&output));
    assert_eq!(std::fs::read(&store).expect("read"), b"my own notes", "never overwritten");
    let listed = pipewright(&["runs"], &dir);
    assert!(!listed.status.success() && text(&listed).contains("not a Pipewright project store"), "{}", text(&listed));
}

#[test]
fn models_are_registered_from_a_recorded_run_and_moved_between_stages() {
    let (_keep, dir) = scratch_example("titanic-two-class");
    let run = pipewright(&["run", ".", "--json"], &dir);
    assert!(run.status.success(), "{}", text(&run));
    let run: Json = serde_json::from_slice(&run.stdout).expect("json");
    let id = run["run"].as_i64().expect("recorded").to_string();

    // The run's trained models, reports and small tables were kept by content hash.
    let store = pipewright_store::Store::open(&pipewright_store::store_path(&dir)).expect("opens");
    let artifacts = store.artifacts_of(id.parse().expect("number")).expect("lists");
    let kinds = |kind: &str| artifacts.iter().filter(|a| a.kind == kind).count();
    assert_eq!(kinds("model"), 2, "{artifacts:?}");
    assert_eq!(kinds("report"), 1, "{artifacts:?}");
    assert!(kinds("table") >= 1 && kinds("transform") >= 1, "{artifacts:?}");
    for a in &artifacts {
        assert!(store.read_artifact(&a.hash).is_ok(), "{a:?}");
    }
    drop(store);

    let empty = pipewright(&["models", "list"], &dir);
    assert!(empty.status.success() && text(&empty).contains("No registered models yet"), "{}", text(&empty));
    let registered = pipewright(&["models", "register", &id, "train_forest", "--name", "survival"], &dir);
    assert!(registered.status.success(), "{}", text(&registered));
    assert!(text(&registered).contains("Registered survival version 1"), "{}", text(&registered));
    let again =
        pipewright(&["models", "register", &id, "train_logistic", "--name", "survival", "--notes", "simpler"], &dir);
    assert!(text(&again).contains("version 2"), "{}", text(&again));
    let wrong = pipewright(&["models", "register", &id, "evaluate", "--name", "survival"], &dir);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("produced no trained model") && text(&wrong).contains("train_forest"),
        "{}",
        text(&wrong)
    );

    let staged = pipewright(&["models", "stage", "survival", "1", "production"], &dir);
    assert!(staged.status.success(), "{}", text(&staged));
    let swapped = pipewright(&["models", "stage", "survival", "2", "production", "--notes", "better calibrated"], &dir);
    assert!(text(&swapped).contains("version 1 moved from production to staging"), "{}", text(&swapped));
    let bad = pipewright(&["models", "stage", "survival", "2", "live"], &dir);
    assert!(!bad.status.success() && text(&bad).contains("none, staging or production"), "{}", text(&bad));

    let listed = pipewright(&["models", "list", "--json"], &dir);
    let listed: Json = serde_json::from_slice(&listed.stdout).expect("json");
    let versions: Vec<(i64, &str, &str)> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|v| {
            (v["version"].as_i64().unwrap_or(0), v["stage"].as_str().unwrap_or(""), v["notes"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(versions, vec![(2, "production", "better calibrated"), (1, "staging", "")]);
    assert!(listed[0]["metrics"].as_array().is_some_and(|m| m.iter().any(|m| m["name"] == "roc_auc")), "{listed}");
    // A version keeps the metrics of its own model: the forest was evaluated on Evaluate Model's second input.
    let forest = listed[1]["metrics"].as_array().expect("metrics");
    assert!(!forest.is_empty() && forest.iter().all(|m| m["source"] == "scored_2"), "{listed}");
    let table = text(&pipewright(&["models", "list"], &dir));
    assert!(table.contains("survival") && table.contains("production") && table.contains("roc_auc"), "{table}");
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_store_that_opens_with_the_run_interrupted() {
    let (_keep, dir) = scratch_example("titanic-two-class");
    // The logistic branch becomes a large network that trains for minutes; the forest branch finishes first.
    let path = dir.join("titanic.flow.json");
    let mut flow: Json = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    for node in flow["nodes"].as_array_mut().expect("nodes") {
        if node["id"] == "logistic" {
            node["kind"] = json!("model.neural_network");
            node["params"] = json!({"hidden_layers": "512,512", "max_epochs": 100_000, "tolerance": 0.0,
                "epochs_without_improvement": 100_000});
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", "."])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let store_file = pipewright_store::store_path(&dir);
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
    let run = loop {
        assert!(std::time::Instant::now() < deadline, "the run never recorded its forest");
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Ok(store) = pipewright_store::Store::open(&store_file) else { continue };
        let Some(run) = store.runs().ok().and_then(|r| r.first().map(|r| r.id)) else { continue };
        if store.nodes_of(run).is_ok_and(|nodes| nodes.iter().any(|n| n.node == "train_forest")) {
            break run;
        }
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let listed = pipewright(&["runs", "--json"], &dir);
    assert!(listed.status.success(), "{}", text(&listed));
    let runs: Json = serde_json::from_slice(&listed.stdout).expect("json");
    assert_eq!(runs[0]["id"].as_i64(), Some(run));
    assert_eq!(runs[0]["status"], "interrupted", "{runs}");
    let store = pipewright_store::Store::open(&store_file).expect("opens");
    let nodes = store.nodes_of(run).expect("lists");
    assert!(nodes.iter().any(|n| n.node == "train_forest" && n.status == "finished"), "{nodes:?}");
    assert!(!nodes.iter().any(|n| n.node == "train_logistic"), "it never finished: {nodes:?}");
    assert!(store.artifacts_of(run).expect("lists").iter().any(|a| a.node == "train_forest" && a.kind == "model"));
    // The project goes on: the next run is recorded beside the interrupted one.
    drop(store);
    std::fs::write(
        &path,
        std::fs::read(repo_root().join("projects/titanic-two-class/titanic.flow.json")).expect("read"),
    )
    .expect("write");
    let next = pipewright(&["run", "."], &dir);
    assert!(next.status.success(), "{}", text(&next));
    let runs: Json = serde_json::from_slice(&pipewright(&["runs", "--json"], &dir).stdout).expect("json");
    assert_eq!((runs[0]["status"].as_str(), runs[1]["status"].as_str()), (Some("succeeded"), Some("interrupted")));
}

/// The designer's runtime and `pipewright run` recording into one project at the same time.
#[cfg(feature = "gui")]
#[test]
fn the_designer_and_a_cli_run_record_into_one_project_at_once() {
    use pipewright_ui::{RecordTarget, RunSettings, Runtime};
    let (_keep, dir) = scratch_example("titanic-two-class");
    let flow = dir.join("titanic.flow.json");
    let cli = {
        let dir = dir.clone();
        std::thread::Builder::new()
            .name("pipewright-cli-runs".into())
            .spawn(move || (0..4).map(|_| pipewright(&["run", ".", "--no-cache"], &dir)).collect::<Vec<_>>())
            .expect("a thread for the CLI runs")
    };
    let catalog = std::sync::Arc::new(pipewright_nodes::catalog());
    let workflow = pipewright_engine::Workflow::load(&flow).expect("loads");
    let mut runtime = Runtime::default();
    let mut recorded = Vec::new();
    for _ in 0..4 {
        let settings = RunSettings {
            base_dir: dir.clone(),
            target: None,
            device: pipewright_engine::Device::Auto,
            disk_cache_dir: None,
            record: Some(RecordTarget { project: dir.clone(), workflow_file: flow.clone() }),
            memory_budget: None,
        };
        assert!(runtime.start(&workflow, &catalog, settings, || {}), "{:?}", runtime.last_refusal);
        let started = std::time::Instant::now();
        while runtime.is_running() {
            assert!(started.elapsed() < std::time::Duration::from_mins(2), "the designer's run never ended");
            std::thread::sleep(std::time::Duration::from_millis(10));
            runtime.poll();
        }
        assert!(runtime.last_run.as_ref().is_some_and(|r| r.success), "{:?}", runtime.last_run);
        recorded.push(runtime.last_record.clone().expect("recorded").expect("recorded without trouble"));
    }
    let outputs = cli.join().expect("the CLI runs");
    for output in &outputs {
        assert!(output.status.success(), "{}", text(output));
        assert!(!text(output).contains("warning"), "{}", text(output));
    }
    let store = pipewright_store::Store::open(&pipewright_store::store_path(&dir)).expect("opens");
    let runs = store.runs().expect("lists");
    assert_eq!(runs.len(), 8, "{runs:?} {}", outputs.iter().map(text).collect::<Vec<_>>().join("\n"));
    assert!(runs.iter().all(|r| r.status == pipewright_store::RunStatus::Succeeded), "{runs:?}");
    assert_eq!(runs.iter().filter(|r| r.source == "designer").count(), 4);
    for run in &runs {
        assert_eq!(store.nodes_of(run.id).expect("lists").len(), 13, "run {} is complete", run.id);
    }
    assert!(recorded.iter().all(|id| runs.iter().any(|r| r.id == *id && r.source == "designer")));
}

#[test]
fn the_wizard_profiles_a_file_recommends_with_reasons_and_writes_a_workflow_that_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("data")).expect("data folder");
    std::fs::copy(repo_root().join("assets/datasets/penguins.csv"), dir.path().join("data/penguins.csv"))
        .expect("copy");
    let out = pipewright(
        &["wizard", "--data", "data/penguins.csv", "--label", "species", "--compare", "3", "-o", "flows/p.flow.json"],
        dir.path(),
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for expected in [
        "344 rows, 8 columns",
        "19 missing cells: bill_length_mm 2",
        "Label: species: text, 3 values: Adelie 44 %, Gentoo 36 %, Chinstrap 20 %",
        "species has 3 categories (Adelie, Chinstrap, Gentoo): predict between several categories.",
        "▶ 1. Decision Forest (model.decision_forest)",
        "− only 344 rows: little data for its many weights",
        "Text columns island, sex become 5 indicator (0/1) columns.",
        "Wrote flows/p.flow.json (15 blocks",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
    let flow: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("flows/p.flow.json")).expect("written"))
            .expect("json");
    let data = flow["nodes"].as_array().and_then(|n| n.iter().find(|n| n["id"] == "data")).expect("data block");
    assert_eq!(data["params"]["path"], "../data/penguins.csv", "named relative to the workflow");
    let run = pipewright(&["run", "flows/p.flow.json", "--json"], dir.path());
    assert!(run.status.success(), "{}", text(&run));
    let result: Json = serde_json::from_slice(&run.stdout).expect("json");
    let evaluations = &result["metrics"]["evaluate"];
    for source in ["scored", "scored_2", "scored_3"] {
        assert!(evaluations[source]["accuracy"].as_f64().is_some_and(|a| a > 0.9), "{evaluations}");
    }

    // The file is kept unless --force; a wrong label, goal or algorithm is refused by name.
    let again = pipewright(&["wizard", "--data", "data/penguins.csv", "-o", "flows/p.flow.json"], dir.path());
    assert!(!again.status.success() && text(&again).contains("exists: choose another file or pass --force"));
    let wrong =
        pipewright(&["wizard", "--data", "data/penguins.csv", "--label", "kind", "-o", "x.flow.json"], dir.path());
    assert!(text(&wrong).contains("there is no column \"kind\" in data/penguins.csv (columns: species, island"));
    let goal = pipewright(&["wizard", "--data", "sample:iris", "--goal", "images", "-o", "x.flow.json"], dir.path());
    assert!(text(&goal).contains("Pipewright has no image blocks yet"), "{}", text(&goal));
    let needs = pipewright(
        &[
            "wizard",
            "--data",
            "sample:iris",
            "--goal",
            "values",
            "--label",
            "species",
            "--algorithm",
            "model.kmeans",
            "-o",
            "x.flow.json",
        ],
        dir.path(),
    );
    assert!(
        text(&needs).contains("model.kmeans is not among the algorithms for \"Predict values\""),
        "{}",
        text(&needs)
    );
    assert!(!dir.path().join("x.flow.json").exists());

    // JSON: the suggested goal and its reason, every recommendation with its reasons.
    let json = pipewright(&["wizard", "--data", "sample:diabetes", "--json", "-o", "d.flow.json"], dir.path());
    assert!(json.status.success(), "{}", text(&json));
    let doc: Json = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["goal"], "values");
    assert_eq!(doc["suggested_goal"]["goal"], "values");
    assert_eq!(doc["recommendations"].as_array().map(Vec::len), Some(9));
}

#[test]
fn a_packaged_model_scores_files_in_batch_and_serves_until_interrupted() {
    use std::io::{BufRead, BufReader};
    let (_dir, project) = scratch_example("titanic-deploy");
    let run = pipewright(&["run", "."], &project);
    assert!(run.status.success(), "{}", text(&run));
    let model = "models/titanic-survival.pwmodel";
    let passengers = repo_root().join("assets/datasets/titanic.csv");
    let passengers = passengers.to_str().expect("utf-8 path");

    // Batch: every passenger, extra columns passed through, predictions added.
    let scored = pipewright(&["score", model, passengers, "-o", "scored.csv"], &project);
    assert!(scored.status.success(), "{}", text(&scored));
    assert!(text(&scored).contains("Scored 1309 rows"), "{}", text(&scored));
    let csv = std::fs::read_to_string(project.join("scored.csv")).expect("written");
    let header = csv.lines().next().expect("header");
    assert!(header.starts_with("survived,pclass,name,"), "{header}");
    assert!(header.ends_with("Scored Labels,Scored Probabilities_no,Scored Probabilities_yes"), "{header}");
    assert_eq!(csv.lines().count(), 1310);
    let stdout = pipewright(&["score", model, passengers], &project);
    assert_eq!(String::from_utf8_lossy(&stdout.stdout).lines().count(), 1310, "CSV to standard output");

    // A file without a required column names it; a file that is not a package is refused.
    std::fs::write(project.join("no_sex.csv"), "pclass,age,sibsp,parch\n1,30,0,0\n").expect("write");
    let refused = pipewright(&["score", model, "no_sex.csv"], &project);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("column \"sex\": the column is missing"), "{}", text(&refused));
    let not_package = pipewright(&["score", "scored.csv", passengers], &project);
    assert_eq!(not_package.status.code(), Some(2));
    assert!(text(&not_package).contains("not valid JSON"), "{}", text(&not_package));

    // Serve on a free port until SIGINT, then stop gracefully.
    let mut server = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["serve", model, "--port", "0", "--token", "t0ken"])
        .current_dir(&project)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first.split(" at ").nth(1).expect("the URL").trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    let rest: Vec<String> = lines.by_ref().take(4).map(|l| l.expect("line")).collect();
    assert!(rest.iter().any(|l| l.contains("curl -s") && l.contains("Authorization: Bearer")), "{rest:?}");
    let health = pipewright_deploy::client::get(&format!("{url}/health"), None).expect("health");
    assert_eq!(health.status, 200, "{}", health.text());
    let record = json!({"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"});
    let answer = pipewright_deploy::client::post_json(&format!("{url}/score"), Some("t0ken"), &record).expect("score");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json().expect("json")["predictions"][0]["prediction"], "no");
    let interrupt = Command::new("kill").args(["-INT", &server.id().to_string()]).status().expect("kill");
    assert!(interrupt.success());
    let status = server.wait().expect("exits");
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
}

#[test]
fn the_wizard_tries_them_all_and_packages_the_winner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pipewright(&["wizard", "--data", "sample:titanic", "--try-all", "-o", "best.flow.json"], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let flow: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("best.flow.json")).expect("written"))
            .expect("json");
    let kinds: Vec<&str> = flow["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["kind"].as_str()).collect();
    for kind in
        ["train.train_best_model", "train.score_model", "evaluate.evaluate_model", "deploy.export_model_package"]
    {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(!kinds.contains(&"train.train_model"), "{kinds:?}");
    assert!(text(&out).contains("every learner tried by train.train_best_model"), "{}", text(&out));
    let run = pipewright(&["run", "best.flow.json", "--no-record", "--results", "results"], dir.path());
    assert!(run.status.success(), "{}", text(&run));
    let result: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results/result.json")).expect("result"))
            .expect("json");
    assert!(result["metrics"]["evaluate"]["scored"]["accuracy"].as_f64().is_some_and(|a| a > 0.75), "{result}");
    assert!(dir.path().join("models/titanic-best.pwmodel").is_file(), "the winner is packaged");
    let leaderboard = std::fs::read_dir(dir.path().join("results/outputs"))
        .expect("outputs")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("best.leaderboard."));
    assert!(leaderboard, "the leaderboard is kept");
    // Trying them all ranks learners by a label: not for finding structure.
    let out = pipewright(
        &["wizard", "--data", "sample:iris", "--goal", "structure", "--try-all", "-o", "x.flow.json"],
        dir.path(),
    );
    assert!(!out.status.success() && text(&out).contains("\"try them all\" ranks learners"), "{}", text(&out));
}
