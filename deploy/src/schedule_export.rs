//! A schedule run by the cluster's own scheduler rather than by `pipewright agent`: a Kubernetes `CronJob`
//! (checked with `kubernetes-validate --strict`) or a Slurm `scrontab` entry, each running `pipewright schedule
//! run NAME --project DIR` at the schedule's times. Cluster schedulers fire at most once a minute, so a
//! six-field expression (with seconds) is refused.

use serde_json::json;

use crate::cluster::{job_name, to_yaml};
use crate::cron::Cron;

/// Where and how the cluster runs the schedule.
#[derive(Debug, Clone)]
pub struct CronJobOptions {
    /// The image holding the runner (its `pipewright` on the PATH).
    pub image: String,
    /// The namespace.
    pub namespace: String,
    /// The persistent volume claim holding the project, mounted at `/project`.
    pub volume_claim: String,
}

fn five_fields(cron: &str) -> Result<(), String> {
    cron.parse::<Cron>()?;
    if cron.split_whitespace().count() == 6 {
        return Err(format!(
            "cron `{cron}` has seconds: a cluster's scheduler fires at most once a minute, so give five fields"
        ));
    }
    Ok(())
}

/// A Kubernetes `CronJob` (UTC, one run at a time) running the schedule from the project on the volume.
pub fn cronjob(name: &str, cron: &str, options: &CronJobOptions) -> Result<String, String> {
    five_fields(cron)?;
    let object = job_name(&format!("pipewright-{name}"));
    let manifest = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": object,
            "namespace": options.namespace,
            "labels": {"app.kubernetes.io/name": "pipewright", "pipewright/schedule": job_name(name)},
        },
        "spec": {
            "schedule": cron,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {
                "backoffLimit": 0,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "schedule",
                        "image": options.image,
                        "command": ["pipewright", "schedule", "run", name, "--project", "/project"],
                        "volumeMounts": [{"name": "project", "mountPath": "/project"}],
                    }],
                    "volumes": [{"name": "project", "persistentVolumeClaim": {"claimName": options.volume_claim}}],
                }},
            }},
        },
    });
    Ok(to_yaml(&manifest))
}

/// A Slurm `scrontab` entry: the job's options, then the cron line running the schedule with `runner` from
/// `project` (both absolute paths on the cluster's shared file system).
pub fn scrontab(name: &str, cron: &str, runner: &str, project: &str, time_limit: &str) -> Result<String, String> {
    five_fields(cron)?;
    let quote =
        |s: &str| if s.contains([' ', '\'', '"']) { format!("'{}'", s.replace('\'', "'\\''")) } else { s.to_owned() };
    Ok(format!(
        "#SCRON --job-name={}\n#SCRON --time={time_limit}\n{cron} {} schedule run {} --project {}\n",
        job_name(&format!("pipewright-{name}")),
        quote(runner),
        quote(name),
        quote(project)
    ))
}
