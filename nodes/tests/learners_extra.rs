//! Neural Network, Neural Network Regression, One-vs-One Multiclass and Fast Forest Quantile
//! Regression, checked against scikit-learn (`tests/fixtures/sklearn_extra.json`, made by
//! `tests/reference/make_extra_fixtures.py`) and against hand-derived quantiles.
//!
//! The networks draw their initial weights from our own generator, so a single run cannot agree with
//! scikit-learn weight for weight: the mean cross-validated accuracy / R² over seeds 0..4 must lie within
//! 0.02 of scikit-learn's mean over `random_state` 0..4, on the same folds with the same settings.

use pipewright_compute::Backend;
use std::sync::OnceLock;

use serde_json::{Value as Json, json};

use pipewright_nodes::algo::forest::{ForestSettings, MaxFeatures};
use pipewright_nodes::algo::mlp::{self, Activation, MlpSettings, MlpTarget};
use pipewright_nodes::algo::quantile_forest;
use pipewright_nodes::frame::Matrix;
use pipewright_nodes::model::FastForestQuantileRegression;

mod support;

use support::*;

// ------------------------------------------------------------------------------------------ helpers

fn fixtures() -> &'static Json {
    static FIXTURES: OnceLock<Json> = OnceLock::new();
    FIXTURES.get_or_init(|| load_fixtures("sklearn_extra.json"))
}

fn fx(path: &str) -> &'static Json {
    fixtures().pointer(&format!("/{path}")).unwrap_or_else(|| panic!("fixture {path} is missing"))
}

fn fx_f64(path: &str) -> f64 {
    fx(path).as_f64().unwrap_or_else(|| panic!("fixture {path} is not a number"))
}

/// A bundled dataset: features (every column but the label, in file order) and the label column.
fn raw(rows: &[Vec<f64>], pick: &[usize]) -> Matrix {
    Matrix { rows: pick.len(), cols: rows[0].len(), data: pick.iter().flat_map(|&i| rows[i].clone()).collect() }
}

fn r_squared(truth: &[f64], predicted: &[f64]) -> f64 {
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let residual: f64 = truth.iter().zip(predicted).map(|(t, p)| (t - p).powi(2)).sum();
    let total: f64 = truth.iter().map(|t| (t - mean).powi(2)).sum();
    1.0 - residual / total
}

/// The fixture's folds as (train, test) row indices.
fn folds(fixture: &str) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = fx(&format!("{fixture}/test_indices"))
        .as_array()
        .expect("folds")
        .iter()
        .map(|f| f.as_array().expect("a fold").len())
        .sum();
    fx(&format!("{fixture}/test_indices"))
        .as_array()
        .expect("folds")
        .iter()
        .map(|fold| {
            let test: Vec<usize> =
                fold.as_array().expect("a fold").iter().map(|v| v.as_u64().expect("index") as usize).collect();
            ((0..n).filter(|i| !test.contains(i)).collect(), test)
        })
        .collect()
}

// ------------------------------------------------------------------------------------ neural networks

/// Our settings for a fixture's scikit-learn settings.
fn mlp_settings(fixture: &str, seed: u64) -> MlpSettings {
    let s = |name: &str| fx(&format!("{fixture}/settings/{name}"));
    let f = |name: &str| s(name).as_f64().unwrap_or_else(|| panic!("{name} is not a number"));
    MlpSettings {
        hidden: s("hidden_layer_sizes")
            .as_array()
            .expect("sizes")
            .iter()
            .map(|v| v.as_u64().expect("size") as usize)
            .collect(),
        activation: match s("activation").as_str().expect("activation") {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            _ => Activation::Logistic,
        },
        learning_rate: f("learning_rate_init"),
        beta1: f("beta_1"),
        beta2: f("beta_2"),
        epsilon: f("epsilon"),
        alpha: f("alpha"),
        batch_size: None,
        max_epochs: s("max_iter").as_u64().expect("max_iter") as usize,
        tolerance: f("tol"),
        epochs_without_improvement: s("n_iter_no_change").as_u64().expect("n_iter_no_change") as usize,
        seed,
    }
}

/// Our mean test-fold accuracy or R² over seeds 0..4 on the fixture's folds, and scikit-learn's.
fn mlp_cross_validated(fixture: &str) -> (f64, f64) {
    let name = fx(&format!("{fixture}/dataset")).as_str().expect("name").trim_end_matches(".csv");
    let (rows, table, label) = dataset(name);
    let classify = fx(&format!("{fixture}/metric")) == "accuracy";
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
    let folds = folds(fixture);
    let per_seed: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..5u64)
            .map(|seed| {
                let (rows, folds, class_of, values) = (&rows, &folds, &class_of, &values);
                scope.spawn(move || {
                    let settings = mlp_settings(fixture, seed);
                    let scores: Vec<f64> = folds
                        .iter()
                        .map(|(train, test)| {
                            let (xtr, xte) = (standardized(rows, train, train), standardized(rows, train, test));
                            if classify {
                                let y: Vec<usize> = train.iter().map(|&i| class_of[i]).collect();
                                let target = MlpTarget::Classes { y: &y, classes };
                                let fit = mlp::fit(&xtr, target, &settings, &Backend::Cpu, &|_| true)
                                    .expect("cpu")
                                    .expect("fits");
                                let mut p = vec![0.0; classes];
                                let correct = test
                                    .iter()
                                    .enumerate()
                                    .filter(|&(k, &i)| {
                                        fit.probabilities_row(xte.row(k), &mut p);
                                        (0..classes).fold(0, |b, c| if p[c] > p[b] { c } else { b }) == class_of[i]
                                    })
                                    .count();
                                correct as f64 / test.len() as f64
                            } else {
                                let y: Vec<f64> = train.iter().map(|&i| values[i]).collect();
                                let fit = mlp::fit(&xtr, MlpTarget::Values(&y), &settings, &Backend::Cpu, &|_| true)
                                    .expect("cpu")
                                    .expect("fits");
                                let truth: Vec<f64> = test.iter().map(|&i| values[i]).collect();
                                let predicted: Vec<f64> = (0..test.len()).map(|k| fit.value_row(xte.row(k))).collect();
                                r_squared(&truth, &predicted)
                            }
                        })
                        .collect();
                    scores.iter().sum::<f64>() / scores.len() as f64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a seed's run")).collect()
    });
    eprintln!("{fixture}: ours per seed {per_seed:.4?}");
    (per_seed.iter().sum::<f64>() / per_seed.len() as f64, fx_f64(&format!("{fixture}/mean")))
}

#[test]
fn neural_network_matches_mlp_classifier_accuracy_on_five_folds() {
    for fixture in ["mlp_cv_iris", "mlp_cv_breast_cancer"] {
        let (ours, reference) = mlp_cross_validated(fixture);
        eprintln!("{fixture}: accuracy {ours:.4}, scikit-learn {reference:.4}");
        assert!((ours - reference).abs() <= 0.02, "{fixture}: accuracy {ours} vs scikit-learn {reference}");
    }
}

#[test]
fn neural_network_regression_matches_mlp_regressor_r2_on_five_folds() {
    for fixture in ["mlp_cv_diabetes_relu", "mlp_cv_diabetes_tanh"] {
        let (ours, reference) = mlp_cross_validated(fixture);
        eprintln!("{fixture}: R² {ours:.4}, scikit-learn {reference:.4}");
        assert!((ours - reference).abs() <= 0.02, "{fixture}: R² {ours} vs scikit-learn {reference}");
    }
}

fn train_score_evaluate(dataset: &str, learner: &str, params: Json) -> Ran {
    run(workflow(
        &[
            ("data", "data.sample_dataset", json!({ "dataset": dataset })),
            ("normalize", "transform.normalize_data", json!({})),
            ("learner", learner, params),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("data.data", "normalize.data"),
            ("learner.learner", "train.learner"),
            ("normalize.data", "train.data"),
            ("train.model", "score.model"),
            ("normalize.data", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    ))
}

#[test]
fn neural_network_blocks_train_score_and_evaluate_through_a_workflow() {
    let ran = train_score_evaluate(
        "iris",
        "model.neural_network",
        json!({"hidden_layers": "16,8", "max_epochs": 500, "seed": 0}),
    );
    assert!(ran.metric("evaluate.report", "accuracy") > 0.95);
    let state = &ran.model("train.model").state;
    let layers = state["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 3, "two hidden layers and the output layer");
    assert_eq!(layers[2]["fan_out"], 3, "softmax over three classes");
    let scored = ran.table("score.data");
    let total: Vec<f64> = (0..scored.height())
        .map(|i| {
            ["setosa", "versicolor", "virginica"]
                .iter()
                .map(|c| floats(scored, &format!("Scored Probabilities_{c}"))[i])
                .sum()
        })
        .collect();
    assert!(total.iter().all(|t| (t - 1.0).abs() < 1e-9), "probabilities sum to one");

    let ran = train_score_evaluate("breast_cancer", "model.neural_network", json!({"seed": 0}));
    assert!(ran.metric("evaluate.report", "accuracy") > 0.97);
    assert_eq!(ran.model("train.model").state["layers"][1]["fan_out"], 1, "one logistic output for two classes");

    let ran = train_score_evaluate(
        "diabetes",
        "model.neural_network_regression",
        json!({"hidden_layers": "16", "learning_rate": 0.01, "l2_weight": 10.0, "max_epochs": 3000, "seed": 0}),
    );
    let r2 = ran.metric("evaluate.report", "r2");
    assert!(r2 > 0.45 && r2 < 0.9, "in-sample R² {r2}");
}

#[test]
fn neural_network_refuses_bad_layers_one_class_and_text_features() {
    let ran = run(workflow(&[("learner", "model.neural_network", json!({"hidden_layers": "64;32"}))], &[]));
    assert!(ran.error("learner").contains("64;32"), "{}", ran.error("learner"));

    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("setosa", "transform.split_data", json!({"fraction": 0.3, "randomize": false})),
            ("learner", "model.neural_network", json!({})),
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
            ("learner", "model.neural_network", json!({})),
            ("train", "train.train_model", json!({})),
        ],
        &[("data.data", "clean.data"), ("learner.learner", "train.learner"), ("clean.data", "train.data")],
    ));
    let message = ran.error("train");
    assert!(message.contains("island") || message.contains("text") || message.contains("numeric"), "{message}");
}

// ------------------------------------------------------------------------------------------ one-vs-one

fn one_vs_one_iris(inner: &str, params: Json) -> Ran {
    run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("binary", inner, params),
            ("ovo", "model.one_vs_one", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
        ],
        &[
            ("binary.learner", "ovo.learner"),
            ("ovo.learner", "train.learner"),
            ("data.data", "train.data"),
            ("train.model", "score.model"),
            ("data.data", "score.data"),
        ],
    ))
}

#[test]
fn one_vs_one_matches_scikit_learns_votes_on_iris() {
    let ran = one_vs_one_iris(
        "model.logistic_regression_two_class",
        json!({"l2_weight": 1.0, "tolerance": 1e-12, "max_iterations": 1000}),
    );
    let state = &ran.model("train.model").state;
    assert_eq!(state["models"].as_array().expect("models").len(), 3, "one model per pair of three classes");
    let scored = ran.table("score.data");
    let ours = texts(scored, "Scored Labels");
    let theirs: Vec<String> = fx("one_vs_one_iris/predicted")
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v.as_str().expect("a class").to_owned())
        .collect();
    let differ = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    let truth = texts(scored, "species");
    let accuracy = ours.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    let reference = fx_f64("one_vs_one_iris/accuracy");
    eprintln!("one-vs-one: training accuracy {accuracy:.4}, scikit-learn {reference:.4}, {differ} predictions differ");
    assert_eq!(differ, 0, "every prediction agrees with OneVsOneClassifier");
    assert!((accuracy - reference).abs() < 1e-12);
    for i in 0..scored.height() {
        let row: Vec<f64> = ["setosa", "versicolor", "virginica"]
            .iter()
            .map(|c| floats(scored, &format!("Scored Probabilities_{c}"))[i])
            .collect();
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9 && row.iter().all(|&p| p > 0.0), "row {i}: {row:?}");
    }
}

#[test]
fn one_vs_one_refuses_a_learner_that_is_not_two_class() {
    let ran = run(workflow(
        &[("binary", "model.linear_regression", json!({})), ("ovo", "model.one_vs_one", json!({}))],
        &[("binary.learner", "ovo.learner")],
    ));
    let message = ran.error("ovo");
    assert!(message.contains("two-class"), "{message}");
}

// ---------------------------------------------------------------------------- quantile regression forest

fn one_tree(max_depth: usize) -> ForestSettings {
    ForestSettings {
        trees: 1,
        max_depth,
        min_samples_leaf: 1,
        max_features: MaxFeatures::All,
        bootstrap: false,
        seed: 0,
    }
}

#[test]
fn quantile_forest_gives_the_quantiles_of_the_leaf_a_row_falls_into() {
    // One split (at x = 4.5) separates labels 1..5 from 101..105: a row with x ≤ 4.5 sees the five labels
    // 1..5 with weight 1/5 each, so its 0.2-quantile is 1, 0.25 → 2, median 3, 0.75 → 4, 1 → 5.
    let x = Matrix { rows: 10, cols: 1, data: (0..10).map(f64::from).collect() };
    let y: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0, 101.0, 102.0, 103.0, 104.0, 105.0].to_vec();
    let forest = quantile_forest::fit(&x, &y, one_tree(1), &|_| true).expect("fits");
    assert_eq!(forest.quantiles_row(&[2.0], &[0.2, 0.25, 0.5, 0.75, 1.0]), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(forest.quantiles_row(&[7.5], &[0.0, 0.5, 0.9]), vec![101.0, 103.0, 105.0]);

    // Two trees: the same stump, and (depth 2) one that also splits each half. Two trees' weights average:
    // for x = 0, the stump gives 1..5 a fifth each, the deeper tree gives its leaf {1, 2} a half each, so
    // the weights are 1: 0.35, 2: 0.35, 3..5: 0.1 (cumulative 0.35, 0.7, 0.8, 0.9, 1): the 0.3-quantile is 1,
    // the median 2, the 0.75-quantile 3 and the 0.85-quantile 4.
    let deep = quantile_forest::fit(&x, &y, one_tree(2), &|_| true).expect("fits");
    let leaf_of_zero: Vec<f64> =
        deep.weights(&[0.0]).iter().zip(&deep.labels).filter(|(w, _)| **w > 0.0).map(|(_, y)| *y).collect();
    assert_eq!(leaf_of_zero, vec![1.0, 2.0], "the depth-2 tree puts x = 0 with x = 1");
    let both = quantile_forest::QuantileForest {
        trees: vec![forest.trees[0].clone(), deep.trees[0].clone()],
        labels: forest.labels.clone(),
        leaves: vec![forest.leaves[0].clone(), deep.leaves[0].clone()],
    };
    let w = both.weights(&[0.0]);
    let expected = [0.35, 0.35, 0.1, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0];
    assert!(w.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12), "{w:?}");
    assert_eq!(both.quantiles_row(&[0.0], &[0.3, 0.5, 0.75, 0.85]), vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn quantile_forest_median_on_diabetes_is_close_to_a_random_forest_mean() {
    let (rows, table, label) = dataset("diabetes");
    let values = floats(&table, &label);
    let settings = ForestSettings {
        trees: 100,
        max_depth: 32,
        min_samples_leaf: 5,
        max_features: MaxFeatures::All,
        bootstrap: true,
        seed: 0,
    };
    let mut scores = Vec::new();
    let mut covered = 0usize;
    for (train, test) in folds("forest_cv_diabetes") {
        let y: Vec<f64> = train.iter().map(|&i| values[i]).collect();
        let forest = quantile_forest::fit(&raw(&rows, &train), &y, settings, &|_| true).expect("fits");
        let xte = raw(&rows, &test);
        let truth: Vec<f64> = test.iter().map(|&i| values[i]).collect();
        let mut medians = Vec::new();
        for (k, t) in truth.iter().enumerate() {
            let q = forest.quantiles_row(xte.row(k), &[0.1, 0.5, 0.9]);
            assert!(q[0] <= q[1] && q[1] <= q[2], "quantiles are ordered: {q:?}");
            covered += usize::from(q[0] <= *t && *t <= q[2]);
            medians.push(q[1]);
        }
        scores.push(r_squared(&truth, &medians));
    }
    let ours = scores.iter().sum::<f64>() / scores.len() as f64;
    let reference = fx_f64("forest_cv_diabetes/mean");
    let coverage = covered as f64 / values.len() as f64;
    eprintln!(
        "quantile forest median: R² {ours:.4}; random forest mean (scikit-learn) {reference:.4}; 10–90% interval covers {coverage:.3}"
    );
    // The median of a quantile forest is a different estimator from a forest's mean: a loose band.
    assert!((ours - reference).abs() <= 0.05, "median R² {ours} vs random-forest mean R² {reference}");
    assert!((0.65..=0.95).contains(&coverage), "the 10–90% interval covers {coverage} of held-out rows");
}

#[test]
fn fast_forest_quantile_regression_scores_the_median_and_keeps_the_quantiles() {
    let ran = train_score_evaluate(
        "diabetes",
        "model.fast_forest_quantile_regression",
        json!({"quantiles": "0.1, 0.5, 0.9", "seed": 0}),
    );
    let r2 = ran.metric("evaluate.report", "r2");
    assert!(r2 > 0.5 && r2 < 1.0, "in-sample R² {r2}");
    let model = ran.model("train.model");
    let scored = ran.table("score.data");
    let (rows, _, _) = dataset("diabetes");
    let normalized = ran.table("normalize.data");
    let x = Matrix {
        rows: rows.len(),
        cols: model.features.len(),
        data: {
            let columns: Vec<Vec<f64>> = model.features.iter().map(|f| floats(normalized, f)).collect();
            (0..rows.len()).flat_map(|i| columns.iter().map(|c| c[i]).collect::<Vec<_>>()).collect()
        },
    };
    let (quantiles, values) = FastForestQuantileRegression::quantiles(model, &x).expect("quantiles");
    assert_eq!(quantiles, vec![0.1, 0.5, 0.9]);
    let medians = floats(scored, "Scored Labels");
    for (i, &median) in medians.iter().enumerate() {
        assert_eq!(values.get(i, 1), median, "Scored Labels is the median");
        assert!(values.get(i, 0) <= values.get(i, 1) && values.get(i, 1) <= values.get(i, 2));
    }

    let ran =
        run(workflow(&[("learner", "model.fast_forest_quantile_regression", json!({"quantiles": "0.5, 2"}))], &[]));
    assert!(ran.error("learner").contains("\"2\""), "{}", ran.error("learner"));
}
