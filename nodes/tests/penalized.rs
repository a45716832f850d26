//! Lasso Regression and Elastic Net Regression against scikit-learn's `Lasso` and `ElasticNet` on diabetes, and
//! the Matthews correlation and balanced accuracy of Evaluate Model against scikit-learn's metrics
//! (`tests/fixtures/sklearn_penalized.json`, made by `tests/reference/make_penalized_fixtures.py`).

mod support;

use serde_json::{Value as Json, json};

use pipewright_nodes::evaluate::metrics;
use pipewright_nodes::model::{ElasticNetRegression, LassoRegression};
use support::{load_fixtures, run, workflow};

fn fixture(name: &str) -> Json {
    load_fixtures("sklearn_penalized.json")[name].clone()
}

/// Trains `kind` with `params` on all of diabetes and returns its coefficients and intercept.
fn trained(kind: &str, params: Json) -> (Vec<f64>, f64) {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({ "dataset": "diabetes" })),
            ("learner", kind, params),
            ("train", "train.train_model", json!({ "label_column": "progression" })),
        ],
        &[("learner.learner", "train.learner"), ("data.data", "train.data")],
    ));
    let model = ran.model("train.model");
    let coefficients: Vec<f64> = serde_json::from_value(model.state["coefficients"].clone()).expect("coefficients");
    (coefficients, model.state["intercept"].as_f64().expect("intercept"))
}

fn assert_matches(case: &str, kind: &str, l1_ratio: Option<f64>) {
    let fx = fixture(case);
    let settings = &fx["settings"];
    let mut params = json!({ "alpha": settings["alpha"], "tolerance": 1e-14, "max_iterations": 1_000_000 });
    if let Some(ratio) = l1_ratio {
        params["l1_ratio"] = json!(ratio);
    }
    let (coefficients, intercept) = trained(kind, params);
    let expected: Vec<f64> = serde_json::from_value(fx["coefficients"].clone()).expect("coefficients");
    assert_eq!(coefficients.len(), expected.len());
    for (i, (ours, theirs)) in coefficients.iter().zip(&expected).enumerate() {
        assert!((ours - theirs).abs() <= 1e-6, "{case}: coefficient {i} is {ours}, scikit-learn {theirs}");
        // Lasso's zeros are exact zeros on both sides.
        assert_eq!(*theirs == 0.0, *ours == 0.0, "{case}: coefficient {i}: {ours} vs {theirs}");
    }
    let theirs = fx["intercept"].as_f64().expect("intercept");
    assert!((intercept - theirs).abs() <= 1e-6, "{case}: intercept {intercept}, scikit-learn {theirs}");
}

#[test]
fn lasso_matches_scikit_learn_on_diabetes() {
    assert_matches("lasso_diabetes_alpha_0_5", LassoRegression::ID, None);
    assert_matches("lasso_diabetes_alpha_5", LassoRegression::ID, None);
}

#[test]
fn elastic_net_matches_scikit_learn_on_diabetes() {
    assert_matches("elastic_net_diabetes_alpha_0_5_l1_0_7", ElasticNetRegression::ID, Some(0.7));
    assert_matches("elastic_net_diabetes_alpha_0_05_l1_0_2", ElasticNetRegression::ID, Some(0.2));
}

#[test]
fn a_larger_weight_keeps_fewer_features() {
    let count =
        |alpha: f64| trained(LassoRegression::ID, json!({ "alpha": alpha })).0.iter().filter(|w| **w != 0.0).count();
    let (light, heavy) = (count(0.01), count(50.0));
    assert!(heavy < light, "alpha 50 keeps {heavy} features, alpha 0.01 keeps {light}");
}

#[test]
fn lasso_is_tuned_like_any_learner() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({ "dataset": "diabetes" })),
            ("learner", LassoRegression::ID, json!({})),
            (
                "tune",
                "train.tune_model_hyperparameters",
                json!({ "label_column": "progression", "mode": "random_sweep", "runs": 4, "metric": "rmse" }),
            ),
        ],
        &[("learner.learner", "tune.learner"), ("data.data", "tune.data")],
    ));
    let sweep = ran.table("tune.sweep");
    assert_eq!(sweep.height(), 4, "four settings tried");
    let alphas = support::floats(sweep, "alpha");
    assert!(alphas.iter().all(|a| (1e-4..=10.0).contains(a)), "alphas from the tuning range: {alphas:?}");
    let rmse = support::floats(sweep, "rmse");
    assert!(rmse.windows(2).all(|w| w[0] <= w[1]), "best (lowest RMSE) first: {rmse:?}");
}

#[test]
fn matthews_and_balanced_accuracy_match_scikit_learn() {
    let fx = fixture("classification_metrics");
    for case in ["two_classes", "three_classes"] {
        let counts: Vec<Vec<u64>> = serde_json::from_value(fx[case]["confusion"].clone()).expect("counts");
        let mcc = metrics::matthews(&counts);
        let balanced = metrics::balanced_accuracy(&counts);
        let (mcc_ref, balanced_ref) =
            (fx[case]["mcc"].as_f64().expect("mcc"), fx[case]["balanced_accuracy"].as_f64().expect("balanced"));
        assert!((mcc - mcc_ref).abs() < 1e-12, "{case}: MCC {mcc} vs {mcc_ref}");
        assert!((balanced - balanced_ref).abs() < 1e-12, "{case}: balanced accuracy {balanced} vs {balanced_ref}");
    }
    assert_eq!(metrics::matthews(&[vec![5, 0], vec![3, 0]]), 0.0, "one class predicted: undefined, 0");
}
