//! `pipewright`: the designer (no arguments) and the headless runner (`run`, `validate`, `nodes`, `serve`, `score`, `export`, `submit`…).

mod agent;
mod catalog_cmd;
mod cluster_cmd;
mod connection_cmd;
mod deploy_cmd;
mod models_cmd;
mod monitor_cmd;
mod package_cmd;
mod run_cmd;
mod runs_cmd;
mod schedule_cmd;
mod wizard_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tables are large, short-lived column buffers: mimalloc gives them back to the system when they are freed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code of a run in which a node failed.
const EXIT_NODE_FAILED: u8 = 1;
/// Exit code of an invalid workflow or unreadable file.
const EXIT_INVALID: u8 = 2;
/// Exit code of a run stopped with Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_STOPPED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "pipewright",
    version,
    about = "No-code machine-learning workflows: design, run headless, reproduce.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Workflow files or project folders to open in the designer.
    #[arg(value_name = "FLOW")]
    open: Vec<PathBuf>,
    /// Designer: run the opened workflow as soon as the window shows.
    #[arg(long)]
    run: bool,
    /// Designer: select this block (its output shows in the output panel).
    #[arg(long, value_name = "NODE")]
    select: Vec<String>,
    /// Designer: print the time from launch to the first frame.
    #[arg(long)]
    report_startup: bool,
    /// Designer: close after the first frame (startup benchmark).
    #[arg(long, hide = true)]
    exit_after_first_frame: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a workflow file (or the single *.flow.json in a project folder).
    Run(run_cmd::RunArgs),
    /// Check a workflow without running it; lists every problem with its node.
    Validate {
        /// The workflow file or project folder.
        flow: PathBuf,
    },
    /// List the block catalog with ports and parameters.
    Nodes {
        /// Print the catalog as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the runs recorded in a project's store, newest first; `runs show RUN` shows one.
    Runs {
        /// The project folder.
        #[arg(long, default_value = ".", global = true)]
        project: PathBuf,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        /// `show RUN`: one run's nodes and metrics.
        #[command(subcommand)]
        what: Option<RunsCommand>,
    },
    /// The model registry: `models list`, `models register RUN NODE --name NAME`, `models stage NAME VERSION STAGE`.
    Models {
        /// The project folder.
        #[arg(long, default_value = ".", global = true)]
        project: PathBuf,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: models_cmd::ModelsCommand,
    },
    /// The cheat-sheet wizard: profile a dataset, rank the algorithms for it, write a starter workflow.
    Wizard(wizard_cmd::WizardArgs),
    /// Serve a model package as a REST scoring endpoint (POST /score, /health, /schema, /openapi.json, /metrics).
    Serve(deploy_cmd::ServeArgs),
    /// Score a CSV or Parquet file with a model package.
    Score(deploy_cmd::ScoreArgs),
    /// Write a model package of the model a block trained in a recorded run, with the fitted transforms in front of it.
    Package(package_cmd::PackageArgs),
    /// Write what serves a registered model as a container: the runner, the package, a Containerfile, and a
    /// Kubernetes Deployment, Service and autoscaler.
    ExportServing(package_cmd::ExportServingArgs),
    /// Compare what a served model version saw (the capture store) with its training profile, window by window:
    /// per-feature drift, data quality, dataset drift. Records the results and alerts in the project's store.
    Monitor(monitor_cmd::MonitorArgs),
    /// Schedules the agent runs: `schedule add NAME --cron EXPR --score MODEL … | --retrain FLOW … | --monitor`,
    /// `list`, `remove`, `run`, `history`, `export --cronjob|--scrontab`.
    Schedule {
        /// The project folder.
        #[arg(long, default_value = ".", global = true)]
        project: PathBuf,
        /// Print JSON.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: schedule_cmd::ScheduleCommand,
    },
    /// Named database connections for Import Data and Export Data: `connection add NAME` (reads the connection
    /// string from standard input), `list`, `remove NAME`. Kept in the user's settings, never in a workflow.
    Connection {
        #[command(subcommand)]
        what: connection_cmd::ConnectionCommand,
    },
    /// Run a project's schedules as they come due (and retrainings on drift alerts), until stopped.
    Agent(agent::AgentArgs),
    /// Export a workflow as a job bundle for a cluster: Slurm, Ray or Kubernetes.
    Export(cluster_cmd::ExportArgs),
    /// Submit a job bundle, follow it to its end and record its results in the run history.
    Submit(cluster_cmd::SubmitArgs),
    /// Compute one index of a fanned-out job bundle's task set (what each cluster task runs).
    Task(cluster_cmd::TaskArgs),
    /// Join a fanned-out job bundle's task results and run the rest of its workflow (the cluster's combine step).
    Combine(cluster_cmd::CombineArgs),
    /// One rank of a data-parallel fit: fits over its shard, exchanging each pass's sums with the other ranks.
    ShardFit(cluster_cmd::ShardFitArgs),
    /// List the GPU adapters the compute kernels can use, the preferred one first.
    Devices {
        /// Print the adapters as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RunsCommand {
    /// One run: its nodes (status, time, device, error) and metrics.
    Show {
        /// The run's number, as `pipewright runs` lists it.
        run: i64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run_cmd::run(&args),
        Some(Command::Validate { flow }) => run_cmd::validate(&flow),
        Some(Command::Nodes { json }) => catalog_cmd::nodes(json),
        Some(Command::Devices { json }) => catalog_cmd::devices(json),
        Some(Command::Runs { project, json, what: None }) => runs_cmd::list(&project, json),
        Some(Command::Runs { project, json, what: Some(RunsCommand::Show { run }) }) => {
            runs_cmd::show(&project, run, json)
        }
        Some(Command::Models { project, json, what }) => models_cmd::models(&project, json, &what),
        Some(Command::Wizard(args)) => wizard_cmd::wizard(&args),
        Some(Command::Serve(args)) => deploy_cmd::serve(&args),
        Some(Command::Score(args)) => deploy_cmd::score(&args),
        Some(Command::Package(args)) => package_cmd::package(&args),
        Some(Command::ExportServing(args)) => package_cmd::export_serving(&args),
        Some(Command::Monitor(args)) => monitor_cmd::monitor(&args),
        Some(Command::Schedule { project, json, what }) => schedule_cmd::schedule(&project, json, &what),
        Some(Command::Agent(args)) => agent::agent(&args),
        Some(Command::Connection { what }) => connection_cmd::connection(&what),
        Some(Command::Export(args)) => cluster_cmd::export(&args),
        Some(Command::Submit(args)) => cluster_cmd::submit(&args),
        Some(Command::Task(args)) => cluster_cmd::task(&args),
        Some(Command::Combine(args)) => cluster_cmd::combine(&args),
        Some(Command::ShardFit(args)) => cluster_cmd::shard_fit(&args),
        None => designer(&cli),
    }
}

/// Opens the designer when this build has it; otherwise says how to use the headless runner.
fn designer(cli: &Cli) -> ExitCode {
    #[cfg(feature = "gui")]
    {
        let paths = pipewright_ui::DesignerPaths {
            config_dir: pipewright_ui::default_config_dir(),
            projects_dir: projects_dir(),
        };
        let launch = pipewright_ui::LaunchOptions {
            open: cli.open.clone(),
            run: cli.run,
            select: cli.select.clone(),
            report_startup: cli.report_startup,
            exit_after_first_frame: cli.exit_after_first_frame,
        };
        match pipewright_ui::run_designer(pipewright_nodes::catalog(), paths, launch) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the designer window could not open: {e}");
                eprintln!("(a display is needed; without one, use the headless runner)");
            }
        }
    }
    #[cfg(not(feature = "gui"))]
    {
        let _ = cli;
        eprintln!("This build has no designer window (built without the \"gui\" feature).");
    }
    eprintln!("Run a workflow headless:  pipewright run projects/titanic-two-class");
    eprintln!("List the blocks:          pipewright nodes");
    eprintln!("All commands:             pipewright --help");
    ExitCode::from(EXIT_INVALID)
}

/// The example projects: `$PIPEWRIGHT_PROJECTS`, else `projects/` in the working folder, else the one in
/// the source tree the binary was built from (`target/<profile>/pipewright` → `projects/`).
#[cfg(feature = "gui")]
fn projects_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PIPEWRIGHT_PROJECTS") {
        return Some(PathBuf::from(dir));
    }
    let mut candidates = vec![PathBuf::from("projects")];
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(4).map(|dir| dir.join("projects")));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../projects"));
    candidates.into_iter().find(|dir| dir.is_dir())
}
