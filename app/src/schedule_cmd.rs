//! `pipewright schedule`: jobs on a cron expression (UTC) that `pipewright agent` runs — batch scoring of a
//! file, a folder or a `SQLite` table with a registered model, retraining a workflow (its model registered as a
//! staging version, promoted only when a rule holds, optionally whenever a drift alert is raised), and
//! monitoring. `schedule export` hands one to a cluster's scheduler instead: a Kubernetes `CronJob` or a Slurm
//! `scrontab` entry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value as Json, json};

use pipewright_deploy::ModelSpec;
use pipewright_deploy::cron::Cron;
use pipewright_store::{Schedule, Store, format_utc};

#[derive(Subcommand)]
#[allow(clippy::doc_markdown, reason = "the docs are the command's help text, read without Markdown")]
pub enum ScheduleCommand {
    /// Add a schedule: one of --score, --retrain or --monitor, on --cron.
    Add(AddArgs),
    /// Every schedule: kind, cron, when it is due next, its last run.
    List,
    /// Remove a schedule (its history stays).
    Remove {
        /// The schedule's name.
        name: String,
    },
    /// Run a schedule now (as a cluster's scheduler does), recording it in the history.
    Run {
        /// The schedule's name.
        name: String,
    },
    /// The runs of every schedule, or of one: when, why, how they ended and what they did.
    History {
        /// The schedule's name.
        name: Option<String>,
    },
    /// Write a schedule for a cluster's scheduler: a Kubernetes CronJob or a Slurm scrontab entry.
    Export(ExportArgs),
}

/// Arguments of `schedule add`.
#[derive(clap::Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct AddArgs {
    /// The schedule's name.
    name: String,
    /// When, in UTC: five fields (minute hour day-of-month month day-of-week), six with seconds first, or
    /// @hourly, @daily, @weekly, @monthly.
    #[arg(long)]
    cron: String,
    /// Score with this registered model (NAME, NAME@staging, NAME@VERSION)…
    #[arg(long, group = "kind", value_name = "MODEL")]
    score: Option<String>,
    /// …the rows of this file (CSV, Parquet, JSON), every such file of a folder, or sqlite:DB#TABLE…
    #[arg(long, requires = "score")]
    input: Option<String>,
    /// …into this folder (one Parquet file per input and run).
    #[arg(long, requires = "score")]
    output: Option<PathBuf>,
    /// Retrain: run this workflow, and register the model its --node trained as a staging version of --model.
    #[arg(long, group = "kind", value_name = "FLOW")]
    retrain: Option<PathBuf>,
    /// The block that trains the model (a Train Model block's id).
    #[arg(long, requires = "retrain")]
    node: Option<String>,
    /// The registered model a retraining adds a version to, or that --monitor watches.
    #[arg(long)]
    model: Option<String>,
    /// Promote the new version to production only when this holds, as `roc_auc >= production - 0.005` or
    /// `rmse <= production`, or `accuracy >= 0.8`. Without it, the version stays in staging.
    #[arg(long, requires = "retrain")]
    promote_if: Option<String>,
    /// Also retrain whenever monitoring raises a drift alert for --model.
    #[arg(long, requires = "retrain")]
    on_drift: bool,
    /// Monitor: compute --model's windows of captured requests, raising drift alerts.
    #[arg(long, group = "kind")]
    monitor: bool,
    /// The monitoring window.
    #[arg(long, default_value = "1d", requires = "monitor")]
    window: String,
}

/// Arguments of `schedule export`.
#[derive(clap::Args)]
#[allow(clippy::doc_markdown, reason = "the field docs are the command's help text, read without Markdown")]
pub struct ExportArgs {
    /// The schedule's name.
    name: String,
    /// A Kubernetes CronJob.
    #[arg(long, group = "target")]
    cronjob: bool,
    /// A Slurm scrontab entry.
    #[arg(long, group = "target")]
    scrontab: bool,
    /// The image holding the runner (CronJob).
    #[arg(long, default_value = "pipewright:latest")]
    image: String,
    /// The namespace (CronJob).
    #[arg(long, default_value = "default")]
    namespace: String,
    /// The claim of the volume holding the project, mounted at /project (CronJob).
    #[arg(long, default_value = "pipewright-project")]
    volume_claim: String,
    /// The runner's path on the cluster (scrontab); left out, this runner's.
    #[arg(long)]
    runner_path: Option<String>,
    /// The project's path on the cluster (scrontab); left out, this project's.
    #[arg(long)]
    project_path: Option<String>,
    /// The job's time limit (scrontab).
    #[arg(long, default_value = "1:00:00")]
    time: String,
    /// Write here rather than to standard output.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(crate::EXIT_INVALID)
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// When a cron expression fires next after now.
pub fn next_at(cron: &Cron) -> Option<f64> {
    cron.next_after(now().floor() as i64).map(|t| t as f64)
}

/// `pipewright schedule …`.
pub fn schedule(project: &Path, json: bool, what: &ScheduleCommand) -> ExitCode {
    let store = match crate::runs_cmd::open(project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match what {
        ScheduleCommand::Add(args) => add(&store, project, args),
        ScheduleCommand::List => list(&store, json),
        ScheduleCommand::Remove { name } => match store.remove_schedule(name) {
            Ok(()) => {
                println!("Removed schedule {name}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ScheduleCommand::Run { name } => match store.schedule(name) {
            Ok(Some(schedule)) => {
                let outcome = crate::agent::run_schedule(&store, project, &schedule, "manual");
                println!("{}: {}", schedule.name, outcome.message);
                if outcome.succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Ok(None) => fail(format!("no schedule `{name}`: `pipewright schedule list` lists them")),
            Err(e) => fail(e),
        },
        ScheduleCommand::History { name } => history(&store, name.as_deref(), json),
        ScheduleCommand::Export(args) => export(&store, project, args),
    }
}

/// The model spec a schedule names, checked.
fn model_arg(model: Option<&str>, what: &str) -> Result<ModelSpec, String> {
    model.ok_or_else(|| format!("{what} needs --model NAME"))?.parse::<ModelSpec>()
}

fn add(store: &Store, project: &Path, args: &AddArgs) -> ExitCode {
    let cron = match args.cron.parse::<Cron>() {
        Ok(cron) => cron,
        Err(e) => return fail(e),
    };
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).to_string_lossy().into_owned();
    let built: Result<(&str, Json), String> = if let Some(model) = &args.score {
        match (&args.input, &args.output) {
            (Some(input), Some(output)) => model.parse::<ModelSpec>().map(|m| {
                let input = if input.starts_with("sqlite:") { input.clone() } else { absolute(Path::new(input)) };
                ("score", json!({"model": m.to_string(), "input": input, "output": absolute(output)}))
            }),
            _ => Err("--score needs --input (a file, a folder or sqlite:DB#TABLE) and --output (a folder)".into()),
        }
    } else if let Some(flow) = &args.retrain {
        let checked = || -> Result<Json, String> {
            let node = args
                .node
                .as_deref()
                .ok_or("--retrain needs --node: the Train Model block whose model is registered")?;
            let model = model_arg(args.model.as_deref(), "--retrain")?;
            args.promote_if.as_deref().map(crate::agent::Rule::parse).transpose()?;
            if !flow.exists() {
                return Err(format!("{} does not exist", flow.display()));
            }
            crate::agent::records_here(flow, project)?;
            Ok(json!({"flow": absolute(flow), "node": node, "model": model.name, "promote_if": args.promote_if,
                      "on_drift": args.on_drift}))
        };
        checked().map(|spec| ("retrain", spec))
    } else if args.monitor {
        let window = args.window.parse::<pipewright_deploy::monitor::Window>().map(|_| ());
        model_arg(args.model.as_deref(), "--monitor")
            .and_then(|m| window.map(|()| ("monitor", json!({"model": m.to_string(), "window": args.window}))))
    } else {
        Err("say what to schedule: --score MODEL, --retrain FLOW or --monitor".into())
    };
    let (kind, spec) = match built {
        Ok(built) => built,
        Err(e) => return fail(e),
    };
    let schedule = Schedule {
        name: args.name.clone(),
        kind: kind.into(),
        cron: cron.to_string(),
        spec,
        created_at: now(),
        next_at: next_at(&cron),
    };
    if let Err(e) = store.add_schedule(&schedule) {
        return fail(e);
    }
    let next = schedule.next_at.map_or("never".into(), format_utc);
    println!(
        "Added {kind} schedule {} ({}), next at {next} UTC; `pipewright agent --project {}` runs it",
        schedule.name,
        schedule.cron,
        project.display()
    );
    ExitCode::SUCCESS
}

fn list(store: &Store, json: bool) -> ExitCode {
    let schedules = match store.schedules() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let runs = store.schedule_runs(None).unwrap_or_default();
    if json {
        let rows: Vec<Json> = schedules
            .iter()
            .map(|s| json!({"name": s.name, "kind": s.kind, "cron": s.cron, "spec": s.spec, "next_at": s.next_at}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if schedules.is_empty() {
        println!(
            "No schedules yet: `pipewright schedule add NAME --cron EXPR --score|--retrain|--monitor …` adds one."
        );
        return ExitCode::SUCCESS;
    }
    println!("{:<20}  {:<8}  {:<16}  {:<19}  last run", "schedule", "kind", "cron", "next (UTC)");
    for s in &schedules {
        let last = runs.iter().find(|r| r.schedule == s.name).map_or(String::new(), |r| {
            format!("{} {} ({})", format_utc(r.started_at), r.status, crate::runs_cmd::clip(&r.message, 60))
        });
        println!(
            "{:<20}  {:<8}  {:<16}  {:<19}  {last}",
            crate::runs_cmd::clip(&s.name, 20),
            s.kind,
            s.cron,
            s.next_at.map_or("—".into(), format_utc)
        );
    }
    ExitCode::SUCCESS
}

fn history(store: &Store, name: Option<&str>, json: bool) -> ExitCode {
    let runs = match store.schedule_runs(name) {
        Ok(runs) => runs,
        Err(e) => return fail(e),
    };
    if json {
        let rows: Vec<Json> = runs
            .iter()
            .map(|r| {
                json!({"schedule": r.schedule, "trigger": r.trigger, "started_at": r.started_at, "ended_at": r.ended_at,
                       "status": r.status, "message": r.message, "run": r.run_id})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    for r in &runs {
        println!("{}  {:<20}  {:<7}  {:<9}  {}", format_utc(r.started_at), r.schedule, r.trigger, r.status, r.message);
    }
    ExitCode::SUCCESS
}

fn export(store: &Store, project: &Path, args: &ExportArgs) -> ExitCode {
    let schedule = match store.schedule(&args.name) {
        Ok(Some(s)) => s,
        Ok(None) => return fail(format!("no schedule `{}`: `pipewright schedule list` lists them", args.name)),
        Err(e) => return fail(e),
    };
    let text = if args.cronjob {
        let options = pipewright_deploy::CronJobOptions {
            image: args.image.clone(),
            namespace: args.namespace.clone(),
            volume_claim: args.volume_claim.clone(),
        };
        pipewright_deploy::cronjob(&schedule.name, &schedule.cron, &options)
    } else if args.scrontab {
        let runner = args
            .runner_path
            .clone()
            .or_else(|| std::env::current_exe().ok().map(|p| p.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "pipewright".into());
        let project_path = args.project_path.clone().unwrap_or_else(|| {
            std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf()).to_string_lossy().into_owned()
        });
        pipewright_deploy::scrontab(&schedule.name, &schedule.cron, &runner, &project_path, &args.time)
    } else {
        Err("say which: --cronjob (Kubernetes) or --scrontab (Slurm)".into())
    };
    let text = match text {
        Ok(text) => text,
        Err(e) => return fail(e),
    };
    let Some(path) = &args.output else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    match pipewright_engine::write_atomic(path, text.as_bytes()) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot write {}: {e}", path.display())),
    }
}
