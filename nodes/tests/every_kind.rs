//! Every block of the catalog runs on bundled data, wired the way a user would wire it: learners are
//! trained, scored and evaluated on a dataset of their task; other blocks get a bundled table on their
//! table inputs, a trained model, learner or fitted transform on the others, and their default
//! parameters (plus the few a block cannot run without).

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use pipewright_engine::{
    Catalog, Category, Edge, Node, NodeStatus, PortRef, PortType, RunOptions, Task, Value, Workflow,
};

fn node(id: &str, kind: &str, params: Json) -> Node {
    let params: BTreeMap<String, Json> = match params {
        Json::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    Node { id: id.into(), kind: kind.into(), title: None, params, position: [0.0, 0.0] }
}

fn wire(workflow: &mut Workflow, from: &str, from_port: &str, to: &str, to_port: &str) {
    workflow.edges.push(Edge { from: PortRef::new(from, from_port), to: PortRef::new(to, to_port) });
}

/// Parameters a block cannot run without, with values that suit the bundled tables it is given here.
fn required_params(kind: &str, dir: &std::path::Path) -> Json {
    let asset = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/datasets").join(name);
        path.to_string_lossy().into_owned()
    };
    match kind {
        "data.import_data" => json!({"path": asset("iris.csv")}),
        "data.export_data" => json!({"path": dir.join("exported.csv").to_string_lossy()}),
        "data.enter_data_manually" => json!({"data": "x,y\n1,a\n2,b\n3,a\n"}),
        "transform.select_columns" => json!({"columns": ["mean_radius", "diagnosis"]}),
        "transform.filter_rows" => json!({"expression": "mean_radius > 14"}),
        "transform.join_data" => json!({"left_keys": ["mean_radius"], "right_keys": ["mean_radius"]}),
        "transform.remove_duplicate_rows" => json!({"columns": ["diagnosis"]}),
        "transform.group_by" => json!({"keys": ["diagnosis"], "columns": ["mean_radius"]}),
        "transform.smote" => json!({"label_column": "diagnosis", "neighbours": 5}),
        "transform.sort" => json!({"columns": ["mean_radius"]}),
        "transform.split_by_time" => json!({"column": "day"}),
        "transform.extract_ngram_features" | "transform.feature_hashing" => json!({"column": "message"}),
        "transform.apply_sql_transformation" => json!({"query": "SELECT * FROM t1 LIMIT 10"}),
        "deploy.export_model_package" => json!({"path": dir.join("exported.pwmodel").to_string_lossy()}),
        // Written before the loop by Export Model Package.
        "deploy.batch_score" => json!({"package": dir.join("scorer.pwmodel").to_string_lossy()}),
        _ => json!({}),
    }
}

/// The dataset a learner of these tasks is exercised on.
fn dataset_for(tasks: &[Task]) -> &'static str {
    if tasks.contains(&Task::Clustering) {
        "iris"
    } else if tasks.contains(&Task::BinaryClassification) || tasks.contains(&Task::AnomalyDetection) {
        "breast_cancer"
    } else if tasks.contains(&Task::MulticlassClassification) {
        "iris"
    } else {
        "diabetes"
    }
}

fn run(workflow: &Workflow, catalog: &Catalog, dir: &std::path::Path) -> Result<pipewright_engine::RunReport, String> {
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(workflow, catalog, &options, &|_| {}).map_err(|e| e.to_string())
}

/// A learner block trained on a dataset of its task, scored on it, and evaluated.
fn learner_workflow(kind: &str, tasks: &[Task]) -> Workflow {
    let mut w = Workflow::new(kind);
    w.nodes.push(node("data", "data.sample_dataset", json!({"dataset": dataset_for(tasks)})));
    w.nodes.push(node("normalize", "transform.normalize_data", json!({})));
    w.nodes.push(node("learner", kind, json!({})));
    wire(&mut w, "data", "data", "normalize", "data");
    if tasks.contains(&Task::Clustering) {
        w.nodes.push(node("train", "train.train_clustering_model", json!({})));
        w.nodes.push(node("score", "train.assign_data_to_clusters", json!({})));
    } else if tasks.contains(&Task::AnomalyDetection) {
        w.nodes.push(node("train", "train.train_anomaly_detection_model", json!({})));
        w.nodes.push(node("score", "train.score_model", json!({})));
    } else {
        w.nodes.push(node("train", "train.train_model", json!({})));
        w.nodes.push(node("score", "train.score_model", json!({})));
    }
    w.nodes.push(node("evaluate", "evaluate.evaluate_model", json!({})));
    wire(&mut w, "learner", "learner", "train", "learner");
    wire(&mut w, "normalize", "data", "train", "data");
    wire(&mut w, "train", "model", "score", "model");
    wire(&mut w, "normalize", "data", "score", "data");
    wire(&mut w, "score", "data", "evaluate", "scored");
    w
}

/// Any other block: bundled tables on its table inputs, and what it needs on the others.
fn block_workflow(kind: &str, spec: &pipewright_engine::NodeSpec, dir: &std::path::Path) -> Workflow {
    let mut w = Workflow::new(kind);
    w.nodes.push(node("data", "data.sample_dataset", json!({"dataset": "breast_cancer"})));
    // Date blocks take a table with dates, which no bundled dataset has.
    if matches!(kind, "transform.extract_date_parts" | "transform.split_by_time") {
        let csv = dir.join("dated.csv");
        std::fs::write(&csv, "day,value\n2026-01-01,1\n2026-02-01,2\n2026-03-01,3\n").expect("writes");
        w.nodes[0] = node("data", "data.import_data", json!({"path": csv.to_string_lossy()}));
    }
    // Text blocks take the bundled text messages.
    if matches!(kind, "transform.extract_ngram_features" | "transform.feature_hashing") {
        w.nodes[0] = node("data", "data.sample_dataset", json!({"dataset": "sms_spam"}));
    }
    w.nodes.push(node("block", kind, required_params(kind, dir)));
    let clustering = kind == "train.train_clustering_model" || kind == "train.assign_data_to_clusters";
    let anomaly = kind == "train.train_anomaly_detection_model";
    let learner_kind = if clustering {
        "model.kmeans"
    } else if anomaly {
        "model.isolation_forest"
    } else {
        "model.logistic_regression_two_class"
    };
    for port in &spec.inputs {
        // Optional transform inputs (Export Model Package's second to fourth) would repeat the first.
        if !port.required && port.ty == PortType::Transform {
            continue;
        }
        if !port.required
            && port.ty == PortType::Table
            && kind != "transform.add_rows"
            && kind != "transform.add_columns"
            && kind != "transform.join_data"
        {
            continue;
        }
        match port.ty {
            PortType::Table if kind == "evaluate.evaluate_model" => {
                if w.node("scored").is_none() {
                    w.nodes.push(node("learner", "model.logistic_regression_two_class", json!({})));
                    w.nodes.push(node("train", "train.train_model", json!({})));
                    w.nodes.push(node("scored", "train.score_model", json!({})));
                    wire(&mut w, "learner", "learner", "train", "learner");
                    wire(&mut w, "data", "data", "train", "data");
                    wire(&mut w, "train", "model", "scored", "model");
                    wire(&mut w, "data", "data", "scored", "data");
                }
                wire(&mut w, "scored", "data", "block", port.name);
            }
            PortType::Table => wire(&mut w, "data", "data", "block", port.name),
            PortType::Learner => {
                w.nodes.push(node("learner", learner_kind, json!({})));
                wire(&mut w, "learner", "learner", "block", port.name);
            }
            PortType::Model => {
                w.nodes.push(node("model_learner", learner_kind, json!({})));
                let trainer = if clustering { "train.train_clustering_model" } else { "train.train_model" };
                w.nodes.push(node("trained", trainer, json!({})));
                wire(&mut w, "model_learner", "learner", "trained", "learner");
                wire(&mut w, "data", "data", "trained", "data");
                wire(&mut w, "trained", "model", "block", port.name);
            }
            PortType::Transform => {
                w.nodes.push(node("fitted", "transform.normalize_data", json!({})));
                wire(&mut w, "data", "data", "fitted", "data");
                wire(&mut w, "fitted", "transform", "block", port.name);
            }
            PortType::Report => {}
        }
    }
    w
}

#[test]
fn every_kind_runs_on_bundled_data() {
    let catalog = pipewright_nodes::catalog();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    let mut categories = std::collections::BTreeSet::new();
    // The package Batch Score reads.
    let export = catalog.get("deploy.export_model_package").expect("export block").spec.clone();
    let mut packager = block_workflow(export.id, &export, dir.path());
    let block = packager.nodes.iter_mut().find(|n| n.id == "block").expect("block");
    block.params.insert("path".into(), json!(dir.path().join("scorer.pwmodel").to_string_lossy()));
    let packaged = run(&packager, &catalog, dir.path()).expect("packaged");
    assert!(packaged.success, "{:?}", packaged.nodes.iter().map(|n| &n.status).collect::<Vec<_>>());
    for entry in catalog.entries() {
        let spec = entry.spec.as_ref();
        categories.insert(spec.category);
        let workflow = if spec.category == Category::Model {
            // The learner alone says which tasks it handles.
            let mut alone = Workflow::new(spec.id);
            alone.nodes.push(node("learner", spec.id, json!({})));
            // Wrappers take a two-class learner.
            let wraps = spec.inputs.iter().any(|p| p.ty == PortType::Learner);
            if wraps {
                alone.nodes.push(node("inner", "model.logistic_regression_two_class", json!({})));
                wire(&mut alone, "inner", "learner", "learner", "learner");
            }
            let outputs = run(&alone, &catalog, dir.path()).map(|r| r.node("learner").map(|o| o.outputs.clone()));
            let Ok(Some(outputs)) = outputs else {
                failures.push(format!("{}: {outputs:?}", spec.id));
                continue;
            };
            let Some(Value::Learner(learner)) = outputs.first() else {
                failures.push(format!("{}: gives no learner", spec.id));
                continue;
            };
            let tasks = learner.tasks.clone();
            let mut workflow = learner_workflow(spec.id, &tasks);
            if wraps {
                workflow.nodes.push(node("inner", "model.logistic_regression_two_class", json!({})));
                wire(&mut workflow, "inner", "learner", "learner", "learner");
            }
            workflow
        } else {
            block_workflow(spec.id, spec, dir.path())
        };
        match run(&workflow, &catalog, dir.path()) {
            Ok(report) => {
                for outcome in &report.nodes {
                    if let NodeStatus::Failed(message) | NodeStatus::Skipped(message) = &outcome.status {
                        failures.push(format!("{} (node {}): {message}", spec.id, outcome.node));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: refused: {e}", spec.id)),
        }
    }
    assert!(failures.is_empty(), "blocks that did not run:\n{}", failures.join("\n"));
    assert!(categories.len() >= 5, "every category has blocks: {categories:?}");
    assert!(catalog.len() >= 50, "the catalog offers at least 50 kinds; it has {}", catalog.len());
}
