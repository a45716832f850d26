//! Fan-out without a cluster: a bundle exported with `--fan-out`, its tasks run by hand with `pipewright task`
//! (as a Slurm array index, a Kubernetes completion index or a Ray task runs them) and joined with
//! `pipewright combine`, gives exactly what a local run gives; missing and damaged pieces are named.
//! The same bundles on real engines are in `cluster.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

use pipewright_e2e::cluster::sweep_project;

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pipewright")
}

fn pipewright(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("json")
}

/// A kept output's bytes from a results folder: `outputs/NODE.PORT.*`.
fn output_bytes(results: &Path, node: &str, port: &str) -> Vec<u8> {
    let prefix = format!("{node}.{port}.");
    let file = std::fs::read_dir(results.join("outputs"))
        .expect("outputs")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .unwrap_or_else(|| panic!("no output {prefix}* in {}", results.display()));
    std::fs::read(file.path()).expect("output")
}

/// Whether two results folders hold the same output: tables equal in values, types and roles (their files may
/// be laid out differently: one went through the shared cache), anything else byte for byte.
fn same_output(a: &Path, b: &Path, node: &str, port: &str) -> bool {
    let (left, right) = (output_bytes(a, node, port), output_bytes(b, node, port));
    let table = |bytes: &[u8]| match pipewright_store::value_of_artifact("table", bytes) {
        Some(pipewright_engine::Value::Table(t)) => Some(t),
        _ => None,
    };
    match (table(&left), table(&right)) {
        (Some(l), Some(r)) => l.frame.equals_missing(&r.frame) && l.roles == r.roles,
        _ => left == right,
    }
}

/// Exports the sweep for Slurm with fan-out and these extra arguments.
fn export_fanned(flow: &Path, bundle: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["export", path(flow), "-o", path(bundle), "--target", "slurm", "--fan-out"];
    args.extend_from_slice(&["--gpus", "0", "--cpus", "1", "--memory", "1G", "--runner-path", binary()]);
    args.extend_from_slice(extra);
    pipewright(&args)
}

/// Runs every task of the bundle, two at a time; returns each run's output.
fn run_all_tasks(bundle: &Path, count: usize) -> Vec<Output> {
    let bundle = bundle.to_path_buf();
    let mut outputs = Vec::with_capacity(count);
    for pair in (0..count).collect::<Vec<_>>().chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|&i| {
                let bundle = bundle.clone();
                std::thread::spawn(move || pipewright(&["task", path(&bundle), "--index", &i.to_string()]))
            })
            .collect();
        outputs.extend(handles.into_iter().map(|h| h.join().expect("task thread")));
    }
    outputs
}

#[test]
fn fanned_out_tasks_and_their_combine_give_exactly_what_a_local_run_gives() {
    let work = tempfile::tempdir().expect("tempdir");
    let flow = sweep_project(work.path());
    let local = work.path().join("local");
    let out = pipewright(&["run", path(&flow), "--no-record", "--no-cache", "--results", path(&local)]);
    assert!(out.status.success(), "{}", text(&out));
    let local_result = read_json(&local.join("result.json"));

    // The bundle: the sweep (24 settings × 5 folds) and the cross-validation (5 folds) as 125 tasks; the
    // importance depends on the sweep's model, so it runs in the combine.
    let bundle = work.path().join("bundle");
    let out = export_fanned(&flow, &bundle, &["--at-once", "2", "--retries", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("task set: 125 tasks for 125 units of tune (120), cv (5); 1 retries each, 2 at once"),
        "{}",
        text(&out)
    );
    let list = read_json(&bundle.join("tasks/tasks.json"));
    assert_eq!(list["tasks"].as_array().map(Vec::len), Some(125));
    assert_eq!(list["tasks"][7]["units"][0]["label"], "setting 2 × fold 3");
    let inputs = list["blocks"][0]["inputs"].as_array().expect("inputs");
    // The learner, the training rows, no validation table.
    assert_eq!(inputs.iter().map(|i| i["node"].as_str()).collect::<Vec<_>>(), [Some("tree"), Some("split"), None]);
    let split_fingerprint = inputs[1]["fingerprint"].as_str().expect("fingerprint").to_owned();
    assert!(bundle.join("tasks/cache").join(&split_fingerprint).join("manifest.json").is_file());
    let array = std::fs::read_to_string(bundle.join("slurm/tasks.sbatch")).expect("array script");
    assert!(array.contains("#SBATCH --array=0-124%2") && array.contains("task.sh"), "{array}");
    let submit = std::fs::read_to_string(bundle.join("slurm/submit.sh")).expect("submit script");
    assert!(submit.contains("slurm/tasks.sbatch") && submit.contains("--dependency=afterok$after"), "{submit}");
    assert!(std::fs::read_to_string(bundle.join("README.md")).expect("readme").contains("## Fan-out"));

    // An index outside the list, and a combine before any task ran: each named.
    let out = pipewright(&["task", path(&bundle), "--index", "125"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("index 125 is not in the task list") && text(&out).contains("0 to 124"),
        "{}",
        text(&out)
    );
    let out = pipewright(&["combine", path(&bundle)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("125 of 125 tasks left no result"), "{}", text(&out));
    assert!(text(&out).contains("task 7 (setting 2 × fold 3 of block \"tune\") left no result"), "{}", text(&out));

    for (i, out) in run_all_tasks(&bundle, 125).iter().enumerate() {
        assert!(out.status.success(), "task {i}: {}", text(out));
    }
    // A task run again (an engine's retry) finds its units done.
    let out = pipewright(&["task", path(&bundle), "--index", "3"]);
    assert!(out.status.success() && text(&out).contains("0 unit(s) computed, 1 already there"), "{}", text(&out));
    let out = pipewright(&["combine", path(&bundle)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("combined block \"tune\": 120 units, computed on"), "{}", text(&out));
    let results = bundle.join("results");
    let combined = read_json(&results.join("result.json"));
    assert_eq!(combined["success"], true, "{combined}");
    assert_eq!(combined["metrics"], local_result["metrics"], "the fanned-out run's metrics are the local run's");
    for (node, port) in
        [("tune", "sweep"), ("tune", "model"), ("cv", "report"), ("cv", "scored"), ("importance", "importance")]
    {
        assert!(same_output(&results, &local, node, port), "{node}.{port} differs");
    }

    // Dealt several units to a task: the same result.
    let chunked = work.path().join("chunked");
    let out = export_fanned(&flow, &chunked, &["--max-tasks", "7"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("task set: 7 tasks for 125 units"), "{}", text(&out));
    for out in run_all_tasks(&chunked, 7) {
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = pipewright(&["combine", path(&chunked)]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read_json(&chunked.join("results/result.json"))["metrics"], local_result["metrics"]);

    // A task whose input cannot be read fails naming the file; the combine names the task and why.
    let damaged = bundle.join("tasks/cache").join(&split_fingerprint);
    std::fs::remove_dir_all(bundle.join("tasks/results/tune/0")).expect("remove a result");
    let kept = work.path().join("kept");
    std::fs::rename(&damaged, &kept).expect("move the input away");
    let out = pipewright(&["task", path(&bundle), "--index", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&format!("cannot be read from {}", damaged.display())), "{}", text(&out));
    let out = pipewright(&["combine", path(&bundle)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("1 of 125 tasks left no result")
            && said.contains("task 0 (setting 1 × fold 1 of block \"tune\") failed: "),
        "{said}"
    );
    assert!(said.contains("its input \"data\" from block \"split\" cannot be read"), "{said}");
    std::fs::rename(&kept, &damaged).expect("restore");
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../projects")
}

#[test]
fn independent_training_branches_are_a_task_each_and_the_combine_finds_their_models() {
    let work = tempfile::tempdir().expect("tempdir");
    let examples = examples();
    let titanic = examples.join("titanic-two-class/titanic.flow.json");
    let out = pipewright(&["run", path(&titanic), "--no-record", "--no-cache", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let titanic_local: Json = serde_json::from_slice(&out.stdout).expect("json");
    let branches = work.path().join("branches");
    let out = export_fanned(&titanic, &branches, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("task set: 2 tasks for 2 units of train_logistic (1), train_forest (1)"),
        "{}",
        text(&out)
    );
    let list = read_json(&branches.join("tasks/tasks.json"));
    assert_eq!(list["tasks"][1]["units"][0]["label"], "the branch up to block \"train_forest\"");
    for out in run_all_tasks(&branches, 2) {
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = pipewright(&["combine", path(&branches)]);
    assert!(out.status.success(), "{}", text(&out));
    let combined = read_json(&branches.join("results/result.json"));
    assert_eq!(combined["metrics"], titanic_local["metrics"]);
    let forest =
        combined["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == "train_forest").expect("forest");
    assert_eq!(forest["status"], "cached", "the combine found the branch's model in the shared cache: {forest}");
}

#[test]
fn batch_score_fans_out_over_partitions_of_rows_stacked_in_order() {
    let work = tempfile::tempdir().expect("tempdir");
    let examples = examples();
    let deploy = work.path().join("deploy");
    std::fs::create_dir_all(&deploy).expect("folder");
    let example = std::fs::read_to_string(examples.join("titanic-deploy/titanic-deploy.flow.json")).expect("example");
    std::fs::write(deploy.join("titanic-deploy.flow.json"), example).expect("copy");
    let out = pipewright(&["run", path(&deploy.join("titanic-deploy.flow.json")), "--no-record", "--no-cache"]);
    assert!(out.status.success(), "{}", text(&out));
    let package = deploy.join("models/titanic-survival.pwmodel");
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/datasets/titanic.csv");
    let scoring = deploy.join("scoring.flow.json");
    let flow = serde_json::json!({
        "format": "pipewright.workflow", "version": 1, "name": "Batch scoring",
        "nodes": [
            {"id": "rows", "kind": "data.import_data", "params": {"path": path(&csv)}},
            {"id": "score", "kind": "deploy.batch_score", "params": {"package": path(&package), "partition_rows": 300}},
        ],
        "edges": [{"from": {"node": "rows", "port": "data"}, "to": {"node": "score", "port": "data"}}],
    });
    std::fs::write(&scoring, flow.to_string()).expect("workflow");
    let scored_here = work.path().join("scored-here");
    let out = pipewright(&["run", path(&scoring), "--no-record", "--no-cache", "--results", path(&scored_here)]);
    assert!(out.status.success(), "{}", text(&out));
    let partitions = work.path().join("partitions");
    let out = export_fanned(&scoring, &partitions, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("task set: 5 tasks for 5 units of score (5)"), "{}", text(&out));
    assert_eq!(read_json(&partitions.join("tasks/tasks.json"))["tasks"][4]["units"][0]["label"], "rows 1201 to 1309");
    for out in run_all_tasks(&partitions, 5) {
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = pipewright(&["combine", path(&partitions)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(same_output(&partitions.join("results"), &scored_here, "score", "data"));
}

#[test]
fn a_workflow_with_nothing_to_fan_out_is_exported_as_one_job_saying_so() {
    let work = tempfile::tempdir().expect("tempdir");
    let examples = examples();
    let plain = work.path().join("plain");
    let iris: PathBuf = examples.join("iris-clustering/iris.flow.json");
    let out = export_fanned(&iris, &plain, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no block of this workflow fans out"), "{}", text(&out));
    assert!(!plain.join("tasks/tasks.json").exists() && !plain.join("slurm/tasks.sbatch").exists());
    let out = pipewright(&["task", path(&plain), "--index", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("has no task list"), "{}", text(&out));
}

/// The sweep's data with Train Best Model in place of the sweep: every two-class learner with three settings,
/// on three folds.
fn contest_project(dir: &Path) -> PathBuf {
    let flow = sweep_project(dir);
    let mut workflow = read_json(&flow);
    let nodes = workflow["nodes"].as_array_mut().expect("nodes");
    nodes.retain(|n| {
        ["data", "select", "clean", "indicators", "split", "score", "evaluate"]
            .contains(&n["id"].as_str().unwrap_or(""))
    });
    nodes.push(serde_json::json!({"id": "best", "kind": "train.train_best_model",
        "params": {"label_column": "survived", "trials": 3, "folds": 3, "seed": 4}}));
    let edges = workflow["edges"].as_array_mut().expect("edges");
    edges.retain(|e| {
        let ends = [e["from"]["node"].as_str().unwrap_or(""), e["to"]["node"].as_str().unwrap_or("")];
        !ends.iter().any(|n| ["tree", "tune", "logistic", "cv", "importance"].contains(n))
    });
    edges.push(serde_json::json!({"from": {"node": "split", "port": "first"}, "to": {"node": "best", "port": "data"}}));
    edges
        .push(serde_json::json!({"from": {"node": "best", "port": "model"}, "to": {"node": "score", "port": "model"}}));
    let path = dir.join("contest.flow.json");
    std::fs::write(&path, workflow.to_string()).expect("workflow");
    path
}

/// A learner's place on a leaderboard: its name, the metric's mean and standard deviation.
type Place = (String, Option<f64>, Option<f64>);

/// A leaderboard from a results folder: the places by rank, and the metric's name.
fn leaderboard(results: &Path) -> (Vec<Place>, String) {
    let bytes = output_bytes(results, "best", "leaderboard");
    let Some(pipewright_engine::Value::Table(table)) = pipewright_store::value_of_artifact("table", &bytes) else {
        panic!("no leaderboard table")
    };
    let names: Vec<String> = table.frame.get_column_names().iter().map(ToString::to_string).collect();
    let metric = names.iter().find_map(|n| n.strip_suffix("_mean")).expect("a mean column").to_owned();
    let column = |name: &str| table.frame.column(name).expect("column").as_materialized_series().clone();
    let learners = column("learner");
    let (means, stds) = (column(&format!("{metric}_mean")), column(&format!("{metric}_std")));
    let rows = (0..table.frame.height())
        .map(|i| {
            let text = learners.str().expect("text").get(i).unwrap_or("").to_owned();
            (text, means.f64().expect("numbers").get(i), stds.f64().expect("numbers").get(i))
        })
        .collect();
    (rows, metric)
}

#[test]
fn train_best_model_ranks_every_learner_of_the_goal_and_fans_out_to_the_same_leaderboard() {
    let work = tempfile::tempdir().expect("tempdir");
    let flow = contest_project(work.path());
    let local = work.path().join("local");
    let out = pipewright(&["run", path(&flow), "--no-record", "--no-cache", "--results", path(&local)]);
    assert!(out.status.success(), "{}", text(&out));
    let (board, metric) = leaderboard(&local);
    assert_eq!(metric, "accuracy");
    // Every two-class learner took part, each measured, best first; a sensible winner on Titanic.
    let names: Vec<&str> = board.iter().map(|r| r.0.as_str()).collect();
    for learner in ["Two-Class Logistic Regression", "Two-Class Decision Forest", "Two-Class Boosted Decision Tree"] {
        assert!(names.iter().any(|n| n.contains(learner.trim_start_matches("Two-Class "))), "{learner} in {names:?}");
    }
    assert!(board.len() >= 6, "{board:?}");
    assert!(board.windows(2).all(|w| w[0].1.unwrap_or(f64::NAN) >= w[1].1.unwrap_or(f64::NEG_INFINITY)), "{board:?}");
    let top = board[0].1.expect("the winner's mean");
    assert!(top > 0.78 && top < 0.9, "{board:?}");
    assert!(board[0].2.is_some_and(|s| s > 0.0 && s < 0.1), "{board:?}");
    let local_result = read_json(&local.join("result.json"));

    // Fanned out: one unit per learner × setting × fold; the same leaderboard and metrics.
    let bundle = work.path().join("bundle");
    let out = export_fanned(&flow, &bundle, &["--max-tasks", "12"]);
    assert!(out.status.success(), "{}", text(&out));
    let units = board.len() * 3 * 3;
    assert!(text(&out).contains(&format!("task set: 12 tasks for {units} units of best ({units})")), "{}", text(&out));
    for out in run_all_tasks(&bundle, 12) {
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = pipewright(&["combine", path(&bundle)]);
    assert!(out.status.success(), "{}", text(&out));
    let results = bundle.join("results");
    assert_eq!(leaderboard(&results), (board, metric));
    assert_eq!(read_json(&results.join("result.json"))["metrics"], local_result["metrics"]);
    assert!(same_output(&results, &local, "best", "model"));
}
