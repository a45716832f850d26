//! DBSCAN: rows with at least `min_samples` rows (themselves included) within `eps` (Euclidean)
//! are core rows; core rows within `eps` of each other share a cluster, and other rows within `eps`
//! of a core row join that row's cluster. The rest is noise. Neighbourhoods are found by brute force
//! (O(n²) distance computations, O(n) memory), expanding clusters in row order as scikit-learn does.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::frame::Matrix;

/// A fitted DBSCAN: the core rows and their clusters, which assign new rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbscanFit {
    /// Neighbourhood radius.
    pub eps: f64,
    /// Fewest rows in a core row's neighbourhood.
    pub min_samples: usize,
    /// Number of clusters; noise rows get this index.
    pub clusters: usize,
    /// Core rows.
    pub core: Vec<Vec<f64>>,
    /// Cluster of each core row.
    pub core_clusters: Vec<usize>,
    /// Training rows that were noise.
    pub noise_rows: usize,
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn neighbours(x: &Matrix, i: usize, eps2: f64) -> Vec<usize> {
    let row = x.row(i);
    (0..x.rows).filter(|&j| squared_distance(row, x.row(j)) <= eps2).collect()
}

/// Clusters the rows; the second value is each training row's cluster (`None` for noise).
/// `keep_going` is asked now and then with the share done and stops the fit when it says no.
pub fn fit(
    x: &Matrix,
    eps: f64,
    min_samples: usize,
    keep_going: &(dyn Fn(f32) -> bool + Sync),
) -> Option<(DbscanFit, Vec<Option<usize>>)> {
    let eps2 = eps * eps;
    let is_core: Option<Vec<bool>> = (0..x.rows)
        .into_par_iter()
        .map(|i| {
            if i % 1024 == 0 && !keep_going(0.5 * i as f32 / x.rows as f32) {
                return None;
            }
            let row = x.row(i);
            Some((0..x.rows).filter(|&j| squared_distance(row, x.row(j)) <= eps2).count() >= min_samples)
        })
        .collect();
    let is_core = is_core?;
    let mut labels: Vec<Option<usize>> = vec![None; x.rows];
    let mut clusters = 0;
    let mut stack = Vec::new();
    for start in 0..x.rows {
        if labels[start].is_some() || !is_core[start] {
            continue;
        }
        if !keep_going(0.5 + 0.5 * start as f32 / x.rows as f32) {
            return None;
        }
        // Rows are labelled when first reached, so each enters the stack at most once (memory stays linear
        // however dense the cluster); only core rows spread the cluster further.
        labels[start] = Some(clusters);
        stack.push(start);
        while let Some(i) = stack.pop() {
            for j in neighbours(x, i, eps2) {
                if labels[j].is_none() {
                    labels[j] = Some(clusters);
                    if is_core[j] {
                        stack.push(j);
                    }
                }
            }
        }
        clusters += 1;
    }
    let core_rows: Vec<usize> = (0..x.rows).filter(|&i| is_core[i]).collect();
    let fit = DbscanFit {
        eps,
        min_samples,
        clusters,
        core: core_rows.iter().map(|&i| x.row(i).to_vec()).collect(),
        core_clusters: core_rows.iter().map(|&i| labels[i].unwrap_or(clusters)).collect(),
        noise_rows: labels.iter().filter(|l| l.is_none()).count(),
    };
    Some((fit, labels))
}

impl DbscanFit {
    /// The cluster of each row (the cluster of its nearest core row when that is within `eps`, else
    /// noise, index `clusters`) and the distance to that nearest core row.
    pub fn assign(&self, x: &Matrix) -> Vec<(usize, f64)> {
        (0..x.rows)
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let row = x.row(i);
                let nearest = self
                    .core
                    .iter()
                    .enumerate()
                    .map(|(c, core)| (c, squared_distance(row, core)))
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                match nearest {
                    Some((c, d2)) if d2 <= self.eps * self.eps => (self.core_clusters[c], d2.sqrt()),
                    Some((_, d2)) => (self.clusters, d2.sqrt()),
                    None => (self.clusters, f64::NAN),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_dense_groups_a_border_row_and_an_outlier() {
        let x = Matrix { rows: 8, cols: 1, data: vec![0.0, 0.1, 0.2, 0.3, 5.0, 5.1, 5.2, 20.0] };
        let (fit, labels) = fit(&x, 0.15, 3, &|_| true).expect("fits");
        assert_eq!(fit.clusters, 2);
        assert_eq!(labels, [Some(0), Some(0), Some(0), Some(0), Some(1), Some(1), Some(1), None]);
        // Core rows (three rows within 0.15): 0.1, 0.2 and 5.1; 0.0, 0.3, 5.0 and 5.2 are border rows.
        assert_eq!(fit.core.len(), 3);
        assert_eq!(fit.noise_rows, 1);
        let new = Matrix { rows: 3, cols: 1, data: vec![0.05, 5.22, 3.0] };
        let assigned = fit.assign(&new);
        assert_eq!(assigned[0].0, 0);
        assert!((assigned[0].1 - 0.05).abs() < 1e-12);
        assert_eq!(assigned[1].0, 1);
        assert_eq!(assigned[2].0, 2, "too far from every core row: noise, the index after the clusters");
    }

    #[test]
    fn everything_is_noise_when_no_row_is_dense_enough() {
        let x = Matrix { rows: 3, cols: 1, data: vec![0.0, 1.0, 2.0] };
        let (fit, labels) = fit(&x, 0.5, 2, &|_| true).expect("fits");
        assert_eq!(fit.clusters, 0);
        assert!(labels.iter().all(Option::is_none));
        assert!(fit.assign(&x).iter().all(|&(c, d)| c == 0 && d.is_nan()));
    }
}
