//! `PostgreSQL`: Import Data reads the result of a query (in a read-only transaction) or a whole table; Export
//! Data writes a table. The connection string comes from a named connection (an environment variable or a
//! saved connection, see [`pipewright_engine::connections`]), never from the workflow; messages never quote
//! its password.

use std::fmt::Write as _;
use std::time::Duration;

use polars::prelude::*;
use postgres::types::{FromSql, Type};
use postgres::{Client, Config, NoTls};

use pipewright_engine::{NodeError, connections};

/// How long opening a connection may take when the connection string does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Days from 1970-01-01 to 2000-01-01, `PostgreSQL`'s epoch.
const EPOCH_DAYS: i64 = 10_957;

/// An open connection and the string it was opened with (to keep its password out of messages).
struct Connection {
    client: Client,
    string: String,
}

impl Connection {
    fn open(name: &str) -> Result<Self, NodeError> {
        let string = connections::resolve(name).map_err(|e| NodeError::param("connection", e))?;
        let mut config: Config = string.parse().map_err(|e| {
            NodeError::param(
                "connection",
                connections::redact(&format!("the connection string of \"{name}\" cannot be read: {e}"), &string),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let client = config.connect(NoTls).map_err(|e| {
            NodeError::Io(connections::redact(
                &format!("cannot connect to PostgreSQL with the connection \"{name}\": {}", describe(&e)),
                &string,
            ))
        })?;
        Ok(Self { client, string })
    }
}

/// An error from the server while running SQL, in its own words, the password of `string` redacted.
fn failure(string: &str, name: &str, param: &str, e: &postgres::Error) -> NodeError {
    NodeError::param(param, connections::redact(&format!("PostgreSQL ({name}): {}", describe(e)), string))
}

/// The server's message (with its detail and hint) or the client's error with its cause.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            let _ = write!(text, " ({detail})");
        }
        if let Some(hint) = db.hint() {
            let _ = write!(text, "; hint: {hint}");
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            let _ = write!(text, ": {more}");
        }
        source = s.source();
    }
    text
}

/// A table name as SQL: `schema.table` quoted part by part.
fn quoted_table(table: &str) -> String {
    table.split('.').map(quoted).collect::<Vec<_>>().join(".")
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.trim().replace('"', "\"\""))
}

/// Reads the result of `query`, or the whole of `table` when the query is empty, through the connection
/// `name`; at most `max_rows` rows when given. Integer types make integer columns, real and numeric types
/// float columns, boolean boolean, text types text; dates and times are ISO 8601 text, UUIDs and JSON text,
/// byte strings hex; NULL is missing. Any other type is refused, naming the column.
pub fn read(name: &str, query: &str, table: &str, max_rows: Option<usize>) -> Result<DataFrame, NodeError> {
    let sql = match (query.trim(), table.trim()) {
        ("", "") => {
            return Err(NodeError::param(
                "query",
                "write the SQL query to run (SELECT * FROM flights WHERE year = 2024), or name a table",
            ));
        }
        ("", table) => format!("SELECT * FROM {}", quoted_table(table)),
        (query, _) => query.trim_end_matches(';').to_owned(),
    };
    let param = if query.trim().is_empty() { "table" } else { "query" };
    let Connection { mut client, string } = Connection::open(name)?;
    let mut transaction =
        client.build_transaction().read_only(true).start().map_err(|e| {
            NodeError::Io(connections::redact(&format!("PostgreSQL ({name}): {}", describe(&e)), &string))
        })?;
    let statement = transaction.prepare(&sql);
    let statement = match statement {
        Ok(s) => s,
        Err(e) => return Err(failure(&string, name, param, &e)),
    };
    let columns: Vec<(String, Type)> =
        statement.columns().iter().map(|c| (c.name().to_owned(), c.type_().clone())).collect();
    let mut seen = std::collections::HashSet::new();
    if let Some((duplicate, _)) = columns.iter().find(|(n, _)| !seen.insert(n.as_str())) {
        return Err(NodeError::param(
            param,
            format!("the query returns two columns named \"{duplicate}\": rename one with AS"),
        ));
    }
    let mut builders = columns
        .iter()
        .map(|(column, ty)| Builder::for_type(ty).ok_or_else(|| unsupported(param, column, ty)))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = match max_rows {
        Some(limit) => {
            let limited = format!("SELECT * FROM ({sql}) AS peek LIMIT {limit}");
            transaction.query(&limited, &[])
        }
        None => transaction.query(&statement, &[]),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return Err(failure(&string, name, param, &e)),
    };
    for row in &rows {
        for (j, builder) in builders.iter_mut().enumerate() {
            builder.push(row, j).map_err(|e| NodeError::data(format!("column \"{}\": {e}", columns[j].0)))?;
        }
    }
    let count = rows.len();
    let frame_columns = columns.iter().zip(builders).map(|((column, _), b)| b.finish(column)).collect();
    Ok(DataFrame::new(count, frame_columns)?)
}

fn unsupported(param: &str, column: &str, ty: &Type) -> NodeError {
    NodeError::param(
        param,
        format!(
            "column \"{column}\" has the PostgreSQL type {ty}, which Import Data does not read: cast it in the query, for example {column}::text"
        ),
    )
}

/// The values of one result column as they are read.
enum Builder {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>, TextOf),
}

/// How a text column's values are written.
#[derive(Clone, Copy)]
enum TextOf {
    Text,
    Date,
    Timestamp,
    Time,
    Uuid,
    Json,
    Bytes,
}

impl Builder {
    fn for_type(ty: &Type) -> Option<Self> {
        let text = |of| Some(Self::Text(Vec::new(), of));
        match *ty {
            Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => Some(Self::Int(Vec::new())),
            Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => Some(Self::Float(Vec::new())),
            Type::BOOL => Some(Self::Bool(Vec::new())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::CHAR => text(TextOf::Text),
            Type::DATE => text(TextOf::Date),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => text(TextOf::Timestamp),
            Type::TIME => text(TextOf::Time),
            Type::UUID => text(TextOf::Uuid),
            Type::JSON | Type::JSONB => text(TextOf::Json),
            Type::BYTEA => text(TextOf::Bytes),
            _ if ty.name() == "citext" => text(TextOf::Text),
            _ => None,
        }
    }

    fn push(&mut self, row: &postgres::Row, j: usize) -> Result<(), postgres::Error> {
        match self {
            Self::Int(values) => values.push(row.try_get::<_, Option<Raw>>(j)?.map(|r| r.int())),
            Self::Float(values) => values.push(row.try_get::<_, Option<Raw>>(j)?.map(|r| r.float())),
            Self::Bool(values) => values.push(row.try_get::<_, Option<bool>>(j)?),
            Self::Text(values, of) => values.push(row.try_get::<_, Option<Raw>>(j)?.map(|r| r.text(*of))),
        }
        Ok(())
    }

    fn finish(self, name: &str) -> Column {
        match self {
            Self::Int(values) => Column::new(name.into(), values),
            Self::Float(values) => Column::new(name.into(), values),
            Self::Bool(values) => Column::new(name.into(), values),
            Self::Text(values, _) => Column::new(name.into(), values),
        }
    }
}

/// A value in `PostgreSQL`'s binary form, with its type, decoded on demand.
struct Raw {
    ty: Type,
    bytes: Vec<u8>,
}

impl<'a> FromSql<'a> for Raw {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self { ty: ty.clone(), bytes: raw.to_vec() })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl Raw {
    fn be<const N: usize>(&self) -> [u8; N] {
        let mut out = [0; N];
        let n = self.bytes.len().min(N);
        out[..n].copy_from_slice(&self.bytes[..n]);
        out
    }

    fn int(&self) -> i64 {
        match self.bytes.len() {
            2 => i64::from(i16::from_be_bytes(self.be())),
            4 if self.ty == Type::OID => i64::from(u32::from_be_bytes(self.be())),
            4 => i64::from(i32::from_be_bytes(self.be())),
            _ => i64::from_be_bytes(self.be()),
        }
    }

    fn float(&self) -> f64 {
        match self.ty {
            Type::FLOAT4 => f64::from(f32::from_be_bytes(self.be())),
            Type::NUMERIC => numeric(&self.bytes),
            _ => f64::from_be_bytes(self.be()),
        }
    }

    fn text(&self, of: TextOf) -> String {
        match of {
            TextOf::Json if self.ty == Type::JSONB => {
                String::from_utf8_lossy(self.bytes.get(1..).unwrap_or(&[])).into_owned()
            }
            TextOf::Text | TextOf::Json => String::from_utf8_lossy(&self.bytes).into_owned(),
            TextOf::Date => {
                let days = i32::from_be_bytes(self.be());
                match days {
                    i32::MAX => "infinity".into(),
                    i32::MIN => "-infinity".into(),
                    _ => date_of(i64::from(days) + EPOCH_DAYS),
                }
            }
            TextOf::Timestamp => {
                let micros = i64::from_be_bytes(self.be());
                match micros {
                    i64::MAX => "infinity".into(),
                    i64::MIN => "-infinity".into(),
                    _ => {
                        let (days, of_day) = (micros.div_euclid(86_400_000_000), micros.rem_euclid(86_400_000_000));
                        let suffix = if self.ty == Type::TIMESTAMPTZ { "Z" } else { "" };
                        format!("{}T{}{suffix}", date_of(days + EPOCH_DAYS), time_of(of_day))
                    }
                }
            }
            TextOf::Time => time_of(i64::from_be_bytes(self.be())),
            TextOf::Uuid => {
                let hex = hex(&self.bytes);
                if hex.len() == 32 {
                    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
                } else {
                    hex
                }
            }
            TextOf::Bytes => hex(&self.bytes),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `YYYY-MM-DD` of days since 1970-01-01.
fn date_of(days: i64) -> String {
    let t = pipewright_engine::UtcTime::from_unix(days * 86_400);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

/// `HH:MM:SS` with the fraction when there is one, of microseconds since midnight.
fn time_of(micros: i64) -> String {
    let (seconds, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let base = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    if fraction == 0 { base } else { format!("{base}.{fraction:06}").trim_end_matches('0').to_owned() }
}

/// A NUMERIC in binary form (digit count, weight, sign, scale, then base-10000 digits) as the nearest f64,
/// through its decimal text so the rounding is the parser's.
fn numeric(bytes: &[u8]) -> f64 {
    let word = |i: usize| bytes.get(2 * i..2 * i + 2).map_or(0, |w| u16::from_be_bytes([w[0], w[1]]));
    let (count, weight, sign) = (usize::from(word(0)), i32::from(word(1).cast_signed()), word(2));
    match sign {
        0xC000 => return f64::NAN,
        0xD000 => return f64::INFINITY,
        0xF000 => return f64::NEG_INFINITY,
        _ => {}
    }
    // 0.d1d2… with each base-10000 digit as four decimal ones, then scaled by 10000^(weight + 1).
    let mut text = String::from(if sign == 0x4000 { "-0." } else { "0." });
    for i in 0..count {
        let _ = write!(text, "{:04}", word(4 + i));
    }
    let _ = write!(text, "e{}", 4 * (weight + 1));
    text.parse().unwrap_or(f64::NAN)
}

/// Writes `frame` as the table `table` through the connection `name`, in one transaction: `replace` drops a
/// table of that name first, else an existing table is refused. Integer columns become BIGINT, floats DOUBLE
/// PRECISION, booleans BOOLEAN, anything else TEXT. Returns the rows written.
pub fn write(name: &str, table: &str, frame: &DataFrame, replace: bool) -> Result<usize, NodeError> {
    if table.trim().is_empty() {
        return Err(NodeError::param("table", "name the table to write, such as scored or analytics.scored"));
    }
    let Connection { mut client, string } = Connection::open(name)?;
    let target = quoted_table(table);
    let mut transaction =
        client.transaction().map_err(|e| NodeError::Io(format!("PostgreSQL ({name}): {}", describe(&e))))?;
    let result = (|| {
        if replace {
            transaction.batch_execute(&format!("DROP TABLE IF EXISTS {target}"))?;
        }
        let columns: Vec<String> = frame
            .columns()
            .iter()
            .map(|c| {
                let ty = match c.dtype() {
                    dt if dt.is_integer() => "BIGINT",
                    dt if dt.is_float() => "DOUBLE PRECISION",
                    DataType::Boolean => "BOOLEAN",
                    _ => "TEXT",
                };
                format!("{} {ty}", quoted(c.name()))
            })
            .collect();
        transaction.batch_execute(&format!("CREATE TABLE {target} ({})", columns.join(", ")))?;
        let names: Vec<String> = frame.columns().iter().map(|c| quoted(c.name())).collect();
        let mut writer = transaction.copy_in(&format!("COPY {target} ({}) FROM STDIN", names.join(", ")))?;
        // A failed write shows in finish, which then fails with the server's reason.
        let written = copy_rows(frame, &mut writer);
        writer.finish()?;
        Ok::<std::io::Result<()>, postgres::Error>(written)
    })();
    match result {
        Ok(Ok(())) => transaction.commit().map_err(|e| failure(&string, name, "table", &e))?,
        Ok(Err(e)) => return Err(NodeError::Io(format!("PostgreSQL ({name}): the rows could not be sent: {e}"))),
        Err(e) => return Err(failure(&string, name, "table", &e)),
    }
    Ok(frame.height())
}

/// The rows in COPY's text format: tab-separated, `\N` for missing, backslash escapes.
fn copy_rows(frame: &DataFrame, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let columns: Vec<Column> = frame
        .columns()
        .iter()
        .map(|c| {
            if c.dtype().is_primitive_numeric() || c.dtype() == &DataType::Boolean {
                c.clone()
            } else {
                c.cast(&DataType::String).unwrap_or_else(|_| c.clone())
            }
        })
        .collect();
    let mut line = String::new();
    for row in 0..frame.height() {
        line.clear();
        for (j, column) in columns.iter().enumerate() {
            if j > 0 {
                line.push('\t');
            }
            match column.get(row) {
                Ok(AnyValue::Null) | Err(_) => line.push_str("\\N"),
                Ok(AnyValue::Boolean(b)) => line.push_str(if b { "t" } else { "f" }),
                Ok(AnyValue::Float64(x)) => float_text(&mut line, x),
                Ok(AnyValue::Float32(x)) => float_text(&mut line, f64::from(x)),
                Ok(AnyValue::String(s)) => escape(&mut line, s),
                Ok(AnyValue::StringOwned(s)) => escape(&mut line, &s),
                Ok(other) => escape(&mut line, &other.to_string()),
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn float_text(line: &mut String, x: f64) {
    if x.is_nan() {
        line.push_str("NaN");
    } else if x.is_infinite() {
        line.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(line, "{x}");
    }
}

fn escape(line: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\t' => line.push_str("\\t"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c => line.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_dates_and_copy_text() {
        // 12345.678: digits 1, 2345, 6780; weight 1; scale 3.
        let bytes = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C];
        assert!((numeric(&bytes) - 12_345.678).abs() < 1e-9, "{}", numeric(&bytes));
        // -0.05: one digit 500 at weight -1, negative.
        let bytes = [0, 1, 0xFF, 0xFF, 0x40, 0, 0, 2, 0x01, 0xF4];
        assert!((numeric(&bytes) + 0.05).abs() < 1e-12, "{}", numeric(&bytes));
        assert_eq!(numeric(&[0, 0, 0, 0, 0, 0, 0, 0]), 0.0);
        assert_eq!(date_of(EPOCH_DAYS), "2000-01-01");
        assert_eq!(time_of(3_723_500_000), "01:02:03.5");
        assert_eq!(quoted_table("analytics.my \"t\""), "\"analytics\".\"my \"\"t\"\"\"");
        let frame =
            df!("a" => [Some(1_i64), None], "b" => ["x\ty", "back\\slash"], "c" => [f64::NAN, 2.5]).expect("frame");
        let mut out = Vec::new();
        copy_rows(&frame, &mut out).expect("writes");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "1\tx\\ty\tNaN\n\\N\tback\\\\slash\t2.5\n");
    }
}
