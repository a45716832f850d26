//! `pipewright serve` (a REST scoring endpoint for a model package) and `pipewright score` (batch scoring of
//! a CSV or Parquet file).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use clap::Args;
use polars::prelude::{CsvWriter, SerWriter};

use std::time::Duration;

use pipewright_deploy::{
    CaptureOptions, DEFAULT_MAX_BODY_BYTES, ModelSpec, Package, RegistryOptions, ServeOptions, Server, TlsFiles,
    score_file,
};

/// Arguments of `pipewright serve`.
#[derive(Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct ServeArgs {
    /// The model package (.pwmodel) written by Export Model Package; or serve registered models with --model.
    #[arg(value_name = "PACKAGE", required_unless_present = "models", conflicts_with = "models")]
    package: Option<PathBuf>,
    /// A registered model to serve at /models/NAME/score: NAME (its production version), NAME@production,
    /// NAME@staging or NAME@VERSION. Repeat for several. Stage changes, splits and shadows in the registry are
    /// followed while serving.
    #[arg(long = "model", value_name = "NAME[@STAGE|@VERSION]")]
    models: Vec<String>,
    /// The project folder whose registry holds the models.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// How often the registry is read for changes, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// The address to listen on. The default answers this machine only; 0.0.0.0 answers the network (set a
    /// token then).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The port; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Require `Authorization: Bearer TOKEN` on every route but /health. Also read from PIPEWRIGHT_TOKEN.
    #[arg(long, env = "PIPEWRIGHT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Larger request bodies are refused with 413.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Threads answering requests; 0 means one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Capture each request's inputs and predictions (Parquet) for monitoring: into the project's
    /// .pipewright/capture folder, or --capture-dir.
    #[arg(long)]
    capture: bool,
    /// The capture store's folder (turns capture on).
    #[arg(long)]
    capture_dir: Option<PathBuf>,
    /// The share of requests captured, from 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    capture_sample: f64,
    /// A capture file is written once it holds this many records…
    #[arg(long, default_value_t = 100_000)]
    capture_roll_rows: usize,
    /// …or once its oldest record is this many seconds old.
    #[arg(long, default_value_t = 60)]
    capture_roll_seconds: u64,
    /// Past this size (MiB) the capture store drops records, counting them in /metrics.
    #[arg(long, default_value_t = 10_240)]
    capture_max_mb: u64,
    /// Write one JSON line per request to this file (- for standard output).
    #[arg(long)]
    access_log: Option<PathBuf>,
    /// Serve https with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl ServeArgs {
    fn options(&self) -> ServeOptions {
        let capture_dir = self
            .capture_dir
            .clone()
            .or_else(|| self.capture.then(|| pipewright_store::store_path(&self.project).with_file_name("capture")));
        ServeOptions {
            host: self.host.clone(),
            port: self.port,
            token: self.token.clone().filter(|t| !t.is_empty()),
            max_body_bytes: self.max_body_bytes,
            threads: self.threads,
            capture: capture_dir.map(|dir| CaptureOptions {
                sample: self.capture_sample,
                roll_rows: self.capture_roll_rows.max(1),
                roll_after: Duration::from_secs(self.capture_roll_seconds.max(1)),
                max_bytes: self.capture_max_mb.saturating_mul(1 << 20),
                ..CaptureOptions::new(dir)
            }),
            access_log: self.access_log.clone(),
            tls: self.tls_cert.clone().zip(self.tls_key.clone()).map(|(cert, key)| TlsFiles { cert, key }),
            quiet: false,
        }
    }
}

/// Arguments of `pipewright score`.
#[derive(Args)]
pub struct ScoreArgs {
    /// The model package (.pwmodel).
    model: PathBuf,
    /// The rows to score: CSV, Parquet, JSON or NDJSON (by the extension).
    input: PathBuf,
    /// Where to write the rows with their predictions (.parquet writes Parquet, anything else CSV); left out,
    /// CSV goes to standard output.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

fn read(model: &Path) -> Result<Package, ExitCode> {
    Package::read(model).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(crate::EXIT_INVALID)
    })
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let options = args.options();
    let started = if let Some(path) = &args.package {
        let package = match read(path) {
            Ok(p) => p,
            Err(code) => return code,
        };
        Server::start(package, &options)
    } else {
        let models = match args.models.iter().map(|m| m.parse::<ModelSpec>()).collect::<Result<Vec<_>, _>>() {
            Ok(models) => models,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(crate::EXIT_INVALID);
            }
        };
        let registry = RegistryOptions {
            project: args.project.clone(),
            models,
            poll: Duration::from_millis(args.poll_ms.max(50)),
        };
        Server::serve_registry(&registry, &options)
    };
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stop, stopped) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop.send(());
    }) {
        eprintln!("warning: Ctrl-C cannot stop the server cleanly ({e})");
    }
    announce(&server, args, &options);
    let _ = stopped.recv();
    eprintln!("Stopping: finishing requests in flight…");
    match server.stop() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the server serves, where, and a request to try.
fn announce(server: &Server, args: &ServeArgs, options: &ServeOptions) {
    let url = server.url();
    let package = server.package();
    let m = &package.manifest;
    let score = if args.package.is_some() {
        println!("Serving \"{}\" ({}, {} input fields) at {url}", m.name, m.task.label(), m.inputs.len());
        println!("  POST {url}/score   GET {url}/health  /schema  /openapi.json  /metrics");
        format!("{url}/score")
    } else {
        println!("Serving from the registry of {} at {url}:", args.project.display());
        for model in server.describe().as_array().into_iter().flatten() {
            let version = model["version"].as_i64().unwrap_or_default();
            let stage = model["stage"].as_str().unwrap_or("none");
            let follows = model["follows"].as_str().unwrap_or_default();
            println!(
                "  POST {url}/models/{}/score   version {version} ({stage}), following {follows}",
                model["name"].as_str().unwrap_or_default()
            );
        }
        println!("  GET {url}/models  /health  /metrics");
        format!("{url}{}", pipewright_deploy::score_path(&m.name))
    };
    if let Some(capture) = &options.capture {
        println!("Capturing {:.0}% of requests into {}", 100.0 * capture.sample, capture.dir.display());
    }
    if !server.addr().ip().is_loopback() && options.token.is_none() {
        eprintln!("warning: listening beyond this machine without a token: anyone who reaches it can score");
    }
    let auth = if options.token.is_some() { " -H 'Authorization: Bearer $PIPEWRIGHT_TOKEN'" } else { "" };
    let insecure = if options.tls.is_some() { " --cacert CERT" } else { "" };
    let example = m.example.clone().unwrap_or_else(|| package.plain_record());
    println!("Try it:\n  curl -s{insecure} {score} -H 'Content-Type: application/json'{auth} -d '{example}'");
    println!("Ctrl-C stops it.");
    let _ = std::io::stdout().flush();
}

/// Scores a file in batch.
pub fn score(args: &ScoreArgs) -> ExitCode {
    let package = match read(&args.model) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match score_file(&package, &args.input, args.output.as_deref()) {
        Ok((scored, summary)) => {
            if let Some(output) = &args.output {
                eprintln!(
                    "Scored {} rows with \"{}\" in {:.2} s: added {} → {}",
                    summary.rows,
                    package.manifest.name,
                    summary.duration.as_secs_f64(),
                    summary.added.join(", "),
                    output.display()
                );
            } else {
                let mut frame = scored.frame;
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                if let Err(e) = CsvWriter::new(&mut out).finish(&mut frame) {
                    eprintln!("error: cannot write the scored rows: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(crate::EXIT_NODE_FAILED)
        }
    }
}
