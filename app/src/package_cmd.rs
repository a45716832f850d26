//! `pipewright package`: a model package from a run recorded in a project's store — the model a block trained
//! and the fitted transforms in front of it, as the designer's "Package model…" gathers them from its last run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pipewright_deploy::ModelSpec;

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
    let mut assembled = match pipewright_deploy::recorded_package(&store, run, &args.node) {
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

/// Writes the folder a container image serving a registered model is built from, with its Kubernetes objects.
pub fn export_serving(args: &ExportServingArgs) -> ExitCode {
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
    match pipewright_deploy::write_serving(&args.output, &package, &runner, &options) {
        Ok(files) => {
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
