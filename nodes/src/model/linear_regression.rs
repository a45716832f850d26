//! Linear Regression: ordinary least squares, or ridge with an L2 weight.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use pipewright_engine::spec::{TuneRange, float};
use pipewright_engine::{
    Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Task, Value,
};

use super::{Algorithm, Labels, Prediction, TrainingSet, decode_state, encode_state, learner_output};
use crate::algo::linalg::solve_spd;
use crate::frame::Matrix;

pub(super) const ID: &str = "model.linear_regression";

/// Least-squares linear regression.
pub struct LinearRegression;

#[derive(Debug, Serialize, Deserialize)]
struct State {
    coefficients: Vec<f64>,
    intercept: f64,
    /// Whether the normal equations were singular and a tiny ridge was added.
    regularized: bool,
}

impl NodeKind for LinearRegression {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            ID,
            "Linear Regression",
            Category::Model,
            "Predicts a number as a weighted sum of the features, solved exactly by least squares; an L2 weight above 0 makes it ridge regression.",
        )
        .param("l2_weight", "L2 regularization weight", float(0.0, 1e9), json!(0.0), "0 gives ordinary least squares; above 0, ridge regression with this penalty (alpha in scikit-learn).")
        .param("fit_intercept", "Fit intercept", ParamKind::Bool, json!(true), "Learn a bias term (it is never penalized).")
        .tunable("l2_weight", TuneRange::Float { min: 0.0, max: 1000.0, log: false })
        .output("learner", PortType::Learner, "Untrained linear regression")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::Regression]))
    }
}

impl Algorithm for LinearRegression {
    fn fit(&self, params: &Params, data: &TrainingSet, ctx: &NodeContext<'_>) -> Result<Json, NodeError> {
        let Labels::Values(y) = &data.labels else {
            return Err(NodeError::data("linear regression needs a numeric label"));
        };
        let (x, p) = (&data.x, data.x.cols);
        let n = x.rows as f64;
        let fit_intercept = params.bool("fit_intercept")?;
        let (x_mean, y_mean) = if fit_intercept {
            let mut means = vec![0.0; p];
            for i in 0..x.rows {
                means.iter_mut().zip(x.row(i)).for_each(|(m, v)| *m += v);
            }
            for m in &mut means {
                *m /= n;
            }
            (means, y.iter().sum::<f64>() / n)
        } else {
            (vec![0.0; p], 0.0)
        };
        // Gram matrix of the centred features and their products with the centred label, by row chunks.
        let (mut gram, xty) = (0..x.rows)
            .into_par_iter()
            .fold(
                || (vec![0.0; p * p], vec![0.0; p], vec![0.0; p]),
                |(mut g, mut b, mut row), i| {
                    row.iter_mut().zip(x.row(i)).zip(&x_mean).for_each(|((r, v), m)| *r = v - m);
                    let yi = y[i] - y_mean;
                    for a in 0..p {
                        b[a] += row[a] * yi;
                        for c in 0..=a {
                            g[a * p + c] += row[a] * row[c];
                        }
                    }
                    (g, b, row)
                },
            )
            .map(|(g, b, _)| (g, b))
            .reduce(
                || (vec![0.0; p * p], vec![0.0; p]),
                |(mut g1, mut b1), (g2, b2)| {
                    g1.iter_mut().zip(&g2).for_each(|(a, b)| *a += b);
                    b1.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
                    (g1, b1)
                },
            );
        ctx.check_cancelled()?;
        let l2 = params.float("l2_weight")?;
        for a in 0..p {
            for c in 0..a {
                gram[c * p + a] = gram[a * p + c];
            }
            gram[a * p + a] += l2;
        }
        let (coefficients, regularized) = solve_spd(&gram, &xty, p);
        let intercept = y_mean - coefficients.iter().zip(&x_mean).map(|(w, m)| w * m).sum::<f64>();
        encode_state(&State { coefficients, intercept, regularized })
    }

    fn predict(&self, model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        let state: State = decode_state(model)?;
        Ok(Prediction::Values(
            (0..x.rows)
                .map(|i| x.row(i).iter().zip(&state.coefficients).map(|(a, b)| a * b).sum::<f64>() + state.intercept)
                .collect(),
        ))
    }
}
