//! YAML text of a JSON value, for Kubernetes manifests: block style, strings double-quoted with JSON
//! escapes (which YAML reads the same), so no value can change meaning.

use std::fmt::Write as _;

use serde_json::Value as Json;

/// The YAML document of `value`.
pub fn to_yaml(value: &Json) -> String {
    let mut out = String::new();
    match value {
        Json::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Json::Array(list) if !list.is_empty() => write_list(&mut out, list, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn scalar(value: &Json) -> String {
    match value {
        Json::Object(_) => "{}".into(),
        Json::Array(_) => "[]".into(),
        // JSON's string, number, bool and null literals are YAML's too.
        other => other.to_string(),
    }
}

fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !name.starts_with(['-', '.'])
        && !name.starts_with(|c: char| c.is_ascii_digit())
        // YAML 1.1 (which Kubernetes reads) takes these as booleans and null.
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&name.to_ascii_lowercase().as_str());
    if plain { name.to_owned() } else { Json::String(name.to_owned()).to_string() }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Json>, indent: usize) {
    for (i, (name, value)) in map.iter().enumerate() {
        // The first key of a list item follows its "- ".
        if i > 0 || !out.ends_with("- ") {
            out.push_str(&" ".repeat(indent));
        }
        let _ = write!(out, "{}:", key(name));
        match value {
            Json::Object(m) if !m.is_empty() => {
                out.push('\n');
                write_map(out, m, indent + 2);
            }
            Json::Array(l) if !l.is_empty() => {
                out.push('\n');
                write_list(out, l, indent);
            }
            other => {
                let _ = writeln!(out, " {}", scalar(other));
            }
        }
    }
}

fn write_list(out: &mut String, list: &[Json], indent: usize) {
    for item in list {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Json::Object(m) if !m.is_empty() => write_map(out, m, indent + 2),
            Json::Array(l) if !l.is_empty() => {
                out.push('\n');
                write_list(out, l, indent + 2);
            }
            other => {
                let _ = writeln!(out, "{}", scalar(other));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_lists_are_block_style_with_quoted_strings() {
        let doc = json!({
            "apiVersion": "batch/v1",
            "metadata": {"name": "job", "labels": {"app.kubernetes.io/name": "pipewright"}},
            "spec": {"containers": [{"name": "runner", "args": ["run", "a: b"], "env": []}], "count": 2, "on": true},
        });
        assert_eq!(
            to_yaml(&doc),
            "apiVersion: \"batch/v1\"\n\
             metadata:\n  name: \"job\"\n  labels:\n    app.kubernetes.io/name: \"pipewright\"\n\
             spec:\n  containers:\n  - name: \"runner\"\n    args:\n    - \"run\"\n    - \"a: b\"\n    env: []\n\
             \x20 count: 2\n  \"on\": true\n"
        );
    }
}
