//! Snapshots of human-facing output: what users read. A change here is a change of the user
//! interface; review it with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).
//!
//! Commands run with `--no-config --color never` and a fixed working directory (the repository
//! root for `examples/`, this `tests/` directory for `fixtures/`), so the paths in the output
//! are relative and the snapshots stable.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Runs `pgdiplomat ARGS` in `dir`; returns stdout after checking the exit code and that
/// nothing went to stderr.
fn stdout_of(dir: &Path, args: &[&str], expected_code: i32) -> String {
    let out = Command::cargo_bin("pgdiplomat")
        .expect("the pgdiplomat binary is built")
        .env_remove("NO_COLOR")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pgdiplomat");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(
        out.status.code(),
        Some(expected_code),
        "pgdiplomat {args:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
    );
    assert!(stderr.is_empty(), "pgdiplomat {args:?}: stderr:\n{stderr}");
    stdout
}

#[test]
fn lint_naive_seed() {
    let out = stdout_of(
        &repo_root(),
        &[
            "lint",
            "--no-config",
            "--color",
            "never",
            "examples/seed/naive.sql",
        ],
        1,
    );
    insta::assert_snapshot!(out);
}

#[test]
fn lint_safe_seed() {
    let out = stdout_of(
        &repo_root(),
        &[
            "lint",
            "--no-config",
            "--color",
            "never",
            "examples/seed/safe.sql",
        ],
        0,
    );
    insta::assert_snapshot!(out);
}

#[test]
fn lint_example_migrations_directory() {
    let out = stdout_of(
        &repo_root(),
        &[
            "lint",
            "--no-config",
            "--color",
            "never",
            "examples/migrations",
        ],
        1,
    );
    insta::assert_snapshot!(out);
}

/// One unsafe statement per rule (on PostgreSQL 13, so that unsupported-on-version fires too).
#[test]
fn lint_many_rules() {
    let out = stdout_of(
        &tests_dir(),
        &[
            "lint",
            "--no-config",
            "--color",
            "never",
            "--pg-version",
            "13",
            "fixtures/many_rules.sql",
        ],
        1,
    );
    // The fixture is meant to exercise every rule: keep it that way when rules are added.
    for rule in pgdiplomat_analysis::rules::all_rules() {
        assert!(
            out.contains(&format!("[{}]", rule.id())),
            "fixtures/many_rules.sql does not trigger {}",
            rule.id()
        );
    }
    insta::assert_snapshot!(out);
}

/// A typo in the first file; the second file is still linted.
#[test]
fn lint_syntax_error() {
    let out = stdout_of(
        &tests_dir(),
        &[
            "lint",
            "--no-config",
            "--color",
            "never",
            "fixtures/syntax_error",
        ],
        1,
    );
    insta::assert_snapshot!(out);
}

#[test]
fn lint_many_rules_json() {
    let out = stdout_of(
        &tests_dir(),
        &[
            "lint",
            "--no-config",
            "--format",
            "json",
            "--pg-version",
            "13",
            "fixtures/many_rules.sql",
        ],
        1,
    );
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    insta::assert_json_snapshot!(doc);
}

#[test]
fn explain_naive_seed() {
    let out = stdout_of(
        &repo_root(),
        &["explain", "--no-config", "examples/seed/naive.sql"],
        0,
    );
    insta::assert_snapshot!(out);
}

#[test]
fn explain_safe_seed() {
    let out = stdout_of(
        &repo_root(),
        &["explain", "--no-config", "examples/seed/safe.sql"],
        0,
    );
    insta::assert_snapshot!(out);
}

#[test]
fn explain_safe_seed_json() {
    let out = stdout_of(
        &repo_root(),
        &[
            "explain",
            "--no-config",
            "--format",
            "json",
            "examples/seed/safe.sql",
        ],
        0,
    );
    // Snapshot the text as printed (key order and indentation are part of the output).
    serde_json::from_str::<serde_json::Value>(&out).expect("JSON");
    insta::assert_snapshot!(out);
}

#[test]
fn rules_list() {
    let out = stdout_of(&repo_root(), &["rules"], 0);
    insta::assert_snapshot!(out);
}
