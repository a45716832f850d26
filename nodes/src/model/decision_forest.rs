//! Decision Forest (classification).

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingSet, learner_output, probabilities};
use crate::algo::forest::{self, Forest, ForestSettings, MaxFeatures, Target};
use crate::frame::Matrix;

/// A random forest classifier.
pub struct DecisionForest;

impl DecisionForest {
    /// The kind id.
    pub const ID: &'static str = "model.decision_forest";
}

/// The hyperparameters of both forest blocks; `features_default` differs by task.
pub(super) fn forest_params(spec: NodeSpec, features_default: &str) -> NodeSpec {
    spec.param(
        "trees",
        "Number of trees",
        int(1, 10_000),
        json!(100),
        "More trees give steadier predictions and take longer.",
    )
    .param("max_depth", "Maximum depth", int(1, 64), json!(32), "Deepest level a tree may grow to.")
    .param(
        "min_samples_leaf",
        "Minimum samples per leaf",
        int(1, 1_000_000),
        json!(1),
        "Fewest training rows a leaf may hold.",
    )
    .param(
        "features_per_split",
        "Features per split",
        choice(&["sqrt", "log2", "third", "all"]),
        json!(features_default),
        "How many randomly chosen features each split considers.",
    )
    .param(
        "bootstrap",
        "Bootstrap samples",
        ParamKind::Bool,
        json!(true),
        "Train each tree on rows drawn with replacement.",
    )
    .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
    .tunable("trees", TuneRange::Int { min: 10, max: 500 })
    .tunable("max_depth", TuneRange::Int { min: 2, max: 32 })
    .tunable("min_samples_leaf", TuneRange::Int { min: 1, max: 20 })
    .tunable(
        "features_per_split",
        TuneRange::Choice { values: vec![json!("sqrt"), json!("log2"), json!("third"), json!("all")] },
    )
}

pub(super) fn forest_settings(params: &Params) -> Result<ForestSettings, NodeError> {
    Ok(ForestSettings {
        trees: params.count("trees")?,
        max_depth: params.count("max_depth")?,
        min_samples_leaf: params.count("min_samples_leaf")?,
        max_features: match params.text("features_per_split")? {
            "sqrt" => MaxFeatures::Sqrt,
            "log2" => MaxFeatures::Log2,
            "third" => MaxFeatures::Third,
            _ => MaxFeatures::All,
        },
        bootstrap: params.bool("bootstrap")?,
        seed: params.seed("seed")?,
    })
}

pub(super) fn fit_forest(
    params: &Params,
    target: Target<'_>,
    x: &Matrix,
    ctx: &NodeContext<'_>,
) -> Result<Forest, NodeError> {
    let settings = forest_settings(params)?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let forest = forest::fit(x, target, settings, &|_| {
        let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.report_progress(finished as f32 / settings.trees as f32, "growing trees");
        !ctx.cancel.is_cancelled()
    });
    match forest {
        Some(forest) => Ok(forest),
        None => Err(NodeError::Cancelled),
    }
}

/// Grows a forest over passes of a streamed table: the rows counted (a classifier's from its classes' pass), bin
/// edges found on every k-th row (the sample boosting bins on), then every row read into one byte a feature with
/// its label; every node of every tree splits on those bins. Data-parallel, the edges come from every shard's
/// sample and the trees grow level by level over every shard's tallies ([`forest::fit_bins_across`]).
pub(super) fn fit_forest_batches(
    params: &Params,
    batches: &TrainingBatches<'_>,
    classify: bool,
    ctx: &NodeContext<'_>,
) -> Result<Forest, NodeError> {
    let settings = forest_settings(params)?;
    let rows = batches.rows(ctx)?;
    if rows == 0 {
        return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
    }
    let sample = batches.sample_columns(ctx, crate::algo::boosting::bin_sample_stride(rows))?;
    let here = if batches.is_shard() { batches.shard_rows(ctx)? } else { rows };
    let mut bins = forest::StreamBins::new(sample, here);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let keep_going = |_| {
        let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.report_progress(finished as f32 / settings.trees as f32, "growing trees");
        !ctx.cancel.is_cancelled()
    };
    let (mut y_classes, mut y_values, mut at) = (Vec::new(), Vec::new(), 0);
    let target = match batches.classes {
        Some(classes) if classify => {
            y_classes.reserve(here);
            batches.each_labelled(ctx, |x, labels, _| {
                bins.fill(x, at);
                at += x.rows;
                y_classes.extend_from_slice(labels);
                Ok(())
            })?;
            Target::Classes { y: &y_classes, classes: classes.names.len() }
        }
        None if !classify => {
            y_values.reserve(here);
            batches.each(ctx, |x, values| {
                bins.fill(x, at);
                at += x.rows;
                y_values.extend_from_slice(values);
                Ok(())
            })?;
            Target::Values(&y_values)
        }
        _ if classify => return Err(NodeError::data("a decision forest classifier needs a class label")),
        _ => return Err(NodeError::data("a regression forest needs a numeric label")),
    };
    let forest = if batches.is_shard() {
        let gather = |local: Vec<f64>| batches.gather_across(local);
        let shard = forest::Shard { rows_in_table: rows, offset: batches.row_offset(), gather: &gather };
        forest::fit_bins_across(&bins, target, settings, &keep_going, &shard)?
    } else {
        forest::fit_bins(&bins, target, settings, &keep_going)
    };
    forest.ok_or(NodeError::Cancelled)
}

impl NodeKind for DecisionForest {
    fn spec(&self) -> NodeSpec {
        forest_params(
            NodeSpec::new(
                DecisionForest::ID,
                "Decision Forest",
                Category::Model,
                "Classifies with an ensemble of decision trees grown on bootstrap samples (a random forest). Accurate, handles non-linear patterns, little tuning. On tables of more than 4,096 rows, nodes of more than 256 rows choose their split among 256 quantile bins of each feature, as histogram forests do; smaller tables and nodes split exactly, as scikit-learn's RandomForestClassifier. A table streamed from a file larger than the memory budget is read into such bins (edges found on about 200,000 sampled rows) and every node splits on them.",
            ),
            "sqrt",
        )
        .output("learner", PortType::Learner, "Untrained decision forest classifier")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for DecisionForest {
    type State = Forest;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("a decision forest classifier needs a class label"));
        };
        fit_forest(params, Target::Classes { y, classes: classes.len() }, &data.x, ctx)
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
        fit_forest_batches(params, batches, true, ctx)
    }

    fn predict(&self, forest: &Forest, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Probabilities(probabilities(x, forest.outputs, |row, out| forest.predict_row(row, out))))
    }
}

/// Checks trees of a forest or a single tree: their shape, their features and the width of every leaf.
pub(super) fn check_trees(trees: &[crate::algo::forest::Tree], features: usize, width: usize) -> Result<(), String> {
    for (t, tree) in trees.iter().enumerate() {
        let what = format!("tree {t}");
        super::check_tree(&what, tree.nodes.len(), features, |i| {
            let node = &tree.nodes[i];
            (node.feature != u32::MAX).then_some((node.feature as usize, node.left as usize, node.right as usize))
        })?;
        if let Some(leaf) = tree.nodes.iter().find(|n| n.feature == u32::MAX && n.value.len() != width) {
            return Err(format!("{what} has a leaf of {} values where {width} are expected", leaf.value.len()));
        }
    }
    Ok(())
}

impl FittedState for Forest {
    fn check(&self, model: &Model) -> Result<(), String> {
        let width = if model.classes.is_empty() { 1 } else { model.classes.len() };
        super::expect_len("the output width", self.outputs, width)?;
        if self.trees.is_empty() {
            return Err("it has no trees".into());
        }
        check_trees(&self.trees, model.features.len(), width)
    }
}
