//! The data and transform blocks of the block catalog issue, driven through small workflows, with
//! numbers checked against pandas (`tests/fixtures/pandas_transforms.json`, made by
//! `tests/reference/make_transform_fixtures.py`) or against values computed by hand.

use std::path::Path;
use std::sync::OnceLock;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::{Edge, Node, NodeStatus, PortRef, RunOptions, RunReport, Table, Value, Workflow};

// ------------------------------------------------------------------------------------------ helpers

fn workflow(nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> Workflow {
    let mut wf = Workflow::new("transforms test");
    wf.seed = 1;
    for (id, kind, params) in nodes {
        let params = params.as_object().expect("params are a JSON object").clone().into_iter().collect();
        wf.nodes.push(Node { id: (*id).into(), kind: (*kind).into(), title: None, params, position: [0.0, 0.0] });
    }
    for (from, to) in edges {
        wf.edges.push(Edge { from: port(from), to: port(to) });
    }
    wf
}

fn port(text: &str) -> PortRef {
    let (node, port) = text.split_once('.').unwrap_or_else(|| panic!("\"{text}\" is not node.port"));
    PortRef::new(node, port)
}

struct Ran {
    workflow: Workflow,
    report: RunReport,
}

fn run_in(dir: &Path, nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> Ran {
    let workflow = workflow(nodes, edges);
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    match pipewright_engine::run(&workflow, &pipewright_nodes::catalog(), &options, &|_| {}) {
        Ok(report) => Ran { workflow, report },
        Err(e) => panic!("the run was refused: {e}"),
    }
}

fn run(nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    run_in(dir.path(), nodes, edges)
}

impl Ran {
    fn table(&self, at: &str) -> &Table {
        let at = port(at);
        let node = self.workflow.node(&at.node).unwrap_or_else(|| panic!("no node {}", at.node));
        let outcome = self.report.node(&at.node).unwrap_or_else(|| panic!("{} did not run", at.node));
        assert!(outcome.status.is_success(), "{} did not succeed: {:?}", at.node, outcome.status);
        let catalog = pipewright_nodes::catalog();
        let entry = catalog.get(&node.kind).unwrap_or_else(|| panic!("unknown kind {}", node.kind));
        let (k, _) = entry.spec.output_port(&at.port).unwrap_or_else(|| panic!("no output {}", at.port));
        match &outcome.outputs[k] {
            Value::Table(t) => t,
            other => panic!("{} is not a table: {}", at.port, other.summary()),
        }
    }

    fn error(&self, node: &str) -> &str {
        match &self.report.node(node).unwrap_or_else(|| panic!("{node} did not run")).status {
            NodeStatus::Failed(message) => message,
            other => panic!("{node} was expected to fail but is {other:?}"),
        }
    }
}

fn names(t: &Table) -> Vec<String> {
    t.frame.get_column_names().iter().map(ToString::to_string).collect()
}

fn numbers(t: &Table, name: &str) -> Vec<Option<f64>> {
    let column = t.frame.column(name).unwrap_or_else(|_| panic!("no column {name} in {:?}", names(t)));
    column.cast(&DataType::Float64).expect("numeric").f64().expect("f64").iter().collect()
}

fn texts(t: &Table, name: &str) -> Vec<Option<String>> {
    let column = t.frame.column(name).unwrap_or_else(|_| panic!("no column {name} in {:?}", names(t)));
    column.cast(&DataType::String).expect("text").str().expect("str").iter().map(|v| v.map(str::to_owned)).collect()
}

fn fixtures() -> &'static Json {
    static FIXTURES: OnceLock<Json> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/pandas_transforms.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    })
}

fn fx(path: &str) -> &'static Json {
    fixtures().pointer(&format!("/{path}")).unwrap_or_else(|| panic!("fixture {path} is missing"))
}

fn fx_numbers(path: &str) -> Vec<Option<f64>> {
    fx(path).as_array().unwrap_or_else(|| panic!("{path} is not a list")).iter().map(Json::as_f64).collect()
}

fn fx_count(path: &str) -> usize {
    usize::try_from(fx(path).as_u64().unwrap_or_else(|| panic!("{path} is not a count"))).expect("fits")
}

fn assert_close(what: &str, actual: Option<f64>, expected: Option<f64>, tolerance: f64) {
    match (actual, expected) {
        (Some(a), Some(e)) => {
            assert!((a - e).abs() <= tolerance * e.abs().max(1.0), "{what}: got {a}, expected {e}");
        }
        (a, e) => assert_eq!(a, e, "{what}"),
    }
}

fn assert_all_close(what: &str, actual: &[Option<f64>], expected: &[Option<f64>], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_close(&format!("{what}[{i}]"), *a, *e, tolerance);
    }
}

fn dataset(id: &'static str, name: &str) -> (&'static str, &'static str, Json) {
    (id, "data.sample_dataset", json!({ "dataset": name }))
}

fn manual(id: &'static str, csv: &str) -> (&'static str, &'static str, Json) {
    (id, "data.enter_data_manually", json!({ "data": csv }))
}

// ------------------------------------------------------------------------------------------ data

#[test]
fn enter_data_manually_infers_types_and_missing_cells() {
    let ran = run(&[manual("m", "name,score,ok\na,1,true\nb,,false\nc,2.5,NA\n")], &[]);
    let t = ran.table("m.data");
    assert_eq!(names(t), ["name", "score", "ok"]);
    assert!(t.frame.column("score").expect("score").dtype().is_float());
    assert_eq!(numbers(t, "score"), [Some(1.0), None, Some(2.5)]);
    assert_eq!(t.frame.column("ok").expect("ok").null_count(), 1);

    let headless = run(
        &[(
            "m",
            "data.enter_data_manually",
            json!({ "data": "1;x\n2;y", "has_header": false, "delimiter": "semicolon" }),
        )],
        &[],
    );
    assert_eq!(names(headless.table("m.data")), ["column_1", "column_2"]);

    let bad = run(&[manual("m", "a,b\n1,2\n3,4,5\n")], &[]);
    assert!(bad.error("m").contains("line 3"), "{}", bad.error("m"));
}

#[test]
fn export_data_writes_csv_and_parquet_atomically_and_respects_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = [
        manual("m", "a,b\n1,x\n2,y\n"),
        ("csv", "data.export_data", json!({ "path": "out/t.csv" })),
        ("pq", "data.export_data", json!({ "path": "out/t.parquet" })),
        ("back", "data.import_data", json!({ "path": "out/t.parquet" })),
    ];
    let edges = [("m.data", "csv.data"), ("m.data", "pq.data"), ("pq.data", "back.data")];
    // Import Data has no input: chain it after the export by running twice instead.
    let ran = run_in(dir.path(), &nodes[..3], &edges[..2]);
    assert_eq!(names(ran.table("csv.data")), ["a", "b"], "the table passes through");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/t.csv")).expect("written"), "a,b\n1,x\n2,y\n");
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("out")).expect("dir").flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 2, "no temporary files stay: {leftovers:?}");
    let back = run_in(dir.path(), &[nodes[3].clone()], &[]);
    assert_eq!(numbers(back.table("back.data"), "a"), [Some(1.0), Some(2.0)]);
    let _ = edges[2];

    let refused = run_in(
        dir.path(),
        &[manual("m", "a\n1\n"), ("csv", "data.export_data", json!({ "path": "out/t.csv", "overwrite": false }))],
        &[("m.data", "csv.data")],
    );
    assert!(refused.error("csv").contains("exists"), "{}", refused.error("csv"));
    assert_eq!(std::fs::read_to_string(dir.path().join("out/t.csv")).expect("kept"), "a,b\n1,x\n2,y\n");
}

#[test]
fn import_data_reads_json_arrays_and_ndjson() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("t.json"),
        r#"[{"id": 1, "name": "a", "v": 0.5}, {"id": 2, "name": null, "extra": true}]"#,
    )
    .expect("write");
    std::fs::write(dir.path().join("t.jsonl"), "{\"id\": 1}\n{\"id\": 2, \"tag\": \"x\"}\n").expect("write");
    std::fs::write(dir.path().join("bad.ndjson"), "{\"id\": 1}\n{\"id\": 2,}\n").expect("write");
    let ran = run_in(
        dir.path(),
        &[
            ("j", "data.import_data", json!({ "path": "t.json" })),
            ("n", "data.import_data", json!({ "path": "t.jsonl" })),
            ("bad", "data.import_data", json!({ "path": "bad.ndjson" })),
        ],
        &[],
    );
    let j = ran.table("j.data");
    assert_eq!(names(j), ["id", "name", "v", "extra"]);
    assert_eq!(j.frame.column("id").expect("id").dtype(), &DataType::Int64);
    assert_eq!(texts(j, "name"), [Some("a".to_owned()), None]);
    assert_eq!(numbers(j, "v"), [Some(0.5), None]);
    assert_eq!(texts(ran.table("n.data"), "tag"), [None, Some("x".to_owned())]);
    assert!(ran.error("bad").contains("line 2"), "{}", ran.error("bad"));
}

// ------------------------------------------------------------------------------------------ reshaping

#[test]
fn add_columns_suffixes_clashing_names_and_refuses_different_row_counts() {
    let ran = run(
        &[
            manual("l", "a,b\n1,2\n3,4\n"),
            manual("r", "b,c\n5,6\n7,8\n"),
            manual("short", "c\n1\n"),
            ("add", "transform.add_columns", json!({})),
            ("bad", "transform.add_columns", json!({})),
        ],
        &[("l.data", "add.left"), ("r.data", "add.right"), ("l.data", "bad.left"), ("short.data", "bad.right")],
    );
    let t = ran.table("add.data");
    assert_eq!(names(t), ["a", "b", "b_2", "c"], "right columns keep their order");
    assert_eq!(numbers(t, "b_2"), [Some(5.0), Some(7.0)]);
    let message = ran.error("bad");
    assert!(message.contains("2 rows") && message.contains("has 1"), "{message}");
}

#[test]
fn add_rows_matches_columns_by_name_and_widens_types() {
    let ran = run(
        &[
            manual("top", "a,b\n1,x\n2,y\n"),
            manual("bottom", "c,a\ntrue,2.5\n"),
            ("add", "transform.add_rows", json!({})),
        ],
        &[("top.data", "add.top"), ("bottom.data", "add.bottom")],
    );
    let t = ran.table("add.data");
    assert_eq!(names(t), ["a", "b", "c"]);
    assert!(t.frame.column("a").expect("a").dtype().is_float(), "integers and floats widen to floats");
    assert_eq!(numbers(t, "a"), [Some(1.0), Some(2.0), Some(2.5)]);
    assert_eq!(texts(t, "b"), [Some("x".into()), Some("y".into()), None]);
    assert_eq!(t.frame.column("c").expect("c").null_count(), 2);
}

#[test]
fn join_data_matches_pandas_merge() {
    let ran = run(
        &[
            dataset("p", "penguins"),
            (
                "g",
                "transform.group_by",
                json!({ "keys": ["species", "island"], "columns": ["body_mass_g"], "count": false }),
            ),
            ("j", "transform.join_data", json!({ "left_keys": ["species", "island"], "join_type": "left" })),
            dataset("t", "titanic"),
            manual("ports", "embarked,port\nS,Southampton\nC,Cherbourg\nX,Nowhere\n"),
            ("inner", "transform.join_data", json!({ "left_keys": ["embarked"] })),
            ("outer", "transform.join_data", json!({ "left_keys": ["embarked"], "join_type": "full_outer" })),
        ],
        &[
            ("p.data", "g.data"),
            ("p.data", "j.left"),
            ("g.data", "j.right"),
            ("t.data", "inner.left"),
            ("ports.data", "inner.right"),
            ("t.data", "outer.left"),
            ("ports.data", "outer.right"),
        ],
    );
    let joined = ran.table("j.data");
    assert_eq!(names(joined).last().map(String::as_str), Some("body_mass_g_mean"));
    assert_all_close(
        "left join means",
        &numbers(joined, "body_mass_g_mean"),
        &fx_numbers("join/left_means/values"),
        1e-12,
    );
    assert_eq!(ran.table("inner.data").height(), fx_count("join/ports/inner_rows"));
    let outer = ran.table("outer.data");
    assert_eq!(outer.height(), fx_count("join/ports/outer_rows"));
    let ports = texts(outer, "port");
    assert_eq!(ports.iter().filter(|p| p.is_none()).count(), fx_count("join/ports/outer_missing_port"));
    assert_eq!(ports.iter().filter(|p| p.as_deref() == Some("Nowhere")).count(), 1);
    assert_eq!(
        texts(outer, "embarked").last().cloned().flatten().as_deref(),
        Some("X"),
        "the unmatched right key fills the shared key column"
    );
}

#[test]
fn join_data_names_an_unknown_key() {
    let ran = run(
        &[manual("l", "a\n1\n"), manual("r", "b\n1\n"), ("j", "transform.join_data", json!({ "left_keys": ["a"] }))],
        &[("l.data", "j.left"), ("r.data", "j.right")],
    );
    assert!(ran.error("j").contains("right_keys") && ran.error("j").contains("\"a\""), "{}", ran.error("j"));
}

#[test]
fn remove_duplicate_rows_matches_pandas() {
    for keep in ["first", "last"] {
        let ran = run(
            &[
                dataset("p", "penguins"),
                (
                    "d",
                    "transform.remove_duplicate_rows",
                    json!({ "columns": ["species", "island", "sex"], "keep": keep }),
                ),
            ],
            &[("p.data", "d.data")],
        );
        let t = ran.table("d.data");
        // The bundled penguins have no row-number column: compare the kept rows' bill lengths instead.
        let all = run(&[dataset("p", "penguins")], &[]);
        let bills = numbers(all.table("p.data"), "bill_length_mm");
        let expected: Vec<Option<f64>> = fx(&format!("remove_duplicates/{keep}"))
            .as_array()
            .expect("indices")
            .iter()
            .map(|i| bills[usize::try_from(i.as_u64().expect("index")).expect("fits")])
            .collect();
        assert_eq!(numbers(t, "bill_length_mm"), expected, "keep {keep}");
    }
}

// ------------------------------------------------------------------------------------------ numbers

#[test]
fn group_data_into_bins_matches_pandas_cut_and_qcut() {
    let ran = run(
        &[
            dataset("i", "iris"),
            dataset("d", "diabetes"),
            (
                "cut",
                "transform.group_data_into_bins",
                json!({ "columns": ["petal_length"], "method": "equal_width", "bins": 4 }),
            ),
            ("q", "transform.group_data_into_bins", json!({ "columns": ["bmi"], "bins": 5, "output": "append" })),
            ("rep", "transform.group_data_into_bins", json!({ "columns": ["sex"], "bins": 4 })),
        ],
        &[("i.data", "cut.data"), ("d.data", "q.data"), ("d.data", "rep.data")],
    );
    assert_eq!(numbers(ran.table("cut.data"), "petal_length"), fx_numbers("bins/equal_width/values"));
    assert_eq!(numbers(ran.table("q.data"), "bmi_bin"), fx_numbers("bins/quantile/values"));
    assert_eq!(numbers(ran.table("rep.data"), "sex"), fx_numbers("bins/quantile_repeated_edges/values"));
}

#[test]
fn clip_values_matches_pandas_percentiles() {
    let ran = run(
        &[
            dataset("d", "diabetes"),
            ("c", "transform.clip_values", json!({ "columns": ["bmi"], "lower": 5.0, "upper": 95.0 })),
            (
                "v",
                "transform.clip_values",
                json!({ "columns": ["age"], "bounds": "value", "lower": 30.0, "clip_upper": false }),
            ),
        ],
        &[("d.data", "c.data"), ("d.data", "v.data")],
    );
    assert_all_close("clipped bmi", &numbers(ran.table("c.data"), "bmi"), &fx_numbers("clip/values"), 1e-12);
    let ages = numbers(ran.table("v.data"), "age");
    assert!(
        ages.iter().flatten().all(|a| *a >= 30.0) && ages.iter().flatten().any(|a| *a > 70.0),
        "only the lower bound applies"
    );
    assert!(ran.table("v.data").frame.column("age").expect("age").dtype().is_integer(), "whole results stay integers");
}

#[test]
fn apply_math_operation_matches_numpy() {
    let ran = run(
        &[
            dataset("d", "diabetes"),
            (
                "log",
                "transform.apply_math_operation",
                json!({ "columns": ["bmi"], "operation": "log1p", "output": "append" }),
            ),
            ("sqrt", "transform.apply_math_operation", json!({ "columns": ["s5"], "operation": "sqrt" })),
            (
                "round",
                "transform.apply_math_operation",
                json!({ "columns": ["s5"], "operation": "round", "decimals": 1 }),
            ),
        ],
        &[("d.data", "log.data"), ("d.data", "sqrt.data"), ("d.data", "round.data")],
    );
    assert_all_close("log1p", &numbers(ran.table("log.data"), "bmi_log1p"), &fx_numbers("math/log1p_bmi"), 1e-15);
    assert_all_close("sqrt", &numbers(ran.table("sqrt.data"), "s5"), &fx_numbers("math/sqrt_s5"), 1e-15);
    assert_eq!(numbers(ran.table("round.data"), "s5"), fx_numbers("math/round1_s5"));
}

#[test]
fn summarize_data_matches_pandas_describe() {
    let ran = run(&[dataset("p", "penguins"), ("s", "transform.summarize_data", json!({}))], &[("p.data", "s.data")]);
    let t = ran.table("s.data");
    let columns = texts(t, "column");
    let expected = fx("summarize/columns").as_object().expect("columns");
    assert_eq!(columns.len(), expected.len());
    for stat in ["count", "missing", "unique", "mean", "std", "min", "25%", "50%", "75%", "max"] {
        let values = numbers(t, stat);
        for (name, value) in columns.iter().zip(values) {
            let name = name.as_deref().expect("a name");
            let want = expected[name].get(stat).and_then(Json::as_f64);
            assert_close(&format!("{name} {stat}"), value, want, 1e-12);
        }
    }
}

#[test]
fn group_by_matches_pandas_groupby() {
    let ran = run(
        &[
            dataset("p", "penguins"),
            (
                "g",
                "transform.group_by",
                json!({ "keys": ["species", "sex"], "columns": ["body_mass_g"], "sum": true, "min": true, "max": true, "std": true }),
            ),
        ],
        &[("p.data", "g.data")],
    );
    let t = ran.table("g.data");
    assert_eq!(
        names(t),
        [
            "species",
            "sex",
            "body_mass_g_count",
            "body_mass_g_sum",
            "body_mass_g_mean",
            "body_mass_g_min",
            "body_mass_g_max",
            "body_mass_g_std"
        ]
    );
    let rows = fx("group_by/rows").as_array().expect("rows");
    assert_eq!(t.height(), rows.len());
    let (species, sex) = (texts(t, "species"), texts(t, "sex"));
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(species[i].as_deref(), row["species"].as_str(), "row {i}");
        assert_eq!(sex[i].as_deref(), row["sex"].as_str(), "row {i}: missing keys sort last");
        for agg in ["count", "sum", "mean", "min", "max", "std"] {
            assert_close(
                &format!("row {i} {agg}"),
                numbers(t, &format!("body_mass_g_{agg}"))[i],
                row[agg].as_f64(),
                1e-12,
            );
        }
    }
}

// ------------------------------------------------------------------------------------------ rows

#[test]
fn filter_rows_matches_pandas_boolean_indexing() {
    let adults = fx("filter_rows/adults/expression").as_str().expect("text");
    let no_cabin = fx("filter_rows/no_cabin/expression").as_str().expect("text");
    let ran = run(
        &[
            dataset("t", "titanic"),
            ("a", "transform.filter_rows", json!({ "expression": adults })),
            ("c", "transform.filter_rows", json!({ "expression": no_cabin })),
        ],
        &[("t.data", "a.data"), ("t.data", "c.data")],
    );
    let a = ran.table("a.data");
    assert_eq!(a.height(), fx_count("filter_rows/adults/rows"));
    let fare_sum: f64 = numbers(a, "fare").iter().flatten().sum();
    assert_close("fare sum", Some(fare_sum), fx("filter_rows/adults/fare_sum").as_f64(), 1e-12);
    let first: Vec<String> = texts(a, "name").into_iter().take(5).flatten().collect();
    let want: Vec<String> = fx("filter_rows/adults/first_names")
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(first, want);
    assert_eq!(ran.table("c.data").height(), fx_count("filter_rows/no_cabin/rows"));
}

#[test]
fn filter_rows_errors_name_the_position_and_the_unknown_column() {
    let ran = run(
        &[
            dataset("t", "titanic"),
            ("syntax", "transform.filter_rows", json!({ "expression": "age >= 30 and (sex = 'female'" })),
            ("unknown", "transform.filter_rows", json!({ "expression": "age > 3 or agee < 1" })),
            ("types", "transform.filter_rows", json!({ "expression": "sex > 3" })),
        ],
        &[("t.data", "syntax.data"), ("t.data", "unknown.data"), ("t.data", "types.data")],
    );
    assert!(ran.error("syntax").contains("syntax error at position 30"), "{}", ran.error("syntax"));
    assert!(ran.error("unknown").contains("unknown column \"agee\" at position 12"), "{}", ran.error("unknown"));
    assert!(ran.error("types").contains("holds text"), "{}", ran.error("types"));
}

#[test]
fn an_empty_filter_result_warns_and_later_blocks_say_what_is_wrong() {
    let ran = run(
        &[
            dataset("i", "iris"),
            ("f", "transform.filter_rows", json!({ "expression": "sepal_length > 100" })),
            ("s", "transform.summarize_data", json!({})),
            ("b", "transform.group_data_into_bins", json!({ "columns": ["sepal_length"] })),
        ],
        &[("i.data", "f.data"), ("f.data", "s.data"), ("f.data", "b.data")],
    );
    let empty = ran.table("f.data");
    assert_eq!(empty.height(), 0);
    let warning = empty.attributes.get(pipewright_nodes::transform::WARNING_ATTRIBUTE).and_then(Json::as_str);
    assert!(warning.is_some_and(|w| w.contains("no row of 150")), "{warning:?}");
    assert_eq!(numbers(ran.table("s.data"), "count")[0], Some(0.0), "summaries of an empty table count nothing");
    assert!(ran.error("b").contains("no rows: it became empty at Filter Rows \"f\""), "{}", ran.error("b"));
}

#[test]
fn partition_and_sample_modes() {
    let ran = run(
        &[
            dataset("i", "iris"),
            ("head", "transform.partition_and_sample", json!({ "mode": "head", "count": 7 })),
            ("sample", "transform.partition_and_sample", json!({ "fraction": 0.2, "seed": 3 })),
            (
                "strat",
                "transform.partition_and_sample",
                json!({ "mode": "stratified", "fraction": 0.1, "stratify_column": "species", "seed": 3 }),
            ),
            ("folds", "transform.partition_and_sample", json!({ "mode": "folds", "folds": 4, "fold": 2, "seed": 3 })),
        ],
        &[("i.data", "head.data"), ("i.data", "sample.data"), ("i.data", "strat.data"), ("i.data", "folds.data")],
    );
    assert_eq!(ran.table("head.data").height(), 7);
    assert_eq!(ran.table("head.rest").height(), 143);
    assert_eq!(ran.table("sample.data").height(), 30, "round(0.2 · 150)");
    let species = texts(ran.table("strat.data"), "species");
    for s in ["setosa", "versicolor", "virginica"] {
        assert_eq!(species.iter().filter(|v| v.as_deref() == Some(s)).count(), 5, "{s}: 10 % of 50");
    }
    let picked = ran.table("folds.data");
    assert!((37..=38).contains(&picked.height()), "{}", picked.height());
    assert!(numbers(picked, "fold").iter().all(|f| *f == Some(2.0)));
    assert_eq!(picked.height() + ran.table("folds.rest").height(), 150);
}
