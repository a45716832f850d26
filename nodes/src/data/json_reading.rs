//! JSON reading: an array of objects, or one object per line (NDJSON), into typed columns.

use std::fmt;

use polars::prelude::*;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value as Json};

use pipewright_engine::NodeError;

/// Reads JSON records into a frame. Columns are the keys in order of first appearance; a key a
/// record lacks, and `null`, are missing cells. A column is boolean when all its present values are,
/// integer when all are integers, float when all are numbers, and text otherwise (nested arrays and
/// objects as their JSON text).
///
/// A key that appears twice in one record, or an empty key, would silently lose a value: such keys are
/// renamed (`a_2`, `column_N`) and the second value returned is a note for the user per renamed key.
pub fn read_json_bytes(bytes: &[u8], lines: bool) -> Result<(DataFrame, Vec<String>), NodeError> {
    let mut items: Vec<Item> = Vec::new();
    if lines {
        let text = std::str::from_utf8(bytes).map_err(|e| NodeError::data(format!("not valid UTF-8: {e}")))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Item>(line) {
                Ok(Item::Record(record)) => items.push(Item::Record(record)),
                Ok(Item::Other) => {
                    return Err(NodeError::data(format!(
                        "line {}: expected a JSON object such as {{\"a\": 1}}",
                        i + 1
                    )));
                }
                Err(e) => return Err(NodeError::data(format!("malformed JSON at line {}: {e}", i + 1))),
            }
        }
    } else {
        let value: Top = serde_json::from_slice(bytes).map_err(|e| {
            NodeError::data(format!(
                "malformed JSON at line {}, column {}: {e} (one object per line is the ndjson format)",
                e.line(),
                e.column()
            ))
        })?;
        let Top::Array(array) = value else {
            return Err(NodeError::data("expected an array of objects such as [{\"a\": 1}, {\"a\": 2}]"));
        };
        if let Some(i) = array.iter().position(|item| matches!(item, Item::Other)) {
            return Err(NodeError::data(format!("item {} of the array is not an object", i + 1)));
        }
        items = array;
    }
    let mut notes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut records: Vec<Map<String, Json>> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Item::Record(pairs) = item else { continue };
        let record = unique_keys(pairs, i + 1, &mut notes);
        for key in record.keys() {
            if known.insert(key.clone()) {
                names.push(key.clone());
            }
        }
        records.push(record);
    }
    let columns = names.iter().map(|name| column(name, &records)).collect();
    Ok((DataFrame::new(records.len(), columns)?, notes))
}

/// A record's pairs as a map in which no value replaces another: a repeated key gets `_2`, `_3`…, an empty
/// key `column_N` (N its position in the record), each with a note naming the record.
fn unique_keys(pairs: Vec<(String, Json)>, record: usize, notes: &mut Vec<String>) -> Map<String, Json> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    if pairs.iter().all(|(k, _)| !k.is_empty() && seen.insert(k.as_str())) {
        return pairs.into_iter().collect();
    }
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    let taken = |map: &Map<String, Json>, name: &str| map.contains_key(name) || keys.iter().any(|k| k == name);
    let mut map = Map::with_capacity(pairs.len());
    for (j, (key, value)) in pairs.into_iter().enumerate() {
        let name = if key.is_empty() {
            let mut candidate = format!("column_{}", j + 1);
            while taken(&map, &candidate) {
                candidate.push('_');
            }
            notes.push(format!("record {record}: key {} has no name: named \"{candidate}\"", j + 1));
            candidate
        } else if map.contains_key(&key) {
            let (mut k, mut candidate) = (2, format!("{key}_2"));
            while taken(&map, &candidate) {
                k += 1;
                candidate = format!("{key}_{k}");
            }
            notes.push(format!("record {record}: \"{key}\" appears more than once: one is named \"{candidate}\""));
            candidate
        } else {
            key
        };
        map.insert(name, value);
    }
    map
}

/// The scalar visits of a visitor that only tells objects (or arrays) from everything else.
macro_rules! forward_scalars {
    ($other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

/// A JSON document's top level: an array of items, or anything else.
enum Top {
    Array(Vec<Item>),
    Other,
}

/// One JSON value as a record: an object's pairs in order, repeated keys kept (a map keeps only the last
/// of them), or anything that is not an object.
enum Item {
    Record(Vec<(String, Json)>),
    Other,
}

impl<'de> de::Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<Item>()? {
                    items.push(item);
                }
                Ok(Top::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Top::Other)
            }
            forward_scalars!(Top::Other);
        }
        deserializer.deserialize_any(TopVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry::<String, Json>()? {
                    pairs.push(pair);
                }
                Ok(Item::Record(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Item::Other)
            }
            forward_scalars!(Item::Other);
        }
        deserializer.deserialize_any(ItemVisitor)
    }
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
        let (frame, notes) =
            read_json_bytes(br#"[{"a": 1, "b": "x"}, {"a": 2.5, "c": true}, {"b": null, "d": [1]}]"#, false)
                .expect("reads");
        assert!(notes.is_empty());
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
        let (frame, _) = read_json_bytes(b"{\"a\": 1}\n{\"a\": 2}\n", true).expect("reads");
        assert_eq!(frame.column("a").expect("a").dtype(), &DataType::Int64);
    }

    #[test]
    fn repeated_and_empty_keys_are_renamed_with_a_note_never_dropped() {
        let (frame, notes) =
            read_json_bytes(br#"[{"a": 1, "a": 2, "": 3}, {"a": 4, "a_2": 5}]"#, false).expect("reads");
        let names: Vec<&str> = frame.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["a", "a_2", "column_3"]);
        assert_eq!(frame.column("a_2").expect("a_2").i64().expect("ints").get(0), Some(2), "the second value kept");
        assert_eq!(frame.column("a_2").expect("a_2").i64().expect("ints").get(1), Some(5));
        assert_eq!(
            notes,
            [
                "record 1: \"a\" appears more than once: one is named \"a_2\"",
                "record 1: key 3 has no name: named \"column_3\""
            ]
        );
        let (frame, notes) = read_json_bytes(b"{\"x\": 1, \"x\": 2}\n", true).expect("reads");
        assert_eq!(frame.width(), 2);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn values_that_are_not_objects_are_named() {
        let err = read_json_bytes(br#"[{"a": 1}, [1, 2]]"#, false).expect_err("not an object");
        assert!(err.to_string().contains("item 2 of the array is not an object"), "{err}");
        let err = read_json_bytes(br#"{"a": 1}"#, false).expect_err("not an array");
        assert!(err.to_string().contains("expected an array of objects"), "{err}");
        let err = read_json_bytes(b"{\"a\": 1}\n7\n", true).expect_err("not an object");
        assert!(err.to_string().contains("line 2: expected a JSON object"), "{err}");
        let err = read_json_bytes(b"[{\"a\": 1},\n {\"a\": }]", false).expect_err("malformed");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
