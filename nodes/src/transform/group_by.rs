//! Group By / Aggregate.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Schema, SchemaEnv, Table, Value,
};

use super::rows::row_keys;
use crate::frame::{numeric_values, require_columns, text_values};

/// One row per distinct key with statistics of other columns.
pub struct GroupBy;

impl GroupBy {
    /// The kind id.
    pub const ID: &'static str = "transform.group_by";
}

/// The aggregations, in output order, with the parameter that switches each on.
const AGGREGATIONS: [&str; 6] = ["count", "sum", "mean", "min", "max", "std"];

fn aggregations(params: &Params) -> Vec<&'static str> {
    AGGREGATIONS.into_iter().filter(|a| params.bool(a).unwrap_or(false)).collect()
}

/// The value columns: as chosen, or every numeric column that is not a key.
fn value_columns(listed: Vec<String>, keys: &[String], numeric: impl Iterator<Item = String>) -> Vec<String> {
    if listed.is_empty() { numeric.filter(|n| !keys.contains(n)).collect() } else { listed }
}

/// One aggregation of the present values of a group; `count` counts them.
fn aggregate(name: &str, values: &[f64]) -> Option<f64> {
    let n = values.len() as f64;
    match name {
        "count" => Some(n),
        // pandas: the sum of no values is 0.
        "sum" => Some(values.iter().sum()),
        _ if values.is_empty() => None,
        "mean" => Some(values.iter().sum::<f64>() / n),
        "min" => values.iter().copied().reduce(f64::min),
        "max" => values.iter().copied().reduce(f64::max),
        // Sample standard deviation (ddof = 1), as pandas.
        _ if values.len() < 2 => None,
        _ => {
            let mean = values.iter().sum::<f64>() / n;
            Some((values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
        }
    }
}

/// How a key column sorts: numbers numerically, anything else as text; missing cells last.
enum SortKey {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl SortKey {
    fn compare(&self, a: usize, b: usize) -> Ordering {
        fn nulls_last<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) => cmp(a, b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        match self {
            Self::Numbers(v) => nulls_last(v[a], v[b], |x, y| x.total_cmp(&y)),
            Self::Texts(v) => nulls_last(v[a].as_deref(), v[b].as_deref(), str::cmp),
        }
    }
}

fn group(table: &Table, keys: &[String], columns: &[String], aggs: &[&str]) -> Result<DataFrame, NodeError> {
    let row_key = row_keys(&table.frame, keys, None)?;
    let mut first_rows: Vec<usize> = Vec::new();
    let mut members: HashMap<&str, usize> = HashMap::new();
    let mut group_of = Vec::with_capacity(row_key.len());
    for (i, key) in row_key.iter().enumerate() {
        let g = *members.entry(key).or_insert_with(|| {
            first_rows.push(i);
            first_rows.len() - 1
        });
        group_of.push(g);
    }
    let sort_keys: Vec<SortKey> = keys
        .iter()
        .map(|k| {
            Ok(match ColumnType::of(table.frame.column(k)?.dtype()) {
                ColumnType::Numeric | ColumnType::Bool => SortKey::Numbers(numeric_values(&table.frame, k)?),
                _ => SortKey::Texts(text_values(&table.frame, k)?),
            })
        })
        .collect::<Result<_, NodeError>>()?;
    let mut order: Vec<usize> = (0..first_rows.len()).collect();
    order.sort_by(|&a, &b| {
        sort_keys.iter().map(|s| s.compare(first_rows[a], first_rows[b])).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
    });
    let sorted_first: Vec<usize> = order.iter().map(|&g| first_rows[g]).collect();
    let mut position = vec![0; order.len()];
    for (p, &g) in order.iter().enumerate() {
        position[g] = p;
    }
    let idx: IdxCa = sorted_first.iter().map(|&i| Some(i as IdxSize)).collect();
    let mut out = table.frame.select(keys.iter().map(String::as_str))?.take(&idx)?;
    for name in columns {
        let values = numeric_values(&table.frame, name)?;
        let mut groups: Vec<Vec<f64>> = vec![Vec::new(); order.len()];
        for (v, g) in values.iter().zip(&group_of) {
            if let Some(v) = v {
                groups[position[*g]].push(*v);
            }
        }
        for agg in aggs {
            let column_name = format!("{name}_{agg}");
            let column = if *agg == "count" {
                Column::new(
                    column_name.into(),
                    groups.iter().map(|g| i64::try_from(g.len()).unwrap_or(i64::MAX)).collect::<Vec<_>>(),
                )
            } else {
                Column::new(column_name.into(), groups.iter().map(|g| aggregate(agg, g)).collect::<Vec<_>>())
            };
            out.with_column(column)?;
        }
    }
    Ok(out)
}

impl NodeKind for GroupBy {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Group By / Aggregate",
            Category::Transform,
            "One row per distinct combination of the key columns, sorted by the keys (numbers numerically, text alphabetically, missing keys last as their own group), with the chosen statistics of each value column: count of present cells, sum, mean, min, max and sample standard deviation (ddof 1), as pandas' groupby with dropna=False. Output columns are named column_statistic.",
        )
        .input("data", PortType::Table, "The table")
        .param("keys", "Group by", ParamKind::ColumnList { port: "data" }, json!([]), "The key columns (at least one).")
        .param("columns", "Value columns", ParamKind::ColumnList { port: "data" }, json!([]), "Numeric columns to aggregate; empty aggregates every numeric column that is not a key.")
        .param("count", "Count", ParamKind::Bool, json!(true), "The number of present (not missing) cells.")
        .param("sum", "Sum", ParamKind::Bool, json!(false), "The sum of the present cells (0 when there are none).")
        .param("mean", "Mean", ParamKind::Bool, json!(true), "The mean of the present cells.")
        .param("min", "Minimum", ParamKind::Bool, json!(false), "The smallest present cell.")
        .param("max", "Maximum", ParamKind::Bool, json!(false), "The largest present cell.")
        .param("std", "Standard deviation", ParamKind::Bool, json!(false), "Sample standard deviation (ddof 1); missing for groups with fewer than two values.")
        .output("data", PortType::Table, "One row per group")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let Some(Some(schema)) = inputs.first() else { return vec![None] };
        let keys = params.columns("keys");
        let numeric = schema.columns.iter().filter(|c| c.ty == ColumnType::Numeric).map(|c| c.name.clone());
        let values = value_columns(params.columns("columns"), &keys, numeric);
        let mut columns: Vec<ColumnInfo> = keys.iter().filter_map(|k| schema.column(k).cloned()).collect();
        for name in &values {
            for agg in aggregations(params) {
                columns.push(ColumnInfo {
                    name: format!("{name}_{agg}"),
                    ty: ColumnType::Numeric,
                    role: Role::Feature,
                });
            }
        }
        vec![Some(Schema { columns })]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let keys = ctx.params.columns("keys");
        if keys.is_empty() {
            return Err(NodeError::param("keys", "choose at least one column to group by"));
        }
        require_columns(&table.frame, &keys).map_err(|e| NodeError::param("keys", e.to_string()))?;
        let numeric = table
            .frame
            .columns()
            .iter()
            .filter(|c| ColumnType::of(c.dtype()) == ColumnType::Numeric)
            .map(|c| c.name().to_string());
        let columns = value_columns(ctx.params.columns("columns"), &keys, numeric);
        require_columns(&table.frame, &columns).map_err(|e| NodeError::param("columns", e.to_string()))?;
        let aggs = aggregations(ctx.params);
        if aggs.is_empty() {
            return Err(NodeError::param("count", "switch on at least one statistic"));
        }
        let frame = group(&table, &keys, &columns, &aggs)?;
        Ok(vec![Value::Table(Arc::new(table.with_frame(frame)))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregations_follow_pandas_for_empty_and_single_groups() {
        assert_eq!(aggregate("sum", &[]), Some(0.0));
        assert_eq!(aggregate("mean", &[]), None);
        assert_eq!(aggregate("std", &[3.0]), None);
        assert_eq!(aggregate("std", &[1.0, 3.0]), Some(2f64.sqrt()));
    }
}
