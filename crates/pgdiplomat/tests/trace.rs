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

/// Issue #9, item 7: on a user's database a statement must not wait unbounded for its lock,
/// and the application must never queue behind the trace for longer than about lock_timeout.
#[test]
fn with_a_database_url_a_blocked_statement_is_skipped_in_bounded_time_and_readers_never_queue() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let cluster = server_with_schema();
    let dir = project(&[("add.sql", "ALTER TABLE users_user ADD COLUMN nick text;\n")]);
    // An idle transaction holding ACCESS SHARE on the table (a report, a forgotten session).
    let mut idle = cluster.connect().unwrap();
    idle.batch_execute("BEGIN; SELECT count(*) FROM users_user")
        .unwrap();
    let idle_pid: i32 = idle
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // The application: short reads of the table, each one timed.
    let stop = Arc::new(AtomicBool::new(false));
    let mut app = cluster.connect().unwrap();
    let app_stop = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        let mut reads = 0u32;
        while !app_stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            app.query_one("SELECT count(*) FROM users_user", &[])
                .unwrap();
            worst = worst.max(t.elapsed());
            reads += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        (worst, reads)
    });
    let url = cluster.url("postgres");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgdiplomat"))
        .current_dir(dir.path())
        .args(["trace", "--database-url", &url, "add.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Without negotiation the trace would wait as long as the idle transaction lasts: end it
    // after 20 s at the latest so that a failing run ends too.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    idle.batch_execute("ROLLBACK").unwrap();
    let out = child.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let (worst, reads) = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("trace took {elapsed:?}; {reads} application reads, the slowest {worst:?}");
    assert!(
        elapsed < Duration::from_secs(15),
        "trace waited {elapsed:?} for the lock\n{stdout}{stderr}"
    );
    assert!(
        worst < Duration::from_millis(1500),
        "an application read waited {worst:?} behind the trace\n{stdout}"
    );
    assert!(reads > 10, "{reads}");
    // The statement was not traced: say so, with who blocked it, and fail.
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("skipped: could not get the lock within 100 ms (5 attempts in"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("blocked by pid {idle_pid} (idle in transaction")),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 not traced (lock not free in time)"),
        "{stdout}"
    );
    let mut c = cluster.connect().unwrap();
    let nick: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nick'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nick, 0);
}

/// Issue #9, item 7: nextval/setval (explicit, or through a column default) move sequences
/// even when the transaction rolls back; statements that cannot be rolled back are skipped.
#[test]
fn with_a_database_url_statements_that_escape_the_rollback_are_skipped_and_sequences_stay() {
    let cluster = server_with_schema();
    let mut c = cluster.connect().unwrap();
    c.batch_execute(
        "CREATE SEQUENCE s; SELECT nextval('s');
         CREATE TABLE orders (id serial PRIMARY KEY, note text);
         INSERT INTO orders (note) VALUES ('first');",
    )
    .unwrap();
    let state = |c: &mut pgdiplomat_pg::postgres::Client| -> (i64, i64, i64) {
        let r = c
            .query_one(
                "SELECT (SELECT last_value FROM s), (SELECT last_value FROM orders_id_seq),
                        (SELECT count(*) FROM pg_database)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    let before = state(&mut c);
    let dir = project(&[(
        "seq.sql",
        "SELECT nextval('s');\n\
         SELECT setval('s', 1000);\n\
         INSERT INTO orders (note) VALUES ('x');\n\
         INSERT INTO orders (id, note) VALUES (50, 'explicit id');\n\
         ALTER TABLE users_user ADD COLUMN n bigint DEFAULT nextval('s');\n\
         ALTER SEQUENCE s RESTART WITH 500;\n\
         CREATE SEQUENCE fresh;\n\
         SELECT nextval('fresh');\n\
         CREATE DATABASE other;\n",
    )]);
    let url = cluster.url("postgres");
    let r = trace(dir.path(), &["--database-url", &url, "seq.sql"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(state(&mut c), before, "{}", r.stdout);
    let skipped = |line: usize, why: &str| {
        let at = format!("seq.sql:{line}:1:");
        let block = r.stdout.split(&at).nth(1).unwrap_or("");
        let first = block.lines().nth(1).unwrap_or("");
        assert!(
            first.starts_with(&format!("    skipped: {why}")),
            "line {line}: {first}\n{}",
            r.stdout
        );
    };
    skipped(
        1,
        "calls nextval(), which moves a sequence; a rollback does not undo that",
    );
    skipped(2, "calls setval(), which moves a sequence");
    skipped(
        3,
        "INSERT may fill \"orders\".\"id\" from sequence orders_id_seq (nextval)",
    );
    skipped(5, "calls nextval()");
    skipped(
        9,
        "CREATE DATABASE cannot run inside a transaction and cannot be rolled back",
    );
    let ran = |line: usize| {
        let at = format!("seq.sql:{line}:1:");
        let block = r.stdout.split(&at).nth(1).unwrap_or("");
        let first = block.lines().nth(1).unwrap_or("");
        assert!(
            first.starts_with("    time:"),
            "line {line}: {first}\n{}",
            r.stdout
        );
    };
    // An explicit id, ALTER SEQUENCE (transactional) and a sequence created in the same
    // rolled-back transaction are traced.
    ran(4);
    ran(6);
    ran(8);
}

/// Issue #9: a trace interrupted by SIGINT or SIGTERM stops its throwaway PostgreSQL and
/// removes its directory, then exits with 128 + the signal.
#[cfg(unix)]
fn an_interrupted_trace_leaves_no_server_behind(signal: i32, expected_code: i32) {
    use std::time::{Duration, Instant};

    let dir = project(&[("slow.sql", "SELECT pg_sleep(60);\n")]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgdiplomat"))
        .current_dir(dir.path())
        .args(["trace", "slow.sql"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let owner = child.id().to_string();
    // Find the cluster the child started (its owner.pid names the child) and its postmaster.
    let base = pgdiplomat_pg::cluster_base_dir();
    let started = Instant::now();
    let (cluster_dir, postmaster) = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the trace's server never came up"
        );
        let found = std::fs::read_dir(&base).unwrap().flatten().find_map(|e| {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(pgdiplomat_pg::CLUSTER_DIR_PREFIX) {
                return None;
            }
            let pid = std::fs::read_to_string(path.join(pgdiplomat_pg::OWNER_PID_FILE)).ok()?;
            if pid.trim() != owner {
                return None;
            }
            // The postmaster's pid file once it accepts connections (initdb's single-user
            // backend writes a negative pid, and no "ready" status line).
            let pm = std::fs::read_to_string(path.join("data/postmaster.pid")).ok()?;
            let pid: i32 = pm.lines().next()?.trim().parse().ok()?;
            (pid > 0 && pm.lines().nth(7).map(str::trim) == Some("ready")).then_some((path, pid))
        });
        if let Some(f) = found {
            break f;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the trace get into its statement.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(pgdiplomat_pg::pid_alive(postmaster));
    // SAFETY: sending a signal to our own child has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, signal) };
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the trace did not exit within 20 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let exited_after = sent.elapsed();
    eprintln!("signal {signal}: exited after {exited_after:?} with {status:?}");
    let alive_until = Instant::now() + Duration::from_secs(5);
    while pgdiplomat_pg::pid_alive(postmaster) && Instant::now() < alive_until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let postmaster_left = pgdiplomat_pg::pid_alive(postmaster);
    let dir_left = cluster_dir.exists();
    if postmaster_left {
        // SAFETY: as above; do not leak a server from a failing test.
        unsafe { libc::kill(postmaster, libc::SIGKILL) };
    }
    let _ = std::fs::remove_dir_all(&cluster_dir);
    assert!(!postmaster_left, "postmaster {postmaster} still running");
    assert!(!dir_left, "{} still exists", cluster_dir.display());
    assert_eq!(status.code(), Some(expected_code), "{status:?}");
    assert!(exited_after < Duration::from_secs(10), "{exited_after:?}");
}

#[cfg(unix)]
#[test]
fn sigint_stops_the_throwaway_server_and_removes_its_directory() {
    an_interrupted_trace_leaves_no_server_behind(libc::SIGINT, 130);
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_throwaway_server_and_removes_its_directory() {
    an_interrupted_trace_leaves_no_server_behind(libc::SIGTERM, 143);
}

/// Issue #9, item 7: `--seed-rows` on a user's database would write rows (and move sequences)
/// outside the rolled-back transaction; without --commit it is refused before anything runs.
#[test]
fn with_a_database_url_seeding_is_refused_unless_commit() {
    let cluster = server_with_schema();
    let mut c = cluster.connect().unwrap();
    c.batch_execute("CREATE TABLE empty_one (id serial PRIMARY KEY, note text)")
        .unwrap();
    let dir = project(&[("m.sql", "ALTER TABLE empty_one ADD COLUMN n int;\n")]);
    let url = cluster.url("postgres");
    let r = trace(
        dir.path(),
        &["--database-url", &url, "--seed-rows", "10", "m.sql"],
    );
    let rows: i64 = c
        .query_one("SELECT count(*) FROM empty_one", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        rows, 0,
        "seeding wrote to the database\n{}{}",
        r.stdout, r.stderr
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("--seed-rows with --database-url needs --commit"),
        "{}",
        r.stderr
    );
}

/// Issue #9, item 7: with --commit, a statement that runs outside a transaction and takes a
/// lock that blocks the application (VACUUM FULL) must not wait unbounded either.
#[test]
fn with_a_database_url_and_commit_vacuum_full_does_not_wait_unbounded() {
    use std::time::{Duration, Instant};

    let cluster = server_with_schema();
    let dir = project(&[("vac.sql", "VACUUM FULL users_user;\n")]);
    let mut idle = cluster.connect().unwrap();
    idle.batch_execute("BEGIN; SELECT count(*) FROM users_user")
        .unwrap();
    let url = cluster.url("postgres");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgdiplomat"))
        .current_dir(dir.path())
        .args([
            "trace",
            "--database-url",
            &url,
            "--commit",
            "--max-attempts",
            "2",
            "vac.sql",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    idle.batch_execute("ROLLBACK").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        elapsed < Duration::from_secs(15),
        "VACUUM FULL waited {elapsed:?}\n{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("skipped: could not get the lock within 100 ms (2 attempts in"),
        "{stdout}"
    );
}
