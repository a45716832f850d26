//! Data-parallel training across processes: `pipewright shard-fit` ranks, each over its own shard of the rows,
//! exchanging every pass's sums through files, end with the model one process fits over the whole table — as
//! processes started here and as the tasks of a multi-task `srun` step on a real Slurm on loopback (one node
//! with room for two tasks: this Debian build of slurmd serves one node name per host).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

use pipewright_e2e::cluster::Slurm;
use pipewright_engine::rng::SplitMix64;
use pipewright_engine::{Model, Node, Params, Value};

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pipewright")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// 4,000 rows of four features and a two-class label, as CSV lines (no header).
fn rows() -> Vec<String> {
    let mut rng = SplitMix64::new(5);
    (0..4000)
        .map(|_| {
            let x: Vec<f64> = (0..4).map(|_| rng.next_normal()).collect();
            let score = x[0] - 0.7 * x[1] + 0.4 * x[3] + 0.6 * rng.next_normal();
            format!("{:.6},{:.6},{:.6},{:.6},{}", x[0], x[1], x[2], x[3], if score > 0.0 { "yes" } else { "no" })
        })
        .collect()
}

const HEADER: &str = "a,b,c,d,label";

/// The learner Two-Class Logistic Regression builds with its defaults, as JSON.
fn logistic() -> Json {
    let catalog = pipewright_nodes::catalog();
    let kind = "model.logistic_regression_two_class";
    let entry = catalog.get(kind).expect("the learner block");
    let node = Node {
        id: "learner".into(),
        kind: kind.into(),
        title: None,
        params: std::collections::BTreeMap::default(),
        position: [0.0; 2],
    };
    let (params, _) = Params::resolve(&entry.spec, &node, 0);
    let mut learner = json!({
        "algorithm": kind,
        "name": entry.spec.name,
        "tasks": ["binary_classification"],
        "params": params.values(),
    });
    learner["params"]["l2_weight"] = json!(0.5);
    learner
}

/// A fit folder with `shards` shards of the rows, and the whole table as one CSV beside it.
fn fit_folder(dir: &Path, shards: usize) -> PathBuf {
    let rows = rows();
    std::fs::write(dir.join("whole.csv"), format!("{HEADER}\n{}\n", rows.join("\n"))).expect("whole");
    let fit = dir.join("fit");
    std::fs::create_dir_all(&fit).expect("folder");
    let per = rows.len().div_ceil(shards);
    let mut listed = Vec::new();
    for (k, chunk) in rows.chunks(per).enumerate() {
        let file = format!("part-{k}.csv");
        std::fs::write(fit.join(&file), format!("{HEADER}\n{}\n", chunk.join("\n"))).expect("shard");
        listed.push(json!({"file": file, "rows": chunk.len(), "offset": k * per}));
    }
    let description = json!({
        "learner": logistic(), "label": "label", "classes": ["no", "yes"], "rows": rows.len(), "shards": listed,
    });
    std::fs::write(fit.join("fit.json"), description.to_string()).expect("fit.json");
    fit
}

/// The model one process trains over the whole table (`pipewright run`).
fn one_process(dir: &Path) -> Model {
    let mut learner = logistic();
    let params = learner["params"].take();
    let flow = json!({
        "format": "pipewright.workflow", "version": 1, "name": "whole",
        "nodes": [
            {"id": "rows", "kind": "data.import_data", "params": {"path": "whole.csv"}},
            {"id": "logistic", "kind": "model.logistic_regression_two_class", "params": params},
            {"id": "train", "kind": "train.train_model", "params": {"label_column": "label"}},
        ],
        "edges": [
            {"from": {"node": "logistic", "port": "learner"}, "to": {"node": "train", "port": "learner"}},
            {"from": {"node": "rows", "port": "data"}, "to": {"node": "train", "port": "data"}},
        ],
    });
    std::fs::write(dir.join("whole.flow.json"), flow.to_string()).expect("workflow");
    let out = Command::new(binary())
        .args(["run", "whole.flow.json", "--no-record", "--no-cache", "--results", "whole-results"])
        .current_dir(dir)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let bytes = std::fs::read(dir.join("whole-results/outputs/train.model.model")).expect("the model");
    match pipewright_store::value_of_artifact("model", &bytes) {
        Some(Value::Model(model)) => (*model).clone(),
        _ => panic!("no model"),
    }
}

/// The model rank 0 wrote.
fn sharded_model(fit: &Path) -> Model {
    match pipewright_engine::read_values(&fit.join("model")).and_then(|v| v.into_iter().next()) {
        Some(Value::Model(model)) => (*model).clone(),
        _ => panic!("rank 0 wrote no model in {}", fit.display()),
    }
}

fn numbers(model: &Model) -> Vec<f64> {
    fn walk(value: &Json, out: &mut Vec<f64>) {
        match value {
            Json::Number(n) => out.extend(n.as_f64()),
            Json::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Json::Object(map) => map.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(&model.state).expect("state"), &mut out);
    out
}

fn assert_same(sharded: &Model, whole: &Model) {
    let (got, expected) = (numbers(sharded), numbers(whole));
    assert_eq!(got.len(), expected.len());
    assert!(expected.len() > 4, "{expected:?}");
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{g} vs {e}: {got:?} vs {expected:?}");
    }
    assert_eq!((&sharded.features, &sharded.classes), (&whole.features, &whole.classes));
}

#[test]
fn four_ranks_as_processes_fit_the_model_one_process_fits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fit = fit_folder(dir.path(), 4);
    let ranks: Vec<_> = (0..4)
        .map(|rank| {
            Command::new(binary())
                .args(["shard-fit", &fit.to_string_lossy(), "--rank", &rank.to_string(), "--ranks", "4"])
                .spawn()
                .expect("a rank")
        })
        .collect();
    for (rank, child) in ranks.into_iter().enumerate() {
        let out = child.wait_with_output().expect("rank ends");
        assert!(out.status.success(), "rank {rank}: {}", text(&out));
    }
    assert_same(&sharded_model(&fit), &one_process(dir.path()));

    // A rank that never starts: the others give up at the first pass, naming it, rather than waiting for ever.
    std::fs::remove_dir_all(fit.join("exchange")).expect("clean");
    let out = Command::new(binary())
        .args(["shard-fit", &fit.to_string_lossy(), "--rank", "0", "--ranks", "4", "--timeout-secs", "3"])
        .output()
        .expect("rank 0 alone");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("rank(s) 1, 2, 3 gave no sums within 3 s"), "{}", text(&out));
    // Ranks that do not match the shards, and a shard that cannot be read, are named.
    let out =
        Command::new(binary()).args(["shard-fit", &fit.to_string_lossy(), "--rank", "0", "--ranks", "3"]).output();
    let out = out.expect("runs");
    assert!(text(&out).contains("has 4 shards but 3 ranks were started"), "{}", text(&out));
    std::fs::write(fit.join("part-2.csv"), "not,a\nshard").expect("damage");
    let out = Command::new(binary())
        .args(["shard-fit", &fit.to_string_lossy(), "--rank", "2", "--ranks", "4", "--timeout-secs", "3"])
        .output()
        .expect("runs");
    assert!(text(&out).contains(&format!("rank 2: its shard {}", fit.join("part-2.csv").display())), "{}", text(&out));
}

#[test]
fn a_multi_task_srun_step_fits_the_model_one_process_fits() {
    let Some(slurm) = Slurm::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let fit = fit_folder(dir.path(), 2);
    // Two tasks of one step on the node's two cores; each takes its rank and the rank count from Slurm.
    let out = Command::new("srun")
        .args(["--ntasks=2", "--cpus-per-task=1", "--time=5", binary(), "shard-fit", &fit.to_string_lossy()])
        .env("SLURM_CONF", &slurm.conf)
        .output()
        .expect("srun");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("rank 1 of 2: fitted") && text(&out).contains("rank 0 of 2: fitted"), "{}", text(&out));
    assert_same(&sharded_model(&fit), &one_process(dir.path()));
    a_train_model_exported_data_parallel_runs_as_a_multi_task_slurm_job(&slurm);
}

/// The whole table split, a logistic regression trained on the first part, scored and evaluated on the second.
fn training_project(dir: &Path) -> PathBuf {
    let rows = rows();
    std::fs::write(dir.join("whole.csv"), format!("{HEADER}\n{}\n", rows.join("\n"))).expect("whole");
    let flow = json!({
        "format": "pipewright.workflow", "version": 1, "name": "data-parallel", "seed": 3,
        "nodes": [
            {"id": "rows", "kind": "data.import_data", "params": {"path": "whole.csv"}},
            {"id": "split", "kind": "transform.split_data", "params": {"fraction": 0.75, "seed": 1, "stratify_column": "label"}},
            {"id": "logistic", "kind": "model.logistic_regression_two_class", "params": {"l2_weight": 0.5}},
            {"id": "train", "kind": "train.train_model", "params": {"label_column": "label"}},
            {"id": "score", "kind": "train.score_model", "params": {}},
            {"id": "evaluate", "kind": "evaluate.evaluate_model", "params": {}},
        ],
        "edges": [
            {"from": {"node": "rows", "port": "data"}, "to": {"node": "split", "port": "data"}},
            {"from": {"node": "logistic", "port": "learner"}, "to": {"node": "train", "port": "learner"}},
            {"from": {"node": "split", "port": "first"}, "to": {"node": "train", "port": "data"}},
            {"from": {"node": "train", "port": "model"}, "to": {"node": "score", "port": "model"}},
            {"from": {"node": "split", "port": "second"}, "to": {"node": "score", "port": "data"}},
            {"from": {"node": "score", "port": "data"}, "to": {"node": "evaluate", "port": "scored"}},
        ],
    });
    let path = dir.join("train.flow.json");
    std::fs::write(&path, flow.to_string()).expect("workflow");
    path
}

/// The metrics of a results folder's result.json, or of `run --json`, as (node/source/name, value).
fn metrics(result: &Json) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (node, sources) in result["metrics"].as_object().expect("metrics") {
        for (source, values) in sources.as_object().expect("sources") {
            for (name, value) in values.as_object().expect("values") {
                out.push((format!("{node}/{source}/{name}"), value.as_f64().expect("number")));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_close_metrics(got: &[(String, f64)], expected: &[(String, f64)]) {
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    assert!(expected.iter().any(|m| m.0.ends_with("roc_auc")), "{expected:?}");
    for ((name, g), (_, e)) in got.iter().zip(expected) {
        assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{name}: {g} vs {e}");
    }
}

/// Exports the project for Slurm with its Train Model data-parallel over `shards` shards.
fn export_sharded(flow: &Path, bundle: &Path, shards: usize) -> Output {
    let shards = shards.to_string();
    Command::new(binary())
        .args(["export", &flow.to_string_lossy(), "-o", &bundle.to_string_lossy(), "--target", "slurm", "--fan-out"])
        .args(["--shards", &shards, "--gpus", "0", "--cpus", "1", "--memory", "1G", "--time", "10m"])
        .args(["--runner-path", binary()])
        .output()
        .expect("export")
}

fn local_metrics(dir: &Path, flow: &Path) -> Vec<(String, f64)> {
    let out = Command::new(binary())
        .args(["run", &flow.to_string_lossy(), "--json", "--no-record", "--no-cache"])
        .current_dir(dir)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    metrics(&serde_json::from_slice(&out.stdout).expect("json"))
}

/// The `ranks` ranks of block `node`'s fit in `bundle`, started as `srun` starts them (rank and count from
/// Slurm's variables), then the combine; the run's result.
fn ranks_then_combine(bundle: &Path, node: &str, ranks: usize) -> Json {
    let fit = bundle.join("tasks/shards").join(node);
    let started: Vec<_> = (0..ranks)
        .map(|rank| {
            Command::new(binary())
                .args(["shard-fit", &fit.to_string_lossy()])
                .env("SLURM_PROCID", rank.to_string())
                .env("SLURM_NTASKS", ranks.to_string())
                .spawn()
                .expect("a rank")
        })
        .collect();
    for child in started {
        let out = child.wait_with_output().expect("rank ends");
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = Command::new(binary()).args(["combine", &bundle.to_string_lossy()]).output().expect("combine");
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_str(&std::fs::read_to_string(bundle.join("results/result.json")).expect("result")).expect("json")
}

#[test]
fn an_exported_train_model_trains_over_shards_and_the_combine_finds_its_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = training_project(dir.path());
    let local = local_metrics(dir.path(), &flow);
    let bundle = dir.path().join("bundle");
    let out = export_sharded(&flow, &bundle, 4);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("data-parallel: block train over 4 shards, a rank each"), "{}", text(&out));
    let job = std::fs::read_to_string(bundle.join("slurm/fit-train.sbatch")).expect("the fit's job");
    assert!(
        job.contains("#SBATCH --ntasks=4")
            && job.contains("srun --kill-on-bad-exit=1 \"$RUNNER\" shard-fit tasks/shards/train"),
        "{job}"
    );
    assert!(!bundle.join("slurm/tasks.sbatch").exists(), "no array: nothing else fans out");
    let submit = std::fs::read_to_string(bundle.join("slurm/submit.sh")).expect("submit.sh");
    assert!(submit.contains("slurm/fit-train.sbatch") && submit.contains("--dependency=afterok$after"), "{submit}");
    for k in 0..4 {
        assert!(bundle.join(format!("tasks/shards/train/part-{k}.parquet")).is_file(), "shard {k}");
    }
    // The combine before the fit names what is missing.
    let out = Command::new(binary()).args(["combine", &bundle.to_string_lossy()]).output().expect("combine");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("block \"train\": its data-parallel fit left no model"), "{}", text(&out));
    // The four ranks as srun would start them, then the combine.
    let result = ranks_then_combine(&bundle, "train", 4);
    let train = result["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == "train").expect("train");
    assert_eq!(train["status"], "cached", "the combine found the ranks' model: {train}");
    assert_close_metrics(&metrics(&result), &local);

    // For Kubernetes: an Indexed Job whose two ranks run at once, each with its completion index as its rank.
    let out = Command::new(binary())
        .args(["export", &flow.to_string_lossy(), "-o", &dir.path().join("k8s").to_string_lossy()])
        .args(["--target", "kubernetes", "--fan-out", "--shards", "2", "--gpus", "0"])
        .output()
        .expect("export");
    assert!(out.status.success(), "{}", text(&out));
    let fit = std::fs::read_to_string(dir.path().join("k8s/kubernetes/fit-train.yaml")).expect("the fit's Job");
    for field in [
        "completions: 2",
        "parallelism: 2",
        "completionMode: \"Indexed\"",
        "--rank \\\"$JOB_COMPLETION_INDEX\\\" --ranks 2",
    ] {
        assert!(fit.contains(field), "{field} in\n{fit}");
    }
}

/// A workflow exported with its Train Model data-parallel over two shards: the fit is a two-task Slurm job, the
/// combine runs after it, and the recorded metrics are the local run's.
fn a_train_model_exported_data_parallel_runs_as_a_multi_task_slurm_job(slurm: &Slurm) {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = training_project(dir.path());
    let local = local_metrics(dir.path(), &flow);
    let bundle = dir.path().join("bundle");
    let out = export_sharded(&flow, &bundle, 2);
    assert!(out.status.success(), "{}", text(&out));
    // Through sbatch, then the same bundle through slurmrestd (the fit's two tasks and the combine after them
    // described in JSON); before the second, the first's model and logs go, so that what is found is its own.
    let rest = ["--rest", slurm.rest.as_str(), "--token", slurm.token.as_str()];
    for extra in [&[][..], &rest[..]] {
        let out = Command::new(binary())
            .args(["submit", &bundle.to_string_lossy(), "--slurm", "--poll", "0.3"])
            .args(extra)
            .env("SLURM_CONF", &slurm.conf)
            .output()
            .expect("submit");
        assert!(out.status.success(), "{}", text(&out));
        assert!(bundle.join("tasks/shards/train/model").is_dir(), "rank 0 wrote the model");
        let result: Json =
            serde_json::from_str(&std::fs::read_to_string(bundle.join("results/result.json")).expect("result"))
                .expect("json");
        assert_close_metrics(&metrics(&result), &local);
        let logs: Vec<PathBuf> = std::fs::read_dir(bundle.join("results"))
            .expect("results")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("fit-train-"))
            .map(|e| e.path())
            .collect();
        let log: String = logs.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
        assert!(log.contains("rank 0 of 2: fitted") && log.contains("rank 1 of 2: fitted"), "{log}");
        std::fs::remove_dir_all(bundle.join("tasks/shards/train/model")).expect("the model");
        for path in &logs {
            std::fs::remove_file(path).expect("a log");
        }
    }
}

/// A k-means clustering on three of the columns, its training rows with their clusters evaluated.
fn clustering_project(dir: &Path) -> PathBuf {
    let rows = rows();
    std::fs::write(dir.join("whole.csv"), format!("{HEADER}\n{}\n", rows.join("\n"))).expect("whole");
    let flow = json!({
        "format": "pipewright.workflow", "version": 1, "name": "clusters", "seed": 3,
        "nodes": [
            {"id": "rows", "kind": "data.import_data", "params": {"path": "whole.csv"}},
            {"id": "kmeans", "kind": "model.kmeans", "params": {"clusters": 3, "starts": 2}},
            {"id": "cluster", "kind": "train.train_clustering_model", "params": {"columns": ["a", "b", "d"]}},
            {"id": "evaluate", "kind": "evaluate.evaluate_model", "params": {}},
        ],
        "edges": [
            {"from": {"node": "kmeans", "port": "learner"}, "to": {"node": "cluster", "port": "learner"}},
            {"from": {"node": "rows", "port": "data"}, "to": {"node": "cluster", "port": "data"}},
            {"from": {"node": "cluster", "port": "data"}, "to": {"node": "evaluate", "port": "scored"}},
        ],
    });
    let path = dir.join("clusters.flow.json");
    std::fs::write(&path, flow.to_string()).expect("workflow");
    path
}

#[test]
fn an_exported_k_means_clusters_over_shards_and_the_combine_assigns_the_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow = clustering_project(dir.path());
    let local = local_metrics(dir.path(), &flow);
    assert!(!local.is_empty(), "the clustering is evaluated");
    let bundle = dir.path().join("bundle");
    let out = export_sharded(&flow, &bundle, 3);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("data-parallel: block cluster over 3 shards, a rank each"), "{}", text(&out));
    // The shards hold the columns the clustering is on, and nothing else.
    let shard = pipewright_nodes::data::read_file(&bundle.join("tasks/shards/cluster/part-0.parquet")).expect("shard");
    let names: Vec<String> = shard.get_column_names().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["a", "b", "d"]);
    let result = ranks_then_combine(&bundle, "cluster", 3);
    let cluster = result["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == "cluster").expect("node");
    assert_eq!(cluster["status"], "cached", "the combine found the ranks' model and assigned the rows: {cluster}");
    let got = metrics(&result);
    assert_eq!(got.len(), local.len(), "{got:?} vs {local:?}");
    for ((name, g), (_, e)) in got.iter().zip(&local) {
        assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{name}: {g} vs {e}");
    }
}
