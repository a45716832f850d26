//! Gradient-boosted trees with histogram splits, as scikit-learn's `HistGradientBoosting` estimators
//! grow them: features binned into at most 255 quantile bins, trees grown best-first (the leaf with
//! the largest loss reduction is split next) up to a number of leaves, leaf values
//! `-learning_rate × G / (H + λ)`. Log loss for classes (one tree per class and round beyond two
//! classes), squared error for numbers.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_engine::rng::SplitMix64;

use crate::frame::Matrix;

/// The smallest hessian sum a child may have, as in scikit-learn.
const MIN_HESSIAN: f64 = 1e-3;

/// Settings of a boosted ensemble.
#[derive(Debug, Clone, Copy)]
pub struct BoostingSettings {
    /// Boosting rounds.
    pub rounds: usize,
    /// Shrinkage of every leaf value.
    pub learning_rate: f64,
    /// Most leaves per tree.
    pub max_leaves: usize,
    /// Deepest level a leaf may sit at (root = 0); `None` for no limit.
    pub max_depth: Option<usize>,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values (λ).
    pub l2: f64,
    /// Most bins per feature (2..=255).
    pub max_bins: usize,
    /// Share of the features each split considers, drawn at random per split.
    pub feature_fraction: f64,
    /// Seed of the feature draws.
    pub seed: u64,
}

/// What is boosted.
#[derive(Debug, Clone, Copy)]
pub enum BoostTarget<'a> {
    /// Class indices in `0..classes`; at least two classes.
    Classes {
        /// Per-row class.
        y: &'a [usize],
        /// Number of classes.
        classes: usize,
    },
    /// Numbers (squared error).
    Values(&'a [f64]),
}

/// A tree node: a split (`feature` < `u32::MAX`) or a leaf with its raw-score contribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostNode {
    /// Split feature, or `u32::MAX` for a leaf.
    pub feature: u32,
    /// Rows with a value `<=` this go left; missing values go right.
    pub threshold: f64,
    /// Left child index.
    pub left: u32,
    /// Right child index.
    pub right: u32,
    /// Leaf value (0 for splits).
    pub value: f64,
}

/// How raw scores turn into a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Link {
    /// One raw score, the log-odds of the second class.
    Logistic,
    /// One raw score per class, softmax.
    Softmax,
    /// The raw score is the prediction.
    Identity,
}

/// A fitted ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTrees {
    /// Raw score before any tree, per output.
    pub baseline: Vec<f64>,
    /// Trees in round order; round `r`, output `k` is tree `r × outputs + k`.
    pub trees: Vec<Vec<BoostNode>>,
    /// How raw scores become predictions.
    pub link: Link,
    /// Mean training loss after the last round.
    pub training_loss: f64,
}

impl BoostedTrees {
    /// Raw scores per output.
    pub fn outputs(&self) -> usize {
        self.baseline.len()
    }

    /// The raw scores of one row.
    pub fn raw_row(&self, row: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.baseline);
        let k = self.outputs();
        for (t, tree) in self.trees.iter().enumerate() {
            out[t % k] += leaf_value(tree, row);
        }
    }

    /// Class probabilities of one row (`out` has one entry per class).
    pub fn probabilities_row(&self, row: &[f64], out: &mut [f64]) {
        if self.link == Link::Logistic {
            let mut raw = [0.0];
            self.raw_row(row, &mut raw);
            let p = sigmoid(raw[0]);
            out[0] = 1.0 - p;
            out[1] = p;
        } else {
            self.raw_row(row, out);
            softmax(out);
        }
    }

    /// The predicted number of one row.
    pub fn value_row(&self, row: &[f64]) -> f64 {
        let mut raw = [0.0];
        self.raw_row(row, &mut raw);
        raw[0]
    }
}

fn leaf_value(tree: &[BoostNode], row: &[f64]) -> f64 {
    let mut i = 0;
    loop {
        let node = &tree[i];
        if node.feature == u32::MAX {
            return node.value;
        }
        // NaN compares false and goes right, as its bin is the last one.
        i = if row[node.feature as usize] <= node.threshold { node.left } else { node.right } as usize;
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) }
}

fn softmax(v: &mut [f64]) {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        total += *x;
    }
    for x in v.iter_mut() {
        *x /= total;
    }
}

/// Bin edges of one feature as scikit-learn finds them: midpoints of the distinct values when there
/// are at most `max_bins`, else the `averaged_inverted_cdf` percentiles at `100 i / max_bins`.
pub fn bin_thresholds(values: &[f64], max_bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    if distinct.len() <= 1 {
        return Vec::new();
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| f64::midpoint(w[0], w[1])).collect();
    }
    let n = sorted.len();
    (1..max_bins)
        .map(|i| {
            let position = (100.0 * i as f64 / max_bins as f64) / 100.0 * n as f64;
            let k = position.round();
            if (position - k).abs() < 1e-9 && k >= 1.0 && (k as usize) < n {
                let k = k as usize;
                f64::midpoint(sorted[k - 1], sorted[k])
            } else {
                sorted[(position.ceil() as usize).clamp(1, n) - 1]
            }
        })
        .collect()
}

/// The bin of a value: the number of edges below it; missing values take the last bin.
fn bin_of(thresholds: &[f64], v: f64) -> u8 {
    if v.is_nan() {
        return thresholds.len() as u8;
    }
    thresholds.partition_point(|&t| t < v) as u8
}

/// The best split of a node found so far.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
}

/// A leaf that may still be split, with each feature's histogram of its rows (empty when it cannot be split).
struct Open {
    node: usize,
    rows: Vec<u32>,
    depth: usize,
    split: Option<Split>,
    histograms: Vec<Histogram>,
}

/// One feature's histogram: per bin the sums of the gradients and hessians of its rows, and their number.
type Histogram = Vec<(f64, f64, u32)>;

struct Grower<'a> {
    bins: &'a [Vec<u8>],
    thresholds: &'a [Vec<f64>],
    settings: BoostingSettings,
}

impl Grower<'_> {
    fn sums(rows: &[u32], g: &[f64], h: &[f64]) -> (f64, f64) {
        rows.iter().fold((0.0, 0.0), |(a, b), &r| (a + g[r as usize], b + h[r as usize]))
    }

    /// Whether a leaf of `rows` rows at `depth` may be split at all.
    fn splittable(&self, rows: usize, depth: usize) -> bool {
        let s = self.settings;
        rows >= 2 * s.min_samples_leaf && s.max_depth.is_none_or(|d| depth < d)
    }

    /// Each feature's histogram of `rows` (empty for a feature without bin edges), the features in parallel.
    fn histograms(&self, rows: &[u32], g: &[f64], h: &[f64]) -> Vec<Histogram> {
        self.bins
            .par_iter()
            .zip(self.thresholds)
            .map(|(column, edges)| {
                if edges.is_empty() {
                    return Vec::new();
                }
                // Four histograms filled in turn, summed at the end: consecutive rows that fall in one bin do not
                // wait on each other's additions.
                let bins = edges.len() + 1;
                let mut lanes = vec![(0.0f64, 0.0f64, 0u32); 4 * bins];
                let mut quads = rows.chunks_exact(4);
                for quad in &mut quads {
                    for (lane, &r) in quad.iter().enumerate() {
                        let slot = &mut lanes[lane * bins + column[r as usize] as usize];
                        slot.0 += g[r as usize];
                        slot.1 += h[r as usize];
                        slot.2 += 1;
                    }
                }
                for &r in quads.remainder() {
                    let slot = &mut lanes[column[r as usize] as usize];
                    slot.0 += g[r as usize];
                    slot.1 += h[r as usize];
                    slot.2 += 1;
                }
                (0..bins)
                    .map(|b| {
                        let [a, c, d, e] = [0, 1, 2, 3].map(|lane| lanes[lane * bins + b]);
                        ((a.0 + c.0) + (d.0 + e.0), (a.1 + c.1) + (d.1 + e.1), a.2 + c.2 + d.2 + e.2)
                    })
                    .collect()
            })
            .collect()
    }

    /// The histograms of a parent's other child: the parent's less this child's (as `LightGBM` and scikit-learn
    /// derive the larger child's, building only the smaller one's from its rows).
    fn difference(parent: &[Histogram], child: &[Histogram]) -> Vec<Histogram> {
        parent
            .iter()
            .zip(child)
            .map(|(p, c)| p.iter().zip(c).map(|(a, b)| (a.0 - b.0, a.1 - b.1, a.2 - b.2)).collect())
            .collect()
    }

    /// The best split of a leaf of `rows` rows with gradient and hessian sums `sums`, from its histograms.
    fn find_split(
        &self,
        histograms: &[Histogram],
        rows: usize,
        sums: (f64, f64),
        depth: usize,
        features: &[usize],
    ) -> Option<Split> {
        let s = self.settings;
        if !self.splittable(rows, depth) {
            return None;
        }
        let (sum_g, sum_h) = sums;
        let parent = sum_g * sum_g / (sum_h + s.l2);
        features
            .par_iter()
            .filter_map(|&f| {
                let edges = self.thresholds[f].len();
                let hist = histograms.get(f).filter(|h| !h.is_empty())?;
                let (mut lg, mut lh, mut ln) = (0.0, 0.0, 0usize);
                let mut best: Option<Split> = None;
                for (bin, &(bg, bh, bn)) in hist[..edges].iter().enumerate() {
                    lg += bg;
                    lh += bh;
                    ln += bn as usize;
                    let rn = rows - ln;
                    if ln < s.min_samples_leaf || lh < MIN_HESSIAN {
                        continue;
                    }
                    if rn < s.min_samples_leaf {
                        break;
                    }
                    let (rg, rh) = (sum_g - lg, sum_h - lh);
                    if rh < MIN_HESSIAN {
                        continue;
                    }
                    let gain = lg * lg / (lh + s.l2) + rg * rg / (rh + s.l2) - parent;
                    if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                        best = Some(Split { gain, feature: f, bin });
                    }
                }
                best
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold(None, |best: Option<Split>, s| {
                if best.is_none_or(|b| s.gain > b.gain || (s.gain == b.gain && s.feature < b.feature)) {
                    Some(s)
                } else {
                    best
                }
            })
    }

    /// Grows one tree on gradients `g` and hessians `h`; returns the tree and each row's leaf value.
    fn grow(&self, g: &[f64], h: &[f64], rows: usize, rng: &mut SplitMix64) -> (Vec<BoostNode>, Vec<f64>) {
        let s = self.settings;
        let p = self.bins.len();
        let tries = ((s.feature_fraction * p as f64).ceil() as usize).clamp(1, p.max(1));
        let mut features: Vec<usize> = (0..p).collect();
        let mut draw = |rng: &mut SplitMix64| -> Vec<usize> {
            if tries >= p {
                return (0..p).collect();
            }
            for i in 0..tries {
                let j = i + rng.below(p - i);
                features.swap(i, j);
            }
            let mut chosen = features[..tries].to_vec();
            chosen.sort_unstable();
            chosen
        };
        let leaf = BoostNode { feature: u32::MAX, threshold: 0.0, left: 0, right: 0, value: 0.0 };
        let mut nodes = vec![leaf.clone()];
        let all: Vec<u32> = (0..rows as u32).collect();
        let histograms = if self.splittable(rows, 0) { self.histograms(&all, g, h) } else { Vec::new() };
        let root_split = self.find_split(&histograms, rows, Self::sums(&all, g, h), 0, &draw(rng));
        let mut open = vec![Open { node: 0, rows: all, depth: 0, split: root_split, histograms }];
        let mut leaves = 1;
        while leaves < s.max_leaves {
            // The open leaf with the largest gain; the earliest on ties.
            let Some(at) = open
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.split.map(|sp| (i, sp.gain)))
                .fold(
                    None,
                    |best: Option<(usize, f64)>, (i, gain)| {
                        if best.is_none_or(|(_, b)| gain > b) { Some((i, gain)) } else { best }
                    },
                )
                .map(|(i, _)| i)
            else {
                break;
            };
            let parent = open.swap_remove(at);
            let Some(split) = parent.split else { break };
            let column = &self.bins[split.feature];
            let (left, right): (Vec<u32>, Vec<u32>) =
                parent.rows.iter().partition(|&&r| (column[r as usize] as usize) <= split.bin);
            let li = nodes.len();
            nodes.push(leaf.clone());
            nodes.push(leaf.clone());
            let node = &mut nodes[parent.node];
            node.feature = split.feature as u32;
            node.threshold = self.thresholds[split.feature][split.bin];
            node.left = li as u32;
            node.right = li as u32 + 1;
            leaves += 1;
            // The smaller child's histograms from its rows, the larger's from the parent's less those.
            let depth = parent.depth + 1;
            let (left_small, small, large) =
                if left.len() <= right.len() { (true, &left, &right) } else { (false, &right, &left) };
            let (mut small_h, mut large_h) = (Vec::new(), Vec::new());
            if self.splittable(small.len(), depth) || self.splittable(large.len(), depth) {
                small_h = self.histograms(small, g, h);
                if self.splittable(large.len(), depth) {
                    large_h = Self::difference(&parent.histograms, &small_h);
                }
            }
            let (left_h, right_h) = if left_small { (small_h, large_h) } else { (large_h, small_h) };
            drop(parent.histograms);
            for (index, rows, histograms) in [(li, left, left_h), (li + 1, right, right_h)] {
                let sums = Self::sums(&rows, g, h);
                let split = self.find_split(&histograms, rows.len(), sums, depth, &draw(rng));
                open.push(Open { node: index, rows, depth, split, histograms });
            }
        }
        let mut contribution = vec![0.0; rows];
        for leaf in open {
            let (sum_g, sum_h) = Self::sums(&leaf.rows, g, h);
            let value = -s.learning_rate * sum_g / (sum_h + s.l2);
            nodes[leaf.node].value = value;
            for &r in &leaf.rows {
                contribution[r as usize] = value;
            }
        }
        (nodes, contribution)
    }
}

/// Rows the bin edges are found on: past this many, every k-th row by its place in the table (as
/// scikit-learn finds them on a subsample of 200,000 rows), so a streamed table gets the same edges.
pub const BIN_SAMPLE_ROWS: usize = 200_000;

/// The step between the rows the bin edges are found on, for a table of `rows` rows.
pub fn bin_sample_stride(rows: usize) -> usize {
    (rows / BIN_SAMPLE_ROWS).max(1)
}

/// Each feature's bin edges, from the columns of the sampled rows.
pub fn thresholds_of(sample: &[Vec<f64>], max_bins: usize) -> Vec<Vec<f64>> {
    let max_bins = max_bins.clamp(2, 255);
    sample.par_iter().map(|c| bin_thresholds(c, max_bins)).collect()
}

/// Each feature's values as bins (one byte a cell).
pub fn binned(thresholds: &[Vec<f64>], x: &Matrix) -> Vec<Vec<u8>> {
    thresholds.par_iter().enumerate().map(|(j, t)| (0..x.rows).map(|i| bin_of(t, x.get(i, j))).collect()).collect()
}

/// Fits a boosted ensemble; `keep_going` is asked before each round and stops the fit when it says no.
pub fn fit(
    x: &Matrix,
    target: BoostTarget<'_>,
    settings: BoostingSettings,
    keep_going: &dyn Fn(usize) -> bool,
) -> Option<BoostedTrees> {
    let stride = bin_sample_stride(x.rows);
    let sample: Vec<Vec<f64>> =
        (0..x.cols).map(|j| (0..x.rows).step_by(stride).map(|i| x.get(i, j)).collect()).collect();
    let thresholds = thresholds_of(&sample, settings.max_bins);
    drop(sample);
    fit_binned(&binned(&thresholds, x), &thresholds, target, settings, keep_going)
}

/// Fits a boosted ensemble on binned features (`bins[j][i]`, the bin of row `i` in feature `j`), what a streamed
/// table is read into: a byte a cell, so 50 million rows of 38 features take 1.9 GB.
pub fn fit_binned(
    bins: &[Vec<u8>],
    thresholds: &[Vec<f64>],
    target: BoostTarget<'_>,
    settings: BoostingSettings,
    keep_going: &dyn Fn(usize) -> bool,
) -> Option<BoostedTrees> {
    let n = match target {
        BoostTarget::Classes { y, .. } => y.len(),
        BoostTarget::Values(y) => y.len(),
    };
    let grower = Grower { bins, thresholds, settings };
    let mut rng = SplitMix64::new(settings.seed);
    let (link, baseline) = match target {
        BoostTarget::Classes { y, classes: 2 } => {
            let p = (y.iter().filter(|&&c| c == 1).count() as f64 / n as f64).clamp(1e-15, 1.0 - 1e-15);
            (Link::Logistic, vec![(p / (1.0 - p)).ln()])
        }
        BoostTarget::Classes { y, classes } => {
            let mut logs: Vec<f64> = (0..classes)
                .map(|k| (y.iter().filter(|&&c| c == k).count() as f64 / n as f64).clamp(1e-15, 1.0).ln())
                .collect();
            let mean = logs.iter().sum::<f64>() / classes as f64;
            for l in &mut logs {
                *l -= mean;
            }
            (Link::Softmax, logs)
        }
        BoostTarget::Values(y) => (Link::Identity, vec![y.iter().sum::<f64>() / n as f64]),
    };
    let k = baseline.len();
    let mut raw: Vec<f64> = (0..n).flat_map(|_| baseline.iter().copied()).collect();
    let mut trees = Vec::with_capacity(settings.rounds * k);
    let mut g = vec![vec![0.0; n]; k];
    let mut h = vec![vec![0.0; n]; k];
    let mut probabilities = vec![0.0; k];
    for round in 0..settings.rounds {
        if !keep_going(round) {
            return None;
        }
        for i in 0..n {
            let scores = &raw[i * k..(i + 1) * k];
            match target {
                BoostTarget::Classes { y, .. } if link == Link::Logistic => {
                    let p = sigmoid(scores[0]);
                    g[0][i] = p - if y[i] == 1 { 1.0 } else { 0.0 };
                    h[0][i] = p * (1.0 - p);
                }
                BoostTarget::Classes { y, .. } => {
                    probabilities.copy_from_slice(scores);
                    softmax(&mut probabilities);
                    for (c, &p) in probabilities.iter().enumerate() {
                        g[c][i] = p - if y[i] == c { 1.0 } else { 0.0 };
                        h[c][i] = p * (1.0 - p);
                    }
                }
                BoostTarget::Values(y) => {
                    g[0][i] = scores[0] - y[i];
                    h[0][i] = 1.0;
                }
            }
        }
        for c in 0..k {
            let (tree, contribution) = grower.grow(&g[c], &h[c], n, &mut rng);
            for (i, v) in contribution.into_iter().enumerate() {
                raw[i * k + c] += v;
            }
            trees.push(tree);
        }
    }
    let training_loss = mean_loss(target, &raw, k);
    Some(BoostedTrees { baseline, trees, link, training_loss })
}

/// Mean log loss or half squared error of raw scores.
fn mean_loss(target: BoostTarget<'_>, raw: &[f64], k: usize) -> f64 {
    let n = raw.len() / k.max(1);
    let total: f64 = match target {
        BoostTarget::Classes { y, .. } if k == 1 => {
            (0..n).map(|i| -(if y[i] == 1 { sigmoid(raw[i]) } else { 1.0 - sigmoid(raw[i]) }).max(1e-300).ln()).sum()
        }
        BoostTarget::Classes { y, .. } => (0..n)
            .map(|i| {
                let mut p = raw[i * k..(i + 1) * k].to_vec();
                softmax(&mut p);
                -p[y[i]].max(1e-300).ln()
            })
            .sum(),
        BoostTarget::Values(y) => (0..n).map(|i| 0.5 * (raw[i] - y[i]).powi(2)).sum(),
    };
    total / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BoostingSettings {
        BoostingSettings {
            rounds: 50,
            learning_rate: 0.1,
            max_leaves: 31,
            max_depth: None,
            min_samples_leaf: 1,
            l2: 0.0,
            max_bins: 255,
            feature_fraction: 1.0,
            seed: 0,
        }
    }

    #[test]
    fn thresholds_are_midpoints_of_few_distinct_values_and_quantiles_of_many() {
        assert_eq!(bin_thresholds(&[3.0, 1.0, 2.0, 2.0, f64::NAN], 255), vec![1.5, 2.5]);
        assert!(bin_thresholds(&[4.0, 4.0], 255).is_empty());
        // Ten distinct values in four bins: averaged inverted CDF at 25 %, 50 %, 75 %.
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(bin_thresholds(&values, 4), vec![3.0, 5.5, 8.0]);
        assert_eq!(bin_of(&[1.5, 2.5], 1.5), 0, "a value equal to an edge is in the lower bin");
        assert_eq!(bin_of(&[1.5, 2.5], 9.0), 2);
    }

    #[test]
    fn a_single_round_of_squared_error_moves_each_leaf_by_the_learning_rate_share_of_its_residual() {
        let x = Matrix { rows: 4, cols: 1, data: vec![0.0, 1.0, 2.0, 3.0] };
        let y = [1.0, 1.0, 5.0, 5.0];
        let s = BoostingSettings { rounds: 1, max_leaves: 2, learning_rate: 0.5, ..settings() };
        let fit = fit(&x, BoostTarget::Values(&y), s, &|_| true).expect("fits");
        // Baseline 3; residuals −2 and +2; one split at 1.5; leaves move by ±1.
        assert_eq!(fit.baseline, vec![3.0]);
        assert_eq!(fit.trees[0].len(), 3);
        assert_eq!(fit.trees[0][0].threshold, 1.5);
        assert_eq!(fit.value_row(&[0.0]), 2.0);
        assert_eq!(fit.value_row(&[3.0]), 4.0);
        assert_eq!(fit.value_row(&[f64::NAN]), 4.0, "missing values go right");
    }

    #[test]
    fn the_l2_penalty_shrinks_leaf_values() {
        let x = Matrix { rows: 2, cols: 1, data: vec![0.0, 1.0] };
        let y = [0.0, 2.0];
        let s = BoostingSettings { rounds: 1, max_leaves: 2, learning_rate: 1.0, l2: 1.0, ..settings() };
        let fit = fit(&x, BoostTarget::Values(&y), s, &|_| true).expect("fits");
        // Residual +1 on one row: value G / (H + λ) = 1 / 2.
        assert_eq!(fit.value_row(&[1.0]), 1.5);
    }

    #[test]
    fn classes_separable_on_one_feature_are_learned_and_probabilities_sum_to_one() {
        let x = Matrix {
            rows: 9,
            cols: 2,
            data: (0..18).map(|i| if i % 2 == 0 { f64::from(i / 2) } else { 0.0 }).collect(),
        };
        let y = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let fit = fit(&x, BoostTarget::Classes { y: &y, classes: 3 }, settings(), &|_| true).expect("fits");
        assert_eq!(fit.trees.len(), 150, "three trees per round");
        for (i, &class) in y.iter().enumerate() {
            let mut p = [0.0; 3];
            fit.probabilities_row(x.row(i), &mut p);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(p[class] > 0.9, "row {i}: {p:?}");
        }
        assert!(fit.training_loss < 0.1);
    }

    #[test]
    fn min_samples_per_leaf_limits_splits() {
        let x = Matrix { rows: 4, cols: 1, data: vec![0.0, 1.0, 2.0, 3.0] };
        let y = [0.0, 0.0, 0.0, 9.0];
        let s = BoostingSettings { rounds: 1, min_samples_leaf: 2, ..settings() };
        let fit = fit(&x, BoostTarget::Values(&y), s, &|_| true).expect("fits");
        assert_eq!(fit.trees[0][0].threshold, 1.5, "the 3 | 1 split would leave one row alone");
        assert_eq!(fit.trees[0].len(), 3);
    }
}
