//! Partition and Sample.

use std::sync::Arc;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::rng::SplitMix64;
use pipewright_engine::spec::{choice, float, int};
use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Schema, SchemaEnv, Table, Value,
};

use super::split_indices;
use crate::frame::{group_ids, take_rows};

/// Samples rows or assigns them to folds.
pub struct PartitionAndSample;

impl PartitionAndSample {
    /// The kind id.
    pub const ID: &'static str = "transform.partition_and_sample";
}

/// The name of the column that fold assignment adds.
const FOLD_COLUMN: &str = "fold";

/// The 1-based fold of each row: a seeded shuffle (`SplitMix64`, as Split Data), then positions dealt
/// round-robin, so fold sizes differ by at most one.
pub(crate) fn assign_folds(n: usize, folds: usize, seed: u64) -> Vec<i64> {
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let mut fold = vec![0; n];
    for (position, row) in order.into_iter().enumerate() {
        fold[row] = i64::try_from(position % folds).unwrap_or(0) + 1;
    }
    fold
}

fn with_folds(table: &Table, params: &Params) -> Result<(Table, Vec<i64>), NodeError> {
    let folds = params.count("folds")?;
    let fold = assign_folds(table.height(), folds, params.seed("seed")?);
    let mut frame = table.frame.clone();
    frame.with_column(Column::new(FOLD_COLUMN.into(), fold.clone()))?;
    let mut out = table.with_frame(frame);
    out.categorical.insert(FOLD_COLUMN.into());
    Ok((out, fold))
}

impl NodeKind for PartitionAndSample {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Partition and Sample",
            Category::Transform,
            "Takes part of the rows: a random fraction, a stratified random fraction that keeps a column's value proportions, the first N rows, or one of K random folds (adding a fold column numbered 1 to K). The chosen rows go to the first output in table order and the others to the second.",
        )
        .input("data", PortType::Table, "The table")
        .param("mode", "Partition or sample mode", choice(&["sample", "stratified", "head", "folds"]), json!("sample"), "sample: a random fraction; stratified: a random fraction of each value of the stratification column; head: the first rows; folds: assign every row to a fold and pick one.")
        .param("fraction", "Rate of sampling", float(0.0, 1.0), json!(0.1), "sample and stratified: the fraction of rows (of each stratum) taken, rounded to the nearest row.")
        .param("stratify_column", "Stratification column", ParamKind::Column { port: "data" }, Json::Null, "stratified: the column whose value proportions the sample keeps.")
        .param("count", "Number of rows", int(0, i64::from(u32::MAX)), json!(10), "head: how many of the first rows are taken.")
        .param("folds", "Number of folds", int(2, 1000), json!(5), "folds: into how many folds the rows are dealt.")
        .param("fold", "Fold to pick", int(0, 1000), json!(1), "folds: the fold (1 to the number of folds) in the first output; 0 puts every row, with its fold column, in the first output.")
        .param("seed", "Random seed", ParamKind::Seed, Json::Null, "Empty: derived from the workflow seed.")
        .passes_rows_through()
        .output("data", PortType::Table, "The chosen rows")
        .output("rest", PortType::Table, "The other rows")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        let mut schema = inputs.first().cloned().flatten();
        if params.text("mode").ok() == Some("folds")
            && let Some(s) = &mut schema
        {
            s.columns.retain(|c| c.name != FOLD_COLUMN);
            s.columns.push(ColumnInfo { name: FOLD_COLUMN.into(), ty: ColumnType::Numeric, role: Role::Feature });
        }
        vec![schema.clone(), schema]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let n = table.height();
        let (table, chosen): (Table, Vec<usize>) = match ctx.params.text("mode")? {
            "head" => ((*table).clone(), (0..ctx.params.count("count")?.min(n)).collect()),
            "folds" => {
                let (out, fold) = with_folds(&table, ctx.params)?;
                let pick = ctx.params.int("fold")?;
                let folds = ctx.params.int("folds")?;
                if pick > folds {
                    return Err(NodeError::param(
                        "fold",
                        format!("there are only {folds} folds: pick 1 to {folds}, or 0 for all"),
                    ));
                }
                let rows = (0..n).filter(|&i| pick == 0 || fold[i] == pick).collect();
                (out, rows)
            }
            mode => {
                let strata = if mode == "stratified" {
                    let column = ctx.params.column("stratify_column")?;
                    Some(group_ids(&table.frame, column)?)
                } else {
                    None
                };
                let seed = ctx.params.seed("seed")?;
                let (first, _) = split_indices(n, ctx.params.float("fraction")?, Some(seed), strata.as_deref());
                ((*table).clone(), first)
            }
        };
        let mut is_chosen = vec![false; n];
        for &i in &chosen {
            is_chosen[i] = true;
        }
        let rest: Vec<usize> = (0..n).filter(|&i| !is_chosen[i]).collect();
        Ok(vec![Value::Table(Arc::new(take_rows(&table, &chosen)?)), Value::Table(Arc::new(take_rows(&table, &rest)?))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_and_seeded() {
        let folds = assign_folds(10, 3, 7);
        let sizes: Vec<usize> = (1..=3).map(|f| folds.iter().filter(|&&x| x == f).count()).collect();
        assert_eq!(sizes, [4, 3, 3]);
        assert_eq!(folds, assign_folds(10, 3, 7));
        assert_ne!(folds, assign_folds(10, 3, 8));
    }
}
