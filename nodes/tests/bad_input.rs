//! Bad input as a user meets it, through small workflows run the way the designer and the CLI run them: export
//! paths that would overwrite the project store, the workflow or an input; tables left without rows; infinite
//! labels and features; NaN cells; files that are not the text they claim to be; duplicate and empty column
//! names. Every refusal names the block, column or file, and never quotes a file's contents.

mod support;

use std::path::Path;

use serde_json::{Value as Json, json};

use pipewright_engine::{NodeStatus, RunError, RunOptions, RunReport, Value, Workflow, validate_in};
use support::workflow;

/// Runs `workflow` with relative paths resolved against `dir`.
fn run_in(dir: &Path, workflow: &Workflow) -> Result<RunReport, RunError> {
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(workflow, &pipewright_nodes::catalog(), &options, &|_| {})
}

fn failure<'a>(report: &'a RunReport, node: &str) -> &'a str {
    match &report.node(node).unwrap_or_else(|| panic!("{node} was not planned")).status {
        NodeStatus::Failed(message) => message,
        other => panic!("{node} was expected to fail but is {other:?}"),
    }
}

fn table<'a>(report: &'a RunReport, node: &str, port: usize) -> &'a pipewright_engine::Table {
    let outcome = report.node(node).unwrap_or_else(|| panic!("{node} was not planned"));
    assert!(outcome.status.is_success(), "{node}: {:?}", outcome.status);
    match &outcome.outputs[port] {
        Value::Table(t) => t,
        other => panic!("{node} gave {}", other.summary()),
    }
}

fn import(path: &str) -> (&'static str, &'static str, Json) {
    ("data", "data.import_data", json!({"path": path}))
}

// Item 1 ------------------------------------------------------------------------------------------------------

#[test]
fn exports_aimed_at_the_store_the_workflow_or_an_input_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join(".pipewright")).expect("store folder");
    std::fs::write(root.join(".pipewright/project.db"), b"the run history").expect("store");
    std::fs::write(root.join("data.csv"), b"x,y\n1,2\n3,4\n").expect("data");
    std::fs::create_dir_all(root.join("sub")).expect("sub");
    std::fs::write(root.join("model.pwmodel"), b"a package").expect("package");
    let flow = root.join("export.flow.json");
    std::fs::write(&flow, b"{}").expect("placeholder");
    // A workflow file under another name is recognized by its content.
    std::fs::write(root.join("renamed.json"), b"{\n  \"format\": \"pipewright.workflow\",\n  \"version\": 1\n}")
        .expect("renamed workflow");

    let export = |path: &str| {
        workflow(
            &[import("data.csv"), ("export", "data.export_data", json!({"path": path}))],
            &[("data.data", "export.data")],
        )
    };
    for (path, words) in [
        (".pipewright/project.db", &["project store", ".pipewright"][..]),
        (".pipewright/new.csv", &["project store"]),
        ("sub/../.pipewright/project.db", &["project store"]),
        ("missing/../.pipewright/cache/x.csv", &["project store"]),
        ("export.flow.json", &["workflow file"]),
        ("renamed.json", &["workflow file"]),
        ("data.csv", &["Import Data \"data\" reads"]),
        ("sub/../data.csv", &["Import Data \"data\" reads"]),
    ] {
        let wf = export(path);
        let problems = validate_in(&wf, &pipewright_nodes::catalog(), Some(root)).problems;
        let problem = problems
            .iter()
            .find(|p| p.node.as_deref() == Some("export"))
            .unwrap_or_else(|| panic!("{path}: no problem for the export block ({problems:?})"));
        let message = problem.to_string();
        assert!(message.contains("node \"export\"") && message.contains("Export Data"), "{message}");
        assert!(message.contains("parameter \"path\"") && message.contains(path), "{message}");
        for w in words {
            assert!(message.contains(w), "{path}: \"{message}\" should say \"{w}\"");
        }
        let refused = run_in(root, &wf).expect_err("the run does not start");
        assert!(matches!(refused, RunError::Invalid(_)), "{refused}");
    }
    assert_eq!(std::fs::read(root.join(".pipewright/project.db")).expect("store"), b"the run history");
    assert_eq!(std::fs::read(root.join("data.csv")).expect("data"), b"x,y\n1,2\n3,4\n");
    assert_eq!(std::fs::read(&flow).expect("flow"), b"{}");
    assert!(!root.join(".pipewright/new.csv").exists());

    // Export Model Package over the file Batch Score reads.
    let package = workflow(
        &[
            ("batch", "deploy.batch_score", json!({"package": "model.pwmodel", "path": "data.csv"})),
            ("export", "deploy.export_model_package", json!({"path": "./model.pwmodel"})),
        ],
        &[],
    );
    let problems = validate_in(&package, &pipewright_nodes::catalog(), Some(root)).problems;
    assert!(
        problems.iter().any(|p| p.node.as_deref() == Some("export")
            && p.message.contains("Export Model Package")
            && p.message.contains("Batch Score \"batch\" reads")),
        "{problems:?}"
    );

    // Somewhere else is fine, and is written.
    let fine = export("out/copy.csv");
    let report = run_in(root, &fine).expect("runs");
    assert!(report.success, "{:?}", report.nodes);
    assert!(root.join("out/copy.csv").exists());
}

// Item 4 ------------------------------------------------------------------------------------------------------

#[test]
fn a_table_without_rows_is_reported_as_such_naming_the_block_that_emptied_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("header.csv"), b"x,y,label\n").expect("header only");
    std::fs::write(dir.path().join("data.csv"), b"x,y,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n").expect("data");
    let learner = ("learner", "model.logistic_regression_two_class", json!({}));
    let train = ("train", "train.train_model", json!({"label_column": "label"}));

    // A header-only file straight into Train Model.
    let wf = workflow(
        &[import("header.csv"), learner.clone(), train.clone()],
        &[("data.data", "train.data"), ("learner.learner", "train.learner")],
    );
    let report = run_in(dir.path(), &wf).expect("runs");
    let message = failure(&report, "train");
    assert!(message.contains("no rows") && message.contains("Import Data \"data\""), "{message}");

    // A filter that keeps nothing, then Normalize (which passes the empty table on), then Train Model.
    let wf = workflow(
        &[
            import("data.csv"),
            ("filter", "transform.filter_rows", json!({"expression": "x > 100"})),
            ("normalize", "transform.normalize_data", json!({})),
            learner.clone(),
            train.clone(),
        ],
        &[
            ("data.data", "filter.data"),
            ("filter.data", "normalize.data"),
            ("normalize.data", "train.data"),
            ("learner.learner", "train.learner"),
        ],
    );
    let report = run_in(dir.path(), &wf).expect("runs");
    let failed: Vec<(&str, &str)> = report
        .nodes
        .iter()
        .filter_map(|n| match &n.status {
            NodeStatus::Failed(m) => Some((n.node.as_str(), m.as_str())),
            _ => None,
        })
        .collect();
    let (node, message) = failed.first().unwrap_or_else(|| panic!("something fails: {:?}", report.nodes));
    assert!(["normalize", "train"].contains(node), "{failed:?}");
    assert!(message.contains("no rows") && message.contains("Filter Rows \"filter\""), "{message}");
    assert!(!message.contains("column"), "blames no column: {message}");

    // A split that leaves no test rows: scoring and evaluating the empty part names the split.
    let wf = workflow(
        &[
            import("data.csv"),
            ("split", "transform.split_data", json!({"fraction": 1.0})),
            learner,
            train,
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("data.data", "split.data"),
            ("split.first", "train.data"),
            ("learner.learner", "train.learner"),
            ("train.model", "score.model"),
            ("split.second", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    );
    let report = run_in(dir.path(), &wf).expect("runs");
    let message = report
        .nodes
        .iter()
        .find_map(|n| match &n.status {
            NodeStatus::Failed(m) => Some(m.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("scoring or evaluating no rows fails: {:?}", report.nodes));
    assert!(message.contains("no rows") && message.contains("Split Data \"split\""), "{message}");
}

// Item 5 ------------------------------------------------------------------------------------------------------

#[test]
fn infinite_labels_and_features_are_refused_at_training_naming_the_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("label.csv"), b"x,y\n1,2.5\n2,inf\n3,1e309\n4,5.5\n").expect("label");
    std::fs::write(dir.path().join("feature.csv"), b"x,y\n1,2.5\n-inf,3.5\n3,4.5\n4,5.5\n").expect("feature");
    for (file, learner, words) in [
        ("label.csv", "model.linear_regression", ["label \"y\"", "infinite values"]),
        ("label.csv", "model.decision_forest_regression", ["label \"y\"", "infinite values"]),
        ("feature.csv", "model.linear_regression", ["column \"x\"", "infinite values"]),
    ] {
        for trainer in ["train", "cv"] {
            let (kind, params) = if trainer == "train" {
                ("train.train_model", json!({"label_column": "y"}))
            } else {
                ("train.cross_validate_model", json!({"label_column": "y", "folds": 2}))
            };
            let wf = workflow(
                &[import(file), ("learner", learner, json!({})), ("fit", kind, params)],
                &[("data.data", "fit.data"), ("learner.learner", "fit.learner")],
            );
            let report = run_in(dir.path(), &wf).expect("runs");
            let message = failure(&report, "fit");
            if trainer == "train" {
                let count = if file == "label.csv" { "2 infinite" } else { "1 infinite" };
                assert!(message.contains(count), "{message}");
            }
            for w in words {
                assert!(message.contains(w), "{file} {learner} {trainer}: \"{message}\" should say \"{w}\"");
            }
        }
    }
}

// Item 8 ------------------------------------------------------------------------------------------------------

#[test]
fn nan_cells_are_missing_in_every_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("nan.csv"), b"x,y\n1,2.5\n2,NaN\n3,NaN\n4,5.5\n5,\n").expect("data");
    let wf = workflow(
        &[
            import("nan.csv"),
            ("clean", "transform.clean_missing_data", json!({"columns": ["y"], "mode": "remove_row"})),
            ("fill", "transform.clean_missing_data", json!({"columns": ["y"], "mode": "constant", "replacement": "0"})),
            ("drop", "transform.clean_missing_data", json!({"columns": ["y"], "mode": "remove_column"})),
            ("summary", "transform.summarize_data", json!({})),
            ("missing", "transform.filter_rows", json!({"expression": "y is null"})),
            ("learner", "model.linear_regression", json!({})),
            ("train", "train.train_model", json!({"label_column": "y"})),
        ],
        &[
            ("data.data", "clean.data"),
            ("data.data", "fill.data"),
            ("data.data", "drop.data"),
            ("data.data", "summary.data"),
            ("data.data", "missing.data"),
            ("clean.data", "train.data"),
            ("learner.learner", "train.learner"),
        ],
    );
    let report = run_in(dir.path(), &wf).expect("runs");
    assert!(report.success, "{:?}", report.nodes.iter().map(|n| (&n.node, &n.status)).collect::<Vec<_>>());
    assert_eq!(table(&report, "clean", 0).height(), 2, "rows with NaN or empty y are removed");
    let filled = table(&report, "fill", 0);
    let y: Vec<Option<f64>> = filled.frame.column("y").expect("y").f64().expect("f64").iter().collect();
    assert_eq!(y, [Some(2.5), Some(0.0), Some(0.0), Some(5.5), Some(0.0)]);
    assert!(table(&report, "drop", 0).frame.column("y").is_err(), "a column with NaN cells has missing cells");
    let summary = table(&report, "summary", 0);
    let missing = summary.frame.column("missing").expect("missing").cast(&polars::prelude::DataType::Int64);
    assert_eq!(missing.expect("ints").i64().expect("i64").get(1), Some(3));
    assert_eq!(table(&report, "missing", 0).height(), 3, "is null keeps NaN rows");
}

// Items 2 and 6 -----------------------------------------------------------------------------------------------

#[test]
fn files_that_are_not_text_are_named_for_what_they_are_and_never_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "root:$6$Zq0Qv1pX$TOPSECRETHASH:19000:0:99999:7:::";
    let utf16: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain("a,b\n1,2\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    // Text for the first 8 KiB, then bytes no text has: not valid UTF-8, and not latin-1 either.
    let late_noise = [b"a,b\n".repeat(3000).as_slice(), b"\xff\x01,2\n"].concat();
    let files: [(&str, Vec<u8>, &[&str]); 8] = [
        ("utf16.csv", utf16, &["UTF-16", "save it as UTF-8"]),
        ("data.csv.gz", b"\x1F\x8B\x08\x00\x00\x00\x00\x00\x00\x03".to_vec(), &["gzip"]),
        ("program.csv", [b"\x7FELF\x02\x01\x01\x00".as_slice(), secret.as_bytes()].concat(), &["binary"]),
        ("latin1.csv", b"name,city\nJos\xe9,K\xf6ln\n".to_vec(), &["latin-1"]),
        ("noise.csv", [secret.as_bytes(), b"\n\xff\x01\x02\xfe\n"].concat(), &["binary"]),
        ("late-noise.csv", late_noise, &["not valid UTF-8 (line 3001)", "not latin-1 text either"]),
        ("shadow.json", format!("{secret}\n").into_bytes(), &["malformed JSON", "line 1"]),
        ("shadow.ndjson", format!("{{\"a\": 1}}\n{secret}\n").into_bytes(), &["line 2"]),
    ];
    for (name, bytes, words) in files {
        std::fs::write(dir.path().join(name), &bytes).expect("write");
        let wf = workflow(&[(import(name).0, import(name).1, json!({"path": name, "format": "auto"}))], &[]);
        let report = run_in(dir.path(), &wf).expect("runs");
        let message = failure(&report, "data");
        assert!(message.contains(name), "{name}: {message}");
        for w in words {
            assert!(message.contains(w), "{name}: \"{message}\" should say \"{w}\"");
        }
        assert!(!message.contains("TOPSECRET") && !message.contains("root:"), "{name} is quoted: {message}");
    }
    // latin-1 is not suggested for files that cannot be latin-1 text.
    let wf = workflow(&[import("late-noise.csv")], &[]);
    assert!(!failure(&run_in(dir.path(), &wf).expect("runs"), "data").contains("set the encoding"));
}

#[test]
fn csv_values_that_do_not_fit_are_located_but_not_quoted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("typed.csv"), b"id,score\n1,10\n2,11\n3,s3cr3t-value\n").expect("write");
    std::fs::write(dir.path().join("ragged.csv"), b"a,b\n1,2\n3,4,TOPSECRET\n").expect("write");
    for (file, params, words) in [
        ("typed.csv", json!({"path": "typed.csv", "infer_rows": 2}), &["line 4", "column 2", "\"score\""][..]),
        ("ragged.csv", json!({"path": "ragged.csv"}), &["line 3", "expected 2 fields, found 3"]),
    ] {
        let wf = workflow(&[("data", "data.import_data", params)], &[]);
        let message = failure(&run_in(dir.path(), &wf).expect("runs"), "data").to_owned();
        for w in words {
            assert!(message.contains(w), "{file}: \"{message}\" should say \"{w}\"");
        }
        assert!(!message.contains("s3cr3t") && !message.contains("TOPSECRET"), "{file} is quoted: {message}");
    }
}

// Item 7 ------------------------------------------------------------------------------------------------------

#[test]
fn duplicate_and_empty_column_names_are_renamed_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dup.csv"), b"a,b,a,\n1,2,3,\n4,5,6,\n").expect("write");
    let wf = workflow(&[import("dup.csv")], &[]);
    let report = run_in(dir.path(), &wf).expect("runs");
    let t = table(&report, "data", 0);
    let names: Vec<String> = t.frame.get_column_names().iter().map(ToString::to_string).collect();
    assert_eq!(names, ["a", "b", "a_2", "column_4"]);
    let a2: Vec<Option<i64>> = t.frame.column("a_2").expect("a_2").i64().expect("ints").iter().collect();
    assert_eq!(a2, [Some(3), Some(6)], "the second \"a\" keeps its own values");
    let summary = report.node("data").expect("ran").summaries[0].clone();
    assert!(summary.contains("\"a\" appears twice") && summary.contains("a_2"), "{summary}");
    assert!(summary.contains("column 4 has no name") && summary.contains("column_4"), "{summary}");
}

#[test]
fn a_system_file_read_as_csv_is_refused_without_quoting_its_first_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shadow = "root:$6$abc$TOPSECRETHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";
    std::fs::write(dir.path().join("shadow.txt"), shadow).expect("write");
    std::fs::write(dir.path().join("semi.csv"), "a;b\n1;2\n3;4\n").expect("write");
    let wf = workflow(
        &[
            import("shadow.txt"),
            ("learner", "model.linear_regression", json!({})),
            ("train", "train.train_model", json!({"label_column": "y"})),
        ],
        &[("data.data", "train.data"), ("learner.learner", "train.learner")],
    );
    // Validation cannot peek at its columns, so it names none; the run stops at Import Data.
    let problems = validate_in(&wf, &pipewright_nodes::catalog(), Some(dir.path())).problems;
    assert!(problems.iter().all(|p| !p.message.contains("TOPSECRET")), "{problems:?}");
    let report = run_in(dir.path(), &wf).expect("runs");
    let message = failure(&report, "data");
    assert!(message.contains("shadow.txt") && message.contains("colons"), "{message}");
    assert!(!message.contains("TOPSECRET") && !message.contains("root"), "{message}");
    let wf = workflow(&[import("semi.csv")], &[]);
    let message = failure(&run_in(dir.path(), &wf).expect("runs"), "data").to_owned();
    assert!(message.contains("set the delimiter parameter to semicolon"), "{message}");
}
