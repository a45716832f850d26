//! Extract Date Parts: numbers a learner can use, from Date and Datetime columns.

use std::collections::BTreeSet;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Schema, SchemaEnv, Table, UtcTime, Value,
};

use super::split_by_time::moments;
use super::{ColumnUse, MissingCells, Reads, Replay, TransformState};
use crate::data::dates::parse_iso;

/// Adds year, month, day, weekday, hour, day of year, weekend and elapsed-day columns.
pub struct ExtractDateParts;

impl ExtractDateParts {
    /// The kind id.
    pub const ID: &'static str = "transform.extract_date_parts";
}

/// Microseconds in a day.
const DAY: i64 = 86_400_000_000;

/// The parts, in output order: parameter (and column suffix), and what it is.
const PARTS: [(&str, &str); 8] = [
    ("year", "Year"),
    ("month", "Month (1–12)"),
    ("day", "Day of the month"),
    ("weekday", "Weekday (Monday 0 … Sunday 6)"),
    ("hour", "Hour (0–23; 0 for Date columns)"),
    ("day_of_year", "Day of the year (1–366)"),
    ("is_weekend", "Is weekend (Saturday or Sunday)"),
    ("elapsed_days", "Elapsed days since the reference date"),
];

/// The value of one part for a moment (microseconds since 1970, UTC); `None` for missing.
fn part(name: &str, micros: i64, reference: i64) -> f64 {
    let days = micros.div_euclid(DAY);
    let civil = UtcTime::from_unix(days * 86_400);
    // 1970-01-01 was a Thursday (3 with Monday as 0).
    let weekday = (days + 3).rem_euclid(7);
    match name {
        "year" => civil.year as f64,
        "month" => civil.month as f64,
        "day" => civil.day as f64,
        "weekday" => weekday as f64,
        "hour" => (micros.rem_euclid(DAY) / 3_600_000_000) as f64,
        "day_of_year" => {
            let first = crate::data::dates::days_from_civil(civil.year, 1, 1).map_or(0, i64::from);
            (days - first + 1) as f64
        }
        "is_weekend" => f64::from(u8::from(weekday >= 5)),
        _ => (micros - reference) as f64 / DAY as f64,
    }
}

/// The fitted step: which columns, which parts, from when elapsed days count, and whether the dates stay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    columns: Vec<String>,
    parts: Vec<String>,
    /// Microseconds since 1970-01-01 UTC.
    reference: i64,
    keep: bool,
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        match self.parts.iter().find(|p| !PARTS.iter().any(|(name, _)| name == p)) {
            Some(unknown) => Err(format!("unknown date part \"{unknown}\"")),
            None => Ok(()),
        }
    }
}

/// A column's moments: a Date or Datetime column's, or ISO 8601 text's (what a package's caller sends).
fn moments_of(column: &Column) -> Result<Vec<Option<i64>>, NodeError> {
    let Ok(texts) = column.str() else { return moments(column) };
    texts
        .iter()
        .enumerate()
        .map(|(row, value)| match value.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(text) => parse_iso(text).map(|m| Some(m.micros())).ok_or_else(|| {
                NodeError::data(format!(
                    "column \"{}\", row {}: \"{text}\" is not an ISO 8601 date (YYYY-MM-DD, with a time: YYYY-MM-DDTHH:MM:SS)",
                    column.name(),
                    row + 1
                ))
            }),
        })
        .collect()
}

/// The table with the chosen parts of each date column added after it.
fn replay(state: &State, table: &Table) -> Result<Table, NodeError> {
    let mut out: Vec<Column> = Vec::new();
    for column in table.frame.columns() {
        let name = column.name().to_string();
        if !state.columns.contains(&name) {
            out.push(column.clone());
            continue;
        }
        let times = moments_of(column)?;
        if state.keep {
            out.push(column.clone());
        }
        for p in &state.parts {
            let values: Vec<Option<f64>> = times.iter().map(|t| t.map(|t| part(p, t, state.reference))).collect();
            let new = format!("{name}_{p}");
            out.push(match p.as_str() {
                "elapsed_days" => Column::new(new.into(), values),
                "is_weekend" => Column::new(new.into(), values.iter().map(|v| v.map(|x| x > 0.5)).collect::<Vec<_>>()),
                _ => Column::new(new.into(), values.iter().map(|v| v.map(|x| x as i32)).collect::<Vec<_>>()),
            });
        }
    }
    if let Some(missing) = state.columns.iter().find(|c| table.frame.column(c).is_err()) {
        return Err(NodeError::data(format!("no column \"{missing}\" to take the date parts of")));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = out.iter().map(|c| c.name().to_string()).find(|n| !seen.insert(n.clone())) {
        return Err(NodeError::data(format!("the table already has a column \"{twice}\": rename it first (Edit Metadata)")));
    }
    Ok(table.with_frame(DataFrame::new(table.frame.height(), out)?))
}

impl Replay for ExtractDateParts {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table)
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        state
            .columns
            .iter()
            .map(|c| {
                let mut outputs: Vec<String> = state.parts.iter().map(|p| format!("{c}_{p}")).collect();
                if state.keep {
                    outputs.push(c.clone());
                }
                // A package's caller sends the date as ISO 8601 text; a missing one stays missing in every part.
                ColumnUse { column: c.clone(), reads: Reads::Text, missing: MissingCells::PassedOn, outputs }
            })
            .collect()
    }

    fn restricted(&self, state: &State, keep: &BTreeSet<String>) -> Option<State> {
        let mut state = state.clone();
        state.columns.retain(|c| keep.contains(c));
        Some(state)
    }
}

impl NodeKind for ExtractDateParts {
    fn spec(&self) -> NodeSpec {
        let mut spec = NodeSpec::new(
            Self::ID,
            "Extract Date Parts",
            Category::Transform,
            "Adds numeric columns made from Date and Datetime columns, named COLUMN_PART: year, month, day, weekday (Monday 0, as pandas' dayofweek), hour, day of the year, is-weekend and elapsed days since a reference date, all in UTC. Learners cannot use a date itself; they can use its parts.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Date columns", ParamKind::ColumnList { port: "data" }, json!([]), "The Date and Datetime columns to take apart; empty: every one.");
        for (name, label) in PARTS {
            spec = spec.param(name, label, ParamKind::Bool, json!(true), "Adds this part.");
        }
        spec.param("reference", "Reference date", ParamKind::Text, json!("1970-01-01"), "Elapsed days count from this date (or date and time, UTC), as 2020-01-01.")
            .param("keep", "Keep the date columns", ParamKind::Bool, json!(true), "Off: the date columns are replaced by their parts.")
            .output("data", PortType::Table, "The table with the parts added")
            .output("transform", PortType::Transform, "The same extraction, to apply to other data (and replayed by model packages, which take the dates as ISO 8601 text)")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let Some(schema) = inputs.first().cloned().flatten() else { return vec![None, None] };
        let chosen = params.columns("columns");
        let parts: Vec<&str> = PARTS.iter().map(|(p, _)| *p).filter(|p| params.bool(p).unwrap_or(false)).collect();
        let keep = params.bool("keep").unwrap_or(true);
        let mut columns = Vec::new();
        for info in schema.columns {
            let taken = info.ty == ColumnType::Date && (chosen.is_empty() || chosen.contains(&info.name));
            if !taken {
                columns.push(info);
                continue;
            }
            for p in &parts {
                let ty = if *p == "is_weekend" { ColumnType::Bool } else { ColumnType::Numeric };
                columns.push(ColumnInfo { name: format!("{}_{p}", info.name), ty, role: Role::default() });
            }
            if keep {
                let at = columns.len() - parts.len();
                columns.insert(at, info);
            }
        }
        vec![Some(Schema { columns }), None]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let state = fit(&table, ctx.params)?;
        let out = replay(&state, &table)?;
        super::fitted_outputs(Self::ID, "Extract Date Parts", state, out)
    }
}

/// The state the parameters ask for on this table.
fn fit(table: &Table, params: &Params) -> Result<State, NodeError> {
    let dates: Vec<String> = table
        .frame
        .columns()
        .iter()
        .filter(|c| ColumnType::of(c.dtype()) == ColumnType::Date)
        .map(|c| c.name().to_string())
        .collect();
    let chosen = params.columns("columns");
    let columns = if chosen.is_empty() {
        if dates.is_empty() {
            return Err(NodeError::data("the table has no Date or Datetime column (Import Data reads ISO 8601 dates as dates; set its date format for others)"));
        }
        dates
    } else {
        chosen
    };
    let parts: Vec<&str> = PARTS.iter().map(|(p, _)| *p).filter(|p| params.bool(p).unwrap_or(false)).collect();
    if parts.is_empty() {
        return Err(NodeError::param("year", "switch on at least one part to extract"));
    }
    let text = params.text("reference")?;
    let reference = parse_iso(text)
        .map(crate::data::dates::Moment::micros)
        .ok_or_else(|| NodeError::param("reference", format!("\"{text}\" is not a date: write it as 2020-01-01")))?;
    for name in &columns {
        if table.frame.column(name).is_err() {
            return Err(NodeError::param("columns", format!("no column \"{name}\" in the table")));
        }
    }
    let parts = parts.into_iter().map(str::to_owned).collect();
    Ok(State { columns, parts, reference, keep: params.bool("keep")? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dates::{moment_column, parse_iso};

    #[test]
    fn parts_of_known_days() {
        // 2024-02-29 was a Thursday, the 60th day of a leap year; 2023-12-31 a Sunday, day 365.
        let leap = parse_iso("2024-02-29T13:45:00").expect("parses").micros();
        let reference = parse_iso("2024-01-01").expect("parses").micros();
        let of = |p| part(p, leap, reference);
        assert_eq!([of("year"), of("month"), of("day"), of("weekday"), of("hour"), of("day_of_year"), of("is_weekend")], [2024.0, 2.0, 29.0, 3.0, 13.0, 60.0, 0.0]);
        assert!((of("elapsed_days") - (59.0 + 13.75 / 24.0)).abs() < 1e-12);
        let sunday = parse_iso("2023-12-31").expect("parses").micros();
        assert_eq!([part("weekday", sunday, 0), part("day_of_year", sunday, 0), part("is_weekend", sunday, 0)], [6.0, 365.0, 1.0]);
        let before_1970 = parse_iso("1969-12-31").expect("parses").micros();
        assert_eq!([part("year", before_1970, 0), part("weekday", before_1970, 0)], [1969.0, 2.0]);
    }

    #[test]
    fn adds_named_columns_after_each_date_column() {
        let moments = [parse_iso("2026-01-03"), None];
        let frame = DataFrame::new(2, vec![moment_column("day", &moments), Column::new("x".into(), [1, 2])]).expect("frame");
        let table = Table::new(frame);
        let state = State {
            columns: vec!["day".into()],
            parts: ["year", "weekday", "hour", "is_weekend"].map(String::from).to_vec(),
            reference: 0,
            keep: false,
        };
        let out = replay(&state, &table).expect("extracts");
        let names: Vec<String> = out.frame.get_column_names().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["day_year", "day_weekday", "day_hour", "day_is_weekend", "x"]);
        assert_eq!(out.frame.column("day_weekday").expect("weekday").i32().expect("i32").get(0), Some(5));
        assert_eq!(out.frame.column("day_is_weekend").expect("weekend").bool().expect("bool").get(1), None);
        // What a package's caller sends: the same day as text.
        let sent = Table::new(df!("day" => ["2026-01-03"], "x" => [1]).expect("frame"));
        let replayed = replay(&state, &sent).expect("replays");
        assert_eq!(replayed.frame.column("day_weekday").expect("weekday").i32().expect("i32").get(0), Some(5));
        let err = replay(&state, &Table::new(df!("day" => ["03/01/2026"]).expect("frame"))).expect_err("refused");
        assert!(err.to_string().contains("row 1: \"03/01/2026\" is not an ISO 8601 date"), "{err}");
    }
}
