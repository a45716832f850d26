//! Parameter values checked against their spec once, at the boundary, then read through typed getters.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::error::NodeError;
use crate::rng::derive_seed;
use crate::spec::{NodeSpec, ParamKind, ParamSpec};
use crate::workflow::Node;

/// A node's parameter values: every parameter of its spec, defaults filled in and seeds resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, Json>,
}

/// One parameter problem found while resolving.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamProblem {
    /// Parameter name.
    pub param: String,
    /// What is wrong.
    pub message: String,
}

impl Params {
    /// Checks a node's values against its spec; returns the resolved values and every problem.
    pub fn resolve(spec: &NodeSpec, node: &Node, workflow_seed: u64) -> (Self, Vec<ParamProblem>) {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for name in node.params.keys() {
            if spec.param_spec(name).is_none() {
                let known: Vec<_> = spec.params.iter().map(|p| p.name).collect();
                problems.push(ParamProblem {
                    param: name.clone(),
                    message: format!("{} has no parameter \"{name}\" (it has: {})", spec.name, known.join(", ")),
                });
            }
        }
        for p in &spec.params {
            let given = node.params.get(p.name).cloned().unwrap_or(Json::Null);
            let value = if given.is_null() { p.default.clone() } else { given };
            // Not required while another parameter has the value that makes it unneeded.
            let exempt = p.unless.is_some_and(|(other, wanted)| {
                let given = node.params.get(other).filter(|v| !v.is_null());
                let other = given.or_else(|| spec.param_spec(other).map(|s| &s.default));
                other.and_then(Json::as_str) == Some(wanted)
            });
            let checked =
                if exempt && (value.is_null() || value.as_str() == Some("")) { Ok(()) } else { check(p, &value) };
            if let Err(message) = checked {
                problems.push(ParamProblem { param: p.name.to_owned(), message });
            }
            let value = if matches!(p.kind, ParamKind::Seed) && value.is_null() {
                Json::from(derive_seed(workflow_seed, &node.id))
            } else {
                value
            };
            values.insert(p.name.to_owned(), value);
        }
        (Self { values }, problems)
    }

    /// Values built directly, for tests and for learners that carry their parameters.
    pub fn from_map(values: BTreeMap<String, Json>) -> Self {
        Self { values }
    }

    /// All values, sorted by name (the canonical form that enters cache keys).
    pub fn values(&self) -> &BTreeMap<String, Json> {
        &self.values
    }

    /// The raw value.
    pub fn get(&self, name: &str) -> &Json {
        self.values.get(name).unwrap_or(&Json::Null)
    }

    fn typed<T>(&self, name: &str, what: &str, read: impl Fn(&Json) -> Option<T>) -> Result<T, NodeError> {
        read(self.get(name)).ok_or_else(|| NodeError::param(name, format!("expected {what}, got {}", self.get(name))))
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64, NodeError> {
        self.typed(name, "a whole number", Json::as_i64)
    }

    /// A count parameter (a non-negative integer).
    pub fn count(&self, name: &str) -> Result<usize, NodeError> {
        self.typed(name, "a non-negative whole number", |v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
    }

    /// A float parameter.
    pub fn float(&self, name: &str) -> Result<f64, NodeError> {
        self.typed(name, "a number", Json::as_f64)
    }

    /// A bool parameter.
    pub fn bool(&self, name: &str) -> Result<bool, NodeError> {
        self.typed(name, "true or false", Json::as_bool)
    }

    /// A text or choice parameter.
    pub fn text(&self, name: &str) -> Result<&str, NodeError> {
        self.get(name).as_str().ok_or_else(|| NodeError::param(name, format!("expected text, got {}", self.get(name))))
    }

    /// An optional column or path parameter: `None` when unset.
    pub fn optional_text(&self, name: &str) -> Option<&str> {
        self.get(name).as_str().filter(|s| !s.is_empty())
    }

    /// A required column parameter.
    pub fn column(&self, name: &str) -> Result<&str, NodeError> {
        self.optional_text(name).ok_or_else(|| NodeError::param(name, "choose a column"))
    }

    /// A column-list parameter; empty when unset.
    pub fn columns(&self, name: &str) -> Vec<String> {
        self.get(name)
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// A seed parameter (resolved: never empty).
    pub fn seed(&self, name: &str) -> Result<u64, NodeError> {
        self.typed(name, "a seed", Json::as_u64)
    }
}

/// Checks one value against its spec; `Err` holds a message for the user.
pub fn check(p: &ParamSpec, value: &Json) -> Result<(), String> {
    if value.is_null() {
        return if p.required { Err("required: set a value".into()) } else { Ok(()) };
    }
    match &p.kind {
        ParamKind::Integer { min, max } => {
            let n = value.as_i64().ok_or_else(|| format!("expected a whole number, got {value}"))?;
            if n < *min || n > *max {
                return Err(format!("must be between {min} and {max}, got {n}"));
            }
        }
        ParamKind::Float { min, max } => {
            let x = value.as_f64().ok_or_else(|| format!("expected a number, got {value}"))?;
            if !(x >= *min && x <= *max) {
                return Err(format!("must be between {min} and {max}, got {x}"));
            }
        }
        ParamKind::Bool => {
            value.as_bool().ok_or_else(|| format!("expected true or false, got {value}"))?;
        }
        ParamKind::Choice { choices } => {
            let s = value.as_str().ok_or_else(|| format!("expected one of {}, got {value}", choices.join(", ")))?;
            if !choices.contains(&s) {
                return Err(format!("\"{s}\" is not one of: {}", choices.join(", ")));
            }
        }
        ParamKind::Text | ParamKind::Column { .. } | ParamKind::FilePath { .. } => {
            let s = value.as_str().ok_or_else(|| format!("expected text, got {value}"))?;
            if p.required && s.is_empty() {
                return Err("required: set a value".into());
            }
        }
        ParamKind::ColumnList { .. } => {
            let ok = value.as_array().is_some_and(|a| a.iter().all(Json::is_string));
            if !ok {
                return Err(format!("expected a list of column names, got {value}"));
            }
        }
        ParamKind::Seed => {
            value.as_u64().ok_or_else(|| format!("expected a non-negative whole number or empty, got {value}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Category, NodeSpec, choice, float, int};
    use serde_json::json;

    fn spec() -> NodeSpec {
        NodeSpec::new("t.k", "K", Category::Transform, "test")
            .param("n", "N", int(1, 10), json!(3), "")
            .param("x", "X", float(0.0, 1.0), json!(0.5), "")
            .param("mode", "Mode", choice(&["a", "b"]), json!("a"), "")
            .param("seed", "Seed", ParamKind::Seed, Json::Null, "")
            .required_param("label", "Label", ParamKind::Column { port: "data" }, "")
    }

    fn node(params: &serde_json::Value) -> Node {
        let params = params.as_object().expect("object").iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Node { id: "n1".into(), kind: "t.k".into(), title: None, params, position: [0.0, 0.0] }
    }

    #[test]
    fn defaults_fill_in_and_seed_derives() {
        let (p, problems) = Params::resolve(&spec(), &node(&json!({"label": "y"})), 5);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.int("n").expect("n"), 3);
        assert_eq!(p.seed("seed").expect("seed"), derive_seed(5, "n1"));
        let (explicit, _) = Params::resolve(&spec(), &node(&json!({"label": "y", "seed": 9})), 5);
        assert_eq!(explicit.seed("seed").expect("seed"), 9);
    }

    #[test]
    fn every_bad_value_is_reported() {
        let (_, problems) = Params::resolve(&spec(), &node(&json!({"n": 11, "x": "big", "mode": "c", "typo": 1})), 0);
        let names: Vec<_> = problems.iter().map(|p| p.param.as_str()).collect();
        assert_eq!(names, ["typo", "n", "x", "mode", "label"]);
        assert!(problems[1].message.contains("between 1 and 10"));
        assert!(problems[3].message.contains("not one of: a, b"));
        assert!(problems[4].message.contains("required"));
    }

    #[test]
    fn a_parameter_required_unless_another_has_a_value() {
        let spec = spec().required_unless("label", "mode", "b");
        let (_, problems) = Params::resolve(&spec, &node(&json!({})), 0);
        assert_eq!(problems.iter().map(|p| p.param.as_str()).collect::<Vec<_>>(), ["label"]);
        let (_, problems) = Params::resolve(&spec, &node(&json!({"mode": "b"})), 0);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
