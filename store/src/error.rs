//! What can go wrong with the store.

use std::path::PathBuf;

/// A store error; each says what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a Pipewright store (another program's database, or not a database at all).
    #[error("{0} is not a Pipewright project store; it was left untouched: move it away to start a new store")]
    Foreign(PathBuf),
    /// The store was written by a newer Pipewright.
    #[error(
        "{path} was written by a newer Pipewright (schema {found}, this one knows up to {known}): update Pipewright"
    )]
    Newer {
        /// The store.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The folder or file could not be used.
    #[error("cannot use the project store {path}: {message}")]
    Io {
        /// The store.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A request the store cannot carry out, with the reason (an unknown run, a node without a model...).
    #[error("{0}")]
    Invalid(String),
    /// `SQLite` reported an error.
    #[error("project store: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
