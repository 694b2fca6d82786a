//! `pgdiplomat.toml` discovery, loading and error reporting.

use std::fs;
use std::path::{Path, PathBuf};

use pgdiplomat_analysis::config::{
    find_and_load_config, find_config, load_config, load_config_from_str, ConfigError,
};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("has parent")).expect("create dirs");
    fs::write(path, text).expect("write");
}

#[test]
fn find_config_walks_up_and_the_nearest_file_wins() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join("pgdiplomat.toml"), "");
    write(&root.join("app/pgdiplomat.toml"), "");
    let deep = root.join("app/db/migrations");
    fs::create_dir_all(&deep).expect("mkdir");
    fs::create_dir_all(root.join("other")).expect("mkdir");

    assert_eq!(find_config(&deep), Some(root.join("app/pgdiplomat.toml")));
    assert_eq!(
        find_config(&root.join("other")),
        Some(root.join("pgdiplomat.toml"))
    );
    // The start directory itself is checked first.
    assert_eq!(
        find_config(&root.join("app")),
        Some(root.join("app/pgdiplomat.toml"))
    );
}

#[test]
fn find_config_handles_dot_dot_in_the_start_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(&root.join("pgdiplomat.toml"), "");
    write(&root.join("a/pgdiplomat.toml"), "");
    fs::create_dir_all(root.join("b")).expect("mkdir");
    // `a/../b` is `b`, whose nearest config is the root one, not `a`'s.
    assert_eq!(
        find_config(&root.join("a/../b")),
        Some(root.join("pgdiplomat.toml"))
    );
}

#[test]
fn find_config_ignores_a_directory_named_like_the_config_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let start = tmp.path().join("proj");
    fs::create_dir_all(start.join("pgdiplomat.toml")).expect("mkdir");
    let found = find_config(&start);
    assert!(
        !matches!(&found, Some(p) if p.starts_with(tmp.path())),
        "a directory must not be taken as the config file"
    );
}

#[test]
fn find_and_load_config_without_a_file_gives_defaults_and_no_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let loaded = find_and_load_config(tmp.path()).expect("ok");
    // Only meaningful when no config exists above the temp dir.
    if loaded.path.is_none() {
        assert_eq!(loaded.config, Default::default());
    }
}

#[test]
fn find_and_load_config_loads_the_nearest_file_and_resolves_paths_against_its_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    write(
        &root.join("pgdiplomat.toml"),
        "pg-version = 15\npaths = [\"db/migrations\"]\n",
    );
    fs::create_dir_all(root.join("src/deep")).expect("mkdir");
    let loaded = find_and_load_config(&root.join("src/deep")).expect("ok");
    let path = loaded.path.expect("found a config");
    assert!(path.ends_with("pgdiplomat.toml"));
    assert_eq!(loaded.config.pg_version, Some(15));
    let dir = path.parent().expect("parent");
    assert_eq!(loaded.config.paths, [dir.join("db/migrations")]);
}

#[test]
fn unknown_key_error_names_the_key_lists_valid_keys_and_points_at_it() {
    let path = Path::new("pgdiplomat.toml");
    let err = load_config_from_str("pg-version = 16\nfail_on = \"error\"\n", path)
        .expect_err("unknown key");
    let msg = err.to_string();
    match &err {
        ConfigError::Parse {
            line, col, message, ..
        } => {
            assert_eq!((*line, *col), (2, 1), "{msg}");
            assert!(message.contains("`fail_on`"), "{msg}");
            for valid in [
                "pg-version",
                "fail-on",
                "exclude",
                "include",
                "assume-in-transaction",
                "paths",
            ] {
                assert!(
                    message.contains(&format!("`{valid}`")),
                    "missing {valid}: {msg}"
                );
            }
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    assert!(
        msg.starts_with("pgdiplomat.toml:2:1: error: unknown field `fail_on`"),
        "{msg}"
    );
}

#[test]
fn pg_version_outside_supported_range_is_invalid_and_names_the_range() {
    let path = Path::new("cfg/pgdiplomat.toml");
    for version in [0, 12, 19, 170] {
        let err = load_config_from_str(&format!("pg-version = {version}"), path)
            .expect_err("unsupported");
        assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with("cfg/pgdiplomat.toml: error: "), "{msg}");
        assert!(msg.contains(&version.to_string()), "{msg}");
        assert!(msg.contains("13 to 18"), "{msg}");
    }
    for version in 13..=18 {
        assert!(load_config_from_str(&format!("pg-version = {version}"), path).is_ok());
    }
}

#[test]
fn toml_syntax_error_reports_the_line_and_column_of_the_problem() {
    let text = "pg-version = 16\nexclude = [\"a\",\n  oops]\n";
    let err = load_config_from_str(text, Path::new("x/pgdiplomat.toml")).expect_err("bad toml");
    match &err {
        ConfigError::Parse { line, col, .. } => assert_eq!((*line, *col), (3, 3), "{err}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("x/pgdiplomat.toml:3:3: error: "), "{msg}");
    assert!(!msg.contains('\n'), "diagnostic must be one line: {msg:?}");
}

#[test]
fn type_error_points_at_the_value() {
    let text = "# settings\nfail-on = \"error\"\nassume-in-transaction = \"yes\"\n";
    match load_config_from_str(text, Path::new("pgdiplomat.toml")) {
        Err(ConfigError::Parse { line, col, .. }) => assert_eq!((line, col), (3, 25)),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn load_config_reads_a_file_and_reports_io_errors_with_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("pgdiplomat.toml");
    write(&file, "fail-on = \"never\"\nexclude = [\"x-rule\"]\n");
    let config = load_config(&file).expect("loads");
    assert_eq!(config.fail_on.as_deref(), Some("never"));
    assert_eq!(config.exclude, ["x-rule"]);

    let missing = tmp.path().join("nope/pgdiplomat.toml");
    let err = load_config(&missing).expect_err("missing");
    assert!(matches!(&err, ConfigError::Io { path, .. } if *path == missing));
    assert!(err.to_string().contains("cannot read config file"));
}

#[test]
fn relative_paths_resolve_against_the_config_file_directory() {
    let config = load_config_from_str(
        "paths = [\"migrations\", \"../shared\"]",
        &PathBuf::from("/repo/app/pgdiplomat.toml"),
    )
    .expect("ok");
    assert_eq!(
        config.paths,
        [
            PathBuf::from("/repo/app/migrations"),
            PathBuf::from("/repo/app/../shared")
        ]
    );
}
