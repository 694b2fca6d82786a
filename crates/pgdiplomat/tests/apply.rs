//! `pgdiplomat apply` end to end on real PostgreSQL servers: the negotiation protocol, the
//! CONCURRENTLY cleanup, resume after SIGKILL, and the runner lock.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{Cluster, ClusterOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn command(dir: &Path, url: &str, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::cargo_bin("pgdiplomat").unwrap();
    c.current_dir(dir)
        .args(["apply", "--database-url", url])
        .args(args);
    c
}

fn apply(dir: &Path, url: &str, args: &[&str]) -> Out {
    let out = command(dir, url, args).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A server with `users_user` holding `rows` users (unique emails).
fn server(rows: i32) -> Cluster {
    let cluster = Cluster::start(ClusterOptions::default()).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute(&format!(
        "CREATE TABLE users_user (id bigint PRIMARY KEY, email varchar(255), username text);
         INSERT INTO users_user SELECT g, 'user' || g || '@example.com', 'u' || g FROM generate_series(1, {rows}) g;"
    ))
    .unwrap();
    cluster
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

fn safe_seed() -> String {
    std::fs::read_to_string(repo().join("examples/seed/safe.sql")).unwrap()
}

fn one<T: for<'a> pgdiplomat_pg::postgres::types::FromSql<'a>>(c: &mut Client, sql: &str) -> T {
    c.query_one(sql, &[]).unwrap().get(0)
}

fn index_valid(c: &mut Client, name: &str) -> Option<bool> {
    c.query_opt(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
        &[&name],
    )
    .unwrap()
    .map(|r| r.get(0))
}

fn history_state(c: &mut Client, name: &str) -> Option<(String, i32)> {
    c.query_opt(
        "SELECT state, steps_done FROM pgdiplomat.migrations WHERE name = $1",
        &[&name],
    )
    .unwrap()
    .map(|r| (r.get(0), r.get(1)))
}

fn has_column(c: &mut Client, table: &str, column: &str) -> bool {
    one::<i64>(
        c,
        &format!("SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}' AND column_name = '{column}'"),
    ) == 1
}

/// A session that holds ACCESS SHARE on users_user (an open transaction that read it).
fn reader(cluster: &Cluster) -> (Client, i32) {
    let mut c = cluster.connect().unwrap();
    let pid: i32 = one(&mut c, "SELECT pg_backend_pid()");
    c.batch_execute("BEGIN; SELECT count(*) FROM users_user;")
        .unwrap();
    (c, pid)
}

#[test]
fn the_seed_safe_migration_applies_once_and_is_recorded() {
    let cluster = server(1000);
    let dir = dir_with(&[("0001_email_unique.sql", &safe_seed())]);
    let url = cluster.url("postgres");
    let r = apply(dir.path(), &url, &["0001_email_unique.sql"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("step 1/2 (outside a transaction): CREATE UNIQUE INDEX CONCURRENTLY"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("step 2/2 (lock_timeout 100 ms): ALTER TABLE users_user ADD CONSTRAINT"),
        "{r:?}"
    );
    let mut c = cluster.connect().unwrap();
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'unq_email'"
        ),
        1
    );
    assert_eq!(
        history_state(&mut c, "0001_email_unique.sql"),
        Some(("applied".into(), 2))
    );
    let again = apply(dir.path(), &url, &["0001_email_unique.sql"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stderr
            .contains("0 applied (0 resumed), 1 already applied"),
        "{again:?}"
    );
}

#[test]
fn a_lock_timeout_is_retried_until_the_blocking_transaction_ends() {
    let cluster = server(100);
    let dir = dir_with(&[(
        "0002_nick.sql",
        "ALTER TABLE users_user ADD COLUMN nickname text;\n",
    )]);
    let (mut blocker, blocker_pid) = reader(&cluster);
    let release = std::thread::spawn(move || {
        sleep(Duration::from_millis(1500));
        blocker.batch_execute("COMMIT").unwrap();
    });
    let started = Instant::now();
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        // The first pause (2.5-5 s) always outlasts the blocker (released at 1.5 s).
        &["--backoff", "5s", "0002_nick.sql"],
    );
    release.join().unwrap();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("could not get ACCESS EXCLUSIVE on users_user within 100 ms (attempt 1/30)"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!(
            "blocked by pid {blocker_pid} (idle in transaction"
        )),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("SELECT count(*) FROM users_user"),
        "{r:?}"
    );
    // It noticed the blocker leave and did not sit out the rest of its pause.
    assert!(
        r.stderr
            .contains("the blocking transactions ended; retrying now"),
        "{r:?}"
    );
    // The preflight saw it coming.
    assert!(
        r.stderr.contains(&format!(
            "preflight: pid {blocker_pid} (idle in transaction"
        )),
        "{r:?}"
    );
    assert!(r.stderr.contains("preflight: users_user is "), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    let mut c = cluster.connect().unwrap();
    assert!(has_column(&mut c, "users_user", "nickname"));
}

#[test]
fn an_exhausted_retry_budget_fails_and_leaves_the_database_unchanged() {
    let cluster = server(100);
    let dir = dir_with(&[(
        "0003_nick.sql",
        "ALTER TABLE users_user ADD COLUMN nickname text;\n",
    )]);
    let (mut blocker, _) = reader(&cluster);
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        &["--max-attempts", "3", "--backoff", "50ms", "0003_nick.sql"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("gave up after 3 attempts"), "{r:?}");
    assert!(
        r.stderr.contains("nothing of this step was applied"),
        "{r:?}"
    );
    blocker.batch_execute("COMMIT").unwrap();
    let mut c = cluster.connect().unwrap();
    assert!(!has_column(&mut c, "users_user", "nickname"));
    assert_eq!(
        history_state(&mut c, "0003_nick.sql"),
        Some(("failed".into(), 0))
    );
}

#[test]
fn duplicate_keys_fail_the_unique_build_drop_the_invalid_index_and_show_the_duplicates() {
    let cluster = server(500);
    let mut c = cluster.connect().unwrap();
    c.batch_execute("UPDATE users_user SET email = 'dup@example.com' WHERE id IN (7, 8, 9)")
        .unwrap();
    let dir = dir_with(&[("0001_email_unique.sql", &safe_seed())]);
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        &["0001_email_unique.sql"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("could not create unique index \"users_email_uniq\""),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("the INVALID index users_email_uniq it left was dropped"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("duplicate keys in users_user (email): dup@example.com (3 rows)"),
        "{r:?}"
    );
    assert_eq!(
        index_valid(&mut c, "users_email_uniq"),
        None,
        "no INVALID index may remain"
    );
    assert_eq!(
        history_state(&mut c, "0001_email_unique.sql"),
        Some(("failed".into(), 0))
    );

    // --precheck finds them before anything is built.
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        &["--precheck", "0001_email_unique.sql"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("precheck: users_user has duplicate values in (email)"),
        "{r:?}"
    );
    assert_eq!(index_valid(&mut c, "users_email_uniq"), None);
}

#[test]
fn an_invalid_index_left_by_an_earlier_failure_is_dropped_and_rebuilt() {
    let cluster = server(500);
    let mut c = cluster.connect().unwrap();
    c.batch_execute("UPDATE users_user SET email = 'dup@example.com' WHERE id IN (1, 2)")
        .unwrap();
    assert!(c
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email)")
        .is_err());
    assert_eq!(
        index_valid(&mut c, "users_email_uniq"),
        Some(false),
        "the failed build leaves an INVALID index"
    );
    c.batch_execute("UPDATE users_user SET email = 'fixed@example.com' WHERE id = 2")
        .unwrap();
    let dir = dir_with(&[("0001_email_unique.sql", &safe_seed())]);
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        &["0001_email_unique.sql"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(
            "dropping the INVALID index users_email_uniq left by an earlier failed build"
        ),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("preflight: INVALID index users_email_uniq on users_user"),
        "{r:?}"
    );
    // The rebuilt index became the constraint's index (renamed to unq_email).
    assert_eq!(index_valid(&mut c, "unq_email"), Some(true));
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        0
    );
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        sleep(Duration::from_millis(20));
    }
}

fn spawn_apply(dir: &Path, url: &str, args: &[&str]) -> Child {
    command(dir, url, args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn backend_running(c: &mut Client, pattern: &str) -> Option<i32> {
    c.query_opt(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid() LIMIT 1",
        &[&pattern],
    )
    .unwrap()
    .map(|r| r.get(0))
}

#[test]
fn a_run_killed_with_sigkill_is_finished_by_the_next_run() {
    let cluster = server(2000);
    let migration = "SET lock_timeout = '2s';\n\
                     ALTER TABLE users_user ADD COLUMN nickname text;\n\
                     CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);\n\
                     ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX users_email_uniq;\n";
    let dir = dir_with(&[("0004_resume.sql", migration)]);
    let url = cluster.url("postgres");
    // An old snapshot makes the concurrent build wait in its last phase, so it can be killed there.
    let mut snapshot = cluster.connect().unwrap();
    snapshot
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;")
        .unwrap();
    let mut child = spawn_apply(dir.path(), &url, &["0004_resume.sql"]);
    let mut c = cluster.connect().unwrap();
    wait_until("the concurrent build to start", || {
        backend_running(&mut c, "CREATE UNIQUE INDEX CONCURRENTLY%").is_some()
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The server-side build dies too (as it would if the runner's host went away).
    if let Some(pid) = backend_running(&mut c, "CREATE UNIQUE INDEX CONCURRENTLY%") {
        c.execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
    }
    snapshot.batch_execute("COMMIT").unwrap();
    wait_until("the killed build to end", || {
        backend_running(&mut c, "CREATE UNIQUE INDEX CONCURRENTLY%").is_none()
    });
    assert_eq!(
        history_state(&mut c, "0004_resume.sql"),
        Some(("running".into(), 1)),
        "step 1 is recorded, step 2 is not"
    );
    assert_eq!(
        index_valid(&mut c, "users_email_uniq"),
        Some(false),
        "the killed build left an INVALID index"
    );

    let r = apply(dir.path(), &url, &["0004_resume.sql"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("resuming at step 2 of 3"), "{r:?}");
    assert!(
        r.stderr
            .contains("dropping the INVALID index users_email_uniq"),
        "{r:?}"
    );
    assert!(
        has_column(&mut c, "users_user", "nickname"),
        "step 1 stays applied"
    );
    assert_eq!(index_valid(&mut c, "unq_email"), Some(true));
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        0
    );
    assert_eq!(
        history_state(&mut c, "0004_resume.sql"),
        Some(("applied".into(), 3))
    );
}

#[test]
fn a_second_runner_refuses_clearly_while_the_first_is_working() {
    let cluster = server(100);
    let dir = dir_with(&[(
        "0005_nick.sql",
        "ALTER TABLE users_user ADD COLUMN nickname text;\n",
    )]);
    let url = cluster.url("postgres");
    let (mut blocker, _) = reader(&cluster);
    let mut first = spawn_apply(dir.path(), &url, &["--backoff", "100ms", "0005_nick.sql"]);
    let mut c = cluster.connect().unwrap();
    wait_until("the first runner to take its lock", || {
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        ) == 1
    });
    let second = apply(dir.path(), &url, &["0005_nick.sql"]);
    assert_eq!(second.code, 2, "{second:?}");
    assert!(
        second
            .stderr
            .contains("another pgdiplomat apply is running on this database (pid"),
        "{second:?}"
    );
    blocker.batch_execute("COMMIT").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(has_column(&mut c, "users_user", "nickname"));
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let cluster = server(10);
    let dir = dir_with(&[("0001_email_unique.sql", &safe_seed())]);
    let r = apply(
        dir.path(),
        &cluster.url("postgres"),
        &["--dry-run", "0001_email_unique.sql"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("0001_email_unique.sql ("), "{r:?}");
    assert!(r.stdout.contains(": pending"), "{r:?}");
    assert!(
        r.stdout
            .contains("step 1: outside a transaction, statement_timeout 0, INVALID index cleanup"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("step 2: transaction, lock_timeout 100 ms, up to 30 attempts within 300s — needs ACCESS EXCLUSIVE on users_user"),
        "{r:?}"
    );
    let mut c = cluster.connect().unwrap();
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgdiplomat'"
        ),
        0
    );
}

#[test]
fn a_migration_changed_after_it_was_applied_is_refused() {
    let cluster = server(10);
    let dir = dir_with(&[(
        "0006_nick.sql",
        "ALTER TABLE users_user ADD COLUMN nickname text;\n",
    )]);
    let url = cluster.url("postgres");
    assert_eq!(apply(dir.path(), &url, &["0006_nick.sql"]).code, 0);
    std::fs::write(
        dir.path().join("0006_nick.sql"),
        "ALTER TABLE users_user ADD COLUMN nickname varchar(50);\n",
    )
    .unwrap();
    let r = apply(dir.path(), &url, &["0006_nick.sql"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("0006_nick.sql was changed after it was applied"),
        "{r:?}"
    );
}

#[test]
fn connection_errors_never_show_the_password() {
    let dir = dir_with(&[("0007.sql", "SELECT 1;\n")]);
    let r = apply(
        dir.path(),
        "postgres://app:hunter2-secret@127.0.0.1:1/appdb",
        &["0007.sql"],
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("cannot connect to 127.0.0.1:1/appdb as app"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("hunter2"), "{r:?}");
}

#[test]
fn a_marked_backfill_runs_in_batches_and_a_killed_run_resumes_without_repeating_a_row() {
    let cluster = server(10);
    let mut c = cluster.connect().unwrap();
    c.batch_execute(
        "CREATE TABLE counters (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0);
         INSERT INTO counters (id) SELECT g FROM generate_series(1, 20000) g;",
    )
    .unwrap();
    // Not idempotent on purpose: a repeated batch would show as n = 2.
    let migration = "-- pgdiplomat:backfill batch=500 pause=20ms\nUPDATE counters SET n = n + 1;\n";
    let dir = dir_with(&[("0008_backfill.sql", migration)]);
    let url = cluster.url("postgres");
    let plan = apply(dir.path(), &url, &["--dry-run", "0008_backfill.sql"]);
    assert!(
        plan.stdout.contains("batched backfill of counters: 500 rows per transaction by primary key, 20 ms pause, resumable"),
        "{plan:?}"
    );
    let mut child = spawn_apply(dir.path(), &url, &["0008_backfill.sql"]);
    wait_until("a few batches", || {
        c.query_opt("SELECT rows FROM pgdiplomat.backfills", &[])
            .ok()
            .flatten()
            .is_some_and(|r| r.get::<_, i64>(0) >= 2000)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let done: i64 = one(&mut c, "SELECT rows FROM pgdiplomat.backfills");
    assert!(done < 20000, "killed too late to test resuming");
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM counters WHERE n = 1"),
        done,
        "every recorded batch happened, no more"
    );
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM counters WHERE n > 1"),
        0
    );

    let r = apply(dir.path(), &url, &["0008_backfill.sql"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("backfill resumes after id = "), "{r:?}");
    assert!(
        r.stderr.contains("backfill done, 20000 rows updated"),
        "{r:?}"
    );
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM counters WHERE n = 1"),
        20000
    );
    assert_eq!(
        one::<i64>(&mut c, "SELECT count(*) FROM counters WHERE n <> 1"),
        0
    );
    assert_eq!(
        history_state(&mut c, "0008_backfill.sql"),
        Some(("applied".into(), 1))
    );
}

/// A server on TCP that asks for a password (scram) on TCP connections, with a role `app`
/// whose password is `right-password`.
fn password_server() -> Cluster {
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    c.batch_execute("CREATE ROLE app LOGIN PASSWORD 'right-password'")
        .unwrap();
    c.batch_execute("CREATE DATABASE appdb OWNER app").unwrap();
    let hba = cluster.data_dir().join("pg_hba.conf");
    let mut text = std::fs::read_to_string(&hba).unwrap();
    // Password authentication for TCP, ahead of whatever initdb wrote.
    text = format!("host all all 127.0.0.1/32 scram-sha-256\n{text}");
    std::fs::write(&hba, text).unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    sleep(Duration::from_millis(300));
    cluster
}

fn pgdiplomat(dir: &Path, args: &[&str]) -> Out {
    let out = std::process::Command::cargo_bin("pgdiplomat")
        .unwrap()
        .current_dir(dir)
        .env_remove("PGPASSWORD")
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn connection_errors_say_why_in_every_command_without_the_password() {
    let cluster = password_server();
    let port = cluster.port();
    let dir = dir_with(&[("0007.sql", "SELECT 1;\n")]);
    // A port nobody listens on: bind one, note it, close it.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cases = [
        (
            format!("postgres://app:wrong-hunter2@127.0.0.1:{port}/appdb"),
            "password authentication failed for user \"app\"".to_string(),
            "wrong-hunter2",
        ),
        (
            format!("postgres://app:right-password@127.0.0.1:{port}/no_such_db"),
            "database \"no_such_db\" does not exist".to_string(),
            "right-password",
        ),
        (
            format!("postgres://app:right-password@127.0.0.1:{free}/appdb"),
            format!("connection refused at 127.0.0.1:{free}"),
            "right-password",
        ),
    ];
    // The sanity check: the right password works.
    let ok = apply(
        dir.path(),
        &format!("postgres://app:right-password@127.0.0.1:{port}/appdb"),
        &["0007.sql"],
    );
    assert_eq!(ok.code, 0, "{ok:?}");
    for (url, reason, password) in &cases {
        let runs = [
            pgdiplomat(dir.path(), &["apply", "--database-url", url, "0007.sql"]),
            pgdiplomat(dir.path(), &["inspect", "--database-url", url]),
            pgdiplomat(dir.path(), &["lint", "--database-url", url, "0007.sql"]),
            pgdiplomat(dir.path(), &["trace", "--database-url", url, "0007.sql"]),
        ];
        for r in &runs {
            assert_eq!(r.code, 2, "{url}: {r:?}");
            assert!(
                r.stderr.contains(reason.as_str()),
                "{url}: want {reason:?}: {r:?}"
            );
            assert!(!r.stderr.contains("db error"), "{url}: {r:?}");
            assert!(!r.stderr.contains(password), "{url}: {r:?}");
            assert!(!r.stdout.contains(password), "{url}: {r:?}");
        }
    }
}

/// The phase of the running concurrent index build, if any.
fn build_phase(c: &mut Client) -> Option<String> {
    c.query_opt(
        "SELECT phase FROM pg_stat_progress_create_index LIMIT 1",
        &[],
    )
    .unwrap()
    .map(|r| r.get(0))
}

fn pgdiplomat_backends(c: &mut Client) -> i64 {
    one(
        c,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgdiplomat%'",
    )
}

fn finish(child: Child) -> Out {
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_waiting_runner_holds_no_snapshot_that_the_running_concurrent_build_would_wait_for() {
    let cluster = server(2000);
    let dir = dir_with(&[(
        "0010_idx.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);\n",
    )]);
    let url = cluster.url("postgres");
    let mut c = cluster.connect().unwrap();
    // A writer holds the first runner's build before it starts (phase "waiting for writers
    // before build"); the second runner starts waiting then, before the build takes the
    // reference snapshot of its validation phase. A waiting statement's snapshot would be older
    // than that, and the build would wait for it at the end while it waits for the build.
    let mut writer = cluster.connect().unwrap();
    writer
        .batch_execute("BEGIN; UPDATE users_user SET username = username WHERE id = 1;")
        .unwrap();
    let first = spawn_apply(dir.path(), &url, &["0010_idx.sql"]);
    wait_until("the first build to wait for the writer", || {
        build_phase(&mut c).is_some_and(|p| p.contains("writers before build"))
    });
    let second = spawn_apply(dir.path(), &url, &["--wait", "0010_idx.sql"]);
    wait_until("the second runner to connect", || {
        pgdiplomat_backends(&mut c) >= 4
    });
    sleep(Duration::from_millis(500));
    writer.batch_execute("COMMIT").unwrap();
    let (first, second) = (finish(first), finish(second));
    assert_eq!(
        first.code, 0,
        "the running deploy's build must not be aborted: {first:?}"
    );
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second
            .stderr
            .contains("waiting: another pgdiplomat apply is running on this database (pid"),
        "{second:?}"
    );
    assert!(second.stderr.contains("got the runner lock"), "{second:?}");
    assert!(
        second
            .stderr
            .contains("0 applied (0 resumed), 1 already applied"),
        "{second:?}"
    );
    assert_eq!(index_valid(&mut c, "users_email_uniq"), Some(true));
    assert_eq!(
        history_state(&mut c, "0010_idx.sql"),
        Some(("applied".into(), 1))
    );
}

#[test]
fn after_a_killed_runner_the_rerun_names_the_build_still_running_and_waits_for_it() {
    let cluster = server(2000);
    let migration = "ALTER TABLE users_user ADD COLUMN nickname text;\n\
                     CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);\n";
    let dir = dir_with(&[("0011_killed.sql", migration)]);
    let url = cluster.url("postgres");
    let mut c = cluster.connect().unwrap();
    let mut snapshot = cluster.connect().unwrap();
    snapshot
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;")
        .unwrap();
    let mut killed = spawn_apply(dir.path(), &url, &["0011_killed.sql"]);
    wait_until("the build to wait for old snapshots", || {
        build_phase(&mut c).is_some_and(|p| p.contains("old snapshots"))
    });
    killed.kill().unwrap(); // SIGKILL; its backend goes on with the build
    killed.wait().unwrap();
    let build =
        backend_running(&mut c, "CREATE UNIQUE INDEX CONCURRENTLY%").expect("the build goes on");

    let r = apply(dir.path(), &url, &["0011_killed.sql"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "the runner lock is held by pid {build}, the backend of an earlier apply whose runner is gone (killed): it is still running `CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email)`, started "
        )),
        "{r:?}"
    );
    assert!(r.stderr.contains("s ago, the build of that run; "), "{r:?}");
    assert!(
        r.stderr.contains("the server releases the lock when that statement ends; wait for it to finish, or pass --wait"),
        "{r:?}"
    );

    let waiting = spawn_apply(dir.path(), &url, &["--wait", "0011_killed.sql"]);
    wait_until("the waiting runner to connect", || {
        pgdiplomat_backends(&mut c) >= 3
    });
    sleep(Duration::from_millis(500));
    snapshot.batch_execute("COMMIT").unwrap();
    let r = finish(waiting);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("waiting: the runner lock is held by pid"),
        "{r:?}"
    );
    assert!(r.stderr.contains("resuming at step 2 of 2"), "{r:?}");
    assert!(
        r.stderr
            .contains("index users_email_uniq already exists and is valid"),
        "the killed run's build finished; it is not built twice: {r:?}"
    );
    assert_eq!(index_valid(&mut c, "users_email_uniq"), Some(true));
    assert_eq!(
        history_state(&mut c, "0011_killed.sql"),
        Some(("applied".into(), 2))
    );
}

#[test]
fn an_existing_index_of_the_same_name_is_skipped_only_when_it_is_the_same_index() {
    let migration = "CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users_user (email);\n";
    let wants = "CREATE UNIQUE INDEX users_email_uniq ON public.users_user USING btree (email)";
    let cases: [(&str, &str, Option<&str>); 5] = [
        (
            "another column, not unique",
            "CREATE INDEX users_email_uniq ON users_user (username)",
            Some("it is not unique and this statement's index is unique; existing: `CREATE INDEX users_email_uniq ON public.users_user USING btree (username)`"),
        ),
        (
            "another column, unique",
            "CREATE UNIQUE INDEX users_email_uniq ON users_user (username)",
            Some("its definition differs; existing: `CREATE UNIQUE INDEX users_email_uniq ON public.users_user USING btree (username)`"),
        ),
        (
            "partial",
            "CREATE UNIQUE INDEX users_email_uniq ON users_user (email) WHERE id > 10",
            Some("its definition differs; existing: `CREATE UNIQUE INDEX users_email_uniq ON public.users_user USING btree (email) WHERE (id > 10)`"),
        ),
        (
            "another table",
            "CREATE TABLE other (email varchar(255)); CREATE UNIQUE INDEX users_email_uniq ON other (email)",
            Some("it is on public.other, not public.users_user; existing: `CREATE UNIQUE INDEX users_email_uniq ON public.other USING btree (email)`"),
        ),
        (
            "the same index",
            "CREATE UNIQUE INDEX users_email_uniq ON users_user (email)",
            None,
        ),
    ];
    for (what, existing, refusal) in cases {
        let cluster = server(100);
        let mut c = cluster.connect().unwrap();
        c.batch_execute(existing).unwrap();
        let dir = dir_with(&[("0012_idx.sql", migration)]);
        let r = apply(dir.path(), &cluster.url("postgres"), &["0012_idx.sql"]);
        match refusal {
            Some(reason) => {
                assert_eq!(r.code, 1, "{what}: {r:?}");
                assert!(
                    r.stderr.contains("0012_idx.sql, step 1 (line 1): an index named users_email_uniq already exists but "),
                    "{what}: {r:?}"
                );
                assert!(r.stderr.contains(reason), "{what}: {r:?}");
                assert!(
                    r.stderr
                        .contains(&format!("this statement builds: `{wants}`")),
                    "{what}: {r:?}"
                );
                assert!(!r.stderr.contains("); skipping"), "{what}: {r:?}");
                assert_eq!(
                    history_state(&mut c, "0012_idx.sql"),
                    Some(("failed".into(), 0)),
                    "{what}"
                );
            }
            None => {
                assert_eq!(r.code, 0, "{what}: {r:?}");
                assert!(
                    r.stderr.contains("index users_email_uniq already exists and is valid, with the definition this statement builds (an earlier run built it); skipping"),
                    "{what}: {r:?}"
                );
                assert_eq!(
                    history_state(&mut c, "0012_idx.sql"),
                    Some(("applied".into(), 1)),
                    "{what}"
                );
            }
        }
        // Nothing was built or dropped: the index is the one that was there.
        assert_eq!(
            index_valid(&mut c, "users_email_uniq"),
            Some(true),
            "{what}"
        );
        assert_eq!(
            one::<i64>(
                &mut c,
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'pgdiplomat_index_probe%'"
            ),
            0,
            "{what}: the probe is rolled back"
        );
    }
}

/// A real PgBouncer (Debian's `pgbouncer`) on a free loopback port in front of `cluster`,
/// stopped on drop.
struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The pgbouncer binary, installed with scripts/ensure-deps when missing. Fails (never skips)
/// when it cannot be had: these tests are the only proof that apply copes with a pooler.
fn pgbouncer_bin() -> PathBuf {
    let find = || {
        ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(p) = find() {
        return p;
    }
    let out = std::process::Command::new("bash")
        .arg(repo().join("scripts/ensure-deps"))
        .output()
        .expect("run scripts/ensure-deps");
    find().unwrap_or_else(|| {
        panic!(
            "pgbouncer is not installed and scripts/ensure-deps could not install it \
             (apt-get install pgbouncer as root), so the PgBouncer tests cannot run:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn pgbouncer(cluster: &Cluster, pool_mode: &str) -> PgBouncer {
    use std::os::unix::fs::PermissionsExt;
    let bin = pgbouncer_bin();
    let dir = tempfile::tempdir().unwrap();
    // pgbouncer refuses to run as root: it runs as nobody (-u), which must reach its files.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.path().display();
    let config = format!(
        "[databases]\n\
         postgres = host={sock} port={pgport} dbname=postgres user=postgres\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {d}/users.txt\n\
         pool_mode = {pool_mode}\n\
         default_pool_size = 10\n\
         logfile = {d}/pgbouncer.log\n\
         ignore_startup_parameters = extra_float_digits\n",
        sock = cluster.socket_dir().display(),
        pgport = cluster.port(),
    );
    std::fs::write(dir.path().join("pgbouncer.ini"), config).unwrap();
    std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
    let mut cmd = std::process::Command::new(&bin);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    let child = cmd
        .arg(dir.path().join("pgbouncer.ini"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let bouncer = PgBouncer { child, port, dir };
    let url = bouncer.url();
    let start = Instant::now();
    loop {
        let attempt =
            pgdiplomat_pg::postgres::Client::connect(&url, pgdiplomat_pg::postgres::NoTls)
                .and_then(|mut c| c.simple_query("SELECT 1").map(|_| ()));
        match attempt {
            Ok(()) => break,
            Err(e) if start.elapsed() > Duration::from_secs(30) => panic!(
                "pgbouncer did not accept connections on port {port}: {e}\n{}",
                std::fs::read_to_string(bouncer.dir.path().join("pgbouncer.log"))
                    .unwrap_or_default()
            ),
            Err(_) => sleep(Duration::from_millis(100)),
        }
    }
    bouncer
}

impl PgBouncer {
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

#[test]
fn apply_refuses_a_transaction_pooling_pgbouncer_and_changes_nothing() {
    let cluster = server(100);
    let bouncer = pgbouncer(&cluster, "transaction");
    let dir = dir_with(&[(
        "0013_nick.sql",
        "ALTER TABLE users_user ADD COLUMN nickname text;\n",
    )]);
    let r = apply(dir.path(), &bouncer.url(), &["0013_nick.sql"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "pgdiplomat apply needs a session-pooled or direct connection; 127.0.0.1:{}/postgres as postgres is pooled per transaction (PgBouncer pool_mode=transaction or statement): ",
            bouncer.port
        )),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("use a direct URL (the server's own host and port) or pool_mode=session"),
        "{r:?}"
    );
    let mut c = cluster.connect().unwrap();
    assert!(!has_column(&mut c, "users_user", "nickname"));
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        ),
        0,
        "no runner lock left behind on a pooled server connection"
    );
    assert_eq!(
        one::<i64>(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgdiplomat'"
        ),
        0
    );
}

#[test]
fn apply_works_through_a_session_pooling_pgbouncer() {
    let cluster = server(500);
    let bouncer = pgbouncer(&cluster, "session");
    let dir = dir_with(&[("0001_email_unique.sql", &safe_seed())]);
    let url = bouncer.url();
    let r = apply(dir.path(), &url, &["0001_email_unique.sql"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut c = cluster.connect().unwrap();
    assert_eq!(index_valid(&mut c, "unq_email"), Some(true));
    assert_eq!(
        history_state(&mut c, "0001_email_unique.sql"),
        Some(("applied".into(), 2))
    );
    let again = apply(dir.path(), &url, &["0001_email_unique.sql"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stderr
            .contains("0 applied (0 resumed), 1 already applied"),
        "{again:?}"
    );
}

#[test]
fn a_server_that_requires_tls_says_so() {
    let cluster = Cluster::start(ClusterOptions::default().tcp(true)).expect("start PostgreSQL");
    let mut c = cluster.connect().unwrap();
    let hba = cluster.data_dir().join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("hostnossl all all 127.0.0.1/32 reject\n{text}"),
    )
    .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    sleep(Duration::from_millis(300));
    let dir = dir_with(&[("0007.sql", "SELECT 1;\n")]);
    let url = format!(
        "postgres://postgres:tls-hunter2@127.0.0.1:{}/postgres?sslmode=disable",
        cluster.port()
    );
    let r = apply(dir.path(), &url, &["0007.sql"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no encryption"), "{r:?}");
    assert!(
        r.stderr
            .contains("the server requires TLS for this connection: add sslmode=require"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("tls-hunter2"), "{r:?}");
}
