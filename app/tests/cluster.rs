//! Cluster export and submission against real engines on loopback: a single-node Slurm (Debian packages,
//! started by `tests/cluster/slurm.sh`, two fake GPUs, `slurmrestd` with JWT), a Ray head (Python package `ray[default]`),
//! and Kubernetes manifests checked offline with `kubernetes-validate --strict` (no API server can run here).
//!
//! A component a developer's machine lacks is skipped with the reason; under `CI=true` it fails the test
//! (`.ci/run` installs them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

use pipewright_e2e::cluster::{Slurm, available, sweep_project};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pipewright")
}

fn pipewright(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(binary()).args(args).envs(envs.iter().copied()).output().expect("pipewright runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The Python environment with `ray` and `kubernetes-validate`: `$PIPEWRIGHT_PY_VENV`, else the one `.ci/run`
/// makes under the build cache.
fn py_tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")))?;
    let tool = venv.join("bin").join(name);
    tool.is_file().then_some(tool)
}

/// A scratch project: the Titanic deploy example reading its passengers from a CSV file (so the bundle has
/// data to carry), with its own store.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let flow_text =
        std::fs::read_to_string(repo_root().join("projects/titanic-deploy/titanic-deploy.flow.json")).expect("example");
    let mut flow: Json = serde_json::from_str(&flow_text).expect("json");
    let data = flow["nodes"].as_array_mut().expect("nodes").iter_mut().find(|n| n["id"] == "data").expect("data node");
    data["kind"] = json!("data.import_data");
    data["params"] = json!({"path": "data/passengers.csv"});
    // A file's label is text like any other column: only the features are encoded.
    let indicators = flow["nodes"].as_array_mut().expect("nodes").iter_mut().find(|n| n["id"] == "indicators");
    indicators.expect("indicators node")["params"] = json!({"columns": ["sex", "embarked"]});
    std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
    std::fs::copy(repo_root().join("assets/datasets/titanic.csv"), dir.path().join("data/passengers.csv"))
        .expect("csv");
    let path = dir.path().join("titanic.flow.json");
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("write");
    (dir, path)
}

/// Metrics of a `pipewright run --json` or `runs show --json` result, as (node, source, name) → value.
fn local_metrics(flow: &Path) -> Vec<(String, String, String, f64)> {
    let out = pipewright(&["run", &flow.to_string_lossy(), "--json", "--no-record", "--no-cache"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let result: Json = serde_json::from_slice(&out.stdout).expect("json");
    let mut metrics = Vec::new();
    for (node, sources) in result["metrics"].as_object().expect("metrics") {
        for (source, values) in sources.as_object().expect("sources") {
            for (name, value) in values.as_object().expect("values") {
                metrics.push((node.clone(), source.clone(), name.clone(), value.as_f64().expect("number")));
            }
        }
    }
    metrics.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    assert!(metrics.iter().any(|m| m.2 == "roc_auc"), "{metrics:?}");
    metrics
}

/// The runs of a project's store, newest first.
fn runs(project: &Path) -> Vec<Json> {
    let out = pipewright(&["runs", "--project", &project.to_string_lossy(), "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Json = serde_json::from_slice(&out.stdout).expect("json");
    list.as_array().expect("runs").clone()
}

fn recorded_metrics(project: &Path, run: i64) -> Vec<(String, String, String, f64)> {
    let out = pipewright(&["runs", "--project", &project.to_string_lossy(), "--json", "show", &run.to_string()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Json = serde_json::from_slice(&out.stdout).expect("json");
    let mut metrics: Vec<(String, String, String, f64)> = shown["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| {
            (
                m["node"].as_str().unwrap_or("").to_owned(),
                m["source"].as_str().unwrap_or("").to_owned(),
                m["name"].as_str().unwrap_or("").to_owned(),
                m["value"].as_f64().expect("value"),
            )
        })
        .collect();
    metrics.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    metrics
}

/// The newest run: its id and status; asserts it came from the cluster.
fn last_run(project: &Path) -> (i64, String) {
    let list = runs(project);
    let run = list.first().expect("a recorded run");
    assert_eq!(run["source"], "cluster", "{run}");
    (run["id"].as_i64().expect("id"), run["status"].as_str().unwrap_or("").to_owned())
}

/// A small CPU job whose data stays where it is (referenced by its absolute path), with the runner here.
fn export_referenced(flow: &Path, bundle: &Path, target: &str) -> Output {
    let args = ["--target", target, "--gpus", "0", "--cpus", "1", "--memory", "1G", "--data", "reference"];
    let out = export(flow, bundle, &[&args[..], &["--runner-path", binary()]].concat());
    assert!(out.status.success(), "{}", text(&out));
    out
}

fn export(flow: &Path, bundle: &Path, args: &[&str]) -> Output {
    let mut all = vec!["export", flow.to_str().expect("utf-8"), "-o", bundle.to_str().expect("utf-8")];
    all.extend_from_slice(args);
    pipewright(&all, &[])
}

/// The Slurm bundle of the test project: the sbatch script asks for what was exported, the runner and the
/// data are in, file paths are rewritten.
fn assert_slurm_bundle(bundle: &Path) {
    let script = std::fs::read_to_string(bundle.join("slurm/job.sbatch")).expect("sbatch script");
    for line in ["#SBATCH --gres=gpu:1", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=1024M", "#SBATCH --time=00:10:00"]
    {
        assert!(script.contains(line), "{line} in\n{script}");
    }
    assert!(bundle.join("bin/pipewright").is_file() && bundle.join("data/passengers.csv").is_file());
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("bundle.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["data"][0]["path"], "data/passengers.csv");
    assert_eq!(manifest["outputs"][0]["path"], "results/artifacts/titanic-survival.pwmodel");
    for file in ["README.md", "Containerfile", "run.sh", "workflow.flow.json"] {
        assert!(bundle.join(file).is_file(), "{file}");
    }
}

/// Submits a bundle to the test Slurm with sbatch.
fn submit_slurm(slurm: &Slurm, bundle: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["submit", bundle.to_str().expect("utf-8"), "--slurm", "--poll", "0.3"];
    args.extend_from_slice(extra);
    pipewright(&args, &[("SLURM_CONF", &slurm.conf)])
}

#[test]
fn a_workflow_exported_for_slurm_runs_there_and_its_recorded_metrics_equal_a_local_run() {
    let Some(slurm) = Slurm::start() else { return };
    let (_keep, flow) = project();
    let project = flow.parent().expect("project").to_path_buf();
    let local = local_metrics(&flow);

    // The bundle: the runner (this binary) and the data copied in, the sbatch script asking for a GPU.
    let work = tempfile::tempdir().expect("tempdir");
    let bundle = work.path().join("bundle");
    let out =
        export(&flow, &bundle, &["--target", "slurm", "--gpus", "1", "--cpus", "1", "--memory", "1G", "--time", "10m"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pipewright submit"), "{}", text(&out));
    assert_slurm_bundle(&bundle);

    // Submitted with sbatch, followed to the end, recorded with the same metrics as the local run.
    let out = submit_slurm(&slurm, &bundle, &[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("queued") || said.contains("running"), "{said}");
    assert!(said.contains("Succeeded: job"), "{said}");
    // Slurm gave the job one of the node's two (fake) GPUs.
    assert!(said.contains("with GPUs: 0") || said.contains("with GPUs: 1"), "{said}");
    let (run, status) = last_run(&project);
    assert_eq!(status, "succeeded");
    assert_eq!(recorded_metrics(&project, run), local, "metrics of the cluster run");
    assert!(bundle.join("results/artifacts/titanic-survival.pwmodel").is_file());
    // The run's snapshot has the workflow's own file paths (so it restores here), not the bundle's.
    let store = pipewright_store::Store::open(&pipewright_store::store_path(&project)).expect("store");
    let (snapshot, _) = store.snapshot_of(run).expect("query").expect("snapshot");
    assert!(snapshot.contains("\"data/passengers.csv\"") && snapshot.contains("\"models/titanic-survival.pwmodel\""));
    assert!(!snapshot.contains("results/artifacts"), "{snapshot}");
    let shown = pipewright(&["runs", "--project", &project.to_string_lossy(), "show", &run.to_string()], &[]);
    assert!(text(&shown).contains("from the cluster") && text(&shown).contains("train"), "{}", text(&shown));

    // The same bundle through slurmrestd with a JWT.
    let out = submit_slurm(&slurm, &bundle, &["--rest", &slurm.rest, "--token", &slurm.token, "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let (run, status) = last_run(&project);
    assert_eq!((status.as_str(), recorded_metrics(&project, run)), ("succeeded", local.clone()));

    // A wrong token, an unreachable slurmrestd: a clear message, a failed run, no hang.
    let out = submit_slurm(&slurm, &bundle, &["--rest", &slurm.rest, "--token", "not-a-token"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("token"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");
    let out = submit_slurm(&slurm, &bundle, &["--rest", "http://127.0.0.1:1", "--token", "t"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot be reached"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");

    // A job Slurm rejects: more GPUs than any node has.
    let greedy = work.path().join("greedy");
    let out = export(&flow, &greedy, &["--target", "slurm", "--gpus", "8", "--cpus", "1", "--runner-path", binary()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = submit_slurm(&slurm, &greedy, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Requested node configuration is not available"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");
    // A job Slurm accepts but can never start (more CPUs than the node has): given up and cancelled, not
    // waited on for ever.
    let out = export(
        &flow,
        &greedy,
        &["--target", "slurm", "--gpus", "0", "--cpus", "64", "--force", "--runner-path", binary()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = submit_slurm(&slurm, &greedy, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Slurm cannot start the job as asked"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");
    let queue =
        Command::new("squeue").args(["-h", "-t", "PENDING"]).env("SLURM_CONF", &slurm.conf).output().expect("squeue");
    assert_eq!(String::from_utf8_lossy(&queue.stdout).trim(), "", "the job is cancelled");

    // A job that fails on the cluster: its data is referenced, and gone by the time it runs.
    let data = project.join("data/passengers.csv");
    let referenced = work.path().join("referenced");
    export_referenced(&flow, &referenced, "slurm");
    let kept = std::fs::read(&data).expect("data");
    std::fs::remove_file(&data).expect("remove");
    let out = submit_slurm(&slurm, &referenced, &["--quiet"]);
    std::fs::write(&data, kept).expect("restore");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("node \"data\" failed"), "{}", text(&out));
    let (run, status) = last_run(&project);
    assert_eq!(status, "failed");
    let shown = pipewright(&["runs", "--project", &project.to_string_lossy(), "show", &run.to_string()], &[]);
    assert!(
        text(&shown).contains("on Slurm (sbatch): failed") && text(&shown).contains("node \"data\" failed"),
        "{}",
        text(&shown)
    );

    // A bundle for another engine is refused before anything is submitted.
    let out = pipewright(&["submit", &bundle.to_string_lossy(), "--ray", "http://127.0.0.1:1"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("exported for Slurm"), "{}", text(&out));

    a_sweep_fans_out_as_a_job_array_and_a_combine_job(&slurm, work.path());
}

/// Exports the sweep with fan-out for `target` with `gpus` GPUs (one a task), a task per five units.
fn export_sweep(flow: &Path, bundle: &Path, target: &str, gpus: &str, extra: &[&str]) {
    let args = ["--target", target, "--fan-out", "--max-tasks", "25", "--gpus", gpus, "--cpus", "1", "--memory", "1G"];
    let out = export(flow, bundle, &[&args[..], &["--time", "10m", "--runner-path", binary()], extra].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("task set: 25 tasks for 125 units"), "{}", text(&out));
}

/// The sweep (24 settings × 5 folds, and a 5-fold cross-validation) as a job array of 25 tasks, two at once,
/// and a combine job after it: the recorded run equals a local run. A task whose runner is killed (SIGKILL)
/// is run again; a task that cannot read its input fails the run, naming the task, what it computed and the
/// file.
fn a_sweep_fans_out_as_a_job_array_and_a_combine_job(slurm: &Slurm, work: &Path) {
    let dir = work.join("sweep");
    std::fs::create_dir_all(&dir).expect("folder");
    let flow = sweep_project(&dir);
    let local = local_metrics(&flow);
    let bundle = work.join("sweep-bundle");
    // The node's two (fake) GPUs: each task asks for one, so two run at once, each on its own.
    export_sweep(&flow, &bundle, "slurm", "2", &["--at-once", "2", "--retries", "1"]);
    let array = std::fs::read_to_string(bundle.join("slurm/tasks.sbatch")).expect("array script");
    assert!(array.contains("#SBATCH --gres=gpu:1\n"), "{array}");
    let flaky = dir.join("flaky-runner.sh");
    std::fs::write(
        &flaky,
        format!(
            "#!/bin/sh\n# The runner, killed the first time it runs task 5.\n\
             if [ \"$1\" = task ] && [ \"$4\" = 5 ] && [ ! -e {marker} ]; then touch {marker}; kill -9 $$; fi\n\
             exec {binary} \"$@\"\n",
            marker = dir.join("killed-once").display(),
            binary = binary()
        ),
    )
    .expect("wrapper");
    let status = Command::new("chmod").arg("+x").arg(&flaky).status().expect("chmod");
    assert!(status.success());
    let flaky = flaky.to_string_lossy().into_owned();
    let out = pipewright(
        &["submit", &bundle.to_string_lossy(), "--slurm", "--poll", "0.3"],
        &[("SLURM_CONF", &slurm.conf), ("PIPEWRIGHT", &flaky)],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("combined block \"tune\": 120 units"), "{said}");
    let (run, status) = last_run(&dir);
    assert_eq!((status.as_str(), recorded_metrics(&dir, run)), ("succeeded", local.clone()));
    let logs: String = std::fs::read_dir(bundle.join("results"))
        .expect("results")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("task-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(logs.contains("task 5: attempt 1 failed (exit 137); trying again"), "{logs}");
    // The run's history shows its tasks.
    let shown = pipewright(&["runs", "--project", &dir.to_string_lossy(), "show", &run.to_string()], &[]);
    assert!(text(&shown).contains("tasks: 25 done, 0 failed, 0 without a result;"), "{}", text(&shown));
    assert_eq!(logs.matches("pipewright task ").count(), 25, "{logs}");
    assert!(logs.contains("with GPUs: 0") && logs.contains("with GPUs: 1"), "{logs}");

    // The same bundle through slurmrestd: the array and its combine described in JSON.
    let out = submit_slurm(slurm, &bundle, &["--rest", &slurm.rest, "--token", &slurm.token, "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let (run, status) = last_run(&dir);
    assert_eq!((status.as_str(), recorded_metrics(&dir, run)), ("succeeded", local));

    one_task_cancelled_fails_the_run_by_its_index(slurm, &dir, &bundle);

    // The sweep's training rows gone from the shared cache: every try of the tasks fails, the combine never
    // starts, and the run says which tasks and why.
    let list: Json =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("tasks/tasks.json")).expect("list")).expect("json");
    let fingerprint = list["blocks"][0]["inputs"][1]["fingerprint"].as_str().expect("fingerprint").to_owned();
    let input = bundle.join("tasks/cache").join(&fingerprint);
    std::fs::remove_dir_all(&input).expect("remove the input");
    let out = submit_slurm(slurm, &bundle, &["--quiet"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("did not succeed, so the combine cannot run"), "{said}");
    assert!(said.contains("task 0 (setting 1 × fold 1 to setting 1 × fold 5 of block \"tune\") failed"), "{said}");
    assert!(said.contains(&format!("cannot be read from {}", input.display())), "{said}");
    let (run, status) = last_run(&dir);
    assert_eq!(status, "failed");
    let shown = pipewright(&["runs", "--project", &dir.to_string_lossy(), "show", &run.to_string()], &[]);
    assert!(text(&shown).contains("tasks: 0 done, 25 failed, 0 without a result;"), "{}", text(&shown));
    let queue = Command::new("squeue").args(["-h"]).env("SLURM_CONF", &slurm.conf).output().expect("squeue");
    assert_eq!(String::from_utf8_lossy(&queue.stdout).trim(), "", "nothing is left waiting");
}

/// A runner for the bundle's jobs that, asked to run task `index` (the first time only, when `once`), first
/// touches `marker` and waits 5 minutes.
fn runner_stalling_on(dir: &Path, index: usize, marker: &Path, once: bool) -> String {
    let path = dir.join(format!("stalling-on-{index}{}.sh", if once { "-once" } else { "" }));
    let first_time = if once { format!(" && [ ! -e {} ]", marker.display()) } else { String::new() };
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n# The runner, stalling on task {index}.\n\
             if [ \"$1\" = task ] && [ \"$4\" = {index} ]{first_time}; then touch {marker}; sleep 300; fi\n\
             exec {binary} \"$@\"\n",
            marker = marker.display(),
            binary = binary()
        ),
    )
    .expect("wrapper");
    let status = Command::new("chmod").arg("+x").arg(&path).status().expect("chmod");
    assert!(status.success());
    path.to_string_lossy().into_owned()
}

/// The process id of the Ray raylet (the node) under which a process running `script` runs, if one does.
fn raylet_running(script: &str) -> Option<u32> {
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (name) state ppid …`: the name may hold spaces, so the fields after its closing parenthesis.
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    let all = processes();
    let command = |pid: u32| all.iter().find(|(p, _)| *p == pid).map(|(_, c)| c.as_str());
    let mut pid = all.iter().find(|(_, cmd)| cmd.contains(script))?.0;
    while pid > 1 {
        pid = parent(pid)?;
        if command(pid).is_some_and(|c| c.contains("/raylet ") || c.contains("raylet/raylet")) {
            return Some(pid);
        }
    }
    None
}

/// One index of the job array cancelled while it runs (`scancel JOB_7`): the run fails in good time, naming task 7
/// and what it computed, and nothing of the job is left waiting.
fn one_task_cancelled_fails_the_run_by_its_index(slurm: &Slurm, dir: &Path, bundle: &Path) {
    let marker = dir.join("task-7-started");
    let stalling = runner_stalling_on(dir, 7, &marker, false);
    let submit = Command::new(binary())
        .args(["submit", &bundle.to_string_lossy(), "--slurm", "--poll", "0.3", "--quiet", "--timeout", "5m"])
        .env("SLURM_CONF", &slurm.conf)
        .env("PIPEWRIGHT", &stalling)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("submit");
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(started.elapsed().as_secs() < 120, "task 7 never started");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let queue = Command::new("squeue").args(["-h", "-t", "R", "-o", "%i"]).env("SLURM_CONF", &slurm.conf).output();
    let queue = String::from_utf8_lossy(&queue.expect("squeue").stdout).into_owned();
    let task = queue.lines().map(str::trim).find(|id| id.ends_with("_7")).unwrap_or_else(|| panic!("{queue}"));
    let cancelled = Command::new("scancel").arg(task).env("SLURM_CONF", &slurm.conf).status().expect("scancel");
    assert!(cancelled.success());
    let out = submit.wait_with_output().expect("submit ends");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("did not succeed, so the combine cannot run"), "{said}");
    assert!(said.contains("task 7 (setting 8 × fold 1 to setting 8 × fold 5 of block \"tune\")"), "{said}");
    let (_, status) = last_run(dir);
    assert_eq!(status, "failed");
    let queue = Command::new("squeue").args(["-h"]).env("SLURM_CONF", &slurm.conf).output().expect("squeue");
    assert_eq!(String::from_utf8_lossy(&queue.stdout).trim(), "", "nothing is left waiting");
}

/// A Ray head on loopback, stopped when dropped: every Ray process that was not running before it started.
struct RayHead {
    dir: tempfile::TempDir,
    url: String,
    before: Vec<u32>,
}

/// Process ids and command lines.
fn processes() -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
        .collect()
}

impl RayHead {
    fn start() -> Option<Self> {
        let ray = py_tool("ray");
        if !available("Ray", ray.is_some(), "pip install \"ray[default]\" into $PIPEWRIGHT_PY_VENV; .ci/run does") {
            return None;
        }
        let ray = ray.expect("ray");
        let before = processes().into_iter().map(|(pid, _)| pid).collect();
        // A short path: Ray's socket names must stay under the 107-byte limit.
        let dir = tempfile::Builder::new().prefix("pwray").tempdir_in("/tmp").expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let gcs = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        // Jobs find Ray's Python first on the PATH, as on a Ray cluster's nodes.
        let path =
            format!("{}:{}", ray.parent().expect("venv bin").display(), std::env::var("PATH").unwrap_or_default());
        let free = || TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port().to_string();
        // The head runs drivers only; the two worker nodes have a CPU and a (declared) GPU each. Every node
        // names 127.0.0.1; the variable lets Ray form a cluster of several nodes on one machine.
        let out = Command::new(&ray)
            .args(["start", "--head", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1"])
            .arg(format!("--dashboard-port={port}"))
            .arg(format!("--port={gcs}"))
            .arg(format!("--temp-dir={}", dir.path().display()))
            .args(["--num-cpus=0", "--num-gpus=0", "--disable-usage-stats"])
            .env("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")
            .env("RAY_USAGE_STATS_ENABLED", "0")
            .env("PATH", &path)
            .output()
            .expect("ray start");
        let head = Self { dir, url: format!("http://127.0.0.1:{port}"), before };
        assert!(out.status.success(), "Ray did not start: {}", text(&out));
        for _ in 0..2 {
            let out = Command::new(&ray)
                .args(["start", &format!("--address=127.0.0.1:{gcs}"), "--node-ip-address=127.0.0.1"])
                .args(["--num-cpus=1", "--num-gpus=1", "--disable-usage-stats"])
                .arg(format!("--dashboard-agent-listen-port={}", free()))
                .arg(format!("--dashboard-agent-grpc-port={}", free()))
                .arg(format!("--metrics-export-port={}", free()))
                .arg(format!("--runtime-env-agent-port={}", free()))
                .env("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")
                .env("RAY_USAGE_STATS_ENABLED", "0")
                .env("PATH", &path)
                .output()
                .expect("ray start a worker node");
            assert!(out.status.success(), "a Ray worker node did not start: {}", text(&out));
        }
        Some(head)
    }
}

impl Drop for RayHead {
    fn drop(&mut self) {
        // Its processes name its temp folder, the Python environment, or (renamed) `ray::…`.
        let marker = self.dir.path().to_string_lossy().into_owned();
        let venv =
            py_tool("ray").and_then(|t| t.parent().and_then(Path::parent).map(|p| p.to_string_lossy().into_owned()));
        for _ in 0..5 {
            let ours: Vec<u32> = processes()
                .into_iter()
                .filter(|(pid, cmd)| {
                    !self.before.contains(pid)
                        && *pid != std::process::id()
                        && (cmd.contains(&marker)
                            || cmd.starts_with("ray::")
                            || venv.as_deref().is_some_and(|v| cmd.contains(v)))
                })
                .map(|(pid, _)| pid)
                .collect();
            if ours.is_empty() {
                break;
            }
            for pid in ours {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).output();
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

#[test]
fn a_workflow_exported_for_ray_runs_on_a_head_and_two_workers_and_its_recorded_metrics_equal_a_local_run() {
    let Some(head) = RayHead::start() else { return };
    let (_keep, flow) = project();
    let project = flow.parent().expect("project").to_path_buf();
    let local = local_metrics(&flow);
    let work = tempfile::tempdir().expect("tempdir");
    let bundle = work.path().join("bundle");
    let out = export(
        &flow,
        &bundle,
        &["--target", "ray", "--gpus", "1", "--cpus", "1", "--memory", "1G", "--runner-path", binary()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let job: Json =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("ray/job.json")).expect("job.json")).expect("json");
    assert_eq!((job["entrypoint_num_gpus"].as_u64(), job["entrypoint_num_cpus"].as_u64()), (Some(1), Some(1)));
    assert!(bundle.join("ray/entrypoint.py").is_file() && bundle.join("ray/runtime_env.json").is_file());

    let out = pipewright(&["submit", &bundle.to_string_lossy(), "--ray", &head.url, "--poll", "0.5"], &[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    // Ray gave the job the GPU the head declared.
    assert!(said.contains("with GPUs: 0"), "{said}");
    let (run, status) = last_run(&project);
    assert_eq!((status.as_str(), recorded_metrics(&project, run)), ("succeeded", local.clone()));

    // The Titanic model trained data-parallel: two ranks placed at once on the two workers, exchanging each
    // pass's sums; the combine finds rank 0's model. The metrics are the local run's (to rounding).
    let sharded = work.path().join("sharded");
    let out = export(
        &flow,
        &sharded,
        &["--target", "ray", "--fan-out", "--shards", "2", "--gpus", "0", "--cpus", "1", "--runner-path", binary()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("data-parallel: block train over 2 shards"), "{}", text(&out));
    let out = pipewright(&["submit", &sharded.to_string_lossy(), "--ray", &head.url, "--poll", "0.5"], &[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("fit of block \"train\": 2 ranks done on nodes "), "{said}");
    let nodes = said.lines().find(|l| l.contains("2 ranks done on nodes")).map(|l| l.matches(',').count());
    assert_eq!(nodes, Some(1), "the ranks were spread over both workers: {said}");
    let (run, status) = last_run(&project);
    assert_eq!(status, "succeeded");
    let recorded = recorded_metrics(&project, run);
    assert_eq!(recorded.len(), local.len());
    for (got, expected) in recorded.iter().zip(&local) {
        assert_eq!((&got.0, &got.1, &got.2), (&expected.0, &expected.1, &expected.2));
        assert!((got.3 - expected.3).abs() <= 1e-9, "{got:?} vs {expected:?}");
    }

    // A job that fails on the cluster: the block and its message come back, the run is failed.
    let data = project.join("data/passengers.csv");
    let referenced = work.path().join("referenced");
    export_referenced(&flow, &referenced, "ray");
    std::fs::remove_file(&data).expect("remove");
    let out =
        pipewright(&["submit", &referenced.to_string_lossy(), "--ray", &head.url, "--poll", "0.5", "--quiet"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("node \"data\" failed"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");

    // The sweep as Ray tasks over the two worker nodes, joined by a combine task: the recorded run equals a
    // local run.
    let dir = work.path().join("sweep");
    std::fs::create_dir_all(&dir).expect("folder");
    let sweep = sweep_project(&dir);
    let sweep_local = local_metrics(&sweep);
    let sweep_bundle = work.path().join("sweep-bundle");
    export_sweep(&sweep, &sweep_bundle, "ray", "1", &["--retries", "1"]);
    let out = pipewright(&["submit", &sweep_bundle.to_string_lossy(), "--ray", &head.url, "--poll", "0.5"], &[]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("25 tasks, 25 at once") && said.contains("(25 of 25)"), "{said}");
    let nodes: std::collections::BTreeSet<&str> =
        said.lines().filter_map(|l| l.split(" done on node ").nth(1)).filter_map(|r| r.split(' ').next()).collect();
    assert_eq!(nodes.len(), 2, "the tasks ran on both worker nodes: {said}");
    assert!(said.contains("done on node") && said.contains("with GPUs: 0 ("), "each task had its node's GPU: {said}");
    let (run, status) = last_run(&dir);
    assert_eq!((status.as_str(), recorded_metrics(&dir, run)), ("succeeded", sweep_local.clone()));

    // An unreachable head.
    let out = pipewright(&["submit", &bundle.to_string_lossy(), "--ray", "http://127.0.0.1:1"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot be reached"), "{}", text(&out));
    assert_eq!(last_run(&project).1, "failed");

    a_worker_node_stopped_mid_task_has_the_task_run_again_elsewhere(&head, &dir, &sweep, work.path(), &sweep_local);

    losing_the_head_mid_run_fails_the_run_clearly(head, &dir, &sweep, work.path());
}

/// A worker node stopped (its raylet killed) while it runs a task of the sweep: Ray runs the task again on the
/// other node, and the run ends as the local one.
fn a_worker_node_stopped_mid_task_has_the_task_run_again_elsewhere(
    head: &RayHead,
    dir: &Path,
    sweep: &Path,
    work: &Path,
    sweep_local: &[(String, String, String, f64)],
) {
    // A worker node stopped (its raylet killed) while it runs a task: Ray runs the task again on the other
    // node, and the run ends as the local one.
    let marker = dir.join("task-2-stalled-once");
    let stalling = runner_stalling_on(dir, 2, &marker, true);
    let lost_bundle = work.join("node-lost-bundle");
    let args = ["--target", "ray", "--fan-out", "--max-tasks", "25", "--gpus", "1", "--cpus", "1", "--retries", "2"];
    let out = export(sweep, &lost_bundle, &[&args[..], &["--runner-path", &stalling]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let submit = Command::new(binary())
        .args(["submit", &lost_bundle.to_string_lossy(), "--ray", &head.url, "--poll", "0.5", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("submit");
    let started = std::time::Instant::now();
    let raylet = loop {
        assert!(started.elapsed().as_secs() < 180, "task 2 never started");
        if let Some(raylet) = marker.exists().then(|| raylet_running(&stalling)).flatten() {
            break raylet;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = Command::new("kill").arg("-9").arg(raylet.to_string()).output();
    let out = submit.wait_with_output().expect("submit ends");
    assert!(out.status.success(), "{}", text(&out));
    let (run, status) = last_run(dir);
    assert_eq!((status.as_str(), recorded_metrics(dir, run)), ("succeeded", sweep_local.to_vec()));
    for (pid, _) in processes().into_iter().filter(|(_, cmd)| cmd.contains(&stalling)) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).output();
    }
}

/// The head lost while a fanned-out job runs (every Ray process killed): the run fails in good time, saying that
/// contact with the job was lost.
fn losing_the_head_mid_run_fails_the_run_clearly(head: RayHead, dir: &Path, sweep: &Path, work: &Path) {
    let marker = dir.join("task-3-started");
    let stalling = runner_stalling_on(dir, 3, &marker, false);
    let stalled_bundle = work.join("stalled-bundle");
    let args = ["--target", "ray", "--fan-out", "--max-tasks", "25", "--gpus", "1", "--cpus", "1"];
    let out = export(sweep, &stalled_bundle, &[&args[..], &["--runner-path", &stalling]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let submit = Command::new(binary())
        .args(["submit", &stalled_bundle.to_string_lossy(), "--ray", &head.url, "--poll", "0.5", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("submit");
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(started.elapsed().as_secs() < 180, "task 3 never started");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(head);
    let out = submit.wait_with_output().expect("submit ends");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("lost contact with the job"), "{said}");
    assert_eq!(last_run(dir).1, "failed");
    // The stalled task's runner outlived its Ray worker: it goes too.
    for (pid, _) in processes().into_iter().filter(|(_, cmd)| cmd.contains(&stalling)) {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).output();
    }
}

/// The sweep fanned out (an Indexed Job of 25 completions, two at once, each index retried once by Kubernetes,
/// and a combine Job that waits for their results) and the Titanic model trained data-parallel (an Indexed Job
/// of ranks): every manifest passes the strict schema check.
fn fanned_out_manifests_pass_the_strict_schema_check(validate: &Path, flow: &Path, work: &Path) {
    // The sweep fanned out: an Indexed Job of 25 completions, two at once, each index retried once by
    // Kubernetes, and a combine Job that waits for their results.
    let sweep = sweep_project(work);
    let fanned = work.join("fanned");
    let out = export(
        &sweep,
        &fanned,
        &[
            "--target",
            "kubernetes",
            "--fan-out",
            "--max-tasks",
            "25",
            "--at-once",
            "2",
            "--retries",
            "1",
            "--gpus",
            "0",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let tasks = std::fs::read_to_string(fanned.join("kubernetes/tasks.yaml")).expect("tasks manifest");
    for field in [
        "completionMode: \"Indexed\"",
        "completions: 25",
        "parallelism: 2",
        "backoffLimitPerIndex: 1",
        "/bundle/task.sh",
    ] {
        assert!(tasks.contains(field), "{field} in\n{tasks}");
    }
    assert!(!tasks.contains("backoffLimit: "), "{tasks}");
    let combine = std::fs::read_to_string(fanned.join("kubernetes/combine.yaml")).expect("combine manifest");
    assert!(combine.contains("/bundle/combine.sh") && combine.contains("--wait"), "{combine}");
    for manifest in ["kubernetes/tasks.yaml", "kubernetes/combine.yaml"] {
        let check = Command::new(validate)
            .args(["--strict", "-k", "1.32.0"])
            .arg(fanned.join(manifest))
            .output()
            .expect("validate");
        assert!(check.status.success(), "{manifest}: {}", text(&check));
    }

    // A Train Model trained data-parallel: its Indexed Job of ranks passes too.
    let sharded = work.join("sharded");
    let out = export(flow, &sharded, &["--target", "kubernetes", "--fan-out", "--shards", "2", "--gpus", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    for manifest in ["kubernetes/fit-train.yaml", "kubernetes/combine.yaml"] {
        let check = Command::new(validate)
            .args(["--strict", "-k", "1.32.0"])
            .arg(sharded.join(manifest))
            .output()
            .expect("validate");
        assert!(check.status.success(), "{manifest}: {}", text(&check));
    }
}

#[test]
fn kubernetes_job_manifests_pass_the_strict_schema_check_and_an_unreachable_cluster_fails_clearly() {
    let validate = py_tool("kubernetes-validate");
    if !available("kubernetes-validate", validate.is_some(), "pip install kubernetes-validate; .ci/run does") {
        return;
    }
    let validate = validate.expect("tool");
    let (_keep, flow) = project();
    let project = flow.parent().expect("project").to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");
    for (name, gpus) in [("gpu", "2"), ("cpu", "0")] {
        let bundle = work.path().join(name);
        let out = export(
            &flow,
            &bundle,
            &[
                "--target",
                "kubernetes",
                "--gpus",
                gpus,
                "--image",
                "registry.example/pipewright:0.1.0",
                "--namespace",
                "ml",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let manifest = bundle.join("kubernetes/job.yaml");
        let yaml = std::fs::read_to_string(&manifest).expect("manifest");
        assert_eq!(yaml.contains("nvidia.com/gpu: \"2\""), gpus == "2", "{yaml}");
        assert!(yaml.contains("claimName: \"pipewright-bundles\"") && yaml.contains("namespace: \"ml\""), "{yaml}");
        // The image has the runner: nothing is bundled.
        assert!(!bundle.join("bin").exists());
        let check =
            Command::new(&validate).args(["--strict", "-k", "1.32.0"]).arg(&manifest).output().expect("validate");
        assert!(check.status.success(), "{}", text(&check));
        assert!(text(&check).contains("passed for resource job/titanic"), "{}", text(&check));
    }
    fanned_out_manifests_pass_the_strict_schema_check(&validate, &flow, work.path());

    // The schema check does catch a misspelled field (so its pass above means something).
    let broken = work.path().join("broken.yaml");
    let yaml = std::fs::read_to_string(work.path().join("gpu/kubernetes/job.yaml")).expect("manifest");
    std::fs::write(&broken, yaml.replace("backoffLimit", "backofLimit")).expect("write");
    let check = Command::new(&validate).args(["--strict", "-k", "1.32.0"]).arg(&broken).output().expect("validate");
    assert!(!check.status.success(), "{}", text(&check));

    // No API server can run here: a kubeconfig pointing nowhere gives a clear message and a failed run.
    let kubeconfig = work.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: \"https://127.0.0.1:1\"}\n  name: nowhere\n\
         contexts:\n- context: {cluster: nowhere, user: u}\n  name: nowhere\ncurrent-context: nowhere\n\
         users:\n- name: u\n  user: {token: x}\n",
    )
    .expect("kubeconfig");
    let bundle = work.path().join("gpu");
    let out = pipewright(
        &["submit", &bundle.to_string_lossy(), "--kubernetes", "--kubeconfig", &kubeconfig.to_string_lossy()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("connection refused") || said.contains("kubectl` is not installed"), "{said}");
    assert_eq!(last_run(&project).1, "failed");
}

#[test]
fn a_registered_model_exports_as_an_image_folder_whose_kubernetes_objects_pass_the_strict_schema_check() {
    let validate = py_tool("kubernetes-validate");
    if !available("kubernetes-validate", validate.is_some(), "pip install kubernetes-validate; .ci/run does") {
        return;
    }
    let validate = validate.expect("tool");
    let (_keep, flow) = project();
    let project = flow.parent().expect("project").to_path_buf();
    let dir = project.to_string_lossy().into_owned();
    let out = pipewright(&["run", &flow.to_string_lossy(), "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let run = serde_json::from_slice::<Json>(&out.stdout).expect("json")["run"].as_i64().expect("recorded").to_string();
    let out = pipewright(&["models", "--project", &dir, "register", &run, "train", "--name", "survival"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = pipewright(&["models", "--project", &dir, "stage", "survival", "1", "staging"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let work = tempfile::tempdir().expect("tempdir");
    let serving = work.path().join("serving");
    let export = |model: &str, extra: &[&str]| {
        let out = serving.to_string_lossy().into_owned();
        pipewright(&[&["export-serving", model, "-o", &out, "--project", &dir][..], extra].concat(), &[])
    };

    // What does not exist is named, with what does.
    let out = export("nope", &[]);
    assert!(!out.status.success() && text(&out).contains("the registry has survival"), "{}", text(&out));
    let out = export("survival", &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("survival has no version in production; its versions: 1 (staging)"), "{}", text(&out));
    let out = export("survival@staging", &["--replicas", "3", "--max-replicas", "2"]);
    assert!(!out.status.success() && text(&out).contains("replicas 3 to 2"), "{}", text(&out));

    let out = export("survival@staging", &["--image", "registry.example/survival:1", "--max-replicas", "6"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("serving survival version 1 (staging)"), "{}", text(&out));
    for file in ["model.pwmodel", "bin/pipewright", "Containerfile", "README.md"] {
        assert!(serving.join(file).is_file(), "{file}");
    }
    let containerfile = std::fs::read_to_string(serving.join("Containerfile")).expect("Containerfile");
    assert!(containerfile.contains("\"serve\", \"/srv/model.pwmodel\", \"--host\", \"0.0.0.0\""), "{containerfile}");
    for (file, kind) in [("deployment", "deployment"), ("service", "service"), ("hpa", "horizontalpodautoscaler")] {
        let manifest = serving.join(format!("kubernetes/{file}.yaml"));
        let check =
            Command::new(&validate).args(["--strict", "-k", "1.32.0"]).arg(&manifest).output().expect("validate");
        assert!(check.status.success(), "{}", text(&check));
        assert!(text(&check).contains(&format!("passed for resource {kind}/survival")), "{}", text(&check));
    }
    let deployment = std::fs::read_to_string(serving.join("kubernetes/deployment.yaml")).expect("deployment");
    assert!(deployment.contains("image: \"registry.example/survival:1\"") && deployment.contains("path: \"/health\""));
    let hpa = std::fs::read_to_string(serving.join("kubernetes/hpa.yaml")).expect("hpa");
    assert!(hpa.contains("maxReplicas: 6") && hpa.contains("averageUtilization: 70"), "{hpa}");
    // The folder's runner scores with the folder's package.
    let rows = project.join("data/passengers.csv");
    let scored = work.path().join("scored.csv");
    let out = Command::new(serving.join("bin/pipewright"))
        .args(["score", &serving.join("model.pwmodel").to_string_lossy(), &rows.to_string_lossy()])
        .args(["-o", &scored.to_string_lossy()])
        .output()
        .expect("score");
    assert!(out.status.success(), "{}", text(&out));
    assert!(std::fs::read_to_string(&scored).expect("scored").lines().count() > 1000);
    // A folder that holds something is not written into.
    let out = export("survival@1", &[]);
    assert!(!out.status.success() && text(&out).contains("is not an empty folder"), "{}", text(&out));
}
