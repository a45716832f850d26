//! The Models view's deployment actions: promote a version a stage, roll production back, share requests
//! between production and a candidate (A/B) or score them in the shadow, and serve a model from the registry
//! on this machine — the same endpoint as `pipewright serve --project --model --capture`, following the
//! registry live and capturing its requests for the Monitor view.

use std::time::Duration;

use pipewright_deploy::{CaptureOptions, ModelSpec, RegistryOptions, ServeOptions, Server};
use pipewright_store::Stage;

use super::History;
use crate::app::AppCommand;

/// How often the designer's endpoint reads the registry.
const POLL: Duration = Duration::from_millis(500);

/// The port the designer's endpoint tries first; a free one when it is taken.
const PORT: u16 = 8080;

/// The endpoint the designer runs for a registered model.
pub struct Deployed {
    /// What it follows, as `NAME` or `NAME@VERSION`.
    pub spec: String,
    /// The running server.
    pub server: Server,
}

/// The stage a version is promoted to from `stage`: none → staging → production.
pub fn next_stage(stage: Stage) -> Option<Stage> {
    match stage {
        Stage::None => Some(Stage::Staging),
        Stage::Staging => Some(Stage::Production),
        Stage::Production => None,
    }
}

impl History {
    /// Moves a version one stage up: none to staging, staging to production.
    pub fn promote(&mut self, name: &str, version: i64) -> AppCommand {
        let stage = self.models.iter().find(|m| m.name == name && m.version == version).map(|m| m.stage);
        match stage.and_then(next_stage) {
            Some(next) => self.set_stage(name, version, next),
            None => AppCommand::notify(format!("{name} version {version} is in production already"), true),
        }
    }

    /// Puts back in production the version that was there before.
    pub fn rollback(&mut self, name: &str) -> AppCommand {
        let Some(store) = &self.store else { return AppCommand::notify("no project store", true) };
        let command = match store.rollback(name) {
            Ok(back) => AppCommand::notify(
                format!(
                    "{name} version {} is back in production{}",
                    back.to,
                    back.from.map_or(String::new(), |v| format!("; version {v} moved to staging"))
                ),
                false,
            ),
            Err(e) => AppCommand::notify(e.to_string(), true),
        };
        self.reload();
        command
    }

    /// Shares `name`'s requests: `percent` to `version`, the rest to its production version; 0 clears it.
    pub fn split(&mut self, name: &str, version: i64, percent: f64) -> AppCommand {
        let Some(store) = &self.store else { return AppCommand::notify("no project store", true) };
        let production = self.models.iter().find(|m| m.name == name && m.stage == Stage::Production);
        let result = match production {
            _ if percent <= 0.0 => {
                store.set_split(name, &[]).map(|()| format!("{name}: every request goes to production"))
            }
            None => {
                return AppCommand::notify(format!("{name} has no version in production to share requests with"), true);
            }
            Some(p) if p.version == version => {
                return AppCommand::notify(format!("{name} version {version} is the production version"), true);
            }
            Some(p) => store.set_split(name, &[(p.version, 100.0 - percent), (version, percent)]).map(|()| {
                format!("{name}: {percent:.0}% of requests to version {version}, the rest to version {}", p.version)
            }),
        };
        let command = match result {
            Ok(text) => AppCommand::notify(text, false),
            Err(e) => AppCommand::notify(e.to_string(), true),
        };
        self.reload();
        command
    }

    /// Has `version` score `name`'s requests in the shadow, or stops it (`None`).
    pub fn shadow(&mut self, name: &str, version: Option<i64>) -> AppCommand {
        let Some(store) = &self.store else { return AppCommand::notify("no project store", true) };
        let command = match store.set_shadow(name, version) {
            Ok(()) => AppCommand::notify(
                version.map_or(format!("{name}: no version scores in the shadow"), |v| {
                    format!("{name} version {v} scores every request in the shadow")
                }),
                false,
            ),
            Err(e) => AppCommand::notify(e.to_string(), true),
        };
        self.reload();
        command
    }

    /// Serves a model from the registry on this machine: `spec` is `NAME` (following production) or
    /// `NAME@VERSION`. Replaces the endpoint already running.
    pub fn deploy(&mut self, spec: &str) -> AppCommand {
        let Some(project) = self.project.clone() else { return AppCommand::notify("no project", true) };
        let parsed = match spec.parse::<ModelSpec>() {
            Ok(parsed) => parsed,
            Err(e) => return AppCommand::notify(e, true),
        };
        self.stop_serving();
        // Requests are captured into the project, for the Monitor view.
        let capture = CaptureOptions {
            roll_after: Duration::from_secs(10),
            ..CaptureOptions::new(pipewright_store::store_path(&project).with_file_name("capture"))
        };
        let registry = RegistryOptions { project, models: vec![parsed], poll: POLL };
        let options =
            |port| ServeOptions { port, quiet: true, capture: Some(capture.clone()), ..ServeOptions::default() };
        let started = Server::serve_registry(&registry, &options(PORT))
            .or_else(|_| Server::serve_registry(&registry, &options(0)));
        match started {
            Ok(server) => {
                let text = format!(
                    "Serving {spec} at {}{}",
                    server.url(),
                    pipewright_deploy::score_path(&registry.models[0].name)
                );
                self.deployed = Some(Deployed { spec: spec.to_owned(), server });
                AppCommand::notify(text, false)
            }
            Err(e) => AppCommand::notify(e.to_string(), true),
        }
    }

    /// Stops the designer's endpoint, letting requests in flight finish.
    pub fn stop_serving(&mut self) {
        if let Some(deployed) = self.deployed.take() {
            let _ = deployed.server.stop();
        }
    }

    /// The designer's endpoint, if one runs.
    pub fn deployed(&self) -> Option<&Deployed> {
        self.deployed.as_ref()
    }
}
