//! The project store as a designer and a CLI run would use it, and as a crash, a foreign file or an older or
//! newer Pipewright would leave it.

use pipewright_store::{NodeRecord, RunSource, RunStart, RunStatus, SCHEMA_VERSION, Store, StoreError, store_path};

fn start(experiment: &str) -> RunStart<'_> {
    RunStart {
        experiment,
        workflow_name: "Titanic",
        workflow_file: "titanic.flow.json",
        snapshot: r#"{"format":"pipewright.workflow"}"#,
        overrides: "{}",
        device: "auto",
        source: RunSource::Cli,
    }
}

fn node(id: &str, status: &str) -> NodeRecord {
    NodeRecord {
        node: id.into(),
        kind: "train.train_model".into(),
        status: status.into(),
        duration_secs: 0.25,
        cache_hit: false,
        device: Some("cpu".into()),
        error: None,
    }
}

#[test]
fn a_new_store_records_a_run_its_nodes_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    let store = Store::open(&path).expect("opens");
    assert_eq!(store.schema_version().expect("reads"), SCHEMA_VERSION);
    let run = store.begin_run(&start("titanic")).expect("begins");
    store.record_node(run, &node("train", "finished")).expect("records");
    store.record_node(run, &node("score", "cached")).expect("records");
    store.record_metric(run, "evaluate", "scored", "roc_auc", 0.835, None).expect("records");
    assert_eq!(store.runs().expect("lists")[0].status, RunStatus::Running);
    store.finish_run(run, RunStatus::Succeeded).expect("finishes");
    let runs = store.runs().expect("lists");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].status, runs[0].experiment.as_str(), runs[0].source.as_str()),
        (RunStatus::Succeeded, "titanic", "cli")
    );
    assert!(runs[0].ended_at.is_some_and(|end| end >= runs[0].started_at));
    let nodes = store.nodes_of(run).expect("lists");
    assert_eq!(nodes.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(), ["train", "score"]);
    assert_eq!(
        store.metrics_of(run).expect("lists"),
        vec![("evaluate".into(), "scored".into(), "roc_auc".into(), 0.835)]
    );
    // A second run of the same workflow joins the same experiment.
    let again = store.begin_run(&start("titanic")).expect("begins");
    assert!(again > run);
    assert_eq!(store.runs().expect("lists")[0].id, again, "newest first");
    drop(store);
    let mode: String = rusqlite::Connection::open(&path)
        .expect("opens")
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("reads");
    assert_eq!(mode, "wal", "readers never wait for a writer");
}

#[test]
fn foreign_files_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.db");
    std::fs::write(&text, b"these are my notes, not a database").expect("writes");
    assert!(matches!(Store::open(&text), Err(StoreError::Foreign(_))));
    assert_eq!(std::fs::read(&text).expect("reads"), b"these are my notes, not a database");

    let other = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).expect("creates");
        conn.execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);",
        )
        .expect("writes");
    }
    let before = std::fs::read(&other).expect("reads");
    let refused = Store::open(&other).expect_err("another program's database is not ours");
    assert!(refused.to_string().contains("not a Pipewright project store"), "{refused}");
    assert_eq!(std::fs::read(&other).expect("reads"), before, "not one byte changed");
}

#[test]
fn an_empty_database_migrates_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("project.db");
    rusqlite::Connection::open(&path).expect("creates").execute_batch("PRAGMA user_version = 0").expect("writes");
    let store = Store::open(&path).expect("an empty database becomes a store");
    assert_eq!(store.schema_version().expect("reads"), SCHEMA_VERSION);
    drop(store);
    rusqlite::Connection::open(&path).expect("opens").execute_batch("PRAGMA user_version = 99").expect("writes");
    match Store::open(&path) {
        Err(StoreError::Newer { found: 99, known, .. }) => assert_eq!(known, SCHEMA_VERSION),
        other => panic!("expected a newer-schema error, got {other:?}"),
    }
}

#[test]
fn runs_of_a_process_that_died_are_marked_interrupted_when_the_store_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    let store = Store::open(&path).expect("opens");
    let dead = store.begin_run(&start("flow")).expect("begins");
    let alive = store.begin_run(&start("flow")).expect("begins");
    drop(store);
    // A process that has exited stands for a run killed with -9.
    let mut child = std::process::Command::new("true").spawn().expect("spawns");
    let gone = child.id();
    child.wait().expect("exits");
    rusqlite::Connection::open(&path)
        .expect("opens")
        .execute("UPDATE runs SET pid = ?1 WHERE id = ?2", rusqlite::params![i64::from(gone), dead])
        .expect("writes");
    let store = Store::open(&path).expect("reopens");
    let runs = store.runs().expect("lists");
    let status = |id| runs.iter().find(|r| r.id == id).map(|r| r.status);
    if std::path::Path::new("/proc").is_dir() {
        assert_eq!(status(dead), Some(RunStatus::Interrupted));
    }
    assert_eq!(status(alive), Some(RunStatus::Running), "this process's run is still going");
}

#[test]
fn two_writers_record_into_one_store_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    Store::open(&path).expect("creates");
    std::thread::scope(|scope| {
        for source in [RunSource::Designer, RunSource::Cli] {
            let path = path.clone();
            scope.spawn(move || {
                // Each writer holds its own connection, as the designer and a CLI run do.
                let store = Store::open(&path).expect("opens");
                for _ in 0..40 {
                    let run = store.begin_run(&RunStart { source, ..start("shared") }).expect("begins");
                    store.record_node(run, &node("train", "finished")).expect("records");
                    store.finish_run(run, RunStatus::Succeeded).expect("finishes");
                }
            });
        }
    });
    let runs = Store::open(&path).expect("opens").runs().expect("lists");
    assert_eq!(runs.len(), 80);
    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
    assert_eq!(runs.iter().filter(|r| r.source == "designer").count(), 40);
}
