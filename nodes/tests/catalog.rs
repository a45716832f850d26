//! The catalog as a whole: every spec is complete and consistent, and `docs/blocks.md` is current.

use std::collections::HashSet;

use pipewright_engine::{Category, ParamKind, params};

#[test]
fn every_spec_is_complete_and_its_defaults_are_valid() {
    let catalog = pipewright_nodes::catalog();
    assert!(catalog.len() >= 20, "{} kinds", catalog.len());
    let mut names = HashSet::new();
    for entry in catalog.entries() {
        let spec = &entry.spec;
        let prefix = match spec.category {
            Category::Data => "data.",
            Category::Transform => "transform.",
            Category::Model => "model.",
            Category::Train => "train.",
            Category::Evaluate => "evaluate.",
            Category::Deploy => "deploy.",
        };
        assert!(spec.id.starts_with(prefix), "{} is not under {prefix}", spec.id);
        assert!(names.insert(spec.name), "two kinds are named {}", spec.name);
        assert!(spec.description.len() > 30, "{} needs a real description", spec.id);
        assert!(!spec.outputs.is_empty(), "{} has no output", spec.id);
        for port in spec.inputs.iter().chain(&spec.outputs) {
            assert!(!port.tooltip.is_empty(), "{}.{} has no tooltip", spec.id, port.name);
        }
        let mut param_names = HashSet::new();
        for p in &spec.params {
            assert!(param_names.insert(p.name), "{}.{} is declared twice", spec.id, p.name);
            assert!(!p.help.is_empty(), "{}.{} has no help", spec.id, p.name);
            let expected = if p.required { Err("required: set a value".to_owned()) } else { Ok(()) };
            assert_eq!(params::check(p, &p.default), expected, "{}.{} default", spec.id, p.name);
            if let ParamKind::Column { port } | ParamKind::ColumnList { port } = p.kind {
                assert!(spec.input_port(port).is_some(), "{}.{} refers to a missing port {port}", spec.id, p.name);
            }
        }
        assert_eq!(spec.stochastic, spec.params.iter().any(|p| matches!(p.kind, ParamKind::Seed)), "{}", spec.id);
    }
}

#[test]
fn the_block_reference_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/blocks.md");
    let rendered = pipewright_nodes::docs::catalog_markdown(&pipewright_nodes::catalog());
    if std::env::var_os("PIPEWRIGHT_UPDATE_DOCS").is_some() {
        std::fs::write(path, &rendered).expect("write docs/blocks.md");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/blocks.md is out of date: run PIPEWRIGHT_UPDATE_DOCS=1 cargo test -p pipewright-nodes --test catalog"
    );
}
