//! The model registry: named models whose versions are trained models from recorded runs, each with the run's
//! metrics, a stage (none, staging, production) with its history, and notes.

use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Value as Json, json};

use crate::{Store, StoreError};

/// Where a model version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// Registered, not in use.
    #[default]
    None,
    /// Being tried.
    Staging,
    /// The one in use; at most one version of a model is.
    Production,
}

impl Stage {
    /// Every stage, in promotion order.
    pub const ALL: [Self; 3] = [Self::None, Self::Staging, Self::Production];

    /// The stage as stored and typed: none, staging or production.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown stage `{text}`: use none, staging or production"))
    }
}

/// One metric a model version was registered with: the run's evaluations.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMetric {
    /// The node that evaluated.
    pub node: String,
    /// The evaluated input.
    pub source: String,
    /// Metric name.
    pub name: String,
    /// Value.
    pub value: f64,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// Row id.
    pub id: i64,
    /// Model name.
    pub name: String,
    /// Version, from 1 per name.
    pub version: i64,
    /// The run that trained it.
    pub run: Option<i64>,
    /// The Train Model node in that run.
    pub node: Option<String>,
    /// The trained model's artifact hash.
    pub artifact: Option<String>,
    /// The run's metrics when it was registered.
    pub metrics: Vec<ModelMetric>,
    /// Stage.
    pub stage: Stage,
    /// The user's notes.
    pub notes: String,
    /// Registration time, seconds since the Unix epoch.
    pub created_at: f64,
    /// The artifact hash of its model package (the trained pipeline with its preprocessing), kept when it was
    /// registered; `None` for versions registered before packages were kept.
    pub package: Option<String>,
}

impl ModelVersion {
    /// The version's headline metric: the first it was registered with in the engine's headline order.
    pub fn headline(&self) -> Option<&ModelMetric> {
        pipewright_engine::metric::headline_of(&self.metrics, |m| m.name.as_str())
    }
}

/// What registering a model needs.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    /// The model's name; a new name starts at version 1.
    pub name: &'a str,
    /// The run that trained it.
    pub run: i64,
    /// The node whose trained model it is (a Train Model block, or any block with a model output).
    pub node: &'a str,
    /// Notes.
    pub notes: &'a str,
    /// The model package's bytes, kept with the version so what is served is what was evaluated.
    pub package: Option<&'a [u8]>,
}

/// A stage change, for the version's history.
#[derive(Debug, Clone, PartialEq)]
pub struct StageChange {
    /// The stage entered.
    pub stage: Stage,
    /// When, seconds since the Unix epoch.
    pub changed_at: f64,
}

const COLUMNS: &str = "id, name, version, run_id, node, artifact, metrics, stage, notes, created_at, package";

fn version_of(r: &Row<'_>) -> rusqlite::Result<ModelVersion> {
    let metrics: String = r.get(6)?;
    let metrics = serde_json::from_str::<Vec<Json>>(&metrics)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some(ModelMetric {
                node: m["node"].as_str()?.to_owned(),
                source: m["source"].as_str()?.to_owned(),
                name: m["name"].as_str()?.to_owned(),
                value: m["value"].as_f64()?,
            })
        })
        .collect();
    Ok(ModelVersion {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        run: r.get(3)?,
        node: r.get(4)?,
        artifact: r.get(5)?,
        metrics,
        stage: r.get::<_, String>(7)?.parse().unwrap_or_default(),
        notes: r.get(8)?,
        created_at: r.get(9)?,
        package: r.get(10)?,
    })
}

impl Store {
    /// Registers the trained model that `node` produced in `run` as the next version of `name`, with the run's
    /// metrics. Refused with the reason when the run or the node's model is not recorded.
    pub fn register_model(&self, registration: &Registration<'_>) -> Result<ModelVersion, StoreError> {
        let name = registration.name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("a model needs a name".into()));
        }
        let run = registration.run;
        let artifact = self.trained_model(run, registration.node)?;
        let metrics: Vec<Json> = self
            .model_metrics(run, registration.node)?
            .into_iter()
            .map(|(node, source, name, value)| json!({"node": node, "source": source, "name": name, "value": value}))
            .collect();
        let package = registration.package.map(|bytes| self.stage_artifact(bytes.to_vec())).transpose()?;
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(package) = &package {
            crate::artifacts::insert_artifact(&tx, "package", package)?;
        }
        let version: i64 =
            tx.query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?1", [name], |r| r.get(0))?;
        let now = crate::runs::now();
        tx.execute(
            "INSERT INTO models (name, version, run_id, node, artifact, metrics, stage, notes, created_at, package)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'none', ?7, ?8, ?9)",
            params![
                name,
                version,
                run,
                registration.node,
                artifact.hash,
                Json::Array(metrics).to_string(),
                registration.notes,
                now,
                package.as_ref().map(|p| p.hash.as_str())
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO model_stage_changes (model_id, stage, changed_at) VALUES (?1, 'none', ?2)",
            params![id, now],
        )?;
        let registered = tx.query_row(&format!("SELECT {COLUMNS} FROM models WHERE id = ?1"), [id], version_of)?;
        tx.commit()?;
        Ok(registered)
    }

    /// The trained model `node` produced in `run`, or why there is none: the run is not recorded, or the node
    /// trained no model (naming those that did).
    pub fn trained_model(&self, run: i64, node: &str) -> Result<crate::ArtifactLink, StoreError> {
        if self.run(run)?.is_none() {
            return Err(StoreError::Invalid(format!("no run {run} in this project: `pipewright runs` lists them")));
        }
        let artifacts = self.artifacts_of(run)?;
        if let Some(model) = artifacts.iter().find(|a| a.node == node && a.kind == "model") {
            return Ok(model.clone());
        }
        let trained: Vec<&str> = artifacts.iter().filter(|a| a.kind == "model").map(|a| a.node.as_str()).collect();
        Err(StoreError::Invalid(if trained.is_empty() {
            format!("run {run} recorded no trained model: run a workflow with a Train Model block first")
        } else {
            format!("node `{node}` of run {run} produced no trained model; these did: {}", trained.join(", "))
        }))
    }

    /// The metrics of `run` that evaluated the model of `node`: those whose evaluated input has the node
    /// upstream in the workflow as it ran. All of the run's metrics when none trace back to it.
    fn model_metrics(&self, run: i64, node: &str) -> Result<Vec<(String, String, String, f64)>, StoreError> {
        let metrics = self.metrics_of(run)?;
        let Some(workflow) = self.snapshot_of(run)?.and_then(|(s, _)| pipewright_engine::Workflow::from_json(&s).ok())
        else {
            return Ok(metrics);
        };
        let of_model: Vec<_> = metrics
            .iter()
            .filter(|(evaluator, source, _, _)| {
                workflow.edge_into(evaluator, source).is_some_and(|edge| {
                    edge.from.node == node || pipewright_engine::ancestors(&workflow, &edge.from.node).contains(node)
                })
            })
            .cloned()
            .collect();
        Ok(if of_model.is_empty() { metrics } else { of_model })
    }

    /// Every model version, by name, newest version first.
    pub fn models(&self) -> Result<Vec<ModelVersion>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(&format!("SELECT {COLUMNS} FROM models ORDER BY name, version DESC"))?;
        let rows = statement.query_map([], version_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One model version.
    pub fn model(&self, name: &str, version: i64) -> Result<Option<ModelVersion>, StoreError> {
        Ok(self
            .connection()
            .query_row(
                &format!("SELECT {COLUMNS} FROM models WHERE name = ?1 AND version = ?2"),
                params![name, version],
                version_of,
            )
            .optional()?)
    }

    fn existing_model(&self, name: &str, version: i64) -> Result<ModelVersion, StoreError> {
        self.model(name, version)?.ok_or_else(|| {
            StoreError::Invalid(format!("no version {version} of model `{name}`: `pipewright models list` lists them"))
        })
    }

    /// Moves a version to `stage`. Only one version of a model is in production: promoting one moves the
    /// version that was there back to staging; those versions are returned.
    pub fn set_stage(&self, name: &str, version: i64, stage: Stage) -> Result<Vec<i64>, StoreError> {
        let model = self.existing_model(name, version)?;
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = crate::runs::now();
        let mut demoted = Vec::new();
        if stage == Stage::Production {
            let mut statement =
                tx.prepare("SELECT id, version FROM models WHERE name = ?1 AND stage = 'production' AND id != ?2")?;
            let others: Vec<(i64, i64)> = statement
                .query_map(params![name, model.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            drop(statement);
            for (id, other) in others {
                tx.execute("UPDATE models SET stage = 'staging' WHERE id = ?1", [id])?;
                tx.execute(
                    "INSERT INTO model_stage_changes (model_id, stage, changed_at) VALUES (?1, 'staging', ?2)",
                    params![id, now],
                )?;
                demoted.push(other);
            }
        }
        if model.stage != stage {
            tx.execute("UPDATE models SET stage = ?1 WHERE id = ?2", params![stage.as_str(), model.id])?;
            tx.execute(
                "INSERT INTO model_stage_changes (model_id, stage, changed_at) VALUES (?1, ?2, ?3)",
                params![model.id, stage.as_str(), now],
            )?;
        }
        tx.commit()?;
        Ok(demoted)
    }

    /// Replaces a version's notes.
    pub fn set_notes(&self, name: &str, version: i64, notes: &str) -> Result<(), StoreError> {
        let model = self.existing_model(name, version)?;
        self.connection().execute("UPDATE models SET notes = ?1 WHERE id = ?2", params![notes, model.id])?;
        Ok(())
    }

    /// The stages a version has been in, oldest first.
    pub fn stage_history(&self, model_id: i64) -> Result<Vec<StageChange>, StoreError> {
        let conn = self.connection();
        let mut statement = conn.prepare(
            "SELECT stage, changed_at FROM model_stage_changes WHERE model_id = ?1 ORDER BY changed_at, rowid",
        )?;
        let rows = statement.query_map([model_id], |r| {
            Ok(StageChange { stage: r.get::<_, String>(0)?.parse().unwrap_or_default(), changed_at: r.get(1)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
