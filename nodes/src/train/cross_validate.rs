//! Cross Validate Model.

use std::sync::Arc;

use polars::prelude::{Column, DataFrame};
use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, Evaluation, FanOut, Learner, Metric, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType,
    Report, Role, Table, Task, Unit, UnitResult, Value,
};

use super::{score, train};
use crate::evaluate::{EvaluateOptions, evaluate_scored};
use crate::frame::{take_rows, text_values};

/// Name of the fold column of the scored output.
pub const FOLD: &str = "Fold";

/// Trains and scores a learner k times, each fold held out once, and reports per-fold and mean metrics.
pub struct CrossValidateModel;

impl CrossValidateModel {
    /// The kind id.
    pub const ID: &'static str = "train.cross_validate_model";
}

/// Fold of every row: rows shuffled with the seed (per class when stratified: each class in order of first
/// appearance, shuffled and dealt round-robin, continuing where the previous class stopped) and dealt
/// round-robin into `folds` folds, so fold sizes differ by at most one.
pub fn assign_folds(n: usize, folds: usize, seed: u64, strata: Option<&[Option<String>]>) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let groups: Vec<Vec<usize>> = match strata {
        None => vec![(0..n).collect()],
        Some(values) => {
            let mut order: Vec<Option<&str>> = Vec::new();
            let mut groups: std::collections::HashMap<Option<&str>, Vec<usize>> = std::collections::HashMap::new();
            for (i, v) in values.iter().enumerate() {
                let key = v.as_deref();
                groups
                    .entry(key)
                    .or_insert_with(|| {
                        order.push(key);
                        Vec::new()
                    })
                    .push(i);
            }
            order.iter().filter_map(|k| groups.remove(k)).collect()
        }
    };
    let mut fold_of = vec![0; n];
    let mut next = 0;
    for mut group in groups {
        rng.shuffle(&mut group);
        for i in group {
            fold_of[i] = next % folds;
            next += 1;
        }
    }
    fold_of
}

/// Refuses folds that would leave a class out of some fold's training rows (its models could not predict it,
/// and that fold's metrics would silently skip the class): every class needs at least `folds` rows.
pub fn check_class_counts(labels: &[Option<String>], folds: usize) -> Result<(), NodeError> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for label in labels.iter().flatten() {
        *counts.entry(label.as_str()).or_default() += 1;
    }
    match counts.iter().find(|(_, n)| **n < folds) {
        Some((class, n)) => Err(NodeError::param(
            "folds",
            format!(
                "class \"{class}\" has only {n} rows, fewer than the {folds} folds: lower the number of folds or remove that class"
            ),
        )),
        None => Ok(()),
    }
}

/// The mean of each metric over the folds (metrics missing from some fold are left out).
fn mean_evaluation(folds: &[Evaluation]) -> Option<Evaluation> {
    let first = folds.first()?;
    let metrics = first
        .metrics
        .iter()
        .filter_map(|m| {
            let values: Vec<f64> = folds.iter().filter_map(|e| e.metric(&m.name)).collect();
            (values.len() == folds.len())
                .then(|| Metric { name: m.name.clone(), value: values.iter().sum::<f64>() / values.len() as f64 })
        })
        .collect();
    Some(Evaluation { source: "mean".into(), task: first.task, metrics, confusion: None, curves: Vec::new() })
}

/// The standard deviation (n − 1) of each metric over the folds.
fn std_evaluation(folds: &[Evaluation], mean: &Evaluation) -> Evaluation {
    let metrics = mean
        .metrics
        .iter()
        .map(|m| {
            let values: Vec<f64> = folds.iter().filter_map(|e| e.metric(&m.name)).collect();
            let n = values.len() as f64;
            let var = values.iter().map(|v| (v - m.value).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            Metric { name: m.name.clone(), value: var.sqrt() }
        })
        .collect();
    Evaluation { source: "std".into(), task: mean.task, metrics, confusion: None, curves: Vec::new() }
}

impl NodeKind for CrossValidateModel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Cross Validate Model",
            Category::Train,
            "Splits the rows into k folds, trains the learner k times with one fold held out, scores the held-out rows and reports each fold's metrics with their mean and standard deviation. Classification folds are stratified by default so each keeps the label's class proportions.",
        )
        .uses_device()
        .input("learner", PortType::Learner, "An untrained classification or regression model")
        .input("data", PortType::Table, "Labelled data")
        .param("label_column", "Label column", ParamKind::Column { port: "data" }, Json::Null, "The column to predict. Empty: the column marked as label.")
        .param("folds", "Number of folds", int(2, 100), json!(5), "k: each row is held out exactly once.")
        .param("stratified", "Stratified folds", ParamKind::Bool, json!(true), "Classification: keep the label's class proportions in every fold. Ignored for regression.")
        .param("positive_class", "Positive class", ParamKind::Text, json!(""), "Two-class metrics are about this class. Empty: the second class in sorted order.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Seed of the fold assignment. Empty: derived from the workflow seed.")
        .param("fold_column", "Fold column", ParamKind::Column { port: "data" }, Json::Null, "A column that already says each row's fold (for example folds exported from another tool): its distinct values are the folds, in sorted order, and it is not used as a feature. Empty: folds are drawn with the seed.")
        .output("scored", PortType::Table, "Every row scored by the model that did not see it, with its fold number")
        .output("report", PortType::Report, "Metrics of each fold, their mean and standard deviation")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        pipewright_engine::fan_out::run_here(self, ctx)
    }

    fn fan_out(&self) -> Option<&dyn FanOut> {
        Some(self)
    }
}

/// A cross-validation's plan, read from the block's inputs and parameters: the same in every unit.
struct Plan {
    learner: Arc<Learner>,
    table: Arc<Table>,
    label: String,
    folds: usize,
    fold_of: Vec<usize>,
}

impl Plan {
    fn of(ctx: &NodeContext<'_>) -> Result<Self, NodeError> {
        let learner = ctx.learner("learner")?;
        let table = ctx.table("data")?;
        if learner.tasks == [Task::Clustering] {
            return Err(NodeError::Input {
                port: "learner".into(),
                message: format!("{} is a clustering learner: cross-validation needs a label", learner.name),
            });
        }
        let given = match ctx.params.optional_text("fold_column") {
            Some(column) => Some(given_folds(&table, column)?),
            None => None,
        };
        let (table, given) = match given {
            Some((table, fold_of, folds)) => (Arc::new(table), Some((fold_of, folds))),
            None => (table, None),
        };
        let folds = given.as_ref().map_or(ctx.params.count("folds"), |g| Ok(g.1))?;
        let n = table.height();
        if n < folds {
            return Err(NodeError::param(
                "folds",
                format!("{folds} folds need at least {folds} rows; the table has {n}: lower the number of folds"),
            ));
        }
        let label = match ctx.params.optional_text("label_column") {
            Some(l) => l.to_owned(),
            None => table.label().map(str::to_owned).ok_or_else(|| {
                NodeError::param("label_column", "choose the label column (no column is marked as label)")
            })?,
        };
        let classification = !learner.tasks.contains(&Task::Regression);
        let labels =
            text_values(&table.frame, &label).map_err(|_| crate::frame::missing_column(&table.frame, &label))?;
        let fold_of = if let Some((fold_of, _)) = given {
            fold_of
        } else {
            if classification {
                check_class_counts(&labels, folds)?;
            }
            let strata = (classification && ctx.params.bool("stratified")?).then_some(labels);
            assign_folds(n, folds, ctx.params.seed("seed")?, strata.as_deref())
        };
        Ok(Self { learner, table, label, folds, fold_of })
    }

    /// The input rows held out in `fold`.
    fn held_out(&self, fold: usize) -> Vec<usize> {
        (0..self.fold_of.len()).filter(|&i| self.fold_of[i] == fold).collect()
    }
}

impl FanOut for CrossValidateModel {
    /// One unit per fold: `{"fold": f}`.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError> {
        let folds = Plan::of(ctx)?.folds;
        Ok((0..folds).map(|f| Unit { label: format!("fold {} of {folds}", f + 1), spec: json!({"fold": f}) }).collect())
    }

    /// The fold's evaluation (its data) and its held-out rows scored (its value).
    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError> {
        let folds = Plan::of(ctx)?;
        let fold = unit["fold"]
            .as_u64()
            .and_then(|f| usize::try_from(f).ok())
            .filter(|&f| f < folds.folds)
            .ok_or_else(|| NodeError::data(format!("a unit of the cross-validation names no fold of {}: {unit}", folds.folds)))?;
        let held_out = folds.held_out(fold);
        let training: Vec<usize> = (0..folds.fold_of.len()).filter(|&i| folds.fold_of[i] != fold).collect();
        let model = train(&folds.learner, &take_rows(&folds.table, &training)?, Some(&folds.label), ctx)?;
        let scored = score(&model, &take_rows(&folds.table, &held_out)?)?;
        let options = EvaluateOptions {
            positive_class: ctx.params.optional_text("positive_class"),
            silhouette_sample: 2000,
            seed: 0,
        };
        let mut evaluation = evaluate_scored(&scored, &format!("fold {}", fold + 1), &options)?;
        evaluation.curves.retain(|c| c.name == "roc" || c.name == "residuals");
        let data = serde_json::to_value(&evaluation).map_err(|e| NodeError::data(format!("fold {}: {e}", fold + 1)))?;
        Ok(UnitResult { data, values: vec![Value::Table(Arc::new(scored))] })
    }

    /// Every row scored by the model that did not see it, in input order; each fold's metrics, their mean and
    /// standard deviation.
    fn combine(&self, ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError> {
        let folds = Plan::of(ctx)?;
        if results.len() != folds.folds {
            return Err(NodeError::data(format!("{} folds but {} results came back", folds.folds, results.len())));
        }
        let mut evaluations = Vec::with_capacity(folds.folds);
        let mut scored_parts: Vec<(Vec<usize>, Table)> = Vec::with_capacity(folds.folds);
        for (fold, result) in results.into_iter().enumerate() {
            let evaluation: Evaluation = serde_json::from_value(result.data)
                .map_err(|e| NodeError::data(format!("fold {}: its evaluation is not readable: {e}", fold + 1)))?;
            let Some(Value::Table(scored)) = result.values.into_iter().next() else {
                return Err(NodeError::data(format!("fold {}: its scored rows did not come back", fold + 1)));
            };
            evaluations.push(evaluation);
            scored_parts.push((folds.held_out(fold), Arc::unwrap_or_clone(scored)));
        }
        let mean = mean_evaluation(&evaluations).ok_or_else(|| NodeError::data("no fold was evaluated"))?;
        let std = std_evaluation(&evaluations, &mean);
        let mut report = vec![mean, std];
        report.extend(evaluations);
        Ok(vec![
            Value::Table(Arc::new(stack_in_row_order(&scored_parts, &folds.fold_of)?)),
            Value::Report(Arc::new(Report { evaluations: report })),
        ])
    }
}

/// The folds a column gives: its distinct values in sorted order (numerically when they are all numbers) are
/// folds 0, 1, …; returns the table without that column, each row's fold, and the number of folds.
fn given_folds(table: &Table, column: &str) -> Result<(Table, Vec<usize>, usize), NodeError> {
    let values = text_values(&table.frame, column).map_err(|_| crate::frame::missing_column(&table.frame, column))?;
    if let Some(row) = values.iter().position(Option::is_none) {
        return Err(NodeError::param(
            "fold_column",
            format!("row {} has no fold in column \"{column}\": every row needs one", row + 1),
        ));
    }
    let values: Vec<String> = values.into_iter().flatten().collect();
    let mut distinct: Vec<&String> = values.iter().collect();
    distinct.sort_unstable_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(NodeError::param("fold_column", format!("column \"{column}\" names fewer than two folds")));
    }
    let index: std::collections::HashMap<&String, usize> = distinct.iter().enumerate().map(|(i, v)| (*v, i)).collect();
    let fold_of = values.iter().map(|v| index[v]).collect();
    let folds = distinct.len();
    let mut rest = table.clone();
    rest.frame = rest.frame.drop(column)?;
    rest.roles.remove(column);
    Ok((rest, fold_of, folds))
}

/// The scored folds put back in the input's row order, with a fold column (1-based).
fn stack_in_row_order(parts: &[(Vec<usize>, Table)], fold_of: &[usize]) -> Result<Table, NodeError> {
    let Some((_, first)) = parts.first() else { return Err(NodeError::data("no fold was scored")) };
    let mut frame: DataFrame = first.frame.clone();
    let mut rows: Vec<usize> = parts[0].0.clone();
    for (held_out, scored) in &parts[1..] {
        frame.vstack_mut(&scored.frame)?;
        rows.extend_from_slice(held_out);
    }
    // `rows[k]` is the input row of stacked row k; invert it to restore the input order.
    let mut position = vec![0u32; rows.len()];
    for (k, &row) in rows.iter().enumerate() {
        position[row] = k as u32;
    }
    let order = polars::prelude::IdxCa::from_vec("order".into(), position);
    let mut frame = frame.take(&order)?;
    let folds: Vec<u32> = (0..fold_of.len()).map(|i| fold_of[i] as u32 + 1).collect();
    frame.with_column(Column::new(FOLD.into(), folds))?;
    let mut table = first.with_frame(frame);
    table.roles.insert(FOLD.into(), Role::Ignored);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_and_stratified() {
        let labels: Vec<Option<String>> = (0..30).map(|i| Some(if i < 20 { "a" } else { "b" }.to_owned())).collect();
        let folds = assign_folds(30, 5, 7, Some(&labels));
        for f in 0..5 {
            let rows: Vec<usize> = (0..30).filter(|&i| folds[i] == f).collect();
            assert_eq!(rows.len(), 6, "fold {f} size");
            assert_eq!(rows.iter().filter(|&&i| i < 20).count(), 4, "fold {f} keeps the 2:1 class ratio");
        }
        assert_eq!(folds, assign_folds(30, 5, 7, Some(&labels)), "the same seed gives the same folds");
        assert_ne!(folds, assign_folds(30, 5, 8, Some(&labels)));
        let plain = assign_folds(7, 3, 1, None);
        let mut sizes = [0; 3];
        for &f in &plain {
            sizes[f] += 1;
        }
        assert_eq!(sizes.iter().max().expect("sizes") - sizes.iter().min().expect("sizes"), 1);
    }
}
