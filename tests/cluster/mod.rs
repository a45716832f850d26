//! Real cluster engines for the tests: a single-node Slurm on loopback started by `tests/cluster/slurm.sh`.

use std::net::TcpListener;
use std::process::{Command, Output};

use crate::repo_root;

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Whether a missing component skips the test (on a developer's machine) or fails it (`CI=true`).
pub fn available(component: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{component} is required under CI=true ({install})");
    eprintln!("skipped: {component} is not available here ({install})");
    false
}

/// Three consecutive free ports on loopback (slurmrestd, slurmctld, slurmd).
pub fn free_ports() -> u16 {
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        if first < 60_000 && (1..3).all(|i| TcpListener::bind(("127.0.0.1", first + i)).is_ok()) {
            return first;
        }
    }
    panic!("no three consecutive free ports");
}

/// A single-node Slurm on loopback, stopped (by the PIDs it started) when dropped.
pub struct Slurm {
    dir: tempfile::TempDir,
    /// `SLURM_CONF` for the Slurm tools.
    pub conf: String,
    /// slurmrestd's URL.
    pub rest: String,
    /// A JWT for root.
    pub token: String,
}

impl Slurm {
    /// Starts it; `None` (with the reason printed) where Slurm or root is missing and `CI` is not `true`.
    pub fn start() -> Option<Self> {
        let tools = ["slurmctld", "slurmd", "sbatch", "slurmrestd"].iter().all(|t| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {t} || test -x /usr/sbin/{t}"))
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
        if !available(
            "Slurm (as root)",
            tools && root,
            "apt-get install slurmctld slurmd slurm-client munge slurmrestd slurm-wlm-jwt-plugin",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_ports().to_string();
        let script = repo_root().join("tests/cluster/slurm.sh");
        let out = Command::new("bash")
            .arg(&script)
            .args(["up", &dir.path().to_string_lossy(), &port])
            .output()
            .expect("slurm.sh");
        let mut slurm = Self { dir, conf: String::new(), rest: String::new(), token: String::new() };
        assert!(out.status.success(), "Slurm did not start: {}", text(&out));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((key, value)) = line.split_once('=') {
                match key {
                    "SLURM_CONF" => value.clone_into(&mut slurm.conf),
                    "SLURM_REST" => value.clone_into(&mut slurm.rest),
                    "SLURM_TOKEN" => value.clone_into(&mut slurm.token),
                    _ => {}
                }
            }
        }
        assert!(!slurm.conf.is_empty() && !slurm.token.is_empty(), "{}", text(&out));
        Some(slurm)
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("tests/cluster/slurm.sh"))
            .args(["down", &self.dir.path().to_string_lossy()])
            .output();
    }
}

/// A workflow whose work fans out: Titanic prepared and split, a decision tree tuned over 24 random settings ×
/// 5 folds, a logistic regression cross-validated over 5 folds, the tuned model's permutation importance, and
/// the tuned model scored and evaluated on the held-out rows. Written into `dir` as `sweep.flow.json`.
pub fn sweep_project(dir: &std::path::Path) -> std::path::PathBuf {
    let node =
        |id: &str, kind: &str, params: serde_json::Value| serde_json::json!({"id": id, "kind": kind, "params": params});
    let wire = |from: &str, out: &str, to: &str, input: &str| serde_json::json!({"from": {"node": from, "port": out}, "to": {"node": to, "port": input}});
    let mut flow = serde_json::json!({
        "format": "pipewright.workflow",
        "version": 1,
        "name": "Titanic sweep",
        "seed": 7,
        "nodes": [
            node("data", "data.sample_dataset", serde_json::json!({"dataset": "titanic"})),
            node("select", "transform.select_columns", serde_json::json!({"columns": ["survived", "pclass", "sex", "age", "sibsp", "parch", "fare"]})),
            node("clean", "transform.clean_missing_data", serde_json::json!({"mode": "median"})),
            node("indicators", "transform.convert_to_indicator_values", serde_json::json!({})),
            node("split", "transform.split_data", serde_json::json!({"fraction": 0.7, "seed": 3, "stratify_column": "survived"})),
            node("tree", "model.decision_tree", serde_json::json!({})),
            node("tune", "train.tune_model_hyperparameters", serde_json::json!({"label_column": "survived", "mode": "random_sweep", "runs": 24, "folds": 5, "seed": 11})),
            node("logistic", "model.logistic_regression_two_class", serde_json::json!({})),
            node("cv", "train.cross_validate_model", serde_json::json!({"label_column": "survived", "folds": 5, "seed": 5})),
            node("importance", "evaluate.permutation_feature_importance", serde_json::json!({"repeats": 3, "seed": 9})),
            node("score", "train.score_model", serde_json::json!({})),
            node("evaluate", "evaluate.evaluate_model", serde_json::json!({})),
        ],
        "edges": [
            wire("data", "data", "select", "data"),
            wire("select", "data", "clean", "data"),
            wire("clean", "data", "indicators", "data"),
            wire("indicators", "data", "split", "data"),
            wire("tree", "learner", "tune", "learner"),
            wire("split", "first", "tune", "data"),
            wire("logistic", "learner", "cv", "learner"),
            wire("split", "first", "cv", "data"),
            wire("tune", "model", "importance", "model"),
            wire("split", "second", "importance", "data"),
            wire("tune", "model", "score", "model"),
            wire("split", "second", "score", "data"),
            wire("score", "data", "evaluate", "scored"),
        ],
    });
    // Laid out in rows of four, so the designer draws it the same way every time.
    for (i, node) in flow["nodes"].as_array_mut().expect("nodes").iter_mut().enumerate() {
        node["position"] = serde_json::json!([(i % 4) as f64 * 230.0, (i / 4) as f64 * 180.0]);
    }
    let path = dir.join("sweep.flow.json");
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("write the workflow");
    path
}
