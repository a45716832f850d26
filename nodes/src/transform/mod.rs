//! Transform blocks: cleaning, reshaping and feature engineering. Blocks that learn something from
//! their input (fill values, scaling, categories) also output a fitted `Transform` that Apply
//! Transformation replays on other data.

mod filter_expr;
mod rows;

blocks! {
    block select_columns::SelectColumns,
    block edit_metadata::EditMetadata,
    transform clean_missing::CleanMissingData,
    transform normalize::NormalizeData,
    transform pca::PrincipalComponentAnalysis,
    block feature_selection::FilterBasedFeatureSelection,
    transform indicator::ConvertToIndicatorValues,
    block split::SplitData,
    block apply_transform::ApplyTransformation,
    block apply_sql::ApplySqlTransformation,
    block add_columns::AddColumns,
    block add_rows::AddRows,
    block join_data::JoinData,
    block remove_duplicates::RemoveDuplicateRows,
    block group_bins::GroupDataIntoBins,
    block clip_values::ClipValues,
    block apply_math::ApplyMathOperation,
    block partition_sample::PartitionAndSample,
    block summarize_data::SummarizeData,
    block filter_rows::FilterRows,
    block group_by::GroupBy,
    block smote::Smote,
    block sort_rows::SortRows,
    block split_by_time::SplitDataByTime,
    transform date_parts::ExtractDateParts,
    transform ngrams::ExtractNGramFeatures,
    transform feature_hashing::FeatureHashing,
}

pub use filter_rows::WARNING_ATTRIBUTE;
pub use split::RowSampler;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use pipewright_engine::{Decoded, NodeError, Table, Transform, Value};

/// A fitted transform's state: serialized into the transform, decoded once when it is loaded, and checked.
pub(crate) trait TransformState: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// What is wrong with the state, if anything; say which part is damaged.
    fn check(&self) -> Result<(), String>;
}

/// What a block that fits preprocessing produces: a fitted transform that Apply Transformation and model
/// packages replay on other data. The kind implements it in its own file and is registered with one line.
pub(crate) trait Replay: Sync {
    /// The fitted state.
    type State: TransformState;

    /// Replays the fitted state on a table.
    fn apply(&self, state: &Self::State, table: &Table) -> Result<Table, NodeError>;

    /// The columns it reads and writes, one entry per column it reads.
    fn column_uses(&self, state: &Self::State) -> Vec<ColumnUse>;

    /// The same state working on the `keep` columns only (of those it reads); `None` when it reads its columns
    /// together and keeps them all (PCA).
    fn restricted(&self, state: &Self::State, keep: &BTreeSet<String>) -> Option<Self::State>;
}

/// A fitted transform's replay as packages and Apply Transformation call it, whatever its state type.
pub trait FittedTransform: Sync {
    /// Decodes and checks a transform's state, once: a damaged one is refused here.
    fn load(&self, transform: &Transform) -> Result<(), NodeError>;
    /// Replays it on a table.
    fn apply(&self, transform: &Transform, table: &Table) -> Result<Table, NodeError>;
    /// The columns it reads and writes.
    fn column_uses(&self, transform: &Transform) -> Result<Vec<ColumnUse>, NodeError>;
    /// The same transform working on the `keep` columns only.
    fn restricted(&self, transform: &Transform, keep: &BTreeSet<String>) -> Result<Transform, NodeError>;
}

impl<R: Replay> FittedTransform for R {
    fn load(&self, transform: &Transform) -> Result<(), NodeError> {
        fitted::<R::State>(transform).map(drop)
    }

    fn apply(&self, transform: &Transform, table: &Table) -> Result<Table, NodeError> {
        Replay::apply(self, &*fitted::<R::State>(transform)?, table)
    }

    fn column_uses(&self, transform: &Transform) -> Result<Vec<ColumnUse>, NodeError> {
        Ok(Replay::column_uses(self, &*fitted::<R::State>(transform)?))
    }

    fn restricted(&self, transform: &Transform, keep: &BTreeSet<String>) -> Result<Transform, NodeError> {
        match Replay::restricted(self, &*fitted::<R::State>(transform)?, keep) {
            Some(state) => fitted_transform(&transform.kind, &transform.name, state),
            None => Ok(transform.clone()),
        }
    }
}

/// The replay of a fitted transform's kind, or an error saying this build lacks it.
fn replay_of(transform: &Transform) -> Result<&'static dyn FittedTransform, NodeError> {
    crate::registry::registry()
        .fitted_transform(&transform.kind)
        .ok_or_else(|| NodeError::data(format!("this Pipewright cannot apply a \"{}\" transform", transform.kind)))
}

/// Replays a fitted transform on a table.
pub fn apply(transform: &Transform, table: &Table) -> Result<Table, NodeError> {
    replay_of(transform)?.apply(transform, table)
}

/// Decodes and checks a fitted transform before it is used: a damaged one is refused here, naming what is wrong.
pub fn load(transform: &Transform) -> Result<(), NodeError> {
    replay_of(transform)?.load(transform)
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
    replay_of(transform)?.column_uses(transform)
}

/// The same fitted transform working on the `keep` columns only (of those it reads), so that data without the
/// others can pass through it. A transform that reads its columns together (PCA) keeps them all.
pub fn restricted(transform: &Transform, keep: &BTreeSet<String>) -> Result<Transform, NodeError> {
    replay_of(transform)?.restricted(transform, keep)
}

/// The fitted state of a transform, decoded from its JSON the first time and checked, then shared.
fn fitted<S: TransformState>(transform: &Transform) -> Result<Arc<S>, NodeError> {
    transform.decoded.get_or_decode(|| {
        let state: S = serde_json::from_value(transform.state.clone()).map_err(|e| {
            NodeError::data(format!(
                "the {} transform is unreadable ({e}): run the block that fitted it again",
                transform.name
            ))
        })?;
        state.check().map_err(|problem| {
            NodeError::data(format!(
                "the {} transform is damaged: {problem}; run the block that fitted it again",
                transform.name
            ))
        })?;
        Ok(state)
    })
}

/// A fitted transform holding `state`, serialized and decoded.
fn fitted_transform<S: TransformState>(kind: &str, name: &str, state: S) -> Result<Transform, NodeError> {
    let json =
        serde_json::to_value(&state).map_err(|e| NodeError::data(format!("cannot store the fitted {name}: {e}")))?;
    Ok(Transform { kind: kind.to_owned(), name: name.to_owned(), state: json, decoded: Decoded::holding(state) })
}

/// The outputs of a block that fits a transform: the transformed table, then the fitted transform.
pub(crate) fn fitted_outputs<S: TransformState>(
    kind: &str,
    name: &str,
    state: S,
    table: Table,
) -> Result<Vec<Value>, NodeError> {
    let transform = fitted_transform(kind, name, state)?;
    Ok(vec![Value::Table(Arc::new(table)), Value::Transform(Arc::new(transform))])
}

/// The outputs of a block that fitted a transform on a streamed table: the stream with the transform applied to
/// each batch as it passes (roles from applying it to the first row), then the fitted transform.
pub(crate) fn fitted_stream_outputs<S: TransformState>(
    kind: &str,
    name: &str,
    state: S,
    stream: &pipewright_engine::TableStream,
) -> Result<Vec<Value>, NodeError> {
    let transform = Arc::new(fitted_transform(kind, name, state)?);
    let replayed = transform.clone();
    let out = stream.map_tables(move |table| apply(&replayed, table))?;
    Ok(vec![Value::Stream(Arc::new(out)), Value::Transform(transform)])
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
