//! `inspect` against a real PostgreSQL (the embedded cluster): dead tuples, open transactions,
//! blocked sessions, INVALID indexes. Nothing is mocked. Whatever depends on the statistics
//! system or on another session reaching a state is polled with a deadline, never slept on.

use std::thread;
use std::time::{Duration, Instant};

use pgdiplomat_apply::connect;
use pgdiplomat_apply::inspect::{
    inspect, invalid_indexes, sessions_touching, InspectOptions, Ledger, SessionReport,
};
use pgdiplomat_pg::postgres::error::SqlState;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{Cluster, ClusterOptions};

const DEADLINE: Duration = Duration::from_secs(15);

fn start() -> Cluster {
    Cluster::start(ClusterOptions::default().tcp(true)).expect("start an embedded PostgreSQL")
}

fn connect(cluster: &Cluster) -> Client {
    cluster.connect().expect("connect")
}

fn pid(client: &mut Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pg_backend_pid")
        .get(0)
}

fn server_version_num(client: &mut Client) -> i32 {
    client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .expect("server_version_num")
        .get(0)
}

/// Calls `f` until it returns `Some`, or panics after [`DEADLINE`].
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: not seen within {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

fn with_threshold(secs: f64) -> InspectOptions {
    InspectOptions {
        long_transaction_secs: secs,
        ..InspectOptions::default()
    }
}

fn find(sessions: &[SessionReport], pid: i32) -> Option<&SessionReport> {
    sessions.iter().find(|s| s.pid == pid)
}

fn assert_not_reported(ledger: &Ledger, me: i32) {
    for list in [
        &ledger.long_transactions,
        &ledger.idle_in_transaction,
        &ledger.blocked,
        &ledger.blockers,
    ] {
        assert!(
            find(list, me).is_none(),
            "the inspecting session {me} must never be reported: {ledger:#?}"
        );
    }
}

#[test]
fn dead_tuples_show_up_after_updating_every_row() {
    let cluster = start();
    let mut writer = connect(&cluster);
    // Autovacuum off for this table, or it might clean up before we look.
    writer
        .batch_execute(
            "CREATE TABLE ledger_rows (id int PRIMARY KEY, n int) WITH (autovacuum_enabled = off);
             INSERT INTO ledger_rows SELECT g, 0 FROM generate_series(1, 1000) g;
             CREATE TABLE small_table (id int);
             INSERT INTO small_table VALUES (1);",
        )
        .unwrap();
    writer
        .batch_execute("UPDATE ledger_rows SET n = n + 1")
        .unwrap();
    if server_version_num(&mut writer) >= 150000 {
        // Statistics are flushed when the backend goes idle, at most once a second unless forced.
        writer
            .batch_execute("SELECT pg_stat_force_next_flush()")
            .unwrap();
        writer.batch_execute("SELECT 1").unwrap();
    }

    let mut me = connect(&cluster);
    let opts = InspectOptions {
        tables: vec!["ledger_rows".into()],
        ..InspectOptions::default()
    };
    let report = eventually("1000 dead tuples in ledger_rows", || {
        let ledger = inspect(&mut me, &opts).unwrap();
        ledger
            .tables
            .into_iter()
            .find(|t| t.table == "ledger_rows" && t.dead_tuples >= 1000)
    });
    assert_eq!(report.live_tuples, 1000, "{report:#?}");
    assert_eq!(report.dead_tuples, 1000, "{report:#?}");
    assert!((report.dead_ratio - 0.5).abs() < 1e-9, "{report:#?}");
    assert!(
        !report.size_estimated,
        "nobody locks the table: {report:#?}"
    );
    assert!(
        report.table_bytes > 0 && report.index_bytes > 0,
        "{report:#?}"
    );
    assert_eq!(
        report.total_bytes,
        report.table_bytes + report.index_bytes,
        "{report:#?}"
    );
    assert_eq!(report.last_autovacuum, None);
    assert_eq!(report.last_vacuum, None);

    // Column statistics make the bloat estimate possible: half the heap is dead rows.
    writer.batch_execute("ANALYZE ledger_rows").unwrap();
    let ledger = inspect(&mut me, &opts).unwrap();
    assert_eq!(
        ledger.tables.len(),
        1,
        "only the table asked for: {ledger:#?}"
    );
    let bloat = ledger.tables[0]
        .bloat_estimate_bytes
        .expect("analyzed, so estimated");
    assert!(
        bloat > 0 && bloat < ledger.tables[0].table_bytes,
        "{ledger:#?}"
    );

    // VACUUM clears the dead rows and is remembered.
    writer.batch_execute("VACUUM ledger_rows").unwrap();
    let after = eventually("VACUUM recorded", || {
        let ledger = inspect(&mut me, &opts).unwrap();
        ledger
            .tables
            .into_iter()
            .find(|t| t.dead_tuples == 0 && t.last_vacuum.is_some())
    });
    let stamp = after.last_vacuum.unwrap();
    assert!(
        stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "ISO 8601 in UTC: {stamp}"
    );

    // Without a table list: the largest tables first, limited to `top`.
    let all = inspect(&mut me, &InspectOptions::default()).unwrap();
    let names: Vec<&str> = all.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(names, ["ledger_rows", "small_table"]);
    let top1 = inspect(
        &mut me,
        &InspectOptions {
            top: 1,
            ..InspectOptions::default()
        },
    )
    .unwrap();
    assert_eq!(top1.tables.len(), 1);
    assert_eq!(top1.tables[0].table, "ledger_rows");
    assert!(all.server_version.starts_with(char::is_numeric));
}

#[test]
fn an_open_transaction_shows_as_idle_in_transaction_and_as_long_with_threshold_zero() {
    let cluster = start();
    let mut setup = connect(&cluster);
    setup
        .batch_execute(
            "CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts VALUES (1);",
        )
        .unwrap();
    let mut forgotten = connect(&cluster);
    let forgotten_pid = pid(&mut forgotten);
    forgotten
        .batch_execute("BEGIN; SELECT count(*) FROM accounts;")
        .unwrap();
    thread::sleep(Duration::from_millis(200));

    let mut me = connect(&cluster);
    let my_pid = pid(&mut me);
    let ledger = eventually("the forgotten session idle in transaction", || {
        let ledger = inspect(&mut me, &with_threshold(0.0)).unwrap();
        find(&ledger.idle_in_transaction, forgotten_pid)
            .is_some()
            .then_some(ledger)
    });
    let idle = find(&ledger.idle_in_transaction, forgotten_pid).unwrap();
    assert_eq!(idle.state.as_deref(), Some("idle in transaction"));
    assert!(idle.xact_age_seconds.unwrap() > 0.1, "{idle:#?}");
    assert_eq!(idle.query, "BEGIN; SELECT count(*) FROM accounts;");
    assert!(idle.blocked_by.is_empty());
    assert!(
        idle.locks
            .contains(&("accounts".into(), "AccessShareLock".into(), true)),
        "the table it read stays locked until the transaction ends: {idle:#?}"
    );
    assert!(
        find(&ledger.long_transactions, forgotten_pid).is_some(),
        "threshold 0: every open transaction is long: {ledger:#?}"
    );
    assert_not_reported(&ledger, my_pid);

    // With the default threshold (60 s) it is idle in transaction but not (yet) long.
    let ledger = inspect(&mut me, &InspectOptions::default()).unwrap();
    assert!(find(&ledger.idle_in_transaction, forgotten_pid).is_some());
    assert!(ledger.long_transactions.is_empty(), "{ledger:#?}");

    // An aborted transaction is still open, and still idle in transaction.
    forgotten.batch_execute("SELECT 1/0").unwrap_err();
    let aborted = eventually("the aborted transaction", || {
        let ledger = inspect(&mut me, &with_threshold(0.0)).unwrap();
        find(&ledger.idle_in_transaction, forgotten_pid)
            .filter(|s| s.state.as_deref() == Some("idle in transaction (aborted)"))
            .cloned()
    });
    // PostgreSQL released its locks and snapshot at the error; only the connection is stuck.
    assert!(aborted.locks.is_empty(), "{aborted:#?}");

    // Once it ends, it is gone from both lists.
    forgotten.batch_execute("ROLLBACK").unwrap();
    eventually("the session out of its transaction", || {
        let ledger = inspect(&mut me, &with_threshold(0.0)).unwrap();
        (find(&ledger.idle_in_transaction, forgotten_pid).is_none()
            && find(&ledger.long_transactions, forgotten_pid).is_none())
        .then_some(())
    });
}

#[test]
fn a_session_waiting_behind_lock_table_is_blocked_by_the_holder() {
    let cluster = start();
    let mut holder = connect(&cluster);
    let holder_pid = pid(&mut holder);
    holder
        .batch_execute("CREATE TABLE queue_jobs (id int PRIMARY KEY)")
        .unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE queue_jobs IN ACCESS EXCLUSIVE MODE;")
        .unwrap();

    let mut waiter = connect(&cluster);
    let waiter_pid = pid(&mut waiter);
    // The lock_timeout makes the waiter give up on its own should the test fail midway.
    let reader = thread::spawn(move || {
        waiter.batch_execute("SET lock_timeout = '20s'")?;
        waiter.query_one("SELECT count(*) FROM queue_jobs", &[])?;
        Ok::<_, pgdiplomat_pg::postgres::Error>(())
    });

    let mut me = connect(&cluster);
    let my_pid = pid(&mut me);
    let ledger = eventually("the reader blocked", || {
        let started = Instant::now();
        let ledger = inspect(&mut me, &InspectOptions::default()).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "inspect must not wait for the ACCESS EXCLUSIVE lock"
        );
        find(&ledger.blocked, waiter_pid)
            .is_some()
            .then_some(ledger)
    });
    let blocked = find(&ledger.blocked, waiter_pid).unwrap();
    assert_eq!(blocked.blocked_by, vec![holder_pid], "{blocked:#?}");
    assert_eq!(blocked.wait_event.as_deref(), Some("Lock:relation"));
    assert_eq!(blocked.query, "SELECT count(*) FROM queue_jobs");
    assert!(
        blocked
            .locks
            .contains(&("queue_jobs".into(), "AccessShareLock".into(), false)),
        "{blocked:#?}"
    );
    let blocker = find(&ledger.blockers, holder_pid).expect("the holder is described");
    assert!(
        blocker
            .locks
            .contains(&("queue_jobs".into(), "AccessExclusiveLock".into(), true)),
        "{blocker:#?}"
    );
    // The locked table is still listed; its size comes from pg_class instead of waiting.
    let table = ledger
        .tables
        .iter()
        .find(|t| t.table == "queue_jobs")
        .expect("queue_jobs listed");
    assert!(table.size_estimated, "{table:#?}");
    assert_not_reported(&ledger, my_pid);

    holder.batch_execute("COMMIT").unwrap();
    reader
        .join()
        .unwrap()
        .expect("the reader proceeds once the lock is released");
    let ledger = inspect(&mut me, &InspectOptions::default()).unwrap();
    assert!(ledger.blocked.is_empty(), "{ledger:#?}");
}

#[test]
fn inspecting_never_queues_behind_an_alter_table_waiting_for_its_lock() {
    // The story's scenario: a report left a transaction open, a migration's ALTER TABLE waits
    // for ACCESS EXCLUSIVE, and every new query on the table queues behind the ALTER.
    let cluster = start();
    let mut setup = connect(&cluster);
    setup
        .batch_execute(
            "CREATE TABLE users (id int PRIMARY KEY, email text);
             INSERT INTO users VALUES (1, 'a@example.com'), (2, 'A@example.com');",
        )
        .unwrap();
    // An INVALID index on the table: its definition must not wait either.
    setup
        .batch_execute(
            "CREATE UNIQUE INDEX CONCURRENTLY users_email_lower ON users (lower(email))
             INCLUDE (id) WHERE id > 0",
        )
        .unwrap_err();
    let mut report = connect(&cluster);
    let report_pid = pid(&mut report);
    report.batch_execute("BEGIN; SELECT * FROM users;").unwrap();

    let mut migration = connect(&cluster);
    let migration_pid = pid(&mut migration);
    let alter = thread::spawn(move || {
        migration.batch_execute("SET lock_timeout = '20s'")?;
        migration.batch_execute("ALTER TABLE users ADD COLUMN nickname text")
    });

    let mut me = connect(&cluster);
    let ledger = eventually("the ALTER TABLE waiting", || {
        let started = Instant::now();
        let ledger = inspect(&mut me, &with_threshold(0.0)).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "inspect must not queue behind the waiting ALTER TABLE"
        );
        find(&ledger.blocked, migration_pid)
            .is_some()
            .then_some(ledger)
    });
    let waiting = find(&ledger.blocked, migration_pid).unwrap();
    assert_eq!(waiting.blocked_by, vec![report_pid]);
    assert!(
        waiting
            .locks
            .contains(&("users".into(), "AccessExclusiveLock".into(), false)),
        "{waiting:#?}"
    );
    assert!(find(&ledger.idle_in_transaction, report_pid).is_some());
    assert!(find(&ledger.blockers, report_pid).is_some());
    let users = ledger.tables.iter().find(|t| t.table == "users").unwrap();
    assert!(users.size_estimated, "{users:#?}");
    // The INVALID index is listed, its definition rebuilt from the catalogs.
    assert_eq!(ledger.invalid_indexes.len(), 1, "{ledger:#?}");
    let index = &ledger.invalid_indexes[0];
    assert_eq!(
        index.definition,
        "CREATE UNIQUE INDEX users_email_lower ON public.users USING btree (<expression>) \
         INCLUDE (id) WHERE <predicate>"
    );
    assert_eq!(
        index.drop_statement,
        "DROP INDEX CONCURRENTLY public.users_email_lower;"
    );

    report.batch_execute("COMMIT").unwrap();
    alter.join().unwrap().expect("the ALTER proceeds");
    // Unlocked, the definition is PostgreSQL's own again.
    let index = invalid_indexes(&mut me).unwrap().remove(0);
    assert_eq!(
        index.definition,
        "CREATE UNIQUE INDEX users_email_lower ON public.users USING btree (lower(email)) \
         INCLUDE (id) WHERE (id > 0)"
    );
}

#[test]
fn a_failed_unique_concurrent_build_leaves_an_invalid_index_that_is_listed_not_ready() {
    let cluster = start();
    let mut c = connect(&cluster);
    c.batch_execute(
        "CREATE TABLE users (id int, email text);
         INSERT INTO users VALUES (1, 'a@example.com'), (2, 'a@example.com');
         CREATE SCHEMA \"Billing\";
         CREATE TABLE \"Billing\".\"Invoice Lines\" (n int);
         INSERT INTO \"Billing\".\"Invoice Lines\" VALUES (1), (1);",
    )
    .unwrap();
    assert!(invalid_indexes(&mut c).unwrap().is_empty());

    let err = c
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_uniq ON users (email)")
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION), "{err}");
    c.batch_execute(
        "CREATE UNIQUE INDEX CONCURRENTLY \"Line No\" ON \"Billing\".\"Invoice Lines\" (n)",
    )
    .unwrap_err();

    let found = invalid_indexes(&mut c).unwrap();
    assert_eq!(found.len(), 2, "{found:#?}");
    let users = found
        .iter()
        .find(|i| i.index == "users_email_uniq")
        .expect("users_email_uniq listed");
    assert_eq!(users.table, "users");
    assert!(!users.ready, "the build failed before the index was ready");
    assert_eq!(
        users.definition,
        "CREATE UNIQUE INDEX users_email_uniq ON public.users USING btree (email)"
    );
    assert_eq!(
        users.drop_statement,
        "DROP INDEX CONCURRENTLY public.users_email_uniq;"
    );
    assert!(users.bytes >= 0);
    let billing = found
        .iter()
        .find(|i| i.index == "Billing.Line No")
        .expect("the quoted one listed");
    assert_eq!(billing.table, "Billing.Invoice Lines");
    assert_eq!(
        billing.drop_statement,
        "DROP INDEX CONCURRENTLY \"Billing\".\"Line No\";"
    );

    // inspect lists them too.
    let ledger = inspect(&mut c, &InspectOptions::default()).unwrap();
    assert_eq!(ledger.invalid_indexes, found);

    // The suggested statements really remove them.
    for index in &found {
        c.batch_execute(&index.drop_statement).unwrap();
    }
    assert!(invalid_indexes(&mut c).unwrap().is_empty());
}

#[test]
fn sessions_touching_lists_the_session_that_read_the_table_and_not_the_others() {
    let cluster = start();
    let mut setup = connect(&cluster);
    setup
        .batch_execute(
            "CREATE TABLE orders (id int PRIMARY KEY);
             CREATE TABLE customers (id int PRIMARY KEY);
             CREATE SCHEMA sales;
             CREATE TABLE sales.orders (id int);",
        )
        .unwrap();
    let mut on_orders = connect(&cluster);
    let on_orders_pid = pid(&mut on_orders);
    on_orders
        .batch_execute("BEGIN; SELECT * FROM orders WHERE id = 1;")
        .unwrap();
    let mut on_customers = connect(&cluster);
    let on_customers_pid = pid(&mut on_customers);
    on_customers
        .batch_execute("BEGIN; SELECT * FROM customers;")
        .unwrap();
    let mut on_other_orders = connect(&cluster);
    let on_other_orders_pid = pid(&mut on_other_orders);
    on_other_orders
        .batch_execute("BEGIN; SELECT * FROM sales.orders;")
        .unwrap();
    let mut idle = connect(&cluster);
    let idle_pid = pid(&mut idle);

    // Through the same connection path the CLI uses: a URL, completed from PG* variables.
    let target = connect::target(Some(&cluster.url("postgres"))).unwrap();
    let mut me = target.connect().unwrap();
    let my_pid = pid(&mut me);

    let touching = sessions_touching(&mut me, &["orders".to_string()]).unwrap();
    let pids: Vec<i32> = touching.iter().map(|s| s.pid).collect();
    assert_eq!(pids, vec![on_orders_pid], "{touching:#?}");
    let s = &touching[0];
    assert_eq!(s.state.as_deref(), Some("idle in transaction"));
    assert!(s.xact_age_seconds.is_some());
    assert!(
        s.locks
            .iter()
            .all(|(rel, _, _)| rel == "orders" || rel == "orders_pkey"),
        "only the locks on orders and its indexes: {s:#?}"
    );
    assert!(s
        .locks
        .contains(&("orders".into(), "AccessShareLock".into(), true)));

    // Qualified names, several tables, other schemas.
    let both =
        sessions_touching(&mut me, &["public.orders".into(), "sales.orders".into()]).unwrap();
    let mut pids: Vec<i32> = both.iter().map(|s| s.pid).collect();
    pids.sort();
    let mut expected = vec![on_orders_pid, on_other_orders_pid];
    expected.sort();
    assert_eq!(pids, expected);
    for pid in [on_customers_pid, idle_pid, my_pid] {
        assert!(find(&both, pid).is_none());
    }

    // Tables that do not exist (yet) touch nothing.
    assert!(sessions_touching(&mut me, &["not_created_yet".into()])
        .unwrap()
        .is_empty());
    assert!(sessions_touching(&mut me, &[]).unwrap().is_empty());

    // Our own locks never count.
    me.batch_execute("BEGIN; SELECT * FROM orders;").unwrap();
    let touching = sessions_touching(&mut me, &["orders".to_string()]).unwrap();
    assert!(find(&touching, my_pid).is_none());
    me.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn the_ledger_serializes_to_json_with_every_section() {
    let cluster = start();
    let mut c = connect(&cluster);
    c.batch_execute("CREATE TABLE t (id int)").unwrap();
    let ledger = inspect(&mut c, &InspectOptions::default()).unwrap();
    let json = serde_json::to_value(&ledger).unwrap();
    for key in [
        "server_version",
        "tables",
        "long_transactions",
        "idle_in_transaction",
        "blocked",
        "blockers",
        "invalid_indexes",
    ] {
        assert!(json.get(key).is_some(), "{key} missing: {json}");
    }
    assert_eq!(json["tables"][0]["table"], "t");
}
