//! Numbers and cells as text, the same way in every viewer: floats with sensible precision, counts with
//! digit groups, missing values as a dash.

use pipewright_engine::Task;
use polars::prelude::AnyValue;

/// What a missing value shows as.
pub const MISSING: &str = "—";

/// Significant digits a float is shown with.
const SIGNIFICANT_DIGITS: i32 = 7;
/// Decimals a float is shown with at most (below that, scientific notation).
const MAX_DECIMALS: i32 = 6;

/// How a cell is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Null or NaN: a dim dash.
    Missing,
    /// A number: right-aligned.
    Number,
    /// Anything else: left-aligned.
    Text,
}

/// One table cell as text, and how to draw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The text shown.
    pub text: String,
    /// How it is aligned and coloured.
    pub kind: CellKind,
}

impl Cell {
    fn missing() -> Self {
        Self { text: MISSING.to_owned(), kind: CellKind::Missing }
    }
}

/// A Polars value as a cell: floats with [`format_float`], integers as they are, text as it is, null and NaN
/// as a dash.
pub fn cell(value: &AnyValue<'_>) -> Cell {
    if value.is_null() {
        return Cell::missing();
    }
    if value.is_float() {
        return match value.extract::<f64>() {
            Some(x) if !x.is_nan() => Cell { text: format_float(x), kind: CellKind::Number },
            _ => Cell::missing(),
        };
    }
    if value.is_integer() {
        return Cell { text: value.to_string(), kind: CellKind::Number };
    }
    let text = match value {
        AnyValue::Boolean(b) => b.to_string(),
        other => other.get_str().map_or_else(|| other.to_string(), str::to_owned),
    };
    Cell { text, kind: CellKind::Text }
}

/// A float with seven significant digits (at most six decimals) and no trailing zeros; very large and very
/// small magnitudes in scientific notation; NaN as a dash, infinities as `∞` and `-∞`.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return MISSING.to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "∞".to_owned() } else { "-∞".to_owned() };
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..15).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (SIGNIFICANT_DIGITS - 1 - magnitude).clamp(0, MAX_DECIMALS) as usize;
    let text = format!("{x:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// A metric value: four decimals (the precision reports quote), scientific notation for tiny values, counts
/// such as the number of clusters as integers.
pub fn format_metric(name: &str, value: f64) -> String {
    if !value.is_finite() {
        return format_float(value);
    }
    if is_count(name) && value.fract() == 0.0 {
        return format!("{value:.0}");
    }
    if value != 0.0 && value.abs() < 1e-3 {
        return format!("{value:.3e}");
    }
    format!("{value:.4}")
}

/// Metrics that count things.
fn is_count(name: &str) -> bool {
    matches!(name, "clusters" | "rows" | "count")
}

/// A count with its digits grouped by three: `1,000,000`.
pub fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `part` of `whole` as a percentage with one decimal, or nothing when `whole` is zero.
pub fn percent(part: usize, whole: usize) -> Option<String> {
    (whole > 0).then(|| format!("{:.1}%", 100.0 * part as f64 / whole as f64))
}

/// What a task reads as.
pub fn task_text(task: Task) -> &'static str {
    match task {
        Task::BinaryClassification => "two-class classification",
        Task::MulticlassClassification => "multiclass classification",
        Task::Regression => "regression",
        Task::Clustering => "clustering",
        Task::AnomalyDetection => "anomaly detection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_seven_significant_digits_without_trailing_zeros() {
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(-3.0), "-3");
        assert_eq!(format_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_float(std::f64::consts::PI * 1000.0), "3141.593");
        assert_eq!(format_float(1_234_567.891), "1234568");
        assert_eq!(format_float(0.000_123_4), "0.000123");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(format_float(-1e-9), "-1.000e-9");
        assert_eq!(format_float(2.5e20), "2.500e20");
        assert_eq!(format_float(f64::NAN), MISSING);
        assert_eq!(format_float(f64::NEG_INFINITY), "-∞");
    }

    #[test]
    fn cells_are_aligned_by_kind_and_missing_values_are_dashes() {
        assert_eq!(cell(&AnyValue::Null), Cell { text: MISSING.into(), kind: CellKind::Missing });
        assert_eq!(cell(&AnyValue::Float64(f64::NAN)).kind, CellKind::Missing);
        assert_eq!(cell(&AnyValue::Float64(0.25)), Cell { text: "0.25".into(), kind: CellKind::Number });
        assert_eq!(cell(&AnyValue::Float32(1.5)), Cell { text: "1.5".into(), kind: CellKind::Number });
        assert_eq!(cell(&AnyValue::Int64(-42)), Cell { text: "-42".into(), kind: CellKind::Number });
        assert_eq!(cell(&AnyValue::UInt8(7)), Cell { text: "7".into(), kind: CellKind::Number });
        assert_eq!(cell(&AnyValue::String("Cherbourg")), Cell { text: "Cherbourg".into(), kind: CellKind::Text });
        assert_eq!(cell(&AnyValue::Boolean(true)), Cell { text: "true".into(), kind: CellKind::Text });
    }

    #[test]
    fn metrics_have_four_decimals_and_counts_none() {
        assert_eq!(format_metric("roc_auc", 0.835_021), "0.8350");
        assert_eq!(format_metric("accuracy", 1.0), "1.0000");
        assert_eq!(format_metric("clusters", 3.0), "3");
        assert_eq!(format_metric("mae", 0.000_012_5), "1.250e-5");
        assert_eq!(format_metric("r2", f64::NAN), MISSING);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1_000_000), "1,000,000");
        assert_eq!(percent(1, 8).as_deref(), Some("12.5%"));
        assert_eq!(percent(0, 0), None);
    }
}
