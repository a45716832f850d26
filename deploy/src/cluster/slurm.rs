//! Slurm: the sbatch script, and submission with the Slurm tools (`sbatch`, `scontrol`, `scancel`) or
//! through slurmrestd's REST API (v0.0.38, JWT).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{Value as Json, json};

use super::bundle::{BundleManifest, FitStep, RESULTS_DIR};
use super::engine::{JobApi, JobState};
use super::{Bundle, ClusterError};
use crate::client;

/// The REST API version slurmrestd is asked for.
pub const REST_API: &str = "v0.0.38";

/// The sbatch script, relative to the bundle.
pub const SCRIPT: &str = "slurm/job.sbatch";
/// A fanned-out bundle's job array: one array index per task.
pub const TASKS_SCRIPT: &str = "slurm/tasks.sbatch";
/// A fanned-out bundle's combine job, started when every array index has succeeded.
pub const COMBINE_SCRIPT: &str = "slurm/combine.sbatch";
/// Submits the array and the combine with its dependency, by hand.
pub const SUBMIT_SCRIPT: &str = "slurm/submit.sh";

/// `--time` as Slurm writes it: `D-HH:MM:SS` or `HH:MM:SS`.
fn time_limit(minutes: u32) -> String {
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if days > 0 { format!("{days}-{hours:02}:{minutes:02}:00") } else { format!("{hours:02}:{minutes:02}:00") }
}

/// The `#SBATCH` lines of the resources a job of the bundle asks for (`gpus` GPUs), with its name and log file.
fn header(manifest: &BundleManifest, name: &str, output: &str, gpus: u32) -> String {
    let r = &manifest.resources;
    let mut script = String::from("#!/bin/bash\n");
    let _ = writeln!(script, "#SBATCH --job-name={name}");
    if gpus > 0 {
        let _ = writeln!(script, "#SBATCH --gres=gpu:{gpus}");
    }
    let _ = writeln!(script, "#SBATCH --nodes=1");
    let _ = writeln!(script, "#SBATCH --ntasks=1");
    let _ = writeln!(script, "#SBATCH --cpus-per-task={}", r.cpus);
    let _ = writeln!(script, "#SBATCH --mem={}M", r.memory_mib);
    let _ = writeln!(script, "#SBATCH --time={}", time_limit(r.time_limit_minutes));
    if let Some(partition) = r.partition.as_deref().filter(|p| !p.is_empty()) {
        let _ = writeln!(script, "#SBATCH --partition={partition}");
    }
    let _ = writeln!(script, "#SBATCH --output={RESULTS_DIR}/{output}");
    script
}

/// The lines every job script runs before its work: the thread pools sized to the CPUs Slurm gave.
const PREAMBLE: &str = "set -u\n\
    # The CPU cores Slurm gave the job, for the runner's thread pools.\n\
    if [ -n \"${SLURM_CPUS_PER_TASK:-}\" ]; then\n\
      export RAYON_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\" POLARS_MAX_THREADS=\"$SLURM_CPUS_PER_TASK\"\n\
    fi\n";

pub(super) fn files(manifest: &BundleManifest) -> Vec<(String, String)> {
    let mut script = header(manifest, &manifest.job_name, "job-%j.log", manifest.resources.gpus);
    script.push_str(
        "#\n# Submit from the bundle folder (its path must be readable on the compute nodes):\n\
         #   cd BUNDLE && sbatch slurm/job.sbatch\n\
         # The job runs in the folder it was submitted from and writes results/.\n",
    );
    script.push_str(PREAMBLE);
    script.push_str(
        "echo \"pipewright job $SLURM_JOB_ID on $(hostname) with GPUs: ${CUDA_VISIBLE_DEVICES:-none}\"\n\
         exec sh ./run.sh\n",
    );
    let mut files = vec![(SCRIPT.to_owned(), script)];
    let Some(fan_out) = &manifest.fan_out else { return files };
    let gpus = manifest.gpus_per_task();
    let mut dependencies = Vec::new();
    if fan_out.tasks > 0 {
        let mut tasks = header(manifest, &format!("{}-tasks", manifest.job_name), "task-%A_%a.log", gpus);
        let at_once = if fan_out.at_once > 0 { format!("%{}", fan_out.at_once) } else { String::new() };
        let _ = writeln!(tasks, "#SBATCH --array=0-{}{at_once}", fan_out.tasks.saturating_sub(1));
        tasks.push_str(
            "#\n# One index of the task set per array index (tasks/tasks.json says what each computes). Submit with\n\
             # slurm/submit.sh, which starts slurm/combine.sbatch once every index has succeeded.\n",
        );
        tasks.push_str(PREAMBLE);
        tasks.push_str(
            "echo \"pipewright task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname) with GPUs: ${CUDA_VISIBLE_DEVICES:-none}\"\n\
             exec sh ./task.sh \"$SLURM_ARRAY_TASK_ID\"\n",
        );
        files.push((TASKS_SCRIPT.to_owned(), tasks));
        dependencies.push(("array", TASKS_SCRIPT.to_owned()));
    }
    for fit in &manifest.fit_steps() {
        let name = fit_script(&fit.node);
        files.push((name.clone(), fit_job(manifest, fit)));
        dependencies.push(("fit", name));
    }
    let mut combine = header(manifest, &format!("{}-combine", manifest.job_name), "job-%j.log", gpus);
    combine
        .push_str("#\n# Joins the task set's results and runs the rest of the workflow; started by slurm/submit.sh.\n");
    combine.push_str(PREAMBLE);
    combine.push_str(
        "echo \"pipewright job $SLURM_JOB_ID (combine) on $(hostname) with GPUs: ${CUDA_VISIBLE_DEVICES:-none}\"\n\
         exec sh ./combine.sh\n",
    );
    let mut submit = String::from(
        "#!/bin/sh\n\
         # Submits the task set (a job array, and a multi-task job per data-parallel fit) and the combine job to\n\
         # start when every one has succeeded. Run from anywhere; the bundle's folder must be readable on the nodes.\n\
         set -eu\n\
         cd \"$(dirname \"$0\")/..\"\n\
         after=\"\"\n",
    );
    for (_, script) in &dependencies {
        let _ = writeln!(
            submit,
            "id=$(sbatch --parsable --chdir \"$PWD\" {script} | cut -d';' -f1)\nafter=\"$after:$id\"\necho \"{script}: job $id\""
        );
    }
    let _ = writeln!(
        submit,
        "combine=$(sbatch --parsable --chdir \"$PWD\" --dependency=afterok$after {COMBINE_SCRIPT} | cut -d';' -f1)\n\
         echo \"combine: job $combine\""
    );
    files.push((COMBINE_SCRIPT.to_owned(), combine));
    files.push((SUBMIT_SCRIPT.to_owned(), submit));
    files
}

/// The sbatch script of a data-parallel fit of block `node`.
pub fn fit_script(node: &str) -> String {
    format!("slurm/fit-{node}.sbatch")
}

/// A data-parallel fit as one job of `ranks` tasks: `srun` starts `pipewright shard-fit` on each, which takes its
/// rank and the rank count from Slurm.
fn fit_job(manifest: &BundleManifest, fit: &FitStep) -> String {
    let r = &manifest.resources;
    let mut script = String::from("#!/bin/bash\n");
    let _ = writeln!(script, "#SBATCH --job-name={}-fit-{}", manifest.job_name, fit.node);
    let _ = writeln!(script, "#SBATCH --ntasks={}", fit.ranks);
    let _ = writeln!(script, "#SBATCH --cpus-per-task={}", r.cpus);
    let _ = writeln!(script, "#SBATCH --mem-per-cpu={}M", (r.memory_mib / u64::from(r.cpus.max(1))).max(64));
    let _ = writeln!(script, "#SBATCH --time={}", time_limit(r.time_limit_minutes));
    if let Some(partition) = r.partition.as_deref().filter(|p| !p.is_empty()) {
        let _ = writeln!(script, "#SBATCH --partition={partition}");
    }
    let _ = writeln!(script, "#SBATCH --output={RESULTS_DIR}/fit-{}-%j.log", fit.node);
    let _ = writeln!(
        script,
        "#\n# Block \"{node}\" trained data-parallel: one rank a shard of its rows (tasks/shards/{node}/), each pass's sums\n\
         # exchanged between the ranks; rank 0 writes the model for the combine.",
        node = fit.node
    );
    script.push_str(PREAMBLE);
    let _ = writeln!(
        script,
        "RUNNER=\"${{PIPEWRIGHT:-{runner}}}\"\n# A rank that fails ends the step: the others would only wait for its sums.\nexec srun --kill-on-bad-exit=1 \"$RUNNER\" shard-fit {dir}",
        runner = manifest.runner,
        dir = fit.dir
    );
    script
}

pub(super) fn readme_section(manifest: &BundleManifest) -> String {
    if manifest.fan_out.is_some() {
        return format!(
            "Copy the bundle to a folder the compute nodes can read, then either\n\n\
             ```sh\nsh BUNDLE/{SUBMIT_SCRIPT}   # the job array {TASKS_SCRIPT}, then {COMBINE_SCRIPT} (afterok)\n```\n\n\
             or let Pipewright submit both, follow them and record the results in the project's run history:\n\n\
             ```sh\npipewright submit BUNDLE --slurm\n```\n\n\
             `sbatch {SCRIPT}` still runs the whole workflow as one job.\n"
        );
    }
    format!(
        "Copy the bundle to a folder the compute nodes can read, then either\n\n\
         ```sh\ncd BUNDLE && sbatch {SCRIPT}\n```\n\n\
         or let Pipewright submit it, follow it and record its results in the project's run history:\n\n\
         ```sh\npipewright submit BUNDLE --slurm                       # with sbatch on this machine\n\
         pipewright submit BUNDLE --slurm --rest http://HOST:6820 --token $SLURM_JWT   # through slurmrestd\n```\n"
    )
}

/// Runs a Slurm tool and returns its standard output, or its error.
fn tool(program: &str, args: &[&str], dir: Option<&Path>) -> Result<String, ClusterError> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().map_err(|e| {
        ClusterError::Engine(if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{program}` is not installed here; submit from a Slurm login node, or use --rest URL --token T")
        } else {
            format!("`{program}` could not start: {e}")
        })
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let err = err.strip_prefix(&format!("{program}: error: ")).unwrap_or(&err).to_owned();
        Err(ClusterError::Engine(format!("Slurm refused: {err}")))
    }
}

/// Slurm through its tools on this machine (`sbatch`, `scontrol`, `scancel`; `SLURM_CONF` is honoured).
pub(super) struct Tools;

impl JobApi for Tools {
    fn submit(&self, bundle: &Bundle) -> Result<String, ClusterError> {
        let Some(fan_out) = &bundle.manifest.fan_out else { return sbatch(bundle, SCRIPT, None) };
        let mut before = Vec::new();
        let scripts = (fan_out.tasks > 0)
            .then(|| TASKS_SCRIPT.to_owned())
            .into_iter()
            .chain(bundle.manifest.fit_steps().into_iter().map(|f| fit_script(&f.node)));
        for script in scripts {
            match sbatch(bundle, &script, None) {
                Ok(id) => before.push(id),
                Err(e) => {
                    if !before.is_empty() {
                        let _ = tool("scancel", &before.iter().map(String::as_str).collect::<Vec<_>>(), None);
                    }
                    return Err(e);
                }
            }
        }
        let dependency = format!("afterok:{}", before.join(":"));
        match sbatch(bundle, COMBINE_SCRIPT, Some(&dependency)) {
            Ok(combine) => Ok(before.into_iter().chain([combine]).collect::<Vec<_>>().join("+")),
            Err(e) => {
                let _ = tool("scancel", &before.iter().map(String::as_str).collect::<Vec<_>>(), None);
                Err(e)
            }
        }
    }

    fn state(&self, id: &str) -> Result<JobState, ClusterError> {
        let Some((before, combine)) = id.rsplit_once('+') else {
            return job_fields(id).map(|f| f.map_or_else(|| state_of("", "", ""), |(s, r, e)| state_of(&s, &r, &e)));
        };
        let Some((state, reason, exit)) = job_fields(combine)? else { return Ok(state_of("", "", "")) };
        Ok(combine_state(before, &state, &reason, &exit, || {
            before.split('+').any(|job| {
                tool("scontrol", &["show", "job", "--oneliner", job], None)
                    .is_ok_and(|out| out.lines().any(|l| !l.contains("JobState=PENDING")))
            })
        }))
    }

    fn logs(&self, bundle: &Bundle, id: &str) -> String {
        log(bundle, id.rsplit_once('+').map_or(id, |(_, combine)| combine))
    }

    fn cancel(&self, id: &str) -> Result<(), ClusterError> {
        let ids: Vec<&str> = id.split('+').collect();
        tool("scancel", &ids, None).map(|_| ())
    }
}

/// Submits a script of the bundle with `sbatch` from the bundle folder, after `dependency` if given; returns
/// the job id.
fn sbatch(bundle: &Bundle, script: &str, dependency: Option<&str>) -> Result<String, ClusterError> {
    let dir = bundle.dir.to_string_lossy().into_owned();
    let mut args = vec!["--parsable", "--chdir", &dir];
    let dependency = dependency.map(|d| format!("--dependency={d}"));
    if let Some(d) = &dependency {
        args.push(d);
    }
    args.push(script);
    let out = tool("sbatch", &args, Some(&bundle.dir))?;
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let id = out.trim().split(';').next().unwrap_or("").to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ClusterError::Engine(format!("sbatch gave no job id: {}", out.trim())));
    }
    Ok(id)
}

/// A job's state, reason and exit code from `scontrol show job`; `None` for a job Slurm no longer knows.
fn job_fields(id: &str) -> Result<Option<(String, String, String)>, ClusterError> {
    let out = match tool("scontrol", &["show", "job", "--oneliner", id], None) {
        Ok(out) => out,
        // Finished jobs are forgotten after the cluster's MinJobAge.
        Err(ClusterError::Engine(e)) if e.contains("Invalid job id") => return Ok(None),
        Err(e) => return Err(e),
    };
    let field = |name: &str| {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("")
            .to_owned()
    };
    Ok(Some((field("JobState"), field("Reason"), field("ExitCode"))))
}

/// The state of a job Slurm no longer knows (finished longer ago than its `MinJobAge`).
pub(super) const FORGOTTEN: &str = "Slurm no longer knows the job";

/// Reasons of a pending job that waiting will not cure: the request does not fit the partition.
const NEVER_STARTS: [&str; 7] = [
    "PartitionConfig",
    "BadConstraints",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "AccountNotAllowed",
    "QOSNotAllowed",
    "InvalidQOS",
];

/// Slurm's job states as ours.
fn state_of(state: &str, reason: &str, exit_code: &str) -> JobState {
    if state == "PENDING" && NEVER_STARTS.contains(&reason) {
        return JobState::Failed(format!(
            "Slurm cannot start the job as asked (pending with reason {reason}: it asks for more CPUs, memory, time or \
             GPUs than the partition's nodes have, or for a partition it may not use); it was cancelled"
        ));
    }
    match state {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "RESIZING" | "SUSPENDED" => JobState::Queued,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" => JobState::Running,
        "COMPLETED" => JobState::Succeeded,
        "CANCELLED" => JobState::Cancelled,
        "" => JobState::Failed(FORGOTTEN.into()),
        other => {
            let mut message = format!("the job ended {other}");
            if !exit_code.is_empty() && exit_code != "0:0" {
                let _ = write!(message, " (exit code {exit_code})");
            }
            if !reason.is_empty() && reason != "None" {
                let _ = write!(message, ": {reason}");
            }
            JobState::Failed(message)
        }
    }
}

/// slurmrestd: its URL and the JWT to call it with.
#[derive(Debug, Clone)]
pub struct Rest {
    /// `http://host:port`.
    pub url: String,
    /// The user name the token belongs to.
    pub user: String,
    /// The JWT (`scontrol token`).
    pub token: String,
}

impl Rest {
    fn call(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, ClusterError> {
        let url = format!("{}/slurm/{REST_API}{path}", self.url.trim_end_matches('/'));
        let mut headers = vec![("X-SLURM-USER-NAME", self.user.as_str()), ("X-SLURM-USER-TOKEN", self.token.as_str())];
        let body = body.map(Json::to_string).unwrap_or_default();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        let answer = client::request(method, &url, &headers, body.as_bytes())
            .map_err(|e| ClusterError::Engine(format!("slurmrestd at {} cannot be reached: {e}", self.url)))?;
        let json = answer.json().ok();
        let errors: Vec<String> = json
            .as_ref()
            .and_then(|j| j["errors"].as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|e| e["error"].as_str().or_else(|| e["description"].as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            let mut message = format!("Slurm refused: {}", errors.join("; "));
            // What slurmctld says when the token does not authenticate.
            if message.contains("Zero Bytes") || message.contains("authentication") {
                message.push_str(" (is the token valid? get a fresh one with `scontrol token`)");
            }
            return Err(ClusterError::Engine(message));
        }
        match (answer.status, json) {
            (200..=299, Some(json)) => Ok(json),
            (401 | 403, _) => Err(ClusterError::Engine(format!(
                "slurmrestd at {} refused the token (HTTP {}); get a fresh one with `scontrol token`",
                self.url, answer.status
            ))),
            (status, _) => Err(ClusterError::Engine(format!(
                "slurmrestd at {} answered HTTP {status}: {} (a wrong or expired token also shows this way)",
                self.url,
                answer.text().chars().take(300).collect::<String>().trim()
            ))),
        }
    }
}

/// One script of a bundle as slurmrestd is given it.
enum Part {
    /// The whole workflow as one job (`job.sbatch`).
    Single,
    /// The task set: a job array over these indices.
    Array(String),
    /// A data-parallel fit of a block: one job of this many tasks, its ranks.
    Fit { node: String, ranks: usize },
    /// The combine, after this dependency.
    Combine(String),
}

impl Rest {
    /// Submits one part of the bundle with the bundle's resources; returns the job id.
    fn submit_script(&self, bundle: &Bundle, part: Part) -> Result<String, ClusterError> {
        let script = match &part {
            Part::Single => SCRIPT.to_owned(),
            Part::Array(_) => TASKS_SCRIPT.to_owned(),
            Part::Fit { node, .. } => fit_script(node),
            Part::Combine(_) => COMBINE_SCRIPT.to_owned(),
        };
        let path = bundle.dir.join(&script);
        let script = std::fs::read_to_string(&path).map_err(|e| ClusterError::io(&path, e))?;
        let r = &bundle.manifest.resources;
        let dir = bundle.dir.display().to_string();
        let output = match &part {
            Part::Array(_) => "task-%A_%a.log".to_owned(),
            Part::Fit { node, .. } => format!("fit-{node}-%j.log"),
            Part::Single | Part::Combine(_) => "job-%j.log".to_owned(),
        };
        let mut job = json!({
            "name": bundle.manifest.job_name,
            "nodes": 1,
            "tasks": 1,
            "cpus_per_task": r.cpus,
            "memory_per_node": r.memory_mib,
            "time_limit": r.time_limit_minutes,
            "current_working_directory": dir,
            "standard_output": format!("{dir}/{RESULTS_DIR}/{output}"),
            "environment": {
                "PATH": std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
                "HOME": std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            },
        });
        // slurmrestd does not read the script's #SBATCH lines: the resources travel in the description.
        let gpus = match part {
            Part::Single => r.gpus,
            Part::Fit { .. } => 0,
            Part::Array(_) | Part::Combine(_) => bundle.manifest.gpus_per_task(),
        };
        if gpus > 0 {
            job["gres"] = json!(format!("gpu:{gpus}"));
        }
        if let Some(partition) = r.partition.as_deref().filter(|p| !p.is_empty()) {
            job["partition"] = json!(partition);
        }
        match part {
            Part::Array(array) => job["array"] = json!(array),
            Part::Combine(dependency) => job["dependency"] = json!(dependency),
            Part::Fit { node, ranks } => {
                // The ranks wherever Slurm has room for them, each with the memory a task is given.
                let map = job.as_object_mut().expect("an object");
                map.remove("nodes");
                map.remove("memory_per_node");
                map.insert("name".into(), json!(format!("{}-fit-{node}", bundle.manifest.job_name)));
                map.insert("tasks".into(), json!(ranks));
                map.insert("memory_per_cpu".into(), json!((r.memory_mib / u64::from(r.cpus.max(1))).max(64)));
            }
            Part::Single => {}
        }
        let answer = self.call("POST", "/job/submit", Some(&json!({"script": script, "job": job})))?;
        match &answer["job_id"] {
            Json::Number(n) => Ok(n.to_string()),
            other => Err(ClusterError::Engine(format!("slurmrestd gave no job id: {other}"))),
        }
    }

    /// A job's state, reason and exit code.
    fn fields(&self, id: &str) -> Result<(String, String, String), ClusterError> {
        let answer = self.call("GET", &format!("/job/{id}"), None)?;
        let job = &answer["jobs"][0];
        let exit = match &job["exit_code"] {
            Json::Number(n) => format!("{n}"),
            _ => String::new(),
        };
        let exit = if exit == "0" { String::new() } else { exit };
        let text = |name: &str| job[name].as_str().unwrap_or("").to_owned();
        Ok((text("job_state"), text("state_reason"), exit))
    }
}

impl JobApi for Rest {
    /// Submits the bundle's script (a fanned-out bundle's job array, then its combine after it) with its
    /// resources; returns the job id.
    fn submit(&self, bundle: &Bundle) -> Result<String, ClusterError> {
        let Some(fan_out) = &bundle.manifest.fan_out else { return self.submit_script(bundle, Part::Single) };
        let at_once = if fan_out.at_once > 0 { format!("%{}", fan_out.at_once) } else { String::new() };
        let parts = (fan_out.tasks > 0)
            .then(|| Part::Array(format!("0-{}{at_once}", fan_out.tasks.saturating_sub(1))))
            .into_iter()
            .chain(bundle.manifest.fit_steps().into_iter().map(|f| Part::Fit { node: f.node, ranks: f.ranks }));
        let mut before: Vec<String> = Vec::new();
        for part in parts {
            match self.submit_script(bundle, part) {
                Ok(id) => before.push(id),
                Err(e) => {
                    let _ = self.cancel(&before.join("+"));
                    return Err(e);
                }
            }
        }
        match self.submit_script(bundle, Part::Combine(format!("afterok:{}", before.join(":")))) {
            Ok(combine) => Ok(before.into_iter().chain([combine]).collect::<Vec<_>>().join("+")),
            Err(e) => {
                let _ = self.cancel(&before.join("+"));
                Err(e)
            }
        }
    }

    fn state(&self, id: &str) -> Result<JobState, ClusterError> {
        let Some((before, combine)) = id.rsplit_once('+') else {
            let (state, reason, exit) = self.fields(id)?;
            return Ok(state_of(&state, &reason, &exit));
        };
        let (state, reason, exit) = self.fields(combine)?;
        Ok(combine_state(before, &state, &reason, &exit, || {
            before.split('+').any(|job| self.fields(job).is_ok_and(|(state, _, _)| state != "PENDING"))
        }))
    }

    fn logs(&self, bundle: &Bundle, id: &str) -> String {
        log(bundle, id.rsplit_once('+').map_or(id, |(_, combine)| combine))
    }

    fn cancel(&self, id: &str) -> Result<(), ClusterError> {
        for job in id.split('+').filter(|j| !j.is_empty()) {
            self.call("DELETE", &format!("/job/{job}"), None)?;
        }
        Ok(())
    }
}

/// The state of a fanned-out run from its combine job's: waiting on the array is queued until a task has
/// started, then running; a dependency that can never be met (a task failed) fails the run.
fn combine_state(before: &str, state: &str, reason: &str, exit: &str, array_started: impl Fn() -> bool) -> JobState {
    match (state, reason) {
        ("PENDING", "DependencyNeverSatisfied") => {
            let jobs = before.replace('+', ", ");
            JobState::Failed(format!("a task of job {jobs} did not succeed, so the combine cannot run"))
        }
        ("PENDING", "Dependency") if array_started() => JobState::Running,
        ("PENDING", "Dependency") => JobState::Queued,
        _ => state_of(state, reason, exit),
    }
}

/// The job's log: `results/job-ID.log` in the bundle (the bundle's folder is shared with the nodes).
fn log(bundle: &Bundle, id: &str) -> String {
    std::fs::read_to_string(bundle.results_dir().join(format!("job-{id}.log"))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_are_written_as_slurm_reads_them() {
        assert_eq!(time_limit(90), "01:30:00");
        assert_eq!(time_limit(1440 + 61), "1-01:01:00");
        assert_eq!(time_limit(5), "00:05:00");
    }

    #[test]
    fn slurm_states_map_to_job_states_with_their_reason() {
        assert_eq!(state_of("PENDING", "Resources", ""), JobState::Queued);
        assert!(
            matches!(state_of("PENDING", "PartitionConfig", ""), JobState::Failed(m) if m.contains("cannot start"))
        );
        assert_eq!(state_of("COMPLETING", "None", "0:0"), JobState::Running);
        assert_eq!(state_of("COMPLETED", "None", "0:0"), JobState::Succeeded);
        assert_eq!(
            state_of("FAILED", "NonZeroExitCode", "1:0"),
            JobState::Failed("the job ended FAILED (exit code 1:0): NonZeroExitCode".into())
        );
        assert_eq!(
            state_of("TIMEOUT", "None", "0:15"),
            JobState::Failed("the job ended TIMEOUT (exit code 0:15)".into())
        );
    }
}
