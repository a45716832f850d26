//! Batch Score.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, FanOut, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Rows, Table, Unit, UnitResult,
    Value,
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
        .param("partition_rows", "Rows per cluster task", int(100, 100_000_000), json!(1_000_000), "Exported with fan-out, the rows are scored in partitions of this many rows, a cluster task each. A run on this machine scores them in one go (or batch by batch when streamed); the result is the same.")
        .output("data", PortType::Table, "The rows with predictions")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let score = scorer(ctx)?;
        match ctx.rows("data")? {
            Rows::Table(table) => {
                ctx.report_progress(0.1, "scoring");
                Ok(vec![Value::Table(Arc::new(score(&table)?))])
            }
            // Streamed: every batch scored as it passes; the roles come from scoring the first row.
            Rows::Stream(stream) => Ok(vec![Value::Stream(Arc::new(stream.map_tables(score)?))]),
        }
    }

    fn fan_out(&self) -> Option<&dyn FanOut> {
        Some(self)
    }
}

/// Scores a table with the block's package.
fn scorer(ctx: &NodeContext<'_>) -> Result<impl Fn(&Table) -> Result<Table, NodeError> + use<>, NodeError> {
    let path = ctx.resolve_path(ctx.params.text("package")?);
    let package = Arc::new(Package::read(&path).map_err(|e| NodeError::param("package", e.to_string()))?);
    Ok(move |table: &Table| {
        package.score_table(table).map_err(|e| match e {
            ScoreError::Invalid(problems) => NodeError::data(format!(
                "the rows do not fit the package \"{}\": {}",
                package.manifest.name,
                describe_rows(&problems)
            )),
            ScoreError::Failed(e) => e,
        })
    })
}

/// Rows are scored one by one, so partitions of them scored apart and stacked in order are the table scored
/// whole: a cluster scores each partition as a task.
impl FanOut for BatchScore {
    /// One unit per partition of `partition_rows` rows: `{"start": a, "end": b}`.
    fn units(&self, ctx: &NodeContext<'_>) -> Result<Vec<Unit>, NodeError> {
        let rows = ctx.table("data")?.height();
        let size = ctx.params.count("partition_rows")?.max(1);
        Ok((0..rows.div_ceil(size).max(1))
            .map(|p| {
                let (start, end) = (p * size, ((p + 1) * size).min(rows));
                Unit { label: format!("rows {} to {end}", start + 1), spec: json!({"start": start, "end": end}) }
            })
            .collect())
    }

    fn run_unit(&self, ctx: &NodeContext<'_>, unit: &Json) -> Result<UnitResult, NodeError> {
        let table = ctx.table("data")?;
        let bound = |name: &str| unit[name].as_u64().and_then(|v| usize::try_from(v).ok());
        let (Some(start), Some(end)) = (bound("start"), bound("end")) else {
            return Err(NodeError::data(format!("a partition of Batch Score names no rows: {unit}")));
        };
        if start > end || end > table.height() {
            return Err(NodeError::data(format!("rows {start} to {end} are not in the table of {} rows", table.height())));
        }
        let offset = i64::try_from(start).map_err(|_| NodeError::data(format!("row {start} is beyond reach")))?;
        let part = table.with_frame(table.frame.slice(offset, end - start));
        let scored = scorer(ctx)?(&part)?;
        Ok(UnitResult { data: Json::Null, values: vec![Value::Table(Arc::new(scored))] })
    }

    /// The partitions stacked in order.
    fn combine(&self, _ctx: &NodeContext<'_>, results: Vec<UnitResult>) -> Result<Vec<Value>, NodeError> {
        let mut tables = results.into_iter().map(|r| match r.values.into_iter().next() {
            Some(Value::Table(t)) => Ok(t),
            _ => Err(NodeError::data("a scored partition did not come back")),
        });
        let first = tables.next().ok_or_else(|| NodeError::data("no partition was scored"))??;
        let mut frame = first.frame.clone();
        for table in tables {
            frame.vstack_mut(&table?.frame)?;
        }
        frame.rechunk_mut();
        Ok(vec![Value::Table(Arc::new(first.with_frame(frame)))])
    }
}
