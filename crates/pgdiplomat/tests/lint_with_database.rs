//! `lint --database-url`: the existing schema makes findings exact.

use assert_cmd::Command;
use pgdiplomat_pg::{Cluster, ClusterOptions};

fn lint(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .args(["lint", "--no-config", "--format", "gcc"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_live_schema_turns_assumptions_into_facts() {
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(
        "CREATE TABLE users_user (id bigint PRIMARY KEY, email varchar(50), age int,
             CONSTRAINT users_user_email_nn CHECK (email IS NOT NULL));",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0002.sql"),
        "SET lock_timeout = '2s';\n\
         ALTER TABLE users_user ALTER COLUMN email TYPE text;\n\
         ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;\n\
         ALTER TABLE users_user ALTER COLUMN age TYPE bigint;\n",
    )
    .unwrap();
    // Without the database: the old type of email is unknown (a warning) and SET NOT NULL is
    // assumed to scan.
    let (_, blind) = lint(dir.path(), &["0002.sql"]);
    assert!(
        blind.contains("0002.sql:2:1: warning: alter-column-type-rewrites-table"),
        "{blind}"
    );
    assert!(
        blind.contains("0002.sql:3:1: error: set-not-null-scans-table"),
        "{blind}"
    );
    // With it: varchar(50) → text is binary coercible, the validated CHECK proves NOT NULL;
    // int → bigint still rewrites, now as a certain error.
    let (code, seen) = lint(
        dir.path(),
        &["--database-url", &cluster.url("postgres"), "0002.sql"],
    );
    assert_eq!(code, 1, "{seen}");
    assert!(!seen.contains("0002.sql:2:1"), "{seen}");
    assert!(!seen.contains("0002.sql:3:1"), "{seen}");
    assert!(
        seen.contains("0002.sql:4:1: error: alter-column-type-rewrites-table"),
        "{seen}"
    );
    // A wrong URL is a usage error that names the target, not the password.
    let (code, err) = lint(
        dir.path(),
        &[
            "--database-url",
            "postgres://u:secret-pw@127.0.0.1:1/db",
            "0002.sql",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read the schema") && !err.contains("secret-pw"),
        "{err}"
    );
}

/// `explain --database-url`: the live schema graph names the relations a statement reaches
/// (the DEFAULT partition ATTACH scans, the indexes a binary-coercible type change re-creates,
/// what TRUNCATE ... CASCADE empties); without it explain says what it cannot know.
#[test]
fn explain_with_the_database_names_the_relations_the_schema_graph_decides() {
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(
        "CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
         CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE TABLE events_other PARTITION OF events DEFAULT;
         CREATE TABLE events_2027 (id int, at date NOT NULL);
         CREATE TABLE users_user (id int PRIMARY KEY, email varchar(50));
         CREATE INDEX users_user_email_idx ON users_user (email);
         CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users_user (id));",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0003.sql"),
        "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');\n\
         ALTER TABLE users_user ALTER COLUMN email TYPE varchar(80);\n\
         TRUNCATE users_user CASCADE;\n",
    )
    .unwrap();
    let explain = |args: &[&str]| {
        let out = Command::cargo_bin("pgdiplomat")
            .unwrap()
            .current_dir(dir.path())
            .args(["explain", "--no-config"])
            .args(args)
            .arg("0003.sql")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (_, blind) = explain(&[]);
    assert!(
        blind.contains("the DEFAULT partition of events, if any"),
        "{blind}"
    );
    assert!(
        blind.contains("the current type of email is unknown"),
        "{blind}"
    );
    assert!(blind.contains("any dependents of users_user"), "{blind}");
    let (code, seen) = explain(&["--database-url", &cluster.url("postgres")]);
    assert_eq!(code, Some(0), "{seen}");
    assert!(!seen.contains("if any"), "{seen}");
    assert!(
        !seen.contains("not known without the database schema"),
        "{seen}"
    );
    for relation in ["events_other", "users_user_email_idx", "orders"] {
        assert!(seen.contains(relation), "{relation} missing:\n{seen}");
    }
    assert!(seen.contains("binary coercible"), "{seen}");
    // A database that cannot be reached is a usage error that names no password.
    let (code, _) = explain(&["--database-url", "postgres://app:s3cret@127.0.0.1:1/nope"]);
    assert_eq!(code, Some(2));
}
