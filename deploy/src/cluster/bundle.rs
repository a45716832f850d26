//! Writing a job bundle and reading it back.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use pipewright_engine::{Catalog, Device, ParamKind, UtcTime, Workflow, validate_in, write_atomic};

use super::tasks::{self, FanOutOptions};
use super::{BUNDLE_FORMAT, BUNDLE_VERSION, CONTAINERFILE, ClusterError, DataMode, Resources, Runner, Target};
use super::{kubernetes, ray, slurm};

/// The workflow's file name inside a bundle.
pub const WORKFLOW_FILE: &str = "workflow.flow.json";
/// Where the job writes its results, inside the bundle.
pub const RESULTS_DIR: &str = "results";
/// Where the files the workflow writes (model packages, exported tables) go, inside the bundle.
pub const ARTIFACTS_DIR: &str = "results/artifacts";
/// The bundled runner, inside the bundle.
pub const BUNDLED_RUNNER: &str = "bin/pipewright";
/// Runs one index of a fanned-out bundle's task set: `task.sh INDEX`.
pub const TASK_SCRIPT: &str = "task.sh";
/// Joins a fanned-out bundle's task results and runs the rest of its workflow.
pub const COMBINE_SCRIPT: &str = "combine.sh";

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The engine.
    pub target: Target,
    /// What the job asks for.
    pub resources: Resources,
    /// Copy the data into the bundle or keep references.
    pub data: DataMode,
    /// Where the job finds the runner.
    pub runner: Runner,
    /// The job's name; by default from the workflow file's name.
    pub job_name: Option<String>,
    /// Replace the files of an existing bundle in the output folder.
    pub overwrite: bool,
    /// Spread the workflow's independent work over an indexed task set and a combine step; `None` runs it as
    /// one job.
    pub fan_out: Option<FanOutOptions>,
}

/// A file the workflow reads, as the bundle has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataEntry {
    /// The block.
    pub node: String,
    /// Its parameter.
    pub param: String,
    /// The path in the original workflow.
    pub original: String,
    /// The path in the bundle's workflow: `data/…` when copied, an absolute path or URL when referenced.
    pub path: String,
    /// Whether the file was copied into the bundle.
    pub copied: bool,
    /// Its size in bytes, when it was copied.
    pub bytes: Option<u64>,
}

/// A file the workflow writes, redirected into the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputEntry {
    /// The block.
    pub node: String,
    /// Its parameter.
    pub param: String,
    /// The path in the original workflow.
    pub original: String,
    /// The path in the bundle's workflow (under `results/artifacts/`).
    pub path: String,
}

/// `bundle.json`: what a bundle holds and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// [`BUNDLE_VERSION`].
    pub version: u32,
    /// The engine it is for.
    pub target: Target,
    /// The job's name.
    pub job_name: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// The workflow file it was exported from (absolute).
    pub source_workflow: PathBuf,
    /// The project folder whose run history receives the job's results.
    pub project: PathBuf,
    /// When it was exported (UTC, RFC 3339).
    pub created: String,
    /// The Pipewright version that exported it.
    pub pipewright_version: String,
    /// What the job asks for.
    pub resources: Resources,
    /// How data is handled.
    pub data_mode: DataMode,
    /// The files the workflow reads.
    pub data: Vec<DataEntry>,
    /// The files the workflow writes.
    pub outputs: Vec<OutputEntry>,
    /// The runner the job calls: `bin/pipewright` when bundled, else the path on the cluster.
    pub runner: String,
    /// Whether the runner is in the bundle.
    pub runner_bundled: bool,
    /// The engine files, relative to the bundle.
    pub engine_files: Vec<String>,
    /// The task set, when the workflow fans out (`tasks/tasks.json` has the whole list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out: Option<FanOutSummary>,
}

/// A bundle's task set, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOutSummary {
    /// Indices of the task set.
    pub tasks: usize,
    /// Units spread over them.
    pub units: usize,
    /// The blocks that fan out, with their units: `tune (120)`.
    pub blocks: Vec<String>,
    /// Tasks at once; 0: as many as the engine will.
    pub at_once: u32,
    /// Retries of a failing task.
    pub retries: u32,
    /// Train Model blocks trained data-parallel, with their ranks.
    #[serde(default)]
    pub fits: Vec<FitSummary>,
    /// What did not fan out, and why.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A Train Model block trained data-parallel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FitSummary {
    /// The block.
    pub node: String,
    /// Its ranks, one a shard.
    pub ranks: usize,
}

/// An exported bundle: its folder and manifest.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle folder (absolute).
    pub dir: PathBuf,
    /// Its `bundle.json`.
    pub manifest: BundleManifest,
}

impl Bundle {
    /// Reads the bundle in `dir`.
    pub fn read(dir: &Path) -> Result<Self, ClusterError> {
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| ClusterError::Bundle(format!("{}: not a job bundle ({e})", dir.display())))?;
        let path = dir.join("bundle.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ClusterError::Bundle(format!(
                "{}: not a job bundle (no bundle.json: {e}); make one with `pipewright export FLOW --target … -o {}`",
                dir.display(),
                dir.display()
            ))
        })?;
        let manifest: BundleManifest = serde_json::from_str(&text)
            .map_err(|e| ClusterError::Bundle(format!("{}: not a readable bundle manifest: {e}", path.display())))?;
        if manifest.format != BUNDLE_FORMAT {
            return Err(ClusterError::Bundle(format!(
                "{}: format \"{}\" is not a job bundle",
                path.display(),
                manifest.format
            )));
        }
        if manifest.version > BUNDLE_VERSION {
            return Err(ClusterError::Bundle(format!(
                "{}: bundle version {} is newer than this Pipewright reads ({BUNDLE_VERSION}); update Pipewright",
                path.display(),
                manifest.version
            )));
        }
        Ok(Self { dir, manifest })
    }

    /// The bundle's workflow.
    pub fn workflow(&self) -> Result<Workflow, ClusterError> {
        let path = self.dir.join(WORKFLOW_FILE);
        Workflow::load(&path).map_err(|e| ClusterError::Bundle(format!("{}: {e}", path.display())))
    }

    /// The bundle's results folder.
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join(RESULTS_DIR)
    }
}

/// Exports the workflow in `flow_file` as a bundle into `out`.
pub fn export(
    flow_file: &Path,
    catalog: &Catalog,
    options: &ExportOptions,
    out: &Path,
) -> Result<Bundle, ClusterError> {
    let flow_file = std::fs::canonicalize(flow_file)
        .map_err(|e| ClusterError::Workflow(format!("{}: {e}", flow_file.display())))?;
    let mut workflow =
        Workflow::load(&flow_file).map_err(|e| ClusterError::Workflow(format!("{}: {e}", flow_file.display())))?;
    let base = flow_file.parent().map(Path::to_path_buf).unwrap_or_default();
    let problems = validate_in(&workflow, catalog, Some(&base)).problems;
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        return Err(ClusterError::Workflow(format!(
            "{} has {} problem(s); fix them before exporting:\n{}",
            flow_file.display(),
            problems.len(),
            list.join("\n")
        )));
    }
    prepare_out(out, options.overwrite)?;
    let out = std::fs::canonicalize(out).map_err(|e| ClusterError::io(out, e))?;
    let (data, outputs) = rewrite_files(&mut workflow, catalog, &base, &out, options.data)?;
    write(&out.join(WORKFLOW_FILE), workflow.to_json().as_bytes())?;

    let (runner, runner_bundled) = match &options.runner {
        Runner::Copy(binary) => {
            let target = out.join(BUNDLED_RUNNER);
            create_dir(target.parent().unwrap_or(&out))?;
            std::fs::copy(binary, &target).map_err(|e| ClusterError::io(binary, e))?;
            make_executable(&target)?;
            (BUNDLED_RUNNER.to_owned(), true)
        }
        Runner::Installed(path) => (path.clone(), false),
    };
    let stem = flow_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let job_name = job_name(options.job_name.as_deref().unwrap_or(stem.trim_end_matches(".flow.json")));
    let mut manifest = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        target: options.target,
        job_name,
        workflow_name: workflow.name.clone(),
        source_workflow: flow_file.clone(),
        project: pipewright_engine::project_dir_of(&flow_file),
        created: UtcTime::now().rfc3339(),
        pipewright_version: env!("CARGO_PKG_VERSION").into(),
        resources: options.resources.clone(),
        data_mode: options.data,
        data,
        outputs,
        runner,
        runner_bundled,
        engine_files: Vec::new(),
        fan_out: None,
    };
    write_executable(&out.join("run.sh"), &run_script(&manifest))?;
    if let Some(fan_out) = options.fan_out {
        let device = if options.resources.gpus > 0 { Device::Auto } else { Device::Cpu };
        if let Some(list) = tasks::prepare(&out, catalog, device, fan_out, &|_| {})? {
            manifest.fan_out = Some(FanOutSummary {
                tasks: list.tasks.len(),
                units: list.tasks.iter().map(|t| t.units.len()).sum(),
                blocks: list.blocks.iter().map(|b| format!("{} ({})", b.node, b.units)).collect(),
                at_once: list.at_once,
                retries: list.retries,
                fits: list.fits.iter().map(|f| FitSummary { node: f.node.clone(), ranks: f.ranks }).collect(),
                notes: list.notes.clone(),
            });
            write_executable(&out.join(TASK_SCRIPT), &task_script(&manifest, list.retries))?;
            write_executable(&out.join(COMBINE_SCRIPT), &combine_script(&manifest))?;
        }
    }
    let files = match options.target {
        Target::Slurm => slurm::files(&manifest),
        Target::Ray => ray::files(&manifest),
        Target::Kubernetes => kubernetes::files(&manifest)?,
    };
    for (name, text) in &files {
        let path = out.join(name);
        create_dir(path.parent().unwrap_or(&out))?;
        write(&path, text.as_bytes())?;
    }
    manifest.engine_files = files.into_iter().map(|(name, _)| name).collect();
    write(&out.join("Containerfile"), CONTAINERFILE.as_bytes())?;
    write(&out.join("README.md"), readme(&manifest).as_bytes())?;
    create_dir(&out.join(ARTIFACTS_DIR))?;
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    write(&out.join("bundle.json"), text.as_bytes())?;
    Ok(Bundle { dir: out, manifest })
}

/// A job name engines accept everywhere: lower-case letters, digits and dashes, at most 50 characters.
pub(crate) fn job_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    name.truncate(50);
    let name = name.trim_end_matches('-').to_owned();
    if name.is_empty() { "pipewright-job".into() } else { name }
}

/// An empty (or new) output folder, or one holding an earlier bundle when overwriting.
fn prepare_out(out: &Path, overwrite: bool) -> Result<(), ClusterError> {
    if out.is_file() {
        return Err(ClusterError::Bundle(format!("{}: is a file, not a folder", out.display())));
    }
    let has_entries = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
    if has_entries {
        if !overwrite {
            return Err(ClusterError::Bundle(format!(
                "{}: the folder is not empty; choose another or pass --force to replace the bundle in it",
                out.display()
            )));
        }
        if !out.join("bundle.json").is_file() {
            return Err(ClusterError::Bundle(format!(
                "{}: the folder is not empty and holds no bundle; it is left alone",
                out.display()
            )));
        }
        for name in ["data", "bin", "slurm", "ray", "kubernetes", "tasks", RESULTS_DIR] {
            let path = out.join(name);
            if path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(|e| ClusterError::io(&path, e))?;
            }
        }
    }
    create_dir(out)
}

/// Rewrites every file parameter: files read are copied into `data/` (or made absolute), files written go to
/// `results/artifacts/`.
fn rewrite_files(
    workflow: &mut Workflow,
    catalog: &Catalog,
    base: &Path,
    out: &Path,
    mode: DataMode,
) -> Result<(Vec<DataEntry>, Vec<OutputEntry>), ClusterError> {
    let mut data = Vec::new();
    let mut outputs = Vec::new();
    let mut taken: HashSet<String> = HashSet::new();
    for node in &mut workflow.nodes {
        let Some(entry) = catalog.get(&node.kind) else { continue };
        for spec in &entry.spec.params {
            let ParamKind::FilePath { read, .. } = spec.kind else { continue };
            let Some(Json::String(original)) = node.params.get(spec.name).cloned() else { continue };
            if original.trim().is_empty() {
                continue;
            }
            // A remote file written (an http(s) URL, an S3 key) is written there by the job itself.
            if !read && pipewright_engine::remote::is_remote(&original) {
                continue;
            }
            let source = base.join(&original);
            let file_name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let path = if !read {
                let path = format!("{ARTIFACTS_DIR}/{}", unique(&mut taken, &file_name));
                outputs.push(OutputEntry {
                    node: node.id.clone(),
                    param: spec.name.into(),
                    original,
                    path: path.clone(),
                });
                path
            } else if original.contains("://") {
                data.push(DataEntry {
                    node: node.id.clone(),
                    param: spec.name.into(),
                    path: original.clone(),
                    original,
                    copied: false,
                    bytes: None,
                });
                continue;
            } else if mode == DataMode::Copy {
                let path = format!("data/{}", unique(&mut taken, &file_name));
                let target = out.join(&path);
                create_dir(target.parent().unwrap_or(out))?;
                let bytes = std::fs::copy(&source, &target).map_err(|e| {
                    ClusterError::Workflow(format!(
                        "node \"{}\": cannot copy its {} {} into the bundle: {e}",
                        node.id,
                        spec.name,
                        source.display()
                    ))
                })?;
                data.push(DataEntry {
                    node: node.id.clone(),
                    param: spec.name.into(),
                    original,
                    path: path.clone(),
                    copied: true,
                    bytes: Some(bytes),
                });
                path
            } else {
                let absolute = std::fs::canonicalize(&source).unwrap_or(source).display().to_string();
                data.push(DataEntry {
                    node: node.id.clone(),
                    param: spec.name.into(),
                    original,
                    path: absolute.clone(),
                    copied: false,
                    bytes: None,
                });
                absolute
            };
            node.params.insert(spec.name.to_owned(), Json::String(path));
        }
    }
    Ok((data, outputs))
}

/// `name`, or `name-2`, `name-3`… when two blocks use files of the same name.
fn unique(taken: &mut HashSet<String>, name: &str) -> String {
    let name = if name.is_empty() { "file" } else { name };
    let (stem, ext) = name.rsplit_once('.').map_or((name, String::new()), |(s, e)| (s, format!(".{e}")));
    let mut candidate = name.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{stem}-{n}{ext}");
        n += 1;
    }
    candidate
}

/// `run.sh`: what every engine runs, from the bundle folder.
fn run_script(manifest: &BundleManifest) -> String {
    format!(
        r#"#!/bin/sh
# Runs this bundle's workflow with the headless runner. Every engine's job calls this script; it can also be
# run by hand on any machine with the runner. Results: results/result.json, results/outputs/, results/artifacts/.
set -u
cd "$(dirname "$0")"
RUNNER="${{PIPEWRIGHT:-{runner}}}"
if [ ! -x "$RUNNER" ] && ! command -v "$RUNNER" >/dev/null 2>&1; then
  echo "error: the Pipewright runner '$RUNNER' is not here; set PIPEWRIGHT to its path" >&2
  exit 127
fi
mkdir -p {ARTIFACTS_DIR}
exec "$RUNNER" run {WORKFLOW_FILE} --results {RESULTS_DIR} --no-cache --no-record --device "${{PIPEWRIGHT_DEVICE:-auto}}"
"#,
        runner = manifest.runner
    )
}

/// The lines of a script that find the runner (`$PIPEWRIGHT` overrides the bundle's).
fn runner_lines(manifest: &BundleManifest) -> String {
    format!(
        r#"RUNNER="${{PIPEWRIGHT:-{runner}}}"
if [ ! -x "$RUNNER" ] && ! command -v "$RUNNER" >/dev/null 2>&1; then
  echo "error: the Pipewright runner '$RUNNER' is not here; set PIPEWRIGHT to its path" >&2
  exit 127
fi
"#,
        runner = manifest.runner
    )
}

/// `task.sh INDEX`: one index of the task set, a failed attempt retried (`PIPEWRIGHT_TASK_RETRIES` times; engines
/// that retry themselves set it to 0).
fn task_script(manifest: &BundleManifest, retries: u32) -> String {
    format!(
        r#"#!/bin/sh
# Runs one index of this bundle's task set: task.sh INDEX (or $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX).
# Its units' results go to tasks/results/; a failed attempt is retried PIPEWRIGHT_TASK_RETRIES times ({retries}
# unless set; engines that retry a task themselves set 0), then its error stays in tasks/errors/INDEX.txt.
set -u
cd "$(dirname "$0")"
{runner}index="${{1:-${{SLURM_ARRAY_TASK_ID:-${{JOB_COMPLETION_INDEX:-}}}}}}"
if [ -z "$index" ]; then
  echo "error: which task? task.sh INDEX" >&2
  exit 2
fi
retries="${{PIPEWRIGHT_TASK_RETRIES:-{retries}}}"
attempt=0
while :; do
  "$RUNNER" task . --index "$index" && exit 0
  status=$?
  attempt=$((attempt + 1))
  if [ "$attempt" -gt "$retries" ]; then
    echo "error: task $index failed after $attempt attempt(s) (exit $status)" >&2
    exit "$status"
  fi
  echo "task $index: attempt $attempt failed (exit $status); trying again" >&2
done
"#,
        runner = runner_lines(manifest)
    )
}

/// `combine.sh`: the task set's results joined, then the workflow run with them; results as `run.sh` writes.
fn combine_script(manifest: &BundleManifest) -> String {
    format!(
        r#"#!/bin/sh
# Joins the task set's results (tasks/results/) into the fanned-out blocks' outputs and runs the workflow with
# them: results/result.json, results/outputs/, results/artifacts/, as run.sh writes them. Extra arguments go to
# `pipewright combine` (such as --wait 2h where the engine starts the combine beside the tasks).
set -u
cd "$(dirname "$0")"
{runner}mkdir -p {ARTIFACTS_DIR}
exec "$RUNNER" combine . "$@"
"#,
        runner = runner_lines(manifest)
    )
}

fn readme(manifest: &BundleManifest) -> String {
    let r = &manifest.resources;
    let data = if manifest.data.is_empty() {
        "The workflow reads no files (it uses bundled sample datasets).".to_owned()
    } else {
        manifest
            .data
            .iter()
            .map(|d| {
                let how = if d.copied { "copied to" } else { "read from" };
                format!("- `{}` ({}): {} `{}`", d.node, d.original, how, d.path)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let runner = if manifest.runner_bundled {
        "The headless runner is bundled as `bin/pipewright`.".to_owned()
    } else {
        format!("The job calls the runner installed on the cluster at `{}`.", manifest.runner)
    };
    let how = match manifest.target {
        Target::Slurm => slurm::readme_section(manifest),
        Target::Ray => ray::readme_section(manifest),
        Target::Kubernetes => kubernetes::readme_section(manifest),
    };
    format!(
        "# {name}: a Pipewright job for {engine}\n\n\
         Exported {created} by Pipewright {version} from `{source}`.\n\n\
         Resources: {gpus} GPU(s), {cpus} CPU(s), {mem} MiB memory, {time} minutes.\n\n\
         ## Files\n\
         - `workflow.flow.json`: the workflow, its file paths rewritten into this bundle\n\
         - `run.sh`: runs it with the headless runner (every engine's job calls it)\n\
         - {engine_files}\n\
         - `Containerfile`: the recipe of a container image with the headless runner, the Vulkan loader and the \
         NVIDIA ICD\n\
         - `bundle.json`: what this bundle holds\n\n\
         {runner}\n\n## Data\n{data}\n\n{fan_out}## Run it\n{how}\n\
         ## Results\n\
         `results/result.json` holds every block's status and time and the metrics; `results/outputs/` the trained \
         models, transforms, reports and small tables; `results/artifacts/` the files the workflow writes (model \
         packages); `results/job-*.log` the log. `pipewright submit` brings them into the project's run history.\n",
        name = manifest.job_name,
        engine = manifest.target.title(),
        created = manifest.created,
        version = manifest.pipewright_version,
        source = manifest.source_workflow.display(),
        gpus = r.gpus,
        cpus = r.cpus,
        mem = r.memory_mib,
        time = r.time_limit_minutes,
        fan_out = fan_out_section(manifest),
        engine_files = manifest.engine_files_preview().iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "),
    )
}

/// The README's account of the task set.
fn fan_out_section(manifest: &BundleManifest) -> String {
    let Some(f) = &manifest.fan_out else { return String::new() };
    let at_once = if f.at_once == 0 {
        "as many at once as the cluster runs".to_owned()
    } else {
        format!("at most {} at once", f.at_once)
    };
    format!(
        "## Fan-out\n\
         The workflow's independent work is a task set of {tasks} tasks ({units} units of the blocks {blocks}), \
         {at_once}, a failing task retried {retries} time(s). `tasks/tasks.json` lists what each index computes and \
         the fingerprints of its inputs, which were computed at export into `tasks/cache/`. `task.sh INDEX` runs one \
         index (its results go to `tasks/results/`), `combine.sh` joins them and runs the rest of the workflow; \
         `run.sh` still runs everything in one process.\n\n",
        tasks = f.tasks,
        units = f.units,
        blocks = f.blocks.join(", "),
        retries = f.retries,
    )
}

/// A data-parallel fit as the engine files need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitStep {
    /// The Train Model block.
    pub node: String,
    /// Its fit's folder, relative to the bundle.
    pub dir: String,
    /// Ranks.
    pub ranks: usize,
}

impl BundleManifest {
    /// The bundle's data-parallel fits.
    pub fn fit_steps(&self) -> Vec<FitStep> {
        let Some(fan_out) = &self.fan_out else { return Vec::new() };
        fan_out
            .fits
            .iter()
            .map(|f| FitStep { node: f.node.clone(), dir: format!("tasks/shards/{}", f.node), ranks: f.ranks })
            .collect()
    }

    /// GPUs each job or task asks for: a fanned-out bundle's tasks (and its combine) one each, since a task's
    /// blocks use one device, so a node with `--gpus N` of them runs N tasks at once; a single job what was
    /// exported.
    pub fn gpus_per_task(&self) -> u32 {
        if self.fan_out.is_some() { self.resources.gpus.min(1) } else { self.resources.gpus }
    }

    /// The engine files this bundle's target has.
    fn engine_files_preview(&self) -> Vec<&'static str> {
        match (self.target, self.fan_out.is_some()) {
            (Target::Slurm, false) => vec!["slurm/job.sbatch"],
            (Target::Slurm, true) => {
                vec!["slurm/job.sbatch", slurm::TASKS_SCRIPT, slurm::COMBINE_SCRIPT, slurm::SUBMIT_SCRIPT]
            }
            (Target::Ray, _) => vec!["ray/entrypoint.py", "ray/runtime_env.json", "ray/job.json"],
            (Target::Kubernetes, false) => vec!["kubernetes/job.yaml"],
            (Target::Kubernetes, true) => {
                vec!["kubernetes/job.yaml", kubernetes::TASKS_MANIFEST, kubernetes::COMBINE_MANIFEST]
            }
        }
    }
}

fn create_dir(path: &Path) -> Result<(), ClusterError> {
    std::fs::create_dir_all(path).map_err(|e| ClusterError::io(path, e))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ClusterError> {
    write_atomic(path, bytes)
        .map_err(|e| ClusterError::Io { path: path.to_path_buf(), source: std::io::Error::other(e.to_string()) })
}

fn write_executable(path: &Path, text: &str) -> Result<(), ClusterError> {
    write(path, text.as_bytes())?;
    make_executable(path)
}

fn make_executable(path: &Path) -> Result<(), ClusterError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut permissions = std::fs::metadata(path).map_err(|e| ClusterError::io(path, e))?.permissions();
        permissions.set_mode(0o755);
        std::fs::set_permissions(path, permissions).map_err(|e| ClusterError::io(path, e))?;
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_safe_for_every_engine() {
        assert_eq!(job_name("Titanic two-class (v2)"), "titanic-two-class-v2");
        assert_eq!(job_name("___"), "pipewright-job");
        assert_eq!(job_name(&"x".repeat(80)).len(), 50);
    }

    #[test]
    fn files_of_the_same_name_get_distinct_names_in_the_bundle() {
        let mut taken = HashSet::new();
        assert_eq!(unique(&mut taken, "train.csv"), "train.csv");
        assert_eq!(unique(&mut taken, "train.csv"), "train-2.csv");
        assert_eq!(unique(&mut taken, "train.csv"), "train-3.csv");
        assert_eq!(unique(&mut taken, "README"), "README");
    }
}
