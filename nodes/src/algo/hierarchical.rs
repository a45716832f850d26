//! Agglomerative (hierarchical) clustering: every row starts as its own cluster and the two closest
//! clusters merge until `k` remain. Ward, complete and average linkage, computed with the
//! nearest-neighbour chain on a condensed distance matrix (O(n²) time and memory) and cut, as `SciPy`
//! and scikit-learn do, after sorting the merges by height.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::frame::Matrix;

/// Most rows the O(n²) distance matrix is built for (about 0.9 GB).
pub const MAX_ROWS: usize = 15_000;

/// How the distance between two clusters is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// The increase of the within-cluster sum of squares.
    Ward,
    /// The largest distance between their rows.
    Complete,
    /// The mean distance between their rows.
    Average,
}

/// A fitted clustering: centroids for new rows, and the cluster of every training row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HierarchicalFit {
    /// Mean of each cluster's training rows.
    pub centroids: Vec<Vec<f64>>,
    /// Rows per cluster.
    pub sizes: Vec<usize>,
    /// `(row fingerprint, cluster)` of the training rows, sorted, so that rows seen in training keep
    /// the cluster the tree gave them.
    pub training_rows: Vec<(u64, usize)>,
}

/// A fingerprint of a row's exact values.
pub fn row_fingerprint(row: &[f64]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for v in row {
        // Normalize −0 to 0 so equal numbers hash equally.
        let bits = if *v == 0.0 { 0 } else { v.to_bits() };
        h = (h ^ bits).wrapping_mul(0x0100_0000_01B3);
        h ^= h >> 29;
    }
    h
}

fn condensed(n: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + j - i - 1
}

/// The root of `i` in a union–find forest, halving paths on the way.
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The cluster of every row, numbered by first appearance; `None` when stopped.
pub fn cluster(x: &Matrix, k: usize, linkage: Linkage, keep_going: &dyn Fn(f32) -> bool) -> Option<Vec<usize>> {
    let n = x.rows;
    if n == 0 || k == 0 || k > n {
        return None;
    }
    let mut d = vec![0.0f64; n * (n - 1) / 2];
    for i in 0..n {
        for j in i + 1..n {
            let d2: f64 = x.row(i).iter().zip(x.row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
            // Ward's update works on squared distances; the others on distances.
            d[condensed(n, i, j)] = if linkage == Linkage::Ward { d2 } else { d2.sqrt() };
        }
    }
    let mut size = vec![1usize; n];
    let mut active = vec![true; n];
    let mut merges: Vec<(usize, usize, f64)> = Vec::with_capacity(n - 1);
    let mut chain: Vec<usize> = Vec::new();
    while merges.len() < n - 1 {
        if merges.len().is_multiple_of(256) && !keep_going(merges.len() as f32 / n as f32) {
            return None;
        }
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).unwrap_or(0));
        }
        let (a, b, dist) = loop {
            let a = chain[chain.len() - 1];
            let previous = (chain.len() >= 2).then(|| chain[chain.len() - 2]);
            let mut best = previous.map(|p| (p, d[condensed(n, a, p)]));
            for c in 0..n {
                if c == a || !active[c] {
                    continue;
                }
                let dc = d[condensed(n, a, c)];
                if best.is_none_or(|(_, bd)| dc < bd) {
                    best = Some((c, dc));
                }
            }
            let (b, dist) = best.unwrap_or((a, 0.0));
            if Some(b) == previous {
                break (a, b, dist);
            }
            chain.push(b);
        };
        chain.truncate(chain.len() - 2);
        // The merged cluster lives in slot b; slot a is retired.
        let (na, nb) = (size[a] as f64, size[b] as f64);
        for c in 0..n {
            if c == a || c == b || !active[c] {
                continue;
            }
            let (dac, dbc) = (d[condensed(n, a, c)], d[condensed(n, b, c)]);
            let nc = size[c] as f64;
            d[condensed(n, b, c)] = match linkage {
                Linkage::Ward => ((na + nc) * dac + (nb + nc) * dbc - nc * dist) / (na + nb + nc),
                Linkage::Complete => dac.max(dbc),
                Linkage::Average => (na * dac + nb * dbc) / (na + nb),
            };
        }
        active[a] = false;
        size[b] += size[a];
        merges.push((a, b, if linkage == Linkage::Ward { dist.max(0.0).sqrt() } else { dist }));
    }
    merges.sort_by(|p, q| p.2.total_cmp(&q.2));
    let mut parent: Vec<usize> = (0..n).collect();
    for &(a, b, _) in &merges[..n - k] {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    let mut numbers: HashMap<usize, usize> = HashMap::new();
    Some(
        (0..n)
            .map(|i| {
                let root = find(&mut parent, i);
                let next = numbers.len();
                *numbers.entry(root).or_insert(next)
            })
            .collect(),
    )
}

/// Fits the clustering and keeps what assigns rows later.
pub fn fit(x: &Matrix, k: usize, linkage: Linkage, keep_going: &dyn Fn(f32) -> bool) -> Option<HierarchicalFit> {
    let labels = cluster(x, k, linkage, keep_going)?;
    let mut centroids = vec![vec![0.0; x.cols]; k];
    let mut sizes = vec![0usize; k];
    for (i, &c) in labels.iter().enumerate() {
        sizes[c] += 1;
        centroids[c].iter_mut().zip(x.row(i)).for_each(|(m, v)| *m += v);
    }
    for (centroid, &size) in centroids.iter_mut().zip(&sizes) {
        for m in centroid.iter_mut() {
            *m /= size.max(1) as f64;
        }
    }
    let mut training_rows: Vec<(u64, usize)> =
        labels.iter().enumerate().map(|(i, &c)| (row_fingerprint(x.row(i)), c)).collect();
    training_rows.sort_unstable();
    training_rows.dedup_by_key(|(h, _)| *h);
    Some(HierarchicalFit { centroids, sizes, training_rows })
}

impl HierarchicalFit {
    /// The cluster of each row, with the distance to that cluster's centroid: a training row keeps
    /// its cluster, any other row joins the nearest centroid.
    pub fn assign(&self, x: &Matrix) -> Vec<(usize, f64)> {
        (0..x.rows)
            .map(|i| {
                let row = x.row(i);
                let distance = |c: usize| -> f64 {
                    self.centroids[c].iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
                };
                let fingerprint = row_fingerprint(row);
                if let Ok(at) = self.training_rows.binary_search_by_key(&fingerprint, |&(h, _)| h) {
                    let c = self.training_rows[at].1;
                    return (c, distance(c));
                }
                (0..self.centroids.len())
                    .map(|c| (c, distance(c)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((0, f64::NAN))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[f64]) -> Matrix {
        Matrix { rows: values.len(), cols: 1, data: values.to_vec() }
    }

    #[test]
    fn single_merges_follow_the_linkage() {
        // 0, 1 and 3 then 10: every linkage first joins 0 and 1.
        let x = line(&[0.0, 1.0, 3.0, 10.0]);
        for linkage in [Linkage::Ward, Linkage::Complete, Linkage::Average] {
            assert_eq!(cluster(&x, 3, linkage, &|_| true), Some(vec![0, 0, 1, 2]), "{linkage:?}");
            assert_eq!(cluster(&x, 2, linkage, &|_| true), Some(vec![0, 0, 0, 1]), "{linkage:?}");
        }
    }

    #[test]
    fn complete_and_average_linkage_use_the_farthest_and_the_mean_distance() {
        // Gaps 1, 1.2, 1.3, 1.4. Complete: {0,1} (1), {2.2,3.5} (1.3), then 4.9 joins {2.2,3.5} at 2.7
        // rather than {0,1}+{2.2,3.5} at 3.5. Average: the same order with 2.05 against 2.35.
        let x = line(&[0.0, 1.0, 2.2, 3.5, 4.9]);
        assert_eq!(cluster(&x, 2, Linkage::Complete, &|_| true), Some(vec![0, 0, 1, 1, 1]));
        assert_eq!(cluster(&x, 3, Linkage::Complete, &|_| true), Some(vec![0, 0, 1, 1, 2]));
        let fit = fit(&x, 2, Linkage::Average, &|_| true).expect("fits");
        assert_eq!(fit.sizes, vec![2, 3]);
        assert!((fit.centroids[1][0] - 10.6 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ward_merges_minimise_the_growth_of_the_sum_of_squares() {
        // Pairs at 0/1 and 4/5, then a point at 2.4: its Ward cost to {0,1} is 2/3·1.9² = 2.41,
        // to {4,5} 2/3·2.1² = 2.94, so it joins the left pair; at 2.6 the costs swap.
        let x = line(&[0.0, 1.0, 4.0, 5.0, 2.4]);
        assert_eq!(cluster(&x, 2, Linkage::Ward, &|_| true), Some(vec![0, 0, 1, 1, 0]));
        let x = line(&[0.0, 1.0, 4.0, 5.0, 2.6]);
        assert_eq!(cluster(&x, 2, Linkage::Ward, &|_| true), Some(vec![0, 0, 1, 1, 1]));
    }

    #[test]
    fn training_rows_keep_their_cluster_and_new_rows_join_the_nearest_centroid() {
        // Complete linkage: {3.2} and {4.8, 6.1, 7.2, 7.6} (centroid 6.425). The training row 4.8 is
        // nearer 3.2 (1.6 against 1.625) yet stays in its tree cluster; a new row 4.79 joins 3.2.
        let x = line(&[3.2, 4.8, 6.1, 7.2, 7.6]);
        let fit = fit(&x, 2, Linkage::Complete, &|_| true).expect("fits");
        assert_eq!(fit.sizes, vec![1, 4]);
        let assigned = fit.assign(&line(&[4.8, 4.79, 100.0]));
        assert_eq!(assigned[0].0, 1);
        assert!((assigned[0].1 - 1.625).abs() < 1e-12);
        assert_eq!(assigned[1].0, 0);
        assert!((assigned[1].1 - 1.59).abs() < 1e-12);
        assert_eq!(assigned[2].0, 1);
    }

    #[test]
    fn more_clusters_than_rows_is_refused() {
        assert_eq!(cluster(&line(&[1.0, 2.0]), 3, Linkage::Ward, &|_| true), None);
    }
}
