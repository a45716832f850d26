//! Cluster jobs: a workflow exported as a self-contained job bundle for Slurm, Ray or Kubernetes
//! ([`export`]), submitted to a real engine, followed until it ends, and its results brought back into the
//! project's run history ([`submit`]).
//!
//! A bundle is a folder: the workflow (`workflow.flow.json`, file paths rewritten into the bundle), its data
//! (copied under `data/`) or references to paths the cluster can read, the headless runner (`bin/pipewright`,
//! or a path on the cluster, or a container image), `run.sh` (what every engine runs), the engine's own files
//! (`slurm/job.sbatch`; `ray/entrypoint.py`, `ray/runtime_env.json`, `ray/job.json`;
//! `kubernetes/job.yaml`), the container recipe, a README and `bundle.json` (what it holds). The job writes
//! `results/`: `result.json` (every block's status and time, the metrics), the outputs the run history keeps,
//! the files the workflow writes (model packages) and the job's log.

mod bundle;
pub mod data_parallel;
mod engine;
mod kubernetes;
mod ray;
mod results;
mod slurm;
pub mod tasks;
mod yaml;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub(crate) use bundle::job_name;
pub(crate) use yaml::to_yaml;

pub use bundle::{
    Bundle, BundleManifest, DataEntry, ExportOptions, FanOutSummary, FitSummary, OutputEntry, WORKFLOW_FILE, export,
};
pub use engine::{Engine, JobState, Submission, SubmitOptions, Update, submit};
pub use kubernetes::{IMAGE_RUNNER, combine_manifest, job_manifest, tasks_manifest};
pub use results::{JobResults, RESULT_FILE, RESULT_MARKER, ResultsWriter};
pub use tasks::{FanOutOptions, TaskList, TaskProgress, TaskState};

/// The format name in `bundle.json`.
pub const BUNDLE_FORMAT: &str = "pipewright-job-bundle";
/// The bundle format version this build writes and reads.
pub const BUNDLE_VERSION: u32 = 1;
/// The container recipe of the headless runner, copied into every bundle.
pub const CONTAINERFILE: &str = include_str!("../../container/Containerfile");

/// A cluster engine a bundle is exported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Slurm: an sbatch script.
    Slurm,
    /// Ray: a job entrypoint and its runtime description for the Jobs API.
    Ray,
    /// Kubernetes: a batch/v1 Job manifest.
    Kubernetes,
}

impl Target {
    /// Every target, in the order the designer offers them.
    pub const ALL: [Self; 3] = [Self::Slurm, Self::Ray, Self::Kubernetes];

    /// slurm, ray or kubernetes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slurm => "slurm",
            Self::Ray => "ray",
            Self::Kubernetes => "kubernetes",
        }
    }

    /// The engine's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::Slurm => "Slurm",
            Self::Ray => "Ray",
            Self::Kubernetes => "Kubernetes",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown target \"{s}\": expected slurm, ray or kubernetes"))
    }
}

/// What the job asks the cluster for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// GPUs (`--gres=gpu:N`, `entrypoint_num_gpus`, `nvidia.com/gpu`); 0 runs on CPUs.
    pub gpus: u32,
    /// CPU cores.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Wall-time limit in minutes (Slurm `--time`, Kubernetes `activeDeadlineSeconds`).
    pub time_limit_minutes: u32,
    /// Slurm partition; the cluster's default when empty.
    pub partition: Option<String>,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Container image with the headless runner (Kubernetes; Ray and Slurm use the bundled runner).
    pub image: String,
    /// Kubernetes: the persistent volume claim the bundle is copied to (mounted at `/bundle`).
    pub volume_claim: String,
    /// Kubernetes: retries of a failed pod before the Job fails.
    pub backoff_limit: u32,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            gpus: 1,
            cpus: 4,
            memory_mib: 16 * 1024,
            time_limit_minutes: 120,
            partition: None,
            namespace: "default".into(),
            image: format!("pipewright:{}", env!("CARGO_PKG_VERSION")),
            volume_claim: "pipewright-bundles".into(),
            backoff_limit: 0,
        }
    }
}

/// What happens to the files the workflow reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataMode {
    /// Copied into the bundle's `data/` folder: the bundle is self-contained.
    #[default]
    Copy,
    /// Kept as absolute paths (or URLs) that the cluster's nodes can read.
    Reference,
}

impl FromStr for DataMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "copy" => Ok(Self::Copy),
            "reference" | "ref" => Ok(Self::Reference),
            _ => Err(format!("unknown data handling \"{s}\": expected copy or reference")),
        }
    }
}

/// Where the job finds the headless runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// This binary is copied into the bundle as `bin/pipewright`.
    Copy(PathBuf),
    /// A runner already installed on the cluster's nodes, at this path.
    Installed(String),
}

impl Runner {
    /// The runner a bundle for `target` gets when none is named: the container image's for Kubernetes,
    /// else this program, bundled.
    pub fn default_for(target: Target) -> Result<Self, String> {
        if target == Target::Kubernetes {
            return Ok(Self::Installed(IMAGE_RUNNER.into()));
        }
        std::env::current_exe()
            .map(Self::Copy)
            .map_err(|e| format!("this program cannot be found to bundle it ({e}); name a runner on the cluster"))
    }
}

/// Why an export or a submission failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The workflow cannot be exported (it does not load or validate, a data file is missing…).
    #[error("{0}")]
    Workflow(String),
    /// A file of the bundle could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The folder is not a bundle, or one for another engine.
    #[error("{0}")]
    Bundle(String),
    /// The engine could not be reached or refused the job.
    #[error("{0}")]
    Engine(String),
}

impl ClusterError {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
