//! Boosted Decision Tree (classification and regression), DBSCAN, Hierarchical Clustering and
//! Gaussian Mixture Model, checked against scikit-learn (`tests/fixtures/sklearn_learners.json`,
//! made by `tests/reference/make_learner_fixtures.py`): cross-validated accuracy and R² of
//! `HistGradientBoosting` within 0.01 on the same folds, clusterings on standardized iris with an
//! adjusted Rand index of at least 0.99, mixture log-likelihoods within 1e-3 relative.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value as Json, json};

use pipewright_nodes::algo::boosting::{self, BoostTarget, BoostingSettings};

mod support;

use support::*;

// ------------------------------------------------------------------------------------------ helpers

fn fixtures() -> &'static Json {
    static FIXTURES: OnceLock<Json> = OnceLock::new();
    FIXTURES.get_or_init(|| load_fixtures("sklearn_learners.json"))
}

fn fx(path: &str) -> &'static Json {
    fixtures().pointer(&format!("/{path}")).unwrap_or_else(|| panic!("fixture {path} is missing"))
}

fn fx_f64(path: &str) -> f64 {
    fx(path).as_f64().unwrap_or_else(|| panic!("fixture {path} is not a number"))
}

fn fx_labels(path: &str) -> Vec<i64> {
    fx(path)
        .as_array()
        .unwrap_or_else(|| panic!("{path} is not a list"))
        .iter()
        .map(|v| v.as_i64().expect("int"))
        .collect()
}

/// Adjusted Rand index of two labellings (Hubert and Arabie).
fn adjusted_rand_index(a: &[i64], b: &[i64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let pairs = |n: f64| n * (n - 1.0) / 2.0;
    let mut table: HashMap<(i64, i64), f64> = HashMap::new();
    let (mut rows, mut cols): (HashMap<i64, f64>, HashMap<i64, f64>) = (HashMap::new(), HashMap::new());
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&n| pairs(n)).sum();
    let (sum_a, sum_b): (f64, f64) = (rows.values().map(|&n| pairs(n)).sum(), cols.values().map(|&n| pairs(n)).sum());
    let expected = sum_a * sum_b / pairs(a.len() as f64);
    let max = f64::midpoint(sum_a, sum_b);
    if max == expected { 1.0 } else { (index - expected) / (max - expected) }
}

#[test]
fn the_adjusted_rand_index_ignores_relabelling_and_penalizes_disagreement() {
    assert_eq!(adjusted_rand_index(&[0, 0, 1, 1, 2], &[5, 5, 3, 3, -1]), 1.0);
    // scikit-learn: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714285714285715.
    assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]) - 4.0 / 7.0).abs() < 1e-12);
}

/// A bundled dataset: features (every column but the label, in file order) and the label column.
/// The settings the fixtures use (scikit-learn's defaults).
fn boosting_settings() -> BoostingSettings {
    BoostingSettings {
        rounds: 100,
        learning_rate: 0.1,
        max_leaves: 31,
        max_depth: None,
        min_samples_leaf: 20,
        l2: 0.0,
        max_bins: 255,
        feature_fraction: 1.0,
        seed: 0,
    }
}

/// Mean test-fold score of our boosted trees on the fixture's folds: accuracy or R².
fn cross_validated(fixture: &str) -> (f64, f64) {
    let (rows, table, label) =
        dataset(fx(&format!("{fixture}/dataset")).as_str().expect("name").trim_end_matches(".csv"));
    let classify = fx(&format!("{fixture}/metric")) == "accuracy";
    let folds = fx(&format!("{fixture}/test_indices")).as_array().expect("folds");
    let mut scores = Vec::new();
    let (class_of, classes): (Vec<usize>, usize) = if classify {
        let names = texts(&table, &label);
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        (names.iter().map(|n| distinct.iter().position(|d| d == n).expect("a class")).collect(), distinct.len())
    } else {
        (Vec::new(), 0)
    };
    let values = if classify { Vec::new() } else { floats(&table, &label) };
    for fold in folds {
        let test: Vec<usize> =
            fold.as_array().expect("a fold").iter().map(|v| v.as_u64().expect("index") as usize).collect();
        let train: Vec<usize> = (0..rows.len()).filter(|i| !test.contains(i)).collect();
        let (xtr, xte) = (standardized(&rows, &train, &train), standardized(&rows, &train, &test));
        if classify {
            let y: Vec<usize> = train.iter().map(|&i| class_of[i]).collect();
            let fit = boosting::fit(&xtr, BoostTarget::Classes { y: &y, classes }, boosting_settings(), &|_| true)
                .expect("fits");
            let mut p = vec![0.0; classes];
            let correct = test
                .iter()
                .enumerate()
                .filter(|&(k, &i)| {
                    fit.probabilities_row(xte.row(k), &mut p);
                    let best = (0..classes).fold(0, |b, c| if p[c] > p[b] { c } else { b });
                    best == class_of[i]
                })
                .count();
            scores.push(correct as f64 / test.len() as f64);
        } else {
            let y: Vec<f64> = train.iter().map(|&i| values[i]).collect();
            let fit = boosting::fit(&xtr, BoostTarget::Values(&y), boosting_settings(), &|_| true).expect("fits");
            let truth: Vec<f64> = test.iter().map(|&i| values[i]).collect();
            let mean = truth.iter().sum::<f64>() / truth.len() as f64;
            let residual: f64 = (0..test.len()).map(|k| (truth[k] - fit.value_row(xte.row(k))).powi(2)).sum();
            let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
            scores.push(1.0 - residual / total);
        }
    }
    (scores.iter().sum::<f64>() / scores.len() as f64, fx_f64(&format!("{fixture}/mean")))
}

// ---------------------------------------------------------------------------------- boosted trees

#[test]
fn boosted_decision_tree_matches_hist_gradient_boosting_accuracy_on_five_folds() {
    for fixture in ["boosting_cv_iris", "boosting_cv_wine", "boosting_cv_breast_cancer"] {
        let (ours, reference) = cross_validated(fixture);
        eprintln!("{fixture}: accuracy {ours:.4}, scikit-learn {reference:.4}");
        assert!((ours - reference).abs() <= 0.01, "{fixture}: accuracy {ours} vs scikit-learn {reference}");
    }
}

#[test]
fn boosted_decision_tree_regression_matches_hist_gradient_boosting_r2_on_five_folds() {
    let (ours, reference) = cross_validated("boosting_cv_diabetes");
    eprintln!("diabetes: R² {ours:.4}, scikit-learn {reference:.4}");
    assert!((ours - reference).abs() <= 0.01, "R² {ours} vs scikit-learn {reference}");
}

fn train_score_evaluate(dataset: &str, learner: &str, params: Json) -> Ran {
    run(workflow(
        &[
            ("data", "data.sample_dataset", json!({ "dataset": dataset })),
            ("learner", learner, params),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("learner.learner", "train.learner"),
            ("data.data", "train.data"),
            ("train.model", "score.model"),
            ("data.data", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    ))
}

#[test]
fn boosted_decision_tree_blocks_train_score_and_evaluate_through_a_workflow() {
    let ran = train_score_evaluate("breast_cancer", "model.boosted_decision_tree", json!({}));
    let accuracy = ran.metric("evaluate.report", "accuracy");
    let reference = fx_f64("boosting_breast_cancer_in_sample/training_accuracy");
    assert!((accuracy - reference).abs() <= 0.01, "training accuracy {accuracy} vs scikit-learn {reference}");
    let model = ran.model("train.model");
    assert_eq!(model.state["trees"].as_array().expect("trees").len(), 100, "two classes: one tree per round");

    let ran = train_score_evaluate("iris", "model.boosted_decision_tree", json!({"trees": 10}));
    assert_eq!(ran.model("train.model").state["trees"].as_array().expect("trees").len(), 30, "one tree per class");
    assert!(ran.metric("evaluate.report", "accuracy") > 0.95);

    let ran = train_score_evaluate("diabetes", "model.boosted_decision_tree_regression", json!({"max_depth": 3}));
    let r2 = ran.metric("evaluate.report", "r2");
    assert!(r2 > 0.5 && r2 < 1.0, "in-sample R² {r2}");
}

#[test]
fn boosted_decision_tree_refuses_a_label_with_one_class_and_text_features() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("setosa", "transform.split_data", json!({"fraction": 0.3, "randomize": false})),
            ("learner", "model.boosted_decision_tree", json!({})),
            ("train", "train.train_model", json!({})),
        ],
        &[("data.data", "setosa.data"), ("learner.learner", "train.learner"), ("setosa.first", "train.data")],
    ));
    let message = ran.error("train");
    assert!(message.contains("class") && message.contains("two"), "{message}");

    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("clean", "transform.clean_missing_data", json!({"mode": "remove_row"})),
            ("learner", "model.boosted_decision_tree", json!({})),
            ("train", "train.train_model", json!({})),
        ],
        &[("data.data", "clean.data"), ("learner.learner", "train.learner"), ("clean.data", "train.data")],
    ));
    let message = ran.error("train");
    // The first text feature in column order is named, whichever thread read it.
    assert!(message.contains("\"island\"") && message.contains("not numbers"), "{message}");
}

// ------------------------------------------------------------------------------------- clustering

/// Iris standardized by Normalize Data, clustered by `learner`; the run and the Assignments.
fn cluster_iris(learner: &str, params: Json) -> (Ran, Vec<i64>) {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("normalize", "transform.normalize_data", json!({})),
            ("learner", learner, params),
            ("cluster", "train.train_clustering_model", json!({})),
            ("assign", "train.assign_data_to_clusters", json!({})),
        ],
        &[
            ("iris.data", "normalize.data"),
            ("learner.learner", "cluster.learner"),
            ("normalize.data", "cluster.data"),
            ("cluster.model", "assign.model"),
            ("normalize.data", "assign.data"),
        ],
    ));
    let labels: Vec<i64> = floats(ran.table("cluster.data"), "Assignments").into_iter().map(|v| v as i64).collect();
    let again: Vec<i64> = floats(ran.table("assign.data"), "Assignments").into_iter().map(|v| v as i64).collect();
    assert_eq!(labels, again, "Assign Data to Clusters gives training rows their training clusters");
    (ran, labels)
}

fn assert_agrees(what: &str, ours: &[i64], fixture: &str) {
    let reference = fx_labels(fixture);
    let ari = adjusted_rand_index(ours, &reference);
    eprintln!("{what}: adjusted Rand index {ari:.4}");
    assert!(ari >= 0.99, "{what}: adjusted Rand index {ari} against scikit-learn");
}

#[test]
fn dbscan_on_scaled_iris_matches_scikit_learn_with_noise_as_the_last_cluster() {
    let (ran, labels) = cluster_iris("model.dbscan", json!({"eps": 0.5, "min_samples": 5}));
    assert_agrees("DBSCAN", &labels, "clustering_iris_scaled/dbscan/labels");
    let reference = fx_labels("clustering_iris_scaled/dbscan/labels");
    let clusters = ran.model("cluster.model").state["clusters"].as_i64().expect("clusters");
    assert_eq!(clusters, reference.iter().max().expect("labels") + 1);
    let noise = labels.iter().filter(|&&l| l == clusters).count();
    assert_eq!(noise, reference.iter().filter(|&&l| l == -1).count(), "noise rows");
    let cores = ran.model("cluster.model").state["core"].as_array().expect("core rows").len();
    assert_eq!(cores, fx("clustering_iris_scaled/dbscan/core_rows").as_array().expect("list").len());
}

#[test]
fn hierarchical_clustering_on_scaled_iris_matches_scikit_learn_for_every_linkage() {
    for linkage in ["ward", "complete", "average"] {
        let (_, labels) = cluster_iris("model.agglomerative_clustering", json!({"clusters": 3, "linkage": linkage}));
        assert_agrees(linkage, &labels, &format!("clustering_iris_scaled/agglomerative_{linkage}/labels"));
    }
}

#[test]
fn gaussian_mixture_on_scaled_iris_matches_scikit_learn_labels_and_likelihood() {
    for (ours, theirs) in [("full", "full"), ("diagonal", "diag")] {
        let (ran, labels) = cluster_iris(
            "model.gaussian_mixture",
            json!({"components": 3, "covariance": ours, "starts": 10, "tolerance": 1e-6, "max_iterations": 1000, "seed": 0}),
        );
        assert_agrees(ours, &labels, &format!("clustering_iris_scaled/gmm_{theirs}/labels"));
        let likelihood = ran.model("cluster.model").state["mean_log_likelihood"].as_f64().expect("likelihood");
        let reference = fx_f64(&format!("clustering_iris_scaled/gmm_{theirs}/mean_log_likelihood"));
        eprintln!("GMM {ours}: mean log-likelihood {likelihood:.6}, scikit-learn {reference:.6}");
        assert!(
            (likelihood - reference).abs() <= 1e-3 * reference.abs(),
            "{ours}: mean log-likelihood {likelihood} vs scikit-learn {reference}"
        );
    }
}

#[test]
fn clustering_blocks_refuse_more_clusters_than_rows() {
    for (learner, params) in [
        ("model.agglomerative_clustering", json!({"clusters": 151})),
        ("model.gaussian_mixture", json!({"components": 151})),
    ] {
        let ran = run(workflow(
            &[
                ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
                ("learner", learner, params),
                ("cluster", "train.train_clustering_model", json!({})),
            ],
            &[("learner.learner", "cluster.learner"), ("iris.data", "cluster.data")],
        ));
        let message = ran.error("cluster");
        assert!(message.contains("151") && message.contains("150"), "{learner}: {message}");
    }
}

#[test]
fn clustering_blocks_refuse_a_text_column() {
    for learner in ["model.dbscan", "model.agglomerative_clustering", "model.gaussian_mixture"] {
        let ran = run(workflow(
            &[
                ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
                ("learner", learner, json!({})),
                ("cluster", "train.train_clustering_model", json!({"columns": ["sepal_length", "species"]})),
            ],
            &[("learner.learner", "cluster.learner"), ("iris.data", "cluster.data")],
        ));
        let message = ran.error("cluster");
        assert!(message.contains("species"), "{learner}: {message}");
    }
}
