//! Kubernetes: a `batch/v1` Job built from typed structs (the fields of the Kubernetes API it uses, named as
//! the API names them), written as YAML; submission and state through `kubectl` with the user's kubeconfig.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::bundle::BundleManifest;
use super::engine::{JobApi, JobState};
use super::{Bundle, ClusterError, yaml};

/// The Job manifest, relative to the bundle.
pub const MANIFEST: &str = "kubernetes/job.yaml";
/// A fanned-out bundle's Indexed Job: one completion index per task.
pub const TASKS_MANIFEST: &str = "kubernetes/tasks.yaml";
/// A fanned-out bundle's combine Job: waits for every index's result, joins them, runs the workflow.
pub const COMBINE_MANIFEST: &str = "kubernetes/combine.yaml";
/// Where the bundle is mounted in the job's container.
pub const MOUNT: &str = "/bundle";
/// Where the container image has the runner.
pub const IMAGE_RUNNER: &str = "/usr/local/bin/pipewright";

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub labels: BTreeMap<String, String>,
}

/// A `batch/v1` Job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// `batch/v1`.
    pub api_version: &'static str,
    /// `Job`.
    pub kind: &'static str,
    /// Its name, namespace and labels.
    pub metadata: ObjectMeta,
    /// What it runs.
    pub spec: JobSpec,
}

/// `Job.spec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Retries of a failed pod (left out for an Indexed Job that counts retries per index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<u32>,
    /// Indexed Job: how many indices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completions: Option<usize>,
    /// Indexed Job: pods running at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<usize>,
    /// `Indexed`: each pod gets its index in `JOB_COMPLETION_INDEX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_mode: Option<&'static str>,
    /// Indexed Job: retries of each index before it counts as failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_limit_per_index: Option<u32>,
    /// The wall-time limit in seconds.
    pub active_deadline_seconds: u64,
    /// How long the finished Job (and its pod's log) is kept.
    pub ttl_seconds_after_finished: u32,
    /// The pod.
    pub template: PodTemplateSpec,
}

/// `Job.spec.template`.
#[derive(Debug, Clone, Serialize)]
pub struct PodTemplateSpec {
    /// The pod's labels.
    pub metadata: ObjectMeta,
    /// The pod.
    pub spec: PodSpec,
}

/// `PodSpec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// `Never`: the Job's backoff decides retries.
    pub restart_policy: &'static str,
    /// The runner's container.
    pub containers: Vec<Container>,
    /// The bundle's volume.
    pub volumes: Vec<Volume>,
    /// Lets the pod onto GPU nodes tainted for GPU work.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

/// `Container`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Its name.
    pub name: String,
    /// The image with the headless runner.
    pub image: String,
    /// `IfNotPresent`.
    pub image_pull_policy: &'static str,
    /// What it runs.
    pub command: Vec<String>,
    /// The folder it runs in.
    pub working_dir: String,
    /// Environment variables.
    pub env: Vec<EnvVar>,
    /// CPU, memory and GPU requests and limits.
    pub resources: ResourceRequirements,
    /// Where the bundle is mounted.
    pub volume_mounts: Vec<VolumeMount>,
}

/// `EnvVar`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// `ResourceRequirements`: quantities by resource name.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceRequirements {
    /// What the scheduler reserves.
    pub requests: BTreeMap<String, String>,
    /// The most the container may use; GPUs (`nvidia.com/gpu`) are given as limits.
    pub limits: BTreeMap<String, String>,
}

/// `VolumeMount`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// The volume.
    pub name: String,
    /// Where.
    pub mount_path: String,
    /// The bundle's folder in the volume.
    pub sub_path: String,
}

/// `Volume` backed by a persistent volume claim.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// The claim.
    pub persistent_volume_claim: PersistentVolumeClaimSource,
}

/// `PersistentVolumeClaimVolumeSource`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimSource {
    /// The claim's name.
    pub claim_name: String,
}

/// `Toleration`.
#[derive(Debug, Clone, Serialize)]
pub struct Toleration {
    /// The taint's key.
    pub key: String,
    /// `Exists`.
    pub operator: &'static str,
    /// `NoSchedule`.
    pub effect: &'static str,
}

/// The Job of a bundle.
pub fn job_manifest(manifest: &BundleManifest) -> Job {
    let r = &manifest.resources;
    let labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/name".to_owned(), "pipewright".to_owned()),
        ("pipewright/job".to_owned(), manifest.job_name.clone()),
    ]
    .into();
    let cpu = r.cpus.max(1).to_string();
    let memory = format!("{}Mi", r.memory_mib.max(64));
    let mut limits: BTreeMap<String, String> =
        [("cpu".to_owned(), cpu.clone()), ("memory".to_owned(), memory.clone())].into();
    if r.gpus > 0 {
        limits.insert("nvidia.com/gpu".into(), r.gpus.to_string());
    }
    let runner = if manifest.runner_bundled { format!("{MOUNT}/{}", manifest.runner) } else { manifest.runner.clone() };
    let env = vec![
        EnvVar { name: "PIPEWRIGHT".into(), value: runner },
        EnvVar { name: "PIPEWRIGHT_DEVICE".into(), value: if r.gpus > 0 { "auto" } else { "cpu" }.into() },
        EnvVar { name: "RAYON_NUM_THREADS".into(), value: cpu.clone() },
        EnvVar { name: "POLARS_MAX_THREADS".into(), value: cpu.clone() },
        // The NVIDIA container runtime mounts the Vulkan driver only with the graphics capability.
        EnvVar { name: "NVIDIA_DRIVER_CAPABILITIES".into(), value: "compute,utility,graphics".into() },
    ];
    let tolerations = if r.gpus > 0 {
        vec![Toleration { key: "nvidia.com/gpu".into(), operator: "Exists", effect: "NoSchedule" }]
    } else {
        Vec::new()
    };
    Job {
        api_version: "batch/v1",
        kind: "Job",
        metadata: ObjectMeta {
            name: Some(manifest.job_name.clone()),
            namespace: Some(r.namespace.clone()),
            labels: labels.clone(),
        },
        spec: JobSpec {
            backoff_limit: Some(r.backoff_limit),
            completions: None,
            parallelism: None,
            completion_mode: None,
            backoff_limit_per_index: None,
            active_deadline_seconds: u64::from(r.time_limit_minutes.max(1)) * 60,
            ttl_seconds_after_finished: 86_400,
            template: PodTemplateSpec {
                metadata: ObjectMeta { labels, ..ObjectMeta::default() },
                spec: PodSpec {
                    restart_policy: "Never",
                    containers: vec![Container {
                        name: "runner".into(),
                        image: r.image.clone(),
                        image_pull_policy: "IfNotPresent",
                        command: vec!["sh".into(), format!("{MOUNT}/run.sh")],
                        working_dir: MOUNT.into(),
                        env,
                        resources: ResourceRequirements {
                            requests: [("cpu".to_owned(), cpu), ("memory".to_owned(), memory)].into(),
                            limits,
                        },
                        volume_mounts: vec![VolumeMount {
                            name: "bundle".into(),
                            mount_path: MOUNT.into(),
                            sub_path: manifest.job_name.clone(),
                        }],
                    }],
                    volumes: vec![Volume {
                        name: "bundle".into(),
                        persistent_volume_claim: PersistentVolumeClaimSource { claim_name: r.volume_claim.clone() },
                    }],
                    tolerations,
                },
            },
        },
    }
}

/// A fanned-out bundle's Indexed Job (`NAME-tasks`): one completion index per task, each retried by Kubernetes
/// (`backoffLimitPerIndex`), running `task.sh` with the index Kubernetes gives.
pub fn tasks_manifest(manifest: &BundleManifest, tasks: usize, at_once: u32, retries: u32) -> Job {
    let mut job = job_manifest(manifest);
    job.metadata.name = Some(format!("{}-tasks", manifest.job_name));
    job.spec.backoff_limit = None;
    job.spec.completions = Some(tasks);
    job.spec.parallelism = Some(if at_once == 0 { tasks } else { (at_once as usize).min(tasks) });
    job.spec.completion_mode = Some("Indexed");
    job.spec.backoff_limit_per_index = Some(retries);
    let container = &mut job.spec.template.spec.containers[0];
    one_gpu(container, manifest);
    container.command = vec!["sh".into(), format!("{MOUNT}/task.sh")];
    // Kubernetes retries the index: the script does not.
    container.env.push(EnvVar { name: "PIPEWRIGHT_TASK_RETRIES".into(), value: "0".into() });
    job
}

/// A fanned-out bundle's combine Job (named as the bundle's job): it starts beside the Indexed Job (Kubernetes
/// has no dependencies between Jobs), waits for every index's result up to the time limit, then joins them and
/// runs the workflow.
pub fn combine_manifest(manifest: &BundleManifest) -> Job {
    let mut job = job_manifest(manifest);
    let wait = format!("{}m", manifest.resources.time_limit_minutes.max(1));
    let container = &mut job.spec.template.spec.containers[0];
    one_gpu(container, manifest);
    container.command = vec!["sh".into(), format!("{MOUNT}/combine.sh"), "--wait".into(), wait];
    job
}

/// The Indexed Job of a data-parallel fit (`NAME-fit-NODE`): `ranks` completions all running at once (the ranks
/// wait for each other at every pass), each `pipewright shard-fit` with its completion index as its rank. A
/// failed rank is not retried: the others already gave up on it.
pub fn fit_manifest(manifest: &BundleManifest, fit: &super::bundle::FitStep) -> Job {
    let mut job = job_manifest(manifest);
    job.metadata.name = Some(format!("{}-fit-{}", manifest.job_name, fit.node));
    job.spec.backoff_limit = None;
    job.spec.completions = Some(fit.ranks);
    job.spec.parallelism = Some(fit.ranks);
    job.spec.completion_mode = Some("Indexed");
    job.spec.backoff_limit_per_index = Some(0);
    let container = &mut job.spec.template.spec.containers[0];
    one_gpu(container, manifest);
    container.command = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "exec \"$PIPEWRIGHT\" shard-fit {MOUNT}/{dir} --rank \"$JOB_COMPLETION_INDEX\" --ranks {ranks} --run k8s",
            dir = fit.dir,
            ranks = fit.ranks
        ),
    ];
    job
}

/// The manifest file of a data-parallel fit of block `node`.
pub fn fit_file(node: &str) -> String {
    format!("kubernetes/fit-{node}.yaml")
}

/// A fanned-out bundle's pods each ask for the GPUs a task uses (one, or none).
fn one_gpu(container: &mut Container, manifest: &BundleManifest) {
    let gpus = manifest.gpus_per_task();
    if gpus > 0 {
        container.resources.limits.insert("nvidia.com/gpu".into(), gpus.to_string());
    }
}

/// A Job as YAML, after a comment.
fn job_yaml(job: &Job, comment: &str) -> Result<String, ClusterError> {
    let value = serde_json::to_value(job)
        .map_err(|e| ClusterError::Bundle(format!("the Job manifest could not be written: {e}")))?;
    Ok(format!("{comment}\n{}", yaml::to_yaml(&value)))
}

pub(super) fn files(manifest: &BundleManifest) -> Result<Vec<(String, String)>, ClusterError> {
    let mut files = Vec::new();
    if let Some(fan_out) = &manifest.fan_out {
        let copy = format!(
            "Copy the bundle folder into the volume claim \"{}\" as \"{}/\"",
            manifest.resources.volume_claim, manifest.job_name
        );
        for fit in manifest.fit_steps() {
            files.push((
                fit_file(&fit.node),
                job_yaml(
                    &fit_manifest(manifest, &fit),
                    &format!(
                        "# Block \"{}\" of the Pipewright job \"{}\" trained data-parallel: {} ranks at once, one a shard. \
                         Created with {COMBINE_MANIFEST}.",
                        fit.node, manifest.job_name, fit.ranks
                    ),
                )?,
            ));
        }
        files.push((
            TASKS_MANIFEST.to_owned(),
            job_yaml(
                &tasks_manifest(manifest, fan_out.tasks, fan_out.at_once, fan_out.retries),
                &format!(
                    "# The task set of the Pipewright job \"{}\" as an Indexed Job. {copy}, then: kubectl create -f \
                     {TASKS_MANIFEST} -f {COMBINE_MANIFEST}",
                    manifest.job_name
                ),
            )?,
        ));
        files.push((
            COMBINE_MANIFEST.to_owned(),
            job_yaml(
                &combine_manifest(manifest),
                &format!(
                    "# The combine of the Pipewright job \"{}\": waits for every index's result, then runs the \
                     workflow. Created with {TASKS_MANIFEST}.",
                    manifest.job_name
                ),
            )?,
        ));
    }
    let job = serde_json::to_value(job_manifest(manifest))
        .map_err(|e| ClusterError::Bundle(format!("the Job manifest could not be written: {e}")))?;
    let text = format!(
        "# The Pipewright job \"{}\" as a Kubernetes Job. Copy the bundle folder into the volume claim \"{}\" as \
         \"{}/\", then: kubectl create -f {MANIFEST}\n{}",
        manifest.job_name,
        manifest.resources.volume_claim,
        manifest.job_name,
        yaml::to_yaml(&job)
    );
    files.insert(0, (MANIFEST.to_owned(), text));
    Ok(files)
}

pub(super) fn readme_section(manifest: &BundleManifest) -> String {
    let r = &manifest.resources;
    format!(
        "The Job runs the image `{image}` (build it from `Containerfile`) and mounts the bundle from the persistent \
         volume claim `{claim}` (sub-folder `{name}/`) at `{MOUNT}`; results are written there.\n\n\
         ```sh\nkubectl cp BUNDLE SOME_POD:/path/in/{claim}/{name}    # or any way into the volume\n\
         kubectl create -f {MANIFEST}\n```\n\n\
         or let Pipewright create it, follow it and bring its metrics into the run history (from the job's log):\n\n\
         ```sh\npipewright submit BUNDLE --kubernetes [--kubeconfig ~/.kube/config]\n```\n",
        image = r.image,
        claim = r.volume_claim,
        name = manifest.job_name,
    )
}

/// A cluster reached through `kubectl`.
#[derive(Debug, Clone, Default)]
pub struct Kubectl {
    /// The kubeconfig; `kubectl`'s default (`$KUBECONFIG`, `~/.kube/config`) when `None`.
    pub kubeconfig: Option<PathBuf>,
}

/// `Job.status`, as far as it is read.
#[derive(Debug, Default, Deserialize)]
struct JobStatus {
    #[serde(default)]
    ready: u32,
    #[serde(default)]
    succeeded: u32,
    #[serde(default)]
    conditions: Vec<JobCondition>,
}

#[derive(Debug, Deserialize)]
struct JobCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct JobObject {
    #[serde(default)]
    status: JobStatus,
}

/// `NAMESPACE/NAME` as its two parts.
fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or(("default", id))
}

impl Kubectl {
    fn run(&self, args: &[&str]) -> Result<String, ClusterError> {
        let mut command = Command::new("kubectl");
        if let Some(config) = &self.kubeconfig {
            command.arg("--kubeconfig").arg(config);
        }
        command.arg("--request-timeout=30s").args(args);
        let output = command.output().map_err(|e| {
            ClusterError::Engine(if e.kind() == std::io::ErrorKind::NotFound {
                "`kubectl` is not installed here; it is how Pipewright reaches a Kubernetes cluster".to_owned()
            } else {
                format!("`kubectl` could not start: {e}")
            })
        })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let err = String::from_utf8_lossy(&output.stderr);
            let err = err.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("kubectl failed").trim();
            Err(ClusterError::Engine(format!("Kubernetes: {err}")))
        }
    }
}

impl JobApi for Kubectl {
    /// Creates the Job (named after the bundle's job); returns `NAMESPACE/NAME`.
    fn submit(&self, bundle: &Bundle) -> Result<String, ClusterError> {
        if let Some(fan_out) = &bundle.manifest.fan_out {
            let fits = bundle.manifest.fit_steps().into_iter().map(|f| fit_file(&f.node));
            let tasks = (fan_out.tasks > 0).then(|| TASKS_MANIFEST.to_owned());
            for file in tasks.into_iter().chain(fits) {
                self.run(&["create", "-f", &bundle.dir.join(file).to_string_lossy()])?;
            }
        }
        let manifest = if bundle.manifest.fan_out.is_some() { COMBINE_MANIFEST } else { MANIFEST };
        let path = bundle.dir.join(manifest);
        let out = self.run(&["create", "-f", &path.to_string_lossy(), "-o", "jsonpath={.metadata.name}"]).map_err(
            |e| match e {
                ClusterError::Engine(m) if m.contains("AlreadyExists") || m.contains("already exists") => {
                    ClusterError::Engine(format!(
                        "{m}; delete the earlier Job (kubectl delete job {} -n {}) or export with another --name",
                        bundle.manifest.job_name, bundle.manifest.resources.namespace
                    ))
                }
                other => other,
            },
        )?;
        let name = out.trim();
        if name.is_empty() {
            return Err(ClusterError::Engine("kubectl created no Job".into()));
        }
        Ok(format!("{}/{name}", bundle.manifest.resources.namespace))
    }

    fn state(&self, id: &str) -> Result<JobState, ClusterError> {
        let (namespace, name) = split(id);
        let out = self.run(&["get", "job", name, "-n", namespace, "-o", "json"])?;
        let job: JobObject =
            serde_json::from_str(&out).map_err(|e| ClusterError::Engine(format!("kubectl get job: {e}")))?;
        let s = job.status;
        let condition = |kind: &str| s.conditions.iter().find(|c| c.kind == kind && c.status == "True");
        Ok(if let Some(failed) = condition("Failed") {
            JobState::Failed(format!("the Job failed: {} {}", failed.reason, failed.message).trim().to_owned())
        } else if condition("Complete").is_some() || s.succeeded > 0 {
            JobState::Succeeded
        } else if s.ready > 0 {
            JobState::Running
        } else {
            // Not started, or active but not ready: the pod is being scheduled or its image pulled.
            JobState::Queued
        })
    }

    /// The pod's log so far (empty while it has not started).
    fn logs(&self, _bundle: &Bundle, id: &str) -> String {
        let (namespace, name) = split(id);
        self.run(&["logs", &format!("job/{name}"), "-n", namespace]).unwrap_or_default()
    }

    /// Deletes the Job and its pod (and a fanned-out job's Indexed Job).
    fn cancel(&self, id: &str) -> Result<(), ClusterError> {
        let (namespace, name) = split(id);
        // A fanned-out job's Indexed Jobs (its task set, its data-parallel fits) carry the bundle's label.
        let selector = format!("pipewright/job={name}");
        let _ = self.run(&[
            "delete",
            "job",
            "-l",
            &selector,
            "-n",
            namespace,
            "--wait=false",
            "--cascade=background",
            "--ignore-not-found",
        ]);
        self.run(&["delete", "job", name, "-n", namespace, "--wait=false", "--cascade=background"]).map(|_| ())
    }
}
