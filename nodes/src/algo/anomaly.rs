//! What the anomaly detectors share: the threshold that flags a chosen fraction of the training rows.

/// The `q`-th percentile (0..=100) of `values` with linear interpolation between order statistics,
/// as numpy's default `percentile`; `None` for no values.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let weight = position - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * weight)
}

/// The score above which a row is an anomaly so that a `contamination` fraction of `training_scores`
/// is flagged: scikit-learn's `offset_` for a float contamination, on scores where higher is more anomalous.
pub fn contamination_threshold(training_scores: &[f64], contamination: f64) -> f64 {
    percentile(training_scores, 100.0 * (1.0 - contamination)).unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 90) == 3.7
        assert!((percentile(&[4.0, 1.0, 3.0, 2.0], 90.0).unwrap_or_default() - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn threshold_flags_the_contaminated_fraction() {
        let scores: Vec<f64> = (0..100).map(f64::from).collect();
        let threshold = contamination_threshold(&scores, 0.1);
        assert_eq!(scores.iter().filter(|&&s| s > threshold).count(), 10);
    }
}
