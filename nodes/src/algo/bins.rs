//! Features as bins, one byte a cell, row after row, what histogram trees grow on; and the packing of features
//! that are never off their most common bin on the same row (the indicator columns of one category, for
//! instance) into one column, as `LightGBM` bundles exclusive features: a histogram pass then adds one cell
//! for all of them. Packing loses nothing: each feature's histogram and each row's bin are recovered exactly.

use rayon::prelude::*;

/// Features binned row by row: row `i`'s bins are `data[i × cols .. (i + 1) × cols]`, one byte a cell, so
/// 50 million rows of 38 features take 1.9 GB. A histogram pass reads each row's bins from one cache line.
#[derive(Debug, Clone, Default)]
pub struct BinnedRows {
    /// Rows.
    pub rows: usize,
    /// Features.
    pub cols: usize,
    /// Bins, row after row.
    pub data: Vec<u8>,
}

impl BinnedRows {
    /// No rows of `cols` features, with room for `rows` rows.
    pub fn with_capacity(rows: usize, cols: usize) -> Self {
        Self { rows: 0, cols, data: Vec::with_capacity(rows * cols) }
    }

    /// Appends the rows of `other` (same features).
    pub fn append(&mut self, other: &Self) {
        debug_assert_eq!(self.cols, other.cols);
        self.data.extend_from_slice(&other.data);
        self.rows += other.rows;
    }

    fn row(&self, i: usize) -> &[u8] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Where a feature's bins are in the packed rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A single bin: never split on, and in no column.
    Constant,
    /// A column of its own: the cell is the bin.
    Own {
        /// The column.
        column: usize,
    },
    /// A column shared with features that are never off their most common bin on the same row. The cell is
    /// `first + k` when this feature is in its `k`-th bin other than `common` (every shared feature has its
    /// own stretch of cells), anything else when it is in `common`.
    Shared {
        /// The column.
        column: usize,
        /// The first cell of this feature's stretch (cell 0 is every feature of the column in its common bin).
        first: usize,
        /// The most common bin.
        common: u8,
        /// The feature's bins, `common` included.
        bins: usize,
    },
}

impl Place {
    /// The bin of this feature in a row whose cell of its column is `cell`.
    pub(crate) fn bin(self, cell: u8) -> u8 {
        match self {
            Place::Constant => 0,
            Place::Own { .. } => cell,
            Place::Shared { first, common, bins, .. } => {
                let cell = usize::from(cell);
                if cell < first || cell >= first + bins - 1 {
                    common
                } else {
                    let k = (cell - first) as u8;
                    if k >= common { k + 1 } else { k }
                }
            }
        }
    }

    /// The column this feature's bins are read from.
    pub(crate) fn column(self) -> Option<usize> {
        match self {
            Place::Constant => None,
            Place::Own { column } | Place::Shared { column, .. } => Some(column),
        }
    }
}

/// Binned rows with exclusive features packed: the rows' cells per column, where each feature is, and each
/// column's number of cells.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    /// Cells, row after row, one per column.
    pub rows: BinnedRows,
    /// Where each feature is.
    pub places: Vec<Place>,
    /// The number of distinct cells of each column.
    pub cells: Vec<usize>,
    /// The same cells column by column, what a leaf's rows are partitioned by (a row's cell of one column is then
    /// one byte among its neighbours', not one in each cache line); empty when the rows are too many to hold twice.
    pub columns: Vec<Vec<u8>>,
}

/// Rows counted at a time when the bins are tallied.
const TALLY_ROWS: usize = 65_536;

/// The most cells copied column by column as well: 512 MB.
const COPY_CELLS: usize = 1 << 29;

/// The most cells a column of one byte holds.
const MOST_CELLS: usize = 256;

/// A column being filled with exclusive features: its features, the cells it uses (cell 0 included), and which
/// rows already have one of its features off the common bin.
struct Bundle {
    features: Vec<usize>,
    cells: usize,
    taken: Vec<u64>,
}

impl Packed {
    /// Packs `bins` (feature `j` has `feature_bins[j]` bins): features that are off their most common bin on few
    /// rows and never on the same row share a column. When no two features can share, the rows stay as they are.
    pub(crate) fn pack(bins: BinnedRows, feature_bins: &[usize]) -> Self {
        let (n, p) = (bins.rows, bins.cols);
        let tallies = tally(&bins, feature_bins);
        let common: Vec<u8> = tallies
            .iter()
            .map(|t| t.iter().enumerate().fold(0, |best, (b, &c)| if c > t[best] { b } else { best }) as u8)
            .collect();
        let off: Vec<usize> =
            (0..p).map(|j| n - tallies[j].get(usize::from(common[j])).copied().unwrap_or(0)).collect();
        // Features off their common bin on at most a quarter of the rows, the most often off first.
        let mut candidates: Vec<usize> = (0..p).filter(|&j| feature_bins[j] >= 2 && off[j] * 4 <= n).collect();
        candidates.sort_by_key(|&j| (std::cmp::Reverse(off[j]), j));
        let mut bundles: Vec<Bundle> = Vec::new();
        for &j in &candidates {
            let rows_off: Vec<usize> = (0..n).filter(|&i| bins.data[i * p + j] != common[j]).collect();
            let extra = feature_bins[j] - 1;
            let fits = |b: &Bundle| {
                b.cells + extra <= MOST_CELLS && rows_off.iter().all(|&i| b.taken[i / 64] & (1 << (i % 64)) == 0)
            };
            let at = if let Some(at) = bundles.iter().position(fits) {
                at
            } else {
                bundles.push(Bundle { features: Vec::new(), cells: 1, taken: vec![0; n.div_ceil(64)] });
                bundles.len() - 1
            };
            let bundle = &mut bundles[at];
            bundle.features.push(j);
            bundle.cells += extra;
            for &i in &rows_off {
                bundle.taken[i / 64] |= 1 << (i % 64);
            }
        }
        bundles.retain(|b| b.features.len() >= 2);
        if bundles.is_empty() {
            return Self::unpacked(bins, feature_bins);
        }
        let mut places = vec![Place::Constant; p];
        let mut cells = Vec::new();
        let shared: Vec<bool> = (0..p).map(|j| bundles.iter().any(|b| b.features.contains(&j))).collect();
        for j in (0..p).filter(|&j| feature_bins[j] >= 2 && !shared[j]) {
            places[j] = Place::Own { column: cells.len() };
            cells.push(feature_bins[j]);
        }
        for bundle in &bundles {
            let mut first = 1;
            let mut features = bundle.features.clone();
            features.sort_unstable();
            for j in features {
                places[j] = Place::Shared { column: cells.len(), first, common: common[j], bins: feature_bins[j] };
                first += feature_bins[j] - 1;
            }
            cells.push(first);
        }
        let cols = cells.len();
        let mut data = vec![0u8; n * cols];
        data.par_chunks_mut(cols * TALLY_ROWS).enumerate().for_each(|(chunk, out)| {
            for (k, row) in out.chunks_exact_mut(cols).enumerate() {
                for (j, &b) in bins.row(chunk * TALLY_ROWS + k).iter().enumerate() {
                    match places[j] {
                        Place::Own { column } => row[column] = b,
                        Place::Shared { column, first, common, .. } if b != common => {
                            let k = usize::from(if b > common { b - 1 } else { b });
                            row[column] = (first + k) as u8;
                        }
                        Place::Constant | Place::Shared { .. } => {}
                    }
                }
            }
        });
        Self::with_columns(BinnedRows { rows: n, cols, data }, places, cells)
    }

    fn with_columns(rows: BinnedRows, places: Vec<Place>, cells: Vec<usize>) -> Self {
        let columns = if rows.data.len() <= COPY_CELLS {
            (0..rows.cols)
                .into_par_iter()
                .map(|j| rows.data.iter().skip(j).step_by(rows.cols).copied().collect())
                .collect()
        } else {
            Vec::new()
        };
        Self { rows, places, cells, columns }
    }
}

impl Packed {
    /// The rows as they are, every feature in its own column.
    pub(crate) fn unpacked(bins: BinnedRows, feature_bins: &[usize]) -> Self {
        let places = (0..bins.cols)
            .map(|j| if feature_bins[j] >= 2 { Place::Own { column: j } } else { Place::Constant })
            .collect();
        Self::with_columns(bins, places, feature_bins.iter().map(|&b| b.max(1)).collect())
    }
}

/// How many rows each feature has in each bin.
fn tally(bins: &BinnedRows, feature_bins: &[usize]) -> Vec<Vec<usize>> {
    let p = bins.cols;
    let empty = || feature_bins.iter().map(|&b| vec![0usize; b.max(1)]).collect::<Vec<_>>();
    let parts: Vec<Vec<Vec<usize>>> = bins
        .data
        .par_chunks(p.max(1) * TALLY_ROWS)
        .map(|part| {
            let mut counts = empty();
            for row in part.chunks_exact(p.max(1)) {
                for (c, &b) in counts.iter_mut().zip(row) {
                    c[usize::from(b)] += 1;
                }
            }
            counts
        })
        .collect();
    parts.into_iter().fold(empty(), |mut total, part| {
        for (t, c) in total.iter_mut().zip(part) {
            t.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        }
        total
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cols: usize, cells: &[u8]) -> BinnedRows {
        BinnedRows { rows: cells.len() / cols, cols, data: cells.to_vec() }
    }

    #[test]
    fn exclusive_indicators_share_a_column_and_every_bin_is_recovered() {
        // A number with four bins, three indicators of one category (one of them on per row, or none), and a
        // constant.
        let cells: Vec<u8> = (0..40u8)
            .flat_map(|i| {
                let level = i % 8;
                [i % 4, u8::from(level == 1), u8::from(level == 3), u8::from(level == 6), 0]
            })
            .collect();
        let bins = rows(5, &cells);
        let packed = Packed::pack(bins.clone(), &[4, 2, 2, 2, 1]);
        assert_eq!(packed.rows.cols, 2, "the number, then the three indicators in one column");
        assert_eq!(packed.places[0], Place::Own { column: 0 });
        assert_eq!(packed.places[4], Place::Constant);
        assert!(matches!(packed.places[1], Place::Shared { column: 1, .. }));
        assert_eq!(packed.cells, vec![4, 4]);
        for i in 0..bins.rows {
            for j in 0..5 {
                let cell = packed.places[j].column().map_or(0, |c| packed.rows.row(i)[c]);
                assert_eq!(packed.places[j].bin(cell), bins.row(i)[j], "row {i}, feature {j}");
            }
        }
    }

    #[test]
    fn features_on_together_keep_their_own_columns() {
        // Two indicators that are on in the same row 0: they cannot share.
        let cells = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let packed = Packed::pack(rows(2, &cells), &[2, 2]);
        assert_eq!(packed.rows.cols, 2);
        assert_eq!(packed.places, vec![Place::Own { column: 0 }, Place::Own { column: 1 }]);
        assert_eq!(packed.rows.data, cells.to_vec());
    }

    #[test]
    fn a_common_bin_in_the_middle_is_skipped_in_the_stretch() {
        // Feature 0 sits in bin 1 of 3 on most rows; feature 1 in bin 0 of 2.
        let cells = [1, 0, 1, 0, 0, 0, 1, 0, 2, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0];
        let bins = rows(2, &cells);
        let packed = Packed::pack(bins.clone(), &[3, 2]);
        assert_eq!(packed.rows.cols, 1);
        for i in 0..bins.rows {
            for j in 0..2 {
                assert_eq!(packed.places[j].bin(packed.rows.row(i)[0]), bins.row(i)[j], "row {i}, feature {j}");
            }
        }
    }
}
