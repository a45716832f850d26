//! Extract N-Gram Features: a text column becomes one column per word n-gram of a vocabulary learned from the
//! rows: counts, or TF-IDF weights, as scikit-learn's `CountVectorizer` and `TfidfVectorizer` compute them
//! (tokens of two or more word characters, lower-cased; smoothed IDF; rows scaled to unit length).

use std::collections::{BTreeSet, HashMap};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::{choice, int};
use pipewright_engine::{
    Category, ColumnType, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Value,
};

use super::{ColumnUse, MissingCells, Reads, Replay, TransformState};

/// Turns a text column into n-gram columns.
pub struct ExtractNGramFeatures;

impl ExtractNGramFeatures {
    /// The kind id.
    pub const ID: &'static str = "transform.extract_ngram_features";
}

/// The fitted step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    column: String,
    /// The n-grams, in column order (alphabetical).
    vocabulary: Vec<String>,
    /// Inverse document frequencies, one per n-gram, for TF-IDF; none for counts.
    idf: Option<Vec<f64>>,
    min_n: usize,
    max_n: usize,
    keep: bool,
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        if self.idf.as_ref().is_some_and(|idf| idf.len() != self.vocabulary.len()) {
            return Err("the IDF weights do not match the vocabulary".into());
        }
        if self.min_n == 0 || self.min_n > self.max_n {
            return Err(format!("the n-gram range {}–{} is not a range", self.min_n, self.max_n));
        }
        Ok(())
    }
}

/// The tokens of a text as scikit-learn's default pattern finds them (`(?u)\b\w\w+\b`): runs of two or more
/// letters, digits or underscores, lower-cased.
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    lower.split(|c: char| !word(c)).filter(|t| t.chars().count() >= 2).map(str::to_owned).collect()
}

/// The word n-grams of a text, from `min_n` to `max_n` words, in scikit-learn's order.
pub fn ngrams(text: &str, min_n: usize, max_n: usize) -> Vec<String> {
    let words = tokens(text);
    let mut out = Vec::new();
    for n in min_n..=max_n {
        if n == 0 || n > words.len() {
            continue;
        }
        out.extend(words.windows(n).map(|w| w.join(" ")));
    }
    out
}

/// Learns the vocabulary: n-grams in at least `min_df` rows, the `max_terms` most frequent over all rows when
/// there are more (ties by alphabetical order), sorted alphabetically; and the smoothed IDF when asked.
fn fit(texts: &[Option<&str>], min_n: usize, max_n: usize, min_df: usize, max_terms: usize, tfidf: bool) -> Result<(Vec<String>, Option<Vec<f64>>), String> {
    let mut df: HashMap<String, usize> = HashMap::new();
    let mut total: HashMap<String, usize> = HashMap::new();
    for text in texts.iter().flatten() {
        let grams = ngrams(text, min_n, max_n);
        for g in &grams {
            *total.entry(g.clone()).or_default() += 1;
        }
        for g in grams.into_iter().collect::<BTreeSet<_>>() {
            *df.entry(g).or_default() += 1;
        }
    }
    let mut kept: Vec<(String, usize)> = df.iter().filter(|(_, d)| **d >= min_df).map(|(g, _)| (g.clone(), total[g])).collect();
    if kept.is_empty() {
        let most = df.values().max().copied().unwrap_or(0);
        return Err(format!(
            "the vocabulary is empty: no n-gram appears in at least {min_df} rows (the most common appears in {most}); lower the minimum document frequency"
        ));
    }
    if kept.len() > max_terms {
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        kept.truncate(max_terms);
    }
    let mut vocabulary: Vec<String> = kept.into_iter().map(|(g, _)| g).collect();
    vocabulary.sort();
    let rows = texts.len() as f64;
    let idf = tfidf.then(|| vocabulary.iter().map(|g| ((1.0 + rows) / (1.0 + df[g] as f64)).ln() + 1.0).collect());
    Ok((vocabulary, idf))
}

/// The n-gram columns of a table's text column, replacing it (or after it, when kept).
fn replay(state: &State, table: &Table) -> Result<Table, NodeError> {
    let source = table.frame.column(&state.column).map_err(|_| {
        NodeError::data(format!("no text column \"{}\" to take the n-grams of", state.column))
    })?;
    let texts = source.cast(&DataType::String)?;
    let texts = texts.str()?;
    let index: HashMap<&str, usize> = state.vocabulary.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
    let height = table.frame.height();
    let width = state.vocabulary.len();
    let mut values = vec![0.0_f64; height * width];
    for (row, text) in texts.iter().enumerate() {
        let Some(text) = text else { continue };
        let cells = &mut values[row * width..(row + 1) * width];
        for g in ngrams(text, state.min_n, state.max_n) {
            if let Some(&j) = index.get(g.as_str()) {
                cells[j] += 1.0;
            }
        }
        if let Some(idf) = &state.idf {
            for (cell, w) in cells.iter_mut().zip(idf) {
                *cell *= w;
            }
            unit_length(cells);
        }
    }
    let names: Vec<String> = state.vocabulary.iter().map(|g| format!("{}_{g}", state.column)).collect();
    with_text_columns(table, &state.column, state.keep, &names, &values)
}

/// Scales a row to unit length (L2); a row of zeros stays as it is.
pub(super) fn unit_length(cells: &mut [f64]) {
    let norm = cells.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in cells.iter_mut() {
            *x /= norm;
        }
    }
}

/// The table with the text column `column` replaced (or followed, when kept) by the columns `names`, whose
/// values are `values`, row after row.
pub(super) fn with_text_columns(
    table: &Table,
    column: &str,
    keep: bool,
    names: &[String],
    values: &[f64],
) -> Result<Table, NodeError> {
    let (height, width) = (table.frame.height(), names.len());
    let mut columns: Vec<Column> = Vec::with_capacity(table.frame.width() + width);
    for existing in table.frame.columns() {
        if existing.name().as_str() != column {
            columns.push(existing.clone());
            continue;
        }
        if keep {
            columns.push(existing.clone());
        }
        for (j, name) in names.iter().enumerate() {
            let column_values: Vec<f64> = (0..height).map(|row| values[row * width + j]).collect();
            columns.push(Column::new(name.as_str().into(), column_values));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = columns.iter().map(|c| c.name().to_string()).find(|n| !seen.insert(n.clone())) {
        return Err(NodeError::data(format!("the table already has a column \"{twice}\": rename it first (Edit Metadata)")));
    }
    Ok(table.with_frame(DataFrame::new(height, columns)?))
}

/// The text column and n-gram range a text block's parameters name, checked.
pub(super) fn text_settings(ctx: &NodeContext<'_>, table: &Table) -> Result<(String, usize, usize), NodeError> {
    let column = ctx.params.column("column")?;
    let source = table
        .frame
        .column(column)
        .map_err(|_| NodeError::param("column", format!("no column \"{column}\" in the table")))?;
    if ColumnType::of(source.dtype()) != ColumnType::Text {
        return Err(NodeError::param("column", format!("column \"{column}\" holds {}, not text", source.dtype())));
    }
    let (min_n, max_n) = (ctx.params.count("min_n")?, ctx.params.count("max_n")?);
    if min_n > max_n {
        return Err(NodeError::param("max_n", format!("the longest n-gram ({max_n}) is shorter than the shortest ({min_n})")));
    }
    Ok((column.to_owned(), min_n, max_n))
}

impl Replay for ExtractNGramFeatures {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table)
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        let mut outputs: Vec<String> = state.vocabulary.iter().map(|g| format!("{}_{g}", state.column)).collect();
        if state.keep {
            outputs.push(state.column.clone());
        }
        // Missing text has no n-grams: every column 0.
        vec![ColumnUse { column: state.column.clone(), reads: Reads::Text, missing: MissingCells::Filled, outputs }]
    }

    fn restricted(&self, state: &State, keep: &BTreeSet<String>) -> Option<State> {
        // One column in, many out: replayed whole or not at all.
        keep.contains(&state.column).then(|| state.clone())
    }
}

impl NodeKind for ExtractNGramFeatures {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Extract N-Gram Features",
            Category::Transform,
            "Turns a text column into one numeric column per word n-gram of a vocabulary learned from these rows, named COLUMN_NGRAM: how often each occurs (counts), or TF-IDF weights, as scikit-learn's CountVectorizer and TfidfVectorizer compute them (words of two or more letters or digits, lower-cased; IDF ln((1 + rows) / (1 + rows with it)) + 1; each row scaled to unit length). The fitted vocabulary is replayed on other data and by model packages.",
        )
        .input("data", PortType::Table, "The table")
        .required_param("column", "Text column", ParamKind::Column { port: "data" }, "The column of text.")
        .param("weighting", "Weighting", choice(&["tfidf", "count"]), json!("tfidf"), "tfidf: TF-IDF weights, each row of unit length; count: how many times each n-gram occurs.")
        .param("min_n", "Shortest n-gram", int(1, 5), json!(1), "Words per n-gram, at least.")
        .param("max_n", "Longest n-gram", int(1, 5), json!(2), "Words per n-gram, at most.")
        .param("min_df", "Minimum document frequency", int(1, i64::from(u32::MAX)), json!(2), "An n-gram must occur in at least this many rows.")
        .param("max_terms", "Vocabulary size", int(1, 100_000), json!(2000), "At most this many n-grams, the most frequent over all rows (each becomes a column).")
        .param("keep", "Keep the text column", ParamKind::Bool, json!(false), "On: the text column stays beside its n-grams.")
        .output("data", PortType::Table, "The table with n-gram columns")
        .output("transform", PortType::Transform, "The fitted vocabulary, to apply to other data")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let (column, min_n, max_n) = text_settings(ctx, &table)?;
        let source = table.frame.column(&column)?;
        let texts = source.str()?;
        let texts: Vec<Option<&str>> = texts.iter().collect();
        let tfidf = ctx.params.text("weighting")? == "tfidf";
        let (vocabulary, idf) = fit(&texts, min_n, max_n, ctx.params.count("min_df")?, ctx.params.count("max_terms")?, tfidf)
            .map_err(|e| NodeError::param("min_df", e))?;
        let state = State { column, vocabulary, idf, min_n, max_n, keep: ctx.params.bool("keep")? };
        let out = replay(&state, &table)?;
        super::fitted_outputs(Self::ID, "Extract N-Gram Features", state, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_ngrams_as_scikit_learn_finds_them() {
        assert_eq!(tokens("Free entry: WIN a £1000 prize!! _x_ a1"), ["free", "entry", "win", "1000", "prize", "_x_", "a1"]);
        assert_eq!(ngrams("Go until jurong point", 1, 2), ["go", "until", "jurong", "point", "go until", "until jurong", "jurong point"]);
        assert!(ngrams("a", 1, 2).is_empty());
    }

    #[test]
    fn vocabulary_idf_and_an_empty_vocabulary() {
        let texts = [Some("spam spam eggs"), Some("eggs ham"), None, Some("ham ham ham spam")];
        let (vocabulary, idf) = fit(&texts, 1, 1, 2, 10, true).expect("fits");
        assert_eq!(vocabulary, ["eggs", "ham", "spam"]);
        // Four rows (a missing one counts as a row without any n-gram), each n-gram in two.
        let expected = (5.0_f64 / 3.0).ln() + 1.0;
        assert!(idf.expect("idf").iter().all(|w| (w - expected).abs() < 1e-15));
        // The two most frequent over all rows: ham (4), spam (3).
        assert_eq!(fit(&texts, 1, 1, 1, 2, false).expect("fits").0, ["ham", "spam"]);
        let err = fit(&texts, 1, 1, 4, 10, false).expect_err("empty");
        assert!(err.contains("no n-gram appears in at least 4 rows (the most common appears in 2)"), "{err}");
    }
}
