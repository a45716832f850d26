//! JSON reading: an array of objects, or one object per line (NDJSON), into typed columns.

use polars::prelude::*;
use serde_json::{Map, Value as Json};

use pipewright_engine::NodeError;

/// Reads JSON records into a frame. Columns are the keys in order of first appearance; a key a
/// record lacks, and `null`, are missing cells. A column is boolean when all its present values are,
/// integer when all are integers, float when all are numbers, and text otherwise (nested arrays and
/// objects as their JSON text).
pub fn read_json_bytes(bytes: &[u8], lines: bool) -> Result<DataFrame, NodeError> {
    let records: Vec<Map<String, Json>> = if lines {
        let text = std::str::from_utf8(bytes).map_err(|e| NodeError::data(format!("not valid UTF-8: {e}")))?;
        let mut records = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Json>(line) {
                Ok(Json::Object(record)) => records.push(record),
                Ok(_) => {
                    return Err(NodeError::data(format!(
                        "line {}: expected a JSON object such as {{\"a\": 1}}",
                        i + 1
                    )));
                }
                Err(e) => return Err(NodeError::data(format!("malformed JSON at line {}: {e}", i + 1))),
            }
        }
        records
    } else {
        let value: Json = serde_json::from_slice(bytes).map_err(|e| {
            NodeError::data(format!(
                "malformed JSON at line {}, column {}: {e} (one object per line is the ndjson format)",
                e.line(),
                e.column()
            ))
        })?;
        let Json::Array(items) = value else {
            return Err(NodeError::data("expected an array of objects such as [{\"a\": 1}, {\"a\": 2}]"));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::Object(record) => Ok(record),
                _ => Err(NodeError::data(format!("item {} of the array is not an object", i + 1))),
            })
            .collect::<Result<_, _>>()?
    };
    let mut names: Vec<String> = Vec::new();
    for record in &records {
        for key in record.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let columns = names.iter().map(|name| column(name, &records)).collect();
    Ok(DataFrame::new(records.len(), columns)?)
}

fn column(name: &str, records: &[Map<String, Json>]) -> Column {
    let cells: Vec<Option<&Json>> = records.iter().map(|r| r.get(name).filter(|v| !v.is_null())).collect();
    let present = || cells.iter().flatten();
    if present().all(|v| v.is_boolean()) && present().next().is_some() {
        return Column::new(name.into(), cells.iter().map(|v| v.and_then(Json::as_bool)).collect::<Vec<_>>());
    }
    if present().all(|v| v.is_i64()) && present().next().is_some() {
        return Column::new(name.into(), cells.iter().map(|v| v.and_then(Json::as_i64)).collect::<Vec<_>>());
    }
    if present().all(|v| v.is_number()) && present().next().is_some() {
        return Column::new(name.into(), cells.iter().map(|v| v.and_then(Json::as_f64)).collect::<Vec<_>>());
    }
    let text = |v: &Json| match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    Column::new(name.into(), cells.iter().map(|v| v.map(text)).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_typed_columns() {
        let frame = read_json_bytes(br#"[{"a": 1, "b": "x"}, {"a": 2.5, "c": true}, {"b": null, "d": [1]}]"#, false)
            .expect("reads");
        assert_eq!(frame.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(frame.column("a").expect("a").dtype(), &DataType::Float64);
        assert_eq!(frame.column("b").expect("b").null_count(), 2);
        assert_eq!(frame.column("c").expect("c").dtype(), &DataType::Boolean);
        assert_eq!(frame.column("d").expect("d").str().expect("text").get(2), Some("[1]"));
    }

    #[test]
    fn ndjson_errors_name_the_line() {
        let err = read_json_bytes(b"{\"a\": 1}\n\n{\"a\": }\n", true).expect_err("malformed");
        assert!(err.to_string().contains("line 3"), "{err}");
        let frame = read_json_bytes(b"{\"a\": 1}\n{\"a\": 2}\n", true).expect("reads");
        assert_eq!(frame.column("a").expect("a").dtype(), &DataType::Int64);
    }
}
