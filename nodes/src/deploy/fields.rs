//! A package's input fields: worked out from the fitted steps and the model, described as JSON Schema, and
//! used to check and convert what a caller sends (JSON records, CSV text or a table) into the typed table the
//! steps expect. Every problem names the record and the field.

use std::collections::BTreeSet;
use std::fmt;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::{ColumnType, Model, NodeError, Table, Transform};

use crate::transform::{self, MissingCells, Reads};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A number.
    Number,
    /// Any text.
    Text,
    /// One of the field's categories.
    Category,
}

impl FieldType {
    /// The word shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Text => "text",
            Self::Category => "category",
        }
    }
}

/// One input field of a package: a column of the raw rows the pipeline starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether every record must have a value; the others are filled by the package's cleaning step.
    pub required: bool,
    /// The allowed values of a category field, as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// One problem with the input: which record (row, from 0) and which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The record (row) it concerns, from 0; none for a problem with a whole column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
    /// The field (column) it concerns; empty for a record that is not an object.
    pub field: String,
    /// What is wrong and what to send instead.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.record, self.field.is_empty()) {
            (Some(r), true) => write!(f, "record {r}: {}", self.message),
            (Some(r), false) => write!(f, "record {r}, field \"{}\": {}", self.field, self.message),
            (None, _) => write!(f, "field \"{}\": {}", self.field, self.message),
        }
    }
}

/// At most this many problems are reported for one input; the count of the rest is added.
pub const MAX_PROBLEMS: usize = 20;

/// Problems as one message: the first few, then how many more.
pub fn describe(problems: &[Problem]) -> String {
    join(&problems.iter().take(5).map(ToString::to_string).collect::<Vec<_>>(), problems.len())
}

/// Problems with the rows of a table as one message, rows counted from 1 as a spreadsheet does.
pub fn describe_rows(problems: &[Problem]) -> String {
    let row = |p: &Problem| match p.record {
        Some(r) => format!("row {}, column \"{}\": {}", r + 1, p.field, p.message),
        None => format!("column \"{}\": {}", p.field, p.message),
    };
    join(&problems.iter().take(5).map(row).collect::<Vec<_>>(), problems.len())
}

fn join(shown: &[String], total: usize) -> String {
    let more = total.saturating_sub(shown.len());
    let text = shown.join("; ");
    if more > 0 { format!("{text}; and {more} more") } else { text }
}

/// What one field needs, found while walking the steps backwards.
struct Need {
    name: String,
    reads: Reads,
    nullable: bool,
}

/// The fields the pipeline needs and the steps restricted to them. Walking from the model's features back
/// through the steps: a step's use of a column matters when it writes a needed column, and then the column it
/// reads is needed instead. What no step writes is read from the input as is.
pub(super) fn derive(model: &Model, steps: &[Transform]) -> Result<(Vec<Field>, Vec<Transform>), NodeError> {
    check_order(steps)?;
    let mut needed: Vec<Need> =
        model.features.iter().map(|f| Need { name: f.clone(), reads: Reads::Number, nullable: false }).collect();
    let mut restricted = Vec::with_capacity(steps.len());
    for step in steps.iter().rev() {
        let uses = transform::column_uses(step)?;
        let mut keep = BTreeSet::new();
        let mut read: Vec<Need> = Vec::new();
        let mut written: BTreeSet<&str> = BTreeSet::new();
        for u in &uses {
            let downstream: Vec<&Need> = needed.iter().filter(|n| u.outputs.contains(&n.name)).collect();
            if downstream.is_empty() {
                continue;
            }
            keep.insert(u.column.clone());
            written.extend(u.outputs.iter().map(String::as_str));
            // Replaced in place: what the later step needs of it still holds, unless this step reads more.
            let in_place = downstream.iter().find(|n| n.name == u.column);
            let reads = match (&u.reads, in_place) {
                (Reads::Category(c), _) => Reads::Category(c.clone()),
                (Reads::Any | Reads::Text, Some(later)) => later.reads.clone(),
                (reads, _) => reads.clone(),
            };
            let nullable = match u.missing {
                MissingCells::Filled => true,
                MissingCells::PassedOn => downstream.iter().all(|n| n.nullable),
                MissingCells::RowRemoved | MissingCells::Encoded => false,
            };
            read.push(Need { name: u.column.clone(), reads, nullable });
        }
        needed.retain(|n| !written.contains(n.name.as_str()));
        for r in read {
            match needed.iter_mut().find(|n| n.name == r.name) {
                // Kept beside its encoding: both uses must be satisfied.
                Some(n) => n.nullable &= r.nullable,
                None => needed.push(r),
            }
        }
        if !keep.is_empty() {
            restricted.push(transform::restricted(step, &keep)?);
        }
    }
    restricted.reverse();
    let fields = needed
        .into_iter()
        .map(|n| {
            let (ty, categories) = match n.reads {
                Reads::Number => (FieldType::Number, Vec::new()),
                Reads::Text | Reads::Any => (FieldType::Text, Vec::new()),
                Reads::Category(c) => (FieldType::Category, c),
            };
            Field { name: n.name, ty, required: !n.nullable, categories }
        })
        .collect();
    Ok((fields, restricted))
}

/// Refuses steps given out of order: a step that reads a column a later step creates.
fn check_order(steps: &[Transform]) -> Result<(), NodeError> {
    let uses = steps.iter().map(transform::column_uses).collect::<Result<Vec<_>, _>>()?;
    for (i, early) in uses.iter().enumerate() {
        for (j, late) in uses.iter().enumerate().skip(i + 1) {
            let created = late.iter().flat_map(|u| u.outputs.iter().filter(move |o| **o != u.column));
            if let Some(column) = created.clone().find(|c| early.iter().any(|u| &u.column == *c)) {
                return Err(NodeError::data(format!(
                    "{} (transform {}) reads \"{column}\", which {} (transform {}) creates: connect the transforms in the order they were applied",
                    steps[i].name,
                    i + 1,
                    steps[j].name,
                    j + 1
                )));
            }
        }
    }
    Ok(())
}

/// The input fields as a JSON Schema (2020-12) for one record.
pub fn json_schema(title: &str, fields: &[Field]) -> Json {
    let properties: serde_json::Map<String, Json> = fields
        .iter()
        .map(|f| {
            let mut property = match f.ty {
                FieldType::Number => {
                    json!({ "type": if f.required { json!("number") } else { json!(["number", "null"]) } })
                }
                FieldType::Text => {
                    json!({ "type": if f.required { json!("string") } else { json!(["string", "null"]) } })
                }
                FieldType::Category => {
                    let mut allowed: Vec<Json> = f.categories.iter().map(|c| json!(c)).collect();
                    if !f.required {
                        allowed.push(Json::Null);
                    }
                    json!({ "enum": allowed })
                }
            };
            let description = if f.required {
                format!("{} (required)", f.ty.as_str())
            } else {
                format!("{}; may be missing or null: the package fills it", f.ty.as_str())
            };
            property["description"] = json!(description);
            (f.name.clone(), property)
        })
        .collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.required).map(|f| f.name.as_str()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": true,
    })
}

/// One cell as a caller sent it.
#[derive(Clone, Copy)]
pub enum Cell<'a> {
    /// Absent or null.
    Missing,
    /// A JSON value.
    Json(&'a Json),
    /// Text, as from CSV, where numbers are written as text.
    Text(&'a str),
    /// A number read from a numeric column.
    Number(f64),
}

/// A converted value.
enum Converted {
    Number(f64),
    Text(String),
}

/// The value of one cell for a field, or what is wrong with it.
fn convert(field: &Field, cell: Cell<'_>) -> Result<Option<Converted>, String> {
    let cell = match cell {
        Cell::Json(Json::Null) => Cell::Missing,
        Cell::Text(t) if t.trim().is_empty() => Cell::Missing,
        other => other,
    };
    let value = match (field.ty, cell) {
        (_, Cell::Missing) if field.required => {
            return Err(format!("a value is required ({}); the model cannot fill it", describe_type(field)));
        }
        (_, Cell::Missing) => return Ok(None),
        (FieldType::Number, Cell::Number(x)) => Converted::Number(x),
        (_, Cell::Number(x)) => Converted::Text(x.to_string()),
        (FieldType::Number, Cell::Json(Json::Number(n))) => Converted::Number(n.as_f64().unwrap_or(f64::NAN)),
        (FieldType::Number, Cell::Json(Json::String(s))) => {
            return Err(format!("expected a number, got the text \"{s}\" (send numbers without quotes)"));
        }
        (FieldType::Number, Cell::Text(t)) => match t.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Converted::Number(x),
            _ => return Err(format!("expected a number, got \"{t}\"")),
        },
        (FieldType::Number, Cell::Json(other)) => return Err(format!("expected a number, got {}", kind_of(other))),
        (_, Cell::Json(Json::String(s))) => Converted::Text(s.clone()),
        (_, Cell::Text(t)) => Converted::Text(t.to_owned()),
        (_, Cell::Json(v @ (Json::Number(_) | Json::Bool(_)))) => Converted::Text(v.to_string()),
        (_, Cell::Json(other)) => return Err(format!("expected {}, got {}", describe_type(field), kind_of(other))),
    };
    if let (FieldType::Category, Converted::Text(t)) = (field.ty, &value)
        && !field.categories.contains(t)
    {
        return Err(format!("unknown category \"{t}\": expected one of {}", list(&field.categories)));
    }
    Ok(Some(value))
}

fn describe_type(field: &Field) -> String {
    match field.ty {
        FieldType::Number => "a number".into(),
        FieldType::Text => "text".into(),
        FieldType::Category => format!("one of {}", list(&field.categories)),
    }
}

fn list(categories: &[String]) -> String {
    let shown: Vec<String> = categories.iter().take(12).map(|c| format!("\"{c}\"")).collect();
    let more = categories.len().saturating_sub(shown.len());
    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
}

fn kind_of(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "true or false",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// A column being filled cell by cell.
enum Builder {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

impl Builder {
    fn for_field(field: &Field, rows: usize) -> Self {
        match field.ty {
            FieldType::Number => Self::Numbers(Vec::with_capacity(rows)),
            FieldType::Text | FieldType::Category => Self::Texts(Vec::with_capacity(rows)),
        }
    }

    fn push(&mut self, value: Option<Converted>) {
        match (self, value) {
            (Self::Numbers(v), Some(Converted::Number(x))) => v.push(Some(x)),
            (Self::Texts(v), Some(Converted::Text(t))) => v.push(Some(t)),
            (Self::Numbers(v), _) => v.push(None),
            (Self::Texts(v), _) => v.push(None),
        }
    }

    fn into_column(self, name: &str) -> Column {
        match self {
            Self::Numbers(v) => Column::new(name.into(), v),
            Self::Texts(v) => Column::new(name.into(), v),
        }
    }
}

/// The typed table of `rows` records whose cells `cell(row, k)` gives for the `k`th field, or the problems found (at most
/// [`MAX_PROBLEMS`]).
pub fn typed_table<'a>(
    fields: &[Field],
    rows: usize,
    cell: impl Fn(usize, usize) -> Cell<'a>,
) -> Result<Table, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut columns: Vec<Builder> = fields.iter().map(|f| Builder::for_field(f, rows)).collect();
    for row in 0..rows {
        for (k, (field, column)) in fields.iter().zip(&mut columns).enumerate() {
            match convert(field, cell(row, k)) {
                Ok(value) => column.push(value),
                Err(message) => {
                    column.push(None);
                    if problems.len() < MAX_PROBLEMS {
                        problems.push(Problem { record: Some(row), field: field.name.clone(), message });
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let columns: Vec<Column> = fields.iter().zip(columns).map(|(f, c)| c.into_column(&f.name)).collect();
    DataFrame::new(rows, columns).map(Table::new).map_err(|e| {
        vec![Problem { record: None, field: String::new(), message: format!("cannot build the table: {e}") }]
    })
}

/// The typed table of JSON records (objects of field values).
pub fn from_records(fields: &[Field], records: &[Json]) -> Result<Table, Vec<Problem>> {
    let not_objects: Vec<Problem> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.is_object())
        .take(MAX_PROBLEMS)
        .map(|(i, r)| Problem {
            record: Some(i),
            field: String::new(),
            message: format!("expected an object of field values, got {}", kind_of(r)),
        })
        .collect();
    if !not_objects.is_empty() {
        return Err(not_objects);
    }
    typed_table(fields, records.len(), |row, k| records[row].get(&fields[k].name).map_or(Cell::Missing, Cell::Json))
}

/// The typed table of the package's fields taken from a table (a file read for batch scoring): numbers stay
/// numbers, anything else is read as text and checked like a request.
pub fn from_table(fields: &[Field], table: &Table) -> Result<Table, Vec<Problem>> {
    let absent: Vec<Problem> = fields
        .iter()
        .filter(|f| f.required && table.frame.column(&f.name).is_err())
        .map(|f| Problem {
            record: None,
            field: f.name.clone(),
            message: format!("the column is missing ({} required)", describe_type(f)),
        })
        .collect();
    if !absent.is_empty() {
        return Err(absent);
    }
    let sources = fields
        .iter()
        .map(|f| {
            let Ok(column) = table.frame.column(&f.name) else { return Ok(Source::Absent) };
            let numeric = matches!(ColumnType::of(column.dtype()), ColumnType::Numeric | ColumnType::Bool);
            if f.ty == FieldType::Number && numeric {
                crate::frame::numeric_values(&table.frame, &f.name).map(Source::Numbers)
            } else {
                crate::frame::text_values(&table.frame, &f.name).map(Source::Texts)
            }
        })
        .collect::<Result<Vec<_>, NodeError>>()
        .map_err(|e| vec![Problem { record: None, field: String::new(), message: e.to_string() }])?;
    typed_table(fields, table.height(), |row, k| match &sources[k] {
        Source::Numbers(v) => v[row].map_or(Cell::Missing, Cell::Number),
        Source::Texts(v) => v[row].as_deref().map_or(Cell::Missing, Cell::Text),
        Source::Absent => Cell::Missing,
    })
}

/// A column of a table read for a field: as numbers or as text.
enum Source {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
    Absent,
}

/// The typed table of CSV text with a header row; extra columns are ignored.
pub fn from_csv(fields: &[Field], text: &[u8]) -> Result<Table, Vec<Problem>> {
    let problem = |message: String| vec![Problem { record: None, field: String::new(), message }];
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| problem(format!("the CSV header cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows: Vec<csv::StringRecord> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        rows.push(record.map_err(|e| problem(format!("CSV record {i} (line {}): {e}", i + 2)))?);
    }
    let positions: Vec<Option<usize>> = fields.iter().map(|f| header.iter().position(|h| *h == f.name)).collect();
    let absent: Vec<Problem> = fields
        .iter()
        .zip(&positions)
        .filter(|(f, p)| f.required && p.is_none())
        .map(|(f, _)| Problem {
            record: None,
            field: f.name.clone(),
            message: format!("the CSV has no such column ({} required)", describe_type(f)),
        })
        .collect();
    if !absent.is_empty() {
        return Err(absent);
    }
    typed_table(fields, rows.len(), |row, k| {
        positions[k].and_then(|p| rows[row].get(p)).map_or(Cell::Missing, Cell::Text)
    })
}
