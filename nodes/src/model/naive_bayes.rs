//! Naive Bayes: Gaussian class-conditional densities, features independent given the class.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{TuneRange, float};
use pipewright_compute::pass::{self, CHUNK_ROWS, ClassMoments, ClassStats, Labelled, Pass, labelled_chunks};
use pipewright_engine::{Category, Model, NodeContext, NodeError, NodeKind, NodeSpec, Params, PortType, Task, Value};

use super::{FittedState, Labels, Learn, Prediction, TrainingBatches, TrainingSet, learner_output, probabilities};
use crate::frame::Matrix;

/// Gaussian naive Bayes.
pub struct NaiveBayes;

impl NaiveBayes {
    /// The kind id.
    pub const ID: &'static str = "model.naive_bayes";
}

/// Per class: log prior, feature means and variances (smoothing included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    log_priors: Vec<f64>,
    means: Vec<Vec<f64>>,
    variances: Vec<Vec<f64>>,
}

impl State {
    /// Class probabilities: the softmax of log prior + Σ log N(x | mean, variance).
    fn probabilities(&self, row: &[f64], out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.log_priors[k]
                + row
                    .iter()
                    .zip(&self.means[k])
                    .zip(&self.variances[k])
                    .map(|((x, m), v)| -0.5 * (std::f64::consts::TAU * v).ln() - 0.5 * (x - m) * (x - m) / v)
                    .sum::<f64>();
        }
        let top = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for o in out.iter_mut() {
            *o = (*o - top).exp();
        }
        let total: f64 = out.iter().sum();
        for o in out.iter_mut() {
            *o /= total;
        }
    }
}

/// Fits class priors, means and variances; every variance gets `var_smoothing` × the largest
/// feature variance added, as scikit-learn's `GaussianNB` does.
fn fit_gaussian(x: &Matrix, y: &[usize], classes: usize, var_smoothing: f64) -> Result<State, NodeError> {
    // One pass: per class and over all rows, each feature's mean and squared deviations.
    let sums = pass::run(&ClassMoments { features: x.cols, classes }, &labelled_chunks(x.view(), y, CHUNK_ROWS));
    from_moments(&sums, x.rows, var_smoothing)
}

/// Priors, means and smoothed variances from the class statistics of `n` rows.
fn from_moments(sums: &ClassStats, n: usize, var_smoothing: f64) -> Result<State, NodeError> {
    let counts: Vec<f64> = sums.by_class.iter().map(|(rows, _)| *rows as f64).collect();
    // A class without rows here (a fold may lack one) has no statistics: 0, as its prior is.
    let known = |v: f64| if v.is_nan() { 0.0 } else { v };
    let means: Vec<Vec<f64>> =
        sums.by_class.iter().map(|(_, s)| s.iter().map(|c| known(c.mean)).collect()).collect();
    let mut variances: Vec<Vec<f64>> =
        sums.by_class.iter().map(|(_, s)| s.iter().map(|c| known(c.variance)).collect()).collect();
    // The largest variance of any feature over all rows sets the smoothing's scale.
    let largest = sums.all.iter().map(|c| c.variance).fold(0.0, f64::max);
    let epsilon = var_smoothing * largest;
    for var in &mut variances {
        for v in var.iter_mut() {
            *v += epsilon;
        }
        if let Some(j) = var.iter().position(|v| *v <= 0.0) {
            return Err(NodeError::param(
                "var_smoothing",
                format!(
                    "feature {} is constant within a class and the variance smoothing is 0: raise the variance smoothing above 0",
                    j + 1
                ),
            ));
        }
    }
    let log_priors = counts.iter().map(|c| (c / n as f64).ln()).collect();
    Ok(State { log_priors, means, variances })
}

impl NodeKind for NaiveBayes {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            NaiveBayes::ID,
            "Naive Bayes",
            Category::Model,
            "Classifies with Bayes' rule, modelling each numeric feature as a normal distribution per class and the features as independent. Very fast, needs few rows, and gives a useful baseline.",
        )
        .param(
            "var_smoothing",
            "Variance smoothing",
            float(0.0, 1.0),
            json!(1e-9),
            "Fraction of the largest feature variance added to every variance, for stability (var_smoothing in scikit-learn).",
        )
        .tunable("var_smoothing", TuneRange::Float { min: 1e-12, max: 1e-2, log: true })
        .output("learner", PortType::Learner, "Untrained Gaussian naive Bayes")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        Ok(learner_output(ctx, &[Task::BinaryClassification, Task::MulticlassClassification]))
    }
}

impl Learn for NaiveBayes {
    type State = State;

    fn fit(&self, params: &Params, data: &TrainingSet, _ctx: &NodeContext<'_>) -> Result<Self::State, NodeError> {
        let Labels::Classes { y, classes } = &data.labels else {
            return Err(NodeError::data("naive Bayes needs a class label"));
        };
        fit_gaussian(&data.x, y, classes.len(), params.float("var_smoothing")?)
    }

    const STREAMS: bool = true;

    /// One pass: each batch's class moments, merged in row order.
    const DATA_PARALLEL: bool = true;

    fn fit_batches(
        &self,
        params: &Params,
        batches: &TrainingBatches<'_>,
        ctx: &NodeContext<'_>,
    ) -> Result<Self::State, NodeError> {
        let Some(classes) = batches.classes else {
            return Err(NodeError::data("naive Bayes needs a class label"));
        };
        let moments = ClassMoments { features: batches.features.len(), classes: classes.names.len() };
        let mut total = moments.empty();
        batches.each_labelled(ctx, |x, y, _| {
            let part = moments.map(&Labelled { x: x.view(), classes: y });
            total = moments.reduce(std::mem::replace(&mut total, moments.empty()), part);
            Ok(())
        })?;
        let total = batches.across_shards(total, |a, b| moments.reduce(a, b))?;
        from_moments(&moments.finish(total), classes.rows, params.float("var_smoothing")?)
    }

    fn predict(&self, state: &State, _model: &Model, x: &Matrix) -> Result<Prediction, NodeError> {
        Ok(Prediction::Probabilities(probabilities(x, state.log_priors.len(), |row, out| {
            state.probabilities(row, out);
        })))
    }
}

impl FittedState for State {
    fn check(&self, model: &Model) -> Result<(), String> {
        let (classes, features) = (model.classes.len(), model.features.len());
        super::expect_len("the class priors", self.log_priors.len(), classes)?;
        super::expect_len("the class means", self.means.len(), classes)?;
        super::expect_len("the class variances", self.variances.len(), classes)?;
        for (means, variances) in self.means.iter().zip(&self.variances) {
            super::expect_len("a class's means", means.len(), features)?;
            super::expect_len("a class's variances", variances.len(), features)?;
            if variances.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err("a variance is not a positive number".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priors_means_and_variances_are_the_class_statistics() {
        // Class 0: x = 0, 2 (mean 1, variance 1); class 1: x = 4, 6, 8 (mean 6, variance 8/3).
        let x = Matrix { rows: 5, cols: 1, data: vec![0.0, 2.0, 4.0, 6.0, 8.0] };
        let state = fit_gaussian(&x, &[0, 0, 1, 1, 1], 2, 0.0).expect("fits");
        assert_eq!(state.means, vec![vec![1.0], vec![6.0]]);
        assert_eq!(state.variances[0], vec![1.0]);
        assert!((state.variances[1][0] - 8.0 / 3.0).abs() < 1e-15);
        assert!((state.log_priors[1] - 0.6f64.ln()).abs() < 1e-15);
        // At x = 3: 0.4·N(3 | 1, 1) against 0.6·N(3 | 6, 8/3).
        let n = |x: f64, m: f64, v: f64| (-(x - m) * (x - m) / (2.0 * v)).exp() / (std::f64::consts::TAU * v).sqrt();
        let (a, b) = (0.4 * n(3.0, 1.0, 1.0), 0.6 * n(3.0, 6.0, 8.0 / 3.0));
        let mut out = [0.0; 2];
        state.probabilities(&[3.0], &mut out);
        assert!((out[0] - a / (a + b)).abs() < 1e-12, "{out:?}");
    }

    #[test]
    fn smoothing_scales_with_the_largest_feature_variance() {
        // Feature 2 has variance 100 over all rows; 0.01 of it is added to every variance.
        let x = Matrix { rows: 2, cols: 2, data: vec![1.0, -10.0, 1.0, 10.0] };
        let state = fit_gaussian(&x, &[0, 1], 2, 0.01).expect("fits");
        assert_eq!(state.variances, vec![vec![1.0, 1.0], vec![1.0, 1.0]]);
        let refused = fit_gaussian(&x, &[0, 1], 2, 0.0).expect_err("zero variances");
        assert!(refused.to_string().contains("raise the variance smoothing"), "{refused}");
    }
}
