//! A served model as a container: `pipewright export-serving` writes the folder an image is built from (the
//! headless runner, the model package and a Containerfile that serves it) and the Kubernetes objects that run it
//! (a Deployment probed on `/health`, a Service, a `HorizontalPodAutoscaler`), with a README saying how.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::Package;
use crate::cluster::{job_name, to_yaml};

/// Where the package sits in the image.
const IMAGE_MODEL: &str = "/srv/model.pwmodel";

/// How the served model runs.
#[derive(Debug, Clone)]
pub struct ServingOptions {
    /// The model's name in the registry.
    pub model: String,
    /// Its version, for the image tag and the labels.
    pub version: i64,
    /// The image to build and run; empty: `pipewright-NAME:VERSION`.
    pub image: String,
    /// The port the endpoint listens on in the container.
    pub port: u16,
    /// Pods at least (and at the start).
    pub replicas: u32,
    /// Pods at most, as the autoscaler adds them.
    pub max_replicas: u32,
    /// The CPU use (percent of the request) the autoscaler keeps the pods at.
    pub cpu_target: u32,
}

impl ServingOptions {
    /// The name of the Kubernetes objects: the model's, as Kubernetes accepts names.
    pub fn object_name(&self) -> String {
        job_name(&self.model)
    }

    /// The image, given or made from the model's name and version.
    pub fn image(&self) -> String {
        if self.image.is_empty() {
            format!("pipewright-{}:{}", self.object_name(), self.version)
        } else {
            self.image.clone()
        }
    }
}

/// Writes the serving folder for `package` into `dir` (which must be empty or new): `model.pwmodel`,
/// `bin/pipewright` (a copy of `runner`, the headless runner the image runs), `Containerfile`,
/// `kubernetes/deployment.yaml`, `service.yaml`, `hpa.yaml` and `README.md`. Returns the files written.
pub fn write_serving(
    dir: &Path,
    package: &Package,
    runner: &Path,
    options: &ServingOptions,
) -> Result<Vec<PathBuf>, String> {
    if options.replicas == 0 || options.max_replicas < options.replicas {
        return Err(format!(
            "replicas {} to {}: at least one pod, and the most at least the fewest",
            options.replicas, options.max_replicas
        ));
    }
    if !(1..=100).contains(&options.cpu_target) {
        return Err(format!("a CPU target of {}%: give 1 to 100", options.cpu_target));
    }
    if dir.is_file() || std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} is not an empty folder: choose a new one", dir.display()));
    }
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let mut written = Vec::new();
    for sub in ["bin", "kubernetes"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| io(&dir.join(sub), e))?;
    }
    let model = dir.join("model.pwmodel");
    package.write(&model).map_err(|e| format!("{}: {e}", model.display()))?;
    written.push(model);
    let bin = dir.join("bin/pipewright");
    std::fs::copy(runner, &bin).map_err(|e| format!("copying the runner {}: {e}", runner.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).map_err(|e| io(&bin, e))?;
    }
    written.push(bin);
    let files = [
        ("Containerfile", containerfile(options)),
        ("kubernetes/deployment.yaml", to_yaml(&deployment(options))),
        ("kubernetes/service.yaml", to_yaml(&service(options))),
        ("kubernetes/hpa.yaml", to_yaml(&autoscaler(options))),
        ("README.md", readme(package, options)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn containerfile(options: &ServingOptions) -> String {
    let port = options.port;
    format!(
        "# The model {model} version {version} served by Pipewright's headless runner.\n\
         FROM debian:bookworm-slim\n\
         RUN useradd --system --uid 10001 --no-create-home pipewright\n\
         COPY bin/pipewright /usr/local/bin/pipewright\n\
         COPY model.pwmodel {IMAGE_MODEL}\n\
         USER 10001\n\
         EXPOSE {port}\n\
         # PIPEWRIGHT_TOKEN, when set, is the bearer token every route but /health asks for.\n\
         ENTRYPOINT [\"/usr/local/bin/pipewright\", \"serve\", \"{IMAGE_MODEL}\", \"--host\", \"0.0.0.0\", \"--port\", \"{port}\"]\n",
        model = options.model,
        version = options.version,
    )
}

/// The labels every object carries and the Deployment's pods are selected by.
fn labels(options: &ServingOptions) -> Json {
    json!({"app.kubernetes.io/name": options.object_name(), "pipewright/model-version": options.version.to_string()})
}

fn deployment(options: &ServingOptions) -> Json {
    let name = options.object_name();
    let probe = |delay: u32| json!({"httpGet": {"path": "/health", "port": options.port}, "initialDelaySeconds": delay, "periodSeconds": 10});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(options)},
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels(options)},
                "spec": {
                    "containers": [{
                        "name": "endpoint",
                        "image": options.image(),
                        "ports": [{"containerPort": options.port, "name": "http"}],
                        "env": [{
                            "name": "PIPEWRIGHT_TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": format!("{name}-token"), "key": "token", "optional": true}},
                        }],
                        "readinessProbe": probe(2),
                        "livenessProbe": probe(10),
                        "resources": {
                            "requests": {"cpu": "500m", "memory": "256Mi"},
                            "limits": {"memory": "1Gi"},
                        },
                    }],
                },
            },
        },
    })
}

fn service(options: &ServingOptions) -> Json {
    let name = options.object_name();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(options)},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    })
}

fn autoscaler(options: &ServingOptions) -> Json {
    let name = options.object_name();
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": labels(options)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": options.replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": options.cpu_target}},
            }],
        },
    })
}

fn readme(package: &Package, options: &ServingOptions) -> String {
    let (name, image, port) = (options.object_name(), options.image(), options.port);
    let mut text = format!(
        "# {model} version {version}, served\n\n\
         The model package `model.pwmodel` ({inputs} input fields; the fitted steps in front of the model included)\n\
         and the headless runner `bin/pipewright` that serves it: `POST /score`, `GET /health`, `/schema`,\n\
         `/openapi.json`, `/metrics`. The runner was copied from the machine that wrote this folder: the image's\n\
         platform must be that machine's (Linux, the same CPU architecture).\n\n\
         ## Build and try the image\n\n\
         ```sh\npodman build -t {image} -f Containerfile .     # or: docker build -t {image} -f Containerfile .\n\
         podman run --rm -p {port}:{port} {image}\n\
         curl http://127.0.0.1:{port}/health\n\
         curl -X POST http://127.0.0.1:{port}/score -H 'Content-Type: application/json' -d @rows.json\n```\n\n\
         ## Run it on Kubernetes\n\n\
         Push the image where the cluster pulls from (change `image:` in `kubernetes/deployment.yaml` if its name\n\
         differs), optionally give the endpoint a bearer token, then apply the three objects:\n\n\
         ```sh\nkubectl create secret generic {name}-token --from-literal=token=\"$(openssl rand -hex 24)\"   # optional\n\
         kubectl apply -f kubernetes/\n```\n\n",
        model = options.model,
        version = options.version,
        inputs = package.manifest.inputs.len(),
    );
    let _ = write!(
        text,
        "- `deployment.yaml`: {replicas} pod(s) of the image, ready once `/health` answers; the token from the\n  \
         secret `{name}-token` when it exists.\n\
         - `service.yaml`: the pods behind `http://{name}` on port 80 inside the cluster.\n\
         - `hpa.yaml`: {replicas} to {most} pods, added while their CPU use is above {target}% of the 500m they ask for.\n",
        replicas = options.replicas,
        most = options.max_replicas,
        target = options.cpu_target,
    );
    text
}
