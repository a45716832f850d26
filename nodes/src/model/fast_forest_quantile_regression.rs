//! Fast Forest Quantile Regression: a regression forest that predicts quantiles of the label.

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::decision_forest::forest_settings;
use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::quantile_forest::{self, QuantileForest};
use crate::frame::Matrix;

/// A quantile regression forest (Meinshausen): the trees of a random forest, whose leaves keep their
/// training labels; a row's quantiles are those of the labels of the leaves it falls into, weighted.
///
/// Score Model writes one column per model, so `Scored Labels` is the median (the 0.5 quantile). The
/// requested quantiles are stored with the model and computed by [`FastForestQuantileRegression::quantiles`].
pub struct FastForestQuantileRegression;

impl FastForestQuantileRegression {
    /// The kind id.
    pub const ID: &'static str = "model.fast_forest_quantile_regression";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    forest: QuantileForest,
    /// The quantiles asked for, in the order given.
    quantiles: Vec<f64>,
}

/// "0.25, 0.5,0.75" → [0.25, 0.5, 0.75].
fn quantile_list(text: &str) -> Result<Vec<f64>, NodeError> {
    let bad = |why: String| NodeError::param("quantiles", why);
    let list = text
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<f64>() {
            Ok(q) if (0.0..=1.0).contains(&q) => Ok(q),
            _ => Err(bad(format!("\"{s}\" is not a quantile: give numbers from 0 to 1, such as \"0.25,0.5,0.75\""))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(bad("give at least one quantile, such as \"0.5\"".into()));
    }
    Ok(list)
}

impl FastForestQuantileRegression {
    /// The model's requested quantiles and, for every row of `x`, one predicted value per quantile.
    pub fn quantiles(model: &Model, x: &Matrix) -> Result<(Vec<f64>, Matrix), NodeError> {
        let state = super::fitted::<State>(model)?;
        let mut out = Matrix::zeros(x.rows, state.quantiles.len());
        for i in 0..x.rows {
            out.row_mut(i).copy_from_slice(&state.forest.quantiles_row(x.row(i), &state.quantiles));
        }
        Ok((state.quantiles.clone(), out))
    }
}

impl NodeKind for FastForestQuantileRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            FastForestQuantileRegression::ID,
            "Fast Forest Quantile Regression",
            Category::Model,
            "Predicts the distribution of a number rather than only its mean: a random forest whose leaves remember their training labels gives any quantile of the label for a row (a quantile regression forest). Scored Labels is the median.",
        )
        .param(
            "quantiles",
            "Quantiles to estimate",
            ParamKind::Text,
            json!("0.25,0.5,0.75"),
            "Quantiles from 0 to 1, separated by commas, stored with the model. Score Model writes the median as Scored Labels.",
        )
        .param("trees", "Number of trees", int(1, 10_000), json!(100), "More trees give steadier quantiles and take longer.")
        .param("max_depth", "Maximum depth", int(1, 64), json!(32), "Deepest level a tree may grow to.")
        .param(
            "min_samples_leaf",
            "Minimum samples per leaf",
            int(1, 1_000_000),
            json!(5),
            "Fewest training rows a leaf may hold; larger leaves give smoother quantiles.",
        )
        .param(
            "features_per_split",
            "Features per split",
            choice(&["sqrt", "log2", "third", "all"]),
            json!("all"),
            "How many randomly chosen features each split considers.",
        )
        .param(
            "bootstrap",
            "Bootstrap samples",
            ParamKind::Bool,
            json!(true),
            "Grow each tree on rows drawn with replacement (the leaves then hold every training row).",
        )
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .tunable("trees", TuneRange::Int { min: 10, max: 500 })
        .tunable("max_depth", TuneRange::Int { min: 2, max: 32 })
        .tunable("min_samples_leaf", TuneRange::Int { min: 1, max: 50 })
        .tunable(
            "features_per_split",
            TuneRange::Choice { values: vec![json!("sqrt"), json!("log2"), json!("third"), json!("all")] },
        )
        .output("learner", PortType::Learner, "Untrained quantile regression forest")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        quantile_list(ctx.params.text("quantiles")?)?;
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for FastForestQuantileRegression {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("a quantile regression forest needs a numeric label"));
        };
        let quantiles = quantile_list(params.text("quantiles")?)?;
        let settings = forest_settings(params)?;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let forest = quantile_forest::fit(&data.x, y, settings, &|_| {
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ctx.report_progress(finished as f32 / settings.trees as f32, "growing trees");
            !ctx.cancel.is_cancelled()
        })
        .ok_or(NodeError::Cancelled)?;
        Ok(State { forest, quantiles })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Values((0..x.rows).map(|i| state.forest.quantiles_row(x.row(i), &[0.5])[0]).collect()))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        if self.forest.trees.is_empty() || self.quantiles.is_empty() {
            return Err("it has no trees or no quantiles".into());
        }
        super::expect_len("the leaf lists", self.forest.leaves.len(), self.forest.trees.len())?;
        super::decision_forest::check_trees(&self.forest.trees, model.features.len(), 1)?;
        let labels = self.forest.labels.len();
        if self.forest.leaves.iter().flatten().any(|&row| row as usize >= labels) {
            return Err(format!("a leaf points past the {labels} training labels"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_text_is_parsed_and_checked() {
        assert_eq!(quantile_list("0.25, 0.5,0.75").ok(), Some(vec![0.25, 0.5, 0.75]));
        assert_eq!(quantile_list("0.1;0.9").ok(), Some(vec![0.1, 0.9]));
        assert!(quantile_list("").is_err());
        assert!(quantile_list("1.5").is_err());
        assert!(quantile_list("median").is_err());
    }
}
