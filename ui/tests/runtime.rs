//! The designer's runtime subscribes to the run's one event stream: a block's outputs show the moment the block
//! is done, while later blocks still run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use pipewright_engine::{Category, Device, NodeContext, NodeError, NodeKind, NodeSpec, PortType, Value, Workflow};
use pipewright_ui::{RunSettings, Runtime};

/// Opened by the test: the Gate block waits for it.
static OPEN: AtomicBool = AtomicBool::new(false);

/// A block that passes its table on once the test opens the gate.
struct Gate;

impl NodeKind for Gate {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("test.gate", "Gate", Category::Transform, "Waits until the test lets it finish.")
            .input("data", PortType::Table, "Any table")
            .output("data", PortType::Table, "The same table")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let started = Instant::now();
        while !OPEN.load(Ordering::SeqCst) && started.elapsed() < Duration::from_mins(1) {
            ctx.check_cancelled()?;
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(vec![Value::Table(ctx.table("data")?)])
    }
}

#[test]
fn a_blocks_table_shows_the_moment_it_is_done_while_the_run_goes_on() {
    let mut catalog = pipewright_nodes::catalog();
    catalog.register(Gate);
    let catalog = Arc::new(catalog);
    let workflow: Workflow = serde_json::from_value(json!({
        "format": "pipewright.workflow", "version": 1, "name": "gated", "seed": 1,
        "nodes": [
            {"id": "data", "kind": "data.sample_dataset", "params": {"dataset": "iris"}, "position": [0.0, 0.0]},
            {"id": "gate", "kind": "test.gate", "params": {}, "position": [200.0, 0.0]}
        ],
        "edges": [{"from": {"node": "data", "port": "data"}, "to": {"node": "gate", "port": "data"}}]
    }))
    .expect("a workflow");
    let dir = tempfile::tempdir().expect("a folder");
    let mut runtime = Runtime::default();
    let settings = RunSettings {
        base_dir: dir.path().to_path_buf(),
        target: None,
        device: Device::Cpu,
        disk_cache_dir: None,
        record: None,
        memory_budget: None,
    };
    assert!(runtime.start(&workflow, &catalog, settings, || {}), "{:?}", runtime.last_refusal);
    let started = Instant::now();
    while runtime.outputs("data").is_none() {
        assert!(started.elapsed() < Duration::from_mins(1), "the data block's table never showed");
        std::thread::sleep(Duration::from_millis(5));
        runtime.poll();
    }
    // The table is there while the gate still holds the run open.
    assert!(runtime.is_running(), "the run ended before the gate opened");
    assert!(runtime.outputs("gate").is_none());
    match runtime.outputs("data").and_then(|o| o.first()) {
        Some(Value::Table(t)) => assert_eq!(t.height(), 150),
        other => panic!("no table: {other:?}"),
    }
    OPEN.store(true, Ordering::SeqCst);
    while runtime.is_running() {
        assert!(started.elapsed() < Duration::from_mins(1), "the run never ended");
        std::thread::sleep(Duration::from_millis(5));
        runtime.poll();
    }
    assert!(runtime.last_run.as_ref().is_some_and(|r| r.success), "{:?}", runtime.last_run);
    assert!(runtime.outputs("gate").is_some());
}
