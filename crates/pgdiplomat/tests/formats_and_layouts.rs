//! The CI-facing output formats and the migration-tool layouts, through the CLI.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lint(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .args(["lint", "--no-config"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sarif_output_names_the_rule_and_location_and_keeps_the_exit_status() {
    let (code, out, err) = lint(&repo(), &["--format", "sarif", "examples/seed/naive.sql"]);
    assert_eq!(code, 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "unique-constraint-builds-index")
        .unwrap();
    let loc = &r["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "examples/seed/naive.sql");
    assert_eq!(loc["region"]["startLine"], 5);
}

#[test]
fn gcc_and_github_formats_are_one_line_per_finding() {
    let (code, out, _) = lint(&repo(), &["--format", "gcc", "examples/seed/naive.sql"]);
    assert_eq!(code, 1);
    assert!(
        out.lines().any(|l| l.starts_with(
            "examples/seed/naive.sql:5:1: error: unique-constraint-builds-index: ADD UNIQUE"
        )),
        "{out}"
    );
    let (_, out, _) = lint(&repo(), &["--format", "github", "examples/seed/naive.sql"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("::error file=examples/seed/naive.sql,line=5,col=1,")),
        "{out}"
    );
    let (_, out, _) = lint(
        &repo(),
        &["--format", "markdown", "examples/seed/naive.sql"],
    );
    assert!(out.contains("unique-constraint-builds-index"), "{out}");
}

#[test]
fn a_dbmate_directory_is_detected_and_only_its_up_sections_are_linted() {
    let fixtures = repo().join("crates/pgdiplomat-analysis/tests/fixtures/layouts");
    let (_, detected, _) = lint(&fixtures, &["--format", "json", "dbmate"]);
    let (_, forced_plain, _) = lint(
        &fixtures,
        &["--format", "json", "--layout", "plain", "dbmate"],
    );
    let d: serde_json::Value = serde_json::from_str(&detected).unwrap();
    let p: serde_json::Value = serde_json::from_str(&forced_plain).unwrap();
    // As plain SQL the down sections are linted too (and files are not wrapped in transactions),
    // so the results differ from the dbmate reading.
    assert_ne!(
        d["files"], p["files"],
        "--layout must change how the directory is read"
    );
    let (code, _, err) = lint(&fixtures, &["--layout", "nope", "dbmate"]);
    assert_eq!(code, 2);
    assert!(err.contains("dbmate"), "{err}");
}

#[test]
fn changed_since_lints_only_files_changed_after_the_ref() {
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
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(
        dir.path().join("migrations/0001_old.sql"),
        "CREATE INDEX old_idx ON t (a);\n",
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "old"]);
    git(&["tag", "base"]);
    std::fs::write(
        dir.path().join("migrations/0002_new.sql"),
        "CREATE INDEX new_idx ON t (b);\n",
    )
    .unwrap();
    let (code, out, err) = lint(
        dir.path(),
        &["--format", "gcc", "--changed-since", "base", "migrations"],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("0002_new.sql"), "{out}");
    assert!(!out.contains("0001_old.sql"), "{out}");
    let (code, _, err) = lint(
        dir.path(),
        &["--changed-since", "no-such-ref", "migrations"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no-such-ref"), "{err}");
}
