//! K-Means Clustering.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{DeviceChoice, FittedState, Learn, Prediction, TrainingBatches, TrainingSet, learner_output};
use pipewright_compute::pass::{self, CHUNK_ROWS, ColumnMoments, Columns, Lloyd, Pass, row_chunks};
use pipewright_compute::{Backend, LloydStep};

use crate::algo::kmeans::{self, Init, KMeansFit, KMeansSettings, LloydRows};
use crate::frame::Matrix;

/// K-means clustering.
pub struct KMeansClustering;

impl KMeansClustering {
    /// The kind id.
    pub const ID: &'static str = "model.kmeans";
}

impl NodeKind for KMeansClustering {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            KMeansClustering::ID,
            "K-Means Clustering",
            Category::Model,
            "Groups rows into k clusters around centres that minimize the squared distance of each row to its centre. \
             Past 100,000 rows, each start is seeded and converged on an even sample of the rows first, then refined \
             on every row.",
        )
        .param("clusters", "Number of centroids", int(1, 10_000), json!(3), "k, the number of clusters.")
        .param(
            "init",
            "Initialization",
            choice(&["k-means++", "random"]),
            json!("k-means++"),
            "How the first centres are picked.",
        )
        .param(
            "starts",
            "Number of starts",
            int(1, 1000),
            json!(10),
            "Independent initializations; the one with the least inertia wins.",
        )
        .param("max_iterations", "Iterations", int(1, 100_000), json!(300), "Lloyd iterations per start at most.")
        .param(
            "tolerance",
            "Tolerance",
            float(0.0, 1.0),
            json!(1e-4),
            "Stop when centres move less than this, relative to the data's variance.",
        )
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .tunable("clusters", TuneRange::Int { min: 2, max: 20 })
        .tunable("init", TuneRange::Choice { values: vec![json!("k-means++"), json!("random")] })
        .output("learner", PortType::Learner, "Untrained k-means")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Clustering]))
    }
}

fn settings(params: &Params) -> Result<KMeansSettings, NodeError> {
    Ok(KMeansSettings {
        k: params.count("clusters")?,
        init: if params.text("init")? == "random" { Init::Random } else { Init::KMeansPlusPlus },
        n_init: params.count("starts")?,
        max_iterations: params.count("max_iterations")?,
        tolerance: params.float("tolerance")?,
        seed: params.seed("seed")?,
    })
}

/// The rows of a streamed table as k-means reads them: a pass of its batches for every step.
struct BatchedRows<'a> {
    batches: &'a TrainingBatches<'a>,
    ctx: &'a NodeContext<'a>,
    rows: usize,
    mean_variance: f64,
}

impl<'a> BatchedRows<'a> {
    /// Counts the rows and measures the columns' variances, in one pass.
    fn new(batches: &'a TrainingBatches<'a>, ctx: &'a NodeContext<'a>) -> Result<Self, NodeError> {
        let cols = batches.features.len();
        let moments = ColumnMoments { columns: cols };
        let mut total = moments.empty();
        let mut rows = 0;
        batches.each_rows(ctx, |x, _| {
            rows += x.rows;
            let columns: Vec<Vec<f64>> = (0..cols).map(|j| (0..x.rows).map(|i| x.get(i, j)).collect()).collect();
            let part = moments.map(&Columns(columns.iter().map(Vec::as_slice).collect()));
            total = moments.reduce(std::mem::replace(&mut total, moments.empty()), part);
            Ok(())
        })?;
        let (rows, total) = batches.across_shards((rows, total), |a, b| (a.0 + b.0, moments.reduce(a.1, b.1)))?;
        if rows == 0 {
            return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
        }
        let variances: f64 = moments.finish(total).into_iter().map(|c| c.variance).sum();
        Ok(Self { batches, ctx, rows, mean_variance: variances / cols.max(1) as f64 })
    }
}

impl LloydRows for BatchedRows<'_> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.batches.features.len()
    }

    fn mean_variance(&mut self) -> Result<f64, NodeError> {
        Ok(self.mean_variance)
    }

    fn sample(&mut self, stride: usize) -> Result<Matrix, NodeError> {
        let cols = self.cols();
        let mut data = Vec::new();
        self.batches.each_rows(self.ctx, |x, first_row| {
            for i in (0..x.rows).filter(|i| (first_row + i).is_multiple_of(stride.max(1))) {
                data.extend_from_slice(x.row(i));
            }
            Ok(())
        })?;
        // Every shard's sampled rows in rank order: the whole table's sample.
        let data = self.batches.gather_across(data)?.concat();
        Ok(Matrix { rows: data.len() / cols.max(1), cols, data })
    }

    fn step(&mut self, centers: &[f64], k: usize) -> Result<LloydStep, NodeError> {
        let lloyd = Lloyd { centers, k, cols: self.cols() };
        let mut total = lloyd.empty();
        self.batches.each_rows(self.ctx, |x, _| {
            let part = pass::run(&lloyd, &row_chunks(x.view(), &[], CHUNK_ROWS));
            total = lloyd.reduce(std::mem::replace(&mut total, lloyd.empty()), part);
            Ok(())
        })?;
        self.batches.across_shards(total, |a, b| lloyd.reduce(a, b))
    }
}

impl Learn for KMeansClustering {
    type State = KMeansFit;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let settings = settings(params)?;
        if settings.k > data.x.rows {
            return Err(NodeError::param(
                "clusters",
                format!("{} clusters need at least as many rows; the table has {}", settings.k, data.x.rows),
            ));
        }
        let backend = crate::device::backend(ctx, data.x.rows * data.x.cols)?;
        let fitted = kmeans::fit(&data.x, settings, &backend, &|start| {
            ctx.report_progress(start as f32 / settings.n_init as f32, "k-means starts");
            !ctx.cancel.is_cancelled()
        })?
        .ok_or(NodeError::Cancelled)?;
        Ok(fitted)
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    /// A pass for the row count and the columns' variances, one for the seeding sample, then one per Lloyd
    /// step, on the CPU.
    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let settings = settings(params)?;
        let mut rows = BatchedRows::new(batches, ctx)?;
        if settings.k > rows.rows {
            return Err(NodeError::param(
                "clusters",
                format!("{} clusters need at least as many rows; the table has {}", settings.k, rows.rows),
            ));
        }
        kmeans::fit_rows(&mut rows, settings, &|_| !ctx.cancel.is_cancelled())?.ok_or(NodeError::Cancelled)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(Backend::Cpu))
    }

    fn predict_on(&self, fitted: &KMeansFit, _model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let backend = device(x.rows * x.cols)?;
        let assigned = kmeans::assign(x, &fitted.centers, &backend).map_err(crate::device::kernel_error)?;
        Ok(Prediction::Clusters(assigned.into_iter().map(|(c, d)| (c, d.sqrt())).collect()))
    }
}

impl FittedState for KMeansFit {
    fn check(&self, model: &Model) -> Result<(), String> {
        if self.centers.is_empty() {
            return Err("it has no cluster centres".into());
        }
        for center in &self.centers {
            super::expect_len("a cluster centre", center.len(), model.features.len())?;
            super::expect_finite("the cluster centres", center)?;
        }
        Ok(())
    }
}
