//! The anomaly-detection blocks: Isolation Forest, PCA-Based Anomaly Detection and One-Class SVM against
//! scikit-learn on standardized breast-cancer features (malignant rows as the anomalies; fixtures from
//! `tests/reference/make_anomaly_fixtures.py`), then Train Anomaly Detection Model → Score Model →
//! Evaluate Model as a user wires them, hand-made cases, and bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use pipewright_engine::{
    CancelToken, Device, Edge, Model, Node, NodeContext, NodeStatus, Params, PortRef, RunOptions, RunReport, Task,
    Value, Workflow,
};
use pipewright_nodes::algo::pca_anomaly;
use pipewright_nodes::evaluate::metrics::roc_auc;
use pipewright_nodes::frame::Matrix;
use pipewright_nodes::model::{Labels, Prediction, TrainingSet, algorithm};

const LEARNERS: [&str; 3] = ["model.isolation_forest", "model.pca_anomaly_detection", "model.one_class_svm"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture() -> Json {
    let path = root().join("tests/fixtures/sklearn_anomaly.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Breast-cancer features standardized over all rows (mean, population standard deviation), as
/// scikit-learn's `StandardScaler`, and whether each row is malignant.
fn breast_cancer() -> (Matrix, Vec<bool>) {
    let text = std::fs::read_to_string(root().join("assets/datasets/breast_cancer.csv")).expect("breast_cancer.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let label = header.iter().position(|h| *h == "diagnosis").expect("diagnosis");
    let (mut data, mut truth) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        data.extend(
            cells.iter().enumerate().filter(|(j, _)| *j != label).map(|(_, c)| c.parse::<f64>().expect("a number")),
        );
        truth.push(cells[label] == "malignant");
    }
    let mut x = Matrix { rows: truth.len(), cols: header.len() - 1, data };
    let n = x.rows as f64;
    for j in 0..x.cols {
        let mean = (0..x.rows).map(|i| x.get(i, j)).sum::<f64>() / n;
        let sd = ((0..x.rows).map(|i| (x.get(i, j) - mean).powi(2)).sum::<f64>() / n).sqrt();
        for i in 0..x.rows {
            x.row_mut(i)[j] = (x.get(i, j) - mean) / sd;
        }
    }
    (x, truth)
}

/// Fits learner `id` (defaults plus `overrides`) on `x` and returns its anomaly scores and flags on `x`.
fn fit_score(id: &str, overrides: &Json, x: &Matrix) -> (Vec<f64>, Vec<bool>) {
    let catalog = pipewright_nodes::catalog();
    let spec = catalog.get(id).unwrap_or_else(|| panic!("{id} is not registered")).spec.clone();
    let mut values: BTreeMap<String, Json> =
        spec.params.iter().map(|p| (p.name.to_owned(), p.default.clone())).collect();
    values.insert("seed".into(), json!(0));
    for (k, v) in overrides.as_object().expect("an object") {
        values.insert(k.clone(), v.clone());
    }
    let params = Params::from_map(values);
    let cancel = CancelToken::new();
    let progress = |_: f32, _: &str| {};
    let device_used = pipewright_engine::DeviceRecord::default();
    let ctx = NodeContext {
        node_id: "anomaly",
        params: &params,
        inputs: Vec::new().into(),
        base_dir: Path::new("."),
        device: Device::Cpu,
        device_used: &device_used,
        cancel: &cancel,
        progress: &progress,
        spec: &spec,
        provenance: &pipewright_engine::Provenance::default(),
        memory_budget: u64::MAX,
        spill: &pipewright_engine::spill::SpillDir::beside(None),
    };
    let algo = algorithm(id).unwrap_or_else(|| panic!("no algorithm {id}"));
    let set = TrainingSet { x: x.clone(), labels: Labels::None };
    let (state, decoded) = algo.fit(&params, &set, &ctx).unwrap_or_else(|e| panic!("{id} failed to fit: {e}"));
    let model = Model {
        algorithm: id.to_owned(),
        name: spec.name.to_owned(),
        task: Task::AnomalyDetection,
        label: None,
        features: (0..x.cols).map(|j| format!("f{j}")).collect(),
        classes: Vec::new(),
        state,
        decoded,
    };
    match algo.predict(&model, x).unwrap_or_else(|e| panic!("{id} failed to predict: {e}")) {
        Prediction::Anomalies { scores, flags } => (scores, flags),
        _ => panic!("{id} gave no anomaly scores"),
    }
}

fn auc(truth: &[bool], scores: &[f64]) -> f64 {
    roc_auc(truth, scores).expect("both classes present")
}

#[test]
fn isolation_forest_ranks_malignant_rows_like_scikit_learn() {
    // Trees are random and our generator is not numpy's, so single forests cannot agree; a forest's AUC
    // varies by about 0.02 between seeds, so the means over 20 seeds are compared.
    let reference = fixture()["isolation_forest"].clone();
    let (x, truth) = breast_cancer();
    let seeds = reference["seeds"].as_u64().expect("seeds");
    let ours: Vec<f64> = (0..seeds)
        .map(|seed| {
            let (scores, flags) = fit_score("model.isolation_forest", &json!({ "seed": seed }), &x);
            assert!(scores.iter().all(|s| *s > 0.0 && *s < 1.0));
            let flagged = flags.iter().filter(|f| **f).count() as f64 / x.rows as f64;
            assert!((flagged - 0.1).abs() < 0.01, "contamination 0.1 flags {flagged}");
            auc(&truth, &scores)
        })
        .collect();
    let mean = ours.iter().sum::<f64>() / ours.len() as f64;
    let expected = reference["mean_roc_auc"].as_f64().expect("mean");
    eprintln!("isolation forest mean ROC AUC over {seeds} seeds: ours {mean:.4}, scikit-learn {expected:.4}");
    assert!((mean - expected).abs() < 0.02, "mean ROC AUC: ours {mean:.4}, scikit-learn {expected:.4}");
}

#[test]
fn one_class_svm_matches_scikit_learn() {
    let (x, truth) = breast_cancer();
    for case in fixture()["one_class_svm"].as_array().expect("cases") {
        let nu = case["nu"].as_f64().expect("nu");
        let (scores, flags) = fit_score("model.one_class_svm", &json!({ "nu": nu, "gamma": "scale" }), &x);
        let ours = auc(&truth, &scores);
        let expected = case["roc_auc"].as_f64().expect("auc");
        assert!((ours - expected).abs() < 0.01, "ν = {nu}: ROC AUC ours {ours:.4}, scikit-learn {expected:.4}");
        let flagged = flags.iter().filter(|f| **f).count() as f64 / x.rows as f64;
        let expected_flagged = case["outlier_fraction"].as_f64().expect("fraction");
        eprintln!(
            "one-class SVM ν = {nu}: ROC AUC {ours:.4} vs {expected:.4}, outliers {flagged:.4} vs {expected_flagged:.4}"
        );
        assert!(
            (flagged - expected_flagged).abs() < 0.01,
            "ν = {nu}: outliers ours {flagged:.4}, scikit-learn {expected_flagged:.4}"
        );
    }
}

#[test]
fn one_class_svm_dual_matches_libsvm() {
    use pipewright_nodes::algo::one_class_svm::{OneClassSettings, fit, scale_gamma};
    let (x, _) = breast_cancer();
    for case in fixture()["one_class_svm"].as_array().expect("cases") {
        let nu = case["nu"].as_f64().expect("nu");
        let gamma = case["gamma"].as_f64().expect("gamma");
        assert!((scale_gamma(&x) - gamma).abs() < 1e-12 * gamma);
        let fitted = fit(&x, OneClassSettings { nu, gamma, tolerance: 1e-3 }, &|| true).expect("fits");
        let rho = case["rho"].as_f64().expect("rho");
        // The same working-set selection and stopping rule as libsvm: the same optimum to rounding.
        assert!((fitted.rho - rho).abs() < 1e-6 * rho.abs().max(1.0), "ν = {nu}: ρ ours {}, libsvm {rho}", fitted.rho);
        for (i, expected) in case["decision_head"].as_array().expect("head").iter().enumerate() {
            let expected = expected.as_f64().expect("a number");
            let ours = fitted.decision(x.row(i));
            assert!((ours - expected).abs() < 1e-6 * rho.abs().max(1.0), "ν = {nu}, row {i}: {ours} vs {expected}");
        }
        let support = case["support_vectors"].as_u64().expect("count") as f64;
        let ours = fitted.alpha.len() as f64;
        eprintln!("one-class SVM ν = {nu}: ρ {} vs {rho}, support vectors {ours} vs {support}", fitted.rho);
        assert!((ours - support).abs() < 0.5, "ν = {nu}: support vectors ours {ours}, libsvm {support}");
    }
}

#[test]
fn pca_reconstruction_error_equals_scikit_learn() {
    let (x, truth) = breast_cancer();
    for case in fixture()["pca"].as_array().expect("cases") {
        let k = usize::try_from(case["components"].as_u64().expect("k")).expect("small");
        let expected: Vec<f64> =
            case["errors"].as_array().expect("errors").iter().map(|v| v.as_f64().expect("a number")).collect();
        let errors = pca_anomaly::fit(&x, k, true, false).errors(&x);
        for (i, (ours, theirs)) in errors.iter().zip(&expected).enumerate() {
            assert!((ours - theirs).abs() < 1e-6 * theirs.max(1.0), "k = {k}, row {i}: {ours} vs {theirs}");
        }
        // The block's score is monotone in the error, so its ranking and AUC are scikit-learn's.
        let (scores, _) = fit_score("model.pca_anomaly_detection", &json!({ "components": k }), &x);
        let ours = auc(&truth, &scores);
        let theirs = case["roc_auc"].as_f64().expect("auc");
        eprintln!("PCA k = {k}: ROC AUC ours {ours:.6}, scikit-learn {theirs:.6}");
        assert!((ours - theirs).abs() < 1e-6, "k = {k}: ROC AUC ours {ours}, scikit-learn {theirs}");
    }
}

// ---- Workflows -------------------------------------------------------------------------------------

fn node(id: &str, kind: &str, params: &Json) -> Node {
    Node {
        id: id.into(),
        kind: kind.into(),
        title: None,
        params: params.as_object().expect("an object").clone().into_iter().collect(),
        position: [0.0, 0.0],
    }
}

/// Import `data.csv` (label column `label`, if given, marked with Edit Metadata) → Train Anomaly Detection
/// Model with learner `kind` → Score Model on the same rows → Evaluate Model.
fn anomaly_workflow(dir: &Path, kind: &str, params: &Json, label: Option<&str>) -> RunReport {
    let mut wf = Workflow::new("anomaly test");
    wf.seed = 7;
    wf.nodes.push(node("data", "data.import_data", &json!({ "path": "data.csv" })));
    let mut source = "data";
    if let Some(label) = label {
        wf.nodes.push(node("meta", "transform.edit_metadata", &json!({ "columns": [label], "role": "label" })));
        wf.edges.push(Edge { from: PortRef::new("data", "data"), to: PortRef::new("meta", "data") });
        source = "meta";
    }
    wf.nodes.push(node("learner", kind, params));
    wf.nodes.push(node("train", "train.train_anomaly_detection_model", &json!({})));
    wf.nodes.push(node("score", "train.score_model", &json!({})));
    wf.nodes.push(node("evaluate", "evaluate.evaluate_model", &json!({})));
    for (from, to) in [
        (("learner", "learner"), ("train", "learner")),
        ((source, "data"), ("train", "data")),
        (("train", "model"), ("score", "model")),
        ((source, "data"), ("score", "data")),
        (("score", "data"), ("evaluate", "scored")),
    ] {
        wf.edges.push(Edge { from: PortRef::new(from.0, from.1), to: PortRef::new(to.0, to.1) });
    }
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(&wf, &pipewright_nodes::catalog(), &options, &|_| {})
        .unwrap_or_else(|e| panic!("refused: {e}"))
}

fn with_csv(csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("data.csv"), csv).expect("write");
    dir
}

fn failure<'a>(report: &'a RunReport, node: &str) -> &'a str {
    match &report.node(node).unwrap_or_else(|| panic!("{node} did not run")).status {
        NodeStatus::Failed(message) => message,
        other => panic!("{node} was expected to fail but is {other:?}"),
    }
}

fn scored(report: &RunReport) -> std::sync::Arc<pipewright_engine::Table> {
    let outcome = report.node("score").expect("score ran");
    let Some(Value::Table(t)) = outcome.outputs.first() else { panic!("score failed: {:?}", outcome.status) };
    t.clone()
}

fn column(table: &pipewright_engine::Table, name: &str) -> Vec<f64> {
    let c = table.frame.column(name).unwrap_or_else(|_| panic!("no {name}"));
    let c = c.cast(&polars::prelude::DataType::Float64).expect("numbers");
    c.f64().expect("f64").iter().map(|v| v.expect("a value")).collect()
}

/// A 5 × 5 grid of normal rows on (nearly) the plane c = 0.5a − 0.3b, one row in the middle of the grid
/// but far off the plane last, and a label saying so.
fn grid_with_outlier() -> String {
    let mut csv = String::from("a,b,c,kind\n");
    for i in 0..25 {
        let (a, b) = (f64::from(i % 5) * 2.0, f64::from(i / 5) * 2.0);
        let c = 0.5 * a - 0.3 * b + 0.01 * f64::from(i % 3);
        csv += &[a, b, c].map(|v| v.to_string()).join(",");
        csv += ",normal\n";
    }
    csv.push_str("4,4,10.8,odd\n");
    csv
}

#[test]
fn an_obvious_outlier_gets_the_top_score_from_every_learner() {
    let dir = with_csv(&grid_with_outlier());
    for kind in LEARNERS {
        // One row in 26 is an anomaly: contamination 0.04. The SVM needs ν = 0.2: with ν·n ≈ 1 a single
        // support vector carries the boundary and scikit-learn's OneClassSVM misses this outlier too.
        let params =
            if kind == "model.one_class_svm" { json!({ "nu": 0.2 }) } else { json!({ "contamination": 0.04 }) };
        let report = anomaly_workflow(dir.path(), kind, &params, Some("kind"));
        let table = scored(&report);
        let scores = column(&table, "Scored Probabilities");
        let labels = column(&table, "Scored Labels");
        let top = (0..scores.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
        assert_eq!(top, 25, "{kind}: scores {scores:?}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{kind}: {scores:?}");
        assert!((labels[25] - 1.0).abs() < f64::EPSILON, "{kind}: the outlier is not flagged");
        assert_eq!(table.role("Scored Labels"), pipewright_engine::Role::Score);
        assert_eq!(table.role("Scored Probabilities"), pipewright_engine::Role::Score);
        // The label was left out of the features.
        let Some(Value::Model(model)) = report.node("train").and_then(|o| o.outputs.first()) else {
            panic!("{kind}: no model")
        };
        assert_eq!(model.features, ["a", "b", "c"], "{kind}");
        assert_eq!(model.task, Task::AnomalyDetection);
        // Evaluate Model: "odd" is the minority class, so it is the anomaly class.
        let Some(Value::Report(r)) = report.node("evaluate").and_then(|o| o.outputs.first()) else {
            panic!("{kind}: evaluate failed: {:?}", report.node("evaluate").map(|o| &o.status))
        };
        let evaluation = &r.evaluations[0];
        assert_eq!(evaluation.task, Task::AnomalyDetection);
        assert!((evaluation.metric("roc_auc").expect("auc") - 1.0).abs() < 1e-12, "{kind}");
        assert!((evaluation.metric("recall").expect("recall") - 1.0).abs() < 1e-12, "{kind}");
        let flagged = labels.iter().filter(|l| **l > 0.5).count() as f64;
        let precision = evaluation.metric("precision").expect("precision");
        assert!((precision - 1.0 / flagged).abs() < 1e-12, "{kind}: precision {precision} with {flagged} flagged");
        let confusion = evaluation.confusion.as_ref().expect("a confusion matrix");
        assert_eq!(confusion.classes, ["normal", "odd"]);
        assert_eq!(confusion.counts[1][1], 1, "{kind}");
    }
}

#[test]
fn evaluate_uses_the_given_positive_class_and_counts_by_hand() {
    // Five rows scored by hand: anomaly score and flags, label with "bad" in the minority.
    let csv = "label,Scored Labels,Scored Probabilities\nok,0,0.1\nok,1,0.7\nbad,1,0.9\nbad,0,0.4\nok,0,0.2\n";
    let dir = with_csv(csv);
    let mut wf = Workflow::new("evaluate");
    wf.nodes.push(node("data", "data.import_data", &json!({ "path": "data.csv" })));
    wf.nodes.push(node("meta", "transform.edit_metadata", &json!({ "columns": ["label"], "role": "label" })));
    wf.nodes.push(node("evaluate", "evaluate.evaluate_model", &json!({})));
    wf.edges.push(Edge { from: PortRef::new("data", "data"), to: PortRef::new("meta", "data") });
    wf.edges.push(Edge { from: PortRef::new("meta", "data"), to: PortRef::new("evaluate", "scored") });
    let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    let report = pipewright_engine::run(&wf, &pipewright_nodes::catalog(), &options, &|_| {}).expect("runs");
    let Some(Value::Report(r)) = report.node("evaluate").and_then(|o| o.outputs.first()) else {
        panic!("evaluate failed: {:?}", report.node("evaluate").map(|o| &o.status))
    };
    let e = &r.evaluations[0];
    // bad is the anomaly class: TP 1 (row 3), FP 1 (row 2), FN 1 (row 4).
    assert!((e.metric("precision").expect("p") - 0.5).abs() < 1e-12);
    assert!((e.metric("recall").expect("r") - 0.5).abs() < 1e-12);
    assert!((e.metric("accuracy").expect("a") - 0.6).abs() < 1e-12);
    // Pairs (bad, ok): 0.9 beats all three; 0.4 beats 0.1 and 0.2 → 5 / 6.
    assert!((e.metric("roc_auc").expect("auc") - 5.0 / 6.0).abs() < 1e-12);
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = with_csv("a,b,name\n1,2,x\n2,3,y\n3,4,z\n4,5,w\n");
    let report = anomaly_workflow(dir.path(), "model.isolation_forest", &json!({}), None);
    assert!(failure(&report, "train").contains("\"name\""), "{}", failure(&report, "train"));

    let dir = with_csv(&grid_with_outlier());
    let report = anomaly_workflow(dir.path(), "model.pca_anomaly_detection", &json!({ "components": 3 }), Some("kind"));
    let message = failure(&report, "train");
    assert!(message.contains("components"), "{message}");

    for nu in [0.0, 1.5] {
        let catalog = pipewright_nodes::catalog();
        let mut wf = Workflow::new("nu");
        wf.nodes.push(node("data", "data.import_data", &json!({ "path": "data.csv" })));
        wf.nodes.push(node("learner", "model.one_class_svm", &json!({ "nu": nu })));
        wf.nodes.push(node("train", "train.train_anomaly_detection_model", &json!({})));
        wf.edges.push(Edge { from: PortRef::new("learner", "learner"), to: PortRef::new("train", "learner") });
        wf.edges.push(Edge { from: PortRef::new("data", "data"), to: PortRef::new("train", "data") });
        let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
        match pipewright_engine::run(&wf, &catalog, &options, &|_| {}) {
            Err(e) => assert!(e.to_string().contains("nu"), "ν = {nu}: {e}"),
            Ok(report) => {
                let failed = ["learner", "train"].iter().any(|n| {
                    matches!(&report.node(n).map(|o| &o.status), Some(NodeStatus::Failed(m) | NodeStatus::Skipped(m)) if m.contains("ν") || m.contains("nu"))
                });
                assert!(failed, "ν = {nu} was accepted: {:?}", report.nodes);
            }
        }
    }

    let report = anomaly_workflow(dir.path(), "model.one_class_svm", &json!({ "gamma": "wide" }), Some("kind"));
    assert!(failure(&report, "train").contains("gamma"));
}

#[test]
fn anomaly_learners_and_other_trainers_refuse_each_other() {
    let dir = with_csv(&grid_with_outlier());
    let mut wf = Workflow::new("mix");
    wf.nodes.push(node("data", "data.import_data", &json!({ "path": "data.csv" })));
    wf.nodes.push(node("forest", "model.isolation_forest", &json!({})));
    wf.nodes.push(node("logistic", "model.logistic_regression_two_class", &json!({})));
    wf.nodes.push(node("train", "train.train_model", &json!({ "label_column": "kind" })));
    wf.nodes.push(node("train_anomaly", "train.train_anomaly_detection_model", &json!({})));
    for (from, to) in [
        (("forest", "learner"), ("train", "learner")),
        (("data", "data"), ("train", "data")),
        (("logistic", "learner"), ("train_anomaly", "learner")),
        (("data", "data"), ("train_anomaly", "data")),
    ] {
        wf.edges.push(Edge { from: PortRef::new(from.0, from.1), to: PortRef::new(to.0, to.1) });
    }
    let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    let report = pipewright_engine::run(&wf, &pipewright_nodes::catalog(), &options, &|_| {}).expect("runs");
    assert!(failure(&report, "train").contains("Train Anomaly Detection Model"));
    assert!(failure(&report, "train_anomaly").contains("not an anomaly-detection learner"));
}

#[test]
fn every_anomaly_learner_declares_tunable_parameters_it_has() {
    let catalog = pipewright_nodes::catalog();
    for id in LEARNERS {
        let spec = &catalog.get(id).unwrap_or_else(|| panic!("{id}")).spec;
        assert!(!spec.tunable.is_empty(), "{id} declares no tunable parameter");
        for (name, _) in &spec.tunable {
            assert!(spec.param_spec(name).is_some(), "{id}: tunable {name} is not a parameter");
        }
    }
}
