//! CSV reading through Polars, with errors that name the line and column of a malformed row.

use std::io::Cursor;

use polars::prelude::*;

use pipewright_engine::NodeError;

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvSettings {
    /// Field separator.
    pub delimiter: u8,
    /// Whether the first row names the columns.
    pub has_header: bool,
    /// Quote character, if any.
    pub quote: Option<u8>,
    /// Cell texts that mean "missing" besides the empty cell.
    pub null_markers: Vec<String>,
    /// Rows read to infer column types.
    pub infer_rows: usize,
}

impl Default for CsvSettings {
    fn default() -> Self {
        Self { delimiter: b',', has_header: true, quote: Some(b'"'), null_markers: Vec::new(), infer_rows: 10_000 }
    }
}

/// Reads UTF-8 CSV bytes into a frame: with the purpose-built reader when the file has its simple shape,
/// else with Polars.
pub fn read_csv_bytes(bytes: &[u8], settings: &CsvSettings) -> Result<DataFrame, NodeError> {
    match super::fast_csv::read(bytes, settings) {
        Some(frame) => Ok(frame),
        None => read_with_polars(bytes, settings),
    }
}

/// Reads UTF-8 CSV bytes with Polars, naming the line and column of a malformed row.
pub(super) fn read_with_polars(bytes: &[u8], settings: &CsvSettings) -> Result<DataFrame, NodeError> {
    let mut parse = CsvParseOptions::default()
        .with_separator(settings.delimiter)
        .with_quote_char(settings.quote)
        .with_missing_is_null(true);
    if !settings.null_markers.is_empty() {
        parse = parse.with_null_values(Some(NullValues::AllColumns(
            settings.null_markers.iter().map(|s| s.as_str().into()).collect(),
        )));
    }
    let options = CsvReadOptions::default()
        .with_has_header(settings.has_header)
        .with_infer_schema_length(Some(settings.infer_rows.max(1)))
        .with_raise_if_empty(false)
        .with_parse_options(parse);
    match options.into_reader_with_file_handle(Cursor::new(bytes)).finish() {
        // Rows with fewer fields than the header read their missing trailing cells as missing values,
        // as pandas does; rows with more fields are malformed and named by `diagnose`.
        Ok(frame) => Ok(frame),
        Err(e) => Err(NodeError::data(diagnose(bytes, settings, &e.to_string()))),
    }
}

/// A header whose names are unique and not empty: duplicates get `_2`, `_3`… and empty names (such as the one
/// a trailing delimiter leaves) `column_N`, so that no column silently replaces another. Returns the bytes with
/// the header line rewritten, and a note for the user per renamed column (none when nothing changed).
pub(super) fn unique_header(bytes: Vec<u8>, settings: &CsvSettings) -> (Vec<u8>, Vec<String>) {
    if !settings.has_header {
        return (bytes, Vec::new());
    }
    let mut records = reader(&bytes, settings);
    let mut header = csv::ByteRecord::new();
    if !records.read_byte_record(&mut header).unwrap_or(false) {
        return (bytes, Vec::new());
    }
    let header_end = usize::try_from(records.position().byte()).unwrap_or(0);
    let names: Vec<String> = header.iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut notes = Vec::new();
    let mut fixed = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        let column = j + 1;
        let new = if name.is_empty() {
            let mut candidate = format!("column_{column}");
            while names.contains(&candidate) || taken.contains(&candidate) {
                candidate.push('_');
            }
            notes.push(format!("column {column} has no name: named \"{candidate}\""));
            candidate
        } else if taken.contains(name) {
            let (mut k, mut candidate) = (2, format!("{name}_2"));
            while names.contains(&candidate) || taken.contains(&candidate) {
                k += 1;
                candidate = format!("{name}_{k}");
            }
            let nth = names[..j].iter().filter(|n| *n == name).count() + 1;
            let times = if nth == 2 { "twice".to_owned() } else { format!("{nth} times") };
            notes.push(format!("\"{name}\" appears {times}: column {column} is named \"{candidate}\""));
            candidate
        } else {
            name.clone()
        };
        taken.insert(new.clone());
        fixed.push(new);
    }
    if notes.is_empty() || header_end == 0 || header_end > bytes.len() {
        return (bytes, Vec::new());
    }
    let mut writer = csv::WriterBuilder::new()
        .delimiter(settings.delimiter)
        .quote(settings.quote.unwrap_or(b'"'))
        .quote_style(if settings.quote.is_some() { csv::QuoteStyle::Necessary } else { csv::QuoteStyle::Never })
        .from_writer(Vec::new());
    if writer.write_record(&fixed).is_err() {
        return (bytes, Vec::new());
    }
    let Ok(mut line) = writer.into_inner() else { return (bytes, Vec::new()) };
    line.extend_from_slice(&bytes[header_end..]);
    (line, notes)
}

fn reader<'a>(bytes: &'a [u8], settings: &CsvSettings) -> csv::Reader<Cursor<&'a [u8]>> {
    csv::ReaderBuilder::new()
        .delimiter(settings.delimiter)
        .quoting(settings.quote.is_some())
        .quote(settings.quote.unwrap_or(b'"'))
        .has_headers(false)
        .flexible(true)
        .from_reader(Cursor::new(bytes))
}

/// The first row whose field count differs from the first row's, as a message.
fn field_count_problem(bytes: &[u8], settings: &CsvSettings) -> Option<String> {
    let mut expected = None;
    for record in reader(bytes, settings).records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => return Some(format!("malformed CSV: {e}")),
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() == 1 && record.get(0).is_some_and(str::is_empty) {
            continue; // A blank line.
        }
        match expected {
            None => expected = Some(record.len()),
            Some(n) if n != record.len() => {
                return Some(format!(
                    "malformed CSV at line {line}: expected {n} fields, found {} (check the delimiter and quoting of that line)",
                    record.len()
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Turns a Polars read error into one that names the line and column.
fn diagnose(bytes: &[u8], settings: &CsvSettings, polars_message: &str) -> String {
    if let Some(problem) = field_count_problem(bytes, settings) {
        return problem;
    }
    // Polars says: could not parse `VALUE` as dtype `TYPE` at column 'NAME' (column number N)
    let between = |text: &str, open: char, close: char| -> Option<String> {
        let start = text.find(open)? + open.len_utf8();
        let end = text[start..].find(close)? + start;
        Some(text[start..end].to_owned())
    };
    let value = between(polars_message, '`', '`');
    let column = polars_message.find("at column").and_then(|at| between(&polars_message[at..], '\'', '\''));
    if let (Some(value), Some(column)) = (value, column) {
        let mut records = reader(bytes, settings).into_records();
        let header: Vec<String> = if settings.has_header {
            records.next().and_then(Result::ok).map(|r| r.iter().map(str::to_owned).collect()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let index = header
            .iter()
            .position(|h| *h == column)
            .or_else(|| column.strip_prefix("column_").and_then(|n| n.parse::<usize>().ok()).map(|n| n - 1));
        if let Some(index) = index {
            for record in records.flatten() {
                if record.get(index) == Some(value.as_str()) {
                    let line = record.position().map_or(0, csv::Position::line);
                    // The value itself is not repeated: a file read by mistake may hold secrets.
                    return format!(
                        "malformed CSV at line {line}, column {} (\"{column}\"): the value does not fit the column's type inferred from the rows above; fix the value, add it to the missing-value markers, or raise the rows used for type inference",
                        index + 1
                    );
                }
            }
        }
    }
    format!("cannot read the CSV: {}", without_quoted_values(polars_message))
}

/// A parser's message with the pieces of the file it quotes (between backticks or quotes) left out.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' || c == '\'' => {
                out.push(c);
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_and_missing_cells() {
        let frame = read_csv_bytes(
            b"a,b,c\n1,x,2.5\n,y,NA\n",
            &CsvSettings { null_markers: vec!["NA".into()], ..CsvSettings::default() },
        )
        .expect("reads");
        assert_eq!(frame.shape(), (2, 3));
        assert_eq!(frame.column("a").expect("a").null_count(), 1);
        assert_eq!(frame.column("c").expect("c").null_count(), 1);
        assert!(frame.column("c").expect("c").dtype().is_float());
    }

    #[test]
    fn a_row_with_extra_fields_names_its_line() {
        let err = read_csv_bytes(b"a,b\n1,2\n3,4,5\n6,7\n", &CsvSettings::default()).expect_err("malformed");
        assert!(
            err.to_string().contains("line 3: expected 2 fields, found 3")
                || err.to_string().contains("at line 3: expected 2 fields, found 3"),
            "{err}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_line_and_column() {
        let settings = CsvSettings { infer_rows: 2, ..CsvSettings::default() };
        let err = read_csv_bytes(b"id,score\n1,10\n2,11\n3,12\n4,oops\n", &settings).expect_err("malformed");
        assert!(err.to_string().contains("line 5, column 2 (\"score\")"), "{err}");
    }

    #[test]
    fn quoted_delimiters_are_one_field() {
        let frame = read_csv_bytes(b"name;n\n\"a;b\";1\n", &CsvSettings { delimiter: b';', ..CsvSettings::default() })
            .expect("reads");
        assert_eq!(frame.column("name").expect("name").str().expect("str").get(0), Some("a;b"));
    }
}
