//! Clean Missing Data.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::choice;
use pipewright_engine::{
    Category, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, Params, PortType, Rows, Schema,
    SchemaEnv, Table, TableStream, Value,
};

use super::{ColumnUse, MissingCells, Reads, Replay, TransformState, chosen_columns};
use crate::frame::{missing_count, missing_mask, nan_values, text_values};

/// Fills or removes missing values.
pub struct CleanMissingData;

impl CleanMissingData {
    /// The kind id.
    pub const ID: &'static str = "transform.clean_missing_data";
}

/// What happens to one column's missing cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Action {
    FillNumber { value: f64 },
    FillText { value: String },
    RemoveRow,
    RemoveColumn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    columns: BTreeMap<String, Action>,
}

fn is_numeric(table: &Table, name: &str) -> bool {
    table.frame.column(name).is_ok_and(|c| matches!(ColumnType::of(c.dtype()), ColumnType::Numeric | ColumnType::Bool))
}

/// Mean, median or most frequent value (ties: the smallest) of the present values.
fn statistic(values: &mut [f64], mode: &str) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    if mode == "mean" {
        return Some(values.iter().sum::<f64>() / n as f64);
    }
    values.sort_by(f64::total_cmp);
    if mode == "median" {
        return Some(if n % 2 == 1 { values[n / 2] } else { f64::midpoint(values[n / 2 - 1], values[n / 2]) });
    }
    // The most frequent value.
    let (mut best, mut best_count, mut i) = (values[0], 0, 0);
    while i < n {
        let j = values[i..].iter().position(|v| *v != values[i]).map_or(n, |k| i + k);
        if j - i > best_count {
            (best, best_count) = (values[i], j - i);
        }
        i = j;
    }
    Some(best)
}

/// What fitting needs of one column, gathered over its rows a batch at a time: for a mean the running sum in
/// row order (so a streamed table gives the very bits of one in memory), for a median or a numeric mode the
/// present values, for a text fill each value's count, for dropping the column its missing cells.
enum Gather {
    Nothing,
    Sum { sum: f64, n: usize },
    Values(Vec<f64>),
    /// A streamed table's median: the count and range of the present values, narrowed by later passes.
    Range { n: usize, min: f64, max: f64 },
    Texts(std::collections::HashMap<String, usize>),
    Missing(usize),
}

/// The columns to clean and what each needs gathered; `meta` has the table's columns (any rows). `streamed`: a
/// median is found over passes ([`exact_medians`]) instead of from every value held at once.
fn gather_plan(meta: &Table, params: &Params, streamed: bool) -> Result<Vec<(String, Gather)>, NodeError> {
    let columns = chosen_columns(meta, params.columns("columns"), |t| {
        t.frame.get_column_names().iter().map(ToString::to_string).collect()
    })?;
    let mode = params.text("mode")?;
    Ok(columns
        .into_iter()
        .map(|name| {
            let gather = match mode {
                "remove_row" | "constant" => Gather::Nothing,
                "remove_column" => Gather::Missing(0),
                "mean" if is_numeric(meta, &name) => Gather::Sum { sum: 0.0, n: 0 },
                "median" if streamed && is_numeric(meta, &name) => {
                    Gather::Range { n: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
                }
                _ if is_numeric(meta, &name) => Gather::Values(Vec::new()),
                _ => Gather::Texts(std::collections::HashMap::new()),
            };
            (name, gather)
        })
        .collect())
}

/// Adds a batch of rows to what is gathered.
fn gather(frame: &DataFrame, plan: &mut [(String, Gather)]) -> Result<(), NodeError> {
    for (name, gather) in plan {
        match gather {
            Gather::Nothing => {}
            Gather::Missing(count) => *count += missing_count(frame.column(name)?)?,
            Gather::Sum { sum, n } => {
                // Summed in row order straight from the column, without a copy.
                let cast = frame.column(name)?.cast(&DataType::Float64)?;
                crate::frame::for_each_number(cast.f64()?, |v| {
                    *sum += v;
                    *n += 1;
                });
            }
            Gather::Values(values) => values.extend(nan_values(frame, name)?.into_iter().filter(|v| !v.is_nan())),
            Gather::Range { n, min, max } => {
                for v in nan_values(frame, name)?.into_iter().filter(|v| !v.is_nan()) {
                    *n += 1;
                    *min = min.min(v);
                    *max = max.max(v);
                }
            }
            Gather::Texts(counts) => {
                let column =
                    frame.column(name).map_err(|_| crate::frame::missing_column(frame, name))?.cast(&DataType::String)?;
                for v in column.str()?.iter().flatten() {
                    *counts.entry(v.to_owned()).or_default() += 1;
                }
            }
        }
    }
    Ok(())
}

/// The fitted actions from what was gathered.
fn actions(meta: &Table, params: &Params, plan: Vec<(String, Gather)>) -> Result<State, NodeError> {
    let mode = params.text("mode")?;
    let mut out = BTreeMap::new();
    for (name, gathered) in plan {
        let action = match (mode, gathered) {
            ("remove_row", _) => Action::RemoveRow,
            // The columns to drop are decided here, on the fitting data, so that the transform drops the
            // same columns from any other table.
            ("remove_column", Gather::Missing(0)) => continue,
            ("remove_column", _) => Action::RemoveColumn,
            ("constant", _) => {
                let text = params.text("replacement")?;
                if is_numeric(meta, &name) {
                    let value = text.trim().parse::<f64>().map_err(|_| {
                        NodeError::param(
                            "replacement",
                            format!("column \"{name}\" is numeric and \"{text}\" is not a number"),
                        )
                    })?;
                    Action::FillNumber { value }
                } else {
                    Action::FillText { value: text.to_owned() }
                }
            }
            (stat, Gather::Sum { sum, n }) => Action::FillNumber {
                value: (n > 0).then(|| sum / n as f64).ok_or_else(|| no_values(&name, stat))?,
            },
            (stat, Gather::Values(mut present)) => {
                Action::FillNumber { value: statistic(&mut present, stat).ok_or_else(|| no_values(&name, stat))? }
            }
            // Text has no mean or median: its most frequent value (among tied ones, the smallest) fills it.
            (_, Gather::Texts(counts)) => Action::FillText {
                value: counts
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(v, _)| v)
                    .ok_or_else(|| NodeError::data(format!("column \"{name}\" has no values to fill from")))?,
            },
            (_, Gather::Nothing | Gather::Missing(_) | Gather::Range { .. }) => continue,
        };
        out.insert(name, action);
    }
    Ok(State { columns: out })
}

fn no_values(name: &str, stat: &str) -> NodeError {
    NodeError::data(format!("column \"{name}\" has no values to compute a {stat} from"))
}

fn fit(table: &Table, params: &Params) -> Result<State, NodeError> {
    let mut plan = gather_plan(table, params, false)?;
    gather(&table.frame, &mut plan)?;
    actions(table, params, plan)
}

/// Fits on a streamed table: what each column needs gathered over its batches, in row order.
fn fit_stream(stream: &TableStream, ctx: &NodeContext<'_>) -> Result<State, NodeError> {
    let meta = stream.head(0)?;
    let mut plan = gather_plan(&meta, ctx.params, true)?;
    for batch in ctx.read(stream, "statistics")? {
        gather(&batch?, &mut plan)?;
    }
    let ranges: Vec<(String, usize, f64, f64)> = plan
        .iter()
        .filter_map(|(name, g)| match g {
            Gather::Range { n, min, max } => Some((name.clone(), *n, *min, *max)),
            _ => None,
        })
        .collect();
    let mut pass = |n: usize| ctx.read(stream, &format!("median pass {n}"));
    let medians = exact_medians(&mut pass, &ranges, MEDIAN_HELD)?;
    let mut state = actions(&meta, ctx.params, plan)?;
    for ((name, _, _, _), median) in ranges.iter().zip(medians) {
        let value = median.ok_or_else(|| no_values(name, "median"))?;
        state.columns.insert(name.clone(), Action::FillNumber { value });
    }
    Ok(state)
}

/// Bins of a histogram pass of [`exact_medians`].
const MEDIAN_BINS: usize = 4096;
/// Values a last pass of [`exact_medians`] holds per column at most (in a run).
const MEDIAN_HELD: usize = 1 << 20;

/// The exact median of each column (`None` for one without values), in memory bounded by [`MEDIAN_HELD`]
/// values a column whatever the table's size: given each column's count and range, every pass counts the values
/// in equal-width bins of the range that still holds the two middle values and narrows it to the bins holding
/// them, until few enough values lie in it to be held and sorted (or all are equal). Usually two passes; the
/// result is the very number an in-memory median gives (the middle value, or the midpoint of the two).
fn exact_medians<'s>(
    read: &mut dyn FnMut(usize) -> Result<pipewright_engine::Batches<'s>, NodeError>,
    ranges: &[(String, usize, f64, f64)],
    held_at_most: usize,
) -> Result<Vec<Option<f64>>, NodeError> {
    struct Search {
        /// The ranks (0-based, among the present values) of the two middle values.
        ranks: (usize, usize),
        /// The range that holds them, and how many values lie below it.
        low: f64,
        high: f64,
        below: usize,
        /// The values in the range, held once few enough.
        held: Option<Vec<f64>>,
        done: Option<f64>,
    }
    let mut searches: Vec<Search> = ranges
        .iter()
        .map(|&(_, n, min, max)| Search {
            ranks: ((n.max(1) - 1) / 2, n / 2),
            low: min,
            high: max,
            below: 0,
            held: None,
            done: None,
        })
        .collect();
    for (search, &(_, n, _, _)) in searches.iter_mut().zip(ranges) {
        if n == 0 {
            search.done = Some(f64::NAN);
        } else if search.low == search.high {
            search.done = Some(search.low);
        } else if !(search.high - search.low).is_finite() {
            // Infinite values: no bins to count in; the values are held.
            search.held = Some(Vec::new());
        }
    }
    let mut pass = 0;
    while searches.iter().any(|s| s.done.is_none()) {
        pass += 1;
        // Counts per bin, with each bin's smallest and largest value; or the values, once they are few.
        let mut bins: Vec<Vec<(usize, f64, f64)>> = searches
            .iter()
            .map(|s| if s.done.is_some() || s.held.is_some() { Vec::new() } else { vec![(0, f64::INFINITY, f64::NEG_INFINITY); MEDIAN_BINS] })
            .collect();
        for batch in read(pass)? {
            let batch = batch?;
            for ((search, bins), (name, _, _, _)) in searches.iter_mut().zip(&mut bins).zip(ranges) {
                if search.done.is_some() {
                    continue;
                }
                let (low, high) = (search.low, search.high);
                let values = nan_values(&batch, name)?;
                let inside = values.into_iter().filter(|v| !v.is_nan() && *v >= low && *v <= high);
                if let Some(held) = &mut search.held {
                    held.extend(inside);
                } else {
                    let scale = MEDIAN_BINS as f64 / (high - low);
                    for v in inside {
                        let bin = (((v - low) * scale) as usize).min(MEDIAN_BINS - 1);
                        let (count, min, max) = &mut bins[bin];
                        *count += 1;
                        *min = min.min(v);
                        *max = max.max(v);
                    }
                }
            }
        }
        for (search, bins) in searches.iter_mut().zip(bins) {
            if search.done.is_some() {
                continue;
            }
            if let Some(mut held) = search.held.take() {
                held.sort_by(f64::total_cmp);
                let (a, b) = (search.ranks.0 - search.below, search.ranks.1 - search.below);
                search.done = Some(if a == b { held[a] } else { f64::midpoint(held[a], held[b]) });
                continue;
            }
            // The bins that hold the two middle ranks, and the values below the first of them.
            let (mut seen, mut first, mut last) = (search.below, None, None);
            for (i, &(count, _, _)) in bins.iter().enumerate() {
                if first.is_none() && seen + count > search.ranks.0 {
                    first = Some((i, seen));
                }
                if seen + count > search.ranks.1 {
                    last = Some(i);
                    break;
                }
                seen += count;
            }
            let (Some((first, below)), Some(last)) = (first, last) else {
                return Err(NodeError::data("the median's values changed between passes over the table"));
            };
            if first != last {
                // Two middle values in different bins are neighbours: the largest value of the first bin and
                // the smallest of the second.
                search.done = Some(f64::midpoint(bins[first].2, bins[last].1));
                continue;
            }
            let (inside, low, high) = bins[first];
            (search.low, search.high, search.below) = (low, high, below);
            if low == high {
                search.done = Some(low);
            } else if inside <= held_at_most {
                search.held = Some(Vec::with_capacity(inside));
            }
        }
    }
    Ok(searches.into_iter().map(|s| s.done.filter(|v| !v.is_nan())).collect())
}

fn replay(state: &State, table: Table) -> Result<Table, NodeError> {
    let facts = Table { frame: DataFrame::empty(), ..table };
    let frame = table.frame;
    // First what each column needs, read from the frame; then the numeric fills in the columns' own buffers.
    let mut fills: BTreeMap<&str, f64> = BTreeMap::new();
    let mut texts: BTreeMap<&str, Column> = BTreeMap::new();
    let mut drop_rows: Option<BooleanChunked> = None;
    let mut drop_columns: Vec<&str> = Vec::new();
    for (name, action) in &state.columns {
        let column = match (frame.column(name), action) {
            (Ok(column), _) => column,
            (Err(_), Action::RemoveColumn) => continue,
            (Err(_), _) => return Err(crate::frame::missing_column(&frame, name)),
        };
        match action {
            // Columns without missing cells keep their type.
            Action::FillNumber { value } if missing_count(column)? > 0 => {
                if !matches!(ColumnType::of(column.dtype()), ColumnType::Numeric | ColumnType::Bool) {
                    // Reuses the clear "not numbers" message.
                    nan_values(&frame, name)?;
                }
                fills.insert(name, *value);
            }
            Action::FillText { value } if missing_count(column)? > 0 => {
                let filled: Vec<String> =
                    text_values(&frame, name)?.into_iter().map(|v| v.unwrap_or_else(|| value.clone())).collect();
                texts.insert(name, Column::new(name.as_str().into(), filled));
            }
            Action::FillNumber { .. } | Action::FillText { .. } => {}
            Action::RemoveRow => {
                let missing = missing_mask(column)?;
                drop_rows = Some(match drop_rows {
                    Some(m) => &m | &missing,
                    None => missing,
                });
            }
            Action::RemoveColumn => drop_columns.push(name),
        }
    }
    let mut frame = crate::frame::map_columns(frame, |column| {
        if let Some(text) = texts.remove(column.name().as_str()) {
            return Ok(text);
        }
        let Some(&value) = fills.get(column.name().as_str()) else { return Ok(column) };
        let dtype = column.dtype().clone();
        // Missing cells are nulls, and NaN in a float column.
        let filled = crate::frame::rewrite_f64(column, |values, validity| {
            for (i, x) in values.iter_mut().enumerate() {
                if x.is_nan() || validity.as_ref().is_some_and(|v| !v.get_bit(i)) {
                    *x = value;
                }
            }
            None
        })?;
        // Filled integer columns stay integers when the fill value is whole.
        Ok(if dtype.is_integer() && value.fract() == 0.0 { filled.cast(&dtype)? } else { filled })
    })?;
    for name in drop_columns {
        frame = frame.drop(name)?;
    }
    if let Some(mask) = drop_rows {
        frame = frame.filter(&!&mask)?;
    }
    Ok(facts.with_frame(frame))
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        match self.columns.values().find(|a| matches!(a, Action::FillNumber { value } if !value.is_finite())) {
            Some(_) => Err("a fill value is not a finite number".into()),
            None => Ok(()),
        }
    }
}

impl Replay for CleanMissingData {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table.clone())
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        state
            .columns
            .iter()
            .map(|(column, action)| {
                let (reads, missing, outputs) = match action {
                    Action::FillNumber { .. } => (Reads::Number, MissingCells::Filled, vec![column.clone()]),
                    Action::FillText { .. } => (Reads::Text, MissingCells::Filled, vec![column.clone()]),
                    Action::RemoveRow => (Reads::Any, MissingCells::RowRemoved, vec![column.clone()]),
                    Action::RemoveColumn => (Reads::Any, MissingCells::Filled, Vec::new()),
                };
                ColumnUse { column: column.clone(), reads, missing, outputs }
            })
            .collect()
    }

    fn restricted(&self, state: &State, keep: &BTreeSet<String>) -> Option<State> {
        let mut state = state.clone();
        state.columns.retain(|name, _| keep.contains(name));
        Some(state)
    }
}

impl NodeKind for CleanMissingData {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            CleanMissingData::ID,
            "Clean Missing Data",
            Category::Transform,
            "Fills missing cells with the column's mean, median, most frequent value or a constant, or removes the rows or columns that have them. Text columns, which have no mean or median, are filled with their most frequent value.",
        )
        .input("data", PortType::Table, "The table")
        .param("columns", "Columns", ParamKind::ColumnList { port: "data" }, json!([]), "The columns to clean; empty cleans every column.")
        .param("mode", "Cleaning mode", choice(&["mean", "median", "mode", "constant", "remove_row", "remove_column"]), json!("mean"), "How to clean.")
        .param("replacement", "Replacement value", ParamKind::Text, json!("0"), "Used by the constant mode.")
        .output("data", PortType::Table, "The cleaned table")
        .output("transform", PortType::Transform, "The fitted cleaning, to apply to other data")
    }

    fn output_schemas(&self, inputs: &[Option<Schema>], params: &Params, _env: &SchemaEnv<'_>) -> Vec<Option<Schema>> {
        // Removing columns depends on the data; everything else keeps the columns.
        let schema =
            if params.text("mode").ok() == Some("remove_column") { None } else { inputs.first().cloned().flatten() };
        vec![schema, None]
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = match ctx.rows("data")? {
            Rows::Table(table) => table,
            // Streamed: fitted over the batches, then applied to each batch as it passes.
            Rows::Stream(stream) => {
                let state = fit_stream(&stream, ctx)?;
                return super::fitted_stream_outputs(CleanMissingData::ID, "Clean Missing Data", state, &stream);
            }
        };
        let state = fit(&table, ctx.params)?;
        drop(table);
        let cleaned = replay(&state, ctx.take_table("data")?)?;
        super::fitted_outputs(CleanMissingData::ID, "Clean Missing Data", state, cleaned)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn medians_over_passes_equal_the_in_memory_median_in_bounded_memory() {
        use pipewright_engine::{FrameBatches, TableStream};
        let mut rng = pipewright_engine::rng::SplitMix64::new(0x1234_5678_9abc_def1);
        let spread: Vec<f64> = (0..20_001).map(|_| rng.next_f64() * 1e6 - 3e5).collect();
        let even: Vec<f64> = spread[..20_000].to_vec();
        let extremes: Vec<f64> = (0..10_000).map(|i| if i < 5000 { -7.0 } else { 9.0 }).collect();
        let ties: Vec<f64> = (0..9999).map(|i| f64::from(i % 3)).collect();
        let tiny_gaps: Vec<f64> = (0..5000).map(|i| 1.0 + f64::from(i) * 1e-12).collect();
        let infinite: Vec<f64> = (0..101).map(|i| if i == 0 { f64::INFINITY } else { f64::from(i) }).collect();
        let same = vec![4.25; 777];
        for (case, values) in [
            ("spread", spread),
            ("even", even),
            ("extremes", extremes),
            ("ties", ties),
            ("tiny gaps", tiny_gaps),
            ("infinite", infinite),
            ("same", same),
        ] {
            let mut sorted = values.clone();
            let expected = statistic(&mut sorted, "median").expect("values");
            let n = values.len();
            let (min, max) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
            // Missing cells too, which are not values.
            let column: Vec<Option<f64>> = values.iter().enumerate().flat_map(|(i, v)| [Some(*v)].into_iter().chain((i % 10 == 0).then_some(None))).collect();
            let frame = DataFrame::new(column.len(), vec![Column::new("x".into(), column)]).expect("frame");
            let stream = TableStream::new(std::sync::Arc::new(FrameBatches::new(frame, 997)));
            let mut passes = 0;
            let mut read = |_: usize| {
                passes += 1;
                stream.batches()
            };
            let found = exact_medians(&mut read, &[("x".into(), n, min, max)], 64).expect("medians");
            assert_eq!(found, vec![Some(expected)], "{case}");
            assert!(passes <= 6, "{case}: {passes} passes");
        }
        let mut read = |_: usize| -> Result<pipewright_engine::Batches<'static>, NodeError> { unreachable!("no pass") };
        let none = exact_medians(&mut read, &[("x".into(), 0, f64::INFINITY, f64::NEG_INFINITY)], 64).expect("medians");
        assert_eq!(none, vec![None], "a column without values has no median");
    }

    use super::*;

    #[test]
    fn statistics_follow_pandas() {
        assert_eq!(statistic(&mut [3.0, 1.0, 2.0, 10.0], "median"), Some(2.5));
        assert_eq!(statistic(&mut [3.0, 1.0, 3.0, 1.0, 2.0], "mode"), Some(1.0), "ties go to the smallest value");
        assert_eq!(statistic(&mut [1.0, 2.0, 6.0], "mean"), Some(3.0));
        let frame = DataFrame::new_infer_height(vec![Column::new(
            "t".into(),
            [Some("b"), Some("a"), None, Some("b"), Some("a")],
        )])
        .expect("a frame");
        let table = Table::new(frame);
        let params = Params::from_map(
            [("mode".to_owned(), json!("mode")), ("columns".to_owned(), json!(["t"]))].into_iter().collect(),
        );
        let mut plan = gather_plan(&table, &params, false).expect("a plan");
        gather(&table.frame, &mut plan).expect("gathers");
        let state = actions(&table, &params, plan).expect("fits");
        assert_eq!(state.columns["t"], Action::FillText { value: "a".into() }, "ties go to the smallest");
    }
}
