//! Migration layouts: which migration tool a directory belongs to, which of its files that tool
//! runs and in what order, which part of each file runs, and whether the statements of a file
//! share a transaction.
//!
//! The flow for one directory argument is [`detect`] (or a `--layout` override parsed with
//! [`Layout::parse`]) → [`select`] (drop files the tool ignores, put the rest in the tool's
//! order) → for each file [`units`] → lint [`masked_text`] of the unit with
//! `AnalysisOptions::assume_in_transaction` set to [`MigrationUnit::in_transaction`].
//!
//! # How each tool runs a file (PostgreSQL)
//!
//! Two mechanisms put the statements of a file in one transaction:
//!
//! * the tool opens one around the file ([`Wrapping::Tool`]);
//! * the tool sends the whole file as **one** simple-protocol query (`Exec(text)` without
//!   arguments in lib/pq, pgx, tokio-postgres, sqlx; `PQexec` in diesel). PostgreSQL runs a
//!   query string holding more than one statement as a single implicit transaction block
//!   ("Multiple Statements in a Simple Query" in the protocol chapter of the PostgreSQL docs),
//!   so `CREATE INDEX CONCURRENTLY` fails there with "cannot run inside a transaction block"
//!   and the locks of every statement are held to the end of the file
//!   ([`Wrapping::ImplicitMultiStatement`]). A file holding a single statement runs on its own.
//!
//! | layout | default | opt-out |
//! |---|---|---|
//! | [`Layout::Plain`] | nothing (psql runs statements one by one; the file's own BEGIN/COMMIT count) | — |
//! | [`Layout::Flyway`] | tool transaction per versioned/repeatable script, **unless** the script holds a statement Flyway's PostgreSQL parser knows cannot run in one (`CREATE/DROP INDEX CONCURRENTLY`, `VACUUM`, `REINDEX SCHEMA/DATABASE/SYSTEM`, `CREATE/DROP DATABASE/TABLESPACE/SUBSCRIPTION`, `ALTER SYSTEM`, `DISCARD ALL`): then it runs the script statement by statement without one. A script mixing both kinds is refused by Flyway (default `mixed=false`), so it stays transactional here and lint reports the offending statement | `executeInTransaction=false` (or `true`, which forces one) in the script config file `<script>.conf` |
//! | [`Layout::GolangMigrate`] | no tool transaction ("a transaction is used by the driver only when setting the applied schema version number"); the file is one multi-statement exec → implicit transaction when it holds more than one statement | none per file (the driver's `x-multi-statement=true` splits statements: lint with `--layout plain`) |
//! | [`Layout::Sqlx`] | tool transaction per migration | file *starting* with `-- no-transaction` (sqlx tests `sql.starts_with("-- no-transaction")`); then one multi-statement exec |
//! | [`Layout::Dbmate`] | tool transaction per migration; only the `-- migrate:up` section runs | `-- migrate:up transaction:false`; then one multi-statement exec |
//! | [`Layout::Diesel`] | tool transaction per `up.sql` | `run_in_transaction = false` in the folder's `metadata.toml`; then `batch_execute` (one multi-statement exec) |
//! | [`Layout::Prisma`] | no tool transaction (Prisma Migrate does not wrap migrations, prisma/prisma discussion #3774); `migration.sql` is sent as one script → implicit transaction when it holds more than one statement | — |
//! | [`Layout::Goose`] | tool transaction per file; only the `-- +goose Up` section runs, statement by statement (a line ending in `;` ends one; a `StatementBegin`…`StatementEnd` block is one) | `-- +goose NO TRANSACTION` anywhere in the file: each statement is its own `Exec`, so a block holding several statements is an implicit transaction |
//! | [`Layout::Pop`] | tool transaction per migration (the file is one `Exec` in it); only `.up.sql` files for PostgreSQL or no dialect run, the `postgres` one when both exist for a version | popx `.autocommit.up.sql`: no transaction, one multi-statement exec |
//! | [`Layout::PostgresMigrations`] | `START TRANSACTION` … `COMMIT` around each file (`run-migration.ts`) | the file contains `-- postgres-migrations disable-transaction` (anywhere); then one multi-statement `client.query` |
//! | [`Layout::Sqitch`] | nothing: `sqitch deploy` runs each `deploy/` script with `psql --file` (no `--single-transaction`); the script's own `BEGIN;`/`COMMIT;` count | — |
//! | [`Layout::SchemaDump`] | nothing: `rails db:schema:load` (structure format) and `pg_restore`-less loads run the dump with psql; everything it creates is new, so lint reads it as a fresh load (operations on tables it created are not hazards) | — |
//! | [`Layout::Sourcegraph`] | the migrator's transaction per `up.sql`, whose outermost `BEGIN;`/`COMMIT;` it strips (`CanonicalizeQuery`) | `createIndexConcurrently: true` in `metadata.yaml`: the (single) `CREATE INDEX CONCURRENTLY` runs without one |
//! | [`Layout::Liquibase`] | one transaction per `--changeset` (a file is run changeset by changeset; text before the first is not run; `dbms:` lists without `postgresql` skip the changeset; `--ignoreLines` are dropped) | `runInTransaction:false`: statement by statement, or one JDBC execute with `splitStatements:false` |
//! | [`Layout::Alembic`] | nothing: offline `alembic upgrade --sql` output carries its own `BEGIN;`/`COMMIT;` (and `COMMIT;`…`BEGIN;` around `autocommit_block()`), and is run with psql | — |

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use pg_query::protobuf::{DiscardMode, ObjectType, ReindexObjectType};
use pg_query::NodeEnum;

use crate::discover::{is_flyway_migration_name, sort_migration_names, MigrationFile};
use crate::parse::parse_sql;

mod goose;
mod liquibase;
mod pop;
mod sourcegraph;
mod sqitch;

/// A migration tool's directory layout and execution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Numbered `.sql` files run with psql (or any tool that runs statements one by one).
    Plain,
    /// Flyway: `V<version>__<desc>.sql`, `R__<desc>.sql`; `U*` undo scripts are not run.
    Flyway,
    /// golang-migrate: `<version>_<title>.up.sql` (`.down.sql` not run).
    GolangMigrate,
    /// sqlx: `<version>_<desc>.sql` or `<version>_<desc>.up.sql`.
    Sqlx,
    /// dbmate: `<version>_<name>.sql` with `-- migrate:up` / `-- migrate:down` sections.
    Dbmate,
    /// diesel: `<version>_<name>/up.sql`.
    Diesel,
    /// Prisma Migrate: `migrations/<timestamp>_<name>/migration.sql`.
    Prisma,
    /// Alembic offline SQL (`alembic upgrade head --sql > upgrade.sql`).
    Alembic,
    /// goose: `<version>_<name>.sql` with `-- +goose Up` / `-- +goose Down` sections.
    Goose,
    /// pop / popx (gobuffalo/soda, Ory): `<version>_<name>[.<dialect>][.autocommit].up.sql`.
    Pop,
    /// postgres-migrations (npm): `<id>_<name>.sql`, consecutive integer ids.
    PostgresMigrations,
    /// Sqitch: `sqitch.plan` and its `deploy/<change>.sql` scripts, run with psql.
    Sqitch,
    /// A schema dump loaded with psql: Rails `db/structure.sql`, `pg_dump --schema-only`.
    SchemaDump,
    /// Sourcegraph's migrator: `<version>/up.sql` with `metadata.yaml` (`parents`,
    /// `createIndexConcurrently`).
    Sourcegraph,
    /// Liquibase formatted SQL changelogs (`--liquibase formatted sql`, `--changeset`).
    Liquibase,
}

impl Layout {
    /// Every layout, in detection-priority order of [`detect`] (Plain last).
    pub const ALL: [Layout; 15] = [
        Layout::Dbmate,
        Layout::Goose,
        Layout::Liquibase,
        Layout::Sqitch,
        Layout::Flyway,
        Layout::Sourcegraph,
        Layout::Prisma,
        Layout::Diesel,
        Layout::Pop,
        Layout::PostgresMigrations,
        Layout::Sqlx,
        Layout::GolangMigrate,
        Layout::SchemaDump,
        Layout::Alembic,
        Layout::Plain,
    ];

    /// The name used on the command line and in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Layout::Plain => "plain",
            Layout::Flyway => "flyway",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Sqlx => "sqlx",
            Layout::Dbmate => "dbmate",
            Layout::Diesel => "diesel",
            Layout::Prisma => "prisma",
            Layout::Alembic => "alembic",
            Layout::Goose => "goose",
            Layout::Pop => "pop",
            Layout::PostgresMigrations => "postgres-migrations",
            Layout::Sqitch => "sqitch",
            Layout::SchemaDump => "schema-dump",
            Layout::Sourcegraph => "sourcegraph",
            Layout::Liquibase => "liquibase",
        }
    }

    /// Parses a layout name (case-insensitive; `migrate`, `golang_migrate` and `psql` are
    /// accepted as aliases).
    pub fn parse(s: &str) -> Option<Layout> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "plain" | "psql" | "sql" => Some(Layout::Plain),
            "flyway" => Some(Layout::Flyway),
            "golang-migrate" | "golang_migrate" | "migrate" | "go-migrate" => {
                Some(Layout::GolangMigrate)
            }
            "sqlx" => Some(Layout::Sqlx),
            "dbmate" => Some(Layout::Dbmate),
            "diesel" => Some(Layout::Diesel),
            "prisma" => Some(Layout::Prisma),
            "alembic" => Some(Layout::Alembic),
            "goose" => Some(Layout::Goose),
            "pop" | "popx" | "soda" | "buffalo" => Some(Layout::Pop),
            "postgres-migrations" | "postgres_migrations" => Some(Layout::PostgresMigrations),
            "sqitch" => Some(Layout::Sqitch),
            "sourcegraph" => Some(Layout::Sourcegraph),
            "liquibase" => Some(Layout::Liquibase),
            "schema-dump" | "schema_dump" | "structure-sql" | "structure.sql" | "pg-dump"
            | "pg_dump" | "rails-structure" => Some(Layout::SchemaDump),
            _ => None,
        }
    }

    /// The names of all layouts, comma-separated, for error messages.
    pub fn names() -> String {
        Layout::ALL
            .iter()
            .map(Layout::name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layout::parse(s).ok_or_else(|| {
            format!(
                "unknown migration layout `{s}`; the layouts are: {}",
                Layout::names()
            )
        })
    }
}

/// Picks the layout of a directory from the migration files found in it (normally the output of
/// `discover` for `dir`). The first rule that matches wins:
///
/// 1. a file has a dbmate `-- migrate:up` line → [`Layout::Dbmate`];
/// 2. a file has a goose `-- +goose Up` line → [`Layout::Goose`];
/// 3. a file starts with `--liquibase formatted sql` → [`Layout::Liquibase`];
/// 4. `dir` holds `sqitch.plan`, or is the `deploy` folder of a project that does →
///    [`Layout::Sqitch`];
/// 5. a file is named like Flyway (`V<version>__<desc>.sql` or `R__<desc>.sql`) → [`Layout::Flyway`];
/// 6. a file is `up.sql` next to a `metadata.yaml` → [`Layout::Sourcegraph`];
/// 7. a file is `<folder>/migration.sql`, or `dir` holds `migration_lock.toml` → [`Layout::Prisma`];
/// 8. a file is `up.sql` in a folder whose name starts with a digit → [`Layout::Diesel`];
/// 9. a file is named like pop/popx with a dialect or `.autocommit`
///    (`<version>_<name>.postgres.up.sql`, `<version>_<name>.autocommit.up.sql`) → [`Layout::Pop`];
/// 10. a file contains `-- postgres-migrations disable-transaction`, or every file starts with
///     a digit and a `package.json` in `dir` or up to three folders above names
///     `postgres-migrations` → [`Layout::PostgresMigrations`];
/// 11. a file starts with `-- no-transaction`, or every file is `<digits>_*.sql` and a
///     `Cargo.toml` sits in `dir` or its parent (sqlx's `migrations/` next to the crate) →
///     [`Layout::Sqlx`];
/// 12. a file is `*.up.sql` → [`Layout::GolangMigrate`];
/// 13. every file is a schema dump (named `structure.sql`, or with pg_dump's
///     `-- PostgreSQL database dump` header) → [`Layout::SchemaDump`];
/// 14. a file has Alembic's offline markers (`-- Running upgrade ... -> ...` or an
///     `alembic_version` table) → [`Layout::Alembic`];
/// 15. otherwise [`Layout::Plain`].
///
/// Files of pop without a dialect, of goose without annotations and of postgres-migrations
/// without a marker or `package.json` look like plain numbered SQL: pass `--layout`.
///
/// golang-migrate and sqlx name reversible migrations the same way (`<version>_<name>.up.sql`);
/// without a sqlx marker (rule 11) such a directory is taken as golang-migrate. Use `--layout
/// sqlx` to override.
///
/// `texts[i]` is the contents of `files[i]`, as the caller read it: detection never reads a
/// file itself, so a pipe or FIFO (`lint <(cat f.sql)`, `/dev/stdin`) is read exactly once.
pub fn detect(dir: &Path, files: &[MigrationFile], texts: &[&str]) -> Layout {
    debug_assert_eq!(files.len(), texts.len());
    let names: Vec<String> = files.iter().map(|f| file_name(&f.path)).collect();
    let parents: Vec<String> = files.iter().map(|f| parent_name(&f.path)).collect();
    let text = |i: usize| -> &str { texts.get(i).copied().unwrap_or("") };

    if (0..files.len()).any(|i| dbmate_marker(text(i), "up").is_some()) {
        return Layout::Dbmate;
    }
    if (0..files.len()).any(|i| goose::has_up(text(i))) {
        return Layout::Goose;
    }
    if (0..files.len()).any(|i| liquibase::is_formatted(text(i))) {
        return Layout::Liquibase;
    }
    if dir.join(sqitch::PLAN_FILE).is_file()
        || (dir.file_name().is_some_and(|n| n == "deploy")
            && dir
                .parent()
                .is_some_and(|p| p.join(sqitch::PLAN_FILE).is_file()))
    {
        return Layout::Sqitch;
    }
    if names.iter().any(|n| is_flyway_migration_name(n)) {
        return Layout::Flyway;
    }
    if files.iter().zip(&names).any(|(f, n)| {
        n == "up.sql"
            && f.path
                .parent()
                .is_some_and(|p| p.join(sourcegraph::METADATA).is_file())
    }) {
        return Layout::Sourcegraph;
    }
    if names
        .iter()
        .any(|n| n.eq_ignore_ascii_case("migration.sql"))
        || dir.join("migration_lock.toml").is_file()
    {
        return Layout::Prisma;
    }
    if names
        .iter()
        .zip(&parents)
        .any(|(n, p)| n.eq_ignore_ascii_case("up.sql") && starts_with_digit(p))
    {
        return Layout::Diesel;
    }
    if names.iter().any(|n| pop::is_distinctive(n)) {
        return Layout::Pop;
    }
    if (0..files.len()).any(|i| text(i).contains(POSTGRES_MIGRATIONS_NO_TRANSACTION))
        || (!names.is_empty()
            && names.iter().all(|n| starts_with_digit(n))
            && package_json_uses_postgres_migrations(dir))
    {
        return Layout::PostgresMigrations;
    }
    let cargo_nearby = dir.join("Cargo.toml").is_file()
        || dir.parent().is_some_and(|p| p.join("Cargo.toml").is_file());
    if (0..files.len()).any(|i| text(i).starts_with(SQLX_NO_TRANSACTION))
        || (cargo_nearby && !names.is_empty() && names.iter().all(|n| is_versioned_name(n)))
    {
        return Layout::Sqlx;
    }
    if names
        .iter()
        .any(|n| n.to_ascii_lowercase().ends_with(".up.sql"))
    {
        return Layout::GolangMigrate;
    }
    if !files.is_empty() && (0..files.len()).all(|i| is_schema_dump(&names[i], text(i))) {
        return Layout::SchemaDump;
    }
    if (0..files.len()).any(|i| looks_like_alembic_offline(text(i))) {
        return Layout::Alembic;
    }
    Layout::Plain
}

/// Keeps the files the tool of `layout` runs as migrations, in the order it runs them. Apply it
/// to the files found in a directory, not to files the user named one by one.
///
/// * Flyway: only `V*__`/`R__` scripts (callbacks such as `afterMigrate.sql` and other `.sql`
///   files are not migrations), versioned by version, then repeatable by description, whatever
///   sub-folder they sit in.
/// * golang-migrate: `<digits>_*.up.sql` (its parser skips any other file name).
/// * sqlx: `<digits>_*.sql` (down migrations are already excluded by discovery).
/// * dbmate: `<digits>*.sql`.
/// * goose: `<digits>_*.sql` (goose reads the version before the first `_`).
/// * diesel: `up.sql` files.
/// * Prisma: `migration.sql` files.
/// * pop/popx: up migrations for PostgreSQL or no dialect; of those sharing a version, the
///   `postgres` one; versions compared as strings.
/// * postgres-migrations: `<id>[-_]<name>.sql`, by id as a number.
/// * Sqitch: the `deploy/` scripts `sqitch.plan` names, in plan order.
/// * Sourcegraph: `<version>/up.sql` next to a `metadata.yaml`, parents before children,
///   unrelated migrations by version.
/// * Liquibase: every file, in the order of the master changelog, else alphabetical.
/// * Alembic, schema dump, plain: every file.
pub fn select(layout: Layout, files: Vec<MigrationFile>) -> Vec<MigrationFile> {
    let keep = |f: &MigrationFile| {
        let name = file_name(&f.path);
        let lower = name.to_ascii_lowercase();
        match layout {
            Layout::Plain
            | Layout::Alembic
            | Layout::SchemaDump
            | Layout::Sqitch
            | Layout::Liquibase => true,
            Layout::PostgresMigrations => {
                postgres_migrations_id(&name).is_some() && lower.ends_with(".sql")
            }
            Layout::Flyway => is_flyway_migration_name(&name),
            Layout::GolangMigrate => is_versioned_name(&name) && lower.ends_with(".up.sql"),
            Layout::Sqlx | Layout::Goose => is_versioned_name(&name),
            Layout::Dbmate => starts_with_digit(&name),
            Layout::Diesel => lower == "up.sql",
            Layout::Prisma => lower == "migration.sql",
            Layout::Sourcegraph => {
                name == "up.sql"
                    && sourcegraph::version_of(&parent_name(&f.path)).is_some()
                    && f.path
                        .parent()
                        .is_some_and(|p| p.join(sourcegraph::METADATA).is_file())
            }
            Layout::Pop => pop::parse_name(&name).is_some_and(|n| pop::runs_on_postgres(&n)),
        }
    };
    let kept: Vec<MigrationFile> = files.into_iter().filter(keep).collect();
    match layout {
        Layout::Pop => return select_pop(kept),
        Layout::Sqitch => return select_sqitch(kept),
        Layout::Sourcegraph => return select_sourcegraph(kept),
        Layout::Liquibase => return select_liquibase(kept),
        Layout::PostgresMigrations => {
            let mut kept = kept;
            // Ordered by id as a number (ties keep discovery's order).
            kept.sort_by_key(|f| postgres_migrations_id(&file_name(&f.path)).unwrap_or(0));
            return kept;
        }
        _ => {}
    }
    if layout != Layout::Flyway {
        return kept;
    }
    // With the non-Flyway files gone, sort again so Flyway's own order applies.
    let mut paths: Vec<PathBuf> = kept.iter().map(|f| f.path.clone()).collect();
    sort_migration_names(&mut paths);
    let mut by_path: HashMap<PathBuf, Vec<MigrationFile>> = HashMap::new();
    for f in kept.into_iter().rev() {
        by_path.entry(f.path.clone()).or_default().push(f);
    }
    paths
        .into_iter()
        .filter_map(|p| by_path.get_mut(&p).and_then(Vec::pop))
        .collect()
}

/// pop/popx: one migration per version, the `postgres` one before the dialect-less one, in
/// version order compared as strings.
fn select_pop(files: Vec<MigrationFile>) -> Vec<MigrationFile> {
    let mut keyed: Vec<(String, bool, MigrationFile)> = files
        .into_iter()
        .filter_map(|f| {
            let n = pop::parse_name(&file_name(&f.path))?;
            Some((n.version, n.dialect.is_none(), f))
        })
        .collect();
    // Stable: files with the same version and kind keep discovery's order.
    keyed.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut seen = HashSet::new();
    keyed
        .into_iter()
        .filter(|(version, _, _)| seen.insert(version.clone()))
        .map(|(_, _, f)| f)
        .collect()
}

/// Sqitch: the deploy scripts of the plan, in plan order. A file under a project's `deploy/`
/// that the plan does not name is not run; files outside `deploy/` (revert, verify) neither.
/// Without a plan (files named one by one elsewhere), files under a `deploy` folder are kept.
fn select_sqitch(files: Vec<MigrationFile>) -> Vec<MigrationFile> {
    let mut plans: HashMap<PathBuf, Vec<String>> = HashMap::new();
    let mut keyed: Vec<(Option<(PathBuf, usize)>, MigrationFile)> = Vec::new();
    for f in files {
        let Some(project) = sqitch::project_of(&f.path) else {
            let under_deploy = f
                .path
                .parent()
                .is_some_and(|p| p.components().any(|c| c.as_os_str() == "deploy"));
            if under_deploy {
                keyed.push((None, f));
            }
            continue;
        };
        let order = plans.entry(project.clone()).or_insert_with(|| {
            let plan = sqitch::read_plan(&project).unwrap_or_default();
            let exists = |rel: &str| project.join(rel).is_file();
            sqitch::deploy_scripts(&plan, &exists)
        });
        let rel: String = f
            .path
            .strip_prefix(&project)
            .map(|r| {
                r.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        if let Some(at) = order.iter().position(|p| *p == rel) {
            keyed.push((Some((project, at)), f));
        }
    }
    // Projects in the order discovery met them, each in plan order.
    let mut projects: Vec<PathBuf> = Vec::new();
    for (k, _) in &keyed {
        if let Some((p, _)) = k {
            if !projects.contains(p) {
                projects.push(p.clone());
            }
        }
    }
    keyed.sort_by_key(|(k, _)| match k {
        Some((p, at)) => (projects.iter().position(|q| q == p).unwrap_or(0), *at),
        None => (projects.len(), 0),
    });
    keyed.into_iter().map(|(_, f)| f).collect()
}

/// Sourcegraph: per schema directory (the parent of the migration folders, in the order
/// discovery met them), the migrator's topological order; version order when the graph is not
/// one the migrator accepts.
fn select_sourcegraph(files: Vec<MigrationFile>) -> Vec<MigrationFile> {
    let mut schemas: Vec<(PathBuf, Vec<(u64, MigrationFile)>)> = Vec::new();
    for f in files {
        let Some(version) = sourcegraph::version_of(&parent_name(&f.path)) else {
            continue;
        };
        let base = f
            .path
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        match schemas.iter_mut().find(|(b, _)| *b == base) {
            Some((_, list)) => list.push((version, f)),
            None => schemas.push((base, vec![(version, f)])),
        }
    }
    let mut out = Vec::new();
    for (_, mut list) in schemas {
        list.sort_by_key(|(v, _)| *v);
        let defs: Vec<(u64, Vec<u64>)> = list
            .iter()
            .map(|(v, f)| {
                let parents = sourcegraph::metadata_of(&f.path)
                    .map(|m| m.parents)
                    .unwrap_or_default();
                (*v, parents)
            })
            .collect();
        match sourcegraph::order(&defs) {
            Some(order) => {
                let mut by_version: HashMap<u64, MigrationFile> = list.into_iter().collect();
                out.extend(order.into_iter().filter_map(|v| by_version.remove(&v)));
            }
            None => out.extend(list.into_iter().map(|(_, f)| f)),
        }
    }
    out
}

/// Liquibase: the order of the master changelog (XML/YAML `include`/`includeAll`) found in the
/// folder the files share, then the files it does not reach, alphabetically by path; without
/// a master changelog, alphabetical by path (as `includeAll` orders them).
fn select_liquibase(files: Vec<MigrationFile>) -> Vec<MigrationFile> {
    let norm: Vec<PathBuf> = files
        .iter()
        .map(|f| liquibase::normalise(&f.path))
        .collect();
    let mut root = norm
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for p in &norm {
        while !p.starts_with(&root) {
            if !root.pop() {
                break;
            }
        }
    }
    let scan = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.clone()
    };
    let order = liquibase::changelog_order(&scan, &norm).unwrap_or_default();
    let rank = |p: &PathBuf| order.iter().position(|o| o == p).unwrap_or(order.len());
    let mut keyed: Vec<(usize, PathBuf, MigrationFile)> = files
        .into_iter()
        .zip(norm)
        .map(|(f, n)| (rank(&n), n, f))
        .collect();
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    keyed.into_iter().map(|(_, _, f)| f).collect()
}

/// Why the statements of a unit share a transaction (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// Nothing wraps the file: statements run one by one, inside the file's own BEGIN/COMMIT if
    /// it has them.
    None,
    /// The tool opens a transaction around the file.
    Tool,
    /// The tool sends the file as one query string with more than one statement, which
    /// PostgreSQL runs as one implicit transaction block.
    ImplicitMultiStatement,
}

/// What of a file runs, and how, under a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationUnit {
    pub file: MigrationFile,
    /// Byte range of the text that runs (the `-- migrate:up` section for dbmate, the whole
    /// text otherwise). Lint [`masked_text`] of it so positions stay those of the file.
    pub range: Range<usize>,
    /// The statements of the range share one transaction that the file itself does not open:
    /// lint it with `AnalysisOptions::assume_in_transaction` set to this.
    pub in_transaction: bool,
    /// Why ([`Wrapping::None`] exactly when `in_transaction` is false).
    pub wrapping: Wrapping,
}

/// Works out what of `file` (whose contents are `text`) runs under `layout`, and whether it
/// runs in one transaction, as one unit. Most tools run a file as one unit; for a file that
/// [`file_units`] splits into several (goose `NO TRANSACTION` files with a multi-statement
/// block, ...), this is the span from the first unit to the last, wrapped like the first —
/// good enough for `fix`, which refuses to write such files; lint uses [`file_units`].
pub fn units(layout: Layout, file: &MigrationFile, text: &str) -> MigrationUnit {
    let mut all = file_units(layout, file, text);
    let first = all.remove(0);
    match all.pop() {
        None => first,
        Some(last) => MigrationUnit {
            range: first.range.start..last.range.end,
            ..first
        },
    }
}

/// What of `file` (whose contents are `text`) runs under `layout`, as the units the tool runs
/// one after the other, each in one transaction or not: one unit for most tools and files. Never
/// empty: a file of which nothing runs is one empty unit. Reads the side files the tools use
/// (`<script>.conf` for Flyway, `metadata.toml` for diesel) next to `file.path`.
pub fn file_units(layout: Layout, file: &MigrationFile, text: &str) -> Vec<MigrationUnit> {
    let unit = |range: Range<usize>, wrapping: Wrapping| MigrationUnit {
        file: file.clone(),
        range,
        in_transaction: wrapping != Wrapping::None,
        wrapping,
    };
    let whole = 0..text.len();
    let (range, wrapping) = match layout {
        Layout::Goose => {
            return goose_units(text)
                .into_iter()
                .map(|(r, w)| unit(r, w))
                .collect()
        }
        Layout::Liquibase => {
            let mut out: Vec<MigrationUnit> = liquibase_units(text)
                .into_iter()
                .map(|(r, w)| unit(r, w))
                .collect();
            if out.is_empty() {
                out.push(unit(0..0, Wrapping::None));
            }
            return out;
        }
        Layout::Plain | Layout::Alembic | Layout::Sqitch | Layout::SchemaDump => {
            (whole, Wrapping::None)
        }
        Layout::Sourcegraph => {
            let range = sourcegraph::canonical_range(text);
            let concurrently =
                sourcegraph::metadata_of(&file.path).is_some_and(|m| m.create_index_concurrently);
            if concurrently {
                let wrapping = single_exec(text, range.clone());
                (range, wrapping)
            } else {
                (range, Wrapping::Tool)
            }
        }
        Layout::PostgresMigrations => {
            if text.contains(POSTGRES_MIGRATIONS_NO_TRANSACTION) {
                (whole.clone(), single_exec(text, whole))
            } else {
                (whole, Wrapping::Tool)
            }
        }
        Layout::Flyway => {
            let forced = flyway_script_config(&file.path);
            let wrap = match forced {
                Some(in_tx) => in_tx,
                None => {
                    let kinds = flyway_statement_kinds(text);
                    // Flyway runs a script without a transaction when it detects a statement
                    // that cannot run in one; with both kinds it refuses the script (default
                    // `mixed=false`), so keep the transaction and let lint point at it.
                    !kinds.non_transactional || kinds.transactional
                }
            };
            (whole, if wrap { Wrapping::Tool } else { Wrapping::None })
        }
        Layout::GolangMigrate | Layout::Prisma => (whole.clone(), single_exec(text, whole)),
        Layout::Pop => {
            let autocommit = pop::parse_name(&file_name(&file.path)).is_some_and(|n| n.autocommit);
            if autocommit {
                (whole.clone(), single_exec(text, whole))
            } else {
                (whole, Wrapping::Tool)
            }
        }
        Layout::Sqlx => {
            if text.starts_with(SQLX_NO_TRANSACTION) {
                (whole.clone(), single_exec(text, whole))
            } else {
                (whole, Wrapping::Tool)
            }
        }
        Layout::Diesel => {
            if diesel_runs_in_transaction(&file.path) {
                (whole, Wrapping::Tool)
            } else {
                (whole.clone(), single_exec(text, whole))
            }
        }
        Layout::Dbmate => {
            let (range, transaction) = dbmate_up_section(text);
            if transaction {
                (range, Wrapping::Tool)
            } else {
                let wrapping = single_exec(text, range.clone());
                (range, wrapping)
            }
        }
    };
    vec![unit(range, wrapping)]
}

/// Liquibase: a plain SQL file (included as raw SQL) is one changeset in a transaction; a
/// formatted one runs changeset by changeset, each part of a changeset that `ignoreLines`
/// cuts a unit of its own.
fn liquibase_units(text: &str) -> Vec<(Range<usize>, Wrapping)> {
    if !liquibase::is_formatted(text) {
        return vec![(0..text.len(), Wrapping::Tool)];
    }
    let mut out = Vec::new();
    for cs in liquibase::changesets(text) {
        if !cs.runs_on_postgres {
            continue;
        }
        for r in cs.ranges {
            let wrapping = if cs.run_in_transaction {
                Wrapping::Tool
            } else if cs.split_statements {
                Wrapping::None
            } else {
                single_exec(text, r.clone())
            };
            out.push((r, wrapping));
        }
    }
    out
}

/// goose: the up section; in one tool transaction, or (`NO TRANSACTION`) statement by statement,
/// where a statement that holds several SQL statements (a `StatementBegin` block, or two on one
/// line) is one `Exec` and so one implicit transaction: such a statement is a unit of its own.
fn goose_units(text: &str) -> Vec<(Range<usize>, Wrapping)> {
    let parsed = goose::parse(text);
    let Some(up) = parsed.up.clone() else {
        // goose refuses a file without `-- +goose Up`; lint it whole.
        return vec![(0..text.len(), Wrapping::Tool)];
    };
    if !parsed.no_transaction {
        return vec![(up, Wrapping::Tool)];
    }
    let multi: Vec<Range<usize>> = parsed
        .statements
        .iter()
        .filter(|r| single_exec(text, (*r).clone()) == Wrapping::ImplicitMultiStatement)
        .cloned()
        .collect();
    if multi.is_empty() {
        return vec![(up, Wrapping::None)];
    }
    // Units cover the up section without gaps: the statements on their own between the
    // multi-statement ones, run one by one; text with no statement (annotations, comments)
    // joins the unit before it, or the first unit.
    let has_statement = |r: &Range<usize>| {
        parsed
            .statements
            .iter()
            .any(|st| st.start >= r.start && st.end <= r.end)
    };
    let mut out: Vec<(Range<usize>, Wrapping)> = Vec::new();
    let mut at = up.start;
    let mut pieces = Vec::new();
    for m in multi {
        if m.start > at {
            pieces.push((at..m.start, Wrapping::None));
        }
        pieces.push((m.start.max(at)..m.end, Wrapping::ImplicitMultiStatement));
        at = m.end;
    }
    if at < up.end {
        pieces.push((at..up.end, Wrapping::None));
    }
    let mut pending_start = None;
    for (range, wrapping) in pieces {
        if wrapping == Wrapping::None && !has_statement(&range) {
            match out.last_mut() {
                Some(last) => last.0.end = range.end,
                None => pending_start = Some(range.start),
            }
            continue;
        }
        let start = pending_start.take().unwrap_or(range.start);
        out.push((start..range.end, wrapping));
    }
    out
}

/// `text` with every byte outside `range` replaced by a space, except newlines, which are kept:
/// byte offsets, line numbers and (for lines inside the range) columns are those of the file.
/// The range is clamped to the text and to character boundaries.
pub fn masked_text(text: &str, range: Range<usize>) -> String {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(range.start);
    let end = floor(range.end).max(start);
    if start == 0 && end == text.len() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for (i, ch) in text.char_indices() {
        if (start..end).contains(&i) || ch == '\n' {
            out.push(ch);
        } else {
            out.extend(std::iter::repeat_n(' ', ch.len_utf8()));
        }
    }
    out
}

/// The files changed since `git_ref`, as absolute paths: committed on this branch since it
/// forked from `git_ref` (`git diff --name-only --diff-filter=ACMR <ref>...HEAD`), changed in
/// the index or the working tree (`git diff --name-only --diff-filter=ACMR HEAD`), and
/// untracked but not ignored (`git ls-files --others --exclude-standard`). Deleted files are
/// left out. `cwd` is any directory inside the repository.
pub fn changed_since(cwd: &Path, git_ref: &str) -> Result<Vec<PathBuf>, String> {
    let toplevel = git(cwd, &["rev-parse", "--show-toplevel"]).map_err(|e| {
        if e.contains("not a git repository") {
            format!(
                "{}: not inside a git repository, so --changed-since cannot tell what changed",
                cwd.display()
            )
        } else {
            e
        }
    })?;
    let toplevel = PathBuf::from(toplevel.trim_end_matches(['\n', '\r']));
    if git_ref.starts_with('-') {
        return Err(format!("`{git_ref}` is not a git ref"));
    }
    let commit = format!("{git_ref}^{{commit}}");
    if git(
        &toplevel,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &commit,
        ],
    )
    .is_err()
    {
        return Err(format!(
            "unknown git ref `{git_ref}`: name a branch, tag or commit that exists here \
             (in a shallow CI clone, fetch it first, e.g. `git fetch origin main`)"
        ));
    }
    let range = format!("{git_ref}...HEAD");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for args in [
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACMR",
            &range,
            "--",
        ][..],
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACMR",
            "HEAD",
            "--",
        ][..],
        &[
            "ls-files",
            "--others",
            "--exclude-standard",
            "--full-name",
            "-z",
        ][..],
    ] {
        let listing = git(&toplevel, args)?;
        for rel in listing.split('\0').filter(|s| !s.is_empty()) {
            let path = toplevel.join(rel);
            if seen.insert(path.clone()) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Keeps the files whose path is one of `changed` (as returned by [`changed_since`]); paths are
/// compared after resolving symlinks and `..`, so relative and absolute spellings match.
pub fn filter_changed(files: Vec<MigrationFile>, changed: &[PathBuf]) -> Vec<MigrationFile> {
    let changed: HashSet<PathBuf> = changed
        .iter()
        .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    files
        .into_iter()
        .filter(|f| {
            fs::canonicalize(&f.path)
                .map(|p| changed.contains(&p))
                .unwrap_or(false)
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git ({e}); --changed-since needs git on the PATH"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "git {} failed: {}",
            args.join(" "),
            stderr.trim().trim_start_matches("fatal: ")
        ))
    }
}

const SQLX_NO_TRANSACTION: &str = "-- no-transaction";

/// postgres-migrations runs a file without `START TRANSACTION` when its SQL contains this
/// (`migration.sql.includes(...)` in `run-migration.ts`), anywhere.
const POSTGRES_MIGRATIONS_NO_TRANSACTION: &str = "-- postgres-migrations disable-transaction";

/// The id of a postgres-migrations file name (`^(-?\d+)[-_]?(.*).(sql|js)$`, parsed with
/// `parseInt`).
fn postgres_migrations_id(name: &str) -> Option<i64> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    name[..digits].parse().ok()
}

/// A `package.json` in `dir` or up to three folders above it depends on `postgres-migrations`.
fn package_json_uses_postgres_migrations(dir: &Path) -> bool {
    dir.ancestors().take(4).any(|d| {
        fs::read_to_string(d.join("package.json"))
            .is_ok_and(|t| t.contains("\"postgres-migrations\""))
    })
}

/// A schema dump: Rails' `structure.sql`, or pg_dump's header comment.
fn is_schema_dump(name: &str, text: &str) -> bool {
    name.eq_ignore_ascii_case("structure.sql")
        || text
            .lines()
            .take(20)
            .any(|l| l.trim() == "-- PostgreSQL database dump")
}

/// The tool sends `text[range]` as one query: an implicit transaction when it holds more than
/// one statement. Unparsable text is linted as a syntax error anyway; call it unwrapped.
fn single_exec(text: &str, range: Range<usize>) -> Wrapping {
    let part = text.get(range).unwrap_or("");
    match parse_sql(part) {
        Ok(parsed)
            if parsed
                .statements
                .iter()
                .filter(|s| s.node.is_some())
                .count()
                > 1 =>
        {
            Wrapping::ImplicitMultiStatement
        }
        _ => Wrapping::None,
    }
}

#[derive(Debug, Default)]
struct FlywayKinds {
    transactional: bool,
    non_transactional: bool,
}

/// Classifies the statements of a Flyway script like Flyway's `PostgreSQLParser`
/// (`detectCanExecuteInTransaction`): `(CREATE|DROP)( UNIQUE)? INDEX CONCURRENTLY`,
/// `REINDEX( VERBOSE)? (SCHEMA|DATABASE|SYSTEM)`, `VACUUM`, `DISCARD ALL`, `ALTER SYSTEM`,
/// `(CREATE|DROP) (DATABASE|TABLESPACE|SUBSCRIPTION)` cannot run in a transaction. (Its
/// `ALTER TYPE ... ADD VALUE` rule only applies before PostgreSQL 12.) Anything Flyway does not
/// recognise — `REINDEX INDEX CONCURRENTLY`, say — it runs in the transaction, where it fails.
fn flyway_statement_kinds(text: &str) -> FlywayKinds {
    let mut kinds = FlywayKinds::default();
    let Ok(parsed) = parse_sql(text) else {
        return kinds;
    };
    for node in parsed.statements.iter().filter_map(|s| s.node.as_ref()) {
        let non_tx = match node {
            NodeEnum::IndexStmt(s) => s.concurrent,
            NodeEnum::DropStmt(s) => {
                s.concurrent && s.remove_type == ObjectType::ObjectIndex as i32
            }
            NodeEnum::ReindexStmt(s) => [
                ReindexObjectType::ReindexObjectSchema,
                ReindexObjectType::ReindexObjectDatabase,
                ReindexObjectType::ReindexObjectSystem,
            ]
            .iter()
            .any(|k| *k as i32 == s.kind),
            NodeEnum::VacuumStmt(s) => s.is_vacuumcmd,
            NodeEnum::DiscardStmt(s) => s.target == DiscardMode::DiscardAll as i32,
            NodeEnum::AlterSystemStmt(_)
            | NodeEnum::CreatedbStmt(_)
            | NodeEnum::DropdbStmt(_)
            | NodeEnum::CreateTableSpaceStmt(_)
            | NodeEnum::DropTableSpaceStmt(_)
            | NodeEnum::CreateSubscriptionStmt(_)
            | NodeEnum::DropSubscriptionStmt(_) => true,
            _ => false,
        };
        if non_tx {
            kinds.non_transactional = true;
        } else {
            kinds.transactional = true;
        }
    }
    kinds
}

/// `executeInTransaction` from Flyway's script config file `<script>.conf` (Java properties:
/// `key=value` lines, `#`/`!` comments), if it sets it.
fn flyway_script_config(script: &Path) -> Option<bool> {
    let mut conf = script.as_os_str().to_owned();
    conf.push(".conf");
    let text = fs::read_to_string(PathBuf::from(conf)).ok()?;
    let mut result = None;
    for (key, value, _) in crate::preprocess::properties(&text) {
        if key.eq_ignore_ascii_case("executeInTransaction") {
            match value.trim().to_ascii_lowercase().as_str() {
                "true" => result = Some(true),
                "false" => result = Some(false),
                _ => {}
            }
        }
    }
    result
}

/// diesel runs `up.sql` in a transaction unless the folder's `metadata.toml` says
/// `run_in_transaction = false`.
fn diesel_runs_in_transaction(up_sql: &Path) -> bool {
    let Some(dir) = up_sql.parent() else {
        return true;
    };
    let Ok(text) = fs::read_to_string(dir.join("metadata.toml")) else {
        return true;
    };
    match text.parse::<toml::Table>() {
        Ok(table) => table
            .get("run_in_transaction")
            .and_then(toml::Value::as_bool)
            .unwrap_or(true),
        Err(_) => true,
    }
}

/// A dbmate section marker line: `--` then optional spaces, `migrate:up`/`migrate:down`, then
/// nothing or whitespace-separated options (dbmate's `^--\s*migrate:up(\s*$|\s+\S+)`).
/// Returns the line's byte range and its options text.
fn dbmate_marker<'t>(text: &'t str, which: &str) -> Option<(Range<usize>, &'t str)> {
    dbmate_markers(text, which).next()
}

fn dbmate_markers<'t, 'w>(
    text: &'t str,
    which: &'w str,
) -> impl Iterator<Item = (Range<usize>, &'t str)> + use<'t, 'w> {
    let keyword = format!("migrate:{which}");
    let mut offset = 0;
    text.split_inclusive('\n').filter_map(move |raw| {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let rest = line.strip_prefix("--")?.trim_start();
        let options = rest.strip_prefix(keyword.as_str())?;
        if !options.is_empty() && !options.starts_with(char::is_whitespace) {
            return None;
        }
        Some((start..start + raw.len(), options.trim()))
    })
}

/// The `-- migrate:up` section (from its marker line to the `-- migrate:down` line after it, or
/// the end) and whether dbmate runs it in a transaction (no `transaction:false` option). A file
/// without an up marker — dbmate refuses it — is linted whole, in a transaction.
fn dbmate_up_section(text: &str) -> (Range<usize>, bool) {
    let Some((up_line, options)) = dbmate_marker(text, "up") else {
        return (0..text.len(), true);
    };
    let end = dbmate_markers(text, "down")
        .map(|(line, _)| line.start)
        .find(|&s| s >= up_line.end)
        .unwrap_or(text.len());
    let transaction = !options
        .split_whitespace()
        .any(|opt| opt.eq_ignore_ascii_case("transaction:false"));
    (up_line.start..end, transaction)
}

fn looks_like_alembic_offline(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start()
            .strip_prefix("--")
            .is_some_and(|c| c.trim_start().starts_with("Running upgrade") && c.contains("->"))
    }) || text.to_ascii_lowercase().contains("alembic_version")
}

fn is_versioned_name(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name[digits..].starts_with('_') && name.to_ascii_lowercase().ends_with(".sql")
}

fn starts_with_digit(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn parent_name(path: &Path) -> String {
    path.parent().map(file_name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for layout in Layout::ALL {
            assert_eq!(Layout::parse(layout.name()), Some(layout));
            assert_eq!(layout.name().parse::<Layout>(), Ok(layout));
        }
        assert_eq!(Layout::parse("Migrate"), Some(Layout::GolangMigrate));
        let err = "django".parse::<Layout>().unwrap_err();
        assert!(err.contains("golang-migrate"), "{err}");
    }

    #[test]
    fn masked_text_keeps_offsets_lines_and_utf8() {
        let text = "é1\nab\ncd\n";
        let masked = masked_text(text, 4..7);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "   \nab\n  \n");
        // A range inside a character is widened to its start.
        assert_eq!(masked_text("é", 1..2), "é");
        assert_eq!(masked_text("abc", 10..20), "   ");
        assert_eq!(masked_text("abc", 0..3), "abc");
    }

    #[test]
    fn dbmate_markers_follow_dbmate_regex() {
        let text = "-- comment\n--migrate:up transaction:false\nSELECT 1;\n-- migrate:downx\n-- migrate:down\nSELECT 2;\n";
        let (range, tx) = dbmate_up_section(text);
        assert!(!tx);
        assert_eq!(
            &text[range],
            "--migrate:up transaction:false\nSELECT 1;\n-- migrate:downx\n"
        );
        let (range, tx) = dbmate_up_section("SELECT 1;");
        assert!(tx);
        assert_eq!(range, 0..9);
    }

    #[test]
    fn flyway_detects_what_its_parser_detects() {
        let k = flyway_statement_kinds("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a);");
        assert!(k.non_transactional && !k.transactional);
        let k = flyway_statement_kinds("DROP INDEX CONCURRENTLY i; VACUUM t;");
        assert!(k.non_transactional && !k.transactional);
        let k = flyway_statement_kinds("REINDEX INDEX CONCURRENTLY i;");
        assert!(!k.non_transactional && k.transactional);
        let k = flyway_statement_kinds("ANALYZE t;");
        assert!(!k.non_transactional);
    }

    #[test]
    fn versioned_names() {
        assert!(is_versioned_name("20240101120000_x.up.sql"));
        assert!(is_versioned_name("1_x.sql"));
        assert!(!is_versioned_name("x_1.sql"));
        assert!(!is_versioned_name("1x.sql"));
        assert!(!is_versioned_name("1_x.txt"));
    }
}
