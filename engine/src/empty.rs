//! Tables without rows: each one remembers the block where it became empty, and a block that fails on such a
//! table says so, naming that block, instead of blaming a column of a table that has none to give.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::error::NodeError;
use crate::spec::NodeSpec;
use crate::value::Value;

/// The table attribute naming the block where a table without rows became empty (`Filter Rows "filter"`).
pub const EMPTIED_BY_ATTRIBUTE: &str = "empty.emptied_by";

/// The block's outputs, each table without rows marked with the block it became empty at: the block named
/// by an input table without rows, else this block. Tables with rows lose the mark.
pub(crate) fn mark_emptied(values: Vec<Value>, inputs: &[Option<Value>], spec: &NodeSpec, node: &str) -> Vec<Value> {
    let inherited = inputs.iter().flatten().find_map(|v| match v {
        Value::Table(t) if t.height() == 0 => t.attributes.get(EMPTIED_BY_ATTRIBUTE).and_then(Json::as_str),
        _ => None,
    });
    let here = || format!("{} \"{node}\"", spec.name);
    values
        .into_iter()
        .map(|value| match value {
            Value::Table(table) if table.height() == 0 => {
                let by = inherited.map_or_else(here, str::to_owned);
                if table.attributes.get(EMPTIED_BY_ATTRIBUTE).and_then(Json::as_str) == Some(by.as_str()) {
                    return Value::Table(table);
                }
                let mut marked = (*table).clone();
                marked.attributes.insert(EMPTIED_BY_ATTRIBUTE.into(), Json::String(by));
                Value::Table(Arc::new(marked))
            }
            Value::Table(table) if table.attributes.contains_key(EMPTIED_BY_ATTRIBUTE) => {
                let mut unmarked = (*table).clone();
                unmarked.attributes.remove(EMPTIED_BY_ATTRIBUTE);
                Value::Table(Arc::new(unmarked))
            }
            other => other,
        })
        .collect()
}

/// A data or input error of a block that received a table without rows, told as that: the table is empty, and
/// where it became so. Other errors are kept as they are.
pub(crate) fn explain(error: NodeError, inputs: &[Option<Value>], spec: &NodeSpec) -> NodeError {
    if !matches!(error, NodeError::Data(_) | NodeError::Input { .. }) {
        return error;
    }
    let empty = spec.inputs.iter().zip(inputs).find_map(|(port, value)| match value {
        Some(Value::Table(t)) if t.height() == 0 => Some((port.name, t.attributes.get(EMPTIED_BY_ATTRIBUTE))),
        _ => None,
    });
    let Some((port, by)) = empty else { return error };
    let message = match by.and_then(Json::as_str) {
        Some(by) => format!(
            "the table has no rows: it became empty at {by}; change that block (its condition, query, split or file) so that some rows remain"
        ),
        None => "the table has no rows: give this block a table with rows".to_owned(),
    };
    NodeError::Input { port: port.to_owned(), message }
}
