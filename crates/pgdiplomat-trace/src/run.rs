//! Running one statement on a live server and observing it.
//!
//! Inside a transaction the statement's own backend reads `pg_locks`, `pg_class` and
//! `pg_stat_xact_user_tables` right before and right after it. Statements that cannot run in a
//! transaction (the CONCURRENTLY forms, VACUUM) run in autocommit on their connection while a
//! second connection samples `pg_locks`, `pg_stat_activity` and
//! `pg_stat_progress_create_index` for that backend until the statement ends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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
    let before = snapshot_relations(client)?;
    let locks_before: BTreeSet<ObservedLock> =
        locks_of(client, pid, &before.by_oid)?.into_iter().collect();
    let scans_before = scan_counters(client, true)?;
    let start = Instant::now();
    let result = client.batch_execute(sql);
    let duration = start.elapsed();
    if let Err(e) = result {
        return Ok(Run {
            duration,
            error: Some(error_text(&e)),
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
    let pid = backend_pid(client)?;
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
            phases,
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
