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
What the migration tool does to a file before PostgreSQL sees it is done here too, keeping \
every line and column: psql meta-commands (\\set, \\echo, \\i, \\c, \\if, ...) are skipped and \
psql variables (:name, :'name', :\"name\") get their value; Flyway placeholders (${name}, or the \
syntax flyway.conf sets) get the values of --define, pgdiplomat.toml, FLYWAY_PLACEHOLDERS_* or \
flyway.conf; Go template actions ({{ ... }}) become names. Whatever has no value is linted as a \
stand-in name and reported (unknown-placeholder); includes are not followed and say so \
(psql-meta-command).\n\n\
Settings are read from pgdiplomat.toml in the current directory or the nearest parent \
(keys: pg-version, fail-on, include, exclude, assume-in-transaction, paths, [placeholders]); flags \
override it.",
        after_help = "Exit status:\n  0  no finding at or above --fail-on\n  1  findings at or above --fail-on (syntax errors count as errors)\n  2  usage error, unreadable file or bad configuration\n\nExamples:\n  pgdiplomat lint migrations/\n  pgdiplomat lint --pg-version 13 --format json db/migrate/*.sql\n  pgdiplomat lint --exclude missing-lock-timeout migrations/\n  pgdiplomat lint --define schema=app --define owner=app_owner db/migration/"
    )]
    Lint(LintArgs),
    /// Explain, statement by statement, what PostgreSQL will lock, block, rewrite and scan.
    #[command(
        long_about = "Explain, statement by statement and in plain words, what PostgreSQL will do: the \
lock on each relation and which application statements it blocks, whether the table is rewritten or \
scanned, how the statement's duration grows (instant, with table size, waiting for other \
transactions) and whether it may run inside a transaction. Findings of the lint rules are shown \
under each statement. Without a database the model knows what the file itself creates and says \"and any partitions ...\" where the schema decides; with --database-url it reads the existing schema first and names the real relations.",
        after_help = "Examples:\n  pgdiplomat explain migrations/0002_email_unique.sql\n  pgdiplomat explain --database-url postgres://app@db/staging migrations/0042_partitioned.sql\n  pgdiplomat explain --format json migrations/0002_email_unique.sql"
    )]
    Explain(ExplainArgs),
    /// Run migrations on a real PostgreSQL and record the locks, rewrites and scans that happen.
    #[command(
        long_about = "Run migrations on a real PostgreSQL and record, for every statement, the locks it \
took (from pg_locks: relation, mode, granted), the relations it rewrote (their storage file \
changed), the tables it scanned (scan counters), the relations it created or dropped, and how long it \
took. Each statement is compared with the lock model's prediction and any difference is reported \
loudly: it is a bug in the model.\n\n\
By default a throwaway PostgreSQL is started (initdb in a temporary directory; the server \
binaries are found through PGDIPLOMAT_PG_BIN, PATH, pg_config or /usr/lib/postgresql/*/bin, or \
--pg-bin), and files run as written, each statement in its own transaction unless the file has \
BEGIN/COMMIT. Give the schema the migrations expect with --setup (a schema dump, or earlier \
migrations) and realistic data with --seed-rows.\n\n\
With --database-url, each file runs inside one transaction that is rolled back at its end, unless \
--commit is given; CONCURRENTLY statements are then skipped (they cannot run in a transaction), and \
so are statements whose effects a rollback cannot undo (nextval/setval, INSERTs that fill serial or \
identity columns, CREATE DATABASE, VACUUM, ALTER SYSTEM, ...), each saying why. On a real database \
every statement runs under a short lock_timeout (--lock-timeout) and is retried with backoff when its \
lock is not free (--max-attempts, --max-retry-time), then skipped, naming the blocking sessions: the \
application never queues behind the trace. \
CONCURRENTLY statements that do run are observed from a second connection that samples pg_locks, \
pg_stat_activity and pg_stat_progress_create_index while they run.",
        after_help = "Exit status:\n  0  every statement ran (or was skipped on purpose) and matched the model\n  1  a statement failed, could not get its lock in time, or disagreed with the model\n  2  usage error, unreadable file, or PostgreSQL could not be started or reached\n\nExamples:\n  pgdiplomat trace --setup schema.sql --seed-rows 100000 migrations/\n  pgdiplomat trace --database-url postgres://app@localhost/staging migrations/0042_email.sql\n  pgdiplomat trace --format markdown migrations/ > trace.md"
    )]
    Trace(TraceArgs),
    /// Apply migrations without blocking the application: short lock_timeout with retries,
    /// CONCURRENTLY outside transactions, INVALID-index cleanup, resumable history.
    #[command(
        long_about = "Apply migrations the careful way, negotiating with PostgreSQL instead of commanding it.\n\n\
Every statement whose lock blocks reads or writes runs in its own short transaction under a short \
lock_timeout (default 100ms). If the lock is not free in time — a long report or an idle-in-\
transaction session holds it — the transaction is rolled back, so nothing queues behind it, and \
retried after a jittered, growing pause; each retry says which sessions blocked it. BEGIN ... \
COMMIT blocks in a file stay together.\n\n\
CONCURRENTLY statements run outside any transaction with statement_timeout = 0. An INVALID index \
of the same name left by an earlier failure is dropped first; a failed build drops the INVALID \
index it left and, for a unique index, shows duplicate keys (--precheck looks for them before \
building). Index builds show their progress.\n\n\
A history table (pgdiplomat.migrations by default) records each migration's checksum, state, \
steps done and timings; a session advisory lock keeps two runners apart. A run that is killed \
(even with SIGKILL) is finished by running apply again: transactional steps record their progress \
in the same transaction, concurrent steps are safe to repeat.\n\n\
The connection comes from --database-url (libpq URL or key=value) and the PG* environment \
variables; TLS is used when sslmode is require or stronger. The password is never printed.",
        after_help = "Exit status:\n  0  everything applied (or already applied)\n  1  a migration failed; the history says which step, and the database holds everything before it\n  2  usage error, unreadable file, invalid migration, connection failure, or another runner is active\n\nExamples:\n  pgdiplomat apply --database-url postgres://app@db/prod migrations/\n  pgdiplomat apply --dry-run migrations/\n  PGHOST=db PGDATABASE=prod pgdiplomat apply --lock-timeout 50ms --max-attempts 60 migrations/"
    )]
    Apply(ApplyArgs),
    /// Rewrite an unsafe migration into the safe choreography (printed, or --write).
    #[command(
        long_about = "Rewrite an unsafe migration into the safe sequence of steps, each of which holds a lock \
that blocks reads or writes for no longer than a catalog update:\n\n\
  CREATE INDEX / DROP INDEX            → CONCURRENTLY, outside a transaction\n\
  ADD UNIQUE / PRIMARY KEY             → CREATE UNIQUE INDEX CONCURRENTLY, then ... USING INDEX\n\
  ADD FOREIGN KEY / CHECK              → NOT VALID, then VALIDATE in a later transaction\n\
  SET NOT NULL                         → CHECK (col IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL, DROP CHECK\n\
                                         (ADD CONSTRAINT ... NOT NULL NOT VALID + VALIDATE on PostgreSQL 18)\n\
  ADD COLUMN ... DEFAULT <volatile>    → add the column, SET DEFAULT, batched backfill, then constraints\n\
  every part that takes a blocking lock starts with SET lock_timeout\n\n\
Changes that cannot be made safe in place (a rewriting type change, a rename, NOT NULL without a \
default) are kept unchanged, preceded by an explained expand/contract plan.\n\n\
The result has parts: a part is either one transaction or one statement that must run outside \
any transaction. Printed as one script with the parts marked; --write writes them as the \
migration tool runs them, each with the tool's own no-transaction marker: plain SQL gets part 1 \
over FILE (the original kept as FILE.orig) and FILE_2.sql, FILE_3.sql, ...; Flyway, golang-migrate \
(up + down), sqlx and dbmate get the next version numbers; diesel and Prisma get new migration \
directories. A file in the way is never replaced: fix refuses (exit 2) and names it.",
        after_help = "Examples:\n  pgdiplomat fix migrations/0002_email_unique.sql\n  pgdiplomat fix --write migrations/0002_email_unique.sql\n  pgdiplomat fix --write migrations/\n  pgdiplomat fix --format json migrations/0002_email_unique.sql"
    )]
    Fix(FixArgs),
    Inspect(crate::inspect::InspectArgs),
    /// List the rules, or show one rule's explanation with bad and good SQL.
    Rules(RulesArgs),
    /// Print the lock table: statement form → locks, rewrite, scan, per PostgreSQL version.
    Locks(LocksArgs),
    /// Lint and fix a Django project's migrations (through manage.py sqlmigrate).
    Django(crate::django::DjangoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(crate::completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command with --out-dir.
    Man(crate::completions::ManArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// PostgreSQL major version the migrations will run on (13-18). Default: from
    /// pgdiplomat.toml, else 17.
    #[arg(long, value_name = "MAJOR", value_parser = clap::value_parser!(u32).range(13..=18))]
    pub pg_version: Option<u32>,
    /// The migration tool runs each file inside one transaction (Django and Rails do by
    /// default): CONCURRENTLY is then an error and locks are held to the end of the file.
    /// `lint` applies it to plain SQL and standard input only; for a recognised layout
    /// (Flyway, golang-migrate, sqlx, dbmate, diesel, Prisma, Alembic) the tool's rules decide.
    #[arg(long)]
    pub assume_in_transaction: bool,
    /// Read settings from this file instead of searching for pgdiplomat.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore any pgdiplomat.toml.
    #[arg(long)]
    pub no_config: bool,
    /// A value for the placeholder NAME (Flyway `${NAME}`) and the psql variable NAME
    /// (`:NAME`, like `psql -v`); repeatable. Wins over `[placeholders]` in pgdiplomat.toml,
    /// `FLYWAY_PLACEHOLDERS_*` and flyway.conf. A placeholder without a value is linted as a
    /// stand-in name and reported (unknown-placeholder).
    #[arg(long, value_name = "NAME=VALUE", value_parser = define_parser)]
    pub define: Vec<(String, String)>,
}

/// `--define NAME=VALUE`.
fn define_parser(s: &str) -> Result<(String, String), String> {
    pgdiplomat_analysis::preprocess::parse_define(s)
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
    /// Migration tool whose layout and transaction rules apply to the given paths (default:
    /// detected per directory argument). Decides which files run, in what order, which part
    /// of a file runs (dbmate's and goose's up sections, Liquibase changesets) and whether
    /// each part runs in one transaction. goose, pop (popx), postgres-migrations, sqitch,
    /// sourcegraph, liquibase and schema-dump (Rails structure.sql, pg_dump) join plain,
    /// flyway, golang-migrate, sqlx, dbmate, diesel, prisma and alembic.
    #[arg(
        long,
        value_name = "LAYOUT",
        value_parser = layout_parser()
    )]
    pub layout: Option<pgdiplomat_analysis::layout::Layout>,
    /// Report only the migration files added or changed since this git ref (committed since
    /// the branch forked from it, staged, unstaged or untracked). The other files are still
    /// read, for what they tell about the schema; the changed files are one deploy (a table
    /// created by one of them is new for the others).
    #[arg(long, value_name = "GIT_REF")]
    pub changed_since: Option<String>,
    /// Baseline: the migration with this version or file name (e.g. `20240101120000` or
    /// `0042_add_users.sql`) and every file before it are read for schema knowledge but not
    /// reported, like strong_migrations' `start_after`. Also `start-after` in pgdiplomat.toml.
    /// An error when no file of a directory argument matches.
    #[arg(long, value_name = "VERSION")]
    pub start_after: Option<String>,
    /// Lint as one deploy onto an empty database: tables created by earlier files stay new
    /// and empty (tools that build a database from scratch, test fixtures). By default each
    /// file is a deploy onto a database where the tables of earlier files exist with data.
    #[arg(long)]
    pub assume_fresh_database: bool,
    /// Read the existing schema from this database first (libpq URL or key=value; PG*
    /// variables fill in the rest): column types, validated constraints, foreign keys and
    /// indexes make the findings exact (e.g. `varchar(50)` → `text` is then known not to
    /// rewrite). Only catalog queries are run; nothing is locked or changed.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// `--layout`: one of the layout names (offered by shell completion).
fn layout_parser(
) -> impl clap::builder::TypedValueParser<Value = pgdiplomat_analysis::layout::Layout> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(
        pgdiplomat_analysis::layout::Layout::ALL.map(|l| l.name()),
    )
    .try_map(|s| s.parse::<pgdiplomat_analysis::layout::Layout>())
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
    /// Read the existing schema from this database first (libpq URL or key=value; PG*
    /// variables fill in the rest): predictions then name the real partitions, indexes on a
    /// column, DEFAULT partition, owned sequences and dependents, and know column types and
    /// constraints. Only catalog queries are run; nothing is locked or changed.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Migration files or directories (in migration order); `-` reads standard input.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// Trace on this database instead of a throwaway server (libpq URL or key=value string;
    /// PG* environment variables fill in what it leaves out). Changes are rolled back unless
    /// --commit is given.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// With --database-url: keep the changes (run files as written, CONCURRENTLY included).
    #[arg(long, requires = "database_url")]
    pub commit: bool,
    /// SQL files run before tracing and not traced: the schema the migrations expect.
    #[arg(long, value_name = "FILE")]
    pub setup: Vec<PathBuf>,
    /// Fill every table that exists before each file (and is empty) with N generated rows.
    /// With --database-url only together with --commit (the rows are kept).
    #[arg(long, value_name = "N")]
    pub seed_rows: Option<u64>,
    /// Directory with initdb, pg_ctl and postgres for the throwaway server.
    #[arg(long, value_name = "DIR", conflicts_with = "database_url")]
    pub pg_bin: Option<PathBuf>,
    /// With --database-url: how long a statement may wait for a lock before it is rolled back
    /// (to its savepoint) and retried, so the application never queues behind the trace.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration, requires = "database_url")]
    pub lock_timeout: std::time::Duration,
    /// With --database-url: attempts per statement before it is skipped as blocked.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "database_url")]
    pub max_attempts: u32,
    /// With --database-url: time per statement, waits and pauses included, before it is
    /// skipped as blocked.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, requires = "database_url")]
    pub max_retry_time: std::time::Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Human)]
    pub format: TraceFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// A block per statement.
    Human,
    /// One JSON document.
    Json,
    /// A table per file, for a pull request or a wiki.
    Markdown,
    /// GitHub Actions annotations for failed statements and model disagreements.
    Github,
    /// One line per failed statement or disagreement: `path:line:col: severity: message` (alias: gcc).
    #[value(alias = "gcc")]
    Compact,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Migration files or directories, applied in migration order.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// The database (libpq URL or key=value string); PG* environment variables fill in the rest.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Print the execution plan (transaction groups, timeouts, retries) and what the history
    /// says, without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// How long each attempt may wait for a lock that blocks reads or writes.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Attempts per step before giving up.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub max_attempts: u32,
    /// Time per step, waits and pauses included, before giving up.
    #[arg(long, value_name = "DURATION", default_value = "5min", value_parser = parse_duration)]
    pub max_retry_time: std::time::Duration,
    /// First pause between attempts (doubles each time, with jitter, up to 10s).
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub backoff: std::time::Duration,
    /// Schema of the history table.
    #[arg(long, value_name = "SCHEMA", default_value = "pgdiplomat")]
    pub history_schema: String,
    /// Look for duplicate keys before building a unique index concurrently.
    #[arg(long)]
    pub precheck: bool,
    /// Terminate sessions idle in a transaction that have blocked a step for this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub cancel_blockers_after: Option<std::time::Duration>,
    /// Wait for another runner to finish instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Skip the preflight report (long transactions, INVALID indexes, table sizes).
    #[arg(long)]
    pub no_preflight: bool,
}

/// `100ms`, `2s`, `5min`, `1h` (a bare number is milliseconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let norm = s.trim().replace("minutes", "min").replace("mins", "min");
    let norm = if norm.ends_with('m') && !norm.ends_with("ms") {
        format!("{norm}in")
    } else {
        norm
    };
    pgdiplomat_analysis::model::parse_duration(&norm)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("`{s}` is not a duration: write e.g. 100ms, 2s, 5min"))
}

#[derive(Args, Debug)]
pub struct FixArgs {
    /// The migration to fix, a directory (every migration in it, in its tool's order), or `-`
    /// for standard input.
    #[arg(value_name = "PATH")]
    pub file: PathBuf,
    /// Migration tool of the directory (default: detected as for `lint`). Decides which files
    /// are migrations, which part of a file runs, and where `--write` puts the parts.
    #[arg(long, value_name = "LAYOUT", value_parser = layout_parser())]
    pub layout: Option<pgdiplomat_analysis::layout::Layout>,
    /// PostgreSQL major version the migration will run on (13-18; default 17).
    #[arg(long, value_name = "MAJOR", value_parser = clap::value_parser!(u32).range(13..=18))]
    pub pg_version: Option<u32>,
    /// Write the parts as the migrations the tool runs (new versions or folders with the
    /// tool's no-transaction marker) instead of printing them. Never replaces a file other
    /// than the migration itself, whose original is kept as `<file>.orig`. Refuses a file
    /// with psql meta-commands, or a rewritten statement that held a placeholder's value or a
    /// psql variable (the written SQL would lose them); stand-in names are written back as
    /// their placeholders.
    #[arg(long)]
    pub write: bool,
    /// A value for the placeholder or psql variable NAME while analysing (see `lint
    /// --define`); repeatable.
    #[arg(long, value_name = "NAME=VALUE", value_parser = define_parser)]
    pub define: Vec<(String, String)>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FixFormat::Sql)]
    pub format: FixFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixFormat {
    /// One SQL script with the parts marked by comments.
    Sql,
    /// The parts, their transaction use, reverse SQL and notes.
    Json,
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
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands: each finding becomes an annotation.
    Github,
    /// One line per finding, `path:line:col: severity: rule: message` (alias: gcc).
    #[value(alias = "gcc")]
    Compact,
    /// A Markdown report for a pull-request comment.
    Markdown,
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
