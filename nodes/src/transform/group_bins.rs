//! Group Data into Bins.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::{choice, int};
use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Schema, SchemaEnv, Value,
};

use super::chosen_columns;
use super::rows::{quantile, sorted_present};
use crate::frame::{numeric_feature_columns, numeric_values};

/// Replaces numbers by the index of the bin they fall in.
pub struct GroupDataIntoBins;

impl GroupDataIntoBins {
    /// The kind id.
    pub const ID: &'static str = "transform.group_data_into_bins";
}

/// Bin edges as pandas computes them: `cut` (equal width, the lowest edge lowered by 0.1 % of the
/// range) or `qcut` (quantiles, repeated edges dropped).
pub(crate) fn edges(sorted: &[f64], bins: usize, quantiles: bool) -> Vec<f64> {
    let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else { return Vec::new() };
    if quantiles {
        let mut edges: Vec<f64> = (0..=bins).filter_map(|i| quantile(sorted, linspace(0.0, 1.0, bins, i))).collect();
        edges.dedup();
        return edges;
    }
    if min == max {
        let (lo, hi) = if min == 0.0 { (-0.001, 0.001) } else { (min - 0.001 * min.abs(), max + 0.001 * max.abs()) };
        return (0..=bins).map(|i| linspace(lo, hi, bins, i)).collect();
    }
    let mut edges: Vec<f64> = (0..=bins).map(|i| linspace(min, max, bins, i)).collect();
    edges[0] -= (max - min) * 0.001;
    edges
}

/// numpy's `linspace(start, stop, bins + 1)[i]`.
fn linspace(start: f64, stop: f64, bins: usize, i: usize) -> f64 {
    if i == bins {
        return stop;
    }
    let step = (stop - start) / bins as f64;
    start + i as f64 * step
}

/// The 0-based bin of `x` among right-closed intervals `(e[k], e[k+1]]`, the lowest edge included.
pub(crate) fn bin_of(edges: &[f64], x: f64) -> Option<i64> {
    let below = edges.partition_point(|e| *e < x);
    match below {
        0 if edges.first() == Some(&x) => Some(0),
        0 => None,
        k if k == edges.len() => None,
        k => i64::try_from(k - 1).ok(),
    }
}

impl NodeKind for GroupDataIntoBins {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Group Data into Bins",
            Category::Transform,
            "Puts the numbers of each chosen column into bins and outputs the 0-based bin index, like pandas' cut (equal width, right-closed bins, the range widened by 0.1 % at the bottom) or qcut (quantile bins with linear interpolation; repeated edges merge bins). Missing cells stay missing.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "Numeric columns to bin; empty bins every numeric feature column.")
        .param("method", "Binning mode", choice(&["equal_width", "quantile"]), json!("quantile"), "equal_width: bins of the same width between the minimum and maximum; quantile: bins holding about the same number of rows.")
        .param("bins", "Number of bins", int(2, 1000), json!(10), "How many bins (quantile bins may merge when values repeat).")
        .param("output", "Output", choice(&["replace", "append"]), json!("replace"), "replace: the bin index replaces the column; append: a new column named column_bin.")
        .output("data", PortType::Table, "The table with bin indices")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let Some(Some(schema)) = inputs.first() else { return vec![None] };
        if params.text("output").ok() != Some("append") {
            return vec![Some(schema.clone())];
        }
        let listed = params.columns("columns");
        if listed.is_empty() {
            return vec![None];
        }
        let mut out = schema.clone();
        out.columns.extend(listed.iter().map(|n| ColumnInfo {
            name: format!("{n}_bin"),
            ty: ColumnType::Numeric,
            role: Role::Feature,
        }));
        vec![Some(out)]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let columns = chosen_columns(&table, ctx.params.columns("columns"), numeric_feature_columns)?;
        let quantiles = ctx.params.text("method")? == "quantile";
        let bins = ctx.params.count("bins")?;
        let append = ctx.params.text("output")? == "append";
        let mut frame = table.frame.clone();
        for name in &columns {
            let values = numeric_values(&table.frame, name)?;
            if values.iter().flatten().any(|v| v.is_infinite()) {
                return Err(NodeError::data(format!(
                    "column \"{name}\" has infinite values, which no bin can hold: clip them with Clip Values first"
                )));
            }
            let sorted = sorted_present(&values);
            if sorted.is_empty() {
                return Err(NodeError::data(format!(
                    "column \"{name}\" has no values to bin (the table has {} rows)",
                    table.height()
                )));
            }
            let edges = edges(&sorted, bins, quantiles);
            let index: Vec<Option<i64>> = values.iter().map(|v| v.and_then(|x| bin_of(&edges, x))).collect();
            let out_name = if append { format!("{name}_bin") } else { name.clone() };
            frame.with_column(Column::new(out_name.into(), index))?;
        }
        let mut out = table.with_frame(frame);
        if !append {
            // Bin indices are ordered categories.
            out.categorical.extend(columns);
        }
        Ok(vec![Value::Table(Arc::new(out))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_width_edges_follow_pandas_cut() {
        let e = edges(&[0.0, 5.0, 10.0], 2, false);
        assert_eq!(e, [-0.01, 5.0, 10.0]);
        assert_eq!(bin_of(&e, 0.0), Some(0));
        assert_eq!(bin_of(&e, 5.0), Some(0), "right-closed");
        assert_eq!(bin_of(&e, 5.1), Some(1));
    }

    #[test]
    fn quantile_edges_include_the_lowest_value() {
        let e = edges(&[1.0, 2.0, 3.0, 4.0, 5.0], 4, true);
        assert_eq!(e, [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(bin_of(&e, 1.0), Some(0));
        assert_eq!(bin_of(&e, 5.0), Some(3));
    }
}
