//! `pgdiplomat.toml`: project configuration.
//!
//! ```toml
//! pg-version = 16
//! fail-on = "warning"
//! exclude = ["prefer-bigint-over-int"]
//! assume-in-transaction = true
//! paths = ["db/migrations"]
//! start-after = "20240101000000"   # baseline: earlier files give schema knowledge, not findings
//! assume-fresh-database = false    # true: every table created in the directory is new and empty
//!
//! [placeholders]           # values of Flyway `${name}` placeholders and psql `:name` variables
//! schema = "app"
//! ```

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The configuration file's name.
pub const CONFIG_FILE_NAME: &str = "pgdiplomat.toml";

/// Lowest and highest supported `pg-version`.
pub const SUPPORTED_PG_VERSIONS: std::ops::RangeInclusive<u32> = 13..=18;

/// Accepted values of `fail-on`.
pub const FAIL_ON_VALUES: &[&str] = &["error", "warning", "info", "never"];

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Target PostgreSQL major version, 13..=18.
    pub pg_version: Option<u32>,
    /// Lowest severity that makes the run fail: "error" | "warning" | "info" | "never".
    pub fail_on: Option<String>,
    /// Rule ids to disable.
    pub exclude: Vec<String>,
    /// If non-empty, only these rules run.
    pub include: Vec<String>,
    /// The migration tool wraps each file in a transaction.
    pub assume_in_transaction: Option<bool>,
    /// Default paths to lint when none are given on the command line. After
    /// loading, these are resolved against the config file's directory.
    pub paths: Vec<PathBuf>,
    /// Values of placeholders (`${name}`) and psql variables (`:name`), for linting; `--define`
    /// wins over them, and they win over Flyway's configuration.
    pub placeholders: std::collections::BTreeMap<String, String>,
    /// Baseline (like strong_migrations' `start_after`): the migration whose version or file
    /// name this is, and every file before it, are read for schema knowledge but not reported.
    pub start_after: Option<String>,
    /// Lint a directory as one deploy onto an empty database: tables created by earlier files
    /// stay new and empty (tools that build a database from scratch). Default: each file is a
    /// deploy onto a database where earlier files' tables exist with data.
    pub assume_fresh_database: Option<bool>,
    /// The migration tool of the paths (a `--layout` name), instead of detecting it.
    pub layout: Option<String>,
}

impl Config {
    /// [`Config::layout`] parsed (validated when the file is loaded).
    pub fn layout(&self) -> Option<crate::layout::Layout> {
        self.layout
            .as_deref()
            .and_then(crate::layout::Layout::parse)
    }
}

/// A configuration together with the file it came from (`None` when no
/// config file was found and defaults are used).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    pub config: Config,
    pub path: Option<PathBuf>,
}

#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io { path: PathBuf, source: io::Error },
    /// The file is not valid TOML or does not match the schema (including
    /// unknown keys). `line` and `col` are 1-based; `col` counts characters.
    Parse {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    /// The file parsed but a value is not acceptable.
    Invalid { path: PathBuf, message: String },
}

impl ConfigError {
    /// The config file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Io { path, .. }
            | ConfigError::Parse { path, .. }
            | ConfigError::Invalid { path, .. } => path,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(
                    f,
                    "{}: error: cannot read config file: {source}",
                    path.display()
                )
            }
            ConfigError::Parse {
                path,
                line,
                col,
                message,
            } => write!(f, "{}:{line}:{col}: error: {message}", path.display()),
            ConfigError::Invalid { path, message } => {
                write!(f, "{}: error: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Walks up from `start_dir` to the filesystem root; the first directory
/// containing a `pgdiplomat.toml` file wins. A relative `start_dir` is taken
/// relative to the current directory.
pub fn find_config(start_dir: &Path) -> Option<PathBuf> {
    let start = absolute_normalized(start_dir);
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// Makes `path` absolute and removes `.`/`..` lexically, so walking up its
/// ancestors visits real parent directories.
fn absolute_normalized(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Finds the nearest config from `start_dir` upwards and loads it; without a
/// config file the defaults are returned with `path: None`.
pub fn find_and_load_config(start_dir: &Path) -> Result<LoadedConfig, ConfigError> {
    match find_config(start_dir) {
        Some(path) => Ok(LoadedConfig {
            config: load_config(&path)?,
            path: Some(path),
        }),
        None => Ok(LoadedConfig::default()),
    }
}

/// Reads, parses and validates a config file.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_config_from_str(&text, path)
}

/// Parses and validates config text; `path` is used for error messages and
/// to resolve `paths` (relative to its directory). Does no I/O.
pub fn load_config_from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|err| {
        let (line, col) = err.span().map_or((1, 1), |span| line_col(text, span.start));
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            col,
            // toml puts details on extra lines ("invalid array\nexpected `]`");
            // keep the diagnostic on one line.
            message: err
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": "),
        }
    })?;
    validate(&config, path)?;
    let base = path.parent().unwrap_or(Path::new(""));
    for p in &mut config.paths {
        *p = base.join(&*p);
    }
    Ok(config)
}

fn validate(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if let Some(version) = config.pg_version {
        if !SUPPORTED_PG_VERSIONS.contains(&version) {
            return Err(invalid(format!(
                "unsupported pg-version {version}; supported versions are {} to {}",
                SUPPORTED_PG_VERSIONS.start(),
                SUPPORTED_PG_VERSIONS.end()
            )));
        }
    }
    if let Some(fail_on) = &config.fail_on {
        if !FAIL_ON_VALUES.contains(&fail_on.as_str()) {
            return Err(invalid(format!(
                "invalid fail-on value `{fail_on}`; expected one of {}",
                FAIL_ON_VALUES
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if let Some(layout) = &config.layout {
        if crate::layout::Layout::parse(layout).is_none() {
            return Err(invalid(format!(
                "unknown layout `{layout}`; the layouts are: {}",
                crate::layout::Layout::names()
            )));
        }
    }
    for (key, ids) in [("exclude", &config.exclude), ("include", &config.include)] {
        if let Some(bad) = ids.iter().find(|id| !is_rule_id(id)) {
            return Err(invalid(format!(
                "invalid rule id `{bad}` in {key}; rule ids are lowercase kebab-case, \
                 like `require-concurrent-index-creation`"
            )));
        }
    }
    Ok(())
}

fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// 1-based line and column (in characters) of byte offset `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        load_config_from_str(text, Path::new("proj/pgdiplomat.toml"))
    }

    #[test]
    fn layout_names_every_layout_and_rejects_others() {
        for layout in crate::layout::Layout::ALL {
            let config = parse(&format!("layout = \"{}\"", layout.name())).expect("parses");
            assert_eq!(config.layout(), Some(layout));
        }
        let err = parse(r#"layout = "liquibase-xml""#).expect_err("invalid");
        assert!(err.to_string().contains("sqitch"), "{err}");
    }

    #[test]
    fn empty_file_gives_default_config() {
        assert_eq!(parse("").expect("parses"), Config::default());
    }

    #[test]
    fn all_keys_parse_in_kebab_case() {
        let config = parse(
            r#"
pg-version = 16
fail-on = "warning"
exclude = ["a-rule"]
include = ["b-rule", "c"]
assume-in-transaction = true
paths = ["db/migrations", "/abs/dir"]

[placeholders]
schema = "app"
"#,
        )
        .expect("parses");
        assert_eq!(config.pg_version, Some(16));
        assert_eq!(config.fail_on.as_deref(), Some("warning"));
        assert_eq!(config.exclude, ["a-rule"]);
        assert_eq!(config.include, ["b-rule", "c"]);
        assert_eq!(config.assume_in_transaction, Some(true));
        assert_eq!(
            config.placeholders.get("schema").map(String::as_str),
            Some("app")
        );
        assert_eq!(
            config.paths,
            [
                PathBuf::from("proj/db/migrations"),
                PathBuf::from("/abs/dir")
            ]
        );
    }

    #[test]
    fn paths_relative_to_a_bare_file_name_stay_relative() {
        let config =
            load_config_from_str(r#"paths = ["m"]"#, Path::new("pgdiplomat.toml")).expect("parses");
        assert_eq!(config.paths, [PathBuf::from("m")]);
    }

    #[test]
    fn every_fail_on_value_is_accepted_and_others_rejected() {
        for v in FAIL_ON_VALUES {
            assert!(parse(&format!("fail-on = \"{v}\"")).is_ok(), "{v}");
        }
        let err = parse(r#"fail-on = "warn""#).expect_err("invalid");
        let msg = err.to_string();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert!(msg.contains("`warn`") && msg.contains("`warning`"), "{msg}");
    }

    #[test]
    fn pg_version_boundaries() {
        assert!(parse("pg-version = 13").is_ok());
        assert!(parse("pg-version = 18").is_ok());
        assert!(matches!(
            parse("pg-version = 12"),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse("pg-version = 19"),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn negative_or_wrongly_typed_pg_version_is_a_parse_error_with_position() {
        match parse("pg-version = -1") {
            Err(ConfigError::Parse { line, col, .. }) => assert_eq!((line, col), (1, 14)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse("pg-version = \"16\""),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn malformed_rule_ids_are_rejected() {
        let msg = parse(r#"exclude = ["Require_Index"]"#)
            .expect_err("invalid")
            .to_string();
        assert!(msg.contains("`Require_Index` in exclude"), "{msg}");
    }

    #[test]
    fn line_col_counts_characters_not_bytes() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("é = 1\nx", 3), (1, 3));
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn io_error_display_names_the_file() {
        let err =
            load_config(Path::new("/definitely/not/here/pgdiplomat.toml")).expect_err("missing");
        assert!(matches!(err, ConfigError::Io { .. }));
        assert!(err
            .to_string()
            .starts_with("/definitely/not/here/pgdiplomat.toml: error: cannot read config file"));
    }
}
