//! Projects: a folder holding workflows, data and a `.pipewright/` directory (store, cache, artifacts).

use std::path::{Path, PathBuf};

/// The project a workflow file belongs to: the nearest folder above it that has a `.pipewright/`
/// directory, else the workflow's own folder.
pub fn project_dir_of(workflow_path: &Path) -> PathBuf {
    let folder = workflow_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    project_dir_from(&folder).unwrap_or(folder)
}

/// The nearest folder at or above `dir` that has a `.pipewright/` directory. A relative `dir` is resolved
/// first, so `pipewright run flow.flow.json` inside a project's subfolder finds the project above it.
pub fn project_dir_from(dir: &Path) -> Option<PathBuf> {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let found = absolute.ancestors().find(|d| d.join(".pipewright").is_dir())?;
    // Keep the path as the user wrote it when the project is the folder itself.
    Some(if found == absolute { dir.to_path_buf() } else { found.to_path_buf() })
}

/// The workflow file a command means: the path itself, or the single `*.flow.json` in a folder.
pub fn find_workflow(path: &Path) -> Result<PathBuf, String> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let mut flows: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".flow.json"))
        .collect();
    flows.sort();
    match flows.len() {
        1 => Ok(flows.remove(0)),
        0 => Err(format!("{} holds no *.flow.json workflow", path.display())),
        _ => Err(format!(
            "{} holds several workflows; name one: {}",
            path.display(),
            flows.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_in_a_subfolder_belongs_to_the_project_above_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let flows = root.path().join("flows");
        std::fs::create_dir_all(&flows).expect("mkdir");
        let flow = flows.join("a.flow.json");
        assert_eq!(project_dir_of(&flow), flows, "no project yet: the workflow's own folder");
        std::fs::create_dir_all(root.path().join(".pipewright")).expect("mkdir");
        let root_canonical = std::fs::canonicalize(root.path()).expect("canonical");
        assert_eq!(project_dir_of(&flow), root_canonical);
        assert_eq!(project_dir_from(&flows), Some(root_canonical));
        assert_eq!(project_dir_from(root.path()), Some(root.path().to_path_buf()));
    }
}
