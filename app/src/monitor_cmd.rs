//! `pipewright monitor`: what a served model version saw, from the project's capture store, cut into windows
//! and compared with the training profile its package carries — per-feature drift (Evidently's default tests,
//! PSI beside them), the prediction's and the score's drift, data quality, dataset drift. Results and alerts
//! are recorded in the project's store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use pipewright_deploy::ModelSpec;
use pipewright_deploy::monitor::{self, ColumnReport, Window, WindowReport};
use pipewright_store::{ColumnRecord, WindowRecord, format_utc};

/// Arguments of `pipewright monitor`.
#[derive(Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct MonitorArgs {
    /// The project folder whose registry holds the model and whose capture store holds what it saw.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The model: NAME (its production version), NAME@staging or NAME@VERSION.
    #[arg(long)]
    model: String,
    /// Windows of this many records (1000) or spans of time (30m, 12h, 1d, 7d; days start at midnight UTC).
    #[arg(long, default_value = "1d")]
    window: Window,
    /// Monitor the version's scores in the shadow rather than its answers.
    #[arg(long)]
    shadow: bool,
    /// The capture store; left out, the project's (.pipewright/capture).
    #[arg(long)]
    capture_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
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
    let version = match args.model.parse::<ModelSpec>().and_then(|spec| spec.resolve(&store)) {
        Ok(version) => version,
        Err(e) => return fail(e),
    };
    let package = match pipewright_deploy::package_of(&store, &version) {
        Ok(package) => package,
        Err(e) => return fail(e),
    };
    let Some(profile) = &package.manifest.profile else {
        return fail(format!(
            "{} version {} has no training profile: its run did not keep the raw rows it learned from (tables over \
             100,000 cells are not recorded); register a model whose run keeps them",
            version.name, version.version
        ));
    };
    let dir = args
        .capture_dir
        .clone()
        .unwrap_or_else(|| pipewright_store::store_path(&args.project).with_file_name("capture"));
    let started = std::time::Instant::now();
    let captured = match monitor::read_capture(&dir, &version.name, version.version, args.shadow) {
        Ok(captured) => captured,
        Err(e) => return fail(e),
    };
    let reports = monitor::monitor(profile, &captured, args.window);
    let seconds = started.elapsed().as_secs_f64();
    let records: Vec<WindowRecord> = reports.iter().map(|w| record(&version.name, version.version, w)).collect();
    let alerts = match store.record_windows(&records) {
        Ok(alerts) => alerts,
        Err(e) => return fail(e),
    };
    if args.json {
        let value = json!({
            "model": version.name, "version": version.version, "shadow": args.shadow,
            "reference_rows": profile.rows, "windows": reports,
            "alerts": alerts.iter().map(|a| &a.message).collect::<Vec<_>>(), "seconds": seconds,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    print_windows(&version.name, version.version, profile.rows, &reports, seconds);
    for alert in &alerts {
        println!("ALERT {}", alert.message);
    }
    ExitCode::SUCCESS
}

fn column_record(c: &ColumnReport) -> ColumnRecord {
    ColumnRecord {
        name: c.name.clone(),
        method: c.drift.map(|d| format!("{:?}", d.method).to_lowercase()),
        statistic: c.drift.map(|d| d.statistic),
        threshold: c.drift.map(|d| d.threshold),
        drifted: c.drift.is_some_and(|d| d.drifted),
        psi: c.drift.map(|d| d.psi),
        missing_rate: c.missing_rate,
        out_of_range: c.out_of_range,
        refused: i64::try_from(c.refused.values().sum::<u64>()).unwrap_or(i64::MAX),
    }
}

fn record(model: &str, version: i64, w: &WindowReport) -> WindowRecord {
    WindowRecord {
        model: model.to_owned(),
        version,
        start: w.start,
        end: w.end,
        records: i64::try_from(w.records).unwrap_or(i64::MAX),
        refused: i64::try_from(w.refused).unwrap_or(i64::MAX),
        drift_share: w.drift_share,
        dataset_drift: w.dataset_drift,
        columns: w.features.iter().chain(&w.outputs).map(column_record).collect(),
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
