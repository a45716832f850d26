//! Neural Network (two-class and multiclass): a multilayer perceptron trained with Adam. The
//! hyperparameters, shared with Neural Network Regression, are declared and checked here.

use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, choice, float, int};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use pipewright_compute::Backend;

use super::{DeviceChoice, FittedState, Labels, Learn, Prediction, TrainingSet, learner_output};
use crate::algo::mlp::{self, Activation, Mlp, MlpSettings, MlpTarget};
use crate::frame::Matrix;

/// Most hidden layers, and most units in one, that the text parameter accepts.
const MAX_LAYERS: usize = 16;
const MAX_UNITS: usize = 100_000;

/// A multilayer perceptron classifier (scikit-learn's `MLPClassifier` with the Adam solver).
pub struct NeuralNetwork;

impl NeuralNetwork {
    /// The kind id.
    pub const ID: &'static str = "model.neural_network";
}

/// The hyperparameters of both neural network blocks.
pub(super) fn mlp_params(spec: NodeSpec) -> NodeSpec {
    spec.param(
        "hidden_layers",
        "Hidden layer sizes",
        ParamKind::Text,
        json!("100"),
        "Units of each hidden layer, input side first, separated by commas: \"100\" is one layer of 100, \"64,32\" two layers.",
    )
    .param(
        "activation",
        "Activation",
        choice(&["relu", "tanh", "logistic"]),
        json!("relu"),
        "Non-linearity of the hidden units: relu max(0, z), tanh, or logistic 1/(1+e^−z).",
    )
    .param(
        "learning_rate",
        "Learning rate",
        float(1e-7, 10.0),
        json!(0.001),
        "Adam's step size. Too large diverges; too small needs many epochs.",
    )
    .param("beta1", "Adam beta1", float(0.0, 0.999_999), json!(0.9), "Decay of Adam's running mean of gradients.")
    .param(
        "beta2",
        "Adam beta2",
        float(0.0, 0.999_999_999),
        json!(0.999),
        "Decay of Adam's running mean of squared gradients.",
    )
    .param("epsilon", "Adam epsilon", float(1e-300, 1.0), json!(1e-8), "Keeps Adam's step finite where gradients vanish.")
    .param(
        "l2_weight",
        "L2 regularization (alpha)",
        float(0.0, 1e6),
        json!(0.0001),
        "Penalty on squared weights (alpha in scikit-learn); larger values give smoother, less overfitted networks.",
    )
    .param(
        "batch_size",
        "Batch size",
        int(0, 1_000_000),
        json!(0),
        "Rows per Adam step. 0: min(200, rows), as scikit-learn's \"auto\".",
    )
    .param("max_epochs", "Maximum epochs", int(1, 100_000), json!(200), "Most passes over the training rows.")
    .param(
        "tolerance",
        "Tolerance",
        float(0.0, 1.0),
        json!(0.0001),
        "An epoch counts as an improvement when the training loss falls by at least this much.",
    )
    .param(
        "epochs_without_improvement",
        "Epochs without improvement",
        int(1, 100_000),
        json!(10),
        "Stop once more than this many epochs in a row fail to improve the training loss.",
    )
    .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Initial weights and row shuffles. Empty: derived from the workflow seed.")
    .tunable("hidden_layers", TuneRange::Choice { values: vec![json!("32"), json!("100"), json!("64,32")] })
    .tunable("activation", TuneRange::Choice { values: vec![json!("relu"), json!("tanh"), json!("logistic")] })
    .tunable("learning_rate", TuneRange::Float { min: 1e-4, max: 0.1, log: true })
    .tunable("l2_weight", TuneRange::Float { min: 1e-6, max: 10.0, log: true })
    .tunable("batch_size", TuneRange::Choice { values: vec![json!(0), json!(16), json!(64)] })
}

/// "64, 32" → [64, 32].
fn hidden_layers(text: &str) -> Result<Vec<usize>, NodeError> {
    let bad = |why: String| NodeError::param("hidden_layers", why);
    let sizes = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(n) if (1..=MAX_UNITS).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "\"{s}\" is not a layer size: give whole numbers from 1 to {MAX_UNITS}, such as \"64,32\""
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sizes.is_empty() {
        return Err(bad("give at least one hidden layer size, such as \"100\"".into()));
    }
    if sizes.len() > MAX_LAYERS {
        return Err(bad(format!("{} layers: at most {MAX_LAYERS} are allowed", sizes.len())));
    }
    Ok(sizes)
}

/// The checked hyperparameters of either neural network block.
pub(super) fn mlp_settings(params: &Params) -> Result<MlpSettings, NodeError> {
    let batch_size = params.count("batch_size")?;
    Ok(MlpSettings {
        hidden: hidden_layers(params.text("hidden_layers")?)?,
        activation: match params.text("activation")? {
            "tanh" => Activation::Tanh,
            "logistic" => Activation::Logistic,
            _ => Activation::Relu,
        },
        learning_rate: params.float("learning_rate")?,
        beta1: params.float("beta1")?,
        beta2: params.float("beta2")?,
        epsilon: params.float("epsilon")?,
        alpha: params.float("l2_weight")?,
        batch_size: (batch_size > 0).then_some(batch_size),
        max_epochs: params.count("max_epochs")?,
        tolerance: params.float("tolerance")?,
        epochs_without_improvement: params.count("epochs_without_improvement")?,
        seed: params.seed("seed")?,
    })
}

/// Trains a network on `target`, reporting progress per epoch.
pub(super) fn fit_mlp(
    params: &Params,
    x: &Matrix,
    target: MlpTarget<'_>,
    ctx: &NodeContext<'_>,
) -> Result<Mlp, NodeError> {
    let settings = mlp_settings(params)?;
    // A mini-batch times the widest layer: the work of one product.
    let widest = settings.hidden.iter().copied().chain([x.cols]).max().unwrap_or(1);
    let batch = settings.batch_size.unwrap_or(200).min(x.rows);
    let backend = crate::device::backend(ctx, batch * widest)?;
    let fitted = mlp::fit(x, target, &settings, &backend, &|epoch| {
        ctx.report_progress(epoch as f32 / settings.max_epochs as f32, "epochs");
        !ctx.cancel.is_cancelled()
    })
    .map_err(crate::device::kernel_error)?;
    match fitted {
        Some(fitted) if fitted.loss_curve.last().is_some_and(|l| l.is_finite()) => Ok(fitted),
        Some(_) => Err(NodeError::param(
            "learning_rate",
            "the training loss diverged: lower the learning rate or normalize the features",
        )),
        None => Err(NodeError::Cancelled),
    }
}

impl NodeKind for NeuralNetwork {
    fn spec(&self) -> NodeSpec {
        mlp_params(NodeSpec::new(
            NeuralNetwork::ID,
            "Neural Network",
            Category::Model,
            "Classifies (two classes or more) with a multilayer perceptron: fully connected hidden layers trained by Adam on mini-batches, a logistic output for two classes and softmax for more. Normalize the features first.",
        ))
        .output("learner", PortType::Learner, "Untrained neural network classifier")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        mlp_settings(ctx.params)?;
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for NeuralNetwork {
    type State = Mlp;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("a neural network classifier needs a class label"));
        };
        fit_mlp(params, &data.x, MlpTarget::Classes { y, classes: classes.len() }, ctx)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(Backend::Cpu))
    }

    fn predict_on(&self, network: &Mlp, model: &Model, x: &Matrix, device: &DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let backend = device(x.rows * network.widest())?;
        let p = network.probabilities(x, model.classes.len(), &backend).map_err(crate::device::kernel_error)?;
        Ok(Prediction::Probabilities(p))
    }
}

impl FittedState for Mlp {
    fn check(&self, model: &Model) -> Result<(), String> {
        let mut fan_in = model.features.len();
        for (l, layer) in self.layers.iter().enumerate() {
            super::expect_len(&format!("layer {l}'s inputs"), layer.fan_in, fan_in)?;
            super::expect_len(&format!("layer {l}'s weights"), layer.weights.len(), layer.fan_in * layer.fan_out)?;
            super::expect_len(&format!("layer {l}'s biases"), layer.biases.len(), layer.fan_out)?;
            super::expect_finite("the weights", layer.weights.iter().chain(&layer.biases))?;
            fan_in = layer.fan_out;
        }
        let outputs = match self.output {
            crate::algo::mlp::Output::Softmax => model.classes.len(),
            _ => 1,
        };
        if self.layers.is_empty() {
            return Err("it has no layers".into());
        }
        super::expect_len("the output layer", fan_in, outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_layer_text_is_parsed_and_checked() {
        assert_eq!(hidden_layers("100").ok(), Some(vec![100]));
        assert_eq!(hidden_layers(" 64, 32 ").ok(), Some(vec![64, 32]));
        assert!(hidden_layers("").is_err());
        assert!(hidden_layers("0").is_err());
        assert!(hidden_layers("64;32").is_err());
    }
}
