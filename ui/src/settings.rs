//! What the designer remembers between sessions (recent workflows, theme, device) and the recovery files
//! that autosave writes for unsaved work, so nothing is lost after a crash.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use pipewright_engine::{Device, Workflow, write_atomic};

use crate::theme::Theme;

/// Recent workflows kept at most.
const RECENT_LIMIT: usize = 10;

/// Preferences, saved as JSON in the configuration folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Recently opened or saved workflow files, newest first.
    pub recent: Vec<PathBuf>,
    /// Light or dark.
    pub theme: Theme,
    /// Device policy for runs: "auto", "cpu" or "gpu".
    pub device: String,
    /// Interface scale (1.0 = 100%).
    pub zoom: f32,
    /// Memory a block may hold, in MiB; a larger CSV or Parquet file streams through row-wise blocks. `None`:
    /// half of the machine's memory.
    pub memory_budget_mib: Option<u64>,
}

/// The memory budgets the Run menu offers, in MiB, besides the default.
pub const MEMORY_BUDGETS_MIB: [u64; 6] = [512, 1024, 2048, 4096, 8192, 16384];

/// A budget in MiB as people read it ("512 MiB", "4 GiB").
pub fn budget_text(mib: u64) -> String {
    match mib {
        0..1024 => format!("{mib} MiB"),
        _ if mib.is_multiple_of(1024) => format!("{} GiB", mib / 1024),
        _ => format!("{:.1} GiB", mib as f64 / 1024.0),
    }
}

impl Settings {
    /// Reads the settings; missing or unreadable files give the defaults.
    pub fn load(config_dir: &Path) -> Self {
        let mut settings: Self = std::fs::read_to_string(config_dir.join("settings.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if settings.zoom <= 0.0 {
            settings.zoom = 1.0;
        }
        if settings.device.is_empty() {
            settings.device = "auto".into();
        }
        settings
    }

    /// Writes the settings atomically.
    pub fn save(&self, config_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(config_dir)?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&config_dir.join("settings.json"), text.as_bytes()).map_err(std::io::Error::other)
    }

    /// Puts `path` first in the recent list.
    pub fn remember(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(RECENT_LIMIT);
    }

    /// The device policy.
    pub fn device(&self) -> Device {
        self.device.parse().unwrap_or_default()
    }
}

/// The folder for settings and recovery files: `$PIPEWRIGHT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/pipewright`,
/// else `~/.config/pipewright`.
pub fn default_config_dir() -> PathBuf {
    pipewright_engine::connections::config_dir()
}

/// Unsaved work of one open document, written by autosave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recovery {
    /// The file the document belongs to, if it was ever saved.
    pub path: Option<PathBuf>,
    /// The unsaved workflow.
    pub workflow: Workflow,
    /// Seconds since the Unix epoch when it was written.
    pub written_secs: u64,
}

/// Folder holding recovery files.
pub fn recovery_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("recovery")
}

/// Writes the recovery file of document `slot`.
pub fn write_recovery(config_dir: &Path, slot: u64, path: Option<&Path>, workflow: &Workflow) -> std::io::Result<()> {
    let dir = recovery_dir(config_dir);
    std::fs::create_dir_all(&dir)?;
    let written_secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let recovery = Recovery { path: path.map(Path::to_path_buf), workflow: workflow.clone(), written_secs };
    let text = serde_json::to_string(&recovery).map_err(std::io::Error::other)?;
    write_atomic(&dir.join(format!("{}-{slot}.json", std::process::id())), text.as_bytes())
        .map_err(std::io::Error::other)
}

/// Removes the recovery file of document `slot` (after a save or a deliberate close).
pub fn clear_recovery(config_dir: &Path, slot: u64) {
    let _ = std::fs::remove_file(recovery_dir(config_dir).join(format!("{}-{slot}.json", std::process::id())));
}

/// Whether the recovery file belongs to a designer that is still running (another window's autosave, not
/// a crash): its process exists, is not a zombie, and is a `pipewright` (process ids are reused). Known where
/// `/proc` lists processes; elsewhere every other file counts as left over.
fn written_by_running_designer(file: &Path) -> bool {
    let Some(pid) = file.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('-').next()) else {
        return false;
    };
    if pid.parse::<u32>().is_err() {
        return false;
    }
    let process = Path::new("/proc").join(pid);
    let Ok(stat) = std::fs::read_to_string(process.join("stat")) else { return false };
    // `pid (comm) state ...`: the state follows the last parenthesis.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    let name = std::fs::read_to_string(process.join("comm")).unwrap_or_default();
    state != Some('Z') && name.trim().starts_with("pipewright")
}

/// Recovery files left by earlier sessions that ended without saving, with their files.
pub fn leftover_recoveries(config_dir: &Path) -> Vec<(PathBuf, Recovery)> {
    let own = format!("{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(recovery_dir(config_dir)) else { return Vec::new() };
    let mut found: Vec<(PathBuf, Recovery)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&own)))
        .filter(|p| !written_by_running_designer(p))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p, serde_json::from_str(&text).ok()?))
        })
        .collect();
    found.sort_by_key(|(_, r)| std::cmp::Reverse(r.written_secs));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_recent_list_is_newest_first_without_duplicates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::load(dir.path());
        assert_eq!(settings.zoom, 1.0);
        settings.remember(Path::new("/a.flow.json"));
        settings.remember(Path::new("/b.flow.json"));
        settings.remember(Path::new("/a.flow.json"));
        settings.theme = Theme::Light;
        settings.save(dir.path()).expect("save");
        let loaded = Settings::load(dir.path());
        assert_eq!(loaded.recent, vec![PathBuf::from("/a.flow.json"), PathBuf::from("/b.flow.json")]);
        assert_eq!(loaded.theme, Theme::Light);
    }

    #[test]
    fn recovery_files_of_other_sessions_are_found_and_own_ones_are_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        write_recovery(dir.path(), 1, None, &Workflow::new("mine")).expect("write");
        assert!(leftover_recoveries(dir.path()).is_empty(), "this session's own file is not a leftover");
        let other = Recovery { path: Some("/x.flow.json".into()), workflow: Workflow::new("lost"), written_secs: 5 };
        // Process 1 is running but is not a designer (its id may have been reused): its file is a leftover.
        if Path::new("/proc/1").is_dir() {
            std::fs::write(recovery_dir(dir.path()).join("1-1.json"), serde_json::to_string(&other).expect("json"))
                .expect("write");
        }
        std::fs::write(recovery_dir(dir.path()).join("999999999-3.json"), serde_json::to_string(&other).expect("json"))
            .expect("write");
        // A live process named like the designer: its file is another open window's autosave.
        let live = Path::new("/bin/sleep").exists().then(|| {
            let program = dir.path().join("pipewright");
            std::fs::copy("/bin/sleep", &program).expect("copy");
            let child = std::process::Command::new(&program).arg("30").spawn().expect("spawn");
            std::fs::write(
                recovery_dir(dir.path()).join(format!("{}-2.json", child.id())),
                serde_json::to_string(&other).expect("json"),
            )
            .expect("write");
            child
        });
        let found = leftover_recoveries(dir.path());
        let expected = 1 + usize::from(Path::new("/proc/1").is_dir());
        assert_eq!(found.len(), expected, "{:?}", found.iter().map(|(p, _)| p).collect::<Vec<_>>());
        assert!(found.iter().all(|(_, r)| r.workflow.name == "lost"));
        if let Some(mut child) = live {
            let _ = child.kill();
            let _ = child.wait();
            assert_eq!(leftover_recoveries(dir.path()).len(), expected + 1, "once it ends, its file is a leftover");
        }
        clear_recovery(dir.path(), 1);
        assert!(!recovery_dir(dir.path()).join(format!("{}-1.json", std::process::id())).exists());
    }
}
