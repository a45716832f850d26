//! Join Data.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Value,
};

use super::rows::{column_names, common_type, row_keys, take_optional, unique_name};
use crate::frame::require_columns;

/// Matches the rows of two tables on key columns.
pub struct JoinData;

impl JoinData {
    /// The kind id.
    pub const ID: &'static str = "transform.join_data";
}

/// Pairs of matching rows: every left row with each of its right matches in right order (an
/// unmatched left row once, with `None`, unless `inner`), then for a full outer join the unmatched
/// right rows in right order. Missing keys never match.
/// Most rows a join may produce: many-to-many keys can multiply a table beyond memory.
const MAX_ROWS: usize = 50_000_000;

/// How many (left, right) row pairs have equal keys, counted without building them.
fn matched_pairs(left: &[Option<String>], right: &[Option<String>]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for key in right.iter().flatten() {
        *counts.entry(key.as_str()).or_default() += 1;
    }
    left.iter().flatten().map(|k| counts.get(k.as_str()).copied().unwrap_or(0)).sum()
}

pub(crate) fn match_rows(
    left: &[Option<String>],
    right: &[Option<String>],
    how: &str,
) -> Vec<(Option<usize>, Option<usize>)> {
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, key) in right.iter().enumerate() {
        if let Some(key) = key {
            by_key.entry(key).or_default().push(j);
        }
    }
    let mut matched_right = vec![false; right.len()];
    let mut pairs = Vec::new();
    for (i, key) in left.iter().enumerate() {
        match key.as_deref().and_then(|k| by_key.get(k)) {
            Some(rows) => {
                for &j in rows {
                    matched_right[j] = true;
                    pairs.push((Some(i), Some(j)));
                }
            }
            None if how != "inner" => pairs.push((Some(i), None)),
            None => {}
        }
    }
    if how == "full_outer" {
        pairs.extend(matched_right.iter().enumerate().filter(|(_, m)| !**m).map(|(j, _)| (None, Some(j))));
    }
    pairs
}

/// Keys with a missing cell become `None`.
fn keys(frame: &DataFrame, columns: &[String], types: &[DataType]) -> Result<Vec<Option<String>>, NodeError> {
    let texts = row_keys(frame, columns, Some(types))?;
    let mut missing = vec![false; frame.height()];
    for name in columns {
        for (m, null) in missing.iter_mut().zip(frame.column(name)?.is_null().iter()) {
            *m |= null.unwrap_or(false);
        }
    }
    Ok(texts.into_iter().zip(missing).map(|(k, m)| (!m).then_some(k)).collect())
}

/// The right key columns: as chosen, or the left key names when none are chosen.
fn right_keys(params: &Params) -> Vec<String> {
    let right = params.columns("right_keys");
    if right.is_empty() { params.columns("left_keys") } else { right }
}

/// Output names of the right table's columns that are kept (right keys named like their left key drop out).
fn right_output(
    left_names: &[String],
    right_names: &[String],
    left_keys: &[String],
    right_keys: &[String],
    suffix: &str,
) -> Vec<(String, String)> {
    let mut taken: HashSet<String> = left_names.iter().cloned().collect();
    right_names
        .iter()
        .filter(|n| !right_keys.iter().zip(left_keys).any(|(r, l)| r == *n && l == *n))
        .map(|n| (n.clone(), unique_name(n, suffix, &mut taken)))
        .collect()
}

impl NodeKind for JoinData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Join Data",
            Category::Transform,
            "Matches rows of two tables whose key columns are equal: inner keeps matched rows, left keeps every left row, full outer keeps every row of both. Output rows follow the left table, each with its matches in right-table order; a full outer join then adds the unmatched right rows. Missing keys never match. A right key named like its left key appears once; other clashing right columns get a suffix.",
        )
        .input("left", PortType::Table, "The left table")
        .input("right", PortType::Table, "The right table")
        .param("left_keys", "Left key columns", ParamKind::ColumnList { port: "left" }, json!([]), "The columns of the left table to match on (at least one).")
        .param("right_keys", "Right key columns", ParamKind::ColumnList { port: "right" }, json!([]), "The matching columns of the right table, in the same order; empty uses the left key names.")
        .param("join_type", "Join type", choice(&["inner", "left", "full_outer"]), json!("inner"), "inner: matched rows only; left: every left row; full_outer: every row of both tables.")
        .param("suffix", "Suffix for clashing names", ParamKind::Text, json!("_right"), "Added to a right column whose name the left table already uses.")
        .output("data", PortType::Table, "The joined table")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let (Some(Some(left)), Some(Some(right))) = (inputs.first(), inputs.get(1)) else { return vec![None] };
        let names = right_output(
            &left.names(),
            &right.names(),
            &params.columns("left_keys"),
            &right_keys(params),
            params.text("suffix").unwrap_or("_right"),
        );
        let mut columns = left.columns.clone();
        for (old, new) in names {
            if let Some(c) = right.column(&old) {
                let mut c = c.clone();
                c.name = new;
                columns.push(c);
            }
        }
        vec![Some(Schema { columns })]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let left = ctx.table("left")?;
        let right = ctx.table("right")?;
        let left_keys = ctx.params.columns("left_keys");
        let right_keys = right_keys(ctx.params);
        if left_keys.is_empty() {
            return Err(NodeError::param("left_keys", "choose at least one key column"));
        }
        if left_keys.len() != right_keys.len() {
            return Err(NodeError::param(
                "right_keys",
                format!(
                    "{} left key columns but {} right ones: choose as many of each",
                    left_keys.len(),
                    right_keys.len()
                ),
            ));
        }
        require_columns(&left.frame, &left_keys).map_err(|e| NodeError::param("left_keys", e.to_string()))?;
        require_columns(&right.frame, &right_keys).map_err(|e| NodeError::param("right_keys", e.to_string()))?;
        let mut types = Vec::with_capacity(left_keys.len());
        for (l, r) in left_keys.iter().zip(&right_keys) {
            types.push(common_type(left.frame.column(l)?.dtype(), right.frame.column(r)?.dtype()));
        }
        let how = ctx.params.text("join_type")?;
        let (left_values, right_values) =
            (keys(&left.frame, &left_keys, &types)?, keys(&right.frame, &right_keys, &types)?);
        let matches = matched_pairs(&left_values, &right_values);
        if matches > MAX_ROWS {
            return Err(NodeError::param(
                "left_keys",
                format!(
                    "these keys match {matches} pairs of rows, more than the {MAX_ROWS} a join may produce: keys repeat on both sides; remove duplicates (Remove Duplicate Rows) or aggregate (Group By) first"
                ),
            ));
        }
        let pairs = match_rows(&left_values, &right_values, how);
        ctx.check_cancelled()?;
        let left_rows: Vec<Option<usize>> = pairs.iter().map(|p| p.0).collect();
        let right_rows: Vec<Option<usize>> = pairs.iter().map(|p| p.1).collect();
        let mut frame = take_optional(&left.frame, &left_rows)?;
        let right_taken = take_optional(&right.frame, &right_rows)?;
        // A shared key column holds the right key where the left row is missing (full outer join).
        if how == "full_outer" {
            let from_left: BooleanChunked = left_rows.iter().map(|i| Some(i.is_some())).collect();
            for ((l, r), dtype) in left_keys.iter().zip(&right_keys).zip(&types) {
                if l != r {
                    continue;
                }
                let a = frame.column(l)?.cast(dtype)?.as_materialized_series().clone();
                let b = right_taken.column(r)?.cast(dtype)?.as_materialized_series().clone();
                frame.with_column(a.zip_with(&from_left, &b)?.into_column())?;
            }
        }
        let names = right_output(
            &column_names(&left.frame),
            &column_names(&right.frame),
            &left_keys,
            &right_keys,
            ctx.params.text("suffix")?,
        );
        let mut added = Vec::with_capacity(names.len());
        for (old, new) in &names {
            let mut column = right_taken.column(old)?.clone();
            column.rename(new.as_str().into());
            added.push(column);
        }
        let mut out = left.with_frame(frame.hstack(&added)?);
        for (old, new) in &names {
            if let Some(role) = right.roles.get(old) {
                out.roles.entry(new.clone()).or_insert(*role);
            }
            if right.categorical.contains(old) {
                out.categorical.insert(new.clone());
            }
        }
        Ok(vec![Value::Table(Arc::new(out))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn rows_pair_in_left_order_then_unmatched_right_rows() {
        let left = k(&[Some("a"), Some("b"), None, Some("a")]);
        let right = k(&[Some("a"), Some("c"), Some("a"), None]);
        assert_eq!(
            match_rows(&left, &right, "inner"),
            [(Some(0), Some(0)), (Some(0), Some(2)), (Some(3), Some(0)), (Some(3), Some(2))]
        );
        assert_eq!(match_rows(&left, &right, "left").len(), 6);
        let outer = match_rows(&left, &right, "full_outer");
        assert_eq!(&outer[outer.len() - 2..], [(None, Some(1)), (None, Some(3))]);
    }
}
