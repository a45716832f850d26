//! Apply Transformation.

use std::sync::Arc;

use pipewright_engine::{Category, NodeContext, NodeError, NodeKind, NodeSpec, PortType, Rows, Value};

/// Replays a fitted transform (cleaning, scaling, encoding) on another table.
pub struct ApplyTransformation;

impl ApplyTransformation {
    /// The kind id.
    pub const ID: &'static str = "transform.apply_transformation";
}

impl NodeKind for ApplyTransformation {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Apply Transformation",
            Category::Transform,
            "Applies a transform fitted on one table (by Clean Missing Data, Normalize Data or Convert to Indicator Values) to another, for example the test data, with the same values.",
        )
        .input("transform", PortType::Transform, "A fitted transform")
        .input("data", PortType::Table, "The table to transform")
        .output("data", PortType::Table, "The transformed table")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let transform = ctx.transform("transform")?;
        match ctx.rows("data")? {
            Rows::Table(table) => Ok(vec![Value::Table(Arc::new(super::apply(&transform, &table)?))]),
            // Streamed: replayed on every batch; the roles come from replaying it on the first row.
            Rows::Stream(stream) => {
                Ok(vec![Value::Stream(Arc::new(stream.map_tables(move |table| super::apply(&transform, table))?))])
            }
        }
    }
}
