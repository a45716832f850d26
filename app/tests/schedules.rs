//! Schedules as a user runs them: `pipewright schedule add|list|run|history|remove|export` and a real
//! `pipewright agent` process running them when due and on a drift alert. A retraining registers its model in
//! staging and promotes it only when its rule holds; one that fails leaves production as it was and says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use pipewright_store::{ColumnRecord, Stage, Store, WindowRecord, store_path};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn pipewright(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The `titanic-two-class` example run once in a scratch folder, its forest registered as version 1 of
/// `survival`, in production.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        repo_root().join("projects/titanic-two-class/titanic.flow.json"),
        dir.path().join("titanic.flow.json"),
    )
    .expect("copy");
    let path = dir.path().to_path_buf();
    let run = pipewright(&["run", ".", "--json"], &path);
    assert!(run.status.success(), "{}", text(&run));
    let id = serde_json::from_slice::<Json>(&run.stdout).expect("json")["run"].as_i64().expect("run").to_string();
    let out = pipewright(&["models", "register", &id, "train_forest", "--name", "survival"], &path);
    assert!(out.status.success(), "{}", text(&out));
    let out = pipewright(&["models", "stage", "survival", "1", "production"], &path);
    assert!(out.status.success(), "{}", text(&out));
    (dir, path)
}

fn production(dir: &Path) -> Option<i64> {
    let store = Store::open(&store_path(dir)).expect("opens");
    store.models().expect("lists").into_iter().find(|v| v.stage == Stage::Production).map(|v| v.version)
}

#[test]
fn retraining_promotes_only_when_its_rule_holds_and_a_failed_one_leaves_production_alone() {
    let (_keep, dir) = project();
    let bad = pipewright(&["schedule", "add", "x", "--cron", "61 * * * *", "--monitor", "--model", "survival"], &dir);
    assert!(
        !bad.status.success() && text(&bad).contains("the minute field `61`: 61 is out of range 0–59"),
        "{}",
        text(&bad)
    );
    let bad = pipewright(
        &[
            "schedule",
            "add",
            "x",
            "--cron",
            "@daily",
            "--retrain",
            "titanic.flow.json",
            "--node",
            "train_logistic",
            "--model",
            "survival",
            "--promote-if",
            "roc_auc == production",
        ],
        &dir,
    );
    assert!(text(&bad).contains("promotion rule `roc_auc == production`"), "{}", text(&bad));

    // A workflow outside the project records its runs elsewhere: refused.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let far = elsewhere.path().join("titanic.flow.json");
    std::fs::copy(dir.join("titanic.flow.json"), &far).expect("copy");
    let far = far.to_string_lossy().into_owned();
    let out = pipewright(
        &[
            "schedule",
            "add",
            "far",
            "--cron",
            "@daily",
            "--retrain",
            &far,
            "--node",
            "train_logistic",
            "--model",
            "survival",
        ],
        &dir,
    );
    assert!(!out.status.success() && text(&out).contains("records its runs in"), "{}", text(&out));

    let add = |name: &str, rule: &str| {
        let out = pipewright(
            &[
                "schedule",
                "add",
                name,
                "--cron",
                "0 3 * * *",
                "--retrain",
                "titanic.flow.json",
                "--node",
                "train_logistic",
                "--model",
                "survival",
                "--promote-if",
                rule,
            ],
            &dir,
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    add("strict", "roc_auc >= production + 1");
    add("lenient", "roc_auc >= production - 1");
    let out = pipewright(&["schedule", "run", "strict"], &dir);
    assert!(
        text(&out).contains("survival version 2 registered in staging")
            && text(&out).contains("not promoted: the rule `roc_auc >= production + 1` does not hold"),
        "{}",
        text(&out)
    );
    assert_eq!(production(&dir), Some(1));
    let out = pipewright(&["schedule", "run", "lenient"], &dir);
    assert!(
        text(&out).contains("survival version 3 registered in staging from run")
            && text(&out).contains("promoted to production: roc_auc"),
        "{}",
        text(&out)
    );
    assert_eq!(production(&dir), Some(3));

    a_failed_retraining_leaves_production_alone(&dir);

    let list = pipewright(&["schedule", "list"], &dir);
    assert!(text(&list).contains("lenient") && text(&list).contains("succeeded"), "{}", text(&list));
    let out = pipewright(&["schedule", "remove", "nope"], &dir);
    assert!(text(&out).contains("no schedule `nope`; the schedules: broken, lenient, strict"), "{}", text(&out));
}

/// A workflow that fails: production stays, and the history says why.
fn a_failed_retraining_leaves_production_alone(dir: &Path) {
    let dir = dir.to_path_buf();
    let mut flow: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("titanic.flow.json")).expect("flow")).expect("json");
    let data = flow["nodes"].as_array_mut().expect("nodes").iter_mut().find(|n| n["id"] == "data").expect("data");
    data["kind"] = "data.import_data".into();
    data["params"] = serde_json::json!({"path": "missing.csv"});
    std::fs::create_dir_all(dir.join("broken")).expect("dir");
    std::fs::write(dir.join("broken/broken.flow.json"), serde_json::to_string(&flow).expect("json")).expect("writes");
    let out = pipewright(
        &[
            "schedule",
            "add",
            "broken",
            "--cron",
            "@daily",
            "--retrain",
            "broken/broken.flow.json",
            "--node",
            "train_logistic",
            "--model",
            "survival",
            "--promote-if",
            "roc_auc >= 0",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = pipewright(&["schedule", "run", "broken"], &dir);
    assert!(
        !out.status.success() && text(&out).contains("failed") && text(&out).contains("production is unchanged"),
        "{}",
        text(&out)
    );
    assert_eq!(production(&dir), Some(3));
    let history = pipewright(&["schedule", "history", "broken", "--json"], &dir);
    let history: Json = serde_json::from_slice(&history.stdout).expect("json");
    assert_eq!(history[0]["status"], "failed");
    assert!(history[0]["message"].as_str().expect("message").contains("missing.csv"), "{history}");
}

#[test]
fn the_agent_runs_schedules_when_due_and_retrains_on_a_drift_alert() {
    let (_keep, dir) = project();
    std::fs::create_dir_all(dir.join("incoming")).expect("dir");
    std::fs::copy(repo_root().join("assets/datasets/titanic.csv"), dir.join("incoming/passengers.csv")).expect("copy");
    let out = pipewright(
        &[
            "schedule",
            "add",
            "score-incoming",
            "--cron",
            "*/1 * * * * *",
            "--score",
            "survival",
            "--input",
            "incoming",
            "--output",
            "scored",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = pipewright(
        &[
            "schedule",
            "add",
            "on-drift",
            "--cron",
            "0 0 1 1 *",
            "--retrain",
            "titanic.flow.json",
            "--node",
            "train_logistic",
            "--model",
            "survival",
            "--on-drift",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));

    let mut agent = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["agent", "--tick-ms", "200"])
        .current_dir(&dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("agent starts");
    let runs = |name: &str| {
        let store = Store::open(&store_path(&dir)).expect("opens");
        store.schedule_runs(Some(name)).expect("reads")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs("score-incoming").iter().all(|r| r.status != "succeeded") {
        assert!(Instant::now() < deadline, "the agent never scored: {:?}", runs("score-incoming"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(runs("score-incoming")[0].trigger, "cron");
    let scored: Vec<_> = std::fs::read_dir(dir.join("scored")).expect("output").flatten().collect();
    assert!(!scored.is_empty() && scored[0].file_name().to_string_lossy().starts_with("passengers-"));
    assert!(runs("on-drift").is_empty(), "not due, no alert yet");

    // Monitoring raises an alert: the drift-following retraining runs.
    let store = Store::open(&store_path(&dir)).expect("opens");
    let drifted = ColumnRecord {
        name: "fare".into(),
        method: Some("wasserstein".into()),
        statistic: Some(0.4),
        threshold: Some(0.1),
        drifted: true,
        psi: Some(0.3),
        missing_rate: 0.0,
        out_of_range: 0.0,
        refused: 0,
    };
    let window = WindowRecord {
        model: "survival".into(),
        version: 1,
        start: 1.0,
        end: 2.0,
        records: 100,
        refused: 0,
        drift_share: 1.0,
        dataset_drift: true,
        columns: vec![drifted],
        labelled: 0,
        metrics: Vec::new(),
    };
    assert_eq!(store.record_windows(&[window]).expect("records").len(), 1);
    drop(store);
    while runs("on-drift").iter().all(|r| r.status == "running") {
        assert!(Instant::now() < deadline, "the alert never started a retraining");
        std::thread::sleep(Duration::from_millis(200));
    }
    let retrained = &runs("on-drift")[0];
    assert_eq!((retrained.trigger.as_str(), retrained.status.as_str()), ("drift", "succeeded"), "{retrained:?}");
    assert!(retrained.message.contains("survival version 2 registered in staging"), "{retrained:?}");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(runs("on-drift").len(), 1, "one alert, one retraining");

    let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
    let status = agent.wait().expect("waits");
    assert!(status.success(), "the agent stops cleanly on SIGTERM: {status}");

    exports(&dir);
}

/// The same schedules for a cluster's scheduler, and a unit for systemd.
fn exports(dir: &Path) {
    let dir = dir.to_path_buf();
    let out = pipewright(
        &[
            "schedule",
            "export",
            "on-drift",
            "--scrontab",
            "--runner-path",
            "/opt/pipewright/bin/pipewright",
            "--project-path",
            "/shared/titanic",
        ],
        &dir,
    );
    assert_eq!(
        text(&out),
        "#SCRON --job-name=pipewright-on-drift\n#SCRON --time=1:00:00\n0 0 1 1 * /opt/pipewright/bin/pipewright schedule run on-drift --project /shared/titanic\n"
    );
    let out = pipewright(&["schedule", "export", "score-incoming", "--cronjob"], &dir);
    assert!(!out.status.success() && text(&out).contains("has seconds"), "{}", text(&out));
    let out = pipewright(&["schedule", "export", "on-drift", "--cronjob", "-o", "cronjob.yaml"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    check_cronjob(&dir.join("cronjob.yaml"));
    let unit = pipewright(&["agent", "--unit"], &dir);
    let unit = text(&unit);
    assert!(
        unit.contains("[Service]")
            && unit.contains(&format!("agent --project {}", std::path::absolute(&dir).expect("path").display())),
        "{unit}"
    );
}

/// The `CronJob` passes `kubernetes-validate --strict` (installed by `.ci/run`; skipped locally without it).
fn check_cronjob(file: &Path) {
    let manifest = std::fs::read_to_string(file).expect("cronjob");
    assert!(manifest.contains("kind: \"CronJob\"") && manifest.contains("schedule: \"0 0 1 1 *\""), "{manifest}");
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")));
    let Some(tool) = venv.map(|v| v.join("bin/kubernetes-validate")).filter(|t| t.is_file()) else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "kubernetes-validate is missing: .ci/run installs it");
        eprintln!("skipped the schema check: kubernetes-validate is not installed");
        return;
    };
    let check = Command::new(tool).args(["--strict", "-k", "1.32.0"]).arg(file).output().expect("validate");
    assert!(
        check.status.success() && text(&check).contains("passed for resource cronjob/pipewright-on-drift"),
        "{}",
        text(&check)
    );
}
