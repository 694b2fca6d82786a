//! The error type of this crate.
//!
//! Every message says what went wrong *and* what the user can do about it,
//! because these errors end up on the terminal of someone running
//! `pgdiplomat trace` or a test suite, not in a log that a developer reads.

use std::io;
use std::path::PathBuf;

/// The hint shown whenever no usable PostgreSQL installation was found.
pub(crate) const INSTALL_HINT: &str = "install postgresql-15 (apt-get install postgresql) \
     or set PGDIPLOMAT_PG_BIN to the directory containing initdb";

/// Everything that can go wrong while finding, starting, using or stopping an
/// embedded PostgreSQL cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No directory with `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; searched: {}. \
         To fix: {INSTALL_HINT}",
        searched.join(", ")
    )]
    BinariesNotFound {
        /// Human-readable list of the places that were looked at.
        searched: Vec<String>,
    },

    /// A specific directory (given explicitly, or via `PGDIPLOMAT_PG_BIN`)
    /// does not hold the PostgreSQL server binaries.
    #[error(
        "{} is not a PostgreSQL bin directory (one containing initdb, pg_ctl and \
         postgres): {problem}. To fix: {INSTALL_HINT}",
        dir.display()
    )]
    InvalidBinDir {
        /// The directory that was checked.
        dir: PathBuf,
        /// What is wrong with it (missing, not a directory, missing programs).
        problem: String,
    },

    /// `postgres --version` could not be run or its output not understood.
    #[error(
        "could not determine the PostgreSQL version of {}: {detail}. \
         Check that the binaries run on this machine (try `{} --version`)",
        postgres.display(),
        postgres.display()
    )]
    Version {
        /// Path of the `postgres` executable that was asked.
        postgres: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path involved.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A `postgresql.conf` setting passed in [`crate::ClusterOptions`] is not
    /// a valid parameter name.
    #[error(
        "invalid postgresql.conf parameter name {name:?}: names may only contain \
         letters, digits, '_' and '.'; fix the `settings` passed to Cluster::start"
    )]
    InvalidSetting {
        /// The offending name.
        name: String,
    },

    /// `initdb` failed.
    #[error(
        "initdb failed ({status}) for {}; its output ends with:\n{output}\n\
         Check that the directory is writable and that the binaries work \
         (run `{} --version`)",
        data_dir.display(),
        initdb.display()
    )]
    Initdb {
        /// The data directory that was being created.
        data_dir: PathBuf,
        /// The `initdb` executable.
        initdb: PathBuf,
        /// Exit status description.
        status: String,
        /// Tail of the combined stdout/stderr of initdb.
        output: String,
    },

    /// `pg_ctl start` failed or the server did not come up in time.
    #[error(
        "PostgreSQL server failed to start ({detail}); pg_ctl said:\n{pg_ctl_output}\n\
         the server log ({}, removed with the cluster) ends with:\n{log_tail}\n\
         Check the settings passed to Cluster::start and the log lines above",
        log_path.display()
    )]
    Start {
        /// Exit status or other description.
        detail: String,
        /// Tail of pg_ctl's output.
        pg_ctl_output: String,
        /// Location of the server log.
        log_path: PathBuf,
        /// Tail of the server log.
        log_tail: String,
    },

    /// Connecting to the embedded server failed.
    #[error(
        "could not connect to the embedded PostgreSQL server ({target}): {source}; \
         the server log at {} may say why",
        log_path.display()
    )]
    Connect {
        /// The connection string used.
        target: String,
        /// Location of the server log.
        log_path: PathBuf,
        /// The driver error.
        #[source]
        source: postgres::Error,
    },

    /// A statement issued by this crate (e.g. `CREATE DATABASE`) failed.
    #[error("{statement} failed: {source}")]
    Query {
        /// The statement that failed.
        statement: String,
        /// The driver error.
        #[source]
        source: postgres::Error,
    },
}

impl ClusterError {
    /// Builds a [`ClusterError::Io`] with a context message.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        ClusterError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Returns at most the last `max_lines` lines of `text`, trimmed.
pub(crate) fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let out = lines[start..].join("\n");
    if out.is_empty() {
        "(empty)".to_string()
    } else {
        out
    }
}
