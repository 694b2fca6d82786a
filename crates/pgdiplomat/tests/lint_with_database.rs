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
