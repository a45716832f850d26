//! Boosted Decision Tree (two-class and multiclass classification).

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{
    FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingColumns, TrainingSet, learner_output,
};
use crate::algo::boosting::{self, BoostTarget, BoostedTrees, BoostingSettings};
use crate::frame::Matrix;

/// A gradient-boosted tree classifier.
pub struct BoostedDecisionTree;

impl BoostedDecisionTree {
    /// The kind id.
    pub const ID: &'static str = "model.boosted_decision_tree";
}

/// The hyperparameters of both boosted-tree blocks.
pub(super) fn boosting_params(spec: NodeSpec) -> NodeSpec {
    spec.param(
        "max_leaves",
        "Maximum number of leaves per tree",
        int(2, 100_000),
        json!(31),
        "Each tree grows best-first, splitting the leaf that lowers the loss most, until it has this many leaves.",
    )
    .param(
        "min_samples_leaf",
        "Minimum number of samples per leaf node",
        int(1, 1_000_000),
        json!(20),
        "Fewest training rows a leaf may hold; larger values give smoother, less overfitted trees.",
    )
    .param(
        "learning_rate",
        "Learning rate",
        float(1e-6, 1.0),
        json!(0.1),
        "Share of each tree's correction that is added; smaller rates need more trees and overfit less.",
    )
    .param(
        "trees",
        "Number of trees constructed",
        int(1, 100_000),
        json!(100),
        "Boosting rounds. Multiclass models grow one tree per class in every round.",
    )
    .param(
        "max_depth",
        "Maximum depth",
        int(0, 1000),
        json!(0),
        "Deepest level a leaf may sit at (the root is level 0); 0 means no limit besides the number of leaves.",
    )
    .param(
        "l2",
        "L2 regularization",
        float(0.0, 1e9),
        json!(0.0),
        "Penalty λ on leaf values: a leaf's value is −G / (H + λ), so larger values shrink leaves with few rows.",
    )
    .param(
        "max_bins",
        "Number of bins per feature",
        int(2, 255),
        json!(255),
        "Features are cut into at most this many quantile bins before training; splits fall between bins.",
    )
    .param(
        "feature_fraction",
        "Fraction of features per split",
        float(0.01, 1.0),
        json!(1.0),
        "Share of the features, drawn at random for each split, that the split may use; 1 uses all.",
    )
    .param(
        "seed",
        "Random number seed",
        ParamKind::Seed,
        Json::Null,
        "Seeds the feature draws (only used below a fraction of 1). Empty: derived from the workflow seed.",
    )
    .tunable("max_leaves", TuneRange::Int { min: 4, max: 128 })
    .tunable("min_samples_leaf", TuneRange::Int { min: 1, max: 100 })
    .tunable("learning_rate", TuneRange::Float { min: 0.01, max: 0.5, log: true })
    .tunable("trees", TuneRange::Int { min: 20, max: 500 })
}

fn settings(params: &Params) -> Result<BoostingSettings, NodeError> {
    let max_depth = params.count("max_depth")?;
    Ok(BoostingSettings {
        rounds: params.count("trees")?,
        learning_rate: params.float("learning_rate")?,
        max_leaves: params.count("max_leaves")?,
        max_depth: (max_depth > 0).then_some(max_depth),
        min_samples_leaf: params.count("min_samples_leaf")?,
        l2: params.float("l2")?,
        max_bins: params.count("max_bins")?,
        feature_fraction: params.float("feature_fraction")?,
        seed: params.seed("seed")?,
    })
}

/// Fits boosted trees with progress and cancellation.
pub(super) fn fit_boosted(
    params: &Params,
    target: BoostTarget<'_>,
    x: &Matrix,
    ctx: &NodeContext<'_>,
) -> Result<BoostedTrees, NodeError> {
    let settings = settings(params)?;
    boosting::fit(x, target, settings, &keep_going(ctx, settings.rounds)).ok_or(NodeError::Cancelled)
}

/// The class of every row and the number of classes, at least two.
fn classes_of(labels: &Labels) -> Result<(&[usize], usize), NodeError> {
    let Labels::Classes { y, classes } = labels else {
        return Err(NodeError::data("a boosted decision tree classifier needs a class label"));
    };
    if classes.len() < 2 {
        return Err(NodeError::data(format!(
            "the label has only one class ({}): a classifier needs rows of at least two classes",
            classes.first().map_or("none", String::as_str)
        )));
    }
    Ok((y, classes.len()))
}

/// Fits boosted trees from the training table's columns, with progress and cancellation.
pub(super) fn fit_boosted_columns(
    params: &Params,
    target: BoostTarget<'_>,
    data: &TrainingColumns<'_>,
    ctx: &NodeContext<'_>,
) -> Result<BoostedTrees, NodeError> {
    let settings = settings(params)?;
    boosting::fit_columns(&data.columns, data.rows, target, settings, &keep_going(ctx, settings.rounds))
        .ok_or(NodeError::Cancelled)
}

/// Fits boosted trees over passes of a streamed table: the rows counted (a classifier's from its classes'
/// pass), the bin edges found on every k-th row as in memory, then every row read into one byte a feature, the
/// label beside it; the trees grow on those bins as on a table in memory's, to the same trees. Data-parallel,
/// the rows are the whole table's, the sample every shard's, and the sums the splits are chosen from are added
/// across the shards.
pub(super) fn fit_boosted_batches(
    params: &Params,
    batches: &TrainingBatches<'_>,
    ctx: &NodeContext<'_>,
) -> Result<BoostedTrees, NodeError> {
    let settings = settings(params)?;
    let rows = batches.rows(ctx)?;
    if rows == 0 {
        return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
    }
    let sample = batches.sample_columns(ctx, boosting::bin_sample_stride(rows))?;
    let thresholds = boosting::thresholds_of(&sample, settings.max_bins);
    drop(sample);
    let here = if batches.is_shard() { batches.shard_rows(ctx)? } else { rows };
    let mut bins = boosting::BinnedRows::with_capacity(here, batches.features.len());
    let sum_across = |local: Vec<f64>| batches.sum_across(local);
    let across: boosting::SumAcross<'_> = if batches.is_shard() { Some(&sum_across) } else { None };
    let keep_going = keep_going(ctx, settings.rounds);
    let fitted = if let Some(classes) = batches.classes {
        let mut y = Vec::with_capacity(here);
        batches.each_labelled(ctx, |x, labels, _| {
            bins.append(&boosting::binned(&thresholds, x));
            y.extend_from_slice(labels);
            Ok(())
        })?;
        let target = BoostTarget::Classes { y: &y, classes: classes.names.len() };
        boosting::fit_binned(bins, &thresholds, target, settings, &keep_going, across)?
    } else {
        let mut y = Vec::with_capacity(here);
        batches.each(ctx, |x, values| {
            bins.append(&boosting::binned(&thresholds, x));
            y.extend_from_slice(values);
            Ok(())
        })?;
        boosting::fit_binned(bins, &thresholds, BoostTarget::Values(&y), settings, &keep_going, across)?
    };
    fitted.ok_or(NodeError::Cancelled)
}

/// Progress of the boosting rounds, and whether to go on.
fn keep_going<'c>(ctx: &'c NodeContext<'_>, rounds: usize) -> impl Fn(usize) -> bool + 'c {
    move |round| {
        ctx.report_progress(round as f32 / rounds as f32, "boosting rounds");
        !ctx.cancel.is_cancelled()
    }
}

impl NodeKind for BoostedDecisionTree {
    fn spec(&self) -> NodeSpec {
        boosting_params(NodeSpec::new(
            BoostedDecisionTree::ID,
            "Boosted Decision Tree",
            Category::Model,
            "Classifies with an ensemble of small trees, each fitted to the errors of those before it (gradient boosting on the log loss, with histogram splits as in LightGBM and scikit-learn's HistGradientBoostingClassifier). Often the most accurate choice on tables; two or more classes.",
        ))
        .output("learner", PortType::Learner, "Untrained boosted decision tree classifier")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for BoostedDecisionTree {
    type State = BoostedTrees;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let (y, classes) = classes_of(&data.labels)?;
        fit_boosted(params, BoostTarget::Classes { y, classes }, &data.x, ctx)
    }

    const FITS_COLUMNS: bool = true;

    fn fit_columns(
        &self,
        params: &Params,
        data: &TrainingColumns<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let (y, classes) = classes_of(data.labels)?;
        fit_boosted_columns(params, BoostTarget::Classes { y, classes }, data, ctx)
    }

    const STREAMS: bool = true;

    const MANY_PASSES: bool = true;

    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        fit_boosted_batches(params, batches, ctx)
    }

    fn predict(&self, fitted: &BoostedTrees, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let classes = model.classes.len().max(2);
        Ok(Prediction::Probabilities(fitted.probabilities(x, classes)))
    }
}

impl FittedState for BoostedTrees {
    fn check(&self, model: &Model) -> Result<(), String> {
        let width = match self.link {
            crate::algo::boosting::Link::Softmax => model.classes.len(),
            _ => 1,
        };
        super::expect_len("the baseline", self.baseline.len(), width)?;
        super::expect_finite("the baseline", &self.baseline)?;
        for (t, tree) in self.trees.iter().enumerate() {
            super::check_tree(&format!("tree {t}"), tree.len(), model.features.len(), |i| {
                let node = &tree[i];
                (node.feature != u32::MAX).then_some((node.feature as usize, node.left as usize, node.right as usize))
            })?;
        }
        Ok(())
    }
}
