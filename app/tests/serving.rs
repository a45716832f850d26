//! Serving from the registry as a user runs it: `pipewright serve --project DIR --model NAME` answers at
//! `/models/NAME/score`, follows promotions, rollbacks, splits and shadows while clients keep sending (none
//! fails), captures every request into Parquet with an access log line each, serves https from PEM files, and
//! keeps serving when the capture store cannot be written.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pipewright_deploy::client::{self, Client};
use polars::prelude::*;
use serde_json::{Value as Json, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn pipewright(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The `titanic-two-class` example run once in a scratch folder, its two trainers registered as versions 1
/// (the forest, in production) and 2 (logistic regression) of `survival`.
fn registered_project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let from = repo_root().join("projects/titanic-two-class");
    for entry in std::fs::read_dir(&from).expect("project").flatten() {
        if entry.file_name().to_string_lossy().ends_with(".flow.json") {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
    }
    let path = dir.path().to_path_buf();
    let run = pipewright(&["run", ".", "--json"], &path);
    assert!(run.status.success(), "{}", text(&run));
    let id = serde_json::from_slice::<Json>(&run.stdout).expect("json")["run"].as_i64().expect("run").to_string();
    for node in ["train_forest", "train_logistic"] {
        let out = pipewright(&["models", "register", &id, node, "--name", "survival"], &path);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = pipewright(&["models", "stage", "survival", "1", "production"], &path);
    assert!(out.status.success(), "{}", text(&out));
    (dir, path)
}

/// A `pipewright serve` process, stopped with SIGTERM as a service manager stops it.
struct Serving {
    child: Child,
    url: String,
    said: Vec<String>,
}

impl Serving {
    fn start(args: &[&str], dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut said = Vec::new();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.expect("line");
            if url.is_none() {
                url = line
                    .split_whitespace()
                    .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                    .map(|w| w.trim_end_matches(':').to_owned());
            }
            let done = line.starts_with("Ctrl-C stops it.");
            said.push(line);
            if done {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let url = url.unwrap_or_else(|| panic!("no URL in {said:?}"));
        Self { child, url, said }
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let status = self.child.wait().expect("waits");
        assert!(status.success(), "serve stopped with {status}");
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RECORD: &str =
    r#"{"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"}"#;

fn score(url: &str) -> client::Response {
    client::request("POST", url, &[("Content-Type", "application/json")], RECORD.as_bytes()).expect("answers")
}

fn version_of(response: &client::Response) -> i64 {
    assert_eq!(response.status, 200, "{}", response.text());
    response.json().expect("json")["version"].as_i64().expect("version")
}

/// Waits until the endpoint answers with `version`, polling once every 20 ms for up to 10 s.
fn until_version(url: &str, version: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while version_of(&score(url)) != version {
        assert!(Instant::now() < deadline, "the endpoint never swapped to version {version}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(capture_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files
}

/// Clients keep sending while the registry promotes, rolls back and promotes again: none fails.
fn swaps_under_load(url: &str, dir: &Path) {
    let (url, dir) = (url.to_owned(), dir.to_path_buf());
    let running = Arc::new(AtomicBool::new(true));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (url, running, sent, failed) = (url.clone(), running.clone(), sent.clone(), failed.clone());
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    let ok = client::request("POST", &url, &[("Content-Type", "application/json")], RECORD.as_bytes())
                        .is_ok_and(|r| r.status == 200);
                    sent.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let out = pipewright(&["models", "stage", "survival", "2", "production"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    until_version(&url, 2);
    let out = pipewright(&["models", "rollback", "survival"], &dir);
    assert!(
        text(&out).contains("survival version 1 is back in production; version 2 moved to staging"),
        "{}",
        text(&out)
    );
    until_version(&url, 1);
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    assert!(sent.load(Ordering::Relaxed) > 30, "the clients sent {}", sent.load(Ordering::Relaxed));
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request fails while versions swap");
}

/// Every request was captured (the answers, the shadow's, the refused record) and logged.
fn captured_and_logged(dir: &Path) {
    let capture = dir.join(".pipewright/capture");
    let files = capture_files(&capture);
    assert!(!files.is_empty(), "no capture files under {}", capture.display());
    let scored: Vec<&PathBuf> = files.iter().filter(|f| !f.to_string_lossy().contains("rejected")).collect();
    let frames: Vec<DataFrame> = scored
        .iter()
        .map(|f| ParquetReader::new(std::fs::File::open(f).expect("opens")).finish().expect("parquet"))
        .collect();
    let rows: usize = frames.iter().map(DataFrame::height).sum();
    let frame = &frames[0];
    for column in ["request_id", "record", "time", "model", "version", "shadow", "latency_ms", "prediction", "score"] {
        assert!(frame.column(column).is_ok(), "capture column {column}: {:?}", frame.get_column_names());
    }
    assert!(frame.column("input.sex").is_ok() && frame.column("input.fare").is_ok(), "{:?}", frame.get_column_names());
    let all = frames.iter().skip(1).fold(frame.clone(), |acc, f| acc.vstack(f).expect("same columns"));
    let ids = all.column("request_id").expect("ids").str().expect("text").clone();
    let shadows = all.column("shadow").expect("shadow").bool().expect("bool").clone();
    let tagged_rows: Vec<bool> =
        ids.iter().zip(shadows.iter()).filter(|(id, _)| *id == Some("order-1234")).filter_map(|(_, s)| s).collect();
    assert_eq!(tagged_rows.len(), 2, "answered and shadowed: {tagged_rows:?}");
    assert!(tagged_rows.contains(&true) && tagged_rows.contains(&false));
    let rejected = files.iter().find(|f| f.to_string_lossy().contains("rejected")).expect("a rejected file");
    let rejected = ParquetReader::new(std::fs::File::open(rejected).expect("opens")).finish().expect("parquet");
    let problems: Vec<Option<&str>> =
        rejected.column("problem").expect("problem").str().expect("text").iter().collect();
    assert!(problems.contains(&Some("type")), "{problems:?}");
    let log = std::fs::read_to_string(dir.join("access.log")).expect("access log");
    let lines: Vec<Json> = log.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let scored_lines = lines.iter().filter(|l| l["status"] == 200 && l["model"] == "survival").count();
    let shadowed = all.column("shadow").expect("shadow").bool().expect("bool").sum().unwrap_or(0) as usize;
    assert_eq!(scored_lines, rows - shadowed, "one captured record per answered request");
    assert!(lines.iter().any(|l| l["request_id"] == "order-1234" && l["version"] == 1), "{log}");
}

#[test]
fn registered_models_are_served_by_name_and_swapped_live_with_no_failed_request() {
    let (_keep, dir) = registered_project();
    let project = dir.to_string_lossy().into_owned();
    let refused = pipewright(&["serve", "--project", &project, "--model", "nope", "--port", "0"], &dir);
    assert!(!refused.status.success() && text(&refused).contains("the registry has survival"), "{}", text(&refused));
    let refused = pipewright(&["serve", "--project", &project, "--model", "survival@staging", "--port", "0"], &dir);
    assert!(text(&refused).contains("survival has no version in staging; its versions: 2 (none), 1 (production)"));

    let serving = Serving::start(
        &["serve", "--project", &project, "--model", "survival", "--port", "0", "--poll-ms", "100", "--capture"]
            .iter()
            .copied()
            .chain(["--access-log", "access.log"])
            .collect::<Vec<_>>(),
        &dir,
    );
    assert!(
        serving.said.iter().any(|l| l.contains("/models/survival/score   version 1 (production)")),
        "{:?}",
        serving.said
    );
    let url = format!("{}/models/survival/score", serving.url);
    assert_eq!(version_of(&score(&url)), 1);
    let missing = score(&format!("{}/models/nope/score", serving.url));
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no model \\\"nope\\\" is served here; served: survival"), "{}", missing.text());
    let version = score(&format!("{}/models/survival/versions/9/score", serving.url));
    assert!(version.text().contains("served versions: 1 (production)"), "{}", version.text());
    let sole = score(&format!("{}/score", serving.url));
    assert_eq!(version_of(&sole), 1, "one model served: /score answers too");

    swaps_under_load(&url, &dir);

    // A/B: requests shared 3 to 1, as the weights say.
    let out = pipewright(&["models", "split", "survival", "1=75", "2=25"], &dir);
    assert!(text(&out).contains("version 1 75.0%, version 2 25.0%"), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(0..8).any(|_| version_of(&score(&url)) == 2) {
        assert!(Instant::now() < deadline, "the split was never followed");
    }
    let twos = (0..400).filter(|_| version_of(&score(&url)) == 2).count();
    assert!((90..=110).contains(&twos), "version 2 answered {twos} of 400 at a 25% share");
    let out = pipewright(&["models", "split", "survival", "--clear"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    until_version(&url, 1);
    while (0..20).any(|_| version_of(&score(&url)) == 2) {}

    // Shadow: version 2 scores every request, version 1 answers each.
    let out = pipewright(&["models", "shadow", "survival", "2"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics_url = format!("{}/metrics", serving.url);
    while !client::get(&metrics_url, None).expect("metrics").text().contains("version=\"2\",role=\"shadow\"") {
        assert_eq!(version_of(&score(&url)), 1, "a shadow never answers");
        assert!(Instant::now() < deadline, "the shadow was never followed");
    }
    let tagged = client::request(
        "POST",
        &url,
        &[("Content-Type", "application/json"), ("X-Request-Id", "order-1234")],
        RECORD.as_bytes(),
    )
    .expect("answers");
    assert_eq!(tagged.header("x-request-id"), Some("order-1234"));
    assert_eq!(tagged.json().expect("json")["request_id"], "order-1234");
    let bad = client::post_json(&url, None, &json!({"pclass": 3, "sex": "male", "age": "old", "embarked": "Q"}))
        .expect("answers");
    assert_eq!(bad.status, 422);
    std::thread::sleep(Duration::from_millis(300));
    serving.stop();

    captured_and_logged(&dir);
}

#[test]
fn https_serves_from_pem_files_and_a_capture_store_that_cannot_be_written_does_not_stop_serving() {
    let (_keep, dir) = registered_project();
    let project = dir.to_string_lossy().into_owned();
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("writes");
    let bad = bad.to_string_lossy().into_owned();
    let out = pipewright(
        &["serve", "--project", &project, "--model", "survival", "--tls-cert", &bad, "--tls-key", &bad],
        &dir,
    );
    assert!(!out.status.success() && text(&out).contains("holds no certificate"), "{}", text(&out));

    let issued = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).expect("cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).expect("writes");
    std::fs::write(&key, issued.signing_key.serialize_pem()).expect("writes");
    let out = pipewright(
        &[
            "serve",
            "--project",
            &project,
            "--model",
            "survival",
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &bad,
        ],
        &dir,
    );
    assert!(!out.status.success() && text(&out).contains("cannot read a private key from"), "{}", text(&out));

    // The capture folder has a file where the model's folder would go: every write fails.
    let capture = dir.join("capture");
    std::fs::create_dir_all(&capture).expect("creates");
    std::fs::write(capture.join("survival"), "in the way").expect("writes");
    let serving = Serving::start(
        &[
            "serve",
            "--project",
            &project,
            "--model",
            "survival",
            "--port",
            "0",
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
            "--capture-dir",
            &capture.to_string_lossy(),
            "--capture-roll-seconds",
            "1",
        ],
        &dir,
    );
    assert!(serving.url.starts_with("https://"), "{}", serving.url);
    let https = Client::trusting_pem(issued.cert.pem().as_bytes()).expect("client");
    let url = format!("{}/models/survival/score", serving.url.replace("127.0.0.1", "localhost"));
    for _ in 0..20 {
        let answer =
            https.request("POST", &url, &[("Content-Type", "application/json")], RECORD.as_bytes()).expect("https");
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let metrics_url = format!("{}/metrics", serving.url.replace("127.0.0.1", "localhost"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = https.request("GET", &metrics_url, &[], b"").expect("metrics").text();
        if metrics.contains("pipewright_capture_dropped_total{reason=\"write\"} 20") {
            break;
        }
        assert!(Instant::now() < deadline, "the failed writes were never counted:\n{metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let plain = client::request("POST", &url.replace("https://", "http://"), &[], RECORD.as_bytes());
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != 200), "plain http is not served");
    let answer =
        https.request("POST", &url, &[("Content-Type", "application/json")], RECORD.as_bytes()).expect("https");
    assert_eq!(answer.status, 200, "still serving after the capture failed");
    serving.stop();

    a_full_capture_store_drops_and_counts(&dir);
}

/// A capture store at its size limit drops records, counted as full; serving goes on.
fn a_full_capture_store_drops_and_counts(dir: &Path) {
    let project = dir.to_string_lossy().into_owned();
    let full = dir.join("full-capture");
    let serving = Serving::start(
        &[
            "serve",
            "--project",
            &project,
            "--model",
            "survival",
            "--port",
            "0",
            "--capture-dir",
            &full.to_string_lossy(),
            "--capture-max-mb",
            "0",
            "--capture-roll-seconds",
            "1",
        ],
        dir,
    );
    let url = format!("{}/models/survival/score", serving.url);
    for _ in 0..5 {
        assert_eq!(score(&url).status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !client::get(&format!("{}/metrics", serving.url), None)
        .expect("metrics")
        .text()
        .contains("pipewright_capture_dropped_total{reason=\"full\"} 5")
    {
        assert!(Instant::now() < deadline, "the full store's drops were never counted");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(score(&url).status, 200);
    serving.stop();
    assert!(capture_files(&full).is_empty(), "nothing written past the limit");
}

/// The bundled Titanic rows as records of the served fields, with `survived`.
fn titanic_records() -> Vec<Json> {
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(repo_root().join("assets/datasets/titanic.csv")))
        .expect("csv")
        .finish()
        .expect("reads");
    let numbers = ["pclass", "age", "sibsp", "parch", "fare"];
    let mut records = vec![serde_json::Map::new(); frame.height()];
    for name in ["pclass", "sex", "age", "sibsp", "parch", "fare", "embarked", "survived"] {
        let column = frame.column(name).expect("column").as_materialized_series().clone();
        for (i, record) in records.iter_mut().enumerate() {
            let value = column.get(i).expect("cell");
            let json = if value.is_null() {
                Json::Null
            } else if numbers.contains(&name) {
                json!(value.extract::<f64>().expect("number"))
            } else {
                json!(value.get_str().map_or_else(|| value.to_string(), str::to_owned))
            };
            record.insert(name.to_owned(), json);
        }
    }
    records.into_iter().map(Json::Object).collect()
}

#[test]
fn monitoring_finds_the_drift_of_shifted_requests_and_records_an_alert() {
    let (_keep, dir) = registered_project();
    let project = dir.to_string_lossy().into_owned();
    let none = pipewright(&["monitor", "--project", &project, "--model", "survival"], &dir);
    assert!(!none.status.success() && text(&none).contains("holds nothing of survival version 1"), "{}", text(&none));

    let serving =
        Serving::start(&["serve", "--project", &project, "--model", "survival", "--port", "0", "--capture"], &dir);
    let url = format!("{}/models/survival/score", serving.url);
    let records = titanic_records();
    // 400 passengers as they were (every third: the file is sorted by class), then 400 older, richer,
    // first-class women.
    let like_training: Vec<Json> = records.iter().step_by(3).take(400).cloned().collect();
    let shifted: Vec<Json> = records
        .iter()
        .skip(1)
        .step_by(3)
        .take(400)
        .map(|r| {
            let mut r = r.clone();
            r["age"] = json!(r["age"].as_f64().unwrap_or(30.0) + 25.0);
            r["fare"] = json!(r["fare"].as_f64().unwrap_or(10.0) * 6.0 + 100.0);
            r["pclass"] = json!(1.0);
            r["sex"] = json!("female");
            r
        })
        .collect();
    for (id, batch) in [("calm", &like_training), ("shifted", &shifted)] {
        let body = serde_json::to_vec(&json!({ "records": batch })).expect("json");
        let headers = [("Content-Type", "application/json"), ("X-Request-Id", id)];
        let answer = client::request("POST", &url, &headers, &body).expect("answers");
        assert_eq!(answer.status, 200, "{}", answer.text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The truth arrives later, for the first request's passengers: one row per record.
    let rows =
        like_training.iter().enumerate().map(|(i, r)| format!("calm,{i},{}\n", r["survived"].as_str().expect("label")));
    let labels: String = std::iter::once("request_id,record,survived\n".to_owned()).chain(rows).collect();
    std::fs::write(dir.join("labels.csv"), labels).expect("writes");
    let out = pipewright(&["monitor", "label", "labels.csv", "--model", "survival"], &dir);
    assert!(text(&out).contains("Kept 400 labels of 1 requests for survival"), "{}", text(&out));
    let out = pipewright(&["monitor", "label", "labels.csv", "--model", "survival", "--label-column", "truth"], &dir);
    assert!(
        !out.status.success() && text(&out).contains("no column \"truth\"; its columns: request_id, record, survived"),
        "{}",
        text(&out)
    );
    let bad =
        client::post_json(&url, None, &json!({"pclass": "first", "sex": "male", "embarked": "X"})).expect("answers");
    assert_eq!(bad.status, 422);
    serving.stop();

    let out = pipewright(&["monitor", "--project", &project, "--model", "survival", "--window", "400", "--json"], &dir);
    assert!(out.status.success(), "{}", text(&out));
    let report: Json = serde_json::from_slice(&out.stdout).expect("json");
    let windows = report["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 2, "{report}");
    let drifted = |w: &Json| -> Vec<String> {
        w["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter(|f| f["drift"]["drifted"] == true)
            .map(|f| f["name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(drifted(&windows[0]).is_empty(), "the training passengers do not drift: {:?}", windows[0]);
    let moved = drifted(&windows[1]);
    for feature in ["age", "fare", "pclass", "sex"] {
        assert!(moved.contains(&feature.to_owned()), "{feature} drifted: {moved:?}");
    }
    assert_eq!(windows[1]["dataset_drift"], true);
    let fare = windows[1]["features"].as_array().expect("features").iter().find(|f| f["name"] == "fare").expect("fare");
    assert_eq!(fare["drift"]["method"], "wasserstein", "1,309 training rows: distances");
    assert!(fare["out_of_range"].as_f64().expect("share") > 0.0);
    assert_eq!(report["alerts"].as_array().expect("alerts").len(), 1, "{report}");
    assert_eq!((windows[0]["labelled"].as_u64(), windows[1]["labelled"].as_u64()), (Some(400), Some(0)));
    let accuracy = windows[0]["metrics"]["accuracy"].as_f64().expect("accuracy");
    let auc = windows[0]["metrics"]["roc_auc"].as_f64().expect("AUC");
    assert!((0.7..0.95).contains(&accuracy) && (0.75..0.99).contains(&auc), "{accuracy} {auc}");
    // The refused record's problems are counted where its time falls (the last window).
    let refused: u64 = windows[1]["features"]
        .as_array()
        .expect("features")
        .iter()
        .flat_map(|f| f["refused"].as_object().into_iter().flatten().map(|(_, n)| n.as_u64().unwrap_or(0)))
        .sum();
    assert!(refused >= 2, "type error and unseen category: {}", windows[1]);

    // Recorded in the store; computing again replaces the windows and raises no second alert.
    let store = pipewright_store::Store::open(&pipewright_store::store_path(&dir)).expect("opens");
    assert_eq!(store.monitor_windows("survival", 1).expect("reads").len(), 2);
    drop(store);
    let again = pipewright(&["monitor", "--project", &project, "--model", "survival", "--window", "400"], &dir);
    assert!(text(&again).contains("dataset drift") && !text(&again).contains("ALERT"), "{}", text(&again));
    let store = pipewright_store::Store::open(&pipewright_store::store_path(&dir)).expect("opens");
    assert_eq!(store.monitor_windows("survival", 1).expect("reads").len(), 2);
    assert_eq!(store.alerts("survival").expect("reads").len(), 1);
}
