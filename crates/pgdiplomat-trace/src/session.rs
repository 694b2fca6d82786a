//! Tracing migration files: each statement runs on the server as the migration tool would run
//! it, and is observed and compared with the model.

use std::collections::HashSet;

use pgdiplomat_analysis::analyze::{AnalysisOptions, Analyzer};
use pgdiplomat_analysis::model::StatementKind;
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::source::SourceFile;
use pgdiplomat_locks::TransactionUse;
use pgdiplomat_pg::postgres::Client;
use serde::Serialize;

use crate::compare::{check, Prediction};
use crate::escape::escapes_rollback;
use crate::observe::{created, dropped, strongest, PgError};
use crate::run::{
    backend_pid, run_concurrently, run_concurrently_negotiated, run_in_transaction, run_negotiated,
    Run,
};
use crate::seed::{seed_empty_tables, SeededTable};
use pgdiplomat_apply::retry::RetryPolicy;

/// How files are run.
#[derive(Debug, Clone, Copy)]
pub struct TraceOptions {
    /// Run each file inside one transaction that is rolled back at its end (for a real
    /// database). CONCURRENTLY statements are then skipped: they cannot run in a transaction.
    pub rollback: bool,
    /// Fill tables that exist before each file (and have no rows) with this many rows. The rows
    /// are committed (seeding runs before a file's rolled-back transaction): not for a user's
    /// database unless its changes are to be kept (the CLI refuses it there without --commit).
    pub seed_rows: Option<u64>,
    /// The server's major version (selects the lock-table rows compared against).
    pub server_major: u32,
    /// On a user's database: negotiate for locks as `apply` does (statements in a transaction
    /// run under this policy's `lock_timeout`, are retried after a lock timeout and finally
    /// skipped, never waiting unbounded). `None` on the throwaway server.
    pub negotiate: Option<RetryPolicy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockEntry {
    pub relation: String,
    pub mode: String,
    pub granted: bool,
}

/// What happened to one statement.
#[derive(Debug, Clone, Serialize)]
pub struct StatementTrace {
    pub line: usize,
    pub column: usize,
    pub sql: String,
    /// `ran`, `error`, `skipped`, or `control` (BEGIN/COMMIT/ROLLBACK, run but not observed).
    pub status: &'static str,
    pub message: Option<String>,
    /// Skipped because its lock was not free within the lock timeout (after the retries):
    /// the statement was not traced, which counts as a failure.
    pub lock_not_free: bool,
    /// Ran outside a transaction while a second connection sampled its locks.
    pub sampled: bool,
    pub duration_ms: f64,
    /// Strongest lock per relation the statement took (new to its transaction).
    pub locks: Vec<LockEntry>,
    pub rewritten: Vec<String>,
    pub scanned: Vec<(String, i64)>,
    pub created: Vec<String>,
    pub dropped: Vec<String>,
    pub phases: Vec<String>,
    /// The model's statement forms for this statement.
    pub model: Vec<&'static str>,
    /// Differences between what happened and what the model predicts (bugs in the model).
    pub disagreements: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileTrace {
    pub file: String,
    pub seeded: Vec<SeededTable>,
    /// A syntax error stops the file before anything runs.
    pub error: Option<String>,
    pub statements: Vec<StatementTrace>,
}

impl FileTrace {
    pub fn disagreements(&self) -> usize {
        self.statements.iter().map(|s| s.disagreements.len()).sum()
    }
    pub fn errors(&self) -> usize {
        self.statements
            .iter()
            .filter(|s| s.status == "error")
            .count()
            + usize::from(self.error.is_some())
    }
    /// Statements skipped because their lock was not free in time (not traced).
    pub fn lock_not_free(&self) -> usize {
        self.statements.iter().filter(|s| s.lock_not_free).count()
    }
}

/// Runs and observes every file in order, on `client` (with `monitor`, a second connection to
/// the same database, for statements that run outside transactions).
pub fn trace_files(
    client: &mut Client,
    monitor: &mut Client,
    sources: &[SourceFile],
    opts: TraceOptions,
) -> Result<Vec<FileTrace>, PgError> {
    let pid = backend_pid(client)?;
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: opts.server_major.clamp(13, 18),
        assume_in_transaction: opts.rollback,
    });
    // Predictions know the database's existing columns, constraints and indexes.
    pgdiplomat_catalog::load_schema(client, &mut analyzer.schema)?;
    let mut seeded_already = Vec::new();
    let mut out = Vec::new();
    for source in sources {
        let mut file = FileTrace {
            file: source.name.clone(),
            seeded: Vec::new(),
            error: None,
            statements: Vec::new(),
        };
        let parsed = match parse_sql(&source.text) {
            Ok(p) => p,
            Err(e) => {
                let lc = source.line_col(e.offset);
                file.error = Some(format!(
                    "{}:{}:{}: {}",
                    source.name, lc.line, lc.column, e.message
                ));
                out.push(file);
                continue;
            }
        };
        if let Some(n) = opts.seed_rows {
            file.seeded = seed_empty_tables(client, n, &mut seeded_already)?;
        }
        let analysis = analyzer.analyze_file(&parsed);
        if opts.rollback {
            client.batch_execute("BEGIN")?;
        }
        // Relations created in this file's rolled-back transaction (they vanish with it).
        let mut created_here: HashSet<u32> = HashSet::new();
        let mut in_txn = false;
        let mut aborted = false;
        for (stmt, analyzed) in parsed.statements.iter().zip(&analysis.statements) {
            let sql = source.slice(&stmt.span).to_string();
            let lc = source.line_col(stmt.span.start);
            let mut trace = StatementTrace {
                line: lc.line,
                column: lc.column,
                sql: sql.clone(),
                status: "ran",
                message: None,
                lock_not_free: false,
                sampled: false,
                duration_ms: 0.0,
                locks: Vec::new(),
                rewritten: Vec::new(),
                scanned: Vec::new(),
                created: Vec::new(),
                dropped: Vec::new(),
                phases: Vec::new(),
                model: analyzed
                    .effects
                    .iter()
                    .filter_map(|e| e.fact.map(|f| f.title))
                    .collect(),
                disagreements: Vec::new(),
            };
            // CONCURRENTLY forms, and DO blocks (they may COMMIT, e.g. a batched backfill), run
            // outside a transaction, as psql would run them.
            let forbidden_in_txn = analyzed.effects.iter().any(|e| {
                e.fact
                    .is_some_and(|f| f.transaction == TransactionUse::Forbidden)
            }) || matches!(stmt.node, Some(pg_query::NodeEnum::DoStmt(_)));
            let txn_control = matches!(
                analyzed.kind,
                StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback
            );
            // `SET lock_timeout` and the like take no lock: no need to negotiate.
            let policy = opts
                .negotiate
                .filter(|_| !matches!(analyzed.kind, StatementKind::SetTimeout { .. }));
            let escapes = if opts.rollback && !txn_control && !forbidden_in_txn {
                escapes_rollback(client, stmt.node.as_ref(), &sql, &created_here)?
            } else {
                None
            };
            let run: Option<Run> = if opts.rollback && txn_control {
                trace.status = "skipped";
                trace.message = Some(
                    "transaction control is replaced by the file's rolled-back transaction".into(),
                );
                None
            } else if opts.rollback && forbidden_in_txn {
                trace.status = "skipped";
                trace.message = Some("cannot run inside the rolled-back transaction; use --commit or the embedded server".into());
                None
            } else if let Some(why) = escapes {
                trace.status = "skipped";
                trace.message = Some(format!(
                    "{why}; not run, since this trace must leave the database as it was (use --commit or the embedded server)"
                ));
                None
            } else if txn_control {
                trace.status = "control";
                let sql = match analyzed.kind {
                    StatementKind::Begin => {
                        in_txn = true;
                        sql.clone()
                    }
                    _ => {
                        in_txn = false;
                        if std::mem::take(&mut aborted) {
                            "ROLLBACK".to_string()
                        } else {
                            sql.clone()
                        }
                    }
                };
                if let Err(e) = client.batch_execute(&sql) {
                    trace.status = "error";
                    trace.message = Some(crate::run::error_text(&e));
                }
                None
            } else if aborted {
                trace.status = "skipped";
                trace.message = Some("the transaction was aborted by an earlier error".into());
                None
            } else if forbidden_in_txn && !in_txn {
                trace.sampled = true;
                // On a user's database: a DO block may take any lock, VACUUM FULL and the like
                // take one that blocks the application; neither may wait unbounded. (The
                // CONCURRENTLY forms wait without blocking reads or writes, as in apply.)
                let is_do = matches!(stmt.node, Some(pg_query::NodeEnum::DoStmt(_)));
                let blocks_app = analyzed
                    .effects
                    .iter()
                    .any(|e| e.locks_on_existing().any(|l| l.mode.blocks_writes()));
                match &policy {
                    Some(policy) if is_do || blocks_app => {
                        let (run, gave_up) = run_concurrently_negotiated(
                            client,
                            monitor,
                            &sql,
                            opts.server_major,
                            policy,
                            !is_do,
                        )?;
                        match gave_up {
                            Some(why) => {
                                trace.status = "skipped";
                                trace.lock_not_free = true;
                                trace.duration_ms = run.duration.as_secs_f64() * 1000.0;
                                trace.message = Some(format!("{why}; not traced"));
                                None
                            }
                            None => Some(run),
                        }
                    }
                    _ => Some(run_concurrently(
                        client,
                        monitor,
                        &sql,
                        opts.server_major,
                        Vec::new(),
                    )?),
                }
            } else if let Some(policy) = &policy {
                let own_txn = !(in_txn || opts.rollback);
                if own_txn {
                    client.batch_execute("BEGIN")?;
                }
                let (run, gave_up) =
                    run_negotiated(client, monitor, pid, &sql, policy, &created_here)?;
                if own_txn {
                    client.batch_execute(if run.error.is_some() {
                        "ROLLBACK"
                    } else {
                        "COMMIT"
                    })?;
                }
                match gave_up {
                    Some(why) => {
                        trace.status = "skipped";
                        trace.lock_not_free = true;
                        trace.duration_ms = run.duration.as_secs_f64() * 1000.0;
                        trace.message = Some(format!("{why}; not traced"));
                        if in_txn {
                            // The rest of the file's transaction would run without it.
                            aborted = true;
                        }
                        None
                    }
                    None => Some(run),
                }
            } else if in_txn || opts.rollback {
                if opts.rollback {
                    client.batch_execute("SAVEPOINT pgdiplomat_stmt")?;
                }
                let run = run_in_transaction(client, pid, &sql)?;
                if opts.rollback {
                    if run.error.is_some() {
                        client.batch_execute("ROLLBACK TO SAVEPOINT pgdiplomat_stmt")?;
                    } else {
                        client.batch_execute("RELEASE SAVEPOINT pgdiplomat_stmt")?;
                    }
                }
                Some(run)
            } else {
                client.batch_execute("BEGIN")?;
                let run = run_in_transaction(client, pid, &sql)?;
                client.batch_execute(if run.error.is_some() {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                })?;
                Some(run)
            };
            if let Some(run) = run {
                trace.duration_ms = run.duration.as_secs_f64() * 1000.0;
                trace.phases = run.phases.clone();
                if let Some(e) = &run.error {
                    trace.status = "error";
                    trace.message = Some(e.clone());
                    if in_txn {
                        aborted = true;
                    }
                } else {
                    let obs = &run.observation;
                    if opts.rollback {
                        created_here.extend(
                            obs.after
                                .by_oid
                                .keys()
                                .filter(|oid| !obs.before.by_oid.contains_key(oid)),
                        );
                    }
                    trace.locks = strongest(&obs.locks)
                        .into_iter()
                        .map(|(relation, mode)| LockEntry {
                            granted: obs.locks.iter().any(|l| {
                                l.relation == relation && l.lock_mode() == Some(mode) && l.granted
                            }),
                            relation,
                            mode: mode.sql_name().to_string(),
                        })
                        .collect();
                    trace.rewritten = obs.rewritten.clone();
                    trace.scanned = obs.scanned.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    trace.created = created(&obs.before, &obs.after);
                    trace.dropped = dropped(&obs.before, &obs.after);
                    let mut prediction = Prediction::default();
                    for e in &analyzed.effects {
                        if let Some(fact) = e.fact {
                            if fact.unsupported.is_some() {
                                trace.disagreements.push(format!(
                                    "the model says {} does not exist on this version, but it ran",
                                    fact.title
                                ));
                                continue;
                            }
                            prediction.add(fact, &e.op, obs);
                        }
                    }
                    // What the model says it cannot describe is reported as not modelled by
                    // lint and explain; tracing it shows what it did, not a disagreement.
                    if !analyzed.effects.iter().any(|e| e.op.not_modelled.is_some()) {
                        trace.disagreements.extend(check(&prediction, obs));
                    }
                }
            }
            file.statements.push(trace);
        }
        if opts.rollback {
            client.batch_execute("ROLLBACK")?;
        } else if in_txn {
            // The file left a transaction open: end it as psql would at exit (rolled back).
            client.batch_execute("ROLLBACK")?;
        }
        out.push(file);
    }
    Ok(out)
}
