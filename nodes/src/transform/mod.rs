//! Transform blocks: cleaning, reshaping and feature engineering. Blocks that learn something from
//! their input (fill values, scaling, categories) also output a fitted `Transform` that Apply
//! Transformation replays on other data.

mod apply_transform;
mod clean_missing;
mod edit_metadata;
mod indicator;
mod normalize;
mod pca;
mod select_columns;
mod split;

use std::sync::Arc;

use pipewright_engine::{NodeError, Table, Transform, Value};

pub use apply_transform::ApplyTransformation;
pub use clean_missing::CleanMissingData;
pub use edit_metadata::EditMetadata;
pub use indicator::ConvertToIndicatorValues;
pub use normalize::NormalizeData;
pub use pca::PrincipalComponentAnalysis;
pub use select_columns::SelectColumns;
pub use split::{SplitData, split_indices};

/// Replays a fitted transform on a table.
pub fn apply(transform: &Transform, table: &Table) -> Result<Table, NodeError> {
    match transform.kind.as_str() {
        clean_missing::ID => clean_missing::apply(transform, table),
        normalize::ID => normalize::apply(transform, table),
        indicator::ID => indicator::apply(transform, table),
        pca::ID => pca::apply(transform, table),
        other => Err(NodeError::data(format!("this Pipewright cannot apply a \"{other}\" transform"))),
    }
}

/// The outputs of a block that fits a transform: the transformed table, then the fitted transform.
pub(crate) fn fitted_outputs<S: serde::Serialize>(
    kind: &str,
    name: &str,
    state: &S,
    table: Table,
) -> Result<Vec<Value>, NodeError> {
    let state =
        serde_json::to_value(state).map_err(|e| NodeError::data(format!("cannot store the fitted {name}: {e}")))?;
    let transform = Transform { kind: kind.to_owned(), name: name.to_owned(), state };
    Ok(vec![Value::Table(Arc::new(table)), Value::Transform(Arc::new(transform))])
}

/// The fitted state of a transform.
pub(crate) fn fitted_state<S: serde::de::DeserializeOwned>(transform: &Transform) -> Result<S, NodeError> {
    serde_json::from_value(transform.state.clone()).map_err(|e| {
        NodeError::data(format!(
            "the {} transform is unreadable ({e}): run the block that fitted it again",
            transform.name
        ))
    })
}

/// The columns a transform works on: the listed ones (which must exist), or `default` when none are listed.
pub fn chosen_columns(
    table: &Table,
    listed: Vec<String>,
    default: impl FnOnce(&Table) -> Vec<String>,
) -> Result<Vec<String>, NodeError> {
    if listed.is_empty() {
        return Ok(default(table));
    }
    crate::frame::require_columns(&table.frame, &listed)?;
    Ok(listed)
}
