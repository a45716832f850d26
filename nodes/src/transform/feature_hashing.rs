//! Feature Hashing: a text column becomes a fixed number of columns, each word n-gram counted in the column its
//! hash picks, as scikit-learn's `HashingVectorizer` computes it (signed 32-bit `MurmurHash3` of the n-gram's
//! UTF-8 bytes, seed 0; the column is |hash| mod the width; a negative hash counts −1 when signs alternate;
//! rows scaled to unit length). No vocabulary is learned, so unseen words still count.

use std::collections::BTreeSet;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use pipewright_engine::spec::int;
use pipewright_engine::{
    Category, NodeContext, NodeError, NodeKind, NodeSpec, ParamKind, PortType, Table, Value,
};

use super::ngrams::{ngrams, text_settings, unit_length, with_text_columns};
use super::{ColumnUse, MissingCells, Reads, Replay, TransformState};

/// Hashes a text column's n-grams into columns.
pub struct FeatureHashing;

impl FeatureHashing {
    /// The kind id.
    pub const ID: &'static str = "transform.feature_hashing";
}

/// The step's settings (nothing is learned from the rows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    column: String,
    bits: u32,
    min_n: usize,
    max_n: usize,
    alternate_sign: bool,
    normalize: bool,
    keep: bool,
}

impl TransformState for State {
    fn check(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.bits) {
            return Err(format!("{} bits is outside 1–20", self.bits));
        }
        if self.min_n == 0 || self.min_n > self.max_n {
            return Err(format!("the n-gram range {}–{} is not a range", self.min_n, self.max_n));
        }
        Ok(())
    }
}

/// `MurmurHash3` (x86, 32 bits) of `bytes` with `seed`.
pub fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = bytes.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0_u32;
        for (i, &b) in tail.iter().enumerate() {
            k ^= u32::from(b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The column and sign of an n-gram among `width` columns, as scikit-learn places it.
fn place(gram: &str, width: usize, alternate_sign: bool) -> (usize, f64) {
    let h = murmur3_32(gram.as_bytes(), 0).cast_signed();
    let width_i = i64::try_from(width).unwrap_or(i64::MAX);
    let index = if h == i32::MIN {
        (i64::from(i32::MAX) - (width_i - 1)).rem_euclid(width_i)
    } else {
        i64::from(h).abs() % width_i
    };
    let sign = if alternate_sign && h < 0 { -1.0 } else { 1.0 };
    (usize::try_from(index).unwrap_or(0), sign)
}

fn replay(state: &State, table: &Table) -> Result<Table, NodeError> {
    let source = table
        .frame
        .column(&state.column)
        .map_err(|_| NodeError::data(format!("no text column \"{}\" to hash", state.column)))?;
    let texts = source.cast(&DataType::String)?;
    let texts = texts.str()?;
    let width = 1_usize << state.bits;
    let height = table.frame.height();
    let mut values = vec![0.0_f64; height * width];
    for (row, text) in texts.iter().enumerate() {
        let Some(text) = text else { continue };
        let cells = &mut values[row * width..(row + 1) * width];
        for gram in ngrams(text, state.min_n, state.max_n) {
            let (j, sign) = place(&gram, width, state.alternate_sign);
            cells[j] += sign;
        }
        if state.normalize {
            unit_length(cells);
        }
    }
    let names: Vec<String> = (0..width).map(|j| output_name(&state.column, j)).collect();
    with_text_columns(table, &state.column, state.keep, &names, &values)
}

fn output_name(column: &str, j: usize) -> String {
    format!("{column}_hash_{j}")
}

impl Replay for FeatureHashing {
    type State = State;

    fn apply(&self, state: &State, table: &Table) -> Result<Table, NodeError> {
        replay(state, table)
    }

    fn column_uses(&self, state: &State) -> Vec<ColumnUse> {
        let mut outputs: Vec<String> = (0..1_usize << state.bits).map(|j| output_name(&state.column, j)).collect();
        if state.keep {
            outputs.push(state.column.clone());
        }
        vec![ColumnUse { column: state.column.clone(), reads: Reads::Text, missing: MissingCells::Filled, outputs }]
    }

    fn restricted(&self, state: &State, keep: &BTreeSet<String>) -> Option<State> {
        keep.contains(&state.column).then(|| state.clone())
    }
}

impl NodeKind for FeatureHashing {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new(
            Self::ID,
            "Feature Hashing",
            Category::Transform,
            "Turns a text column into 2^bits numeric columns named COLUMN_hash_I: each word n-gram is counted in the column its hash picks, as scikit-learn's HashingVectorizer does (signed MurmurHash3; with alternating signs a collision tends to cancel out rather than add up; each row scaled to unit length). Nothing is learned, so words never seen in training still count.",
        )
        .input("data", PortType::Table, "The table")
        .required_param("column", "Text column", ParamKind::Column { port: "data" }, "The column of text.")
        .param("bits", "Hashing bits", int(1, 20), json!(10), "The table gets 2^bits columns (10: 1,024).")
        .param("min_n", "Shortest n-gram", int(1, 5), json!(1), "Words per n-gram, at least.")
        .param("max_n", "Longest n-gram", int(1, 5), json!(2), "Words per n-gram, at most.")
        .param("alternate_sign", "Alternate signs", ParamKind::Bool, json!(true), "On: an n-gram whose hash is negative counts −1.")
        .param("normalize", "Unit length rows", ParamKind::Bool, json!(true), "On: each row is scaled to length 1 (L2).")
        .param("keep", "Keep the text column", ParamKind::Bool, json!(false), "On: the text column stays beside the hashed columns.")
        .output("data", PortType::Table, "The table with hashed columns")
        .output("transform", PortType::Transform, "The same hashing, to apply to other data")
    }

    fn run(&self, ctx: &NodeContext<'_>) -> Result<Vec<Value>, NodeError> {
        let table = ctx.table("data")?;
        let (column, min_n, max_n) = text_settings(ctx, &table)?;
        let state = State {
            column,
            bits: u32::try_from(ctx.params.count("bits")?).unwrap_or(10),
            min_n,
            max_n,
            alternate_sign: ctx.params.bool("alternate_sign")?,
            normalize: ctx.params.bool("normalize")?,
            keep: ctx.params.bool("keep")?,
        };
        let out = replay(&state, &table)?;
        super::fitted_outputs(Self::ID, "Feature Hashing", state, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_of_known_inputs() {
        // MurmurHash3_x86_32 reference values.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0), 0x2e4f_f723);
    }
}
