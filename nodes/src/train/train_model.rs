//! Train Model.

use std::sync::Arc;

use serde_json::Value as Json;

use pipewright_compute::Backend;
use pipewright_engine::{
    Category, Decoded, Learner, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows,
    ShardedTraining, StateJson, Table, TableStream, Task, Value,
};

use crate::frame::{Matrix, distinct_texts, feature_columns, feature_matrix, numeric_values};
use crate::model::{
    Labels, StreamClasses, TrainingBatches, TrainingColumns, TrainingSet, algorithm_of, training_stream,
};

/// Fits a learner on a table with a label.
pub struct TrainModel;

impl TrainModel {
    /// The kind id.
    pub const ID: &'static str = "train.train_model";
}

impl NodeKind for TrainModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Train Model",
            Category::Train,
            "Trains a classification or regression learner on a table. Every feature column is used; mark columns ignored with Edit Metadata to leave them out.",
        )
        .uses_device()
        .trains_over_shards()
        .input("learner", PortType::Learner, "An untrained model")
        .input("data", PortType::Table, "Training data")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The column to predict. Empty: the column marked as label.")
        .output("model", PortType::Model, "The trained model")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let learner = ctx.learner("learner")?;
        // A streamed table is fitted over passes of its batches by the learners whose fit is sums over rows;
        // the others read it whole.
        if let Rows::Stream(stream) = ctx.rows("data")?
            && algorithm_of(&learner.algorithm)?.streams()
        {
            let model = train_stream(&learner, &stream, ctx.params.optional_text("label_column"), ctx)?;
            return Ok(vec![Value::Model(Arc::new(model))]);
        }
        let table = ctx.take_table("data")?;
        let model = match prepare(&learner, &table, ctx.params.optional_text("label_column"), ctx)? {
            // The table is let go once its matrix is built: the fit holds one copy of the training data, not two.
            Prepared::Matrix(x, target) => {
                drop(table);
                fit_matrix(&learner, x, target, ctx)?
            }
            Prepared::Columns(target) => fit_columns(&learner, &table, target, ctx)?,
        };
        Ok(vec![Value::Model(Arc::new(model))])
    }

    /// Its shards hold every column; the label is the one chosen, or the one marked.
    fn sharded_training(&self, _learner: &Learner, data: &Table, params: &Params) -> Result<ShardedTraining, NodeError> {
        let (label, _) = label_and_features(data, params.optional_text("label_column"))?;
        Ok(ShardedTraining { label, columns: Vec::new() })
    }
}

/// The label column (the one given, or the one marked) and the feature columns of `table`, or what is wrong.
fn label_and_features(table: &Table, label: Option<&str>) -> Result<(String, Vec<String>), NodeError> {
    let label = match label {
        Some(l) => l.to_owned(),
        None => table.label().map(str::to_owned).ok_or_else(|| {
            NodeError::param("label_column", "choose the label column (no column is marked as label)")
        })?,
    };
    if table.frame.column(&label).is_err() {
        return Err(NodeError::param("label_column", crate::frame::missing_column(&table.frame, &label).to_string()));
    }
    let features = feature_columns(table, Some(&label));
    if features.is_empty() {
        return Err(NodeError::data("no feature columns: every column other than the label is ignored or a score"));
    }
    Ok((label, features))
}

/// Fits a `learner` whose fit is passes over the rows on a streamed table, with the checks an in-memory fit
/// makes on every batch; a classifier's classes come from a first pass.
fn train_stream(
    learner: &Learner,
    stream: &TableStream,
    label: Option<&str>,
    ctx: &NodeContext<'_>,
) -> Result<Model, NodeError> {
    let algo = algorithm_of(&learner.algorithm)?;
    let meta = stream.head(0)?;
    let (label, features) = label_and_features(&meta, label)?;
    let params = Params::from_map(learner.params.clone());
    // Spilled first, so that the classes' pass reads the spill too.
    let stream = &training_stream(stream, &features, Some(&label), algo.many_passes(), ctx)?;
    let (task, classes) = if learner.tasks.contains(&Task::Regression) {
        (Task::Regression, None)
    } else {
        let classes = stream_classes(stream, &label, ctx)?;
        (classification_task(learner, &label, classes.names.len())?, Some(classes))
    };
    let batches =
        TrainingBatches::new(stream, &features, &label, &learner.name, classes.as_ref());
    let (state, decoded) = algo.fit_batches(&params, &batches, ctx)?;
    Ok(model_of(learner, streamed_target(task, label, features, classes.map(|c| c.names)), state, decoded))
}

/// What a fit over passes learned: the label's classes without the rows' (which stayed in the batches).
fn streamed_target(task: Task, label: String, features: Vec<String>, classes: Option<Vec<String>>) -> Target {
    let labels = classes.map_or(Labels::None, |classes| Labels::Classes { y: Vec::new(), classes });
    Target { labels, task, label, features }
}

/// One rank's part of a data-parallel fit: `learner` over `shard`, whose first row is row `row_offset` of the
/// whole table; `classes` are the whole table's (its classes and rows, from a pass over every shard) for a
/// classifier. A clustering learner (no label: `label` is empty) clusters on every numeric feature column of the
/// shard. Each pass's sums are merged with the other ranks' through `exchange`, so every rank returns the model a
/// fit over the whole table gives (to rounding: sums are added in another order).
#[allow(clippy::too_many_arguments, reason = "a shard, where it sits in the whole, and how the ranks meet")]
pub fn train_shard(
    learner: &Learner,
    shard: &TableStream,
    label: &str,
    classes: Option<&StreamClasses>,
    exchange: &dyn crate::model::Exchange,
    row_offset: usize,
    ctx: &NodeContext<'_>,
) -> Result<Model, NodeError> {
    let algo = algorithm_of(&learner.algorithm)?;
    if !algo.data_parallel() {
        return Err(NodeError::Input {
            port: "learner".into(),
            message: format!("{} does not train data-parallel (its fit is not sums over rows merged by pass)", learner.name),
        });
    }
    let meta = shard.head(0)?;
    if learner.tasks == [Task::Clustering] {
        let features = crate::frame::numeric_feature_columns(&meta);
        if features.is_empty() {
            return Err(NodeError::data("no numeric feature columns to cluster on"));
        }
        let batches = TrainingBatches::new(shard, &features, "", &learner.name, None).sharded(exchange, row_offset);
        let (state, decoded) = algo.fit_batches(&Params::from_map(learner.params.clone()), &batches, ctx)?;
        return Ok(super::train_clustering::clustering_model(learner, features, state, decoded));
    }
    let (label, features) = label_and_features(&meta, Some(label))?;
    let params = Params::from_map(learner.params.clone());
    let task = match classes {
        _ if learner.tasks.contains(&Task::Regression) => Task::Regression,
        Some(classes) => classification_task(learner, &label, classes.names.len())?,
        None => return Err(NodeError::data(format!("{} needs the classes of label \"{label}\"", learner.name))),
    };
    let classes = classes.filter(|_| task != Task::Regression);
    let batches = TrainingBatches::new(shard, &features, &label, &learner.name, classes).sharded(exchange, row_offset);
    let (state, decoded) = algo.fit_batches(&params, &batches, ctx)?;
    let target = streamed_target(task, label, features, classes.map(|c| c.names.clone()));
    Ok(model_of(learner, target, state, decoded))
}

/// The classes of `label` in a streamed table and its rows (a pass over it), as a data-parallel fit needs them
/// for the whole table.
pub fn classes_of(stream: &TableStream, label: &str, ctx: &NodeContext<'_>) -> Result<StreamClasses, NodeError> {
    stream_classes(stream, label, ctx)
}

/// One pass over a streamed table: the classes of `label` (in the model's order) and the rows, or why the label
/// cannot be learned.
fn stream_classes(stream: &TableStream, label: &str, ctx: &NodeContext<'_>) -> Result<StreamClasses, NodeError> {
    let (mut seen, mut rows, mut missing) = (std::collections::HashSet::new(), 0, 0);
    for batch in ctx.read(stream, "classes")? {
        let batch = batch?;
        crate::frame::require_finite_label(&batch, label)?;
        let text = crate::frame::text_column(&batch, label)?;
        let values = text.str()?;
        missing += values.null_count();
        rows += batch.height();
        for value in values.iter().flatten() {
            if !seen.contains(value) {
                seen.insert(value.to_owned());
            }
        }
    }
    if missing > 0 {
        return Err(NodeError::data(format!(
            "label \"{label}\" has {missing} missing values: remove those rows with Clean Missing Data"
        )));
    }
    if rows == 0 {
        return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
    }
    let names = crate::frame::sorted_classes(&seen.into_iter().map(Some).collect::<Vec<_>>());
    Ok(StreamClasses { names, rows })
}

/// The task of a classifier for a label with `classes` classes, or why `learner` cannot learn it.
fn classification_task(learner: &Learner, label: &str, classes: usize) -> Result<Task, NodeError> {
    let task = match classes {
        0 | 1 => {
            return Err(NodeError::data(format!(
                "label \"{label}\" has {classes} class: a classifier needs at least two"
            )));
        }
        2 => Task::BinaryClassification,
        _ => Task::MulticlassClassification,
    };
    if !learner.tasks.contains(&task) {
        return Err(NodeError::data(format!(
            "{} needs a label with exactly two classes; \"{label}\" has {classes}: use a multiclass learner",
            learner.name
        )));
    }
    Ok(task)
}

/// Fits `learner` on `table` to predict `label` (or the column marked as label): what Train Model does, also
/// used per fold by Cross Validate Model and per candidate by Tune Model Hyperparameters.
pub fn train(learner: &Learner, table: &Table, label: Option<&str>, ctx: &NodeContext<'_>) -> Result<Model, NodeError> {
    match prepare(learner, table, label, ctx)? {
        Prepared::Matrix(x, target) => fit_matrix(learner, x, target, ctx),
        Prepared::Columns(target) => fit_columns(learner, table, target, ctx),
    }
}

/// What a fit learns to predict: the label's values, the task, and the columns that are its features.
struct Target {
    labels: Labels,
    task: Task,
    label: String,
    features: Vec<String>,
}

/// How a fit reads the training table's features.
enum Prepared {
    /// As a row-major matrix, built here: the table itself can be let go before the fit.
    Matrix(Matrix, Target),
    /// As the table's own columns, by a learner that fits from them on the CPU ([`crate::model::Algorithm::fits_columns`]).
    Columns(Target),
}

/// The checks of a fit of `learner` on `table`, its target, and how the fit reads the features.
fn prepare(learner: &Learner, table: &Table, label: Option<&str>, ctx: &NodeContext<'_>) -> Result<Prepared, NodeError> {
    if learner.tasks == [Task::Clustering] {
        return Err(NodeError::Input {
            port: "learner".into(),
            message: format!("{} is a clustering learner: use Train Clustering Model", learner.name),
        });
    }
    if learner.tasks == [Task::AnomalyDetection] {
        return Err(NodeError::Input {
            port: "learner".into(),
            message: format!("{} is an anomaly-detection learner: use Train Anomaly Detection Model", learner.name),
        });
    }
    let (label, features) = label_and_features(table, label)?;
    if table.height() == 0 {
        return Err(NodeError::Input { port: "data".into(), message: "the training table has no rows".into() });
    }
    crate::frame::require_finite_label(&table.frame, &label)?;
    let (labels, task) = if learner.tasks.contains(&Task::Regression) {
        let values = numeric_values(&table.frame, &label).map_err(|_| {
            NodeError::data(format!(
                "{} predicts numbers but label \"{label}\" is not numeric: use a classification learner",
                learner.name
            ))
        })?;
        let missing = values.iter().filter(|v| v.is_none()).count();
        if missing > 0 {
            return Err(NodeError::data(format!(
                "label \"{label}\" has {missing} missing values: remove those rows with Clean Missing Data"
            )));
        }
        (Labels::Values(values.into_iter().flatten().collect()), Task::Regression)
    } else {
        let text = crate::frame::text_column(&table.frame, &label)?;
        let values = text.str()?;
        let missing = values.null_count();
        if missing > 0 {
            return Err(NodeError::data(format!(
                "label \"{label}\" has {missing} missing values: remove those rows with Clean Missing Data"
            )));
        }
        let classes = distinct_texts(&table.frame, &label)?;
        let task = classification_task(learner, &label, classes.len())?;
        let index: std::collections::HashMap<&str, usize> =
            classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let y = values.iter().map(|v| v.and_then(|c| index.get(c).copied()).unwrap_or(0)).collect();
        (Labels::Classes { y, classes }, task)
    };
    let target = Target { labels, task, label, features };
    if algorithm_of(&learner.algorithm)?.fits_columns()
        && matches!(crate::device::backend(ctx, table.height() * target.features.len())?, Backend::Cpu)
    {
        return Ok(Prepared::Columns(target));
    }
    Ok(Prepared::Matrix(feature_matrix(&table.frame, &target.features)?, target))
}

/// Fits `learner` on the matrix of its features.
fn fit_matrix(learner: &Learner, x: Matrix, target: Target, ctx: &NodeContext<'_>) -> Result<Model, NodeError> {
    let algo = algorithm_of(&learner.algorithm)?;
    let params = Params::from_map(learner.params.clone());
    let set = TrainingSet { x, labels: target.labels };
    let (state, decoded) = algo.fit(&params, &set, ctx)?;
    Ok(model_of(learner, Target { labels: set.labels, ..target }, state, decoded))
}

/// Fits `learner` on the feature columns of `table` as they are.
fn fit_columns(learner: &Learner, table: &Table, target: Target, ctx: &NodeContext<'_>) -> Result<Model, NodeError> {
    let algo = algorithm_of(&learner.algorithm)?;
    let params = Params::from_map(learner.params.clone());
    let values = crate::frame::feature_values(&table.frame, &target.features)?;
    let columns = values.iter().map(crate::frame::F64Values::as_slice).collect();
    let data = TrainingColumns { columns, rows: table.height(), labels: &target.labels };
    let (state, decoded) = algo.fit_columns(&params, &data, ctx)?;
    Ok(model_of(learner, target, state, decoded))
}

/// The model of a fit.
fn model_of(learner: &Learner, target: Target, state: StateJson, decoded: Decoded) -> Model {
    let Target { labels, task, label, features } = target;
    let classes = match labels {
        Labels::Classes { classes, .. } => classes,
        _ => Vec::new(),
    };
    Model {
        algorithm: learner.algorithm.clone(),
        name: learner.name.clone(),
        task,
        label: Some(label),
        features,
        classes,
        state,
        decoded,
    }
}
