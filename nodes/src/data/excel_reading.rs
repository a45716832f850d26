//! Workbooks for Import Data: Excel (.xlsx, .xlsm, .xlsb, .xls) and `OpenDocument` (.ods) sheets, read with
//! calamine. A sheet by name (the first when none is given) and an optional cell range (`A1:D200`, or `B3:` from
//! a top-left cell to the end of the used area). The first row of the range names the columns when the header
//! setting is on. A column whose cells are all whole numbers is an integer column, all numbers a float
//! column, all true/false a boolean column; dates and times become ISO 8601 text (`2026-12-06`,
//! `2026-12-06T08:30:00`); anything mixed is text. Empty cells and formula errors (`#DIV/0!`) are missing.

use std::path::Path;

use calamine::{Data, Reader};
use polars::prelude::{Column, DataFrame, NamedFrom, Series};

use pipewright_engine::NodeError;

/// A cell position, from 0: (row, column).
type Cell = (u32, u32);

/// Reads `A1` as (row, column) from 0.
fn cell(text: &str) -> Option<Cell> {
    let text = text.trim().to_ascii_uppercase();
    let letters: String = text.chars().take_while(char::is_ascii_alphabetic).collect();
    let digits = &text[letters.len()..];
    if letters.is_empty() || letters.len() > 3 || digits.is_empty() {
        return None;
    }
    let column = letters.bytes().fold(0u32, |n, b| n * 26 + u32::from(b - b'A' + 1)) - 1;
    let row: u32 = digits.parse().ok().filter(|r| *r > 0)?;
    Some((row - 1, column))
}

/// The range a `range` setting names: `A1:D200`, `B3:` (to the end of the used area) or empty (all of it).
fn parse_range(text: &str, used_end: Cell) -> Result<Option<(Cell, Cell)>, NodeError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || {
        NodeError::param(
            "range",
            format!("`{text}` is not a cell range: write A1:D200, or B3: to read from B3 to the end"),
        )
    };
    let (from, to) = text.split_once(':').ok_or_else(bad)?;
    let from = cell(from).ok_or_else(bad)?;
    let to = if to.trim().is_empty() { used_end } else { cell(to).ok_or_else(bad)? };
    if to.0 < from.0 || to.1 < from.1 {
        return Err(NodeError::param(
            "range",
            format!("`{text}` ends before it starts: write the top-left cell first"),
        ));
    }
    Ok(Some((from, to)))
}

/// Days from 1899-12-30 (Excel's day 0, leap-year quirk included) to an ISO date or date and time.
fn excel_date(serial: f64) -> String {
    let days = serial.floor() as i64;
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    let unix_days = days - 25_569;
    let date = pipewright_engine::UtcTime::from_unix(unix_days * 86_400 + seconds).rfc3339();
    if seconds == 0 { date[..10].to_owned() } else { date.trim_end_matches('Z').to_owned() }
}

/// A cell as text: numbers in their shortest form, dates in ISO 8601.
fn text_of(value: &Data) -> Option<String> {
    match value {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) if s.is_empty() => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(x) => Some(x.to_string()),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => Some(excel_date(d.as_f64())),
    }
}

/// One column of cells as a typed column.
fn column(name: &str, cells: &[&Data]) -> Series {
    let present: Vec<&&Data> = cells.iter().filter(|c| text_of(c).is_some()).collect();
    let all = |f: fn(&Data) -> bool| !present.is_empty() && present.iter().all(|c| f(c));
    if all(|c| matches!(c, Data::Int(_)) || matches!(c, Data::Float(x) if x.fract() == 0.0 && x.abs() < 9e15)) {
        let values: Vec<Option<i64>> = cells
            .iter()
            .map(|c| match c {
                Data::Int(i) => Some(*i),
                Data::Float(x) => Some(*x as i64),
                _ => None,
            })
            .collect();
        return Series::new(name.into(), values);
    }
    if all(|c| matches!(c, Data::Int(_) | Data::Float(_))) {
        let values: Vec<Option<f64>> = cells
            .iter()
            .map(|c| match c {
                Data::Int(i) => Some(*i as f64),
                Data::Float(x) => Some(*x),
                _ => None,
            })
            .collect();
        return Series::new(name.into(), values);
    }
    if all(|c| matches!(c, Data::Bool(_))) {
        let values: Vec<Option<bool>> =
            cells.iter().map(|c| if let Data::Bool(b) = c { Some(*b) } else { None }).collect();
        return Series::new(name.into(), values);
    }
    let values: Vec<Option<String>> = cells.iter().map(|c| text_of(c)).collect();
    Series::new(name.into(), values)
}

/// Reads a sheet of a workbook as a table.
pub fn read_workbook(
    path: &Path,
    sheet: &str,
    range: &str,
    header: bool,
    max_rows: Option<usize>,
) -> Result<DataFrame, NodeError> {
    let mut workbook = calamine::open_workbook_auto(path)
        .map_err(|e| NodeError::Io(format!("cannot open {} as a workbook: {e}", path.display())))?;
    let names = workbook.sheet_names();
    let name = if sheet.trim().is_empty() {
        names.first().cloned().ok_or_else(|| NodeError::data(format!("{} has no sheets", path.display())))?
    } else {
        names.iter().find(|n| n.as_str() == sheet.trim()).cloned().ok_or_else(|| {
            NodeError::param(
                "sheet",
                format!("{} has no sheet \"{}\"; its sheets: {}", path.display(), sheet.trim(), names.join(", ")),
            )
        })?
    };
    let used = workbook
        .worksheet_range(&name)
        .map_err(|e| NodeError::data(format!("cannot read sheet \"{name}\" of {}: {e}", path.display())))?;
    let cells = match parse_range(range, used.end().unwrap_or((0, 0)))? {
        Some((from, to)) => used.range(from, to),
        None => used,
    };
    let mut rows = cells.rows();
    let width = cells.width();
    let names: Vec<String> = if header {
        let first = rows.next().unwrap_or(&[]);
        let mut names: Vec<String> = Vec::with_capacity(width);
        for i in 0..width {
            let given = first.get(i).and_then(text_of).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            let mut name = given.unwrap_or_else(|| format!("column_{}", i + 1));
            let base = name.clone();
            let mut n = 2;
            while names.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            names.push(name);
        }
        names
    } else {
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let body: Vec<&[Data]> = rows.take(max_rows.unwrap_or(usize::MAX)).collect();
    let columns: Vec<Column> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let cells: Vec<&Data> = body.iter().map(|r| r.get(i).unwrap_or(&Data::Empty)).collect();
            column(name, &cells).into()
        })
        .collect();
    DataFrame::new(body.len(), columns).map_err(NodeError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_ranges_are_read_as_spreadsheets_write_them() {
        assert_eq!(cell("A1"), Some((0, 0)));
        assert_eq!(cell("b3"), Some((2, 1)));
        assert_eq!(cell("AA10"), Some((9, 26)));
        assert_eq!(cell("1A"), None);
        assert_eq!(parse_range("B2:", (9, 9)).expect("reads"), Some(((1, 1), (9, 9))));
        assert!(parse_range("C3:A1", (9, 9)).is_err());
        assert!(parse_range("nonsense", (9, 9)).expect_err("refused").to_string().contains("A1:D200"));
        assert_eq!(excel_date(46_362.0), "2026-12-06");
        assert_eq!(excel_date(46_362.5), "2026-12-06T12:00:00");
    }

    #[test]
    fn a_sheet_is_read_with_typed_columns_and_a_wrong_sheet_lists_the_sheets() {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("members.xlsx");
        let mut book = Workbook::new();
        let notes = book.add_worksheet();
        notes.set_name("Notes").expect("name");
        notes.write_string(0, 0, "not the data").expect("writes");
        let people = book.add_worksheet();
        people.set_name("People").expect("name");
        // The table starts at B2, under a title.
        people.write_string(0, 0, "Members, December").expect("writes");
        for (c, h) in ["name", "visits", "spent", "member", "joined", "code"].iter().enumerate() {
            people.write_string(1, 1 + u16::try_from(c).expect("small"), *h).expect("writes");
        }
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let rows = [("Ada", 3.0, 12.5, true, (2024, 5, 1), "A1"), ("Grace", 7.0, 40.0, false, (2025, 1, 31), "17")];
        for (r, (name, visits, spent, member, (y, m, d), code)) in rows.iter().enumerate() {
            let r = 2 + u32::try_from(r).expect("small");
            people.write_string(r, 1, *name).expect("writes");
            people.write_number(r, 2, *visits).expect("writes");
            people.write_number(r, 3, *spent).expect("writes");
            people.write_boolean(r, 4, *member).expect("writes");
            let when = ExcelDateTime::from_ymd(*y, *m, *d).expect("date");
            people.write_datetime_with_format(r, 5, &when, &date).expect("writes");
            if let Ok(n) = code.parse::<f64>() {
                people.write_number(r, 6, n).expect("writes");
            } else {
                people.write_string(r, 6, *code).expect("writes");
            }
        }
        people.write_string(5, 1, "Linus").expect("writes"); // A row with only a name: the rest missing.
        book.save(&path).expect("saves");

        let frame = read_workbook(&path, "People", "B2:", true, None).expect("reads");
        assert_eq!(frame.get_column_names(), ["name", "visits", "spent", "member", "joined", "code"]);
        assert_eq!(frame.height(), 4, "rows 3 to 6, the empty fifth row included");
        assert_eq!(frame.column("visits").expect("visits").i64().expect("integers").get(1), Some(7));
        assert_eq!(frame.column("spent").expect("spent").f64().expect("floats").get(0), Some(12.5));
        assert_eq!(frame.column("member").expect("member").bool().expect("booleans").get(1), Some(false));
        assert_eq!(frame.column("joined").expect("joined").str().expect("text").get(0), Some("2024-05-01"));
        assert_eq!(frame.column("code").expect("code").str().expect("mixed: text").get(1), Some("17"));
        assert_eq!(frame.column("visits").expect("visits").null_count(), 2);

        let first = read_workbook(&path, "", "", true, None).expect("reads the first sheet");
        assert_eq!(first.get_column_names(), ["not the data"]);
        let wrong = read_workbook(&path, "Members", "", true, None).expect_err("no such sheet");
        assert!(wrong.to_string().contains("has no sheet \"Members\"; its sheets: Notes, People"), "{wrong}");
        // Import Data's defaults: the format from the extension, the first sheet.
        assert_eq!(crate::data::read_file(&path).expect("imports").height(), 0);
    }
}
