//! Running one statement on a live server and observing it.
//!
//! Inside a transaction the statement's own backend reads `pg_locks`, `pg_class` and
//! `pg_stat_xact_user_tables` right before and right after it. Statements that cannot run in a
//! transaction (the CONCURRENTLY forms, VACUUM) run in autocommit on their connection while a
//! second connection samples `pg_locks`, `pg_stat_activity` and
//! `pg_stat_progress_create_index` for that backend until the statement ends.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use pgdiplomat_apply::execute::{blockers_of, merge_blockers, Blocker as BlockingSession};
use pgdiplomat_apply::retry::RetryPolicy;
use pgdiplomat_locks::LockMode;
use pgdiplomat_pg::postgres::Client;

use crate::compare::Observation;
use crate::observe::{
    locks_of, rewritten, scan_counters, scanned, snapshot_relations, ObservedLock, PgError,
};

/// The outcome of running one statement.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub observation: Observation,
    pub duration: Duration,
    pub error: Option<String>,
    /// Phases seen in `pg_stat_progress_create_index` and wait events in `pg_stat_activity`.
    pub phases: Vec<String>,
    /// The SQLSTATE of a failed statement.
    pub sqlstate: Option<String>,
    /// Sessions seen blocking the statement (only when it ran watched).
    pub blockers: Vec<BlockingSession>,
}

pub fn backend_pid(client: &mut Client) -> Result<i32, PgError> {
    Ok(client.query_one("SELECT pg_backend_pid()", &[])?.get(0))
}

/// The server's error message (with detail) for a failed statement.
pub fn error_text(e: &PgError) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {} ({d})", db.code().code(), db.message()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        None => e.to_string(),
    }
}

/// Runs `sql` inside the transaction `client` is in, observing it from the same backend.
pub fn run_in_transaction(client: &mut Client, pid: i32, sql: &str) -> Result<Run, PgError> {
    observe_in_transaction(client, pid, sql, None)
}

/// Like [`run_in_transaction`], while `monitor` (a second connection) records the sessions
/// that block the statement (`Run::blockers`, `Run::sqlstate`): for negotiating locks.
pub fn run_in_transaction_watched(
    client: &mut Client,
    monitor: &mut Client,
    pid: i32,
    sql: &str,
) -> Result<Run, PgError> {
    observe_in_transaction(client, pid, sql, Some(monitor))
}

fn observe_in_transaction(
    client: &mut Client,
    pid: i32,
    sql: &str,
    monitor: Option<&mut Client>,
) -> Result<Run, PgError> {
    let before = snapshot_relations(client)?;
    let locks_before: BTreeSet<ObservedLock> =
        locks_of(client, pid, &before.by_oid)?.into_iter().collect();
    let scans_before = scan_counters(client, true)?;
    let start = Instant::now();
    let mut blockers: Vec<BlockingSession> = Vec::new();
    let (result, client) = match monitor {
        None => (client.batch_execute(sql), client),
        Some(monitor) => std::thread::scope(|scope| {
            let worker = scope.spawn(move || (client.batch_execute(sql), client));
            while !worker.is_finished() {
                if let Ok(seen) = blockers_of(monitor, pid) {
                    merge_blockers(&mut blockers, seen);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            worker.join().expect("statement thread")
        }),
    };
    let duration = start.elapsed();
    if let Err(e) = result {
        return Ok(Run {
            duration,
            error: Some(error_text(&e)),
            sqlstate: e.code().map(|c| c.code().to_string()),
            blockers,
            ..Default::default()
        });
    }
    let after = snapshot_relations(client)?;
    // Name relations as they were before the statement (a rename keeps the name it used).
    let mut names = after.by_oid.clone();
    names.extend(before.by_oid.iter().map(|(k, v)| (*k, v.clone())));
    let locks = locks_of(client, pid, &names)?
        .into_iter()
        .filter(|l| !locks_before.contains(l))
        .collect();
    let scans_after = scan_counters(client, true)?;
    let observation = Observation {
        rewritten: rewritten(&before, &after),
        scanned: scanned(&scans_before, &scans_after),
        before,
        after,
        locks,
        scans_observable: true,
        sampled: false,
        held_in_place: false,
        phases: Vec::new(),
        held_before: locks_before.into_iter().collect(),
    };
    Ok(Run {
        observation,
        duration,
        error: None,
        phases: Vec::new(),
        sqlstate: None,
        blockers,
    })
}

/// A connection holding a transaction open, which makes a concurrent statement wait (so its
/// locks can be sampled); rolled back after `hold`.
pub struct Blocker {
    pub client: Client,
    pub hold: Duration,
}

/// Runs `sql` in autocommit on `client` while `monitor` samples its backend.
pub fn run_concurrently(
    client: &mut Client,
    monitor: &mut Client,
    sql: &str,
    server_major: u32,
    blockers: Vec<Blocker>,
) -> Result<Run, PgError> {
    sample_concurrently(client, monitor, sql, server_major, blockers, false)
}

/// [`run_concurrently`]; with `watch_blockers`, also records who blocks the statement.
fn sample_concurrently(
    client: &mut Client,
    monitor: &mut Client,
    sql: &str,
    server_major: u32,
    blockers: Vec<Blocker>,
    watch_blockers: bool,
) -> Result<Run, PgError> {
    let pid = backend_pid(client)?;
    let mut blocked_by: Vec<BlockingSession> = Vec::new();
    let held_in_place = !blockers.is_empty();
    flush_stats(client, server_major);
    let before = snapshot_relations(monitor)?;
    monitor.batch_execute("SELECT pg_stat_clear_snapshot()")?;
    let scans_before = scan_counters(monitor, false)?;
    let names = before.by_oid.clone();
    let mut seen: BTreeSet<ObservedLock> = BTreeSet::new();
    let mut phases: Vec<String> = Vec::new();
    let start = Instant::now();
    let (result, duration, client) = std::thread::scope(|scope| -> Result<_, PgError> {
        let worker = scope.spawn(move || {
            let r = client.batch_execute(sql);
            (r, start.elapsed(), client)
        });
        let mut blockers: Vec<Option<Blocker>> = blockers.into_iter().map(Some).collect();
        while !worker.is_finished() {
            for l in locks_of(monitor, pid, &names)? {
                seen.insert(l);
            }
            if watch_blockers {
                if let Ok(now) = blockers_of(monitor, pid) {
                    merge_blockers(&mut blocked_by, now);
                }
            }
            let progress = monitor
                .query(
                    "SELECT phase FROM pg_stat_progress_create_index WHERE pid = $1
                     UNION ALL SELECT phase FROM pg_stat_progress_vacuum WHERE pid = $1
                     UNION ALL SELECT phase FROM pg_stat_progress_cluster WHERE pid = $1",
                    &[&pid],
                )?
                .into_iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>();
            let waits = monitor
                .query(
                    "SELECT wait_event_type || ':' || wait_event FROM pg_stat_activity
                      WHERE pid = $1 AND state = 'active' AND wait_event IS NOT NULL
                        AND wait_event_type NOT IN ('Client', 'Activity')",
                    &[&pid],
                )?
                .into_iter()
                .map(|r| format!("waiting on {}", r.get::<_, String>(0)));
            for p in progress.into_iter().chain(waits) {
                if phases.last() != Some(&p) && !phases.contains(&p) {
                    phases.push(p);
                }
            }
            for slot in blockers.iter_mut() {
                if slot.as_ref().is_some_and(|b| start.elapsed() >= b.hold) {
                    if let Some(mut b) = slot.take() {
                        let _ = b.client.batch_execute("ROLLBACK");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (r, d, client) = worker.join().expect("statement thread");
        Ok((r, d, client))
    })?;
    if let Err(e) = result {
        return Ok(Run {
            duration,
            error: Some(error_text(&e)),
            sqlstate: e.code().map(|c| c.code().to_string()),
            phases,
            blockers: blocked_by,
            ..Default::default()
        });
    }
    let after = snapshot_relations(monitor)?;
    flush_stats(client, server_major);
    monitor.batch_execute("SELECT pg_stat_clear_snapshot()")?;
    let scans_after = scan_counters(monitor, false)?;
    let observation = Observation {
        rewritten: rewritten(&before, &after),
        scanned: scanned(&scans_before, &scans_after),
        before,
        after,
        locks: seen.into_iter().collect(),
        scans_observable: true,
        sampled: true,
        held_in_place,
        phases: phases.clone(),
        held_before: Vec::new(),
    };
    Ok(Run {
        observation,
        duration,
        error: None,
        phases,
        sqlstate: None,
        blockers: Vec::new(),
    })
}

/// Makes a backend's pending scan counters visible to other sessions: PostgreSQL 15+ flushes
/// them on request; older versions send them to the collector within about half a second.
fn flush_stats(client: &mut Client, server_major: u32) {
    if server_major >= 15 {
        let _ = client.batch_execute("SELECT pg_stat_force_next_flush()");
        let _ = client.batch_execute("SELECT 1");
    } else {
        // Before 15 a backend sends its counters when it goes idle, at most every 500 ms, and
        // the collector publishes them shortly after: wait out the interval, go idle again.
        std::thread::sleep(Duration::from_millis(600));
        let _ = client.batch_execute("SELECT 1");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Locks that block the application's writes (or reads) held by this backend on relations
/// that existed before the traced transaction: `relation mode` pairs, for messages.
fn locks_blocking_the_application(
    client: &mut Client,
    created: &HashSet<u32>,
) -> Result<Vec<String>, PgError> {
    Ok(client
        .query(
            "SELECT l.relation, c.relname::text, l.mode
               FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation'
              ORDER BY 2",
            &[],
        )?
        .into_iter()
        .filter(|r| !created.contains(&r.get::<_, u32>(0)))
        .filter_map(|r| {
            let mode = LockMode::parse(&r.get::<_, String>(2))?;
            mode.blocks_writes()
                .then(|| format!("{} on {}", mode.sql_name(), r.get::<_, String>(1)))
        })
        .collect())
}

/// Runs `sql` inside the transaction `client` is in, negotiating for its locks as `apply`
/// does: in a savepoint under `SET LOCAL lock_timeout`, and when the lock is not free in time
/// (55P03) rolled back to the savepoint — so nothing queues behind it for longer than the
/// timeout — and retried after a jittered, growing pause, within the policy's attempts and time
/// budget. It is not retried while the transaction already holds a lock that blocks the
/// application (from an earlier statement of the file): waiting would keep that lock longer.
///
/// Returns the run and, when it gave up, why (the run's error is then the lock timeout).
/// `created`: relations created earlier in this transaction (nobody else can wait for them).
pub fn run_negotiated(
    client: &mut Client,
    monitor: &mut Client,
    pid: i32,
    sql: &str,
    policy: &RetryPolicy,
    created: &HashSet<u32>,
) -> Result<(Run, Option<String>), PgError> {
    let started = Instant::now();
    let previous: String = client
        .query_one("SELECT current_setting('lock_timeout')", &[])?
        .get(0);
    let timeout_ms = policy.lock_timeout.as_millis().max(1);
    let mut blockers: Vec<BlockingSession> = Vec::new();
    for attempt in 1..=policy.max_attempts.max(1) {
        client.batch_execute(&format!(
            "SAVEPOINT pgdiplomat_stmt; SET LOCAL lock_timeout = {timeout_ms}"
        ))?;
        let mut run = run_in_transaction_watched(client, monitor, pid, sql)?;
        if run.error.is_none() {
            client.batch_execute("RELEASE SAVEPOINT pgdiplomat_stmt")?;
            client.execute("SELECT set_config('lock_timeout', $1, true)", &[&previous])?;
            return Ok((run, None));
        }
        client.batch_execute(
            "ROLLBACK TO SAVEPOINT pgdiplomat_stmt; RELEASE SAVEPOINT pgdiplomat_stmt",
        )?;
        if run.sqlstate.as_deref() != Some("55P03") {
            return Ok((run, None));
        }
        merge_blockers(&mut blockers, std::mem::take(&mut run.blockers));
        let wait = policy.backoff(attempt);
        let held = locks_blocking_the_application(client, created)?;
        let give_up = if !held.is_empty() {
            Some(format!(
                "; not retried: this transaction already holds {} (from an earlier statement), and waiting would block the application",
                held.join(", ")
            ))
        } else if attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_total {
            Some(String::new())
        } else {
            None
        };
        if let Some(tail) = give_up {
            let message = gave_up(timeout_ms, attempt, started, &blockers, &tail);
            run.blockers = blockers;
            return Ok((run, Some(message)));
        }
        std::thread::sleep(wait);
    }
    unreachable!("the loop returns on its last attempt")
}

/// "could not get the lock within 100 ms (5 attempts in 3.1s), blocked by pid N (...)".
fn gave_up(
    timeout_ms: u128,
    attempt: u32,
    started: Instant,
    blockers: &[BlockingSession],
    tail: &str,
) -> String {
    let who = if blockers.is_empty() {
        "a session that ended before it could be seen".to_string()
    } else {
        blockers
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "could not get the lock within {timeout_ms} ms ({attempt} attempt{} in {:.1}s), blocked by {who}{tail}",
        if attempt == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
    )
}

/// A statement that must run outside a transaction (VACUUM FULL, a DO block, ...) on a user's
/// database: under a session `lock_timeout`, so it never queues the application behind it,
/// sampled like [`run_concurrently`]. With `retry` (the statement did nothing when its lock
/// timed out), it is retried like [`run_negotiated`]; a DO block is not (it may have
/// committed part of its work). The previous `lock_timeout` is restored after each attempt.
pub fn run_concurrently_negotiated(
    client: &mut Client,
    monitor: &mut Client,
    sql: &str,
    server_major: u32,
    policy: &RetryPolicy,
    retry: bool,
) -> Result<(Run, Option<String>), PgError> {
    let started = Instant::now();
    let previous: String = client
        .query_one("SELECT current_setting('lock_timeout')", &[])?
        .get(0);
    let timeout_ms = policy.lock_timeout.as_millis().max(1);
    let mut blockers: Vec<BlockingSession> = Vec::new();
    for attempt in 1..=policy.max_attempts.max(1) {
        client.batch_execute(&format!("SET lock_timeout = {timeout_ms}"))?;
        let result = sample_concurrently(client, monitor, sql, server_major, Vec::new(), true);
        client.execute("SELECT set_config('lock_timeout', $1, false)", &[&previous])?;
        let mut run = result?;
        if run.sqlstate.as_deref() != Some("55P03") {
            return Ok((run, None));
        }
        merge_blockers(&mut blockers, std::mem::take(&mut run.blockers));
        let wait = policy.backoff(attempt);
        if !retry {
            let message = gave_up(
                timeout_ms,
                attempt,
                started,
                &blockers,
                "; not retried: a DO block may have committed part of its work",
            );
            return Ok((run, Some(message)));
        }
        if attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_total {
            let message = gave_up(timeout_ms, attempt, started, &blockers, "");
            run.blockers = blockers;
            return Ok((run, Some(message)));
        }
        std::thread::sleep(wait);
    }
    unreachable!("the loop returns on its last attempt")
}
