//! Clip Values.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::{choice, float};
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Value,
};

use super::chosen_columns;
use super::rows::{quantile, sorted_present};
use crate::frame::{numeric_feature_columns, numeric_values};

/// Limits numbers to a range.
pub struct ClipValues;

impl ClipValues {
    /// The kind id.
    pub const ID: &'static str = "transform.clip_values";
}

impl NodeKind for ClipValues {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Clip Values",
            Category::Transform,
            "Replaces numbers below a lower bound by the bound and numbers above an upper bound by that bound, in each chosen column: bounds given as values or as percentiles of the column (linear interpolation, as pandas' quantile). Missing cells stay missing; integer columns stay integers when every clipped value is whole.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "Numeric columns to clip; empty clips every numeric feature column.")
        .param("bounds", "Bounds are", choice(&["value", "percentile"]), json!("percentile"), "value: the bounds are numbers; percentile: they are percentiles (0 to 100) of each column.")
        .param("clip_lower", "Clip low values", ParamKind::Bool, json!(true), "Off: no lower bound.")
        .param("lower", "Lower bound", float(f64::MIN, f64::MAX), json!(1.0), "The lower value, or the lower percentile (0 to 100).")
        .param("clip_upper", "Clip high values", ParamKind::Bool, json!(true), "Off: no upper bound.")
        .param("upper", "Upper bound", float(f64::MIN, f64::MAX), json!(99.0), "The upper value, or the upper percentile (0 to 100).")
        .output("data", PortType::Table, "The table with clipped values")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        vec![inputs.first().cloned().flatten()]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let columns = chosen_columns(&table, ctx.params.columns("columns"), numeric_feature_columns)?;
        let percentile = ctx.params.text("bounds")? == "percentile";
        let lower = ctx.params.bool("clip_lower")?.then(|| ctx.params.float("lower")).transpose()?;
        let upper = ctx.params.bool("clip_upper")?.then(|| ctx.params.float("upper")).transpose()?;
        for (name, bound) in [("lower", lower), ("upper", upper)] {
            if percentile && bound.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
                return Err(NodeError::param(name, "a percentile lies between 0 and 100"));
            }
        }
        if let (Some(l), Some(u)) = (lower, upper)
            && l > u
        {
            return Err(NodeError::param("lower", format!("the lower bound {l} is above the upper bound {u}")));
        }
        let mut frame = table.frame.clone();
        for name in &columns {
            let values = numeric_values(&table.frame, name)?;
            let (lo, hi) = if percentile {
                let sorted = sorted_present(&values);
                (lower.and_then(|p| quantile(&sorted, p / 100.0)), upper.and_then(|p| quantile(&sorted, p / 100.0)))
            } else {
                (lower, upper)
            };
            let clipped: Vec<Option<f64>> = values
                .iter()
                .map(|v| v.map(|x| hi.map_or(x, |h| x.min(h))).map(|x| lo.map_or(x, |l| x.max(l))))
                .collect();
            let original = table.frame.column(name)?.dtype().clone();
            let whole = clipped.iter().flatten().all(|x| x.fract() == 0.0);
            let mut column = Column::new(name.as_str().into(), clipped);
            if original.is_integer() && whole {
                column = column.cast(&original)?;
            }
            frame.with_column(column)?;
        }
        Ok(vec![Value::Table(Arc::new(table.with_frame(frame)))])
    }
}
