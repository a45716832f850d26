//! The block reference (`docs/blocks.md`), rendered from the catalog's specs so it never drifts.

use std::fmt::Write;

use pipewright_engine::spec::TuneRange;
use pipewright_engine::{Catalog, ParamKind, PortSpec};

fn kind_text(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Integer { min, max } => format!("integer, {min} to {max}"),
        ParamKind::Float { min, max } => format!("number, {min} to {max}"),
        ParamKind::Bool => "true/false".into(),
        ParamKind::Choice { choices } => {
            format!("one of {}", choices.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))
        }
        ParamKind::Text => "text".into(),
        ParamKind::Column { port } => format!("a column of `{port}`"),
        ParamKind::ColumnList { port } => format!("columns of `{port}`"),
        ParamKind::FilePath { extensions, .. } => format!("file ({})", extensions.join(", ")),
        ParamKind::Seed => "seed (empty: derived from the workflow seed)".into(),
    }
}

/// A number as people write it: 1e-12 rather than 0.000000000001.
fn number_text(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e6).contains(&v.abs()) { format!("{v:e}") } else { format!("{v}") }
}

fn range_text(range: &TuneRange) -> String {
    match range {
        TuneRange::Int { min, max } => format!("{min} to {max}"),
        TuneRange::Float { min, max, log } => {
            format!("{} to {}{}", number_text(*min), number_text(*max), if *log { ", log scale" } else { "" })
        }
        TuneRange::Choice { values } => values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
    }
}

fn ports_text(out: &mut String, title: &str, ports: &[PortSpec]) {
    if ports.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:\n");
    for p in ports {
        let optional = if p.required || title == "Outputs" { "" } else { ", optional" };
        let _ = writeln!(out, "- `{}` ({}{optional}): {}", p.name, p.ty.label(), p.tooltip);
    }
}

/// The catalog as Markdown, grouped by category.
pub fn catalog_markdown(catalog: &Catalog) -> String {
    let mut out = String::from(
        "# Blocks\n\nGenerated from the catalog by `PIPEWRIGHT_UPDATE_DOCS=1 cargo test -p pipewright-nodes --test catalog`; do not edit by hand.\n",
    );
    let mut entries: Vec<_> = catalog.entries().collect();
    entries.sort_by_key(|e| (e.spec.category, e.spec.name));
    let mut category = None;
    for entry in entries {
        let spec = &entry.spec;
        if category != Some(spec.category) {
            category = Some(spec.category);
            let _ = writeln!(out, "\n## {}", spec.category.label());
        }
        let _ = writeln!(
            out,
            "\n### {}\n\n`{}`{}\n\n{}",
            spec.name,
            spec.id,
            if spec.stochastic { " · stochastic (seeded)" } else { "" },
            spec.description
        );
        ports_text(&mut out, "Inputs", &spec.inputs);
        ports_text(&mut out, "Outputs", &spec.outputs);
        if !spec.params.is_empty() {
            let _ = writeln!(out, "\nParameters:\n\n| name | type | default | help |\n|---|---|---|---|");
            for p in &spec.params {
                let default = if p.default.is_null() {
                    if p.required { "required".to_owned() } else { "empty".to_owned() }
                } else {
                    format!("`{}`", p.default)
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {default} | {} |",
                    p.name,
                    kind_text(&p.kind),
                    p.help.replace('|', "\\|")
                );
            }
        }
        if !spec.tunable.is_empty() {
            let ranges: Vec<String> =
                spec.tunable.iter().map(|(name, range)| format!("`{name}` ({})", range_text(range))).collect();
            let _ = writeln!(out, "\nTunable parameters: {}.", ranges.join("; "));
        }
    }
    out
}
