//! Tune Model Hyperparameters.

use std::collections::BTreeMap;
use std::sync::Arc;

use polars::prelude::{Column, DataFrame};
use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::metric::rankable_choices;
use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{
    Better, Category, FanOut, Learner, MetricInfo, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table,
    Task, Unit, UnitResult, Value,
};

use super::cross_validate::assign_folds;
use super::{score, train};
use crate::evaluate::{EvaluateOptions, evaluate_scored};
use crate::frame::{take_rows, text_values};

/// Searches a learner's tunable parameters and keeps the best model.
pub struct TuneModelHyperparameters;

impl TuneModelHyperparameters {
    /// The kind id.
    pub const ID: &'static str = "train.tune_model_hyperparameters";
}

/// Most candidates an entire grid may have.
const GRID_LIMIT: usize = 1000;

/// `points` values spread over a range: evenly, or evenly in the logarithm.
fn grid_values(range: &TuneRange, points: usize) -> Vec<Json> {
    let spread = |min: f64, max: f64, log: bool| -> Vec<f64> {
        if points <= 1 || max <= min {
            return vec![min];
        }
        (0..points)
            .map(|i| {
                let t = i as f64 / (points - 1) as f64;
                if log { (min.ln() + t * (max.ln() - min.ln())).exp() } else { min + t * (max - min) }
            })
            .collect()
    };
    match range {
        TuneRange::Int { min, max } => {
            let mut values: Vec<i64> =
                spread(*min as f64, *max as f64, false).into_iter().map(|v| v.round() as i64).collect();
            values.dedup();
            values.into_iter().map(Json::from).collect()
        }
        TuneRange::Float { min, max, log } => spread(*min, *max, *log).into_iter().map(Json::from).collect(),
        TuneRange::Choice { values } => values.clone(),
    }
}

/// One value drawn from a range.
pub(super) fn random_value(range: &TuneRange, rng: &mut SplitMix64) -> Json {
    match range {
        TuneRange::Int { min, max } => {
            let span = usize::try_from(max - min + 1).unwrap_or(1).max(1);
            json!(min + i64::try_from(rng.below(span)).unwrap_or(0))
        }
        TuneRange::Float { min, max, log: true } => json!((min.ln() + rng.next_f64() * (max.ln() - min.ln())).exp()),
        TuneRange::Float { min, max, log: false } => json!(min + rng.next_f64() * (max - min)),
        TuneRange::Choice { values } => values.get(rng.below(values.len().max(1))).cloned().unwrap_or(Json::Null),
    }
}

/// Every combination of the grid values, in order (the first parameter varies slowest).
fn cartesian(axes: &[(&str, Vec<Json>)]) -> Vec<BTreeMap<String, Json>> {
    let mut out = vec![BTreeMap::new()];
    for (name, values) in axes {
        out = out
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |v| {
                    let mut next = partial.clone();
                    next.insert((*name).to_owned(), v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// How each candidate is measured.
enum Measure {
    /// Trained on the data, measured on the validation table.
    Validation(Arc<Table>),
    /// Cross-validated on the data: each row's fold, and the number of folds.
    Folds(Vec<usize>, usize),
}

/// Everything a sweep is made of, read from the block's inputs and parameters: the same in every unit.
struct Search {
    learner: Arc<Learner>,
    data: Arc<Table>,
    label: String,
    metric: String,
    tunable: Vec<(&'static str, TuneRange)>,
    candidates: Vec<BTreeMap<String, Json>>,
    measure: Measure,
}

impl Search {
    fn of(ctx: &NodeContext<'_>) -> Result<Self, NodeError> {
        let learner = ctx.learner("learner")?;
        let data = ctx.table("data")?;
        let validation = ctx.optional_table("validation")?;
        if learner.tasks == [Task::Clustering] {
            return Err(NodeError::Input {
                port: "learner".into(),
                message: format!("{} is a clustering learner: tuning needs a label to measure against", learner.name),
            });
        }
        let catalog = crate::catalog();
        let spec = catalog
            .get(&learner.algorithm)
            .map(|e| e.spec.clone())
            .ok_or_else(|| NodeError::data(format!("this Pipewright has no learner \"{}\"", learner.algorithm)))?;
        if spec.tunable.is_empty() {
            return Err(NodeError::Input {
                port: "learner".into(),
                message: format!("{} has no tunable parameters", spec.name),
            });
        }
        let label = match ctx.params.optional_text("label_column") {
            Some(l) => l.to_owned(),
            None => data.label().map(str::to_owned).ok_or_else(|| {
                NodeError::param("label_column", "choose the label column (no column is marked as label)")
            })?,
        };
        let regression = learner.tasks.contains(&Task::Regression);
        let metric = match ctx.params.text("metric")? {
            "auto" if regression => "r2",
            "auto" => "accuracy",
            other => other,
        }
        .to_owned();
        let mut rng = SplitMix64::new(ctx.params.seed("seed")?);
        let candidates: Vec<BTreeMap<String, Json>> = if ctx.params.text("mode")? == "entire_grid" {
            let points = ctx.params.count("grid_points")?;
            let axes: Vec<(&str, Vec<Json>)> =
                spec.tunable.iter().map(|(name, range)| (*name, grid_values(range, points))).collect();
            let size: usize = axes.iter().map(|(_, v)| v.len()).product();
            if size > GRID_LIMIT {
                return Err(NodeError::param(
                    "grid_points",
                    format!(
                        "the entire grid has {size} settings (at most {GRID_LIMIT}): use fewer grid points or a random sweep"
                    ),
                ));
            }
            cartesian(&axes)
        } else {
            (0..ctx.params.count("runs")?)
                .map(|_| {
                    spec.tunable
                        .iter()
                        .map(|(name, range)| ((*name).to_owned(), random_value(range, &mut rng)))
                        .collect()
                })
                .collect()
        };
        let measure = if let Some(v) = validation {
            Measure::Validation(v)
        } else {
            let folds = ctx.params.count("folds")?;
            if data.height() < folds {
                return Err(NodeError::param(
                    "folds",
                    format!("{folds} folds need at least {folds} rows; the table has {}", data.height()),
                ));
            }
            let strata = if regression { None } else { text_values(&data.frame, &label).ok() };
            if let Some(labels) = &strata {
                super::cross_validate::check_class_counts(labels, folds)?;
            }
            Measure::Folds(assign_folds(data.height(), folds, rng.next_u64(), strata.as_deref()), folds)
        };
        Ok(Self { learner, data, label, metric, tunable: spec.tunable.clone(), candidates, measure })
    }

    fn candidate(&self, overrides: &BTreeMap<String, Json>) -> Learner {
        let mut learner = (*self.learner).clone();
        learner.params.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        learner
    }

    fn metric_of(&self, scored: &Table) -> Result<f64, NodeError> {
        let options = EvaluateOptions { positive_class: None, silhouette_sample: 2000, seed: 0 };
        let evaluation = evaluate_scored(scored, "candidate", &options)?;
        evaluation.metric(&self.metric).ok_or_else(|| {
            let known: Vec<&str> = evaluation.metrics.iter().map(|m| m.name.as_str()).collect();
            NodeError::param(
                "metric",
                format!("no metric \"{}\" for this learner; it has: {}", self.metric, known.join(", ")),
            )
        })
    }

    /// The folds each setting is measured on (one "fold", the validation table, without cross-validation).
    fn folds(&self) -> usize {
        match &self.measure {
            Measure::Validation(_) => 1,
            Measure::Folds(_, folds) => *folds,
        }
    }

    /// A setting's metric on one fold (or on the validation table).
    fn measure(&self, setting: usize, fold: usize, ctx: &NodeContext<'_>) -> Result<f64, NodeError> {
        let overrides = self
            .candidates
            .get(setting)
            .ok_or_else(|| NodeError::data(format!("the sweep has no setting {}", setting + 1)))?;
        let learner = self.candidate(overrides);
        match &self.measure {
            Measure::Validation(validation) => {
                let model = train(&learner, &self.data, Some(&self.label), ctx)?;
                self.metric_of(&score(&model, validation)?)
            }
            Measure::Folds(fold_of, _) => {
                let held_out: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == fold).collect();
                let training: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != fold).collect();
                let model = train(&learner, &take_rows(&self.data, &training)?, Some(&self.label), ctx)?;
                self.metric_of(&score(&model, &take_rows(&self.data, &held_out)?)?)
            }
        }
    }
}

impl FanOut for TuneModelHyperparameters {
    /// One unit per setting and fold: `{"setting": i, "fold": f}`.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError> {
        let search = Search::of(ctx)?;
        let folds = search.folds();
        Ok((0..search.candidates.len())
            .flat_map(|setting| {
                (0..folds).map(move |fold| Unit {
                    label: if folds == 1 {
                        format!("setting {}", setting + 1)
                    } else {
                        format!("setting {} × fold {}", setting + 1, fold + 1)
                    },
                    spec: json!({"setting": setting, "fold": fold}),
                })
            })
            .collect())
    }

    /// The metric, or the error that kept the setting from being measured (part of the sweep's table).
    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError> {
        let index = |name: &str| {
            unit[name].as_u64().and_then(|v| usize::try_from(v).ok()).ok_or_else(|| {
                NodeError::data(format!("a unit of the sweep needs a \"{name}\" number; it has {unit}"))
            })
        };
        let (setting, fold) = (index("setting")?, index("fold")?);
        let search = Search::of(ctx)?;
        ctx.check_cancelled()?;
        Ok(UnitResult::data(match search.measure(setting, fold, ctx) {
            Ok(value) => json!({"metric": value}),
            Err(NodeError::Cancelled) => return Err(NodeError::Cancelled),
            Err(e) => json!({"error": e.to_string()}),
        }))
    }

    /// Each setting's mean over its folds (summed in fold order), ranked; the best trained on all the data.
    fn combine(&self, ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError> {
        let search = Search::of(ctx)?;
        let folds = search.folds();
        if results.len() != search.candidates.len() * folds {
            return Err(NodeError::data(format!(
                "the sweep has {} settings × {folds} folds but {} results came back",
                search.candidates.len(),
                results.len()
            )));
        }
        let measured: Vec<Result<f64, NodeError>> = results
            .chunks(folds)
            .map(|setting| {
                let mut total = 0.0;
                for fold in setting {
                    match (fold.data["metric"].as_f64(), fold.data["error"].as_str()) {
                        (Some(value), _) => total += value,
                        (None, Some(error)) => return Err(NodeError::data(error)),
                        (None, None) => return Err(NodeError::data("the metric is undefined")),
                    }
                }
                Ok(total / folds as f64)
            })
            .collect();
        ctx.check_cancelled()?;
        let scored = rank(search.candidates.clone(), measured, &search.metric)?;
        let best = search.candidate(&scored[0].0);
        let model = train(&best, &search.data, Some(&search.label), ctx)?;
        let sweep = sweep_table(&search.tunable, &scored, &search.metric)?;
        Ok(vec![Value::Model(Arc::new(model)), Value::Table(Arc::new(sweep))])
    }
}

impl NodeKind for TuneModelHyperparameters {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Tune Model Hyperparameters",
            Category::Train,
            "Trains the learner with many settings of its tunable parameters (the entire grid, or a random sweep over their ranges), measures each on a validation table or by cross-validation, ranks them by the chosen metric, and outputs the best model trained on all the data with the table of every setting tried. Every setting × fold is evaluated in parallel, on this machine's cores or, exported with fan-out, as the tasks of a cluster job.",
        )
        .uses_device()
        .input("learner", PortType::Learner, "An untrained classification or regression model")
        .input("data", PortType::Table, "Training data")
        .optional_input("validation", PortType::Table, "Data to measure each candidate on. Not connected: cross-validation on the training data.")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The column to predict. Empty: the column marked as label.")
        .param("mode", "Sweep", choice(&["entire_grid", "random_sweep"]), json!("random_sweep"), "entire_grid: every combination of grid values; random_sweep: settings drawn at random from the ranges.")
        .param("grid_points", "Grid points per parameter", int(2, 20), json!(3), "Entire grid: values per numeric parameter (evenly spread, on a log scale where the range says so).")
        .param("runs", "Random sweep runs", int(1, 1000), json!(10), "Random sweep: how many settings to try.")
        .param("folds", "Cross-validation folds", int(2, 20), json!(3), "When no validation table is connected.")
        .param("metric", "Metric", ParamKind::Choice { choices: rankable_choices() }, json!("auto"), "What ranks the settings. auto: accuracy for classification, R² for regression.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Seed of the random sweep and the folds. Empty: derived from the workflow seed.")
        .output("model", PortType::Model, "The best setting, trained on all the training data")
        .output("sweep", PortType::Table, "Every setting tried with its metric, best first")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        pipewright_engine::fan_out::run_here(self, ctx)
    }

    fn fan_out(&self) -> Option<&dyn FanOut> {
        Some(self)
    }
}

/// A setting tried: its parameter values, its metric (NaN when it could not be measured) and the error if any.
type Tried = (BTreeMap<String, Json>, f64, String);

/// Candidates with their metric (or error), best first and unmeasured ones last; ties keep the order tried,
/// so the result does not depend on thread timing. A setting that cannot be trained (k above the rows of a
/// fold, say) is listed with its error rather than stopping the sweep; only a sweep where nothing could be
/// measured fails.
fn rank(
    candidates: Vec<BTreeMap<String, Json>>,
    results: Vec<Result<f64, NodeError>>,
    metric: &str,
) -> Result<Vec<Tried>, NodeError> {
    let mut scored: Vec<Tried> = Vec::with_capacity(candidates.len());
    let mut first_error = None;
    for (candidate, result) in candidates.into_iter().zip(results) {
        match result {
            Ok(value) => scored.push((candidate, value, String::new())),
            Err(e) => {
                let message = e.to_string();
                first_error.get_or_insert_with(|| message.clone());
                scored.push((candidate, f64::NAN, message));
            }
        }
    }
    let lower_better = MetricInfo::of(metric).is_some_and(|m| m.better == Better::Lower);
    scored.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
        (false, false) if lower_better => a.1.total_cmp(&b.1),
        (false, false) => b.1.total_cmp(&a.1),
        (x, y) => x.cmp(&y),
    });
    if scored.first().is_none_or(|s| s.1.is_nan()) {
        return Err(NodeError::data(format!(
            "no setting could be measured; the first error: {}",
            first_error.unwrap_or_else(|| "every metric was undefined".into())
        )));
    }
    Ok(scored)
}

fn sweep_table(tunable: &[(&'static str, TuneRange)], scored: &[Tried], metric: &str) -> Result<Table, NodeError> {
    let n = scored.len();
    let mut columns = vec![Column::new("rank".into(), (1..=n as u32).collect::<Vec<_>>())];
    for (name, range) in tunable {
        let values = scored.iter().map(|(c, _, _)| c.get(*name).cloned().unwrap_or(Json::Null));
        let column = match range {
            TuneRange::Int { .. } => Column::new((*name).into(), values.map(|v| v.as_i64()).collect::<Vec<_>>()),
            TuneRange::Float { .. } => Column::new((*name).into(), values.map(|v| v.as_f64()).collect::<Vec<_>>()),
            TuneRange::Choice { .. } => Column::new(
                (*name).into(),
                values.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>(),
            ),
        };
        columns.push(column);
    }
    columns.push(Column::new(
        metric.into(),
        scored.iter().map(|(_, m, _)| (!m.is_nan()).then_some(*m)).collect::<Vec<_>>(),
    ));
    columns.push(Column::new("error".into(), scored.iter().map(|(_, _, e)| e.as_str()).collect::<Vec<_>>()));
    Ok(Table::new(DataFrame::new(n, columns)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_spread_evenly_and_on_a_log_scale() {
        assert_eq!(grid_values(&TuneRange::Int { min: 2, max: 10 }, 3), vec![json!(2), json!(6), json!(10)]);
        assert_eq!(grid_values(&TuneRange::Int { min: 1, max: 2 }, 5), vec![json!(1), json!(2)], "duplicates removed");
        let log = grid_values(&TuneRange::Float { min: 0.01, max: 100.0, log: true }, 3);
        assert!((log[1].as_f64().expect("number") - 1.0).abs() < 1e-12, "{log:?}");
        let combos = cartesian(&[("a", vec![json!(1), json!(2)]), ("b", vec![json!("x"), json!("y"), json!("z")])]);
        assert_eq!(combos.len(), 6);
        assert_eq!(combos[1]["b"], json!("y"));
        assert_eq!(combos[3]["a"], json!(2));
    }
}
