//! `pipewright monitor`: what a served model version saw, from the project's capture store, cut into windows
//! and compared with the training profile its package carries — per-feature drift (Evidently's default tests,
//! PSI beside them), the prediction's and the score's drift, data quality, dataset drift. Results and alerts
//! are recorded in the project's store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use pipewright_deploy::ModelSpec;
use pipewright_deploy::monitor::{self, Window, WindowReport};
use pipewright_store::format_utc;

/// Arguments of `pipewright monitor`.
#[derive(Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct MonitorArgs {
    /// The project folder whose registry holds the model and whose capture store holds what it saw.
    #[arg(long, default_value = ".", global = true)]
    project: PathBuf,
    /// The model: NAME (its production version), NAME@staging or NAME@VERSION.
    #[arg(long, global = true)]
    model: Option<String>,
    /// Windows of this many records (1000) or spans of time (30m, 12h, 1d, 7d; days start at midnight UTC).
    #[arg(long, default_value = "1d")]
    window: Window,
    /// Monitor the version's scores in the shadow rather than its answers.
    #[arg(long)]
    shadow: bool,
    /// The capture store; left out, the project's (.pipewright/capture).
    #[arg(long, global = true)]
    capture_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
    /// `label FILE`: record the true labels of requests, joined to them by request id.
    #[command(subcommand)]
    what: Option<MonitorCommand>,
}

#[derive(clap::Subcommand)]
pub enum MonitorCommand {
    /// Keep a file of true labels (CSV, Parquet, JSON): a request id column, the label, and for requests of
    /// several records the record's place (from 0). Later monitoring joins them to the captured records.
    Label {
        /// The file.
        file: PathBuf,
        /// The request id column.
        #[arg(long, default_value = "request_id")]
        id_column: String,
        /// The label column; left out, the model's label column (as it was trained), else `label`.
        #[arg(long)]
        label_column: Option<String>,
        /// The record column, for requests of several records; left out, `record` when the file has it.
        #[arg(long)]
        record_column: Option<String>,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(crate::EXIT_INVALID)
}

/// Computes, records and prints the windows of a model version.
pub fn monitor(args: &MonitorArgs) -> ExitCode {
    let store = match crate::runs_cmd::open(&args.project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let Some(model) = &args.model else {
        return fail("name the model: --model NAME (its production version), NAME@staging or NAME@VERSION");
    };
    let spec = match model.parse::<ModelSpec>() {
        Ok(spec) => spec,
        Err(e) => return fail(e),
    };
    let dir = args
        .capture_dir
        .clone()
        .unwrap_or_else(|| pipewright_store::store_path(&args.project).with_file_name("capture"));
    if let Some(MonitorCommand::Label { file, id_column, label_column, record_column }) = &args.what {
        return label(&store, &spec, &dir, file, id_column, label_column.as_deref(), record_column.as_deref());
    }
    let done = match monitor::run(&store, &dir, &spec, args.window, args.shadow) {
        Ok(done) => done,
        Err(e) => return fail(e),
    };
    let (name, number) = (&done.version.name, done.version.version);
    if args.json {
        let value = json!({
            "model": name, "version": number, "shadow": args.shadow,
            "reference_rows": done.reference_rows, "windows": done.windows,
            "alerts": done.alerts.iter().map(|a| &a.message).collect::<Vec<_>>(), "seconds": done.seconds,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    print_windows(name, number, done.reference_rows, &done.windows, done.seconds);
    for alert in &done.alerts {
        println!("ALERT {}", alert.message);
    }
    ExitCode::SUCCESS
}

/// `monitor label FILE`: keeps the labels in the capture store.
fn label(
    store: &pipewright_store::Store,
    spec: &ModelSpec,
    dir: &std::path::Path,
    file: &std::path::Path,
    id_column: &str,
    label_column: Option<&str>,
    record_column: Option<&str>,
) -> ExitCode {
    let version = match spec.resolve(store) {
        Ok(version) => version,
        Err(e) => return fail(e),
    };
    let trained_on = pipewright_deploy::package_of(store, &version).ok().and_then(|p| p.manifest.label);
    let label = label_column.map(str::to_owned).or(trained_on).unwrap_or_else(|| "label".into());
    let record = record_column.map(str::to_owned).or_else(|| {
        let has = pipewright_nodes::data::read_file(file).is_ok_and(|f| f.column("record").is_ok());
        has.then(|| "record".to_owned())
    });
    let columns = monitor::labels::LabelColumns { id: id_column, record: record.as_deref(), label: &label };
    match monitor::labels::import(dir, &version.name, file, &columns) {
        Ok(done) => {
            println!(
                "Kept {} labels of {} requests for {} in {}",
                done.labels,
                done.requests,
                version.name,
                done.file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn print_windows(model: &str, version: i64, reference: u64, reports: &[WindowReport], seconds: f64) {
    let records: usize = reports.iter().map(|w| w.records).sum();
    println!(
        "{model} version {version}: {records} records in {} window(s), against {reference} training rows ({seconds:.2} s)",
        reports.len()
    );
    println!(
        "{:<19}  {:<19}  {:>9}  {:>7}  {:>8}  dataset drift",
        "from (UTC)", "to (UTC)", "records", "refused", "drifted"
    );
    for w in reports {
        println!(
            "{:<19}  {:<19}  {:>9}  {:>7}  {:>7.0}%  {}",
            format_utc(w.start),
            format_utc(w.end),
            w.records,
            w.refused,
            100.0 * w.drift_share,
            if w.dataset_drift { "YES" } else { "no" }
        );
    }
    let Some(last) = reports.last() else { return };
    println!("\nThe last window, by column:");
    println!(
        "{:<20}  {:<22}  {:>10}  {:>9}  {:>8}  {:>8}  {:>10}  refused",
        "column", "test", "statistic", "threshold", "drifted", "PSI", "missing"
    );
    for c in last.features.iter().chain(&last.outputs) {
        let (test, statistic, threshold, drifted, psi) =
            c.drift.map_or(("—".into(), String::new(), String::new(), "", String::new()), |d| {
                (
                    d.method.label().to_owned(),
                    format!("{:.4}", d.statistic),
                    format!("{}", d.threshold),
                    if d.drifted { "YES" } else { "no" },
                    format!("{:.4}", d.psi),
                )
            });
        let refused: Vec<String> = c.refused.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "{:<20}  {test:<22}  {statistic:>10}  {threshold:>9}  {drifted:>8}  {psi:>8}  {:>9.1}%  {}",
            crate::runs_cmd::clip(&c.name, 20),
            100.0 * c.missing_rate,
            refused.join(", ")
        );
    }
}
