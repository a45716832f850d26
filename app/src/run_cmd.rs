//! `pipewright run` and `pipewright validate`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value as Json, json};

use pipewright_deploy::cluster;
use pipewright_engine::{
    Device, DiskCache, Event, NodeStatus, Provenance, RunError, RunOptions, RunReport, RunResult, Session, Value,
    Workflow, find_workflow, project_dir_of, validate_in,
};
use pipewright_store::{RecordStart, Recorder, RunSource};

use crate::{EXIT_INVALID, EXIT_NODE_FAILED, EXIT_STOPPED};

#[derive(Args)]
pub struct RunArgs {
    /// The workflow file, or a project folder holding one *.flow.json.
    flow: PathBuf,
    /// Override a parameter for this run: NODE.PARAM=VALUE (VALUE as JSON, else as text). Repeatable.
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
    set: Vec<String>,
    /// Where compute kernels run: auto, cpu or gpu.
    #[arg(long, default_value = "auto")]
    device: Device,
    /// Print one machine-readable JSON result on stdout.
    #[arg(long)]
    json: bool,
    /// Run only this node and the nodes it depends on.
    #[arg(long, value_name = "NODE")]
    to: Option<String>,
    /// Neither read nor write the project's on-disk cache.
    #[arg(long)]
    no_cache: bool,
    /// Do not record the run in the project's store (cluster jobs are recorded by `pipewright submit`).
    #[arg(long)]
    no_record: bool,
    /// Write the result (every block's status and time, the metrics) to DIR/result.json and the outputs the
    /// run history keeps to DIR/outputs/, and print the result as one `pipewright-result:` line (cluster jobs).
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,
    /// Memory a block may hold (such as 4G or 512M; default half of the machine's memory): a CSV or Parquet
    /// file larger than half of it is streamed through the blocks that work row by row, a batch at a time.
    #[arg(long, value_name = "SIZE", value_parser = crate::cluster_cmd::parse_memory)]
    memory_budget: Option<u64>,
    /// Use this folder as the on-disk cache instead of the project's (a job bundle's shared cache), with no
    /// size budget.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
}

impl RunArgs {
    /// A cluster job's run of a bundle's workflow: its results into `results`, not recorded (`pipewright
    /// submit` records it), with the bundle's shared cache.
    pub fn for_bundle(flow: PathBuf, results: PathBuf, cache_dir: PathBuf, device: Device) -> Self {
        Self {
            flow,
            set: Vec::new(),
            device,
            json: false,
            to: None,
            no_cache: false,
            no_record: true,
            results: Some(results),
            memory_budget: None,
            cache_dir: Some(cache_dir),
        }
    }
}

/// Loads a workflow, printing the error and returning the exit code on failure.
fn load(flow: &Path) -> Result<(PathBuf, Workflow), ExitCode> {
    let path = find_workflow(flow).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let workflow = Workflow::load(&path).map_err(|e| {
        eprintln!("error: {}: {e}", path.display());
        ExitCode::from(EXIT_INVALID)
    })?;
    Ok((path, workflow))
}

pub fn validate(flow: &Path) -> ExitCode {
    let (path, workflow) = match load(flow) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let analysis = validate_in(&workflow, &pipewright_nodes::catalog(), path.parent());
    if analysis.problems.is_empty() {
        println!("{}: valid ({} nodes, {} wires)", path.display(), workflow.nodes.len(), workflow.edges.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("{}: {} problem(s):", path.display(), analysis.problems.len());
        for p in &analysis.problems {
            eprintln!("  - {p}");
        }
        ExitCode::from(EXIT_INVALID)
    }
}

/// Applies `NODE.PARAM=VALUE` overrides.
fn apply_overrides(workflow: &mut Workflow, overrides: &[String]) -> Result<(), String> {
    for text in overrides {
        let (target, value) = text.split_once('=').ok_or_else(|| format!("--set {text}: expected NODE.PARAM=VALUE"))?;
        // Parameter names never hold a dot; node ids may.
        let (node, param) =
            target.rsplit_once('.').ok_or_else(|| format!("--set {text}: expected NODE.PARAM=VALUE"))?;
        let value: Json = serde_json::from_str(value).unwrap_or_else(|_| Json::String(value.to_owned()));
        let ids: Vec<String> = workflow.nodes.iter().map(|n| n.id.clone()).collect();
        let node = workflow
            .node_mut(node)
            .ok_or_else(|| format!("--set {text}: there is no node \"{node}\" (nodes: {})", ids.join(", ")))?;
        node.params.insert(param.to_owned(), value);
    }
    Ok(())
}

/// Progress display: bars on a terminal, plain lines otherwise; all on stderr.
struct Progress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// Without a terminal: when each running block last printed its progress.
    printed: Mutex<HashMap<String, std::time::Instant>>,
    names: HashMap<String, String>,
    quiet: bool,
}

/// How often a long block prints its progress when stderr is not a terminal (a log, a cluster job's output).
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    /// Bars on a terminal (nothing with `--json`), named after each block's id and title.
    fn for_run(workflow: &Workflow, catalog: &pipewright_engine::Catalog, json: bool) -> Self {
        let terminal = std::io::stderr().is_terminal() && !json;
        let names = workflow
            .nodes
            .iter()
            .map(|n| {
                let kind = catalog.get(&n.kind).map_or(n.kind.as_str(), |e| e.spec.name);
                (n.id.clone(), format!("{} ({})", n.id, n.title.as_deref().unwrap_or(kind)))
            })
            .collect();
        Self {
            multi: terminal.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
            printed: Mutex::new(HashMap::new()),
            names,
            quiet: json,
        }
    }

    fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn name(&self, node: &str) -> String {
        self.names.get(node).cloned().unwrap_or_else(|| node.to_owned())
    }

    fn on_event(&self, event: &Event) {
        let Ok(mut bars) = self.bars.lock() else { return };
        match event {
            Event::NodeStarted { node } => {
                if let Ok(mut printed) = self.printed.lock() {
                    printed.insert(node.clone(), std::time::Instant::now());
                }
                if let Some(m) = &self.multi {
                    let bar = m.add(ProgressBar::new(1000));
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {percent}% {elapsed}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_message(self.name(node));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bars.insert(node.clone(), bar);
                }
            }
            Event::NodeProgress { node, fraction, message } => {
                if let Some(bar) = bars.get(node) {
                    bar.set_position((fraction * 1000.0) as u64);
                    if !message.is_empty() {
                        bar.set_message(format!("{}: {message}", self.name(node)));
                    }
                } else if !message.is_empty()
                    && let Ok(mut printed) = self.printed.lock()
                    && printed.get(node).is_some_and(|at| at.elapsed() >= PROGRESS_LINE_EVERY)
                {
                    printed.insert(node.clone(), std::time::Instant::now());
                    drop(printed);
                    self.line(&format!("  running   {}: {message}", self.name(node)));
                }
            }
            Event::NodeCached { node, from_disk } => {
                self.line(&format!(
                    "  cached    {}{}",
                    self.name(node),
                    if *from_disk { " (from the project cache)" } else { "" }
                ));
            }
            Event::NodeFinished { node, duration, summaries, device } => {
                if let Some(bar) = bars.remove(node) {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "  done      {} in {:.2}s{}  {}",
                    self.name(node),
                    duration.as_secs_f64(),
                    device.as_deref().map(|d| format!(" on {d}")).unwrap_or_default(),
                    summaries.join("; ")
                ));
            }
            Event::NodeFailed { node, message } => {
                if let Some(bar) = bars.remove(node) {
                    bar.finish_and_clear();
                }
                self.line(&format!("  FAILED    {}: {message}", self.name(node)));
            }
            Event::NodeDone(_) | Event::RunFinished { .. } => {}
        }
    }
}

/// Reports a workflow the executor refused; exit code 2.
fn invalid(args: &RunArgs, workflow: &Workflow, path: &Path, e: &RunError) -> ExitCode {
    if args.json {
        let problems = match e {
            RunError::Invalid(p) => p.iter().map(|p| json!({"node": p.node, "message": p.message})).collect::<Vec<_>>(),
            RunError::UnknownTarget(_) => Vec::new(),
        };
        println!(
            "{}",
            json!({"workflow": workflow.name, "file": path, "success": false, "valid": false, "problems": problems})
        );
    }
    eprintln!("error: {}: {e}", path.display());
    ExitCode::from(EXIT_INVALID)
}

pub fn run(args: &RunArgs) -> ExitCode {
    let (path, mut workflow) = match load(&args.flow) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Err(e) = apply_overrides(&mut workflow, &args.set) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_INVALID);
    }
    if args.device == Device::Gpu {
        match pipewright_compute::shared() {
            Ok(gpu) if gpu.info.software => {
                eprintln!("note: --device gpu uses {}, a software adapter: expect CPU speed", gpu.info.label());
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("error: --device gpu: {e}; use --device cpu or auto");
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    let catalog = pipewright_nodes::catalog();
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let project = project_dir_of(&path);
    let mut options = RunOptions {
        base_dir,
        target: args.to.clone(),
        device: args.device,
        disk_cache: match &args.cache_dir {
            Some(dir) => Some(DiskCache::shared(dir.clone())),
            None => (!args.no_cache).then(|| DiskCache::for_project(&project)),
        },
        // Nothing reads a table once its consumers have run: a headless run holds only what is still needed.
        release_intermediate: true,
        memory_budget: args.memory_budget.map(|mib| mib * 1024 * 1024),
        ..RunOptions::default()
    };
    // Ctrl-C stops the run: blocks not yet started are skipped, running ones stop at their next check.
    let cancel = options.cancel.clone();
    let _ = ctrlc::set_handler(move || {
        eprintln!("\nStopping…");
        cancel.cancel();
    });
    let progress = Progress::for_run(&workflow, &catalog, args.json);
    progress.line(&format!("Running {} ({})", workflow.name, path.display()));
    // Planned once: a workflow that does not plan is not run, and only one that does is recorded.
    let session = match Session::plan(&workflow, &catalog, &options) {
        Ok(session) => session,
        Err(e @ RunError::Invalid(_)) => return invalid(args, &workflow, &path, &e),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let recorder = recorder_for(args, &workflow, &path, &project, &catalog);
    // `--results DIR`: each block's outputs are written as it finishes (a headless run lets go of them early).
    let Ok(results) = args.results.as_deref().map(|dir| results_writer(dir, &workflow, &catalog)).transpose() else {
        return ExitCode::from(EXIT_INVALID);
    };
    options.provenance = Provenance { workflow: Some(path.clone()), run: recorder.as_ref().map(|r| r.run_id()) };
    // One stream of events: the progress display, the store's recorder and the results folder subscribe to it.
    let on_event = |event: Event| {
        progress.on_event(&event);
        if let Some(recorder) = &recorder {
            recorder.on_event(&event);
        }
        if let Some(writer) = &results {
            writer.on_event(&event);
        }
    };
    let report = session.run(&workflow, &catalog, &options, &on_event);
    let run_id = recorder.as_ref().map(|r| r.run_id());
    if let Some(Err(e)) = recorder.as_ref().map(|r| r.finish(&report)) {
        eprintln!("warning: {e}");
    }
    let mut result = RunResult::of(&workflow, Some(path.clone()), &report, args.device);
    result.run = run_id;
    if let Some(writer) = &results {
        write_results(writer, &result);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default());
    } else {
        print_summary(&workflow, &report);
        if let Some(id) = run_id {
            progress.line(&format!("Recorded as run {id} ({})", pipewright_store::store_path(&project).display()));
        }
    }
    exit_code(&report)
}

/// How a finished run exits: stopped, succeeded or with a failed block.
fn exit_code(report: &RunReport) -> ExitCode {
    if report.cancelled {
        ExitCode::from(EXIT_STOPPED)
    } else if report.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NODE_FAILED)
    }
}

/// Writes `result.json` into the results folder and prints the result as one line for the job's log.
fn write_results(writer: &cluster::ResultsWriter, result: &RunResult) {
    match writer.finish(result.clone()) {
        Ok(written) => println!("{}{}", cluster::RESULT_MARKER, serde_json::to_string(&written).unwrap_or_default()),
        Err(e) => eprintln!("error: the results could not be written: {e}"),
    }
}

/// The run's recording in the project's store (of a workflow that planned): a store that cannot be used (a
/// foreign file in its place, a newer schema) is reported and left alone.
fn recorder_for(
    args: &RunArgs,
    workflow: &Workflow,
    path: &Path,
    project: &Path,
    catalog: &pipewright_engine::Catalog,
) -> Option<Arc<Recorder>> {
    if args.no_record {
        return None;
    }
    let start = RecordStart {
        project,
        workflow_file: path,
        workflow,
        overrides: &args.set,
        device: args.device,
        source: RunSource::Cli,
    };
    Recorder::start(&start, catalog).map(Arc::new).map_err(|e| eprintln!("warning: this run is not recorded: {e}")).ok()
}

/// The writer of `--results DIR` (the error is printed).
fn results_writer(
    dir: &Path,
    workflow: &Workflow,
    catalog: &pipewright_engine::Catalog,
) -> Result<Arc<cluster::ResultsWriter>, ()> {
    let ports = workflow
        .nodes
        .iter()
        .map(|n| {
            let names = catalog.get(&n.kind).map(|e| e.spec.outputs.iter().map(|p| p.name.to_owned()).collect());
            (n.id.clone(), names.unwrap_or_default())
        })
        .collect();
    cluster::ResultsWriter::new(dir, ports).map(Arc::new).map_err(|e| eprintln!("error: --results: {e}"))
}

fn print_summary(workflow: &Workflow, report: &RunReport) {
    for outcome in &report.nodes {
        for value in outcome.outputs.iter() {
            let Value::Report(r) = value else { continue };
            let title =
                workflow.node(&outcome.node).and_then(|n| n.title.clone()).unwrap_or_else(|| outcome.node.clone());
            println!("\n{title}");
            let mut names: Vec<&str> = Vec::new();
            for e in &r.evaluations {
                for m in &e.metrics {
                    if !names.contains(&m.name.as_str()) {
                        names.push(&m.name);
                    }
                }
            }
            let header = r.evaluations.iter().fold(String::new(), |mut s, e| {
                let _ = write!(s, "{:>14}", e.source);
                s
            });
            println!("  {:<28}{header}", "metric");
            for name in names {
                // With several models side by side, the best value of a score is starred.
                let values: Vec<Option<f64>> = r.evaluations.iter().map(|e| e.metric(name)).collect();
                let best = pipewright_engine::MetricInfo::of(name).filter(|_| values.len() > 1).and_then(|info| {
                    let present =
                        values.iter().enumerate().filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|x| (i, x)));
                    present.reduce(|best, next| if info.is_better(next.1, best.1) { next } else { best }).map(|b| b.0)
                });
                let row: String = values.iter().enumerate().fold(String::new(), |mut s, (i, v)| {
                    let star = if best == Some(i) { "*" } else { " " };
                    let _ = match v {
                        Some(v) => write!(s, "{v:>13.6}{star}"),
                        None => write!(s, "{:>13} ", "-"),
                    };
                    s
                });
                println!("  {name:<28}{row}");
            }
            for e in r.evaluations.iter().filter(|e| e.confusion.is_some()) {
                if let Some(c) = &e.confusion {
                    println!("  confusion matrix of {} (rows: actual, columns: predicted)", e.source);
                    println!("    {:>14}{}", "", cells(&c.classes));
                    for (class, row) in c.classes.iter().zip(&c.counts) {
                        println!("    {class:>14}{}", cells(row));
                    }
                }
            }
        }
    }
    let cached = report.nodes.iter().filter(|n| matches!(n.status, NodeStatus::Cached { .. })).count();
    let failed: Vec<&str> =
        report.nodes.iter().filter(|n| matches!(n.status, NodeStatus::Failed(_))).map(|n| n.node.as_str()).collect();
    println!(
        "\n{}: {} nodes, {} from cache, {:.2}s{}",
        if report.cancelled {
            "STOPPED"
        } else if report.success {
            "Succeeded"
        } else {
            "FAILED"
        },
        report.nodes.len(),
        cached,
        report.duration.as_secs_f64(),
        if failed.is_empty() { String::new() } else { format!(" (failed: {})", failed.join(", ")) }
    );
}

/// Values right-aligned in 12-character cells.
fn cells<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().fold(String::new(), |mut s, v| {
        let _ = write!(s, "{v:>12}");
        s
    })
}
