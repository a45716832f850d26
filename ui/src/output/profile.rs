//! Column profiles of a table: type, missing, unique, mean, standard deviation, min, max, and a histogram
//! (numbers) or the most frequent values (text, categories, booleans). Pure functions, run off the UI thread
//! by [`super::profile_view`].

use std::collections::HashMap;

use pipewright_engine::{ColumnType, Table};
use polars::prelude::{Column, DataType};

use super::format::format_float;

/// Bins of a numeric histogram.
pub const BINS: usize = 20;
/// Most frequent values kept for a text or categorical column.
pub const TOP_VALUES: usize = 8;

/// What the values of one column look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Numbers: counts in [`BINS`] equal-width bins from `low` to `high` (the last bin includes `high`).
    /// Only finite values are counted.
    Histogram {
        /// Left edge of the first bin: the smallest finite value.
        low: f64,
        /// Right edge of the last bin: the largest finite value.
        high: f64,
        /// Values per bin.
        counts: Vec<u64>,
    },
    /// Text, categories and booleans: the most frequent values, most frequent first (ties by value).
    TopValues {
        /// Up to [`TOP_VALUES`] values with their counts.
        top: Vec<(String, u64)>,
        /// Values not among the top ones.
        others: u64,
    },
    /// Nothing to draw: no values, or a type without a summary (lists, structs).
    Empty,
}

/// The profile of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its data type as the table stores it, such as `f64` or `str`.
    pub dtype: String,
    /// Cells in the column.
    pub rows: usize,
    /// Missing cells: null, and NaN in float columns.
    pub missing: usize,
    /// Distinct values among the present ones, when the type can be compared.
    pub unique: Option<usize>,
    /// Mean (numbers and booleans, as the share of `true`).
    pub mean: Option<f64>,
    /// Sample standard deviation, n − 1 in the denominator (pandas' `std()`); needs two values.
    pub std: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// The histogram or the most frequent values.
    pub distribution: Distribution,
}

/// Profiles every column of the table. Takes time proportional to the rows: call it off the UI thread.
pub fn profile(table: &Table) -> Vec<ColumnProfile> {
    table.frame.columns().iter().map(|column| profile_column(table, column)).collect()
}

fn profile_column(table: &Table, column: &Column) -> ColumnProfile {
    let name = column.name().to_string();
    let dtype = column.dtype();
    let empty = ColumnProfile {
        dtype: dtype.to_string(),
        rows: column.len(),
        missing: column.null_count(),
        unique: None,
        mean: None,
        std: None,
        min: None,
        max: None,
        distribution: Distribution::Empty,
        name,
    };
    let shape = match ColumnType::of(dtype) {
        ColumnType::Bool => Shape::Booleans,
        ColumnType::Numeric if table.categorical.contains(column.name().as_str()) => Shape::Categories,
        ColumnType::Numeric => Shape::Histogram,
        ColumnType::Text | ColumnType::Date | ColumnType::Other => {
            return texts(column, |values| text_profile(empty.clone(), values)).unwrap_or(empty);
        }
    };
    match numbers(column) {
        Some(values) => numeric_profile(empty, &values, shape),
        None => empty,
    }
}

/// How the values of a numeric or boolean column are summarised.
#[derive(Clone, Copy)]
enum Shape {
    /// Measurements: a histogram.
    Histogram,
    /// Numeric codes marked categorical: bars of the most frequent codes.
    Categories,
    /// `true` and `false` bars.
    Booleans,
}

/// The column as floats, NaN as missing.
fn numbers(column: &Column) -> Option<Vec<Option<f64>>> {
    let cast = column.cast(&DataType::Float64).ok()?;
    let values = cast.f64().ok()?;
    Some(values.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
}

/// Calls `summarise` with the column as text; `None` when it cannot be shown as text.
fn texts<R>(column: &Column, summarise: impl FnOnce(&mut dyn Iterator<Item = Option<&str>>) -> R) -> Option<R> {
    let cast = column.cast(&DataType::String).ok()?;
    let values = cast.str().ok()?;
    Some(summarise(&mut values.iter()))
}

/// Mean and sample variance in one pass (Welford), stable for large and offset values.
#[derive(Default)]
struct Moments {
    n: usize,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    fn std(&self) -> Option<f64> {
        (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).sqrt())
    }
}

fn numeric_profile(base: ColumnProfile, values: &[Option<f64>], shape: Shape) -> ColumnProfile {
    let mut moments = Moments::default();
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in values.iter().flatten() {
        moments.push(x);
        min = min.min(x);
        max = max.max(x);
        // -0.0 and 0.0 are one value.
        *counts.entry((x + 0.0).to_bits()).or_default() += 1;
    }
    let present = moments.n;
    let counted = counts.iter().map(|(bits, count)| (f64::from_bits(*bits), *count));
    let distribution = match shape {
        Shape::Histogram => histogram(values.iter().flatten().copied()),
        Shape::Categories => top_values(counted.map(|(x, count)| (format_float(x), count))),
        Shape::Booleans => top_values(counted.map(|(x, count)| ((x != 0.0).to_string(), count))),
    };
    ColumnProfile {
        missing: values.len() - present,
        unique: Some(counts.len()),
        mean: moments.mean(),
        std: moments.std(),
        min: (present > 0).then_some(min),
        max: (present > 0).then_some(max),
        distribution,
        ..base
    }
}

/// Counts of finite values in [`BINS`] equal-width bins; a constant column fills the first bin.
fn histogram(values: impl Iterator<Item = f64> + Clone) -> Distribution {
    let finite = values.filter(|x| x.is_finite());
    let (low, high) = finite.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if low > high {
        return Distribution::Empty;
    }
    let width = (high - low) / BINS as f64;
    let mut counts = vec![0u64; BINS];
    for x in finite {
        let bin = if width > 0.0 { ((x - low) / width) as usize } else { 0 };
        counts[bin.min(BINS - 1)] += 1;
    }
    Distribution::Histogram { low, high, counts }
}

fn text_profile(base: ColumnProfile, values: &mut dyn Iterator<Item = Option<&str>>) -> ColumnProfile {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    let mut missing = 0;
    for value in values {
        match value {
            Some(text) => *counts.entry(text).or_default() += 1,
            None => missing += 1,
        }
    }
    let unique = counts.len();
    ColumnProfile {
        missing,
        unique: Some(unique),
        distribution: top_values(counts.into_iter().map(|(text, count)| (text.to_owned(), count))),
        ..base
    }
}

/// The [`TOP_VALUES`] most frequent values, ties by value, and the count of all others.
fn top_values(counts: impl Iterator<Item = (String, u64)>) -> Distribution {
    let mut all: Vec<(String, u64)> = counts.collect();
    if all.is_empty() {
        return Distribution::Empty;
    }
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let others = all.iter().skip(TOP_VALUES).map(|(_, count)| count).sum();
    all.truncate(TOP_VALUES);
    Distribution::TopValues { top: all, others }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    fn profiles(frame: DataFrame) -> Vec<ColumnProfile> {
        profile(&Table::new(frame))
    }

    fn close(actual: Option<f64>, expected: f64) -> bool {
        actual.is_some_and(|a| (a - expected).abs() < 1e-12)
    }

    #[test]
    fn numbers_match_hand_computed_statistics() {
        // Present values 1, 2, 4, 8 (null and NaN are missing): mean 15/4 = 3.75; squared deviations
        // 7.5625 + 3.0625 + 0.0625 + 18.0625 = 28.75, over n − 1 = 3: variance 9.58333…, std 3.0956959…
        let frame = df!("x" => [Some(1.0), Some(2.0), None, Some(4.0), Some(f64::NAN), Some(8.0)]).expect("frame");
        let x = &profiles(frame)[0];
        assert_eq!((x.rows, x.missing, x.unique), (6, 2, Some(4)));
        assert!(close(x.mean, 3.75), "{:?}", x.mean);
        assert!(close(x.std, (28.75f64 / 3.0).sqrt()), "{:?}", x.std);
        assert!(close(x.std, 3.095_695_936_834_452), "pandas: Series([1, 2, 4, 8]).std()");
        assert_eq!((x.min, x.max), (Some(1.0), Some(8.0)));
        let Distribution::Histogram { low, high, counts } = &x.distribution else { panic!("numbers get a histogram") };
        assert_eq!((*low, *high, counts.len()), (1.0, 8.0, BINS));
        // Bins are 7/20 = 0.35 wide from 1: 1 → bin 0, 2 → bin 2 (1/0.35 = 2.86), 4 → bin 8 (3/0.35 = 8.57),
        // and 8, the right edge, goes into the last bin.
        let mut expected = vec![0u64; BINS];
        expected[0] = 1;
        expected[2] = 1;
        expected[8] = 1;
        expected[BINS - 1] = 1;
        assert_eq!(counts, &expected);
    }

    #[test]
    fn integers_are_profiled_as_numbers() {
        let frame = df!("n" => [Some(3i64), Some(3), Some(-1), None, Some(5)]).expect("frame");
        let n = &profiles(frame)[0];
        // 3, 3, -1, 5: mean 2.5; deviations 0.5, 0.5, -3.5, 2.5 → squares sum 19, variance 19/3.
        assert_eq!((n.dtype.as_str(), n.missing, n.unique), ("i64", 1, Some(3)));
        assert!(close(n.mean, 2.5));
        assert!(close(n.std, (19.0f64 / 3.0).sqrt()));
        assert_eq!((n.min, n.max), (Some(-1.0), Some(5.0)));
    }

    #[test]
    fn text_gets_counts_of_its_most_frequent_values() {
        let frame = df!("city" => [Some("b"), Some("a"), Some("b"), None, Some("c"), Some("b")]).expect("frame");
        let city = &profiles(frame)[0];
        assert_eq!((city.missing, city.unique, city.mean, city.std), (1, Some(3), None, None));
        assert_eq!(
            city.distribution,
            Distribution::TopValues { top: vec![("b".into(), 3), ("a".into(), 1), ("c".into(), 1)], others: 0 }
        );
    }

    #[test]
    fn values_beyond_the_top_ones_are_counted_as_others() {
        // Ten values: "v0" three times, "v1" twice, the rest once; the top 8 keep v0, v1 and v2..v7.
        let mut values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        values.extend(["v0".to_owned(), "v0".to_owned(), "v1".to_owned()]);
        let frame = df!("v" => values).expect("frame");
        let Distribution::TopValues { top, others } = &profiles(frame)[0].distribution else { panic!("top values") };
        assert_eq!(top.len(), TOP_VALUES);
        assert_eq!((&top[0], &top[1], &top[2]), (&("v0".to_owned(), 3), &("v1".to_owned(), 2), &("v2".to_owned(), 1)));
        assert_eq!(*others, 2, "v8 and v9");
    }

    #[test]
    fn booleans_and_categorical_numbers_get_bars_and_statistics() {
        let frame = df!("flag" => [true, false, true, true], "pclass" => [1i32, 3, 3, 2]).expect("frame");
        let mut table = Table::new(frame);
        table.categorical.insert("pclass".into());
        let profiles = profile(&table);
        let flag = &profiles[0];
        assert!(close(flag.mean, 0.75), "the share of true");
        assert_eq!(flag.unique, Some(2));
        assert_eq!(
            flag.distribution,
            Distribution::TopValues { top: vec![("true".into(), 3), ("false".into(), 1)], others: 0 }
        );
        let pclass = &profiles[1];
        assert!(close(pclass.mean, 2.25));
        assert_eq!(
            pclass.distribution,
            Distribution::TopValues { top: vec![("3".into(), 2), ("1".into(), 1), ("2".into(), 1)], others: 0 }
        );
    }

    #[test]
    fn empty_constant_and_infinite_columns_do_not_break() {
        let frame = df!(
            "k" => [5.0, 5.0, 5.0],
            "e" => [None::<f64>, None, None],
            "inf" => [1.0, f64::INFINITY, 3.0],
        )
        .expect("frame");
        let profiles = profiles(frame);
        let mut first = vec![0u64; BINS];
        first[0] = 3;
        assert_eq!(profiles[0].std, Some(0.0));
        assert_eq!(profiles[0].distribution, Distribution::Histogram { low: 5.0, high: 5.0, counts: first });
        let e = &profiles[1];
        assert_eq!((e.missing, e.unique, e.mean, e.std, e.min), (3, Some(0), None, None, None));
        assert_eq!(e.distribution, Distribution::Empty);
        let inf = &profiles[2];
        assert_eq!(inf.max, Some(f64::INFINITY));
        let Distribution::Histogram { low, high, counts } = &inf.distribution else { panic!("histogram") };
        assert_eq!((*low, *high, counts.iter().sum::<u64>()), (1.0, 3.0, 2), "only finite values are binned");
        assert!(profile(&Table::new(DataFrame::empty())).is_empty());
    }

    #[test]
    fn a_single_value_has_no_standard_deviation() {
        let one = &profiles(df!("x" => [2.0]).expect("frame"))[0];
        assert_eq!((one.mean, one.std), (Some(2.0), None));
    }
}
