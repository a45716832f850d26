//! Dates and times in text columns: ISO 8601 recognised by default (`2026-01-02`, `2026-01-02T08:15:00`,
//! `2026-01-02 08:15:00.5Z`, `…+02:00`), or a `strftime`-style format given by the user (`%d/%m/%Y %H:%M`).
//! A column becomes a Date column when every value is a date, a Datetime column (microseconds, UTC) when
//! every value is a date with a time.

use polars::prelude::*;

use pipewright_engine::NodeError;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// A parsed value: days since 1970-01-01, and the time of day in microseconds when one was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// Days since 1970-01-01.
    pub days: i32,
    /// Microseconds since midnight (UTC), when the text had a time.
    pub time: Option<i64>,
}

impl Moment {
    /// Microseconds since 1970-01-01 00:00 UTC.
    pub fn micros(self) -> i64 {
        i64::from(self.days) * DAY_MICROS + self.time.unwrap_or(0)
    }
}

/// Days since 1970-01-01 of a civil date; `None` when it is not a date (month 13, February 30).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i32> {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Reads `count` ASCII digits at `at`.
fn digits(bytes: &[u8], at: usize, count: usize) -> Option<u32> {
    let part = bytes.get(at..at + count)?;
    part.iter().try_fold(0_u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// An ISO 8601 date, or date and time: `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM`, `:SS`, a fraction,
/// and `Z` or an offset `±HH:MM` (converted to UTC).
pub fn parse_iso(text: &str) -> Option<Moment> {
    let b = text.trim().as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let days = days_from_civil(i64::from(digits(b, 0, 4)?), digits(b, 5, 2)?, digits(b, 8, 2)?)?;
    if b.len() == 10 {
        return Some(Moment { days, time: None });
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let (hour, minute) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let mut at = 16;
    let mut second = 0;
    let mut micros = 0_i64;
    if b.get(at) == Some(&b':') {
        second = digits(b, at + 1, 2)?;
        at += 3;
        if matches!(b.get(at), Some(b'.' | b',')) {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            let fraction = &text.trim()[start..at];
            if fraction.is_empty() {
                return None;
            }
            let six: String = fraction.chars().chain(std::iter::repeat('0')).take(6).collect();
            micros = six.parse().ok()?;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut offset_minutes = 0_i64;
    match b.get(at) {
        None => {}
        Some(b'Z' | b'z') if at + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) if b.len() == at + 6 && b[at + 3] == b':' => {
            let minutes = i64::from(digits(b, at + 1, 2)?) * 60 + i64::from(digits(b, at + 4, 2)?);
            offset_minutes = if sign == b'+' { minutes } else { -minutes };
        }
        _ => return None,
    }
    let local = (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000 + micros;
    let utc = i64::from(days) * DAY_MICROS + local - offset_minutes * 60_000_000;
    let days = i32::try_from(utc.div_euclid(DAY_MICROS)).ok()?;
    Some(Moment { days, time: Some(utc.rem_euclid(DAY_MICROS)) })
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// A date (and time) written as `format` says: `%Y` year, `%y` two-digit year (2000–2068, 1969–1999),
/// `%m` month, `%d` day, `%b`/`%B` month name, `%H` hour, `%I` hour of 12 with `%p` AM/PM, `%M` minute, `%S`
/// second, `%f` fraction, `%%` a percent sign; anything else must match itself. One or two digits are read
/// where two are written (`%d` reads `7` and `07`).
pub fn parse_with(text: &str, format: &str) -> Option<Moment> {
    let text = text.trim();
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut micros, mut pm) = (None, None, 0_u32, 0_i64, None);
    let mut rest = text;
    let mut spec = format.chars();
    let number = |rest: &mut &str, max_digits: usize| -> Option<u32> {
        let n = rest.bytes().take(max_digits).take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let value = rest[..n].parse().ok()?;
        *rest = &rest[n..];
        Some(value)
    };
    while let Some(c) = spec.next() {
        if c != '%' {
            rest = rest.strip_prefix(c)?;
            continue;
        }
        match spec.next()? {
            'Y' => year = Some(i64::from(number(&mut rest, 4)?)),
            'y' => {
                let y = i64::from(number(&mut rest, 2)?);
                year = Some(if y < 69 { 2000 + y } else { 1900 + y });
            }
            'm' => month = Some(number(&mut rest, 2)?),
            'd' => day = Some(number(&mut rest, 2)?),
            'H' | 'I' => hour = Some(number(&mut rest, 2)?),
            'M' => minute = Some(number(&mut rest, 2)?),
            'S' => second = number(&mut rest, 2)?,
            'f' => {
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                let six: String = rest[..n].chars().chain(std::iter::repeat('0')).take(6).collect();
                micros = six.parse().ok()?;
                rest = &rest[n..];
            }
            'b' | 'B' => {
                let lower = rest.to_ascii_lowercase();
                let i = MONTHS.iter().position(|m| lower.starts_with(m))?;
                let full = [
                    "january",
                    "february",
                    "march",
                    "april",
                    "may",
                    "june",
                    "july",
                    "august",
                    "september",
                    "october",
                    "november",
                    "december",
                ][i];
                let taken = if lower.starts_with(full) { full.len() } else { 3 };
                month = Some(u32::try_from(i).ok()? + 1);
                rest = &rest[taken..];
            }
            'p' => {
                let lower = rest.get(..2)?.to_ascii_lowercase();
                pm = Some(match lower.as_str() {
                    "am" => false,
                    "pm" => true,
                    _ => return None,
                });
                rest = &rest[2..];
            }
            '%' => rest = rest.strip_prefix('%')?,
            _ => return None,
        }
    }
    if !rest.is_empty() {
        return None;
    }
    let days = days_from_civil(year?, month?, day?)?;
    let Some(mut hour) = hour else { return Some(Moment { days, time: None }) };
    match pm {
        Some(_) if hour == 0 || hour > 12 => return None,
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let minute = minute.unwrap_or(0);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let time = (i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)) * 1_000_000 + micros;
    Some(Moment { days, time: Some(time) })
}

/// The text columns of `frame` that hold dates, converted: with `format` "auto", those whose values are all
/// ISO 8601 (a column whose first value is one but a later value is not is an error naming the row and the
/// value); with "none", nothing; else those whose first value parses with the format (every other value must).
pub fn recognise(frame: DataFrame, format: &str) -> Result<DataFrame, NodeError> {
    let format = format.trim();
    if format.eq_ignore_ascii_case("none") {
        return Ok(frame);
    }
    let auto = format.is_empty() || format.eq_ignore_ascii_case("auto");
    if !auto && !format.contains('%') {
        return Err(NodeError::param(
            "date_format",
            format!("\"{format}\" is not a date format: write auto, none, or a pattern such as %d/%m/%Y %H:%M"),
        ));
    }
    let parse = |text: &str| if auto { parse_iso(text) } else { parse_with(text, format) };
    let height = frame.height();
    let mut columns = Vec::with_capacity(frame.width());
    for column in frame.columns() {
        let Ok(texts) = column.str() else {
            columns.push(column.clone());
            continue;
        };
        let first = texts.iter().flatten().next();
        if first.and_then(parse).is_none() {
            columns.push(column.clone());
            continue;
        }
        let mut moments = Vec::with_capacity(height);
        for (row, value) in texts.iter().enumerate() {
            let Some(text) = value.filter(|t| !t.trim().is_empty()) else {
                moments.push(None);
                continue;
            };
            let Some(moment) = parse(text) else {
                let expected = if auto {
                    "an ISO 8601 date (YYYY-MM-DD, with a time: YYYY-MM-DDTHH:MM:SS)".to_owned()
                } else {
                    format!("a date written as {format}")
                };
                return Err(NodeError::data(format!(
                    "column \"{}\", row {}: \"{text}\" is not {expected}; set the date format to the one the file uses, or to none to keep the column as text",
                    column.name(),
                    row + 1
                )));
            };
            moments.push(Some(moment));
        }
        columns.push(moment_column(column.name().as_str(), &moments));
    }
    Ok(DataFrame::new(height, columns)?)
}

/// A Date column when no value has a time, else a Datetime column in microseconds.
pub fn moment_column(name: &str, moments: &[Option<Moment>]) -> Column {
    if moments.iter().flatten().all(|m| m.time.is_none()) {
        let days: Int32Chunked = moments.iter().map(|m| m.map(|m| m.days)).collect();
        days.with_name(name.into()).into_date().into_column()
    } else {
        let micros: Int64Chunked = moments.iter().map(|m| m.map(Moment::micros)).collect();
        micros.with_name(name.into()).into_datetime(TimeUnit::Microseconds, None).into_column()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_and_times() {
        assert_eq!(parse_iso("1970-01-01"), Some(Moment { days: 0, time: None }));
        assert_eq!(parse_iso("2024-02-29").map(|m| m.days), Some(19_782));
        assert_eq!(parse_iso("2023-02-29"), None);
        assert_eq!(parse_iso("2024-13-01"), None);
        let m = parse_iso("2026-01-02T08:15:30.25").expect("parses");
        assert_eq!(m.time, Some((8 * 3600 + 15 * 60 + 30) * 1_000_000 + 250_000));
        assert_eq!(parse_iso("2026-01-02 08:15"), parse_iso("2026-01-02T08:15:00"));
        // An offset is converted to UTC, across midnight.
        assert_eq!(parse_iso("2026-01-02T01:00:00+02:00"), parse_iso("2026-01-01T23:00:00Z"));
        assert_eq!(parse_iso("2026-01-02x"), None);
        assert_eq!(parse_iso("12/01/2026"), None);
    }

    #[test]
    fn formats_as_given() {
        assert_eq!(parse_with("7/3/2026", "%d/%m/%Y"), parse_iso("2026-03-07"));
        assert_eq!(parse_with("07-Mar-26 9:05 PM", "%d-%b-%y %I:%M %p"), parse_iso("2026-03-07T21:05"));
        assert_eq!(parse_with("March 7, 2026", "%B %d, %Y"), parse_iso("2026-03-07"));
        assert_eq!(parse_with("12 AM 2026-03-07", "%I %p %Y-%m-%d"), parse_iso("2026-03-07T00:00"));
        assert_eq!(parse_with("31/02/2026", "%d/%m/%Y"), None);
        assert_eq!(parse_with("2026-03-07 extra", "%Y-%m-%d"), None);
    }

    #[test]
    fn columns_become_dates_or_say_which_row_does_not_parse() {
        let frame = df!(
            "day" => [Some("2026-01-02"), None, Some("2026-01-04")],
            "at" => ["2026-01-02T08:00:00", "2026-01-02T09:30:00", "2026-01-03 10:00:00"],
            "name" => ["a", "b", "c"],
        )
        .expect("frame");
        let read = recognise(frame.clone(), "auto").expect("recognised");
        assert_eq!(read.column("day").expect("day").dtype(), &DataType::Date);
        assert!(matches!(read.column("at").expect("at").dtype(), DataType::Datetime(TimeUnit::Microseconds, None)));
        assert_eq!(read.column("name").expect("name").dtype(), &DataType::String);
        assert_eq!(recognise(frame, "none").expect("kept").column("day").expect("day").dtype(), &DataType::String);
        let bad = df!("day" => ["2026-01-02", "2026-02-30"]).expect("frame");
        let err = recognise(bad, "auto").expect_err("refused").to_string();
        assert!(err.contains("column \"day\", row 2: \"2026-02-30\" is not an ISO 8601 date"), "{err}");
        let european = df!("day" => ["02/01/2026", "31/12/2026"]).expect("frame");
        let read = recognise(european.clone(), "%d/%m/%Y").expect("recognised");
        assert_eq!(
            read.column("day").expect("day").date().expect("date").physical().get(1),
            parse_iso("2026-12-31").map(|m| m.days)
        );
        assert_eq!(recognise(european, "auto").expect("kept").column("day").expect("day").dtype(), &DataType::String);
    }
}
