//! `pipewright agent`: the long-lived process that runs a project's schedules when they are due, and the
//! retraining schedules that follow drift whenever monitoring raises an alert. Each run is recorded in the
//! schedule history with what it did or why it failed; a retraining that fails leaves production as it was.
//! SIGTERM or Ctrl-C stops it after the job in progress. `--unit` prints a systemd unit that runs it.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use serde_json::Value as Json;

use pipewright_deploy::ModelSpec;
use pipewright_deploy::cron::Cron;
use pipewright_store::{Schedule, Stage, Store};

/// Arguments of `pipewright agent`.
#[derive(Args)]
pub struct AgentArgs {
    /// The project folder whose schedules to run.
    #[arg(long, default_value = ".")]
    project: std::path::PathBuf,
    /// Run what is due now, then stop.
    #[arg(long)]
    once: bool,
    /// How often to look for due schedules and drift alerts, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// Print a systemd unit that runs this agent for this project, and stop.
    #[arg(long)]
    unit: bool,
}

/// How a schedule's run ended.
pub struct Outcome {
    /// Whether it did its work.
    pub succeeded: bool,
    /// What it did, or why it failed.
    pub message: String,
    /// The workflow run it recorded.
    pub run: Option<i64>,
}

impl Outcome {
    fn failed(message: impl Into<String>) -> Self {
        Self { succeeded: false, message: message.into(), run: None }
    }
}

/// A promotion rule: `METRIC OP production [± DELTA]` or `METRIC OP NUMBER`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    metric: String,
    op: String,
    /// `None`: against the production version's value, plus this.
    bound: Result<f64, f64>,
}

impl Rule {
    /// Reads a rule, naming the part that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("promotion rule `{text}`: {why} (write it as `roc_auc >= production - 0.005` or `accuracy >= 0.8`)")
        };
        let op = [">=", "<=", ">", "<"].into_iter().find(|op| text.contains(op)).ok_or_else(|| bad("no comparison"))?;
        let (metric, rest) = text.split_once(op).ok_or_else(|| bad("no comparison"))?;
        let metric = metric.trim();
        if metric.is_empty() || !metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("the metric is not a name"));
        }
        let rest: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        let bound = if let Some(delta) = rest.strip_prefix("production") {
            let delta = if delta.is_empty() {
                0.0
            } else {
                delta.parse::<f64>().map_err(|_| bad("the difference is not a number"))?
            };
            Err(delta)
        } else {
            Ok(rest.parse::<f64>().map_err(|_| bad("the bound is neither `production` nor a number"))?)
        };
        Ok(Self { metric: metric.to_owned(), op: op.to_owned(), bound })
    }

    /// Whether `value` passes against `production` (the production version's value of the metric).
    fn holds(&self, value: f64, production: Option<f64>) -> Result<(bool, f64), String> {
        let bound = match self.bound {
            Ok(number) => number,
            Err(delta) => production.ok_or_else(|| format!("the production version has no {}", self.metric))? + delta,
        };
        let holds = match self.op.as_str() {
            ">=" => value >= bound,
            "<=" => value <= bound,
            ">" => value > bound,
            _ => value < bound,
        };
        Ok((holds, bound))
    }
}

fn metric_of(version: &pipewright_store::ModelVersion, name: &str) -> Option<f64> {
    version.metrics.iter().find(|m| m.name == name).map(|m| m.value)
}

fn text(spec: &Json, key: &str) -> String {
    spec[key].as_str().unwrap_or_default().to_owned()
}

/// Retrains: runs the workflow (as `pipewright run`, recorded in its project), registers the model as a
/// staging version, and promotes it when the rule holds. Production is untouched unless promotion succeeds.
fn retrain(store: &Store, project: &Path, schedule: &Schedule) -> Outcome {
    let (flow, node, model) =
        (text(&schedule.spec, "flow"), text(&schedule.spec, "node"), text(&schedule.spec, "model"));
    if let Err(e) = records_here(Path::new(&flow), project) {
        return Outcome::failed(format!("{e}; production is unchanged"));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return Outcome::failed(format!("cannot find this runner: {e}")),
    };
    let out = match Command::new(exe).args(["run", &flow, "--json"]).output() {
        Ok(out) => out,
        Err(e) => return Outcome::failed(format!("cannot start the run of {flow}: {e}")),
    };
    let report: Json = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let run = report["run"].as_i64();
    if !out.status.success() {
        // The first block that failed says why; else the runner's last words.
        let failed = report["nodes"].as_array().into_iter().flatten().find(|n| n["status"] == "failed");
        let said = String::from_utf8_lossy(&out.stderr);
        let last = failed.map_or_else(
            || said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").to_owned(),
            |n| {
                format!(
                    "block \"{}\": {}",
                    n["id"].as_str().unwrap_or_default(),
                    n["error"].as_str().unwrap_or_default()
                )
            },
        );
        return Outcome {
            succeeded: false,
            message: format!("the run of {flow} failed ({last}); production is unchanged"),
            run,
        };
    }
    let Some(run) = run else {
        return Outcome::failed(format!(
            "the run of {flow} was not recorded in a project store; production is unchanged"
        ));
    };
    let notes = format!("retrained by schedule {}", schedule.name);
    let version = match pipewright_deploy::register(store, &model, run, &node, &notes) {
        Ok((version, _)) => version,
        Err(e) => {
            return Outcome { succeeded: false, message: format!("{e}; production is unchanged"), run: Some(run) };
        }
    };
    if let Err(e) = store.set_stage(&model, version.version, Stage::Staging) {
        return Outcome { succeeded: false, message: e.to_string(), run: Some(run) };
    }
    let registered = format!("{model} version {} registered in staging from run {run}", version.version);
    let Some(rule) = schedule.spec["promote_if"].as_str() else {
        return Outcome { succeeded: true, message: registered, run: Some(run) };
    };
    let decided = Rule::parse(rule).and_then(|rule| {
        let production = store
            .models()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|v| v.name == model && v.stage == Stage::Production);
        let value = metric_of(&version, &rule.metric).ok_or_else(|| {
            let names: Vec<&str> = version.metrics.iter().map(|m| m.name.as_str()).collect();
            format!("the new version has no {}; its metrics: {}", rule.metric, names.join(", "))
        })?;
        let Some(production) = production else { return Ok((true, "no version was in production".to_owned())) };
        let (holds, bound) = rule.holds(value, metric_of(&production, &rule.metric))?;
        Ok((
            holds,
            format!("{} {value:.4} {} {bound:.4} (production is version {})", rule.metric, rule.op, production.version),
        ))
    });
    match decided {
        Ok((true, why)) => match store.set_stage(&model, version.version, Stage::Production) {
            Ok(_) => Outcome {
                succeeded: true,
                message: format!("{registered}; promoted to production: {why}"),
                run: Some(run),
            },
            Err(e) => {
                Outcome { succeeded: false, message: format!("{registered}; promotion failed: {e}"), run: Some(run) }
            }
        },
        Ok((false, why)) => Outcome {
            succeeded: true,
            message: format!("{registered}; not promoted: the rule `{rule}` does not hold ({why})"),
            run: Some(run),
        },
        Err(e) => Outcome { succeeded: false, message: format!("{registered}; not promoted: {e}"), run: Some(run) },
    }
}

/// Whether a workflow records its runs in `project`'s store (it lies in the project), so the run a retraining
/// registers is this project's.
pub fn records_here(flow: &Path, project: &Path) -> Result<(), String> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let recorded_in = canonical(&pipewright_engine::project_dir_of(flow));
    if recorded_in == canonical(project) {
        Ok(())
    } else {
        Err(format!(
            "{} records its runs in {}, not in this project ({}): keep the workflow inside the project",
            flow.display(),
            recorded_in.display(),
            canonical(project).display()
        ))
    }
}

/// Scores the schedule's input with its model into its output folder.
fn score(store: &Store, schedule: &Schedule) -> Outcome {
    let (input, output) = (text(&schedule.spec, "input"), std::path::PathBuf::from(text(&schedule.spec, "output")));
    let package = match text(&schedule.spec, "model")
        .parse::<ModelSpec>()
        .and_then(|spec| spec.resolve(store))
        .and_then(|v| pipewright_deploy::package_of(store, &v))
    {
        Ok(package) => package,
        Err(e) => return Outcome::failed(e),
    };
    if let Err(e) = std::fs::create_dir_all(&output) {
        return Outcome::failed(format!("cannot create {}: {e}", output.display()));
    }
    let stamp = pipewright_nodes::deploy::rfc3339(std::time::SystemTime::now()).replace(['-', ':'], "");
    let target = |stem: &str| output.join(format!("{stem}-{stamp}.parquet"));
    let mut rows = 0;
    let mut written = Vec::new();
    if let Some(source) = input.strip_prefix("sqlite:") {
        let (db, table) = source.split_once('#').unwrap_or((source, ""));
        if table.is_empty() {
            return Outcome::failed(format!("`{input}` names no table: write sqlite:DB#TABLE"));
        }
        let query = format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""));
        let scored = pipewright_nodes::data::read_sqlite(Path::new(db), &query, None)
            .map_err(|e| e.to_string())
            .and_then(|frame| package.score_table(&pipewright_engine::Table::new(frame)).map_err(|e| e.to_string()))
            .and_then(|scored| {
                let path = target(table);
                pipewright_nodes::data::write_table(&scored, &path, true, true)
                    .map_err(|e| e.to_string())
                    .map(|()| (scored.height(), path))
            });
        match scored {
            Ok((n, path)) => {
                rows += n;
                written.push(path);
            }
            Err(e) => return Outcome::failed(format!("{input}: {e}")),
        }
    } else {
        let path = Path::new(&input);
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.extension().is_some_and(|e| {
                                ["csv", "parquet", "json", "ndjson"]
                                    .contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let stem = file.file_stem().map_or("scored".into(), |s| s.to_string_lossy().into_owned());
            match pipewright_deploy::score_file(&package, &file, Some(&target(&stem))) {
                Ok((_, summary)) => {
                    rows += summary.rows;
                    written.push(target(&stem));
                }
                Err(e) => return Outcome::failed(e),
            }
        }
    }
    Outcome {
        succeeded: true,
        message: format!(
            "scored {rows} rows with {} into {} file(s) in {}",
            package.manifest.name,
            written.len(),
            output.display()
        ),
        run: None,
    }
}

/// Monitors the schedule's model over the project's capture store.
fn monitor(store: &Store, project: &Path, schedule: &Schedule) -> Outcome {
    let spec = match text(&schedule.spec, "model").parse::<ModelSpec>() {
        Ok(spec) => spec,
        Err(e) => return Outcome::failed(e),
    };
    let window =
        text(&schedule.spec, "window").parse().unwrap_or(pipewright_deploy::monitor::Window::Seconds(86_400.0));
    let capture = pipewright_store::store_path(project).with_file_name("capture");
    match pipewright_deploy::monitor::run(store, &capture, &spec, window, false) {
        Ok(done) => {
            let alerts: Vec<&str> = done.alerts.iter().map(|a| a.message.as_str()).collect();
            let alerts = if alerts.is_empty() { String::new() } else { format!("; ALERT {}", alerts.join("; ")) };
            Outcome {
                succeeded: true,
                message: format!("{} window(s) of {spec}{alerts}", done.windows.len()),
                run: None,
            }
        }
        Err(e) => Outcome::failed(e),
    }
}

/// Runs a schedule now and records it in the history.
pub fn run_schedule(store: &Store, project: &Path, schedule: &Schedule, trigger: &str) -> Outcome {
    let id = store.begin_schedule_run(&schedule.name, trigger).ok();
    let outcome = match schedule.kind.as_str() {
        "score" => score(store, schedule),
        "retrain" => retrain(store, project, schedule),
        "monitor" => monitor(store, project, schedule),
        other => Outcome::failed(format!("unknown schedule kind `{other}`")),
    };
    if let Some(id) = id {
        let _ = store.end_schedule_run(id, outcome.succeeded, &outcome.message, outcome.run);
    }
    outcome
}

/// Runs what is due: schedules whose time came, and drift-following retrainings with a new alert.
fn tick(store: &Store, project: &Path, stop: &AtomicBool) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let Ok(schedules) = store.schedules() else { return };
    for schedule in schedules {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(cron) = schedule.cron.parse::<Cron>() else { continue };
        let due = schedule.next_at.is_some_and(|t| t <= now);
        let drifted = schedule.kind == "retrain" && schedule.spec["on_drift"].as_bool() == Some(true) && {
            let last = store.schedule_runs(Some(&schedule.name)).ok().and_then(|r| r.first().map(|r| r.started_at));
            let since = last.unwrap_or(schedule.created_at);
            store.alerts_since(&text(&schedule.spec, "model"), since).is_ok_and(|a| !a.is_empty())
        };
        if due || drifted {
            let outcome = run_schedule(store, project, &schedule, if due { "cron" } else { "drift" });
            let mark = if outcome.succeeded { "ok" } else { "FAILED" };
            eprintln!(
                "{} {} [{mark}] {}",
                pipewright_nodes::deploy::rfc3339(std::time::SystemTime::now()),
                schedule.name,
                outcome.message
            );
        }
        if due || schedule.next_at.is_none() {
            let _ = store.set_next(&schedule.name, crate::schedule_cmd::next_at(&cron));
        }
    }
}

/// `pipewright agent`.
pub fn agent(args: &AgentArgs) -> ExitCode {
    if args.unit {
        return print_unit(&args.project);
    }
    let store = match crate::runs_cmd::open(&args.project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("warning: Ctrl-C cannot stop the agent cleanly ({e})");
    }
    let count = store.schedules().map_or(0, |s| s.len());
    eprintln!(
        "Agent for {}: {count} schedule(s); SIGTERM or Ctrl-C stops it after the job in progress",
        args.project.display()
    );
    loop {
        tick(&store, &args.project, &stop);
        if args.once || stop.load(Ordering::Relaxed) {
            return ExitCode::SUCCESS;
        }
        let mut slept = 0;
        while slept < args.tick_ms && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            slept += 50;
        }
        if stop.load(Ordering::Relaxed) {
            return ExitCode::SUCCESS;
        }
    }
}

/// A systemd unit running this agent for `project`.
fn print_unit(project: &Path) -> ExitCode {
    let exe = std::env::current_exe().map_or("pipewright".into(), |p| p.to_string_lossy().into_owned());
    let project = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    print!(
        "[Unit]\nDescription=Pipewright agent: scheduled scoring, retraining and monitoring of {project}\n\
         After=network-online.target\nWants=network-online.target\n\n\
         [Service]\nType=simple\nWorkingDirectory={project}\nExecStart={exe} agent --project {project}\n\
         Restart=on-failure\nRestartSec=10\nKillSignal=SIGTERM\nTimeoutStopSec=600\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        project = project.display()
    );
    ExitCode::SUCCESS
}
