//! Migration layouts: detection, the files each tool runs and their order, which statements
//! share a transaction, and `--changed-since`. Fixtures live in `tests/fixtures/layouts/<tool>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::discover::{discover, MigrationFile};
use pgdiplomat_analysis::layout::{
    changed_since, detect, file_units, filter_changed, masked_text, select, units, Layout,
    MigrationUnit, Wrapping,
};
use pgdiplomat_analysis::lint::{lint_with, LintOptions};
use pgdiplomat_analysis::source::SourceFile;

const CONCURRENTLY_IN_TRANSACTION: &str = "concurrently-in-transaction";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/layouts")
        .join(name)
}

fn discovered(dir: &Path) -> Vec<MigrationFile> {
    discover(&[dir.to_path_buf()])
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("unexpected error: {e}")))
        .collect()
}

/// The layout of `files`, read once each as the CLI does.
fn detected(dir: &Path, files: &[MigrationFile]) -> Layout {
    let texts: Vec<String> = files
        .iter()
        .map(|f| fs::read_to_string(&f.path).expect("read fixture"))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    detect(dir, files, &texts)
}

fn rel(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or_else(|_| panic!("{} is not under {}", path.display(), dir.display()))
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// One file as the CLI handles it: its unit, the text linted and the lines of
/// `concurrently-in-transaction` findings.
struct Linted {
    rel: String,
    unit: MigrationUnit,
    masked: String,
    concurrently_lines: Vec<usize>,
}

/// What the CLI does for a directory argument: discover, detect, select, then lint the masked
/// text of each unit of each file (one `Linted` per unit) with `assume_in_transaction` set per file, sharing one analyzer.
fn lint_dir(dir: &Path) -> (Layout, Vec<Linted>) {
    let files = discovered(dir);
    let layout = detected(dir, &files);
    let mut analyzer = Analyzer::new(AnalysisOptions::default());
    let opts = LintOptions::default();
    let mut linted = Vec::new();
    for file in select(layout, files) {
        let text = fs::read_to_string(&file.path).expect("read fixture");
        for unit in file_units(layout, &file, &text) {
            let masked = masked_text(&text, unit.range.clone());
            analyzer.options.assume_in_transaction = unit.in_transaction;
            let source = SourceFile::new(file.display.clone(), masked.clone());
            let report = lint_with(&mut analyzer, &source, &opts);
            let concurrently_lines = report
                .findings
                .iter()
                .filter(|f| f.rule == CONCURRENTLY_IN_TRANSACTION)
                .map(|f| source.line_col(f.span.start).line)
                .collect();
            linted.push(Linted {
                rel: rel(dir, &file.path),
                unit,
                masked,
                concurrently_lines,
            });
        }
    }
    (layout, linted)
}

/// Checks detection, order and transaction grouping of a fixture: `expected` is
/// `(file, in_transaction, lines reported by concurrently-in-transaction)` in run order.
fn check(name: &str, layout: Layout, expected: &[(&str, bool, &[usize])]) -> Vec<Linted> {
    let dir = fixture(name);
    let (detected, linted) = lint_dir(&dir);
    assert_eq!(detected, layout, "layout of {name}");
    let got: Vec<(&str, bool, &[usize])> = linted
        .iter()
        .map(|l| {
            (
                l.rel.as_str(),
                l.unit.in_transaction,
                l.concurrently_lines.as_slice(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{name}: (file, in_transaction, findings)");
    for l in &linted {
        assert_eq!(
            l.unit.in_transaction,
            l.unit.wrapping != Wrapping::None,
            "{}",
            l.rel
        );
    }
    linted
}

#[test]
fn plain_numbered_files_run_unwrapped_in_numeric_order() {
    let linted = check(
        "plain-numbered",
        Layout::Plain,
        &[
            ("1_create_users.sql", false, &[]),
            ("2_add_email.sql", false, &[]),
            ("10_create_orders.sql", false, &[]),
            ("0011_add_index.sql", false, &[]),
        ],
    );
    assert!(linted.iter().all(|l| l.unit.wrapping == Wrapping::None));
}

#[test]
fn flyway_wraps_scripts_unless_conf_or_a_non_transactional_statement_says_otherwise() {
    let linted = check(
        "flyway",
        Layout::Flyway,
        &[
            ("V1__init.sql", true, &[]),
            ("V1_1__add_email.sql", true, &[]),
            // Only CREATE INDEX CONCURRENTLY: Flyway runs it without a transaction by itself.
            ("V1.2__add_name.sql", false, &[]),
            // Mixed with a transactional statement: Flyway refuses it (mixed=false).
            ("later/V1_5__nested.sql", true, &[3]),
            // V1_10__add_phone.sql.conf: executeInTransaction=false.
            ("V1_10__add_phone.sql", false, &[]),
            ("V2__orders.sql", true, &[]),
            ("R__functions.sql", true, &[]),
            ("R__views.sql", true, &[]),
        ],
    );
    // U2__orders.sql (undo) is not run.
    assert!(linted.iter().all(|l| !l.rel.starts_with('U')));
}

#[test]
fn flyway_select_drops_callbacks_and_keeps_flyway_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in [
        "afterMigrate.sql",
        "V2__b.sql",
        "sub/V1_1__a.sql",
        "R__r.sql",
        "V1__a.sql",
    ] {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, "SELECT 1;\n").expect("write");
    }
    let files = discovered(tmp.path());
    assert_eq!(detected(tmp.path(), &files), Layout::Flyway);
    let order: Vec<String> = select(Layout::Flyway, files)
        .iter()
        .map(|f| rel(tmp.path(), &f.path))
        .collect();
    assert_eq!(
        order,
        ["V1__a.sql", "sub/V1_1__a.sql", "V2__b.sql", "R__r.sql"]
    );
}

#[test]
fn golang_migrate_runs_each_up_file_as_one_exec_so_only_multi_statement_files_share_a_transaction()
{
    let linted = check(
        "golang-migrate",
        Layout::GolangMigrate,
        &[
            ("20231231235959_create_users.up.sql", true, &[3]),
            ("20240101120000_add_email.up.sql", false, &[]),
            ("20240115093000_create_orders.up.sql", false, &[]),
        ],
    );
    assert_eq!(linted[0].unit.wrapping, Wrapping::ImplicitMultiStatement);
}

#[test]
fn sqlx_wraps_each_migration_unless_it_starts_with_no_transaction() {
    let linted = check(
        "sqlx",
        Layout::Sqlx,
        &[
            ("20240101000000_create_users.up.sql", true, &[]),
            ("20240102000000_index_email.up.sql", false, &[]),
            ("20240103000000_index_id.up.sql", true, &[2]),
        ],
    );
    assert_eq!(linted[0].unit.wrapping, Wrapping::Tool);
}

#[test]
fn sqlx_is_detected_from_a_cargo_toml_next_to_versioned_migrations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").expect("write");
    let dir = tmp.path().join("migrations");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("20240101000000_init.sql"), "SELECT 1;\n").expect("write");
    fs::write(dir.join("20240102000000_more.up.sql"), "SELECT 1;\n").expect("write");
    assert_eq!(detected(&dir, &discovered(&dir)), Layout::Sqlx);
    // Without the crate next to it, `.up.sql` files are golang-migrate.
    fs::remove_file(tmp.path().join("Cargo.toml")).expect("rm");
    assert_eq!(detected(&dir, &discovered(&dir)), Layout::GolangMigrate);
}

#[test]
fn dbmate_lints_only_the_up_section_in_a_transaction_unless_transaction_false() {
    let linted = check(
        "dbmate",
        Layout::Dbmate,
        &[
            ("db/migrations/20240101000000_create_users.sql", true, &[]),
            ("db/migrations/20240102000000_index_email.sql", false, &[]),
            // Line 4 is in the up section; the CONCURRENTLY of the down section (line 8) is
            // not linted.
            ("db/migrations/20240103000000_add_name.sql", true, &[4]),
        ],
    );
    let add_name = &linted[2];
    let text = fs::read_to_string(fixture("dbmate").join(&add_name.rel)).expect("read");
    let up = &text[add_name.unit.range.clone()];
    assert!(up.starts_with("-- migrate:up\n"), "{up:?}");
    assert!(!up.contains("migrate:down"), "{up:?}");
    // Same length and the same lines; only the up section is left.
    assert_eq!(add_name.masked.len(), text.len());
    assert_eq!(add_name.masked.lines().count(), text.lines().count());
    let masked_lines: Vec<&str> = add_name.masked.lines().collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        masked_lines[0].trim(),
        "",
        "comment before the up marker is masked"
    );
    assert_eq!(masked_lines[1..5], lines[1..5]);
    assert!(masked_lines[5..].iter().all(|l| l.trim().is_empty()));
    assert!(!add_name.masked.contains("down_only_idx"));

    let index_email = &linted[1].unit;
    assert_eq!(index_email.wrapping, Wrapping::None);
}

#[test]
fn dbmate_transaction_false_with_several_statements_is_one_implicit_transaction() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("20240101000000_x.sql");
    let text = "-- migrate:up transaction:false\nCREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n-- migrate:down\nDROP TABLE t;\n";
    fs::write(&path, text).expect("write");
    let file = discovered(tmp.path()).remove(0);
    let unit = units(Layout::Dbmate, &file, text);
    assert_eq!(unit.wrapping, Wrapping::ImplicitMultiStatement);
    assert!(unit.in_transaction);
}

#[test]
fn diesel_wraps_up_sql_unless_metadata_toml_turns_it_off() {
    check(
        "diesel",
        Layout::Diesel,
        &[
            (
                "migrations/00000000000000_diesel_initial_setup/up.sql",
                true,
                &[],
            ),
            (
                "migrations/2024-01-01-120000_create_users/up.sql",
                true,
                &[],
            ),
            ("migrations/2024-01-02-090000_add_email/up.sql", true, &[3]),
            // metadata.toml: run_in_transaction = false
            (
                "migrations/2024-01-10-083000_create_orders/up.sql",
                false,
                &[],
            ),
        ],
    );
}

#[test]
fn prisma_sends_each_migration_as_one_script_so_only_multi_statement_files_share_a_transaction() {
    let linted = check(
        "prisma",
        Layout::Prisma,
        &[
            ("migrations/20231201000000_init/migration.sql", true, &[4]),
            (
                "migrations/20240101120000_add_email/migration.sql",
                false,
                &[],
            ),
            (
                "migrations/20240115093000_create_orders/migration.sql",
                false,
                &[],
            ),
        ],
    );
    assert_eq!(linted[0].unit.wrapping, Wrapping::ImplicitMultiStatement);
}

#[test]
fn alembic_offline_sql_uses_its_own_begin_and_commit() {
    check("alembic", Layout::Alembic, &[("upgrade.sql", false, &[30])]);
    // The CONCURRENTLY between COMMIT and BEGIN (autocommit_block) is fine; the one inside
    // BEGIN ... COMMIT (line 30) is reported.
    let text = fs::read_to_string(fixture("alembic/upgrade.sql")).expect("read");
    assert!(text
        .lines()
        .nth(29)
        .is_some_and(|l| l.contains("account_id_idx")));
}

#[test]
fn goose_runs_the_up_section_in_a_transaction_unless_no_transaction() {
    let linted = check(
        "goose",
        Layout::Goose,
        &[
            // In goose's transaction: the CONCURRENTLY of line 3 fails; the one of the Down
            // section (line 6) is not linted.
            ("00001_create_users.sql", true, &[3]),
            // NO TRANSACTION: statement by statement.
            ("00002_index_name.sql", false, &[]),
            // A StatementBegin block is one statement (the function body's semicolons do not
            // split it).
            ("20240101120000_touch_function.sql", true, &[]),
            // NO TRANSACTION, but the StatementBegin block holds two statements sent as one
            // Exec: an implicit transaction, a unit of its own (with the annotations before
            // it); line 7 runs on its own.
            (
                "20240102000000_block_without_transaction.sql",
                true,
                &[4, 5],
            ),
            ("20240102000000_block_without_transaction.sql", false, &[]),
        ],
    );
    // seed.sql has no version: goose does not run it.
    assert!(linted.iter().all(|l| l.rel != "seed.sql"));
    let text = fs::read_to_string(fixture("goose/00001_create_users.sql")).expect("read");
    let up = &text[linted[0].unit.range.clone()];
    assert!(
        up.starts_with("-- +goose Up\n") && !up.contains("Down"),
        "{up:?}"
    );
    assert!(!linted[0].masked.contains("DROP"));
    // The comment before the up annotation is not part of what runs.
    let touch = &linted[2];
    assert!(touch
        .masked
        .lines()
        .next()
        .is_some_and(|l| l.trim().is_empty()));
    let block = &linted[3];
    assert_eq!(block.unit.wrapping, Wrapping::ImplicitMultiStatement);
    assert!(block.masked.starts_with("-- +goose Up\n"));
    assert!(block.masked.contains("users_id_name_idx"));
    assert!(!block.masked.contains("users_upper_name_idx"));
    assert!(linted[4].masked.contains("users_upper_name_idx"));
    assert!(!linted[4].masked.contains("DROP INDEX"));
    // `units` (used by fix) spans both.
    let file = &linted[3].unit.file;
    let whole = units(
        Layout::Goose,
        file,
        &fs::read_to_string(&file.path).expect("read"),
    );
    assert_eq!(whole.range.start, linted[3].unit.range.start);
    assert_eq!(whole.range.end, linted[4].unit.range.end);
}

#[test]
fn pop_runs_postgres_and_dialect_less_up_migrations_one_per_version() {
    let linted = check(
        "pop",
        Layout::Pop,
        &[
            // The cockroach, mysql and sqlite3 files of this version do not run.
            (
                "migrations/20240101000000000000_users.postgres.up.sql",
                true,
                &[],
            ),
            ("migrations/20240102000000000000_email.up.sql", true, &[2]),
            // popx `.autocommit`: no transaction.
            (
                "migrations/20240103000000000000_name_idx.autocommit.up.sql",
                false,
                &[],
            ),
            // The postgres file wins over the dialect-less one of the same version.
            (
                "migrations/20240104000000000000_id_name.postgres.up.sql",
                true,
                &[],
            ),
            // Autocommit, but two statements in one Exec: an implicit transaction.
            (
                "migrations/20240105000000000000_two.postgres.autocommit.up.sql",
                true,
                &[1, 2],
            ),
        ],
    );
    assert_eq!(linted[4].unit.wrapping, Wrapping::ImplicitMultiStatement);
    assert_eq!(linted[0].unit.wrapping, Wrapping::Tool);
}

#[test]
fn postgres_migrations_wraps_each_file_unless_it_disables_the_transaction() {
    let mut expected: Vec<(&str, bool, &[usize])> = vec![
        ("1_create-users.sql", true, &[2]),
        // `-- postgres-migrations disable-transaction`, one statement.
        ("2_index-email.sql", false, &[]),
        // Disabled, but two statements in one client.query: an implicit transaction.
        ("3-two-indexes.sql", true, &[2, 3]),
    ];
    let noops = [
        "4_noop.sql",
        "5_noop.sql",
        "6_noop.sql",
        "7_noop.sql",
        "8_noop.sql",
        "9_noop.sql",
    ];
    for n in noops {
        expected.push((n, true, &[]));
    }
    // Ids compare as numbers: 10 after 9.
    expected.push(("10_add-name.sql", true, &[]));
    let linted = check(
        "postgres-migrations/migrations",
        Layout::PostgresMigrations,
        &expected,
    );
    assert_eq!(linted[2].unit.wrapping, Wrapping::ImplicitMultiStatement);
    assert_eq!(linted[0].unit.wrapping, Wrapping::Tool);

    // Detected from package.json alone (no file disables the transaction).
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(
        tmp.path().join("package.json"),
        r#"{"dependencies": {"postgres-migrations": "5"}}"#,
    )
    .expect("write");
    let dir = tmp.path().join("migrations");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("1_init.sql"), "SELECT 1;\n").expect("write");
    assert_eq!(
        detected(&dir, &discovered(&dir)),
        Layout::PostgresMigrations
    );
    fs::remove_file(tmp.path().join("package.json")).expect("rm");
    assert_eq!(detected(&dir, &discovered(&dir)), Layout::Plain);
}

#[test]
fn sqitch_runs_the_deploy_scripts_of_the_plan_in_plan_order_with_psql() {
    check(
        "sqitch",
        Layout::Sqitch,
        &[
            ("deploy/appschema.sql", false, &[]),
            // `users` is reworked after @v1.0: its first version is users@v1.0.sql.
            ("deploy/users@v1.0.sql", false, &[]),
            ("deploy/users_email_idx.sql", false, &[]),
            // Inside the script's own BEGIN ... COMMIT.
            ("deploy/users.sql", false, &[6]),
        ],
    );
    // revert/, verify/ and deploy/not_in_plan.sql are not run; the `deploy` folder itself
    // is recognised too.
    let deploy = fixture("sqitch/deploy");
    assert_eq!(detected(&deploy, &discovered(&deploy)), Layout::Sqitch);
    let only_deploy: Vec<String> = select(Layout::Sqitch, discovered(&deploy))
        .iter()
        .map(|f| rel(&deploy, &f.path))
        .collect();
    assert_eq!(
        only_deploy,
        [
            "appschema.sql",
            "users@v1.0.sql",
            "users_email_idx.sql",
            "users.sql"
        ]
    );
}

#[test]
fn a_schema_dump_is_one_psql_script_without_a_transaction() {
    let linted = check(
        "schema-dump/db",
        Layout::SchemaDump,
        &[("structure.sql", false, &[])],
    );
    assert_eq!(linted[0].unit.wrapping, Wrapping::None);
    assert_eq!(linted[0].unit.range.len(), linted[0].masked.len());
    // A pg_dump file under any name is a dump too; a dump among migrations is not.
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(
        tmp.path().join("schema.sql"),
        "--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (a int);\n",
    )
    .expect("write");
    assert_eq!(
        detected(tmp.path(), &discovered(tmp.path())),
        Layout::SchemaDump
    );
    fs::write(tmp.path().join("1_more.sql"), "SELECT 1;\n").expect("write");
    assert_eq!(detected(tmp.path(), &discovered(tmp.path())), Layout::Plain);
}

#[test]
fn sourcegraph_orders_by_parents_and_runs_in_a_transaction_unless_create_index_concurrently() {
    let linted = check(
        "sourcegraph/migrations/frontend",
        Layout::Sourcegraph,
        &[
            ("1000000000/up.sql", true, &[]),
            ("1000000005/up.sql", true, &[]),
            // Its parent is 1000000005: it runs after it despite the lower version.
            // createIndexConcurrently: true → no transaction.
            ("1000000003/up.sql", false, &[]),
            // CONCURRENTLY without the flag: in the migrator's transaction.
            ("1000000004/up.sql", true, &[1]),
        ],
    );
    // The migrator strips the file's outermost BEGIN; / COMMIT; and opens its own.
    let first = &linted[0];
    assert!(!first.masked.contains("BEGIN") && !first.masked.contains("COMMIT"));
    assert!(first.masked.contains("CREATE TABLE repo"));
    assert_eq!(first.unit.wrapping, Wrapping::Tool);
    // Detected from the schema directory's parent too (all schemas, each in its order).
    let root = fixture("sourcegraph");
    assert_eq!(detected(&root, &discovered(&root)), Layout::Sourcegraph);
}

#[test]
fn liquibase_runs_changeset_by_changeset_in_master_changelog_order() {
    let linted = check(
        "liquibase",
        Layout::Liquibase,
        &[
            // The master changelog includes b_ before a_.
            ("db/changes/b_create_users.sql", true, &[]),
            // Its own transaction: CONCURRENTLY fails there.
            ("db/changes/b_create_users.sql", true, &[8]),
            // runInTransaction:false.
            ("db/changes/a_index_users.sql", false, &[]),
            // bob:4 is dbms:oracle and does not run; bob:5 is one JDBC execute of two
            // statements (splitStatements:false): an implicit transaction.
            ("db/changes/a_index_users.sql", true, &[7, 8]),
            // includeAll later/; the ignoreLines block cuts carol:6 in two.
            ("db/later/c_more.sql", true, &[]),
            ("db/later/c_more.sql", true, &[]),
            // Not included by the master changelog: after the files it includes.
            ("db/orphan.sql", true, &[]),
        ],
    );
    // The header before the first changeset and the oracle changeset are not linted.
    assert!(!linted[0].masked.contains("formatted"));
    assert!(linted.iter().all(|l| !l.masked.contains("ONLINE")));
    assert!(linted
        .iter()
        .all(|l| !l.masked.contains("users_ignored_idx")));
    assert_eq!(linted[3].unit.wrapping, Wrapping::ImplicitMultiStatement);
    assert_eq!(linted[2].unit.wrapping, Wrapping::None);
}

#[test]
fn liquibase_without_a_master_changelog_is_alphabetical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        (
            "b.sql",
            "--liquibase formatted sql\n--changeset a:1\nSELECT 1;\n",
        ),
        (
            "a.sql",
            "--liquibase formatted sql\n--changeset a:2\nSELECT 2;\n",
        ),
        (
            "sub/0.sql",
            "--liquibase formatted sql\n--changeset a:3\nSELECT 3;\n",
        ),
    ] {
        write(&tmp.path().join(name), text);
    }
    let files = discovered(tmp.path());
    assert_eq!(detected(tmp.path(), &files), Layout::Liquibase);
    let order: Vec<String> = select(Layout::Liquibase, files)
        .iter()
        .map(|f| rel(tmp.path(), &f.path))
        .collect();
    assert_eq!(order, ["a.sql", "b.sql", "sub/0.sql"]);
}

#[test]
fn every_layout_has_a_fixture_that_detects_as_it() {
    let fixtures = [
        ("plain-numbered", Layout::Plain),
        ("flyway", Layout::Flyway),
        ("golang-migrate", Layout::GolangMigrate),
        ("sqlx", Layout::Sqlx),
        ("dbmate", Layout::Dbmate),
        ("diesel", Layout::Diesel),
        ("prisma", Layout::Prisma),
        ("alembic", Layout::Alembic),
        ("goose", Layout::Goose),
        ("pop", Layout::Pop),
        ("postgres-migrations/migrations", Layout::PostgresMigrations),
        ("sqitch", Layout::Sqitch),
        ("schema-dump/db", Layout::SchemaDump),
        ("sourcegraph/migrations/frontend", Layout::Sourcegraph),
        ("liquibase", Layout::Liquibase),
    ];
    for layout in Layout::ALL {
        let (name, _) = fixtures
            .iter()
            .find(|(_, l)| *l == layout)
            .unwrap_or_else(|| panic!("no fixture for {layout}"));
        let dir = fixture(name);
        assert_eq!(detected(&dir, &discovered(&dir)), layout, "{name}");
    }
}

#[test]
fn layout_override_names_parse() {
    assert_eq!(Layout::parse("golang-migrate"), Some(Layout::GolangMigrate));
    assert_eq!(Layout::parse("DBMATE"), Some(Layout::Dbmate));
    assert_eq!(Layout::parse("django"), None);
    assert_eq!(Layout::ALL.len(), 15);
    assert_eq!(Layout::parse("structure.sql"), Some(Layout::SchemaDump));
    assert_eq!(Layout::parse("popx"), Some(Layout::Pop));
}

// --- changed_since -------------------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=pgdiplomat",
            "-c",
            "user.email=pgdiplomat@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

#[test]
fn changed_since_lists_committed_uncommitted_and_untracked_files_but_not_deleted_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonicalize");
    git(&root, &["init", "-q"]);
    write(&root.join("migrations/1_a.sql"), "SELECT 1;\n");
    write(&root.join("migrations/2_b.sql"), "SELECT 2;\n");
    write(&root.join("migrations/9_gone.sql"), "SELECT 9;\n");
    write(&root.join(".gitignore"), "*.log\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    git(&root, &["tag", "base"]);

    // Committed since the ref: a new file, and a deletion (not listed).
    write(&root.join("migrations/3_c.sql"), "SELECT 3;\n");
    fs::remove_file(root.join("migrations/9_gone.sql")).expect("rm");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "more"]);
    // Modified, not committed.
    write(&root.join("migrations/1_a.sql"), "SELECT 11;\n");
    // Staged new file.
    write(&root.join("migrations/4_d.sql"), "SELECT 4;\n");
    git(&root, &["add", "migrations/4_d.sql"]);
    // Untracked, and untracked but ignored.
    write(&root.join("migrations/5_e.sql"), "SELECT 5;\n");
    write(&root.join("migrations/debug.log"), "x\n");

    // Called from a subdirectory: paths are still absolute and complete.
    let changed = changed_since(&root.join("migrations"), "base").expect("changed_since");
    let expected: Vec<PathBuf> = ["1_a.sql", "3_c.sql", "4_d.sql", "5_e.sql"]
        .iter()
        .map(|n| root.join("migrations").join(n))
        .collect();
    assert_eq!(changed, expected);
    assert!(changed.iter().all(|p| p.is_absolute()));

    // Filtering discovered files (relative or absolute spellings) by the list.
    let files = discovered(&root.join("migrations"));
    let kept: Vec<String> = filter_changed(files, &changed)
        .iter()
        .map(|f| rel(&root.join("migrations"), &f.path))
        .collect();
    assert_eq!(kept, ["1_a.sql", "3_c.sql", "4_d.sql", "5_e.sql"]);

    // Nothing changed since HEAD once everything is committed.
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "all"]);
    assert_eq!(
        changed_since(&root, "HEAD").expect("changed_since"),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn changed_since_reports_unknown_refs_and_missing_repositories_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonicalize");
    let not_repo = changed_since(&root, "main").unwrap_err();
    assert!(
        not_repo.contains("not inside a git repository"),
        "{not_repo}"
    );

    git(&root, &["init", "-q"]);
    write(&root.join("a.sql"), "SELECT 1;\n");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "base"]);
    let unknown = changed_since(&root, "no-such-branch").unwrap_err();
    assert!(
        unknown.contains("unknown git ref `no-such-branch`"),
        "{unknown}"
    );
    let option = changed_since(&root, "--output=/tmp/x").unwrap_err();
    assert!(option.contains("not a git ref"), "{option}");
}
