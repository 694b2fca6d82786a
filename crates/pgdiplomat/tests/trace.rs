//! `pgdiplomat trace` end to end, on real PostgreSQL servers (the embedded default, and a
//! server started by the test and reached through --database-url).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgdiplomat_pg::{Cluster, ClusterOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const SCHEMA: &str =
    "CREATE TABLE users_user (id bigint PRIMARY KEY, email varchar(255), username text);\n";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn trace(dir: &Path, args: &[&str]) -> Out {
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .arg("trace")
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.sql"), SCHEMA).unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

#[test]
fn the_seed_naive_migration_is_traced_with_its_access_exclusive_lock_and_scan() {
    let r = trace(
        &repo(),
        &["--setup", "/dev/stdin", "examples/seed/naive.sql"],
    );
    // /dev/stdin is empty here: no schema, so the ALTER fails — which must be reported.
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ERROR: 42P01: relation \"users_user\" does not exist"),
        "{}",
        r.stdout
    );

    let dir = project(&[]);
    std::fs::copy(
        repo().join("examples/seed/naive.sql"),
        dir.path().join("naive.sql"),
    )
    .unwrap();
    let r = trace(
        dir.path(),
        &["--setup", "schema.sql", "--seed-rows", "500", "naive.sql"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("seeded users_user with 500 rows"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("ACCESS EXCLUSIVE on unq_email, ACCESS EXCLUSIVE on users_user"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("scanned:   users_user (500 rows)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("model:     agrees (ADD CONSTRAINT ... UNIQUE)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("tracing on a throwaway PostgreSQL"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_concurrent_index_build_runs_outside_a_transaction_and_its_lock_is_sampled() {
    let dir = project(&[]);
    std::fs::copy(
        repo().join("examples/seed/safe.sql"),
        dir.path().join("safe.sql"),
    )
    .unwrap();
    let r = trace(
        dir.path(),
        &[
            "--setup",
            "schema.sql",
            // Enough rows that the build lasts many sampling intervals even on a loaded machine.
            "--seed-rows",
            "100000",
            "--format",
            "json",
            "safe.sql",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let stmts = doc["files"][0]["statements"].as_array().unwrap();
    let cic = &stmts[1];
    assert_eq!(cic["sampled"], true);
    let locks = cic["locks"].as_array().unwrap();
    assert!(
        locks
            .iter()
            .any(|l| l["relation"] == "users_user" && l["mode"] == "SHARE UPDATE EXCLUSIVE"),
        "{locks:?}"
    );
    assert_eq!(cic["created"][0], "users_email_uniq");
    assert!(cic["disagreements"].as_array().unwrap().is_empty(), "{cic}");
    let attach = &stmts[2];
    assert_eq!(attach["status"], "ran");
    assert!(
        attach["dropped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "users_email_uniq"),
        "{attach}"
    );
}

#[test]
fn duplicate_keys_make_the_unique_build_fail_and_the_exit_status_says_so() {
    let dir = project(&[(
        "dupes.sql",
        "INSERT INTO users_user VALUES (1, 'a@x', 'a'), (2, 'a@x', 'b');\nALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);\n",
    )]);
    let r = trace(dir.path(), &["--setup", "schema.sql", "dupes.sql"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ERROR: 23505: could not create unique index \"unq_email\""),
        "{}",
        r.stdout
    );
}

#[test]
fn a_syntax_error_is_reported_with_its_position_and_nothing_runs() {
    let dir = project(&[(
        "bad.sql",
        "SELECT 1;\nALTER TABEL users_user ADD COLUMN x int;\n",
    )]);
    let r = trace(dir.path(), &["--setup", "schema.sql", "bad.sql"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("bad.sql:2:7: syntax error at or near \"TABEL\""),
        "{}",
        r.stdout
    );
}

#[test]
fn markdown_output_is_a_table_per_file() {
    let dir = project(&[(
        "m.sql",
        "SET lock_timeout = '1s';\nALTER TABLE users_user ADD COLUMN nick text;\n",
    )]);
    let r = trace(
        dir.path(),
        &["--setup", "schema.sql", "--format", "markdown", "m.sql"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("| line | statement | locks | rewrote | scanned | time | model |"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("| 2 | `ALTER TABLE users_user ADD COLUMN nick text` | ACCESS EXCLUSIVE on users_user |"), "{}", r.stdout);
}

/// A server of our own, reachable over TCP, for --database-url.
fn server_with_schema() -> Cluster {
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(SCHEMA).unwrap();
    c.batch_execute("INSERT INTO users_user SELECT g, 'u' || g || '@x', 'u' || g FROM generate_series(1, 100) g").unwrap();
    cluster
}

fn has_constraint(cluster: &Cluster, name: &str) -> bool {
    let mut c = cluster.connect().unwrap();
    c.query_one(
        "SELECT count(*) FROM pg_constraint WHERE conname = $1",
        &[&name],
    )
    .unwrap()
    .get::<_, i64>(0)
        == 1
}

#[test]
fn with_a_database_url_changes_are_rolled_back_and_concurrent_statements_skipped() {
    let cluster = server_with_schema();
    let dir = project(&[]);
    std::fs::copy(
        repo().join("examples/seed/naive.sql"),
        dir.path().join("naive.sql"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("examples/seed/safe.sql"),
        dir.path().join("safe.sql"),
    )
    .unwrap();
    let url = cluster.url("postgres");
    let r = trace(
        dir.path(),
        &["--database-url", &url, "naive.sql", "safe.sql"],
    );
    // The skipped concurrent build leaves no index for the USING INDEX step: that failure counts.
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("ERROR: 42704: index \"users_email_uniq\" does not exist"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("skipped: transaction control is replaced"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("skipped: cannot run inside the rolled-back transaction"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ACCESS EXCLUSIVE on users_user"),
        "{}",
        r.stdout
    );
    assert!(
        !has_constraint(&cluster, "unq_email"),
        "the naive migration must have been rolled back"
    );

    let r = trace(
        dir.path(),
        &["--database-url", &url, "--commit", "safe.sql"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        has_constraint(&cluster, "unq_email"),
        "--commit keeps the changes"
    );
}

#[test]
fn a_password_in_the_database_url_is_never_printed() {
    let cluster = server_with_schema();
    let dir = project(&[("m.sql", "SELECT 1;\n")]);
    // Nothing listens on port 1: the connection fails and the error names host and port only.
    let url = "postgres://app:s3cr3t-pw@127.0.0.1:1/appdb";
    let r = trace(dir.path(), &["--database-url", url, "m.sql"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("cannot connect to 127.0.0.1:1/appdb"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("s3cr3t") && !r.stdout.contains("s3cr3t"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    drop(cluster);
}

#[test]
fn failed_statements_come_out_as_compiler_style_lines_and_github_annotations() {
    let dir = project(&[(
        "dupes.sql",
        "INSERT INTO users_user VALUES (1, 'a@x', 'a'), (2, 'a@x', 'b');\nALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);\n",
    )]);
    let r = trace(
        dir.path(),
        &["--setup", "schema.sql", "--format", "gcc", "dupes.sql"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with("dupes.sql:2:1: error: statement-failed: 23505: could not create unique index \"unq_email\""),
        "{}",
        r.stdout
    );
    let r = trace(
        dir.path(),
        &["--setup", "schema.sql", "--format", "github", "dupes.sql"],
    );
    assert!(r.stdout.starts_with("::error file=dupes.sql,line=2,col=1,title=statement-failed::23505: could not create unique index"), "{}", r.stdout);
}
