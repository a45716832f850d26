//! Scheduler, cache keys, cancellation, determinism and validation, with small test kinds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipewright_engine::spec::{float, int};
use pipewright_engine::*;
use polars::prelude::{Column, DataFrame, IntoColumn};
use serde_json::json;

static SOURCE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Emits a one-column table `x` = [value; rows], or random values from its seed.
struct Source;
impl NodeKind for Source {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.source", "Source", Category::Data, "a constant or random column")
            .param("value", "Value", float(-1e9, 1e9), json!(1.0), "")
            .param("rows", "Rows", int(1, 1000), json!(3), "")
            .param("random", "Random", ParamKind::Bool, json!(false), "")
            .param("seed", "Seed", ParamKind::Seed, serde_json::Value::Null, "")
            .output("data", PortType::Table, "the table")
    }
    fn output_schemas(&self, _: &[Option<Schema>], _: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![Some(Schema {
            columns: vec![ColumnInfo { name: "x".into(), ty: ColumnType::Numeric, role: Role::Feature }],
        })]
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        SOURCE_RUNS.fetch_add(1, Ordering::SeqCst);
        let rows = ctx.params.count("rows")?;
        let values: Vec<f64> = if ctx.params.bool("random")? {
            let mut rng = rng::SplitMix64::new(ctx.params.seed("seed")?);
            (0..rows).map(|_| rng.next_f64()).collect()
        } else {
            vec![ctx.params.float("value")?; rows]
        };
        let frame = DataFrame::new(rows, vec![Column::new("x".into(), values)])?;
        Ok(vec![Value::Table(Arc::new(Table::new(frame)))])
    }
}

/// Adds two tables' `x` columns; sleeps `sleep_ms` first, checking for cancellation.
struct Add;
impl NodeKind for Add {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.add", "Add", Category::Transform, "a + b")
            .input("a", PortType::Table, "left")
            .optional_input("b", PortType::Table, "right")
            .param("sleep_ms", "Sleep", int(0, 10_000), json!(0), "")
            .param("column", "Column", ParamKind::Column { port: "a" }, json!("x"), "")
            .output("sum", PortType::Table, "a + b")
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let deadline = Instant::now() + Duration::from_millis(ctx.params.count("sleep_ms")? as u64);
        while Instant::now() < deadline {
            ctx.check_cancelled()?;
            std::thread::sleep(Duration::from_millis(5));
        }
        let a = ctx.table("a")?;
        let mut x = a.frame.column("x")?.as_materialized_series().clone();
        if let Some(b) = ctx.optional_table("b")? {
            x = (&x + b.frame.column("x")?.as_materialized_series())?;
        }
        let frame = DataFrame::new(x.len(), vec![x.into()])?;
        Ok(vec![Value::Table(Arc::new(Table::new(frame)))])
    }
}

/// Doubles `x` of the table it takes, in the column's own buffer when nothing else holds it; `in_place` says
/// whether it could.
struct Double;
impl NodeKind for Double {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.double", "Double", Category::Transform, "2 x").input("a", PortType::Table, "in").output(
            "out",
            PortType::Table,
            "x doubled, and whether in place",
        )
    }
    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.take_table("a")?;
        let mut x = table.frame.column("x")?.f64()?.clone();
        drop(table);
        let before = x.downcast_iter().next().map(|a| a.values().as_ptr());
        x.apply_mut(|v| 2.0 * v);
        let in_place = x.downcast_iter().next().map(|a| a.values().as_ptr()) == before;
        let rows = x.len();
        let frame =
            DataFrame::new(x.len(), vec![x.into_column(), Column::new("in_place".into(), vec![in_place; rows])])?;
        Ok(vec![Value::Table(Arc::new(Table::new(frame)))])
    }
}

/// Always fails.
struct Fail;
impl NodeKind for Fail {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.fail", "Fail", Category::Transform, "fails").input("a", PortType::Table, "in").output(
            "out",
            PortType::Table,
            "out",
        )
    }
    fn run(&self, _: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Err(NodeError::data("column \"y\" is missing"))
    }
}

/// Takes a model (to test port type checks).
struct NeedsModel;
impl NodeKind for NeedsModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.needs_model", "Needs Model", Category::Train, "")
            .input("model", PortType::Model, "a model")
            .output("out", PortType::Table, "")
    }
    fn run(&self, _: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Err(NodeError::data("unreachable in tests"))
    }
}

fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.register(Source);
    c.register(Add);
    c.register(Double);
    c.register(Fail);
    c.register(NeedsModel);
    c
}

fn node(id: &str, kind: &str, params: &serde_json::Value) -> Node {
    let params: BTreeMap<String, serde_json::Value> =
        params.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    Node { id: id.into(), kind: kind.into(), title: None, params, position: [0.0, 0.0] }
}

fn edge(from: &str, fp: &str, to: &str, tp: &str) -> Edge {
    Edge { from: PortRef::new(from, fp), to: PortRef::new(to, tp) }
}

/// s1, s2 → a1 (s1 + s2) → a2 (a1 alone)
fn diamond(sleep_ms: u64) -> Workflow {
    let mut wf = Workflow::new("diamond");
    wf.nodes = vec![
        node("s1", "test.source", &json!({"value": 1.0})),
        node("s2", "test.source", &json!({"value": 2.0})),
        node("a1", "test.add", &json!({"sleep_ms": sleep_ms})),
        node("a2", "test.add", &json!({})),
    ];
    wf.edges = vec![edge("s1", "data", "a1", "a"), edge("s2", "data", "a1", "b"), edge("a1", "sum", "a2", "a")];
    wf
}

fn first_x(report: &RunReport, node: &str) -> f64 {
    let outcome = report.node(node).expect("node ran");
    let Value::Table(t) = &outcome.outputs[0] else { panic!("table expected") };
    t.frame.column("x").expect("x").f64().expect("f64").get(0).expect("value")
}

fn collect() -> (Arc<Mutex<Vec<Event>>>, impl Fn(Event) + Sync) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e| sink.lock().expect("lock").push(e))
}

#[test]
fn runs_a_graph_and_reports_events() {
    let (events, sink) = collect();
    let report = run(&diamond(0), &catalog(), &RunOptions::default(), &sink).expect("runs");
    assert!(report.success);
    assert_eq!(first_x(&report, "a2"), 3.0);
    let events = events.lock().expect("lock");
    let finished = events.iter().filter(|e| matches!(e, Event::NodeFinished { .. })).count();
    assert_eq!(finished, 4);
    assert!(matches!(events.last(), Some(Event::RunFinished { success: true, .. })));
}

#[test]
fn independent_branches_run_in_parallel() {
    // Two 300 ms nodes on separate branches finish in well under 600 ms with two workers.
    let mut wf = Workflow::new("parallel");
    wf.nodes = vec![
        node("s", "test.source", &json!({})),
        node("p1", "test.add", &json!({"sleep_ms": 300})),
        node("p2", "test.add", &json!({"sleep_ms": 300})),
    ];
    wf.edges = vec![edge("s", "data", "p1", "a"), edge("s", "data", "p2", "a")];
    let (events, sink) = collect();
    let options = RunOptions { threads: 2, ..RunOptions::default() };
    run(&wf, &catalog(), &options, &sink).expect("runs");
    // Overlap is proven by order, not by timing: both started before either finished.
    let events = events.lock().expect("lock");
    let position = |pred: &dyn Fn(&Event) -> bool| events.iter().position(pred).expect("event present");
    let second_start = position(&|e| matches!(e, Event::NodeStarted { node } if node == "p2"))
        .max(position(&|e| matches!(e, Event::NodeStarted { node } if node == "p1")));
    let first_finish = position(&|e| matches!(e, Event::NodeFinished { node, .. } if node.starts_with('p')));
    assert!(second_start < first_finish, "{events:?}");
}

#[test]
fn memory_cache_serves_unchanged_nodes_and_reruns_changed_ones() {
    let memory = Arc::new(MemoryCache::new());
    let options = RunOptions { memory_cache: Some(memory.clone()), ..RunOptions::default() };
    let mut wf = diamond(0);
    run(&wf, &catalog(), &options, &|_| {}).expect("first run");
    let again = run(&wf, &catalog(), &options, &|_| {}).expect("second run");
    assert!(again.nodes.iter().all(|n| n.status == NodeStatus::Cached { from_disk: false }));
    // Changing a parameter of a2 re-runs a2 alone.
    wf.node_mut("a2").expect("a2").params.insert("sleep_ms".into(), json!(1));
    let changed = run(&wf, &catalog(), &options, &|_| {}).expect("third run");
    let ran: Vec<_> =
        changed.nodes.iter().filter(|n| n.status == NodeStatus::Finished).map(|n| n.node.as_str()).collect();
    assert_eq!(ran, ["a2"]);
    // Changing s1 re-runs s1 and its descendants, not s2.
    wf.node_mut("s1").expect("s1").params.insert("value".into(), json!(5.0));
    let changed = run(&wf, &catalog(), &options, &|_| {}).expect("fourth run");
    let ran: Vec<_> =
        changed.nodes.iter().filter(|n| n.status == NodeStatus::Finished).map(|n| n.node.as_str()).collect();
    assert_eq!(ran, ["s1", "a1", "a2"]);
    assert_eq!(first_x(&changed, "a2"), 7.0);
}

#[test]
fn cache_keys_depend_on_kind_params_inputs_and_wiring_only() {
    let c = catalog();
    let base = plan(&diamond(0), &c, std::path::Path::new("."), None).expect("plans");
    let fp = |p: &Plan, wf: &Workflow, id: &str| {
        p.fingerprints[wf.nodes.iter().position(|n| n.id == id).expect("node")].clone()
    };
    let wf = diamond(0);
    // A default written out explicitly is the same parameter value.
    let mut explicit = diamond(0);
    explicit.node_mut("a2").expect("a2").params.insert("sleep_ms".into(), json!(0));
    let p2 = plan(&explicit, &c, std::path::Path::new("."), None).expect("plans");
    assert_eq!(fp(&base, &wf, "a2"), fp(&p2, &explicit, "a2"));
    // Moving a node or renaming its title does not change its key.
    let mut moved = diamond(0);
    moved.node_mut("a1").expect("a1").position = [500.0, 500.0];
    moved.node_mut("a1").expect("a1").title = Some("renamed".into());
    let p3 = plan(&moved, &c, std::path::Path::new("."), None).expect("plans");
    assert_eq!(fp(&base, &wf, "a1"), fp(&p3, &moved, "a1"));
    // Swapping the two inputs changes the key.
    let mut swapped = diamond(0);
    swapped.edges = vec![edge("s2", "data", "a1", "a"), edge("s1", "data", "a1", "b"), edge("a1", "sum", "a2", "a")];
    let p4 = plan(&swapped, &c, std::path::Path::new("."), None).expect("plans");
    assert_ne!(fp(&base, &wf, "a1"), fp(&p4, &swapped, "a1"));
    assert_ne!(fp(&base, &wf, "a2"), fp(&p4, &swapped, "a2"), "a descendant's key follows its inputs");
    // Two sources with different values differ.
    assert_ne!(fp(&base, &wf, "s1"), fp(&base, &wf, "s2"));
}

#[test]
fn disk_cache_survives_a_new_process_and_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = DiskCache::for_project(dir.path());
    let options = RunOptions { disk_cache: Some(disk.clone()), ..RunOptions::default() };
    let first = run(&diamond(0), &catalog(), &options, &|_| {}).expect("first");
    assert!(first.nodes.iter().all(|n| n.status == NodeStatus::Finished));
    // A fresh memory cache (as in a new process) with the same disk cache.
    let options = RunOptions {
        disk_cache: Some(disk),
        memory_cache: Some(Arc::new(MemoryCache::new())),
        ..RunOptions::default()
    };
    let second = run(&diamond(0), &catalog(), &options, &|_| {}).expect("second");
    assert!(second.nodes.iter().all(|n| n.status == NodeStatus::Cached { from_disk: true }), "{:?}", second.nodes);
    assert_eq!(first_x(&second, "a2"), 3.0);
}

#[test]
fn run_up_to_a_node_runs_its_ancestors_only() {
    let report =
        run(&diamond(0), &catalog(), &RunOptions { target: Some("a1".into()), ..RunOptions::default() }, &|_| {})
            .expect("runs");
    let ran: Vec<_> = report.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(ran.len(), 3);
    assert!(!ran.contains(&"a2"));
    let err =
        run(&diamond(0), &catalog(), &RunOptions { target: Some("nope".into()), ..RunOptions::default() }, &|_| {})
            .expect_err("unknown target");
    assert!(err.to_string().contains("nope"));
}

#[test]
fn a_failure_names_the_node_and_skips_only_its_descendants() {
    let mut wf = diamond(0);
    wf.nodes.push(node("bad", "test.fail", &json!({})));
    wf.nodes.push(node("after", "test.add", &json!({})));
    wf.edges.push(edge("s1", "data", "bad", "a"));
    wf.edges.push(edge("bad", "out", "after", "a"));
    let (events, sink) = collect();
    let report = run(&wf, &catalog(), &RunOptions::default(), &sink).expect("runs");
    assert!(!report.success);
    assert_eq!(report.node("bad").expect("bad").status, NodeStatus::Failed("column \"y\" is missing".into()));
    assert!(matches!(report.node("after").expect("after").status, NodeStatus::Skipped(_)));
    assert_eq!(report.node("a2").expect("a2").status, NodeStatus::Finished, "independent branch still runs");
    assert!(events.lock().expect("lock").iter().any(|e| matches!(e, Event::NodeFailed { node, .. } if node == "bad")));
}

#[test]
fn cancellation_stops_running_nodes_and_skips_the_rest() {
    let cancel = CancelToken::new();
    let options = RunOptions { cancel: cancel.clone(), ..RunOptions::default() };
    let canceller = cancel.clone();
    let sink = move |e: Event| {
        if matches!(&e, Event::NodeStarted { node } if node == "a1") {
            canceller.cancel();
        }
    };
    let started = Instant::now();
    let report = run(&diamond(5_000), &catalog(), &options, &sink).expect("runs");
    assert!(report.cancelled);
    assert!(!report.success);
    assert!(started.elapsed() < Duration::from_secs(4), "a1 noticed the stop instead of sleeping 5 s");
    assert!(matches!(report.node("a1").expect("a1").status, NodeStatus::Failed(ref m) if m == "cancelled"));
    assert!(matches!(report.node("a2").expect("a2").status, NodeStatus::Skipped(_)));
}

#[test]
fn seeds_derive_from_the_workflow_and_node_and_are_reproducible() {
    let mut wf = Workflow::new("seeds");
    wf.seed = 11;
    wf.nodes =
        vec![node("r1", "test.source", &json!({"random": true})), node("r2", "test.source", &json!({"random": true}))];
    let a = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    let b = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    assert_eq!(first_x(&a, "r1"), first_x(&b, "r1"), "same file, same numbers");
    assert_ne!(first_x(&a, "r1"), first_x(&a, "r2"), "two nodes draw differently");
    wf.seed = 12;
    let c = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    assert_ne!(first_x(&a, "r1"), first_x(&c, "r1"), "the workflow seed matters");
    wf.node_mut("r1").expect("r1").params.insert("seed".into(), json!(99));
    wf.node_mut("r2").expect("r2").params.insert("seed".into(), json!(99));
    let d = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    assert_eq!(first_x(&d, "r1"), first_x(&d, "r2"), "an explicit seed wins");
}

#[test]
fn validation_reports_every_problem_with_its_node() {
    let mut wf = Workflow::new("broken");
    wf.nodes = vec![
        node("s", "test.source", &json!({"rows": 0})),
        node("ghost", "vendor.ghost", &json!({"keep": 1})),
        node("m", "test.needs_model", &json!({})),
        node("lonely", "test.add", &json!({})),
        node("c1", "test.add", &json!({"column": "nope"})),
        node("c2", "test.add", &json!({})),
    ];
    wf.edges = vec![
        edge("s", "data", "m", "model"),
        edge("c1", "sum", "c2", "a"),
        edge("c2", "sum", "c1", "a"),
        edge("s", "data", "c1", "b"),
    ];
    let problems = validate(&wf, &catalog()).problems;
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let has = |node: &str, needle: &str| {
        problems.iter().any(|p| p.node.as_deref() == Some(node) && p.message.contains(needle))
    };
    assert!(has("s", "between 1 and 1000"), "{text:#?}");
    assert!(has("ghost", "unknown kind \"vendor.ghost\""), "{text:#?}");
    assert!(has("m", "wrong port type"), "{text:#?}");
    assert!(has("lonely", "missing required input \"a\""), "{text:#?}");
    assert!(has("c1", "cycle (c1 → c2 → c1)") || has("c1", "cycle (c2 → c1 → c2)"), "{text:#?}");
    assert!(has("c2", "cycle"), "{text:#?}");
    let err = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect_err("invalid");
    assert!(matches!(err, RunError::Invalid(ref p) if p.len() == problems.len()));
}

#[test]
fn schema_propagation_checks_column_parameters_before_running() {
    let mut wf = Workflow::new("schema");
    wf.nodes = vec![node("s", "test.source", &json!({})), node("a", "test.add", &json!({"column": "missing"}))];
    wf.edges = vec![edge("s", "data", "a", "a")];
    let analysis = validate(&wf, &catalog());
    assert_eq!(analysis.problems.len(), 1, "{:?}", analysis.problems);
    assert!(analysis.problems[0].message.contains("column \"missing\" is not in input \"a\" (it has: x)"));
    assert_eq!(analysis.input_schema(&wf, "a", "a").expect("known").names(), ["x"]);
}

#[test]
fn run_up_to_a_node_ignores_problems_elsewhere() {
    let mut wf = diamond(0);
    wf.nodes.push(node("broken", "vendor.ghost", &json!({})));
    let report = run(&wf, &catalog(), &RunOptions { target: Some("a2".into()), ..RunOptions::default() }, &|_| {})
        .expect("the target's part is valid");
    assert!(report.success);
}

#[test]
fn a_headless_run_releases_tables_once_their_readers_ran_and_keeps_the_results() {
    let options = RunOptions { release_intermediate: true, ..RunOptions::default() };
    let report = run(&diamond(0), &catalog(), &options, &|_| {}).expect("runs");
    assert!(report.success);
    assert_eq!(first_x(&report, "a2"), 3.0, "the last node keeps its output");
    for read in ["s1", "s2", "a1"] {
        let outcome = report.node(read).expect("ran");
        assert!(outcome.outputs.is_empty(), "{read}'s table is released once its readers ran");
        assert_eq!(outcome.summaries.len(), 1, "{read} keeps the summary of what it produced");
    }
    let kept = run(&diamond(0), &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    assert!(!kept.node("a1").expect("ran").outputs.is_empty(), "the designer's runs keep every output");
}

#[test]
fn blocks_without_kernels_keep_their_cache_key_under_every_device_policy() {
    let wf = diamond(0);
    let c = catalog();
    let auto = pipewright_engine::plan_on(&wf, &c, std::path::Path::new("."), None, pipewright_engine::Device::Auto)
        .expect("plans");
    let gpu = pipewright_engine::plan_on(&wf, &c, std::path::Path::new("."), None, pipewright_engine::Device::Gpu)
        .expect("plans");
    // The test kinds use no kernels: their keys do not depend on the device (nodes/tests/devices.rs checks
    // that blocks with kernels do).
    assert_eq!(auto.fingerprints, gpu.fingerprints);
}

#[test]
fn every_node_is_done_with_its_outputs_in_the_one_event_stream() {
    let (events, sink) = collect();
    let options = RunOptions { release_intermediate: true, ..RunOptions::default() };
    let report = run(&diamond(0), &catalog(), &options, &sink).expect("runs");
    let events = events.lock().expect("lock");
    let done: Vec<&NodeOutcome> =
        events.iter().filter_map(|e| if let Event::NodeDone(Done(o)) = e { Some(o.as_ref()) } else { None }).collect();
    assert_eq!(done.len(), 4, "each node is done once");
    // Subscribers get the outputs themselves, even those a headless run lets go of before it ends.
    for outcome in &done {
        assert!(matches!(outcome.outputs.first(), Some(Value::Table(_))), "{} came without its table", outcome.node);
    }
    let released = report.nodes.iter().filter(|n| n.outputs.is_empty()).count();
    assert!(released > 0, "a headless run released intermediate tables");
    // A node is done after its own finish event and before the run ends.
    let position = |f: &dyn Fn(&Event) -> bool| events.iter().position(f).expect("seen");
    let finished = position(&|e| matches!(e, Event::NodeFinished { node, .. } if node == "a2"));
    let done_at = position(&|e| matches!(e, Event::NodeDone(Done(o)) if o.node == "a2"));
    assert!(finished < done_at && done_at < events.len() - 1);
}

fn in_place(report: &RunReport, node: &str) -> bool {
    let outcome = report.node(node).expect("node ran");
    let Value::Table(t) = &outcome.outputs[0] else { panic!("table expected") };
    t.frame.column("in_place").expect("in_place").bool().expect("bool").get(0).expect("value")
}

#[test]
fn the_last_reader_of_a_table_is_handed_it_and_changes_it_in_place() {
    // s1 → a1 (s1 alone) → d (doubles a1's table): d is a1's only reader.
    let mut wf = Workflow::new("hand over");
    wf.nodes = vec![
        node("s1", "test.source", &json!({"value": 1.5})),
        node("a1", "test.add", &json!({})),
        node("d", "test.double", &json!({})),
    ];
    wf.edges = vec![edge("s1", "data", "a1", "a"), edge("a1", "sum", "d", "a")];
    let headless = RunOptions { release_intermediate: true, ..RunOptions::default() };
    let report = run(&wf, &catalog(), &headless, &|_| {}).expect("runs");
    assert!(report.success, "{:?}", report.nodes.iter().map(|n| &n.status).collect::<Vec<_>>());
    assert_eq!(first_x(&report, "d"), 3.0);
    assert!(in_place(&report, "d"), "the only reader of a released table owns it");
    assert!(report.node("a1").expect("ran").outputs.is_empty(), "a1's table went to d");

    // The designer keeps every output to show it: d works on a copy, and a1's table is unchanged.
    let report = run(&wf, &catalog(), &RunOptions::default(), &|_| {}).expect("runs");
    assert_eq!(first_x(&report, "d"), 3.0);
    assert!(!in_place(&report, "d"), "a table the run keeps is never changed by a reader");
    assert_eq!(first_x(&report, "a1"), 1.5);
}

#[test]
fn a_table_with_several_readers_is_changed_only_in_a_copy() {
    // s1 → d1, d2 and a1: whichever runs last may own it, the others read the values s1 made.
    let mut wf = Workflow::new("readers");
    wf.nodes = vec![
        node("s1", "test.source", &json!({"value": 1.5})),
        node("d1", "test.double", &json!({})),
        node("d2", "test.double", &json!({})),
        node("a1", "test.add", &json!({})),
    ];
    wf.edges = vec![edge("s1", "data", "d1", "a"), edge("s1", "data", "d2", "a"), edge("s1", "data", "a1", "a")];
    for threads in [1, 3] {
        let headless = RunOptions { release_intermediate: true, threads, ..RunOptions::default() };
        for _ in 0..10 {
            let report = run(&wf, &catalog(), &headless, &|_| {}).expect("runs");
            assert_eq!(first_x(&report, "d1"), 3.0);
            assert_eq!(first_x(&report, "d2"), 3.0);
            assert_eq!(first_x(&report, "a1"), 1.5, "a reader saw a table changed by another");
            let owners = ["d1", "d2"].iter().filter(|d| in_place(&report, d)).count();
            assert!(owners <= 1, "two readers changed one table in place");
        }
    }
}
