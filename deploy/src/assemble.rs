//! A model package from a run: the model a block trained, and the fitted transforms on the way back from its
//! data to the raw rows, taken from the values of a run — the designer's last run, or a run recorded in the
//! project store, so `pipewright package` can package a block headless.

use std::collections::BTreeMap;
use std::sync::Arc;

use pipewright_engine::{Catalog, Category, Report, Table, Transform, Value, Workflow};
use pipewright_nodes::deploy::{Package, PackageInfo, Source};
use pipewright_store::{Store, StoreError};

/// Why a package could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// The block has no trained model output.
    #[error("block \"{0}\" does not train a model: package a Train Model block")]
    NotAModel(String),
    /// The run does not hold a value the package needs.
    #[error("{0}")]
    NotRun(String),
    /// The package itself was refused.
    #[error(transparent)]
    Package(#[from] pipewright_engine::NodeError),
}

/// A package and notes for the user on what it does not include.
#[derive(Debug)]
pub struct Assembled {
    /// The package, ready to write.
    pub package: Package,
    /// What the package does not replay, or where its metrics are missing.
    pub notes: Vec<String>,
}

/// The values of one run: each node's outputs by port name.
pub trait RunValues {
    /// The value on a node's output port, if the run produced (or recorded) it.
    fn output(&self, node: &str, port: &str) -> Option<Value>;
}

/// The value of an output port from a node's outputs listed in port order.
pub fn output_by_port(
    catalog: &Catalog,
    workflow: &Workflow,
    node: &str,
    port: &str,
    outputs: &[Value],
) -> Option<Value> {
    let kind = &workflow.node(node)?.kind;
    let (index, _) = catalog.get(kind)?.spec.output_port(port)?;
    outputs.get(index).cloned()
}

/// A package of the model trained by `node`: the fitted transforms on the way back from its data to the raw
/// rows, in the order they were applied, and the evaluation of its scores when an Evaluate Model scores it.
pub fn assemble(
    workflow: &Workflow,
    catalog: &Catalog,
    values: &dyn RunValues,
    node: &str,
    source: Source,
) -> Result<Assembled, AssembleError> {
    let spec_of = |id: &str| workflow.node(id).and_then(|n| catalog.get(&n.kind)).map(|e| e.spec.clone());
    let not_run = || AssembleError::NotRun("run the workflow first, then package the model".to_owned());
    if spec_of(node).and_then(|s| s.output_port("model").map(|_| ())).is_none() {
        return Err(AssembleError::NotAModel(node.to_owned()));
    }
    let Some(Value::Model(model)) = values.output(node, "model") else { return Err(not_run()) };
    let title = |id: &str| {
        workflow.node(id).map_or_else(String::new, |n| {
            n.title.clone().unwrap_or_else(|| spec_of(id).map_or(n.kind.clone(), |s| s.name.to_owned()))
        })
    };
    let fits = |id: &str| spec_of(id).is_some_and(|s| s.output_port("transform").is_some());
    let mut steps: Vec<Transform> = Vec::new();
    // The table entering the earliest transform found; the training table until one is. A recorded run keeps
    // only small tables, so it may be unknown: the package then has no example request.
    let mut raw: Option<Arc<Table>> = None;
    let mut notes = Vec::new();
    let mut current = node.to_owned();
    while let Some(edge) = workflow.edge_into(&current, "data") {
        let from = edge.from.node.clone();
        let entering = match values.output(&from, &edge.from.port) {
            Some(Value::Table(t)) => Some(t),
            _ => None,
        };
        if fits(&current) {
            let Some(Value::Transform(t)) = values.output(&current, "transform") else { return Err(not_run()) };
            steps.insert(0, (*t).clone());
            raw = entering;
        } else if current == node {
            raw = entering;
        }
        let Some(spec) = spec_of(&from) else { break };
        if fits(&from) || spec.passes_rows_through {
            current = from;
            continue;
        }
        if spec.category != Category::Data {
            notes.push(format!("{} is not replayed by the package: send rows as they leave it", title(&from)));
        }
        break;
    }
    let report = evaluation_of(workflow, catalog, values, node);
    if report.is_none() {
        notes.push("no Evaluate Model block scores this model: the package has no metrics".into());
    }
    if raw.is_none() {
        notes.push("the raw rows are not in the run: the package has no example request".into());
    }
    let info = PackageInfo { name: model.name.clone(), report: report.as_deref(), data: raw.as_deref(), source };
    let package = Package::build(&model, &steps, &info)?;
    Ok(Assembled { package, notes })
}

/// The report of a block that reports metrics, fed by a block that scores with `node`'s model.
fn evaluation_of(workflow: &Workflow, catalog: &Catalog, values: &dyn RunValues, node: &str) -> Option<Arc<Report>> {
    let reports_metrics =
        |id: &str| workflow.node(id).and_then(|n| catalog.get(&n.kind)).is_some_and(|e| e.spec.reports_metrics);
    let scorers = workflow.edges.iter().filter(|e| e.from.node == node && e.from.port == "model").map(|e| &e.to.node);
    scorers.flat_map(|s| workflow.edges.iter().filter(move |e| &e.from.node == s)).find_map(|e| {
        if !reports_metrics(&e.to.node) {
            return None;
        }
        match values.output(&e.to.node, "report") {
            Some(Value::Report(r)) => Some(r),
            _ => None,
        }
    })
}

/// The values a run recorded in the project store: models, transforms, reports and small tables.
pub struct RecordedRun {
    values: BTreeMap<(String, String), Value>,
}

impl RecordedRun {
    /// Reads the values run `run` recorded.
    pub fn read(store: &Store, run: i64) -> Result<Self, StoreError> {
        let mut values = BTreeMap::new();
        for link in store.artifacts_of(run)? {
            let bytes = store.read_artifact(&link.hash)?;
            if let Some(value) = pipewright_store::value_of_artifact(&link.kind, &bytes) {
                values.insert((link.node, link.port), value);
            }
        }
        Ok(Self { values })
    }
}

impl RunValues for RecordedRun {
    fn output(&self, node: &str, port: &str) -> Option<Value> {
        self.values.get(&(node.to_owned(), port.to_owned())).cloned()
    }
}
