//! Metric functions, each matching scikit-learn's definition of the same name.

use pipewright_engine::rng::SplitMix64;
use rayon::prelude::*;

/// Area under the ROC curve of scores for a binary truth, with ties averaged (Mann–Whitney U).
/// `None` when only one class is present.
pub fn roc_auc(truth: &[bool], score: &[f64]) -> Option<f64> {
    let positives = truth.iter().filter(|t| **t).count();
    let negatives = truth.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let j = order[i..].iter().position(|&k| score[k] != score[order[i]]).map_or(order.len(), |p| i + p);
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * order[i..j].iter().filter(|&&k| truth[k]).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// ROC points `(false positive rate, true positive rate)` and precision–recall points
/// `(recall, precision)` at every distinct threshold, thinned to at most `max_points`.
pub fn curves(truth: &[bool], score: &[f64], max_points: usize) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let positives = truth.iter().filter(|t| **t).count() as f64;
    let negatives = truth.len() as f64 - positives;
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![[0.0, 0.0]];
    let mut pr = vec![[0.0, 1.0]];
    let mut i = 0;
    while i < order.len() {
        let j = order[i..].iter().position(|&k| score[k] != score[order[i]]).map_or(order.len(), |p| i + p);
        for &k in &order[i..j] {
            if truth[k] { tp += 1.0 } else { fp += 1.0 }
        }
        roc.push([
            if negatives > 0.0 { fp / negatives } else { 0.0 },
            if positives > 0.0 { tp / positives } else { 0.0 },
        ]);
        pr.push([if positives > 0.0 { tp / positives } else { 0.0 }, tp / (tp + fp)]);
        i = j;
    }
    (thin(roc, max_points), thin(pr, max_points))
}

fn thin(points: Vec<[f64; 2]>, max_points: usize) -> Vec<[f64; 2]> {
    if points.len() <= max_points || max_points < 2 {
        return points;
    }
    let step = (points.len() - 1) as f64 / (max_points - 1) as f64;
    (0..max_points).map(|i| points[((i as f64 * step).round() as usize).min(points.len() - 1)]).collect()
}

/// Mean negative log-probability of the true class, probabilities clipped away from 0.
pub fn log_loss(true_class_probability: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for p in true_class_probability {
        sum -= p.clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln();
        n += 1;
    }
    sum / n.max(1) as f64
}

/// Matthews correlation coefficient of a confusion matrix (`counts[actual][predicted]`), for two or more classes
/// as scikit-learn's `matthews_corrcoef`; 0 when it is undefined (a single class predicted or present).
pub fn matthews(counts: &[Vec<u64>]) -> f64 {
    let k = counts.len();
    let total: f64 = counts.iter().flatten().map(|&c| c as f64).sum();
    let correct: f64 = (0..k).map(|c| counts[c][c] as f64).sum();
    let actual: Vec<f64> = counts.iter().map(|row| row.iter().map(|&c| c as f64).sum()).collect();
    let predicted: Vec<f64> = (0..k).map(|c| counts.iter().map(|row| row[c] as f64).sum()).collect();
    let covariance = correct * total - actual.iter().zip(&predicted).map(|(a, p)| a * p).sum::<f64>();
    let spread_predicted = total * total - predicted.iter().map(|p| p * p).sum::<f64>();
    let spread_actual = total * total - actual.iter().map(|a| a * a).sum::<f64>();
    if spread_predicted == 0.0 || spread_actual == 0.0 {
        return 0.0;
    }
    covariance / (spread_predicted * spread_actual).sqrt()
}

/// Balanced accuracy of a confusion matrix: the mean recall of the classes that occur, as scikit-learn's
/// `balanced_accuracy_score`.
pub fn balanced_accuracy(counts: &[Vec<u64>]) -> f64 {
    let recalls: Vec<f64> = counts
        .iter()
        .enumerate()
        .filter_map(|(c, row)| {
            let actual: u64 = row.iter().sum();
            (actual > 0).then(|| row[c] as f64 / actual as f64)
        })
        .collect();
    if recalls.is_empty() { 0.0 } else { recalls.iter().sum::<f64>() / recalls.len() as f64 }
}

/// Precision, recall and F1 of one class from its confusion counts; 0 where undefined.
pub fn precision_recall_f1(true_positives: u64, predicted: u64, actual: u64) -> (f64, f64, f64) {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(true_positives, predicted);
    let recall = ratio(true_positives, actual);
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    (precision, recall, f1)
}

/// Regression metrics: MAE, RMSE, R², relative absolute error, relative squared error.
pub fn regression(actual: &[f64], predicted: &[f64]) -> [(&'static str, f64); 5] {
    let n = actual.len().max(1) as f64;
    let mean = actual.iter().sum::<f64>() / n;
    let abs: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).abs()).sum();
    let sq: f64 = actual.iter().zip(predicted).map(|(a, p)| (a - p).powi(2)).sum();
    let abs_total: f64 = actual.iter().map(|a| (a - mean).abs()).sum();
    let sq_total: f64 = actual.iter().map(|a| (a - mean).powi(2)).sum();
    [
        ("mae", abs / n),
        ("rmse", (sq / n).sqrt()),
        ("r2", 1.0 - sq / sq_total),
        ("relative_absolute_error", abs / abs_total),
        ("relative_squared_error", sq / sq_total),
    ]
}

/// Mean silhouette coefficient (Euclidean) over a seeded sample of at most `sample` rows,
/// computed within the sample as scikit-learn's `silhouette_score(sample_size=…)` does.
pub fn silhouette(rows: &[Vec<f64>], clusters: &[usize], sample: usize, seed: u64) -> Option<f64> {
    let chosen = silhouette_rows(rows.len(), sample, seed);
    let k = clusters.iter().copied().max()? + 1;
    let mut sizes = vec![0usize; k];
    for &i in &chosen {
        sizes[clusters[i]] += 1;
    }
    if sizes.iter().filter(|s| **s > 0).count() < 2 {
        return None;
    }
    let distance = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let total: f64 = chosen
        .par_iter()
        .map(|&i| {
            let mut sums = vec![0.0; k];
            for &j in &chosen {
                if i != j {
                    sums[clusters[j]] += distance(&rows[i], &rows[j]);
                }
            }
            let own = clusters[i];
            if sizes[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            (b - a) / a.max(b)
        })
        .sum();
    Some(total / chosen.len() as f64)
}

/// The rows (in increasing order) the silhouette of `n` rows is computed on: all of them, or `sample` drawn
/// with `seed`.
pub fn silhouette_rows(n: usize, sample: usize, seed: u64) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..n).collect();
    if n > sample {
        SplitMix64::new(seed).shuffle(&mut chosen);
        chosen.truncate(sample);
        chosen.sort_unstable();
    }
    chosen
}

/// The first `count` principal axes (unit vectors, largest variance first) of the rows: eigenvectors of their
/// covariance matrix. `None` for fewer than two rows or no columns.
pub fn principal_axes(rows: &[Vec<f64>], count: usize) -> Option<Vec<Vec<f64>>> {
    let n = rows.len();
    let d = rows.first()?.len();
    if n < 2 || d == 0 {
        return None;
    }
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64).collect();
    let mut cov = vec![vec![0.0; d]; d];
    for row in rows {
        for a in 0..d {
            for b in a..d {
                cov[a][b] += (row[a] - mean[a]) * (row[b] - mean[b]);
            }
        }
    }
    #[allow(clippy::needless_range_loop, reason = "mirrors the upper triangle: both indices address the matrix")]
    for a in 0..d {
        for b in a..d {
            cov[a][b] /= (n - 1) as f64;
            cov[b][a] = cov[a][b];
        }
    }
    let flat: Vec<f64> = cov.into_iter().flatten().collect();
    let (_, vectors) = crate::algo::linalg::symmetric_eigen(&flat, d);
    let axes = vectors.into_iter().take(count).collect();
    Some(axes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_handles_ties_like_scikit_learn() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        assert_eq!(roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        // roc_auc_score([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
        assert_eq!(roc_auc(&[false, true, false, true], &[0.5; 4]), Some(0.5));
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn curves_start_at_the_origin_and_end_at_one() {
        let (roc, pr) = curves(&[false, true, true, false], &[0.2, 0.9, 0.6, 0.7], 100);
        assert_eq!(roc.first(), Some(&[0.0, 0.0]));
        assert_eq!(roc.last(), Some(&[1.0, 1.0]));
        assert_eq!(pr[1], [0.5, 1.0]);
    }

    #[test]
    fn regression_metrics_on_a_known_case() {
        let m = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0]);
        assert_eq!(m[0].1, 1.0 / 3.0);
        assert!((m[1].1 - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(m[2].1, 0.5);
    }

    #[test]
    fn silhouette_of_two_tight_far_groups_is_near_one() {
        let rows = vec![vec![0.0], vec![0.1], vec![10.0], vec![10.1]];
        let s = silhouette(&rows, &[0, 0, 1, 1], 100, 0).expect("defined");
        assert!(s > 0.98, "{s}");
        assert_eq!(silhouette(&rows, &[0, 0, 0, 0], 100, 0), None);
    }

    #[test]
    fn principal_axes_of_points_on_a_line_and_an_ellipse() {
        // Points on y = 2x: the first axis is (1, 2)/sqrt(5).
        let rows: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i), 2.0 * f64::from(i)]).collect();
        let axes = principal_axes(&rows, 2).expect("axes");
        let s = 5f64.sqrt();
        assert!((axes[0][0] - 1.0 / s).abs() < 1e-9 && (axes[0][1] - 2.0 / s).abs() < 1e-9, "{axes:?}");
        // Wide along x, narrow along y: the axes are x then y.
        let rows = vec![vec![-3.0, 0.0], vec![3.0, 0.0], vec![0.0, 1.0], vec![0.0, -1.0]];
        let axes = principal_axes(&rows, 2).expect("axes");
        assert!((axes[0][0].abs() - 1.0).abs() < 1e-9 && axes[0][1].abs() < 1e-9, "{axes:?}");
        assert!((axes[1][1].abs() - 1.0).abs() < 1e-6, "{axes:?}");
        assert!(principal_axes(&rows[..1], 2).is_none());
    }
}
