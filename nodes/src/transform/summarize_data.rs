//! Summarize Data.

use std::collections::HashSet;
use std::sync::Arc;

use polars::prelude::*;

use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Role, Schema,
    SchemaEnv, Table, Value,
};

use super::rows::{quantile, sorted_present};
use crate::frame::{numeric_values, text_values};

/// One row of statistics per column.
pub struct SummarizeData;

impl SummarizeData {
    /// The kind id.
    pub const ID: &'static str = "transform.summarize_data";
}

/// The statistics columns after `column`, `count`, `missing` and `unique`.
const STATISTICS: [&str; 8] = ["mean", "std", "min", "25%", "50%", "75%", "max", "type"];

/// mean, std (ddof 1), min, quartiles and max of present numbers, as pandas' describe.
fn numeric_statistics(values: &[Option<f64>]) -> [Option<f64>; 7] {
    let sorted = sorted_present(values);
    if sorted.is_empty() {
        return [None; 7];
    }
    let n = sorted.len() as f64;
    let mean = values.iter().flatten().sum::<f64>() / n;
    let std = (sorted.len() > 1)
        .then(|| (values.iter().flatten().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    [
        Some(mean),
        std,
        sorted.first().copied(),
        quantile(&sorted, 0.25),
        quantile(&sorted, 0.5),
        quantile(&sorted, 0.75),
        sorted.last().copied(),
    ]
}

/// A count as a column value.
fn as_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn summarize(table: &Table) -> Result<DataFrame, NodeError> {
    let names: Vec<String> = table.frame.get_column_names().iter().map(ToString::to_string).collect();
    let mut counts = Vec::new();
    let mut missing = Vec::new();
    let mut unique = Vec::new();
    let mut stats: Vec<Vec<Option<f64>>> = vec![Vec::new(); 7];
    let mut types = Vec::new();
    for name in &names {
        let column = table.frame.column(name)?;
        let ty = ColumnType::of(column.dtype());
        let texts = text_values(&table.frame, name)?;
        let (present, row) = if ty == ColumnType::Numeric {
            let values = numeric_values(&table.frame, name)?;
            let distinct: HashSet<u64> = values.iter().flatten().map(|v| v.to_bits()).collect();
            unique.push(as_count(distinct.len()));
            (values.iter().flatten().count(), numeric_statistics(&values))
        } else {
            let distinct: HashSet<&str> = texts.iter().flatten().map(String::as_str).collect();
            unique.push(as_count(distinct.len()));
            (texts.iter().flatten().count(), [None; 7])
        };
        counts.push(as_count(present));
        missing.push(as_count(table.height() - present));
        for (column, value) in stats.iter_mut().zip(row) {
            column.push(value);
        }
        types.push(match ty {
            ColumnType::Numeric => "numeric",
            ColumnType::Bool => "bool",
            ColumnType::Text => "text",
            ColumnType::Date => "date",
            ColumnType::Other => "other",
        });
    }
    let mut columns = vec![
        Column::new("column".into(), names),
        Column::new("count".into(), counts),
        Column::new("missing".into(), missing),
        Column::new("unique".into(), unique),
    ];
    columns.extend(stats.into_iter().zip(STATISTICS).map(|(v, name)| Column::new(name.into(), v)));
    columns.push(Column::new("type".into(), types));
    Ok(DataFrame::new(table.frame.width(), columns)?)
}

impl NodeKind for SummarizeData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Summarize Data",
            Category::Transform,
            "One row per column of the input with the count of present cells, missing cells, distinct values, and for numeric columns the mean, sample standard deviation, minimum, quartiles (linear interpolation) and maximum, as pandas' describe; and the column's type.",
        )
        .input("data", PortType::Table, "The table")
        .output("data", PortType::Table, "One row of statistics per column")
    }

    fn output_schemas(
        &self,
        _inputs: &[Option<Schema>],
        _params: &Params,
        _env: &SchemaEnv<'_>,
    ) -> Vec<Option<Schema>> {
        let column = |name: &str, ty| ColumnInfo { name: name.into(), ty, role: Role::Feature };
        let mut columns = vec![column("column", ColumnType::Text)];
        columns.extend(["count", "missing", "unique"].iter().map(|n| column(n, ColumnType::Numeric)));
        columns.extend(STATISTICS[..7].iter().map(|n| column(n, ColumnType::Numeric)));
        columns.push(column("type", ColumnType::Text));
        vec![Some(Schema { columns })]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        Ok(vec![Value::Table(Arc::new(Table::new(summarize(&table)?)))])
    }
}
