//! Ray: a job entrypoint, its runtime description and the Jobs API submission body; submission over the
//! dashboard's HTTP Jobs API (`/api/jobs/`).

use serde_json::{Value as Json, json};

use super::bundle::BundleManifest;
use super::engine::{JobApi, JobState};
use super::{Bundle, ClusterError};
use crate::client;

/// The entrypoint script, relative to the bundle.
pub const ENTRYPOINT: &str = "ray/entrypoint.py";
/// The runtime description, relative to the bundle.
pub const RUNTIME_ENV: &str = "ray/runtime_env.json";
/// The Jobs API submission body, relative to the bundle.
pub const JOB: &str = "ray/job.json";

const ENTRYPOINT_SCRIPT: &str = r#""""Ray job entrypoint: runs this bundle's workflow with Pipewright's headless runner.

The bundle is either the job's working directory (`ray job submit --working-dir BUNDLE`) or a folder the
cluster's nodes can read (what `pipewright submit --ray` uses). The runner's output is the job's log; its
exit code is the job's.
"""
import os
import subprocess
import sys

BUNDLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if __name__ == "__main__":
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
    print(f"pipewright job in {BUNDLE} with GPUs: {gpus}", flush=True)
    sys.exit(subprocess.call(["sh", os.path.join(BUNDLE, "run.sh")], cwd=BUNDLE))
"#;

/// A fanned-out bundle's entrypoint: a driver that runs each index of the task set as a Ray task with the
/// bundle's resources, then the combine as one more.
const DRIVER_SCRIPT: &str = include_str!("ray_driver.py");

fn runtime_env(manifest: &BundleManifest) -> Json {
    json!({
        "working_dir": ".",
        "env_vars": {
            "PIPEWRIGHT_DEVICE": if manifest.resources.gpus > 0 { "auto" } else { "cpu" },
            "RAYON_NUM_THREADS": manifest.resources.cpus.to_string(),
            "POLARS_MAX_THREADS": manifest.resources.cpus.to_string(),
        },
    })
}

/// The submission body: the entrypoint with the resources it asks for.
fn job(manifest: &BundleManifest, entrypoint: &str, runtime_env: &Json) -> Json {
    let r = &manifest.resources;
    json!({
        "entrypoint": entrypoint,
        "entrypoint_num_cpus": r.cpus,
        "entrypoint_num_gpus": r.gpus,
        "entrypoint_memory": r.memory_mib * 1024 * 1024,
        "runtime_env": runtime_env,
        "metadata": {
            "pipewright_job": manifest.job_name,
            "workflow": manifest.workflow_name,
        },
    })
}

pub(super) fn files(manifest: &BundleManifest) -> Vec<(String, String)> {
    let env = runtime_env(manifest);
    let mut body = job(manifest, &format!("python3 {ENTRYPOINT}"), &env);
    let entrypoint = match &manifest.fan_out {
        None => ENTRYPOINT_SCRIPT.to_owned(),
        Some(fan_out) => {
            // The driver only waits: the tasks and the combine ask for the resources.
            body["entrypoint_num_cpus"] = json!(0);
            body["entrypoint_num_gpus"] = json!(0);
            let r = &manifest.resources;
            DRIVER_SCRIPT
                .replace("__CPUS__", &r.cpus.to_string())
                .replace("__GPUS__", &manifest.gpus_per_task().to_string())
                .replace("__RETRIES__", &fan_out.retries.to_string())
                .replace("__AT_ONCE__", &fan_out.at_once.to_string())
                .replace("__FITS__", &fits_json(manifest))
        }
    };
    vec![
        (ENTRYPOINT.to_owned(), entrypoint),
        (RUNTIME_ENV.to_owned(), serde_json::to_string_pretty(&env).unwrap_or_default() + "\n"),
        (JOB.to_owned(), serde_json::to_string_pretty(&body).unwrap_or_default() + "\n"),
    ]
}

/// The data-parallel fits as the driver reads them (a Python literal that is also JSON).
fn fits_json(manifest: &BundleManifest) -> String {
    let fits: Vec<Json> =
        manifest.fit_steps().into_iter().map(|f| json!({"node": f.node, "dir": f.dir, "ranks": f.ranks})).collect();
    Json::Array(fits).to_string()
}

pub(super) fn readme_section(manifest: &BundleManifest) -> String {
    let r = &manifest.resources;
    format!(
        "With the Ray CLI (it uploads the bundle as the job's working directory; keep the bundled runner, or \
         set `PIPEWRIGHT` in `{RUNTIME_ENV}` to a runner installed on the nodes):\n\n\
         ```sh\ncd BUNDLE && ray job submit --address http://HEAD:8265 --working-dir . \\\n  \
         --runtime-env {RUNTIME_ENV} --entrypoint-num-cpus {} --entrypoint-num-gpus {} -- python3 {ENTRYPOINT}\n```\n\n\
         or with Pipewright, when the bundle's folder is readable on the cluster's nodes (it follows the job and \
         records its results in the project's run history):\n\n\
         ```sh\npipewright submit BUNDLE --ray http://HEAD:8265\n```\n",
        r.cpus, r.gpus
    )
}

/// A Ray cluster's Jobs API at its dashboard address.
#[derive(Debug, Clone)]
pub struct Ray {
    /// `http://host:8265`.
    pub url: String,
}

impl Ray {
    fn call(&self, method: &str, path: &str, body: Option<&Json>) -> Result<Json, ClusterError> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let body = body.map(Json::to_string).unwrap_or_default();
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[("Content-Type", "application/json")] };
        let answer = client::request(method, &url, headers, body.as_bytes())
            .map_err(|e| ClusterError::Engine(format!("the Ray dashboard at {} cannot be reached: {e}", self.url)))?;
        if !(200..300).contains(&answer.status) {
            return Err(ClusterError::Engine(format!(
                "Ray refused (HTTP {}): {}",
                answer.status,
                answer.text().chars().take(500).collect::<String>().trim()
            )));
        }
        answer.json().map_err(|e| ClusterError::Engine(format!("Ray answered {path} with {e}")))
    }
}

impl JobApi for Ray {
    /// Submits the bundle: the entrypoint by its absolute path (the bundle must be readable on the nodes).
    fn submit(&self, bundle: &Bundle) -> Result<String, ClusterError> {
        let path = bundle.dir.join(JOB);
        let text = std::fs::read_to_string(&path).map_err(|e| ClusterError::io(&path, e))?;
        let mut body: Json = serde_json::from_str(&text)
            .map_err(|e| ClusterError::Bundle(format!("{}: not valid JSON: {e}", path.display())))?;
        body["entrypoint"] = json!(format!("python3 {}", bundle.dir.join(ENTRYPOINT).display()));
        // The working directory is the bundle itself; nothing is uploaded.
        if let Some(env) = body["runtime_env"].as_object_mut() {
            env.remove("working_dir");
        }
        let answer = self.call("POST", "/api/jobs/", Some(&body))?;
        answer["submission_id"]
            .as_str()
            .or_else(|| answer["job_id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ClusterError::Engine(format!("Ray gave no job id: {answer}")))
    }

    fn state(&self, id: &str) -> Result<JobState, ClusterError> {
        let answer = self.call("GET", &format!("/api/jobs/{id}"), None)?;
        let message = answer["message"].as_str().unwrap_or("").to_owned();
        Ok(match answer["status"].as_str().unwrap_or("") {
            "PENDING" => JobState::Queued,
            "RUNNING" => JobState::Running,
            "SUCCEEDED" => JobState::Succeeded,
            "STOPPED" => JobState::Cancelled,
            "FAILED" => JobState::Failed(if message.is_empty() { "the job failed".into() } else { message }),
            other => JobState::Failed(format!("Ray reports the unknown state \"{other}\"")),
        })
    }

    fn logs(&self, _bundle: &Bundle, id: &str) -> String {
        let answer = self.call("GET", &format!("/api/jobs/{id}/logs"), None);
        answer.ok().and_then(|a| a["logs"].as_str().map(str::to_owned)).unwrap_or_default()
    }

    fn cancel(&self, id: &str) -> Result<(), ClusterError> {
        self.call("POST", &format!("/api/jobs/{id}/stop"), None).map(|_| ())
    }
}
