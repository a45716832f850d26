//! SMOTE on small hand-made tables whose nearest neighbours are worked out by hand. imbalanced-learn
//! is not a reference here (it is not installed, and its draws differ from our `SplitMix64` ones), so
//! the tests check the properties that define SMOTE: how many rows are added, that each lies on a
//! segment from a minority row to one of its k nearest minority neighbours, the class counts after,
//! and that the seed alone decides the result.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::{Edge, Node, NodeStatus, PortRef, RunOptions, RunReport, Table, Value, Workflow};

/// Five minority rows ("rare", named A to E) and ten majority rows ("common").
///
/// Minority points: A (0,0), B (1,0), C (0,2), D (5,5), E (6,5). Squared distances: AB 1, AC 4, BC 5,
/// DE 1, CD 34, CE 45, BD 41, BE 50, AD 50, AE 61.
const TABLE: &str = "name,x,y,class\n\
    A,0,0,rare\nm0,10,10,common\nB,1,0,rare\nm1,11,10,common\nm2,12,10,common\nC,0,2,rare\n\
    m3,13,10,common\nm4,14,10,common\nD,5,5,rare\nm5,15,10,common\nm6,16,10,common\nE,6,5,rare\n\
    m7,17,10,common\nm8,18,10,common\nm9,19,10,common\n";

const ORIGINAL_ROWS: usize = 15;

fn point(name: &str) -> [f64; 2] {
    match name {
        "A" => [0.0, 0.0],
        "B" => [1.0, 0.0],
        "C" => [0.0, 2.0],
        "D" => [5.0, 5.0],
        "E" => [6.0, 5.0],
        other => panic!("{other} is not a minority row"),
    }
}

/// The k nearest minority neighbours of each minority row, from the distances above.
fn neighbours(k: usize) -> BTreeMap<&'static str, Vec<&'static str>> {
    let nearest: [(&str, [&str; 2]); 5] =
        [("A", ["B", "C"]), ("B", ["A", "C"]), ("C", ["A", "B"]), ("D", ["E", "C"]), ("E", ["D", "C"])];
    nearest.into_iter().map(|(row, near)| (row, near[..k].to_vec())).collect()
}

fn run_smote(data: &str, params: &Json) -> RunReport {
    let mut workflow = Workflow::new("smote test");
    workflow.seed = 1;
    let node = |id: &str, kind: &str, params: &Json| Node {
        id: id.into(),
        kind: kind.into(),
        title: None,
        params: params.as_object().expect("object").clone().into_iter().collect(),
        position: [0.0, 0.0],
    };
    workflow.nodes.push(node("data", "data.enter_data_manually", &json!({"data": data})));
    workflow.nodes.push(node("smote", "transform.smote", params));
    workflow.edges.push(Edge { from: PortRef::new("data", "data"), to: PortRef::new("smote", "data") });
    let dir = tempfile::tempdir().expect("tempdir");
    let options = RunOptions { base_dir: dir.path().to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(&workflow, &pipewright_nodes::catalog(), &options, &|_| {}).expect("the run starts")
}

fn output(report: &RunReport) -> Table {
    let outcome = report.node("smote").expect("ran");
    assert!(outcome.status.is_success(), "SMOTE failed: {:?}", outcome.status);
    match &outcome.outputs[0] {
        Value::Table(t) => (**t).clone(),
        other => panic!("not a table: {}", other.summary()),
    }
}

fn error(report: &RunReport) -> String {
    match &report.node("smote").expect("ran").status {
        NodeStatus::Failed(message) => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn texts(t: &Table, name: &str) -> Vec<String> {
    let column = t.frame.column(name).expect("column").cast(&DataType::String).expect("text");
    column.str().expect("str").iter().map(|v| v.unwrap_or_default().to_owned()).collect()
}

fn numbers(t: &Table, name: &str) -> Vec<f64> {
    let column = t.frame.column(name).expect("column").cast(&DataType::Float64).expect("numeric");
    column.f64().expect("f64").iter().map(|v| v.expect("present")).collect()
}

fn count(values: &[String], class: &str) -> usize {
    values.iter().filter(|v| *v == class).count()
}

#[test]
fn adds_the_percentage_of_minority_rows_after_the_originals() {
    for (percentage, added) in [(100, 5), (200, 10), (250, 13), (30, 2), (0, 0)] {
        let out = output(&run_smote(TABLE, &json!({"label_column": "class", "percentage": percentage, "seed": 4})));
        assert_eq!(out.height(), ORIGINAL_ROWS + added, "percentage {percentage}");
        // The original rows come first, unchanged.
        let names = texts(&out, "name");
        let original: Vec<String> =
            TABLE.lines().skip(1).map(|l| l.split(',').next().unwrap_or("").to_owned()).collect();
        assert_eq!(names[..ORIGINAL_ROWS], original[..], "percentage {percentage}");
        assert_eq!(numbers(&out, "x")[..3], [0.0, 10.0, 1.0]);
    }
}

#[test]
fn the_class_ratio_after_smote() {
    let out = output(&run_smote(TABLE, &json!({"label_column": "class", "percentage": 200, "seed": 9})));
    let classes = texts(&out, "class");
    assert_eq!((count(&classes, "rare"), count(&classes, "common")), (15, 10));
    // Every synthetic row is of the minority class.
    assert!(classes[ORIGINAL_ROWS..].iter().all(|c| c == "rare"));
}

#[test]
fn every_synthetic_row_lies_between_a_minority_row_and_one_of_its_nearest_neighbours() {
    for k in [1, 2] {
        let out = output(&run_smote(TABLE, &json!({"label_column": "class", "percentage": 300, "neighbours": k})));
        let (names, x, y) = (texts(&out, "name"), numbers(&out, "x"), numbers(&out, "y"));
        let mut used = std::collections::BTreeSet::new();
        for i in ORIGINAL_ROWS..out.height() {
            // The text column copies the base row's value, which names the base.
            let base = point(&names[i]);
            let on_segment = neighbours(k)[names[i].as_str()].iter().find_map(|&near| {
                let to = point(near);
                let (dx, dy) = (to[0] - base[0], to[1] - base[1]);
                // x = base + u·(neighbour − base) with the same u in both coordinates.
                let u = if dx == 0.0 { (y[i] - base[1]) / dy } else { (x[i] - base[0]) / dx };
                let fits = (0.0..1.0).contains(&u)
                    && (base[0] + u * dx - x[i]).abs() < 1e-12
                    && (base[1] + u * dy - y[i]).abs() < 1e-12;
                fits.then_some(near)
            });
            let near = on_segment.unwrap_or_else(|| {
                panic!("k={k}: row {i} ({}, {}) from {} is on no segment to its neighbours", x[i], y[i], names[i])
            });
            used.insert((names[i].clone(), near));
        }
        // 300 % of five rows is three rounds over every minority row.
        assert_eq!(out.height() - ORIGINAL_ROWS, 15);
        for name in ["A", "B", "C", "D", "E"] {
            assert_eq!(count(&names[ORIGINAL_ROWS..], name), 3, "k={k}: {name} is a base three times");
        }
        if k == 2 {
            assert!(used.len() > 5, "with two neighbours, both are chosen for some rows: {used:?}");
        }
    }
}

#[test]
fn the_seed_decides_the_result() {
    let params = |seed: u64| json!({"label_column": "class", "percentage": 170, "neighbours": 2, "seed": seed});
    let first = output(&run_smote(TABLE, &params(11)));
    let again = output(&run_smote(TABLE, &params(11)));
    let other = output(&run_smote(TABLE, &params(12)));
    assert!(first.frame.equals_missing(&again.frame));
    assert!(!first.frame.equals_missing(&other.frame));
}

#[test]
fn a_single_class_is_refused() {
    let data = "x,class\n1,a\n2,a\n3,a\n";
    let message = error(&run_smote(data, &json!({"label_column": "class"})));
    assert!(message.contains("has 1 class") && message.contains("at least two"), "{message}");
}

#[test]
fn as_many_neighbours_as_minority_rows_is_refused() {
    let message = error(&run_smote(TABLE, &json!({"label_column": "class", "neighbours": 5})));
    assert!(
        message.contains("neighbours") && message.contains("has 5 rows") && message.contains("at most 4"),
        "{message}"
    );
    // Four is the most five minority rows allow.
    output(&run_smote(TABLE, &json!({"label_column": "class", "neighbours": 4})));
}

#[test]
fn text_only_features_are_refused() {
    let data = "colour,class\nred,a\nblue,a\ngreen,b\nred,b\nblue,b\n";
    let message = error(&run_smote(data, &json!({"label_column": "class"})));
    assert!(message.contains("numeric feature column"), "{message}");
}
