//! Neural Network Regression: a multilayer perceptron with a linear output trained on half squared error.


use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::neural_network::{fit_mlp, mlp_params, mlp_settings};
use super::{Labels, Learn, Prediction, TrainingSet};
use crate::algo::mlp::{Mlp, MlpTarget};
use crate::frame::Matrix;

/// A multilayer perceptron regressor (scikit-learn's `MLPRegressor` with the Adam solver).
pub struct NeuralNetworkRegression;

impl NeuralNetworkRegression {
    /// The kind id.
    pub const ID: &'static str = "model.neural_network_regression";
}

impl NodeKind for NeuralNetworkRegression {
    fn spec(&self) -> NodeSpec {
        mlp_params(NodeSpec::new(
            NeuralNetworkRegression::ID,
            "Neural Network Regression",
            Category::Model,
            "Predicts a number with a multilayer perceptron: fully connected hidden layers and a linear output, trained by Adam on mini-batches to minimize squared error. Normalize the features first; the label is used as is, so a label in the hundreds needs a larger learning rate or more epochs.",
        ))
        .output("learner", PortType::Learner, "Untrained neural network regressor")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        mlp_settings(ctx.params)?;
        Ok(super::learner_output(ctx, &[Task::Regression]))
    }
}

impl Learn for NeuralNetworkRegression {
    type State = Mlp;

    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("neural network regression needs a numeric label"));
        };
        fit_mlp(params, &data.x, MlpTarget::Values(y), ctx)
    }

    fn predict(&self, state: &Self::State, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        self.predict_on(state, model, x, &|_| Ok(pipewright_compute::Backend::Cpu))
    }

    fn predict_on(&self, network: &Mlp, _model: &Model, x: &Matrix, device: &super::DeviceChoice<'_>) -> Result<Prediction, NodeError> {
        let backend = device(x.rows * network.widest())?;
        Ok(Prediction::Values(network.outputs(x, &backend).map_err(crate::device::kernel_error)?))
    }
}
