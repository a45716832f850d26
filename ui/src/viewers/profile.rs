//! Column profiles of a table: type, missing, unique, mean, standard deviation, min, max, and a histogram
//! (numbers) or the most frequent values (text). Computed off the UI thread for large tables.

use std::collections::HashMap;

use pipewright_engine::{ColumnType, Table};
use polars::prelude::DataType;

/// Bins of a numeric histogram.
pub const BINS: usize = 20;
/// Most frequent values kept for a text column.
pub const TOP_VALUES: usize = 8;

/// What the values of one column look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Numbers: counts per equal-width bin between `min` and `max`.
    Histogram(Vec<u64>),
    /// Text or categories: the most frequent values with their counts, most frequent first.
    TopValues(Vec<(String, u64)>),
}

/// The profile of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its data type as the table stores it.
    pub dtype: String,
    /// Missing cells (null, and NaN in float columns).
    pub missing: usize,
    /// Distinct non-missing values.
    pub unique: usize,
    /// Mean (numbers only).
    pub mean: Option<f64>,
    /// Sample standard deviation, n − 1 in the denominator (numbers only).
    pub std: Option<f64>,
    /// Smallest value (numbers only).
    pub min: Option<f64>,
    /// Largest value (numbers only).
    pub max: Option<f64>,
    /// The histogram or the top values.
    pub distribution: Distribution,
}

/// Profiles every column of the table.
pub fn profile(table: &Table) -> Vec<ColumnProfile> {
    table
        .frame
        .columns()
        .iter()
        .map(|column| {
            let name = column.name().to_string();
            let dtype = column.dtype().to_string();
            let numeric = matches!(ColumnType::of(column.dtype()), ColumnType::Numeric | ColumnType::Bool);
            let values: Option<Vec<Option<f64>>> = numeric
                .then(|| column.cast(&DataType::Float64).ok())
                .flatten()
                .and_then(|c| c.f64().ok().map(|ca| ca.iter().map(|v| v.filter(|x| !x.is_nan())).collect()));
            if let Some(values) = values {
                numeric_profile(name, dtype, values.as_slice())
            } else {
                let texts: Vec<Option<String>> = column
                    .cast(&DataType::String)
                    .ok()
                    .and_then(|c| c.str().ok().map(|ca| ca.iter().map(|v| v.map(str::to_owned)).collect()))
                    .unwrap_or_default();
                text_profile(name, dtype, &texts)
            }
        })
        .collect()
}

fn numeric_profile(name: String, dtype: String, values: &[Option<f64>]) -> ColumnProfile {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let missing = values.len() - present.len();
    let n = present.len();
    let mean = (n > 0).then(|| present.iter().sum::<f64>() / n as f64);
    let std =
        mean.filter(|_| n > 1).map(|m| (present.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    let min = present.iter().copied().reduce(f64::min);
    let max = present.iter().copied().reduce(f64::max);
    let mut sorted = present.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut bins = vec![0u64; BINS];
    if let (Some(lo), Some(hi)) = (min, max) {
        let width = (hi - lo) / BINS as f64;
        for x in &present {
            let bin = if width > 0.0 { (((x - lo) / width) as usize).min(BINS - 1) } else { 0 };
            bins[bin] += 1;
        }
    }
    ColumnProfile {
        name,
        dtype,
        missing,
        unique: sorted.len(),
        mean,
        std,
        min,
        max,
        distribution: Distribution::Histogram(bins),
    }
}

fn text_profile(name: String, dtype: String, values: &[Option<String>]) -> ColumnProfile {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for value in values.iter().flatten() {
        *counts.entry(value.as_str()).or_default() += 1;
    }
    let missing = values.iter().filter(|v| v.is_none()).count();
    let unique = counts.len();
    let mut top: Vec<(String, u64)> = counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(TOP_VALUES);
    ColumnProfile {
        name,
        dtype,
        missing,
        unique,
        mean: None,
        std: None,
        min: None,
        max: None,
        distribution: Distribution::TopValues(top),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn numbers_and_text_are_profiled_like_pandas_describe() {
        let frame = df!(
            "x" => [Some(1.0), Some(2.0), None, Some(4.0), Some(f64::NAN), Some(8.0)],
            "city" => [Some("b"), Some("a"), Some("b"), None, Some("c"), Some("b")],
        )
        .expect("frame");
        let profiles = profile(&Table::new(frame));
        let x = &profiles[0];
        assert_eq!((x.missing, x.unique), (2, 4));
        // pandas: Series([1, 2, 4, 8]).mean() == 3.75, .std() == 3.0956959...
        assert!((x.mean.expect("mean") - 3.75).abs() < 1e-12);
        assert!((x.std.expect("std") - 3.095_695_936_834_452).abs() < 1e-12);
        assert_eq!((x.min, x.max), (Some(1.0), Some(8.0)));
        let Distribution::Histogram(bins) = &x.distribution else { panic!("numbers get a histogram") };
        assert_eq!(bins.iter().sum::<u64>(), 4);
        // Bins are 0.35 wide from 1: 1 → bin 0, 2 → bin 2, 4 → bin 8, 8 → the last bin.
        assert_eq!((bins[0], bins[2], bins[8], bins[BINS - 1]), (1, 1, 1, 1));
        let city = &profiles[1];
        assert_eq!((city.missing, city.unique, city.mean), (1, 3, None));
        assert_eq!(city.distribution, Distribution::TopValues(vec![("b".into(), 3), ("a".into(), 1), ("c".into(), 1)]));
    }

    #[test]
    fn empty_and_constant_columns_do_not_break() {
        let frame = df!("k" => [5.0, 5.0, 5.0], "e" => [None::<f64>, None, None]).expect("frame");
        let profiles = profile(&Table::new(frame));
        assert_eq!(profiles[0].std, Some(0.0));
        assert_eq!(
            profiles[0].distribution,
            Distribution::Histogram({
                let mut b = vec![0; BINS];
                b[0] = 3;
                b
            })
        );
        assert_eq!((profiles[1].missing, profiles[1].mean, profiles[1].min), (3, None, None));
    }
}
