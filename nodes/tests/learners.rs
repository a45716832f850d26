//! The learner blocks added with the block catalog (Decision Tree, k-Nearest Neighbors and its
//! regression, Naive Bayes, Two-Class Averaged Perceptron, Support Vector Machine, Poisson Regression)
//! run through small workflows the way the designer runs them, bad input included; and every learner's
//! tunable parameters. Their numbers against scikit-learn are checked in `tests/parity.rs`.

use std::path::Path;

use serde_json::{Value as Json, json};

use pipewright_engine::spec::TuneRange;
use pipewright_engine::{Edge, Node, NodeStatus, ParamKind, PortRef, RunOptions, RunReport, Value, Workflow};

const NEW_LEARNERS: &[&str] = &[
    "model.decision_tree",
    "model.knn_classifier",
    "model.knn_regression",
    "model.naive_bayes",
    "model.averaged_perceptron",
    "model.linear_svm",
    "model.poisson_regression",
];

/// Import `data.csv` → Train Model (learner `kind` with `params`, label `label`) → Score Model on the same rows.
fn train_and_score(dir: &Path, kind: &str, params: Json, label: &str) -> RunReport {
    let mut wf = Workflow::new("learner test");
    wf.seed = 1;
    let node = |id: &str, kind: &str, params: Json| Node {
        id: id.into(),
        kind: kind.into(),
        title: None,
        params: params.as_object().expect("an object").clone().into_iter().collect(),
        position: [0.0, 0.0],
    };
    wf.nodes.push(node("data", "data.import_data", json!({ "path": "data.csv" })));
    wf.nodes.push(node("learner", kind, params));
    wf.nodes.push(node("train", "train.train_model", json!({ "label_column": label })));
    wf.nodes.push(node("score", "train.score_model", json!({})));
    for (from, to) in [
        ("learner.learner", "train.learner"),
        ("data.data", "train.data"),
        ("train.model", "score.model"),
        ("data.data", "score.data"),
    ] {
        let (a, b) = from.split_once('.').expect("node.port");
        let (c, d) = to.split_once('.').expect("node.port");
        wf.edges.push(Edge { from: PortRef::new(a, b), to: PortRef::new(c, d) });
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

/// The Scored Labels of the score node as text.
fn scored_labels(report: &RunReport) -> Vec<String> {
    let outcome = report.node("score").expect("score ran");
    let Some(Value::Table(t)) = outcome.outputs.first() else { panic!("score failed: {:?}", outcome.status) };
    let column =
        t.frame.column("Scored Labels").expect("Scored Labels").cast(&polars::prelude::DataType::String).expect("text");
    column.str().expect("str").iter().map(|v| v.unwrap_or_default().to_owned()).collect()
}

const SEPARABLE: &str = "a,b,label\n0,0,no\n1,0,no\n0,1,no\n1,1,no\n5,5,yes\n6,5,yes\n5,6,yes\n6,6,yes\n";

#[test]
fn every_new_classifier_separates_two_clear_groups() {
    let dir = with_csv(SEPARABLE);
    let expected = ["no", "no", "no", "no", "yes", "yes", "yes", "yes"];
    for (kind, params) in [
        ("model.decision_tree", json!({})),
        ("model.knn_classifier", json!({ "neighbors": 3 })),
        ("model.naive_bayes", json!({})),
        ("model.averaged_perceptron", json!({ "seed": 3 })),
        ("model.linear_svm", json!({})),
    ] {
        let report = train_and_score(dir.path(), kind, params, "label");
        assert_eq!(scored_labels(&report), expected, "{kind}");
    }
}

#[test]
fn the_new_regressors_follow_a_trend() {
    // y = exp(x / 2) rounded: Poisson regression fits the log-linear trend, kNN with k 1 memorizes.
    let dir = with_csv("x,y\n0,1\n1,2\n2,3\n3,4\n4,7\n5,12\n6,20\n");
    let report = train_and_score(dir.path(), "model.knn_regression", json!({ "neighbors": 1 }), "y");
    assert_eq!(scored_labels(&report), ["1.0", "2.0", "3.0", "4.0", "7.0", "12.0", "20.0"]);
    let report = train_and_score(dir.path(), "model.poisson_regression", json!({ "l2_weight": 0.0 }), "y");
    let scored: Vec<f64> = scored_labels(&report).iter().map(|v| v.parse().expect("a number")).collect();
    assert!(scored.windows(2).all(|w| w[1] > w[0] * 1.3), "exponential growth: {scored:?}");
    // With no penalty the fitted means add up to the label total (the intercept's score equation).
    assert!((scored.iter().sum::<f64>() - 49.0).abs() < 1e-6, "{scored:?}");
}

#[test]
fn a_label_with_one_class_is_refused_by_name() {
    let dir = with_csv("a,label\n1,yes\n2,yes\n3,yes\n");
    for kind in ["model.decision_tree", "model.knn_classifier", "model.naive_bayes", "model.linear_svm"] {
        let params = if kind == "model.knn_classifier" { json!({ "neighbors": 1 }) } else { json!({}) };
        let report = train_and_score(dir.path(), kind, params, "label");
        let message = failure(&report, "train");
        assert!(message.contains("\"label\" has 1 class") && message.contains("at least two"), "{kind}: {message}");
    }
}

#[test]
fn text_features_are_refused_by_numeric_learners_with_what_to_do() {
    let dir = with_csv("colour,size,label\nred,1,no\nblue,2,no\nred,8,yes\nblue,9,yes\n");
    for kind in ["model.naive_bayes", "model.linear_svm", "model.poisson_regression", "model.knn_regression"] {
        let label = if kind.contains("regression") { "size" } else { "label" };
        let report = train_and_score(dir.path(), kind, json!({}), label);
        let message = failure(&report, "train");
        assert!(message.contains("\"colour\"") && message.contains("Convert to Indicator Values"), "{kind}: {message}");
    }
}

#[test]
fn more_neighbors_than_training_rows_names_the_parameter() {
    let dir = with_csv("a,label\n1,no\n2,no\n8,yes\n9,yes\n");
    let report = train_and_score(dir.path(), "model.knn_classifier", json!({ "neighbors": 5 }), "label");
    let message = failure(&report, "train");
    assert!(message.contains("k = 5") && message.contains("4 training rows"), "{message}");
    let dir = with_csv("a,y\n1,1\n2,2\n");
    let report = train_and_score(dir.path(), "model.knn_regression", json!({ "neighbors": 3 }), "y");
    assert!(failure(&report, "train").contains("more than the 2 training rows"));
}

#[test]
fn an_all_missing_feature_column_is_refused_by_name() {
    let dir = with_csv("a,empty,label\n1,,no\n2,,no\n8,,yes\n9,,yes\n");
    for kind in ["model.decision_tree", "model.naive_bayes", "model.averaged_perceptron"] {
        let report = train_and_score(dir.path(), kind, json!({}), "label");
        let message = failure(&report, "train");
        assert!(message.contains("\"empty\""), "{kind}: {message}");
    }
}

#[test]
fn a_negative_label_is_refused_by_poisson_regression() {
    let dir = with_csv("x,y\n0,1\n1,-2\n2,3\n");
    let report = train_and_score(dir.path(), "model.poisson_regression", json!({}), "y");
    let message = failure(&report, "train");
    assert!(message.contains("1 rows are negative") && message.contains("Linear Regression"), "{message}");
}

#[test]
fn the_perceptron_refuses_three_classes() {
    let dir = with_csv("a,label\n1,x\n2,y\n3,z\n4,x\n");
    let report = train_and_score(dir.path(), "model.averaged_perceptron", json!({}), "label");
    assert!(failure(&report, "train").contains("exactly two classes"), "{}", failure(&report, "train"));
}

#[test]
fn every_new_learner_is_registered_and_declares_tunable_parameters() {
    let catalog = pipewright_nodes::catalog();
    for kind in NEW_LEARNERS {
        let entry = catalog.get(kind).unwrap_or_else(|| panic!("{kind} is not registered"));
        assert!(!entry.spec.tunable.is_empty(), "{kind} declares nothing tunable");
        assert!(pipewright_nodes::model::algorithm(kind).is_some(), "{kind} has no algorithm");
    }
}

#[test]
fn every_tunable_name_is_a_parameter_and_its_range_fits_the_parameter() {
    for entry in pipewright_nodes::catalog().entries() {
        let spec = &entry.spec;
        for (name, range) in &spec.tunable {
            let param =
                spec.param_spec(name).unwrap_or_else(|| panic!("{}: tunable {name} is not a parameter", spec.id));
            match (range, &param.kind) {
                (TuneRange::Int { min, max }, ParamKind::Integer { min: lo, max: hi }) => {
                    assert!(
                        lo <= min && min <= max && max <= hi,
                        "{}.{name}: {min}..{max} outside {lo}..{hi}",
                        spec.id
                    );
                }
                (TuneRange::Float { min, max, log }, ParamKind::Float { min: lo, max: hi }) => {
                    assert!(lo <= min && min < max && max <= hi, "{}.{name}: {min}..{max} outside {lo}..{hi}", spec.id);
                    assert!(!log || *min > 0.0, "{}.{name}: a log range must start above 0", spec.id);
                }
                (TuneRange::Choice { values }, kind) => {
                    assert!(!values.is_empty(), "{}.{name}: no values", spec.id);
                    for value in values {
                        assert_eq!(
                            pipewright_engine::params::check(param, value),
                            Ok(()),
                            "{}.{name} {value}",
                            spec.id
                        );
                    }
                    // Listed values suit any kind of parameter (layer sizes as text, batch sizes as integers)
                    // as long as each is a valid value, which `check` above has just confirmed.
                    let _ = kind;
                }
                (range, kind) => panic!("{}.{name}: range {range:?} does not fit a {kind:?} parameter", spec.id),
            }
        }
    }
    for kind in
        ["model.logistic_regression_two_class", "model.linear_regression", "model.decision_forest", "model.kmeans"]
    {
        let catalog = pipewright_nodes::catalog();
        assert!(!catalog.get(kind).expect("registered").spec.tunable.is_empty(), "{kind} declares nothing tunable");
    }
}
