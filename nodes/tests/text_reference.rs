//! Extract N-Gram Features against scikit-learn's `CountVectorizer` and `TfidfVectorizer` on the bundled SMS
//! messages (5,574 rows, unigrams and bigrams in at least 3 rows): the same vocabulary, and for a sample of rows
//! the same counts exactly and the same TF-IDF weights to 1e-12; Feature Hashing against `HashingVectorizer`
//! (1,024 columns, unigrams and bigrams) to 1e-12. scikit-learn runs from the Python environment `.ci/run`
//! prepares (`PIPEWRIGHT_PY_VENV`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value as Json, json};

use pipewright_engine::{Node, RunOptions, Value, Workflow};

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")))?;
    let python = venv.join("bin/python");
    let has_sklearn = Command::new(&python).args(["-c", "import sklearn"]).output().is_ok_and(|o| o.status.success());
    has_sklearn.then_some(python)
}

fn node(id: &str, kind: &str, params: &Json) -> Node {
    let params = params.as_object().expect("object").iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Node { id: id.into(), kind: kind.into(), title: None, params, position: [0.0, 0.0] }
}

/// The n-gram table of the SMS messages with one weighting.
fn ngram_table(weighting: &str) -> pipewright_engine::Table {
    block_on_messages(
        "transform.extract_ngram_features",
        &json!({"column": "message", "weighting": weighting, "min_n": 1, "max_n": 2, "min_df": 3, "max_terms": 100_000}),
    )
}

/// The output table of a block run on the SMS messages.
fn block_on_messages(kind: &str, params: &Json) -> pipewright_engine::Table {
    let catalog = pipewright_nodes::catalog();
    let mut w = Workflow::new("text");
    w.nodes.push(node("data", "data.sample_dataset", &json!({"dataset": "sms_spam"})));
    w.nodes.push(node("ngrams", kind, params));
    w.edges.push(pipewright_engine::Edge {
        from: pipewright_engine::PortRef { node: "data".into(), port: "data".into() },
        to: pipewright_engine::PortRef { node: "ngrams".into(), port: "data".into() },
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    let report = pipewright_engine::run(&w, &catalog, &options, &|_| {}).expect("runs");
    let outcome = report.node("ngrams").expect("ran");
    match outcome.outputs.first() {
        Some(Value::Table(t)) => (**t).clone(),
        other => panic!("no table: {:?} {:?}", outcome.status, other.map(Value::summary)),
    }
}

#[test]
fn ngram_features_equal_scikit_learns() {
    let Some(python) = venv_python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "scikit-learn is missing under CI=true: .ci/run installs it"
        );
        eprintln!("skipped: no Python environment with scikit-learn (.ci/run makes one)");
        return;
    };
    let rows = [0_usize, 2, 5, 15, 100, 1000, 2500, 4000, 5573];
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/datasets/sms_spam.csv");
    let mut command = Command::new(python);
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/ngram_check.py"))
        .arg(&csv)
        .args(["1", "2", "3"]);
    command.args(rows.iter().map(ToString::to_string));
    let out = command.output().expect("the reference runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Json = serde_json::from_slice(&out.stdout).expect("json");
    let vocabulary: Vec<&str> =
        reference["vocabulary"].as_array().expect("vocabulary").iter().filter_map(Json::as_str).collect();
    for (weighting, tolerance) in [("count", 0.0), ("tfidf", 1e-12)] {
        let table = ngram_table(weighting);
        let ours: Vec<String> = table
            .frame
            .get_column_names()
            .iter()
            .filter_map(|n| n.strip_prefix("message_").map(str::to_owned))
            .collect();
        let missing: Vec<&&str> = vocabulary.iter().filter(|v| !ours.iter().any(|o| o == **v)).take(10).collect();
        let extra: Vec<&String> = ours.iter().filter(|o| !vocabulary.contains(&o.as_str())).take(10).collect();
        assert_eq!(
            ours.len(),
            vocabulary.len(),
            "{weighting}: only scikit-learn has {missing:?}; only ours has {extra:?}"
        );
        assert!(missing.is_empty() && extra.is_empty(), "{missing:?} {extra:?}");
        for &row in &rows {
            let expected = &reference[weighting][row.to_string()];
            for gram in &vocabulary {
                let column = table.frame.column(&format!("message_{gram}")).expect("column");
                let got = column.f64().expect("f64").get(row).expect("value");
                let want = expected.get(*gram).and_then(Json::as_f64).unwrap_or(0.0);
                assert!(
                    (got - want).abs() <= tolerance,
                    "{weighting}, row {row}, \"{gram}\": ours {got}, scikit-learn {want}"
                );
            }
        }
    }
}

#[test]
fn hashed_features_equal_scikit_learns() {
    let Some(python) = venv_python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "scikit-learn is missing under CI=true: .ci/run installs it"
        );
        eprintln!("skipped: no Python environment with scikit-learn (.ci/run makes one)");
        return;
    };
    let rows = [0_usize, 2, 5, 15, 100, 1000, 2500, 4000, 5573];
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/datasets/sms_spam.csv");
    let mut command = Command::new(python);
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/hashing_check.py"))
        .arg(&csv)
        .args(["10", "1", "2"]);
    command.args(rows.iter().map(ToString::to_string));
    let out = command.output().expect("the reference runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Json = serde_json::from_slice(&out.stdout).expect("json");
    let table = block_on_messages(
        "transform.feature_hashing",
        &json!({"column": "message", "bits": 10, "min_n": 1, "max_n": 2}),
    );
    for &row in &rows {
        let expected = &reference[row.to_string()];
        for j in 0..1024 {
            let got = table
                .frame
                .column(&format!("message_hash_{j}"))
                .expect("column")
                .f64()
                .expect("f64")
                .get(row)
                .expect("value");
            let want = expected.get(j.to_string()).and_then(Json::as_f64).unwrap_or(0.0);
            assert!((got - want).abs() <= 1e-12, "row {row}, column {j}: ours {got}, scikit-learn {want}");
        }
    }
}
