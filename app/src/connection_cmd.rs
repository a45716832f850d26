//! `pipewright connection`: the named database connections blocks use, kept in the user's settings folder
//! (never in a workflow or a project).

use std::io::Read;
use std::process::ExitCode;

use clap::Subcommand;

use pipewright_engine::connections;

/// What to do with the saved connections.
#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Save a connection: the connection string is read from standard input (so it stays out of the shell's
    /// history), for example `printf %s "$URL" | pipewright connection add warehouse`.
    Add {
        /// The name blocks use in their Connection parameter.
        name: String,
    },
    /// List the saved connections by name, with the host and database (never the password).
    List,
    /// Remove a saved connection.
    Remove {
        /// Its name.
        name: String,
    },
}

/// Runs a `connection` command.
pub fn connection(what: &ConnectionCommand) -> ExitCode {
    let dir = connections::config_dir();
    let result = match what {
        ConnectionCommand::Add { name } => add(&dir, name),
        ConnectionCommand::List => {
            let saved = connections::saved(&dir);
            if saved.is_empty() {
                println!("no saved connections in {} (a block may also name an environment variable)", dir.display());
            }
            for (name, string) in &saved {
                println!("{name}\t{}", connections::redact(string, string));
            }
            Ok(())
        }
        ConnectionCommand::Remove { name } => match connections::remove(&dir, name) {
            Ok(true) => {
                println!("removed the connection \"{name}\"");
                Ok(())
            }
            Ok(false) => Err(format!("there is no saved connection \"{name}\"")),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn add(dir: &std::path::Path, name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("\"{name}\" cannot name a connection: use letters, digits, - and _"));
    }
    let mut string = String::new();
    std::io::stdin().read_to_string(&mut string).map_err(|e| format!("cannot read the connection string: {e}"))?;
    let string = string.trim();
    if string.is_empty() {
        return Err("no connection string on standard input: printf %s \"postgresql://user:password@host:5432/db\" | pipewright connection add NAME".into());
    }
    connections::save(dir, name, string)?;
    println!("saved the connection \"{name}\" in {}", dir.join("connections.json").display());
    Ok(())
}
