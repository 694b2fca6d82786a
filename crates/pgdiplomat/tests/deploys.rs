//! Directory mode as production runs it: each migration file is a deploy onto a database where
//! the tables of earlier files exist with data (fixture `tests/fixtures/deploys/`), unless
//! `--assume-fresh-database`; `start-after` and `--changed-since` choose what is reported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deploys")
}

fn lint(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .arg("lint")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `(file name, line, rule)` of every finding of a gcc-format run.
fn findings(out: &str) -> BTreeSet<(String, u32, String)> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(5, ':');
            let file = parts.next()?.rsplit('/').next()?.to_string();
            let line = parts.next()?.parse().ok()?;
            let _col = parts.next()?;
            let _severity = parts.next()?;
            let rule = parts.next()?.trim().split(':').next()?.to_string();
            Some((file, line, rule))
        })
        .collect()
}

fn has(set: &BTreeSet<(String, u32, String)>, file: &str, line: u32, rule: &str) -> bool {
    set.contains(&(file.to_string(), line, rule.to_string()))
}

#[test]
fn a_table_from_an_earlier_file_is_an_existing_table_with_data() {
    let (code, out, err) = lint(&fixture(), &["--no-config", "--format", "gcc", "."]);
    assert_eq!(code, 1, "{out}{err}");
    let got = findings(&out);
    // 002 indexes `person`, created by 001: that blocks writes in production.
    assert!(
        has(
            &got,
            "002_person_trigram.sql",
            2,
            "require-concurrent-index-creation"
        ),
        "{out}"
    );
    // 004 indexes `audit`, created by the previous deploy (003).
    assert!(
        has(
            &got,
            "004_audit_index.sql",
            2,
            "require-concurrent-index-creation"
        ),
        "{out}"
    );
    // 003 indexes `audit` in the file that creates it: new and empty, nobody is blocked.
    assert!(
        !got.iter()
            .any(|(f, _, r)| f == "003_audit.sql" && r == "require-concurrent-index-creation"),
        "{out}"
    );
    // What 001 says about `person` is still known: varchar(50) -> varchar(100) does not
    // rewrite, so no may-rewrite warning as a file linted alone gets.
    assert!(
        !has(
            &got,
            "002_person_trigram.sql",
            4,
            "alter-column-type-rewrites-table"
        ),
        "{out}"
    );
    let (_, alone, _) = lint(
        &fixture(),
        &["--no-config", "--format", "gcc", "002_person_trigram.sql"],
    );
    assert!(
        has(
            &findings(&alone),
            "002_person_trigram.sql",
            4,
            "alter-column-type-rewrites-table"
        ),
        "{alone}"
    );
}

#[test]
fn directory_mode_finds_what_each_file_alone_finds_on_tables_of_earlier_files() {
    let (_, dir_out, _) = lint(&fixture(), &["--no-config", "--format", "gcc", "."]);
    let in_dir = findings(&dir_out);
    for name in ["002_person_trigram.sql", "004_audit_index.sql"] {
        let (_, out, _) = lint(&fixture(), &["--no-config", "--format", "gcc", name]);
        for f in findings(&out) {
            // Only the may-rewrite warning, which the earlier file's column type settles.
            if f.2 == "alter-column-type-rewrites-table" {
                continue;
            }
            assert!(
                in_dir.contains(&f),
                "{f:?} found alone but not in the directory:\n{dir_out}"
            );
        }
    }
}

#[test]
fn assume_fresh_database_keeps_every_created_table_new() {
    let (_, out, err) = lint(
        &fixture(),
        &[
            "--no-config",
            "--format",
            "gcc",
            "--assume-fresh-database",
            ".",
        ],
    );
    let got = findings(&out);
    assert!(
        !got.iter()
            .any(|(_, _, r)| r == "require-concurrent-index-creation"),
        "{out}{err}"
    );
}

#[test]
fn start_after_reads_the_baseline_for_the_schema_but_reports_only_later_files() {
    let (code, out, err) = lint(
        &fixture(),
        &[
            "--no-config",
            "--format",
            "gcc",
            "--start-after",
            "002",
            ".",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let got = findings(&out);
    assert!(got.iter().all(|(f, _, _)| f >= &"003".to_string()), "{out}");
    assert!(
        has(
            &got,
            "004_audit_index.sql",
            2,
            "require-concurrent-index-creation"
        ),
        "{out}"
    );
    // Human output says what was read and not reported.
    let (_, _, err) = lint(&fixture(), &["--no-config", "--start-after", "002", "."]);
    assert!(
        err.contains("2 earlier migration files read for the schema, not reported"),
        "{err}"
    );
    // A baseline that names no file is an error, not a silent full run.
    let (code, out, err) = lint(&fixture(), &["--no-config", "--start-after", "0099", "."]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("start-after `0099` names no migration file"),
        "{err}"
    );
}

#[test]
fn start_after_and_fresh_database_are_read_from_pgdiplomat_toml() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, migrations.join(p.file_name().unwrap())).unwrap();
    }
    let config = dir.path().join("pgdiplomat.toml");
    std::fs::write(&config, "start-after = \"003_audit.sql\"\n").unwrap();
    let (_, out, err) = lint(dir.path(), &["--format", "gcc", "migrations"]);
    let got = findings(&out);
    assert!(
        got.iter().all(|(f, _, _)| f == "004_audit_index.sql") && !got.is_empty(),
        "{out}{err}"
    );
    std::fs::write(&config, "assume-fresh-database = true\n").unwrap();
    let (_, out, err) = lint(dir.path(), &["--format", "gcc", "migrations"]);
    assert!(
        !findings(&out)
            .iter()
            .any(|(_, _, r)| r == "require-concurrent-index-creation"),
        "{out}{err}"
    );
}

#[test]
fn changed_files_are_one_deploy_and_unchanged_ones_still_inform_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .current_dir(dir.path())
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    git(&["init", "-q"]);
    let m = dir.path().join("migrations");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("0001_old.sql"), "CREATE TABLE t (v varchar(50));\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "old"]);
    git(&["tag", "base"]);
    // The branch: a new table in one file, its index in the next (same deploy: still new),
    // and a type change on the old table that only 0001 tells is binary coercible.
    std::fs::write(m.join("0002_new.sql"), "CREATE TABLE n (a int);\n").unwrap();
    std::fs::write(
        m.join("0003_new_index.sql"),
        "CREATE INDEX n_a_idx ON n (a);\nALTER TABLE t ALTER COLUMN v TYPE varchar(100);\n",
    )
    .unwrap();
    let (_, out, err) = lint(
        dir.path(),
        &[
            "--no-config",
            "--format",
            "gcc",
            "--changed-since",
            "base",
            "migrations",
        ],
    );
    let got = findings(&out);
    assert!(!got.iter().any(|(f, _, _)| f == "0001_old.sql"), "{out}");
    assert!(
        !got.iter()
            .any(|(_, _, r)| r == "require-concurrent-index-creation"),
        "n is created in the same deploy:\n{out}{err}"
    );
    assert!(
        !got.iter()
            .any(|(_, _, r)| r == "alter-column-type-rewrites-table"),
        "0001 says v is varchar(50):\n{out}{err}"
    );
    assert!(
        has(&got, "0003_new_index.sql", 2, "missing-lock-timeout"),
        "{out}{err}"
    );
}
