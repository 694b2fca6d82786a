//! Running a plan: the negotiation protocol for blocking locks, CONCURRENTLY steps with
//! INVALID-index cleanup, history and resume, one runner at a time.

use std::time::{Duration, Instant};

use pgdiplomat_analysis::model::RelName;
use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::quote_ident;

use crate::connect::{ConnectError, Target};
use crate::history::History;
use crate::plan::{IndexOp, Migration, Step, StepKind};
use crate::retry::RetryPolicy;

/// What the runner tells its user as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    Info(String),
    Warn(String),
    /// Progress of a concurrent index build (`pg_stat_progress_create_index`).
    Progress {
        label: String,
        phase: String,
        done: i64,
        total: i64,
    },
    ProgressDone,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub retry: RetryPolicy,
    pub history_schema: String,
    /// Before a unique concurrent build, look for duplicate keys and stop if there are any.
    pub precheck: bool,
    /// Terminate sessions that are idle in a transaction and block a step for longer than this.
    pub cancel_blockers_after: Option<Duration>,
    /// Wait for another runner instead of refusing.
    pub wait_for_runner: bool,
    /// Report long transactions, INVALID indexes and table sizes before applying.
    pub preflight: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            retry: RetryPolicy::default(),
            history_schema: "pgdiplomat".into(),
            precheck: false,
            cancel_blockers_after: None,
            wait_for_runner: false,
            preflight: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("pgdiplomat apply needs a session-pooled or direct connection; {target} is pooled per transaction (PgBouncer pool_mode=transaction or statement): {evidence}. Session settings such as lock_timeout and the session advisory lock that keeps two runners apart would not hold from one transaction to the next; use a direct URL (the server's own host and port) or pool_mode=session")]
    TransactionPooling { target: String, evidence: String },
    /// Who holds the runner lock, in words.
    #[error("{0}; wait for it to finish, or pass --wait to wait for it")]
    Busy(String),
    #[error("{name} was changed after it was applied (checksum {old}… in the history, {new}… now); migrations must not change once applied")]
    Changed {
        name: String,
        old: String,
        new: String,
    },
    #[error("{name}, step {step} (line {line}): {message}")]
    Failed {
        name: String,
        step: usize,
        line: usize,
        message: String,
    },
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
}

impl From<pgdiplomat_pg::postgres::Error> for ApplyError {
    fn from(e: pgdiplomat_pg::postgres::Error) -> Self {
        ApplyError::Postgres(error_text(&e))
    }
}

pub use crate::connect::error_text;

fn sqlstate(e: &pgdiplomat_pg::postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

/// What happened to each migration.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplySummary {
    pub applied: Vec<String>,
    pub skipped: Vec<String>,
    pub resumed: Vec<String>,
    pub retries: u32,
}

/// A session that blocked one of our statements.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    pub pid: i32,
    pub state: String,
    pub xact_age_secs: f64,
    pub query: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, transaction open {:.1}s): {}",
            self.pid, self.state, self.xact_age_secs, self.query
        )
    }
}

/// The sessions that block backend `pid` right now (`pg_blocking_pids`), as seen from `monitor`.
pub fn blockers_of(
    monitor: &mut Client,
    pid: i32,
) -> Result<Vec<Blocker>, pgdiplomat_pg::postgres::Error> {
    Ok(monitor
        .query(
            "SELECT a.pid, coalesce(a.state, ''), coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8,
                    left(coalesce(a.query, ''), 200)
               FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1))",
            &[&pid],
        )?
        .into_iter()
        .map(|r| Blocker {
            pid: r.get(0),
            state: r.get(1),
            xact_age_secs: r.get(2),
            query: r.get::<_, String>(3).replace('\n', " "),
        })
        .collect())
}

/// Adds newly seen blockers to `into`, updating the ones already known (same pid).
pub fn merge_blockers(into: &mut Vec<Blocker>, seen: Vec<Blocker>) {
    for b in seen {
        match into.iter_mut().find(|x| x.pid == b.pid) {
            Some(x) => *x = b,
            None => into.push(b),
        }
    }
}

struct Watched {
    result: Result<(), pgdiplomat_pg::postgres::Error>,
    blockers: Vec<Blocker>,
}

/// Runs `sql` on `client` while `monitor` records who blocks it and reports index-build
/// progress.
fn execute_watched(
    client: &mut Client,
    monitor: &mut Client,
    pid: i32,
    sql: &str,
    label: &str,
    events: &mut dyn FnMut(Event),
) -> Watched {
    let mut blockers: Vec<Blocker> = Vec::new();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(move || client.batch_execute(sql));
        let mut reported_progress = false;
        while !worker.is_finished() {
            if let Ok(seen) = blockers_of(monitor, pid) {
                merge_blockers(&mut blockers, seen);
            }
            if let Ok(rows) = monitor.query(
                "SELECT phase, coalesce(blocks_done, 0), coalesce(blocks_total, 0), coalesce(tuples_done, 0), coalesce(tuples_total, 0)
                   FROM pg_stat_progress_create_index WHERE pid = $1",
                &[&pid],
            ) {
                if let Some(r) = rows.first() {
                    let (bd, bt, td, tt): (i64, i64, i64, i64) = (r.get(1), r.get(2), r.get(3), r.get(4));
                    let (done, total) = if bt > 0 { (bd, bt) } else { (td, tt) };
                    events(Event::Progress { label: label.to_string(), phase: r.get(0), done, total });
                    reported_progress = true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if reported_progress {
            events(Event::ProgressDone);
        }
        worker.join().unwrap_or_else(|_| client_panic())
    });
    Watched { result, blockers }
}

fn client_panic() -> Result<(), pgdiplomat_pg::postgres::Error> {
    panic!("the statement thread panicked")
}

/// The backend pid of `client`, after making sure each connection keeps its own server backend
/// (a direct connection, or a pooler in session mode). A pooler in transaction or statement
/// mode (PgBouncer) hands a connection's next transaction to whichever server connection is
/// free: our two connections then share a backend (the pooler reuses the last one) or one of
/// them moves between backends (round robin or a busy pool). Simple queries, so that the check
/// itself does not depend on prepared statements surviving.
fn session_backend(
    client: &mut Client,
    monitor: &mut Client,
    target: &str,
) -> Result<i32, ApplyError> {
    fn backend(c: &mut Client) -> Result<i32, ApplyError> {
        use pgdiplomat_pg::postgres::SimpleQueryMessage;
        for m in c.simple_query("SELECT pg_backend_pid()")? {
            if let SimpleQueryMessage::Row(r) = m {
                if let Some(pid) = r.get(0).and_then(|v| v.parse().ok()) {
                    return Ok(pid);
                }
            }
        }
        Err(ApplyError::Postgres(
            "SELECT pg_backend_pid() returned no row".into(),
        ))
    }
    let c1 = backend(client)?;
    let c2 = backend(client)?;
    let m1 = backend(monitor)?;
    let c3 = backend(client)?;
    let m2 = backend(monitor)?;
    let evidence = if c1 == m1 || c3 == m1 || c3 == m2 {
        Some(format!(
            "two of its connections were served by the same server backend (pid {m1})"
        ))
    } else if c1 != c2 || c2 != c3 {
        Some(format!(
            "one connection moved between server backends (pid {c1}, then {c2}, then {c3})"
        ))
    } else if m1 != m2 {
        Some(format!(
            "one connection moved between server backends (pid {m1}, then {m2})"
        ))
    } else {
        None
    };
    match evidence {
        Some(evidence) => Err(ApplyError::TransactionPooling {
            target: target.to_string(),
            evidence,
        }),
        None => Ok(c1),
    }
}

/// How often `--wait` polls for the runner lock.
const RUNNER_LOCK_POLL: Duration = Duration::from_millis(200);

/// Takes the session-level runner lock if it is free (one short statement, no waiting).
fn try_runner_lock(client: &mut Client, key: i64) -> Result<bool, ApplyError> {
    Ok(client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])?
        .get(0))
}

/// The `application_name` of the monitor connection of the runner whose main backend is `pid`:
/// while it exists, the runner is alive (the monitor's backend is idle between samples, so it
/// ends as soon as its client goes away).
fn monitor_name(pid: i32) -> String {
    format!("{MONITOR_NAME_PREFIX}{pid}")
}

const MONITOR_NAME_PREFIX: &str = "pgdiplomat monitor of pid ";

/// Who holds the runner lock, in words. A runner killed during a long statement (typically
/// `CREATE INDEX CONCURRENTLY`) leaves its backend finishing that statement with the lock still
/// held; the server releases it only when the statement ends. That case is told apart from a
/// live runner by the runner's monitor connection, which is gone.
fn runner_lock_holder(client: &mut Client, key: i64) -> Result<String, ApplyError> {
    let row = client.query_opt(
        "SELECT a.pid, coalesce(a.application_name, ''), extract(epoch FROM now() - a.backend_start)::float8,
                coalesce(a.state, ''), left(coalesce(a.query, ''), 200),
                coalesce(extract(epoch FROM now() - a.query_start), 0)::float8,
                EXISTS (SELECT FROM pg_stat_activity m WHERE m.application_name = $2 || a.pid)
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
            AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) AND l.objid::bigint = ($1::bigint & 4294967295)
          LIMIT 1",
        &[&key, &MONITOR_NAME_PREFIX],
    )?;
    let Some(r) = row else {
        return Ok(
            "another pgdiplomat apply is running on this database (its session holds the runner lock)"
                .into(),
        );
    };
    let (pid, app, connected): (i32, String, f64) = (r.get(0), r.get(1), r.get(2));
    let (state, query, running, alive): (String, String, f64, bool) =
        (r.get(3), r.get(4), r.get(5), r.get(6));
    let query = query.split_whitespace().collect::<Vec<_>>().join(" ");
    let active = state == "active" && !query.is_empty();
    if active && !alive {
        let upper = query.to_ascii_uppercase();
        let what = if upper.contains("CONCURRENTLY") && upper.contains("INDEX") {
            "the build"
        } else {
            "the statement"
        };
        return Ok(format!(
            "the runner lock is held by pid {pid}, the backend of an earlier apply whose runner is gone (killed): it is still running `{query}`, started {running:.0}s ago, {what} of that run; the server releases the lock when that statement ends"
        ));
    }
    let doing = if active {
        format!("; running `{query}` for {running:.0}s")
    } else {
        String::new()
    };
    Ok(format!(
        "another pgdiplomat apply is running on this database (pid {pid}, {app}, connected {connected:.0}s ago{doing})"
    ))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Applies migrations in order.
pub struct Runner<'a> {
    client: Client,
    monitor: Client,
    pid: i32,
    history: History,
    opts: ApplyOptions,
    events: &'a mut dyn FnMut(Event),
}

impl<'a> Runner<'a> {
    /// Connects, takes the runner lock and makes sure the history table exists.
    pub fn connect(
        target: &Target,
        opts: ApplyOptions,
        events: &'a mut dyn FnMut(Event),
    ) -> Result<Self, ApplyError> {
        let mut client = target.connect()?;
        let mut monitor = target.connect()?;
        let pid = session_backend(&mut client, &mut monitor, &target.description)?;
        // Names the monitor after the main backend, so that a later runner can tell a live
        // runner from the backend of a killed one (see `runner_lock_holder`).
        monitor.batch_execute(&format!(
            "SET application_name = {}",
            quote_literal(&monitor_name(pid))
        ))?;
        let history = History::new(&opts.history_schema);
        let key = history.lock_key();
        if !try_runner_lock(&mut client, key)? {
            let holder = runner_lock_holder(&mut client, key)?;
            if !opts.wait_for_runner {
                return Err(ApplyError::Busy(holder));
            }
            events(Event::Info(format!("waiting: {holder}")));
            // Poll instead of a blocking pg_advisory_lock(): a statement waiting for the lock
            // holds a snapshot all the while, and a CREATE INDEX CONCURRENTLY of the runner we
            // wait for would wait for that snapshot in turn (a deadlock that aborts the build).
            // Between polls this connection has no transaction and no snapshot open.
            let mut last_report = Instant::now();
            while !try_runner_lock(&mut client, key)? {
                std::thread::sleep(RUNNER_LOCK_POLL);
                if last_report.elapsed() >= Duration::from_secs(30) {
                    let holder = runner_lock_holder(&mut client, key)?;
                    events(Event::Info(format!("still waiting: {holder}")));
                    last_report = Instant::now();
                }
            }
            events(Event::Info("got the runner lock".into()));
        }
        history.ensure(&mut client)?;
        Ok(Runner {
            client,
            monitor,
            pid,
            history,
            opts,
            events,
        })
    }

    /// What the ledger says about the tables the pending migrations touch: their size and dead
    /// rows, sessions holding them (a long or idle transaction will make steps wait), and INVALID
    /// indexes anywhere.
    fn preflight(&mut self, migrations: &[&Migration]) -> Result<(), ApplyError> {
        use crate::inspect::{inspect, sessions_touching, InspectOptions};
        let mut tables: Vec<String> = migrations
            .iter()
            .flat_map(|m| m.steps.iter().flat_map(|s| s.tables.iter().cloned()))
            .collect();
        tables.sort();
        tables.dedup();
        if !tables.is_empty() {
            let ledger = inspect(
                &mut self.client,
                &InspectOptions {
                    tables: tables.clone(),
                    long_transaction_secs: 60.0,
                    top: tables.len(),
                },
            )?;
            for t in &ledger.tables {
                (self.events)(Event::Info(format!(
                    "preflight: {} is {:.1} MB, {} live rows, {} dead rows ({:.0}% dead)",
                    t.table,
                    t.total_bytes as f64 / 1_048_576.0,
                    t.live_tuples,
                    t.dead_tuples,
                    t.dead_ratio * 100.0
                )));
            }
            for s in sessions_touching(&mut self.client, &tables)? {
                let age = s
                    .xact_age_seconds
                    .map(|a| format!("{a:.1}s"))
                    .unwrap_or_else(|| "?".into());
                let state = s.state.clone().unwrap_or_default();
                let msg = format!("preflight: pid {} ({state}, transaction open {age}) holds locks on tables this run changes: {}", s.pid, s.query);
                if state.starts_with("idle in transaction")
                    || s.xact_age_seconds.unwrap_or(0.0) > 60.0
                {
                    (self.events)(Event::Warn(format!(
                        "{msg} — steps that need a blocking lock will wait and retry until it ends"
                    )));
                } else {
                    (self.events)(Event::Info(msg));
                }
            }
        }
        for idx in crate::inspect::invalid_indexes(&mut self.client)? {
            (self.events)(Event::Warn(format!(
                "preflight: INVALID index {} on {} (slows every write; remove with `{}`)",
                idx.index, idx.table, idx.drop_statement
            )));
        }
        Ok(())
    }

    /// Applies every migration not applied yet, resuming a partly applied one.
    pub fn apply(&mut self, migrations: &[Migration]) -> Result<ApplySummary, ApplyError> {
        let mut summary = ApplySummary::default();
        if self.opts.preflight {
            let mut pending = Vec::new();
            for m in migrations {
                match self.history.get(&mut self.client, &m.name)? {
                    Some(r) if r.state == "applied" && r.checksum == m.checksum => {}
                    _ => pending.push(m),
                }
            }
            self.preflight(&pending)?;
        }
        for m in migrations {
            let record = self.history.get(&mut self.client, &m.name)?;
            let mut first_step = 0usize;
            if let Some(r) = &record {
                if r.checksum != m.checksum {
                    if r.state == "applied" || r.steps_done > 0 {
                        return Err(ApplyError::Changed {
                            name: m.name.clone(),
                            old: r.checksum[..12].into(),
                            new: m.checksum[..12].into(),
                        });
                    }
                } else if r.state == "applied" {
                    summary.skipped.push(m.name.clone());
                    continue;
                } else {
                    first_step = (r.steps_done.max(0) as usize).min(m.steps.len());
                    if first_step > 0 {
                        (self.events)(Event::Info(format!(
                            "{}: resuming at step {} of {}",
                            m.name,
                            first_step + 1,
                            m.steps.len()
                        )));
                        summary.resumed.push(m.name.clone());
                    }
                }
            }
            for note in &m.notes {
                (self.events)(Event::Info(format!("{}: {note}", m.name)));
            }
            self.history.start(
                &mut self.client,
                &m.name,
                &m.checksum,
                m.steps.len() as i32,
                first_step > 0,
            )?;
            for (i, step) in m.steps.iter().enumerate().skip(first_step) {
                let first = step
                    .statements
                    .first()
                    .map(|s| s.sql.lines().next().unwrap_or(""))
                    .unwrap_or("");
                let how = match step.kind {
                    StepKind::Concurrent => " (outside a transaction)".to_string(),
                    StepKind::Transaction if step.negotiate => format!(
                        " (lock_timeout {} ms)",
                        self.opts.retry.lock_timeout.as_millis()
                    ),
                    StepKind::Transaction => String::new(),
                    StepKind::Backfill => " (batched backfill)".to_string(),
                };
                (self.events)(Event::Info(format!(
                    "{}: step {}/{}{how}: {first}",
                    m.name,
                    i + 1,
                    m.steps.len()
                )));
                let outcome = match step.kind {
                    StepKind::Transaction => self
                        .transaction_step(m, i, step)
                        .map(|retries| summary.retries += retries),
                    StepKind::Concurrent => self.concurrent_step(m, i, step),
                    StepKind::Backfill => self.backfill_step(m, i, step),
                };
                if let Err(e) = outcome {
                    let msg = e.to_string();
                    let _ = self.client.batch_execute("ROLLBACK");
                    let _ = self.history.fail(&mut self.client, &m.name, &msg);
                    return Err(e);
                }
            }
            self.history.finish(&mut self.client, &m.name)?;
            (self.events)(Event::Info(format!("{}: applied", m.name)));
            summary.applied.push(m.name.clone());
        }
        Ok(summary)
    }

    /// Runs one statement on the main connection while the monitor watches it.
    fn watch(&mut self, sql: &str, label: &str) -> Watched {
        execute_watched(
            &mut self.client,
            &mut self.monitor,
            self.pid,
            sql,
            label,
            self.events,
        )
    }

    fn apply_settings(&mut self, step: &Step) -> Result<(), ApplyError> {
        for s in &step.settings {
            self.client.batch_execute(s)?;
        }
        Ok(())
    }

    /// One transaction, retried while its lock cannot be had within lock_timeout. Returns the
    /// number of retries.
    fn transaction_step(
        &mut self,
        m: &Migration,
        i: usize,
        step: &Step,
    ) -> Result<u32, ApplyError> {
        let policy = self.opts.retry;
        let started = Instant::now();
        let label = format!("{} step {}", m.name, i + 1);
        for attempt in 1..=policy.max_attempts.max(1) {
            self.apply_settings(step)?;
            self.client.batch_execute("BEGIN")?;
            let lock_timeout = if step.negotiate {
                policy.lock_timeout.as_millis().max(1) as u64
            } else {
                0
            };
            self.client.batch_execute(&format!(
                "SET LOCAL lock_timeout = {lock_timeout}; SET LOCAL statement_timeout = 0"
            ))?;
            let mut failure: Option<(pgdiplomat_pg::postgres::Error, usize, Vec<Blocker>)> = None;
            for stmt in &step.statements {
                let w = self.watch(&stmt.sql, &label);
                if let Err(e) = w.result {
                    failure = Some((e, stmt.line, w.blockers));
                    break;
                }
            }
            let Some((err, line, blockers)) = failure else {
                self.history
                    .step_done(&mut self.client, &m.name, i as i32 + 1, attempt as i32)?;
                self.client.batch_execute("COMMIT")?;
                return Ok(attempt - 1);
            };
            self.client.batch_execute("ROLLBACK")?;
            let lock_timeout_hit = sqlstate(&err) == Some("55P03");
            if !(lock_timeout_hit && step.negotiate) {
                return Err(ApplyError::Failed {
                    name: m.name.clone(),
                    step: i + 1,
                    line,
                    message: error_text(&err),
                });
            }
            let who = if blockers.is_empty() {
                "the blocking session ended before it could be seen".to_string()
            } else {
                blockers
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let wait = policy.backoff(attempt);
            let out_of_budget =
                attempt >= policy.max_attempts || started.elapsed() + wait > policy.max_total;
            (self.events)(Event::Warn(format!(
                "{label}: could not get {} within {} ms (attempt {attempt}/{}); blocked by {who}{}",
                step.blocking_locks.join(", "),
                policy.lock_timeout.as_millis(),
                policy.max_attempts,
                if out_of_budget {
                    String::new()
                } else {
                    format!("; retrying in {:.1}s", wait.as_secs_f64())
                }
            )));
            if out_of_budget {
                return Err(ApplyError::Failed {
                    name: m.name.clone(),
                    step: i + 1,
                    line,
                    message: format!(
                        "gave up after {attempt} attempts in {:.1}s: the lock was never free for {} ms; nothing of this step was applied. Last blocker: {who}",
                        started.elapsed().as_secs_f64(),
                        policy.lock_timeout.as_millis()
                    ),
                });
            }
            if let Some(limit) = self.opts.cancel_blockers_after {
                for b in blockers.iter().filter(|b| {
                    b.state.starts_with("idle in transaction")
                        && b.xact_age_secs >= limit.as_secs_f64()
                }) {
                    let ok: bool = self
                        .client
                        .query_one("SELECT pg_terminate_backend($1)", &[&b.pid])?
                        .get(0);
                    (self.events)(Event::Warn(format!(
                        "{label}: terminated blocker {b}: {}",
                        if ok { "done" } else { "it was already gone" }
                    )));
                }
            }
            self.pause_until_unblocked(wait, &blockers);
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Waits out the backoff pause, but retries at once when every transaction that blocked the
    /// last attempt has ended (no point in sitting idle while the lock is free).
    fn pause_until_unblocked(&mut self, pause: Duration, blockers: &[Blocker]) {
        let deadline = Instant::now() + pause;
        let pids: Vec<i32> = blockers.iter().map(|b| b.pid).collect();
        let transactions = |monitor: &mut Client| -> Option<Vec<(i32, String)>> {
            let rows = monitor
                .query(
                    "SELECT pid, coalesce(xact_start::text, '') FROM pg_stat_activity WHERE pid = ANY ($1) AND xact_start IS NOT NULL",
                    &[&pids],
                )
                .ok()?;
            Some(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
        };
        let Some(initial) = (if pids.is_empty() {
            None
        } else {
            transactions(&mut self.monitor)
        }) else {
            std::thread::sleep(pause);
            return;
        };
        while Instant::now() < deadline {
            std::thread::sleep(
                Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())),
            );
            match transactions(&mut self.monitor) {
                Some(now) if !now.iter().any(|t| initial.contains(t)) => {
                    (self.events)(Event::Info(
                        "the blocking transactions ended; retrying now".into(),
                    ));
                    return;
                }
                Some(_) => {}
                None => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    return;
                }
            }
        }
    }

    /// An UPDATE run in primary-key batches: each batch is one short transaction that also
    /// records how far it got, so a killed run continues where it stopped; a pause between
    /// batches leaves room for the application and for replication.
    fn backfill_step(&mut self, m: &Migration, i: usize, step: &Step) -> Result<(), ApplyError> {
        let stmt = &step.statements[0];
        let fail = |message: String| ApplyError::Failed {
            name: m.name.clone(),
            step: i + 1,
            line: stmt.line,
            message,
        };
        let Some((spec, table)) = stmt.backfill.clone() else {
            return Err(fail("not a backfill".into()));
        };
        self.apply_settings(step)?;
        let keys = self.client.query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
            &[&table.quoted()],
        )?;
        let key = match keys.as_slice() {
            [k] if matches!(
                k.get::<_, String>(1).as_str(),
                "bigint" | "integer" | "smallint"
            ) =>
            {
                k.get::<_, String>(0)
            }
            _ => {
                return Err(fail(format!(
                    "a batched backfill needs {table} to have a single-column integer primary key"
                )))
            }
        };
        let k = quote_ident(&key);
        // The UPDATE with `AND key > lo AND key <= hi` added; the bounds are filled in per batch.
        const LO: &str = "987654321987654321";
        const HI: &str = "987654321987654322";
        let template = with_range(&stmt.sql, &format!("{k} > {LO} AND {k} <= {HI}"))
            .ok_or_else(|| fail("cannot add the key range to this UPDATE".into()))?;
        let bounds = self.client.query_one(
            &format!(
                "SELECT min({k})::bigint, max({k})::bigint FROM {}",
                table.quoted()
            ),
            &[],
        )?;
        let (Some(min), Some(max)) = (
            bounds.get::<_, Option<i64>>(0),
            bounds.get::<_, Option<i64>>(1),
        ) else {
            self.history
                .step_done(&mut self.client, &m.name, i as i32 + 1, 1)?;
            return Ok(());
        };
        let step_no = i as i32 + 1;
        let (mut lo, mut total) =
            match self
                .history
                .backfill_position(&mut self.client, &m.name, step_no)?
            {
                Some((last, rows)) => {
                    (self.events)(Event::Info(format!(
                        "{}: backfill resumes after {key} = {last} ({rows} rows done)",
                        m.name
                    )));
                    (last, rows)
                }
                None => (min - 1, 0),
            };
        let label = format!("{} step {}", m.name, i + 1);
        let policy = self.opts.retry;
        while lo < max {
            let hi = lo.saturating_add(spec.batch as i64).min(max);
            let sql = template
                .replace(LO, &lo.to_string())
                .replace(HI, &hi.to_string());
            let mut attempt = 0;
            let rows = loop {
                attempt += 1;
                self.client.batch_execute(&format!(
                    "BEGIN; SET LOCAL lock_timeout = {}",
                    policy.lock_timeout.as_millis().max(1)
                ))?;
                match self.client.execute(sql.as_str(), &[]) {
                    Ok(rows) => {
                        self.history.backfill_done(
                            &mut self.client,
                            &m.name,
                            step_no,
                            hi,
                            rows as i64,
                        )?;
                        self.client.batch_execute("COMMIT")?;
                        break rows as i64;
                    }
                    Err(e) => {
                        self.client.batch_execute("ROLLBACK")?;
                        if sqlstate(&e) != Some("55P03") || attempt >= policy.max_attempts {
                            return Err(fail(format!(
                                "batch {key} in ({lo}, {hi}]: {}",
                                error_text(&e)
                            )));
                        }
                        let wait = policy.backoff(attempt);
                        (self.events)(Event::Warn(format!("{label}: batch {key} in ({lo}, {hi}] waited {} ms for a row lock; retrying in {:.1}s", policy.lock_timeout.as_millis(), wait.as_secs_f64())));
                        std::thread::sleep(wait);
                    }
                }
            };
            total += rows;
            lo = hi;
            (self.events)(Event::Progress {
                label: label.clone(),
                phase: format!("backfill ({total} rows)"),
                done: lo - min + 1,
                total: max - min + 1,
            });
            if spec.pause_ms > 0 && lo < max {
                std::thread::sleep(Duration::from_millis(spec.pause_ms));
            }
        }
        (self.events)(Event::ProgressDone);
        (self.events)(Event::Info(format!(
            "{label}: backfill done, {total} rows updated"
        )));
        self.history
            .step_done(&mut self.client, &m.name, step_no, 1)?;
        Ok(())
    }

    fn index_state(&mut self, index: &RelName) -> Result<Option<bool>, ApplyError> {
        Ok(self
            .client
            .query_opt(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = $1 AND n.nspname = coalesce($2, current_schema())",
                &[&index.name, &index.schema],
            )?
            .map(|r| r.get(0)))
    }

    /// The existing index `index`: its definition, uniqueness, validity and table.
    fn existing_index(&mut self, index: &RelName) -> Result<Option<IndexDefinition>, ApplyError> {
        Ok(self
            .client
            .query_opt(
                "SELECT pg_get_indexdef(i.indexrelid), i.indisunique, i.indisvalid,
                        quote_ident(tn.nspname) || '.' || quote_ident(t.relname)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                  WHERE c.relname = $1 AND n.nspname = coalesce($2, current_schema())",
                &[&index.name, &index.schema],
            )?
            .map(|r| IndexDefinition::new(r.get(0), r.get(1), r.get(2), r.get(3))))
    }

    /// The definition `stmt` (a CREATE INDEX) would give its index, without building anything
    /// on its table: the same statement (not CONCURRENTLY, no IF NOT EXISTS) on an empty
    /// temporary copy of the table's columns (`LIKE` takes ACCESS SHARE only), read with
    /// `pg_get_indexdef` and rolled back.
    fn probe_index(
        &mut self,
        stmt: &crate::plan::PlannedStatement,
        table: &RelName,
    ) -> Result<Result<IndexDefinition, String>, ApplyError> {
        use pg_query::NodeEnum;
        const PROBE_TABLE: &str = "pgdiplomat_index_probe";
        const PROBE_INDEX: &str = "pgdiplomat_index_probe_idx";
        let parsed = pgdiplomat_analysis::parse::parse_sql(&stmt.sql)
            .ok()
            .and_then(|p| p.statements.into_iter().next())
            .and_then(|s| s.node);
        let Some(NodeEnum::IndexStmt(mut i)) = parsed else {
            return Ok(Err("cannot read the CREATE INDEX statement again".into()));
        };
        i.concurrent = false;
        i.if_not_exists = false;
        i.idxname = PROBE_INDEX.into();
        let Some(rel) = i.relation.as_mut() else {
            return Ok(Err("the CREATE INDEX statement names no table".into()));
        };
        rel.catalogname.clear();
        rel.schemaname = "pg_temp".into();
        rel.relname = PROBE_TABLE.into();
        let Some(probe_sql) = pgdiplomat_analysis::parse::deparse_statement(NodeEnum::IndexStmt(i))
        else {
            return Ok(Err(
                "cannot rewrite the CREATE INDEX statement for the probe".into(),
            ));
        };
        let policy = self.opts.retry;
        for attempt in 1..=policy.max_attempts.max(1) {
            self.client.batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = '60s'",
                policy.lock_timeout.as_millis().max(1)
            ))?;
            let result = (|| {
                let t: Option<String> = self
                    .client
                    .query_one(
                        "SELECT (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE c.oid = to_regclass($1))",
                        &[&table.quoted()],
                    )?
                    .get(0);
                self.client.batch_execute(&format!(
                    "CREATE TEMP TABLE {PROBE_TABLE} (LIKE {}); {probe_sql}",
                    table.quoted()
                ))?;
                let r = self.client.query_one(
                    "SELECT pg_get_indexdef(i.indexrelid), i.indisunique, i.indisvalid
                       FROM pg_index i WHERE i.indexrelid = $1::text::regclass",
                    &[&format!("pg_temp.{PROBE_INDEX}")],
                )?;
                Ok::<_, pgdiplomat_pg::postgres::Error>((t, r))
            })();
            self.client.batch_execute("ROLLBACK")?;
            match result {
                Ok((t, r)) => {
                    let Some(t) = t else {
                        return Ok(Err(format!("table {table} does not exist")));
                    };
                    let mut probe =
                        IndexDefinition::new(r.get(0), r.get(1), r.get(2), String::new());
                    probe.table = t;
                    return Ok(Ok(probe));
                }
                Err(e) if sqlstate(&e) == Some("55P03") && attempt < policy.max_attempts => {
                    std::thread::sleep(policy.backoff(attempt));
                }
                Err(e) => return Ok(Err(error_text(&e))),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Why the valid index `index` that exists is not the one `stmt` builds (`None`: it is).
    fn index_difference(
        &mut self,
        stmt: &crate::plan::PlannedStatement,
        index: &RelName,
        table: &RelName,
    ) -> Result<Option<String>, ApplyError> {
        let Some(existing) = self.existing_index(index)? else {
            return Ok(Some(format!(
                "index {index} disappeared while it was being checked"
            )));
        };
        let refuse = |why: String| {
            Some(format!(
                "an index named {index} already exists but {why}; not skipping this step and not recording the migration as applied: drop or rename the existing index, or give the new one another name"
            ))
        };
        let probe = match self.probe_index(stmt, table)? {
            Ok(p) => p,
            Err(e) => {
                return Ok(refuse(format!(
                    "it cannot be compared with this statement's index ({e}); existing: `{}`",
                    existing.definition
                )))
            }
        };
        let would = probe.renamed(&index.name, &probe.table);
        let both = format!(
            "existing: `{}`; this statement builds: `{would}`",
            existing.definition
        );
        if !existing.valid {
            return Ok(refuse(format!("it is INVALID; {both}")));
        }
        if existing.table != probe.table {
            return Ok(refuse(format!(
                "it is on {}, not {}; {both}",
                existing.table, probe.table
            )));
        }
        if existing.unique != probe.unique {
            let (a, b) = if existing.unique {
                ("unique", "not unique")
            } else {
                ("not unique", "unique")
            };
            return Ok(refuse(format!(
                "it is {a} and this statement's index is {b}; {both}"
            )));
        }
        if existing.tail != probe.tail {
            return Ok(refuse(format!("its definition differs; {both}")));
        }
        Ok(None)
    }

    fn drop_invalid(&mut self, index: &RelName) -> Result<(), ApplyError> {
        self.client.batch_execute(&format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}",
            index.quoted()
        ))?;
        Ok(())
    }

    /// Up to five duplicate keys of `columns` in `table`, as text.
    fn duplicates(
        &mut self,
        table: &RelName,
        columns: &[String],
    ) -> Result<Vec<String>, ApplyError> {
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let shown: Vec<String> = cols.iter().map(|c| format!("{c}::text")).collect();
        let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let sql = format!(
            "SELECT concat_ws(', ', {shown}) || ' (' || count(*) || ' rows)' FROM {t} WHERE {nn}
              GROUP BY {cols} HAVING count(*) > 1 ORDER BY count(*) DESC LIMIT 5",
            shown = shown.join(", "),
            t = table.quoted(),
            nn = not_null.join(" AND "),
            cols = cols.join(", ")
        );
        Ok(self
            .client
            .query(&sql, &[])?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// One statement outside any transaction, made safe to repeat.
    fn concurrent_step(&mut self, m: &Migration, i: usize, step: &Step) -> Result<(), ApplyError> {
        let stmt = &step.statements[0];
        let fail = |message: String| ApplyError::Failed {
            name: m.name.clone(),
            step: i + 1,
            line: stmt.line,
            message,
        };
        self.apply_settings(step)?;
        // A timeout would cancel the build halfway and leave an INVALID index behind; the
        // waits of a concurrent build block nobody.
        self.client
            .batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")?;
        let label = format!("{} step {}", m.name, i + 1);
        match &stmt.index_op {
            Some(IndexOp::Create {
                index,
                table,
                unique,
                columns,
                ..
            }) => {
                match self.index_state(index)? {
                    Some(true) => {
                        // Skip only a build this statement did: the same definition on the
                        // same table. An index that merely has the name is somebody else's.
                        if let Some(difference) = self.index_difference(stmt, index, table)? {
                            return Err(fail(difference));
                        }
                        (self.events)(Event::Info(format!("{label}: index {index} already exists and is valid, with the definition this statement builds (an earlier run built it); skipping")));
                        self.history
                            .step_done(&mut self.client, &m.name, i as i32 + 1, 1)?;
                        return Ok(());
                    }
                    Some(false) => {
                        (self.events)(Event::Warn(format!("{label}: dropping the INVALID index {index} left by an earlier failed build")));
                        self.drop_invalid(index)?;
                    }
                    None => {}
                }
                if *unique && self.opts.precheck {
                    let dups = self.duplicates(table, columns)?;
                    if !dups.is_empty() {
                        return Err(fail(format!(
                            "precheck: {table} has duplicate values in ({}), so the unique index cannot be built: {}",
                            columns.join(", "),
                            dups.join("; ")
                        )));
                    }
                }
                let w = self.watch(&stmt.sql, &label);
                if let Err(e) = w.result {
                    let mut message = error_text(&e);
                    if self.index_state(index)? == Some(false) {
                        self.drop_invalid(index)?;
                        message
                            .push_str(&format!("; the INVALID index {index} it left was dropped"));
                    }
                    if *unique && sqlstate(&e) == Some("23505") {
                        let dups = self.duplicates(table, columns)?;
                        if !dups.is_empty() {
                            message.push_str(&format!(
                                "; duplicate keys in {table} ({}): {}",
                                columns.join(", "),
                                dups.join("; ")
                            ));
                        }
                    }
                    return Err(fail(message));
                }
            }
            Some(IndexOp::Drop { index }) => {
                if self.index_state(index)?.is_none() {
                    (self.events)(Event::Info(format!(
                        "{label}: index {index} is already gone; skipping"
                    )));
                } else {
                    let w = self.watch(&stmt.sql, &label);
                    w.result.map_err(|e| fail(error_text(&e)))?;
                }
            }
            other => {
                let w = self.watch(&stmt.sql, &label);
                if let Err(e) = w.result {
                    let mut message = error_text(&e);
                    if let Some(IndexOp::Reindex { .. }) = other {
                        // REINDEX CONCURRENTLY leaves `<index>_ccnew` behind when it fails.
                        let leftovers: Vec<String> = self
                            .client
                            .query(
                                "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i
                                   JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE NOT i.indisvalid AND c.relname ~ '_ccnew[0-9]*$'",
                                &[],
                            )?
                            .into_iter()
                            .map(|r| r.get(0))
                            .collect();
                        for l in &leftovers {
                            self.client
                                .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {l}"))?;
                        }
                        if !leftovers.is_empty() {
                            message.push_str(&format!(
                                "; dropped the INVALID leftovers {}",
                                leftovers.join(", ")
                            ));
                        }
                    }
                    return Err(fail(message));
                }
            }
        }
        self.history
            .step_done(&mut self.client, &m.name, i as i32 + 1, 1)?;
        Ok(())
    }
}

/// An index as `pg_get_indexdef` shows it, split into what names it and what it is.
#[derive(Debug, Clone, PartialEq)]
struct IndexDefinition {
    /// `CREATE [UNIQUE] INDEX name ON schema.table USING ...`.
    definition: String,
    unique: bool,
    valid: bool,
    /// The table, schema-qualified and quoted.
    table: String,
    /// From `USING` on: method, keys, INCLUDE, NULLS NOT DISTINCT, WITH, WHERE.
    tail: String,
}

impl IndexDefinition {
    fn new(definition: String, unique: bool, valid: bool, table: String) -> Self {
        let tail = index_tail(&definition, &table);
        IndexDefinition {
            definition,
            unique,
            valid,
            table,
            tail,
        }
    }

    /// The definition with another index name and table.
    fn renamed(&self, index: &str, table: &str) -> String {
        let unique = if self.unique { "UNIQUE " } else { "" };
        let tail = index_tail(&self.definition, "");
        format!(
            "CREATE {unique}INDEX {} ON {table} {tail}",
            pgdiplomat_analysis::model::quote_ident(index)
        )
    }
}

/// The part of `pg_get_indexdef` output from ` USING ` on (after ` ON [ONLY] <table>` when
/// `table` is known, so that a name containing ` USING ` cannot confuse it).
fn index_tail(definition: &str, table: &str) -> String {
    if !table.is_empty() {
        for marker in [
            format!(" ON {table} USING "),
            format!(" ON ONLY {table} USING "),
        ] {
            if let Some(at) = definition.find(&marker) {
                return definition[at + marker.len() - "USING ".len()..].to_string();
            }
        }
    }
    match definition.find(" USING ") {
        Some(at) => definition[at + 1..].to_string(),
        None => definition.to_string(),
    }
}

/// `update` with `AND <range>` added to its WHERE clause (or as the WHERE clause).
fn with_range(update: &str, range: &str) -> Option<String> {
    use pg_query::NodeEnum;
    let parsed = pgdiplomat_analysis::parse::parse_sql(update).ok()?;
    let Some(NodeEnum::UpdateStmt(mut u)) = parsed.statements.into_iter().next()?.node else {
        return None;
    };
    let cond = pgdiplomat_analysis::parse::parse_sql(&format!("SELECT 1 WHERE {range}")).ok()?;
    let Some(NodeEnum::SelectStmt(sel)) = cond.statements.into_iter().next()?.node else {
        return None;
    };
    let range_node = *sel.where_clause?;
    u.where_clause = Some(Box::new(match u.where_clause.take() {
        None => range_node,
        Some(orig) => pg_query::protobuf::Node {
            node: Some(NodeEnum::BoolExpr(Box::new(pg_query::protobuf::BoolExpr {
                boolop: pg_query::protobuf::BoolExprType::AndExpr as i32,
                args: vec![*orig, range_node],
                ..Default::default()
            }))),
        },
    }));
    NodeEnum::UpdateStmt(u).deparse(Default::default()).ok()
}
