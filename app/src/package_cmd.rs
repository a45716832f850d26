//! `pipewright package`: a model package from a run recorded in a project's store — the model a block trained
//! and the fitted transforms in front of it, as the designer's "Package model…" gathers them from its last run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pipewright_deploy::{Assembled, RecordedRun, Source, assemble};
use pipewright_engine::Workflow;

/// Arguments of `pipewright package`.
#[derive(Args)]
pub struct PackageArgs {
    /// The block that trained the model (a Train Model block's id).
    node: String,
    /// Where to write the package (.pwmodel).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// The project folder whose store recorded the run.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The run, as `pipewright runs` lists it; left out, the newest run that trained the block.
    #[arg(long)]
    run: Option<i64>,
    /// The endpoint's name; left out, the model's name.
    #[arg(long)]
    name: Option<String>,
    /// Replace the output file when it exists.
    #[arg(long)]
    force: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(crate::EXIT_INVALID)
}

/// Packages the model a block trained in a recorded run.
pub fn package(args: &PackageArgs) -> ExitCode {
    let store = match crate::runs_cmd::open(&args.project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let run = if let Some(run) = args.run {
        run
    } else {
        let runs = match store.runs() {
            Ok(runs) => runs,
            Err(e) => return fail(e),
        };
        let trained = runs.iter().map(|r| r.id).find(|&id| {
            store.artifacts_of(id).is_ok_and(|a| a.iter().any(|l| l.node == args.node && l.kind == "model"))
        });
        match trained {
            Some(run) => run,
            None => {
                return fail(format!(
                    "no recorded run has a model from block \"{}\": run the workflow first, or name a block that trains one",
                    args.node
                ));
            }
        }
    };
    let mut assembled = match assembled_from_run(&store, run, &args.node) {
        Ok(assembled) => assembled,
        Err(e) => return fail(e),
    };
    if let Some(name) = &args.name {
        assembled.package.manifest.name.clone_from(name);
    }
    if inside_store_folder(&args.output) {
        return fail(format!(
            "{} is inside a project's .pipewright folder, which holds the run history: write the package elsewhere",
            args.output.display()
        ));
    }
    if args.output.exists() && !args.force {
        return fail(format!("{} exists: pass --force to replace it", args.output.display()));
    }
    if let Err(e) = assembled.package.write(&args.output) {
        return fail(e);
    }
    for note in &assembled.notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} ({} from run {run}, {} step(s), {} input field(s))",
        args.output.display(),
        assembled.package.manifest.name,
        assembled.package.steps.len(),
        assembled.package.manifest.inputs.len()
    );
    ExitCode::SUCCESS
}

/// The package of the model block `node` trained in recorded run `run`, with notes on what it leaves out.
fn assembled_from_run(store: &pipewright_store::Store, run: i64, node: &str) -> Result<Assembled, String> {
    let snapshot = match store.snapshot_of(run) {
        Ok(Some((snapshot, _))) => snapshot,
        Ok(None) => return Err(format!("run {run} is not in the store: `pipewright runs` lists the runs")),
        Err(e) => return Err(e.to_string()),
    };
    let workflow: Workflow =
        serde_json::from_str(&snapshot).map_err(|e| format!("run {run}'s workflow is unreadable: {e}"))?;
    let record = store.run(run).ok().flatten();
    let values = RecordedRun::read(store, run).map_err(|e| e.to_string())?;
    let source = Source {
        workflow: record.map(|r| r.workflow_file).filter(|f| !f.is_empty()),
        node: Some(node.to_owned()),
        run: Some(run),
    };
    let catalog = pipewright_nodes::catalog();
    assemble(&workflow, &catalog, &values, node, source)
        .map_err(|e| format!("cannot package block \"{node}\" of run {run}: {e}"))
}

/// Arguments of `pipewright export-serving`.
#[derive(Args)]
pub struct ExportServingArgs {
    /// The registered model: NAME (its production version), NAME@production, NAME@staging or NAME@VERSION.
    model: String,
    /// The folder to write (new or empty).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// The project folder whose registry holds the model.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The image to build and run; left out, pipewright-NAME:VERSION.
    #[arg(long, default_value = "")]
    image: String,
    /// The port the endpoint listens on in the container.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Pods at least.
    #[arg(long, default_value_t = 2)]
    replicas: u32,
    /// Pods at most, as the autoscaler adds them.
    #[arg(long, default_value_t = 10)]
    max_replicas: u32,
    /// The CPU use (percent of what a pod asks for) the autoscaler keeps the pods at.
    #[arg(long, default_value_t = 70)]
    cpu_target: u32,
}

/// The registered version `spec` names (`NAME`, `NAME@STAGE`, `NAME@VERSION`), or why none is, naming what exists.
fn registered(store: &pipewright_store::Store, spec: &str) -> Result<pipewright_store::ModelVersion, String> {
    let (name, which) = spec.split_once('@').unwrap_or((spec, "production"));
    let versions: Vec<_> = store.models().map_err(|e| e.to_string())?.into_iter().filter(|v| v.name == name).collect();
    if versions.is_empty() {
        let mut names: Vec<String> = store.models().map_err(|e| e.to_string())?.into_iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        return Err(if names.is_empty() {
            format!("no model \"{name}\" is registered; the registry is empty (`pipewright models register`)")
        } else {
            format!("no model \"{name}\" is registered; the registry has {}", names.join(", "))
        });
    }
    let listed =
        || versions.iter().map(|v| format!("{} ({})", v.version, v.stage.as_str())).collect::<Vec<_>>().join(", ");
    let found = if let Ok(number) = which.parse::<i64>() {
        versions.iter().find(|v| v.version == number)
    } else {
        let stage: pipewright_store::Stage = which.parse()?;
        versions.iter().filter(|v| v.stage == stage).max_by_key(|v| v.version)
    };
    found.cloned().ok_or_else(|| format!("{name} has no version {which}; its versions: {}", listed()))
}

/// Writes the folder a container image serving a registered model is built from, with its Kubernetes objects.
pub fn export_serving(args: &ExportServingArgs) -> ExitCode {
    let store = match crate::runs_cmd::open(&args.project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let version = match registered(&store, &args.model) {
        Ok(version) => version,
        Err(e) => return fail(e),
    };
    let (Some(run), Some(node)) = (version.run, version.node.as_deref()) else {
        return fail(format!(
            "{} version {} has lost the run that trained it (was the run deleted?): register the model again",
            version.name, version.version
        ));
    };
    let mut assembled = match assembled_from_run(&store, run, node) {
        Ok(assembled) => assembled,
        Err(e) => return fail(e),
    };
    assembled.package.manifest.name.clone_from(&version.name);
    if inside_store_folder(&args.output) {
        return fail(format!("{} is inside a project's .pipewright folder: write elsewhere", args.output.display()));
    }
    let runner = match std::env::current_exe() {
        Ok(runner) => runner,
        Err(e) => return fail(format!("cannot find this runner to copy: {e}")),
    };
    let options = pipewright_deploy::ServingOptions {
        model: version.name.clone(),
        version: version.version,
        image: args.image.clone(),
        port: args.port,
        replicas: args.replicas,
        max_replicas: args.max_replicas,
        cpu_target: args.cpu_target,
    };
    match pipewright_deploy::write_serving(&args.output, &assembled.package, &runner, &options) {
        Ok(files) => {
            for note in &assembled.notes {
                eprintln!("note: {note}");
            }
            println!(
                "wrote {} ({} files) serving {} version {} ({}) as image {}; see its README.md",
                args.output.display(),
                files.len(),
                version.name,
                version.version,
                version.stage.as_str(),
                options.image()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Whether a path lies inside a `.pipewright` folder (a project's store, cache and artifacts).
fn inside_store_folder(path: &std::path::Path) -> bool {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute.components().any(|c| c.as_os_str() == ".pipewright")
}
