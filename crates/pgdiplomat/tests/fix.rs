//! `pgdiplomat fix` proven on a real server: for each unsafe migration, the fixed parts leave the
//! same schema as the original, and tracing them shows that no statement holding a lock that
//! blocks reads or writes scans or rewrites a table — every such lock lasts a catalog update.

use std::collections::BTreeSet;

use assert_cmd::Command;
use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::fix::{fix_source, Fixed};
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{Cluster, ClusterOptions};
use pgdiplomat_trace::session::{trace_files, TraceOptions};

const BASE: &str = "
CREATE TABLE users_user (id bigint PRIMARY KEY, email varchar(255), username text);
INSERT INTO users_user SELECT g, 'u' || g || '@example.com', 'u' || g FROM generate_series(1, 5000) g;
CREATE TABLE payments (id bigint PRIMARY KEY, user_id bigint, amount numeric(12,2));
INSERT INTO payments SELECT g, g, g FROM generate_series(1, 5000) g;
CREATE TABLE t2 (id bigint, v int);
INSERT INTO t2 SELECT g, g FROM generate_series(1, 5000) g;
CREATE INDEX users_user_username_idx ON users_user (username);
ANALYZE;
";

/// The unsafe migrations, one per transform.
const CASES: &[(&str, &str)] = &[
    ("seed", "BEGIN;\nALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE (email);\nCOMMIT;\n"),
    ("create index", "CREATE INDEX users_email_idx ON users_user (email);\n"),
    ("drop index", "DROP INDEX users_user_username_idx;\n"),
    ("foreign key", "ALTER TABLE payments ADD CONSTRAINT payments_user_fk FOREIGN KEY (user_id) REFERENCES users_user (id);\n"),
    ("check", "ALTER TABLE payments ADD CHECK (amount > 0);\n"),
    ("set not null", "ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;\n"),
    ("volatile default", "ALTER TABLE users_user ADD COLUMN api_key uuid NOT NULL DEFAULT gen_random_uuid();\n"),
    ("primary key", "ALTER TABLE t2 ADD PRIMARY KEY (id);\n"),
    (
        "a mix",
        "SET lock_timeout = '5s';\nALTER TABLE users_user ADD COLUMN nick text;\nCREATE INDEX users_nick_idx ON users_user (nick);\nALTER TABLE users_user ADD CONSTRAINT users_nick_len CHECK (length(nick) < 100);\n",
    ),
];

/// Columns, constraints (with validity) and indexes (with validity) of the user tables.
fn schema(c: &mut Client) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in c
        .query(
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' null=' || is_nullable || ' default=' || coalesce(column_default, '')
               FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
    {
        out.insert(format!("column {}", r.get::<_, String>(0)));
    }
    for r in c
        .query(
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
            &[],
        )
        .unwrap()
    {
        out.insert(format!("constraint {}", r.get::<_, String>(0)));
    }
    for r in c
        .query(
            "SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace",
            &[],
        )
        .unwrap()
    {
        out.insert(format!("index {}", r.get::<_, String>(0)));
    }
    out
}

fn fixed(sql: &str) -> Fixed {
    fix_source(&SourceFile::new("m.sql", sql), AnalysisOptions::default()).unwrap()
}

/// The parts as files a migration runner would run: a transactional part inside BEGIN/COMMIT.
fn part_files(f: &Fixed) -> Vec<SourceFile> {
    f.parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = if p.in_transaction {
                format!("BEGIN;\n{}\nCOMMIT;\n", p.sql())
            } else {
                p.sql()
            };
            SourceFile::new(format!("part{}.sql", i + 1), text)
        })
        .collect()
}

#[test]
fn every_fixed_migration_leaves_the_same_schema_and_no_blocking_lock_outlasts_a_catalog_update() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let mut admin = cluster.connect().unwrap();
    admin.batch_execute("CREATE DATABASE base").unwrap();
    cluster
        .connect_db("base")
        .unwrap()
        .batch_execute(BASE)
        .unwrap();
    let major = cluster.version().major;
    let mut problems = Vec::new();
    for (n, (name, sql)) in CASES.iter().enumerate() {
        let f = fixed(sql);
        assert!(f.changed(), "{name}: nothing was fixed");
        // The original, as written.
        let (a, b) = (format!("orig_{n}"), format!("fixed_{n}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {a} TEMPLATE base"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {b} TEMPLATE base"))
            .unwrap();
        let mut orig = cluster.connect_db(&a).unwrap();
        orig.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{name}: the original fails: {e}"));
        // The fixed parts, traced.
        let mut client = cluster.connect_db(&b).unwrap();
        let mut monitor = cluster.connect_db(&b).unwrap();
        let traces = trace_files(
            &mut client,
            &mut monitor,
            &part_files(&f),
            TraceOptions {
                rollback: false,
                seed_rows: None,
                server_major: major,
                negotiate: None,
            },
        )
        .unwrap();
        for file in &traces {
            for s in &file.statements {
                if s.status == "error" {
                    problems.push(format!(
                        "{name}: `{}` failed: {}",
                        s.sql,
                        s.message.clone().unwrap_or_default()
                    ));
                }
                let blocking: Vec<&str> = s
                    .locks
                    .iter()
                    .filter(|l| {
                        matches!(
                            l.mode.as_str(),
                            "SHARE" | "SHARE ROW EXCLUSIVE" | "EXCLUSIVE" | "ACCESS EXCLUSIVE"
                        )
                    })
                    .map(|l| l.relation.as_str())
                    .collect();
                let slow = s
                    .scanned
                    .iter()
                    .any(|(t, rows)| *rows > 0 && blocking.contains(&t.as_str()))
                    || s.rewritten.iter().any(|r| blocking.contains(&r.as_str()));
                if slow {
                    problems.push(format!(
                        "{name}: `{}` holds {:?} while it scans {:?} / rewrites {:?}",
                        s.sql,
                        s.locks
                            .iter()
                            .map(|l| format!("{} on {}", l.mode, l.relation))
                            .collect::<Vec<_>>(),
                        s.scanned,
                        s.rewritten
                    ));
                }
            }
        }
        let (sa, sb) = (schema(&mut orig), schema(&mut client));
        if sa != sb {
            problems.push(format!(
                "{name}: schemas differ\n  only after the original: {:?}\n  only after the fix: {:?}\n{}",
                sa.difference(&sb).collect::<Vec<_>>(),
                sb.difference(&sa).collect::<Vec<_>>(),
                f.render()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_original_naive_migration_does_hold_access_exclusive_while_it_scans() {
    // The contrast that makes the test above meaningful: the same check flags the original.
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(BASE).unwrap();
    let mut monitor = cluster.connect().unwrap();
    let traces = trace_files(
        &mut c,
        &mut monitor,
        &[SourceFile::new("naive.sql", CASES[0].1)],
        TraceOptions {
            rollback: false,
            seed_rows: None,
            server_major: cluster.version().major,
            negotiate: None,
        },
    )
    .unwrap();
    let alter = &traces[0].statements[1];
    assert!(
        alter
            .locks
            .iter()
            .any(|l| l.mode == "ACCESS EXCLUSIVE" && l.relation == "users_user"),
        "{alter:?}"
    );
    assert!(
        alter
            .scanned
            .iter()
            .any(|(t, rows)| t == "users_user" && *rows == 5000),
        "{alter:?}"
    );
}

#[test]
fn fix_write_splits_the_parts_into_files_and_keeps_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("0002_email_unique.sql");
    std::fs::write(&file, CASES[0].1).unwrap();
    let out = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .args(["fix", "--write"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let part1 = std::fs::read_to_string(&file).unwrap();
    let part2 = std::fs::read_to_string(dir.path().join("0002_email_unique_2.sql")).unwrap();
    assert!(
        part1.starts_with("-- pgdiplomat fix: part 1 of 2: must run outside any transaction block"),
        "{part1}"
    );
    assert!(
        part1.contains("CREATE UNIQUE INDEX CONCURRENTLY unq_email_idx ON users_user (email);"),
        "{part1}"
    );
    assert!(
        part2.contains(
            "ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX unq_email_idx;"
        ),
        "{part2}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("0002_email_unique.sql.orig")).unwrap(),
        CASES[0].1
    );
    // The written directory lints clean.
    let lint = Command::cargo_bin("pgdiplomat")
        .unwrap()
        .args(["lint", "--no-config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
}
