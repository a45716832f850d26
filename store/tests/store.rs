//! The project store as a designer and a CLI run would use it, and as a crash, a foreign file or an older or
//! newer Pipewright would leave it.

use pipewright_store::{
    INLINE_ARTIFACT_BYTES, NodeRecord, Registration, RunSource, RunStart, RunStatus, SCHEMA_VERSION, Stage,
    StageChange, Store, StoreError, artifact_of, format_utc, migration_steps, store_path, value_of_artifact,
};

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

#[test]
fn artifacts_are_stored_once_by_content_and_checked_when_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&store_path(dir.path())).expect("opens");
    let first = store.begin_run(&start("flow")).expect("begins");
    let second = store.begin_run(&start("flow")).expect("begins");
    // A small artifact is kept inside the database: no file.
    let small = store.put_artifact("model", br#"{"weights":[1,2,3]}"#).expect("stores");
    assert_eq!(store.put_artifact("model", br#"{"weights":[1,2,3]}"#).expect("stores"), small, "same content");
    store.link_artifact(first, "train", "model", &small).expect("links");
    store.link_artifact(second, "train", "model", &small).expect("links");
    assert!(!store.artifact_path(&small).exists(), "kept inside the database");
    let links = store.artifacts_of(second).expect("lists");
    assert_eq!((links[0].node.as_str(), links[0].kind.as_str(), links[0].bytes), ("train", "model", 19));
    assert_eq!(store.read_artifact(&small).expect("reads"), br#"{"weights":[1,2,3]}"#);
    // A large one is a file, written once.
    let large_bytes = vec![7u8; INLINE_ARTIFACT_BYTES + 1];
    let large = store.put_artifact("report", &large_bytes).expect("stores");
    assert_eq!(store.put_artifact("report", &large_bytes).expect("stores"), large, "same content");
    store.link_artifact(first, "evaluate", "report", &large).expect("links");
    store.link_artifact(second, "evaluate", "report", &large).expect("links");
    let path = store.artifact_path(&large);
    assert!(path.starts_with(dir.path().join(".pipewright").join("artifacts")), "{}", path.display());
    assert_eq!(walk(&store.artifacts_dir()), 1, "two runs, one file");
    assert_eq!(store.read_artifact(&large).expect("reads"), large_bytes);
    // Damage to either is found when read, never passed off as the artifact.
    std::fs::write(&path, b"tampered").expect("writes");
    let damaged = store.read_artifact(&large).expect_err("changed content is not passed off as the artifact");
    assert!(damaged.to_string().contains("no longer matches"), "{damaged}");
    rusqlite::Connection::open(store.path())
        .expect("opens")
        .execute("UPDATE artifact_contents SET content = x'00' WHERE hash = ?1", [&small])
        .expect("writes");
    let damaged = store.read_artifact(&small).expect_err("changed content is not passed off as the artifact");
    assert!(damaged.to_string().contains("no longer matches"), "{damaged}");
}

#[test]
fn tables_are_kept_as_arrow_and_parquet_tables_of_older_stores_still_read() {
    use polars::prelude::{Column, DataFrame};
    let frame = DataFrame::new(
        3,
        vec![
            Column::new("age".into(), vec![Some(22.0), Some(38.0), None]),
            Column::new("class".into(), vec!["first", "third", "third"]),
        ],
    )
    .expect("frame");
    let table = pipewright_engine::Value::Table(std::sync::Arc::new(pipewright_engine::Table::new(frame.clone())));
    let (kind, bytes) = artifact_of(&table).expect("a small table is kept");
    assert_eq!(kind, "table");
    assert!(bytes.starts_with(b"ARROW1"), "Arrow IPC");
    let read = |bytes: &[u8]| match value_of_artifact("table", bytes) {
        Some(pipewright_engine::Value::Table(t)) => t.frame.clone(),
        other => panic!("not a table: {other:?}"),
    };
    assert!(read(&bytes).equals_missing(&frame));
    let mut parquet = Vec::new();
    polars::prelude::ParquetWriter::new(&mut parquet).finish(&mut frame.clone()).expect("writes");
    assert!(read(&parquet).equals_missing(&frame), "tables recorded before 0.3 are Parquet");
    assert!(value_of_artifact("table", b"neither format").is_none());
}

#[test]
fn artifact_files_of_a_second_schema_store_still_read_after_it_migrates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    std::fs::create_dir_all(path.parent().expect("folder")).expect("creates");
    let content = br#"{"evaluations":[]}"#;
    let hash = blake3_hex(content);
    {
        let conn = rusqlite::Connection::open(&path).expect("creates");
        conn.execute_batch(migration_steps()[0]).expect("schema 1");
        conn.execute_batch(migration_steps()[1]).expect("schema 2");
        conn.execute_batch("PRAGMA user_version = 2; PRAGMA application_id = 1347900244;").expect("writes");
        conn.execute("INSERT INTO artifacts VALUES (?1, 'report', 18, 1.0)", [&hash]).expect("writes");
    }
    let file = dir.path().join(".pipewright").join("artifacts").join(&hash[..2]).join(&hash);
    std::fs::create_dir_all(file.parent().expect("folder")).expect("creates");
    std::fs::write(&file, content).expect("writes");
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.schema_version().expect("reads"), SCHEMA_VERSION);
    assert_eq!(store.read_artifact(&hash).expect("reads the file"), content);
    assert_eq!(store.put_artifact("report", content).expect("stores"), hash, "same content, same artifact");
    assert_eq!(store.read_artifact(&hash).expect("reads"), content);
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("lists")
        .filter_map(Result::ok)
        .map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 })
        .sum()
}

#[test]
fn the_registry_versions_models_and_keeps_one_in_production() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&store_path(dir.path())).expect("opens");
    let run = store.begin_run(&start("flow")).expect("begins");
    let hash = store.put_artifact("model", b"{}").expect("stores");
    store.link_artifact(run, "train", "model", &hash).expect("links");
    let report = store.put_artifact("report", b"{\"evaluations\":[]}").expect("stores");
    store.link_artifact(run, "evaluate", "report", &report).expect("links");
    store.record_metric(run, "evaluate", "scored", "roc_auc", 0.83, None).expect("records");

    let register =
        |node| store.register_model(&Registration { name: "churn", run, node, notes: "baseline", package: None });
    let v1 = register("train").expect("registers");
    assert_eq!((v1.name.as_str(), v1.version, v1.stage), ("churn", 1, Stage::None));
    assert_eq!(v1.artifact.as_deref(), Some(hash.as_str()));
    assert_eq!(v1.metrics[0].name, "roc_auc");
    let v2 = register("train").expect("registers");
    assert_eq!(v2.version, 2);
    let wrong = register("evaluate").expect_err("a report is not a model");
    assert!(wrong.to_string().contains("these did: train"), "{wrong}");
    let missing =
        store.register_model(&Registration { name: "churn", run: 99, node: "train", notes: "", package: None });
    assert!(missing.expect_err("no run 99").to_string().contains("no run 99"));

    assert!(store.set_stage("churn", 1, Stage::Production).expect("promotes").is_empty());
    assert_eq!(store.set_stage("churn", 2, Stage::Production).expect("promotes"), vec![1]);
    let stages: Vec<(i64, Stage)> = store.models().expect("lists").iter().map(|m| (m.version, m.stage)).collect();
    assert_eq!(stages, vec![(2, Stage::Production), (1, Stage::Staging)], "newest first, one in production");
    let history: Vec<Stage> = store.stage_history(v1.id).expect("reads").iter().map(|c| c.stage).collect();
    assert_eq!(history, vec![Stage::None, Stage::Production, Stage::Staging]);
    store.set_notes("churn", 2, "tuned").expect("writes");
    assert_eq!(store.model("churn", 2).expect("reads").map(|m| m.notes), Some("tuned".into()));
    assert!(store.set_stage("churn", 7, Stage::Staging).is_err(), "no version 7");
    assert_eq!("Production".parse::<Stage>(), Ok(Stage::Production));
    assert!("live".parse::<Stage>().is_err());
}

#[test]
fn a_registered_version_keeps_its_package_and_production_rolls_back_to_the_version_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&store_path(dir.path())).expect("opens");
    let run = store.begin_run(&start("flow")).expect("begins");
    let hash = store.put_artifact("model", b"{}").expect("stores");
    store.link_artifact(run, "train", "model", &hash).expect("links");
    let big = vec![b'x'; INLINE_ARTIFACT_BYTES + 10];
    let register = |package: &[u8]| {
        store
            .register_model(&Registration { name: "churn", run, node: "train", notes: "", package: Some(package) })
            .expect("registers")
    };
    let v1 = register(b"package one");
    let v2 = register(&big);
    let v3 = register(b"package three");
    assert_eq!(store.model_package(&v1).expect("reads").as_deref(), Some(&b"package one"[..]));
    assert_eq!(store.model_package(&v2).expect("reads"), Some(big.clone()), "a large package is a file");
    assert_eq!(store.artifact_kind(v3.package.as_deref().expect("kept")).expect("reads").as_deref(), Some("package"));

    let refused = store.rollback("churn").expect_err("never in production");
    assert!(refused.to_string().contains("never had a version in production"), "{refused}");
    assert!(store.rollback("fraud").expect_err("unknown").to_string().contains("no model `fraud`"));
    store.set_stage("churn", 1, Stage::Production).expect("promotes");
    store.set_stage("churn", 2, Stage::Production).expect("promotes");
    store.set_stage("churn", 3, Stage::Production).expect("promotes");
    let back = store.rollback("churn").expect("rolls back");
    assert_eq!((back.from, back.to), (Some(3), 2));
    let production = |s: &Store| s.models().expect("lists").into_iter().find(|m| m.stage == Stage::Production);
    assert_eq!(production(&store).map(|m| m.version), Some(2));
    // Rolling back again returns to the version that was in production before 2: 3, the most recent other one.
    assert_eq!(store.rollback("churn").expect("rolls back").to, 3);

    store.set_split("churn", &[(2, 90.0), (3, 10.0)]).expect("splits");
    store.set_shadow("churn", Some(1)).expect("shadows");
    let traffic = store.traffic("churn").expect("reads");
    assert_eq!(traffic.split, vec![(2, 90.0), (3, 10.0)]);
    assert_eq!(traffic.shadow, Some(1));
    for (split, says) in [
        (vec![(2, 1.0), (9, 1.0)], "no version 9; its versions: 3, 2, 1"),
        (vec![(2, 1.0), (3, -1.0)], "positive weight"),
        (vec![(2, 1.0), (1, 1.0)], "in the shadow"),
        (vec![(2, 1.0)], "two versions or more"),
    ] {
        let refused = store.set_split("churn", &split).expect_err("refused");
        assert!(refused.to_string().contains(says), "{refused}");
    }
    assert!(store.set_shadow("churn", Some(2)).expect_err("in the split").to_string().contains("share"));
    store.set_split("churn", &[]).expect("clears");
    store.set_shadow("churn", None).expect("clears");
    assert_eq!(store.traffic("churn").expect("reads"), pipewright_store::Traffic::default());
}

#[test]
fn a_store_of_the_first_schema_migrates_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    std::fs::create_dir_all(path.parent().expect("folder")).expect("creates");
    {
        // The store as the first release left it: schema 1, one run and one registered model.
        let conn = rusqlite::Connection::open(&path).expect("creates");
        conn.execute_batch(migration_steps()[0]).expect("schema 1");
        conn.execute_batch(
            "PRAGMA user_version = 1; PRAGMA application_id = 1347900244;
             INSERT INTO experiments VALUES (1, 'titanic', 1.0);
             INSERT INTO runs VALUES (1, 1, 'Titanic', 't.flow.json', '{}', '{}', 'auto', 'cli', 'h', 1, 1.0, 2.0,
                                      'succeeded');
             INSERT INTO metrics VALUES (1, 'evaluate', 'scored', 'roc_auc', 0.835, NULL);
             INSERT INTO models VALUES (1, 'survival', 1, 1, 'train', NULL, '[]', 'production', 'first', 3.0);",
        )
        .expect("writes");
    }
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.schema_version().expect("reads"), SCHEMA_VERSION);
    assert_eq!(store.runs().expect("lists")[0].workflow_name, "Titanic");
    assert_eq!(store.headline(1).expect("reads"), Some(("roc_auc".into(), 0.835)));
    let model = store.model("survival", 1).expect("reads").expect("kept");
    assert_eq!((model.stage, model.notes.as_str()), (Stage::Production, "first"));
    let history = store.stage_history(model.id).expect("reads");
    assert_eq!(history, vec![StageChange { stage: Stage::Production, changed_at: 3.0 }], "history starts filled");
}

#[test]
fn utc_dates_are_civil_dates() {
    assert_eq!(format_utc(0.0), "1970-01-01 00:00:00");
    assert_eq!(format_utc(951_782_400.0), "2000-02-29 00:00:00");
    assert_eq!(format_utc(1_795_305_599.0), "2026-11-21 23:59:59");
}

#[test]
fn writers_that_create_a_new_store_at_once_keep_every_run() {
    // The designer and `pipewright run` starting on a new project at the same moment: each finds no store.
    for round in 0..10 {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = store_path(dir.path());
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    barrier.wait();
                    let store = Store::open(&path).expect("opens");
                    let run = store.begin_run(&start("new")).expect("begins");
                    store.finish_run(run, RunStatus::Succeeded).expect("finishes");
                });
            }
        });
        let runs = Store::open(&path).expect("opens").runs().expect("lists");
        assert_eq!(runs.len(), 4, "round {round}: every writer's run is kept");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("folder"))
            .expect("lists")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".new"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// A second store opened in a process that holds one must not take the first one's file locks away: with them
/// gone, another process closing the database believes it is the last user, folds the write-ahead log into the
/// file and deletes it, and what the first store commits afterwards goes to a deleted log no one else sees.
#[test]
fn opening_a_second_store_in_one_process_keeps_the_first_ones_runs_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store_path(dir.path());
    // Another process (a CLI run) opening the store and listing its runs.
    let other_process_lists = || -> Option<String> {
        let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n\
                      print(sorted(r[0] for r in c.execute('SELECT id FROM runs')))\nc.close()";
        match std::process::Command::new("python3").args(["-c", script]).arg(&path).output() {
            Ok(out) => {
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
            Err(e) if std::env::var_os("CI").is_none() => {
                println!("skipped: python3 is needed to open the store from another process ({e})");
                None
            }
            Err(e) => panic!("python3 is needed under CI: {e}"),
        }
    };
    let first = Store::open(&path).expect("opens");
    let earlier = first.begin_run(&start("titanic")).expect("begins");
    // The designer's history panel holds `first`; a run opens its own store.
    drop(Store::open(&path).expect("opens again"));
    let Some(seen) = other_process_lists() else { return };
    assert_eq!(seen, format!("[{earlier}]"));
    let later = first.begin_run(&start("titanic")).expect("begins");
    first.finish_run(later, RunStatus::Succeeded).expect("finishes");
    let Some(seen) = other_process_lists() else { return };
    assert_eq!(seen, format!("[{earlier}, {later}]"), "another process sees every committed run");
}
