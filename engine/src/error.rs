//! Errors of the engine. Each one says what went wrong and, where it can, what to do about it.

use std::path::PathBuf;

/// A workflow file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The text is not valid JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The JSON is not a workflow of a known layout.
    #[error("not a valid workflow file: {0}")]
    Layout(String),
}

/// A node failed while running. The executor adds the node id when it reports it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeError {
    /// A parameter value cannot be used.
    #[error("parameter \"{param}\": {message}")]
    Param {
        /// Parameter name.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// An input is missing or holds the wrong kind of value.
    #[error("input \"{port}\": {message}")]
    Input {
        /// Port name.
        port: String,
        /// What is wrong.
        message: String,
    },
    /// The data does not fit what the node needs (a missing column, a text column where numbers are needed).
    #[error("{0}")]
    Data(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl NodeError {
    /// A data error.
    pub fn data(message: impl Into<String>) -> Self {
        Self::Data(message.into())
    }

    /// A parameter error.
    pub fn param(param: &str, message: impl Into<String>) -> Self {
        Self::Param { param: param.to_owned(), message: message.into() }
    }
}

impl From<polars::error::PolarsError> for NodeError {
    fn from(e: polars::error::PolarsError) -> Self {
        Self::Data(e.to_string())
    }
}
