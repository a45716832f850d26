//! `pipewright models`: the project's model registry — list the versions, register a trained model from a
//! recorded run, move a version between stages.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use pipewright_store::{ModelVersion, Stage, Store, format_utc};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Every registered version: name, version, stage, source run, headline metric, notes.
    List,
    /// Register the trained model a node produced in a recorded run as the next version of NAME.
    Register {
        /// The run's number, as `pipewright runs` lists it.
        run: i64,
        /// The node that produced the model (a Train Model block).
        node: String,
        /// The model's name; a new name starts at version 1.
        #[arg(long)]
        name: String,
        /// Notes kept with the version.
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Move a version to a stage: none, staging or production (one production version per model).
    Stage {
        /// The model's name.
        name: String,
        /// The version.
        version: i64,
        /// none, staging or production.
        stage: Stage,
        /// Replace the version's notes too.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Put back in production the version that was there before the current one (which moves to staging).
    /// Endpoints serving the model from the registry swap to it while they run.
    Rollback {
        /// The model's name.
        name: String,
    },
    /// Share the model's requests among versions by weight (A/B): `pipewright models split churn 3=90 4=10`.
    /// Endpoints serving the model's production version follow it while they run.
    Split {
        /// The model's name.
        name: String,
        /// VERSION=WEIGHT for each version taking a share (two or more).
        #[arg(value_parser = version_weight, required_unless_present = "clear")]
        shares: Vec<(i64, f64)>,
        /// Send every request to the followed version again.
        #[arg(long, conflicts_with = "shares")]
        clear: bool,
    },
    /// Have a version score every request in the shadow: its answers are captured, not returned.
    Shadow {
        /// The model's name.
        name: String,
        /// The candidate version.
        #[arg(required_unless_present = "off")]
        version: Option<i64>,
        /// Stop scoring in the shadow.
        #[arg(long, conflicts_with = "version")]
        off: bool,
    },
}

/// `VERSION=WEIGHT`, as `models split` takes it.
fn version_weight(text: &str) -> Result<(i64, f64), String> {
    let (version, weight) = text.split_once('=').ok_or_else(|| format!("`{text}`: give VERSION=WEIGHT, as 3=90"))?;
    let version = version.trim().parse::<i64>().map_err(|_| format!("`{text}`: the version is not a number"))?;
    let weight = weight.trim().parse::<f64>().map_err(|_| format!("`{text}`: the weight is not a number"))?;
    Ok((version, weight))
}

fn version_json(v: &ModelVersion) -> serde_json::Value {
    json!({
        "name": v.name, "version": v.version, "stage": v.stage.as_str(), "run": v.run, "node": v.node,
        "artifact": v.artifact, "notes": v.notes, "created_at": v.created_at,
        "metrics": v.metrics.iter().map(|m| json!({"node": m.node, "source": m.source, "name": m.name,
            "value": m.value})).collect::<Vec<_>>(),
    })
}

/// The version's headline metric, as the run lists show it.
fn headline(v: &ModelVersion) -> String {
    v.headline().map_or(String::new(), |m| format!("{} {:.4}", m.name, m.value))
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// `pipewright models …`.
pub fn models(project: &Path, json: bool, what: &ModelsCommand) -> ExitCode {
    let store = match crate::runs_cmd::open(project) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match what {
        ModelsCommand::List => list(&store, json),
        ModelsCommand::Register { run, node, name, notes } => {
            match pipewright_deploy::register(&store, name, *run, node, notes) {
                Ok((v, package_notes)) => {
                    for note in package_notes {
                        eprintln!("note: {note}");
                    }
                    registered(&v, *run, node, json)
                }
                Err(e) => fail(e),
            }
        }
        ModelsCommand::Stage { name, version, stage, notes } => {
            stage_cmd(&store, json, name, *version, *stage, notes.as_deref())
        }
        ModelsCommand::Rollback { name } => match store.rollback(name) {
            Ok(back) => {
                if json {
                    let value = json!({"name": name, "from": back.from, "to": back.to});
                    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
                } else {
                    let from = back.from.map_or(String::new(), |v| format!("; version {v} moved to staging"));
                    println!("{name} version {} is back in production{from}", back.to);
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ModelsCommand::Split { name, shares, clear: _ } => match store.set_split(name, shares) {
            Ok(()) if shares.is_empty() => {
                println!("{name}: every request goes to the followed version");
                ExitCode::SUCCESS
            }
            Ok(()) => {
                let total: f64 = shares.iter().map(|(_, w)| w).sum();
                let listed: Vec<String> =
                    shares.iter().map(|(v, w)| format!("version {v} {:.1}%", 100.0 * w / total)).collect();
                println!("{name}: requests shared as {}", listed.join(", "));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        ModelsCommand::Shadow { name, version, off: _ } => match store.set_shadow(name, *version) {
            Ok(()) => {
                match version {
                    Some(v) => println!("{name} version {v} scores every request in the shadow"),
                    None => println!("{name}: no version scores in the shadow"),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

fn registered(v: &ModelVersion, run: i64, node: &str, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(&version_json(v)).unwrap_or_default());
    } else {
        println!("Registered {} version {} from run {run} ({node}) {}", v.name, v.version, headline(v));
    }
    ExitCode::SUCCESS
}

fn stage_cmd(store: &Store, json: bool, name: &str, version: i64, stage: Stage, notes: Option<&str>) -> ExitCode {
    let demoted = match store.set_stage(name, version, stage) {
        Ok(demoted) => demoted,
        Err(e) => return fail(e),
    };
    if let Some(notes) = notes
        && let Err(e) = store.set_notes(name, version, notes)
    {
        return fail(e);
    }
    if json {
        let value = json!({"name": name, "version": version, "stage": stage.as_str(), "demoted": demoted});
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        println!("{name} version {version} is now in {}", stage.as_str());
        for d in demoted {
            println!("{name} version {d} moved from production to staging");
        }
    }
    ExitCode::SUCCESS
}

fn list(store: &Store, json: bool) -> ExitCode {
    let versions = match store.models() {
        Ok(versions) => versions,
        Err(e) => return fail(e),
    };
    if json {
        let rows: Vec<_> = versions.iter().map(version_json).collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if versions.is_empty() {
        println!("No registered models yet: `pipewright models register RUN NODE --name NAME` registers one.");
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<24}  {:>7}  {:<10}  {:>5}  {:<16}  {:<19}  {:<20}  notes",
        "model", "version", "stage", "run", "node", "registered (UTC)", "headline"
    );
    for v in &versions {
        println!(
            "{:<24}  {:>7}  {:<10}  {:>5}  {:<16}  {:<19}  {:<20}  {}",
            crate::runs_cmd::clip(&v.name, 24),
            v.version,
            v.stage.as_str(),
            v.run.map_or("-".into(), |r| r.to_string()),
            crate::runs_cmd::clip(v.node.as_deref().unwrap_or("-"), 16),
            format_utc(v.created_at),
            headline(v),
            v.notes
        );
    }
    ExitCode::SUCCESS
}
