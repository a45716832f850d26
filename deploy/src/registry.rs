//! The registry's side of serving: registering a model keeps its package (so what is served is exactly what
//! was evaluated), a version is named as `NAME`, `NAME@STAGE` or `NAME@VERSION`, and a version's package is
//! read back (or, for versions registered before packages were kept, assembled again from its run).

use pipewright_engine::Workflow;
use pipewright_store::{ModelVersion, Registration, Stage, Store};

use crate::{Assembled, Package, RecordedRun, Source, assemble};

/// Which version of a registered model: the one in a stage (followed as it changes) or a fixed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Whichever version is in this stage.
    Stage(Stage),
    /// This version.
    Version(i64),
}

/// A registered model as a command line names it: `NAME` (its production version), `NAME@production`,
/// `NAME@staging` or `NAME@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The model's name.
    pub name: String,
    /// Which version.
    pub follow: Follow,
}

impl std::str::FromStr for ModelSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, which) = text.split_once('@').unwrap_or((text, "production"));
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{text}` names no model: give NAME, NAME@production, NAME@staging or NAME@VERSION"));
        }
        let follow = match which.trim().parse::<i64>() {
            Ok(version) => Follow::Version(version),
            Err(_) => Follow::Stage(which.trim().parse().map_err(|e| format!("`{text}`: {e}, or a version number"))?),
        };
        Ok(Self { name: name.to_owned(), follow })
    }
}

impl std::fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.follow {
            Follow::Stage(stage) => write!(f, "{}@{}", self.name, stage.as_str()),
            Follow::Version(version) => write!(f, "{}@{version}", self.name),
        }
    }
}

/// Every version of `name`, newest first, or why there is none, naming the models that exist.
pub fn versions_of(store: &Store, name: &str) -> Result<Vec<ModelVersion>, String> {
    let all = store.models().map_err(|e| e.to_string())?;
    let versions: Vec<ModelVersion> = all.iter().filter(|v| v.name == name).cloned().collect();
    if !versions.is_empty() {
        return Ok(versions);
    }
    let mut names: Vec<String> = all.into_iter().map(|v| v.name).collect();
    names.dedup();
    Err(if names.is_empty() {
        format!("no model \"{name}\" is registered; the registry is empty (`pipewright models register`)")
    } else {
        format!("no model \"{name}\" is registered; the registry has {}", names.join(", "))
    })
}

/// The versions of a model as a list for messages: `3 (production), 2 (staging), 1 (none)`.
pub fn listed(versions: &[ModelVersion]) -> String {
    versions.iter().map(|v| format!("{} ({})", v.version, v.stage.as_str())).collect::<Vec<_>>().join(", ")
}

impl ModelSpec {
    /// The version this names now, among `versions` (those of its model), or why none is, naming what exists.
    pub fn pick<'a>(&self, versions: &'a [ModelVersion]) -> Result<&'a ModelVersion, String> {
        let found = match self.follow {
            Follow::Version(number) => versions.iter().find(|v| v.version == number),
            Follow::Stage(stage) => versions.iter().filter(|v| v.stage == stage).max_by_key(|v| v.version),
        };
        found.ok_or_else(|| {
            let which = match self.follow {
                Follow::Version(number) => format!("version {number}"),
                Follow::Stage(stage) => format!("version in {}", stage.as_str()),
            };
            format!("{} has no {which}; its versions: {}", self.name, listed(versions))
        })
    }

    /// The registered version this names now.
    pub fn resolve(&self, store: &Store) -> Result<ModelVersion, String> {
        self.pick(&versions_of(store, &self.name)?).cloned()
    }
}

/// The package of the model block `node` trained in recorded run `run`, with notes on what it leaves out.
pub fn recorded_package(store: &Store, run: i64, node: &str) -> Result<Assembled, String> {
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

/// Registers the model `node` trained in recorded run `run` as the next version of `name`, keeping its
/// package. Returns the version and notes on what the package leaves out.
pub fn register(
    store: &Store,
    name: &str,
    run: i64,
    node: &str,
    notes: &str,
) -> Result<(ModelVersion, Vec<String>), String> {
    // The store's checks first: a run that is not recorded, a block that trained no model.
    store.trained_model(run, node).map_err(|e| e.to_string())?;
    if name.trim().is_empty() {
        return Err("a model needs a name".into());
    }
    let mut assembled = recorded_package(store, run, node)?;
    name.trim().clone_into(&mut assembled.package.manifest.name);
    let bytes = assembled.package.to_bytes().map_err(|e| e.to_string())?;
    let version = store
        .register_model(&Registration { name, run, node, notes, package: Some(&bytes) })
        .map_err(|e| e.to_string())?;
    Ok((version, assembled.notes))
}

/// The package a registered version serves: the one kept when it was registered, or for a version registered
/// before packages were kept, assembled again from the run that trained it. Named after the model.
pub fn package_of(store: &Store, version: &ModelVersion) -> Result<Package, String> {
    let what = format!("{} version {}", version.name, version.version);
    let kept = store.model_package(version).map_err(|e| format!("{what}: {e}"))?;
    let mut package = if let Some(bytes) = kept {
        Package::from_bytes(&bytes).map_err(|e| format!("{what}: {e}"))?
    } else {
        let (Some(run), Some(node)) = (version.run, version.node.as_deref()) else {
            return Err(format!("{what} has no package and no run to assemble one from: register it again"));
        };
        recorded_package(store, run, node).map_err(|e| format!("{what}: {e}"))?.package
    };
    package.manifest.name.clone_from(&version.name);
    Ok(package)
}
