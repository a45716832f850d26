//! Partition and Sample.

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::rng::{SplitMix64, keyed_u64};
use pipewright_engine::spec::{choice, float, int};
use pipewright_engine::{
    Category, ColumnInfo, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Role,
    Schema, SchemaEnv, Value,
};

use super::split::{Chooser, first_rows, sampled, two_parts};

/// Samples rows or assigns them to folds.
pub struct PartitionAndSample;

impl PartitionAndSample {
    /// The kind id.
    pub const ID: &'static str = "transform.partition_and_sample";
}

/// The name of the column that fold assignment adds.
const FOLD_COLUMN: &str = "fold";

/// Deals rows to folds 1 to K in table order: every block of K consecutive rows gets each fold once, in an
/// order shuffled (`SplitMix64`) from a seed drawn from the node's seed and the block's number. Fold sizes so
/// differ by at most one, and a row's fold depends only on its place in the table, never on batches.
#[derive(Debug, Clone)]
pub(crate) struct FoldDealer {
    seed: u64,
    order: Vec<i64>,
    seen: u64,
}

impl FoldDealer {
    pub(crate) fn new(folds: usize, seed: u64) -> Self {
        Self { seed, order: (1..=folds).map(|f| i64::try_from(f).unwrap_or(i64::MAX)).collect(), seen: 0 }
    }

    /// The fold of the next row.
    pub(crate) fn next(&mut self) -> i64 {
        let folds = self.order.len() as u64;
        let place = self.seen % folds;
        if place == 0 {
            self.order.sort_unstable();
            SplitMix64::new(keyed_u64(self.seed, &[self.seen / folds])).shuffle(&mut self.order);
        }
        self.seen += 1;
        self.order[place as usize]
    }
}

/// Adds the fold column to each batch and chooses the rows of fold `pick` (every row for 0).
fn dealt(folds: usize, pick: i64, seed: u64) -> impl Fn() -> Chooser + Send + Sync + 'static {
    move || {
        let mut dealer = FoldDealer::new(folds, seed);
        Box::new(move |mut frame: DataFrame| {
            let fold: Vec<i64> = (0..frame.height()).map(|_| dealer.next()).collect();
            let chosen: Vec<bool> = fold.iter().map(|&f| pick == 0 || f == pick).collect();
            frame.with_column(Column::new(FOLD_COLUMN.into(), fold))?;
            Ok((frame, BooleanChunked::from_slice("chosen".into(), &chosen)))
        })
    }
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
        let rows = ctx.take_rows("data")?;
        match ctx.params.text("mode")? {
            "head" => two_parts(rows, first_rows(ctx.params.count("count")?), |_| ()),
            "folds" => {
                let pick = ctx.params.int("fold")?;
                let folds = ctx.params.count("folds")?;
                if usize::try_from(pick).is_ok_and(|pick| pick > folds) {
                    return Err(NodeError::param(
                        "fold",
                        format!("there are only {folds} folds: pick 1 to {folds}, or 0 for all"),
                    ));
                }
                two_parts(rows, dealt(folds, pick, ctx.params.seed("seed")?), |marks| {
                    marks.insert(FOLD_COLUMN.into());
                })
            }
            mode => {
                let column = if mode == "stratified" { Some(ctx.params.column("stratify_column")?.to_owned()) } else { None };
                two_parts(rows, sampled(ctx.params.float("fraction")?, ctx.params.seed("seed")?, column), |_| ())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_and_seeded() {
        let deal = |n: usize, folds: usize, seed: u64| {
            let mut dealer = FoldDealer::new(folds, seed);
            (0..n).map(|_| dealer.next()).collect::<Vec<_>>()
        };
        let folds = deal(10, 3, 7);
        let mut sizes: Vec<usize> = (1..=3).map(|f| folds.iter().filter(|&&x| x == f).count()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [3, 3, 4]);
        assert_eq!(folds, deal(10, 3, 7));
        assert_ne!(deal(30, 3, 7), deal(30, 3, 8));
    }

    #[test]
    fn folds_are_the_same_for_any_batching() {
        let id: Vec<i64> = (0..997).collect();
        let frame = DataFrame::new(997, vec![Column::new("id".into(), id)]).expect("frame");
        super::super::split::tests::assert_same_for_any_batching(&frame, dealt(5, 2, 11));
    }
}
