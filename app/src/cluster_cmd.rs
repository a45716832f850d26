//! `pipewright export` (a workflow as a job bundle for Slurm, Ray or Kubernetes) and `pipewright submit`
//! (send it, follow it, record its results).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use pipewright_deploy::cluster::{
    self, Bundle, DataMode, Engine, ExportOptions, FanOutOptions, JobState, Resources, Runner, SubmitOptions, Target,
    Update,
};
use pipewright_engine::find_workflow;

use crate::{EXIT_INVALID, EXIT_NODE_FAILED, EXIT_STOPPED};

#[derive(Args)]
pub struct ExportArgs {
    /// The workflow file, or a project folder holding one *.flow.json.
    flow: PathBuf,
    /// The cluster engine: slurm, ray or kubernetes.
    #[arg(long, value_parser = clap::value_parser!(Target))]
    target: Target,
    /// The bundle folder to write (created; must be empty unless --force).
    #[arg(short = 'o', long = "output", value_name = "BUNDLE")]
    output: PathBuf,
    /// GPUs the job asks for (0: CPUs only).
    #[arg(long, default_value_t = 1)]
    gpus: u32,
    /// CPU cores.
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Memory, such as 16G or 512M.
    #[arg(long, default_value = "16G", value_parser = parse_memory)]
    memory: u64,
    /// Wall-time limit, such as 90m, 2h or 1d.
    #[arg(long = "time", default_value = "2h", value_parser = parse_minutes)]
    time_limit: u32,
    /// Slurm partition (the cluster's default when not given).
    #[arg(long)]
    partition: Option<String>,
    /// Kubernetes namespace.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Container image with the headless runner (Kubernetes); see deploy/container/Containerfile.
    #[arg(long)]
    image: Option<String>,
    /// Kubernetes: the persistent volume claim the bundle is copied into.
    #[arg(long, default_value = "pipewright-bundles")]
    volume_claim: String,
    /// Kubernetes: retries of a failed pod.
    #[arg(long, default_value_t = 0)]
    backoff_limit: u32,
    /// The data the workflow reads: copy (into the bundle) or reference (absolute paths the cluster reads).
    #[arg(long, default_value = "copy", value_parser = clap::value_parser!(DataMode))]
    data: DataMode,
    /// The runner installed on the cluster's nodes, instead of bundling this binary as bin/pipewright.
    #[arg(long, value_name = "PATH")]
    runner_path: Option<String>,
    /// The headless binary to bundle (default: this one; for Kubernetes, the image's runner is used).
    #[arg(long, value_name = "FILE", conflicts_with = "runner_path")]
    runner: Option<PathBuf>,
    /// The job's name (default: from the workflow file's name).
    #[arg(long)]
    name: Option<String>,
    /// Replace the bundle in a folder that already holds one.
    #[arg(long)]
    force: bool,
    /// Spread the independent work (a sweep's settings × folds, cross-validation folds, permutation importance's
    /// features) over an indexed task set — a Slurm job array, a Kubernetes Indexed Job, Ray tasks — and a
    /// combine step. What feeds those blocks runs here first.
    #[arg(long)]
    fan_out: bool,
    /// With --fan-out: tasks running at once (0: as many as the cluster runs).
    #[arg(long, default_value_t = 0, requires = "fan_out")]
    at_once: u32,
    /// With --fan-out: retries of a failing task before the run fails.
    #[arg(long, default_value_t = 2, requires = "fan_out")]
    retries: u32,
    /// With --fan-out: the most tasks; more units are dealt several to a task.
    #[arg(long, default_value_t = cluster::tasks::DEFAULT_MAX_TASKS, requires = "fan_out")]
    max_tasks: usize,
    /// With --fan-out (Slurm): train each Train Model block whose learner fits over sums (linear, Lasso,
    /// Elastic Net, Poisson, naive Bayes, logistic) data-parallel over this many shards of its rows, a rank
    /// each, as one multi-task job.
    #[arg(long, default_value_t = 0, requires = "fan_out")]
    shards: usize,
}

#[derive(Args)]
pub struct TaskArgs {
    /// The bundle folder (written by `pipewright export --fan-out`).
    bundle: PathBuf,
    /// The task's index; when not given, the array task id Slurm sets or the completion index Kubernetes sets.
    #[arg(long)]
    index: Option<usize>,
}

#[derive(Args)]
pub struct ShardFitArgs {
    /// The fit's folder: fit.json (the learner, the label, the shards) and the shard files.
    dir: PathBuf,
    /// This process's rank; when not given, the process id Slurm gives a task of a step, or the launcher's rank.
    #[arg(long)]
    rank: Option<usize>,
    /// How many ranks; when not given, the tasks of the Slurm step, or the launcher's world size.
    #[arg(long)]
    ranks: Option<usize>,
    /// Seconds a rank waits for the others at a pass before giving up.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// The name of this run's exchange (every rank must give the same); default: the Slurm job's id, else "local".
    #[arg(long)]
    run: Option<String>,
}

#[derive(Args)]
pub struct CombineArgs {
    /// The bundle folder (written by `pipewright export --fan-out`).
    bundle: PathBuf,
    /// Wait this long for tasks still running (such as 2h; engines with no job dependencies start the combine
    /// beside the tasks); without it a missing result fails at once.
    #[arg(long, value_parser = parse_minutes)]
    wait: Option<u32>,
}

#[derive(Args)]
pub struct SubmitArgs {
    /// The bundle folder written by `pipewright export`.
    bundle: PathBuf,
    /// Submit to Slurm: with sbatch here, or through slurmrestd with --rest.
    #[arg(long, conflicts_with_all = ["ray", "kubernetes"])]
    slurm: bool,
    /// slurmrestd's address, such as `http://HOST:6820`.
    #[arg(long, requires = "slurm", value_name = "URL")]
    rest: Option<String>,
    /// The JWT for slurmrestd (`scontrol token`).
    #[arg(long, env = "SLURM_JWT", hide_env_values = true, requires = "rest")]
    token: Option<String>,
    /// The user the token belongs to (default: $USER).
    #[arg(long, requires = "rest")]
    user: Option<String>,
    /// Submit to Ray's Jobs API at the dashboard address, such as `http://HOST:8265`.
    #[arg(long, value_name = "URL", conflicts_with = "kubernetes")]
    ray: Option<String>,
    /// Submit to Kubernetes with kubectl.
    #[arg(long)]
    kubernetes: bool,
    /// The kubeconfig (default: kubectl's).
    #[arg(long, requires = "kubernetes", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The project whose run history records the job (default: the workflow's project).
    #[arg(long)]
    project: Option<PathBuf>,
    /// Cancel the job if it has not ended after this long, such as 30m.
    #[arg(long, value_parser = parse_minutes)]
    timeout: Option<u32>,
    /// Seconds between two looks at the job.
    #[arg(long, default_value_t = 2.0)]
    poll: f64,
    /// Print only the state changes and the result, not the job's log.
    #[arg(long)]
    quiet: bool,
}

/// `16G`, `512M`, `1T` or a plain number of MiB.
pub(crate) fn parse_memory(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let t = upper.trim_end_matches("IB").trim_end_matches('B');
    let (number, factor) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1.0 / 1024.0),
        Some('M') => (&t[..t.len() - 1], 1.0),
        Some('G') => (&t[..t.len() - 1], 1024.0),
        Some('T') => (&t[..t.len() - 1], 1024.0 * 1024.0),
        _ => (t, 1.0),
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("\"{text}\" is not a memory size (such as 16G or 512M)"))?;
    if value <= 0.0 {
        return Err(format!("\"{text}\": the memory must be more than 0"));
    }
    Ok((value * factor).ceil() as u64)
}

/// `90m`, `2h`, `1d`, `1h30m` or a plain number of minutes.
fn parse_minutes(text: &str) -> Result<u32, String> {
    let bad = || format!("\"{text}\" is not a duration (such as 90m, 2h or 1d)");
    let mut total = 0.0;
    let mut number = String::new();
    for c in text.trim().chars() {
        match c {
            '0'..='9' | '.' => number.push(c),
            's' | 'm' | 'h' | 'd' => {
                let v: f64 = number.parse().map_err(|_| bad())?;
                total += v * match c {
                    's' => 1.0 / 60.0,
                    'm' => 1.0,
                    'h' => 60.0,
                    _ => 1440.0,
                };
                number.clear();
            }
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() {
        total += number.parse::<f64>().map_err(|_| bad())?;
    }
    if total <= 0.0 {
        return Err(bad());
    }
    Ok(total.ceil() as u32)
}

pub fn export(args: &ExportArgs) -> ExitCode {
    let flow = match find_workflow(&args.flow) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runner = match (&args.runner_path, &args.runner) {
        (Some(path), _) => Runner::Installed(path.clone()),
        (None, Some(binary)) => Runner::Copy(binary.clone()),
        (None, None) => match Runner::default_for(args.target) {
            Ok(runner) => runner,
            Err(e) => {
                eprintln!("error: {e} (--runner-path PATH or --runner FILE)");
                return ExitCode::from(EXIT_INVALID);
            }
        },
    };
    let defaults = Resources::default();
    let options = ExportOptions {
        target: args.target,
        resources: Resources {
            gpus: args.gpus,
            cpus: args.cpus,
            memory_mib: args.memory,
            time_limit_minutes: args.time_limit,
            partition: args.partition.clone(),
            namespace: args.namespace.clone(),
            image: args.image.clone().unwrap_or(defaults.image),
            volume_claim: args.volume_claim.clone(),
            backoff_limit: args.backoff_limit,
        },
        data: args.data,
        runner,
        job_name: args.name.clone(),
        overwrite: args.force,
        fan_out: args.fan_out.then_some(FanOutOptions {
            at_once: args.at_once,
            retries: args.retries,
            max_tasks: args.max_tasks.max(1),
            shards: args.shards,
        }),
    };
    if args.fan_out {
        eprintln!("Running what feeds the blocks that fan out, to store it in the bundle…");
    }
    match cluster::export(&flow, &pipewright_nodes::catalog(), &options, &args.output) {
        Ok(bundle) => {
            let m = &bundle.manifest;
            println!("Exported {} for {} to {}", m.workflow_name, m.target.title(), bundle.dir.display());
            for file in &m.engine_files {
                println!("  {file}");
            }
            print_fan_out(m.fan_out.as_ref(), args.fan_out);
            for d in &m.data {
                println!(
                    "  data: {} ({}) {} {}",
                    d.node,
                    d.original,
                    if d.copied { "copied to" } else { "read from" },
                    d.path
                );
            }
            if m.runner_bundled {
                println!("  runner: bin/pipewright (this binary)");
            } else {
                println!("  runner: {} on the cluster", m.runner);
            }
            let submit = match m.target {
                Target::Slurm => "--slurm",
                Target::Ray => "--ray http://HEAD:8265",
                Target::Kubernetes => "--kubernetes",
            };
            println!("Submit it: pipewright submit {} {submit}", bundle.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// What an export with `--fan-out` made of the workflow.
fn print_fan_out(fan_out: Option<&cluster::FanOutSummary>, asked: bool) {
    match fan_out {
        Some(f) => {
            if f.tasks > 0 {
                println!(
                    "  task set: {} tasks for {} units of {}; {} retries each{}",
                    f.tasks,
                    f.units,
                    f.blocks.join(", "),
                    f.retries,
                    if f.at_once > 0 { format!(", {} at once", f.at_once) } else { String::new() }
                );
            }
            for fit in &f.fits {
                println!("  data-parallel: block {} over {} shards, a rank each", fit.node, fit.ranks);
            }
            for note in &f.notes {
                println!("  note: {note}");
            }
        }
        None if asked => println!("  note: no block of this workflow fans out; it runs as one job"),
        None => {}
    }
}

fn engine_of(args: &SubmitArgs) -> Result<Engine, String> {
    if args.slurm {
        return Ok(match &args.rest {
            Some(url) => Engine::SlurmRest {
                url: url.clone(),
                user: args.user.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "root".into()),
                token: args
                    .token
                    .clone()
                    .ok_or("--rest needs a token: --token T or $SLURM_JWT (from `scontrol token`)")?,
            },
            None => Engine::SlurmCli,
        });
    }
    if let Some(url) = &args.ray {
        return Ok(Engine::Ray { url: url.clone() });
    }
    if args.kubernetes {
        return Ok(Engine::Kubernetes { kubeconfig: args.kubeconfig.clone() });
    }
    Err("say where to submit: --slurm [--rest URL --token T], --ray URL or --kubernetes".into())
}

pub fn submit(args: &SubmitArgs) -> ExitCode {
    let bundle = match Bundle::read(&args.bundle) {
        Ok(bundle) => bundle,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let engine = match engine_of(args) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let options = SubmitOptions {
        poll: Duration::from_secs_f64(args.poll.clamp(0.1, 600.0)),
        timeout: args.timeout.map(|m| Duration::from_secs(u64::from(m) * 60)),
        project: args.project.clone(),
        ..SubmitOptions::default()
    };
    // Ctrl-C cancels the job on the cluster and records the run as cancelled.
    let cancel = options.cancel.clone();
    let _ = ctrlc::set_handler(move || {
        eprintln!("\nCancelling the job…");
        cancel.cancel();
    });
    eprintln!("Submitting {} ({}) to {}", bundle.manifest.job_name, bundle.manifest.workflow_name, engine.describe());
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} blocks {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let say = |text: &str| match &bar {
        Some(bar) => bar.println(text),
        None => eprintln!("{text}"),
    };
    let on_update = |update: Update| match update {
        Update::Recorded { run } => say(&format!("  recorded as run {run} (source: cluster)")),
        Update::Submitted { job } => say(&format!("  job {job} submitted")),
        Update::State(state) => {
            if let Some(bar) = &bar {
                bar.set_message(state.word());
            }
            say(&format!("  {state}"));
        }
        Update::Log(lines) if !args.quiet => {
            for line in lines.lines() {
                say(&format!("  | {line}"));
            }
        }
        Update::Log(_) => {}
        Update::Progress { done, total } => {
            if let Some(bar) = &bar {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
        }
        Update::Note(note) => say(&format!("  note: {note}")),
    };
    let submission = match cluster::submit(&bundle, &engine, &options, &on_update) {
        Ok(s) => s,
        Err(e) => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    finished(&submission)
}

/// `pipewright task BUNDLE --index I`: one index of the task set.
pub fn task(args: &TaskArgs) -> ExitCode {
    let index = args.index.or_else(|| {
        ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]
            .iter()
            .find_map(|name| std::env::var(name).ok().and_then(|v| v.trim().parse().ok()))
    });
    let Some(index) = index else {
        eprintln!("error: which task? --index I (or $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX)");
        return ExitCode::from(EXIT_INVALID);
    };
    let bundle = match Bundle::read(&args.bundle) {
        Ok(bundle) => bundle,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    match cluster::tasks::run_task(&bundle, &pipewright_nodes::catalog(), index) {
        Ok(done) => {
            eprintln!(
                "{}: done in {:.2} s ({} unit(s) computed, {} already there)",
                done.task.describe(),
                done.duration.as_secs_f64(),
                done.computed,
                done.task.units.len() - done.computed
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_NODE_FAILED)
        }
    }
}

/// `pipewright combine BUNDLE`: the task set's results joined, then the workflow run with them into the bundle's
/// results folder, as `run.sh` does.
pub fn combine(args: &CombineArgs) -> ExitCode {
    let bundle = match Bundle::read(&args.bundle) {
        Ok(bundle) => bundle,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let wait = args.wait.map(|m| Duration::from_secs(u64::from(m) * 60));
    let list = match cluster::TaskList::required(&bundle) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    match cluster::tasks::combine(&bundle, &pipewright_nodes::catalog(), wait) {
        Ok(combined) => {
            for (node, units, places) in &combined.blocks {
                eprintln!("combined block \"{node}\": {units} units, computed on {}", places.join(", "));
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_NODE_FAILED);
        }
    }
    let run = crate::run_cmd::RunArgs::for_bundle(
        bundle.dir.join(cluster::WORKFLOW_FILE),
        bundle.results_dir(),
        bundle.dir.join(cluster::tasks::CACHE_DIR),
        list.device,
    );
    crate::run_cmd::run(&run)
}

/// `pipewright shard-fit DIR`: one rank of a data-parallel fit.
pub fn shard_fit(args: &ShardFitArgs) -> ExitCode {
    let from_env =
        |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok().and_then(|v| v.trim().parse().ok()));
    let (Some(rank), Some(ranks)) = (
        args.rank.or_else(|| from_env(&["SLURM_PROCID", "RANK"])),
        args.ranks.or_else(|| from_env(&["SLURM_NTASKS", "WORLD_SIZE"])),
    ) else {
        eprintln!("error: which rank of how many? --rank R --ranks N (or run it under srun)");
        return ExitCode::from(EXIT_INVALID);
    };
    let started = std::time::Instant::now();
    let timeout = Duration::from_secs(args.timeout_secs);
    let run = args.run.clone().or_else(|| std::env::var("SLURM_JOB_ID").ok()).unwrap_or_else(|| "local".into());
    match cluster::data_parallel::fit_rank(&args.dir, &run, rank, ranks, timeout) {
        Ok(model) => {
            let written = model.map(|_| format!(", the model written to {}", args.dir.join("model").display()));
            eprintln!(
                "rank {rank} of {ranks}: fitted in {:.2} s{}",
                started.elapsed().as_secs_f64(),
                written.unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_NODE_FAILED)
        }
    }
}

/// Prints the metrics and how the job ended; the exit code.
fn finished(submission: &cluster::Submission) -> ExitCode {
    let metrics = submission.results.metrics();
    if !metrics.is_empty() {
        println!("\nMetrics");
        for (node, source, name, value) in &metrics {
            println!("  {node:<16}{source:<16}{name:<28}{value:>12.6}");
        }
    }
    let job = submission.job.as_deref().unwrap_or("not submitted");
    let run = submission.run.map(|r| format!(", recorded as run {r}")).unwrap_or_default();
    match &submission.state {
        JobState::Succeeded => {
            println!("\nSucceeded: job {job}{run}");
            ExitCode::SUCCESS
        }
        JobState::Cancelled => {
            eprintln!("\nCancelled: job {job}{run}");
            ExitCode::from(EXIT_STOPPED)
        }
        JobState::Failed(why) => {
            eprintln!("\nFAILED: job {job}: {why}{run}");
            ExitCode::from(EXIT_NODE_FAILED)
        }
        state => {
            eprintln!("\nFAILED: job {job} ended {state}{run}");
            ExitCode::from(EXIT_NODE_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_and_durations_are_read_as_people_write_them() {
        assert_eq!(parse_memory("16G"), Ok(16_384));
        assert_eq!(parse_memory("512M"), Ok(512));
        assert_eq!(parse_memory("1.5GiB"), Ok(1536));
        assert_eq!(parse_memory("2048"), Ok(2048));
        assert!(parse_memory("lots").is_err());
        assert_eq!(parse_minutes("90m"), Ok(90));
        assert_eq!(parse_minutes("2h"), Ok(120));
        assert_eq!(parse_minutes("1h30m"), Ok(90));
        assert_eq!(parse_minutes("1d"), Ok(1440));
        assert_eq!(parse_minutes("45"), Ok(45));
        assert!(parse_minutes("soon").is_err());
        assert!(parse_minutes("0").is_err());
    }
}
