//! Workflow → model package → endpoint: the `titanic-deploy` example is run, its package served on
//! loopback, and predictions over HTTP (JSON and CSV) checked against Score Model on the same rows after
//! the workflow's own fitted transforms. Bad requests get a 4xx with a clear message and the server keeps
//! serving.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_deploy::client;
use pipewright_deploy::{Package, ServeOptions, Server};
use pipewright_e2e::{Scratch, example};
use pipewright_engine::{Edge, Node, PortRef, RunReport, Table, Value, Workflow};
use pipewright_nodes::deploy::FieldType;
use pipewright_nodes::train::{PROBABILITY_PREFIX, SCORED_LABELS};

fn edge(from: &str, from_port: &str, to: &str, to_port: &str) -> Edge {
    Edge {
        from: PortRef { node: from.into(), port: from_port.into() },
        to: PortRef { node: to.into(), port: to_port.into() },
    }
}

fn node(id: &str, kind: &str) -> Node {
    serde_json::from_value(json!({ "id": id, "kind": kind, "params": {}, "position": [0.0, 0.0] })).expect("node")
}

/// The example with a second scoring branch: every raw row through the workflow's own fitted transforms
/// (Apply Transformation) and Score Model, the reference the package must match.
fn example_with_reference_scoring() -> Workflow {
    let mut w = example("titanic-deploy");
    for (id, kind) in [
        ("apply_clean", "transform.apply_transformation"),
        ("apply_normalize", "transform.apply_transformation"),
        ("apply_indicators", "transform.apply_transformation"),
        ("score_all", "train.score_model"),
    ] {
        w.nodes.push(node(id, kind));
    }
    w.edges.extend([
        edge("clean", "transform", "apply_clean", "transform"),
        edge("select", "data", "apply_clean", "data"),
        edge("normalize", "transform", "apply_normalize", "transform"),
        edge("apply_clean", "data", "apply_normalize", "data"),
        edge("indicators", "transform", "apply_indicators", "transform"),
        edge("apply_normalize", "data", "apply_indicators", "data"),
        edge("train", "model", "score_all", "model"),
        edge("apply_indicators", "data", "score_all", "data"),
    ]);
    w
}

fn table(report: &RunReport, node: &str) -> Arc<Table> {
    let outcome = report.node(node).unwrap_or_else(|| panic!("no node {node}"));
    match outcome.outputs.first() {
        Some(Value::Table(t)) => t.clone(),
        _ => panic!("{node} has no table: {:?}", outcome.status),
    }
}

/// The raw rows as JSON records, missing cells left out as a caller would.
fn records(raw: &Table) -> Vec<Json> {
    let columns = raw.frame.columns();
    (0..raw.height())
        .map(|i| {
            let mut record = serde_json::Map::new();
            for c in columns {
                let value = match c.get(i).expect("cell") {
                    AnyValue::Null => continue,
                    AnyValue::String(s) => json!(s),
                    AnyValue::StringOwned(s) => json!(s.as_str()),
                    other => other.extract::<f64>().map_or(Json::Null, |x| json!(x)),
                };
                record.insert(c.name().to_string(), value);
            }
            Json::Object(record)
        })
        .collect()
}

fn csv_of(raw: &Table) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut frame = raw.frame.clone();
    CsvWriter::new(&mut bytes).finish(&mut frame).expect("csv");
    bytes
}

/// Predictions as (label, probability of class "yes", survived) from Score Model's columns.
fn reference(scored: &Table) -> Vec<(String, f64)> {
    let labels = scored.frame.column(SCORED_LABELS).expect("labels").cast(&DataType::String).expect("cast");
    let p = scored.frame.column(&format!("{PROBABILITY_PREFIX}yes")).expect("p1").f64().expect("f64").clone();
    labels
        .str()
        .expect("str")
        .iter()
        .zip(p.iter())
        .map(|(l, p)| (l.expect("label").to_owned(), p.expect("p")))
        .collect()
}

fn assert_same(what: &str, got: &[Json], expected: &[(String, f64)]) {
    assert_eq!(got.len(), expected.len(), "{what}: one prediction per row");
    for (i, (g, (label, p))) in got.iter().zip(expected).enumerate() {
        assert_eq!(g["prediction"].as_str(), Some(label.as_str()), "{what}: row {i}: {g}");
        let got_p = g["probabilities"]["yes"].as_f64().expect("probability");
        assert!((got_p - p).abs() < 1e-9, "{what}: row {i}: probability {got_p} vs Score Model {p}");
        let total: f64 = g["probabilities"].as_object().expect("object").values().filter_map(Json::as_f64).sum();
        assert!((total - 1.0).abs() < 1e-9, "{what}: row {i}: probabilities sum to {total}");
    }
}

#[test]
fn a_packaged_workflow_served_over_http_scores_like_score_model_on_the_same_rows() {
    let scratch = Scratch::new();
    let report = scratch.run(&example_with_reference_scoring());
    assert!(report.success, "{:?}", report.nodes.iter().map(|n| (&n.node, &n.status)).collect::<Vec<_>>());
    let path = scratch.dir.path().join("models/titanic-survival.pwmodel");
    let package = Package::read(&path).expect("the package loads with no project around it");

    // The manifest describes the raw rows, not the encoded ones.
    let m = &package.manifest;
    assert_eq!((m.format.as_str(), m.version, m.name.as_str()), ("pipewright-model-package", 1, "titanic-survival"));
    let field = |name: &str| m.inputs.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no field {name}"));
    let names: Vec<&str> = m.inputs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked"], "in the data's order, no label");
    assert_eq!(
        (field("sex").ty, field("sex").categories.clone()),
        (FieldType::Category, vec!["female".into(), "male".into()])
    );
    assert_eq!(field("age").ty, FieldType::Number);
    assert!(!field("age").required && !field("embarked").required, "the median/mode cleaning fills them");
    assert_eq!(m.input_schema["properties"]["sex"]["enum"], json!(["female", "male"]));
    assert!(m.metrics.iter().any(|x| x.name == "roc_auc" && x.value > 0.8), "{:?}", m.metrics);
    assert_eq!(m.source.node.as_deref(), Some("package"));
    assert_eq!(package.steps.len(), 3);
    let fields_table = table(&report, "package");
    assert_eq!(fields_table.height(), 7, "the block lists the fields it packaged");

    let raw = table(&report, "select");
    let expected = reference(&table(&report, "score_all"));
    // Batch: the package on the raw table.
    let batch = package.score_table(&raw).expect("batch");
    let batch_json: Vec<Json> = reference(&batch)
        .into_iter()
        .map(|(l, p)| json!({"prediction": l, "probabilities": {"yes": p, "no": 1.0 - p}}))
        .collect();
    assert_same("batch", &batch_json, &expected);

    let server = Server::start(package, &ServeOptions { port: 0, ..ServeOptions::default() }).expect("start");
    let url = server.url();
    assert!(server.addr().ip().is_loopback(), "loopback by default");
    let answer = client::post_json(&format!("{url}/score"), None, &json!({ "records": records(&raw) })).expect("post");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json().expect("json");
    assert_eq!(body["model"], "titanic-survival");
    assert_same("JSON over HTTP", body["predictions"].as_array().expect("predictions"), &expected);

    let csv =
        client::request("POST", &format!("{url}/score"), &[("Content-Type", "text/csv")], &csv_of(&raw)).expect("csv");
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert_same("CSV over HTTP", csv.json().expect("json")["predictions"].as_array().expect("predictions"), &expected);

    // One record on its own, as an object.
    let one = client::post_json(&format!("{url}/score"), None, &records(&raw)[0]).expect("one");
    assert_same("one record", one.json().expect("json")["predictions"].as_array().expect("one"), &expected[..1]);

    let health = client::get(&format!("{url}/health"), None).expect("health").json().expect("json");
    assert_eq!((health["status"].as_str(), health["task"].as_str()), (Some("ok"), Some("binary_classification")));
    let schema = client::get(&format!("{url}/schema"), None).expect("schema").json().expect("json");
    assert_eq!(schema["input_schema"]["required"], json!(["pclass", "sex", "sibsp", "parch"]));
    assert!(schema["example"].is_object());
    let openapi = client::get(&format!("{url}/openapi.json"), None).expect("openapi").json().expect("json");
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/score"]["post"]["requestBody"]["content"]["text/csv"].is_object());
    assert_eq!(openapi["components"]["schemas"]["Record"]["properties"]["sex"]["enum"][0], "female");
    let metrics = client::get(&format!("{url}/metrics"), None).expect("metrics");
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = metrics.text();
    assert!(text.contains("route=\"/score\",status=\"200\"} 3"), "{text}");
    assert!(
        text.contains(&format!(
            "pipewright_records_scored_total{{model=\"titanic-survival\"}} {}",
            2 * raw.height() + 1
        )),
        "{text}"
    );
    assert!(text.contains("pipewright_score_latency_seconds_count{model=\"titanic-survival\"} 3"), "{text}");
    assert_eq!(server.errors(), 0);
    server.stop().expect("graceful stop");
}

#[test]
fn bad_requests_get_a_clear_4xx_and_the_server_keeps_serving() {
    let scratch = Scratch::new();
    let report = scratch.run(&example("titanic-deploy"));
    assert!(report.success);
    let package = Package::read(&scratch.dir.path().join("models/titanic-survival.pwmodel")).expect("package");
    let good = package.manifest.example.clone().expect("an example record from the data");
    let options =
        ServeOptions { port: 0, token: Some("s3cret".into()), max_body_bytes: 4096, ..ServeOptions::default() };
    let server = Server::start(package, &options).expect("start");
    let score = format!("{}/score", server.url());
    let token = Some("s3cret");
    let post = |body: &Json| client::post_json(&score, token, body).expect("post");
    let expect = |answer: client::Response, status: u16, words: &[&str]| {
        assert_eq!(answer.status, status, "{}", answer.text());
        let body = answer.json().expect("errors are JSON");
        let message = body["error"].as_str().expect("an error message").to_owned();
        for w in words {
            assert!(message.contains(w), "\"{message}\" should say \"{w}\"");
        }
        body
    };

    expect(client::post_json(&score, None, &good).expect("post"), 401, &["Authorization: Bearer"]);
    expect(client::post_json(&score, Some("guess"), &good).expect("post"), 401, &["wrong"]);
    expect(client::get(&format!("{}/schema", server.url()), None).expect("get"), 401, &["token"]);
    assert_eq!(
        client::get(&format!("{}/health", server.url()), None).expect("health").status,
        200,
        "health stays open"
    );

    let auth = "Bearer s3cret";
    let malformed = client::request(
        "POST",
        &score,
        &[("Authorization", auth), ("Content-Type", "application/json")],
        b"{\"sex\": ",
    );
    expect(malformed.expect("post"), 400, &["not valid JSON"]);

    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("sex");
    let body = expect(post(&json!([good.clone(), missing])), 422, &["record 1", "\"sex\"", "required"]);
    assert_eq!(body["problems"][0]["record"], 1);
    assert_eq!(body["problems"][0]["field"], "sex");

    let mut wrong_type = good.clone();
    wrong_type["fare"] = json!("cheap");
    expect(post(&wrong_type), 422, &["\"fare\"", "expected a number", "cheap"]);

    let mut unknown = good.clone();
    unknown["embarked"] = json!("X");
    expect(post(&json!({ "records": [unknown] })), 422, &["\"embarked\"", "unknown category \"X\"", "\"S\""]);

    let big: Vec<Json> = (0..200).map(|_| good.clone()).collect();
    expect(post(&json!(big)), 413, &["4096 bytes"]);

    let text = client::request("POST", &score, &[("Authorization", auth), ("Content-Type", "text/plain")], b"hello");
    expect(text.expect("post"), 415, &["application/json or text/csv"]);
    expect(post(&json!([])), 400, &["no records"]);
    expect(post(&json!(42)), 400, &["one record"]);
    let bad_csv = client::request(
        "POST",
        &score,
        &[("Authorization", auth), ("Content-Type", "text/csv")],
        b"pclass,sex\n1,male,extra\n",
    );
    expect(bad_csv.expect("post"), 400, &["CSV"]);
    expect(client::get(&format!("{}/predict", server.url()), token).expect("get"), 404, &["POST /score"]);

    // Still serving, and every refusal was counted.
    let ok = post(&good);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json().expect("json")["predictions"][0]["prediction"].is_string());
    assert_eq!(server.errors(), 13);
    server.stop().expect("graceful stop");
}

#[test]
fn a_package_that_is_damaged_or_from_a_newer_version_is_refused_with_the_reason() {
    let scratch = Scratch::new();
    assert!(scratch.run(&example("titanic-deploy")).success);
    let path = scratch.dir.path().join("models/titanic-survival.pwmodel");
    let mut value: Json = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let check = |value: &Json, words: &str| {
        let e = Package::from_bytes(value.to_string().as_bytes()).expect_err("refused").to_string();
        assert!(e.contains(words), "{e}");
    };
    value["manifest"]["version"] = json!(2);
    check(&value, "update Pipewright");
    value["manifest"]["version"] = json!(1);
    value["model"]["algorithm"] = json!("model.quantum_forest");
    check(&value, "quantum_forest");
    value["manifest"]["format"] = json!("something-else");
    check(&value, "not a Pipewright model package");
    let e = Package::from_bytes(b"PK\x03\x04").expect_err("not JSON").to_string();
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn the_batch_score_block_scores_raw_rows_like_the_package_and_names_rows_that_do_not_fit() {
    let scratch = Scratch::new();
    assert!(scratch.run(&example("titanic-deploy")).success);
    let package = Package::read(&scratch.dir.path().join("models/titanic-survival.pwmodel")).expect("package");
    let passengers = pipewright_e2e::repo_root().join("assets/datasets/titanic.csv");
    let flow = |file: &str| -> Workflow {
        serde_json::from_value(json!({
            "format": "pipewright.workflow", "version": 1, "name": "batch", "seed": 0,
            "nodes": [
                { "id": "data", "kind": "data.import_data", "params": { "path": file }, "position": [0.0, 0.0] },
                { "id": "batch", "kind": "deploy.batch_score", "params": { "package": "models/titanic-survival.pwmodel" }, "position": [300.0, 0.0] }
            ],
            "edges": [ { "from": { "node": "data", "port": "data" }, "to": { "node": "batch", "port": "data" } } ]
        }))
        .expect("workflow")
    };
    let report = scratch.run(&flow(passengers.to_str().expect("utf-8")));
    assert!(report.success, "{:?}", report.nodes.iter().map(|n| (&n.node, &n.status)).collect::<Vec<_>>());
    let scored = table(&report, "batch");
    assert_eq!(scored.height(), 1309);
    assert!(scored.frame.column("name").is_ok(), "other columns pass through");
    let expected = package.score_table(&table(&report, "data")).expect("package");
    assert_eq!(reference(&scored), reference(&expected));

    // A row without a required value is named by its row (from 1) and column.
    let broken = scratch.dir.path().join("broken.csv");
    std::fs::write(&broken, "pclass,sex,age,sibsp,parch,fare,embarked\n1,female,30,0,0,80,S\n3,,22,1,0,7.25,S\n")
        .expect("write");
    let report = scratch.run(&flow(broken.to_str().expect("utf-8")));
    let status = format!("{:?}", report.node("batch").expect("batch").status);
    assert!(status.contains("row 2, column \\\"sex\\\": a value is required"), "{status}");
}
