//! What the wizard reads from a dataset: rows, columns and their kinds, missing values, the columns that
//! cannot be features, the candidate label columns, and for a chosen label its type, cardinality and balance.

use std::collections::HashMap;

use polars::prelude::{Column, DataType};

use pipewright_engine::{ColumnType, Role, Table};

/// Text columns with more distinct values than this are left out: they would make as many indicator columns.
pub const MAX_CATEGORIES: usize = 50;
/// A label with at most this many distinct values is profiled as classes.
pub const MAX_CLASSES: usize = 50;
/// Whole-number labels with at most this many values are taken for categories.
pub const MAX_WHOLE_NUMBER_CLASSES: usize = 10;
/// Classes are imbalanced when the smallest has fewer rows than this share of the largest.
pub const IMBALANCE_RATIO: f64 = 0.25;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Numbers; `integer` when every value is whole by type.
    Numeric {
        /// Integer type.
        integer: bool,
    },
    /// True/false.
    Bool,
    /// Text (categories or free text).
    Text,
    /// Dates, or dates with times.
    Date,
    /// Lists and anything else.
    Other,
}

impl ColumnKind {
    /// A word for it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Numeric { integer: true } => "whole numbers",
            Self::Numeric { integer: false } => "numbers",
            Self::Bool => "true/false",
            Self::Text => "text",
            Self::Date => "dates",
            Self::Other => "other",
        }
    }
}

/// One column of the profile.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// Missing cells (nulls, and NaN in float columns).
    pub missing: usize,
    /// Distinct values, missing not counted.
    pub distinct: usize,
    /// Smallest and largest value of a numeric column.
    pub range: Option<(f64, f64)>,
    /// Why it is not used as a feature, when it is not.
    pub leave_out: Option<String>,
}

/// A column that looks like a label, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The column.
    pub name: String,
    /// Why it is offered.
    pub reason: String,
}

/// The dataset as the wizard sees it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Rows.
    pub rows: usize,
    /// Every column, in table order.
    pub columns: Vec<ColumnProfile>,
    /// The column the data source marks as label (the sample datasets do).
    pub marked_label: Option<String>,
    /// Class counts of columns that could be labels, by name (columns with at most [`MAX_CLASSES`] values).
    classes: HashMap<String, Vec<(String, usize)>>,
}

/// The label column as the wizard sees it.
#[derive(Debug, Clone)]
pub struct LabelProfile {
    /// The column.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
    /// Rows without a label.
    pub missing: usize,
    /// Distinct values.
    pub distinct: usize,
    /// Smallest and largest value of a numeric label.
    pub range: Option<(f64, f64)>,
    /// Rows per class, most frequent first, when it has at most [`MAX_CLASSES`] values.
    pub classes: Option<Vec<(String, usize)>>,
}

impl LabelProfile {
    /// The label in one line: its type, its values and their balance.
    pub fn summary(&self) -> String {
        let missing = if self.missing > 0 { format!(", {} rows without a value", self.missing) } else { String::new() };
        match (&self.classes, self.range) {
            (Some(classes), _) if classes.len() <= MAX_WHOLE_NUMBER_CLASSES || self.kind == ColumnKind::Text => {
                format!(
                    "{}: {}, {} values: {}{}{missing}",
                    self.name,
                    self.kind.describe(),
                    classes.len(),
                    self.class_shares().unwrap_or_default(),
                    if self.is_imbalanced() { " (imbalanced)" } else { "" }
                )
            }
            (_, Some((min, max))) => format!(
                "{}: {}, {} different values from {min} to {max}{missing}",
                self.name,
                self.kind.describe(),
                self.distinct
            ),
            _ => format!("{}: {}, {} different values{missing}", self.name, self.kind.describe(), self.distinct),
        }
    }

    /// The smallest class's rows divided by the largest's.
    pub fn balance(&self) -> Option<f64> {
        let classes = self.classes.as_ref()?;
        let largest = classes.first()?.1;
        let smallest = classes.last()?.1;
        (classes.len() >= 2 && largest > 0).then(|| smallest as f64 / largest as f64)
    }

    /// Whether some class is much rarer than another.
    pub fn is_imbalanced(&self) -> bool {
        self.balance().is_some_and(|b| b < IMBALANCE_RATIO)
    }

    /// Whether it holds counts: whole numbers from 0 (a whole-number measure that never reaches 0, such as a
    /// price or a score, is not taken for counts).
    pub fn holds_counts(&self) -> bool {
        matches!(self.kind, ColumnKind::Numeric { integer: true }) && self.range.is_some_and(|(min, _)| min == 0.0)
    }

    /// The classes with their share of the labelled rows, such as "no 62 %, yes 38 %".
    pub fn class_shares(&self) -> Option<String> {
        let classes = self.classes.as_ref()?;
        let total: usize = classes.iter().map(|(_, n)| n).sum();
        let shown: Vec<String> = classes
            .iter()
            .take(6)
            .map(|(c, n)| format!("{c} {:.0} %", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        let more = if classes.len() > 6 { format!(", and {} more", classes.len() - 6) } else { String::new() };
        Some(format!("{}{more}", shown.join(", ")))
    }
}

fn kind_of(column: &Column) -> ColumnKind {
    match ColumnType::of(column.dtype()) {
        ColumnType::Numeric => ColumnKind::Numeric { integer: column.dtype().is_integer() },
        ColumnType::Bool => ColumnKind::Bool,
        ColumnType::Text => ColumnKind::Text,
        ColumnType::Date => ColumnKind::Date,
        ColumnType::Other => ColumnKind::Other,
    }
}

/// Missing cells: nulls, and NaN in float columns.
fn missing_of(column: &Column) -> usize {
    let nan = if column.dtype().is_float() {
        column.cast(&DataType::Float64).ok().and_then(|c| c.f64().ok().map(|v| v.is_nan().sum().unwrap_or(0)))
    } else {
        None
    };
    column.null_count() + nan.unwrap_or(0) as usize
}

fn range_of(column: &Column) -> Option<(f64, f64)> {
    let values = column.cast(&DataType::Float64).ok()?;
    let values = values.f64().ok()?;
    let finite = values.iter().flatten().filter(|v| v.is_finite());
    finite.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    })
}

/// Rows per value, most frequent first (ties by value), when there are at most `limit` values.
fn class_counts(column: &Column, limit: usize) -> Option<Vec<(String, usize)>> {
    let text = column.cast(&DataType::String).ok()?;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for value in text.str().ok()?.iter().flatten() {
        *counts.entry(value).or_default() += 1;
        if counts.len() > limit {
            return None;
        }
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Some(counts)
}

/// Whether a name reads like a row identifier.
fn named_like_id(name: &str) -> bool {
    let lower = name.to_lowercase();
    ["id", "index", "row", "key", "uuid"].contains(&lower.as_str())
        || lower.ends_with("_id")
        || lower.ends_with(" id")
        || (name.ends_with("Id") || name.ends_with("ID")) && name.len() > 2
}

/// Why a column cannot be a feature, if it cannot.
fn leave_out(column: &ColumnProfile, rows: usize) -> Option<String> {
    let present = rows - column.missing;
    match column.kind {
        _ if present == 0 => Some("every cell is missing".into()),
        ColumnKind::Date => {
            Some("dates and times are not features themselves: Extract Date Parts makes features of them (year, month, weekday…)".into())
        }
        ColumnKind::Other => Some("neither numbers nor text (lists are not used as features)".into()),
        _ if column.distinct == 1 && rows > 1 => {
            Some("the same value in every row, so it cannot tell rows apart".into())
        }
        ColumnKind::Text if column.distinct > MAX_CATEGORIES && column.distinct * 2 > present => Some(format!(
            "{} different texts in {present} rows: an identifier or free text, not a category",
            column.distinct
        )),
        ColumnKind::Text if column.distinct > MAX_CATEGORIES => Some(format!(
            "{} categories would become {} indicator columns (at most {MAX_CATEGORIES} are encoded)",
            column.distinct, column.distinct
        )),
        ColumnKind::Numeric { integer: true } if column.distinct == rows && rows > 1 && named_like_id(&column.name) => {
            Some("a different whole number in every row, named like an identifier".into())
        }
        _ => None,
    }
}

/// Names that datasets commonly give their label.
const LABEL_NAMES: &[&str] = &[
    "label",
    "target",
    "class",
    "y",
    "outcome",
    "result",
    "species",
    "survived",
    "churn",
    "diagnosis",
    "default",
    "fraud",
    "response",
    "category",
    "price",
    "quality",
    "grade",
    "status",
];

impl Profile {
    /// Profiles a table.
    pub fn of(table: &Table) -> Self {
        let rows = table.height();
        let mut classes = HashMap::new();
        let columns = table
            .frame
            .columns()
            .iter()
            .map(|column| {
                let kind = kind_of(column);
                let missing = missing_of(column);
                let distinct = column.drop_nulls().n_unique().unwrap_or(0);
                let range = matches!(kind, ColumnKind::Numeric { .. }).then(|| range_of(column)).flatten();
                if distinct <= MAX_CLASSES
                    && !matches!(kind, ColumnKind::Other | ColumnKind::Date)
                    && let Some(counts) = class_counts(column, MAX_CLASSES)
                {
                    classes.insert(column.name().to_string(), counts);
                }
                let mut profile =
                    ColumnProfile { name: column.name().to_string(), kind, missing, distinct, range, leave_out: None };
                profile.leave_out = leave_out(&profile, rows);
                profile
            })
            .collect();
        let marked_label = table
            .label()
            .map(str::to_owned)
            .or_else(|| table.roles.iter().find(|(_, r)| **r == Role::Label).map(|(name, _)| name.clone()));
        Self { rows, columns, marked_label, classes }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns used as features when `label` is the label: all but the label and those left out.
    pub fn features(&self, label: Option<&str>) -> impl Iterator<Item = &ColumnProfile> {
        self.columns.iter().filter(move |c| Some(c.name.as_str()) != label && c.leave_out.is_none())
    }

    /// Feature columns that are text (they become indicator columns).
    pub fn text_features(&self, label: Option<&str>) -> Vec<&ColumnProfile> {
        self.features(label).filter(|c| c.kind == ColumnKind::Text).collect()
    }

    /// Features after text columns become one indicator column per category.
    pub fn encoded_features(&self, label: Option<&str>) -> usize {
        self.features(label).map(|c| if c.kind == ColumnKind::Text { c.distinct } else { 1 }).sum()
    }

    /// Columns that are not features (other than the label), with the reason.
    pub fn left_out(&self, label: Option<&str>) -> Vec<&ColumnProfile> {
        self.columns.iter().filter(|c| Some(c.name.as_str()) != label && c.leave_out.is_some()).collect()
    }

    /// Missing cells in all columns.
    pub fn missing_cells(&self) -> usize {
        self.columns.iter().map(|c| c.missing).sum()
    }

    /// The columns that could be the label, most likely first, each with the reason.
    pub fn label_candidates(&self) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let mut push = |name: &str, reason: String| {
            if !out.iter().any(|c| c.name == name) {
                out.push(Candidate { name: name.to_owned(), reason });
            }
        };
        if let Some(marked) = &self.marked_label {
            push(marked, "marked as the label by the dataset".into());
        }
        let usable =
            |c: &&ColumnProfile| c.leave_out.is_none() && !matches!(c.kind, ColumnKind::Other | ColumnKind::Date);
        for column in self.columns.iter().filter(usable) {
            if LABEL_NAMES.contains(&column.name.to_lowercase().as_str()) {
                push(&column.name, "named like a label".into());
            }
        }
        if let Some(last) = self.columns.iter().rev().find(usable) {
            push(&last.name, "the last column, where labels usually are".into());
        }
        for column in self.columns.iter().filter(usable) {
            if (2..=MAX_WHOLE_NUMBER_CLASSES).contains(&column.distinct)
                && column.kind != (ColumnKind::Numeric { integer: false })
            {
                push(&column.name, format!("{} distinct values, like categories", column.distinct));
            }
        }
        out
    }

    /// The profile in a few lines: rows and columns, features by kind, missing values, left-out columns.
    pub fn summary(&self, label: Option<&str>) -> Vec<String> {
        let features: Vec<&ColumnProfile> = self.features(label).collect();
        let numeric =
            features.iter().filter(|c| matches!(c.kind, ColumnKind::Numeric { .. } | ColumnKind::Bool)).count();
        let text = features.iter().filter(|c| c.kind == ColumnKind::Text).count();
        let mut lines = vec![
            format!("{} rows, {} columns", self.rows, self.columns.len()),
            format!(
                "{} features: {numeric} numeric, {text} categorical (text){}",
                features.len(),
                if text > 0 {
                    format!(", {} columns after encoding", self.encoded_features(label))
                } else {
                    String::new()
                }
            ),
        ];
        let missing: Vec<String> =
            self.columns.iter().filter(|c| c.missing > 0).map(|c| format!("{} {}", c.name, c.missing)).collect();
        lines.push(if missing.is_empty() {
            "no missing values".to_owned()
        } else {
            format!("{} missing cells: {}", self.missing_cells(), missing.join(", "))
        });
        let left_out: Vec<&str> = self.left_out(label).iter().map(|c| c.name.as_str()).collect();
        if !left_out.is_empty() {
            lines.push(format!("left out: {}", left_out.join(", ")));
        }
        lines
    }

    /// The label profile of a column.
    pub fn label(&self, name: &str) -> Option<LabelProfile> {
        let column = self.column(name)?;
        Some(LabelProfile {
            name: column.name.clone(),
            kind: column.kind,
            missing: column.missing,
            distinct: column.distinct,
            range: column.range,
            classes: self.classes.get(name).cloned(),
        })
    }
}
