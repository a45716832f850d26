//! Decision Tree: one CART tree for two or more classes.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, choice, int};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{FittedState, Labels, Learn, Prediction, TrainingSet, learner_output, probabilities};
use crate::algo::forest::{self, Criterion, Target, Tree, TreeSettings};
use crate::frame::Matrix;

/// A single classification tree.
pub struct DecisionTree;

impl DecisionTree {
    /// The kind id.
    pub const ID: &'static str = "model.decision_tree";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    tree: Tree,
    classes: usize,
}

fn settings(params: &Params) -> Result<TreeSettings, NodeError> {
    Ok(TreeSettings {
        max_depth: params.count("max_depth")?,
        min_samples_leaf: params.count("min_samples_leaf")?,
        criterion: match params.text("criterion")? {
            "entropy" => Criterion::Entropy,
            _ => Criterion::Gini,
        },
    })
}

impl NodeKind for DecisionTree {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            DecisionTree::ID,
            "Decision Tree",
            Category::Model,
            "Classifies by a sequence of yes/no questions on single features, learned greedily (CART). Easy to read; limit its depth to keep it from memorizing the training rows. On tables of more than 4,096 rows, nodes of more than 256 rows choose their split among 256 quantile bins of each feature.",
        )
        .param(
            "criterion",
            "Split criterion",
            choice(&["gini", "entropy"]),
            json!("gini"),
            "How the purity of a split is measured: Gini impurity or entropy (information gain).",
        )
        .param("max_depth", "Maximum depth", int(1, 64), json!(5), "Deepest level the tree may grow to (the root is level 0).")
        .param(
            "min_samples_leaf",
            "Minimum samples per leaf",
            int(1, 1_000_000),
            json!(1),
            "Fewest training rows a leaf may hold; larger values give smoother, smaller trees.",
        )
        .tunable("criterion", TuneRange::Choice { values: vec![json!("gini"), json!("entropy")] })
        .tunable("max_depth", TuneRange::Int { min: 1, max: 20 })
        .tunable("min_samples_leaf", TuneRange::Int { min: 1, max: 20 })
        .output("learner", PortType::Learner, "Untrained decision tree classifier")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for DecisionTree {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("a decision tree classifier needs a class label"));
        };
        let tree = forest::fit_tree(&data.x, Target::Classes { y, classes: classes.len() }, settings(params)?);
        Ok(State { tree, classes: classes.len() })
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Probabilities(probabilities(x, state.classes, |row, out| {
            out.copy_from_slice(state.tree.predict_row(row));
        })))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        let width = if model.classes.is_empty() { 1 } else { model.classes.len() };
        if !model.classes.is_empty() {
            super::expect_len("the class count", self.classes, model.classes.len())?;
        }
        super::decision_forest::check_trees(std::slice::from_ref(&self.tree), model.features.len(), width)
    }
}
