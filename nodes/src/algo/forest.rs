//! Random forests of CART trees: Gini splits for classification, squared-error splits for regression,
//! bootstrap samples and a random subset of features tried at each split. Trees grow in parallel,
//! each from its own seed, so the result does not depend on the number of threads. [`fit_tree`]
//! grows one tree on every row with every feature (the Decision Tree block), with Gini or entropy splits.
//!
//! Tables of up to [`BINNED_FROM_ROWS`] rows find every split exactly, by sorting, as scikit-learn does. On
//! larger tables, nodes of more than [`BINNED_NODE_ROWS`] rows scan histograms instead: each feature is cut once
//! per fit into at most 256 bins at its quantiles (exactly at its distinct values when it has no more), and a split
//! falls between bins. This makes a node cost a pass over its rows rather than a sort; features with few distinct
//! values (indicators, counts) split exactly as before, and the small nodes near the leaves sort their values.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_engine::NodeError;
use pipewright_engine::rng::{SplitMix64, keyed_u64};

use crate::frame::Matrix;

/// How many features each split considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFeatures {
    /// √p (classification default).
    Sqrt,
    /// log₂ p.
    Log2,
    /// p / 3.
    Third,
    /// All p (regression default).
    All,
}

impl MaxFeatures {
    fn count(self, p: usize) -> usize {
        let n = match self {
            Self::Sqrt => (p as f64).sqrt() as usize,
            Self::Log2 => (p as f64).log2() as usize,
            Self::Third => p / 3,
            Self::All => p,
        };
        n.clamp(1, p.max(1))
    }
}

/// Settings of a forest.
#[derive(Debug, Clone, Copy)]
pub struct ForestSettings {
    /// Number of trees.
    pub trees: usize,
    /// Deepest level a tree may reach (root = 0).
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Features tried per split.
    pub max_features: MaxFeatures,
    /// Train each tree on a bootstrap sample.
    pub bootstrap: bool,
    /// Seed of the whole forest.
    pub seed: u64,
}

/// How the purity of a classification split is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Gini impurity, 1 − Σ pₖ².
    Gini,
    /// Entropy, −Σ pₖ ln pₖ (information gain).
    Entropy,
}

/// Settings of a single tree.
#[derive(Debug, Clone, Copy)]
pub struct TreeSettings {
    /// Deepest level the tree may reach (root = 0).
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_samples_leaf: usize,
    /// Split criterion for classes (regression always uses squared error).
    pub criterion: Criterion,
}

/// What the trees predict.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Class indices in `0..classes`.
    Classes {
        /// Per-row class.
        y: &'a [usize],
        /// Number of classes.
        classes: usize,
    },
    /// Numbers.
    Values(&'a [f64]),
}

/// One tree node: a split (`feature` < `u32::MAX`) or a leaf holding its prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Split feature, or `u32::MAX` for a leaf.
    pub feature: u32,
    /// Rows with a value `<=` this go left.
    pub threshold: f64,
    /// Left child index.
    pub left: u32,
    /// Right child index.
    pub right: u32,
    /// Leaf prediction: class probabilities, or one value for regression.
    pub value: Vec<f64>,
}

/// A fitted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; the root is first.
    pub nodes: Vec<TreeNode>,
}

impl Tree {
    /// The leaf value a row falls into: class probabilities, or one value for regression.
    pub fn predict_row(&self, row: &[f64]) -> &[f64] {
        self.leaf(row)
    }

    fn leaf(&self, row: &[f64]) -> &[f64] {
        let mut i = 0;
        loop {
            let node = &self.nodes[i];
            if node.feature == u32::MAX {
                return &node.value;
            }
            i = if row[node.feature as usize] <= node.threshold { node.left } else { node.right } as usize;
        }
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Width of a prediction: classes, or 1.
    pub outputs: usize,
}

impl Forest {
    /// The average of the trees' leaf values for one row.
    pub fn predict_row(&self, row: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for tree in &self.trees {
            for (o, v) in out.iter_mut().zip(tree.leaf(row)) {
                *o += v;
            }
        }
        let n = self.trees.len().max(1) as f64;
        for o in out.iter_mut() {
            *o /= n;
        }
    }
}

/// Tables with more rows than this are binned, for the splits of their nodes of more than [`BINNED_NODE_ROWS`].
pub const BINNED_FROM_ROWS: usize = 4096;

/// Nodes of a binned table with more rows than this split on bins; smaller ones sort their values.
pub const BINNED_NODE_ROWS: usize = 256;

/// Every feature cut into at most 256 bins, for the splits of large nodes.
struct Binned {
    /// Per feature, the thresholds between consecutive bins: a value `v` is in bin `b` when
    /// `edges[b - 1] < v <= edges[b]`.
    edges: Vec<Vec<f64>>,
    /// The bin of every value, feature after feature.
    codes: Vec<u8>,
    rows: usize,
}

impl Binned {
    fn new(x: &Matrix) -> Self {
        let columns: Vec<(Vec<f64>, Vec<u8>)> = (0..x.cols)
            .into_par_iter()
            .map(|f| {
                let edges = edges_of((0..x.rows).map(|r| x.get(r, f)).collect());
                let codes = (0..x.rows).map(|r| code_of(&edges, x.get(r, f))).collect();
                (edges, codes)
            })
            .collect();
        let (edges, codes): (Vec<Vec<f64>>, Vec<Vec<u8>>) = columns.into_iter().unzip();
        Self { edges, codes: codes.concat(), rows: x.rows }
    }

    /// The best split of `rows` on feature `f`: its score (as [`best_split`] scores), threshold and the last
    /// bin that goes left.
    fn best_split(
        &self,
        f: usize,
        target: Target<'_>,
        outputs: usize,
        criterion: Criterion,
        rows: &[usize],
        min_leaf: usize,
    ) -> Option<(f64, f64, usize)> {
        let tally = self.tally(f, target, outputs, rows);
        scan(&self.edges[f], &tally, target, outputs, criterion, rows.len(), min_leaf)
    }

    /// What the splits of `rows` on feature `f` are scored from: per bin, each class's rows (`bins × outputs`), or
    /// the sum of the label and the rows (`bins × 2`). Counts and sums, so shards' tallies add up to the whole's.
    fn tally(&self, f: usize, target: Target<'_>, outputs: usize, rows: &[usize]) -> Vec<f64> {
        let bins = self.edges[f].len() + 1;
        let codes = &self.codes[f * self.rows..(f + 1) * self.rows];
        match target {
            Target::Classes { y, .. } => {
                let mut tally = vec![0u32; bins * outputs];
                for &r in rows {
                    tally[usize::from(codes[r]) * outputs + y[r]] += 1;
                }
                tally.iter().map(|&c| f64::from(c)).collect()
            }
            Target::Values(y) => {
                let mut tally = vec![0.0f64; bins * 2];
                for &r in rows {
                    let b = usize::from(codes[r]);
                    tally[2 * b] += y[r];
                    tally[2 * b + 1] += 1.0;
                }
                tally
            }
        }
    }
}

/// The best split of a node of `n` rows on a feature with bin edges `edges`, from its [`Binned::tally`]: its score
/// (as [`best_split`] scores), threshold and the last bin that goes left.
fn scan(
    edges: &[f64],
    tally: &[f64],
    target: Target<'_>,
    outputs: usize,
    criterion: Criterion,
    n: usize,
    min_leaf: usize,
) -> Option<(f64, f64, usize)> {
    let bins = edges.len() + 1;
    let mut best: Option<(f64, f64, usize)> = None;
    match target {
        Target::Classes { .. } => {
            let hist = tally;
            let count: Vec<usize> = hist.chunks_exact(outputs).map(|h| h.iter().map(|&v| v as usize).sum()).collect();
            let mut right = vec![0.0f64; outputs];
            for b in 0..bins {
                right.iter_mut().zip(&hist[b * outputs..(b + 1) * outputs]).for_each(|(r, h)| *r += h);
            }
            let entropy_score = |counts: &[f64], n: f64| counts.iter().map(|&c| x_ln_x(c)).sum::<f64>() - x_ln_x(n);
            let sq = |counts: &[f64]| counts.iter().map(|c| c * c).sum::<f64>();
            let parent = match criterion {
                Criterion::Gini => sq(&right) / n as f64,
                Criterion::Entropy => entropy_score(&right, n as f64),
            };
            let mut left = vec![0.0f64; outputs];
            let mut nl = 0;
            for b in 0..bins - 1 {
                if count[b] == 0 {
                    continue;
                }
                nl += count[b];
                for (k, h) in hist[b * outputs..(b + 1) * outputs].iter().enumerate() {
                    left[k] += h;
                    right[k] -= h;
                }
                let nr = n - nl;
                if nl < min_leaf || nr < min_leaf {
                    continue;
                }
                let score = match criterion {
                    Criterion::Gini => sq(&left) / nl as f64 + sq(&right) / nr as f64,
                    Criterion::Entropy => entropy_score(&left, nl as f64) + entropy_score(&right, nr as f64),
                };
                if score > parent + 1e-12 && best.is_none_or(|(s, _, _)| score > s) {
                    best = Some((score, edges[b], b));
                }
            }
        }
        Target::Values(_) => {
            let total: f64 = (0..bins).map(|b| tally[2 * b]).sum();
            let parent = total * total / n as f64;
            let (mut left, mut nl) = (0.0, 0);
            for b in 0..bins - 1 {
                let count = tally[2 * b + 1] as usize;
                if count == 0 {
                    continue;
                }
                left += tally[2 * b];
                nl += count;
                let nr = n - nl;
                if nl < min_leaf || nr < min_leaf {
                    continue;
                }
                let right = total - left;
                let score = left * left / nl as f64 + right * right / nr as f64;
                if score > parent + 1e-9 * parent.abs().max(1e-12) && best.is_none_or(|(s, _, _)| score > s) {
                    best = Some((score, edges[b], b));
                }
            }
        }
    }
    best
}

/// The edges of one feature's bins: between its distinct values when it has at most 256, else between the value
/// at each 256th quantile and the next larger one.
fn edges_of(mut sorted: Vec<f64>) -> Vec<f64> {
    sorted.sort_unstable_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    let mut edges: Vec<f64> = if distinct.len() <= 256 {
        distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect()
    } else {
        (1..256)
            .filter_map(|b| {
                let v = sorted[b * sorted.len() / 256];
                let next = distinct.partition_point(|d| *d <= v);
                distinct.get(next).map(|&n| midpoint(v, n))
            })
            .collect()
    };
    edges.dedup();
    edges
}

/// The bin of a value: the number of edges below it.
fn code_of(edges: &[f64], v: f64) -> u8 {
    edges.partition_point(|e| *e < v) as u8
}

/// The features of a table read in batches (a streamed table) as a forest grows on them: bin edges found on a
/// sample of the rows, then every row's bin of every feature, one byte a cell (50 million rows of 38 features
/// take 1.9 GB). Trees grown on them split on bins at every node.
pub struct StreamBins {
    binned: Binned,
}

impl StreamBins {
    /// Room for `rows` rows, with each feature's edges found on its sampled values `sample[j]`.
    pub fn new(sample: Vec<Vec<f64>>, rows: usize) -> Self {
        let edges: Vec<Vec<f64>> = sample.into_par_iter().map(edges_of).collect();
        let codes = vec![0u8; edges.len() * rows];
        Self { binned: Binned { edges, codes, rows } }
    }

    /// Bins the rows of `x`, rows `first_row..` of the table.
    pub fn fill(&mut self, x: &Matrix, first_row: usize) {
        let rows = self.binned.rows;
        let edges = &self.binned.edges;
        self.binned.codes.par_chunks_mut(rows).zip(edges).enumerate().for_each(|(f, (column, edges))| {
            for (i, code) in column[first_row..first_row + x.rows].iter_mut().enumerate() {
                *code = code_of(edges, x.get(i, f));
            }
        });
    }
}

/// Grows a forest on binned rows (see [`StreamBins`]); `keep_going` is asked before each tree.
pub fn fit_bins(
    bins: &StreamBins,
    target: Target<'_>,
    settings: ForestSettings,
    keep_going: &(dyn Fn(usize) -> bool + Sync),
) -> Option<Forest> {
    grow_forest(None, &bins.binned, bins.binned.rows, target, settings, keep_going)
}

/// One shard of a data-parallel forest: where its rows sit in the whole table, and how its numbers reach every
/// other shard's.
pub struct Shard<'a> {
    /// Rows of the whole table.
    pub rows_in_table: usize,
    /// Where the shard's first row is in the whole table.
    pub offset: usize,
    /// Every rank's numbers, in rank order, once every rank has given its own (the same on every rank).
    pub gather: &'a (dyn Fn(Vec<f64>) -> Result<Vec<Vec<f64>>, NodeError> + Sync),
}

/// Grows a forest data-parallel: `bins` are this shard's rows (see [`StreamBins`], edges found on the whole table's
/// sample), and every tree is grown level by level, one exchange of the level's nodes' sums and one of the tallies
/// of their drawn features, so every rank makes the same splits. Each tree's bootstrap sample is drawn over the
/// whole table, as [`fit_bins`] draws it, and each rank keeps its rows' draws: the forest is the one [`fit_bins`]
/// grows on the whole table (to the rounding of a regression leaf's mean). `Ok(None)` when `keep_going` stops it.
pub fn fit_bins_across(
    bins: &StreamBins,
    target: Target<'_>,
    settings: ForestSettings,
    keep_going: &(dyn Fn(usize) -> bool + Sync),
    shard: &Shard<'_>,
) -> Result<Option<Forest>, NodeError> {
    let outputs = match target {
        Target::Classes { classes, .. } => classes,
        Target::Values(_) => 1,
    };
    let here = bins.binned.rows;
    let (mut times, mut rows) = (Vec::new(), Vec::new());
    let mut trees = Vec::with_capacity(settings.trees);
    for t in 0..settings.trees {
        if !keep_going(t) {
            return Ok(None);
        }
        let seed = tree_seed(settings.seed, t);
        rows.clear();
        if settings.bootstrap {
            draws(seed, shard.rows_in_table, &mut times);
            let mine = &times[shard.offset..shard.offset + here];
            rows.extend(mine.iter().enumerate().flat_map(|(r, &k)| std::iter::repeat_n(r, k as usize)));
        } else {
            rows.extend(0..here);
        }
        trees.push(grow_across(&bins.binned, target, outputs, &mut rows, settings, seed, shard)?);
    }
    Ok(Some(Forest { trees, outputs }))
}

/// A node of a tree grown level by level: its rows' stretch (this shard's), depth, path key, and, once split, its
/// children.
struct LevelNode {
    begin: usize,
    end: usize,
    depth: usize,
    key: u64,
    children: Option<(usize, usize)>,
}

/// Grows one tree level by level over every shard's rows; `rows` are this shard's (bootstrap) rows.
fn grow_across(
    binned: &Binned,
    target: Target<'_>,
    outputs: usize,
    rows: &mut [usize],
    s: ForestSettings,
    seed: u64,
    shard: &Shard<'_>,
) -> Result<Tree, NodeError> {
    let cols = binned.edges.len();
    let tries = s.max_features.count(cols).min(cols);
    let placeholder = TreeNode { feature: u32::MAX, threshold: 0.0, left: 0, right: 0, value: Vec::new() };
    let mut nodes = vec![placeholder.clone()];
    let mut grown = vec![LevelNode { begin: 0, end: rows.len(), depth: 0, key: 1, children: None }];
    let (mut level, mut features, mut scratch) = (vec![0usize], Vec::new(), Vec::new());
    let width = match target {
        Target::Classes { .. } => outputs,
        Target::Values(_) => 4,
    };
    while !level.is_empty() {
        // Every node's sums over every shard: each class's rows, or the label's sum, rows, least and greatest.
        let local: Vec<f64> =
            level.iter().flat_map(|&i| node_sums(target, outputs, &rows[grown[i].begin..grown[i].end])).collect();
        let parts = (shard.gather)(local)?;
        let sums = merge_node_sums(target, width, level.len(), &parts)?;
        // The nodes that split: their drawn features' tallies, every shard's added up, in one exchange.
        let mut splitting = Vec::new();
        for (k, &i) in level.iter().enumerate() {
            let node = &grown[i];
            let node_sums = &sums[k * width..(k + 1) * width];
            let (n, pure) = n_and_purity(target, node_sums);
            if node.depth >= s.max_depth || n < 2 * s.min_samples_leaf.max(1) || pure {
                nodes[i].value = node_value(target, node_sums, n);
                continue;
            }
            if n <= GATHERED_NODE_ROWS {
                // Small: its rows come to every rank, which grows its subtree as one process would.
                splitting.push((i, n, (0..cols).collect(), node_sums.to_vec(), true));
                continue;
            }
            draw_features(&mut features, cols, tries, node_seed(seed, node.key));
            splitting.push((i, n, features[..tries].to_vec(), node_sums.to_vec(), false));
        }
        let tallies = level_tallies(binned, target, outputs, rows, &grown, &splitting, shard)?;
        let mut next = Vec::new();
        for ((i, n, drawn, node_sums, _), tallies) in splitting.into_iter().zip(tallies) {
            let tallies = match tallies {
                NodeTallies::Tallies(tallies) => tallies,
                NodeTallies::Rows(gathered) => {
                    let start = (grown[i].key, grown[i].depth);
                    let subtree = grow_gathered(binned, target, outputs, &gathered, s, seed, start);
                    graft(&mut nodes, &mut grown, i, subtree);
                    continue;
                }
            };
            let mut best: Option<(f64, usize, f64, usize)> = None;
            for (f, tally) in drawn.into_iter().zip(tallies) {
                if let Some((score, threshold, bin)) =
                    scan(&binned.edges[f], &tally, target, outputs, Criterion::Gini, n, s.min_samples_leaf.max(1))
                    && best.is_none_or(|(b, ..)| score > b + 1e-12)
                {
                    best = Some((score, f, threshold, bin));
                }
            }
            let Some((_, feature, threshold, bin)) = best else {
                nodes[i].value = node_value(target, &node_sums, n);
                continue;
            };
            let LevelNode { begin, end, depth, key, .. } = grown[i];
            let codes = &binned.codes[feature * binned.rows..(feature + 1) * binned.rows];
            let middle = begin + split_in_place(&mut rows[begin..end], &mut scratch, |r| usize::from(codes[r]) <= bin);
            let li = nodes.len();
            nodes.push(placeholder.clone());
            nodes.push(placeholder.clone());
            nodes[i].feature = feature as u32;
            nodes[i].threshold = threshold;
            grown[i].children = Some((li, li + 1));
            grown.push(LevelNode { begin, end: middle, depth: depth + 1, key: child_key(key, 0), children: None });
            grown.push(LevelNode { begin: middle, end, depth: depth + 1, key: child_key(key, 1), children: None });
            next.extend([li, li + 1]);
        }
        level = next;
    }
    Ok(depth_first(&nodes, &grown))
}

/// A node that splits at this level: its index, rows over every shard, drawn features, sums, and whether it is
/// small enough that its rows (every feature) come to every rank to grow its subtree there.
type Splitting = (usize, usize, Vec<usize>, Vec<f64>, bool);

/// Nodes of at most this many rows (over every shard) are grown where the rows are gathered: one exchange of their
/// rows instead of two for each of their levels.
const GATHERED_NODE_ROWS: usize = 4096;

/// What a level's exchange brings a splitting node: its drawn features' tallies over every shard, or (a small node)
/// its rows from every shard in row order, each row's bins of every feature and its label.
enum NodeTallies {
    Tallies(Vec<Vec<f64>>),
    Rows(Vec<f64>),
}

/// The subtree one process grows from a node whose rows are `gathered` (each its bins of every feature, then its
/// label, in row order): the node of path key `key` at `depth`.
fn grow_gathered(
    binned: &Binned,
    target: Target<'_>,
    outputs: usize,
    gathered: &[f64],
    s: ForestSettings,
    seed: u64,
    start: (u64, usize),
) -> Tree {
    let cols = binned.edges.len();
    let rows = gathered.len() / (cols + 1);
    let mut codes = vec![0u8; cols * rows];
    for (r, row) in gathered.chunks_exact(cols + 1).enumerate() {
        for (f, &bin) in row[..cols].iter().enumerate() {
            codes[f * rows + r] = bin as u8;
        }
    }
    let here = Binned { edges: binned.edges.clone(), codes, rows };
    let labels: Vec<f64> = gathered.chunks_exact(cols + 1).map(|row| row[cols]).collect();
    let classes: Vec<usize>;
    let target = match target {
        Target::Classes { classes: count, .. } => {
            classes = labels.iter().map(|&c| c as usize).collect();
            Target::Classes { y: &classes, classes: count }
        }
        Target::Values(_) => Target::Values(&labels),
    };
    let mut order: Vec<usize> = (0..rows).collect();
    grow(None, Some(&here), target, outputs, (&mut order, &mut Vec::new()), s, Criterion::Gini, seed, start)
}

/// Puts `subtree` in place of node `at` of a tree grown level by level: its root becomes the node, the rest
/// follow, each with its children.
fn graft(nodes: &mut Vec<TreeNode>, grown: &mut Vec<LevelNode>, at: usize, subtree: Tree) {
    let base = nodes.len();
    let place = |k: u32| if k == 0 { at } else { base + k as usize - 1 };
    for (k, node) in subtree.nodes.into_iter().enumerate() {
        let children = (node.feature != u32::MAX).then(|| (place(node.left), place(node.right)));
        if k == 0 {
            nodes[at] = node;
            grown[at].children = children;
        } else {
            nodes.push(node);
            grown.push(LevelNode { begin: 0, end: 0, depth: 0, key: 0, children });
        }
    }
}

/// Every splitting node's tallies of its drawn features ([`Binned::tally`]) over every shard, in one exchange. A
/// node's tallies travel as they are, to be added up, when they are the smaller; a small node's rows travel instead
/// (each row's bins of the drawn features and its label), gathered in rank order, which is row order, and every
/// rank tallies them as one process would: deep levels hold many nodes of few rows, whose tallies would be mostly
/// empty bins.
fn level_tallies(
    binned: &Binned,
    target: Target<'_>,
    outputs: usize,
    rows: &[usize],
    grown: &[LevelNode],
    splitting: &[Splitting],
    shard: &Shard<'_>,
) -> Result<Vec<NodeTallies>, NodeError> {
    let per_bin = match target {
        Target::Classes { .. } => outputs,
        Target::Values(_) => 2,
    };
    let tally_len = |f: usize| (binned.edges[f].len() + 1) * per_bin;
    let by_rows: Vec<bool> = splitting
        .iter()
        .map(|(_, n, drawn, _, whole)| *whole || n * (drawn.len() + 1) < drawn.iter().map(|&f| tally_len(f)).sum())
        .collect();
    let label = |r: usize| match target {
        Target::Classes { y, .. } => y[r] as f64,
        Target::Values(y) => y[r],
    };
    // This rank's part: the tallies of the nodes that send them, the rows each small node has here, then those
    // rows.
    let (mut sums, mut counts, mut data) = (Vec::new(), Vec::new(), Vec::new());
    for ((i, _, drawn, ..), &small) in splitting.iter().zip(&by_rows) {
        let node_rows = &rows[grown[*i].begin..grown[*i].end];
        if small {
            counts.push(node_rows.len() as f64);
            for &r in node_rows {
                data.extend(drawn.iter().map(|&f| f64::from(binned.codes[f * binned.rows + r])));
                data.push(label(r));
            }
        } else {
            sums.extend(drawn.iter().flat_map(|&f| binned.tally(f, target, outputs, node_rows)));
        }
    }
    let (sums_len, small_nodes) = (sums.len(), counts.len());
    let parts = (shard.gather)([sums, counts, data].concat())?;
    let mut total = vec![0.0; sums_len];
    // Per small node, its rows' numbers from every rank, in rank order.
    let mut gathered: Vec<Vec<f64>> = vec![Vec::new(); small_nodes];
    for (rank, part) in parts.iter().enumerate() {
        let short = || NodeError::data(format!("rank {rank} sent a level's tallies cut short"));
        let (head, mut rest) = part.split_at_checked(sums_len + small_nodes).ok_or_else(short)?;
        total.iter_mut().zip(&head[..sums_len]).for_each(|(t, v)| *t += v);
        let small = splitting.iter().zip(&by_rows).filter(|(_, s)| **s).map(|(node, _)| node);
        for ((k, (_, _, drawn, ..)), &count) in small.enumerate().zip(&head[sums_len..]) {
            let (mine, after) = rest.split_at_checked(count as usize * (drawn.len() + 1)).ok_or_else(short)?;
            gathered[k].extend_from_slice(mine);
            rest = after;
        }
    }
    let (mut at, mut small) = (0, gathered.into_iter());
    let mut tallies = Vec::with_capacity(splitting.len());
    for ((_, _, drawn, _, whole), &by_rows) in splitting.iter().zip(&by_rows) {
        if *whole {
            tallies.push(NodeTallies::Rows(small.next().unwrap_or_default()));
        } else if by_rows {
            let rows = small.next().unwrap_or_default();
            let width = drawn.len() + 1;
            tallies.push(NodeTallies::Tallies(
                drawn
                    .iter()
                    .enumerate()
                    .map(|(j, &f)| {
                        let mut tally = vec![0.0; tally_len(f)];
                        for row in rows.chunks_exact(width) {
                            let (bin, y) = (row[j] as usize, row[width - 1]);
                            match target {
                                Target::Classes { .. } => tally[bin * outputs + y as usize] += 1.0,
                                Target::Values(_) => {
                                    tally[2 * bin] += y;
                                    tally[2 * bin + 1] += 1.0;
                                }
                            }
                        }
                        tally
                    })
                    .collect(),
            ));
        } else {
            tallies.push(NodeTallies::Tallies(
                drawn
                    .iter()
                    .map(|&f| {
                        let tally = total[at..at + tally_len(f)].to_vec();
                        at += tally_len(f);
                        tally
                    })
                    .collect(),
            ));
        }
    }
    Ok(tallies)
}

/// A node's sums over this shard's `rows`: each class's rows, or the label's sum, the rows, the least and the
/// greatest label (infinite when there are none).
fn node_sums(target: Target<'_>, outputs: usize, rows: &[usize]) -> Vec<f64> {
    match target {
        Target::Classes { y, .. } => {
            let mut counts = vec![0.0; outputs];
            for &r in rows {
                counts[y[r]] += 1.0;
            }
            counts
        }
        Target::Values(y) => {
            let (mut sum, mut least, mut most) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
            for &r in rows {
                sum += y[r];
                least = least.min(y[r]);
                most = most.max(y[r]);
            }
            vec![sum, rows.len() as f64, least, most]
        }
    }
}

/// The level's nodes' sums over every shard, from every rank's [`node_sums`] (`width` numbers a node).
fn merge_node_sums(target: Target<'_>, width: usize, nodes: usize, parts: &[Vec<f64>]) -> Result<Vec<f64>, NodeError> {
    let mut total = vec![0.0; width * nodes];
    if let Target::Values(_) = target {
        for node in total.chunks_exact_mut(4) {
            node[2] = f64::INFINITY;
            node[3] = f64::NEG_INFINITY;
        }
    }
    for (rank, part) in parts.iter().enumerate() {
        if part.len() != total.len() {
            return Err(NodeError::data(format!(
                "rank {rank} sent the sums of {} numbers where {} were expected",
                part.len(),
                total.len()
            )));
        }
        match target {
            Target::Classes { .. } => total.iter_mut().zip(part).for_each(|(t, v)| *t += v),
            Target::Values(_) => {
                for (t, v) in total.chunks_exact_mut(4).zip(part.chunks_exact(4)) {
                    t[0] += v[0];
                    t[1] += v[1];
                    t[2] = t[2].min(v[2]);
                    t[3] = t[3].max(v[3]);
                }
            }
        }
    }
    Ok(total)
}

/// A node's rows, and whether every row has the same label, from its sums over every shard.
fn n_and_purity(target: Target<'_>, sums: &[f64]) -> (usize, bool) {
    match target {
        Target::Classes { .. } => (sums.iter().sum::<f64>() as usize, sums.iter().filter(|&&c| c > 0.0).count() <= 1),
        Target::Values(_) => (sums[1] as usize, sums[1] == 0.0 || sums[2] == sums[3]),
    }
}

/// A leaf's value from its sums over every shard (as [`leaf_value`] computes it from its rows).
fn node_value(target: Target<'_>, sums: &[f64], n: usize) -> Vec<f64> {
    let n = n.max(1) as f64;
    match target {
        Target::Classes { .. } => sums.iter().map(|c| c / n).collect(),
        Target::Values(_) => vec![sums[0] / n],
    }
}

/// The nodes of a tree grown level by level numbered as [`grow`] numbers them growing depth first: the root, then
/// for each node split, in the order [`grow`] splits them (the right child's subtree before the left's), its two
/// children next to each other.
fn depth_first(nodes: &[TreeNode], grown: &[LevelNode]) -> Tree {
    let mut out = Vec::with_capacity(nodes.len());
    let mut slot = vec![0usize; nodes.len()];
    out.push(nodes[0].clone());
    let mut work = vec![0usize];
    while let Some(old) = work.pop() {
        let Some((left, right)) = grown[old].children else { continue };
        let li = out.len();
        out.push(nodes[left].clone());
        out.push(nodes[right].clone());
        slot[left] = li;
        slot[right] = li + 1;
        let at = slot[old];
        out[at].left = li as u32;
        out[at].right = li as u32 + 1;
        work.push(left);
        work.push(right);
    }
    Tree { nodes: out }
}

/// Grows a forest; `keep_going` is asked before each tree and stops the fit when it says no.
pub fn fit(
    x: &Matrix,
    target: Target<'_>,
    settings: ForestSettings,
    keep_going: &(dyn Fn(usize) -> bool + Sync),
) -> Option<Forest> {
    let binned = if x.rows > BINNED_FROM_ROWS {
        Binned::new(x)
    } else {
        Binned { edges: Vec::new(), codes: Vec::new(), rows: 0 }
    };
    grow_forest(Some(x), &binned, x.rows, target, settings, keep_going)
}

/// Grows the trees of a forest on `rows` rows: on the matrix `x` and its bins, or on the bins alone.
fn grow_forest(
    x: Option<&Matrix>,
    binned: &Binned,
    rows_in_table: usize,
    target: Target<'_>,
    settings: ForestSettings,
    keep_going: &(dyn Fn(usize) -> bool + Sync),
) -> Option<Forest> {
    let outputs = match target {
        Target::Classes { classes, .. } => classes,
        Target::Values(_) => 1,
    };
    let binned = (!binned.edges.is_empty()).then_some(binned);
    // Each thread keeps its buffers from tree to tree: how often each row is drawn, the rows, the split's scratch.
    let buffers = || (Vec::<u32>::new(), Vec::<usize>::new(), Vec::<usize>::new());
    let trees: Option<Vec<Tree>> = (0..settings.trees)
        .into_par_iter()
        .map_init(buffers, |(times, rows, scratch), t| {
            if !keep_going(t) {
                return None;
            }
            let seed = tree_seed(settings.seed, t);
            rows.clear();
            if settings.bootstrap {
                draws(seed, rows_in_table, times);
                rows.extend(times.iter().enumerate().flat_map(|(r, &k)| std::iter::repeat_n(r, k as usize)));
            } else {
                rows.extend(0..rows_in_table);
            }
            let buffers = (rows.as_mut_slice(), scratch);
            Some(grow(x, binned, target, outputs, buffers, settings, Criterion::Gini, seed, (1, 0)))
        })
        .collect();
    trees.map(|trees| Forest { trees, outputs })
}

/// The seed of tree `t` of a forest seeded `seed`: its bootstrap draws, and its nodes' (see [`node_seed`]).
fn tree_seed(seed: u64, t: usize) -> u64 {
    seed ^ (t as u64).wrapping_mul(0xA24B_AED4_963E_E407)
}

/// How often each of `rows` rows is drawn into a tree's bootstrap sample of `rows` draws: `times[r]`, in the order
/// of the rows (so that a node's rows are read front to back).
fn draws(seed: u64, rows: usize, times: &mut Vec<u32>) {
    let mut rng = SplitMix64::new(seed);
    times.clear();
    times.resize(rows, 0);
    for _ in 0..rows {
        times[rng.below(rows)] += 1;
    }
}

/// The seed of a node's feature draw, from its tree's seed and its path from the root (`key`: the root's is 1, a
/// child's is [`child_key`]): the same whichever order the nodes are grown in, depth first or level by level.
fn node_seed(tree: u64, key: u64) -> u64 {
    keyed_u64(tree, &[key])
}

/// The path key of a node's left (`side` 0) or right (1) child.
fn child_key(key: u64, side: u64) -> u64 {
    keyed_u64(key, &[side])
}

/// The first `tries` of `features` (reset to `0..cols`) a random subset drawn with the node's seed (a partial
/// Fisher–Yates shuffle), in the order drawn.
fn draw_features(features: &mut Vec<usize>, cols: usize, tries: usize, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    features.clear();
    features.extend(0..cols);
    for i in 0..tries {
        let j = i + rng.below(cols - i);
        features.swap(i, j);
    }
}

/// Grows one tree on every row, trying every feature at each split (CART as in scikit-learn's
/// `DecisionTreeClassifier` / `DecisionTreeRegressor` with `max_features=None`).
pub fn fit_tree(x: &Matrix, target: Target<'_>, settings: TreeSettings) -> Tree {
    let outputs = match target {
        Target::Classes { classes, .. } => classes,
        Target::Values(_) => 1,
    };
    let forest = ForestSettings {
        trees: 1,
        max_depth: settings.max_depth,
        min_samples_leaf: settings.min_samples_leaf,
        max_features: MaxFeatures::All,
        bootstrap: false,
        seed: 0,
    };
    let binned = (x.rows > BINNED_FROM_ROWS).then(|| Binned::new(x));
    let mut rows: Vec<usize> = (0..x.rows).collect();
    let buffers = (rows.as_mut_slice(), &mut Vec::new());
    grow(Some(x), binned.as_ref(), target, outputs, buffers, forest, settings.criterion, 0, (1, 0))
}

fn leaf_value(target: Target<'_>, outputs: usize, rows: &[usize]) -> Vec<f64> {
    match target {
        Target::Classes { y, .. } => {
            let mut counts = vec![0.0; outputs];
            for &r in rows {
                counts[y[r]] += 1.0;
            }
            let n = rows.len().max(1) as f64;
            for c in &mut counts {
                *c /= n;
            }
            counts
        }
        Target::Values(y) => vec![rows.iter().map(|&r| y[r]).sum::<f64>() / rows.len().max(1) as f64],
    }
}

fn is_pure(target: Target<'_>, rows: &[usize]) -> bool {
    match target {
        Target::Classes { y, .. } => rows.iter().all(|&r| y[r] == y[rows[0]]),
        Target::Values(y) => rows.iter().all(|&r| y[r] == y[rows[0]]),
    }
}

/// Grows one tree on `rows` (a bootstrap sample may hold a row more than once), with `scratch` for its splits,
/// depth first. The rows of a node are a stretch of one buffer, split in place, children in the order of the rows;
/// a node's value is computed once it is a leaf. Without the matrix `x`, every node splits on the bins. Each
/// node draws its features from its own seed ([`node_seed`] of the tree's `seed`). The root is the node of path key
/// `key` at `depth` of its tree (1 and 0 for a whole tree).
#[allow(clippy::too_many_arguments)]
fn grow(
    x: Option<&Matrix>,
    binned: Option<&Binned>,
    target: Target<'_>,
    outputs: usize,
    (rows, scratch): (&mut [usize], &mut Vec<usize>),
    s: ForestSettings,
    criterion: Criterion,
    seed: u64,
    (key, depth): (u64, usize),
) -> Tree {
    let placeholder = TreeNode { feature: u32::MAX, threshold: 0.0, left: 0, right: 0, value: Vec::new() };
    let mut nodes: Vec<TreeNode> = vec![placeholder.clone()];
    // Work list of (node index, its rows' stretch, depth, path key).
    let mut work = vec![(0usize, 0usize, rows.len(), depth, key)];
    let cols = x.map_or_else(|| binned.map_or(0, |b| b.edges.len()), |x| x.cols);
    let mut features: Vec<usize> = (0..cols).collect();
    let tries = s.max_features.count(cols).min(cols);
    let mut pairs: Vec<(f64, usize)> = Vec::new();
    while let Some((at, begin, end, depth, key)) = work.pop() {
        let node_rows = &rows[begin..end];
        if depth >= s.max_depth || node_rows.len() < 2 * s.min_samples_leaf.max(1) || is_pure(target, node_rows) {
            nodes[at].value = leaf_value(target, outputs, node_rows);
            continue;
        }
        draw_features(&mut features, cols, tries, node_seed(seed, key));
        // (score, feature, threshold, last bin on the left when the split was found on bins).
        let mut best: Option<(f64, usize, f64, Option<usize>)> = None;
        for &f in &features[..tries] {
            let found = match (binned, x) {
                (Some(binned), x) if x.is_none() || node_rows.len() > BINNED_NODE_ROWS => binned
                    .best_split(f, target, outputs, criterion, node_rows, s.min_samples_leaf.max(1))
                    .map(|(score, threshold, bin)| (score, threshold, Some(bin))),
                (_, None) => None,
                (_, Some(x)) => {
                    pairs.clear();
                    pairs.extend(node_rows.iter().map(|&r| (x.get(r, f), r)));
                    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                    best_split(target, outputs, criterion, &pairs, s.min_samples_leaf.max(1))
                        .map(|(score, threshold)| (score, threshold, None))
                }
            };
            if let Some((score, threshold, bin)) = found
                && best.is_none_or(|(b, ..)| score > b + 1e-12)
            {
                best = Some((score, f, threshold, bin));
            }
        }
        let Some((_, feature, threshold, bin)) = best else {
            nodes[at].value = leaf_value(target, outputs, node_rows);
            continue;
        };
        // A value is at most the threshold exactly when its bin is at most the split's last bin on the left.
        let node_rows = &mut rows[begin..end];
        let left = match (bin, binned, x) {
            (Some(bin), Some(binned), _) => {
                let codes = &binned.codes[feature * binned.rows..(feature + 1) * binned.rows];
                split_in_place(node_rows, scratch, |r| usize::from(codes[r]) <= bin)
            }
            (_, _, Some(x)) => split_in_place(node_rows, scratch, |r| x.get(r, feature) <= threshold),
            // A split with neither bins nor a matrix to read is never found; the node stays a leaf.
            (_, _, None) => {
                nodes[at].value = leaf_value(target, outputs, node_rows);
                continue;
            }
        };
        let middle = begin + left;
        let li = nodes.len();
        nodes.push(placeholder.clone());
        nodes.push(placeholder.clone());
        let node = &mut nodes[at];
        node.feature = feature as u32;
        node.threshold = threshold;
        node.left = li as u32;
        node.right = li as u32 + 1;
        work.push((li, begin, middle, depth + 1, child_key(key, 0)));
        work.push((li + 1, middle, end, depth + 1, child_key(key, 1)));
    }
    Tree { nodes }
}

/// Moves the rows that go left to the front of `rows`, both sides keeping their order; returns how many go left.
fn split_in_place(rows: &mut [usize], scratch: &mut Vec<usize>, goes_left: impl Fn(usize) -> bool) -> usize {
    scratch.clear();
    let mut left = 0;
    for i in 0..rows.len() {
        let r = rows[i];
        if goes_left(r) {
            rows[left] = r;
            left += 1;
        } else {
            scratch.push(r);
        }
    }
    rows[left..].copy_from_slice(scratch);
    left
}

/// The best split of sorted `(value, row)` pairs: a score to maximize (higher = purer children) and
/// the threshold, or `None` when no split leaves `min_leaf` rows on both sides and improves on the parent.
fn best_split(
    target: Target<'_>,
    outputs: usize,
    criterion: Criterion,
    pairs: &[(f64, usize)],
    min_leaf: usize,
) -> Option<(f64, f64)> {
    let n = pairs.len();
    let mut best: Option<(f64, f64)> = None;
    match target {
        Target::Classes { y, .. } => {
            let mut right = vec![0.0f64; outputs];
            for &(_, r) in pairs {
                right[y[r]] += 1.0;
            }
            // Entropy score of a side: Σ c ln c − n ln n = −n·H (higher is purer).
            let entropy_score = |counts: &[f64], n: f64| counts.iter().map(|&c| x_ln_x(c)).sum::<f64>() - x_ln_x(n);
            let parent = match criterion {
                Criterion::Gini => right.iter().map(|c| c * c).sum::<f64>() / n as f64,
                Criterion::Entropy => entropy_score(&right, n as f64),
            };
            let mut left = vec![0.0f64; outputs];
            let (mut left_sq, mut right_sq) = (0.0, right.iter().map(|c| c * c).sum::<f64>());
            for i in 0..n - 1 {
                let c = y[pairs[i].1];
                left_sq += 2.0 * left[c] + 1.0;
                left[c] += 1.0;
                right_sq -= 2.0 * right[c] - 1.0;
                right[c] -= 1.0;
                let (nl, nr) = (i + 1, n - i - 1);
                if nl < min_leaf || nr < min_leaf || pairs[i].0 == pairs[i + 1].0 {
                    continue;
                }
                let score = match criterion {
                    Criterion::Gini => left_sq / nl as f64 + right_sq / nr as f64,
                    Criterion::Entropy => entropy_score(&left, nl as f64) + entropy_score(&right, nr as f64),
                };
                if score > parent + 1e-12 && best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, midpoint(pairs[i].0, pairs[i + 1].0)));
                }
            }
        }
        Target::Values(y) => {
            let total: f64 = pairs.iter().map(|&(_, r)| y[r]).sum();
            let parent = total * total / n as f64;
            let mut left = 0.0;
            for i in 0..n - 1 {
                left += y[pairs[i].1];
                let (nl, nr) = (i + 1, n - i - 1);
                if nl < min_leaf || nr < min_leaf || pairs[i].0 == pairs[i + 1].0 {
                    continue;
                }
                let right = total - left;
                let score = left * left / nl as f64 + right * right / nr as f64;
                if score > parent + 1e-9 * parent.abs().max(1e-12) && best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, midpoint(pairs[i].0, pairs[i + 1].0)));
                }
            }
        }
    }
    best
}

fn x_ln_x(v: f64) -> f64 {
    if v > 0.0 { v * v.ln() } else { 0.0 }
}

fn midpoint(a: f64, b: f64) -> f64 {
    let m = a / 2.0 + b / 2.0;
    // Guard against rounding up to `b`, which would send `b` left.
    if m >= b { a } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_deep_tree_fits_separable_data_exactly() {
        let x = Matrix { rows: 6, cols: 1, data: vec![1.0, 2.0, 3.0, 10.0, 11.0, 12.0] };
        let y = [0, 0, 0, 1, 1, 1];
        let settings = ForestSettings {
            trees: 1,
            max_depth: 10,
            min_samples_leaf: 1,
            max_features: MaxFeatures::All,
            bootstrap: false,
            seed: 0,
        };
        let forest = fit(&x, Target::Classes { y: &y, classes: 2 }, settings, &|_| true).expect("fits");
        assert_eq!(forest.trees[0].nodes.len(), 3, "one split suffices");
        let mut out = [0.0; 2];
        forest.predict_row(&[6.5], &mut out);
        assert_eq!(out, [1.0, 0.0], "threshold is the midpoint 6.5, which goes left");
        forest.predict_row(&[7.0], &mut out);
        assert_eq!(out, [0.0, 1.0]);
    }

    #[test]
    fn entropy_and_gini_pick_different_splits_where_their_scores_disagree() {
        // Classes along x: 0 0 1 2 0 2, one split (depth 1). Candidate cuts 1.5 and 2.5 (the others
        // score lower under both criteria):
        //   Gini Σc²/n per side: 1.5 → [2,0,0] 4/2 + [1,1,2] 6/4 = 3.5; 2.5 → [2,1,0] 5/3 + [1,0,2] 5/3 = 3.33.
        //   Entropy Σc ln c − n ln n: 1.5 → 0 + (2 ln 2 − 4 ln 4) = −4.159; 2.5 → 2(2 ln 2 − 3 ln 3) = −3.819.
        // scikit-learn's DecisionTreeClassifier(max_depth=1) picks the same thresholds.
        let y = [0, 0, 1, 2, 0, 2];
        let x = Matrix { rows: 6, cols: 1, data: (0..6).map(f64::from).collect() };
        let tree = |criterion| {
            fit_tree(
                &x,
                Target::Classes { y: &y, classes: 3 },
                TreeSettings { max_depth: 1, min_samples_leaf: 1, criterion },
            )
        };
        let gini = tree(Criterion::Gini);
        assert_eq!(gini.nodes[0].threshold, 1.5);
        assert_eq!(gini.predict_row(&[0.0]), [1.0, 0.0, 0.0]);
        assert_eq!(gini.predict_row(&[5.0]), [0.25, 0.25, 0.5]);
        let entropy = tree(Criterion::Entropy);
        assert_eq!(entropy.nodes[0].threshold, 2.5);
        let p = entropy.predict_row(&[0.0]);
        assert!((p[0] - 2.0 / 3.0).abs() < 1e-15 && (p[1] - 1.0 / 3.0).abs() < 1e-15, "{p:?}");
    }

    #[test]
    fn regression_leaves_average_their_rows_and_respect_min_leaf() {
        let x = Matrix { rows: 4, cols: 1, data: vec![0.0, 1.0, 2.0, 3.0] };
        let y = [1.0, 1.0, 5.0, 9.0];
        let settings = ForestSettings {
            trees: 1,
            max_depth: 5,
            min_samples_leaf: 2,
            max_features: MaxFeatures::All,
            bootstrap: false,
            seed: 0,
        };
        let forest = fit(&x, Target::Values(&y), settings, &|_| true).expect("fits");
        let mut out = [0.0];
        forest.predict_row(&[3.0], &mut out);
        assert_eq!(out, [7.0]);
    }
}

#[cfg(test)]
mod binned_tests {
    use super::*;

    fn table(rows: usize, seed: u64) -> (Matrix, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let mut x = Matrix::zeros(rows, 3);
        let mut y = vec![0; rows];
        for (i, label) in y.iter_mut().enumerate() {
            let (a, b, c) = (rng.next_normal(), (i % 7) as f64, rng.next_f64());
            x.row_mut(i).copy_from_slice(&[a, b, c]);
            *label = usize::from(a + 0.3 * b > 1.0);
        }
        (x, y)
    }

    #[test]
    fn bins_hold_their_values_and_few_distinct_values_keep_exact_edges() {
        let (x, _) = table(20_000, 1);
        let binned = Binned::new(&x);
        for f in 0..x.cols {
            let edges = &binned.edges[f];
            assert!(edges.len() <= 255);
            for r in 0..x.rows {
                let (b, v) = (usize::from(binned.codes[f * x.rows + r]), x.get(r, f));
                assert!(b == edges.len() || v <= edges[b], "feature {f} row {r}");
                assert!(b == 0 || v > edges[b - 1], "feature {f} row {r}");
            }
        }
        assert_eq!(binned.edges[1], vec![0.5, 1.5, 2.5, 3.5, 4.5, 5.5], "seven distinct values: exact midpoints");
    }

    #[test]
    fn a_large_node_splits_on_bins_where_the_exact_split_lies() {
        let (x, y) = table(20_000, 2);
        let target = Target::Classes { y: &y, classes: 2 };
        let binned = Binned::new(&x);
        let rows: Vec<usize> = (0..x.rows).collect();
        // Feature 1 has seven values: the binned split is the exact one.
        let mut pairs: Vec<(f64, usize)> = rows.iter().map(|&r| (x.get(r, 1), r)).collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let exact = best_split(target, 2, Criterion::Gini, &pairs, 1).expect("a split");
        let on_bins = binned.best_split(1, target, 2, Criterion::Gini, &rows, 1).expect("a split");
        assert_eq!(exact, (on_bins.0, on_bins.1));
        assert_eq!(binned.edges[1][on_bins.2], on_bins.1, "the last bin on the left ends at the threshold");
        // Feature 0 is continuous: the binned threshold lands next to the exact one.
        let mut pairs: Vec<(f64, usize)> = rows.iter().map(|&r| (x.get(r, 0), r)).collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let exact = best_split(target, 2, Criterion::Gini, &pairs, 1).expect("a split");
        let on_bins = binned.best_split(0, target, 2, Criterion::Gini, &rows, 1).expect("a split");
        assert!((exact.1 - on_bins.1).abs() < 0.05 && on_bins.0 <= exact.0 + 1e-9, "{exact:?} vs {on_bins:?}");
    }

    #[test]
    fn a_forest_on_streamed_bins_is_the_same_for_any_batches_and_learns_the_pattern() {
        let (x, y) = table(20_000, 4);
        let sample: Vec<Vec<f64>> =
            (0..x.cols).map(|j| (0..x.rows).step_by(2).map(|i| x.get(i, j)).collect()).collect();
        let settings = ForestSettings {
            trees: 8,
            max_depth: 6,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            seed: 5,
        };
        let target = Target::Classes { y: &y, classes: 2 };
        let grown = |batch: usize| {
            let mut bins = StreamBins::new(sample.clone(), x.rows);
            for first in (0..x.rows).step_by(batch) {
                let rows = batch.min(x.rows - first);
                let part =
                    Matrix { rows, cols: x.cols, data: x.data[first * x.cols..(first + rows) * x.cols].to_vec() };
                bins.fill(&part, first);
            }
            fit_bins(&bins, target, settings, &|_| true).expect("grows")
        };
        let forest = grown(20_000);
        assert_eq!(forest, grown(3_001), "batches of another size");
        let mut p = [0.0; 2];
        let right = (0..x.rows)
            .filter(|&i| {
                forest.predict_row(x.row(i), &mut p);
                usize::from(p[1] > 0.5) == y[i]
            })
            .count();
        assert!(right as f64 / x.rows as f64 > 0.97, "{right} of {} right", x.rows);
        // Every split is a bin edge of its feature.
        let edges: Vec<Vec<f64>> = sample.into_iter().map(edges_of).collect();
        for node in forest.trees.iter().flat_map(|t| &t.nodes).filter(|n| n.feature != u32::MAX) {
            assert!(edges[node.feature as usize].contains(&node.threshold));
        }
    }

    /// Ranks meeting in memory: each round every rank leaves its numbers, all wait, all read every rank's.
    struct Meeting {
        slots: std::sync::Mutex<Vec<Vec<f64>>>,
        barrier: std::sync::Barrier,
    }

    impl Meeting {
        fn gather(&self, rank: usize, mine: Vec<f64>) -> Vec<Vec<f64>> {
            self.slots.lock().expect("slots")[rank] = mine;
            self.barrier.wait();
            let all = self.slots.lock().expect("slots").clone();
            self.barrier.wait();
            all
        }
    }

    /// The forest `ranks` shards grow data-parallel (each the same), with every shard's bins cut from `sample`.
    fn across(
        x: &Matrix,
        target: Target<'_>,
        sample: &[Vec<f64>],
        settings: ForestSettings,
        ranks: usize,
    ) -> Vec<Forest> {
        let meeting =
            Meeting { slots: std::sync::Mutex::new(vec![Vec::new(); ranks]), barrier: std::sync::Barrier::new(ranks) };
        let per = x.rows.div_ceil(ranks);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..ranks)
                .map(|rank| {
                    let meeting = &meeting;
                    scope.spawn(move || {
                        let (offset, rows) = (rank * per, per.min(x.rows - rank * per));
                        let mut bins = StreamBins::new(sample.to_vec(), rows);
                        let part = Matrix {
                            rows,
                            cols: x.cols,
                            data: x.data[offset * x.cols..(offset + rows) * x.cols].to_vec(),
                        };
                        bins.fill(&part, 0);
                        let local = match target {
                            Target::Classes { y, classes } => Target::Classes { y: &y[offset..offset + rows], classes },
                            Target::Values(y) => Target::Values(&y[offset..offset + rows]),
                        };
                        let gather = |mine: Vec<f64>| Ok(meeting.gather(rank, mine));
                        let shard = Shard { rows_in_table: x.rows, offset, gather: &gather };
                        fit_bins_across(&bins, local, settings, &|_| true, &shard).expect("no error").expect("grows")
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("rank")).collect()
        })
    }

    #[test]
    fn a_forest_grown_over_shards_is_the_forest_grown_on_the_whole_table() {
        let (x, y) = table(9_000, 6);
        let sample: Vec<Vec<f64>> = (0..x.cols).map(|j| (0..x.rows).map(|i| x.get(i, j)).collect()).collect();
        let settings = ForestSettings {
            trees: 6,
            max_depth: 8,
            min_samples_leaf: 2,
            max_features: MaxFeatures::Sqrt,
            bootstrap: true,
            seed: 11,
        };
        let mut whole = StreamBins::new(sample.clone(), x.rows);
        whole.fill(&x, 0);
        let target = Target::Classes { y: &y, classes: 2 };
        let one = fit_bins(&whole, target, settings, &|_| true).expect("grows");
        for forest in across(&x, target, &sample, settings, 3) {
            assert_eq!(forest, one, "a classifier's forest: the same nodes, numbered the same, the same leaves");
        }
        // Regression, without bootstrap: the same splits; leaf means to the rounding of sums added in another order.
        let values: Vec<f64> = (0..x.rows).map(|i| x.get(i, 0) * 2.0 + x.get(i, 1) + 0.1 * x.get(i, 2)).collect();
        let settings = ForestSettings { bootstrap: false, max_features: MaxFeatures::All, ..settings };
        let one = fit_bins(&whole, Target::Values(&values), settings, &|_| true).expect("grows");
        for forest in across(&x, Target::Values(&values), &sample, settings, 4) {
            for (a, b) in forest.trees.iter().zip(&one.trees) {
                assert_eq!(a.nodes.len(), b.nodes.len());
                for (m, n) in a.nodes.iter().zip(&b.nodes) {
                    assert_eq!((m.feature, m.threshold, m.left, m.right), (n.feature, n.threshold, n.left, n.right));
                    for (u, v) in m.value.iter().zip(&n.value) {
                        assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{u} vs {v}");
                    }
                }
            }
        }
    }
}
