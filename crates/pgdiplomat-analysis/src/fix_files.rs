//! Where the parts of a fixed migration go, per migration layout: pure planning, no I/O.
//!
//! [`plan_write`] turns one fixed migration ([`Fixed`]) into the files its migration tool runs,
//! in order, each with the tool's own transaction marker:
//!
//! | layout | part 1 | parts 2..n |
//! |---|---|---|
//! | plain | the file | `<stem>_<k>.sql` next to it |
//! | Flyway | `V<v>__<d>.sql` | `V<v>_<k-1>__<d>_part<k>.sql` (a sub-version: sorts after `V<v>`, before `V<v+1>`); Flyway detects a lone `CONCURRENTLY` statement and runs it without a transaction |
//! | golang-migrate | `<N>_<t>.up.sql` | `<N+k-1>_<t>_part<k>.up.sql` + `.down.sql` |
//! | sqlx | `<N>_<d>.sql` (or `.up.sql`) | `<N+k-1>_<d>_part<k>.sql` (+ `.down.sql` when reversible); a part outside a transaction starts with `-- no-transaction` |
//! | dbmate | `<N>_<n>.sql`, its `-- migrate:down` section kept as it was | `<N+k-1>_<n>_part<k>.sql`; `-- migrate:up transaction:false` for a part outside a transaction |
//! | diesel | `<v>_<n>/up.sql` (+ a new `metadata.toml` with `run_in_transaction = false` when part 1 must run outside one) | `<v'>_<n>_part<k>/` with `up.sql`, `down.sql` and, when needed, `metadata.toml` |
//! | Prisma | `<ts>_<n>/migration.sql` | `<ts+k-1>_<n>_part<k>/migration.sql` |
//! | Alembic | refused: the SQL is generated from the Python migrations | |
//! | goose, pop, postgres-migrations, Sqitch, Sourcegraph, Liquibase, schema dump | refused (`refused`): the parts would have to carry sections, annotations, changeset ids, plan entries, metadata or renumbering that this planner does not write, and a wrong guess would overwrite a Down section or lose user text | |
//!
//! A new version keeps the width of the one it follows (dbmate, diesel and Prisma compare
//! versions as strings), must not be used by any existing migration, and the new files must
//! come right after the fixed file in the tool's order (checked with [`select`] over the
//! directory as it will be); otherwise planning fails with the reason. The original migration's
//! own down migration (dbmate's down section, the `.down.sql` / `down.sql` next to it) is left as
//! it is and still undoes the whole migration; the new parts' down files only say so (with the
//! SQL that would undo the part on its own as a comment), so a full rollback ends where the
//! original's rollback did.
//!
//! The caller checks that none of [`WritePlan::new_paths`] exists, creates them (`O_EXCL`) and
//! then replaces [`WritePlan::file`] with [`WritePlan::contents`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::discover::{sort_migration_names, MigrationFile};
use crate::fix::Fixed;
use crate::layout::{select, Layout, MigrationUnit, Wrapping};

/// A file to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub path: PathBuf,
    pub contents: String,
}

/// What writing one fixed migration creates and replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    /// The migration being fixed; it is replaced by `contents` (part 1), last.
    pub file: PathBuf,
    pub contents: String,
    /// The original text under a new name.
    pub backup: NewFile,
    /// Directories to create (new migration folders for diesel and Prisma), parents first.
    pub create_dirs: Vec<PathBuf>,
    /// New files, in the order the tool runs them (side files next to their migration).
    pub create: Vec<NewFile>,
    /// The new migration files the tool runs after `file`, in order (a subset of `create`).
    pub parts: Vec<PathBuf>,
    /// Things the user must know (e.g. the parts land before migrations that already exist).
    pub warnings: Vec<String>,
}

impl WritePlan {
    /// Every path the plan creates: none of them may exist beforehand.
    pub fn new_paths(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = vec![&self.backup.path];
        out.extend(self.create_dirs.iter().map(PathBuf::as_path));
        out.extend(self.create.iter().map(|f| f.path.as_path()));
        out
    }
}

/// What [`plan_write`] needs to know about the migration and its directory.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub layout: Layout,
    /// The migration file being fixed, as found in `existing` (same spelling of the path).
    pub file: &'a MigrationFile,
    /// Its original text.
    pub text: &'a str,
    /// How its tool runs it now ([`crate::layout::units`]).
    pub unit: &'a MigrationUnit,
    /// The fix of the part of `text` the tool runs.
    pub fixed: &'a Fixed,
    /// Every file below the migrations directory (any name, paths spelled like `file.path`),
    /// including files planned earlier in the same run.
    pub existing: &'a [PathBuf],
}

/// The header comment of part `i` (with the notes on part 1) followed by its SQL.
pub fn part_text(fixed: &Fixed, i: usize) -> String {
    let p = &fixed.parts[i];
    let how = if p.in_transaction {
        "may run in one transaction"
    } else {
        "must run outside any transaction block"
    };
    let mut text = format!(
        "-- pgdiplomat fix: part {} of {}: {how}\n",
        i + 1,
        fixed.parts.len()
    );
    if i == 0 {
        for n in &fixed.notes {
            for (j, line) in n.lines().enumerate() {
                text.push_str(if j == 0 { "-- " } else { "--   " });
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text.push_str(&p.sql());
    text.push('\n');
    text
}

/// Plans the files for `input.fixed` under `input.layout`. `Err` says why it cannot be written
/// for that tool (the caller exits with a usage error and writes nothing).
pub fn plan_write(input: &PlanInput<'_>) -> Result<WritePlan, String> {
    let PlanInput {
        layout,
        file,
        text,
        unit,
        fixed,
        existing,
    } = *input;
    let path = &file.path;
    let shown = &file.display;
    let n = fixed.parts.len();
    if n == 0 {
        return Err(format!("{shown}: the fix has no statements to write"));
    }
    let name = file_name(path);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut plan = WritePlan {
        file: path.clone(),
        contents: String::new(),
        backup: NewFile {
            path: with_suffix(path, ".orig"),
            contents: text.to_owned(),
        },
        create_dirs: Vec::new(),
        create: Vec::new(),
        parts: Vec::new(),
        warnings: Vec::new(),
    };
    // New versions (for the collision check) as normalised keys.
    let mut new_versions: Vec<(String, String)> = Vec::new();
    let down_note = |k: usize| -> String {
        let part = &fixed.parts[k];
        let mut s = format!(
            "-- pgdiplomat fix: part {} of {n} of {name}. Rolling back {name} (its own down \
             migration) undoes the whole original migration, so this part has nothing of its \
             own to undo.\n",
            k + 1
        );
        if part.reverse.is_empty() {
            s.push_str("-- On its own, this part has no reverse SQL.\n");
        } else {
            s.push_str("-- On its own, this part would be undone by:\n");
            for stmt in &part.reverse {
                for line in stmt.lines() {
                    s.push_str("--   ");
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
        s
    };
    match layout {
        Layout::Alembic => {
            return Err(format!(
                "{shown}: Alembic's offline SQL is generated from the Python migrations, so \
                 --write cannot change what Alembic runs; move the parts `pgdiplomat fix` prints \
                 into the migration (op.execute, with autocommit_block() for the parts that must \
                 run outside a transaction)"
            ));
        }
        Layout::Goose
        | Layout::Pop
        | Layout::PostgresMigrations
        | Layout::Sqitch
        | Layout::SchemaDump
        | Layout::Sourcegraph
        | Layout::Liquibase => {
            return Err(refused(shown, layout));
        }
        Layout::Plain => {
            let (stem, ext) = split_ext(&name);
            plan.contents = part_text(fixed, 0);
            for k in 1..n {
                let p = dir.join(format!("{stem}_{}{ext}", k + 1));
                plan.create.push(NewFile {
                    path: p.clone(),
                    contents: part_text(fixed, k),
                });
                plan.parts.push(p);
            }
        }
        Layout::Flyway => {
            let Some((version, desc)) = flyway_versioned(&name) else {
                return Err(format!(
                    "{shown}: only Flyway versioned migrations (V<version>__<description>.sql) can \
                     be split into new versions; a repeatable migration runs whole whenever it \
                     changes"
                ));
            };
            let sep = if version.contains('.') { '.' } else { '_' };
            plan.contents = part_text(fixed, 0);
            for k in 1..n {
                let v = format!("{version}{sep}{k}");
                let p = dir.join(format!("V{v}__{desc}_part{}.sql", k + 1));
                new_versions.push((flyway_key(&v), p.display().to_string()));
                plan.create.push(NewFile {
                    path: p.clone(),
                    contents: part_text(fixed, k),
                });
                plan.parts.push(p);
            }
        }
        Layout::GolangMigrate | Layout::Sqlx | Layout::Dbmate => {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return Err(format!(
                    "{shown}: a {layout} migration's name starts with its version number"
                ));
            }
            let rest = &name[digits.len()..];
            let lower = rest.to_ascii_lowercase();
            let (body, ext) = if lower.ends_with(".up.sql") {
                (&rest[..rest.len() - 7], ".up.sql")
            } else if lower.ends_with(".sql") {
                (&rest[..rest.len() - 4], ".sql")
            } else {
                return Err(format!("{shown}: not a {layout} migration file name"));
            };
            let reversible = ext == ".up.sql";
            // dbmate compares versions as strings: keep the width.
            let fixed_width = layout == Layout::Dbmate;
            let part_file = |k: usize| -> String {
                let part = &fixed.parts[k];
                let body = part_text(fixed, k);
                match layout {
                    Layout::Sqlx if !part.in_transaction => format!("-- no-transaction\n{body}"),
                    Layout::Dbmate => {
                        let opt = if part.in_transaction {
                            ""
                        } else {
                            " transaction:false"
                        };
                        format!("-- migrate:up{opt}\n{body}")
                    }
                    _ => body,
                }
            };
            plan.contents = part_file(0);
            if layout == Layout::Dbmate {
                // The down section stays the down section of the original migration.
                let down = text.get(unit.range.end..).unwrap_or("");
                if !down.trim().is_empty() {
                    if !plan.contents.ends_with("\n\n") {
                        plan.contents.push('\n');
                    }
                    plan.contents.push_str(down);
                }
            }
            for k in 1..n {
                let v = bump(&digits, k as u128, fixed_width).ok_or_else(|| {
                    format!(
                        "{shown}: no room for version {digits} + {k} in the {} digits {layout} \
                         compares as text",
                        digits.len()
                    )
                })?;
                let stem = format!("{v}{body}_part{}", k + 1);
                let p = dir.join(format!("{stem}{ext}"));
                new_versions.push((numeric_key(&v), p.display().to_string()));
                let mut contents = part_file(k);
                if layout == Layout::Dbmate {
                    contents.push_str("\n-- migrate:down\n");
                    contents.push_str(&down_note(k));
                }
                plan.create.push(NewFile {
                    path: p.clone(),
                    contents,
                });
                plan.parts.push(p);
                if layout == Layout::GolangMigrate || reversible {
                    plan.create.push(NewFile {
                        path: dir.join(format!("{stem}.down.sql")),
                        contents: down_note(k),
                    });
                }
            }
        }
        Layout::Diesel | Layout::Prisma => {
            let folder = file_name(&dir);
            let root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            let (version, rest) = match folder.split_once('_') {
                Some((v, r)) => (v.to_owned(), format!("_{r}")),
                None => (folder.clone(), String::new()),
            };
            if !version.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!(
                    "{shown}: a {layout} migration sits in a folder named <version>_<name>"
                ));
            }
            // The last run of digits of the version is counted up, keeping its width.
            let end = version
                .rfind(|c: char| c.is_ascii_digit())
                .map(|i| i + 1)
                .unwrap_or(0);
            let start = version[..end]
                .rfind(|c: char| !c.is_ascii_digit())
                .map(|i| i + 1)
                .unwrap_or(0);
            let needs_no_tx_metadata =
                |k: usize| -> bool { layout == Layout::Diesel && !fixed.parts[k].in_transaction };
            plan.contents = part_text(fixed, 0);
            if needs_no_tx_metadata(0) && unit.wrapping == Wrapping::Tool {
                plan.create.push(NewFile {
                    path: dir.join("metadata.toml"),
                    contents: DIESEL_NO_TRANSACTION.to_owned(),
                });
            }
            for k in 1..n {
                let run = bump(&version[start..end], k as u128, true).ok_or_else(|| {
                    format!(
                        "{shown}: no room after version {version} for {} more migrations",
                        n - 1
                    )
                })?;
                let v = format!("{}{run}{}", &version[..start], &version[end..]);
                let new_dir = root.join(format!("{v}{rest}_part{}", k + 1));
                let key = if layout == Layout::Diesel {
                    v.replace('-', "")
                } else {
                    v.clone()
                };
                new_versions.push((key, new_dir.display().to_string()));
                plan.create_dirs.push(new_dir.clone());
                let up_name = if layout == Layout::Diesel {
                    "up.sql"
                } else {
                    "migration.sql"
                };
                let up = new_dir.join(up_name);
                plan.create.push(NewFile {
                    path: up.clone(),
                    contents: part_text(fixed, k),
                });
                plan.parts.push(up);
                if layout == Layout::Diesel {
                    // diesel refuses to run a file with no statement ("Received an empty
                    // query"), so the down migration does nothing explicitly.
                    plan.create.push(NewFile {
                        path: new_dir.join("down.sql"),
                        contents: format!(
                            "{}SELECT 1; -- nothing to undo on its own\n",
                            down_note(k)
                        ),
                    });
                    if needs_no_tx_metadata(k) {
                        plan.create.push(NewFile {
                            path: new_dir.join("metadata.toml"),
                            contents: DIESEL_NO_TRANSACTION.to_owned(),
                        });
                    }
                }
            }
        }
    }

    // No new version may be one an existing migration already uses.
    let taken: HashSet<String> = existing
        .iter()
        .filter(|p| *p != path)
        .filter_map(|p| version_key(layout, p))
        .collect();
    for (key, p) in &new_versions {
        if taken.contains(key) {
            let holder = existing
                .iter()
                .find(|e| version_key(layout, e).as_deref() == Some(key))
                .map(|e| e.display().to_string())
                .unwrap_or_default();
            return Err(format!(
                "{shown}: the next part would be {p}, but {holder} already has that version; \
                 {layout} needs distinct versions"
            ));
        }
    }

    // The new files must run right after the fixed one, in order, and nothing else moves.
    let mut forward: Vec<PathBuf> = existing
        .iter()
        .filter(|p| is_forward_sql(p))
        .cloned()
        .collect();
    if !forward.contains(path) {
        forward.push(path.clone());
    }
    forward.extend(plan.parts.iter().cloned());
    sort_migration_names(&mut forward);
    let files: Vec<MigrationFile> = forward
        .into_iter()
        .map(|p| MigrationFile {
            display: p.display().to_string(),
            path: p,
        })
        .collect();
    let order: Vec<PathBuf> = select(layout, files).into_iter().map(|f| f.path).collect();
    let Some(at) = order.iter().position(|p| p == path) else {
        return Err(format!(
            "{shown}: not a migration {layout} runs, so its parts cannot be placed after it; \
             pass --layout to say which tool runs it"
        ));
    };
    let after = &order[at + 1..];
    if after.len() < plan.parts.len() || after[..plan.parts.len()] != plan.parts[..] {
        let intruder = after
            .iter()
            .take(plan.parts.len())
            .find(|p| !plan.parts.contains(p))
            .map(|p| {
                format!(
                    "{} would run between the parts of the fixed migration",
                    p.display()
                )
            })
            .unwrap_or_else(|| format!("{layout} would not run the new files right after it"));
        return Err(format!(
            "{shown}: {intruder}; rename it or move the parts yourself (`pgdiplomat fix` prints \
             them)"
        ));
    }
    if let Some(next) = after.get(plan.parts.len()) {
        if layout != Layout::Plain {
            let what = match layout {
                Layout::Flyway => "Flyway refuses the new versions unless outOfOrder is set",
                Layout::GolangMigrate => "golang-migrate never runs the new (lower) versions",
                Layout::Sqlx => "sqlx runs the new versions after it, out of order",
                Layout::Dbmate => {
                    "dbmate runs the new versions after it, out of order (and refuses with --strict)"
                }
                _ => "the tool runs the new migrations after it, out of order",
            };
            plan.warnings.push(format!(
                "{shown}: the parts get versions before {}, which exists already; if it is \
                 already applied, {what}",
                next.display()
            ));
        }
    }
    Ok(plan)
}

/// Why `--write` does not lay out the parts for `layout` (yet): the file has sections or
/// annotations the parts would have to carry, or the tool's order or checksums cannot take new
/// files. The printed fix is still right; the user moves it.
fn refused(shown: &str, layout: Layout) -> String {
    let why = match layout {
        Layout::Goose => {
            "a goose file keeps its `-- +goose Down` section and annotations, which --write does \
             not carry over to the new files"
        }
        Layout::Pop => {
            "pop names a migration `<version>_<name>[.<dialect>].up.sql` and pairs it with its \
             other dialects' files, which --write does not lay out"
        }
        Layout::PostgresMigrations => {
            "postgres-migrations requires consecutive ids (1, 2, 3, ...), so new parts would \
             renumber every later migration, and it refuses changed applied files"
        }
        Layout::Sqitch => {
            "a Sqitch change is named in sqitch.plan and has revert and verify scripts, which \
             --write does not write"
        }
        Layout::SchemaDump => {
            "a schema dump is regenerated by its tool (rails db:schema:dump, pg_dump), so the \
             fix belongs in the migration that produced it"
        }
        Layout::Sourcegraph => {
            "a Sourcegraph migration needs metadata.yaml with its parents (new parts would have to \
             re-parent the migrations after it); use `sg migration add` and move the parts"
        }
        Layout::Liquibase => {
            "a Liquibase changelog identifies each changeset by author:id with a checksum, and \
             keeps --rollback lines with it; new changesets must be written by hand"
        }
        _ => "--write does not know how this tool would run the new files",
    };
    format!(
        "{shown}: {why}; nothing was written. Move the parts `pgdiplomat fix` prints into new \
         {layout} migrations yourself"
    )
}

const DIESEL_NO_TRANSACTION: &str = "# Written by pgdiplomat fix: this migration holds a statement that cannot run inside a\n# transaction block (CONCURRENTLY).\nrun_in_transaction = false\n";

/// Whether discovery lists `path` as a (forward) migration file.
fn is_forward_sql(path: &Path) -> bool {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    if !lower.ends_with(".sql") || name.starts_with('.') {
        return false;
    }
    if lower.ends_with(".down.sql") || lower.ends_with(".undo.sql") || lower == "down.sql" {
        return false;
    }
    !(name.starts_with('U') && name[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// The version of an existing migration path under `layout`, normalised for comparison.
fn version_key(layout: Layout, path: &Path) -> Option<String> {
    let name = file_name(path);
    match layout {
        Layout::Plain
        | Layout::Alembic
        | Layout::Sqitch
        | Layout::SchemaDump
        | Layout::Sourcegraph
        | Layout::Liquibase => None,
        Layout::PostgresMigrations => {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| numeric_key(&digits))
        }
        Layout::Flyway => flyway_versioned(&name).map(|(v, _)| flyway_key(&v)),
        Layout::GolangMigrate | Layout::Sqlx | Layout::Dbmate | Layout::Goose | Layout::Pop => {
            let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| numeric_key(&digits))
        }
        Layout::Diesel | Layout::Prisma => {
            let folder = path.parent().map(file_name)?;
            let version = folder.split('_').next()?;
            if !version.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            Some(if layout == Layout::Diesel {
                version.replace('-', "")
            } else {
                version.to_owned()
            })
        }
    }
}

/// `V2_1__add_index.sql` → (`2_1`, `add_index`).
fn flyway_versioned(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix('V')?;
    let stem = rest
        .len()
        .checked_sub(4)
        .filter(|&i| rest.is_char_boundary(i) && rest[i..].eq_ignore_ascii_case(".sql"))
        .map(|i| &rest[..i])?;
    let (version, desc) = stem.split_once("__")?;
    let ok = !version.is_empty()
        && version
            .split(['.', '_'])
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| (version.to_owned(), desc.to_owned()))
}

/// Flyway compares versions part by part as numbers; trailing zero parts do not count.
fn flyway_key(version: &str) -> String {
    let mut parts: Vec<String> = version.split(['.', '_']).map(numeric_key).collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p == "0") {
        parts.pop();
    }
    parts.join(".")
}

/// A digit string without its leading zeros.
fn numeric_key(digits: &str) -> String {
    let t = digits.trim_start_matches('0');
    if t.is_empty() {
        "0".to_owned()
    } else {
        t.to_owned()
    }
}

/// `digits + add`, zero-padded to the width of `digits`. With `fixed_width`, `None` when the
/// result needs more digits (string order would then differ from numeric order).
fn bump(digits: &str, add: u128, fixed_width: bool) -> Option<String> {
    let value: u128 = digits.parse().ok()?;
    let out = format!("{:0width$}", value.checked_add(add)?, width = digits.len());
    (!fixed_width || out.len() == digits.len()).then_some(out)
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_keep_their_width() {
        assert_eq!(bump("0005", 1, true).as_deref(), Some("0006"));
        assert_eq!(bump("9", 1, false).as_deref(), Some("10"));
        assert_eq!(bump("9", 1, true), None);
        assert_eq!(
            bump("20240101120000", 2, true).as_deref(),
            Some("20240101120002")
        );
    }

    #[test]
    fn flyway_versions_compare_like_flyway() {
        assert_eq!(flyway_key("5_1"), "5.1");
        assert_eq!(flyway_key("005.1.0"), "5.1");
        assert_eq!(
            flyway_versioned("V2_1__add_x.sql"),
            Some(("2_1".to_owned(), "add_x".to_owned()))
        );
        assert_eq!(flyway_versioned("R__views.sql"), None);
    }
}
