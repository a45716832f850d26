//! Files a workflow may not write: the project store (`.pipewright/`), workflow files, and any file that a
//! block of the same workflow reads. Checked at validation, before anything runs, so that a wrong path in
//! Export Data or Export Model Package never replaces the run history, the workflow or its own input.

use std::path::{Component, Path, PathBuf};

use crate::params::Params;
use crate::spec::{NodeSpec, ParamKind};
use crate::validate::Problem;
use crate::workflow::{FORMAT, Workflow};

/// The folder of the project store, which no block writes into.
const STORE_FOLDER: &str = ".pipewright";

/// How much of an existing file is read to tell whether it is a workflow.
const SNIFF_BYTES: u64 = 4096;

/// A problem for every file parameter that writes where it must not.
pub(crate) fn check(
    workflow: &Workflow,
    specs: &[Option<&NodeSpec>],
    params: &[Params],
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) {
    let file_params = |i: usize, read: bool| {
        let spec = specs[i];
        spec.into_iter().flat_map(|s| &s.params).filter_map(move |p| match p.kind {
            ParamKind::FilePath { read: r, .. } if r == read => {
                params.get(i).and_then(|v| v.optional_text(p.name)).filter(|t| !t.is_empty()).map(|t| (p.name, t))
            }
            _ => None,
        })
    };
    let mut reads: Vec<(usize, PathBuf)> = Vec::new();
    for i in 0..workflow.nodes.len() {
        for (_, path) in file_params(i, true) {
            reads.push((i, canonical(&base_dir.join(path))));
        }
    }
    let store = canonical(&crate::project::project_dir_from(base_dir).unwrap_or_else(|| base_dir.to_path_buf()))
        .join(STORE_FOLDER);
    for (i, node) in workflow.nodes.iter().enumerate() {
        let block = specs[i].map_or("this block", |s| s.name);
        for (param, path) in file_params(i, false) {
            let target = canonical(&base_dir.join(path));
            let why = if target.starts_with(&store)
                || Path::new(path).components().any(|c| c == Component::Normal(STORE_FOLDER.as_ref()))
            {
                Some(format!(
                    "{block} would write {path} inside the project store ({STORE_FOLDER}/), which holds the run history, models and cache: choose a file outside it"
                ))
            } else if let Some((reader, _)) = reads.iter().find(|(_, read)| *read == target) {
                let kind = specs[*reader].map_or("a block", |s| s.name);
                Some(format!(
                    "{block} would write {path}, the file that {kind} \"{}\" reads in this workflow: choose another file so the input is not replaced",
                    workflow.nodes[*reader].id
                ))
            } else if is_workflow_file(&target) {
                Some(format!(
                    "{block} would write {path}, which is a workflow file: choose a data file (such as a .csv) instead"
                ))
            } else {
                None
            };
            if let Some(message) = why {
                problems.push(Problem {
                    node: Some(node.id.clone()),
                    message: format!("parameter \"{param}\": {message}"),
                });
            }
        }
    }
}

/// The canonical form of a path that may not exist yet: its nearest existing ancestor canonicalized (links and
/// `..` resolved), the rest appended.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(found) = std::fs::canonicalize(path) {
        return found;
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    match (path.components().next_back(), parent) {
        (Some(Component::Normal(name)), Some(parent)) => canonical(parent).join(name),
        // `missing/..` is the folder above `missing`, even before `missing` exists.
        (Some(Component::ParentDir), Some(parent)) => {
            let above = canonical(parent);
            above.parent().map_or(above.clone(), Path::to_path_buf)
        }
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Whether the file is a Pipewright workflow: by its name, or by the `format` field near its start.
fn is_workflow_file(path: &Path) -> bool {
    use std::io::Read as _;
    if path.to_string_lossy().ends_with(".flow.json") {
        return true;
    }
    let mut head = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(SNIFF_BYTES).read_to_end(&mut head)).is_ok()
        && String::from_utf8_lossy(&head).contains(&format!("\"{FORMAT}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_canonical_through_its_existing_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(dir.path()).expect("canonical");
        assert_eq!(canonical(&dir.path().join("a/../b/new.csv")), real.join("b").join("new.csv"));
        assert_eq!(canonical(&dir.path().join("a/../../new.csv")), real.parent().expect("above").join("new.csv"));
        std::fs::create_dir(dir.path().join("b")).expect("mkdir");
        assert_eq!(canonical(&dir.path().join("b/./new.csv")), real.join("b").join("new.csv"));
    }
}
