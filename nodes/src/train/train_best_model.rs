//! Train Best Model: automated machine learning over every learner of the goal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use polars::prelude::{Column, DataFrame};
use serde_json::{Value as Json, json};

use pipewright_engine::metric::rankable_choices;
use pipewright_engine::rng::{SplitMix64, keyed_u64};
use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{
    Better, Category, FanOut, Inputs, Learner, MetricInfo, Node, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind,
    Params, PortType, Table, Task, Unit, UnitResult, Value,
};

use super::cross_validate::{assign_folds, check_class_counts};
use super::tune_hyperparameters::random_value;
use super::{score, train};
use crate::evaluate::{EvaluateOptions, evaluate_scored};
use crate::frame::{take_rows, text_values};

/// Tries every learner of the goal, each over a random search of its settings, cross-validated; trains the best
/// on all the rows.
pub struct TrainBestModel;

impl TrainBestModel {
    /// The kind id.
    pub const ID: &'static str = "train.train_best_model";
}

/// Most distinct values of an integer label that still make it classes rather than a quantity.
const MAX_INTEGER_CLASSES: usize = 20;

/// A contest read from the block's inputs and parameters: the same in every unit.
struct Contest {
    data: Arc<Table>,
    label: String,
    metric: String,
    /// Each learner with its settings to try (the first its defaults).
    entrants: Vec<(Learner, Vec<BTreeMap<String, Json>>)>,
    folds: usize,
    fold_of: Vec<usize>,
}

/// What the label asks for.
fn goal_of(ctx: &NodeContext<'_>, data: &Table, label: &str) -> Result<Task, NodeError> {
    let explicit = match ctx.params.text("goal")? {
        "two_class" => Some(Task::BinaryClassification),
        "multiclass" => Some(Task::MulticlassClassification),
        "regression" => Some(Task::Regression),
        _ => None,
    };
    let column = data.frame.column(label).map_err(|_| crate::frame::missing_column(&data.frame, label))?;
    let dtype = column.dtype();
    let distinct = column.n_unique().map_err(NodeError::from)?.saturating_sub(usize::from(column.null_count() > 0));
    if let Some(task) = explicit {
        return Ok(task);
    }
    let classes = !dtype.is_primitive_numeric() || (dtype.is_integer() && distinct <= MAX_INTEGER_CLASSES);
    Ok(match (classes, distinct) {
        (false, _) => Task::Regression,
        (true, 2) => Task::BinaryClassification,
        (true, _) => Task::MulticlassClassification,
    })
}

/// The learner a learner block builds with its default settings, as if it stood in the workflow under the name
/// `BLOCK/KIND` (its seed derived from `seed`).
fn default_learner(ctx: &NodeContext<'_>, kind: &str, seed: u64) -> Result<Option<Learner>, NodeError> {
    let catalog = crate::catalog();
    let Some(entry) = catalog.get(kind) else { return Ok(None) };
    let node = Node {
        id: format!("{}/{kind}", ctx.node_id),
        kind: kind.to_owned(),
        title: None,
        params: BTreeMap::new(),
        position: [0.0, 0.0],
    };
    let (params, _) = Params::resolve(&entry.spec, &node, seed);
    let learner_ctx = NodeContext {
        node_id: &node.id,
        params: &params,
        inputs: Inputs::default(),
        base_dir: ctx.base_dir,
        device: ctx.device,
        device_used: ctx.device_used,
        cancel: ctx.cancel,
        progress: ctx.progress,
        spec: &entry.spec,
        provenance: ctx.provenance,
        memory_budget: ctx.memory_budget,
        spill: ctx.spill,
    };
    Ok(match entry.kind.run(&learner_ctx)?.into_iter().next() {
        Some(Value::Learner(learner)) => Some((*learner).clone()),
        _ => None,
    })
}

/// One setting drawn from a learner's ranges.
fn draw(tunable: &[(&'static str, TuneRange)], rng: &mut SplitMix64) -> BTreeMap<String, Json> {
    tunable.iter().map(|(name, range)| ((*name).to_owned(), random_value(range, rng))).collect()
}

impl Contest {
    fn of(ctx: &NodeContext<'_>) -> Result<Self, NodeError> {
        let data = ctx.table("data")?;
        let label = match ctx.params.optional_text("label_column") {
            Some(l) => l.to_owned(),
            None => data.label().map(str::to_owned).ok_or_else(|| {
                NodeError::param("label_column", "choose the label column (no column is marked as label)")
            })?,
        };
        let goal = goal_of(ctx, &data, &label)?;
        let seed = ctx.params.seed("seed")?;
        let wanted: Vec<String> = ctx
            .params
            .optional_text("learners")
            .map(|t| t.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        let trials = ctx.params.count("trials")?.max(1);
        let catalog = crate::catalog();
        let mut entrants = Vec::new();
        for entry in catalog.entries() {
            let spec = &entry.spec;
            // A learner block on its own: no inputs (wrappers take another learner), something to tune.
            if spec.category != Category::Model || !spec.inputs.is_empty() || spec.tunable.is_empty() {
                continue;
            }
            if !wanted.is_empty() && !wanted.iter().any(|w| *w == spec.id || *w == spec.name.to_lowercase()) {
                continue;
            }
            let Some(learner) = default_learner(ctx, spec.id, seed)? else { continue };
            if !learner.tasks.contains(&goal) {
                continue;
            }
            let mut rng = SplitMix64::new(keyed_u64(seed, &[entrants.len() as u64]));
            let mut settings = vec![BTreeMap::new()];
            settings.extend((1..trials).map(|_| draw(&spec.tunable, &mut rng)));
            entrants.push((learner, settings));
        }
        if entrants.is_empty() {
            return Err(NodeError::param(
                "learners",
                format!("no learner for {} matches \"{}\"", goal_word(goal), wanted.join(", ")),
            ));
        }
        let metric = match ctx.params.text("metric")? {
            "auto" if goal == Task::Regression => "r2",
            "auto" => "accuracy",
            other => other,
        }
        .to_owned();
        let folds = ctx.params.count("folds")?;
        if data.height() < folds {
            return Err(NodeError::param(
                "folds",
                format!("{folds} folds need at least {folds} rows; the table has {}", data.height()),
            ));
        }
        let strata = if goal == Task::Regression { None } else { text_values(&data.frame, &label).ok() };
        if let Some(labels) = &strata {
            check_class_counts(labels, folds)?;
        }
        let fold_of = assign_folds(data.height(), folds, SplitMix64::new(seed).next_u64(), strata.as_deref());
        Ok(Self { data, label, metric, entrants, folds, fold_of })
    }

    /// A learner with one of its settings.
    fn candidate(&self, learner: usize, setting: usize) -> Result<Learner, NodeError> {
        let (base, settings) =
            self.entrants.get(learner).ok_or_else(|| NodeError::data(format!("there is no learner {}", learner + 1)))?;
        let overrides = settings
            .get(setting)
            .ok_or_else(|| NodeError::data(format!("{} has no setting {}", base.name, setting + 1)))?;
        let mut candidate = base.clone();
        candidate.params.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(candidate)
    }
}

fn goal_word(task: Task) -> &'static str {
    match task {
        Task::BinaryClassification => "two-class classification",
        Task::MulticlassClassification => "multiclass classification",
        Task::Regression => "regression",
        _ => "this goal",
    }
}

/// A number of a unit's description.
fn index(unit: &Json, name: &str) -> Result<usize, NodeError> {
    unit[name]
        .as_u64()
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| NodeError::data(format!("a unit of the contest needs a \"{name}\" number; it has {unit}")))
}

impl FanOut for TrainBestModel {
    /// One unit per learner × setting × fold: `{"learner": l, "setting": s, "fold": f}`.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError> {
        let contest = Contest::of(ctx)?;
        let mut units = Vec::new();
        for (l, (learner, settings)) in contest.entrants.iter().enumerate() {
            for s in 0..settings.len() {
                for f in 0..contest.folds {
                    units.push(Unit {
                        label: format!("{} setting {} × fold {}", learner.name, s + 1, f + 1),
                        spec: json!({"learner": l, "setting": s, "fold": f}),
                    });
                }
            }
        }
        Ok(units)
    }

    /// The fold's metric and fit time, or the error that kept the setting from being measured.
    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError> {
        let contest = Contest::of(ctx)?;
        let (learner, setting, fold) = (index(unit, "learner")?, index(unit, "setting")?, index(unit, "fold")?);
        let candidate = contest.candidate(learner, setting)?;
        let held_out: Vec<usize> = (0..contest.fold_of.len()).filter(|&i| contest.fold_of[i] == fold).collect();
        let training: Vec<usize> = (0..contest.fold_of.len()).filter(|&i| contest.fold_of[i] != fold).collect();
        let started = Instant::now();
        let measured = (|| {
            let model = train(&candidate, &take_rows(&contest.data, &training)?, Some(&contest.label), ctx)?;
            let seconds = started.elapsed().as_secs_f64();
            let scored = score(&model, &take_rows(&contest.data, &held_out)?)?;
            let options = EvaluateOptions { positive_class: None, silhouette_sample: 2000, seed: 0 };
            let evaluation = evaluate_scored(&scored, "candidate", &options)?;
            let value = evaluation.metric(&contest.metric).ok_or_else(|| {
                NodeError::param("metric", format!("{} has no metric \"{}\"", candidate.name, contest.metric))
            })?;
            Ok::<_, NodeError>((value, seconds))
        })();
        Ok(UnitResult::data(match measured {
            Ok((value, seconds)) => json!({"metric": value, "seconds": seconds}),
            Err(NodeError::Cancelled) => return Err(NodeError::Cancelled),
            Err(e) => json!({"error": e.to_string()}),
        }))
    }

    /// Each learner's best setting by its mean over the folds; the learners ranked; the best trained on all rows.
    fn combine(&self, ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError> {
        let contest = Contest::of(ctx)?;
        let expected: usize = contest.entrants.iter().map(|(_, s)| s.len() * contest.folds).sum();
        if results.len() != expected {
            return Err(NodeError::data(format!("the contest has {expected} units but {} results came back", results.len())));
        }
        let lower_better = MetricInfo::of(&contest.metric).is_some_and(|m| m.better == Better::Lower);
        let better = |a: f64, b: f64| if lower_better { a < b } else { a > b };
        let mut rows: Vec<Standing> = Vec::new();
        let mut results = results.into_iter();
        for (l, (_, settings)) in contest.entrants.iter().enumerate() {
            let mut best: Option<Standing> = None;
            let mut first_error = None;
            for s in 0..settings.len() {
                let folds: Vec<UnitResult> = results.by_ref().take(contest.folds).collect();
                let metrics: Option<Vec<f64>> = folds.iter().map(|r| r.data["metric"].as_f64()).collect();
                let Some(metrics) = metrics else {
                    let error = folds.iter().find_map(|r| r.data["error"].as_str()).unwrap_or("undefined metric");
                    first_error.get_or_insert_with(|| error.to_owned());
                    continue;
                };
                let n = metrics.len() as f64;
                let mean = metrics.iter().sum::<f64>() / n;
                let std = (metrics.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
                let seconds = folds.iter().filter_map(|r| r.data["seconds"].as_f64()).sum::<f64>() / n;
                if best.as_ref().is_none_or(|b| better(mean, b.mean)) {
                    best = Some(Standing { learner: l, setting: s, mean, std, seconds, error: None });
                }
            }
            rows.push(best.unwrap_or(Standing {
                learner: l,
                setting: 0,
                mean: f64::NAN,
                std: f64::NAN,
                seconds: f64::NAN,
                error: first_error,
            }));
            ctx.check_cancelled()?;
        }
        rows.sort_by(|a, b| match (a.mean.is_nan(), b.mean.is_nan()) {
            (false, false) if lower_better => a.mean.total_cmp(&b.mean),
            (false, false) => b.mean.total_cmp(&a.mean),
            (x, y) => x.cmp(&y),
        });
        let winner = rows.first().filter(|r| !r.mean.is_nan()).ok_or_else(|| {
            NodeError::data(format!(
                "no learner could be measured; the first error: {}",
                rows.iter().find_map(|r| r.error.clone()).unwrap_or_default()
            ))
        })?;
        let best = contest.candidate(winner.learner, winner.setting)?;
        let model = train(&best, &contest.data, Some(&contest.label), ctx)?;
        let board = leaderboard(&contest, &rows)?;
        Ok(vec![Value::Model(Arc::new(model)), Value::Table(Arc::new(board))])
    }
}

/// A learner's place: its best setting with the mean and standard deviation over the folds, and the mean fit
/// time of a fold.
struct Standing {
    learner: usize,
    setting: usize,
    mean: f64,
    std: f64,
    seconds: f64,
    error: Option<String>,
}

fn leaderboard(contest: &Contest, rows: &[Standing]) -> Result<Table, NodeError> {
    let n = rows.len();
    let finite = |v: f64| (!v.is_nan()).then_some(v);
    let name = |r: &Standing| contest.entrants[r.learner].0.name.clone();
    let setting = |r: &Standing| {
        Json::Object(contest.entrants[r.learner].1[r.setting].iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .to_string()
    };
    let metric = &contest.metric;
    let columns = vec![
        Column::new("rank".into(), (1..=n as u32).collect::<Vec<_>>()),
        Column::new("learner".into(), rows.iter().map(name).collect::<Vec<_>>()),
        Column::new(
            "algorithm".into(),
            rows.iter().map(|r| contest.entrants[r.learner].0.algorithm.clone()).collect::<Vec<_>>(),
        ),
        Column::new(format!("{metric}_mean").into(), rows.iter().map(|r| finite(r.mean)).collect::<Vec<_>>()),
        Column::new(format!("{metric}_std").into(), rows.iter().map(|r| finite(r.std)).collect::<Vec<_>>()),
        Column::new("fit_seconds".into(), rows.iter().map(|r| finite(r.seconds)).collect::<Vec<_>>()),
        Column::new("setting".into(), rows.iter().map(setting).collect::<Vec<_>>()),
        Column::new("error".into(), rows.iter().map(|r| r.error.clone().unwrap_or_default()).collect::<Vec<_>>()),
    ];
    let mut table = Table::new(DataFrame::new(n, columns)?);
    table.attributes.insert("leaderboard.metric".into(), json!(metric));
    table.attributes.insert("leaderboard.folds".into(), json!(contest.folds));
    Ok(table)
}

impl NodeKind for TrainBestModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Train Best Model",
            Category::Train,
            "Automated machine learning: tries every learner of the goal (two-class, multiclass or regression, from the label), each with its default setting and a random search of its tunable parameters, cross-validated on the same folds; ranks the learners by their best setting's mean metric (with its standard deviation and fit time) and trains the winner on all the rows. Every learner × setting × fold runs in parallel on this machine's cores or, exported with fan-out, as the tasks of a cluster job.",
        )
        .uses_device()
        .input("data", PortType::Table, "Labelled training data")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The column to predict. Empty: the column marked as label.")
        .param("goal", "Goal", choice(&["auto", "two_class", "multiclass", "regression"]), json!("auto"), "auto: from the label (text, or integers with at most 20 values: classes; other numbers: regression).")
        .param("learners", "Learners", ParamKind::Text, json!(""), "Kind ids or names, separated by commas (such as \"Decision Forest, model.logistic_regression_two_class\"). Empty: every learner of the goal.")
        .param("trials", "Settings per learner", int(1, 200), json!(5), "The default setting, then random draws from the learner's tunable ranges.")
        .param("folds", "Cross-validation folds", int(2, 20), json!(5), "Every setting is measured on the same folds (stratified for classification).")
        .param("metric", "Metric", ParamKind::Choice { choices: rankable_choices() }, json!("auto"), "What ranks the learners. auto: accuracy for classification, R² for regression.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Seed of the settings drawn, the folds and the learners' own seeds. Empty: derived from the workflow seed.")
        .output("model", PortType::Model, "The winner, trained on all the rows")
        .output("leaderboard", PortType::Table, "Every learner's best setting: mean and standard deviation of the metric over the folds, fit seconds, best first")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        pipewright_engine::fan_out::run_here(self, ctx)
    }

    fn fan_out(&self) -> Option<&dyn FanOut> {
        Some(self)
    }
}
