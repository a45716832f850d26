//! Every block of the catalog, driven through small workflows the way the designer and the CLI run
//! them, with numbers checked against scikit-learn (`tests/fixtures/sklearn_reference.json`, made by
//! `tests/reference/make_fixtures.py`) or against values computed by hand.
//!
//! Tolerances follow `tests/reference/README.md`: z-score, min-max and imputation values 1e-12,
//! linear and ridge coefficients 1e-6 relative, logistic regression probabilities 1e-5, coefficients
//! 1e-4 and objectives 1e-9 relative, split indices exactly.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::{
    Catalog, Edge, Evaluation, Model, Node, NodeStatus, PortRef, Role, RunError, RunOptions, RunReport, Table, Task,
    Transform, Value, Workflow,
};

// ------------------------------------------------------------------------------------------ helpers

/// Nodes as `(id, kind, params)` and wires as `("node.port", "node.port")`, to extend before building.
type Graph = (Vec<(&'static str, &'static str, Json)>, Vec<(&'static str, &'static str)>);

/// A workflow from `(id, kind, params)` nodes and `"node.port"` wires.
fn workflow(nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> Workflow {
    let mut wf = Workflow::new("blocks test");
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

/// A finished run and the workflow it ran, to look outputs up by port name.
struct Ran {
    workflow: Workflow,
    report: RunReport,
    catalog: Catalog,
}

/// Runs a workflow whose relative paths resolve against `dir`; panics if the run is refused.
fn run_in(dir: &Path, workflow: Workflow) -> Ran {
    match try_run(dir, &workflow) {
        Ok(report) => Ran { workflow, report, catalog: pipewright_nodes::catalog() },
        Err(e) => panic!("the run was refused: {e}"),
    }
}

/// Runs a workflow that reads no files.
fn run(workflow: Workflow) -> Ran {
    let dir = tempfile::tempdir().expect("tempdir");
    run_in(dir.path(), workflow)
}

fn try_run(dir: &Path, workflow: &Workflow) -> Result<RunReport, RunError> {
    let options = RunOptions { base_dir: dir.to_path_buf(), ..RunOptions::default() };
    pipewright_engine::run(workflow, &pipewright_nodes::catalog(), &options, &|_| {})
}

/// The validation problems that stop a workflow reading no files from running, as text.
fn refusal(workflow: &Workflow) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    refusal_in(dir.path(), workflow)
}

/// The validation problems that stop a workflow from running, as text.
fn refusal_in(dir: &Path, workflow: &Workflow) -> String {
    match try_run(dir, workflow) {
        Err(e) => e.to_string(),
        Ok(report) => panic!("the run was expected to be refused but ran: {:?}", report.nodes),
    }
}

impl Ran {
    fn value(&self, at: &str) -> &Value {
        let at = port(at);
        let node = self.workflow.node(&at.node).unwrap_or_else(|| panic!("no node {}", at.node));
        let outcome = self.report.node(&at.node).unwrap_or_else(|| panic!("{} did not run", at.node));
        assert!(outcome.status.is_success(), "{} did not succeed: {:?}", at.node, outcome.status);
        let entry = self.catalog.get(&node.kind).unwrap_or_else(|| panic!("unknown kind {}", node.kind));
        let (k, _) =
            entry.spec.output_port(&at.port).unwrap_or_else(|| panic!("{} has no output {}", node.kind, at.port));
        &outcome.outputs[k]
    }

    fn table(&self, at: &str) -> &Table {
        match self.value(at) {
            Value::Table(t) => t,
            other => panic!("{at} is not a table: {}", other.summary()),
        }
    }

    fn model(&self, at: &str) -> &Model {
        match self.value(at) {
            Value::Model(m) => m,
            other => panic!("{at} is not a model: {}", other.summary()),
        }
    }

    fn transform(&self, at: &str) -> &Transform {
        match self.value(at) {
            Value::Transform(t) => t,
            other => panic!("{at} is not a transform: {}", other.summary()),
        }
    }

    fn evaluations(&self, at: &str) -> &[Evaluation] {
        match self.value(at) {
            Value::Report(r) => &r.evaluations,
            other => panic!("{at} is not a report: {}", other.summary()),
        }
    }

    /// The first evaluation's metric.
    fn metric(&self, at: &str, name: &str) -> f64 {
        self.evaluations(at)[0].metric(name).unwrap_or_else(|| panic!("{at} has no metric {name}"))
    }

    /// The message of a node that failed.
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

fn column<'a>(t: &'a Table, name: &str) -> &'a Column {
    t.frame.column(name).unwrap_or_else(|_| panic!("no column {name} in {:?}", names(t)))
}

/// A column as optional numbers.
fn numbers(t: &Table, name: &str) -> Vec<Option<f64>> {
    let cast = column(t, name).cast(&DataType::Float64).unwrap_or_else(|e| panic!("{name}: {e}"));
    cast.f64().expect("f64").iter().collect()
}

/// A column of numbers without missing cells.
fn floats(t: &Table, name: &str) -> Vec<f64> {
    numbers(t, name).into_iter().map(|v| v.unwrap_or_else(|| panic!("{name} has a missing cell"))).collect()
}

/// A column as optional text.
fn texts(t: &Table, name: &str) -> Vec<Option<String>> {
    let cast = column(t, name).cast(&DataType::String).unwrap_or_else(|e| panic!("{name}: {e}"));
    cast.str().expect("str").iter().map(|v| v.map(str::to_owned)).collect()
}

/// The scikit-learn reference values.
fn fixtures() -> &'static Json {
    static FIXTURES: OnceLock<Json> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sklearn_reference.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    })
}

/// A fixture value by a `/`-separated path.
fn fx(path: &str) -> &'static Json {
    fixtures().pointer(&format!("/{path}")).unwrap_or_else(|| panic!("fixture {path} is missing"))
}

fn fx_f64(path: &str) -> f64 {
    fx(path).as_f64().unwrap_or_else(|| panic!("fixture {path} is not a number"))
}

fn fx_indices(path: &str) -> Vec<usize> {
    let list = fx(path).as_array().unwrap_or_else(|| panic!("fixture {path} is not a list"));
    list.iter().map(|v| usize::try_from(v.as_u64().expect("an index")).expect("fits")).collect()
}

fn fx_strings(path: &str) -> Vec<String> {
    let list = fx(path).as_array().unwrap_or_else(|| panic!("fixture {path} is not a list"));
    list.iter().map(|v| v.as_str().expect("text").to_owned()).collect()
}

/// Asserts `|actual - expected| <= tolerance · max(1, |expected|)`: relative for large values,
/// absolute near zero.
fn assert_close(what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance * expected.abs().max(1.0),
        "{what}: got {actual}, expected {expected} (tolerance {tolerance})"
    );
}

/// A bundled dataset's CSV text.
fn asset(name: &str) -> String {
    let path = format!("{}/../assets/datasets/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The CSV with a first column `row` holding each data row's 0-based index.
fn with_row_numbers(csv: &str) -> String {
    let mut lines = csv.lines();
    let mut out = format!("row,{}\n", lines.next().expect("a header"));
    for (i, line) in lines.enumerate() {
        let _ = writeln!(out, "{i},{line}");
    }
    out
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), contents).unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn row_numbers(t: &Table) -> Vec<usize> {
    floats(t, "row").into_iter().map(|v| v as usize).collect()
}

/// Kind ids of the blocks these tests drive; `every_catalog_block_is_tested_here` keeps it complete.
const TESTED_KINDS: &[&str] = &[
    "data.sample_dataset",
    "data.import_data",
    "transform.select_columns",
    "transform.edit_metadata",
    "transform.clean_missing_data",
    "transform.normalize_data",
    "transform.convert_to_indicator_values",
    "transform.split_data",
    "transform.apply_transformation",
    "transform.apply_sql_transformation",
    "model.logistic_regression_two_class",
    "model.logistic_regression_multiclass",
    "model.linear_regression",
    "model.decision_forest",
    "model.decision_forest_regression",
    "model.kmeans",
    "model.one_vs_all",
    "transform.principal_component_analysis",
    "transform.filter_based_feature_selection",
    "train.train_model",
    "train.cross_validate_model",
    "train.tune_model_hyperparameters",
    "train.train_clustering_model",
    "train.score_model",
    "train.assign_data_to_clusters",
    "evaluate.evaluate_model",
    "evaluate.permutation_feature_importance",
];

#[test]
fn every_block_tested_here_is_in_the_catalog() {
    // Blocks added later have their tests in nodes/tests/*.rs beside this file; `catalog.rs` runs every kind.
    let registered: Vec<&str> = pipewright_nodes::catalog().entries().map(|e| e.spec.id).collect();
    for kind in TESTED_KINDS {
        assert!(registered.contains(kind), "{kind} is tested here but not registered");
    }
}

// --------------------------------------------------------------------------------------------- data

#[test]
fn sample_dataset_gives_every_bundled_table_with_its_label_marked() {
    let expected = [
        ("iris", 150, 5, "species"),
        ("wine", 178, 14, "class"),
        ("breast_cancer", 569, 31, "diagnosis"),
        ("diabetes", 442, 11, "progression"),
        ("penguins", 344, 8, "species"),
        ("titanic", 1309, 11, "survived"),
    ];
    let nodes: Vec<(&str, &str, Json)> =
        expected.iter().map(|(name, ..)| (*name, "data.sample_dataset", json!({ "dataset": name }))).collect();
    let ran = run(workflow(&nodes, &[]));
    for (name, rows, cols, label) in expected {
        let t = ran.table(&format!("{name}.data"));
        assert_eq!(t.frame.shape(), (rows, cols), "{name}");
        assert_eq!(t.label(), Some(label), "{name}");
        assert_eq!(t.roles.len(), 1, "{name}: only the label has a role: {:?}", t.roles);
    }
    // Missing cells are read as pandas reads them with only empty cells missing.
    let penguins = ran.table("penguins.data");
    let missing = fx("clean_penguins/missing_count").as_object().expect("missing counts");
    for (name, count) in missing {
        assert_eq!(column(penguins, name).null_count() as u64, count.as_u64().expect("count"), "{name}");
    }
    assert_eq!(column(penguins, "island").dtype(), &DataType::String);
}

#[test]
fn sample_dataset_refuses_an_unknown_name() {
    let problem = refusal(&workflow(&[("data", "data.sample_dataset", json!({"dataset": "mnist"}))], &[]));
    assert!(problem.contains("mnist"), "{problem}");
}

#[test]
fn import_data_reads_delimiters_missing_markers_and_quotes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "semi.csv", "name;score;grade\nann;1.5;A\nbob;NA;?\n;3;B\n");
    write(dir.path(), "plain.csv", "1,2\n3,4\n");
    write(dir.path(), "quoted.txt", "text|n\n'a|b'|1\n'c'|2\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                (
                    "markers",
                    "data.import_data",
                    json!({"path": "semi.csv", "delimiter": "semicolon", "missing_markers": "NA, ?"}),
                ),
                ("default_markers", "data.import_data", json!({"path": "semi.csv", "delimiter": "semicolon"})),
                ("headerless", "data.import_data", json!({"path": "plain.csv", "has_header": false})),
                ("header", "data.import_data", json!({"path": "plain.csv"})),
                ("quoted", "data.import_data", json!({"path": "quoted.txt", "delimiter": "pipe", "quote": "single"})),
            ],
            &[],
        ),
    );
    let t = ran.table("markers.data");
    assert_eq!(names(t), ["name", "score", "grade"]);
    assert_eq!(numbers(t, "score"), [Some(1.5), None, Some(3.0)]);
    assert!(column(t, "score").dtype().is_float());
    assert_eq!(texts(t, "name"), [Some("ann".into()), Some("bob".into()), None]);
    assert_eq!(texts(t, "grade"), [Some("A".into()), None, Some("B".into())]);
    assert!(t.roles.is_empty(), "imported tables have no label: {:?}", t.roles);

    // The default markers are only "NA": "?" is text.
    let t = ran.table("default_markers.data");
    assert_eq!(texts(t, "grade")[1].as_deref(), Some("?"));
    assert_eq!(column(t, "score").null_count(), 1);

    let t = ran.table("headerless.data");
    assert_eq!(names(t), ["column_1", "column_2"]);
    assert_eq!(floats(t, "column_1"), [1.0, 3.0]);
    let t = ran.table("header.data");
    assert_eq!(names(t), ["1", "2"]);
    assert_eq!(t.height(), 1);

    let t = ran.table("quoted.data");
    assert_eq!(texts(t, "text"), [Some("a|b".into()), Some("c".into())]);
    assert_eq!(floats(t, "n"), [1.0, 2.0]);
}

#[test]
fn import_data_reads_latin_1_and_names_the_line_of_invalid_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "cities.csv", b"city,n\nOslo,1\nZ\xfcrich,2\nS\xe3o Paulo,3\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("latin", "data.import_data", json!({"path": "cities.csv", "encoding": "latin-1"})),
                ("utf8", "data.import_data", json!({"path": "cities.csv"})),
            ],
            &[],
        ),
    );
    let t = ran.table("latin.data");
    assert_eq!(texts(t, "city"), [Some("Oslo".into()), Some("Zürich".into()), Some("São Paulo".into())]);
    let message = ran.error("utf8");
    assert!(message.contains("not valid UTF-8 (line 3)") && message.contains("latin-1"), "{message}");
}

#[test]
fn import_data_reads_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut frame = DataFrame::new(
        3,
        vec![
            Column::new("id".into(), vec![1i64, 2, 3]),
            Column::new("value".into(), vec![Some(0.5), None, Some(-2.25)]),
            Column::new("name".into(), vec!["a", "b", "c"]),
        ],
    )
    .expect("frame");
    let file = std::fs::File::create(dir.path().join("table.parquet")).expect("create");
    ParquetWriter::new(file).finish(&mut frame).expect("write parquet");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("auto", "data.import_data", json!({"path": "table.parquet"})),
                ("explicit", "data.import_data", json!({"path": "table.parquet", "format": "parquet"})),
                ("as_csv", "data.import_data", json!({"path": "table.parquet", "format": "csv"})),
            ],
            &[],
        ),
    );
    for node in ["auto", "explicit"] {
        let t = ran.table(&format!("{node}.data"));
        assert!(t.frame.equals_missing(&frame), "{node}: {:?}", t.frame);
    }
    // Parquet bytes read as CSV are not text.
    assert!(ran.error("as_csv").contains("table.parquet"), "{}", ran.error("as_csv"));
}

#[test]
fn import_data_names_the_line_of_a_malformed_row_and_a_missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "extra.csv", "a,b\n1,2\n3,4,5\n6,7\n");
    write(dir.path(), "typed.csv", "id,score\n1,10\n2,11\n3,12\n4,oops\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("extra", "data.import_data", json!({"path": "extra.csv"})),
                ("typed", "data.import_data", json!({"path": "typed.csv", "infer_rows": 2})),
                ("missing", "data.import_data", json!({"path": "nowhere/absent.csv"})),
            ],
            &[],
        ),
    );
    let message = ran.error("extra");
    assert!(message.contains("extra.csv") && message.contains("line 3: expected 2 fields, found 3"), "{message}");
    let message = ran.error("typed");
    assert!(message.contains("line 5, column 2 (\"score\")") && !message.contains("oops"), "{message}");
    let message = ran.error("missing");
    let path = dir.path().join("nowhere/absent.csv");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

// ---------------------------------------------------------------------------------------- transform

#[test]
fn select_columns_keeps_the_listed_columns_in_order_or_drops_them() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("include", "transform.select_columns", json!({"columns": ["petal_width", "species", "sepal_length"]})),
            ("exclude", "transform.select_columns", json!({"columns": ["species", "sepal_width"], "mode": "exclude"})),
        ],
        &[("iris.data", "include.data"), ("iris.data", "exclude.data")],
    ));
    let iris = ran.table("iris.data");
    let t = ran.table("include.data");
    assert_eq!(names(t), ["petal_width", "species", "sepal_length"]);
    assert_eq!(t.label(), Some("species"));
    assert_eq!(floats(t, "petal_width"), floats(iris, "petal_width"));
    let t = ran.table("exclude.data");
    assert_eq!(names(t), ["sepal_length", "petal_length", "petal_width"]);
    assert_eq!(t.label(), None, "the label went with its column");
    assert_eq!(t.height(), 150);
}

#[test]
fn select_columns_names_an_unknown_column() {
    // A known schema, bundled or read from the start of a file: validation refuses the run.
    let problem = refusal(&workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("select", "transform.select_columns", json!({"columns": ["sepal_size"]})),
        ],
        &[("iris.data", "select.data")],
    ));
    assert!(problem.contains("\"sepal_size\"") && problem.contains("sepal_length"), "{problem}");
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.csv", "a,b\n1,2\n");
    let problem = refusal_in(
        dir.path(),
        &workflow(
            &[
                ("file", "data.import_data", json!({"path": "t.csv"})),
                ("select", "transform.select_columns", json!({"columns": ["a", "nope"]})),
            ],
            &[("file.data", "select.data")],
        ),
    );
    assert!(problem.contains("\"nope\"") && problem.contains("a, b"), "{problem}");

    // Columns that depend on the data (Clean Missing Data removing columns) are checked by the block.
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("file", "data.import_data", json!({"path": "t.csv"})),
                ("clean", "transform.clean_missing_data", json!({"mode": "remove_column"})),
                ("select", "transform.select_columns", json!({"columns": ["a", "nope"]})),
                ("drop", "transform.select_columns", json!({"columns": ["nope"], "mode": "exclude"})),
                ("nothing", "transform.select_columns", json!({})),
            ],
            &[
                ("file.data", "clean.data"),
                ("clean.data", "select.data"),
                ("clean.data", "drop.data"),
                ("file.data", "nothing.data"),
            ],
        ),
    );
    for node in ["select", "drop"] {
        let message = ran.error(node);
        assert!(message.contains("\"nope\" is not in the table") && message.contains("a, b"), "{node}: {message}");
    }
    assert!(ran.error("nothing").contains("choose at least one column"), "{}", ran.error("nothing"));
}

#[test]
fn edit_metadata_moves_the_label_and_ignored_columns_are_not_trained_on() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("relabel", "transform.edit_metadata", json!({"columns": ["petal_width"], "role": "label"})),
            ("ignore", "transform.edit_metadata", json!({"columns": ["species", "sepal_width"], "role": "ignored"})),
            ("linear", "model.linear_regression", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
        ],
        &[
            ("iris.data", "relabel.data"),
            ("relabel.data", "ignore.data"),
            ("linear.learner", "train.learner"),
            ("ignore.data", "train.data"),
            ("train.model", "score.model"),
            ("ignore.data", "score.data"),
        ],
    ));
    let t = ran.table("relabel.data");
    assert_eq!(t.label(), Some("petal_width"));
    assert_eq!(t.role("species"), Role::Feature, "marking a label unmarks the old one");
    let t = ran.table("ignore.data");
    assert_eq!(t.role("species"), Role::Ignored);
    assert_eq!(t.role("sepal_width"), Role::Ignored);
    assert_eq!(names(t).len(), 5, "ignored columns stay in the table");
    let model = ran.model("train.model");
    assert_eq!(model.label.as_deref(), Some("petal_width"));
    assert_eq!(model.features, ["sepal_length", "petal_length"]);
    // The scored table keeps the ignored columns untouched.
    let scored = ran.table("score.data");
    assert_eq!(texts(scored, "species"), texts(ran.table("iris.data"), "species"));
}

#[test]
fn edit_metadata_renames_and_marks_categorical() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "codes.csv", "code,value\n1,10\n2,20\n1,30\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
                (
                    "rename",
                    "transform.edit_metadata",
                    json!({"columns": ["sepal_length", "species"], "new_names": "sl, kind"}),
                ),
                (
                    "miscount",
                    "transform.edit_metadata",
                    json!({"columns": ["sepal_length", "species"], "new_names": "sl"}),
                ),
                ("file", "data.import_data", json!({"path": "codes.csv"})),
                ("categorical", "transform.edit_metadata", json!({"columns": ["code"], "categorical": "categorical"})),
                ("indicators", "transform.convert_to_indicator_values", json!({})),
                ("plain_indicators", "transform.convert_to_indicator_values", json!({})),
            ],
            &[
                ("iris.data", "rename.data"),
                ("iris.data", "miscount.data"),
                ("file.data", "categorical.data"),
                ("categorical.data", "indicators.data"),
                ("file.data", "plain_indicators.data"),
            ],
        ),
    );
    let t = ran.table("rename.data");
    assert_eq!(names(t), ["sl", "sepal_width", "petal_length", "petal_width", "kind"]);
    assert_eq!(t.label(), Some("kind"), "the label role follows the rename");
    assert_eq!(floats(t, "sl"), floats(ran.table("iris.data"), "sepal_length"));
    let message = ran.error("miscount");
    assert!(message.contains("new_names") && message.contains("give 2 names"), "{message}");

    let t = ran.table("categorical.data");
    assert!(t.categorical.contains("code"));
    // A numeric column marked categorical is encoded by default; unmarked numbers are not.
    assert_eq!(names(ran.table("indicators.data")), ["code_1", "code_2", "value"]);
    assert_eq!(floats(ran.table("indicators.data"), "code_2"), [0.0, 1.0, 0.0]);
    assert_eq!(names(ran.table("plain_indicators.data")), ["code", "value"]);
}

const PENGUIN_NUMERIC: [&str; 5] = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"];

#[test]
fn clean_missing_data_fills_with_the_pandas_mean_median_and_mode() {
    let ran = run(workflow(
        &[
            ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("mean", "transform.clean_missing_data", json!({"mode": "mean"})),
            ("median", "transform.clean_missing_data", json!({"mode": "median"})),
            ("mode", "transform.clean_missing_data", json!({"mode": "mode"})),
        ],
        &[("penguins.data", "mean.data"), ("penguins.data", "median.data"), ("penguins.data", "mode.data")],
    ));
    let raw = ran.table("penguins.data");
    let sex_mode = fx("clean_penguins/sex_mode").as_str().expect("text");
    for mode in ["mean", "median", "mode"] {
        let t = ran.table(&format!("{mode}.data"));
        assert_eq!(t.frame.shape(), raw.frame.shape(), "{mode}");
        assert_eq!(t.label(), Some("species"), "{mode}");
        for name in PENGUIN_NUMERIC {
            let expected = fx_f64(&format!("clean_penguins/numeric_stats_of_non_missing/{name}/{mode}"));
            let before = numbers(raw, name);
            let after = floats(t, name);
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                match b {
                    Some(b) => assert_eq!(a, b, "{mode} {name} row {i} changed"),
                    None => assert_close(&format!("{mode} {name} row {i}"), *a, expected, 1e-12),
                }
            }
        }
        // Text has no mean or median: the most frequent value fills it.
        let before = texts(raw, "sex");
        let after = texts(t, "sex");
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(a.as_deref(), Some(b.as_deref().unwrap_or(sex_mode)), "{mode} sex");
        }
    }
}

#[test]
fn clean_missing_data_transform_fills_other_data_with_the_fitted_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The second row misses every cell except species and island; this table's own statistics
    // (1, 2, 3, 4, 2000, "female") differ from the penguins' ones.
    write(
        dir.path(),
        "other.csv",
        "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n\
         Adelie,Dream,1,2,3,4,female,2000\n\
         Gentoo,Biscoe,,,,,,\n",
    );
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
                ("other", "data.import_data", json!({"path": "other.csv"})),
                ("mean", "transform.clean_missing_data", json!({"mode": "mean"})),
                ("median", "transform.clean_missing_data", json!({"mode": "median"})),
                ("mode", "transform.clean_missing_data", json!({"mode": "mode"})),
                ("apply_mean", "transform.apply_transformation", json!({})),
                ("apply_median", "transform.apply_transformation", json!({})),
                ("apply_mode", "transform.apply_transformation", json!({})),
            ],
            &[
                ("penguins.data", "mean.data"),
                ("penguins.data", "median.data"),
                ("penguins.data", "mode.data"),
                ("mean.transform", "apply_mean.transform"),
                ("median.transform", "apply_median.transform"),
                ("mode.transform", "apply_mode.transform"),
                ("other.data", "apply_mean.data"),
                ("other.data", "apply_median.data"),
                ("other.data", "apply_mode.data"),
            ],
        ),
    );
    let sex_mode = fx("clean_penguins/sex_mode").as_str().expect("text");
    for mode in ["mean", "median", "mode"] {
        assert_eq!(ran.transform(&format!("{mode}.transform")).kind, "transform.clean_missing_data");
        let t = ran.table(&format!("apply_{mode}.data"));
        assert_eq!(t.height(), 2);
        for (name, own) in PENGUIN_NUMERIC.iter().zip([1.0, 2.0, 3.0, 4.0, 2000.0]) {
            let expected = fx_f64(&format!("clean_penguins/numeric_stats_of_non_missing/{name}/{mode}"));
            let values = floats(t, name);
            assert_eq!(values[0], own, "{mode} {name}: present cells stay");
            assert_close(&format!("{mode} {name} filled"), values[1], expected, 1e-12);
        }
        assert_eq!(texts(t, "sex"), [Some("female".into()), Some(sex_mode.into())], "{mode}");
    }
}

#[test]
fn clean_missing_data_removes_rows_or_columns() {
    let ran = run(workflow(
        &[
            ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("rows", "transform.clean_missing_data", json!({"mode": "remove_row"})),
            ("columns", "transform.clean_missing_data", json!({"mode": "remove_column"})),
            ("sex_rows", "transform.clean_missing_data", json!({"mode": "remove_row", "columns": ["bill_length_mm"]})),
        ],
        &[("penguins.data", "rows.data"), ("penguins.data", "columns.data"), ("penguins.data", "sex_rows.data")],
    ));
    let t = ran.table("rows.data");
    let expected_rows = fx("clean_penguins/rows_after_dropping_any_missing").as_u64().expect("count");
    assert_eq!(t.height() as u64, expected_rows);
    assert_eq!(names(t).len(), 8);
    assert!(t.frame.columns().iter().all(|c| c.null_count() == 0));

    let t = ran.table("columns.data");
    let missing = fx("clean_penguins/missing_count").as_object().expect("counts");
    let complete: Vec<String> =
        names(ran.table("penguins.data")).into_iter().filter(|n| missing[n.as_str()].as_u64() == Some(0)).collect();
    assert_eq!(names(t), complete);
    assert_eq!(names(t), ["species", "island", "year"]);
    assert_eq!(t.height(), 344);

    // Only the listed column decides which rows go: the two rows without a bill length.
    let t = ran.table("sex_rows.data");
    assert_eq!(t.height(), 342);
    assert_eq!(column(t, "sex").null_count(), 9);
}

#[test]
fn clean_missing_data_fills_a_constant() {
    let ran = run(workflow(
        &[
            ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("constant", "transform.clean_missing_data", json!({"mode": "constant", "replacement": "-1"})),
            ("word", "transform.clean_missing_data", json!({"mode": "constant", "replacement": "unknown"})),
            (
                "sex_only",
                "transform.clean_missing_data",
                json!({"mode": "constant", "replacement": "unknown", "columns": ["sex"]}),
            ),
        ],
        &[("penguins.data", "constant.data"), ("penguins.data", "word.data"), ("penguins.data", "sex_only.data")],
    ));
    let raw = ran.table("penguins.data");
    let t = ran.table("constant.data");
    let before = numbers(raw, "body_mass_g");
    let after = floats(t, "body_mass_g");
    assert_eq!(after, before.iter().map(|b| b.unwrap_or(-1.0)).collect::<Vec<_>>());
    assert_eq!(texts(t, "sex").iter().filter(|s| s.as_deref() == Some("-1")).count(), 11);

    let message = ran.error("word");
    assert!(
        message.contains("replacement") && message.contains("\"bill_length_mm\"") && message.contains("\"unknown\""),
        "{message}"
    );

    let t = ran.table("sex_only.data");
    assert_eq!(texts(t, "sex").iter().filter(|s| s.as_deref() == Some("unknown")).count(), 11);
    assert_eq!(column(t, "bill_length_mm").null_count(), 2, "unlisted columns keep their missing cells");
}

const IRIS_FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

#[test]
fn normalize_data_matches_scikit_learn_z_score_and_min_max() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("zscore", "transform.normalize_data", json!({"method": "zscore"})),
            ("minmax", "transform.normalize_data", json!({"method": "minmax"})),
        ],
        &[("iris.data", "zscore.data"), ("iris.data", "minmax.data")],
    ));
    let raw = ran.table("iris.data");
    let z = ran.table("zscore.data");
    let m = ran.table("minmax.data");
    for name in IRIS_FEATURES {
        let mean = fx_f64(&format!("normalize_iris/stats/{name}/mean"));
        let std = fx_f64(&format!("normalize_iris/stats/{name}/std"));
        let min = fx_f64(&format!("normalize_iris/stats/{name}/min"));
        let max = fx_f64(&format!("normalize_iris/stats/{name}/max"));
        let (x, zv, mv) = (floats(raw, name), floats(z, name), floats(m, name));
        for (i, (z, m)) in zv.iter().zip(&mv).take(3).enumerate() {
            let expected_z = fx_f64(&format!("normalize_iris/zscore_first3_rows/{name}/{i}"));
            let expected_m = fx_f64(&format!("normalize_iris/minmax_first3_rows/{name}/{i}"));
            assert_close(&format!("zscore {name} row {i}"), *z, expected_z, 1e-12);
            assert_close(&format!("minmax {name} row {i}"), *m, expected_m, 1e-12);
        }
        for (i, ((x, z), m)) in x.iter().zip(&zv).zip(&mv).enumerate() {
            assert_close(&format!("zscore {name} row {i}"), *z, (x - mean) / std, 1e-12);
            assert_close(&format!("minmax {name} row {i}"), *m, (x - min) / (max - min), 1e-12);
        }
        assert_eq!(mv.iter().copied().fold(f64::INFINITY, f64::min), 0.0, "{name}");
        assert_eq!(mv.iter().copied().fold(f64::NEG_INFINITY, f64::max), 1.0, "{name}");
    }
    assert_eq!(texts(z, "species"), texts(raw, "species"), "the label is never rescaled");
    assert_eq!(z.label(), Some("species"));
}

#[test]
fn normalize_data_transform_applies_the_training_statistics() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("split", "transform.split_data", json!({"fraction": 0.5, "randomize": false})),
            ("normalize", "transform.normalize_data", json!({})),
            ("apply", "transform.apply_transformation", json!({})),
        ],
        &[
            ("iris.data", "split.data"),
            ("split.first", "normalize.data"),
            ("normalize.transform", "apply.transform"),
            ("split.second", "apply.data"),
        ],
    ));
    let first = ran.table("split.first");
    let second = ran.table("split.second");
    let applied = ran.table("apply.data");
    assert_eq!(applied.height(), 75);
    for name in IRIS_FEATURES {
        let train = floats(first, name);
        let mean = train.iter().sum::<f64>() / train.len() as f64;
        let std = (train.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / train.len() as f64).sqrt();
        for (i, (x, z)) in floats(second, name).iter().zip(floats(applied, name)).enumerate() {
            assert_close(&format!("{name} row {i}"), z, (x - mean) / std, 1e-12);
        }
    }
    // Rows 75..150 are versicolor and virginica, whose petals are longer than the first half's.
    let petal = floats(applied, "petal_length");
    assert!(petal.iter().sum::<f64>() / 75.0 > 1.0, "the second half was rescaled with its own mean");
}

#[test]
fn normalize_data_keeps_missing_cells_and_maps_constant_columns_to_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "constant.csv", "a,b\n1,5\n2,5\n3,5\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
                ("normalize", "transform.normalize_data", json!({})),
                ("file", "data.import_data", json!({"path": "constant.csv"})),
                ("constant", "transform.normalize_data", json!({"method": "minmax"})),
            ],
            &[("penguins.data", "normalize.data"), ("file.data", "constant.data")],
        ),
    );
    let t = ran.table("normalize.data");
    for name in PENGUIN_NUMERIC {
        let missing = fx("clean_penguins/missing_count").get(name).and_then(Json::as_u64).expect("count");
        assert_eq!(column(t, name).null_count() as u64, missing, "{name}");
        let present: Vec<f64> = numbers(t, name).into_iter().flatten().collect();
        let mean = present.iter().sum::<f64>() / present.len() as f64;
        assert!(mean.abs() < 1e-12, "{name}: mean {mean}");
    }
    assert_eq!(texts(t, "island"), texts(ran.table("penguins.data"), "island"));
    let t = ran.table("constant.data");
    assert_eq!(floats(t, "a"), [0.0, 0.5, 1.0]);
    assert_eq!(floats(t, "b"), [0.0, 0.0, 0.0]);
}

#[test]
fn convert_to_indicator_values_replaces_columns_in_place() {
    let ran = run(workflow(
        &[
            ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("clean", "transform.clean_missing_data", json!({"mode": "remove_row"})),
            ("listed", "transform.convert_to_indicator_values", json!({"columns": ["island", "sex"]})),
            ("default", "transform.convert_to_indicator_values", json!({})),
            ("keep", "transform.convert_to_indicator_values", json!({"columns": ["island"], "keep_original": true})),
        ],
        &[
            ("penguins.data", "clean.data"),
            ("clean.data", "listed.data"),
            ("clean.data", "default.data"),
            ("clean.data", "keep.data"),
        ],
    ));
    let mut expected = vec!["species".to_owned()];
    expected.extend(fx_strings("example_multiclass/features"));
    let clean = ran.table("clean.data");
    let t = ran.table("listed.data");
    assert_eq!(names(t), expected);
    assert_eq!(t.label(), Some("species"));
    for (source, columns) in fx("example_multiclass/indicator_columns").as_object().expect("indicator columns") {
        let values = texts(clean, source);
        for name in columns.as_array().expect("names").iter().map(|v| v.as_str().expect("name")) {
            let category = &name[source.len() + 1..];
            let expected: Vec<f64> =
                values.iter().map(|v| if v.as_deref() == Some(category) { 1.0 } else { 0.0 }).collect();
            assert_eq!(floats(t, name), expected, "{name}");
        }
    }
    // Empty column list: every text feature column, never the label.
    assert_eq!(names(ran.table("default.data")), expected);
    let t = ran.table("keep.data");
    assert_eq!(names(t)[..5], ["species", "island", "island_Biscoe", "island_Dream", "island_Torgersen"]);
    assert_eq!(texts(t, "island"), texts(clean, "island"));
}

#[test]
fn convert_to_indicator_values_gives_unseen_categories_all_zeros() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "train.csv", "color,n\nred,1\ngreen,2\nred,3\n");
    write(dir.path(), "test.csv", "color,n\nblue,4\nred,5\n,6\ngreen,7\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("train", "data.import_data", json!({"path": "train.csv"})),
                ("test", "data.import_data", json!({"path": "test.csv"})),
                ("encode", "transform.convert_to_indicator_values", json!({})),
                ("apply", "transform.apply_transformation", json!({})),
            ],
            &[("train.data", "encode.data"), ("encode.transform", "apply.transform"), ("test.data", "apply.data")],
        ),
    );
    assert_eq!(names(ran.table("encode.data")), ["color_green", "color_red", "n"]);
    let t = ran.table("apply.data");
    assert_eq!(names(t), ["color_green", "color_red", "n"], "no column for the unseen \"blue\"");
    assert_eq!(floats(t, "color_green"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(floats(t, "color_red"), [0.0, 1.0, 0.0, 0.0]);
    assert_eq!(floats(t, "n"), [4.0, 5.0, 6.0, 7.0]);
}

#[test]
fn split_data_matches_the_reference_row_indices_on_iris() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "iris.csv", with_row_numbers(&asset("iris.csv")));
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("iris", "data.import_data", json!({"path": "iris.csv"})),
                ("random", "transform.split_data", json!({"fraction": 0.7, "seed": 42})),
                ("strat", "transform.split_data", json!({"fraction": 0.7, "seed": 42, "stratify_column": "species"})),
                ("other_seed", "transform.split_data", json!({"fraction": 0.7, "seed": 43})),
            ],
            &[("iris.data", "random.data"), ("iris.data", "strat.data"), ("iris.data", "other_seed.data")],
        ),
    );
    for (node, key) in [("random", "split_iris_f0.7_s42"), ("strat", "split_iris_strat_f0.7_s42")] {
        assert_eq!(row_numbers(ran.table(&format!("{node}.first"))), fx_indices(&format!("{key}/first")), "{node}");
        assert_eq!(row_numbers(ran.table(&format!("{node}.second"))), fx_indices(&format!("{key}/second")), "{node}");
    }
    let species = texts(ran.table("strat.first"), "species");
    for class in ["setosa", "versicolor", "virginica"] {
        assert_eq!(species.iter().filter(|s| s.as_deref() == Some(class)).count(), 35, "{class}");
    }
    assert_ne!(row_numbers(ran.table("other_seed.first")), row_numbers(ran.table("random.first")));
    assert_eq!(ran.table("other_seed.first").height(), 105);
}

#[test]
fn split_data_matches_the_reference_on_penguins_after_removing_missing_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = asset("penguins.csv");
    write(dir.path(), "penguins.csv", with_row_numbers(&csv));
    // Original row numbers of the rows pandas' dropna keeps, in order.
    let kept: Vec<usize> = csv
        .lines()
        .skip(1)
        .enumerate()
        .filter(|(_, line)| !line.split(',').any(str::is_empty))
        .map(|(i, _)| i)
        .collect();
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("penguins", "data.import_data", json!({"path": "penguins.csv", "missing_markers": ""})),
                ("clean", "transform.clean_missing_data", json!({"mode": "remove_row"})),
                ("split", "transform.split_data", json!({"fraction": 0.7, "seed": 7, "stratify_column": "species"})),
            ],
            &[("penguins.data", "clean.data"), ("clean.data", "split.data")],
        ),
    );
    assert_eq!(row_numbers(ran.table("clean.data")), kept);
    let key = "split_penguins_strat_f0.7_s7";
    let expected_first: Vec<usize> = fx_indices(&format!("{key}/first")).into_iter().map(|i| kept[i]).collect();
    let expected_second: Vec<usize> = fx_indices(&format!("{key}/second")).into_iter().map(|i| kept[i]).collect();
    assert_eq!(row_numbers(ran.table("split.first")), expected_first);
    assert_eq!(row_numbers(ran.table("split.second")), expected_second);
    let species = texts(ran.table("split.first"), "species");
    for group in fx(&format!("{key}/groups")).as_array().expect("groups") {
        let label = group["label"].as_str().expect("label");
        let count = species.iter().filter(|s| s.as_deref() == Some(label)).count();
        assert_eq!(count as u64, group["first"].as_u64().expect("count"), "{label}");
    }
}

#[test]
fn split_data_without_randomizing_takes_the_first_rows() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("split", "transform.split_data", json!({"fraction": 0.7, "randomize": false, "seed": 42})),
        ],
        &[("iris.data", "split.data")],
    ));
    let iris = ran.table("iris.data");
    let (first, second) = (ran.table("split.first"), ran.table("split.second"));
    assert_eq!((first.height(), second.height()), (105, 45));
    let all = floats(iris, "sepal_length");
    assert_eq!(floats(first, "sepal_length"), all[..105]);
    assert_eq!(floats(second, "sepal_length"), all[105..]);
    assert_eq!(texts(second, "species"), texts(iris, "species")[105..]);
    assert_eq!((first.label(), second.label()), (Some("species"), Some("species")), "both parts keep the roles");
}

// -------------------------------------------------------------------------------------------- model

/// A model's logistic-regression coefficient blocks (weights, then intercept).
fn logistic_blocks(model: &Model) -> Vec<Vec<f64>> {
    serde_json::from_value(model.state["blocks"].clone()).expect("logistic state has blocks")
}

/// `log(1 + e^z)` without overflow.
fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() }
}

/// scikit-learn's objective: summed log loss plus `||W||² / 2` (C = 1), intercepts unpenalized.
fn logistic_objective(blocks: &[Vec<f64>], x: &[Vec<f64>], y: &[usize]) -> f64 {
    let score = |block: &[f64], row: &[f64]| {
        block[..row.len()].iter().zip(row).map(|(w, v)| w * v).sum::<f64>() + block[row.len()]
    };
    let mut loss = 0.0;
    for (row, &class) in x.iter().zip(y) {
        if blocks.len() == 1 {
            let z = score(&blocks[0], row);
            loss += log1p_exp(z) - if class == 1 { z } else { 0.0 };
        } else {
            let z: Vec<f64> = blocks.iter().map(|b| score(b, row)).collect();
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            loss += lse - z[class];
        }
    }
    let penalty: f64 = blocks.iter().map(|b| b[..b.len() - 1].iter().map(|w| w * w).sum::<f64>()).sum();
    loss + penalty / 2.0
}

/// The model's feature columns of a table as rows.
fn feature_rows(t: &Table, features: &[String]) -> Vec<Vec<f64>> {
    let columns: Vec<Vec<f64>> = features.iter().map(|f| floats(t, f)).collect();
    (0..t.height()).map(|i| columns.iter().map(|c| c[i]).collect()).collect()
}

fn class_indices(t: &Table, label: &str, classes: &[String]) -> Vec<usize> {
    texts(t, label)
        .iter()
        .map(|v| classes.iter().position(|c| Some(c.as_str()) == v.as_deref()).expect("a known class"))
        .collect()
}

#[test]
fn two_class_logistic_regression_matches_scikit_learn_on_breast_cancer() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "breast_cancer"})),
            ("normalize", "transform.normalize_data", json!({})),
            ("logistic", "model.logistic_regression_two_class", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("data.data", "normalize.data"),
            ("logistic.learner", "train.learner"),
            ("normalize.data", "train.data"),
            ("train.model", "score.model"),
            ("normalize.data", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    ));
    let key = "logreg_breast_cancer_scaled";
    let model = ran.model("train.model");
    assert_eq!(model.task, Task::BinaryClassification);
    assert_eq!(model.classes, fx_strings(&format!("{key}/classes")));
    assert_eq!(model.features, fx_strings(&format!("{key}/features")));

    let scored = ran.table("score.data");
    let p = floats(scored, "Scored Probabilities_malignant");
    for (i, p) in p.iter().take(5).enumerate() {
        let expected = fx_f64(&format!("{key}/proba_malignant_first5_rows/{i}"));
        assert!((p - expected).abs() <= 1e-5, "row {i}: {p} vs scikit-learn {expected}");
    }

    let blocks = logistic_blocks(model);
    assert_eq!(blocks.len(), 1);
    for (j, name) in model.features.iter().enumerate() {
        assert_close(&format!("coefficient {name}"), blocks[0][j], fx_f64(&format!("{key}/coef/{name}")), 1e-4);
    }
    assert_close("intercept", blocks[0][model.features.len()], fx_f64(&format!("{key}/intercept")), 1e-4);

    // Newton converges at least as far as lbfgs: the objective is scikit-learn's or slightly lower.
    let normalized = ran.table("normalize.data");
    let objective = logistic_objective(
        &blocks,
        &feature_rows(normalized, &model.features),
        &class_indices(normalized, "diagnosis", &model.classes),
    );
    let reference = fx_f64(&format!("{key}/convergence/objective"));
    assert!(objective <= reference * (1.0 + 1e-9), "objective {objective} above scikit-learn's {reference}");
    assert!(objective >= reference * (1.0 - 1e-6), "objective {objective} far below scikit-learn's {reference}");

    assert_eq!(ran.metric("evaluate.report", "accuracy"), fx_f64(&format!("{key}/accuracy_train")));
    assert_close("log loss", ran.metric("evaluate.report", "log_loss"), fx_f64(&format!("{key}/log_loss_train")), 1e-5);
}

#[test]
fn multiclass_logistic_regression_matches_scikit_learn_on_iris() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("logistic", "model.logistic_regression_multiclass", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("logistic.learner", "train.learner"),
            ("iris.data", "train.data"),
            ("train.model", "score.model"),
            ("iris.data", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    ));
    let key = "logreg_iris_multinomial";
    let model = ran.model("train.model");
    let classes = fx_strings(&format!("{key}/classes"));
    assert_eq!(model.task, Task::MulticlassClassification);
    assert_eq!(model.classes, classes);

    let scored = ran.table("score.data");
    for row in [0, 50, 100] {
        for (k, class) in classes.iter().enumerate() {
            let p = floats(scored, &format!("Scored Probabilities_{class}"))[row];
            let expected = fx_f64(&format!("{key}/predict_proba_rows/{row}/{k}"));
            assert!((p - expected).abs() <= 1e-5, "row {row} {class}: {p} vs scikit-learn {expected}");
        }
    }

    // Weights are unique (penalized); intercepts only up to a common shift, so compare them centred.
    let blocks = logistic_blocks(model);
    assert_eq!(blocks.len(), 3);
    let p = model.features.len();
    let intercepts: Vec<f64> = blocks.iter().map(|b| b[p]).collect();
    let reference: Vec<f64> = classes.iter().map(|c| fx_f64(&format!("{key}/intercept/{c}"))).collect();
    let centre = |v: &[f64]| v.iter().map(|x| x - v.iter().sum::<f64>() / v.len() as f64).collect::<Vec<_>>();
    for (k, class) in classes.iter().enumerate() {
        for (j, name) in model.features.iter().enumerate() {
            let expected = fx_f64(&format!("{key}/coef/{class}/{name}"));
            assert_close(&format!("{class} {name}"), blocks[k][j], expected, 1e-4);
        }
        assert_close(&format!("{class} intercept"), centre(&intercepts)[k], centre(&reference)[k], 1e-4);
    }

    let iris = ran.table("iris.data");
    let objective = logistic_objective(
        &blocks,
        &feature_rows(iris, &model.features),
        &class_indices(iris, "species", &model.classes),
    );
    let reference = fx_f64(&format!("{key}/convergence/objective"));
    assert!(objective <= reference * (1.0 + 1e-9), "objective {objective} above scikit-learn's {reference}");
    assert!(objective >= reference * (1.0 - 1e-6), "objective {objective} far below scikit-learn's {reference}");

    assert_eq!(ran.metric("evaluate.report", "accuracy"), fx_f64(&format!("{key}/accuracy_train")));
    assert_close("log loss", ran.metric("evaluate.report", "log_loss"), fx_f64(&format!("{key}/log_loss_train")), 1e-5);
}

/// Linear-regression coefficients from a model's state, in its feature order, and the intercept.
fn linear_state(model: &Model) -> (Vec<f64>, f64) {
    let coefficients = serde_json::from_value(model.state["coefficients"].clone()).expect("coefficients");
    (coefficients, model.state["intercept"].as_f64().expect("intercept"))
}

#[test]
fn linear_regression_matches_ordinary_least_squares_and_ridge_on_diabetes() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "diabetes"})),
            ("ols", "model.linear_regression", json!({})),
            ("ridge", "model.linear_regression", json!({"l2_weight": 1.0})),
            ("train_ols", "train.train_model", json!({})),
            ("train_ridge", "train.train_model", json!({})),
            ("score_ols", "train.score_model", json!({})),
            ("score_ridge", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("ols.learner", "train_ols.learner"),
            ("data.data", "train_ols.data"),
            ("ridge.learner", "train_ridge.learner"),
            ("data.data", "train_ridge.data"),
            ("train_ols.model", "score_ols.model"),
            ("data.data", "score_ols.data"),
            ("train_ridge.model", "score_ridge.model"),
            ("data.data", "score_ridge.data"),
            ("score_ols.data", "evaluate.scored"),
            ("score_ridge.data", "evaluate.scored_2"),
        ],
    ));
    let evaluations = ran.evaluations("evaluate.report");
    for (node, key, evaluation) in [
        ("train_ols", "linreg_diabetes_full", &evaluations[0]),
        ("train_ridge", "ridge_diabetes_full", &evaluations[1]),
    ] {
        let model = ran.model(&format!("{node}.model"));
        assert_eq!(model.task, Task::Regression);
        assert_eq!(model.features, fx_strings(&format!("{key}/features")));
        let (coefficients, intercept) = linear_state(model);
        for (name, w) in model.features.iter().zip(&coefficients) {
            let expected = fx_f64(&format!("{key}/coef/{name}"));
            assert!((w - expected).abs() <= 1e-6 * expected.abs(), "{key} {name}: {w} vs scikit-learn {expected}");
        }
        let expected = fx_f64(&format!("{key}/intercept"));
        assert!((intercept - expected).abs() <= 1e-6 * expected.abs(), "{key} intercept {intercept} vs {expected}");
        assert_eq!(model.state["regularized"], json!(false), "{key}");
        assert_close(
            &format!("{key} R²"),
            evaluation.metric("r2").expect("r2"),
            fx_f64(&format!("{key}/r2_train")),
            1e-9,
        );
    }
    // Ridge shrinks: its weights are smaller in total than the least-squares ones.
    let norm = |node: &str| linear_state(ran.model(node)).0.iter().map(|w| w * w).sum::<f64>();
    assert!(norm("train_ridge.model") < norm("train_ols.model"));
}

#[test]
fn linear_regression_recovers_an_exact_plane_with_and_without_intercept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = [(0.0, 1.0), (1.0, 0.0), (2.0, 3.0), (3.0, 1.0), (4.0, 5.0), (-1.0, 2.0)];
    let mut with = String::from("x1,x2,y\n");
    let mut without = String::from("x1,x2,y\n");
    for (a, b) in rows {
        let _ = writeln!(with, "{a},{b},{}", 2.0 * a - 3.0 * b + 5.0);
        let _ = writeln!(without, "{a},{b},{}", 2.0 * a - 3.0 * b);
    }
    write(dir.path(), "with.csv", with);
    write(dir.path(), "without.csv", without);
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("with", "data.import_data", json!({"path": "with.csv"})),
                ("without", "data.import_data", json!({"path": "without.csv"})),
                ("intercept", "model.linear_regression", json!({})),
                ("origin", "model.linear_regression", json!({"fit_intercept": false})),
                ("train_with", "train.train_model", json!({"label_column": "y"})),
                ("train_without", "train.train_model", json!({"label_column": "y"})),
                ("train_forced", "train.train_model", json!({"label_column": "y"})),
                ("score", "train.score_model", json!({})),
            ],
            &[
                ("intercept.learner", "train_with.learner"),
                ("with.data", "train_with.data"),
                ("origin.learner", "train_without.learner"),
                ("without.data", "train_without.data"),
                ("origin.learner", "train_forced.learner"),
                ("with.data", "train_forced.data"),
                ("train_with.model", "score.model"),
                ("with.data", "score.data"),
            ],
        ),
    );
    let (w, b) = linear_state(ran.model("train_with.model"));
    assert_close("x1", w[0], 2.0, 1e-9);
    assert_close("x2", w[1], -3.0, 1e-9);
    assert_close("intercept", b, 5.0, 1e-9);
    let (w, b) = linear_state(ran.model("train_without.model"));
    assert_close("x1", w[0], 2.0, 1e-9);
    assert_close("x2", w[1], -3.0, 1e-9);
    assert_eq!(b, 0.0);
    // Without an intercept the offset of 5 cannot be fitted: the weights must bend.
    let (w, b) = linear_state(ran.model("train_forced.model"));
    assert_eq!(b, 0.0);
    assert!((w[0] - 2.0).abs() > 0.1 || (w[1] + 3.0).abs() > 0.1, "{w:?}");

    // A regression model adds only Scored Labels.
    let scored = ran.table("score.data");
    assert_eq!(names(scored), ["x1", "x2", "y", "Scored Labels"]);
    assert_eq!(scored.role("Scored Labels"), Role::Score);
    assert_eq!(scored.label(), Some("y"));
    for (p, y) in floats(scored, "Scored Labels").iter().zip(floats(scored, "y")) {
        assert_close("prediction", *p, y, 1e-9);
    }
}

/// The penguins example up to the split: clean, normalize, encode, split 0.7 seed 7 by species.
fn penguins_prepared() -> Graph {
    (
        vec![
            ("data", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("clean", "transform.clean_missing_data", json!({"mode": "remove_row"})),
            ("normalize", "transform.normalize_data", json!({})),
            ("indicators", "transform.convert_to_indicator_values", json!({"columns": ["island", "sex"]})),
            ("split", "transform.split_data", json!({"fraction": 0.7, "seed": 7, "stratify_column": "species"})),
        ],
        vec![
            ("data.data", "clean.data"),
            ("clean.data", "normalize.data"),
            ("normalize.data", "indicators.data"),
            ("indicators.data", "split.data"),
        ],
    )
}

#[test]
fn decision_forest_on_the_penguins_example_is_as_accurate_as_scikit_learn() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../projects/penguins-multiclass");
    let path = pipewright_engine::find_workflow(Path::new(folder)).expect("the penguins example");
    let workflow = Workflow::load(&path).expect("loads");
    let forest = workflow.node("forest").expect("a forest node");
    assert_eq!(forest.kind, "model.decision_forest");
    assert_eq!(
        workflow.edge_into("evaluate", "scored_2").map(|e| e.from.node.as_str()),
        Some("score_forest"),
        "the example's second evaluation is the forest's"
    );
    let ran = run_in(Path::new(folder), workflow);
    let evaluation = &ran.evaluations("evaluate.report")[1];
    let accuracy = evaluation.metric("accuracy").expect("accuracy");
    let floor = fx_f64("example_multiclass/random_forest/accuracy/min") - 0.03;
    assert!(accuracy >= floor, "forest accuracy {accuracy} below {floor}");
    assert_eq!(ran.model("train_forest.model").classes, fx_strings("example_multiclass/classes"));
}

#[test]
fn decision_forest_is_reproducible_for_a_seed() {
    let (mut nodes, mut edges) = penguins_prepared();
    nodes.extend([
        ("forest_a", "model.decision_forest", json!({"trees": 25, "seed": 3})),
        ("forest_b", "model.decision_forest", json!({"trees": 25, "seed": 3})),
        ("forest_c", "model.decision_forest", json!({"trees": 25, "seed": 4})),
    ]);
    for (train, score) in [("train_a", "score_a"), ("train_b", "score_b"), ("train_c", "score_c")] {
        nodes.push((train, "train.train_model", json!({})));
        nodes.push((score, "train.score_model", json!({})));
    }
    edges.extend([
        ("forest_a.learner", "train_a.learner"),
        ("split.first", "train_a.data"),
        ("train_a.model", "score_a.model"),
        ("split.second", "score_a.data"),
        ("forest_b.learner", "train_b.learner"),
        ("split.first", "train_b.data"),
        ("train_b.model", "score_b.model"),
        ("split.second", "score_b.data"),
        ("forest_c.learner", "train_c.learner"),
        ("split.first", "train_c.data"),
        ("train_c.model", "score_c.model"),
        ("split.second", "score_c.data"),
    ]);
    let ran = run(workflow(&nodes, &edges));
    let classes = &ran.model("train_a.model").classes;
    assert_eq!(classes.len(), 3);
    let probabilities = |node: &str| -> Vec<Vec<f64>> {
        classes.iter().map(|c| floats(ran.table(node), &format!("Scored Probabilities_{c}"))).collect()
    };
    let (a, b, c) = (probabilities("score_a.data"), probabilities("score_b.data"), probabilities("score_c.data"));
    assert_eq!(a, b, "the same seed grows the same forest");
    assert_ne!(a, c, "another seed grows another forest");
    assert_eq!(ran.model("train_a.model").state, ran.model("train_b.model").state);
    for i in 0..a[0].len() {
        let sum: f64 = a.iter().map(|p| p[i]).sum();
        assert_close(&format!("row {i} probabilities"), sum, 1.0, 1e-12);
    }
}

#[test]
fn decision_forest_regression_on_the_diabetes_example_split() {
    let mut nodes = vec![
        ("data", "data.sample_dataset", json!({"dataset": "diabetes"})),
        ("normalize", "transform.normalize_data", json!({})),
        ("split", "transform.split_data", json!({"fraction": 0.8, "seed": 1})),
        ("evaluate", "evaluate.evaluate_model", json!({})),
    ];
    let mut edges = vec![("data.data", "normalize.data"), ("normalize.data", "split.data")];
    for (forest, train, score, seed) in
        [("f0", "t0", "s0", 0), ("f0_again", "t0_again", "s0_again", 0), ("f1", "t1", "s1", 1)]
    {
        nodes.push((forest, "model.decision_forest_regression", json!({ "seed": seed })));
        nodes.push((train, "train.train_model", json!({})));
        nodes.push((score, "train.score_model", json!({})));
    }
    edges.extend([
        ("f0.learner", "t0.learner"),
        ("split.first", "t0.data"),
        ("t0.model", "s0.model"),
        ("split.second", "s0.data"),
        ("f0_again.learner", "t0_again.learner"),
        ("split.first", "t0_again.data"),
        ("t0_again.model", "s0_again.model"),
        ("split.second", "s0_again.data"),
        ("f1.learner", "t1.learner"),
        ("split.first", "t1.data"),
        ("t1.model", "s1.model"),
        ("split.second", "s1.data"),
        ("s0.data", "evaluate.scored"),
        ("s1.data", "evaluate.scored_2"),
    ]);
    let ran = run(workflow(&nodes, &edges));
    assert_eq!(ran.table("split.second").height(), fx_indices("example_regression/split/second").len());
    let floor = fx_f64("rf_regression_diabetes/test_r2/min") - 0.05;
    for evaluation in ran.evaluations("evaluate.report") {
        let r2 = evaluation.metric("r2").expect("r2");
        assert!(r2 >= floor && r2 > 0.2, "{}: R² {r2} below {floor}", evaluation.source);
    }
    let predictions = |node: &str| floats(ran.table(node), "Scored Labels");
    assert_eq!(predictions("s0.data"), predictions("s0_again.data"), "the same seed grows the same forest");
    assert_ne!(predictions("s0.data"), predictions("s1.data"), "another seed grows another forest");
    assert_eq!(ran.model("t0.model").task, Task::Regression);
}

/// Iris, z-scored, and k-means with 3 clusters trained on it.
fn iris_kmeans() -> Graph {
    (
        vec![
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("normalize", "transform.normalize_data", json!({})),
            ("kmeans", "model.kmeans", json!({"clusters": 3, "starts": 10, "seed": 0})),
            ("cluster", "train.train_clustering_model", json!({})),
        ],
        vec![
            ("iris.data", "normalize.data"),
            ("kmeans.learner", "cluster.learner"),
            ("normalize.data", "cluster.data"),
        ],
    )
}

#[test]
fn kmeans_on_scaled_iris_matches_scikit_learn() {
    let (mut nodes, mut edges) = iris_kmeans();
    nodes.push(("evaluate", "evaluate.evaluate_model", json!({})));
    edges.push(("cluster.data", "evaluate.scored"));
    let ran = run(workflow(&nodes, &edges));
    let inertia = ran.metric("evaluate.report", "inertia");
    let reference = fx_f64("kmeans_iris_scaled/inertia");
    assert!((inertia - reference).abs() <= 0.01 * reference, "inertia {inertia} vs scikit-learn {reference}");
    let silhouette = ran.metric("evaluate.report", "silhouette");
    let reference = fx_f64("kmeans_iris_scaled/silhouette");
    assert!((silhouette - reference).abs() <= 0.01, "silhouette {silhouette} vs scikit-learn {reference}");
    assert_eq!(ran.metric("evaluate.report", "clusters"), 3.0);

    let model = ran.model("cluster.model");
    assert_close("stored inertia", model.state["inertia"].as_f64().expect("inertia"), inertia, 1e-9);
    let mut sizes = [0u64; 3];
    for c in floats(ran.table("cluster.data"), "Assignments") {
        sizes[c as usize] += 1;
    }
    sizes.sort_unstable();
    let expected: Vec<u64> = fx("kmeans_iris_scaled/cluster_sizes_sorted")
        .as_array()
        .expect("sizes")
        .iter()
        .map(|v| v.as_u64().expect("size"))
        .collect();
    assert_eq!(sizes.to_vec(), expected);
}

// -------------------------------------------------------------------------------------------- train

#[test]
fn train_model_explains_what_is_wrong_with_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "unlabelled.csv", "a,b\n1,2\n3,4\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
                ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
                ("clean", "transform.clean_missing_data", json!({"mode": "remove_row"})),
                ("numeric", "transform.select_columns", json!({"columns": ["island", "sex"], "mode": "exclude"})),
                ("file", "data.import_data", json!({"path": "unlabelled.csv"})),
                ("two_class", "model.logistic_regression_two_class", json!({})),
                ("multiclass", "model.logistic_regression_multiclass", json!({})),
                ("linear", "model.linear_regression", json!({})),
                ("kmeans", "model.kmeans", json!({})),
                ("three_classes", "train.train_model", json!({})),
                ("text_feature", "train.train_model", json!({})),
                ("missing_feature", "train.train_model", json!({})),
                ("missing_label", "train.train_model", json!({"label_column": "sex"})),
                ("text_label", "train.train_model", json!({})),
                ("clustering", "train.train_model", json!({})),
                ("no_label", "train.train_model", json!({})),
            ],
            &[
                ("penguins.data", "clean.data"),
                ("penguins.data", "numeric.data"),
                ("two_class.learner", "three_classes.learner"),
                ("iris.data", "three_classes.data"),
                ("multiclass.learner", "text_feature.learner"),
                ("clean.data", "text_feature.data"),
                ("multiclass.learner", "missing_feature.learner"),
                ("numeric.data", "missing_feature.data"),
                ("multiclass.learner", "missing_label.learner"),
                ("penguins.data", "missing_label.data"),
                ("linear.learner", "text_label.learner"),
                ("iris.data", "text_label.data"),
                ("kmeans.learner", "clustering.learner"),
                ("iris.data", "clustering.data"),
                ("linear.learner", "no_label.learner"),
                ("file.data", "no_label.data"),
            ],
        ),
    );
    let expectations: [(&str, &[&str]); 7] = [
        ("three_classes", &["exactly two classes", "\"species\" has 3", "multiclass"]),
        ("text_feature", &["\"island\"", "Convert to Indicator Values"]),
        ("missing_feature", &["\"bill_length_mm\" has 2 missing values", "Clean Missing Data"]),
        ("missing_label", &["\"sex\" has 11 missing values", "Clean Missing Data"]),
        ("text_label", &["\"species\" is not numeric", "classification learner"]),
        ("clustering", &["Train Clustering Model"]),
        ("no_label", &["label_column", "no column is marked as label"]),
    ];
    for (node, needles) in expectations {
        let message = ran.error(node);
        for needle in needles {
            assert!(message.contains(needle), "{node}: \"{message}\" should mention {needle}");
        }
    }
}

#[test]
fn train_clustering_model_adds_assignments_and_distances() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("kmeans", "model.kmeans", json!({"clusters": 3, "seed": 5})),
            ("petals", "train.train_clustering_model", json!({"columns": ["petal_length", "petal_width"]})),
            ("logistic", "model.logistic_regression_two_class", json!({})),
            ("wrong", "train.train_clustering_model", json!({})),
        ],
        &[
            ("kmeans.learner", "petals.learner"),
            ("iris.data", "petals.data"),
            ("logistic.learner", "wrong.learner"),
            ("iris.data", "wrong.data"),
        ],
    ));
    let model = ran.model("petals.model");
    assert_eq!(model.task, Task::Clustering);
    assert_eq!(model.features, ["petal_length", "petal_width"]);
    assert_eq!(model.label, None);
    let centers: Vec<Vec<f64>> = serde_json::from_value(model.state["centers"].clone()).expect("centers");
    assert_eq!(centers.len(), 3);

    let t = ran.table("petals.data");
    assert_eq!(names(t)[5..], ["Assignments", "DistanceToClusterCenter"]);
    assert_eq!(t.role("Assignments"), Role::Score);
    assert_eq!(t.role("DistanceToClusterCenter"), Role::Score);
    assert_eq!(t.label(), Some("species"));
    let rows = feature_rows(t, &model.features);
    let assignments: Vec<usize> = floats(t, "Assignments").into_iter().map(|a| a as usize).collect();
    let distances = floats(t, "DistanceToClusterCenter");
    let distance = |row: &[f64], c: &[f64]| row.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    for (i, row) in rows.iter().enumerate() {
        let nearest = centers.iter().map(|c| distance(row, c)).fold(f64::INFINITY, f64::min);
        let assigned = assignments[i];
        assert!(assigned < 3);
        assert_close(&format!("row {i} distance"), distances[i], distance(row, &centers[assigned]), 1e-12);
        assert_close(&format!("row {i} is nearest"), distances[i], nearest, 1e-12);
    }
    // Petal sizes separate setosa perfectly: its 50 rows form one cluster of their own.
    let species = texts(t, "species");
    let setosa: Vec<usize> =
        assignments.iter().zip(&species).filter(|(_, s)| s.as_deref() == Some("setosa")).map(|(a, _)| *a).collect();
    assert!(setosa.iter().all(|a| *a == setosa[0]));
    assert_eq!(assignments.iter().filter(|a| **a == setosa[0]).count(), 50);

    let message = ran.error("wrong");
    assert!(message.contains("not a clustering learner") && message.contains("Train Model"), "{message}");
}

#[test]
fn score_model_adds_labels_and_one_probability_column_per_class() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("logistic", "model.logistic_regression_multiclass", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("narrow", "transform.select_columns", json!({"columns": ["petal_width"], "mode": "exclude"})),
            ("score_narrow", "train.score_model", json!({})),
        ],
        &[
            ("logistic.learner", "train.learner"),
            ("iris.data", "train.data"),
            ("train.model", "score.model"),
            ("iris.data", "score.data"),
            ("iris.data", "narrow.data"),
            ("train.model", "score_narrow.model"),
            ("narrow.data", "score_narrow.data"),
        ],
    ));
    let t = ran.table("score.data");
    let classes = ["setosa", "versicolor", "virginica"];
    let mut expected: Vec<String> = names(ran.table("iris.data"));
    expected.push("Scored Labels".into());
    expected.extend(classes.iter().map(|c| format!("Scored Probabilities_{c}")));
    assert_eq!(names(t), expected);
    assert_eq!(t.label(), Some("species"));
    assert!(expected[5..].iter().all(|n| t.role(n) == Role::Score));
    let probabilities: Vec<Vec<f64>> =
        classes.iter().map(|c| floats(t, &format!("Scored Probabilities_{c}"))).collect();
    let labels = texts(t, "Scored Labels");
    for (i, label) in labels.iter().enumerate() {
        let row: Vec<f64> = probabilities.iter().map(|p| p[i]).collect();
        assert_close(&format!("row {i} sum"), row.iter().sum(), 1.0, 1e-12);
        let best = (0..3).fold(0, |b, k| if row[k] > row[b] { k } else { b });
        assert_eq!(label.as_deref(), Some(classes[best]), "row {i}");
    }
    let message = ran.error("score_narrow");
    assert!(message.contains("petal_width") && message.contains("lacks 1 column"), "{message}");
}

#[test]
fn assign_data_to_clusters_matches_the_training_assignments() {
    let (mut nodes, mut edges) = iris_kmeans();
    nodes.extend([
        ("split", "transform.split_data", json!({"fraction": 0.5, "randomize": false})),
        ("assign", "train.assign_data_to_clusters", json!({})),
        ("score", "train.score_model", json!({})),
        ("logistic", "model.logistic_regression_multiclass", json!({})),
        ("train", "train.train_model", json!({})),
        ("wrong", "train.assign_data_to_clusters", json!({})),
    ]);
    edges.extend([
        ("normalize.data", "split.data"),
        ("cluster.model", "assign.model"),
        ("split.second", "assign.data"),
        ("cluster.model", "score.model"),
        ("split.second", "score.data"),
        ("logistic.learner", "train.learner"),
        ("iris.data", "train.data"),
        ("train.model", "wrong.model"),
        ("iris.data", "wrong.data"),
    ]);
    let ran = run(workflow(&nodes, &edges));
    let trained = ran.table("cluster.data");
    let assigned = ran.table("assign.data");
    assert_eq!(assigned.height(), 75);
    assert_eq!(floats(assigned, "Assignments"), floats(trained, "Assignments")[75..]);
    let (a, b) = (floats(assigned, "DistanceToClusterCenter"), floats(trained, "DistanceToClusterCenter"));
    for (i, (x, y)) in a.iter().zip(&b[75..]).enumerate() {
        assert_close(&format!("row {i} distance"), *x, *y, 1e-12);
    }
    // Score Model on a clustering model assigns the same way.
    let scored = ran.table("score.data");
    assert_eq!(floats(scored, "Assignments"), floats(assigned, "Assignments"));
    let message = ran.error("wrong");
    assert!(message.contains("not a clustering model") && message.contains("Score Model"), "{message}");
}

// ----------------------------------------------------------------------------------------- evaluate

#[test]
fn evaluate_model_two_class_metrics_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "scored.csv",
        "y,Scored Labels,Scored Probabilities_a,Scored Probabilities_b\n\
         a,a,0.9,0.1\n\
         a,b,0.4,0.6\n\
         b,b,0.3,0.7\n\
         b,a,0.6,0.4\n\
         b,b,0.1,0.9\n",
    );
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("file", "data.import_data", json!({"path": "scored.csv"})),
                ("label", "transform.edit_metadata", json!({"columns": ["y"], "role": "label"})),
                ("positive_b", "evaluate.evaluate_model", json!({})),
                ("positive_a", "evaluate.evaluate_model", json!({"positive_class": "a"})),
                ("positive_c", "evaluate.evaluate_model", json!({"positive_class": "c"})),
                ("unscored", "evaluate.evaluate_model", json!({})),
            ],
            &[
                ("file.data", "label.data"),
                ("label.data", "positive_b.scored"),
                ("label.data", "positive_a.scored"),
                ("label.data", "positive_c.scored"),
                ("file.data", "unscored.scored"),
            ],
        ),
    );
    let evaluation = &ran.evaluations("positive_b.report")[0];
    assert_eq!(evaluation.task, Task::BinaryClassification);
    assert_eq!(evaluation.metrics[0].name, "accuracy", "accuracy is the headline");
    let expected_log_loss = -(0.9f64.ln() + 0.4f64.ln() + 0.7f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 5.0;
    for (name, expected) in [
        ("accuracy", 0.6),
        ("precision", 2.0 / 3.0),
        ("recall", 2.0 / 3.0),
        ("f1", 2.0 / 3.0),
        ("roc_auc", 5.0 / 6.0),
        ("log_loss", expected_log_loss),
    ] {
        assert_close(name, evaluation.metric(name).expect(name), expected, 1e-12);
    }
    let confusion = evaluation.confusion.as_ref().expect("a confusion matrix");
    assert_eq!(confusion.classes, ["a", "b"]);
    assert_eq!(confusion.counts, [[1, 1], [1, 2]]);
    let roc = &evaluation.curves.iter().find(|c| c.name == "roc").expect("roc").points;
    assert_eq!((roc.first(), roc.last()), (Some(&[0.0, 0.0]), Some(&[1.0, 1.0])));
    assert!(evaluation.curves.iter().any(|c| c.name == "precision_recall"));

    let evaluation = &ran.evaluations("positive_a.report")[0];
    for (name, expected) in
        [("precision", 0.5), ("recall", 0.5), ("f1", 0.5), ("roc_auc", 5.0 / 6.0), ("accuracy", 0.6)]
    {
        assert_close(&format!("positive a {name}"), evaluation.metric(name).expect(name), expected, 1e-12);
    }
    let message = ran.error("positive_c");
    assert!(message.contains("\"c\" is not a class") && message.contains("a, b"), "{message}");
    assert!(ran.error("unscored").contains("no column is marked as label"), "{}", ran.error("unscored"));
}

#[test]
fn evaluate_model_multiclass_macro_metrics_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "scored.csv",
        "y,Scored Labels,Scored Probabilities_a,Scored Probabilities_b,Scored Probabilities_c\n\
         a,a,0.7,0.2,0.1\n\
         b,b,0.05,0.5,0.45\n\
         c,a,0.5,0.1,0.4\n\
         a,a,0.8,0.1,0.1\n",
    );
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("file", "data.import_data", json!({"path": "scored.csv"})),
                ("label", "transform.edit_metadata", json!({"columns": ["y"], "role": "label"})),
                ("evaluate", "evaluate.evaluate_model", json!({})),
            ],
            &[("file.data", "label.data"), ("label.data", "evaluate.scored")],
        ),
    );
    let evaluation = &ran.evaluations("evaluate.report")[0];
    assert_eq!(evaluation.task, Task::MulticlassClassification);
    // Per class (precision, recall, F1): a (2/3, 1, 0.8), b (1, 1, 1), c (0, 0, 0).
    // One-vs-rest AUC: a 1, b 1, c 2/3.
    let expected_log_loss = -(0.7f64.ln() + 0.5f64.ln() + 0.4f64.ln() + 0.8f64.ln()) / 4.0;
    for (name, expected) in [
        ("accuracy", 0.75),
        ("macro_precision", 5.0 / 9.0),
        ("macro_recall", 2.0 / 3.0),
        ("macro_f1", 0.6),
        ("macro_roc_auc", 8.0 / 9.0),
        ("log_loss", expected_log_loss),
    ] {
        assert_close(name, evaluation.metric(name).expect(name), expected, 1e-12);
    }
    assert_eq!(evaluation.confusion.as_ref().expect("confusion").counts, [[2, 0, 0], [0, 1, 0], [1, 0, 0]]);
}

#[test]
fn evaluate_model_regression_metrics_by_hand_for_two_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The training rows lie on y = 2x + 1, so the model predicts exactly that.
    write(dir.path(), "train.csv", "x,y\n0,1\n1,3\n2,5\n");
    write(dir.path(), "test.csv", "x,y\n0,1\n1,2\n2,6\n3,7\n");
    write(dir.path(), "exact.csv", "x,y\n5,11\n-1,-1\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("train_data", "data.import_data", json!({"path": "train.csv"})),
                ("test", "data.import_data", json!({"path": "test.csv"})),
                ("exact", "data.import_data", json!({"path": "exact.csv"})),
                ("linear", "model.linear_regression", json!({})),
                ("train", "train.train_model", json!({"label_column": "y"})),
                ("score_test", "train.score_model", json!({})),
                ("score_exact", "train.score_model", json!({})),
                ("evaluate", "evaluate.evaluate_model", json!({})),
                ("unscored", "evaluate.evaluate_model", json!({})),
                ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ],
            &[
                ("linear.learner", "train.learner"),
                ("train_data.data", "train.data"),
                ("train.model", "score_test.model"),
                ("test.data", "score_test.data"),
                ("train.model", "score_exact.model"),
                ("exact.data", "score_exact.data"),
                ("score_test.data", "evaluate.scored"),
                ("score_exact.data", "evaluate.scored_2"),
                ("iris.data", "unscored.scored"),
            ],
        ),
    );
    let evaluations = ran.evaluations("evaluate.report");
    assert_eq!(evaluations.len(), 2);
    assert_eq!((evaluations[0].source.as_str(), evaluations[1].source.as_str()), ("scored", "scored_2"));
    assert_eq!(evaluations[0].task, Task::Regression);
    // actual 1, 2, 6, 7; predicted 1, 3, 5, 7; mean 4.
    for (name, expected) in [
        ("mae", 0.5),
        ("rmse", 0.5f64.sqrt()),
        ("r2", 1.0 - 2.0 / 26.0),
        ("relative_absolute_error", 0.2),
        ("relative_squared_error", 2.0 / 26.0),
    ] {
        assert_close(name, evaluations[0].metric(name).expect(name), expected, 1e-9);
    }
    assert!(evaluations[0].confusion.is_none());
    assert!(evaluations[1].metric("mae").expect("mae").abs() < 1e-9);
    assert_close("exact r2", evaluations[1].metric("r2").expect("r2"), 1.0, 1e-9);

    let message = ran.error("unscored");
    assert!(message.contains("has no predictions") && message.contains("Score Model"), "{message}");
}

// ------------------------------------------------------------------------- fitted transforms replay

#[test]
fn clean_missing_data_remove_column_drops_the_fitted_columns_from_other_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "train.csv", "a,b,y\n1,1,0\n2,,1\n3,4,0\n4,3,1\n");
    // In this table `a` has the gap and `b` is complete: still `b` goes, as fitted.
    write(dir.path(), "test.csv", "a,b,y\n1,2,0\n,3,1\n");
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("train", "data.import_data", json!({"path": "train.csv"})),
                ("test", "data.import_data", json!({"path": "test.csv"})),
                ("clean", "transform.clean_missing_data", json!({"mode": "remove_column"})),
                ("apply", "transform.apply_transformation", json!({})),
            ],
            &[("train.data", "clean.data"), ("clean.transform", "apply.transform"), ("test.data", "apply.data")],
        ),
    );
    assert_eq!(names(ran.table("clean.data")), ["a", "y"]);
    assert_eq!(names(ran.table("apply.data")), ["a", "y"]);
}

#[test]
fn clean_missing_data_keeps_the_types_of_columns_it_does_not_need_to_change() {
    let ran = run(workflow(
        &[
            ("penguins", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("mean", "transform.clean_missing_data", json!({"mode": "mean"})),
            ("mode", "transform.clean_missing_data", json!({"mode": "mode", "columns": ["body_mass_g"]})),
        ],
        &[("penguins.data", "mean.data"), ("penguins.data", "mode.data")],
    ));
    let original = ran.table("penguins.data");
    let cleaned = ran.table("mean.data");
    // `year` has no gaps: untouched, still whole numbers.
    assert_eq!(column(cleaned, "year").dtype(), column(original, "year").dtype());
    assert!(column(cleaned, "year").dtype().is_integer());
    // `body_mass_g` is whole numbers with gaps: a whole fill value keeps it integer, a mean makes it float.
    assert!(column(original, "body_mass_g").dtype().is_integer());
    assert!(column(ran.table("mode.data"), "body_mass_g").dtype().is_integer());
    assert_eq!(column(ran.table("mode.data"), "body_mass_g").null_count(), 0);
    assert!(column(cleaned, "body_mass_g").dtype().is_float());
}

#[test]
fn evaluate_model_computes_the_silhouette_on_the_clustered_columns() {
    let ran = run(workflow(
        &[
            ("iris", "data.sample_dataset", json!({"dataset": "iris"})),
            ("kmeans", "model.kmeans", json!({"clusters": 3, "seed": 5})),
            ("train", "train.train_clustering_model", json!({"columns": ["petal_length", "petal_width"]})),
            ("assign", "train.assign_data_to_clusters", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("kmeans.learner", "train.learner"),
            ("iris.data", "train.data"),
            ("train.model", "assign.model"),
            ("iris.data", "assign.data"),
            ("assign.data", "evaluate.scored"),
        ],
    ));
    let assigned = ran.table("assign.data");
    let clusters: Vec<usize> = floats(assigned, "Assignments").iter().map(|c| *c as usize).collect();
    let on = |columns: &[&str]| {
        let rows: Vec<Vec<f64>> =
            (0..assigned.height()).map(|i| columns.iter().map(|c| floats(assigned, c)[i]).collect()).collect();
        pipewright_nodes::evaluate::metrics::silhouette(&rows, &clusters, 10_000, 0).expect("defined")
    };
    let petals = on(&["petal_length", "petal_width"]);
    let all = on(&["sepal_length", "sepal_width", "petal_length", "petal_width"]);
    assert!((petals - all).abs() > 0.05, "the two differ enough to tell apart: {petals} vs {all}");
    assert_close("silhouette", ran.metric("evaluate.report", "silhouette"), petals, 1e-12);
}

// ------------------------------------------------------------------------------------- cross-validation

#[test]
fn cross_validate_model_matches_scikit_learn_on_the_same_folds() {
    // Multinomial logistic regression on raw iris, 5 stratified folds.
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("logistic", "model.logistic_regression_multiclass", json!({})),
            ("cv", "train.cross_validate_model", json!({"folds": 5, "seed": 11})),
        ],
        &[("logistic.learner", "cv.learner"), ("data.data", "cv.data")],
    ));
    let scored = ran.table("cv.scored");
    let folds: Vec<usize> = floats(scored, "Fold").iter().map(|f| *f as usize - 1).collect();
    assert_eq!(folds, fx_indices("cross_validate/iris_logistic/fold_of"), "same fold of every row, in input order");
    let evaluations = ran.evaluations("cv.report");
    assert_eq!(evaluations.iter().map(|e| e.source.as_str()).collect::<Vec<_>>()[..3], ["mean", "std", "fold 1"]);
    for (f, expected) in fx("cross_validate/iris_logistic/accuracy").as_array().expect("array").iter().enumerate() {
        let ours = evaluations[2 + f].metric("accuracy").expect("accuracy");
        assert_close(&format!("fold {} accuracy", f + 1), ours, expected.as_f64().expect("number"), 1e-12);
    }
    assert_close(
        "mean accuracy",
        ran.metric("cv.report", "accuracy"),
        fx_f64("cross_validate/iris_logistic/mean_accuracy"),
        1e-12,
    );
    // Least squares on raw diabetes, 5 plain folds.
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "diabetes"})),
            ("ols", "model.linear_regression", json!({})),
            ("cv", "train.cross_validate_model", json!({"folds": 5, "seed": 3})),
        ],
        &[("ols.learner", "cv.learner"), ("data.data", "cv.data")],
    ));
    let evaluations = ran.evaluations("cv.report");
    for (f, expected) in fx("cross_validate/diabetes_linear/r2").as_array().expect("array").iter().enumerate() {
        assert_close(
            &format!("fold {} R²", f + 1),
            evaluations[2 + f].metric("r2").expect("r2"),
            expected.as_f64().expect("number"),
            1e-9,
        );
    }
    assert_close("mean R²", ran.metric("cv.report", "r2"), fx_f64("cross_validate/diabetes_linear/mean_r2"), 1e-9);
    assert_eq!(ran.table("cv.scored").height(), 442, "every row scored once");
}

#[test]
fn cross_validate_model_takes_its_folds_from_a_fold_column() {
    // Two separable groups; the folds are given as 10, 2 and 1: numerically sorted they are folds 3, 2, 1.
    use std::fmt::Write as _;
    let mut csv = String::from("x,label,fold\n");
    for i in 0..24 {
        let fold = [10, 2, 1][i % 3];
        let (x, label) = if i % 2 == 0 { (i as f64 * 0.1, "low") } else { (5.0 + i as f64 * 0.1, "high") };
        let _ = writeln!(csv, "{x},{label},{fold}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("folds.csv"), &csv).expect("write");
    let cv = |fold_column: Json| {
        workflow(
            &[
                ("data", "data.import_data", json!({"path": "folds.csv"})),
                ("tree", "model.decision_tree", json!({})),
                (
                    "cv",
                    "train.cross_validate_model",
                    json!({"label_column": "label", "folds": 5, "fold_column": fold_column}),
                ),
            ],
            &[("tree.learner", "cv.learner"), ("data.data", "cv.data")],
        )
    };
    let ran = run_in(dir.path(), cv(json!("fold")));
    let scored = ran.table("cv.scored");
    let folds: Vec<f64> = floats(scored, "Fold");
    let expected: Vec<f64> = (0..24).map(|i| [3.0, 2.0, 1.0][i % 3]).collect();
    assert_eq!(
        folds, expected,
        "the column's values, numerically sorted, are the folds; the folds parameter is ignored"
    );
    assert!(scored.frame.column("fold").is_err(), "the fold column is not a feature and does not come back");
    assert_eq!(ran.evaluations("cv.report").len(), 2 + 3, "mean, std and one evaluation per given fold");
    assert_eq!(ran.metric("cv.report", "accuracy"), 1.0);

    // A row without a fold, and a column naming a single fold, are refused by name.
    std::fs::write(dir.path().join("folds.csv"), "x,label,fold\n1.0,low,1\n2.0,high,\n3.0,low,2\n").expect("write");
    let ran = run_in(dir.path(), cv(json!("fold")));
    assert!(ran.error("cv").contains("row 2 has no fold"), "{}", ran.error("cv"));
    std::fs::write(dir.path().join("folds.csv"), "x,label,fold\n1.0,low,1\n2.0,high,1\n").expect("write");
    let ran = run_in(dir.path(), cv(json!("fold")));
    assert!(ran.error("cv").contains("fewer than two folds"), "{}", ran.error("cv"));
}

#[test]
fn cross_validate_model_refuses_more_folds_than_rows_and_a_single_class() {
    let csv = "x,y\n1,a\n2,a\n3,a\n";
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "one_class.csv", csv);
    let cv = |folds: u32| {
        workflow(
            &[
                ("data", "data.import_data", json!({"path": "one_class.csv"})),
                ("forest", "model.decision_forest", json!({})),
                ("cv", "train.cross_validate_model", json!({"folds": folds, "label_column": "y"})),
            ],
            &[("forest.learner", "cv.learner"), ("data.data", "cv.data")],
        )
    };
    let ran = run_in(dir.path(), cv(5));
    assert!(ran.error("cv").contains("5 folds need at least 5 rows; the table has 3"), "{}", ran.error("cv"));
    let ran = run_in(dir.path(), cv(2));
    assert!(ran.error("cv").contains("has 1 class"), "{}", ran.error("cv"));
}

// ------------------------------------------------------------------------------------------------ PCA

#[test]
fn principal_component_analysis_matches_scikit_learn_and_replays_on_other_data() {
    for (variant, scale) in [("raw", false), ("scaled", true)] {
        let ran = run(workflow(
            &[
                ("data", "data.sample_dataset", json!({"dataset": "iris"})),
                ("pca", "transform.principal_component_analysis", json!({"components": 2, "scale": scale})),
                ("again", "transform.apply_transformation", json!({})),
            ],
            &[("data.data", "pca.data"), ("pca.transform", "again.transform"), ("data.data", "again.data")],
        ));
        let table = ran.table("pca.data");
        assert_eq!(names(table), ["species", "PC1", "PC2"], "measurements replaced by the components");
        let state = &ran.transform("pca.transform").state;
        for k in 0..2 {
            let ratio = state["explained_variance_ratio"][k].as_f64().expect("ratio");
            let expected = fx_f64(&format!("pca_iris/{variant}/explained_variance_ratio/{k}"));
            assert_close(&format!("{variant} ratio {k}"), ratio, expected, 1e-10);
            let variance = state["explained_variance"][k].as_f64().expect("variance");
            assert_close(
                &format!("{variant} variance {k}"),
                variance,
                fx_f64(&format!("pca_iris/{variant}/explained_variance/{k}")),
                1e-10,
            );
            for j in 0..4 {
                let ours = state["components"][k][j].as_f64().expect("component");
                let theirs = fx_f64(&format!("pca_iris/{variant}/components/{k}/{j}"));
                assert_close(&format!("{variant} component {k}[{j}]"), ours, theirs, 1e-9);
            }
            let scores = floats(table, &format!("PC{}", k + 1));
            for (i, score) in scores.iter().take(5).enumerate() {
                assert_close(
                    &format!("{variant} row {i} PC{}", k + 1),
                    *score,
                    fx_f64(&format!("pca_iris/{variant}/first_rows/{i}/{k}")),
                    1e-9,
                );
            }
            assert_eq!(
                floats(ran.table("again.data"), &format!("PC{}", k + 1)),
                scores,
                "Apply Transformation replays it"
            );
        }
    }
}

#[test]
fn principal_component_analysis_refuses_too_many_components_and_missing_values() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("pca", "transform.principal_component_analysis", json!({"components": 5})),
        ],
        &[("data.data", "pca.data")],
    ));
    assert!(ran.error("pca").contains("5 components asked for, but 4 columns"), "{}", ran.error("pca"));
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("pca", "transform.principal_component_analysis", json!({})),
        ],
        &[("data.data", "pca.data")],
    ));
    assert!(ran.error("pca").contains("missing values"), "{}", ran.error("pca"));
}

// ------------------------------------------------------------------------------- feature importance

#[test]
fn permutation_feature_importance_finds_the_feature_the_label_depends_on() {
    // y depends on x1 only; x2 is noise. Shuffling x1 takes a perfect classifier to about chance.
    let mut csv = String::from("x1,x2,y\n");
    for i in 0..200 {
        let x1 = f64::from((i * 37) % 200) / 100.0 - 0.995;
        let x2 = f64::from((i * 91) % 200) / 200.0;
        writeln!(csv, "{x1},{x2},{}", if x1 > 0.0 { "yes" } else { "no" }).expect("write");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "xy.csv", &csv);
    let graph = workflow(
        &[
            ("data", "data.import_data", json!({"path": "xy.csv"})),
            ("logistic", "model.logistic_regression_two_class", json!({})),
            ("train", "train.train_model", json!({"label_column": "y"})),
            ("importance", "evaluate.permutation_feature_importance", json!({"repeats": 10, "seed": 5})),
        ],
        &[
            ("logistic.learner", "train.learner"),
            ("data.data", "train.data"),
            ("train.model", "importance.model"),
            ("data.data", "importance.data"),
        ],
    );
    let ran = run_in(dir.path(), graph.clone());
    let table = ran.table("importance.importance");
    assert_eq!(texts(table, "feature"), [Some("x1".to_owned()), Some("x2".to_owned())], "most important first");
    let mean = floats(table, "importance_mean");
    assert!(mean[0] > 0.3 && mean[0] < 0.7, "shuffling x1 costs about half the accuracy: {mean:?}");
    assert!(mean[1].abs() < 0.02, "x2 does not matter: {mean:?}");
    assert!(floats(table, "importance_std")[0] > 0.0);
    let again = run_in(dir.path(), graph);
    assert_eq!(floats(again.table("importance.importance"), "importance_mean"), mean, "same seed, same shuffles");
}

// ------------------------------------------------------------------------------------------ tuning

#[test]
fn tune_model_hyperparameters_ranks_every_grid_setting_by_what_training_it_alone_gives() {
    let graph = |extra: (&'static str, &'static str, Json)| {
        workflow(
            &[
                ("data", "data.sample_dataset", json!({"dataset": "breast_cancer"})),
                ("normalize", "transform.normalize_data", json!({})),
                ("split", "transform.split_data", json!({"fraction": 0.7, "seed": 3})),
                ("logistic", "model.logistic_regression_two_class", json!({})),
                extra,
            ],
            &[
                ("data.data", "normalize.data"),
                ("normalize.data", "split.data"),
                ("logistic.learner", "tune.learner"),
                ("split.first", "tune.data"),
                ("split.second", "tune.validation"),
            ],
        )
    };
    let ran = run(graph((
        "tune",
        "train.tune_model_hyperparameters",
        json!({"mode": "entire_grid", "grid_points": 5, "metric": "log_loss"}),
    )));
    let sweep = ran.table("tune.sweep");
    assert_eq!(sweep.height(), 5, "five values of the one tunable parameter");
    let weights = floats(sweep, "l2_weight");
    let losses = floats(sweep, "log_loss");
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "best (lowest log loss) first: {losses:?}");
    // Each row's metric is what training with that weight alone gives on the validation rows.
    for (weight, loss) in weights.iter().zip(&losses) {
        let alone = run(workflow(
            &[
                ("data", "data.sample_dataset", json!({"dataset": "breast_cancer"})),
                ("normalize", "transform.normalize_data", json!({})),
                ("split", "transform.split_data", json!({"fraction": 0.7, "seed": 3})),
                ("logistic", "model.logistic_regression_two_class", json!({"l2_weight": weight})),
                ("train", "train.train_model", json!({})),
                ("score", "train.score_model", json!({})),
                ("evaluate", "evaluate.evaluate_model", json!({})),
            ],
            &[
                ("data.data", "normalize.data"),
                ("normalize.data", "split.data"),
                ("logistic.learner", "train.learner"),
                ("split.first", "train.data"),
                ("train.model", "score.model"),
                ("split.second", "score.data"),
                ("score.data", "evaluate.scored"),
            ],
        ));
        assert_close(&format!("log loss at l2 {weight}"), *loss, alone.metric("evaluate.report", "log_loss"), 1e-12);
    }
    let best = ran.model("tune.model");
    let state_weight = weights[0];
    assert_eq!(best.name, "Two-Class Logistic Regression");
    assert!(state_weight > 0.0);
    // A random sweep with cross-validation: reproducible for one seed.
    let sweep_of = |seed: u64| {
        let ran =
            run(graph(("tune", "train.tune_model_hyperparameters", json!({"runs": 4, "folds": 3, "seed": seed}))));
        floats(ran.table("tune.sweep"), "l2_weight")
    };
    let a = sweep_of(9);
    assert_eq!(a.len(), 4);
    assert_eq!(a, sweep_of(9));
    assert_ne!(a, sweep_of(10));
}

#[test]
fn tune_model_hyperparameters_refuses_a_clustering_learner_and_an_oversized_grid() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("kmeans", "model.kmeans", json!({})),
            ("tune", "train.tune_model_hyperparameters", json!({})),
        ],
        &[("kmeans.learner", "tune.learner"), ("data.data", "tune.data")],
    ));
    assert!(ran.error("tune").contains("clustering learner"), "{}", ran.error("tune"));
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("forest", "model.decision_forest", json!({})),
            ("tune", "train.tune_model_hyperparameters", json!({"mode": "entire_grid", "grid_points": 20})),
        ],
        &[("forest.learner", "tune.learner"), ("data.data", "tune.data")],
    ));
    assert!(ran.error("tune").contains("at most 1000"), "{}", ran.error("tune"));
}

// ------------------------------------------------------------------------------- feature selection

#[test]
fn filter_based_feature_selection_scores_like_scikit_learn_and_keeps_the_best() {
    for method in ["chi_squared", "pearson", "mutual_information"] {
        let ran = run(workflow(
            &[
                ("data", "data.sample_dataset", json!({"dataset": "iris"})),
                ("select", "transform.filter_based_feature_selection", json!({"method": method, "features": 2})),
            ],
            &[("data.data", "select.data")],
        ));
        let scores = ran.table("select.scores");
        let features = texts(scores, "feature");
        let values = floats(scores, "score");
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{method}: best first");
        for (feature, score) in features.iter().zip(&values) {
            let feature = feature.as_deref().expect("name");
            assert_close(
                &format!("{method} {feature}"),
                *score,
                fx_f64(&format!("feature_selection_iris/{method}/{feature}")),
                1e-9,
            );
        }
        let table = ran.table("select.data");
        let kept: Vec<String> = features.iter().take(2).map(|f| f.clone().expect("name")).collect();
        for feature in features.iter().flatten() {
            let ignored = table.role(feature) == Role::Ignored;
            assert_eq!(ignored, !kept.contains(feature), "{method}: {feature}");
        }
    }
}

// -------------------------------------------------------------------------------------- one-vs-all

#[test]
fn one_vs_all_around_two_class_logistic_regression_matches_scikit_learn() {
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("logistic", "model.logistic_regression_two_class", json!({})),
            ("ova", "model.one_vs_all", json!({})),
            ("train", "train.train_model", json!({})),
            ("score", "train.score_model", json!({})),
            ("evaluate", "evaluate.evaluate_model", json!({})),
        ],
        &[
            ("logistic.learner", "ova.learner"),
            ("ova.learner", "train.learner"),
            ("data.data", "train.data"),
            ("train.model", "score.model"),
            ("data.data", "score.data"),
            ("score.data", "evaluate.scored"),
        ],
    ));
    assert_close("accuracy", ran.metric("evaluate.report", "accuracy"), fx_f64("one_vs_all_iris/accuracy"), 1e-12);
    let scored = ran.table("score.data");
    let classes = fx_strings("one_vs_all_iris/classes");
    for (block, first) in [("first_probabilities", 0), ("rows_51_to_55", 50)] {
        for i in 0..5 {
            for (k, class) in classes.iter().enumerate() {
                let ours = floats(scored, &format!("Scored Probabilities_{class}"))[first + i];
                assert_close(
                    &format!("row {} P({class})", first + i),
                    ours,
                    fx_f64(&format!("one_vs_all_iris/{block}/{i}/{k}")),
                    1e-5,
                );
            }
        }
    }
    // A multiclass learner cannot be wrapped.
    let ran = run(workflow(
        &[("forest", "model.kmeans", json!({})), ("ova", "model.one_vs_all", json!({}))],
        &[("forest.learner", "ova.learner")],
    ));
    assert!(ran.error("ova").contains("not a two-class learner"), "{}", ran.error("ova"));
}

// ------------------------------------------------------------------------------------- side effects

#[test]
fn export_data_writes_its_file_on_every_run_even_with_the_caches_warm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("export", "data.export_data", json!({"path": "out/iris.csv"})),
        ],
        &[("data.data", "export.data")],
    );
    let options = RunOptions {
        base_dir: dir.path().to_path_buf(),
        memory_cache: Some(std::sync::Arc::new(pipewright_engine::MemoryCache::new())),
        disk_cache: Some(pipewright_engine::DiskCache::for_project(dir.path())),
        ..RunOptions::default()
    };
    let catalog = pipewright_nodes::catalog();
    let file = dir.path().join("out/iris.csv");
    for attempt in 0..2 {
        let report = pipewright_engine::run(&graph, &catalog, &options, &|_| {}).expect("runs");
        assert!(file.exists(), "run {attempt} wrote the file");
        assert_eq!(report.node("export").map(|o| &o.status), Some(&NodeStatus::Finished), "never served from a cache");
        if attempt == 0 {
            assert!(matches!(report.node("data").map(|o| &o.status), Some(NodeStatus::Finished)));
            std::fs::remove_file(&file).expect("delete");
        } else {
            assert!(
                matches!(report.node("data").map(|o| &o.status), Some(NodeStatus::Cached { .. })),
                "other blocks still cache"
            );
        }
    }
}

// ------------------------------------------------------------------------------- degenerate input

#[test]
fn infinite_features_a_class_rarer_than_the_folds_and_untrainable_settings_get_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut csv = String::from("x,y\n");
    for i in 0..22 {
        let class = if i < 10 {
            "a"
        } else if i < 20 {
            "b"
        } else {
            "c"
        };
        writeln!(csv, "{},{class}", i % 7).expect("write");
    }
    write(dir.path(), "rare.csv", &csv);
    // log(0) is -inf: training on it is refused with a way out, instead of a model that cannot be used.
    let ran = run_in(
        dir.path(),
        workflow(
            &[
                ("data", "data.import_data", json!({"path": "rare.csv"})),
                ("log", "transform.apply_math_operation", json!({"columns": ["x"], "operation": "log"})),
                ("forest", "model.decision_forest", json!({})),
                ("train", "train.train_model", json!({"label_column": "y"})),
            ],
            &[("data.data", "log.data"), ("log.data", "train.data"), ("forest.learner", "train.learner")],
        ),
    );
    assert!(ran.error("train").contains("infinite values"), "{}", ran.error("train"));
    // Class "c" has 2 rows: 5 folds would train some folds without it.
    let cv = |kind: &'static str, params: Json| {
        workflow(
            &[
                ("data", "data.import_data", json!({"path": "rare.csv"})),
                ("knn", "model.knn_classifier", json!({"neighbors": 30})),
                ("block", kind, params),
            ],
            &[("data.data", "block.data"), ("knn.learner", "block.learner")],
        )
    };
    let ran = run_in(dir.path(), cv("train.cross_validate_model", json!({"folds": 5, "label_column": "y"})));
    assert!(ran.error("block").contains("class \"c\" has only 2 rows"), "{}", ran.error("block"));
    // A sweep where no setting can be trained says why, instead of naming a parameter the user cannot set.
    let ran = run_in(
        dir.path(),
        cv("train.tune_model_hyperparameters", json!({"folds": 2, "label_column": "y", "runs": 3, "seed": 1})),
    );
    assert!(ran.error("block").contains("no setting could be measured"), "{}", ran.error("block"));
}

// --------------------------------------------------------------------------------------------- SQL

#[test]
fn apply_sql_transformation_groups_like_pandas_and_joins_two_inputs() {
    let query = "SELECT species, AVG(bill_length_mm) AS mean_bill, COUNT(*) AS n FROM t1 \
                 WHERE bill_length_mm IS NOT NULL GROUP BY species ORDER BY species";
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "penguins"})),
            ("sql", "transform.apply_sql_transformation", json!({"query": query})),
        ],
        &[("data.data", "sql.t1")],
    ));
    let table = ran.table("sql.data");
    let species: Vec<String> = texts(table, "species").into_iter().flatten().collect();
    assert_eq!(species, fx_strings("sql_penguins/species"));
    for (i, mean) in floats(table, "mean_bill").iter().enumerate() {
        assert_close(
            &format!("mean bill of {}", species[i]),
            *mean,
            fx_f64(&format!("sql_penguins/mean_bill/{i}")),
            1e-12,
        );
    }
    let counts: Vec<usize> = floats(table, "n").iter().map(|v| *v as usize).collect();
    assert_eq!(counts, fx_indices("sql_penguins/n"));
    // Two inputs joined by the query; the label role survives where the column keeps its name.
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            (
                "sql",
                "transform.apply_sql_transformation",
                json!({"query": "SELECT a.species, a.sepal_length, b.petal_length FROM t1 a JOIN (SELECT DISTINCT species, MAX(petal_length) AS petal_length FROM t2 GROUP BY species) b ON a.species = b.species"}),
            ),
        ],
        &[("data.data", "sql.t1"), ("data.data", "sql.t2")],
    ));
    let joined = ran.table("sql.data");
    assert_eq!(joined.height(), 150);
    assert_eq!(joined.role("species"), Role::Label);
    // A bad query names the problem.
    let ran = run(workflow(
        &[
            ("data", "data.sample_dataset", json!({"dataset": "iris"})),
            ("sql", "transform.apply_sql_transformation", json!({"query": "SELECT nope FROM t1"})),
        ],
        &[("data.data", "sql.t1")],
    ));
    assert!(ran.error("sql").contains("the query failed"), "{}", ran.error("sql"));
}
