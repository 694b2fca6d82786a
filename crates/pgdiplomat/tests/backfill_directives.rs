//! A broken `pgdiplomat:backfill` directive never becomes one whole-table UPDATE: lint reports
//! it as an error, and `apply` refuses the migration before running anything (real server).

use std::path::Path;

use assert_cmd::cargo::CommandCargoExt;
use pgdiplomat_pg::{Cluster, ClusterOptions};

/// Directives a user could mean as a backfill, each broken in its own way.
const BROKEN: &[(&str, &str)] = &[
    ("misspelled name", "-- pgdiplomat:backfil batch=500"),
    ("space instead of colon", "-- pgdiplomat backfill batch=500"),
    ("zero batch", "-- pgdiplomat:backfill batch=0"),
    ("unit suffix", "-- pgdiplomat:backfill batch=1k"),
    (
        "batch beyond bigint",
        "-- pgdiplomat:backfill batch=9223372036854775808",
    ),
    (
        "unknown option",
        "-- pgdiplomat:backfill batch=500 pasue=10ms",
    ),
];

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn broken_backfill_directives_are_lint_errors_and_apply_refuses_them() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(
        "CREATE TABLE counters (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0);
         INSERT INTO counters (id) SELECT g FROM generate_series(1, 2000) g;",
    )
    .unwrap();
    let url = cluster.url("postgres");
    for (what, directive) in BROKEN {
        let dir = tempfile::tempdir().unwrap();
        let sql = format!("{directive}\nUPDATE counters SET n = n + 1;\n");
        std::fs::write(dir.path().join("0001_backfill.sql"), &sql).unwrap();

        let (code, out) = run(
            dir.path(),
            &[
                "lint",
                "--no-config",
                "--format",
                "compact",
                "0001_backfill.sql",
            ],
        );
        assert_eq!(code, 1, "{what}: lint must fail\n{out}");
        assert!(
            out.lines()
                .any(|l| l.contains("error") && l.contains("invalid-directive")),
            "{what}: an invalid-directive error expected\n{out}"
        );

        let (code, out) = run(
            dir.path(),
            &["apply", "--database-url", &url, "0001_backfill.sql"],
        );
        assert_ne!(code, 0, "{what}: apply must refuse\n{out}");
        assert!(
            out.contains("refusing to run the UPDATE unbatched"),
            "{what}: {out}"
        );
        assert!(
            out.contains("0001_backfill.sql:1:"),
            "{what}: position\n{out}"
        );
        let updated: i64 = c
            .query_one("SELECT count(*) FROM counters WHERE n <> 0", &[])
            .unwrap()
            .get(0);
        assert_eq!(updated, 0, "{what}: apply ran the UPDATE");
    }

    // The well-formed directive still runs in batches (the contrast that makes the above mean
    // something).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_backfill.sql"),
        "-- pgdiplomat:backfill batch=500\nUPDATE counters SET n = n + 1;\n",
    )
    .unwrap();
    let (code, out) = run(
        dir.path(),
        &["apply", "--database-url", &url, "0001_backfill.sql"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("backfill done, 2000 rows updated"), "{out}");
}
