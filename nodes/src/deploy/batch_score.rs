//! Batch Score.

use std::sync::Arc;

use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Rows, Table, Value,
};

use super::fields::describe_rows;
use super::package::{Package, ScoreError};

/// Scores a table with a model package.
pub struct BatchScore;

impl BatchScore {
    /// The kind id.
    pub const ID: &'static str = "deploy.batch_score";
}

impl NodeKind for BatchScore {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Batch Score",
            Category::Deploy,
            "Scores raw rows with a model package (.pwmodel) written by Export Model Package: the package's own cleaning, encoding and scaling run first, then its model. Adds the columns Score Model adds (Scored Labels, Scored Probabilities_<class>…) to the rows as they are. Every row must fit the package's input fields; a problem names the row and the column.",
        )
        .input("data", PortType::Table, "Raw rows with the package's input fields; other columns pass through")
        .required_param("package", "Model package", ParamKind::FilePath { extensions: vec!["pwmodel"], read: true }, "The .pwmodel file, relative to the workflow file.")
        .output("data", PortType::Table, "The rows with predictions")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let path = ctx.resolve_path(ctx.params.text("package")?);
        let package = Arc::new(Package::read(&path).map_err(|e| NodeError::param("package", e.to_string()))?);
        let score = move |table: &Table| {
            package.score_table(table).map_err(|e| match e {
                ScoreError::Invalid(problems) => NodeError::data(format!(
                    "the rows do not fit the package \"{}\": {}",
                    package.manifest.name,
                    describe_rows(&problems)
                )),
                ScoreError::Failed(e) => e,
            })
        };
        match ctx.rows("data")? {
            Rows::Table(table) => {
                ctx.report_progress(0.1, "scoring");
                Ok(vec![Value::Table(Arc::new(score(&table)?))])
            }
            // Streamed: every batch scored as it passes; the roles come from scoring the first row.
            Rows::Stream(stream) => Ok(vec![Value::Stream(Arc::new(stream.map_tables(score)?))]),
        }
    }
}
