//! Dates and times as a user meets them: Import Data reads ISO 8601 text (and a format given) as Date and
//! Datetime columns; Extract Date Parts agrees with pandas' `.dt` accessors on 400 moments from 1900 to 2100;
//! Split Data by Time and Sort order rows by time; a date that does not parse is named with its row.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn run(flow: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["run", &flow.to_string_lossy()])
        .current_dir(flow.parent().expect("folder"))
        .output()
        .expect("pipewright runs")
}

fn write_flow(dir: &Path, name: &str, nodes: &[(&str, &str, Json)], edges: &[(&str, &str, &str)]) -> PathBuf {
    let nodes: Vec<Json> = nodes
        .iter()
        .enumerate()
        .map(|(i, (id, kind, params))| json!({"id": id, "kind": kind, "params": params, "position": [i as f64 * 220.0, 0.0]}))
        .collect();
    let edges: Vec<Json> = edges
        .iter()
        .map(|(from, port, to)| json!({"from": {"node": from, "port": port}, "to": {"node": to, "port": "data"}}))
        .collect();
    let flow =
        json!({"format": "pipewright.workflow", "version": 1, "name": name, "seed": 0, "nodes": nodes, "edges": edges});
    let path = dir.join(format!("{name}.flow.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("writes");
    path
}

/// 400 moments spread over 1900–2100 (a fixed sequence), as ISO 8601 text: some with `Z`, some with an offset.
fn moments_csv(dir: &Path) -> PathBuf {
    let mut state = 0x2545_f491_u64;
    let mut csv = String::from("at,value\n");
    let (start, span) = (-2_208_988_800_i64, 6_342_739_200_i64);
    for i in 0..400 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let seconds = start + i64::try_from((state >> 11) % u64::try_from(span).expect("span")).expect("fits");
        let t = pipewright_engine::UtcTime::from_unix(seconds);
        let iso = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second);
        let written = match i % 3 {
            0 => iso,
            1 => format!("{iso}Z"),
            // The same moment two hours east of UTC.
            _ => {
                let east = pipewright_engine::UtcTime::from_unix(seconds + 7200);
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+02:00",
                    east.year, east.month, east.day, east.hour, east.minute, east.second
                )
            }
        };
        let _ = writeln!(csv, "{written},{i}");
    }
    let path = dir.join("moments.csv");
    std::fs::write(&path, csv).expect("writes");
    path
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")))?;
    let python = venv.join("bin/python");
    python.is_file().then_some(python)
}

#[test]
fn date_parts_agree_with_pandas_and_time_orders_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = moments_csv(dir.path());
    let flow = write_flow(
        dir.path(),
        "dates",
        &[
            ("read", "data.import_data", json!({"path": "moments.csv"})),
            ("parts", "transform.extract_date_parts", json!({"columns": ["at"], "reference": "2000-01-01"})),
            ("write", "data.export_data", json!({"path": "parts.csv"})),
            ("split", "transform.split_by_time", json!({"column": "at", "cutoff": "2000-01-01"})),
            ("sort", "transform.sort", json!({"columns": ["at"], "order": "descending"})),
            ("write_before", "data.export_data", json!({"path": "before.csv"})),
            ("write_after", "data.export_data", json!({"path": "after.csv"})),
        ],
        &[
            ("read", "data", "parts"),
            ("parts", "data", "write"),
            ("parts", "data", "split"),
            ("split", "before", "sort"),
            ("sort", "data", "write_before"),
            ("split", "after", "write_after"),
        ],
    );
    let out = run(&flow);
    assert!(out.status.success(), "{}", text(&out));

    // Before the cut-off, newest first; after it, in table order; every row in one of them.
    let years = |file: &str| -> Vec<i64> {
        let frame = pipewright_nodes::data::read_file(&dir.path().join(file)).expect("csv");
        frame.column("at_year").expect("year").i64().expect("integers").into_no_null_iter().collect()
    };
    let (before, after) = (years("before.csv"), years("after.csv"));
    assert_eq!(before.len() + after.len(), 400);
    assert!(before.iter().all(|&y| y < 2000) && after.iter().all(|&y| y >= 2000), "{before:?} {after:?}");
    assert!(before.windows(2).all(|w| w[0] >= w[1]), "sorted newest first: {before:?}");
    let elapsed = pipewright_nodes::data::read_file(&dir.path().join("before.csv")).expect("csv");
    let elapsed = elapsed.column("at_elapsed_days").expect("elapsed").f64().expect("floats").clone();
    assert!(elapsed.into_no_null_iter().collect::<Vec<_>>().windows(2).all(|w| w[0] >= w[1] && w[0] < 0.0));

    let Some(python) = venv_python() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "pandas is missing under CI=true: .ci/run installs it");
        eprintln!("skipped the pandas comparison: no Python environment with pandas (.ci/run makes one)");
        return;
    };
    let check = Command::new(python)
        .arg(repo_root().join("tests/reference/date_parts_check.py"))
        .arg(&source)
        .arg(dir.path().join("parts.csv"))
        .arg("2000-01-01")
        .output()
        .expect("the check runs");
    assert!(check.status.success(), "{}", text(&check));
    let said: Json = serde_json::from_slice(&check.stdout).expect("json");
    assert_eq!(said["rows"], 400);
    assert_eq!(said["mismatches"], json!([]), "{said}");
}

#[test]
fn formats_given_and_dates_that_do_not_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("eu.csv"), "day,amount\n07/03/2026,1\n31/12/2025,2\n").expect("writes");
    let flow = write_flow(
        dir.path(),
        "eu",
        &[
            ("read", "data.import_data", json!({"path": "eu.csv", "date_format": "%d/%m/%Y"})),
            (
                "parts",
                "transform.extract_date_parts",
                json!({"weekday": false, "hour": false, "elapsed_days": false, "is_weekend": false, "day_of_year": false}),
            ),
            ("write", "data.export_data", json!({"path": "out.csv"})),
        ],
        &[("read", "data", "parts"), ("parts", "data", "write")],
    );
    let out = run(&flow);
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(dir.path().join("out.csv")).expect("csv");
    assert_eq!(written, "day,day_year,day_month,day_day,amount\n2026-03-07,2026,3,7,1\n2025-12-31,2025,12,31,2\n");

    std::fs::write(dir.path().join("bad.csv"), "day,amount\n2026-01-02,1\n2026-01-03,2\n2026-02-30,3\n")
        .expect("writes");
    let flow = write_flow(dir.path(), "bad", &[("read", "data.import_data", json!({"path": "bad.csv"}))], &[]);
    let out = run(&flow);
    assert!(!out.status.success());
    assert!(text(&out).contains("column \"day\", row 3: \"2026-02-30\" is not an ISO 8601 date"), "{}", text(&out));
    // Without a date column, Extract Date Parts says what it needs.
    std::fs::write(dir.path().join("plain.csv"), "a,b\n1,x\n").expect("writes");
    let flow = write_flow(
        dir.path(),
        "plain",
        &[
            ("read", "data.import_data", json!({"path": "plain.csv"})),
            ("parts", "transform.extract_date_parts", json!({})),
        ],
        &[("read", "data", "parts")],
    );
    let out = run(&flow);
    assert!(text(&out).contains("the table has no Date or Datetime column"), "{}", text(&out));
}

#[test]
fn a_package_replays_date_parts_on_dates_sent_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".pipewright")).expect("project");
    // y = 2 × weekday + day of the month, for 60 days from 2026-01-01.
    let mut csv = String::from("day,y\n");
    let first = pipewright_nodes::data::dates::parse_iso("2026-01-01").expect("parses").days;
    for d in 0..60 {
        let t = pipewright_engine::UtcTime::from_unix(i64::from(first + d) * 86_400);
        let weekday = (i64::from(first + d) + 3).rem_euclid(7);
        let _ = writeln!(csv, "{:04}-{:02}-{:02},{}", t.year, t.month, t.day, 2 * weekday + t.day);
    }
    std::fs::write(dir.path().join("days.csv"), csv).expect("writes");
    let only = json!({"columns": ["day"], "weekday": true, "day": true, "year": false, "month": false, "hour": false,
        "day_of_year": false, "is_weekend": false, "elapsed_days": false, "keep": false});
    let nodes = [
        json!({"id": "read", "kind": "data.import_data", "params": {"path": "days.csv"}, "position": [0.0, 0.0]}),
        json!({"id": "parts", "kind": "transform.extract_date_parts", "params": only, "position": [220.0, 0.0]}),
        json!({"id": "ols", "kind": "model.linear_regression", "params": {}, "position": [220.0, 150.0]}),
        json!({"id": "train", "kind": "train.train_model", "params": {"label_column": "y"}, "position": [440.0, 0.0]}),
    ];
    let edge = |from: &str, from_port: &str, to: &str, to_port: &str| json!({"from": {"node": from, "port": from_port}, "to": {"node": to, "port": to_port}});
    let edges = [
        edge("read", "data", "parts", "data"),
        edge("parts", "data", "train", "data"),
        edge("ols", "learner", "train", "learner"),
    ];
    let flow = json!({"format": "pipewright.workflow", "version": 1, "name": "days", "seed": 0, "nodes": nodes, "edges": edges});
    let path = dir.path().join("days.flow.json");
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("writes");
    let out = run(&path);
    assert!(out.status.success(), "{}", text(&out));
    let pipewright = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pipewright")).args(args).current_dir(dir.path()).output().expect("runs")
    };
    let packaged = pipewright(&["package", "train", "-o", "days.pwmodel"]);
    assert!(packaged.status.success(), "{}", text(&packaged));
    // 2026-03-07 is a Saturday (weekday 5): 2 × 5 + 7 = 17.
    std::fs::write(dir.path().join("new.csv"), "day\n2026-03-07\n").expect("writes");
    let scored = pipewright(&["score", "days.pwmodel", "new.csv", "-o", "scored.csv"]);
    assert!(scored.status.success(), "{}", text(&scored));
    let frame = pipewright_nodes::data::read_file(&dir.path().join("scored.csv")).expect("csv");
    let score = frame.column("Scored Labels").unwrap_or_else(|_| panic!("a score column in {frame}"));
    let value =
        score.cast(&polars::prelude::DataType::Float64).expect("numbers").f64().expect("f64").get(0).expect("a value");
    assert!((value - 17.0).abs() < 1e-6, "{value} in {frame}");
}
