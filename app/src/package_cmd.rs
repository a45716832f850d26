//! `pipewright package`: a model package from a run recorded in a project's store — the model a block trained
//! and the fitted transforms in front of it, as the designer's "Package model…" gathers them from its last run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use pipewright_deploy::{RecordedRun, Source, assemble};
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
    let snapshot = match store.snapshot_of(run) {
        Ok(Some((snapshot, _))) => snapshot,
        Ok(None) => return fail(format!("run {run} is not in the store: `pipewright runs` lists the runs")),
        Err(e) => return fail(e),
    };
    let workflow: Workflow = match serde_json::from_str(&snapshot) {
        Ok(workflow) => workflow,
        Err(e) => return fail(format!("run {run}'s workflow is unreadable: {e}")),
    };
    let record = store.run(run).ok().flatten();
    let values = match RecordedRun::read(&store, run) {
        Ok(values) => values,
        Err(e) => return fail(e),
    };
    let source = Source {
        workflow: record.map(|r| r.workflow_file).filter(|f| !f.is_empty()),
        node: Some(args.node.clone()),
        run: Some(run),
    };
    let catalog = pipewright_nodes::catalog();
    let mut assembled = match assemble(&workflow, &catalog, &values, &args.node, source) {
        Ok(assembled) => assembled,
        Err(e) => return fail(format!("cannot package block \"{}\" of run {run}: {e}", args.node)),
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

/// Whether a path lies inside a `.pipewright` folder (a project's store, cache and artifacts).
fn inside_store_folder(path: &std::path::Path) -> bool {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute.components().any(|c| c.as_os_str() == ".pipewright")
}
