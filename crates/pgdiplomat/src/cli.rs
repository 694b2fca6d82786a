//! Command-line arguments. The help texts are the user's first documentation: they say what
//! each command does, why, and show an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "pgdiplomat",
    version,
    about = "Change the schema of a live PostgreSQL database without stopping the application.",
    long_about = "pgdiplomat reads PostgreSQL migrations with PostgreSQL's own grammar and tells you, \
statement by statement, which lock each one takes on which table, what that lock blocks (reads, \
writes), whether the table is rewritten or scanned, and the safe way to write it.\n\n\
A \"simple\" ALTER TABLE ... ADD CONSTRAINT ... UNIQUE takes ACCESS EXCLUSIVE and stops every read \
and write while it builds an index; CREATE UNIQUE INDEX CONCURRENTLY followed by ADD CONSTRAINT ... \
UNIQUE USING INDEX does the same without stopping anything. pgdiplomat knows the difference.",
    after_help = "Examples:\n  pgdiplomat lint migrations/\n  pgdiplomat explain migrations/0002_email_unique.sql\n  git show HEAD:schema.sql | pgdiplomat lint -\n  pgdiplomat rules unique-constraint-builds-index"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check migrations for statements that would block the application.
    #[command(
        long_about = "Check migrations for statements that would block the application.\n\n\
PATHS may be files, directories (walked recursively for *.sql, ordered the way migration tools \
order them: numeric, Flyway V1_2__, timestamps; down/undo files skipped) or - for standard input. \
Files are linted in order and share what they create: a table created by an earlier migration is \
new and empty, so operations on it are not flagged.\n\n\
Silence a finding for the next statement with a comment `-- pgdiplomat:ignore <rule> [reason]`, \
or for the whole file with `-- pgdiplomat:ignore-file <rule>`.\n\n\
Settings are read from pgdiplomat.toml in the current directory or the nearest parent \
(keys: pg-version, fail-on, include, exclude, assume-in-transaction, paths); flags override it.",
        after_help = "Exit status:\n  0  no finding at or above --fail-on\n  1  findings at or above --fail-on (syntax errors count as errors)\n  2  usage error, unreadable file or bad configuration\n\nExamples:\n  pgdiplomat lint migrations/\n  pgdiplomat lint --pg-version 13 --format json db/migrate/*.sql\n  pgdiplomat lint --exclude missing-lock-timeout migrations/"
    )]
    Lint(LintArgs),
    /// Explain, statement by statement, what PostgreSQL will lock, block, rewrite and scan.
    #[command(
        long_about = "Explain, statement by statement and in plain words, what PostgreSQL will do: the \
lock on each relation and which application statements it blocks, whether the table is rewritten or \
scanned, how the statement's duration grows (instant, with table size, waiting for other \
transactions) and whether it may run inside a transaction. Findings of the lint rules are shown \
under each statement.",
        after_help = "Example:\n  pgdiplomat explain migrations/0002_email_unique.sql"
    )]
    Explain(ExplainArgs),
    /// List the rules, or show one rule's explanation with bad and good SQL.
    Rules(RulesArgs),
    /// Print the lock table: statement form → locks, rewrite, scan, per PostgreSQL version.
    Locks(LocksArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// PostgreSQL major version the migrations will run on (13-18). Default: from
    /// pgdiplomat.toml, else 17.
    #[arg(long, value_name = "MAJOR", value_parser = clap::value_parser!(u32).range(13..=18))]
    pub pg_version: Option<u32>,
    /// The migration tool runs each file inside one transaction (Django, Rails and Flyway do by
    /// default): CONCURRENTLY is then an error and locks are held to the end of the file.
    #[arg(long)]
    pub assume_in_transaction: bool,
    /// Read settings from this file instead of searching for pgdiplomat.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore any pgdiplomat.toml.
    #[arg(long)]
    pub no_config: bool,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    /// Migration files or directories; `-` reads standard input. Default: `paths` from
    /// pgdiplomat.toml.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Run only these rules (repeat or comma-separate).
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub include: Vec<String>,
    /// Never run these rules (repeat or comma-separate).
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// When to use colour in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// One migration file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// A rule id: show its explanation and examples.
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct LocksArgs {
    /// Show the facts for this PostgreSQL major version (13-18); default: all versions.
    #[arg(long, value_name = "MAJOR", value_parser = clap::value_parser!(u32).range(13..=18))]
    pub pg_version: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LocksFormat::Markdown)]
    pub format: LocksFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintFormat {
    /// Annotated source snippets, like a compiler.
    Human,
    /// One JSON document (format version 1, see docs/json-format.md).
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocksFormat {
    Markdown,
    Json,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    /// Always exit 0 unless a file cannot be read.
    Never,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
