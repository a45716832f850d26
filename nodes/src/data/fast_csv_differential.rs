//! The purpose-built CSV reader against Polars' reader on generated files (fixed seeds): integer, decimal and
//! text columns, missing cells and markers, CRLF line ends, short rows, and blocks cut at every kind of place
//! (inside a field, on a delimiter, between `\r` and `\n`, around the 64 KiB parallel chunk size). Where the
//! purpose-built reader accepts a file, both agree cell by cell, types included. The one deliberate difference:
//! files with quotes (embedded delimiters, line breaks, escaped quotes) and other shapes it does not know are
//! declined (`None`), and Import Data then reads them with Polars itself; those files are checked to be declined,
//! and Polars' reading of them against the generated cells (a quoted empty field is an empty text there, an
//! unquoted one a missing cell). A header longer than the first block is declined too (blocks are 16 MiB).

use std::fmt::Write as _;

use pipewright_engine::rng::SplitMix64;
use polars::prelude::*;

use super::{CsvSettings, read, read_blocks};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Decimal,
    Text,
}

/// A generated file and, per column, the text of every cell (`None` when missing).
struct Generated {
    bytes: Vec<u8>,
    cells: Vec<Vec<Option<String>>>,
}

const WORDS: [&str; 8] = ["alpha", "beta", "Ωmega", "naïve", "x y", "q-1", "under_score", "z"];

fn cell(kind: Kind, rng: &mut SplitMix64) -> String {
    match kind {
        Kind::Int => {
            let magnitude: i64 = [10, 1_000, 1_000_000, 100_000_000_000_000][rng.below(4)];
            let value = (rng.next_u64() % (2 * magnitude).unsigned_abs()).cast_signed() - magnitude;
            value.to_string()
        }
        Kind::Decimal => {
            let whole = (rng.next_u64() % 100_000).cast_signed() - 50_000;
            let places = 1 + rng.below(6);
            let fraction = rng.below(10usize.pow(places as u32));
            // A whole number now and then: the column is still decimal.
            if rng.below(10) == 0 { whole.to_string() } else { format!("{whole}.{fraction:0places$}") }
        }
        Kind::Text => {
            let n = 1 + rng.below(3);
            (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect::<Vec<_>>().join("")
        }
    }
}

/// A file of `rows` rows. `quotes` adds quoted fields with delimiters, line breaks and escaped quotes in text
/// columns; `short_rows` leaves off trailing cells now and then.
fn generate(seed: u64, rows: usize, crlf: bool, quotes: bool, short_rows: bool) -> Generated {
    let mut rng = SplitMix64::new(seed);
    let kinds = [Kind::Int, Kind::Text, Kind::Decimal, Kind::Int, Kind::Text, Kind::Decimal];
    let end = if crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    let _ = write!(text, "id,name,score,count,note,ratio{end}");
    let mut cells: Vec<Vec<Option<String>>> = vec![Vec::new(); kinds.len()];
    for row in 0..rows {
        let keep =
            if short_rows && row > 0 && rng.below(8) == 0 { 1 + rng.below(kinds.len() - 1) } else { kinds.len() };
        let mut fields = Vec::new();
        for (j, kind) in kinds.iter().enumerate() {
            // Every column has a value in the first row, so that types are inferred from values.
            let (field, value) = if j >= keep {
                (None, None)
            } else if row > 0 && j > 0 && rng.below(12) == 0 {
                (Some(if rng.below(2) == 0 { String::new() } else { "NA".into() }), None)
            } else if quotes && matches!(kind, Kind::Text) && rng.below(4) == 0 {
                let inner = ["a,b", "line\nbreak", "say \"hi\"", "crlf\r\ninside", ""][rng.below(5)];
                let quoted = format!("\"{}\"", inner.replace('"', "\"\""));
                // A quoted empty field is an empty text, not a missing cell.
                (Some(quoted), Some(inner.to_owned()))
            } else {
                let v = cell(*kind, &mut rng);
                (Some(v.clone()), Some(v))
            };
            if let Some(field) = field {
                fields.push(field);
            }
            cells[j].push(value);
        }
        text.push_str(&fields.join(","));
        text.push_str(end);
    }
    Generated { bytes: text.into_bytes(), cells }
}

fn settings() -> CsvSettings {
    CsvSettings { null_markers: vec!["NA".into()], ..CsvSettings::default() }
}

fn polars(bytes: &[u8]) -> DataFrame {
    super::super::csv_reading::read_with_polars(bytes, &settings()).expect("Polars reads every generated file")
}

/// Both frames hold the same columns, types and cells.
fn assert_same(what: &str, fast: &DataFrame, reference: &DataFrame) {
    assert_eq!(fast.schema(), reference.schema(), "{what}: column names and types");
    for (a, b) in fast.columns().iter().zip(reference.columns()) {
        let (a, b) = (a.as_materialized_series(), b.as_materialized_series());
        for i in 0..a.len() {
            let (x, y) = (a.get(i).expect("in range"), b.get(i).expect("in range"));
            assert_eq!(x, y, "{what}: column \"{}\", row {}", a.name(), i + 1);
        }
    }
}

/// The frame's cells as text, to compare with the generated ones (numbers compared as numbers).
fn assert_cells(what: &str, frame: &DataFrame, cells: &[Vec<Option<String>>]) {
    for (column, expected) in frame.columns().iter().zip(cells) {
        let series = column.as_materialized_series();
        assert_eq!(series.len(), expected.len(), "{what}: rows of \"{}\"", series.name());
        for (i, want) in expected.iter().enumerate() {
            let got = series.get(i).expect("in range");
            let matches = match (&got, want) {
                (AnyValue::Null, None) => true,
                (AnyValue::String(s), Some(w)) => s == w,
                (AnyValue::Int64(v), Some(w)) => w.parse::<i64>() == Ok(*v),
                (AnyValue::Float64(v), Some(w)) => w.parse::<f64>() == Ok(*v),
                _ => false,
            };
            assert!(matches, "{what}: column \"{}\", row {}: read {got:?}, wrote {want:?}", series.name(), i + 1);
        }
    }
}

#[test]
fn simple_files_read_the_same_as_with_polars_cell_by_cell() {
    let mut total_agreed = 0;
    for seed in 0..24 {
        let crlf = seed % 2 == 1;
        let short_rows = seed % 3 == 0;
        let generated = generate(seed, 40 + (seed as usize) * 7, crlf, false, short_rows);
        let what = format!("seed {seed} (crlf {crlf}, short rows {short_rows})");
        let reference = polars(&generated.bytes);
        assert_cells(&what, &reference, &generated.cells);
        let fast = read(&generated.bytes, &settings()).unwrap_or_else(|| panic!("{what}: the simple shape is read"));
        assert_same(&what, &fast, &reference);
        // Blocks that end inside a field, on a delimiter, between \r and \n: every block size up to a few lines.
        // The header must fit in the first block (16 MiB in use); a longer one is declined and left to Polars.
        let header_bytes = generated.bytes.iter().position(|&b| b == b'\n').expect("a header line") + 1;
        for block_bytes in 1..header_bytes {
            assert!(read_blocks(generated.bytes.as_slice(), &settings(), block_bytes).is_none(), "{what}");
        }
        // Column types come from the rows of the first block (up to the inference rows): with blocks of a few
        // lines, a later value of another type (a decimal after whole numbers) declines the file, never
        // misreads it. Every block size either agrees with Polars or declines; the larger ones always agree.
        let mut agreed = 0usize;
        for block_bytes in (header_bytes..=90).chain([127, 128, 255, 4096]) {
            match read_blocks(generated.bytes.as_slice(), &settings(), block_bytes) {
                Some(blocks) => {
                    assert_same(&format!("{what}, blocks of {block_bytes} bytes"), &blocks, &reference);
                    agreed += 1;
                }
                None => assert!(block_bytes < 4096, "{what}: blocks of {block_bytes} bytes are declined"),
            }
        }
        total_agreed += agreed;
    }
    assert!(total_agreed > 24 * 30, "only {total_agreed} reads in blocks agreed; the rest were declined");
}

#[test]
fn files_larger_than_the_parallel_chunk_size_agree_around_every_boundary() {
    // Chunks are at least 64 KiB; a file of several hundred KiB is cut into several, each at a line end, and
    // read in blocks whose ends fall a few bytes either side of the chunk size.
    let generated = generate(1234, 12_000, true, false, true);
    assert!(generated.bytes.len() > 4 << 16, "{} bytes", generated.bytes.len());
    let reference = polars(&generated.bytes);
    assert_cells("large file", &reference, &generated.cells);
    assert_same("large file", &read(&generated.bytes, &settings()).expect("simple shape"), &reference);
    for block_bytes in [(1 << 16) - 3, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, (1 << 16) + 7, 100_003] {
        let blocks = read_blocks(generated.bytes.as_slice(), &settings(), block_bytes).expect("simple shape");
        assert_same(&format!("large file, blocks of {block_bytes} bytes"), &blocks, &reference);
    }
}

#[test]
fn quoted_files_are_declined_and_polars_reads_their_cells() {
    for seed in 100..112 {
        let crlf = seed % 2 == 0;
        let generated = generate(seed, 60, crlf, true, false);
        let what = format!("seed {seed} (crlf {crlf}, quoted)");
        assert!(generated.bytes.contains(&b'"'), "{what}: has quotes");
        assert!(read(&generated.bytes, &settings()).is_none(), "{what}: declined, so Polars reads it");
        assert!(read_blocks(generated.bytes.as_slice(), &settings(), 50).is_none(), "{what}: declined in blocks");
        assert_cells(&what, &polars(&generated.bytes), &generated.cells);
    }
}
