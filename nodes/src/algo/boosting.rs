//! Gradient-boosted trees with histogram splits, as scikit-learn's `HistGradientBoosting` estimators
//! grow them: features binned into at most 255 quantile bins, trees grown best-first (the leaf with
//! the largest loss reduction is split next) up to a number of leaves, leaf values
//! `-learning_rate × G / (H + λ)`. Log loss for classes (one tree per class and round beyond two
//! classes), squared error for numbers.
//!
//! Data-parallel, each rank holds its shard's bins and every sum a split is chosen from (the root's sums, the
//! histograms of the smaller child, the class counts of the baseline) is added across the ranks before it is used
//! ([`SumAcross`]): every rank then makes the same choices and ends with the trees one process grows on the same
//! bins.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use pipewright_engine::NodeError;
use pipewright_engine::rng::SplitMix64;

pub use super::bins::BinnedRows;
use super::bins::{Packed, Place};
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

/// How a data-parallel fit adds what its shard's rows sum to (numbers in a fixed order) to every other shard's,
/// number by number, the same on every rank; `None` for a fit over the rows at hand alone.
pub type SumAcross<'a> = Option<&'a (dyn Fn(Vec<f64>) -> Result<Vec<f64>, NodeError> + Sync)>;

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

/// Rows scored together, tree after tree.
const SCORE_ROWS: usize = 64;

/// A tree laid out for scoring many rows at once: every leaf leads to itself on both sides (with a threshold no
/// number passes), so each row takes the same number of steps, the tree's depth, with no branch on where it is.
struct Steps {
    /// `(feature, left, right)` and `(threshold, value)` of each node.
    links: Vec<(u32, u32, u32)>,
    cuts: Vec<(f64, f64)>,
    depth: usize,
}

impl Steps {
    fn of(tree: &[BoostNode]) -> Self {
        let mut links = Vec::with_capacity(tree.len());
        let mut cuts = Vec::with_capacity(tree.len());
        for (i, node) in tree.iter().enumerate() {
            if node.feature == u32::MAX {
                links.push((0, i as u32, i as u32));
                cuts.push((f64::INFINITY, node.value));
            } else {
                links.push((node.feature, node.left, node.right));
                cuts.push((node.threshold, 0.0));
            }
        }
        let mut depth = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, d)) = stack.pop() {
            let node = &tree[i];
            if node.feature == u32::MAX {
                depth = depth.max(d);
            } else {
                stack.push((node.left as usize, d + 1));
                stack.push((node.right as usize, d + 1));
            }
        }
        Self { links, cuts, depth }
    }
}

impl BoostedTrees {
    /// The raw scores of every row of `x`, row after row (`outputs()` a row), equal to [`BoostedTrees::raw_row`]'s:
    /// blocks of rows in parallel, each block taken through one tree at a time.
    pub fn raw_rows(&self, x: &Matrix) -> Vec<f64> {
        let k = self.outputs();
        let steps: Vec<Steps> = self.trees.iter().map(|t| Steps::of(t)).collect();
        let mut out = vec![0.0; x.rows * k];
        out.par_chunks_mut(SCORE_ROWS * k).enumerate().for_each(|(block, out)| {
            let start = block * SCORE_ROWS;
            let rows = out.len() / k;
            for o in out.chunks_exact_mut(k) {
                o.copy_from_slice(&self.baseline);
            }
            let mut at = [0u32; SCORE_ROWS];
            for (t, tree) in steps.iter().enumerate() {
                at[..rows].fill(0);
                for _ in 0..tree.depth {
                    for (i, a) in at[..rows].iter_mut().enumerate() {
                        let (feature, left, right) = tree.links[*a as usize];
                        let threshold = tree.cuts[*a as usize].0;
                        // NaN compares false and goes right, as its bin is the last one.
                        *a = if x.get(start + i, feature as usize) <= threshold { left } else { right };
                    }
                }
                for (i, &a) in at[..rows].iter().enumerate() {
                    out[i * k + t % k] += tree.cuts[a as usize].1;
                }
            }
        });
        out
    }

    /// Class probabilities of every row of `x`, one row of `classes` (at least two) per row.
    pub fn probabilities(&self, x: &Matrix, classes: usize) -> Matrix {
        let raw = self.raw_rows(x);
        let k = self.outputs();
        let mut out = Matrix::zeros(x.rows, classes);
        out.data.par_chunks_mut(classes).zip(raw.par_chunks(k)).for_each(|(p, raw)| {
            if self.link == Link::Logistic {
                let q = sigmoid(raw[0]);
                p[0] = 1.0 - q;
                p[1] = q;
            } else {
                p[..k].copy_from_slice(raw);
                softmax(&mut p[..k]);
            }
        });
        out
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
    // Few distinct values (indicator columns, codes) are found without sorting every value.
    if let Some(distinct) = few_distinct(values, max_bins) {
        return distinct.windows(2).map(|w| f64::midpoint(w[0], w[1])).collect();
    }
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

/// The distinct numbers of `values` in order (missing values left out), or `None` when there are more than `most`.
fn few_distinct(values: &[f64], most: usize) -> Option<Vec<f64>> {
    let mut distinct: Vec<f64> = Vec::new();
    for &v in values.iter().filter(|v| !v.is_nan()) {
        // −0 and 0 are one value, as when sorted values are deduplicated.
        let v = v + 0.0;
        if let Err(at) = distinct.binary_search_by(|d| d.total_cmp(&v)) {
            if distinct.len() == most {
                return None;
            }
            distinct.insert(at, v);
        }
    }
    Some(distinct)
}

/// The bin of a value: the number of edges below it; missing values take the last bin.
fn bin_of(thresholds: &[f64], v: f64) -> u8 {
    if v.is_nan() {
        return thresholds.len() as u8;
    }
    thresholds.partition_point(|&t| t < v) as u8
}

/// One bin of a histogram: the sums of its rows' gradients and hessians, and their number.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

impl Bin {
    fn add(&mut self, other: Self) {
        self.g += other.g;
        self.h += other.h;
        self.n += other.n;
    }
}

/// The histograms of one leaf, every feature's bins one after the other (see [`Grower::offsets`]).
type Histograms = Vec<Bin>;

/// A leaf's gradient and hessian sums and row count.
#[derive(Debug, Clone, Copy)]
struct Sums {
    g: f64,
    h: f64,
    n: usize,
}

/// The best split of a node found so far, with the sums of the rows that go left.
#[derive(Debug, Clone, Copy)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
    left: Sums,
}

/// A leaf that may still be split: its rows are `order[begin..end]`; its histograms are empty when it cannot
/// be split.
struct Open {
    node: usize,
    begin: usize,
    end: usize,
    depth: usize,
    sums: Sums,
    split: Option<Split>,
    histograms: Histograms,
}

/// Rows a histogram or partition task takes at least before the work is shared between threads; the parts
/// depend on the leaf's rows alone, so sums come out the same on any number of threads.
const PART_ROWS: usize = 4096;

/// Rows gathered at a time before their histogram sums.
const GATHER_ROWS: usize = 256;

/// Most parts a leaf's rows are cut into.
const MOST_PARTS: usize = 32;

/// The parts a leaf of `rows` rows is cut into: their length.
fn part_len(rows: usize) -> usize {
    rows.div_ceil((rows / PART_ROWS).clamp(1, MOST_PARTS)).max(1)
}

struct Grower<'a> {
    packed: &'a Packed,
    thresholds: &'a [Vec<f64>],
    settings: BoostingSettings,
    /// Where the other shards' sums come from, in a data-parallel fit.
    across: SumAcross<'a>,
    /// Where each column's cells start in a leaf's histograms.
    offsets: Vec<u32>,
    /// Bins of a leaf's histograms.
    size: usize,
}

/// The buffers a fit reuses from tree to tree: the rows in leaf order, the partition's scratch space, and
/// histograms let go of.
struct Buffers {
    order: Vec<u32>,
    scratch: Vec<u32>,
    pool: Vec<Histograms>,
}

impl<'a> Grower<'a> {
    fn new(packed: &'a Packed, thresholds: &'a [Vec<f64>], settings: BoostingSettings, across: SumAcross<'a>) -> Self {
        let mut offsets = Vec::with_capacity(packed.cells.len());
        let mut size = 0usize;
        for &cells in &packed.cells {
            offsets.push(size as u32);
            size += cells;
        }
        Self { packed, thresholds, settings, across, offsets, size }
    }

    /// A leaf's sums over every shard's rows (its own in a fit over one table).
    fn summed(&self, sums: Sums) -> Result<Sums, NodeError> {
        let Some(across) = self.across else { return Ok(sums) };
        match across(vec![sums.g, sums.h, sums.n as f64])?[..] {
            [g, h, n] => Ok(Sums { g, h, n: n as usize }),
            _ => Err(NodeError::data("a leaf's sums came back with the wrong length from the other ranks")),
        }
    }

    /// A leaf's histograms over every shard's rows (its own in a fit over one table).
    fn summed_histograms(&self, histograms: Histograms) -> Result<Histograms, NodeError> {
        let Some(across) = self.across else { return Ok(histograms) };
        let total = across(histograms.iter().flat_map(|b| [b.g, b.h, f64::from(b.n)]).collect())?;
        if total.len() != histograms.len() * 3 {
            return Err(NodeError::data("a leaf's histograms came back with the wrong length from the other ranks"));
        }
        Ok(total.chunks_exact(3).map(|c| Bin { g: c[0], h: c[1], n: c[2] as u32 }).collect())
    }

    /// Feature `f`'s histogram in a leaf with sums `sums`: the bins of its column, or for a feature sharing its
    /// column, its stretch of cells with its common bin the leaf's sums less the others.
    fn feature_histogram<'h>(
        &self,
        histograms: &'h [Bin],
        f: usize,
        sums: Sums,
        local: &'h mut [Bin; 256],
    ) -> &'h [Bin] {
        match self.packed.places[f] {
            Place::Constant => &[],
            Place::Own { column } => {
                let offset = self.offsets[column] as usize;
                &histograms[offset..offset + self.packed.cells[column]]
            }
            Place::Shared { column, first, common, bins } => {
                let offset = self.offsets[column] as usize + first;
                let common = usize::from(common);
                let mut rest = Bin { g: sums.g, h: sums.h, n: sums.n as u32 };
                for (k, &b) in histograms[offset..offset + bins - 1].iter().enumerate() {
                    local[if k >= common { k + 1 } else { k }] = b;
                    rest.g -= b.g;
                    rest.h -= b.h;
                    rest.n -= b.n;
                }
                local[common] = rest;
                &local[..bins]
            }
        }
    }

    /// Whether a leaf of `rows` rows at `depth` may be split at all.
    fn splittable(&self, rows: usize, depth: usize) -> bool {
        let s = self.settings;
        rows >= 2 * s.min_samples_leaf && s.max_depth.is_none_or(|d| depth < d)
    }

    fn empty(&self, pool: &mut Vec<Histograms>) -> Histograms {
        let mut h = pool.pop().unwrap_or_default();
        h.clear();
        h.resize(self.size, Bin::default());
        h
    }

    /// The histograms of `rows`, row by row: each row's gradient pair is read once and its bins from one place.
    /// Large leaves are cut into parts summed in parallel, then added in order.
    fn histograms(&self, rows: &[u32], gh: &[[f64; 2]], pool: &mut Vec<Histograms>) -> Histograms {
        let (cols, data) = (self.packed.rows.cols, &self.packed.rows.data);
        let add = |hist: &mut Histograms, [g, h]: [f64; 2], cells: &[u8]| {
            for (&b, &offset) in cells.iter().zip(&self.offsets) {
                let slot = &mut hist[offset as usize + usize::from(b)];
                slot.g += g;
                slot.h += h;
                slot.n += 1;
            }
        };
        // Rows scattered over the table are first gathered a block at a time, in a loop of loads alone that keeps
        // many cache misses in flight, then summed from the gathered copy.
        let fill = |hist: &mut Histograms, rows: &[u32]| {
            let mut pairs = [[0.0; 2]; GATHER_ROWS];
            let mut cells = vec![0u8; GATHER_ROWS * cols];
            for block in rows.chunks(GATHER_ROWS) {
                let first = block[0] as usize;
                if block[block.len() - 1] as usize - first == block.len() - 1 {
                    let data = &data[first * cols..(first + block.len()) * cols];
                    for (&pair, row) in gh[first..first + block.len()].iter().zip(data.chunks_exact(cols)) {
                        add(hist, pair, row);
                    }
                    continue;
                }
                for ((pair, cell), &r) in pairs.iter_mut().zip(cells.chunks_exact_mut(cols)).zip(block) {
                    *pair = gh[r as usize];
                    let start = r as usize * cols;
                    cell.copy_from_slice(&data[start..start + cols]);
                }
                for (&pair, row) in pairs.iter().zip(cells.chunks_exact(cols)).take(block.len()) {
                    add(hist, pair, row);
                }
            }
        };
        let len = part_len(rows.len());
        if rows.len() <= len {
            let mut total = self.empty(pool);
            fill(&mut total, rows);
            return total;
        }
        let mut parts: Vec<Histograms> = (0..rows.len().div_ceil(len)).map(|_| self.empty(pool)).collect();
        parts.par_iter_mut().zip(rows.par_chunks(len)).for_each(|(hist, part)| fill(hist, part));
        let mut parts = parts.into_iter();
        let mut total = parts.next().unwrap_or_default();
        for part in parts {
            total.iter_mut().zip(&part).for_each(|(t, &b)| t.add(b));
            give_back(pool, part);
        }
        total
    }

    /// The gradient and hessian sums of `rows`.
    fn sums_of(rows: &[u32], gh: &[[f64; 2]]) -> Sums {
        let (g, h) = rows.iter().fold((0.0, 0.0), |(a, b), &r| (a + gh[r as usize][0], b + gh[r as usize][1]));
        Sums { g, h, n: rows.len() }
    }

    /// The best split of a leaf with sums `sums`, from its histograms, over the drawn `features`.
    fn find_split(&self, histograms: &[Bin], sums: Sums, depth: usize, features: &[usize]) -> Option<Split> {
        let s = self.settings;
        if histograms.is_empty() || !self.splittable(sums.n, depth) {
            return None;
        }
        let parent = sums.g * sums.g / (sums.h + s.l2);
        let mut best: Option<Split> = None;
        let mut local = [Bin::default(); 256];
        for &f in features {
            let edges = self.thresholds[f].len();
            if edges == 0 {
                continue;
            }
            let histogram = self.feature_histogram(histograms, f, sums, &mut local);
            let (mut lg, mut lh, mut ln) = (0.0, 0.0, 0usize);
            for (bin, b) in histogram[..edges].iter().enumerate() {
                lg += b.g;
                lh += b.h;
                ln += b.n as usize;
                let rn = sums.n - ln;
                if ln < s.min_samples_leaf || lh < MIN_HESSIAN {
                    continue;
                }
                if rn < s.min_samples_leaf {
                    break;
                }
                let (rg, rh) = (sums.g - lg, sums.h - lh);
                if rh < MIN_HESSIAN {
                    continue;
                }
                let gain = lg * lg / (lh + s.l2) + rg * rg / (rh + s.l2) - parent;
                // Features come in increasing order: on equal gains the first feature, then the first bin, stays.
                if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                    best = Some(Split { gain, feature: f, bin, left: Sums { g: lg, h: lh, n: ln } });
                }
            }
        }
        best
    }

    /// Moves the rows of `rows` that go left (bin `<= bin` of `feature`) to the front, keeping their order on
    /// both sides; returns how many go left.
    fn partition(&self, rows: &mut [u32], scratch: &mut [u32], feature: usize, bin: usize) -> usize {
        let (cols, data) = (self.packed.rows.cols, &self.packed.rows.data);
        let place = self.packed.places[feature];
        let column = place.column().expect("a split feature has a column");
        let mut left_of_cell = [false; 256];
        for (cell, left) in left_of_cell.iter_mut().enumerate() {
            *left = usize::from(place.bin(cell as u8)) <= bin;
        }
        let len = part_len(rows.len());
        // Each part puts its left rows at the front of its own stretch of `scratch` and its right rows at the back,
        // backwards; then the stretches are gathered in order. A block's bins are read first, in a loop of loads
        // alone, and every row is written to both ends with no branch on its side.
        let scratch = &mut scratch[..rows.len()];
        let lefts: Vec<usize> = rows
            .par_chunks(len)
            .zip(scratch.par_chunks_mut(len))
            .map(|(part, out)| {
                let (mut i, mut j) = (0, out.len());
                let mut cells = [0u8; GATHER_ROWS];
                for block in part.chunks(GATHER_ROWS) {
                    if let Some(by_column) = self.packed.columns.get(column) {
                        for (cell, &r) in cells.iter_mut().zip(block) {
                            *cell = by_column[r as usize];
                        }
                    } else {
                        for (cell, &r) in cells.iter_mut().zip(block) {
                            *cell = data[r as usize * cols + column];
                        }
                    }
                    for (&cell, &r) in cells.iter().zip(block) {
                        let left = left_of_cell[usize::from(cell)];
                        out[i] = r;
                        out[j - 1] = r;
                        i += usize::from(left);
                        j -= usize::from(!left);
                    }
                }
                i
            })
            .collect();
        let mut at = 0;
        for (out, &l) in scratch.chunks(len).zip(&lefts) {
            rows[at..at + l].copy_from_slice(&out[..l]);
            at += l;
        }
        let total_left = at;
        for (out, &l) in scratch.chunks(len).zip(&lefts) {
            for &r in out[l..].iter().rev() {
                rows[at] = r;
                at += 1;
            }
        }
        total_left
    }

    /// The histograms of a split leaf's smaller and larger child (`small_n` and `large_n` rows over every shard, at
    /// `depth`): the smaller's from its rows here, `small_rows` (summed across the shards), the larger's from the
    /// parent's less those; empty for a child that cannot be split.
    fn child_histograms(
        &self,
        mut parent_h: Histograms,
        small_rows: &[u32],
        (small_n, large_n): (usize, usize),
        depth: usize,
        gh: &[[f64; 2]],
        pool: &mut Vec<Histograms>,
    ) -> Result<(Histograms, Histograms), NodeError> {
        let (mut small_h, mut large_h) = (Vec::new(), Vec::new());
        if self.splittable(small_n, depth) || self.splittable(large_n, depth) {
            small_h = self.summed_histograms(self.histograms(small_rows, gh, pool))?;
            if self.splittable(large_n, depth) {
                parent_h.iter_mut().zip(&small_h).for_each(|(a, b)| {
                    a.g -= b.g;
                    a.h -= b.h;
                    a.n -= b.n;
                });
                large_h = std::mem::take(&mut parent_h);
            }
        }
        give_back(pool, parent_h);
        Ok((small_h, large_h))
    }

    /// Grows one tree on the gradient pairs `gh` of class `c` (`gh[r]` for row `r`), and adds its leaf values to
    /// the raw scores `raw[r × k + c]`.
    fn grow(
        &self,
        gh: &[[f64; 2]],
        raw: &mut [f64],
        (k, c): (usize, usize),
        buffers: &mut Buffers,
        rng: &mut SplitMix64,
    ) -> Result<Vec<BoostNode>, NodeError> {
        let s = self.settings;
        let rows = self.packed.rows.rows;
        let p = self.thresholds.len();
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
        let Buffers { order, scratch, pool } = buffers;
        order.clear();
        order.extend(0..rows as u32);
        let leaf = BoostNode { feature: u32::MAX, threshold: 0.0, left: 0, right: 0, value: 0.0 };
        let mut nodes = vec![leaf.clone()];
        let root = self.summed(Self::sums_of(order, gh))?;
        let histograms = if self.splittable(root.n, 0) {
            self.summed_histograms(self.histograms(order, gh, pool))?
        } else {
            Vec::new()
        };
        let split = self.find_split(&histograms, root, 0, &draw(rng));
        let mut open = vec![Open { node: 0, begin: 0, end: rows, depth: 0, sums: root, split, histograms }];
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
            let middle =
                parent.begin + self.partition(&mut order[parent.begin..parent.end], scratch, split.feature, split.bin);
            let li = nodes.len();
            nodes.push(leaf.clone());
            nodes.push(leaf.clone());
            let node = &mut nodes[parent.node];
            node.feature = split.feature as u32;
            node.threshold = self.thresholds[split.feature][split.bin];
            node.left = li as u32;
            node.right = li as u32 + 1;
            leaves += 1;
            let left_sums = split.left;
            let right_sums =
                Sums { g: parent.sums.g - left_sums.g, h: parent.sums.h - left_sums.h, n: parent.sums.n - left_sums.n };
            // The smaller child's histograms from its rows, the larger's from the parent's less those.
            let depth = parent.depth + 1;
            let left_small = left_sums.n <= right_sums.n;
            let (small_range, small_n, large_n) = if left_small {
                (parent.begin..middle, left_sums.n, right_sums.n)
            } else {
                (middle..parent.end, right_sums.n, left_sums.n)
            };
            let (small_h, large_h) =
                self.child_histograms(parent.histograms, &order[small_range], (small_n, large_n), depth, gh, pool)?;
            let (left_h, right_h) = if left_small { (small_h, large_h) } else { (large_h, small_h) };
            for (index, begin, end, sums, histograms) in
                [(li, parent.begin, middle, left_sums, left_h), (li + 1, middle, parent.end, right_sums, right_h)]
            {
                let split = self.find_split(&histograms, sums, depth, &draw(rng));
                let histograms = if split.is_some() {
                    histograms
                } else {
                    give_back(pool, histograms);
                    Vec::new()
                };
                open.push(Open { node: index, begin, end, depth, sums, split, histograms });
            }
        }
        for leaf in open {
            let value = -s.learning_rate * leaf.sums.g / (leaf.sums.h + s.l2);
            nodes[leaf.node].value = value;
            for &r in &order[leaf.begin..leaf.end] {
                raw[r as usize * k + c] += value;
            }
            give_back(pool, leaf.histograms);
        }
        Ok(nodes)
    }
}

/// Keeps a histogram's buffer for the next leaf (an empty one has none to keep).
fn give_back(pool: &mut Vec<Histograms>, histograms: Histograms) {
    if histograms.capacity() > 0 {
        pool.push(histograms);
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

/// Rows binned at a time in parallel.
const BIN_ROWS: usize = 4096;

/// Each row's values as bins (one byte a cell).
pub fn binned(thresholds: &[Vec<f64>], x: &Matrix) -> BinnedRows {
    let cols = thresholds.len();
    let mut data = vec![0u8; x.rows * cols];
    data.par_chunks_mut(cols.max(1) * BIN_ROWS).enumerate().for_each(|(chunk, out)| {
        for (i, row) in out.chunks_mut(cols.max(1)).enumerate() {
            let values = x.row(chunk * BIN_ROWS + i);
            for ((b, t), &v) in row.iter_mut().zip(thresholds).zip(values) {
                *b = bin_of(t, v);
            }
        }
    });
    BinnedRows { rows: x.rows, cols, data }
}

/// The rows of the feature columns `columns` (each `rows` long) as bins, one byte a cell, row after row.
pub fn binned_columns(thresholds: &[Vec<f64>], columns: &[&[f64]], rows: usize) -> BinnedRows {
    let cols = thresholds.len();
    let mut data = vec![0u8; rows * cols];
    data.par_chunks_mut(cols.max(1) * BIN_ROWS).enumerate().for_each(|(chunk, out)| {
        let start = chunk * BIN_ROWS;
        for (j, (t, column)) in thresholds.iter().zip(columns).enumerate() {
            for (i, &v) in column[start..start + out.len() / cols].iter().enumerate() {
                out[i * cols + j] = bin_of(t, v);
            }
        }
    });
    BinnedRows { rows, cols, data }
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
    fit_binned(binned(&thresholds, x), &thresholds, target, settings, keep_going, None).unwrap_or(None)
}

/// Fits a boosted ensemble on feature columns (each `rows` long), with no row-major copy of their values.
pub fn fit_columns(
    columns: &[&[f64]],
    rows: usize,
    target: BoostTarget<'_>,
    settings: BoostingSettings,
    keep_going: &dyn Fn(usize) -> bool,
) -> Option<BoostedTrees> {
    let stride = bin_sample_stride(rows);
    let sample: Vec<Vec<f64>> = columns.iter().map(|c| c[..rows].iter().step_by(stride).copied().collect()).collect();
    let thresholds = thresholds_of(&sample, settings.max_bins);
    drop(sample);
    fit_binned(binned_columns(&thresholds, columns, rows), &thresholds, target, settings, keep_going, None)
        .unwrap_or(None)
}

/// The gradient and hessian of every row and output for the current raw scores: `gh[c][r]`.
fn gradients(target: BoostTarget<'_>, link: Link, raw: &[f64], gh: &mut [Vec<[f64; 2]>]) {
    const ROWS: usize = 8192;
    let k = gh.len();
    if k == 1 {
        gh[0].par_chunks_mut(ROWS).enumerate().for_each(|(chunk, out)| {
            for (i, pair) in out.iter_mut().enumerate() {
                let r = chunk * ROWS + i;
                *pair = match target {
                    BoostTarget::Classes { y, .. } => {
                        let p = sigmoid(raw[r]);
                        [p - if y[r] == 1 { 1.0 } else { 0.0 }, p * (1.0 - p)]
                    }
                    BoostTarget::Values(y) => [raw[r] - y[r], 1.0],
                };
            }
        });
        return;
    }
    let BoostTarget::Classes { y, .. } = target else { unreachable!("several outputs are classes") };
    debug_assert_eq!(link, Link::Softmax);
    let n = y.len();
    let parts: Vec<Vec<[f64; 2]>> = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .map(|chunk| {
            let rows = chunk * ROWS..((chunk + 1) * ROWS).min(n);
            let mut out = Vec::with_capacity(rows.len() * k);
            let mut probabilities = vec![0.0; k];
            for r in rows {
                probabilities.copy_from_slice(&raw[r * k..(r + 1) * k]);
                softmax(&mut probabilities);
                out.extend(
                    probabilities
                        .iter()
                        .enumerate()
                        .map(|(c, &p)| [p - if y[r] == c { 1.0 } else { 0.0 }, p * (1.0 - p)]),
                );
            }
            out
        })
        .collect();
    let mut r = 0;
    for part in parts {
        for row in part.chunks(k) {
            for (c, &pair) in row.iter().enumerate() {
                gh[c][r] = pair;
            }
            r += 1;
        }
    }
}

/// Fits a boosted ensemble on binned features, what a streamed table is read into. Features that are never off
/// their most common bin on the same row are packed into one column first (see [`super::bins`]); not in a
/// data-parallel fit (`across`), where every rank's histograms must have the same layout (the trees are the
/// same either way). `Ok(None)` when `keep_going` stops it.
pub fn fit_binned(
    bins: BinnedRows,
    thresholds: &[Vec<f64>],
    target: BoostTarget<'_>,
    settings: BoostingSettings,
    keep_going: &dyn Fn(usize) -> bool,
    across: SumAcross<'_>,
) -> Result<Option<BoostedTrees>, NodeError> {
    let feature_bins: Vec<usize> = thresholds.iter().map(|t| t.len() + 1).collect();
    let packed =
        if across.is_some() { Packed::unpacked(bins, &feature_bins) } else { Packed::pack(bins, &feature_bins) };
    fit_packed(&packed, thresholds, target, settings, keep_going, across)
}

fn fit_packed(
    packed: &Packed,
    thresholds: &[Vec<f64>],
    target: BoostTarget<'_>,
    settings: BoostingSettings,
    keep_going: &dyn Fn(usize) -> bool,
    across: SumAcross<'_>,
) -> Result<Option<BoostedTrees>, NodeError> {
    let n = match target {
        BoostTarget::Classes { y, .. } => y.len(),
        BoostTarget::Values(y) => y.len(),
    };
    debug_assert_eq!(n, packed.rows.rows);
    let summed = |local: Vec<f64>| across.map_or(Ok(local.clone()), |f| f(local));
    let grower = Grower::new(packed, thresholds, settings, across);
    let mut rng = SplitMix64::new(settings.seed);
    let (link, baseline) = match target {
        BoostTarget::Classes { y, classes } => {
            // Rows of each class, then all rows: every shard's.
            let mut counts = vec![0.0; classes + 1];
            for &c in y {
                counts[c] += 1.0;
            }
            counts[classes] = n as f64;
            let counts = summed(counts)?;
            let all = counts[classes];
            if classes == 2 {
                let p = (counts[1] / all).clamp(1e-15, 1.0 - 1e-15);
                (Link::Logistic, vec![(p / (1.0 - p)).ln()])
            } else {
                let mut logs: Vec<f64> = counts[..classes].iter().map(|&c| (c / all).clamp(1e-15, 1.0).ln()).collect();
                let mean = logs.iter().sum::<f64>() / classes as f64;
                for l in &mut logs {
                    *l -= mean;
                }
                (Link::Softmax, logs)
            }
        }
        BoostTarget::Values(y) => {
            let total = summed(vec![y.iter().sum::<f64>(), n as f64])?;
            (Link::Identity, vec![total[0] / total[1]])
        }
    };
    let k = baseline.len();
    let mut raw: Vec<f64> = (0..n).flat_map(|_| baseline.iter().copied()).collect();
    let mut trees = Vec::with_capacity(settings.rounds * k);
    let mut gh = vec![vec![[0.0; 2]; n]; k];
    let mut buffers = Buffers { order: Vec::with_capacity(n), scratch: vec![0; n], pool: Vec::new() };
    for round in 0..settings.rounds {
        if !keep_going(round) {
            return Ok(None);
        }
        gradients(target, link, &raw, &mut gh);
        for (c, pairs) in gh.iter().enumerate() {
            trees.push(grower.grow(pairs, &mut raw, (k, c), &mut buffers, &mut rng)?);
        }
    }
    let loss = summed(vec![total_loss(target, &raw, k), n as f64])?;
    let training_loss = loss[0] / loss[1].max(1.0);
    Ok(Some(BoostedTrees { baseline, trees, link, training_loss }))
}

/// Total log loss or half squared error of raw scores.
fn total_loss(target: BoostTarget<'_>, raw: &[f64], k: usize) -> f64 {
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
    total
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

    /// 20,000 rows (several parts of a histogram and of a partition) of three numbers and the five indicator
    /// columns of one category, with a label that depends on both.
    fn numbers_and_indicators() -> (Matrix, Vec<usize>) {
        let mut rng = SplitMix64::new(11);
        let (rows, cols) = (20_000, 8);
        let mut data = Vec::with_capacity(rows * cols);
        let mut y = Vec::with_capacity(rows);
        for _ in 0..rows {
            let numbers = [rng.next_f64(), rng.next_f64() * 4.0 - 2.0, rng.next_f64()];
            let level = rng.below(6);
            data.extend(numbers);
            data.extend((0..5).map(|l| f64::from(u8::from(level == l + 1))));
            let score = numbers[0] + numbers[1] * 0.5 + if level == 2 || level == 4 { 0.8 } else { -0.3 };
            y.push(usize::from(score + rng.next_f64() - 0.5 > 0.4));
        }
        (Matrix { rows, cols, data }, y)
    }

    #[test]
    fn packing_the_indicators_into_one_column_grows_the_same_trees() {
        let (x, y) = numbers_and_indicators();
        let s = BoostingSettings { rounds: 10, min_samples_leaf: 20, ..settings() };
        let thresholds =
            thresholds_of(&(0..x.cols).map(|j| (0..x.rows).map(|i| x.get(i, j)).collect()).collect::<Vec<_>>(), 255);
        let feature_bins: Vec<usize> = thresholds.iter().map(|t| t.len() + 1).collect();
        let packed = Packed::pack(binned(&thresholds, &x), &feature_bins);
        assert_eq!(packed.rows.cols, 4, "three numbers and one column for the five indicators");
        let plain = Packed::unpacked(binned(&thresholds, &x), &feature_bins);
        let target = BoostTarget::Classes { y: &y, classes: 2 };
        let a = fit_packed(&packed, &thresholds, target, s, &|_| true, None).expect("fits").expect("fits");
        let b = fit_packed(&plain, &thresholds, target, s, &|_| true, None).expect("fits").expect("fits");
        // Rows too many to copy column by column are partitioned from the rows themselves, to the same trees.
        let mut by_rows = packed.clone();
        by_rows.columns.clear();
        assert_eq!(fit_packed(&by_rows, &thresholds, target, s, &|_| true, None).expect("fits").expect("fits"), a);
        assert_eq!(a.trees.len(), b.trees.len());
        for (ta, tb) in a.trees.iter().zip(&b.trees) {
            assert_eq!(ta.len(), tb.len());
            assert!(ta.iter().any(|n| n.feature >= 3 && n.feature != u32::MAX), "an indicator is split on");
            for (na, nb) in ta.iter().zip(tb) {
                assert_eq!(
                    (na.feature, na.threshold, na.left, na.right),
                    (nb.feature, nb.threshold, nb.left, nb.right)
                );
                assert!((na.value - nb.value).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_trees_are_the_same_on_any_number_of_threads() {
        let (x, y) = numbers_and_indicators();
        let s = BoostingSettings { rounds: 5, feature_fraction: 0.6, ..settings() };
        let fit_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
            pool.install(|| fit(&x, BoostTarget::Classes { y: &y, classes: 2 }, s, &|_| true).expect("fits"))
        };
        let one = fit_on(1);
        assert_eq!(one, fit_on(3), "every sum is cut into the same parts");
        assert!(one.trees.iter().all(|t| t.len() == 2 * s.max_leaves - 1));
    }

    #[test]
    fn trees_fitted_from_columns_equal_those_fitted_from_the_matrix() {
        let (x, y) = numbers_and_indicators();
        let columns: Vec<Vec<f64>> = (0..x.cols).map(|j| (0..x.rows).map(|i| x.get(i, j)).collect()).collect();
        let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let s = BoostingSettings { rounds: 5, ..settings() };
        let target = BoostTarget::Classes { y: &y, classes: 2 };
        let from_columns = fit_columns(&refs, x.rows, target, s, &|_| true).expect("fits");
        assert_eq!(from_columns, fit(&x, target, s, &|_| true).expect("fits"));
    }

    #[test]
    fn rows_scored_in_blocks_get_the_scores_of_rows_scored_one_by_one() {
        let (mut x, y) = numbers_and_indicators();
        // Missing values go right in both.
        for i in (0..x.rows).step_by(7) {
            x.data[i * x.cols] = f64::NAN;
        }
        let classes = [2, 3];
        for k in classes {
            let y: Vec<usize> = y.iter().enumerate().map(|(i, &c)| if k == 3 && i % 5 == 0 { 2 } else { c }).collect();
            let fit = fit(
                &x,
                BoostTarget::Classes { y: &y, classes: k },
                BoostingSettings { rounds: 4, ..settings() },
                &|_| true,
            )
            .expect("fits");
            let p = fit.probabilities(&x, k);
            let mut one = vec![0.0; k];
            for i in 0..x.rows {
                fit.probabilities_row(x.row(i), &mut one);
                assert_eq!(p.row(i), one.as_slice(), "row {i} of {k} classes");
            }
        }
        let values: Vec<f64> = y.iter().map(|&c| c as f64).collect();
        let fit = fit(&x, BoostTarget::Values(&values), BoostingSettings { rounds: 3, ..settings() }, &|_| true)
            .expect("fits");
        let raw = fit.raw_rows(&x);
        assert!((0..x.rows).all(|i| raw[i] == fit.value_row(x.row(i))));
    }
}
