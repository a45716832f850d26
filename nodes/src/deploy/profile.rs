//! The training profile a package carries: for each input field, and for the prediction and its score, what
//! the rows the model learned from looked like — count and missing values, mean, standard deviation, minimum
//! and maximum, the distribution (every value when there are at most [`EXACT_VALUES`], else
//! [`QUANTILES`] + 1 evenly spaced quantiles), the distinct values with their counts when there are few, and
//! category frequencies. Monitoring compares what an endpoint sees with it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use pipewright_engine::{NodeError, Table};

use super::fields::{Field, FieldType};

/// A numeric distribution of at most this many values is kept whole.
pub const EXACT_VALUES: usize = 1000;

/// Larger distributions keep this many quantile steps (this many + 1 points, from the minimum to the maximum).
pub const QUANTILES: usize = 2000;

/// Distinct numeric values are counted while there are at most this many.
pub const FEW_VALUES: usize = 20;

/// What one column of the training rows looked like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// The field, or `prediction` / `score`.
    pub name: String,
    /// Rows with a value.
    pub count: u64,
    /// Rows without one.
    pub missing: u64,
    /// The values.
    #[serde(flatten)]
    pub values: Distribution,
}

/// A column's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    /// Numbers.
    Numeric {
        /// Mean.
        mean: f64,
        /// Standard deviation (population: divided by the count).
        std: f64,
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Every value sorted (at most [`EXACT_VALUES`]), or the quantiles at `k / QUANTILES`.
        points: Vec<f64>,
        /// Whether `points` holds every value.
        exact: bool,
        /// Each distinct value with its count, when there are at most [`FEW_VALUES`]; else empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        distinct: Vec<(f64, u64)>,
    },
    /// Categories or text, with the count of each value, most frequent first.
    Categorical {
        /// Value counts.
        counts: Vec<(String, u64)>,
    },
}

impl ColumnProfile {
    /// The share of rows without a value.
    pub fn missing_rate(&self) -> f64 {
        let rows = self.count + self.missing;
        if rows == 0 { 0.0 } else { self.missing as f64 / rows as f64 }
    }

    /// The profile of numbers (`None` for missing values).
    pub fn numeric(name: &str, values: &[Option<f64>]) -> Self {
        let mut present: Vec<f64> = values.iter().flatten().copied().filter(|x| x.is_finite()).collect();
        let missing = (values.len() - present.len()) as u64;
        present.sort_by(f64::total_cmp);
        let n = present.len();
        let mean = if n == 0 { 0.0 } else { present.iter().sum::<f64>() / n as f64 };
        let std =
            if n == 0 { 0.0 } else { (present.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt() };
        let mut distinct: Vec<(f64, u64)> = Vec::new();
        for &x in &present {
            if let Some((v, c)) = distinct.last_mut()
                && *v == x
            {
                *c += 1;
            } else if distinct.len() > FEW_VALUES {
                break;
            } else {
                distinct.push((x, 1));
            }
        }
        if distinct.len() > FEW_VALUES {
            distinct.clear();
        }
        let exact = n <= EXACT_VALUES;
        let points = if exact {
            present.clone()
        } else {
            (0..=QUANTILES).map(|k| quantile(&present, k as f64 / QUANTILES as f64)).collect()
        };
        Self {
            name: name.to_owned(),
            count: n as u64,
            missing,
            values: Distribution::Numeric {
                mean,
                std,
                min: present.first().copied().unwrap_or(0.0),
                max: present.last().copied().unwrap_or(0.0),
                points,
                exact,
                distinct,
            },
        }
    }

    /// The profile of text values (`None` for missing values).
    pub fn categorical(name: &str, values: &[Option<String>]) -> Self {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut missing = 0;
        for v in values {
            match v {
                Some(v) => *counts.entry(v.as_str()).or_default() += 1,
                None => missing += 1,
            }
        }
        let mut counts: Vec<(String, u64)> = counts.into_iter().map(|(k, c)| (k.to_owned(), c)).collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let count = counts.iter().map(|(_, c)| c).sum();
        Self { name: name.to_owned(), count, missing, values: Distribution::Categorical { counts } }
    }
}

/// The `q` quantile of sorted values, interpolated linearly (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// The training profile of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The training rows profiled.
    pub rows: u64,
    /// Each input field, in the package's order.
    pub features: Vec<ColumnProfile>,
    /// The model's predictions on those rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<ColumnProfile>,
    /// Their scores: the predicted class's probability, the anomaly score or the distance to the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ColumnProfile>,
}

impl Profile {
    /// A field's profile.
    pub fn feature(&self, name: &str) -> Option<&ColumnProfile> {
        self.features.iter().find(|f| f.name == name)
    }
}

/// The profile of `fields` in the raw rows `data`, each column read as its field's type.
pub fn of_fields(fields: &[Field], data: &Table) -> Result<Vec<ColumnProfile>, NodeError> {
    fields
        .iter()
        .map(|f| {
            if data.frame.column(&f.name).is_err() {
                return Ok(ColumnProfile::numeric(&f.name, &vec![None; data.height()]));
            }
            Ok(match f.ty {
                FieldType::Number => {
                    ColumnProfile::numeric(&f.name, &crate::frame::numeric_values(&data.frame, &f.name)?)
                }
                FieldType::Text | FieldType::Category => {
                    ColumnProfile::categorical(&f.name, &crate::frame::text_values(&data.frame, &f.name)?)
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numeric_profile_keeps_small_distributions_whole_and_large_ones_as_quantiles() {
        let small: Vec<Option<f64>> = (0..10).map(|i| if i == 3 { None } else { Some(f64::from(i)) }).collect();
        let p = ColumnProfile::numeric("x", &small);
        assert_eq!((p.count, p.missing), (9, 1));
        let Distribution::Numeric { mean, std, min, max, points, exact, distinct } = &p.values else { panic!() };
        assert!((mean - 42.0 / 9.0).abs() < 1e-12 && *min == 0.0 && *max == 9.0 && *exact);
        assert_eq!(points.len(), 9);
        assert_eq!(distinct.len(), 9);
        assert!(*std > 2.8 && *std < 3.0);
        let large: Vec<Option<f64>> = (0..100_000).map(|i| Some(f64::from(i))).collect();
        let p = ColumnProfile::numeric("x", &large);
        let Distribution::Numeric { points, exact, distinct, .. } = &p.values else { panic!() };
        assert!(!exact && distinct.is_empty());
        assert_eq!(points.len(), QUANTILES + 1);
        assert!((points[QUANTILES / 2] - 49_999.5).abs() < 1e-9, "the median");
        let c = ColumnProfile::categorical("c", &[Some("a".into()), None, Some("b".into()), Some("b".into())]);
        assert_eq!(c.missing_rate(), 0.25);
        assert_eq!(c.values, Distribution::Categorical { counts: vec![("b".into(), 2), ("a".into(), 1)] });
    }
}
