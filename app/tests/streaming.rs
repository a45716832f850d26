//! Files larger than the memory budget: `pipewright run --memory-budget` streams them through the blocks that
//! work row by row, a batch at a time, and writes the same file an in-memory run writes, in bounded memory.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// A CSV of `rows` rows (about 39 bytes each): an id, a number with missing cells, a number, a city, a label.
fn write_data(path: &Path, rows: usize, bad_line: Option<usize>) {
    let mut text = String::with_capacity(rows * 40 + 32);
    text.push_str("id,a,b,city,label\n");
    let cities = ["Cherbourg", "Queenstown", "Southampton"];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..rows {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let a = if i % 13 == 5 { String::new() } else { format!("{:.6}", (state % 100_000_000) as f64 / 1e6) };
        let b = if bad_line == Some(i + 2) {
            "oops".to_owned()
        } else {
            format!("{:.6}", (state >> 40) as f64 / 1e6 - 8.0)
        };
        let _ = writeln!(text, "{i},{a},{b},{},{}", cities[i % 3], i % 2);
    }
    std::fs::write(path, text).expect("writes the data");
}

fn node(id: &str, kind: &str, params: serde_json::Value) -> serde_json::Value {
    let mut node = serde_json::json!({ "id": id, "kind": kind, "position": [0.0, 0.0] });
    node["params"] = params;
    node
}

fn wire(from: &str, from_port: &str, to: &str, to_port: &str) -> serde_json::Value {
    serde_json::json!({ "from": { "node": from, "port": from_port }, "to": { "node": to, "port": to_port } })
}

/// Writes `streamed.flow.json` into `dir`.
fn write_workflow(dir: &Path, nodes: Vec<serde_json::Value>, edges: Vec<serde_json::Value>) {
    let mut flow = serde_json::json!({ "format": "pipewright.workflow", "version": 1, "name": "streamed" });
    flow["nodes"] = serde_json::Value::Array(nodes);
    flow["edges"] = serde_json::Value::Array(edges);
    std::fs::write(dir.join("streamed.flow.json"), flow.to_string()).expect("writes the workflow");
}

/// Import → Select Columns → Filter Rows → Apply Math Operation → Export Data.
fn write_flow(dir: &Path) {
    let edge = |from: &str, to: &str| wire(from, "data", to, "data");
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("select", "transform.select_columns", serde_json::json!({ "columns": ["id", "a", "b", "city"] })),
        node("filter", "transform.filter_rows", serde_json::json!({ "expression": "a > 20 or a is null" })),
        node("math", "transform.apply_math_operation", serde_json::json!({ "columns": ["b"], "operation": "abs" })),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir,
        nodes,
        vec![edge("import", "select"), edge("select", "filter"), edge("filter", "math"), edge("math", "export")],
    );
}

/// Runs `pipewright run` in `dir` with `extra` arguments; its exit status, stderr and peak resident memory in
/// MiB (from the kernel's accounting of the finished child, read by Python's `resource` module).
fn run(dir: &Path, extra: &[&str]) -> (bool, String, f64) {
    let script = "import resource, subprocess, sys\n\
                  p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n\
                  sys.stderr.write(p.stderr)\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n\
                  sys.exit(p.returncode)";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            env!("CARGO_BIN_EXE_pipewright"),
            "run",
            "streamed.flow.json",
            "--no-cache",
            "--no-record",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("python3 runs (the tests need it, as .ci/run does)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(f64::NAN);
    (out.status.success(), stderr, peak)
}

#[test]
fn a_file_several_times_the_memory_budget_streams_in_bounded_memory_and_writes_what_memory_writes() {
    let budget_mib = 8.0;
    // A small run: what the process takes before any data.
    let small = tempfile::tempdir().expect("tempdir");
    write_data(&small.path().join("data.csv"), 1000, None);
    write_flow(small.path());
    let (ok, stderr, baseline) = run(small.path(), &[]);
    assert!(ok, "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 3_000_000, None);
    let size_mib = std::fs::metadata(dir.path().join("data.csv")).expect("size").len() as f64 / 1_048_576.0;
    assert!(size_mib > 12.0 * budget_mib, "the file ({size_mib:.0} MiB) is many times the budget");
    write_flow(dir.path());
    let (ok, stderr, in_memory) = run(dir.path(), &[]);
    assert!(ok, "{stderr}");
    let whole = std::fs::read(dir.path().join("out.csv")).expect("the in-memory run wrote its file");
    let (ok, stderr, streamed) = run(dir.path(), &["--memory-budget", "8M"]);
    assert!(ok, "{stderr}");
    let batched = std::fs::read(dir.path().join("out.csv")).expect("the streamed run wrote its file");
    assert!(whole == batched, "the streamed run writes the same bytes ({} vs {})", whole.len(), batched.len());
    assert!(whole.len() > 1 << 20, "most rows pass the filter");

    // Peak memory: the budget plus a constant (thread pools, buffers of one batch in each block), far below
    // what holding the file takes.
    let over = streamed - baseline;
    println!("peak: baseline {baseline:.0} MiB, in memory {in_memory:.0} MiB, streamed {streamed:.0} MiB");
    assert!(over < budget_mib + 128.0, "streamed: {over:.0} MiB over the baseline, budget {budget_mib} MiB");
    assert!(in_memory - baseline > size_mib, "in memory: {:.0} MiB over the baseline", in_memory - baseline);
}

#[test]
fn a_malformed_row_deep_in_a_streamed_file_names_its_lines_and_leaves_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 600_000, Some(550_000));
    write_flow(dir.path());
    let (ok, stderr, _) = run(dir.path(), &["--memory-budget", "8M"]);
    assert!(!ok, "the run fails");
    assert!(stderr.contains("\"b\"") && stderr.contains("line 550000"), "{stderr}");
    assert!(!stderr.contains("oops"), "the file's values are never quoted: {stderr}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out"))
        .collect();
    assert!(left.is_empty(), "no output file, whole or partial: {left:?}");
    // Recorded and with the project cache on: the run is in the history as failed, and nothing of it is left in
    // the cache or the spill folder.
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", "streamed.flow.json", "--memory-budget", "8M"])
        .current_dir(dir.path())
        .output()
        .expect("pipewright runs");
    assert!(!out.status.success());
    let runs = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["runs", "--json"])
        .current_dir(dir.path())
        .output()
        .expect("pipewright runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("runs as JSON");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    let spill = dir.path().join(".pipewright/spill");
    assert!(!spill.exists() || std::fs::read_dir(&spill).expect("lists").next().is_none(), "no spill is left");
    let cache = dir.path().join(".pipewright/cache");
    let cached = std::fs::read_dir(&cache).map_or(0, |entries| {
        entries.filter_map(Result::ok).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).count()
    });
    assert_eq!(cached, 0, "no cache entry of a streamed or failed block");
}

/// A linear regression trained on a small file in memory scores a large streamed one: Import → Select Columns
/// → Apply Transformation (the training data's z-scores) → Edit Metadata (a rename) → Score Model → Export.
fn write_scoring_flow(dir: &Path) {
    let nodes = vec![
        node("train_data", "data.import_data", serde_json::json!({ "path": "train.csv" })),
        node("train_select", "transform.select_columns", serde_json::json!({ "columns": ["b", "label"] })),
        node("normalize", "transform.normalize_data", serde_json::json!({ "columns": ["b"] })),
        node("linear", "model.linear_regression", serde_json::json!({})),
        node("train", "train.train_model", serde_json::json!({ "label_column": "label" })),
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("select", "transform.select_columns", serde_json::json!({ "columns": ["id", "b", "label"] })),
        node("apply", "transform.apply_transformation", serde_json::json!({})),
        node("rename", "transform.edit_metadata", serde_json::json!({ "columns": ["id"], "new_names": "row" })),
        node("score", "train.score_model", serde_json::json!({})),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir,
        nodes,
        vec![
            wire("train_data", "data", "train_select", "data"),
            wire("train_select", "data", "normalize", "data"),
            wire("linear", "learner", "train", "learner"),
            wire("normalize", "data", "train", "data"),
            wire("import", "data", "select", "data"),
            wire("normalize", "transform", "apply", "transform"),
            wire("select", "data", "apply", "data"),
            wire("apply", "data", "rename", "data"),
            wire("train", "model", "score", "model"),
            wire("rename", "data", "score", "data"),
            wire("score", "data", "export", "data"),
        ],
    );
}

#[test]
fn a_model_trained_in_memory_scores_a_streamed_file_as_it_scores_one_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("train.csv"), 2000, None);
    write_data(&dir.path().join("data.csv"), 600_000, None);
    write_scoring_flow(dir.path());
    let (ok, stderr, _) = run(dir.path(), &[]);
    assert!(ok, "{stderr}");
    let whole = std::fs::read_to_string(dir.path().join("out.csv")).expect("the in-memory run wrote its file");
    let (ok, stderr, _) = run(dir.path(), &["--memory-budget", "8M"]);
    assert!(ok, "{stderr}");
    let batched = std::fs::read_to_string(dir.path().join("out.csv")).expect("the streamed run wrote its file");
    assert_eq!(whole.lines().next(), Some("row,b,label,Scored Labels"), "renamed, scored");
    assert_eq!(whole.lines().count(), 600_001);
    assert!(whole == batched, "the streamed run writes the same rows and scores");
}

#[test]
fn normalize_data_fits_over_the_batches_of_a_streamed_file_and_scales_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 400_000, None);
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("normalize", "transform.normalize_data", serde_json::json!({ "columns": ["a", "b"] })),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![wire("import", "data", "normalize", "data"), wire("normalize", "data", "export", "data")],
    );
    let (whole, batched) = both_ways(dir.path());
    assert_eq!(whole.lines().count(), batched.lines().count());
    // The statistics are merged over other chunks than in memory: equal to rounding.
    for (i, (w, b)) in whole.lines().zip(batched.lines()).enumerate().skip(1) {
        for (x, y) in w.split(',').zip(b.split(',')).skip(1).take(2) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "line {i}: {x} vs {y}"),
                _ => assert_eq!(x, y, "line {i}"),
            }
        }
    }
}

#[test]
fn clean_missing_data_fills_a_streamed_file_with_the_mean_and_median_an_in_memory_run_computes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 400_000, None);
    // The mean is summed in row order either way, and the median found exactly over passes: the same bits,
    // the same file.
    for mode in ["mean", "median"] {
        let nodes = vec![
            node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
            node("clean", "transform.clean_missing_data", serde_json::json!({ "columns": ["a"], "mode": mode })),
            node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
        ];
        write_workflow(
            dir.path(),
            nodes,
            vec![wire("import", "data", "clean", "data"), wire("clean", "data", "export", "data")],
        );
        let (whole, batched) = both_ways(dir.path());
        assert!(whole == batched, "the streamed run fills with the same {mode}");
        assert!(!whole.lines().skip(1).any(|l| l.split(',').nth(1) == Some("")), "no missing cell is left in a");
    }
}

/// `pipewright run --json` in `dir` with `extra` arguments: the metrics of every evaluation.
fn metrics(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", "streamed.flow.json", "--no-cache", "--no-record", "--json"])
        .args(extra)
        .current_dir(dir)
        .output()
        .expect("pipewright runs");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let failed: Vec<&serde_json::Value> =
        result["nodes"].as_array().into_iter().flatten().filter(|n| n["status"] == "failed").collect();
    assert!(out.status.success(), "{} {failed:?}", String::from_utf8_lossy(&out.stderr));
    result["metrics"].clone()
}

#[test]
fn ridge_lasso_and_poisson_train_over_passes_of_a_streamed_split_and_evaluate_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 600_000, None);
    let mut nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("select", "transform.select_columns", serde_json::json!({ "columns": ["id", "b", "label"] })),
        node("split", "transform.split_data", serde_json::json!({ "fraction": 0.8, "seed": 3 })),
    ];
    let mut edges = vec![wire("import", "data", "select", "data"), wire("select", "data", "split", "data")];
    for (name, kind, params) in [
        ("ridge", "model.linear_regression", serde_json::json!({ "l2_weight": 1.0 })),
        ("lasso", "model.lasso_regression", serde_json::json!({ "alpha": 0.001 })),
        ("poisson", "model.poisson_regression", serde_json::json!({})),
    ] {
        let (train, score, evaluate) = (format!("train_{name}"), format!("score_{name}"), format!("evaluate_{name}"));
        nodes.push(node(name, kind, params));
        nodes.push(node(&train, "train.train_model", serde_json::json!({ "label_column": "label" })));
        nodes.push(node(&score, "train.score_model", serde_json::json!({})));
        nodes.push(node(&evaluate, "evaluate.evaluate_model", serde_json::json!({})));
        edges.extend([
            wire(name, "learner", &train, "learner"),
            wire("split", "first", &train, "data"),
            wire(&train, "model", &score, "model"),
            wire("split", "second", &score, "data"),
            wire(&score, "data", &evaluate, "scored"),
        ]);
    }
    write_workflow(dir.path(), nodes, edges);
    same_metrics_both_ways(dir.path(), &["evaluate_ridge", "evaluate_lasso", "evaluate_poisson"], &["rmse"]);
}

/// Runs the workflow in `dir` in memory and streamed (a 4 MiB budget): each evaluation's metrics, which must hold
/// `expected` among them, agree to 1e-9.
fn same_metrics_both_ways(dir: &Path, evaluations: &[&str], expected: &[&str]) {
    let whole = metrics(dir, &[]);
    let streamed = metrics(dir, &["--memory-budget", "4M"]);
    for model in evaluations {
        let (w, s) = (&whole[model]["scored"], &streamed[model]["scored"]);
        let names = w.as_object().expect("metrics").keys().cloned().collect::<Vec<_>>();
        assert!(expected.iter().all(|e| names.iter().any(|n| n == e)), "{w}");
        for name in names {
            let (a, b) = (w[&name].as_f64().expect("a number"), s[&name].as_f64().expect("a number"));
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{model} {name}: {a} in memory, {b} streamed");
        }
    }
}

/// Runs the workflow in `dir` in memory and streamed (a 4 MiB budget); the two files it exported.
fn both_ways(dir: &Path) -> (String, String) {
    let (ok, stderr, _) = run(dir, &[]);
    assert!(ok, "{stderr}");
    let whole = std::fs::read_to_string(dir.join("out.csv")).expect("the in-memory run wrote its file");
    let (ok, stderr, _) = run(dir, &["--memory-budget", "4M"]);
    assert!(ok, "{stderr}");
    let batched = std::fs::read_to_string(dir.join("out.csv")).expect("the streamed run wrote its file");
    (whole, batched)
}

#[test]
fn indicators_and_cluster_assignments_of_a_streamed_file_are_those_of_an_in_memory_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 400_000, None);
    write_data(&dir.path().join("train.csv"), 3000, None);
    let nodes = vec![
        node("train_data", "data.import_data", serde_json::json!({ "path": "train.csv" })),
        node("train_select", "transform.select_columns", serde_json::json!({ "columns": ["id", "b"] })),
        node("kmeans", "model.kmeans", serde_json::json!({ "clusters": 3, "seed": 7 })),
        node("cluster", "train.train_clustering_model", serde_json::json!({})),
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("indicators", "transform.convert_to_indicator_values", serde_json::json!({ "columns": ["city"] })),
        node("assign", "train.assign_data_to_clusters", serde_json::json!({})),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![
            wire("train_data", "data", "train_select", "data"),
            wire("kmeans", "learner", "cluster", "learner"),
            wire("train_select", "data", "cluster", "data"),
            wire("import", "data", "indicators", "data"),
            wire("cluster", "model", "assign", "model"),
            wire("indicators", "data", "assign", "data"),
            wire("assign", "data", "export", "data"),
        ],
    );
    let (whole, batched) = both_ways(dir.path());
    let header = whole.lines().next().expect("a header");
    assert!(header.contains("city_Cherbourg") && header.contains("Assignments"), "{header}");
    assert!(whole == batched, "the streamed run writes the same indicators and assignments");
}

#[test]
fn batch_score_scores_a_streamed_file_with_a_package_as_it_scores_one_in_memory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().expect("tempdir");
    let example = "titanic-deploy.flow.json";
    std::fs::copy(root.join("projects/titanic-deploy").join(example), dir.path().join(example)).expect("copies");
    let made = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", example, "--no-record"])
        .current_dir(dir.path())
        .output()
        .expect("pipewright runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // Every passenger 300 times (quoted names with commas included): about 37 MiB.
    let passengers = std::fs::read_to_string(root.join("assets/datasets/titanic.csv")).expect("the dataset");
    let (header, body) = passengers.split_once('\n').expect("a header");
    let mut text = format!("{header}\n");
    for _ in 0..300 {
        text.push_str(body.trim_end());
        text.push('\n');
    }
    std::fs::write(dir.path().join("passengers.csv"), text).expect("writes");
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "passengers.csv" })),
        node("score", "deploy.batch_score", serde_json::json!({ "package": "models/titanic-survival.pwmodel" })),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![wire("import", "data", "score", "data"), wire("score", "data", "export", "data")],
    );
    let (whole, batched) = both_ways(dir.path());
    assert!(whole.lines().next().is_some_and(|h| h.ends_with("Scored Probabilities_yes")), "scored");
    assert_eq!(whole.lines().count(), 1309 * 300 + 1);
    assert!(whole == batched, "the streamed run writes the same scores");
}

#[test]
fn stop_ends_a_streaming_run_between_batches_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 3_000_000, None);
    write_flow(dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", "streamed.flow.json", "--no-cache", "--no-record", "--memory-budget", "4M"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pipewright starts");
    // Once the export has begun (its temporary file exists), Ctrl-C.
    let started = std::time::Instant::now();
    let writing = || {
        std::fs::read_dir(dir.path())
            .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".out.csv"))))
    };
    while !writing() && started.elapsed() < std::time::Duration::from_mins(1) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(writing(), "the export began");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().expect("kill runs").success());
    let out = child.wait_with_output().expect("pipewright ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stopped, not finished: {stderr}");
    assert!(stderr.contains("Stopping"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("lists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("out.csv"))
        .collect();
    assert!(left.is_empty(), "no output file, whole or partial: {left:?}");
}

/// Writes a workflow that imports `data.csv` and, for each model `(name, kind, params, label)`, selects `id`,
/// `b` and the label (removing rows with missing cells when `clean`), splits 80/20 with `seed`, trains on the
/// first part, scores the second and evaluates it as `evaluate_{name}`.
fn write_model_flows(dir: &Path, models: &[(&str, &str, serde_json::Value, &str)], clean: bool, seed: u64) {
    let mut nodes = vec![node("import", "data.import_data", serde_json::json!({ "path": "data.csv" }))];
    let mut edges = Vec::new();
    for (name, kind, params, label) in models {
        let [select, cleaned, split, train, score, evaluate] =
            ["select", "clean", "split", "train", "score", "evaluate"].map(|step| format!("{step}_{name}"));
        nodes.extend([
            node(&select, "transform.select_columns", serde_json::json!({ "columns": ["id", "b", label] })),
            node(&split, "transform.split_data", serde_json::json!({ "fraction": 0.8, "seed": seed })),
            node(name, kind, params.clone()),
            node(&train, "train.train_model", serde_json::json!({ "label_column": label })),
            node(&score, "train.score_model", serde_json::json!({})),
            node(&evaluate, "evaluate.evaluate_model", serde_json::json!({})),
        ]);
        let before_split = if clean {
            nodes.push(node(&cleaned, "transform.clean_missing_data", serde_json::json!({ "mode": "remove_row" })));
            edges.push(wire(&select, "data", &cleaned, "data"));
            cleaned
        } else {
            select.clone()
        };
        edges.extend([
            wire("import", "data", &select, "data"),
            wire(&before_split, "data", &split, "data"),
            wire(name, "learner", &train, "learner"),
            wire(&split, "first", &train, "data"),
            wire(&train, "model", &score, "model"),
            wire(&split, "second", &score, "data"),
            wire(&score, "data", &evaluate, "scored"),
        ]);
    }
    write_workflow(dir, nodes, edges);
}

#[test]
fn logistic_regression_and_naive_bayes_train_over_passes_of_a_streamed_split_and_evaluate_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Past 400,000 training rows the two-class Hessian is taken on every second row, counted over the table.
    write_data(&dir.path().join("data.csv"), 520_000, None);
    let models = [
        ("two_class", "model.logistic_regression_two_class", serde_json::json!({}), "label"),
        ("multiclass", "model.logistic_regression_multiclass", serde_json::json!({}), "city"),
        ("bayes", "model.naive_bayes", serde_json::json!({}), "label"),
    ];
    write_model_flows(dir.path(), &models, false, 4);
    let evaluations = ["evaluate_two_class", "evaluate_multiclass", "evaluate_bayes"];
    same_metrics_both_ways(dir.path(), &evaluations, &["accuracy", "log_loss"]);
}

#[test]
fn boosted_trees_train_on_the_bins_of_a_streamed_file_and_score_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Past 400,000 rows the bin edges are found on every second row, counted over the table.
    write_data(&dir.path().join("data.csv"), 450_000, None);
    let trees = serde_json::json!({ "trees": 4, "max_leaves": 15 });
    let models = [
        ("classes", "model.boosted_decision_tree", trees.clone(), "label"),
        ("numbers", "model.boosted_decision_tree_regression", trees, "a"),
    ];
    write_model_flows(dir.path(), &models, true, 2);
    let whole = metrics(dir.path(), &[]);
    let streamed = metrics(dir.path(), &["--memory-budget", "4M"]);
    for model in ["evaluate_classes", "evaluate_numbers"] {
        let (w, s) = (&whole[model]["scored"], &streamed[model]["scored"]);
        assert!(w.as_object().is_some_and(|m| m.len() >= 4), "{w}");
        assert_eq!(w, s, "{model}: the same bins grow the same trees");
    }
}

#[test]
fn forests_grow_on_the_bins_of_a_streamed_file_alike_for_any_batch_size_and_close_to_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Past 400,000 rows the bin edges are found on every second row, counted over the table.
    write_data(&dir.path().join("data.csv"), 450_000, None);
    let trees = serde_json::json!({ "trees": 6, "max_depth": 8, "seed": 3 });
    let models = [
        ("classes", "model.decision_forest", trees.clone(), "label"),
        ("numbers", "model.decision_forest_regression", trees, "a"),
    ];
    write_model_flows(dir.path(), &models, true, 2);
    let whole = metrics(dir.path(), &[]);
    let streamed = metrics(dir.path(), &["--memory-budget", "4M"]);
    let other_batches = metrics(dir.path(), &["--memory-budget", "16M"]);
    for (model, metric) in [("evaluate_classes", "accuracy"), ("evaluate_numbers", "r2")] {
        let (w, s) = (&whole[model]["scored"], &streamed[model]["scored"]);
        assert!(s.as_object().is_some_and(|m| m.len() >= 4), "{s}");
        assert_eq!(s, &other_batches[model]["scored"], "{model}: the same bins grow the same trees in any batches");
        // In memory the small nodes split exactly and the edges come from every row: close, not equal (were they
        // equal, the streamed table would have been fitted in memory).
        assert_ne!(w, s, "{model}: fitted over the stream, on bins");
        let (a, b) = (w[metric].as_f64().expect("a number"), s[metric].as_f64().expect("a number"));
        assert!((a - b).abs() <= 0.02, "{model} {metric}: {a} in memory, {b} streamed");
    }
}

#[test]
fn k_means_trains_over_passes_of_a_streamed_file_and_assigns_as_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Past 100,000 rows the seeding looks at every k-th row, counted over the table.
    write_data(&dir.path().join("data.csv"), 450_000, None);
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("select", "transform.select_columns", serde_json::json!({ "columns": ["a", "b"] })),
        node("clean", "transform.clean_missing_data", serde_json::json!({ "mode": "remove_row" })),
        node("kmeans", "model.kmeans", serde_json::json!({ "clusters": 4, "starts": 2, "seed": 9 })),
        node("train", "train.train_clustering_model", serde_json::json!({})),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![
            wire("import", "data", "select", "data"),
            wire("select", "data", "clean", "data"),
            wire("kmeans", "learner", "train", "learner"),
            wire("clean", "data", "train", "data"),
            wire("train", "data", "export", "data"),
        ],
    );
    let (whole, batched) = both_ways(dir.path());
    assert_eq!(whole.lines().next(), Some("a,b,Assignments,DistanceToClusterCenter"));
    assert_eq!(whole.lines().count(), batched.lines().count());
    // The same rows in the same clusters; distances to centres summed in other batches, so equal to rounding.
    for (line, (w, s)) in whole.lines().zip(batched.lines()).enumerate().skip(1) {
        let (w, s): (Vec<&str>, Vec<&str>) = (w.split(',').collect(), s.split(',').collect());
        assert_eq!(w[..3], s[..3], "line {line}");
        let (a, b): (f64, f64) = (w[3].parse().expect("a distance"), s[3].parse().expect("a distance"));
        assert!((a - b).abs() <= 1e-9 * a.max(1.0), "line {line}: {a} vs {b}");
    }
}

#[test]
fn a_streamed_split_and_fold_assignment_are_the_same_for_any_batch_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 400_000, None);
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node(
            "split",
            "transform.split_data",
            serde_json::json!({ "fraction": 0.7, "seed": 3, "stratify_column": "city" }),
        ),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
        node(
            "folds",
            "transform.partition_and_sample",
            serde_json::json!({ "mode": "folds", "folds": 4, "fold": 2, "seed": 5 }),
        ),
        node("export_rest", "data.export_data", serde_json::json!({ "path": "rest.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![
            wire("import", "data", "split", "data"),
            wire("split", "first", "export", "data"),
            wire("split", "second", "folds", "data"),
            wire("folds", "rest", "export_rest", "data"),
        ],
    );
    let outputs = |extra: &[&str]| {
        let (ok, stderr, _) = run(dir.path(), extra);
        assert!(ok, "{stderr}");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("an exported file");
        (read("out.csv"), read("rest.csv"))
    };
    let (first, rest) = outputs(&[]);
    let rows = first.lines().count() - 1;
    assert!((rows as f64 - 0.7 * 400_000.0).abs() <= 3.0, "{rows} rows in the first part");
    assert!(rest.lines().next().is_some_and(|h| h.ends_with(",fold")), "the fold column is added");
    // Batches of about 1, 2 and 3 MiB: the same rows in each part.
    for budget in ["4M", "16M", "24M"] {
        let (streamed_first, streamed_rest) = outputs(&["--memory-budget", budget]);
        assert!(streamed_first == first, "the first part with a {budget} budget");
        assert!(streamed_rest == rest, "the other folds with a {budget} budget");
    }
}

#[test]
fn a_block_output_larger_than_the_budget_is_spilled_and_read_back_as_a_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_data(&dir.path().join("data.csv"), 200_000, None);
    let nodes = vec![
        node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
        node("twice", "transform.add_rows", serde_json::json!({})),
        node("export", "data.export_data", serde_json::json!({ "path": "out.csv" })),
    ];
    write_workflow(
        dir.path(),
        nodes,
        vec![
            wire("import", "data", "twice", "top"),
            wire("import", "data", "twice", "bottom"),
            wire("twice", "data", "export", "data"),
        ],
    );
    let result = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(["run", "streamed.flow.json", "--no-record", "--json"])
            .args(extra)
            .current_dir(dir.path())
            .output()
            .expect("pipewright runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        let twice =
            result["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == "twice").expect("twice").clone();
        (
            twice["outputs"][0].as_str().unwrap_or_default().to_owned(),
            std::fs::read(dir.path().join("out.csv")).expect("out"),
        )
    };
    let (in_memory, whole) = result(&["--no-cache"]);
    assert!(!in_memory.contains("spill"), "{in_memory}");
    // Twice the rows of an 8 MiB file take more than half of a 12 MiB budget: the rows go on from disk.
    let (summary, spilled) = result(&["--memory-budget", "12M"]);
    assert!(summary.contains("a spill on disk"), "{summary}");
    assert!(whole == spilled, "the spilled table exports the same bytes");
    // With the project's cache on, spills go to .pipewright/spill and are gone once the run has ended.
    let spill_dir = dir.path().join(".pipewright/spill");
    assert!(spill_dir.is_dir(), "the run spilled into the project");
    assert_eq!(std::fs::read_dir(&spill_dir).expect("lists").count(), 0, "no spill is left behind");
}

#[test]
fn a_streamed_fit_refuses_missing_features_found_only_in_the_last_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 200,000 rows, about 5 MB: the last five have no "x". Streamed under a 4 MiB budget, the missing cells are in
    // the last batch of every pass; the first pass that reads the features must find them.
    let rows = 200_000;
    let mut text = String::from("x,label\n");
    for i in 0..rows {
        let x = if i >= rows - 5 { String::new() } else { format!("{:.3}", f64::from(i % 1000) / 10.0) };
        let _ = writeln!(text, "{x},{}", u8::from(i % 1000 >= 500));
    }
    std::fs::write(dir.path().join("data.csv"), text).expect("writes the data");
    write_workflow(
        dir.path(),
        vec![
            node("import", "data.import_data", serde_json::json!({ "path": "data.csv" })),
            node("logistic", "model.logistic_regression_two_class", serde_json::json!({})),
            node("train", "train.train_model", serde_json::json!({ "label_column": "label" })),
        ],
        vec![wire("import", "data", "train", "data"), wire("logistic", "learner", "train", "learner")],
    );
    for extra in [&[][..], &["--memory-budget", "4M"][..]] {
        let (ok, stderr, _) = run(dir.path(), extra);
        assert!(!ok, "the fit fails ({extra:?})");
        assert!(
            stderr.contains("column \"x\" has 5 missing values") && stderr.contains("Clean Missing Data"),
            "{extra:?}: {stderr}"
        );
    }
}
