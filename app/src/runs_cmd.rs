//! `pipewright runs`: the runs recorded in a project's store, and one run in detail.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use pipewright_store::{RunRecord, Store, format_utc as utc, store_path};

/// `text` cut to `width` characters, an ellipsis marking the cut.
pub(crate) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

pub(crate) fn open(project: &Path) -> Result<Store, ExitCode> {
    // `--project` may name the project or any folder inside it.
    let project = &pipewright_engine::project_dir_from(project).unwrap_or_else(|| project.to_path_buf());
    let path = store_path(project);
    if !path.exists() {
        eprintln!(
            "error: {} has no recorded runs yet (no {}): run a workflow there first",
            project.display(),
            path.display()
        );
        return Err(ExitCode::FAILURE);
    }
    Store::open(&path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

fn headline(store: &Store, run: &RunRecord) -> Option<(String, f64)> {
    store.headline(run.id).ok().flatten()
}

/// `pipewright runs [--project DIR] [--json]`.
pub fn list(project: &Path, json: bool) -> ExitCode {
    let store = match open(project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let runs = match store.runs() {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        let rows: Vec<_> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "experiment": r.experiment, "workflow": r.workflow_name, "status": r.status.as_str(),
                    "source": r.source, "device": r.device, "started_at": r.started_at, "ended_at": r.ended_at,
                    "headline": headline(&store, r).map(|(name, value)| json!({"name": name, "value": value})),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!(
        "{:>5}  {:<11}  {:<24}  {:<8}  {:<6}  {:<19}  {:>9}  headline",
        "run", "status", "workflow", "source", "device", "started (UTC)", "duration"
    );
    for r in &runs {
        let duration = r.ended_at.map_or("-".into(), |end| format!("{:.2} s", end - r.started_at));
        let metric = headline(&store, r).map_or(String::new(), |(name, value)| format!("{name} {value:.4}"));
        println!(
            "{:>5}  {:<11}  {:<24}  {:<8}  {:<6}  {:<19}  {:>9}  {metric}",
            r.id,
            r.status.as_str(),
            clip(&r.workflow_name, 24),
            r.source,
            r.device,
            utc(r.started_at),
            duration
        );
    }
    ExitCode::SUCCESS
}

/// A cluster run's job record (engine, job id, state, message, tasks).
fn cluster_job(store: &pipewright_store::Store, run: i64) -> Option<serde_json::Value> {
    store.job_record(run).ok().flatten()
}

/// A fanned-out run's tasks: how many ended how, where they ran, and each one that did not finish.
fn print_tasks(tasks: &[serde_json::Value]) {
    let count = |state: &str| tasks.iter().filter(|t| t["state"] == state).count();
    let seconds: f64 = tasks.iter().filter_map(|t| t["seconds"].as_f64()).sum();
    let mut places: Vec<&str> =
        tasks.iter().filter_map(|t| t["places"].as_array()).flatten().filter_map(|p| p.as_str()).collect();
    places.sort_unstable();
    places.dedup();
    println!(
        "  tasks: {} done, {} failed, {} without a result; {seconds:.1} s of compute on {}",
        count("done"),
        count("failed"),
        count("waiting"),
        if places.is_empty() { "no machine".to_owned() } else { places.join(", ") }
    );
    for task in tasks.iter().filter(|t| t["state"] != "done") {
        let why = task["error"].as_str().unwrap_or("no result");
        println!("    {}: {why}", task["what"].as_str().unwrap_or("?"));
    }
}

/// `pipewright runs show RUN [--project DIR] [--json]`.
pub fn show(project: &Path, run: i64, json: bool) -> ExitCode {
    let store = match open(project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let Some(record) = store.runs().ok().and_then(|runs| runs.into_iter().find(|r| r.id == run)) else {
        eprintln!("error: no run {run} in {}: `pipewright runs` lists them", store.path().display());
        return ExitCode::FAILURE;
    };
    let nodes = store.nodes_of(run).unwrap_or_default();
    let metrics = store.metrics_of(run).unwrap_or_default();
    let job = cluster_job(&store, run);
    if json {
        let value = json!({
            "id": record.id, "experiment": record.experiment, "workflow": record.workflow_name,
            "status": record.status.as_str(), "source": record.source, "device": record.device,
            "started_at": record.started_at, "ended_at": record.ended_at,
            "nodes": nodes.iter().map(|n| json!({"id": n.node, "kind": n.kind, "status": n.status,
                "duration_secs": n.duration_secs, "cache_hit": n.cache_hit, "device": n.device, "error": n.error})).collect::<Vec<_>>(),
            "metrics": metrics.iter().map(|m| json!({"node": m.0, "source": m.1, "name": m.2, "value": m.3})).collect::<Vec<_>>(),
            "job": job,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!("run {}: {} ({}), {}", record.id, record.workflow_name, record.experiment, record.status.as_str());
    println!("  started {} UTC from the {} on device {}", utc(record.started_at), record.source, record.device);
    if let Some(job) = &job {
        let id = job["job"].as_str().unwrap_or("not submitted");
        println!("  job {id} on {}: {}", job["engine"].as_str().unwrap_or("?"), job["state"].as_str().unwrap_or("?"));
        if let Some(message) = job["message"].as_str() {
            println!("  {message}");
        }
        if let Some(tasks) = job["tasks"].as_array() {
            print_tasks(tasks);
        }
    }
    for n in &nodes {
        let on = n.device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default();
        let error = n.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        println!("  {:<10} {:<24} {:.2} s{on}{error}", n.status, n.node, n.duration_secs);
    }
    for (node, source, name, value) in &metrics {
        println!("  {node} / {source}: {name} = {value:.4}");
    }
    ExitCode::SUCCESS
}
