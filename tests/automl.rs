//! Train Best Model against scikit-learn: on breast cancer (two classes) and diabetes (values), the learner at
//! the top of Pipewright's leaderboard scores within the spread (one standard deviation over the folds) of the
//! best scikit-learn model of its family, searched as a scikit-learn user would (`RandomizedSearchCV` over the
//! same number of settings, 5 folds; `tests/reference/make_automl_fixtures.py`).

use std::path::Path;

use serde_json::{Value as Json, json};

use pipewright_e2e::{Scratch, repo_root};
use pipewright_engine::{Value, Workflow};

fn fixtures() -> Json {
    let path = repo_root().join("tests/fixtures/sklearn_automl.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("json")
}

/// The dataset standardized, then Train Best Model with `trials` settings a learner on 5 folds.
fn contest(dir: &Path, dataset: &str, label: &str, trials: usize) -> Workflow {
    let flow = json!({
        "format": "pipewright.workflow", "version": 1, "name": "contest", "seed": 1,
        "nodes": [
            {"id": "data", "kind": "data.sample_dataset", "params": {"dataset": dataset}},
            {"id": "normalize", "kind": "transform.normalize_data", "params": {"method": "zscore"}},
            {"id": "best", "kind": "train.train_best_model",
             "params": {"label_column": label, "trials": trials, "folds": 5, "seed": 0}},
        ],
        "edges": [
            {"from": {"node": "data", "port": "data"}, "to": {"node": "normalize", "port": "data"}},
            {"from": {"node": "normalize", "port": "data"}, "to": {"node": "best", "port": "data"}},
        ],
    });
    let path = dir.join(format!("{dataset}.flow.json"));
    std::fs::write(&path, flow.to_string()).expect("write");
    Workflow::load(&path).expect("workflow")
}

/// The top of the leaderboard: its algorithm, the metric's mean and standard deviation.
fn winner(scratch: &Scratch, workflow: &Workflow, metric: &str) -> (String, f64, f64, usize) {
    let report = scratch.run(workflow);
    let best = report.node("best").expect("the contest ran");
    assert!(best.status.is_success(), "{:?}", best.status);
    let Some(Value::Table(board)) = best.outputs.get(1) else { panic!("no leaderboard") };
    let column = |name: &str| board.frame.column(name).unwrap_or_else(|e| panic!("{name}: {e}")).clone();
    let algorithm = column("algorithm").str().expect("text").get(0).expect("a winner").to_owned();
    let mean = column(&format!("{metric}_mean")).f64().expect("numbers").get(0).expect("a mean");
    let std = column(&format!("{metric}_std")).f64().expect("numbers").get(0).expect("a std");
    (algorithm, mean, std, board.frame.height())
}

#[test]
fn the_top_learner_scores_within_the_spread_of_the_best_scikit_learn_model_of_its_family() {
    let fixtures = fixtures();
    let scratch = Scratch::new();
    let trials = fixtures["_meta"]["n_iter"].as_u64().expect("n_iter") as usize + 1;
    for (dataset, metric) in [("breast_cancer", "accuracy"), ("diabetes", "r2")] {
        let label = fixtures[dataset]["label"].as_str().expect("label");
        let workflow = contest(scratch.dir.path(), dataset, label, trials);
        let (algorithm, mean, std, learners) = winner(&scratch, &workflow, metric);
        let families = fixtures[dataset]["families"].as_object().expect("families");
        assert!(learners >= families.len().min(6), "{dataset}: only {learners} learners took part");
        let reference = &families
            .get(&algorithm)
            .unwrap_or_else(|| panic!("{dataset}: the winner {algorithm} has no scikit-learn family in the fixtures"));
        let (sk_mean, sk_std) = (reference["mean"].as_f64().expect("mean"), reference["std"].as_f64().expect("std"));
        let spread = sk_std.max(std);
        eprintln!(
            "{dataset}: {algorithm} {metric} {mean:.4} ± {std:.4}; scikit-learn's best of the family {sk_mean:.4} ± {sk_std:.4}"
        );
        assert!(
            (mean - sk_mean).abs() <= spread,
            "{dataset}: {algorithm} scores {mean:.4} ± {std:.4}, scikit-learn's best of its family {sk_mean:.4} ± {sk_std:.4}"
        );
    }
}
