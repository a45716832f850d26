//! A kind declares everything it is in its own file: its id is written once, in that file's `const ID`, and
//! everything else — the registration lists, the designer, the wizard, the deploy crate, their unit tests —
//! names it through the kind's type or asks the catalog what it can do. No code compares or builds a kind by a
//! literal id.

use std::path::{Path, PathBuf};

/// Every Rust source file under a crate's `src/` folder in the workspace.
fn sources(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).expect("the workspace folder").flatten() {
        let src = entry.path().join("src");
        if entry.path().join("Cargo.toml").is_file() && src.is_dir() {
            walk(&src, &mut out);
        }
    }
    out
}

#[test]
fn a_kind_id_is_written_once_in_its_own_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files: Vec<(PathBuf, String)> = sources(&root)
        .into_iter()
        .map(|p| {
            let code = std::fs::read_to_string(&p).expect("readable");
            (p, code)
        })
        .collect();
    assert!(files.len() > 100, "found only {} source files under {}", files.len(), root.display());
    let catalog = pipewright_nodes::catalog();
    let mut problems = Vec::new();
    for entry in catalog.entries() {
        let literal = format!("\"{}\"", entry.spec.id);
        let mut places = Vec::new();
        for (path, code) in &files {
            for (number, line) in code.lines().enumerate() {
                if line.contains(&literal) {
                    places.push((
                        path.strip_prefix(&root).unwrap_or(path).display().to_string(),
                        number + 1,
                        line.trim().to_owned(),
                    ));
                }
            }
        }
        let declarations = places.iter().filter(|(_, _, line)| line.contains("const ID")).count();
        if declarations != 1 || places.len() != 1 {
            problems.push(format!(
                "{} is written {} time(s), {} of them a `const ID`: {:?}",
                entry.spec.id,
                places.len(),
                declarations,
                places
            ));
        }
    }
    assert!(problems.is_empty(), "kind ids outside their kind's declaration:\n{}", problems.join("\n"));
}
