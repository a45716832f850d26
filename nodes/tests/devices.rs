//! The blocks with compute kernels give the same results on the GPU as on the CPU, and say which device
//! they used. Without a hardware GPU the GPU side is Mesa's lavapipe; without any adapter the tests skip
//! locally with the reason, and fail under `CI=true`.

mod support;

use serde_json::json;

use pipewright_engine::{Device, RunOptions};
use support::{Ran, workflow};

fn has_adapter() -> bool {
    match pipewright_compute::shared() {
        Ok(_) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true requires a GPU adapter: {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

fn run_on(device: Device, nodes: &[(&str, &str, serde_json::Value)], edges: &[(&str, &str)]) -> Ran {
    let wf = workflow(nodes, edges);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = RunOptions { base_dir: dir.path().to_path_buf(), device, ..RunOptions::default() };
    let report = pipewright_engine::run(&wf, &pipewright_nodes::catalog(), &options, &|_| {}).expect("the run starts");
    Ran { workflow: wf, report }
}

fn device_of(ran: &Ran, node: &str) -> String {
    ran.report.node(node).and_then(|n| n.device.clone()).unwrap_or_else(|| panic!("{node} recorded no device"))
}

/// Runs the workflow on both devices; checks each kernel node's record and returns (cpu, gpu).
fn both(nodes: &[(&str, &str, serde_json::Value)], edges: &[(&str, &str)], kernel_nodes: &[&str]) -> (Ran, Ran) {
    let cpu = run_on(Device::Cpu, nodes, edges);
    let gpu = run_on(Device::Gpu, nodes, edges);
    for node in kernel_nodes {
        assert_eq!(device_of(&cpu, node), "cpu", "{node}");
        assert!(device_of(&gpu, node).starts_with("gpu: "), "{node}: {}", device_of(&gpu, node));
    }
    (cpu, gpu)
}

fn classification<'a>(
    learner: (&'a str, serde_json::Value),
    dataset: &str,
) -> Vec<(&'a str, &'a str, serde_json::Value)> {
    let (kind, params) = learner;
    vec![
        ("data", "data.sample_dataset", json!({ "dataset": dataset })),
        ("normalize", "transform.normalize_data", json!({})),
        ("split", "transform.split_data", json!({ "fraction": 0.7, "seed": 3 })),
        ("learner", kind, params),
        ("train", "train.train_model", json!({})),
        ("score", "train.score_model", json!({})),
        ("evaluate", "evaluate.evaluate_model", json!({})),
    ]
}

const CHAIN: &[(&str, &str)] = &[
    ("data.data", "normalize.data"),
    ("normalize.data", "split.data"),
    ("learner.learner", "train.learner"),
    ("split.first", "train.data"),
    ("train.model", "score.model"),
    ("split.second", "score.data"),
    ("score.data", "evaluate.scored"),
];

#[test]
fn logistic_regression_agrees_across_devices_for_two_and_three_classes() {
    if !has_adapter() {
        return;
    }
    for (kind, dataset) in
        [("model.logistic_regression_two_class", "breast_cancer"), ("model.logistic_regression_multiclass", "wine")]
    {
        let (cpu, gpu) = both(&classification((kind, json!({})), dataset), CHAIN, &["normalize", "train"]);
        for metric in ["accuracy", "log_loss"] {
            let (a, b) = (cpu.metric("evaluate.report", metric), gpu.metric("evaluate.report", metric));
            assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{kind} {metric}: cpu {a} vs gpu {b}");
        }
    }
}

#[test]
fn nearest_neighbours_and_the_neural_network_agree_across_devices() {
    if !has_adapter() {
        return;
    }
    let (cpu, gpu) =
        both(&classification(("model.knn_classifier", json!({ "neighbors": 5 })), "breast_cancer"), CHAIN, &["score"]);
    assert_eq!(cpu.metric("evaluate.report", "accuracy"), gpu.metric("evaluate.report", "accuracy"));
    let network =
        ("model.neural_network", json!({ "hidden_layers": "16", "learning_rate": 0.01, "max_epochs": 100, "seed": 2 }));
    let (cpu, gpu) = both(&classification(network, "iris"), CHAIN, &["train", "score"]);
    let (a, b) = (cpu.metric("evaluate.report", "accuracy"), gpu.metric("evaluate.report", "accuracy"));
    // f32 products drift slowly through 100 epochs of Adam: the models stay equally good, not bit-equal.
    assert!((a - b).abs() <= 0.05 && a > 0.85, "neural network accuracy: cpu {a} vs gpu {b}");
}

#[test]
fn linear_regression_and_kmeans_agree_across_devices() {
    if !has_adapter() {
        return;
    }
    let mut nodes = classification(("model.linear_regression", json!({ "l2_weight": 1.0 })), "diabetes");
    nodes.retain(|n| n.0 != "normalize");
    let edges: Vec<(&str, &str)> =
        [("data.data", "split.data")].into_iter().chain(CHAIN[2..].iter().copied()).collect();
    let (cpu, gpu) = both(&nodes, &edges, &["train"]);
    for metric in ["rmse", "r2"] {
        let (a, b) = (cpu.metric("evaluate.report", metric), gpu.metric("evaluate.report", metric));
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "linear regression {metric}: cpu {a} vs gpu {b}");
    }
    let nodes = [
        ("data", "data.sample_dataset", json!({ "dataset": "iris" })),
        ("normalize", "transform.normalize_data", json!({ "method": "minmax" })),
        ("learner", "model.kmeans", json!({ "clusters": 3, "starts": 2, "seed": 4 })),
        ("train", "train.train_clustering_model", json!({})),
        ("assign", "train.assign_data_to_clusters", json!({})),
        ("evaluate", "evaluate.evaluate_model", json!({})),
    ];
    let edges = [
        ("data.data", "normalize.data"),
        ("normalize.data", "train.data"),
        ("learner.learner", "train.learner"),
        ("train.model", "assign.model"),
        ("normalize.data", "assign.data"),
        ("assign.data", "evaluate.scored"),
    ];
    let (cpu, gpu) = both(&nodes, &edges, &["normalize", "train", "assign"]);
    let clusters = |r: &Ran| support::floats(r.table("assign.data"), "Assignments");
    assert_eq!(clusters(&cpu), clusters(&gpu), "every row in the same cluster");
    let (a, b) = (cpu.metric("evaluate.report", "silhouette"), gpu.metric("evaluate.report", "silhouette"));
    assert!((a - b).abs() <= 1e-4, "silhouette: cpu {a} vs gpu {b}");
}

#[test]
fn blocks_without_kernels_record_no_device_and_auto_keeps_small_work_on_the_cpu() {
    let nodes = classification(("model.decision_tree", json!({})), "iris");
    let ran = run_on(Device::Auto, &nodes, CHAIN);
    assert!(ran.report.node("train").is_some_and(|n| n.status.is_success() && n.device.is_none()));
    assert_eq!(device_of(&ran, "normalize"), "cpu", "150 rows never pay for a GPU");
}

#[test]
fn the_device_policy_is_part_of_the_cache_key_of_blocks_with_kernels() {
    let wf = workflow(&classification(("model.logistic_regression_two_class", json!({})), "iris"), CHAIN);
    let catalog = pipewright_nodes::catalog();
    let dir = std::path::Path::new(".");
    let key = |device| pipewright_engine::plan_on(&wf, &catalog, dir, None, device).expect("plans").fingerprints;
    let (cpu, gpu) = (key(Device::Cpu), key(Device::Gpu));
    // Normalize Data computes with kernels, so it and everything fed from it change key; the dataset and the
    // learner block do not.
    for (i, node) in wf.nodes.iter().enumerate() {
        let changes = !["data", "learner"].contains(&node.id.as_str());
        assert_eq!(cpu[i] != gpu[i], changes, "{}: a cached CPU result must not answer a GPU run", node.id);
    }
    // Without Normalize Data, Train Model is the first block whose key depends on the device.
    let mut nodes = classification(("model.linear_regression", json!({})), "diabetes");
    nodes.retain(|n| n.0 != "normalize");
    let edges: Vec<(&str, &str)> =
        [("data.data", "split.data")].into_iter().chain(CHAIN[2..].iter().copied()).collect();
    let wf = workflow(&nodes, &edges);
    let key = |device| pipewright_engine::plan_on(&wf, &catalog, dir, None, device).expect("plans").fingerprints;
    let (cpu, gpu) = (key(Device::Cpu), key(Device::Gpu));
    for (i, node) in wf.nodes.iter().enumerate() {
        let changes = ["train", "score", "evaluate"].contains(&node.id.as_str());
        assert_eq!(cpu[i] != gpu[i], changes, "{}", node.id);
    }
}
