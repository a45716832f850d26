//! Row helpers shared by the blocks that match, group, order or summarize rows.

use std::collections::HashSet;

use polars::prelude::*;

use pipewright_engine::{ColumnType, NodeError};

use crate::frame::missing_column;

/// Column names in table order.
pub(crate) fn column_names(frame: &DataFrame) -> Vec<String> {
    frame.get_column_names().iter().map(ToString::to_string).collect()
}

/// Marks a missing cell in a row key; no text cell contains it.
const MISSING: &str = "\u{0}";
/// Separates the cells of a row key.
const SEPARATOR: char = '\u{1f}';

/// One text key per row from the named columns, each cast to `as_type` first when given (so that
/// the integer 1 and the float 1.0 of two tables match). Missing cells are equal to each other.
pub(crate) fn row_keys(
    frame: &DataFrame,
    columns: &[String],
    as_types: Option<&[DataType]>,
) -> Result<Vec<String>, NodeError> {
    let mut keys = vec![String::new(); frame.height()];
    for (j, name) in columns.iter().enumerate() {
        let column = frame.column(name).map_err(|_| missing_column(frame, name))?;
        let column = match as_types.and_then(|t| t.get(j)) {
            Some(dtype) => column.cast(dtype)?,
            None => column.clone(),
        };
        let text = column.cast(&DataType::String)?;
        for (key, cell) in keys.iter_mut().zip(text.str()?.iter()) {
            if j > 0 {
                key.push(SEPARATOR);
            }
            key.push_str(cell.unwrap_or(MISSING));
        }
    }
    Ok(keys)
}

/// The type two columns are both cast to before their cells are compared or stacked.
pub(crate) fn common_type(a: &DataType, b: &DataType) -> DataType {
    if a == b {
        return a.clone();
    }
    let numeric = |t: &DataType| t.is_primitive_numeric() || *t == DataType::Boolean;
    match (numeric(a), numeric(b)) {
        (true, true) if a.is_float() || b.is_float() => DataType::Float64,
        (true, true) => DataType::Int64,
        _ if *a == DataType::Null => b.clone(),
        _ if *b == DataType::Null => a.clone(),
        _ => DataType::String,
    }
}

/// The schema type two column types widen to.
pub(crate) fn common_column_type(a: ColumnType, b: ColumnType) -> ColumnType {
    match (a, b) {
        _ if a == b => a,
        (ColumnType::Numeric | ColumnType::Bool, ColumnType::Numeric | ColumnType::Bool) => ColumnType::Numeric,
        _ => ColumnType::Text,
    }
}

/// `name`, or `name` plus `suffix` (then a number) when `name` is taken; the result is added to `taken`.
pub(crate) fn unique_name(name: &str, suffix: &str, taken: &mut HashSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        candidate = if n == 1 { format!("{name}{suffix}") } else { format!("{name}{suffix}{n}") };
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// Rows at these indices; `None` gives a row of missing cells.
pub(crate) fn take_optional(frame: &DataFrame, indices: &[Option<usize>]) -> Result<DataFrame, NodeError> {
    let idx: IdxCa = indices.iter().map(|i| i.map(|i| i as IdxSize)).collect();
    Ok(frame.take(&idx)?)
}

/// The `q`-quantile (0..=1) of sorted values with linear interpolation, computed as numpy's
/// `percentile(values, 100·q)` does, so that pandas' `quantile` and `describe` agree to the last bit.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // pandas passes percentages to numpy, which divides them by 100 again.
    let q = (q * 100.0) / 100.0;
    let virtual_index = (n - 1) as f64 * q;
    let below = (virtual_index.floor() as usize).min(n - 1);
    let above = (below + 1).min(n - 1);
    let t = virtual_index - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let diff = b - a;
    // numpy's `_lerp`: from the nearer end, for symmetry.
    Some(if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t })
}

/// Present values of a numeric column, sorted.
pub(crate) fn sorted_present(values: &[Option<f64>]) -> Vec<f64> {
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    present.sort_by(f64::total_cmp);
    present
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.25), Some(1.75));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn clashing_names_get_the_suffix_then_a_number() {
        let mut taken: HashSet<String> = ["a".to_owned(), "a_2".to_owned()].into();
        assert_eq!(unique_name("b", "_2", &mut taken), "b");
        assert_eq!(unique_name("a", "_x", &mut taken), "a_x");
        assert_eq!(unique_name("a", "_x", &mut taken), "a_x2");
    }

    #[test]
    fn integer_and_float_keys_widen_to_float() {
        assert_eq!(common_type(&DataType::Int64, &DataType::Float64), DataType::Float64);
        assert_eq!(common_type(&DataType::Int32, &DataType::Int64), DataType::Int64);
        assert_eq!(common_type(&DataType::Int64, &DataType::String), DataType::String);
    }
}
