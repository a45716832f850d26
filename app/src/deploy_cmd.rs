//! `pipewright serve` (a REST scoring endpoint for a model package) and `pipewright score` (batch scoring of
//! a CSV or Parquet file).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;

use clap::Args;
use polars::prelude::{CsvWriter, SerWriter};

use pipewright_deploy::{DEFAULT_MAX_BODY_BYTES, Package, ServeOptions, Server, score_file};

/// Arguments of `pipewright serve`.
#[derive(Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct ServeArgs {
    /// The model package (.pwmodel) written by Export Model Package.
    model: PathBuf,
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
    let package = match read(&args.model) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let options = ServeOptions {
        host: args.host.clone(),
        port: args.port,
        token: args.token.clone().filter(|t| !t.is_empty()),
        max_body_bytes: args.max_body_bytes,
        threads: args.threads,
    };
    let (name, task, fields) = {
        let m = &package.manifest;
        (m.name.clone(), m.task.label().to_owned(), m.inputs.len())
    };
    let example = package.manifest.example.clone().unwrap_or_else(|| package.plain_record());
    let server = match Server::start(package, &options) {
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
    let url = server.url();
    println!("Serving \"{name}\" ({task}, {fields} input fields) at {url}");
    println!("  POST {url}/score   GET {url}/health  /schema  /openapi.json  /metrics");
    if !server.addr().ip().is_loopback() && options.token.is_none() {
        eprintln!("warning: listening beyond this machine without a token: anyone who reaches it can score");
    }
    let auth = if options.token.is_some() { " -H 'Authorization: Bearer $PIPEWRIGHT_TOKEN'" } else { "" };
    println!("Try it:\n  curl -s {url}/score -H 'Content-Type: application/json'{auth} -d '{example}'");
    println!("Ctrl-C stops it.");
    let _ = std::io::stdout().flush();
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
