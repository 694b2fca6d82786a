//! Discovery of migration files in the directory layouts of common migration
//! tools. Fixtures live in `tests/fixtures/layouts/<tool>/`.

use std::fs;
use std::path::{Path, PathBuf};

use pgdiplomat_analysis::discover::{discover, sort_migration_names, DiscoverError, MigrationFile};

fn layout(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/layouts")
        .join(name)
}

/// Discovers `dir` and returns the files relative to it, `/`-separated;
/// fails the test on any error.
fn order_in(dir: &Path) -> Vec<String> {
    discover(&[dir.to_path_buf()])
        .into_iter()
        .map(|result| {
            let file = result.unwrap_or_else(|e| panic!("unexpected error: {e}"));
            rel(dir, &file)
        })
        .collect()
}

fn rel(dir: &Path, file: &MigrationFile) -> String {
    file.path
        .strip_prefix(dir)
        .unwrap_or_else(|_| panic!("{} is not under {}", file.path.display(), dir.display()))
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn touch(path: &Path) {
    fs::create_dir_all(path.parent().expect("has parent")).expect("create dirs");
    fs::write(path, "SELECT 1;\n").expect("write file");
}

#[test]
fn plain_numbered_files_sort_numerically_and_non_sql_files_are_ignored() {
    assert_eq!(
        order_in(&layout("plain-numbered")),
        [
            "1_create_users.sql",
            "2_add_email.sql",
            "10_create_orders.sql",
            "0011_add_index.sql",
        ]
    );
}

#[test]
fn flyway_versions_sort_part_by_part_undo_skipped_repeatables_last_by_description() {
    assert_eq!(
        order_in(&layout("flyway")),
        [
            "V1__init.sql",
            "V1_1__add_email.sql",
            "V1.2__add_name.sql",
            "later/V1_5__nested.sql",
            "V1_10__add_phone.sql",
            "V2__orders.sql",
            "R__functions.sql",
            "R__views.sql",
        ]
    );
}

#[test]
fn golang_migrate_keeps_up_files_in_timestamp_order_and_skips_down_and_undo() {
    assert_eq!(
        order_in(&layout("golang-migrate")),
        [
            "20231231235959_create_users.up.sql",
            "20240101120000_add_email.up.sql",
            "20240115093000_create_orders.up.sql",
        ]
    );
}

#[test]
fn diesel_dated_folders_sort_chronologically_and_only_up_sql_is_taken() {
    assert_eq!(
        order_in(&layout("diesel")),
        [
            "migrations/00000000000000_diesel_initial_setup/up.sql",
            "migrations/2024-01-01-120000_create_users/up.sql",
            "migrations/2024-01-02-090000_add_email/up.sql",
            "migrations/2024-01-10-083000_create_orders/up.sql",
        ]
    );
}

#[test]
fn prisma_timestamped_folders_yield_migration_sql_in_order() {
    assert_eq!(
        order_in(&layout("prisma")),
        [
            "migrations/20231201000000_init/migration.sql",
            "migrations/20240101120000_add_email/migration.sql",
            "migrations/20240115093000_create_orders/migration.sql",
        ]
    );
}

#[test]
fn directory_without_sql_files_is_an_empty_error_naming_the_directory() {
    let dir = layout("no-sql");
    let results = discover(std::slice::from_ref(&dir));
    assert_eq!(results.len(), 1);
    match &results[0] {
        Err(err @ DiscoverError::Empty(path)) => {
            assert_eq!(*path, dir);
            let msg = err.to_string();
            assert!(msg.starts_with(&dir.display().to_string()), "{msg}");
            assert!(msg.contains("no .sql migration files"), "{msg}");
        }
        other => panic!("expected Empty, got {other:?}"),
    }
}

#[test]
fn directory_holding_only_down_migrations_is_empty() {
    let tmp = tempfile::tempdir().expect("tempdir");
    touch(&tmp.path().join("1_init.down.sql"));
    touch(&tmp.path().join("2_x/down.sql"));
    touch(&tmp.path().join("U1__undo.sql"));
    let results = discover(&[tmp.path().to_path_buf()]);
    assert!(
        matches!(results.as_slice(), [Err(DiscoverError::Empty(_))]),
        "{results:?}"
    );
}

#[test]
fn missing_path_reports_not_found_and_later_arguments_are_still_discovered() {
    let missing = layout("does-not-exist");
    let results = discover(&[missing.clone(), layout("golang-migrate")]);
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[0], Err(DiscoverError::NotFound(p)) if *p == missing));
    assert!(results[1..].iter().all(Result::is_ok));
    let msg = results[0].as_ref().expect_err("error").to_string();
    assert!(msg.contains("no such file or directory"), "{msg}");
}

#[test]
fn explicit_file_argument_is_taken_as_is_whatever_its_extension() {
    let readme = layout("plain-numbered").join("README.md");
    let down = layout("golang-migrate").join("20240101120000_add_email.down.sql");
    let results = discover(&[readme.clone(), down.clone()]);
    let paths: Vec<PathBuf> = results
        .into_iter()
        .map(|r| r.expect("file is taken").path)
        .collect();
    assert_eq!(paths, [readme, down]);
}

#[test]
fn results_follow_argument_order_with_each_directory_expanded_in_place() {
    let single = layout("flyway").join("V2__orders.sql");
    let results = discover(&[single.clone(), layout("prisma"), layout("plain-numbered")]);
    let paths: Vec<PathBuf> = results.into_iter().map(|r| r.expect("ok").path).collect();
    assert_eq!(paths.len(), 1 + 3 + 4);
    assert_eq!(paths[0], single);
    assert!(paths[1..4].iter().all(|p| p.starts_with(layout("prisma"))));
    assert!(paths[4..]
        .iter()
        .all(|p| p.starts_with(layout("plain-numbered"))));
}

#[test]
fn display_path_is_relative_like_the_user_typed_it() {
    // Cargo runs integration tests from the package root.
    let typed = PathBuf::from("tests/fixtures/layouts/plain-numbered");
    let results = discover(std::slice::from_ref(&typed));
    let first = results[0].as_ref().expect("ok");
    assert_eq!(first.path, typed.join("1_create_users.sql"));
    assert_eq!(
        first.display,
        typed.join("1_create_users.sql").display().to_string()
    );
    assert!(!first.display.starts_with('/'));
}

#[test]
fn hidden_target_and_node_modules_directories_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    touch(&root.join("1_keep.sql"));
    touch(&root.join("sub/2_keep.sql"));
    touch(&root.join(".git/3_skip.sql"));
    touch(&root.join(".hidden/4_skip.sql"));
    touch(&root.join("target/5_skip.sql"));
    touch(&root.join("node_modules/pkg/6_skip.sql"));
    touch(&root.join(".7_hidden_file.sql"));
    assert_eq!(order_in(root), ["1_keep.sql", "sub/2_keep.sql"]);
}

#[test]
fn explicitly_named_hidden_directory_is_walked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(".migrations");
    touch(&dir.join("1_a.sql"));
    assert_eq!(order_in(&dir), ["1_a.sql"]);
}

#[test]
fn sql_extension_is_matched_case_insensitively() {
    let tmp = tempfile::tempdir().expect("tempdir");
    touch(&tmp.path().join("2_b.SQL"));
    touch(&tmp.path().join("1_a.sql"));
    touch(&tmp.path().join("3_c.sql.bak"));
    assert_eq!(order_in(tmp.path()), ["1_a.sql", "2_b.SQL"]);
}

#[cfg(unix)]
#[test]
fn symlink_loop_does_not_hang_or_duplicate_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    touch(&root.join("a/1_x.sql"));
    std::os::unix::fs::symlink(root, root.join("a/loop")).expect("symlink");
    std::os::unix::fs::symlink(root.join("missing.sql"), root.join("2_dangling.sql"))
        .expect("symlink");
    let results = discover(&[root.to_path_buf()]);
    let ok: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|f| rel(root, f))
        .collect();
    assert_eq!(ok, ["a/1_x.sql"]);
    // The dangling link looks like a migration, so it is reported.
    assert!(results.iter().any(
        |r| matches!(r, Err(DiscoverError::Io { path, .. }) if path.ends_with("2_dangling.sql"))
    ));
}

#[test]
fn sort_migration_names_orders_numeric_prefixes_numerically() {
    let mut names: Vec<PathBuf> = ["10_x.sql", "0001_a.sql", "2_x.sql", "0002_b.sql"]
        .iter()
        .map(PathBuf::from)
        .collect();
    sort_migration_names(&mut names);
    assert_eq!(
        names,
        ["0001_a.sql", "0002_b.sql", "2_x.sql", "10_x.sql"]
            .iter()
            .map(PathBuf::from)
            .collect::<Vec<_>>()
    );
}
