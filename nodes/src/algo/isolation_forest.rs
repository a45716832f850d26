//! Isolation Forest (Liu, Ting and Zhou 2008) as scikit-learn grows it: each tree sees a subsample drawn
//! without replacement and splits on a random non-constant feature at a uniform threshold between its
//! minimum and maximum, down to depth ⌈log₂ ψ⌉. A row's score is `2^(−E[h(x)] / c(ψ))`, where `h` is the
//! depth of its leaf plus `c(leaf size)`, the average path length of an unsuccessful search in a binary
//! search tree — scikit-learn's `-score_samples`. Each tree draws from its own seed, so the forest does
//! not depend on the number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_engine::rng::SplitMix64;

use crate::frame::Matrix;

/// Settings of a forest.
#[derive(Debug, Clone, Copy)]
pub struct IsolationSettings {
    /// Number of trees.
    pub trees: usize,
    /// Rows per tree (at most the table's rows).
    pub max_samples: usize,
    /// Seed of the forest.
    pub seed: u64,
}

/// One node. A leaf (`feature < 0`) stores its whole path-length contribution in `value`;
/// a split sends `x[feature] <= value` left.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationNode {
    #[serde(rename = "f")]
    feature: i32,
    #[serde(rename = "v")]
    value: f64,
    #[serde(rename = "l")]
    left: u32,
    #[serde(rename = "r")]
    right: u32,
}

/// A fitted forest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationForest {
    /// Trees, each a node list with the root first.
    pub trees: Vec<Vec<IsolationNode>>,
    /// ψ, the rows each tree was grown on.
    pub samples: usize,
}

impl IsolationForest {
    /// Whether every tree is a well-formed node list (root first, children in the list, each node reached
    /// once) splitting only on the first `features` columns.
    pub fn check(&self, features: usize) -> Result<(), String> {
        if self.trees.is_empty() || self.samples == 0 {
            return Err("it has no trees".into());
        }
        for (t, tree) in self.trees.iter().enumerate() {
            crate::model::check_tree(&format!("tree {t}"), tree.len(), features, |i| {
                let node = &tree[i];
                usize::try_from(node.feature).ok().map(|f| (f, node.left as usize, node.right as usize))
            })?;
        }
        Ok(())
    }
}

/// c(n): the average path length of an unsuccessful search among `n` rows (scikit-learn's
/// `_average_path_length`).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Grows a forest; `keep_going` is asked after each tree and stops the fit (`None`) when it says no.
pub fn fit(x: &Matrix, settings: IsolationSettings, keep_going: &(dyn Fn() -> bool + Sync)) -> Option<IsolationForest> {
    let samples = settings.max_samples.min(x.rows).max(1);
    let max_depth = (samples as f64).log2().ceil().max(0.0) as usize;
    let trees: Option<Vec<Vec<IsolationNode>>> = (0..settings.trees)
        .into_par_iter()
        .map(|t| {
            if !keep_going() {
                return None;
            }
            let mut rng = SplitMix64::new(settings.seed ^ (t as u64 + 1).wrapping_mul(0x9FB2_1C65_1E98_DF25));
            let mut rows: Vec<usize> = (0..x.rows).collect();
            for i in 0..samples {
                let j = i + rng.below(x.rows - i);
                rows.swap(i, j);
            }
            rows.truncate(samples);
            let mut nodes = Vec::new();
            grow(x, &mut rows, 0, max_depth, &mut rng, &mut nodes);
            Some(nodes)
        })
        .collect();
    Some(IsolationForest { trees: trees?, samples })
}

/// Appends the subtree over `rows` to `nodes` and returns its index.
fn grow(
    x: &Matrix,
    rows: &mut [usize],
    depth: usize,
    max_depth: usize,
    rng: &mut SplitMix64,
    nodes: &mut Vec<IsolationNode>,
) -> u32 {
    let index = nodes.len() as u32;
    let leaf = IsolationNode { feature: -1, value: depth as f64 + average_path_length(rows.len()), left: 0, right: 0 };
    nodes.push(leaf);
    if rows.len() < 2 || depth >= max_depth {
        return index;
    }
    // Draw features without replacement until one is not constant on these rows.
    let mut candidates: Vec<usize> = (0..x.cols).collect();
    let mut split = None;
    while !candidates.is_empty() {
        let feature = candidates.swap_remove(rng.below(candidates.len()));
        let (low, high) = rows
            .iter()
            .map(|&r| x.get(r, feature))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if high > low {
            let mut threshold = low + rng.next_f64() * (high - low);
            if threshold >= high {
                threshold = low;
            }
            split = Some((feature, threshold));
            break;
        }
    }
    let Some((feature, threshold)) = split else { return index };
    let mut cut = 0;
    for i in 0..rows.len() {
        if x.get(rows[i], feature) <= threshold {
            rows.swap(i, cut);
            cut += 1;
        }
    }
    let (left_rows, right_rows) = rows.split_at_mut(cut);
    let left = grow(x, left_rows, depth + 1, max_depth, rng, nodes);
    let right = grow(x, right_rows, depth + 1, max_depth, rng, nodes);
    nodes[index as usize] =
        IsolationNode { feature: i32::try_from(feature).unwrap_or(i32::MAX), value: threshold, left, right };
    index
}

impl IsolationForest {
    /// The anomaly score of one row, in (0, 1]; about 0.5 or less is normal, near 1 isolated.
    pub fn score(&self, row: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.5;
        }
        let total: f64 = self
            .trees
            .iter()
            .map(|tree| {
                let mut node = &tree[0];
                while let Ok(feature) = usize::try_from(node.feature) {
                    node = &tree[if row[feature] <= node.value { node.left } else { node.right } as usize];
                }
                node.value
            })
            .sum();
        let normalizer = average_path_length(self.samples).max(f64::MIN_POSITIVE);
        (-(total / self.trees.len() as f64) / normalizer).exp2()
    }

    /// Scores of every row.
    pub fn scores(&self, x: &Matrix) -> Vec<f64> {
        (0..x.rows).into_par_iter().map(|i| self.score(x.row(i))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_matches_scikit_learn() {
        // sklearn.ensemble._iforest._average_path_length([256]) == 10.244770920116851
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
        assert!((average_path_length(2) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn an_isolated_point_scores_highest() {
        let mut data = Vec::new();
        for i in 0..50 {
            data.extend([f64::from(i % 7) * 0.1, f64::from(i % 5) * 0.1]);
        }
        data.extend([10.0, 10.0]);
        let x = Matrix { rows: 51, cols: 2, data };
        let forest = fit(&x, IsolationSettings { trees: 50, max_samples: 256, seed: 3 }, &|| true).expect("fits");
        let scores = forest.scores(&x);
        let top = (0..scores.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
        assert_eq!(top, 50);
        assert!(scores[50] > 0.7, "{}", scores[50]);
    }
}
