//! `pgdiplomat fix --write` per migration layout: it never replaces a file it did not create,
//! fixes every migration of a directory, and writes what the migration tool runs — read back
//! through the layout reader (`detect` / `select` / `units`), the written directory yields the
//! fixed parts right after the fixed file, in order, each with the transaction use it needs, and
//! `pgdiplomat lint` finds nothing. The plain layout (the one `apply` reads) is also applied on a
//! real server.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::discover::discover;
use pgdiplomat_analysis::fix::{fix_source, Fixed};
use pgdiplomat_analysis::layout::{detect, masked_text, select, units, Layout};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_pg::{Cluster, ClusterOptions};

/// Unique constraint: two parts (a concurrent build outside a transaction, then attach).
const UNIQUE: &str =
    "BEGIN;\nALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);\nCOMMIT;\n";
/// Index + CHECK: three parts (concurrent build; NOT VALID; VALIDATE).
const INDEX_AND_CHECK: &str =
    "CREATE INDEX users_email_idx ON users_user (email);\nALTER TABLE users_user ADD CHECK (id > 0);\n";
const INIT: &str = "CREATE TABLE users_user (id bigint PRIMARY KEY, email text);\n";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn pgdiplomat(args: &[&str], paths: &[&Path]) -> Out {
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn put(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p
}

/// Every file below `dir` with its contents, relative paths sorted.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn fixed(sql: &str) -> Fixed {
    let f = fix_source(&SourceFile::new("m.sql", sql), AnalysisOptions::default()).unwrap();
    assert!(f.changed());
    f
}

/// One migration as the layout reader sees the directory: name, what runs, in a transaction.
struct Unit {
    rel: String,
    statements: Vec<String>,
    in_transaction: bool,
}

fn read_back(dir: &Path, layout: Layout) -> Vec<Unit> {
    let files: Vec<_> = discover(&[dir.to_path_buf()])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let texts: Vec<String> = files
        .iter()
        .map(|f| fs::read_to_string(&f.path).unwrap())
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(
        detect(dir, &files, &texts),
        layout,
        "the layout of the written directory"
    );
    select(layout, files)
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f.path).unwrap();
            let unit = units(layout, &f, &text);
            let run = masked_text(&text, unit.range.clone());
            let parsed = parse_sql(&run).unwrap();
            Unit {
                rel: f.path.strip_prefix(dir).unwrap().display().to_string(),
                statements: parsed
                    .statements
                    .iter()
                    .filter(|s| s.node.is_some())
                    .map(|s| run[s.span.clone()].to_owned())
                    .collect(),
                in_transaction: unit.in_transaction,
            }
        })
        .collect()
}

/// Writes the fix of `rel` (holding `sql`) in `dir` with the CLI, then checks the directory
/// through the layout reader: the units from `rel` on are the fixed parts in order (file names
/// `expected`), each part outside a transaction runs outside one, each multi-statement part
/// inside one, and the directory lints clean. Returns the units.
fn write_and_read_back(
    dir: &Path,
    layout: Layout,
    rel: &str,
    sql: &str,
    expected: &[&str],
) -> Vec<Unit> {
    let out = pgdiplomat(&["fix", "--write"], &[&dir.join(rel)]);
    assert_eq!(out.code, 0, "{out:?}");
    let f = fixed(sql);
    assert_eq!(f.parts.len(), expected.len());
    let read = read_back(dir, layout);
    let at = read
        .iter()
        .position(|u| u.rel == rel)
        .unwrap_or_else(|| panic!("{rel} is not a migration any more"));
    for (k, (part, name)) in f.parts.iter().zip(expected).enumerate() {
        let unit = read
            .get(at + k)
            .unwrap_or_else(|| panic!("part {} is missing", k + 1));
        assert_eq!(&unit.rel, name, "part {} runs from", k + 1);
        let want: Vec<String> = part
            .statements
            .iter()
            .map(|s| s.trim_end_matches(';').to_owned())
            .collect();
        assert_eq!(
            unit.statements,
            want,
            "statements of part {} ({name})",
            k + 1
        );
        if !part.in_transaction {
            assert!(
                !unit.in_transaction,
                "{name} must run outside a transaction"
            );
        } else if part.statements.len() > 1 && layout != Layout::Plain {
            assert!(unit.in_transaction, "{name} must run in one transaction");
        }
    }
    let lint = pgdiplomat(&["lint", "--no-config", "--layout", layout.name()], &[dir]);
    assert_eq!(lint.code, 0, "lint of the written directory: {lint:?}");
    read
}

#[test]
fn fix_write_never_replaces_a_file_it_did_not_create() {
    let dir = tempfile::tempdir().unwrap();
    let file = put(dir.path(), "0005_m.sql", UNIQUE);
    put(dir.path(), "0005_m_2.sql", "-- hand-written\nSELECT 1;\n");
    put(dir.path(), "0005_m.sql.orig", "-- an older backup\n");
    let before = snapshot(dir.path());
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 2, "{out:?}");
    for name in ["0005_m_2.sql", "0005_m.sql.orig"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(name) && l.contains("is in the way")),
            "{name} not named: {out:?}"
        );
    }
    assert!(out.stderr.contains("nothing was written"), "{out:?}");
    assert_eq!(snapshot(dir.path()), before, "a file changed");

    // With the way clear it writes, and a second run refuses: its backup would replace the first.
    fs::remove_file(dir.path().join("0005_m_2.sql")).unwrap();
    fs::remove_file(dir.path().join("0005_m.sql.orig")).unwrap();
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        fs::read_to_string(dir.path().join("0005_m.sql.orig")).unwrap(),
        UNIQUE
    );
    fs::write(&file, UNIQUE).unwrap();
    let before = snapshot(dir.path());
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn fix_of_a_directory_fixes_every_migration_in_order() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "0001_init.sql", INIT);
    put(dir.path(), "0002_unique.sql", UNIQUE);
    put(dir.path(), "0010_index.sql", INDEX_AND_CHECK);
    let out = pgdiplomat(&["fix"], &[dir.path()]);
    assert_eq!(out.code, 0, "{out:?}");
    let at = |needle: &str| {
        out.stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing: {out:?}"))
    };
    assert!(at("0002_unique.sql") < at("CREATE UNIQUE INDEX CONCURRENTLY unq_email_idx"));
    assert!(at("CREATE UNIQUE INDEX CONCURRENTLY unq_email_idx") < at("0010_index.sql"));
    assert!(at("0010_index.sql") < at("CREATE INDEX CONCURRENTLY users_email_idx"));
    assert!(
        out.stdout.contains("0001_init.sql\n-- nothing to fix"),
        "{out:?}"
    );

    let json = pgdiplomat(&["fix", "--format", "json"], &[dir.path()]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let names: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(names[1].ends_with("0002_unique.sql") && names[2].ends_with("0010_index.sql"));

    let read = write_and_read_back_dir(dir.path());
    let names: Vec<&str> = read.iter().map(|u| u.rel.as_str()).collect();
    assert_eq!(
        names,
        [
            "0001_init.sql",
            "0002_unique.sql",
            "0002_unique_2.sql",
            "0010_index.sql",
            "0010_index_2.sql",
            "0010_index_3.sql"
        ]
    );
}

fn write_and_read_back_dir(dir: &Path) -> Vec<Unit> {
    let out = pgdiplomat(&["fix", "--write"], &[dir]);
    assert_eq!(out.code, 0, "{out:?}");
    let lint = pgdiplomat(&["lint", "--no-config"], &[dir]);
    assert_eq!(lint.code, 0, "{lint:?}");
    read_back(dir, Layout::Plain)
}

#[test]
fn fix_write_plain_parts_apply_on_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "0001_init.sql", INIT);
    put(
        dir.path(),
        "0002_data.sql",
        "INSERT INTO users_user SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 1000) g;\n",
    );
    put(dir.path(), "0003_unique.sql", UNIQUE);
    put(dir.path(), "0004_index.sql", INDEX_AND_CHECK);
    let names: Vec<String> = write_and_read_back_dir(dir.path())
        .into_iter()
        .map(|u| u.rel)
        .collect();
    assert_eq!(
        names,
        [
            "0001_init.sql",
            "0002_data.sql",
            "0003_unique.sql",
            "0003_unique_2.sql",
            "0004_index.sql",
            "0004_index_2.sql",
            "0004_index_3.sql"
        ]
    );
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let url = cluster.url("postgres");
    let out = pgdiplomat(&["apply", "--database-url", &url], &[dir.path()]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut c = cluster.connect().unwrap();
    let rows = c
        .query(
            "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'users_user'::regclass ORDER BY conname",
            &[],
        )
        .unwrap();
    let got: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            ("unq_email".to_owned(), true),
            ("users_user_id_check".to_owned(), true),
            ("users_user_pkey".to_owned(), true)
        ]
    );
    let valid: bool = c
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
}

#[test]
fn fix_write_flyway_uses_sub_versions() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "V1__init.sql", INIT);
    put(dir.path(), "V2__index.sql", INDEX_AND_CHECK);
    write_and_read_back(
        dir.path(),
        Layout::Flyway,
        "V2__index.sql",
        INDEX_AND_CHECK,
        &[
            "V2__index.sql",
            "V2_1__index_part2.sql",
            "V2_2__index_part3.sql",
        ],
    );
}

#[test]
fn fix_write_flyway_before_a_later_version_warns() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "V1__init.sql", INIT);
    put(dir.path(), "V2__unique.sql", UNIQUE);
    put(
        dir.path(),
        "V3__later.sql",
        "ALTER TABLE users_user ADD COLUMN x text;\n",
    );
    let out = pgdiplomat(&["fix", "--write"], &[&dir.path().join("V2__unique.sql")]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("V3__later.sql"),
        "{out:?}"
    );
    let names: Vec<String> = read_back(dir.path(), Layout::Flyway)
        .into_iter()
        .map(|u| u.rel)
        .collect();
    assert_eq!(
        names,
        [
            "V1__init.sql",
            "V2__unique.sql",
            "V2_1__unique_part2.sql",
            "V3__later.sql"
        ]
    );
}

#[test]
fn fix_write_golang_migrate_writes_up_and_down_pairs() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "000001_init.up.sql", INIT);
    put(
        dir.path(),
        "000001_init.down.sql",
        "DROP TABLE users_user;\n",
    );
    put(dir.path(), "000002_index.up.sql", INDEX_AND_CHECK);
    let down = "DROP INDEX users_email_idx;\nALTER TABLE users_user DROP CONSTRAINT users_user_id_check;\n";
    put(dir.path(), "000002_index.down.sql", down);
    write_and_read_back(
        dir.path(),
        Layout::GolangMigrate,
        "000002_index.up.sql",
        INDEX_AND_CHECK,
        &[
            "000002_index.up.sql",
            "000003_index_part2.up.sql",
            "000004_index_part3.up.sql",
        ],
    );
    // The original down migration is untouched; each new up has a down that runs nothing.
    assert_eq!(
        fs::read_to_string(dir.path().join("000002_index.down.sql")).unwrap(),
        down
    );
    for d in ["000003_index_part2.down.sql", "000004_index_part3.down.sql"] {
        let text = fs::read_to_string(dir.path().join(d)).unwrap();
        assert!(
            parse_sql(&text)
                .unwrap()
                .statements
                .iter()
                .all(|s| s.node.is_none()),
            "{d}: {text}"
        );
    }
}

#[test]
fn fix_write_refuses_a_version_that_exists_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "1_init.up.sql", INIT);
    put(dir.path(), "2_unique.up.sql", UNIQUE);
    put(
        dir.path(),
        "3_later.up.sql",
        "ALTER TABLE users_user ADD COLUMN x text;\n",
    );
    let before = snapshot(dir.path());
    let out = pgdiplomat(&["fix", "--write"], &[&dir.path().join("2_unique.up.sql")]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("3_later.up.sql already has that version"),
        "{out:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn fix_write_sqlx_marks_parts_no_transaction() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "Cargo.toml", "[package]\nname = \"app\"\n");
    put(dir.path(), "migrations/20240101000000_init.sql", INIT);
    put(
        dir.path(),
        "migrations/20240102000000_index.sql",
        INDEX_AND_CHECK,
    );
    let m = dir.path().join("migrations");
    write_and_read_back(
        &m,
        Layout::Sqlx,
        "20240102000000_index.sql",
        INDEX_AND_CHECK,
        &[
            "20240102000000_index.sql",
            "20240102000001_index_part2.sql",
            "20240102000002_index_part3.sql",
        ],
    );
    let first = fs::read_to_string(m.join("20240102000000_index.sql")).unwrap();
    assert!(first.starts_with("-- no-transaction\n"), "{first}");
    let second = fs::read_to_string(m.join("20240102000001_index_part2.sql")).unwrap();
    assert!(!second.contains("no-transaction"), "{second}");
}

#[test]
fn fix_write_dbmate_keeps_the_down_section_down() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "20240101000000_init.sql",
        &format!("-- migrate:up\n{INIT}\n-- migrate:down\nDROP TABLE users_user;\n"),
    );
    let down = "-- migrate:down\nDROP INDEX users_email_idx;\nALTER TABLE users_user DROP CONSTRAINT users_user_id_check;\n";
    let original = format!("-- migrate:up\n{INDEX_AND_CHECK}\n{down}");
    put(dir.path(), "20240102000000_index.sql", &original);
    let read = write_and_read_back(
        dir.path(),
        Layout::Dbmate,
        "20240102000000_index.sql",
        INDEX_AND_CHECK,
        &[
            "20240102000000_index.sql",
            "20240102000001_index_part2.sql",
            "20240102000002_index_part3.sql",
        ],
    );
    // Nothing of a down section runs forward.
    assert!(
        read.iter()
            .all(|u| u.statements.iter().all(|s| !s.starts_with("DROP"))),
        "a down statement runs forward"
    );
    let first = fs::read_to_string(dir.path().join("20240102000000_index.sql")).unwrap();
    assert!(
        first.starts_with("-- migrate:up transaction:false\n"),
        "{first}"
    );
    assert!(
        first.ends_with(down),
        "the down section is not kept:\n{first}"
    );
    let second = fs::read_to_string(dir.path().join("20240102000001_index_part2.sql")).unwrap();
    assert!(
        second.starts_with("-- migrate:up\n") && second.contains("\n-- migrate:down\n"),
        "{second}"
    );
}

#[test]
fn fix_write_diesel_writes_new_migration_folders_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "2024-01-01-000000_init/up.sql", INIT);
    put(
        dir.path(),
        "2024-01-01-000000_init/down.sql",
        "DROP TABLE users_user;\n",
    );
    put(
        dir.path(),
        "2024-01-02-000000_index/up.sql",
        INDEX_AND_CHECK,
    );
    put(
        dir.path(),
        "2024-01-02-000000_index/down.sql",
        "DROP INDEX users_email_idx;\n",
    );
    write_and_read_back(
        dir.path(),
        Layout::Diesel,
        "2024-01-02-000000_index/up.sql",
        INDEX_AND_CHECK,
        &[
            "2024-01-02-000000_index/up.sql",
            "2024-01-02-000001_index_part2/up.sql",
            "2024-01-02-000002_index_part3/up.sql",
        ],
    );
    let meta =
        fs::read_to_string(dir.path().join("2024-01-02-000000_index/metadata.toml")).unwrap();
    assert_eq!(
        meta.parse::<toml::Table>().unwrap()["run_in_transaction"].as_bool(),
        Some(false)
    );
    assert!(!dir
        .path()
        .join("2024-01-02-000001_index_part2/metadata.toml")
        .exists());
    assert!(dir
        .path()
        .join("2024-01-02-000001_index_part2/down.sql")
        .is_file());
}

#[test]
fn fix_write_diesel_refuses_when_metadata_is_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "2024-01-02-000000_index/up.sql", UNIQUE);
    put(
        dir.path(),
        "2024-01-02-000000_index/down.sql",
        "SELECT 1;\n",
    );
    put(
        dir.path(),
        "2024-01-02-000000_index/metadata.toml",
        "# mine\n",
    );
    let before = snapshot(dir.path());
    let out = pgdiplomat(
        &["fix", "--write"],
        &[&dir.path().join("2024-01-02-000000_index/up.sql")],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("metadata.toml: is in the way"),
        "{out:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn fix_write_prisma_writes_new_migration_folders() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "migration_lock.toml",
        "provider = \"postgresql\"\n",
    );
    put(dir.path(), "20240101000000_init/migration.sql", INIT);
    put(
        dir.path(),
        "20240102000000_index/migration.sql",
        INDEX_AND_CHECK,
    );
    write_and_read_back(
        dir.path(),
        Layout::Prisma,
        "20240102000000_index/migration.sql",
        INDEX_AND_CHECK,
        &[
            "20240102000000_index/migration.sql",
            "20240102000001_index_part2/migration.sql",
            "20240102000002_index_part3/migration.sql",
        ],
    );
}

#[test]
fn fix_write_refuses_alembic_offline_sql() {
    let dir = tempfile::tempdir().unwrap();
    let f = put(
        dir.path(),
        "upgrade.sql",
        &format!("-- Running upgrade  -> abc123\n\n{UNIQUE}"),
    );
    let out = pgdiplomat(&["fix", "--write", "--layout", "alembic"], &[&f]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("Alembic"), "{out:?}");
    assert!(!dir.path().join("upgrade.sql.orig").exists());
}

#[test]
fn fix_write_refuses_the_new_section_and_changelog_layouts_and_writes_nothing() {
    // goose and Liquibase keep Down sections, annotations and rollback lines next to what
    // runs; Sqitch, Sourcegraph, pop, postgres-migrations and dumps need side files or
    // renumbering. --write refuses them all, detected or named, and leaves the file as it was.
    let cases: &[(&str, &str, String)] = &[
        (
            "goose",
            "00001_users.sql",
            format!("-- +goose Up\n{UNIQUE}\n-- +goose Down\nDROP INDEX users_email_key;\n"),
        ),
        (
            "liquibase",
            "changes.sql",
            format!(
                "--liquibase formatted sql\n--changeset a:1\n{UNIQUE}\n--rollback DROP INDEX x;\n"
            ),
        ),
        (
            "pop",
            "20240101000000_x.postgres.up.sql",
            UNIQUE.to_string(),
        ),
        ("postgres-migrations", "1_x.sql", UNIQUE.to_string()),
        ("schema-dump", "structure.sql", UNIQUE.to_string()),
    ];
    for (layout, name, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        let f = put(dir.path(), name, text);
        let before = snapshot(dir.path());
        let out = pgdiplomat(&["fix", "--write", "--layout", layout], &[&f]);
        assert_eq!(out.code, 2, "{layout}: {out:?}");
        assert!(
            out.stderr.contains("nothing was written"),
            "{layout}: {out:?}"
        );
        assert_eq!(snapshot(dir.path()), before, "{layout}");
    }
    // Detected without --layout too.
    let dir = tempfile::tempdir().unwrap();
    let f = put(
        dir.path(),
        "00001_users.sql",
        &format!("-- +goose Up\n{UNIQUE}\n-- +goose Down\nDROP INDEX users_email_key;\n"),
    );
    let before = snapshot(dir.path());
    let out = pgdiplomat(&["fix", "--write"], &[&f]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("goose"), "{out:?}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn fix_write_of_a_file_named_relative_to_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "V1__init.sql", INIT);
    put(dir.path(), "V2__unique.sql", UNIQUE);
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir.path())
        .args(["fix", "--write", "V2__unique.sql"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = read_back(dir.path(), Layout::Flyway)
        .into_iter()
        .map(|u| u.rel)
        .collect();
    assert_eq!(
        names,
        ["V1__init.sql", "V2__unique.sql", "V2_1__unique_part2.sql"]
    );
}

/// The directory with the `dbmate` and `sqlx` binaries (from PyPI, by scripts/migration-tools).
fn tools() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/migration-tools");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/migration-tools failed, so dbmate and sqlx cannot run (they need python3 \
             with venv and PyPI, or PIP_INDEX_URL pointing at a mirror):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

fn tool(name: &str, args: &[&str]) -> Out {
    let out = std::process::Command::new(tools().join(name))
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// (index users_email_idx valid, CHECK users_user_id_check validated), `None` when absent.
fn fixed_objects(c: &mut pgdiplomat_pg::postgres::Client) -> (Option<bool>, Option<bool>) {
    let index = c
        .query_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE c.relname = 'users_email_idx'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0));
    let check = c
        .query_opt(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'users_user_id_check'",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0));
    (index, check)
}

#[test]
fn fix_write_dbmate_output_runs_and_rolls_back_with_real_dbmate() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("db/migrations");
    put(
        &m,
        "20240101000000_init.sql",
        &format!("-- migrate:up\n{INIT}\n-- migrate:down\nDROP TABLE users_user;\n"),
    );
    let file = put(
        &m,
        "20240102000000_index.sql",
        &format!("-- migrate:up\n{INDEX_AND_CHECK}\n-- migrate:down\nDROP INDEX users_email_idx;\nALTER TABLE users_user DROP CONSTRAINT users_user_id_check;\n"),
    );
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 0, "{out:?}");
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let url = format!("{}?sslmode=disable", cluster.url("postgres"));
    let dbmate = |cmd: &str| {
        tool(
            "dbmate",
            &[
                "--url",
                &url,
                "--migrations-dir",
                m.to_str().unwrap(),
                "--no-dump-schema",
                cmd,
            ],
        )
    };
    let up = dbmate("up");
    assert_eq!(up.code, 0, "{up:?}");
    let mut c = cluster.connect().unwrap();
    assert_eq!(fixed_objects(&mut c), (Some(true), Some(true)));
    let versions: i64 = c
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 4);
    // Rolling back the two new parts and then the original undoes the whole migration.
    for _ in 0..3 {
        let r = dbmate("rollback");
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(fixed_objects(&mut c), (None, None));
    let up = dbmate("up");
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(fixed_objects(&mut c), (Some(true), Some(true)));
}

#[test]
fn fix_write_sqlx_output_runs_with_real_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "Cargo.toml", "[package]\nname = \"app\"\n");
    let m = dir.path().join("migrations");
    put(&m, "20240101000000_init.sql", INIT);
    let file = put(&m, "20240102000000_index.sql", INDEX_AND_CHECK);
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 0, "{out:?}");
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let url = format!("{}?sslmode=disable", cluster.url("postgres"));
    let run = tool(
        "sqlx",
        &[
            "migrate",
            "run",
            "--database-url",
            &url,
            "--source",
            m.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let mut c = cluster.connect().unwrap();
    assert_eq!(fixed_objects(&mut c), (Some(true), Some(true)));
    let versions: i64 = c
        .query_one("SELECT count(*) FROM _sqlx_migrations WHERE success", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 4);
}

/// The directory with `diesel` (diesel_cli from crates.io, by scripts/migration-tools --diesel).
fn diesel() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/migration-tools");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("--diesel")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/migration-tools --diesel failed, so diesel cannot run (it builds diesel_cli \
             from crates.io and links libpq-dev):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("diesel")
    })
}

/// diesel runs only `up.sql` of each folder, in one transaction unless `metadata.toml` turns it
/// off: the folders `fix --write` adds must run, in order, with the concurrent build outside a
/// transaction, and `diesel migration revert` must undo them one by one.
#[test]
fn fix_write_diesel_output_runs_and_reverts_with_real_diesel() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("migrations");
    put(&m, "2024-01-01-000000_init/up.sql", INIT);
    put(
        &m,
        "2024-01-01-000000_init/down.sql",
        "DROP TABLE users_user;\n",
    );
    let file = put(&m, "2024-01-02-000000_index/up.sql", INDEX_AND_CHECK);
    put(
        &m,
        "2024-01-02-000000_index/down.sql",
        "DROP INDEX users_email_idx;\nALTER TABLE users_user DROP CONSTRAINT users_user_id_check;\n",
    );
    let out = pgdiplomat(&["fix", "--write"], &[&file]);
    assert_eq!(out.code, 0, "{out:?}");
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let url = format!("{}?sslmode=disable", cluster.url("postgres"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(diesel())
            .args(args)
            .args([
                "--database-url",
                &url,
                "--migration-dir",
                m.to_str().unwrap(),
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let up = run(&["migration", "run"]);
    assert_eq!(up.code, 0, "{up:?}");
    let mut c = cluster.connect().unwrap();
    assert_eq!(fixed_objects(&mut c), (Some(true), Some(true)));
    let versions: i64 = c
        .query_one("SELECT count(*) FROM __diesel_schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 4, "{up:?}");
    // Reverting the two new parts and then the original undoes the whole migration.
    for _ in 0..3 {
        let r = run(&["migration", "revert"]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(fixed_objects(&mut c), (None, None));
    let up = run(&["migration", "run"]);
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(fixed_objects(&mut c), (Some(true), Some(true)));
}
