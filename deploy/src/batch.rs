//! Batch scoring: a CSV or Parquet file in, the same rows with predictions out.

use std::path::Path;
use std::time::{Duration, Instant};

use pipewright_engine::Table;
use pipewright_nodes::deploy::{Package, ScoreError, fields};

/// What a batch scoring did.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSummary {
    /// Rows scored.
    pub rows: usize,
    /// Columns added.
    pub added: Vec<String>,
    /// Time spent reading, scoring and writing.
    pub duration: Duration,
}

/// Scores `input` (CSV, Parquet, JSON or NDJSON by its extension) with `package` and writes the rows with
/// their predictions to `output` (Parquet when it ends in `.parquet`, else CSV; written atomically), or
/// returns them when `output` is `None`.
pub fn score_file(package: &Package, input: &Path, output: Option<&Path>) -> Result<(Table, BatchSummary), String> {
    let started = Instant::now();
    let frame = pipewright_nodes::data::read_file(input).map_err(|e| e.to_string())?;
    let table = Table::new(frame);
    let width = table.frame.width();
    let scored = package.score_table(&table).map_err(|e| match e {
        ScoreError::Invalid(problems) => format!(
            "{} does not fit the package \"{}\": {}",
            input.display(),
            package.manifest.name,
            fields::describe_rows(&problems)
        ),
        ScoreError::Failed(e) => e.to_string(),
    })?;
    if let Some(output) = output {
        let parquet = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        pipewright_nodes::data::write_table(&scored, output, parquet, true).map_err(|e| e.to_string())?;
    }
    let added = scored.frame.get_column_names().iter().skip(width).map(ToString::to_string).collect();
    let summary = BatchSummary { rows: scored.height(), added, duration: started.elapsed() };
    Ok((scored, summary))
}
