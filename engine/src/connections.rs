//! Named connections to databases. A workflow names a connection; the connection string (which may hold a
//! password) lives in an environment variable of that name or in the user's `connections.json` (in the user's
//! settings folder, readable by the user alone), never in the workflow file or the run store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of saved connections in a settings folder.
const FILE: &str = "connections.json";

/// The user's settings folder: `PIPEWRIGHT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/pipewright`, else
/// `~/.config/pipewright`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PIPEWRIGHT_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
        return PathBuf::from(dir).join("pipewright");
    }
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".pipewright"), |h| PathBuf::from(h).join(".config/pipewright"))
}

/// The connection string of `name`: the environment variable of that name, else the saved connection.
/// The error says how to provide one; it never holds a connection string.
pub fn resolve(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("name the connection: an environment variable holding the connection string (such as DATABASE_URL) or a connection saved with `pipewright connection add NAME`".into());
    }
    // A connection string typed where its name belongs: said without quoting it back (it may hold a password).
    if name.contains("://") || name.contains('=') || name.contains(char::is_whitespace) {
        return Err("the Connection parameter holds a connection string, not a name: put the string in an environment variable or save it with `pipewright connection add NAME`, name that here, and remove the string from the workflow".into());
    }
    if let Ok(value) = std::env::var(name)
        && !value.trim().is_empty()
    {
        return Ok(value);
    }
    if let Some(value) = saved(&config_dir()).remove(name) {
        return Ok(value);
    }
    Err(format!(
        "no connection \"{name}\": set the environment variable {name} to a connection string (postgresql://user@host:5432/database), or save one with `pipewright connection add {name}` (it reads the string from standard input)"
    ))
}

/// The saved connections of a settings folder, by name.
pub fn saved(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read(dir.join(FILE)).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

/// Saves (or replaces) a connection in a settings folder; the file is readable by the user alone.
pub fn save(dir: &Path, name: &str, value: &str) -> Result<(), String> {
    let mut all = saved(dir);
    all.insert(name.to_owned(), value.trim().to_owned());
    write(dir, &all)
}

/// Removes a saved connection; `false` when there was none of that name.
pub fn remove(dir: &Path, name: &str) -> Result<bool, String> {
    let mut all = saved(dir);
    if all.remove(name).is_none() {
        return Ok(false);
    }
    write(dir, &all).map(|()| true)
}

fn write(dir: &Path, all: &BTreeMap<String, String>) -> Result<(), String> {
    let io = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", dir.join(FILE).display());
    std::fs::create_dir_all(dir).map_err(|e| io(&e))?;
    let bytes = serde_json::to_vec_pretty(all).map_err(|e| io(&e))?;
    let path = dir.join(FILE);
    let temporary = dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options.open(&temporary).and_then(|mut f| {
        std::io::Write::write_all(&mut f, &bytes)?;
        f.sync_all()
    });
    result.and_then(|()| std::fs::rename(&temporary, &path)).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io(&e)
    })
}

/// `text` with every occurrence of the password of `connection` (a URL's or a `password=` key's) replaced, for
/// messages that might quote it.
pub fn redact(text: &str, connection: &str) -> String {
    let password = if let Some(rest) = connection.split_once("://").map(|(_, r)| r) {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        authority.rsplit_once('@').and_then(|(user, _)| user.split_once(':')).map(|(_, p)| p.to_owned())
    } else {
        connection
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("password="))
            .map(|p| p.trim_matches('\'').to_owned())
    };
    match password.filter(|p| !p.is_empty()) {
        Some(p) => text.replace(&p, "•••"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_connections_are_private_and_passwords_are_redacted() {
        let dir = tempfile::tempdir().expect("tempdir");
        save(dir.path(), "warehouse", "postgresql://ana:s3cret@db:5432/sales\n").expect("saves");
        assert_eq!(
            saved(dir.path()).get("warehouse").map(String::as_str),
            Some("postgresql://ana:s3cret@db:5432/sales")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE)).expect("exists").permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the user alone: {mode:o}");
        }
        assert!(remove(dir.path(), "warehouse").expect("removes"));
        assert!(!remove(dir.path(), "warehouse").expect("removes"));
        let url = "postgresql://ana:s3cret@db:5432/sales";
        assert_eq!(
            redact("cannot connect to postgresql://ana:s3cret@db", url),
            "cannot connect to postgresql://ana:•••@db"
        );
        assert_eq!(redact("x s3cret y", "host=db user=ana password=s3cret dbname=sales"), "x ••• y");
        assert_eq!(redact("nothing here", "host=db"), "nothing here");
        let typed = resolve("postgresql://ana:s3cret@db/sales").expect_err("refused");
        assert!(typed.contains("holds a connection string") && !typed.contains("s3cret"), "{typed}");
    }
}
