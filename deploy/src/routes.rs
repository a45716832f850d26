//! What an endpoint serves: one route per model name, each with the version that answers (or versions sharing
//! the requests by weight) and a version scoring in the shadow. Serving from the registry, a watcher reads the
//! registry every poll and, when a stage, a split or a shadow changed, loads the new versions' packages off
//! the request path and swaps the routes in one step: a request in flight finishes on the versions it started
//! with, the next one gets the new ones, and none fails.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pipewright_store::{ModelVersion, Stage, Store, Traffic};
use serde_json::{Value as Json, json};

use crate::capture::{Answerer, GOLDEN};
use crate::registry::{Follow, ModelSpec, package_of, versions_of};
use crate::server::Log;

/// What to serve from a project's registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// The project folder whose store holds the registry.
    pub project: PathBuf,
    /// The models, each as `NAME[@STAGE|@VERSION]`.
    pub models: Vec<ModelSpec>,
    /// How often the registry is read for stage, split and shadow changes.
    pub poll: Duration,
}

/// A version as loaded: who it is and what the registry said of it.
pub(crate) struct Served {
    pub(crate) answerer: Arc<Answerer>,
    pub(crate) stage: Option<Stage>,
}

/// One model's route.
pub(crate) struct Route {
    pub(crate) spec: Option<ModelSpec>,
    pub(crate) primary: Arc<Served>,
    /// Versions sharing the requests, each with the upper bound of its share in [0, 1].
    pub(crate) split: Vec<(f64, Arc<Served>)>,
    pub(crate) shadow: Option<Arc<Served>>,
    turn: AtomicU64,
}

impl Route {
    pub(crate) fn fixed(answerer: Answerer) -> Self {
        let primary = Arc::new(Served { answerer: Arc::new(answerer), stage: None });
        Self { spec: None, primary, split: Vec::new(), shadow: None, turn: AtomicU64::new(0) }
    }

    /// The version that answers the next request: by weight when the requests are split (an even spread, so
    /// any run of requests is shared as the weights say), else the primary.
    pub(crate) fn pick(&self) -> &Arc<Served> {
        if self.split.is_empty() {
            return &self.primary;
        }
        let x = (self.turn.fetch_add(1, Ordering::Relaxed) as f64 * GOLDEN).fract();
        self.split.iter().find(|(bound, _)| x < *bound).map_or(&self.primary, |(_, s)| s)
    }

    /// Every version loaded for this route: the primary, those sharing requests, the shadow.
    pub(crate) fn loaded(&self) -> Vec<&Arc<Served>> {
        let mut all = vec![&self.primary];
        for (_, s) in &self.split {
            if !all.iter().any(|a| a.answerer.version == s.answerer.version) {
                all.push(s);
            }
        }
        all.extend(&self.shadow);
        all
    }

    /// The loaded version `version`.
    pub(crate) fn version(&self, version: i64) -> Option<&Arc<Served>> {
        self.loaded().into_iter().find(|s| s.answerer.version == Some(version))
    }

    /// The route as `GET /models` lists it.
    pub(crate) fn describe(&self, name: &str) -> Json {
        let mut shares = Vec::new();
        let mut below = 0.0;
        for (bound, s) in &self.split {
            shares.push(json!({"version": s.answerer.version, "share": bound - below}));
            below = *bound;
        }
        json!({
            "name": name,
            "follows": self.spec.as_ref().map(ToString::to_string),
            "version": self.primary.answerer.version,
            "stage": self.primary.stage.map(Stage::as_str),
            "split": shares,
            "shadow": self.shadow.as_ref().map(|s| s.answerer.version),
            "task": self.primary.answerer.package.manifest.task,
        })
    }
}

/// Every route, by model name.
pub(crate) type Routes = BTreeMap<String, Arc<Route>>;

/// What a route should serve now, as read from the registry.
#[derive(Clone, PartialEq)]
struct Wanted {
    primary: (i64, Stage),
    split: Vec<(i64, f64)>,
    shadow: Option<i64>,
}

impl Wanted {
    fn read(spec: &ModelSpec, versions: &[ModelVersion], traffic: Option<&Traffic>) -> Result<Self, String> {
        let primary = spec.pick(versions)?;
        // A pinned version is served alone; a followed stage takes the registry's split and shadow.
        let traffic = match spec.follow {
            Follow::Stage(_) => traffic.cloned().unwrap_or_default(),
            Follow::Version(_) => Traffic::default(),
        };
        let exists = |v: i64| versions.iter().any(|m| m.version == v);
        Ok(Self {
            primary: (primary.version, primary.stage),
            split: traffic.split.into_iter().filter(|&(v, _)| exists(v)).collect(),
            shadow: traffic.shadow.filter(|&v| exists(v) && v != primary.version),
        })
    }
}

/// Loaded versions by (model, version), reused while they stay in the registry as they were.
type Loaded = HashMap<(String, i64), Arc<Answerer>>;

fn load(store: &Store, loaded: &mut Loaded, version: &ModelVersion) -> Result<Arc<Answerer>, String> {
    let key = (version.name.clone(), version.version);
    if let Some(a) = loaded.get(&key) {
        return Ok(a.clone());
    }
    let package = package_of(store, version)?;
    let answerer =
        Arc::new(Answerer { name: version.name.clone(), version: Some(version.version), package: Arc::new(package) });
    loaded.insert(key, answerer.clone());
    Ok(answerer)
}

fn build(
    store: &Store,
    loaded: &mut Loaded,
    spec: &ModelSpec,
    versions: &[ModelVersion],
    wanted: &Wanted,
) -> Result<Route, String> {
    let served = |loaded: &mut Loaded, number: i64| -> Result<Arc<Served>, String> {
        let version = versions.iter().find(|v| v.version == number).ok_or_else(|| format!("no version {number}"))?;
        Ok(Arc::new(Served { answerer: load(store, loaded, version)?, stage: Some(version.stage) }))
    };
    let primary = served(loaded, wanted.primary.0)?;
    let total: f64 = wanted.split.iter().map(|(_, w)| w).sum();
    let mut split = Vec::new();
    let mut bound = 0.0;
    for &(version, weight) in &wanted.split {
        bound += weight / total;
        split.push((bound, served(loaded, version)?));
    }
    if let Some(last) = split.last_mut() {
        last.0 = 1.0;
    }
    let shadow = wanted.shadow.map(|v| served(loaded, v)).transpose()?;
    Ok(Route { spec: Some(spec.clone()), primary, split, shadow, turn: AtomicU64::new(0) })
}

/// Follows the registry for an endpoint.
pub(crate) struct Watcher {
    store: Store,
    specs: Vec<ModelSpec>,
    wanted: Vec<Option<Wanted>>,
    loaded: Loaded,
    log: Log,
}

impl Watcher {
    /// Opens the project's registry and builds the first routes: every model must be found, else the error
    /// names what exists.
    pub(crate) fn open(options: &RegistryOptions, log: Log) -> Result<(Self, Routes), String> {
        let path = pipewright_store::store_path(&options.project);
        if !path.exists() {
            return Err(format!(
                "{} has no project store ({}): run a workflow and register a model there first",
                options.project.display(),
                path.display()
            ));
        }
        if options.models.is_empty() {
            return Err("name the models to serve: --model NAME[@production|@staging|@VERSION]".into());
        }
        let store = Store::open(&path).map_err(|e| e.to_string())?;
        let mut watcher = Self {
            store,
            specs: options.models.clone(),
            wanted: vec![None; options.models.len()],
            loaded: Loaded::new(),
            log,
        };
        let mut routes = Routes::new();
        let traffic = watcher.store.all_traffic().map_err(|e| e.to_string())?;
        for (i, spec) in watcher.specs.clone().iter().enumerate() {
            if routes.contains_key(&spec.name) {
                return Err(format!("model \"{}\" is named twice: serve each model once", spec.name));
            }
            let versions = versions_of(&watcher.store, &spec.name)?;
            let wanted = Wanted::read(spec, &versions, traffic.get(&spec.name))?;
            let route = build(&watcher.store, &mut watcher.loaded, spec, &versions, &wanted)?;
            routes.insert(spec.name.clone(), Arc::new(route));
            watcher.wanted[i] = Some(wanted);
        }
        Ok((watcher, routes))
    }

    /// Reads the registry once and swaps in the routes that changed. A change that cannot be served (the
    /// stage left empty, a package that cannot be read) keeps the route as it is and is logged.
    pub(crate) fn poll(&mut self, routes: &RwLock<Arc<Routes>>) {
        let traffic = match self.store.all_traffic() {
            Ok(t) => t,
            Err(e) => return (self.log)(&format!("cannot read the registry: {e}")),
        };
        for i in 0..self.specs.len() {
            let spec = self.specs[i].clone();
            let wanted = versions_of(&self.store, &spec.name)
                .and_then(|versions| Wanted::read(&spec, &versions, traffic.get(&spec.name)).map(|w| (versions, w)));
            let (versions, wanted) = match wanted {
                Ok(found) => found,
                Err(e) => {
                    if self.wanted[i].is_some() {
                        (self.log)(&format!("{spec}: {e}; still serving what was loaded"));
                        self.wanted[i] = None;
                    }
                    continue;
                }
            };
            if self.wanted[i].as_ref() == Some(&wanted) {
                continue;
            }
            match build(&self.store, &mut self.loaded, &spec, &versions, &wanted) {
                Ok(route) => {
                    let before =
                        routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&spec.name).cloned();
                    let mut next = routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().clone();
                    let message = change_message(&spec, before.as_deref(), &route);
                    next.insert(spec.name.clone(), Arc::new(route));
                    *routes.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
                    (self.log)(&message);
                    self.wanted[i] = Some(wanted);
                }
                Err(e) => (self.log)(&format!("{spec}: cannot load the new version ({e}); still serving the old one")),
            }
        }
        // Forget versions no route uses any more.
        let current = routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        self.loaded.retain(|(name, version), _| {
            current.get(name).is_some_and(|r| r.loaded().iter().any(|s| s.answerer.version == Some(*version)))
        });
    }
}

fn change_message(spec: &ModelSpec, before: Option<&Route>, after: &Route) -> String {
    let version = |r: &Route| r.primary.answerer.version.map_or("-".into(), |v| v.to_string());
    let mut message = format!("{spec}: serving version {}", version(after));
    if let Some(before) = before
        && before.primary.answerer.version != after.primary.answerer.version
    {
        let _ = write!(message, " (was {})", version(before));
    }
    if !after.split.is_empty() {
        let mut below = 0.0;
        let shares: Vec<String> = after
            .split
            .iter()
            .map(|(bound, s)| {
                let share = format!("{} {:.0}%", s.answerer.version.unwrap_or_default(), 100.0 * (bound - below));
                below = *bound;
                share
            })
            .collect();
        let _ = write!(message, "; split {}", shares.join(", "));
    }
    if let Some(shadow) = &after.shadow {
        let _ = write!(message, "; version {} in the shadow", shadow.answerer.version.unwrap_or_default());
    }
    message
}
