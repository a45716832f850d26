//! Split Data, and the row choosers it shares with Partition and Sample: rules that decide row by row, in
//! table order, so a streamed table is split exactly as the same table in memory, whatever its batches.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use polars::prelude::*;
use serde_json::{Value as Json, json};

use pipewright_engine::rng::keyed_f64;
use pipewright_engine::spec::float;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema, SchemaEnv, Value,
};

/// Splits rows into two tables.
pub struct SplitData;

impl SplitData {
    /// The kind id.
    pub const ID: &'static str = "transform.split_data";
}

/// The number of rows a fraction of `n` rows is: `round(fraction·n)`, halves up.
pub(crate) fn rounded(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64 + 0.5).floor() as usize).min(n)
}

/// A seeded random choice of a fraction of the rows, made row by row in table order.
///
/// Rows are grouped in strata (the values of a stratification column, or one stratum for all), numbered in
/// order of first appearance. Row `j` of stratum `s` (0-based within it) is taken when
/// `u(seed, s, j) < fraction·(j + 1) − taken`, where `taken` counts the stratum's rows taken before it and
/// `u` is [`keyed_f64`]. Each row is so taken with the chance that brings its stratum's running share back to
/// the fraction: after any `j` rows of a stratum, `|taken − fraction·j| < 1`, so every stratum gets
/// `fraction·n` of its rows rounded one way or the other, and a stratified split keeps the proportions. A
/// decision depends only on the stratum and the row's place in it, never on batch boundaries.
/// `tests/reference/make_fixtures.py` replays this rule.
#[derive(Debug, Clone)]
pub struct RowSampler {
    fraction: f64,
    seed: u64,
    /// The strata of values, and the stratum of missing values (or of every row without a column).
    strata: HashMap<String, Stratum>,
    missing: Option<Stratum>,
}

#[derive(Debug, Clone, Copy)]
struct Stratum {
    number: u64,
    seen: u64,
    taken: u64,
}

impl RowSampler {
    /// A sampler of `fraction` (0 to 1) of the rows, from `seed`.
    pub fn new(fraction: f64, seed: u64) -> Self {
        Self { fraction, seed, strata: HashMap::new(), missing: None }
    }

    /// Whether the next row of `stratum` is taken.
    pub fn take(&mut self, stratum: Option<&str>) -> bool {
        let next = Stratum { number: (self.strata.len() + usize::from(self.missing.is_some())) as u64, seen: 0, taken: 0 };
        let (fraction, seed) = (self.fraction, self.seed);
        let decide = |state: &mut Stratum| {
            let share = fraction * (state.seen + 1) as f64 - state.taken as f64;
            let take = keyed_f64(seed, &[state.number, state.seen]) < share;
            state.seen += 1;
            state.taken += u64::from(take);
            take
        };
        // Looked up by the borrowed value: only a row of a new stratum allocates.
        match stratum {
            None => decide(self.missing.get_or_insert(next)),
            Some(value) => match self.strata.get_mut(value) {
                Some(state) => decide(state),
                None => decide(self.strata.entry(value.to_owned()).or_insert(next)),
            },
        }
    }

    /// Which rows of the next batch are taken, the stratum of a row being its value in `column`.
    pub fn choose(&mut self, frame: &DataFrame, column: Option<&str>) -> Result<BooleanChunked, NodeError> {
        let chosen: Vec<bool> = match column {
            None => (0..frame.height()).map(|_| self.take(None)).collect(),
            Some(name) => {
                let values = frame
                    .column(name)
                    .map_err(|_| crate::frame::missing_column(frame, name))?
                    .cast(&DataType::String)?;
                values.str()?.iter().map(|value| self.take(value)).collect()
            }
        };
        Ok(BooleanChunked::from_slice("chosen".into(), &chosen))
    }
}

/// Decides, batch by batch in table order, which rows go to the first part; it may also add columns (the
/// fold of Partition and Sample). A fresh one is made for every pass over the rows.
pub(crate) type Chooser = Box<dyn FnMut(DataFrame) -> Result<(DataFrame, BooleanChunked), NodeError> + Send>;

/// Rows the first rows of a table: `count` of them.
pub(crate) fn first_rows(count: usize) -> impl Fn() -> Chooser + Send + Sync + 'static {
    move || {
        let mut seen = 0usize;
        Box::new(move |frame: DataFrame| {
            let height = frame.height();
            let chosen: Vec<bool> = (seen..seen + height).map(|row| row < count).collect();
            seen += height;
            Ok((frame, BooleanChunked::from_slice("chosen".into(), &chosen)))
        })
    }
}

/// The first part and the rest, as tables for a table and as streams for a stream; `mark` adds to the
/// categorical marks, for a chooser that adds a categorical column.
pub(crate) fn two_parts(
    rows: Rows,
    make: impl Fn() -> Chooser + Send + Sync + 'static,
    mark: impl Fn(&mut BTreeSet<String>),
) -> Result<Vec<Value>, NodeError> {
    match rows {
        Rows::Table(table) => {
            let table = Arc::unwrap_or_clone(table);
            let mut facts = pipewright_engine::Table { frame: DataFrame::empty(), ..table };
            mark(&mut facts.categorical);
            let (frame, chosen) = make()(table.frame)?;
            let others = !&chosen;
            let first_rows = chosen.sum().unwrap_or(0) as usize;
            let (mut first, mut second) = (Vec::new(), Vec::new());
            // Column by column, each source column let go once both parts have theirs: a table that this block
            // alone holds is never in memory twice.
            for column in frame.into_columns() {
                first.push(column.filter(&chosen)?);
                second.push(column.filter(&others)?);
            }
            let first = facts.with_frame(DataFrame::new(first_rows, first)?);
            let second = facts.with_frame(DataFrame::new(others.len() - first_rows, second)?);
            Ok(vec![Value::Table(Arc::new(first)), Value::Table(Arc::new(second))])
        }
        Rows::Stream(stream) => {
            let make = Arc::new(make);
            let part = |keep: bool| {
                let make = make.clone();
                let mut part = stream.then_per_pass(Arc::new(move || {
                    let mut choose = make();
                    Box::new(move |frame| {
                        let (frame, chosen) = choose(frame)?;
                        Ok(frame.filter(&if keep { chosen } else { !&chosen })?)
                    })
                }));
                mark(&mut part.categorical);
                Value::Stream(Arc::new(part))
            };
            Ok(vec![part(true), part(false)])
        }
    }
}

/// The number of rows: the table's, or a stream's counted in one pass (with progress; Stop ends it).
pub(crate) fn row_count(rows: &Rows, ctx: &NodeContext<'_>) -> Result<usize, NodeError> {
    match rows {
        Rows::Table(table) => Ok(table.height()),
        Rows::Stream(stream) => ctx.read(stream, "counting rows")?.try_fold(0, |n, batch| Ok(n + batch?.height())),
    }
}

/// The seeded sampler as a chooser over a stratification column (or none).
pub(crate) fn sampled(fraction: f64, seed: u64, column: Option<String>) -> impl Fn() -> Chooser + Send + Sync + 'static {
    move || {
        let mut sampler = RowSampler::new(fraction, seed);
        let column = column.clone();
        Box::new(move |frame: DataFrame| {
            let chosen = sampler.choose(&frame, column.as_deref())?;
            Ok((frame, chosen))
        })
    }
}

impl NodeKind for SplitData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(Self::ID, "Split Data", Category::Transform, "Splits rows into two tables, for example training and test data: at random, optionally stratified so that both keep the label's class proportions.")
            .input("data", PortType::Table, "The table")
            .param("fraction", "Fraction of rows in the first output", float(0.0, 1.0), json!(0.7), "For example 0.7 puts 70 % of the rows (rounded either way) in the first output.")
            .param("randomize", "Randomized split", ParamKind::Bool, json!(true), "On: each row is drawn from the seed and its place in the table, so the same file splits the same way however it is read. Off: the first rows go to the first output.")
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
        let rows = ctx.take_rows("data")?;
        let fraction = ctx.params.float("fraction")?;
        if !ctx.params.bool("randomize")? {
            let count = rounded(fraction, row_count(&rows, ctx)?);
            return two_parts(rows, first_rows(count), |_| ());
        }
        let column = ctx.params.optional_text("stratify_column").map(str::to_owned);
        two_parts(rows, sampled(fraction, ctx.params.seed("seed")?, column), |_| ())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pipewright_engine::{FrameBatches, Table, TableStream};

    /// Both parts of `make`'s split of `frame`, in memory and streamed in batches of every given size: they
    /// must all be the same rows.
    pub(crate) fn assert_same_for_any_batching(frame: &DataFrame, make: impl Fn() -> Chooser + Send + Sync + 'static) {
        let make = Arc::new(make);
        let parts = |rows: Rows| -> Vec<DataFrame> {
            let make = make.clone();
            two_parts(rows, move || make(), |_| ())
                .expect("split")
                .into_iter()
                .map(|value| match value {
                    Value::Table(table) => table.frame.clone(),
                    Value::Stream(stream) => stream.collect().expect("collect").frame,
                    other => panic!("not rows: {other:?}"),
                })
                .collect()
        };
        let whole = parts(Rows::Table(Arc::new(Table::new(frame.clone()))));
        assert!(whole[0].height() > 0 && whole[1].height() > 0, "both parts have rows");
        for rows in [1, 2, 3, 7, 64, 1000, frame.height()] {
            let stream = TableStream::new(Arc::new(FrameBatches::new(frame.clone(), rows)));
            let streamed = parts(Rows::Stream(Arc::new(stream)));
            assert!(streamed[0].equals_missing(&whole[0]), "first part, batches of {rows} rows");
            assert!(streamed[1].equals_missing(&whole[1]), "second part, batches of {rows} rows");
        }
    }

    fn frame(rows: usize) -> DataFrame {
        let id: Vec<i64> = (0..i64::try_from(rows).expect("rows")).collect();
        let class: Vec<&str> = (0..rows).map(|i| ["a", "b", "b", "c", "c", "c"][i * 7 % 6]).collect();
        DataFrame::new(rows, vec![Column::new("id".into(), id), Column::new("class".into(), class)]).expect("frame")
    }

    #[test]
    fn a_split_is_the_same_for_any_batching() {
        let frame = frame(2500);
        assert_same_for_any_batching(&frame, sampled(0.7, 42, None));
        assert_same_for_any_batching(&frame, sampled(0.25, 7, Some("class".into())));
        assert_same_for_any_batching(&frame, first_rows(1234));
    }

    #[test]
    fn a_stratified_split_keeps_each_class_share_within_a_row() {
        let frame = frame(2500);
        let [first, _] = <[Value; 2]>::try_from(two_parts(Rows::Table(Arc::new(Table::new(frame.clone()))), sampled(0.3, 5, Some("class".into())), |_| ()).expect("split")).expect("two");
        let Value::Table(first) = first else { panic!("a table") };
        for class in ["a", "b", "c"] {
            let all = frame.column("class").expect("class").str().expect("text").iter().filter(|v| *v == Some(class)).count();
            let taken = first.frame.column("class").expect("class").str().expect("text").iter().filter(|v| *v == Some(class)).count();
            assert!((taken as f64 - 0.3 * all as f64).abs() < 1.0, "{class}: {taken} of {all}");
        }
    }

    #[test]
    fn every_prefix_of_every_stratum_keeps_its_share_within_one_row() {
        let mut sampler = RowSampler::new(0.3, 9);
        let mut taken = [0u64; 3];
        for row in 0..3000u64 {
            let stratum = ["a", "b", "c"][(row % 7 % 3) as usize];
            let s = (row % 7 % 3) as usize;
            taken[s] += u64::from(sampler.take(Some(stratum)));
            let seen = sampler.strata[stratum].seen;
            assert!((taken[s] as f64 - 0.3 * seen as f64).abs() < 1.0, "stratum {stratum} after {seen} rows: {}", taken[s]);
        }
    }

    #[test]
    fn the_choice_is_seeded_and_not_a_fixed_pattern() {
        let pattern = |seed| {
            let mut sampler = RowSampler::new(0.5, seed);
            (0..64).map(|_| sampler.take(None)).collect::<Vec<_>>()
        };
        assert_eq!(pattern(1), pattern(1));
        assert_ne!(pattern(1), pattern(2));
        let alternating: Vec<bool> = (0..64).map(|i| i % 2 == 0).collect();
        assert_ne!(pattern(1), alternating);
    }
}
