//! Transform blocks: cleaning, reshaping and feature engineering. Blocks that learn something from
//! their input (fill values, scaling, categories) also output a fitted `Transform` that Apply
//! Transformation replays on other data.

mod add_columns;
mod add_rows;
mod apply_math;
mod apply_sql;
mod apply_transform;
mod clean_missing;
mod clip_values;
mod edit_metadata;
mod feature_selection;
mod filter_expr;
mod filter_rows;
mod group_bins;
mod group_by;
mod indicator;
mod join_data;
mod normalize;
mod partition_sample;
mod pca;
mod remove_duplicates;
mod rows;
mod select_columns;
mod smote;
mod split;
mod summarize_data;

use std::sync::Arc;

use pipewright_engine::{NodeError, Table, Transform, Value};

pub use add_columns::AddColumns;
pub use add_rows::AddRows;
pub use apply_math::ApplyMathOperation;
pub use apply_sql::ApplySqlTransformation;
pub use apply_transform::ApplyTransformation;
pub use clean_missing::CleanMissingData;
pub use clip_values::ClipValues;
pub use edit_metadata::EditMetadata;
pub use feature_selection::FilterBasedFeatureSelection;
pub use filter_rows::{FilterRows, WARNING_ATTRIBUTE};
pub use group_bins::GroupDataIntoBins;
pub use group_by::GroupBy;
pub use indicator::ConvertToIndicatorValues;
pub use join_data::JoinData;
pub use normalize::NormalizeData;
pub use partition_sample::PartitionAndSample;
pub use pca::PrincipalComponentAnalysis;
pub use remove_duplicates::RemoveDuplicateRows;
pub use select_columns::SelectColumns;
pub use smote::Smote;
pub use split::{SplitData, split_indices};
pub use summarize_data::SummarizeData;

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

/// The kind of value a fitted transform reads from a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// Numbers.
    Number,
    /// Text of any value.
    Text,
    /// One of these categories, as text.
    Category(Vec<String>),
    /// Anything: the transform only looks at whether the cell is missing.
    Any,
}

/// What a fitted transform does with a missing cell of a column it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingCells {
    /// It becomes a value later steps can use (a fill value, all-zero indicators).
    Filled,
    /// It stays missing for the next step.
    PassedOn,
    /// The row is removed.
    RowRemoved,
    /// It is encoded as "none of the categories" (all-zero indicators): later steps accept it, but the
    /// model never saw it in training, so a package asks for a value.
    Encoded,
}

/// How a fitted transform uses one input column: what it reads and which columns it writes from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnUse {
    /// The column read.
    pub column: String,
    /// What it must hold.
    pub reads: Reads,
    /// What happens to its missing cells.
    pub missing: MissingCells,
    /// The columns written from it (the same name when it is replaced in place); empty when it is removed.
    pub outputs: Vec<String>,
}

/// The columns a fitted transform reads and writes, one entry per column it reads. Model packages use it to
/// work out the input fields of a whole pipeline.
pub fn column_uses(transform: &Transform) -> Result<Vec<ColumnUse>, NodeError> {
    match transform.kind.as_str() {
        clean_missing::ID => clean_missing::column_uses(transform),
        normalize::ID => normalize::column_uses(transform),
        indicator::ID => indicator::column_uses(transform),
        pca::ID => pca::column_uses(transform),
        other => Err(NodeError::data(format!("this Pipewright cannot apply a \"{other}\" transform"))),
    }
}

/// The same fitted transform working on the `keep` columns only (of those it reads), so that data without the
/// others can pass through it. A transform that reads its columns together (PCA) keeps them all.
pub fn restricted(transform: &Transform, keep: &std::collections::BTreeSet<String>) -> Result<Transform, NodeError> {
    match transform.kind.as_str() {
        clean_missing::ID => clean_missing::restricted(transform, keep),
        normalize::ID => normalize::restricted(transform, keep),
        indicator::ID => indicator::restricted(transform, keep),
        pca::ID => Ok(transform.clone()),
        other => Err(NodeError::data(format!("this Pipewright cannot apply a \"{other}\" transform"))),
    }
}

/// The transform with a new fitted state.
fn with_state<S: serde::Serialize>(transform: &Transform, state: &S) -> Result<Transform, NodeError> {
    let state = serde_json::to_value(state)
        .map_err(|e| NodeError::data(format!("cannot store the fitted {}: {e}", transform.name)))?;
    Ok(Transform { state, ..transform.clone() })
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
