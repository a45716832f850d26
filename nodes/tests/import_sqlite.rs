//! Import Data on a `SQLite` database: the query's result with `SQLite`'s storage classes mapped to column
//! types, NULL as missing, and errors for a missing file, a file that is not a database, and bad SQL.
//! Each test builds its database in a temporary directory with rusqlite.

use std::path::Path;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::{Node, NodeStatus, RunOptions, RunReport, Table, Value, Workflow};

/// A database with a table of every storage class and some NULLs.
fn make_database(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("shop.db");
    let connection = rusqlite::Connection::open(&path).expect("create database");
    connection
        .execute_batch(
            "CREATE TABLE orders (id INTEGER, item TEXT, price REAL, qty, note TEXT);
             INSERT INTO orders VALUES (1, 'pen', 1.5, 10, NULL);
             INSERT INTO orders VALUES (2, 'ink', 12, 2.5, 'bulk');
             INSERT INTO orders VALUES (3, NULL, NULL, 'many', NULL);
             INSERT INTO orders VALUES (4, 'pad', 3.25, 1, NULL);",
        )
        .expect("fill database");
    path
}

fn import(dir: &Path, params: &Json) -> RunReport {
    let mut workflow = Workflow::new("sqlite import");
    let params = params.as_object().expect("object").clone().into_iter().collect();
    workflow.nodes.push(Node {
        id: "import".into(),
        kind: "data.import_data".into(),
        title: None,
        params,
        position: [0.0, 0.0],
    });
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(&workflow, &pipewright_nodes::catalog(), &options, &|_| {}).expect("the run starts")
}

fn table(report: &RunReport) -> &Table {
    let outcome = report.node("import").expect("ran");
    assert!(outcome.status.is_success(), "import failed: {:?}", outcome.status);
    match &outcome.outputs[0] {
        Value::Table(t) => t,
        other => panic!("not a table: {}", other.summary()),
    }
}

fn error(report: &RunReport) -> String {
    match &report.node("import").expect("ran").status {
        NodeStatus::Failed(message) => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn storage_classes_become_column_types_and_null_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_database(dir.path());
    // The .db extension selects the SQLite reader on its own.
    let report = import(dir.path(), &json!({"path": "shop.db", "query": "SELECT * FROM orders ORDER BY id"}));
    let frame = &table(&report).frame;
    assert_eq!(frame.shape(), (4, 5));
    assert_eq!(
        frame.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["id", "item", "price", "qty", "note"]
    );
    let id = frame.column("id").expect("id");
    assert_eq!(id.dtype(), &DataType::Int64);
    assert_eq!(id.i64().expect("i64").iter().collect::<Vec<_>>(), [Some(1), Some(2), Some(3), Some(4)]);
    let item = frame.column("item").expect("item");
    assert_eq!(item.dtype(), &DataType::String);
    assert_eq!(item.str().expect("str").iter().collect::<Vec<_>>(), [Some("pen"), Some("ink"), None, Some("pad")]);
    // REAL with an INTEGER (12 in a REAL-affinity column is stored as REAL 12.0 anyway) and a NULL.
    let price = frame.column("price").expect("price");
    assert_eq!(price.dtype(), &DataType::Float64);
    assert_eq!(price.f64().expect("f64").iter().collect::<Vec<_>>(), [Some(1.5), Some(12.0), None, Some(3.25)]);
    // No declared type: INTEGER, REAL and TEXT values side by side widen to text.
    let qty = frame.column("qty").expect("qty");
    assert_eq!(qty.dtype(), &DataType::String);
    assert_eq!(qty.str().expect("str").iter().collect::<Vec<_>>(), [Some("10"), Some("2.5"), Some("many"), Some("1")]);
    assert_eq!(frame.column("note").expect("note").null_count(), 3);
}

#[test]
fn integers_mixed_with_reals_widen_to_float() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_database(dir.path());
    let report = import(
        dir.path(),
        &json!({"path": "shop.db", "format": "sqlite", "query": "SELECT id, CASE WHEN id % 2 = 0 THEN id * 1.5 ELSE id END AS x FROM orders ORDER BY id"}),
    );
    let x = table(&report).frame.column("x").expect("x").clone();
    assert_eq!(x.dtype(), &DataType::Float64);
    assert_eq!(x.f64().expect("f64").iter().collect::<Vec<_>>(), [Some(1.0), Some(3.0), Some(3.0), Some(6.0)]);
}

#[test]
fn an_empty_result_keeps_its_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_database(dir.path());
    let report = import(dir.path(), &json!({"path": "shop.db", "query": "SELECT id, item FROM orders WHERE id > 100"}));
    let frame = &table(&report).frame;
    assert_eq!(frame.shape(), (0, 2));
    assert_eq!(frame.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["id", "item"]);
}

#[test]
fn a_syntax_error_shows_sqlites_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_database(dir.path());
    let message = error(&import(dir.path(), &json!({"path": "shop.db", "query": "SELEC * FROM orders"})));
    assert!(message.contains("query") && message.contains("syntax error"), "{message}");
    let message = error(&import(dir.path(), &json!({"path": "shop.db", "query": "SELECT * FROM customers"})));
    assert!(message.contains("no such table: customers"), "{message}");
}

#[test]
fn the_database_is_only_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = make_database(dir.path());
    let message = error(&import(dir.path(), &json!({"path": "shop.db", "query": "DELETE FROM orders"})));
    assert!(message.contains("must not change the database"), "{message}");
    let rows: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 4);
}

#[test]
fn an_empty_query_suggests_one_naming_the_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_database(dir.path());
    let message = error(&import(dir.path(), &json!({"path": "shop.db"})));
    assert!(message.contains("SELECT * FROM \"orders\""), "{message}");
}

#[test]
fn a_missing_file_and_a_file_that_is_not_a_database_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let message = error(&import(dir.path(), &json!({"path": "absent.db", "query": "SELECT 1"})));
    assert!(message.contains("cannot read") && message.contains("absent.db"), "{message}");
    // Nothing was created by trying.
    assert!(!dir.path().join("absent.db").exists());

    std::fs::write(dir.path().join("notes.db"), "id,name\n1,a\n".repeat(200)).expect("write");
    let message = error(&import(dir.path(), &json!({"path": "notes.db", "query": "SELECT 1"})));
    assert!(message.contains("is not a SQLite database"), "{message}");
}
