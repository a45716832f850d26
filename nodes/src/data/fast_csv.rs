//! A purpose-built reader for the common shape of CSV file: a header, no quoted fields, integer, decimal and
//! text columns. It splits the file into line-aligned chunks parsed in parallel, and parses decimals exactly
//! (an integer mantissa divided by a power of ten, one correctly rounded operation) without a per-field
//! allocation. Anything outside that shape — quotes, exponents, booleans, overlong or malformed rows, values
//! that do not fit the inferred type — returns `None`, and the caller reads the file with Polars, whose
//! results and error messages are the reference this reader matches.

use polars::prelude::*;
use rayon::prelude::*;

use super::csv_reading::CsvSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Text,
}

/// One column's parsed chunk.
enum Cells {
    Int(Vec<i64>, Vec<bool>),
    Float(Vec<f64>, Vec<bool>),
    /// Byte ranges into the file; `None` is missing.
    Text(Vec<Option<(u32, u32)>>),
}

/// What a field looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Empty,
    Int,
    Float,
    /// Clearly text: has a byte no number, boolean or special float word could have.
    Text,
    /// Could be read as a number, boolean or special value by another parser: leave the file to Polars.
    Ambiguous,
}

fn shape(field: &[u8]) -> Shape {
    if field.is_empty() {
        return Shape::Empty;
    }
    if parse_int(field).is_some() {
        return Shape::Int;
    }
    if parse_float(field).is_some() {
        return Shape::Float;
    }
    let numeric_bytes = field.iter().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let lower = field.to_ascii_lowercase();
    let word = matches!(
        lower.as_slice(),
        b"true" | b"false" | b"inf" | b"+inf" | b"-inf" | b"infinity" | b"-infinity" | b"nan" | b"null" | b"none"
    );
    if numeric_bytes || word || field[0].is_ascii_whitespace() || field[field.len() - 1].is_ascii_whitespace() {
        Shape::Ambiguous
    } else {
        Shape::Text
    }
}

/// `-?[0-9]{1,18}`.
fn parse_int(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(if negative { -value } else { value })
}

const POWERS: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// `-?[0-9]+\.[0-9]+` with at most 15 digits: the mantissa and 10^k are exact in f64, so one division gives
/// the correctly rounded value, the same as any exact parser.
fn parse_float(field: &[u8]) -> Option<f64> {
    let (negative, rest) = match field.first()? {
        b'-' => (true, &field[1..]),
        _ => (false, field),
    };
    let dot = rest.iter().position(|&b| b == b'.')?;
    let (whole, fraction) = (&rest[..dot], &rest[dot + 1..]);
    if whole.is_empty() || fraction.is_empty() || whole.len() + fraction.len() > 15 {
        return None;
    }
    let mut mantissa: u64 = 0;
    for &b in whole.iter().chain(fraction) {
        if !b.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(b - b'0');
    }
    let value = mantissa as f64 / POWERS[fraction.len()];
    Some(if negative { -value } else { value })
}

/// A decimal or integer field starting at `start`, read in the same pass that finds its end:
/// `Some((value, end))` with `end` at the separator, the line end or the chunk's end (`value` is `None` for an
/// empty field), or `None` when the field has any other shape and the general path must read it. Accepts
/// what [`parse_float`] and [`parse_int`] accept, up to 15 digits, with the same exact result.
fn scan_decimal(chunk: &[u8], start: usize, sep: u8) -> Option<(Option<f64>, usize)> {
    let mut pos = start;
    let negative = chunk.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    let (mut mantissa, mut digits, mut fraction, mut dot) = (0u64, 0usize, 0usize, false);
    while let Some(&b) = chunk.get(pos) {
        if b.is_ascii_digit() {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            digits += 1;
            fraction += usize::from(dot);
        } else if b == b'.' && !dot {
            dot = true;
        } else {
            break;
        }
        pos += 1;
    }
    let mut end = pos;
    if chunk.get(end) == Some(&b'\r') && chunk.get(end + 1) == Some(&b'\n') {
        end += 1;
    }
    if chunk.get(end).is_some_and(|&b| b != sep && b != b'\n') {
        return None;
    }
    if pos == start {
        return Some((None, end));
    }
    if digits == 0 || digits > 15 || (dot && (fraction == 0 || fraction == digits)) {
        return None;
    }
    let value = mantissa as f64 / POWERS[fraction];
    Some((Some(if negative { -value } else { value }), end))
}

/// The lines of `body`, without their line ends; `None` for an empty line inside the body.
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Bytes read and parsed at a time from a file: the file is never held whole in memory.
const BLOCK_BYTES: usize = 16 << 20;

/// Reads `bytes` when they have the simple shape, else `None`.
pub fn read(bytes: &[u8], settings: &CsvSettings) -> Option<DataFrame> {
    read_from(bytes, settings)
}

/// Reads the UTF-8 CSV file at `path` block by block when it has the simple shape, else `None` (also for
/// unreadable files and invalid UTF-8, which the general path reports).
pub fn read_file(path: &std::path::Path, settings: &CsvSettings) -> Option<DataFrame> {
    read_from(std::fs::File::open(path).ok()?, settings)
}

/// Appends up to `want` bytes from `source` to `buffer`; `Some(true)` at the end of the source.
pub(super) fn fill(source: &mut impl std::io::Read, buffer: &mut Vec<u8>, want: usize) -> Option<bool> {
    let start = buffer.len();
    buffer.resize(start + want, 0);
    let mut filled = start;
    loop {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => {
                buffer.truncate(filled);
                return Some(true);
            }
            Ok(n) => {
                filled += n;
                if filled == buffer.len() {
                    return Some(false);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn read_from(source: impl std::io::Read, settings: &CsvSettings) -> Option<DataFrame> {
    read_blocks(source, settings, BLOCK_BYTES)
}

fn read_blocks(mut source: impl std::io::Read, settings: &CsvSettings, block_bytes: usize) -> Option<DataFrame> {
    if !settings.has_header {
        return None;
    }
    let sep = settings.delimiter;
    let markers: Vec<&[u8]> = settings.null_markers.iter().map(String::as_bytes).collect();
    let mut buffer = Vec::new();
    let mut at_end = fill(&mut source, &mut buffer, block_bytes)?;
    if buffer.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return None;
    }
    let header_end = buffer.iter().position(|&b| b == b'\n')?;
    let header = buffer[..header_end].strip_suffix(b"\r").unwrap_or(&buffer[..header_end]);
    let names: Vec<String> =
        header.split(|&b| b == sep).map(|n| std::str::from_utf8(n).ok().map(str::to_owned)).collect::<Option<_>>()?;
    let mut unique: Vec<&String> = names.iter().collect();
    unique.sort_unstable();
    unique.dedup();
    if names.iter().any(String::is_empty) || unique.len() != names.len() {
        return None;
    }
    buffer.drain(..=header_end);
    let mut kinds: Option<Vec<Kind>> = None;
    let mut columns: Vec<Option<Series>> = vec![None; names.len()];
    loop {
        // The complete lines read so far; at the end, everything but trailing line ends.
        let cut = if at_end { buffer.len() } else { buffer.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) };
        let mut block = &buffer[..cut];
        if at_end {
            while let Some(b) = block.strip_suffix(b"\n") {
                block = b.strip_suffix(b"\r").unwrap_or(b);
            }
        }
        if !block.is_empty() {
            if settings.quote.is_some_and(|q| block.contains(&q)) || std::str::from_utf8(block).is_err() {
                return None;
            }
            if kinds.is_none() {
                kinds = Some(infer(block, sep, settings.infer_rows, names.len(), &markers)?);
            }
            let chunks = parse_block(block, sep, kinds.as_deref()?, &markers)?;
            append_pieces(block, &names, chunks, &mut columns)?;
        }
        if at_end {
            break;
        }
        buffer.drain(..cut);
        at_end = fill(&mut source, &mut buffer, block_bytes)?;
    }
    let columns: Vec<Column> = columns.into_iter().map(|c| c.map(Series::into_column)).collect::<Option<_>>()?;
    DataFrame::new_infer_height(columns).ok()
}

/// Parses a block of complete lines in parallel, line-aligned chunks.
fn parse_block(block: &[u8], sep: u8, kinds: &[Kind], markers: &[&[u8]]) -> Option<Vec<Vec<Cells>>> {
    let pieces = (rayon::current_num_threads() * 4).max(1);
    let target = block.len().div_ceil(pieces).max(1 << 16);
    let mut bounds = vec![0];
    let mut at = 0;
    while at < block.len() {
        let next = (at + target).min(block.len());
        let end = memchr::memchr(b'\n', &block[next..]).map_or(block.len(), |p| next + p + 1);
        bounds.push(end);
        at = end;
    }
    bounds.par_windows(2).map(|w| parse_chunk(block, w[0], &block[w[0]..w[1]], sep, kinds, markers)).collect()
}

/// Column types from the first `infer_rows` rows, as Polars infers them; `None` when a value is outside the
/// simple shape or a column has no value there.
fn infer(body: &[u8], sep: u8, infer_rows: usize, cols: usize, markers: &[&[u8]]) -> Option<Vec<Kind>> {
    // Types from the first rows, as Polars infers them. A block of complete lines ends with its line end.
    let body = body.strip_suffix(b"\n").map_or(body, |b| b.strip_suffix(b"\r").unwrap_or(b));
    let mut seen = vec![Shape::Empty; cols];
    for line in lines(body).take(infer_rows.max(1)) {
        if line.is_empty() {
            return None;
        }
        for (j, field) in line.split(|&b| b == sep).enumerate() {
            let s = if markers.contains(&field) { Shape::Empty } else { shape(field) };
            let slot = seen.get_mut(j)?;
            *slot = match (*slot, s) {
                (_, Shape::Ambiguous) | (Shape::Ambiguous, _) => return None,
                (a, Shape::Empty) => a,
                (Shape::Empty, b) => b,
                (Shape::Text, _) | (_, Shape::Text) => Shape::Text,
                (Shape::Float, _) | (_, Shape::Float) => Shape::Float,
                (Shape::Int, Shape::Int) => Shape::Int,
            };
        }
    }
    seen.iter()
        .map(|s| match s {
            Shape::Int => Some(Kind::Int),
            Shape::Float => Some(Kind::Float),
            Shape::Text => Some(Kind::Text),
            // A column empty in every inferred row: its type is Polars' call.
            Shape::Empty | Shape::Ambiguous => None,
        })
        .collect::<Option<_>>()
}

/// Appends a block's parsed chunks to the columns, in file order. Each chunk's values move into Polars without
/// a copy: a column is a list of chunks, one per parsed piece.
fn append_pieces(
    block: &[u8],
    names: &[String],
    mut chunks: Vec<Vec<Cells>>,
    columns: &mut [Option<Series>],
) -> Option<()> {
    for (j, name) in names.iter().enumerate() {
        let name: PlSmallStr = name.as_str().into();
        for chunk in &mut chunks {
            let part = piece(block, name.clone(), std::mem::replace(&mut chunk[j], Cells::Text(Vec::new())));
            match &mut columns[j] {
                None => columns[j] = Some(part),
                Some(s) => {
                    s.append_owned(part).ok()?;
                }
            }
        }
    }
    Some(())
}

fn piece(bytes: &[u8], name: PlSmallStr, cells: Cells) -> Series {
    let validity =
        |present: Vec<bool>| (!present.iter().all(|&p| p)).then(|| polars_arrow::bitmap::Bitmap::from_iter(present));
    match cells {
        Cells::Int(values, present) => Int64Chunked::from_vec_validity(name, values, validity(present)).into_series(),
        Cells::Float(values, present) => {
            Float64Chunked::from_vec_validity(name, values, validity(present)).into_series()
        }
        Cells::Text(ranges) => StringChunked::from_iter_options(
            name,
            ranges.iter().map(|r| r.and_then(|(s, e)| std::str::from_utf8(&bytes[s as usize..e as usize]).ok())),
        )
        .into_series(),
    }
}

/// Parses one chunk (`start` is its offset in the file, for text ranges).
fn parse_chunk(
    file: &[u8],
    start: usize,
    chunk: &[u8],
    sep: u8,
    kinds: &[Kind],
    markers: &[&[u8]],
) -> Option<Vec<Cells>> {
    if file.len() > u32::MAX as usize {
        return None;
    }
    let rows = memchr::memchr_iter(b'\n', chunk).count() + 1;
    let mut cells: Vec<Cells> = kinds
        .iter()
        .map(|k| match k {
            Kind::Int => Cells::Int(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            Kind::Float => Cells::Float(Vec::with_capacity(rows), Vec::with_capacity(rows)),
            Kind::Text => Cells::Text(Vec::with_capacity(rows)),
        })
        .collect();
    let mut pos = 0;
    let last = cells.len().saturating_sub(1);
    while pos < chunk.len() {
        if chunk[pos] == b'\n' || chunk[pos..].starts_with(b"\r\n") {
            // A blank line: Polars' rules for it apply.
            return None;
        }
        let mut line_open = true;
        for (j, column) in cells.iter_mut().enumerate() {
            // Decimal columns: value and field end in one pass over the bytes.
            if line_open
                && let Cells::Float(values, present) = column
                && let Some((value, end)) = scan_decimal(chunk, pos, sep)
            {
                let at_line_end = chunk.get(end).is_none_or(|&b| b == b'\n');
                if !at_line_end && j == last {
                    return None;
                }
                line_open = !at_line_end;
                pos = end + 1;
                values.push(value.unwrap_or(0.0));
                present.push(value.is_some());
                continue;
            }
            let field: &[u8] = if line_open {
                let end = memchr::memchr2(sep, b'\n', &chunk[pos..]).map_or(chunk.len(), |p| pos + p);
                let at_line_end = chunk.get(end).is_none_or(|&b| b == b'\n');
                let raw = &chunk[pos..end];
                let field = if at_line_end { raw.strip_suffix(b"\r").unwrap_or(raw) } else { raw };
                if !at_line_end && j == last {
                    // More fields than the header: malformed, and Polars' error names the line.
                    return None;
                }
                line_open = !at_line_end;
                pos = end + 1;
                field
            } else {
                // A short row's trailing cells are missing, as Polars and pandas read them.
                &[]
            };
            // A missing-value marker is an empty cell.
            let field = if !field.is_empty() && markers.contains(&field) { &[][..] } else { field };
            match column {
                Cells::Int(values, present) => {
                    if field.is_empty() {
                        values.push(0);
                        present.push(false);
                    } else {
                        values.push(parse_int(field)?);
                        present.push(true);
                    }
                }
                Cells::Float(values, present) => {
                    if field.is_empty() {
                        values.push(0.0);
                        present.push(false);
                    } else {
                        values.push(parse_float(field).or_else(|| parse_int(field).map(|v| v as f64))?);
                        present.push(true);
                    }
                }
                Cells::Text(ranges) => {
                    if field.is_empty() {
                        ranges.push(None);
                    } else {
                        let s = start + (field.as_ptr() as usize - chunk.as_ptr() as usize);
                        ranges.push(Some((s as u32, (s + field.len()) as u32)));
                    }
                }
            }
        }
    }
    Some(cells)
}

#[cfg(test)]
#[path = "fast_csv_differential.rs"]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &DataFrame, b: &DataFrame) {
        assert_eq!(a.schema(), b.schema());
        assert!(a.equals_missing(b), "{a}\n{b}");
    }

    fn polars(bytes: &[u8]) -> DataFrame {
        super::super::csv_reading::read_with_polars(bytes, &CsvSettings::default()).expect("polars reads it")
    }

    #[test]
    fn decimals_are_exact_and_match_polars() {
        for text in ["0.1", "-0.000001", "123456.654321", "9.999999", "-1234567.891234", "1.5", "0.300000"] {
            let exact: f64 = text.parse().expect("a number");
            assert_eq!(parse_float(text.as_bytes()), Some(exact), "{text}");
        }
        assert_eq!(parse_float(b"1e5"), None);
        assert_eq!(parse_float(b".5"), None);
        assert_eq!(parse_float(b"1234567890.1234567"), None, "16 digits go to the exact general parser");
        // The one-pass scanner agrees with the two-step parse and stops at the field's end.
        for text in ["0.1", "-2.5", "7", "-0.000001", "123456.654321"] {
            let line = format!("{text},x");
            let expected = parse_float(text.as_bytes()).or_else(|| parse_int(text.as_bytes()).map(|v| v as f64));
            assert_eq!(scan_decimal(line.as_bytes(), 0, b','), Some((expected, text.len())), "{text}");
        }
        assert_eq!(scan_decimal(b",1", 0, b','), Some((None, 0)), "an empty field is missing");
        assert_eq!(scan_decimal(b"1.5\r\n", 0, b','), Some((Some(1.5), 4)));
        for other in ["1e5,", "NA,", "1.,", ".5,", "-,", "1.2.3,", "12x,"] {
            assert_eq!(scan_decimal(other.as_bytes(), 0, b','), None, "{other}");
        }
    }

    #[test]
    fn the_simple_shape_reads_like_polars() {
        let csv = b"a,b,c,label\n1.5,x,,0\n-2.25,,3,1\n,yy,4,1\r\n0.000001,z,5,0\n";
        let fast = read(csv, &CsvSettings { infer_rows: 10, ..CsvSettings::default() }).expect("simple shape");
        same(&fast, &polars(csv));
        // Types inferred from the first row only; a later decimal in an integer column is Polars' to report.
        let late = b"n\n1\n2.5\n";
        assert!(read(late, &CsvSettings { infer_rows: 1, ..CsvSettings::default() }).is_none());
        // Missing-value markers are missing cells, in every column.
        let marked = b"a,b,c\n1.5,NA,x\nNA,2,NA\n";
        let settings = CsvSettings { null_markers: vec!["NA".into()], ..CsvSettings::default() };
        same(
            &read(marked, &settings).expect("simple shape"),
            &super::super::csv_reading::read_with_polars(marked, &settings).expect("polars"),
        );
        // Short rows read their missing cells as missing.
        let short = b"a,b\n1,2\n3\n";
        same(&read(short, &CsvSettings::default()).expect("simple"), &polars(short));
    }

    #[test]
    fn other_shapes_are_left_to_polars() {
        for csv in [
            &b"a,b\n\"q\",1\n"[..],
            b"a,b\n1,2,3\n",
            b"a,a\n1,2\n",
            b"a,b\ntrue,1\n",
            b"a,b\n1e5,1\n",
            b"a,b\nnan,1\n",
            b"a,b\n1,2\n\n3,4\n",
            b"a\n\n",
        ] {
            assert!(read(csv, &CsvSettings::default()).is_none(), "{}", String::from_utf8_lossy(csv));
        }
    }

    #[test]
    fn many_chunks_keep_the_row_order() {
        use std::fmt::Write as _;
        let mut csv = String::from("i,x,t\n");
        for i in 0..200_000 {
            let _ = writeln!(csv, "{i},{}.{:06},w{}", i % 97, i % 1_000_000, i % 13);
        }
        let fast = read(csv.as_bytes(), &CsvSettings::default()).expect("simple shape");
        same(&fast, &polars(csv.as_bytes()));
        // Read in blocks of 1,000 bytes: lines cut at block ends are completed by the next block.
        let blocks = read_blocks(csv.as_bytes(), &CsvSettings::default(), 1000).expect("simple shape");
        same(&blocks, &polars(csv.as_bytes()));
        // A quote or invalid UTF-8 in a later block still hands the file to Polars.
        let mut quoted = csv.clone().into_bytes();
        quoted.extend_from_slice(b"1,2.5,\"w\"\n");
        assert!(read_blocks(quoted.as_slice(), &CsvSettings::default(), 1000).is_none());
        let mut invalid = csv.into_bytes();
        invalid.extend_from_slice(b"1,2.5,w\xff\n");
        assert!(read_blocks(invalid.as_slice(), &CsvSettings::default(), 1000).is_none());
    }
}
