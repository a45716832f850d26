//! Principal Component Analysis.

use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role, Table, Value,
};

use super::{Replay, TransformState, chosen_columns};
use crate::algo::linalg;
use crate::frame::{f64_column, numeric_feature_columns, numeric_values};

/// Most columns analysed at once: the covariance matrix and its eigen-decomposition grow with columns² and
/// columns³.
const MAX_COLUMNS: usize = 1000;

/// Projects numeric columns onto their principal components.
pub struct PrincipalComponentAnalysis;

impl PrincipalComponentAnalysis {
    /// The kind id.
    pub const ID: &'static str = "transform.principal_component_analysis";
}

/// What is fitted: the columns, their means (and scales), the components and their variances.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Fitted {
    columns: Vec<String>,
    means: Vec<f64>,
    /// Standard deviations the centred columns are divided by (all 1 without scaling).
    scales: Vec<f64>,
    /// One unit vector per component, in column order.
    components: Vec<Vec<f64>>,
    /// Variance along each component (n − 1 denominator, as scikit-learn's `explained_variance_`).
    explained_variance: Vec<f64>,
    /// Share of the total variance along each component.
    explained_variance_ratio: Vec<f64>,
}

/// Name of component `k` (0-based) in the output.
fn component_name(k: usize) -> String {
    format!("PC{}", k + 1)
}

fn matrix_of(table: &Table, columns: &[String]) -> Result<Vec<Vec<f64>>, NodeError> {
    let mut values = Vec::with_capacity(columns.len());
    for column in columns {
        let column_values = numeric_values(&table.frame, column)?;
        let missing = column_values.iter().filter(|v| v.is_none()).count();
        if missing > 0 {
            return Err(NodeError::data(format!(
                "column \"{column}\" has {missing} missing values: fill or remove them with Clean Missing Data first"
            )));
        }
        if column_values.iter().flatten().any(|v| v.is_infinite()) {
            return Err(NodeError::data(format!(
                "column \"{column}\" has infinite values (for example the log of 0): clip them with Clip Values first"
            )));
        }
        values.push(column_values.into_iter().flatten().collect::<Vec<f64>>());
    }
    Ok(values)
}

/// The rows as an `n × d` matrix, each column centred and divided by its scale.
fn standardized(data: &[Vec<f64>], means: &[f64], scales: &[f64], n: usize) -> faer::Mat<f64> {
    faer::Mat::from_fn(n, data.len(), |i, j| (data[j][i] - means[j]) / scales[j])
}

fn fit(table: &Table, params: &Params) -> Result<Fitted, NodeError> {
    let columns = chosen_columns(table, params.columns("columns"), numeric_feature_columns)?;
    if columns.is_empty() {
        return Err(NodeError::data("there are no numeric feature columns to analyse"));
    }
    let n = table.height();
    if n < 2 {
        return Err(NodeError::data(format!("principal components need at least two rows; the table has {n}")));
    }
    let wanted = params.count("components")?;
    let d = columns.len();
    if d > MAX_COLUMNS {
        return Err(NodeError::param(
            "columns",
            format!(
                "{d} columns are more than the {MAX_COLUMNS} this analysis handles: choose fewer columns (Filter Based Feature Selection can pick them)"
            ),
        ));
    }
    if wanted > d.min(n) {
        return Err(NodeError::param(
            "components",
            format!("{wanted} components asked for, but {d} columns and {n} rows allow at most {}", d.min(n)),
        ));
    }
    let data = matrix_of(table, &columns)?;
    let means: Vec<f64> = data.iter().map(|c| c.iter().sum::<f64>() / n as f64).collect();
    let scales: Vec<f64> = if params.bool("scale")? {
        data.iter()
            .zip(&means)
            .map(|(c, m)| {
                // Population standard deviation, as Normalize Data's z-score and scikit-learn's StandardScaler.
                let sd = (c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
                if sd > 0.0 { sd } else { 1.0 }
            })
            .collect()
    } else {
        vec![1.0; d]
    };
    let z = standardized(&data, &means, &scales, n);
    let mut covariance = linalg::cross_product(z.as_ref());
    for c in &mut covariance {
        *c /= (n - 1) as f64;
    }
    let (values, vectors) = linalg::symmetric_eigen(&covariance, d);
    if vectors.len() < wanted {
        return Err(NodeError::data(
            "the principal components could not be computed (the eigen-decomposition did not converge)",
        ));
    }
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    let explained_variance: Vec<f64> = values.iter().take(wanted).map(|v| v.max(0.0)).collect();
    let explained_variance_ratio =
        explained_variance.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
    Ok(Fitted {
        columns,
        means,
        scales,
        components: vectors.into_iter().take(wanted).collect(),
        explained_variance,
        explained_variance_ratio,
    })
}

fn project(fitted: &Fitted, table: &Table) -> Result<Table, NodeError> {
    crate::frame::require_columns(&table.frame, &fitted.columns)?;
    let data = matrix_of(table, &fitted.columns)?;
    let n = table.height();
    let mut frame = table.frame.drop_many(fitted.columns.iter().map(String::as_str));
    let mut out = table.with_frame(frame.clone());
    let z = standardized(&data, &fitted.means, &fitted.scales, n);
    for (k, scores) in linalg::project(z.as_ref(), &fitted.components).into_iter().enumerate() {
        crate::frame::set_column(&mut frame, f64_column(&component_name(k), scores))?;
    }
    out.frame = frame;
    for column in &fitted.columns {
        out.roles.remove(column);
        out.categorical.remove(column);
    }
    for k in 0..fitted.components.len() {
        out.roles.insert(component_name(k), Role::Feature);
    }
    Ok(out)
}

impl TransformState for Fitted {
    fn check(&self) -> Result<(), String> {
        let d = self.columns.len();
        if self.means.len() != d || self.scales.len() != d {
            return Err(format!("its means or scales do not match its {d} columns"));
        }
        match self.components.iter().find(|c| c.len() != d) {
            Some(c) => Err(format!("a component has {} values for {d} columns", c.len())),
            None => Ok(()),
        }
    }
}

impl Replay for PrincipalComponentAnalysis {
    type State = Fitted;

    fn apply(&self, state: &Fitted, table: &Table) -> Result<Table, NodeError> {
        project(state, table)
    }

    /// Every analysed column feeds every component.
    fn column_uses(&self, state: &Fitted) -> Vec<super::ColumnUse> {
        let outputs: Vec<String> = (0..state.components.len()).map(component_name).collect();
        state
            .columns
            .iter()
            .map(|column| super::ColumnUse {
                column: column.clone(),
                reads: super::Reads::Number,
                missing: super::MissingCells::PassedOn,
                outputs: outputs.clone(),
            })
            .collect()
    }

    fn restricted(&self, _state: &Fitted, _keep: &std::collections::BTreeSet<String>) -> Option<Fitted> {
        None
    }
}

impl NodeKind for PrincipalComponentAnalysis {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            PrincipalComponentAnalysis::ID,
            "Principal Component Analysis",
            Category::Transform,
            "Replaces numeric columns by their first principal components (PC1, PC2, …): centred (optionally scaled to unit variance) and projected on the directions of largest variance. The fitted transform projects other data, such as the test set, the same way. Its state records each component's explained variance.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "The numeric columns to analyse; empty takes every numeric feature column.")
        .param("components", "Number of components", int(1, 10_000), json!(2), "How many components to keep (at most the number of columns).")
        .param("scale", "Scale to unit variance", ParamKind::Bool, json!(false), "Divide each centred column by its standard deviation first (PCA on the correlation matrix).")
        .output("data", PortType::Table, "The table with the analysed columns replaced by PC1…PCk")
        .output("transform", PortType::Transform, "The fitted projection, for Apply Transformation")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let fitted = fit(&table, ctx.params)?;
        let projected = project(&fitted, &table)?;
        super::fitted_outputs(PrincipalComponentAnalysis::ID, "Principal Component Analysis", fitted, projected)
    }
}
