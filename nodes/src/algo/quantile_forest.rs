//! Quantile regression forests (Meinshausen 2006): a regression forest whose leaves remember which
//! training rows they hold. For a new row, each tree gives every training row in the row's leaf the weight
//! 1 / (rows in that leaf); the forest averages these weights over its trees, and the α-quantile is the
//! smallest training label `y` whose cumulative weight `Σ w_i · 1{y_i ≤ y}` reaches α. As in Meinshausen's
//! paper and R's `quantregForest`, the leaves are filled with every training row (not only the tree's
//! bootstrap sample), after the trees are grown by [`forest::fit`].

use serde::{Deserialize, Serialize};

use crate::algo::forest::{self, ForestSettings, Target, Tree};
use crate::frame::Matrix;

/// A fitted quantile forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileForest {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Training labels, sorted ascending.
    pub labels: Vec<f64>,
    /// For each tree, the leaf (node index) of each training row, in the order of `labels`.
    pub leaves: Vec<Vec<u32>>,
}

/// The node index of the leaf `row` falls into.
fn leaf_index(tree: &Tree, row: &[f64]) -> u32 {
    let mut i = 0usize;
    loop {
        let node = &tree.nodes[i];
        if node.feature == u32::MAX {
            return i as u32;
        }
        i = if row[node.feature as usize] <= node.threshold { node.left } else { node.right } as usize;
    }
}

/// Grows the forest and records the leaf of every training row; `None` when `keep_going` stopped it.
pub fn fit(
    x: &Matrix,
    y: &[f64],
    settings: ForestSettings,
    keep_going: &(dyn Fn(usize) -> bool + Sync),
) -> Option<QuantileForest> {
    let grown = forest::fit(x, Target::Values(y), settings, keep_going)?;
    let mut order: Vec<usize> = (0..x.rows).collect();
    order.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
    let leaves = grown.trees.iter().map(|tree| order.iter().map(|&r| leaf_index(tree, x.row(r))).collect()).collect();
    Some(QuantileForest { trees: grown.trees, labels: order.iter().map(|&r| y[r]).collect(), leaves })
}

impl QuantileForest {
    /// The weight of every training row (in `labels` order) for `row`; they sum to one.
    pub fn weights(&self, row: &[f64]) -> Vec<f64> {
        let mut weights = vec![0.0; self.labels.len()];
        let trees = self.trees.len().max(1) as f64;
        for (tree, leaves) in self.trees.iter().zip(&self.leaves) {
            let leaf = leaf_index(tree, row);
            let count = leaves.iter().filter(|&&l| l == leaf).count();
            if count == 0 {
                continue;
            }
            let share = 1.0 / (count as f64 * trees);
            for (w, &l) in weights.iter_mut().zip(leaves) {
                if l == leaf {
                    *w += share;
                }
            }
        }
        weights
    }

    /// The requested quantiles (each in `0..=1`) of one row, in the order asked.
    pub fn quantiles_row(&self, row: &[f64], quantiles: &[f64]) -> Vec<f64> {
        let weights = self.weights(row);
        let total: f64 = weights.iter().sum();
        quantiles.iter().map(|&q| weighted_quantile(&self.labels, &weights, total, q)).collect()
    }
}

/// The smallest sorted label whose cumulative weight reaches `q` of `total`.
fn weighted_quantile(labels: &[f64], weights: &[f64], total: f64, q: f64) -> f64 {
    let goal = q * total;
    let mut cumulative = 0.0;
    let mut last = f64::NAN;
    for (&y, &w) in labels.iter().zip(weights) {
        if w <= 0.0 {
            continue;
        }
        cumulative += w;
        last = y;
        // A relative slack keeps rounding from stepping past a quantile that falls exactly on a boundary.
        if cumulative >= goal - 1e-12 * total {
            return y;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantiles_step_through_the_sorted_labels() {
        let labels = [1.0, 2.0, 3.0, 4.0];
        let weights = [0.25; 4];
        assert_eq!(weighted_quantile(&labels, &weights, 1.0, 0.0), 1.0);
        assert_eq!(weighted_quantile(&labels, &weights, 1.0, 0.25), 1.0);
        assert_eq!(weighted_quantile(&labels, &weights, 1.0, 0.26), 2.0);
        assert_eq!(weighted_quantile(&labels, &weights, 1.0, 0.5), 2.0);
        assert_eq!(weighted_quantile(&labels, &weights, 1.0, 1.0), 4.0);
        assert_eq!(weighted_quantile(&labels, &[0.0, 0.5, 0.0, 0.5], 1.0, 0.75), 4.0);
    }
}
