//! One-pass statistics in the shape every scale of a run shares: [`Pass::map`] turns a chunk of rows into a
//! partial result, [`Pass::reduce`] merges two partials, and [`Pass::finish`] turns the total into the
//! statistic. `reduce` is associative, so chunks may be grouped any way: by the threads of one process here,
//! by the workers of a cluster per shard. The partials of a chunked run are merged in row order, so a run
//! gives the same bits every time, and results agree across chunk sizes to rounding.
//!
//! The passes: [`ColumnMoments`] (count, missing, mean, variance, min and max per column, for Normalize Data,
//! Clean Missing Data and profiles), [`CrossMoments`] (the centred normal equations of linear, ridge, Lasso and
//! Elastic Net regression), [`PoissonNewton`] (the loss, gradient and Hessian of a Poisson regression at a
//! point: one pass per Newton step), [`ClassMoments`] (Gaussian naive Bayes) and [`Lloyd`] (one k-means
//! iteration).

use rayon::prelude::*;

use crate::MatrixRef;
pub use crate::stats::Partial as ColumnPartial;
use crate::stats::{ColumnStats, Partial};

/// Rows per chunk when a pass runs over data in memory: large enough that the per-chunk work dwarfs the
/// merge, small enough that a chunk's scratch fits a cache level and every thread gets several.
pub const CHUNK_ROWS: usize = 1 << 14;

/// A statistic computed in one pass over rows.
pub trait Pass: Sync {
    /// What one chunk of rows is.
    type Chunk<'a>: Sync;
    /// The partial result of some rows.
    type Partial: Send;
    /// The statistic.
    type Output;

    /// The partial result of no rows.
    fn empty(&self) -> Self::Partial;
    /// The partial result of one chunk.
    fn map(&self, chunk: &Self::Chunk<'_>) -> Self::Partial;
    /// The partial result of two disjoint sets of rows (`a` before `b`).
    fn reduce(&self, a: Self::Partial, b: Self::Partial) -> Self::Partial;
    /// The statistic of all the rows.
    fn finish(&self, total: Self::Partial) -> Self::Output;
}

/// Runs `pass` over `chunks`: mapped in parallel, merged in order.
pub fn run<P: Pass>(pass: &P, chunks: &[P::Chunk<'_>]) -> P::Output {
    let partials: Vec<P::Partial> = chunks.par_iter().map(|c| pass.map(c)).collect();
    pass.finish(partials.into_iter().fold(pass.empty(), |a, b| pass.reduce(a, b)))
}

/// A block of rows of a feature matrix with the label of each (empty when the pass needs none).
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// The features, row after row.
    pub x: MatrixRef<'a>,
    /// The label of each row, or nothing.
    pub y: &'a [f64],
}

/// `x` (and `y`, when not empty) cut into chunks of `chunk_rows` rows.
pub fn row_chunks<'a>(x: MatrixRef<'a>, y: &'a [f64], chunk_rows: usize) -> Vec<Rows<'a>> {
    let step = chunk_rows.max(1);
    (0..x.rows)
        .step_by(step)
        .map(|start| {
            let end = (start + step).min(x.rows);
            Rows {
                x: MatrixRef::new(end - start, x.cols, &x.data[start * x.cols..end * x.cols]),
                y: if y.is_empty() { y } else { &y[start..end] },
            }
        })
        .collect()
}

/// The same rows of several columns.
#[derive(Debug, Clone)]
pub struct Columns<'a>(pub Vec<&'a [f64]>);

/// `columns` (all of one length) cut into chunks of `chunk_rows` rows.
pub fn column_chunks<'a>(columns: &[&'a [f64]], chunk_rows: usize) -> Vec<Columns<'a>> {
    let rows = columns.first().map_or(0, |c| c.len());
    let step = chunk_rows.max(1);
    (0..rows)
        .step_by(step)
        .map(|start| {
            let end = (start + step).min(rows);
            Columns(columns.iter().map(|c| &c[start..end]).collect())
        })
        .collect()
}

/// Count, missing (NaN) cells, mean, population variance, min and max of each column. Chunks take two
/// passes over their cells (mean, then squared deviations) and merge by Chan's formula, so the variance does
/// not suffer the cancellation of Σx² − n·mean².
#[derive(Debug, Clone, Copy)]
pub struct ColumnMoments {
    /// How many columns each chunk holds.
    pub columns: usize,
}

impl Pass for ColumnMoments {
    type Chunk<'a> = Columns<'a>;
    type Partial = Vec<Partial>;
    type Output = Vec<ColumnStats>;

    fn empty(&self) -> Vec<Partial> {
        vec![Partial::EMPTY; self.columns]
    }

    fn map(&self, chunk: &Columns<'_>) -> Vec<Partial> {
        chunk.0.iter().map(|c| Partial::of(c)).collect()
    }

    fn reduce(&self, a: Vec<Partial>, b: Vec<Partial>) -> Vec<Partial> {
        a.into_iter().zip(b).map(|(a, b)| a.merge(b)).collect()
    }

    fn finish(&self, total: Vec<Partial>) -> Vec<ColumnStats> {
        total.into_iter().map(Partial::finish).collect()
    }
}

/// The centred moments of features and label: what least squares, ridge, Lasso and Elastic Net fit from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    /// Rows.
    pub n: f64,
    /// Feature means.
    pub x_mean: Vec<f64>,
    /// Label mean.
    pub y_mean: f64,
    /// `Σ (x − x̄)(x − x̄)ᵀ`, `p × p`, row after row.
    pub xx: Vec<f64>,
    /// `Σ (x − x̄)(y − ȳ)`.
    pub xy: Vec<f64>,
    /// `Σ (y − ȳ)²`.
    pub yy: f64,
}

/// [`Moments`] over rows with a label. A chunk is centred on its own means before its products are summed,
/// and chunks merge by the multivariate form of Chan's formula: no Σxxᵀ − n·x̄x̄ᵀ cancellation.
#[derive(Debug, Clone, Copy)]
pub struct CrossMoments {
    /// Features per row.
    pub features: usize,
}

impl Pass for CrossMoments {
    type Chunk<'a> = Rows<'a>;
    type Partial = Moments;
    type Output = Moments;

    fn empty(&self) -> Moments {
        let p = self.features;
        Moments { n: 0.0, x_mean: vec![0.0; p], y_mean: 0.0, xx: vec![0.0; p * p], xy: vec![0.0; p], yy: 0.0 }
    }

    fn map(&self, chunk: &Rows<'_>) -> Moments {
        let (p, rows) = (self.features, chunk.x.rows);
        let mut m = self.empty();
        if rows == 0 {
            return m;
        }
        m.n = rows as f64;
        for i in 0..rows {
            for (mean, v) in m.x_mean.iter_mut().zip(chunk.x.row(i)) {
                *mean += v;
            }
        }
        for mean in &mut m.x_mean {
            *mean /= m.n;
        }
        m.y_mean = chunk.y.iter().sum::<f64>() / m.n;
        // The chunk centred on its own means, then its products on the blocked CPU kernel.
        let mut x = Vec::with_capacity(rows * p);
        for i in 0..rows {
            x.extend(chunk.x.row(i).iter().zip(&m.x_mean).map(|(v, mean)| v - mean));
        }
        let y: Vec<f64> = chunk.y.iter().map(|v| v - m.y_mean).collect();
        // XᵀX and Xᵀy through faer's matrix product, on this thread (the chunks run in parallel).
        let x = faer::MatRef::from_row_major_slice(&x, rows, p);
        let yv = faer::MatRef::from_column_major_slice(&y, rows, 1);
        let mut xx = faer::Mat::<f64>::zeros(p, p);
        let mut xy = faer::Mat::<f64>::zeros(p, 1);
        faer::linalg::matmul::matmul(xx.as_mut(), faer::Accum::Replace, x.transpose(), x, 1.0, faer::Par::Seq);
        faer::linalg::matmul::matmul(xy.as_mut(), faer::Accum::Replace, x.transpose(), yv, 1.0, faer::Par::Seq);
        m.xx = (0..p * p).map(|k| xx[(k / p, k % p)]).collect();
        m.xy = (0..p).map(|c| xy[(c, 0)]).collect();
        m.yy = y.iter().map(|v| v * v).sum();
        m
    }

    fn reduce(&self, a: Moments, b: Moments) -> Moments {
        if a.n == 0.0 {
            return b;
        }
        if b.n == 0.0 {
            return a;
        }
        let p = self.features;
        let n = a.n + b.n;
        let share = a.n * b.n / n;
        let dx: Vec<f64> = b.x_mean.iter().zip(&a.x_mean).map(|(mb, ma)| mb - ma).collect();
        let dy = b.y_mean - a.y_mean;
        let mut m = a;
        for c in 0..p {
            m.x_mean[c] += dx[c] * b.n / n;
            m.xy[c] += b.xy[c] + dx[c] * dy * share;
            for d in 0..p {
                m.xx[c * p + d] += b.xx[c * p + d] + dx[c] * dx[d] * share;
            }
        }
        m.y_mean += dy * b.n / n;
        m.yy += b.yy + dy * dy * share;
        m.n = n;
        m
    }

    fn finish(&self, total: Moments) -> Moments {
        total
    }
}

/// Copies the upper triangle of a `p × p` matrix onto its lower one.
fn mirror(m: &mut [f64], p: usize) {
    for a in 0..p {
        for c in 0..a {
            m[a * p + c] = m[c * p + a];
        }
    }
}

/// The Poisson negative log-likelihood (without the `log y!` constant), its gradient and (when asked) its
/// Hessian at `theta` (the weights, then the intercept), each summed over rows; the mean over rows is the
/// caller's. The linear predictor is capped at [`POISSON_MAX_ETA`], as predictions are.
#[derive(Debug, Clone, Copy)]
pub struct PoissonNewton<'t> {
    /// The point: one weight per feature, then the intercept.
    pub theta: &'t [f64],
    /// Whether to sum the Hessian too (a Newton step needs it, a line search only the loss).
    pub hessian: bool,
}

/// The largest linear predictor of a Poisson model: `exp` of it is still finite.
pub const POISSON_MAX_ETA: f64 = 700.0;

/// Sums of a [`PoissonNewton`] pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewtonSums {
    /// Rows.
    pub n: f64,
    /// `Σ μ − y·η`.
    pub loss: f64,
    /// `Σ (μ − y) x̃`, over the row with a trailing 1.
    pub gradient: Vec<f64>,
    /// `Σ μ x̃ x̃ᵀ`, row after row.
    pub hessian: Vec<f64>,
}

impl Pass for PoissonNewton<'_> {
    type Chunk<'a> = Rows<'a>;
    type Partial = NewtonSums;
    type Output = NewtonSums;

    fn empty(&self) -> NewtonSums {
        let dim = self.theta.len();
        let hessian = if self.hessian { dim * dim } else { 0 };
        NewtonSums { n: 0.0, loss: 0.0, gradient: vec![0.0; dim], hessian: vec![0.0; hessian] }
    }

    fn map(&self, chunk: &Rows<'_>) -> NewtonSums {
        let dim = self.theta.len();
        let p = dim - 1;
        let mut s = self.empty();
        let mut row = vec![1.0; dim];
        for i in 0..chunk.x.rows {
            row[..p].copy_from_slice(chunk.x.row(i));
            let eta = row.iter().zip(self.theta).map(|(x, t)| x * t).sum::<f64>().min(POISSON_MAX_ETA);
            let mu = eta.exp();
            let y = chunk.y[i];
            s.n += 1.0;
            s.loss += mu - y * eta;
            for (g, x) in s.gradient.iter_mut().zip(&row) {
                *g += (mu - y) * x;
            }
            if self.hessian {
                for a in 0..dim {
                    let weighted = mu * row[a];
                    for (out, xc) in s.hessian[a * dim + a..(a + 1) * dim].iter_mut().zip(&row[a..]) {
                        *out += weighted * xc;
                    }
                }
            }
        }
        if self.hessian {
            mirror(&mut s.hessian, dim);
        }
        s
    }

    fn reduce(&self, mut a: NewtonSums, b: NewtonSums) -> NewtonSums {
        a.n += b.n;
        a.loss += b.loss;
        for (x, y) in a.gradient.iter_mut().zip(&b.gradient) {
            *x += y;
        }
        for (x, y) in a.hessian.iter_mut().zip(&b.hessian) {
            *x += y;
        }
        a
    }

    fn finish(&self, total: NewtonSums) -> NewtonSums {
        total
    }
}

/// A block of rows of a feature matrix with each row's class (`0..classes`).
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// The features, row after row.
    pub x: MatrixRef<'a>,
    /// The class of each row.
    pub classes: &'a [usize],
}

/// `x` and `classes` cut into chunks of `chunk_rows` rows.
pub fn labelled_chunks<'a>(x: MatrixRef<'a>, classes: &'a [usize], chunk_rows: usize) -> Vec<Labelled<'a>> {
    let step = chunk_rows.max(1);
    (0..x.rows)
        .step_by(step)
        .map(|start| {
            let end = (start + step).min(x.rows);
            Labelled {
                x: MatrixRef::new(end - start, x.cols, &x.data[start * x.cols..end * x.cols]),
                classes: &classes[start..end],
            }
        })
        .collect()
}

/// Per class and over all rows, each feature's statistics: the [`ColumnMoments`] partials of the class's rows
/// (two passes over each chunk's cells, merged by Chan's formula), what Gaussian naive Bayes fits from.
#[derive(Debug, Clone, Copy)]
pub struct ClassMoments {
    /// Features per row.
    pub features: usize,
    /// Classes.
    pub classes: usize,
}

/// The statistics of a [`ClassMoments`] pass.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    /// Per class: rows, then each feature's statistics.
    pub by_class: Vec<(usize, Vec<ColumnStats>)>,
    /// Each feature's statistics over all rows.
    pub all: Vec<ColumnStats>,
}

impl Pass for ClassMoments {
    type Chunk<'a> = Labelled<'a>;
    /// Per class (and last, over all rows): rows, and each feature's partial.
    type Partial = Vec<(usize, Vec<Partial>)>;
    type Output = ClassStats;

    fn empty(&self) -> Self::Partial {
        vec![(0, vec![Partial::EMPTY; self.features]); self.classes + 1]
    }

    fn map(&self, chunk: &Labelled<'_>) -> Self::Partial {
        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); self.classes + 1];
        for (i, &class) in chunk.classes.iter().enumerate() {
            rows_of[class].push(i);
        }
        rows_of[self.classes] = (0..chunk.x.rows).collect();
        let mut column = Vec::with_capacity(chunk.x.rows);
        rows_of
            .iter()
            .map(|rows| {
                let partials = (0..self.features)
                    .map(|j| {
                        column.clear();
                        column.extend(rows.iter().map(|&i| chunk.x.row(i)[j]));
                        Partial::of(&column)
                    })
                    .collect();
                (rows.len(), partials)
            })
            .collect()
    }

    fn reduce(&self, a: Self::Partial, b: Self::Partial) -> Self::Partial {
        a.into_iter()
            .zip(b)
            .map(|((na, a), (nb, b))| (na + nb, a.into_iter().zip(b).map(|(a, b)| a.merge(b)).collect()))
            .collect()
    }

    fn finish(&self, mut total: Self::Partial) -> ClassStats {
        let finish = |partials: Vec<Partial>| partials.into_iter().map(Partial::finish).collect();
        let all = total.pop().map(|(_, partials)| finish(partials)).unwrap_or_default();
        ClassStats { by_class: total.into_iter().map(|(rows, partials)| (rows, finish(partials))).collect(), all }
    }
}

/// One Lloyd iteration of k-means over rows: each row's nearest of `k` centres, the inertia, and per
/// cluster the sum and count of its rows.
#[derive(Debug, Clone, Copy)]
pub struct Lloyd<'c> {
    /// `k × cols` centre coordinates, row after row.
    pub centers: &'c [f64],
    /// Clusters.
    pub k: usize,
    /// Features per row.
    pub cols: usize,
}

impl Pass for Lloyd<'_> {
    type Chunk<'a> = Rows<'a>;
    type Partial = crate::LloydStep;
    type Output = crate::LloydStep;

    fn empty(&self) -> crate::LloydStep {
        crate::LloydStep { inertia: 0.0, sums: vec![0.0; self.k * self.cols], counts: vec![0; self.k] }
    }

    fn map(&self, chunk: &Rows<'_>) -> crate::LloydStep {
        let cols = self.cols;
        let mut step = self.empty();
        for i in 0..chunk.x.rows {
            let row = chunk.x.row(i);
            let (label, d) = crate::kmeans::nearest(row, self.centers, self.k);
            step.inertia += d;
            step.counts[label] += 1;
            step.sums[label * cols..(label + 1) * cols].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        step
    }

    fn reduce(&self, mut a: crate::LloydStep, b: crate::LloydStep) -> crate::LloydStep {
        a.inertia += b.inertia;
        a.sums.iter_mut().zip(&b.sums).for_each(|(x, y)| *x += y);
        a.counts.iter_mut().zip(&b.counts).for_each(|(x, y)| *x += y);
        a
    }

    fn finish(&self, total: crate::LloydStep) -> crate::LloydStep {
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values with a large offset, where Σx² − n·mean² would lose digits.
    fn data(rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let x: Vec<f64> = (0..rows * cols).map(|_| 1e4 + next()).collect();
        let y: Vec<f64> = (0..rows).map(|i| x[i * cols] * 2.0 - 5.0 + next()).collect();
        (x, y)
    }

    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-9 * scale.max(1.0)
    }

    #[test]
    fn cross_moments_agree_for_every_chunk_size_and_with_a_direct_computation() {
        let (rows, p) = (1000, 3);
        let (x, y) = data(rows, p);
        let view = MatrixRef::new(rows, p, &x);
        let pass = CrossMoments { features: p };
        let whole = run(&pass, &row_chunks(view, &y, rows));
        // Direct: two passes over everything.
        let mean: Vec<f64> = (0..p).map(|c| (0..rows).map(|i| x[i * p + c]).sum::<f64>() / rows as f64).collect();
        let cov =
            |a: usize, b: usize| (0..rows).map(|i| (x[i * p + a] - mean[a]) * (x[i * p + b] - mean[b])).sum::<f64>();
        for a in 0..p {
            for b in 0..p {
                assert!(close(whole.xx[a * p + b], cov(a, b), cov(a, a)), "xx[{a},{b}]");
            }
        }
        for chunk in [1, 7, 64, 333, 999] {
            let chunked = run(&pass, &row_chunks(view, &y, chunk));
            assert_eq!(chunked.n, whole.n);
            for (c, w) in chunked.xx.iter().zip(&whole.xx) {
                assert!(close(*c, *w, whole.xx[0]), "chunks of {chunk}: {c} vs {w}");
            }
            for (c, w) in chunked.xy.iter().zip(&whole.xy) {
                assert!(close(*c, *w, whole.yy), "chunks of {chunk}: {c} vs {w}");
            }
            assert!(close(chunked.yy, whole.yy, whole.yy));
            assert!(close(chunked.y_mean, whole.y_mean, whole.y_mean));
            for (c, w) in chunked.x_mean.iter().zip(&whole.x_mean) {
                assert!(close(*c, *w, *w), "chunks of {chunk}");
            }
        }
        // The same chunking gives the same bits every time.
        let again = run(&pass, &row_chunks(view, &y, 64));
        assert_eq!(again, run(&pass, &row_chunks(view, &y, 64)));
    }

    #[test]
    fn column_moments_agree_for_every_chunk_size() {
        let (x, _) = data(500, 2);
        let mut a: Vec<f64> = x.iter().step_by(2).copied().collect();
        a[3] = f64::NAN;
        let b: Vec<f64> = x.iter().skip(1).step_by(2).copied().collect();
        let pass = ColumnMoments { columns: 2 };
        let whole = run(&pass, &column_chunks(&[&a, &b], 500));
        assert_eq!((whole[0].count, whole[0].missing), (499, 1));
        for chunk in [1, 3, 100] {
            let chunked = run(&pass, &column_chunks(&[&a, &b], chunk));
            for (c, w) in chunked.iter().zip(&whole) {
                assert_eq!((c.count, c.missing, c.min, c.max), (w.count, w.missing, w.min, w.max));
                assert!(close(c.mean, w.mean, w.mean) && close(c.variance, w.variance, w.variance), "{c:?} {w:?}");
            }
        }
    }

    #[test]
    fn poisson_sums_agree_for_every_chunk_size() {
        let (rows, p) = (300, 2);
        let (mut x, _) = data(rows, p);
        for v in &mut x {
            *v -= 1e4;
        }
        let y: Vec<f64> = (0..rows).map(|i| (i % 5) as f64).collect();
        let theta = [0.3, -0.2, 0.1];
        let pass = PoissonNewton { theta: &theta, hessian: true };
        let view = MatrixRef::new(rows, p, &x);
        let whole = run(&pass, &row_chunks(view, &y, rows));
        for chunk in [1, 17, 128] {
            let chunked = run(&pass, &row_chunks(view, &y, chunk));
            assert!(close(chunked.loss, whole.loss, whole.loss.abs()));
            for (c, w) in chunked.gradient.iter().zip(&whole.gradient).chain(chunked.hessian.iter().zip(&whole.hessian))
            {
                assert!(close(*c, *w, w.abs()), "chunks of {chunk}: {c} vs {w}");
            }
        }
    }

    #[test]
    fn class_moments_agree_for_every_chunk_size() {
        let (rows, p) = (400, 3);
        let (x, _) = data(rows, p);
        let classes: Vec<usize> = (0..rows).map(|i| (i * 7 + i / 3) % 3).collect();
        let view = MatrixRef::new(rows, p, &x);
        let pass = ClassMoments { features: p, classes: 3 };
        let whole = run(&pass, &labelled_chunks(view, &classes, rows));
        let direct = |class: usize, j: usize| {
            let values: Vec<f64> = (0..rows).filter(|&i| classes[i] == class).map(|i| x[i * p + j]).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (values.len(), mean, values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64)
        };
        for class in 0..3 {
            for j in 0..p {
                let (n, mean, variance) = direct(class, j);
                let (rows_in, stats) = &whole.by_class[class];
                assert_eq!(*rows_in, n);
                assert!(close(stats[j].mean, mean, mean) && close(stats[j].variance, variance, variance));
            }
        }
        assert_eq!(whole.all[0].count, rows);
        for chunk in [1, 9, 128] {
            let chunked = run(&pass, &labelled_chunks(view, &classes, chunk));
            let pairs = chunked.by_class.iter().map(|(_, s)| s).chain([&chunked.all]);
            for (c, w) in pairs.zip(whole.by_class.iter().map(|(_, s)| s).chain([&whole.all])) {
                for (c, w) in c.iter().zip(w) {
                    assert_eq!(c.count, w.count);
                    assert!(
                        close(c.mean, w.mean, w.mean) && close(c.variance, w.variance, w.variance),
                        "chunks of {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn lloyd_steps_agree_for_every_chunk_size() {
        let (rows, p) = (300, 2);
        let (x, _) = data(rows, p);
        let centers = [1e4 + 0.2, 1e4 + 0.2, 1e4 + 0.8, 1e4 + 0.8];
        let view = MatrixRef::new(rows, p, &x);
        let pass = Lloyd { centers: &centers, k: 2, cols: p };
        let whole = run(&pass, &row_chunks(view, &[], rows));
        assert_eq!(whole.counts.iter().sum::<usize>(), rows);
        for chunk in [1, 13, 100] {
            let chunked = run(&pass, &row_chunks(view, &[], chunk));
            assert_eq!(chunked.counts, whole.counts);
            assert!(close(chunked.inertia, whole.inertia, whole.inertia));
            for (c, w) in chunked.sums.iter().zip(&whole.sums) {
                assert!(close(*c, *w, *w));
            }
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::crossprod::{self, CrossB};

    /// Times the normal equations as the [`CrossMoments`] pass against one Gram product over the whole matrix
    /// (`cargo test --workspace --lib -- --ignored --nocapture normal_equations_timing`); prints, asserts nothing.
    #[test]
    #[ignore = "a timing, run by hand"]
    fn normal_equations_timing() {
        let (rows, p) = (1_000_000, 20);
        let x: Vec<f64> = (0..rows * p).map(|i| ((i * 2_654_435_761) % 1_000_003) as f64 / 1e3).collect();
        let y: Vec<f64> = (0..rows).map(|i| x[i * p] * 0.5 + (i % 7) as f64).collect();
        let view = MatrixRef::new(rows, p, &x);
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let m = run(&CrossMoments { features: p }, &row_chunks(view, &y, CHUNK_ROWS));
            let pass = started.elapsed();
            let started = std::time::Instant::now();
            let full = crossprod::cpu(view, 1, CrossB::Same, 0, None);
            let xy = crossprod::cpu(view, 1, CrossB::Rows { data: &y, cols: 1 }, 0, None);
            let gram = started.elapsed();
            println!(
                "pass {:.3} s, one Gram product {:.3} s, ratio {:.2} ({} {})",
                pass.as_secs_f64(),
                gram.as_secs_f64(),
                pass.as_secs_f64() / gram.as_secs_f64(),
                m.xx[0],
                full[0] + xy[0]
            );
        }
    }
}
