//! `SQLite` reading: the result of a query on a database file, opened read-only, into typed columns.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use pipewright_engine::NodeError;

/// How long a query waits for a database that another program is writing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One cell as `SQLite` stored it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn of(value: ValueRef<'_>) -> Self {
        match value {
            ValueRef::Null => Self::Null,
            ValueRef::Integer(i) => Self::Integer(i),
            ValueRef::Real(x) => Self::Real(x),
            ValueRef::Text(bytes) => Self::Text(String::from_utf8_lossy(bytes).into_owned()),
            ValueRef::Blob(bytes) => Self::Blob(bytes.to_vec()),
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Integer(i) => Some(i as f64),
            Self::Real(x) => Some(x),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Integer(i) => Some(i.to_string()),
            Self::Real(x) => Some(x.to_string()),
            Self::Text(s) => Some(s.clone()),
            Self::Blob(bytes) => Some(bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })),
        }
    }
}

/// Runs `query` on the database at `path`, opened read-only, and reads at most `max_rows` rows
/// (all when `None`).
///
/// Each result column gets one type from the values `SQLite` returns (its storage classes): INTEGER
/// values make an integer column, INTEGER mixed with REAL a float column, TEXT a text column, and
/// any other mix a text column with numbers written out; BLOBs become lowercase hex text. NULL is a
/// missing cell; a column with no value at all (every cell NULL, or no rows) is a text column.
pub fn read_sqlite(path: &Path, query: &str, max_rows: Option<usize>) -> Result<DataFrame, NodeError> {
    // Opening read-only never creates a file, but its error for a missing one is vague; say it plainly.
    std::fs::metadata(path).map_err(|e| NodeError::Io(format!("cannot read {}: {e}", path.display())))?;
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| NodeError::Io(format!("cannot open {} as a SQLite database: {e}", path.display())))?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(|e| database_error(path, &e))?;
    if query.trim().is_empty() {
        return Err(NodeError::param(
            "query",
            format!("write the SQL query to run, for example {}", example_query(&connection)),
        ));
    }
    let mut statement = connection.prepare(query).map_err(|e| query_error(path, &e))?;
    if !statement.readonly() {
        return Err(NodeError::param(
            "query",
            "Import Data only reads: the query must not change the database (use SELECT or WITH … SELECT)",
        ));
    }
    let names: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let mut columns: Vec<Vec<Cell>> = vec![Vec::new(); names.len()];
    let mut rows = statement.query([]).map_err(|e| query_error(path, &e))?;
    let mut count = 0;
    while max_rows.is_none_or(|max| count < max) {
        let Some(row) = rows.next().map_err(|e| query_error(path, &e))? else { break };
        for (j, column) in columns.iter_mut().enumerate() {
            column.push(Cell::of(row.get_ref(j).map_err(|e| query_error(path, &e))?));
        }
        count += 1;
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(duplicate) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(NodeError::param(
            "query",
            format!("the query returns two columns named \"{duplicate}\": rename one with AS"),
        ));
    }
    let columns = names.iter().zip(&columns).map(|(name, cells)| column(name, cells)).collect();
    Ok(DataFrame::new(count, columns)?)
}

/// One typed column from the cells of a result column.
fn column(name: &str, cells: &[Cell]) -> Column {
    let present = || cells.iter().filter(|c| **c != Cell::Null);
    let any = present().next().is_some();
    if any && present().all(|c| matches!(c, Cell::Integer(_))) {
        let values: Vec<Option<i64>> =
            cells.iter().map(|c| if let Cell::Integer(i) = c { Some(*i) } else { None }).collect();
        return Column::new(name.into(), values);
    }
    if any && present().all(|c| matches!(c, Cell::Integer(_) | Cell::Real(_))) {
        return Column::new(name.into(), cells.iter().map(Cell::as_f64).collect::<Vec<_>>());
    }
    Column::new(name.into(), cells.iter().map(Cell::as_text).collect::<Vec<_>>())
}

/// A query that would read the first table of the database, to suggest when none is set.
fn example_query(connection: &Connection) -> String {
    let tables: Vec<String> = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |row| row.get::<_, String>(0))?.collect())
        .unwrap_or_default();
    match tables.first() {
        Some(first) => {
            format!("SELECT * FROM \"{}\" (the database has: {})", first.replace('"', "\"\""), tables.join(", "))
        }
        None => "SELECT * FROM my_table".to_owned(),
    }
}

/// An error from `SQLite` while preparing or running the query, with `SQLite`'s own message.
fn query_error(path: &Path, e: &rusqlite::Error) -> NodeError {
    if is_not_a_database(e) {
        return database_error(path, e);
    }
    NodeError::param("query", format!("SQLite cannot run the query: {e}"))
}

/// An error about the database file itself.
fn database_error(path: &Path, e: &rusqlite::Error) -> NodeError {
    if is_not_a_database(e) {
        return NodeError::data(format!(
            "{} is not a SQLite database (SQLite says: {e}): choose a .db/.sqlite file, or pick the format that matches the file",
            path.display()
        ));
    }
    NodeError::Io(format!("cannot read the SQLite database {}: {e}", path.display()))
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_storage_classes_widen() {
        let ints = column("a", &[Cell::Integer(1), Cell::Null, Cell::Integer(3)]);
        assert_eq!(ints.dtype(), &DataType::Int64);
        assert_eq!(ints.null_count(), 1);
        let floats = column("b", &[Cell::Integer(1), Cell::Real(2.5)]);
        assert_eq!(floats.dtype(), &DataType::Float64);
        let text = column("c", &[Cell::Integer(1), Cell::Text("x".into()), Cell::Blob(vec![0, 255])]);
        assert_eq!(text.dtype(), &DataType::String);
        assert_eq!(text.str().expect("str").get(2), Some("00ff"));
        assert_eq!(column("d", &[Cell::Null, Cell::Null]).dtype(), &DataType::String);
    }
}
