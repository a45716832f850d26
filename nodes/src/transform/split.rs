//! Split Data.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spec::float;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Schema, SchemaEnv, Value,
};

use crate::frame::{group_ids, take_rows};

/// Splits rows into two tables.
pub struct SplitData;

impl SplitData {
    /// The kind id.
    pub const ID: &'static str = "transform.split_data";
}

fn rounded(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64 + 0.5).floor() as usize).min(n)
}

/// The row indices of the two parts, each in ascending order.
///
/// Not randomized: the first `round(fraction·n)` rows. Randomized: a Fisher–Yates shuffle from the
/// seed (`SplitMix64`, last position first), its first `round(fraction·n)` rows. Stratified: rows
/// grouped by the stratification value in order of first appearance, each group shuffled in turn with
/// the same generator and split by the same rule. `tests/reference/make_fixtures.py` replays this.
pub fn split_indices(n: usize, fraction: f64, seed: Option<u64>, strata: Option<&[u32]>) -> (Vec<usize>, Vec<usize>) {
    let Some(seed) = seed else {
        let k = rounded(fraction, n);
        return ((0..k).collect(), (k..n).collect());
    };
    let mut rng = SplitMix64::new(seed);
    let groups: Vec<Vec<usize>> = match strata {
        None => vec![(0..n).collect()],
        Some(ids) => {
            let mut groups: Vec<Vec<usize>> = vec![Vec::new(); ids.iter().max().map_or(0, |m| *m as usize + 1)];
            for (i, &g) in ids.iter().enumerate() {
                groups[g as usize].push(i);
            }
            groups
        }
    };
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for mut group in groups {
        rng.shuffle(&mut group);
        let k = rounded(fraction, group.len());
        first.extend_from_slice(&group[..k]);
        second.extend_from_slice(&group[k..]);
    }
    first.sort_unstable();
    second.sort_unstable();
    (first, second)
}

impl NodeKind for SplitData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(Self::ID, "Split Data", Category::Transform, "Splits rows into two tables, for example training and test data: at random, optionally stratified so that both keep the label's class proportions.")
            .input("data", PortType::Table, "The table")
            .param("fraction", "Fraction of rows in the first output", float(0.0, 1.0), json!(0.7), "For example 0.7 puts 70 % of the rows in the first output.")
            .param("randomize", "Randomized split", ParamKind::Bool, json!(true), "Off: the first rows go to the first output.")
            .param("stratify_column", "Stratification column", ParamKind::Column { port: "data" }, Json::Null, "Keep this column's value proportions in both outputs (usually the label). Empty: no stratification.")
            .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
            .passes_rows_through()
            .output("first", PortType::Table, "The first part (fraction of the rows)")
            .output("second", PortType::Table, "The rest")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], _params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let schema = inputs.first().cloned().flatten();
        vec![schema.clone(), schema]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let strata = match ctx.params.optional_text("stratify_column") {
            Some(column) => Some(group_ids(&table.frame, column)?),
            None => None,
        };
        let seed = if ctx.params.bool("randomize")? { Some(ctx.params.seed("seed")?) } else { None };
        let (first, second) = split_indices(table.height(), ctx.params.float("fraction")?, seed, strata.as_deref());
        Ok(vec![
            Value::Table(Arc::new(take_rows(&table, &first)?)),
            Value::Table(Arc::new(take_rows(&table, &second)?)),
        ])
    }
}
