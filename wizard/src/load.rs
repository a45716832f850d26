//! Reads the data the way the generated workflow will: by running its data block.

use std::path::Path;

use pipewright_engine::{Catalog, NodeStatus, RunOptions, Table, Value, Workflow};

use crate::{DataSource, WizardError};

/// Reads a data source, relative paths against `base_dir`, with the block the starter workflow will use.
pub fn load(source: &DataSource, base_dir: &Path, catalog: &Catalog) -> Result<Table, WizardError> {
    let mut workflow = Workflow::new("wizard data");
    workflow.nodes.push(source.node());
    let options = RunOptions { base_dir: base_dir.to_path_buf(), ..RunOptions::default() };
    let report = pipewright_engine::run(&workflow, catalog, &options, &|_| {})
        .map_err(|e| WizardError::Data(e.to_string().replace("the workflow is invalid:\n  - ", "")))?;
    let outcome = report.node("data").ok_or_else(|| WizardError::Data("the data block did not run".into()))?;
    match (&outcome.status, outcome.outputs.first()) {
        (NodeStatus::Finished | NodeStatus::Cached { .. }, Some(Value::Table(table))) => Ok((**table).clone()),
        (NodeStatus::Failed(why) | NodeStatus::Skipped(why), _) => Err(WizardError::Data(why.clone())),
        _ => Err(WizardError::Data("the data block gave no table".into())),
    }
}
