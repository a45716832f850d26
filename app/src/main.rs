//! `pipewright`: the designer (no arguments) and the headless runner (`run`, `validate`, `nodes`).

mod catalog_cmd;
mod run_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code of a run in which a node failed.
const EXIT_NODE_FAILED: u8 = 1;
/// Exit code of an invalid workflow or unreadable file.
const EXIT_INVALID: u8 = 2;
/// Exit code of a run stopped with Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_STOPPED: u8 = 130;

#[derive(Parser)]
#[command(name = "pipewright", version, about = "No-code machine-learning workflows: design, run headless, reproduce.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run_cmd::run(&args),
        Some(Command::Validate { flow }) => run_cmd::validate(&flow),
        Some(Command::Nodes { json }) => catalog_cmd::nodes(json),
        None => designer(),
    }
}

/// Opens the designer when this build has it; otherwise says how to use the headless runner.
fn designer() -> ExitCode {
    #[cfg(feature = "gui")]
    {
        pipewright_ui::announce();
    }
    eprintln!("Run a workflow headless:  pipewright run projects/titanic-two-class");
    eprintln!("List the blocks:          pipewright nodes");
    eprintln!("All commands:             pipewright --help");
    ExitCode::SUCCESS
}
