//! Projects: a folder holding workflows, data and a `.pipewright/` directory (store, cache, artifacts).

use std::path::{Path, PathBuf};

/// The project a workflow file belongs to: the nearest folder above it that has a `.pipewright/`
/// directory, else the workflow's own folder.
pub fn project_dir_of(workflow_path: &Path) -> PathBuf {
    let folder = workflow_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let mut dir = Some(folder.as_path());
    while let Some(d) = dir {
        if d.join(".pipewright").is_dir() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    folder
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
