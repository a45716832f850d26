//! Model blocks: each declares a learner (an algorithm and its hyperparameters) and implements [`Learn`] in
//! its own file — its typed fitted state, how it fits and predicts — and is registered with one line below.
//! Train, Score, Cross Validate, Tune and packages call it through [`Algorithm`].

mod wrapper;

blocks! {
    learner logistic_two_class::TwoClassLogisticRegression,
    learner logistic_multiclass::MulticlassLogisticRegression,
    learner linear_regression::LinearRegression,
    learner lasso_regression::LassoRegression,
    learner elastic_net_regression::ElasticNetRegression,
    learner decision_forest::DecisionForest,
    learner decision_forest_regression::DecisionForestRegression,
    learner kmeans::KMeansClustering,
    learner one_vs_all::OneVsAllMulticlass,
    learner decision_tree::DecisionTree,
    learner knn_classifier::KNearestNeighbors,
    learner knn_regression::KNearestNeighborsRegression,
    learner naive_bayes::NaiveBayes,
    learner averaged_perceptron::AveragedPerceptron,
    learner linear_svm::SupportVectorMachine,
    learner poisson_regression::PoissonRegression,
    learner boosted_decision_tree::BoostedDecisionTree,
    learner boosted_decision_tree_regression::BoostedDecisionTreeRegression,
    learner dbscan::Dbscan,
    learner agglomerative_clustering::AgglomerativeClustering,
    learner gaussian_mixture::GaussianMixture,
    learner neural_network::NeuralNetwork,
    learner neural_network_regression::NeuralNetworkRegression,
    learner one_vs_one::OneVsOneMulticlass,
    learner fast_forest_quantile_regression::FastForestQuantileRegression,
    learner isolation_forest::IsolationForest,
    learner pca_anomaly_detection::PcaAnomalyDetection,
    learner one_class_svm::OneClassSvm,
}

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use pipewright_engine::{Decoded, Learner, Model, NodeContext, NodeError, Params, StateJson, Task, Value};

use pipewright_compute::MatrixRef;
use pipewright_compute::pass::{CrossMoments, Moments, Pass, Rows as PassRows};
use pipewright_engine::TableStream;

use crate::frame::Matrix;

/// The label a learner is trained on.
#[derive(Debug, Clone)]
pub enum Labels {
    /// Class index per row, and the class names in index order.
    Classes {
        /// Per-row class index.
        y: Vec<usize>,
        /// Class names.
        classes: Vec<String>,
    },
    /// A number per row.
    Values(Vec<f64>),
    /// No label (clustering).
    None,
}

/// The training rows of a streamed table, read a batch at a time as often as a fit needs: the features in the
/// model's order and the label, checked on every batch as an in-memory fit checks them.
pub struct TrainingBatches<'a> {
    /// The table.
    pub stream: &'a TableStream,
    /// The feature columns, in the model's order.
    pub features: &'a [String],
    /// The label column (empty for a clustering learner).
    pub label: &'a str,
    /// The learner's name, for messages.
    pub learner: &'a str,
    /// For a classifier, the label's classes and the number of rows, from a first pass; `None` for regression.
    pub classes: Option<&'a StreamClasses>,
    /// Passes made so far, for progress.
    passes: std::sync::atomic::AtomicUsize,
    /// Whether a pass has read every row's features to the end: the features have no missing or infinite value,
    /// and later passes (over the same rows) do not look again.
    features_checked: std::sync::atomic::AtomicBool,
    /// In a data-parallel fit: how this shard's results reach the other shards', and where its rows start in the
    /// whole table.
    shard: Option<(&'a dyn Exchange, usize)>,
}

/// The ranks of a data-parallel fit: every rank fits the same learner the same way over its own shard of the
/// rows, and after each pass they exchange what their rows summed to, so every rank continues from the sums of
/// all the rows (and ends with the same model).
pub trait Exchange: Send + Sync {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// Every rank's bytes in rank order, once every rank has given its own: one round, which every rank enters
    /// in the same order.
    fn all_gather(&self, mine: Vec<u8>) -> Result<Vec<Vec<u8>>, NodeError>;
}

/// What a first pass over a streamed table finds of a class label.
#[derive(Debug, Clone)]
pub struct StreamClasses {
    /// The classes, in the model's order.
    pub names: Vec<String>,
    /// Rows in the table.
    pub rows: usize,
}

/// The training columns of `stream` (the features and, for a learner with a label, the label) read once into a
/// spill when `many_passes`, so that each later pass reads them from disk instead of parsing the source and
/// running the blocks before again; else the stream itself.
pub fn training_stream(
    stream: &TableStream,
    features: &[String],
    label: Option<&str>,
    many_passes: bool,
    ctx: &NodeContext<'_>,
) -> Result<TableStream, NodeError> {
    if !many_passes {
        return Ok(stream.clone());
    }
    let columns: Vec<String> = features.iter().cloned().chain(label.map(str::to_owned)).collect();
    let narrowed = stream.then(Arc::new(move |frame: polars::prelude::DataFrame| Ok(frame.select(columns.clone())?)));
    let batches = ctx.read(&narrowed, "reading the training columns into a spill")?;
    ctx.spill.stream(&narrowed, batches, &format!("the training columns of block \"{}\"", ctx.node_id))
}

/// Each row's class index from a label column: an integer label is matched as a number, without making text
/// of it on every pass; any other label by its text.
struct ClassIndex<'c> {
    text: std::collections::HashMap<&'c str, usize>,
    /// The classes as integers, when every class is one written plainly ("3", not "03").
    integers: Option<Vec<i64>>,
    /// The same, looked up by value (for many classes).
    integer_index: std::collections::HashMap<i64, usize>,
}

impl<'c> ClassIndex<'c> {
    fn new(names: &'c [String]) -> Self {
        let integers =
            names.iter().map(|n| n.parse::<i64>().ok().filter(|v| v.to_string() == *n)).collect::<Option<Vec<_>>>();
        let integer_index = integers.iter().flatten().enumerate().map(|(i, &v)| (v, i)).collect();
        Self { text: names.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect(), integers, integer_index }
    }

    /// The class index of every row of `batch`'s column `label`; a missing label (or one not among the
    /// classes) is an error.
    fn of(&self, batch: &polars::prelude::DataFrame, label: &str) -> Result<Vec<usize>, NodeError> {
        use polars::prelude::DataType;
        let missing = || {
            NodeError::data(format!("label \"{label}\" has missing values: remove those rows with Clean Missing Data"))
        };
        let column = batch.column(label).ok();
        if let (Some(integers), Some(column)) = (&self.integers, column.filter(|c| c.dtype().is_integer())) {
            // A few classes are found faster by a scan than by hashing.
            let find = |v: i64| {
                if integers.len() <= 16 {
                    integers.iter().position(|&c| c == v)
                } else {
                    self.integer_index.get(&v).copied()
                }
            };
            let values = column.cast(&DataType::Int64)?;
            return values.i64()?.iter().map(|v| v.and_then(find).ok_or_else(missing)).collect();
        }
        let text = crate::frame::text_column(batch, label)?;
        text.str()?.iter().map(|v| v.and_then(|c| self.text.get(c).copied()).ok_or_else(missing)).collect()
    }
}

impl<'a> TrainingBatches<'a> {
    /// The training rows of `stream` for `learner`.
    pub fn new(
        stream: &'a TableStream,
        features: &'a [String],
        label: &'a str,
        learner: &'a str,
        classes: Option<&'a StreamClasses>,
    ) -> Self {
        Self {
            stream,
            features,
            label,
            learner,
            classes,
            passes: std::sync::atomic::AtomicUsize::new(0),
            features_checked: std::sync::atomic::AtomicBool::new(false),
            shard: None,
        }
    }

    /// The same rows as one shard of a data-parallel fit: its first row is row `row_offset` of the whole table,
    /// and each pass's result is merged with the other ranks' through `exchange`.
    #[must_use]
    pub fn sharded(mut self, exchange: &'a dyn Exchange, row_offset: usize) -> Self {
        self.shard = Some((exchange, row_offset));
        self
    }

    /// What a pass over all the rows gives: this shard's `local` result merged, in rank order, with every other
    /// rank's (a data-parallel fit), or `local` itself (a fit over the whole table).
    pub fn across_shards<T>(&self, local: T, merge: impl Fn(T, T) -> T) -> Result<T, NodeError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let Some((exchange, _)) = self.shard else { return Ok(local) };
        let mine = serde_json::to_vec(&local).map_err(|e| NodeError::data(format!("a pass's sums: {e}")))?;
        let mut merged: Option<T> = None;
        for (rank, bytes) in exchange.all_gather(mine)?.into_iter().enumerate() {
            let part: T = serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::data(format!("the sums of rank {rank} are not readable: {e}")))?;
            merged = Some(match merged {
                None => part,
                Some(sum) => merge(sum, part),
            });
        }
        merged.ok_or_else(|| NodeError::data("a data-parallel pass with no ranks"))
    }

    /// Whether these rows are one shard of a data-parallel fit.
    pub fn is_shard(&self) -> bool {
        self.shard.is_some()
    }

    /// Where these rows start in the whole table: a shard's first row, or 0.
    pub fn row_offset(&self) -> usize {
        self.shard.map_or(0, |(_, offset)| offset)
    }

    /// Every rank's `local` numbers, in rank order (a data-parallel fit), or `local` alone: sent as they are, in
    /// binary, for the large exchanges (histograms, samples).
    pub fn gather_across(&self, local: Vec<f64>) -> Result<Vec<Vec<f64>>, NodeError> {
        let Some((exchange, _)) = self.shard else { return Ok(vec![local]) };
        let mine = local.iter().flat_map(|v| v.to_le_bytes()).collect();
        exchange
            .all_gather(mine)?
            .into_iter()
            .enumerate()
            .map(|(rank, bytes)| {
                if !bytes.len().is_multiple_of(8) {
                    return Err(NodeError::data(format!(
                        "the numbers of rank {rank} are cut short ({} bytes)",
                        bytes.len()
                    )));
                }
                Ok(bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))).collect())
            })
            .collect()
    }

    /// `local` added, number by number and in rank order, to every other rank's (a data-parallel fit), or `local`
    /// itself: what every rank's rows sum to.
    pub fn sum_across(&self, local: Vec<f64>) -> Result<Vec<f64>, NodeError> {
        if self.shard.is_none() {
            return Ok(local);
        }
        let len = local.len();
        let mut parts = self.gather_across(local)?.into_iter().enumerate();
        let (_, mut total) = parts.next().ok_or_else(|| NodeError::data("a data-parallel pass with no ranks"))?;
        for (rank, part) in parts {
            if part.len() != len {
                return Err(NodeError::data(format!(
                    "rank {rank} summed {} numbers where this rank summed {len}: the ranks fit different things",
                    part.len()
                )));
            }
            total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
        }
        Ok(total)
    }

    /// One pass: `f` with each batch and its first row's place in the table, in row order, with the pass's
    /// number in the progress shown (Stop ends it between batches).
    fn pass(
        &self,
        ctx: &NodeContext<'_>,
        mut f: impl FnMut(&polars::prelude::DataFrame, usize) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let pass = self.passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mut first_row = self.shard.map_or(0, |(_, offset)| offset);
        for batch in ctx.read(self.stream, &format!("pass {pass}"))? {
            let batch = batch?;
            f(&batch, first_row)?;
            first_row += batch.height();
        }
        Ok(())
    }

    /// A batch's features in the model's order.
    fn features_of(&self, batch: &polars::prelude::DataFrame) -> Result<Matrix, NodeError> {
        if self.features_checked.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::frame::feature_matrix_unchecked(batch, self.features);
        }
        crate::frame::feature_matrix(batch, self.features)
    }

    /// A batch's feature columns in the model's order, in place where they are f64 without missing cells.
    fn feature_columns_of(
        &self,
        batch: &polars::prelude::DataFrame,
    ) -> Result<Vec<crate::frame::F64Values>, NodeError> {
        if self.features_checked.load(std::sync::atomic::Ordering::Relaxed) {
            return crate::frame::feature_values_unchecked(batch, self.features);
        }
        crate::frame::feature_values(batch, self.features)
    }

    /// A pass that reads every batch's features ([`Self::features_of`]): the first that ends checks them.
    fn feature_pass(
        &self,
        ctx: &NodeContext<'_>,
        f: impl FnMut(&polars::prelude::DataFrame, usize) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        self.pass(ctx, f)?;
        self.features_checked.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The rows of the whole table (every shard's, in a data-parallel fit): a classifier's from its classes'
    /// pass, else counted in a pass of their own.
    pub fn rows(&self, ctx: &NodeContext<'_>) -> Result<usize, NodeError> {
        if let Some(classes) = self.classes {
            return Ok(classes.rows);
        }
        let rows = self.count(ctx)?;
        Ok(self.sum_across(vec![rows as f64])?[0] as usize)
    }

    /// The rows at hand: this shard's in a data-parallel fit, else the whole table's.
    pub fn shard_rows(&self, ctx: &NodeContext<'_>) -> Result<usize, NodeError> {
        if self.shard.is_none() {
            return self.rows(ctx);
        }
        self.count(ctx)
    }

    /// The rows of this stream, counted in a pass.
    fn count(&self, ctx: &NodeContext<'_>) -> Result<usize, NodeError> {
        let mut rows = 0;
        self.pass(ctx, |batch, _| {
            rows += batch.height();
            Ok(())
        })?;
        Ok(rows)
    }

    /// The features of every `stride`-th row (by its place in the whole table, so any batching and any sharding
    /// gives the same sample), column by column, in one pass: what bin edges are found on.
    pub fn sample_columns(&self, ctx: &NodeContext<'_>, stride: usize) -> Result<Vec<Vec<f64>>, NodeError> {
        let mut sample = vec![Vec::new(); self.features.len()];
        self.each_rows(ctx, |x, first_row| {
            for i in (0..x.rows).filter(|i| (first_row + i).is_multiple_of(stride)) {
                for (j, column) in sample.iter_mut().enumerate() {
                    column.push(x.get(i, j));
                }
            }
            Ok(())
        })?;
        if self.shard.is_none() {
            return Ok(sample);
        }
        // Every rank's sampled rows, in rank order: the shards are consecutive rows, so this is the whole table's.
        let cols = sample.len();
        let mut whole = vec![Vec::new(); cols];
        for part in self.gather_across(sample.concat())? {
            let rows = part.len() / cols.max(1);
            for (j, column) in whole.iter_mut().enumerate() {
                column.extend_from_slice(&part[j * rows..(j + 1) * rows]);
            }
        }
        Ok(whole)
    }

    /// One pass for a clustering learner: `f` with each batch's features and the batch's first row's place in
    /// the table, in row order (Stop ends it between batches).
    pub fn each_rows(
        &self,
        ctx: &NodeContext<'_>,
        mut f: impl FnMut(&Matrix, usize) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        self.feature_pass(ctx, |batch, first_row| f(&self.features_of(batch)?, first_row))
    }

    /// One pass for a classifier: `f` with each batch's features, each row's class index and the batch's first
    /// row's place in the table, in row order (Stop ends it between batches).
    pub fn each_labelled(
        &self,
        ctx: &NodeContext<'_>,
        mut f: impl FnMut(&Matrix, &[usize], usize) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let Some(classes) = self.classes else {
            return Err(NodeError::data(format!("{} needs a class label", self.learner)));
        };
        let index = ClassIndex::new(&classes.names);
        self.feature_pass(ctx, |batch, first_row| {
            let y = index.of(batch, self.label)?;
            f(&self.features_of(batch)?, &y, first_row)
        })
    }

    /// [`Self::each_labelled`] for a learner that reads columns: `f` with each batch's feature columns (in place,
    /// no row-major copy of the batch; no label in them), each row's class index and the batch's first row's place
    /// in the table.
    pub fn each_labelled_columns(
        &self,
        ctx: &NodeContext<'_>,
        mut f: impl FnMut(&TrainingColumns<'_>, &[usize], usize) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let Some(classes) = self.classes else {
            return Err(NodeError::data(format!("{} needs a class label", self.learner)));
        };
        let index = ClassIndex::new(&classes.names);
        let none = Labels::None;
        self.feature_pass(ctx, |batch, first_row| {
            let y = index.of(batch, self.label)?;
            let values = self.feature_columns_of(batch)?;
            let columns = TrainingColumns {
                columns: values.iter().map(crate::frame::F64Values::as_slice).collect(),
                rows: batch.height(),
                labels: &none,
            };
            f(&columns, &y, first_row)
        })
    }

    /// One pass: `f` with each batch's features and label, in row order (Stop ends it between batches).
    pub fn each(
        &self,
        ctx: &NodeContext<'_>,
        mut f: impl FnMut(&Matrix, &[f64]) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let label = self.label;
        self.feature_pass(ctx, |batch, _| {
            crate::frame::require_finite_label(batch, label)?;
            let values = crate::frame::numeric_values(batch, label).map_err(|_| {
                NodeError::data(format!(
                    "{} predicts numbers but label \"{label}\" is not numeric: use a classification learner",
                    self.learner
                ))
            })?;
            if values.iter().any(Option::is_none) {
                return Err(NodeError::data(format!(
                    "label \"{label}\" has missing values: remove those rows with Clean Missing Data"
                )));
            }
            let y: Vec<f64> = values.into_iter().flatten().collect();
            f(&self.features_of(batch)?, &y)
        })
    }

    /// The centred moments of features and label, in one pass ([`CrossMoments`], batches merged by Chan's
    /// formula): what linear, ridge, Lasso and Elastic Net regression fit from.
    pub fn moments(&self, ctx: &NodeContext<'_>) -> Result<Moments, NodeError> {
        let pass = CrossMoments { features: self.features.len() };
        let mut total = pass.empty();
        self.each(ctx, |x, y| {
            total = pass.reduce(std::mem::replace(&mut total, pass.empty()), pass.map(&PassRows { x: x.view(), y }));
            Ok(())
        })?;
        let total = self.across_shards(total, |a, b| pass.reduce(a, b))?;
        if total.n == 0.0 {
            return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
        }
        Ok(total)
    }
}

/// Training rows as the table's own feature columns, for a learner that fits from them
/// ([`Learn::FITS_COLUMNS`]) instead of from a row-major copy.
pub struct TrainingColumns<'a> {
    /// The feature columns, in the model's order, each `rows` long.
    pub columns: Vec<&'a [f64]>,
    /// Rows.
    pub rows: usize,
    /// The label.
    pub labels: &'a Labels,
}

/// Rows a block of [`TrainingColumns::map_blocks`] holds: 4,096 rows of 37 features are 1.2 MB.
const COLUMN_BLOCK_ROWS: usize = 4096;

impl TrainingColumns<'_> {
    /// `f` on every block of consecutive rows, given as a small row-major copy of their features (small enough to
    /// stay in cache) and the range of rows it holds; the blocks in parallel, the results in row order (the same
    /// for any number of threads).
    pub fn map_blocks<T: Send>(&self, f: impl Fn(MatrixRef<'_>, std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
        use rayon::prelude::*;
        let (rows, cols) = (self.rows, self.columns.len());
        (0..rows.div_ceil(COLUMN_BLOCK_ROWS))
            .into_par_iter()
            .map_init(Vec::new, |block: &mut Vec<f64>, b| {
                let (start, end) = (b * COLUMN_BLOCK_ROWS, ((b + 1) * COLUMN_BLOCK_ROWS).min(rows));
                block.clear();
                block.reserve((end - start) * cols);
                for r in start..end {
                    block.extend(self.columns.iter().map(|column| column[r]));
                }
                f(MatrixRef::new(end - start, cols, block), start..end)
            })
            .collect()
    }

    /// The centred moments of features and label ([`CrossMoments`], blocks merged in row order): what linear,
    /// ridge, Lasso and Elastic Net regression fit from.
    pub fn moments(&self) -> Result<Moments, NodeError> {
        let Labels::Values(y) = self.labels else {
            return Err(NodeError::data("a linear regression needs a numeric label"));
        };
        let pass = CrossMoments { features: self.columns.len() };
        let partials = self.map_blocks(|x, rows| pass.map(&PassRows { x, y: &y[rows] }));
        Ok(partials.into_iter().fold(pass.empty(), |a, b| pass.reduce(a, b)))
    }
}

/// Rows ready for an algorithm.
pub struct TrainingSet {
    /// Features, one row per table row.
    pub x: Matrix,
    /// The label.
    pub labels: Labels,
}

/// What a model says about rows.
pub enum Prediction {
    /// Class probabilities, one row per table row, columns in the model's class order.
    Probabilities(Matrix),
    /// A number per row.
    Values(Vec<f64>),
    /// Cluster index and distance to its centre per row.
    Clusters(Vec<(usize, f64)>),
    /// Anomaly detection: a score per row in 0..1 (higher is more anomalous) and whether it is an anomaly.
    Anomalies {
        /// Anomaly score per row.
        scores: Vec<f64>,
        /// Whether each row is flagged as an anomaly.
        flags: Vec<bool>,
    },
}

/// Picks (and records) the backend for an amount of work, in matrix elements.
pub type DeviceChoice<'a> = dyn Fn(usize) -> Result<pipewright_compute::Backend, NodeError> + 'a;

/// A fitted model's state: serialized into the model, decoded once when the model is loaded, and checked
/// against the model it belongs to (weights against features, trees against classes) before anything predicts.
pub(crate) trait FittedState: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What is wrong with the state as the state of `model`, if anything; say which part is damaged.
    fn check(&self, model: &Model) -> Result<(), String>;
}

/// What a learner block builds: the algorithm that fits its typed state and predicts from it. A learner
/// kind implements it in its own file and is registered with one line in [`blocks`].
pub(crate) trait Learn: Sync {
    /// The fitted state.
    type State: FittedState;

    /// Fits the state to the training rows.
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError>;

    /// Whether [`Learn::fit_batches`] fits it: its fit is passes over the rows (sums a batch at a time), so a
    /// streamed table is fitted without holding it.
    const STREAMS: bool = false;

    /// Whether its fit over a streamed table reads it many times (an iterative method): the training columns
    /// are then read once into a spill, and the passes read the spill instead of parsing the source again.
    const MANY_PASSES: bool = false;

    /// Whether every pass of [`Learn::fit_batches`] merges its sums across shards
    /// ([`TrainingBatches::across_shards`]): it then trains data-parallel, each rank over its own rows.
    const DATA_PARALLEL: bool = false;

    /// Whether [`Learn::fit_columns`] fits it on the CPU from the training table's columns as they are: the fit
    /// then holds no row-major copy of the table.
    const FITS_COLUMNS: bool = false;

    /// Fits from the training table's columns; only for learners with [`Learn::FITS_COLUMNS`].
    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let _ = (params, data, ctx);
        Err(NodeError::data("this learner fits on a matrix of the rows, not on the table's columns"))
    }

    /// Fits from passes over the batches of a streamed table; only for learners with [`Learn::STREAMS`].
    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let _ = (params, batches, ctx);
        Err(NodeError::data("this learner fits on the rows in memory, not over passes"))
    }

    /// Predicts for feature rows in the model's feature order.
    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError>;

    /// Predicts with compute kernels where the algorithm has them: `device` gives the backend for a given
    /// amount of work (rows × columns) and records it; the others predict on the CPU.
    fn predict_on(
        &self,
        state: &Self::State,
        model: &Model,
        x: &Matrix,
        device: &DeviceChoice<'_>,
    ) -> Result<Prediction, NodeError> {
        let _ = device;
        self.predict(state, model, x)
    }
}

/// A learner's algorithm as Train, Score, Cross Validate, Tune and packages call it, whatever its state type.
pub trait Algorithm: Sync {
    /// Fits and returns the state, serialized and decoded.
    fn fit(
        &self,
        params: &Params,
        data: &TrainingSet,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError>;

    /// Decodes and checks a model's state, once: a model that fails is refused here, before it predicts.
    fn load(&self, model: &Model) -> Result<(), NodeError>;

    /// Whether it fits over passes (so over a streamed table's batches, without holding it).
    fn streams(&self) -> bool;

    /// Whether its fit over passes reads the rows many times.
    fn many_passes(&self) -> bool;

    /// Whether it trains data-parallel: each rank over its own rows, the passes' sums merged across them.
    fn data_parallel(&self) -> bool;

    /// Fits from passes over the batches of a streamed table.
    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError>;

    /// Whether it fits on the CPU from the training table's columns as they are.
    fn fits_columns(&self) -> bool;

    /// Fits from the training table's columns.
    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError>;

    /// Predicts for feature rows in the model's feature order.
    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError>;

    /// Predicts with compute kernels where the algorithm has them.
    fn predict_on(&self, model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError>;
}

impl<L: Learn> Algorithm for L {
    fn fit(
        &self,
        params: &Params,
        data: &TrainingSet,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError> {
        Ok(stored(Learn::fit(self, params, data, ctx)?))
    }

    fn load(&self, model: &Model) -> Result<(), NodeError> {
        fitted::<L::State>(model).map(drop)
    }

    fn streams(&self) -> bool {
        L::STREAMS
    }

    fn many_passes(&self) -> bool {
        L::MANY_PASSES
    }

    fn data_parallel(&self) -> bool {
        L::DATA_PARALLEL
    }

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError> {
        Ok(stored(Learn::fit_batches(self, params, batches, ctx)?))
    }

    fn fits_columns(&self) -> bool {
        L::FITS_COLUMNS
    }

    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<(StateJson, Decoded), NodeError> {
        Ok(stored(Learn::fit_columns(self, params, data, ctx)?))
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Learn::predict(self, &*fitted::<L::State>(model)?, model, x)
    }

    fn predict_on(&self, model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        Learn::predict_on(self, &*fitted::<L::State>(model)?, model, x, device)
    }
}

/// A fitted state as a model keeps it: serialized, and decoded already.
fn stored<T: FittedState>(state: T) -> (StateJson, Decoded) {
    let state = Arc::new(state);
    let typed = Arc::clone(&state);
    // Serialized only when something reads it. A state is numbers, lists and maps keyed by text: it serializes.
    let json = StateJson::lazy(move || {
        serde_json::to_value(&*typed)
            .unwrap_or_else(|e| serde_json::json!({ "unstorable": format!("cannot store the model: {e}") }))
    });
    (json, Decoded::holding_shared(state))
}

/// The fitted state of a model, decoded from its JSON the first time and checked, then shared.
pub(crate) fn fitted<T: FittedState>(model: &Model) -> Result<Arc<T>, NodeError> {
    model.decoded.get_or_decode(|| {
        let state: T = serde_json::from_value(model.state.get().clone()).map_err(|e| {
            NodeError::data(format!("the {} model's state is unreadable ({e}): retrain it", model.name))
        })?;
        state.check(model).map_err(|problem| {
            NodeError::data(format!("the {} model is damaged: {problem}; retrain it", model.name))
        })?;
        Ok(state)
    })
}

/// The algorithm of a learner kind id.
pub fn algorithm(id: &str) -> Option<&'static dyn Algorithm> {
    crate::registry::registry().algorithm(id)
}

/// The algorithm of a learner kind id, or an error saying this build lacks it.
/// Whether the learner `algorithm` (a learner block's kind id) trains data-parallel ([`Learn::DATA_PARALLEL`]).
pub fn trains_data_parallel(algorithm: &str) -> bool {
    algorithm_of(algorithm).is_ok_and(Algorithm::data_parallel)
}

pub(crate) fn algorithm_of(id: &str) -> Result<&'static dyn Algorithm, NodeError> {
    algorithm(id).ok_or_else(|| {
        NodeError::data(format!("this Pipewright has no algorithm \"{id}\": was the workflow made by a newer version?"))
    })
}

/// Decodes and checks a trained model before it is used: a damaged model is refused here, naming what is wrong.
pub fn load(model: &Model) -> Result<(), NodeError> {
    match algorithm(&model.algorithm) {
        Some(algorithm) => algorithm.load(model),
        None => Err(NodeError::data(format!(
            "the {} model needs the algorithm \"{}\", which this Pipewright lacks: was it made by a newer version?",
            model.name, model.algorithm
        ))),
    }
}

/// Checks that a list read from a model has the expected length, naming it.
pub(crate) fn expect_len(what: &str, found: usize, expected: usize) -> Result<(), String> {
    if found == expected { Ok(()) } else { Err(format!("{what} has {found} entries where {expected} are expected")) }
}

/// Checks that every number of a list read from a model is finite, naming it.
pub(crate) fn expect_finite<'a>(what: &str, values: impl IntoIterator<Item = &'a f64>) -> Result<(), String> {
    if values.into_iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(format!("{what} holds a value that is not a finite number"))
    }
}

/// Checks a tree stored as a node list with the root first: every child is in the list, no node is reached
/// twice (so walking it ends), and every split reads one of the model's `features`. `split(i)` gives node `i`'s
/// feature and children, or `None` for a leaf.
pub(crate) fn check_tree(
    what: &str,
    len: usize,
    features: usize,
    split: impl Fn(usize) -> Option<(usize, usize, usize)>,
) -> Result<(), String> {
    if len == 0 {
        return Err(format!("{what} has no nodes"));
    }
    let mut seen = vec![false; len];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        let Some(visited) = seen.get_mut(i) else {
            return Err(format!("{what} points to node {i} of {len}"));
        };
        if std::mem::replace(visited, true) {
            return Err(format!("{what} reaches node {i} twice"));
        }
        if let Some((feature, left, right)) = split(i) {
            if feature >= features {
                return Err(format!("{what} splits on feature {feature} of {features}"));
            }
            stack.extend([left, right]);
        }
    }
    Ok(())
}

/// The output of every learner block: its kind, name and checked parameters.
pub(crate) fn learner_output(ctx: &NodeContext<'_>, tasks: &[Task]) -> Vec<Value> {
    vec![Value::Learner(Arc::new(Learner {
        algorithm: ctx.spec.id.to_owned(),
        name: ctx.spec.name.to_owned(),
        tasks: tasks.to_vec(),
        params: ctx.params.values().clone(),
    }))]
}

/// Class probabilities of every row.
pub(crate) fn probabilities(x: &Matrix, classes: usize, row_fn: impl Fn(&[f64], &mut [f64]) + Sync) -> Matrix {
    use rayon::prelude::*;
    let mut out = Matrix::zeros(x.rows, classes);
    out.data.par_chunks_mut(classes.max(1)).enumerate().for_each(|(i, row)| row_fn(x.row(i), row));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipewright_engine::rng::SplitMix64;

    #[test]
    fn class_indices_of_integer_and_text_labels_follow_the_class_order() {
        use polars::prelude::{Column, DataFrame};
        let names: Vec<String> = ["1", "0"].iter().map(|s| (*s).to_owned()).collect();
        let ints = DataFrame::new(4, vec![Column::new("y".into(), [0_i64, 1, 1, 0])]).expect("frame");
        assert_eq!(ClassIndex::new(&names).of(&ints, "y").expect("indexes"), vec![1, 0, 0, 1]);
        let small = DataFrame::new(2, vec![Column::new("y".into(), [1_i8, 0])]).expect("frame");
        assert_eq!(ClassIndex::new(&names).of(&small, "y").expect("indexes"), vec![0, 1]);
        // Text classes, and classes that are not plainly written integers, go by the label's text.
        let text = DataFrame::new(2, vec![Column::new("y".into(), ["b", "a"])]).expect("frame");
        let letters: Vec<String> = vec!["a".into(), "b".into()];
        assert_eq!(ClassIndex::new(&letters).of(&text, "y").expect("indexes"), vec![1, 0]);
        let many: Vec<String> = (0..40).rev().map(|c| c.to_string()).collect();
        let wide = DataFrame::new(3, vec![Column::new("y".into(), [0_i32, 39, 7])]).expect("frame");
        assert_eq!(ClassIndex::new(&many).of(&wide, "y").expect("indexes"), vec![39, 0, 32]);
        let padded: Vec<String> = vec!["01".into(), "1".into()];
        assert!(ClassIndex::new(&padded).integers.is_none());
        // A missing label, or one that is not a class, names the label.
        let holes = DataFrame::new(2, vec![Column::new("y".into(), [Some(1_i64), None])]).expect("frame");
        let unknown = DataFrame::new(1, vec![Column::new("y".into(), [7_i64])]).expect("frame");
        for frame in [holes, unknown] {
            let error = ClassIndex::new(&names).of(&frame, "y").expect_err("refused").to_string();
            assert!(error.contains("label \"y\" has missing values"), "{error}");
        }
    }

    #[test]
    fn moments_read_from_columns_equal_those_of_the_matrix() {
        // Not a whole number of blocks, with a large offset where a careless sum would lose digits.
        let (rows, cols) = (3 * COLUMN_BLOCK_ROWS + 77, 4);
        let mut rng = SplitMix64::new(5);
        let columns: Vec<Vec<f64>> = (0..cols).map(|_| (0..rows).map(|_| 1e4 + rng.next_f64()).collect()).collect();
        let y: Vec<f64> = (0..rows).map(|r| 2.0 * columns[0][r] - columns[3][r] + rng.next_f64()).collect();
        let labels = Labels::Values(y.clone());
        let set = TrainingColumns { columns: columns.iter().map(Vec::as_slice).collect(), rows, labels: &labels };
        let matrix: Vec<f64> = (0..rows).flat_map(|r| columns.iter().map(move |c| c[r])).collect();

        let got = set.moments().expect("a numeric label");
        let expected = pipewright_compute::pass::run(
            &CrossMoments { features: cols },
            &pipewright_compute::pass::row_chunks(MatrixRef::new(rows, cols, &matrix), &y, 1000),
        );
        // Sums merged in other orders differ in their last digits, against the scale of the largest sum.
        let scale = expected.xx.iter().chain([&expected.yy]).fold(1.0_f64, |m, v| m.max(v.abs()));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * scale.max(a.abs());
        assert_eq!(got.n, expected.n);
        assert!(close(got.y_mean, expected.y_mean) && close(got.yy, expected.yy));
        for (a, b) in got
            .x_mean
            .iter()
            .chain(&got.xx)
            .chain(&got.xy)
            .zip(expected.x_mean.iter().chain(&expected.xx).chain(&expected.xy))
        {
            assert!(close(*a, *b), "{a} against {b}");
        }
    }
}
