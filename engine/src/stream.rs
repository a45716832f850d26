//! Tables too large to hold: a [`TableStream`] is a source of row batches (a file read a block at a time)
//! and the row-wise steps of the blocks it passed through, applied batch by batch when something reads it. A
//! chain of row-wise blocks is so fused into one pass over the file, and memory holds a batch, not the table.
//!
//! Blocks that need every row at once read a stream through [`NodeContext::table`](crate::NodeContext::table),
//! which collects it; blocks that work row by row add a step ([`TableStream::then`]); Export Data writes it
//! batch by batch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use polars::prelude::DataFrame;
use serde_json::Value as Json;

use crate::error::NodeError;
use crate::schema::Role;
use crate::value::Table;

/// Batches of rows, in file order.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<DataFrame, NodeError>> + Send + 'a>;

/// Batches with the number of source rows each came from (before any filter).
pub type CountedBatches<'a> = Box<dyn Iterator<Item = Result<(DataFrame, usize), NodeError>> + Send + 'a>;

/// Where a stream's rows come from.
pub trait BatchSource: Send + Sync + std::fmt::Debug {
    /// The rows, a batch at a time, from the start; every batch has the same columns and types.
    fn batches(&self) -> Result<Batches<'_>, NodeError>;
    /// What it reads, for messages ("titanic.csv").
    fn describe(&self) -> String;
    /// About how many rows it holds, when that is known or cheap to estimate (for progress and time left).
    fn rows_hint(&self) -> Option<usize> {
        None
    }
}

/// A row-wise step: a batch in, the same rows transformed (or some of them kept) out.
pub type Step = Arc<dyn Fn(DataFrame) -> Result<DataFrame, NodeError> + Send + Sync>;

/// A step that remembers what it saw in earlier batches of one pass (a running row number, counts per
/// stratum): batches come to it in order, so what it does to a row does not depend on how rows were batched.
pub type PassStep = Box<dyn FnMut(DataFrame) -> Result<DataFrame, NodeError> + Send>;

/// Makes a fresh [`PassStep`] for every pass over the stream.
pub type PassStepMaker = Arc<dyn Fn() -> PassStep + Send + Sync>;

/// A stage as one pass runs it.
enum Live<'a> {
    Plain(&'a Step),
    Pass(PassStep),
}

#[derive(Clone)]
enum Stage {
    Plain(Step),
    PerPass(PassStepMaker),
}

/// A table read from its source a batch at a time.
#[derive(Clone)]
pub struct TableStream {
    source: Arc<dyn BatchSource>,
    steps: Vec<Stage>,
    /// Roles of columns that are not plain features.
    pub roles: BTreeMap<String, Role>,
    /// Numeric columns marked categorical.
    pub categorical: BTreeSet<String>,
    /// Facts blocks leave for later blocks.
    pub attributes: BTreeMap<String, Json>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{IntoColumn as _, NamedFrom as _, Series};

    #[test]
    fn a_page_is_the_rows_it_names_for_any_batching() {
        let ids: Vec<i64> = (0..1000).collect();
        let frame = DataFrame::new(1000, vec![Series::new("id".into(), ids).into_column()]).expect("frame");
        for batch in [1, 7, 100, 1000] {
            let stream = TableStream::new(Arc::new(FrameBatches::new(frame.clone(), batch)));
            for (start, rows) in [(0, 10), (95, 10), (990, 50), (1000, 10), (3, 0)] {
                let page = stream.page(start, rows).expect("reads");
                let expected = frame.slice(i64::try_from(start).expect("start"), rows);
                assert!(page.frame.equals(&expected), "rows {start}+{rows} in batches of {batch}: {:?}", page.frame);
            }
        }
    }
}

/// Rows already in memory, handed out in batches of a fixed number of rows: a stream over a table, for tests of
/// how a block behaves on any batching and for shards of a table.
#[derive(Debug)]
pub struct FrameBatches {
    frame: DataFrame,
    rows: usize,
}

impl FrameBatches {
    /// `frame` in batches of `rows` rows (at least one).
    pub fn new(frame: DataFrame, rows: usize) -> Self {
        Self { frame, rows: rows.max(1) }
    }
}

impl BatchSource for FrameBatches {
    fn batches(&self) -> Result<Batches<'_>, NodeError> {
        let height = self.frame.height();
        let starts = (0..height.max(1)).step_by(self.rows);
        Ok(Box::new(starts.map(move |start| Ok(self.frame.slice(i64::try_from(start).unwrap_or(i64::MAX), self.rows)))))
    }

    fn describe(&self) -> String {
        format!("a table of {} rows", self.frame.height())
    }

    fn rows_hint(&self) -> Option<usize> {
        Some(self.frame.height())
    }
}

impl std::fmt::Debug for TableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableStream")
            .field("source", &self.source)
            .field("steps", &self.steps.len())
            .field("roles", &self.roles)
            .field("categorical", &self.categorical)
            .field("attributes", &self.attributes)
            .finish()
    }
}

impl TableStream {
    /// The rows of `source`, untransformed.
    pub fn new(source: Arc<dyn BatchSource>) -> Self {
        Self {
            source,
            steps: Vec::new(),
            roles: BTreeMap::new(),
            categorical: BTreeSet::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// The same stream with one more row-wise step; roles and marks are the caller's to adjust.
    #[must_use]
    pub fn then(&self, step: Step) -> Self {
        let mut next = self.clone();
        next.steps.push(Stage::Plain(step));
        next
    }

    /// The same stream with one more step that starts afresh on every pass and sees the batches in order.
    #[must_use]
    pub fn then_per_pass(&self, make: PassStepMaker) -> Self {
        let mut next = self.clone();
        next.steps.push(Stage::PerPass(make));
        next
    }

    /// The stream with `f` applied to every batch as a table with this stream's roles and marks. The result
    /// has the roles, marks and attributes `f` gives the first row (read now, so a problem shows at once).
    pub fn map_tables(
        &self,
        f: impl Fn(&Table) -> Result<Table, NodeError> + Send + Sync + 'static,
    ) -> Result<Self, NodeError> {
        let first = f(&self.head(1)?)?;
        let meta = self.clone();
        let mut out = self.then(Arc::new(move |frame| Ok(f(&meta.table_of(frame))?.frame)));
        out.roles = first.roles;
        out.categorical = first.categorical;
        out.attributes = first.attributes;
        Ok(out)
    }

    /// What it reads, for messages.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The batches with every step applied; empty batches are passed on (a filter may keep no row of one).
    pub fn batches(&self) -> Result<Batches<'_>, NodeError> {
        Ok(Box::new(self.counted_batches()?.map(|batch| batch.map(|(frame, _)| frame))))
    }

    /// About how many rows the source holds (before any filter), when it knows.
    pub fn rows_hint(&self) -> Option<usize> {
        self.source.rows_hint()
    }

    /// The batches with every step applied, each with the number of source rows it came from.
    pub fn counted_batches(&self) -> Result<CountedBatches<'_>, NodeError> {
        let source = self.source.batches()?;
        let mut live: Vec<Live<'_>> = self
            .steps
            .iter()
            .map(|stage| match stage {
                Stage::Plain(step) => Live::Plain(step),
                Stage::PerPass(make) => Live::Pass(make()),
            })
            .collect();
        Ok(Box::new(source.map(move |batch| {
            let batch = batch?;
            let read = batch.height();
            let frame = live.iter_mut().try_fold(batch, |frame, step| match step {
                Live::Plain(step) => step(frame),
                Live::Pass(step) => step(frame),
            })?;
            Ok((frame, read))
        })))
    }

    /// The metadata of this stream on a frame: a table of the same roles and marks.
    pub fn table_of(&self, frame: DataFrame) -> Table {
        let meta = Table {
            frame: DataFrame::default(),
            roles: self.roles.clone(),
            categorical: self.categorical.clone(),
            attributes: self.attributes.clone(),
        };
        meta.with_frame(frame)
    }

    /// Every row in memory: the batches stacked.
    pub fn collect(&self) -> Result<Table, NodeError> {
        let mut frame = self.stacked(usize::MAX)?;
        frame.rechunk_mut();
        Ok(self.table_of(frame))
    }

    /// The first rows (at most `rows`), for previews: reads only as many batches as it takes.
    pub fn head(&self, rows: usize) -> Result<Table, NodeError> {
        Ok(self.table_of(self.stacked(rows)?.head(Some(rows))))
    }

    /// Rows `start..start + rows` (fewer at the end), for a viewer that pages through the table: the batches
    /// before them are read and dropped, the ones after them not read at all.
    pub fn page(&self, start: usize, rows: usize) -> Result<Table, NodeError> {
        let mut seen = 0usize;
        let mut page: Option<DataFrame> = None;
        for batch in self.batches()? {
            let batch = batch?;
            let (from, to) = (seen, seen + batch.height());
            seen = to;
            if page.is_none() && to <= start && to > 0 {
                continue;
            }
            let skip = start.saturating_sub(from).min(batch.height());
            let wanted = (start + rows).saturating_sub(from.max(start));
            let part = batch.slice(i64::try_from(skip).unwrap_or(i64::MAX), wanted);
            match &mut page {
                None => page = Some(part),
                Some(all) => {
                    all.vstack_mut(&part)?;
                }
            }
            if seen >= start + rows {
                break;
            }
        }
        match page {
            Some(page) => Ok(self.table_of(page)),
            // Past the end: no rows, with the columns.
            None => self.head(0),
        }
    }

    /// The batches stacked until they hold at least `rows` rows (all of them for `usize::MAX`); the first batch
    /// always, so an empty result still has the columns.
    fn stacked(&self, rows: usize) -> Result<DataFrame, NodeError> {
        let mut frame: Option<DataFrame> = None;
        for batch in self.batches()? {
            let batch = batch?;
            match &mut frame {
                None => frame = Some(batch),
                Some(all) => {
                    all.vstack_mut(&batch)?;
                }
            }
            if frame.as_ref().is_some_and(|f| f.height() >= rows) {
                break;
            }
        }
        Ok(frame.unwrap_or_default())
    }
}
