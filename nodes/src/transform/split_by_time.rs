//! Split Data by time: the rows before a cut-off (to train on) and those at or after it (to test on), so a
//! model is tested on a later period than it learned from.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::json;

use pipewright_engine::spec::float;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv,
    Value,
};

use super::WARNING_ATTRIBUTE;
use crate::data::dates::parse_iso;
use crate::frame::take_rows;

/// Splits rows at a moment in time.
pub struct SplitDataByTime;

impl SplitDataByTime {
    /// The kind id.
    pub const ID: &'static str = "transform.split_by_time";
}

/// A date or datetime column's moments in microseconds since 1970 (dates at midnight).
pub(crate) fn moments(column: &Column) -> Result<Vec<Option<i64>>, NodeError> {
    match column.dtype() {
        DataType::Date => Ok(column.date()?.physical().iter().map(|d| d.map(|d| i64::from(d) * 86_400_000_000)).collect()),
        DataType::Datetime(unit, _) => {
            let per_micro = match unit {
                TimeUnit::Nanoseconds => 1_000,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => return Ok(column.datetime()?.physical().iter().map(|v| v.map(|v| v * 1_000)).collect()),
            };
            Ok(column.datetime()?.physical().iter().map(|v| v.map(|v| v.div_euclid(per_micro))).collect())
        }
        other => Err(NodeError::param(
            "column",
            format!("column \"{}\" holds {other}, not dates or times: choose a date column (Import Data reads ISO dates as dates)", column.name()),
        )),
    }
}

/// The rows before and at-or-after the cut-off, each in table order, and the rows without a time.
fn split_rows(times: &[Option<i64>], cutoff: i64) -> (Vec<usize>, Vec<usize>, usize) {
    let (mut before, mut after, mut missing) = (Vec::new(), Vec::new(), 0);
    for (row, time) in times.iter().enumerate() {
        match time {
            Some(t) if *t < cutoff => before.push(row),
            Some(_) => after.push(row),
            None => missing += 1,
        }
    }
    (before, after, missing)
}

/// The cut-off that leaves `fraction` of the timed rows before it: the time of the first row after them in time
/// order (rows of the same time stay together, after it).
fn cutoff_at_fraction(times: &[Option<i64>], fraction: f64) -> Option<i64> {
    let mut sorted: Vec<i64> = times.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let at = (sorted.len() as f64 * fraction).round() as usize;
    // Every row before: a cut-off just after the last.
    if at >= sorted.len() { sorted.last().map(|t| t + 1) } else { sorted.get(at).copied() }
}

impl NodeKind for SplitDataByTime {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Split Data by Time",
            Category::Transform,
            "Splits the rows at a moment in time: those before the cut-off in the first output (to train on), those at or after it in the second (to test on), each in table order. With no cut-off, the earliest fraction of the rows goes first. Rows without a time are left out, with a warning.",
        )
        .input("data", PortType::Table, "The table")
        .required_param("column", "Time column", ParamKind::Column { port: "data" }, "A Date or Datetime column.")
        .param("cutoff", "Cut-off", ParamKind::Text, json!(""), "The first moment of the second part, as 2024-01-01 or 2024-01-01T12:00:00 (UTC); empty: by the fraction below.")
        .param("fraction", "Fraction before", float(0.0, 1.0), json!(0.8), "With no cut-off: the share of the rows, earliest first, that goes to the first part.")
        .passes_rows_through()
        .output("before", PortType::Table, "The rows before the cut-off")
        .output("after", PortType::Table, "The rows at or after the cut-off")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let schema = inputs.first().cloned().flatten();
        vec![schema.clone(), schema]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let name = ctx.params.column("column")?;
        let column = table.frame.column(name).map_err(|_| NodeError::param("column", format!("no column \"{name}\" in the table")))?;
        let times = moments(column)?;
        let cutoff = match ctx.params.text("cutoff")?.trim() {
            "" => cutoff_at_fraction(&times, ctx.params.float("fraction")?)
                .ok_or_else(|| NodeError::data(format!("column \"{name}\" has no times to split at")))?,
            text => parse_iso(text).map(crate::data::dates::Moment::micros).ok_or_else(|| {
                NodeError::param("cutoff", format!("\"{text}\" is not a date or time: write it as 2024-01-01 or 2024-01-01T12:00:00"))
            })?,
        };
        let (before, after, missing) = split_rows(&times, cutoff);
        let part = |rows: &[usize]| -> Result<Value, NodeError> {
            let mut out = take_rows(&table, rows)?;
            if missing > 0 {
                out.attributes.insert(WARNING_ATTRIBUTE.into(), json!(format!("{missing} rows without a time in \"{name}\" were left out")));
            }
            Ok(Value::Table(Arc::new(out)))
        };
        Ok(vec![part(&before)?, part(&after)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_and_after_a_cutoff_or_a_fraction() {
        let day = |d: i64| Some(d * 86_400_000_000);
        let times = [day(3), day(1), None, day(2), day(2), day(5)];
        assert_eq!(split_rows(&times, 2 * 86_400_000_000), (vec![1], vec![0, 3, 4, 5], 1));
        // Half of five timed rows, 2.5 rounded to 3: days 1, 2 and 2 come first, day 3 starts the second part.
        assert_eq!(cutoff_at_fraction(&times, 0.5), day(3));
        assert_eq!(cutoff_at_fraction(&times, 0.2), day(2));
        assert_eq!(cutoff_at_fraction(&times, 1.0), day(5).map(|t| t + 1));
        assert_eq!(cutoff_at_fraction(&[None], 0.5), None);
        let frame = df!("x" => [1, 2]).expect("frame");
        let err = moments(frame.column("x").expect("x")).expect_err("refused").to_string();
        assert!(err.contains("not dates or times"), "{err}");
    }
}
