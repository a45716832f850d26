//! Permutation Feature Importance.

use std::sync::Arc;

use polars::prelude::{DataFrame, IdxCa, IdxSize, NamedFrom};
use serde_json::{Value as Json, json};

use pipewright_engine::rng::{SplitMix64, keyed_u64};
use pipewright_engine::metric::rankable_choices;
use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, FanOut, MetricInfo, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Task, Unit,
    UnitResult, Value,
};

use super::{EvaluateOptions, evaluate_scored};
use crate::train::score;

/// How much a trained model's score drops when one feature's values are shuffled.
pub struct PermutationFeatureImportance;

impl PermutationFeatureImportance {
    /// The kind id.
    pub const ID: &'static str = "evaluate.permutation_feature_importance";
}

/// The metric of `model` on `table`.
fn measure(model: &pipewright_engine::Model, table: &Table, metric: &str) -> Result<f64, NodeError> {
    let options = EvaluateOptions { positive_class: None, silhouette_sample: 2000, seed: 0 };
    let evaluation = evaluate_scored(&score(model, table)?, "data", &options)?;
    evaluation.metric(metric).ok_or_else(|| {
        let known: Vec<&str> = evaluation.metrics.iter().map(|m| m.name.as_str()).collect();
        NodeError::param("metric", format!("no metric \"{metric}\" for this model; it has: {}", known.join(", ")))
    })
}

/// `table` with `column` shuffled.
fn shuffled(table: &Table, column: &str, rng: &mut SplitMix64) -> Result<Table, NodeError> {
    let mut order: Vec<IdxSize> = (0..table.height() as IdxSize).collect();
    rng.shuffle(&mut order);
    let values = table.frame.column(column)?.take(&IdxCa::new("order".into(), order))?;
    let mut frame: DataFrame = table.frame.clone();
    frame.with_column(values)?;
    Ok(table.with_frame(frame))
}

impl NodeKind for PermutationFeatureImportance {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Permutation Feature Importance",
            Category::Evaluate,
            "Scores a trained model on labelled data, then again with one feature's values shuffled, for every feature: the drop in the metric is that feature's importance (mean and standard deviation over the repeats). Works with any classification or regression model.",
        )
        .input("model", PortType::Model, "A trained classification or regression model")
        .input("data", PortType::Table, "Labelled data to measure on (usually the test set)")
        .param("metric", "Metric", ParamKind::Choice { choices: rankable_choices() }, json!("auto"), "What the importance is measured in. auto: accuracy for classification, R² for regression.")
        .param("repeats", "Repeats", int(1, 100), json!(5), "Shuffles per feature; the importance is their mean.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Seed of the shuffles. Empty: derived from the workflow seed.")
        .output("importance", PortType::Table, "One row per feature: importance mean and standard deviation, most important first")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        pipewright_engine::fan_out::run_here(self, ctx)
    }

    fn fan_out(&self) -> Option<&dyn FanOut> {
        Some(self)
    }
}

/// A permutation importance read from the block's inputs and parameters: the same in every unit.
struct Importance {
    model: Arc<pipewright_engine::Model>,
    table: Arc<Table>,
    metric: String,
    info: &'static MetricInfo,
    repeats: usize,
    seed: u64,
}

impl Importance {
    fn of(ctx: &NodeContext<'_>) -> Result<Self, NodeError> {
        let model = ctx.model("model")?;
        let table = ctx.table("data")?;
        if model.task == Task::Clustering {
            return Err(NodeError::Input {
                port: "model".into(),
                message: "permutation importance needs a classification or regression model and labelled data".into(),
            });
        }
        if table.height() < 2 {
            return Err(NodeError::Input {
                port: "data".into(),
                message: "at least two rows are needed to shuffle".into(),
            });
        }
        let metric = match ctx.params.text("metric")? {
            "auto" if model.task == Task::Regression => "r2",
            "auto" => "accuracy",
            other => other,
        }
        .to_owned();
        let info = MetricInfo::of(&metric).ok_or_else(|| NodeError::param("metric", format!("unknown metric \"{metric}\"")))?;
        Ok(Self { model, table, metric, info, repeats: ctx.params.count("repeats")?, seed: ctx.params.seed("seed")? })
    }
}

impl FanOut for PermutationFeatureImportance {
    /// The baseline (unit 0), then one unit per feature: `{"feature": i}`.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError> {
        let importance = Importance::of(ctx)?;
        let mut units = vec![Unit { label: "the unshuffled score".into(), spec: json!({"baseline": true}) }];
        units.extend(
            importance
                .model
                .features
                .iter()
                .enumerate()
                .map(|(i, name)| Unit { label: format!("feature \"{name}\""), spec: json!({"feature": i}) }),
        );
        Ok(units)
    }

    /// The unshuffled metric, or one feature's metric after each of its shuffles. Each feature's shuffles are
    /// drawn from its own seed (the block's seed and the feature's position), so a feature measured alone
    /// shuffles as it does among the others.
    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError> {
        let importance = Importance::of(ctx)?;
        if unit["baseline"] == json!(true) {
            return Ok(UnitResult::data(json!({"metric": measure(&importance.model, &importance.table, &importance.metric)?})));
        }
        let index = unit["feature"].as_u64().and_then(|i| usize::try_from(i).ok());
        let Some((index, feature)) = index.and_then(|i| importance.model.features.get(i).map(|f| (i, f))) else {
            return Err(NodeError::data(format!("a unit of the importance names no feature of the model: {unit}")));
        };
        let mut rng = SplitMix64::new(keyed_u64(importance.seed, &[index as u64]));
        let metrics = (0..importance.repeats)
            .map(|_| {
                ctx.check_cancelled()?;
                measure(&importance.model, &shuffled(&importance.table, feature, &mut rng)?, &importance.metric)
            })
            .collect::<Result<Vec<f64>, NodeError>>()?;
        Ok(UnitResult::data(json!({"metrics": metrics})))
    }

    /// Each feature's drops from the baseline: their mean and standard deviation, most important first.
    fn combine(&self, ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError> {
        let importance = Importance::of(ctx)?;
        let features = &importance.model.features;
        if results.len() != features.len() + 1 {
            return Err(NodeError::data(format!(
                "{} features and the baseline but {} results came back",
                features.len(),
                results.len()
            )));
        }
        let number = |v: &Json| v.as_f64().ok_or_else(|| NodeError::data(format!("a metric came back as {v}")));
        let baseline = number(&results[0].data["metric"])?;
        let mut rows: Vec<(String, f64, f64)> = Vec::with_capacity(features.len());
        for (feature, result) in features.iter().zip(&results[1..]) {
            let metrics = result.data["metrics"].as_array().map_or(&[][..], Vec::as_slice);
            if metrics.len() != importance.repeats {
                return Err(NodeError::data(format!("feature \"{feature}\": {} of {} repeats came back", metrics.len(), importance.repeats)));
            }
            let drops =
                metrics.iter().map(|m| Ok(importance.info.loss(baseline, number(m)?))).collect::<Result<Vec<f64>, NodeError>>()?;
            let mean = drops.iter().sum::<f64>() / importance.repeats as f64;
            // Population standard deviation, as scikit-learn's `importances_std`.
            let std = (drops.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / importance.repeats as f64).sqrt();
            rows.push((feature.clone(), mean, std));
        }
        rows.sort_by(|a, b| match (a.1.is_nan(), b.1.is_nan()) {
            (false, false) => b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)),
            (x, y) => x.cmp(&y),
        });
        let frame = DataFrame::new(
            rows.len(),
            vec![
                polars::prelude::Column::new("feature".into(), rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()),
                polars::prelude::Column::new("importance_mean".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
                polars::prelude::Column::new("importance_std".into(), rows.iter().map(|r| r.2).collect::<Vec<_>>()),
            ],
        )?;
        let mut out = Table::new(frame);
        out.attributes.insert("importance.metric".into(), json!(importance.metric));
        out.attributes.insert("importance.baseline".into(), json!(baseline));
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
