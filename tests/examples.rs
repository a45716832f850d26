//! The example projects against scikit-learn on the same data and settings, and the executor's
//! promises on them: second runs come from the cache, a changed parameter re-runs only what depends on it,
//! and the same file gives the same numbers every time.

use pipewright_e2e::{Scratch, assert_close, example, fixture_number, fixtures, metric};
use pipewright_engine::{NodeStatus, Value};
use serde_json::json;

/// Metrics computed from the same predictions as scikit-learn must agree to rounding; the logistic
/// fits stop within about 1e-5 of the optimum on both sides, which moves metrics by less than this.
const SAME_MODEL: f64 = 1e-4;

#[test]
fn two_class_titanic_matches_scikit_learn() {
    let f = fixtures();
    let report = Scratch::new().run(&example("titanic-two-class"));
    assert!(report.success, "{:?}", report.nodes);
    for name in ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"] {
        let expected = fixture_number(&f, &format!("example_two_class/logistic_regression/test_metrics/{name}"));
        assert_close(name, metric(&report, "evaluate", "scored", name), expected, SAME_MODEL);
    }
    // A random forest is compared with the range scikit-learn's own seeds give.
    let min = fixture_number(&f, "example_two_class/random_forest/accuracy/min");
    let max = fixture_number(&f, "example_two_class/random_forest/accuracy/max");
    let accuracy = metric(&report, "evaluate", "scored_2", "accuracy");
    assert!(
        accuracy >= min - 0.03 && accuracy <= max + 0.04,
        "forest accuracy {accuracy} outside [{min}, {max}] ± margin"
    );
}

#[test]
fn multiclass_penguins_matches_scikit_learn() {
    let f = fixtures();
    let report = Scratch::new().run(&example("penguins-multiclass"));
    assert!(report.success, "{:?}", report.nodes);
    for (ours, theirs) in [
        ("accuracy", "accuracy"),
        ("macro_precision", "precision_macro"),
        ("macro_recall", "recall_macro"),
        ("macro_f1", "f1_macro"),
        ("log_loss", "log_loss"),
        ("macro_roc_auc", "roc_auc_ovr_macro"),
    ] {
        let expected = fixture_number(&f, &format!("example_multiclass/logistic_regression/test_metrics/{theirs}"));
        assert_close(ours, metric(&report, "evaluate", "scored", ours), expected, SAME_MODEL);
    }
    let min = fixture_number(&f, "example_multiclass/random_forest/accuracy/min");
    let accuracy = metric(&report, "evaluate", "scored_2", "accuracy");
    assert!(accuracy >= min - 0.03, "forest accuracy {accuracy} below scikit-learn's {min} - 0.03");
}

#[test]
fn regression_diabetes_matches_scikit_learn() {
    let f = fixtures();
    let report = Scratch::new().run(&example("diabetes-regression"));
    assert!(report.success, "{:?}", report.nodes);
    for (source, model) in [("scored", "linear_regression"), ("scored_2", "ridge_alpha1")] {
        let metrics = f
            .pointer(&format!("/example_regression/models/{model}/test_metrics"))
            .and_then(|m| m.as_object())
            .expect("fixture metrics");
        assert!(!metrics.is_empty());
        for (name, expected) in metrics {
            let expected = expected.as_f64().expect("number");
            // Exact solutions on both sides: agreement to 1e-9 relative.
            assert_close(
                &format!("{model} {name}"),
                metric(&report, "evaluate", source, name),
                expected,
                1e-9 * expected.abs().max(1.0),
            );
        }
    }
}

#[test]
fn clustering_iris_matches_scikit_learn() {
    let f = fixtures();
    let report = Scratch::new().run(&example("iris-clustering"));
    assert!(report.success, "{:?}", report.nodes);
    let inertia = fixture_number(&f, "example_clustering/inertia");
    assert_close("inertia", metric(&report, "evaluate", "scored", "inertia"), inertia, 0.01 * inertia);
    assert_close(
        "silhouette",
        metric(&report, "evaluate", "scored", "silhouette"),
        fixture_number(&f, "example_clustering/silhouette"),
        0.01,
    );
}

#[test]
fn a_second_run_is_served_from_the_project_cache_and_a_changed_last_node_reruns_alone() {
    let scratch = Scratch::new();
    let mut workflow = example("titanic-two-class");
    let first = scratch.run(&workflow);
    assert!(first.nodes.iter().all(|n| n.status == NodeStatus::Finished));
    let second = scratch.run(&workflow);
    assert!(
        second.nodes.iter().all(|n| n.status == NodeStatus::Cached { from_disk: true }),
        "{:?}",
        second.nodes.iter().map(|n| (&n.node, &n.status)).collect::<Vec<_>>()
    );
    assert_eq!(metric(&first, "evaluate", "scored", "roc_auc"), metric(&second, "evaluate", "scored", "roc_auc"));
    workflow.node_mut("evaluate").expect("evaluate").params.insert("positive_class".into(), json!("no"));
    let third = scratch.run(&workflow);
    let ran: Vec<&str> =
        third.nodes.iter().filter(|n| n.status == NodeStatus::Finished).map(|n| n.node.as_str()).collect();
    assert_eq!(ran, ["evaluate"]);
    // A change upstream re-runs that node and everything after it, and nothing beside it.
    workflow.node_mut("forest").expect("forest").params.insert("trees".into(), json!(20));
    let fourth = scratch.run(&workflow);
    let ran: Vec<&str> =
        fourth.nodes.iter().filter(|n| n.status == NodeStatus::Finished).map(|n| n.node.as_str()).collect();
    assert_eq!(ran, ["forest", "train_forest", "score_forest", "evaluate"]);
}

#[test]
fn the_same_file_gives_the_same_numbers_and_the_workflow_seed_matters() {
    let mut workflow = example("titanic-two-class");
    // Let the forest derive its seed from the workflow seed.
    workflow.node_mut("forest").expect("forest").params.remove("seed");
    let a = Scratch::new().run(&workflow);
    let b = Scratch::new().run(&workflow);
    for name in ["accuracy", "roc_auc", "log_loss"] {
        assert_eq!(
            metric(&a, "evaluate", "scored_2", name).to_bits(),
            metric(&b, "evaluate", "scored_2", name).to_bits(),
            "{name}"
        );
    }
    workflow.seed += 1;
    let c = Scratch::new().run(&workflow);
    assert_ne!(metric(&a, "evaluate", "scored_2", "log_loss"), metric(&c, "evaluate", "scored_2", "log_loss"));
    // The logistic branch has no randomness of its own, and its split sets an explicit seed.
    assert_eq!(metric(&a, "evaluate", "scored", "log_loss"), metric(&c, "evaluate", "scored", "log_loss"));
}

#[test]
fn every_example_validates_and_round_trips() {
    let catalog = pipewright_nodes::catalog();
    for name in ["titanic-two-class", "penguins-multiclass", "diabetes-regression", "iris-clustering", "titanic-deploy"]
    {
        let workflow = example(name);
        let problems = pipewright_engine::validate(&workflow, &catalog).problems;
        assert!(problems.is_empty(), "{name}: {problems:?}");
        let folder = pipewright_e2e::repo_root().join("projects").join(name);
        let path = pipewright_engine::find_workflow(&folder).expect("flow");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(workflow.to_json(), text, "{name}: the committed file is in the canonical layout");
    }
}

#[test]
fn metrics_read_back_from_the_project_cache_equal_the_computed_ones_to_the_last_bit() {
    for project in ["titanic-two-class", "penguins-multiclass", "diabetes-regression", "iris-clustering"] {
        let scratch = Scratch::new();
        let workflow = example(project);
        let computed = scratch.run(&workflow);
        let cached = scratch.run(&workflow);
        let mut compared = 0;
        for (a, b) in computed.nodes.iter().zip(&cached.nodes) {
            let (Some(Value::Report(a_report)), Some(Value::Report(b_report))) = (a.outputs.first(), b.outputs.first())
            else {
                continue;
            };
            assert_eq!(a.status, NodeStatus::Finished, "{project}: {}", a.node);
            assert_eq!(b.status, NodeStatus::Cached { from_disk: true }, "{project}: {}", b.node);
            assert_eq!(a_report.evaluations.len(), b_report.evaluations.len());
            for (ea, eb) in a_report.evaluations.iter().zip(&b_report.evaluations) {
                assert_eq!(ea.metrics.len(), eb.metrics.len());
                for (ma, mb) in ea.metrics.iter().zip(&eb.metrics) {
                    assert_eq!(ma.name, mb.name);
                    assert_eq!(
                        ma.value.to_bits(),
                        mb.value.to_bits(),
                        "{project}: {}.{}.{}: computed {:e}, read back {:e}",
                        a.node,
                        ea.source,
                        ma.name,
                        ma.value,
                        mb.value
                    );
                    compared += 1;
                }
                for (ca, cb) in ea.curves.iter().zip(&eb.curves) {
                    let bits = |c: &pipewright_engine::Curve| -> Vec<[u64; 2]> {
                        c.points.iter().map(|[x, y]| [x.to_bits(), y.to_bits()]).collect()
                    };
                    assert!(bits(ca) == bits(cb), "{project}: {}.{}: curve {} differs", a.node, ea.source, ca.name);
                }
            }
        }
        assert!(compared >= 2, "{project}: only {compared} metrics compared");
    }
}
