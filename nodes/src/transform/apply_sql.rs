//! Apply SQL Transformation.

use std::sync::Arc;

use polars::prelude::IntoLazy;
use polars::sql::SQLContext;
use serde_json::json;

use pipewright_engine::{Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Value};

/// Transforms up to three tables with a SQL query (Polars SQL).
pub struct ApplySqlTransformation;

impl ApplySqlTransformation {
    /// The kind id.
    pub const ID: &'static str = "transform.apply_sql_transformation";
}

/// The table names the query sees, by input port.
const TABLES: [&str; 3] = ["t1", "t2", "t3"];

impl NodeKind for ApplySqlTransformation {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Apply SQL Transformation",
            Category::Transform,
            "Runs a SQL query over up to three tables, named t1, t2 and t3 after the inputs they arrive on (Polars SQL: SELECT with WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, JOIN, UNION, CASE, window and string functions). Column roles of t1 are kept for columns that keep their name.",
        )
        .input("t1", PortType::Table, "The table called t1 in the query")
        .optional_input("t2", PortType::Table, "The table called t2")
        .optional_input("t3", PortType::Table, "The table called t3")
        .param("query", "SQL query", ParamKind::Text, json!("SELECT * FROM t1"), "The query. Tables: t1, t2, t3; quote column names with spaces in double quotes.")
        .output("data", PortType::Table, "The query's result")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let first = ctx.table("t1")?;
        let mut sql = SQLContext::new();
        sql.register(TABLES[0], first.frame.clone().lazy());
        for name in &TABLES[1..] {
            if let Some(table) = ctx.optional_table(name)? {
                sql.register(name, table.frame.clone().lazy());
            }
        }
        let query = ctx.params.text("query")?.trim();
        if query.is_empty() {
            return Err(NodeError::param("query", "write a query, for example SELECT * FROM t1"));
        }
        let frame = sql
            .execute(query)
            .and_then(polars::prelude::LazyFrame::collect)
            .map_err(|e| NodeError::param("query", format!("the query failed: {e}")))?;
        let mut out = Table::new(frame);
        // Columns that keep their name keep their role and categorical mark.
        for name in out.frame.get_column_names().iter().map(ToString::to_string).collect::<Vec<_>>() {
            if let Some(role) = first.roles.get(&name) {
                out.roles.insert(name.clone(), *role);
            }
            if first.categorical.contains(&name) {
                out.categorical.insert(name);
            }
        }
        Ok(vec![Value::Table(Arc::new(out))])
    }
}
