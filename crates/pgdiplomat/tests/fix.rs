//! `pgdiplomat fix` proven on a real server: for each unsafe migration, the fixed parts leave the
//! same schema as the original — the same `pg_dump --schema-only`, byte for byte — and tracing
//! them shows that no statement holding a lock that blocks reads or writes scans or rewrites a
//! table — every such lock lasts a catalog update.

use std::collections::BTreeSet;

use assert_cmd::Command;
use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::fix::{fix_source, fix_source_with, Fixed};
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_catalog::load_schema;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{find_pg_bin, Cluster, ClusterOptions, PgBinaries};
use pgdiplomat_trace::session::{trace_files, TraceOptions};

const BASE: &str = "
CREATE TABLE users_user (id bigint PRIMARY KEY, email varchar(255), username text);
INSERT INTO users_user SELECT g, 'u' || g || '@example.com', 'u' || g FROM generate_series(1, 5000) g;
CREATE TABLE payments (id bigint PRIMARY KEY, user_id bigint, amount numeric(12,2));
INSERT INTO payments SELECT g, g, g FROM generate_series(1, 5000) g;
CREATE TABLE t2 (id bigint, v int);
INSERT INTO t2 SELECT g, g FROM generate_series(1, 5000) g;
CREATE INDEX users_user_username_idx ON users_user (username);
ALTER TABLE t2 ADD CONSTRAINT t2_v_check CHECK (v > 0);
CREATE TABLE events (id bigint, kind text, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, 'k' || (g % 7), date '2025-01-01' + (g % 700) FROM generate_series(1, 5000) g;
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
    // Constraint options the choreography must carry over.
    ("unique nulls not distinct", "ALTER TABLE users_user ADD CONSTRAINT users_email_key UNIQUE NULLS NOT DISTINCT (email);\n"),
    ("unique include", "ALTER TABLE users_user ADD CONSTRAINT users_email_key UNIQUE (email) INCLUDE (username);\n"),
    ("unique deferrable", "ALTER TABLE users_user ADD CONSTRAINT users_email_key UNIQUE (email) DEFERRABLE INITIALLY DEFERRED;\n"),
    ("unique with fillfactor", "ALTER TABLE users_user ADD CONSTRAINT users_email_key UNIQUE (email) WITH (fillfactor = 70);\n"),
    ("unique, every option", "ALTER TABLE users_user ADD UNIQUE NULLS NOT DISTINCT (email) INCLUDE (username) WITH (fillfactor = 70) DEFERRABLE;\n"),
    ("primary key include", "ALTER TABLE t2 ADD PRIMARY KEY (id) INCLUDE (v);\n"),
    ("primary key with fillfactor, deferrable", "ALTER TABLE t2 ADD CONSTRAINT t2_pk PRIMARY KEY (id) WITH (fillfactor = 80) DEFERRABLE INITIALLY DEFERRED;\n"),
    // Unnamed constraints: the names PostgreSQL would choose, each unique.
    ("two unnamed checks", "ALTER TABLE payments ADD CHECK (amount > 0);\nALTER TABLE payments ADD CHECK (amount < 1000000);\n"),
    ("unnamed checks in one statement", "ALTER TABLE payments ADD CHECK (amount > 0), ADD CHECK (amount > 0 AND user_id > 0), ADD CHECK (user_id > 0 OR amount > 0);\n"),
    ("two unnamed uniques", "ALTER TABLE users_user ADD UNIQUE (email);\nALTER TABLE users_user ADD UNIQUE (email);\n"),
    ("two unnamed foreign keys", "ALTER TABLE payments ADD FOREIGN KEY (user_id) REFERENCES users_user (id);\nALTER TABLE payments ADD FOREIGN KEY (user_id) REFERENCES users_user (id);\n"),
    // ADD COLUMN with a volatile default and a constraint.
    ("volatile default with check", "ALTER TABLE payments ADD COLUMN score float8 DEFAULT random() CHECK (score >= 0);\n"),
    ("volatile default with references", "ALTER TABLE payments ADD COLUMN buyer_id bigint DEFAULT floor(random() * 5000 + 1)::bigint REFERENCES users_user (id);\n"),
    ("volatile default with unique", "ALTER TABLE users_user ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE;\n"),
];

/// Cases fixed with the schema of the database they run on (as `--database-url` gives it).
const DATABASE_CASES: &[(&str, &str)] = &[
    (
        "index on a partitioned table",
        "CREATE INDEX events_kind_idx ON events (kind);\n",
    ),
    (
        "unnamed unique index on a partitioned table",
        "CREATE UNIQUE INDEX ON events (id, at);\n",
    ),
    (
        "an unnamed check whose name the database already uses",
        "ALTER TABLE t2 ADD CHECK (v < 1000000);\n",
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

fn fixed(sql: &str, pg_version: u32) -> Fixed {
    fix_source(
        &SourceFile::new("m.sql", sql),
        AnalysisOptions {
            pg_version,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Fixed with what the database `client` is connected to knows: its tables, partitions,
/// constraints and indexes.
fn fixed_with_database(sql: &str, pg_version: u32, client: &mut Client) -> Fixed {
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version,
        ..Default::default()
    });
    load_schema(client, &mut analyzer.schema).unwrap();
    fix_source_with(&mut analyzer, &SourceFile::new("m.sql", sql)).unwrap()
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

/// `pg_dump --schema-only` of `db`, by the pg_dump of the cluster's own installation. Only the
/// `\restrict` lines differ between two dumps (a random key per run); they are removed.
fn pg_dump(cluster: &Cluster, db: &str) -> String {
    let out = cluster
        .binaries()
        .command("pg_dump")
        .args(["--schema-only", "--no-password", "-h"])
        .arg(cluster.socket_dir())
        .args(["-p", &cluster.port().to_string(), "-U", "postgres", db])
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump {db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first lines where two dumps differ, with a little context.
fn dump_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let first = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = first.saturating_sub(3);
    format!(
        "  original:\n    {}\n  fixed:\n    {}",
        a[from..(first + 8).min(a.len())].join("\n    "),
        b[from..(first + 8).min(b.len())].join("\n    ")
    )
}

/// Runs `sql` as written in one database and its fix in another (both copies of `base`), and
/// reports what differs: a failing statement, a blocking lock held during a scan or rewrite, a
/// different schema or a different `pg_dump --schema-only`.
fn check_case(
    cluster: &Cluster,
    n: usize,
    name: &str,
    sql: &str,
    with_database: bool,
    problems: &mut Vec<String>,
) {
    let major = cluster.version().major;
    let mut admin = cluster.connect().unwrap();
    let (a, b) = (format!("orig_{n}"), format!("fixed_{n}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {a} TEMPLATE base"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {b} TEMPLATE base"))
        .unwrap();
    let mut client = cluster.connect_db(&b).unwrap();
    let f = if with_database {
        fixed_with_database(sql, major, &mut client)
    } else {
        fixed(sql, major)
    };
    if !f.changed() {
        problems.push(format!("{name}: nothing was fixed"));
    }
    // The original, as written.
    let mut orig = cluster.connect_db(&a).unwrap();
    orig.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{name}: the original fails: {e}"));
    // The fixed parts, traced: a part outside a transaction runs in autocommit, as apply runs it.
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
        if let Some(e) = &file.error {
            problems.push(format!("{name}: {e}"));
        }
        for s in &file.statements {
            if s.status == "error" {
                problems.push(format!(
                    "{name}: `{}` failed: {}\n{}",
                    s.sql,
                    s.message.clone().unwrap_or_default(),
                    f.render()
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
    drop((orig, client, monitor));
    let (da, db) = (pg_dump(cluster, &a), pg_dump(cluster, &b));
    if da != db {
        problems.push(format!(
            "{name}: pg_dump --schema-only differs\n{}\n{}",
            dump_diff(&da, &db),
            f.render()
        ));
    }
}

#[test]
fn every_fixed_migration_leaves_the_same_pg_dump_and_no_blocking_lock_outlasts_a_catalog_update() {
    // The installation the server binary really lives in (PATH may hold only symlinks to the
    // server programs), so that pg_dump is the one of the same installation.
    let found = find_pg_bin().expect("PostgreSQL binaries");
    let real = std::fs::canonicalize(found.program("postgres")).unwrap();
    let binaries = PgBinaries::at(real.parent().unwrap()).unwrap();
    assert!(
        binaries.program("pg_dump").exists(),
        "no pg_dump next to {}",
        real.display()
    );
    let cluster =
        Cluster::start(ClusterOptions::default().binaries(binaries)).expect("start PostgreSQL");
    let mut admin = cluster.connect().unwrap();
    admin.batch_execute("CREATE DATABASE base").unwrap();
    cluster
        .connect_db("base")
        .unwrap()
        .batch_execute(BASE)
        .unwrap();
    // The check can fail: BASE itself differs from an empty database.
    admin.batch_execute("CREATE DATABASE empty").unwrap();
    assert_ne!(pg_dump(&cluster, "base"), pg_dump(&cluster, "empty"));
    let filter = std::env::var("PGDIPLOMAT_FIX_CASE").unwrap_or_default();
    let mut problems = Vec::new();
    let all = CASES
        .iter()
        .map(|c| (c, false))
        .chain(DATABASE_CASES.iter().map(|c| (c, true)));
    for (n, ((name, sql), with_database)) in all.enumerate() {
        if name.contains(filter.as_str()) {
            check_case(&cluster, n, name, sql, with_database, &mut problems);
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
