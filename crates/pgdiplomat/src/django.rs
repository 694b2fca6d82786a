//! `pgdiplomat django`: lint and fix the migrations of a Django project.
//!
//! Django writes the SQL; pgdiplomat reads it. `django lint` lists the project's migrations
//! (`manage.py showmigrations --plan`), asks Django for each one's SQL (`manage.py sqlmigrate`),
//! lints it, and reports every finding against the Python migration file and the operation in
//! its `operations` list that produced the statement (sqlmigrate precedes each operation's SQL
//! with a `-- <description>` header; the Nth header is the Nth operation).
//!
//! `django fix` rewrites one migration the way a careful engineer would by hand: `atomic =
//! False` and one `SeparateDatabaseAndState` whose `database_operations` are `RunSQL` steps (the
//! parts of `pgdiplomat fix`, each with its `reverse_sql`) and whose `state_operations` are the
//! original operations, copied verbatim, so Django's idea of the models does not change.
//!
//! Both commands run the project's own Python (`--python`, else `$VIRTUAL_ENV/bin/python`, else
//! `python3`) with manage.py's directory as the working directory. `showmigrations` and
//! `sqlmigrate` connect to the project's database (Django reads the server version and the
//! applied migrations from it): `--database-url` is passed to the project as `DATABASE_URL`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::fix::{fix_source, Fixed, FixedPart, LOCK_TIMEOUT_PREAMBLE};
use pgdiplomat_analysis::lint::{lint_source, lint_sources, FileReport, LintOptions};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_locks::DEFAULT_VERSION;

use crate::cli::FailOn;
use crate::input::{error, print_stdout, relative_to_cwd};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct DjangoArgs {
    #[command(subcommand)]
    pub command: DjangoCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum DjangoCommand {
    /// Lint a Django project's migrations: the SQL `manage.py sqlmigrate` prints, reported
    /// against the migration file and operation.
    #[command(
        long_about = "Lint a Django project's migrations.\n\n\
The migrations are listed with `manage.py showmigrations --plan` (in the order Django applies \
them), each one's SQL is taken from `manage.py sqlmigrate APP NAME`, linted, and every finding is \
reported against the Python file and the operation (migrations.AlterField(...), ...) that \
produced the statement.\n\n\
Each migration is linted on its own, as its own deployment: a table created by an earlier \
migration is taken to exist already and hold data, while a table created in the same migration \
is new and empty (so an initial migration's CreateModel and its indexes are not flagged). With \
--unapplied only the migrations the database has not applied are linted, as one run — they \
will be applied together by the next `migrate`, so a table one of them creates is new and \
empty for the ones after it.\n\n\
showmigrations and sqlmigrate connect to the project's database (Django asks it for the server \
version and the applied migrations); --database-url is passed to the project as DATABASE_URL.",
        after_help = "Exit status:\n  0  no finding at or above --fail-on\n  1  findings at or above --fail-on\n  2  usage error, Django not importable, manage.py failed\n\nExamples:\n  pgdiplomat django lint --manage-py examples/django/manage.py\n  pgdiplomat django lint --unapplied --database-url postgres://app@db/prod\n  pgdiplomat django lint users 0002_email_unique --format json"
    )]
    Lint(LintArgs),
    /// Rewrite one Django migration into the safe choreography (SeparateDatabaseAndState with
    /// RunSQL steps; the original operations kept as state_operations).
    #[command(
        long_about = "Rewrite one Django migration into the safe choreography, printed (or written over \
the file with --write, the original kept as FILE.orig).\n\n\
The SQL of the migration (`manage.py sqlmigrate`) is fixed as `pgdiplomat fix` does it: ADD \
UNIQUE becomes CREATE UNIQUE INDEX CONCURRENTLY + ADD CONSTRAINT ... USING INDEX, CREATE INDEX \
becomes CONCURRENTLY, foreign keys and checks are added NOT VALID and validated later, SET NOT \
NULL goes through a validated CHECK. The new migration has `atomic = False` and one \
migrations.SeparateDatabaseAndState: database_operations are one migrations.RunSQL per part \
(with reverse_sql; a part that must be one transaction is wrapped in BEGIN/COMMIT and its \
lock_timeout made SET LOCAL), state_operations are the original operations, copied verbatim, so \
`makemigrations` sees no change. Dependencies, imports and everything else in the file are kept.",
        after_help = "Examples:\n  pgdiplomat django fix users 0002_email_unique\n  pgdiplomat django fix --write --manage-py examples/django/manage.py users 0002"
    )]
    Fix(FixArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct ProjectArgs {
    /// The project's manage.py (run with its directory as the working directory).
    #[arg(long, value_name = "PATH", default_value = "manage.py")]
    pub manage_py: PathBuf,
    /// The Python that can import Django and the project. Default: $VIRTUAL_ENV/bin/python,
    /// else python3.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// The database Django connects to, passed to the project as DATABASE_URL (the project's
    /// settings must read it). Default: whatever the settings say.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// PostgreSQL major version the migrations will run on (13-18; default 17).
    #[arg(long, value_name = "MAJOR", value_parser = clap::value_parser!(u32).range(13..=18))]
    pub pg_version: Option<u32>,
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Only this app's migrations.
    #[arg(value_name = "APP")]
    pub app: Option<String>,
    /// Only this migration of APP (a name or a unique prefix such as 0002).
    #[arg(value_name = "MIGRATION", requires = "app")]
    pub migration: Option<String>,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only migrations the database has not applied, linted as one run.
    #[arg(long)]
    pub unapplied: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DjangoFormat::Human)]
    pub format: DjangoFormat,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value = "error")]
    pub fail_on: FailOn,
}

#[derive(clap::Args, Debug)]
pub struct FixArgs {
    /// The app label.
    #[arg(value_name = "APP")]
    pub app: String,
    /// The migration (a name or a unique prefix such as 0002).
    #[arg(value_name = "MIGRATION")]
    pub migration: String,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Write the fixed migration over the original (kept as FILE.orig).
    #[arg(long)]
    pub write: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DjangoFormat {
    /// One line per finding with the Python file and line, then the statement.
    Human,
    /// One JSON document.
    Json,
}

pub fn run(args: DjangoArgs) -> u8 {
    match args.command {
        DjangoCommand::Lint(a) => lint(a),
        DjangoCommand::Fix(a) => fix(a),
    }
}

// ---------------------------------------------------------------------------------------------
// Running manage.py

/// A Django project: how to run its manage.py.
struct Project {
    python: PathBuf,
    manage_dir: PathBuf,
    manage_name: String,
    database_url: Option<String>,
}

impl Project {
    /// Checks manage.py and that Django is importable. `Err` has been reported.
    fn open(args: &ProjectArgs) -> Result<Project, ()> {
        let manage = &args.manage_py;
        if !manage.is_file() {
            error(format!(
                "{}: no such file; give the project's manage.py with --manage-py",
                manage.display()
            ));
            return Err(());
        }
        let manage = std::fs::canonicalize(manage).unwrap_or_else(|_| manage.clone());
        let manage_dir = manage
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let manage_name = manage
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "manage.py".into());
        let python = match &args.python {
            Some(p) => p.clone(),
            None => match std::env::var_os("VIRTUAL_ENV") {
                Some(venv) if Path::new(&venv).join("bin/python").exists() => {
                    Path::new(&venv).join("bin/python")
                }
                _ => PathBuf::from("python3"),
            },
        };
        // manage.py runs in its own directory: a relative interpreter path must not change
        // meaning. (Not canonicalized: a virtualenv's python is a symlink that must stay one.)
        let python = if python.components().count() > 1 {
            std::path::absolute(&python).unwrap_or(python)
        } else {
            python
        };
        let project = Project {
            python,
            manage_dir,
            manage_name,
            database_url: args.database_url.clone(),
        };
        let check = Command::new(&project.python)
            .args(["-c", "import django; print(django.get_version())"])
            .current_dir(&project.manage_dir)
            .output();
        match check {
            Err(e) => {
                error(format!(
                    "cannot run {}: {e}; pass the Python that has Django with --python (scripts/django-venv creates one)",
                    project.python.display()
                ));
                Err(())
            }
            Ok(out) if !out.status.success() => {
                error(format!(
                    "Django is not importable by {}: {}\n  run scripts/django-venv (or install Django in the project's virtualenv) and pass --python, or activate the virtualenv",
                    project.python.display(),
                    last_line(&out.stderr)
                ));
                Err(())
            }
            Ok(_) => Ok(project),
        }
    }

    /// Runs `manage.py ARGS`; its stdout, or `Err` (reported).
    fn manage(&self, args: &[&str]) -> Result<String, ()> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.manage_name)
            .args(args)
            .current_dir(&self.manage_dir);
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        let shown = format!("manage.py {}", args.join(" "));
        match cmd.output() {
            Err(e) => {
                error(format!("cannot run {}: {e}", self.python.display()));
                Err(())
            }
            Ok(out) if !out.status.success() => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let mut msg = format!("`{shown}` failed: {}", last_line(&out.stderr));
                if stderr.contains("OperationalError") || stderr.contains("connection") {
                    msg.push_str("\n  showmigrations and sqlmigrate connect to the project's database: pass --database-url (given to the project as DATABASE_URL) or set what its settings read");
                }
                let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
                if tail.len() > 1 {
                    msg.push_str("\n  its output ended with:");
                    for l in tail.iter().rev() {
                        msg.push_str("\n    ");
                        msg.push_str(l);
                    }
                }
                error(msg);
                Err(())
            }
            Ok(out) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        }
    }

    /// Where a migration's file is: `<manage dir>/<app>/migrations/<name>.py`, else asks Django.
    fn migration_file(&self, app: &str, name: &str) -> Result<PathBuf, ()> {
        let conventional = self
            .manage_dir
            .join(app)
            .join("migrations")
            .join(format!("{name}.py"));
        if conventional.is_file() {
            return Ok(conventional);
        }
        let code = format!(
            "import sys\nfrom django.db.migrations.loader import MigrationLoader\nm = MigrationLoader(None, ignore_no_migrations=True).disk_migrations[({app:?}, {name:?})]\nprint(sys.modules[type(m).__module__].__file__)"
        );
        let out = self.manage(&["shell", "-c", &code])?;
        let path = PathBuf::from(out.trim().lines().last().unwrap_or_default());
        if path.is_file() {
            Ok(path)
        } else {
            error(format!("cannot find the file of migration {app}.{name}"));
            Err(())
        }
    }
}

/// The exception line of a Python traceback (`django.db.utils.OperationalError: ...`), else the
/// last non-empty line.
fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let exception = text.lines().rev().find(|l| {
        let head = l.split(':').next().unwrap_or_default();
        !l.starts_with(' ')
            && (head.ends_with("Error") || head.ends_with("Exception"))
            && head
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '_')
    });
    if let Some(l) = exception {
        return l.trim().to_string();
    }
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
        .trim()
        .to_string()
}

/// One migration in the plan.
#[derive(Debug, Clone)]
struct PlannedMigration {
    app: String,
    name: String,
    applied: bool,
}

/// `showmigrations --plan` lines: `[X]  users.0001_initial` (`[ ]` unapplied, `[-]` partly).
fn parse_plan(text: &str) -> Vec<PlannedMigration> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix('[')?;
            let (mark, rest) = rest.split_once(']')?;
            let label = rest.split_whitespace().next()?;
            let (app, name) = label.split_once('.')?;
            Some(PlannedMigration {
                app: app.to_string(),
                name: name.to_string(),
                applied: mark.trim() == "X",
            })
        })
        .collect()
}

/// The migrations to work on, in plan order. `Err` has been reported.
fn select(
    plan: Vec<PlannedMigration>,
    app: Option<&str>,
    migration: Option<&str>,
) -> Result<Vec<PlannedMigration>, ()> {
    let mut chosen: Vec<PlannedMigration> = match app {
        Some(a) => plan.into_iter().filter(|m| m.app == a).collect(),
        None => plan,
    };
    if let Some(a) = app {
        if chosen.is_empty() {
            error(format!(
                "app `{a}` has no migrations (or is not in INSTALLED_APPS)"
            ));
            return Err(());
        }
    }
    if let Some(m) = migration {
        let exact: Vec<_> = chosen.iter().filter(|p| p.name == m).cloned().collect();
        let found = if exact.is_empty() {
            chosen
                .iter()
                .filter(|p| p.name.starts_with(m))
                .cloned()
                .collect()
        } else {
            exact
        };
        match found.len() {
            1 => chosen = found,
            0 => {
                error(format!(
                    "app `{}` has no migration `{m}`",
                    app.unwrap_or_default()
                ));
                return Err(());
            }
            _ => {
                let names: Vec<_> = found.iter().map(|p| p.name.as_str()).collect();
                error(format!(
                    "`{m}` matches several migrations: {}",
                    names.join(", ")
                ));
                return Err(());
            }
        }
    }
    Ok(chosen)
}

// ---------------------------------------------------------------------------------------------
// sqlmigrate output

/// An operation header in sqlmigrate output: `--\n-- Alter field email on user\n--`.
#[derive(Debug, Clone)]
struct Header {
    /// Byte offset of the header's first line.
    offset: usize,
    description: String,
}

fn headers(sql: &str) -> Vec<Header> {
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        lines.push((offset, line.trim_end_matches(['\n', '\r'])));
        offset += line.len();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let (off, a) = lines[i];
        let (_, b) = lines[i + 1];
        let (_, c) = lines[i + 2];
        if a.trim() == "--" && c.trim() == "--" && b.starts_with("-- ") {
            out.push(Header {
                offset: off,
                description: b[3..].trim().to_string(),
            });
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Operations that sqlmigrate cannot show as SQL: a fix would lose them.
fn has_python_operations(sql: &str) -> bool {
    sql.contains("THIS OPERATION CANNOT BE WRITTEN AS SQL")
        || headers(sql)
            .iter()
            .any(|h| h.description.starts_with("Raw Python operation"))
}

// ---------------------------------------------------------------------------------------------
// The Python migration file

/// What pgdiplomat needs to know of a migration file: where its `operations` list and each
/// operation are.
#[derive(Debug)]
struct PyMigration {
    text: String,
    /// From `[` to `]` inclusive.
    list: Range<usize>,
    /// Each top-level element of the list.
    ops: Vec<Range<usize>>,
}

impl PyMigration {
    fn parse(text: String) -> Option<PyMigration> {
        let (list, ops) = operations_list(&text)?;
        Some(PyMigration { text, list, ops })
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    /// `migrations.AlterField(...)` → `AlterField`.
    fn op_kind(&self, i: usize) -> String {
        let t = &self.text[self.ops[i].clone()];
        let head = t.split('(').next().unwrap_or(t).trim();
        head.rsplit('.').next().unwrap_or(head).to_string()
    }
}

/// Skips a string literal or comment starting at `i`; returns the index after it, or `None`
/// when `i` starts neither.
fn skip_literal(b: &[u8], i: usize) -> Option<usize> {
    match b[i] {
        b'#' => Some(
            b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p),
        ),
        q @ (b'\'' | b'"') => {
            let triple = b.len() >= i + 3 && b[i + 1] == q && b[i + 2] == q;
            let mut j = if triple { i + 3 } else { i + 1 };
            while j < b.len() {
                if b[j] == b'\\' {
                    j += 2;
                    continue;
                }
                if triple {
                    if b[j] == q && j + 2 < b.len() && b[j + 1] == q && b[j + 2] == q {
                        return Some(j + 3);
                    }
                } else if b[j] == q || b[j] == b'\n' {
                    return Some(j + 1);
                }
                j += 1;
            }
            Some(b.len())
        }
        _ => None,
    }
}

/// Finds `operations = [ ... ]` in the class body and its top-level elements.
fn operations_list(text: &str) -> Option<(Range<usize>, Vec<Range<usize>>)> {
    let b = text.as_bytes();
    // The assignment: a line whose first token is `operations`, followed by `=` (or an
    // annotation) and `[`. Comments and strings before it are skipped.
    let mut i = 0;
    let mut at_line_start = true;
    let mut open = None;
    while i < b.len() {
        if let Some(j) = skip_literal(b, i) {
            i = j;
            at_line_start = false;
            continue;
        }
        if b[i] == b'\n' {
            at_line_start = true;
            i += 1;
            continue;
        }
        if at_line_start && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
            continue;
        }
        if at_line_start && text[i..].starts_with("operations") {
            let rest = &text[i + "operations".len()..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if trimmed.starts_with('=') || trimmed.starts_with(':') {
                if let Some(eq) = rest.find('=') {
                    let after = &rest[eq + 1..];
                    let lead = after.len() - after.trim_start().len();
                    if after.trim_start().starts_with('[') {
                        open = Some(i + "operations".len() + eq + 1 + lead);
                        break;
                    }
                }
            }
        }
        at_line_start = false;
        i += 1;
    }
    let open = open?;
    let mut depth = 0usize;
    let mut ops = Vec::new();
    let mut current: Option<usize> = None;
    let mut last_end = open + 1;
    let mut i = open;
    while i < b.len() {
        if let Some(j) = skip_literal(b, i) {
            if b[i] != b'#' {
                if depth == 1 && current.is_none() {
                    current = Some(i);
                }
                last_end = j;
            }
            i = j;
            continue;
        }
        let c = b[i];
        match c {
            b'[' | b'(' | b'{' => {
                if depth == 1 && current.is_none() {
                    current = Some(i);
                }
                depth += 1;
                last_end = i + 1;
            }
            b']' | b')' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    if let Some(s) = current.take() {
                        ops.push(s..last_end);
                    }
                    return Some((open..i + 1, ops));
                }
                last_end = i + 1;
            }
            b',' if depth == 1 => {
                if let Some(s) = current.take() {
                    ops.push(s..last_end);
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                if depth == 1 && current.is_none() {
                    current = Some(i);
                }
                last_end = i + 1;
            }
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// lint

/// One migration's SQL and where it came from.
struct Loaded {
    m: PlannedMigration,
    file: PathBuf,
    py: Option<PyMigration>,
    sql: SourceFile,
}

fn load(project: &Project, m: &PlannedMigration) -> Result<Loaded, ()> {
    let sql = project.manage(&["sqlmigrate", &m.app, &m.name])?;
    let file = project.migration_file(&m.app, &m.name)?;
    let py = std::fs::read_to_string(&file)
        .ok()
        .and_then(PyMigration::parse);
    let shown = relative_to_cwd(&file).display().to_string();
    Ok(Loaded {
        m: m.clone(),
        file,
        py,
        sql: SourceFile::new(format!("{shown} (sqlmigrate {} {})", m.app, m.name), sql),
    })
}

/// A finding placed in the Python file.
struct Placed<'a> {
    file: String,
    line: usize,
    operation: Option<String>,
    operation_index: Option<usize>,
    finding: &'a pgdiplomat_analysis::rules::Finding,
    statement: String,
}

fn place<'a>(l: &Loaded, report: &'a FileReport) -> Vec<Placed<'a>> {
    let heads = headers(&l.sql.text);
    let parsed = parse_sql(&l.sql.text).ok();
    let file = relative_to_cwd(&l.file).display().to_string();
    report
        .findings
        .iter()
        .map(|f| {
            let idx = heads
                .iter()
                .rposition(|h| h.offset <= f.span.start)
                .or(if heads.is_empty() { None } else { Some(0) });
            let (line, operation) = match (idx, &l.py) {
                (Some(i), Some(py)) if i < py.ops.len() => (
                    py.line_of(py.ops[i].start),
                    Some(format!("{} ({})", py.op_kind(i), heads[i].description)),
                ),
                (Some(i), _) => (1, Some(heads[i].description.clone())),
                (None, _) => (1, None),
            };
            let statement = parsed
                .as_ref()
                .and_then(|p| {
                    p.statements
                        .iter()
                        .find(|s| s.span.start <= f.span.start && f.span.start <= s.span.end)
                })
                .map(|s| format!("{};", l.sql.slice(&s.span).trim()))
                .unwrap_or_else(|| l.sql.slice(&f.span).trim().to_string());
            Placed {
                file: file.clone(),
                line,
                operation,
                operation_index: idx,
                finding: f,
                statement,
            }
        })
        .collect()
}

fn lint(args: LintArgs) -> u8 {
    let Ok(project) = Project::open(&args.project) else {
        return EXIT_USAGE;
    };
    let Ok(plan) = project.manage(&["showmigrations", "--plan"]) else {
        return EXIT_USAGE;
    };
    let Ok(mut chosen) = select(
        parse_plan(&plan),
        args.app.as_deref(),
        args.migration.as_deref(),
    ) else {
        return EXIT_USAGE;
    };
    if args.unapplied {
        chosen.retain(|m| !m.applied);
    }
    let mut loaded = Vec::new();
    for m in &chosen {
        match load(&project, m) {
            Ok(l) => loaded.push(l),
            Err(()) => return EXIT_USAGE,
        }
    }
    let opts = LintOptions {
        analysis: AnalysisOptions {
            pg_version: args.project.pg_version.unwrap_or(DEFAULT_VERSION),
            assume_in_transaction: false,
        },
        ..LintOptions::default()
    };
    // Each migration is its own deployment, unless --unapplied: those run together next.
    let reports: Vec<FileReport> = if args.unapplied {
        lint_sources(loaded.iter().map(|l| l.sql.clone()).collect(), &opts)
    } else {
        loaded.iter().map(|l| lint_source(&l.sql, &opts)).collect()
    };

    let placed: Vec<Vec<Placed>> = loaded
        .iter()
        .zip(&reports)
        .map(|(l, r)| place(l, r))
        .collect();
    let text = match args.format {
        DjangoFormat::Json => {
            let migrations: Vec<serde_json::Value> = loaded
                .iter()
                .zip(&placed)
                .map(|(l, ps)| {
                    serde_json::json!({
                        "app": l.m.app,
                        "name": l.m.name,
                        "file": relative_to_cwd(&l.file).display().to_string(),
                        "applied": l.m.applied,
                        "sql": l.sql.text,
                        "findings": ps.iter().map(|p| serde_json::json!({
                            "rule": p.finding.rule,
                            "severity": p.finding.severity,
                            "file": p.file,
                            "line": p.line,
                            "operation": p.operation,
                            "operation_index": p.operation_index,
                            "message": p.finding.message,
                            "help": p.finding.help,
                            "fix_sql": p.finding.fix_sql,
                            "statement": p.statement,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "tool": "pgdiplomat",
                "pg_version": opts.analysis.pg_version,
                "migrations": migrations,
            }))
            .unwrap_or_default()
                + "\n"
        }
        DjangoFormat::Human => {
            let mut out = String::new();
            let mut count = 0;
            for ps in &placed {
                for p in ps {
                    count += 1;
                    let op = p
                        .operation
                        .as_deref()
                        .map(|o| format!("{o}: "))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "{}:{}: {}[{}]: {op}{}\n",
                        p.file,
                        p.line,
                        p.finding.severity.as_str(),
                        p.finding.rule,
                        p.finding.message
                    ));
                    for line in p.statement.lines() {
                        out.push_str("    | ");
                        out.push_str(line);
                        out.push('\n');
                    }
                    if let Some(h) = &p.finding.help {
                        out.push_str(&format!("    = help: {h}\n"));
                    }
                    out.push('\n');
                }
            }
            let flagged = placed.iter().filter(|p| !p.is_empty()).count();
            out.push_str(&format!(
                "{count} finding(s) in {flagged} of {} migration(s){}\n",
                loaded.len(),
                if count > 0 {
                    "; `pgdiplomat django fix APP MIGRATION` rewrites one safely"
                } else {
                    ""
                }
            ));
            out
        }
    };
    if print_stdout(&text).is_err() {
        return EXIT_USAGE;
    }
    crate::lint::exit_status(args.fail_on, &reports)
}

// ---------------------------------------------------------------------------------------------
// fix

/// A Python string literal for `s`: triple-quoted when that is safe and reads better (several
/// lines), otherwise double-quoted with escapes.
pub fn py_string(s: &str) -> String {
    let plain = !s.contains('\\')
        && !s.contains("\"\"\"")
        && !s.ends_with('"')
        && !s.chars().any(|c| c.is_control() && c != '\n');
    if s.contains('\n') && plain {
        return format!("\"\"\"{s}\"\"\"");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            // Line and paragraph separators are fine in Python source but confuse editors.
            '\u{2028}' | '\u{2029}' | '\u{85}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of statements as a Python list literal at `indent`.
fn py_list(items: &[String], indent: &str) -> String {
    let mut out = String::from("[\n");
    for s in items {
        out.push_str(&format!("{indent}    {},\n", py_string(s)));
    }
    out.push_str(indent);
    out.push(']');
    out
}

/// The statements a part runs: a transaction of several statements is made explicit (a
/// non-atomic migration runs each statement in autocommit), and its lock_timeout is local.
fn part_statements(p: &FixedPart) -> Vec<String> {
    if !p.in_transaction || p.statements.len() < 2 {
        return p.statements.clone();
    }
    let mut v = vec!["BEGIN;".to_string()];
    for s in &p.statements {
        if s == LOCK_TIMEOUT_PREAMBLE {
            v.push(s.replacen("SET lock_timeout", "SET LOCAL lock_timeout", 1));
        } else {
            v.push(s.clone());
        }
    }
    v.push("COMMIT;".into());
    v
}

/// Splits `line` at spaces into pieces of at most `width` characters (longer words stay whole).
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in line.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

fn reindent(text: &str, extra: &str) -> String {
    // A string literal spanning lines must stay exactly as it is.
    if text.contains("\"\"\"") || text.contains("'''") {
        return text.to_string();
    }
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.trim().is_empty() {
                out.push_str(extra);
            }
        }
        out.push_str(line);
    }
    out
}

/// The whole fixed migration file.
fn render_migration(py: &PyMigration, fixed: &Fixed, app: &str, name: &str) -> String {
    let text = &py.text;
    // The operations list.
    let mut ops = String::from("[\n");
    ops.push_str("        migrations.SeparateDatabaseAndState(\n");
    ops.push_str("            database_operations=[\n");
    for (i, p) in fixed.parts.iter().enumerate() {
        let how = if p.in_transaction {
            "one transaction"
        } else {
            "outside any transaction"
        };
        ops.push_str(&format!(
            "                # Part {} of {}: {how}.\n",
            i + 1,
            fixed.parts.len()
        ));
        ops.push_str("                migrations.RunSQL(\n");
        let ind = "                    ";
        ops.push_str(&format!(
            "{ind}sql={},\n",
            py_list(&part_statements(p), ind)
        ));
        if p.reverse.is_empty() {
            ops.push_str(&format!("{ind}reverse_sql=migrations.RunSQL.noop,\n"));
        } else {
            ops.push_str(&format!("{ind}reverse_sql={},\n", py_list(&p.reverse, ind)));
        }
        ops.push_str("                ),\n");
    }
    ops.push_str("            ],\n");
    ops.push_str("            state_operations=[\n");
    // The original operations, verbatim (indented to their new depth).
    let orig_indent = {
        let first = py.ops.first().map(|r| r.start).unwrap_or(0);
        let line_start = text[..first].rfind('\n').map_or(0, |p| p + 1);
        text[line_start..first].len()
    };
    let extra = " ".repeat(16usize.saturating_sub(orig_indent));
    for r in &py.ops {
        ops.push_str("                ");
        ops.push_str(&reindent(&text[r.clone()], &extra));
        ops.push_str(",\n");
    }
    ops.push_str("            ],\n");
    ops.push_str("        ),\n");
    ops.push_str("    ]");

    // Notes, as comments above `operations`.
    let mut notes = String::new();
    for n in &fixed.notes {
        let mut first = true;
        for line in n.lines() {
            for wrapped in wrap(line, 90) {
                notes.push_str(if first { "    # " } else { "    #   " });
                notes.push_str(&wrapped);
                notes.push('\n');
                first = false;
            }
        }
    }

    let ops_line_start = text[..py.list.start].rfind('\n').map_or(0, |p| p + 1);
    let mut body = String::new();
    body.push_str(&text[..ops_line_start]);
    body.push_str(&notes);
    body.push_str(&text[ops_line_start..py.list.start]);
    body.push_str(&ops);
    body.push_str(&text[py.list.end..]);

    // `atomic = False`: replace an existing `atomic = ...` line, or add one after the class
    // line.
    let mut out = String::new();
    let mut done = false;
    let mut lines: Vec<&str> = body.split_inclusive('\n').collect();
    if let Some(i) = lines.iter().position(|l| {
        let t = l.trim_start();
        l.starts_with([' ', '\t']) && t.starts_with("atomic") && {
            let r = t["atomic".len()..].trim_start();
            r.starts_with('=') && !r.starts_with("==")
        }
    }) {
        lines[i] = "    atomic = False\n";
        done = true;
    }
    let header = format!(
        "# Rewritten by `pgdiplomat django fix {app} {name}`: the same change, made without\n\
         # blocking reads or writes (see the notes above `operations`). Not atomic: each RunSQL\n\
         # commits on its own; CONCURRENTLY cannot run inside a transaction.\n"
    );
    out.push_str(&header);
    for l in lines {
        out.push_str(l);
        if !done && l.starts_with("class ") && l.trim_end().ends_with(':') {
            out.push_str("\n    atomic = False\n");
            done = true;
        }
    }
    out
}

fn fix(args: FixArgs) -> u8 {
    let Ok(project) = Project::open(&args.project) else {
        return EXIT_USAGE;
    };
    let Ok(plan) = project.manage(&["showmigrations", "--plan"]) else {
        return EXIT_USAGE;
    };
    let Ok(chosen) = select(parse_plan(&plan), Some(&args.app), Some(&args.migration)) else {
        return EXIT_USAGE;
    };
    let m = &chosen[0];
    let Ok(loaded) = load(&project, m) else {
        return EXIT_USAGE;
    };
    let shown = relative_to_cwd(&loaded.file).display().to_string();
    let Some(py) = &loaded.py else {
        error(format!(
            "{shown}: cannot find the `operations = [...]` list of the migration"
        ));
        return EXIT_USAGE;
    };
    if has_python_operations(&loaded.sql.text) {
        error(format!(
            "{shown}: the migration has operations that sqlmigrate cannot show as SQL (RunPython); \
fix them by hand (move them to their own migration first)"
        ));
        return EXIT_USAGE;
    }
    let options = AnalysisOptions {
        pg_version: args.project.pg_version.unwrap_or(DEFAULT_VERSION),
        assume_in_transaction: false,
    };
    let fixed = match fix_source(&loaded.sql, options) {
        Ok(f) => f,
        Err(e) => {
            error(format!(
                "{shown}: PostgreSQL cannot parse the SQL of the migration: {}",
                e.message
            ));
            return EXIT_FINDINGS;
        }
    };
    if !fixed.changed() {
        eprintln!("pgdiplomat: {shown}: nothing to fix");
        return EXIT_CLEAN;
    }
    let text = render_migration(py, &fixed, &m.app, &m.name);
    if args.write {
        let mut backup = loaded.file.clone().into_os_string();
        backup.push(".orig");
        let backup = PathBuf::from(backup);
        let tmp = loaded.file.with_extension("pgdiplomat-tmp");
        let result = std::fs::copy(&loaded.file, &backup)
            .and_then(|_| std::fs::write(&tmp, &text))
            .and_then(|_| std::fs::rename(&tmp, &loaded.file));
        return match result {
            Ok(()) => {
                eprintln!(
                    "pgdiplomat: {shown}: rewritten ({} RunSQL step(s)); the original is {}",
                    fixed.parts.len(),
                    relative_to_cwd(&backup).display()
                );
                EXIT_CLEAN
            }
            Err(e) => {
                error(format!("{shown}: cannot write the fixed migration: {e}"));
                EXIT_USAGE
            }
        };
    }
    match print_stdout(&text) {
        Ok(()) => EXIT_CLEAN,
        Err(()) => EXIT_USAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_strings() {
        assert_eq!(py_string("a \"b\" \\c"), r#""a \"b\" \\c""#);
        assert_eq!(py_string("x\ny"), "\"\"\"x\ny\"\"\"");
        assert_eq!(py_string("x\ny\\"), r#""x\ny\\""#);
        assert_eq!(py_string("ends\n\""), r#""ends\n\"""#);
        assert_eq!(py_string("tab\tx"), r#""tab\tx""#);
    }

    #[test]
    fn finds_operations() {
        let text = "from django.db import migrations\n# operations = [nope]\nclass Migration(migrations.Migration):\n    doc = \"operations = [x]\"\n    operations = [\n        migrations.AlterField(\n            model_name='user',  # a ) comment\n            name=\"e]\",\n        ),\n        migrations.RunSQL('''\n]''')\n    ]\n";
        let py = PyMigration::parse(text.to_string()).unwrap();
        assert_eq!(py.ops.len(), 2);
        assert_eq!(py.op_kind(0), "AlterField");
        assert_eq!(py.line_of(py.ops[0].start), 6);
        assert!(text[py.ops[0].clone()].ends_with(")"));
        assert_eq!(py.op_kind(1), "RunSQL");
        assert!(text[py.list.clone()].ends_with("''')\n    ]"));
    }

    #[test]
    fn sqlmigrate_headers() {
        let sql = "BEGIN;\n--\n-- Alter field email on user\n--\nALTER TABLE x ADD UNIQUE (e);\n--\n-- Add field f\n--\nSELECT 1;\nCOMMIT;\n";
        let h = headers(sql);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].description, "Alter field email on user");
        assert_eq!(h[1].offset, sql.find("--\n-- Add").unwrap());
    }

    #[test]
    fn plan_lines() {
        let p = parse_plan("[X]  users.0001_initial\n[ ]  users.0002_email_unique\n");
        assert_eq!(p.len(), 2);
        assert!(p[0].applied && !p[1].applied);
        assert_eq!(p[1].name, "0002_email_unique");
    }
}
