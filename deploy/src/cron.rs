//! Cron expressions, in UTC: five fields (minute, hour, day of the month, month, day of the week) or six with
//! seconds first; `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `10-50/20`), month and day names
//! (`jan`, `mon-fri`), and `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`. As in cron, when both the day
//! of the month and the day of the week are restricted, a day matching either fires. A field that cannot be
//! read is refused naming it.

use std::fmt;

/// One field's allowed values, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    /// Whether it was `*` (or `*/1`), for the day-of-month / day-of-week rule.
    any: bool,
}

impl Field {
    fn has(self, v: u32) -> bool {
        self.bits & (1u64 << v) != 0
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    second: Field,
    minute: Field,
    hour: Field,
    day: Field,
    month: Field,
    weekday: Field,
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The names, ranges and aliases of each field.
struct Spec {
    name: &'static str,
    low: u32,
    high: u32,
    names: &'static [&'static str],
}

const SECOND: Spec = Spec { name: "second", low: 0, high: 59, names: &[] };
const MINUTE: Spec = Spec { name: "minute", low: 0, high: 59, names: &[] };
const HOUR: Spec = Spec { name: "hour", low: 0, high: 23, names: &[] };
const DAY: Spec = Spec { name: "day-of-month", low: 1, high: 31, names: &[] };
const MONTH: Spec = Spec { name: "month", low: 1, high: 12, names: &MONTHS };
const WEEKDAY: Spec = Spec { name: "day-of-week", low: 0, high: 7, names: &DAYS };

fn value(spec: &Spec, text: &str, whole: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(u32::try_from(i).unwrap_or(0) + u32::from(spec.names.len() == 12));
    }
    let v: u32 = text.parse().map_err(|_| {
        let names =
            if spec.names.is_empty() { String::new() } else { format!(" or a name ({})", spec.names.join(", ")) };
        format!("the {} field `{whole}`: `{text}` is not a number{names}", spec.name)
    })?;
    if v < spec.low || v > spec.high {
        return Err(format!("the {} field `{whole}`: {v} is out of range {}–{}", spec.name, spec.low, spec.high));
    }
    Ok(v)
}

fn field(spec: &Spec, text: &str) -> Result<Field, String> {
    let mut bits = 0u64;
    let mut any = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("the {} field `{text}`: the step `{step}` is not a whole number above 0", spec.name)
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            any |= step == 1;
            (spec.low, if spec.name == "day-of-week" { 6 } else { spec.high })
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(spec, a, text)?, value(spec, b, text)?);
            if a > b {
                return Err(format!("the {} field `{text}`: the range {a}-{b} runs backwards", spec.name));
            }
            (a, b)
        } else {
            let v = value(spec, range, text)?;
            (v, if step > 1 { spec.high } else { v })
        };
        if range.is_empty() {
            return Err(format!("the {} field `{text}` has an empty part", spec.name));
        }
        for v in (low..=high).step_by(step as usize) {
            // Sunday is 0 or 7.
            let v = if spec.name == "day-of-week" && v == 7 { 0 } else { v };
            bits |= 1u64 << v;
        }
    }
    Ok(Field { bits, any })
}

impl std::str::FromStr for Cron {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!(
                    "cron `{other}`: use @yearly, @monthly, @weekly, @daily or @hourly, or five fields"
                ));
            }
            other => other,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match parts.len() {
            5 => ("0", &parts[..]),
            6 => (parts[0], &parts[1..]),
            n => {
                return Err(format!(
                    "cron `{trimmed}` has {n} field(s): give five (minute hour day-of-month month day-of-week), or six with seconds first"
                ));
            }
        };
        let at = |e: String| format!("cron `{trimmed}`: {e}");
        Ok(Self {
            text: trimmed.to_owned(),
            second: field(&SECOND, second).map_err(at)?,
            minute: field(&MINUTE, rest[0]).map_err(at)?,
            hour: field(&HOUR, rest[1]).map_err(at)?,
            day: field(&DAY, rest[2]).map_err(at)?,
            month: field(&MONTH, rest[3]).map_err(at)?,
            weekday: field(&WEEKDAY, rest[4]).map_err(at)?,
        })
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Cron {
    fn day_matches(&self, days: i64) -> bool {
        let date = pipewright_engine::UtcTime::from_unix(days * 86_400);
        let small = |v: i64| u32::try_from(v).unwrap_or(0);
        let (month, day) = (small(date.month), small(date.day));
        if !self.month.has(month) {
            return false;
        }
        let weekday = u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
        match (self.day.any, self.weekday.any) {
            (true, true) => true,
            (false, true) => self.day.has(day),
            (true, false) => self.weekday.has(weekday),
            (false, false) => self.day.has(day) || self.weekday.has(weekday),
        }
    }

    /// The first time after `after` (seconds since the Unix epoch, UTC) that matches, within eight years.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let mut t = after + 1;
        let limit = after + 8 * 366 * 86_400;
        while t <= limit {
            let days = t.div_euclid(86_400);
            if !self.day_matches(days) {
                t = (days + 1) * 86_400;
                continue;
            }
            let in_day = t.rem_euclid(86_400);
            let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
            let small = |v: i64| u32::try_from(v).unwrap_or(0);
            if !self.hour.has(small(hour)) {
                t = days * 86_400 + (hour + 1) * 3600;
                continue;
            }
            if !self.minute.has(small(minute)) {
                t = days * 86_400 + hour * 3600 + (minute + 1) * 60;
                continue;
            }
            if !self.second.has(small(second)) {
                t += 1;
                continue;
            }
            return Some(t);
        }
        None
    }
}

/// Seconds since the Unix epoch of a UTC date and time, for tests and messages.
pub fn utc(year: i64, month: u32, day: u32, hour: i64, minute: i64, second: i64) -> i64 {
    days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(cron: &str, after: i64) -> i64 {
        cron.parse::<Cron>().expect("parses").next_after(after).expect("fires")
    }

    #[test]
    fn the_next_time_follows_each_field() {
        let t = utc(2026, 12, 6, 10, 17, 30);
        assert_eq!(next("*/15 * * * *", t), utc(2026, 12, 6, 10, 30, 0));
        assert_eq!(next("0 2 * * *", t), utc(2026, 12, 7, 2, 0, 0));
        assert_eq!(next("@hourly", t), utc(2026, 12, 6, 11, 0, 0));
        assert_eq!(next("0 9 * * mon-fri", t), utc(2026, 12, 7, 9, 0, 0), "6 December 2026 is a Sunday");
        assert_eq!(next("0 0 1 jan *", t), utc(2027, 1, 1, 0, 0, 0));
        assert_eq!(next("0 0 29 2 *", t), utc(2028, 2, 29, 0, 0, 0), "the next leap day");
        assert_eq!(next("*/2 * * * * *", t), utc(2026, 12, 6, 10, 17, 32), "six fields: seconds first");
        // Both day fields restricted: either fires (the 1st, or a Sunday).
        assert_eq!(next("0 0 1 * 0", utc(2026, 12, 7, 0, 0, 0)), utc(2026, 12, 13, 0, 0, 0));
        assert_eq!(next("0 0 * * 7", t), utc(2026, 12, 13, 0, 0, 0), "7 is Sunday too");
    }

    #[test]
    fn a_bad_expression_is_refused_naming_the_field() {
        for (text, says) in [
            ("61 * * * *", "the minute field `61`: 61 is out of range 0–59"),
            ("* 24 * * *", "the hour field `24`"),
            ("* * 0 * *", "the day-of-month field `0`"),
            ("* * * foo *", "the month field `foo`: `foo` is not a number or a name"),
            ("* * * * 1-9", "the day-of-week field `1-9`"),
            ("*/0 * * * *", "the step `0`"),
            ("5-2 * * * *", "runs backwards"),
            ("* * *", "has 3 field(s)"),
            ("@often", "use @yearly"),
        ] {
            let error = text.parse::<Cron>().expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
