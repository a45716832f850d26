//! Deployment of model packages (`*.pwmodel`, made by the Export Model Package block): a REST scoring
//! endpoint ([`Server`]: `POST /score`, `/health`, `/schema`, `/openapi.json`, `/metrics`, bearer-token
//! auth, a body size limit, graceful shutdown), batch scoring of CSV and Parquet files ([`score_file`]), and
//! an HTTP client on `ureq` ([`client`], http and https) that the designer's test form, the engines' REST APIs
//! and the tests call with.
//!
//! [`assemble`] gathers a package from a run's values (the designer's last run or a recorded one).
//!
//! [`cluster`] exports workflows as job bundles for Slurm, Ray and Kubernetes and submits them.
//!
//! The package format itself lives with the blocks that write and read it (`pipewright_nodes::deploy`).

mod access_log;
mod assemble;
mod batch;
mod capture;
pub mod client;
pub mod cluster;
pub mod cron;
mod metrics;
pub mod monitor;
mod openapi;
mod registry;
mod routes;
mod schedule_export;
mod server;
mod serving;
mod tls;

pub use assemble::{AssembleError, Assembled, RecordedRun, RunValues, assemble, output_by_port};
pub use batch::{BatchSummary, score_file};
pub use capture::{CaptureOptions, INPUT_PREFIX, folder_name};
pub use pipewright_nodes::deploy::{Field, FieldType, Package, PackageError, PackageInfo, Source};
pub use registry::{Follow, ModelSpec, listed, package_of, recorded_package, register, versions_of};
pub use routes::RegistryOptions;
pub use schedule_export::{CronJobOptions, cronjob, scrontab};
pub use server::{DEFAULT_MAX_BODY_BYTES, ServeError, ServeOptions, Server, TlsFiles, score_path};
pub use serving::{ServingOptions, write_serving};
