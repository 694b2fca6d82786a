//! The unseen ledger: what a live database carries that the schema does not show.
//!
//! Every `UPDATE` and `DELETE` leaves the old row version in the heap until VACUUM makes its space
//! reusable; a transaction left open holds those dead rows in place and makes
//! `CREATE INDEX CONCURRENTLY` wait; a session waiting for a lock makes every later request for a
//! conflicting lock queue behind it; a failed concurrent build leaves an INVALID index that queries
//! never use but writes may still maintain. [`inspect`] reads all of it from the statistics views
//! and catalogs (`pg_stat_user_tables`, `pg_stat_activity`, `pg_locks`, `pg_index`), on
//! PostgreSQL 13 to 18, using only columns all of them have.
//!
//! Reading the ledger never waits for a lock. Sizes come from `pg_total_relation_size` and friends,
//! and index definitions from `pg_get_indexdef`, which briefly take `ACCESS SHARE` on the table;
//! for a table on which some session holds or awaits `ACCESS EXCLUSIVE` (an `ALTER TABLE` in
//! progress or queued, a `LOCK TABLE`), sizes are read from `pg_class.relpages` instead (as of the
//! last VACUUM or ANALYZE) and marked as estimates, and definitions are rebuilt from the catalogs.
//! A short `lock_timeout` guards against a lock taken in between: the query is retried, and in
//! the end everything is estimated.
//!
//! The session running the inspection (`pg_backend_pid()`) is never reported, and only sessions
//! connected to the same database are considered.

use std::collections::{BTreeSet, HashMap};

use pgdiplomat_pg::postgres::error::SqlState;
use pgdiplomat_pg::postgres::{self, Client, Transaction};
use serde::Serialize;

/// How long a size function may wait for its `ACCESS SHARE` lock before the table's size is
/// estimated from `pg_class` instead.
const SIZE_LOCK_TIMEOUT: &str = "200ms";

/// Longest query text kept in a [`SessionReport`], in characters.
pub const QUERY_CHARS: usize = 200;

/// Size, dead rows, vacuum history and scans of one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    /// `schema.name`; the schema is left out for `public`.
    pub table: String,
    /// Heap, TOAST and indexes (`pg_total_relation_size`).
    pub total_bytes: i64,
    /// Heap and TOAST, without indexes (`pg_table_size`).
    pub table_bytes: i64,
    /// All indexes (`pg_indexes_size`).
    pub index_bytes: i64,
    /// `pg_stat_user_tables.n_live_tup` (an estimate kept by the statistics system).
    pub live_tuples: i64,
    /// `pg_stat_user_tables.n_dead_tup`: old row versions VACUUM has not removed yet.
    pub dead_tuples: i64,
    /// `dead / (live + dead)`, 0 for an empty table.
    pub dead_ratio: f64,
    /// UTC, ISO 8601 (`2024-03-15T10:00:00Z`); `None` if it never ran.
    pub last_autovacuum: Option<String>,
    pub last_vacuum: Option<String>,
    pub last_autoanalyze: Option<String>,
    /// Sequential scans since the statistics were reset.
    pub seq_scans: i64,
    /// Heap bytes beyond what the live rows need; see [`estimate_bloat`]. `None` when the table
    /// has no column statistics (never analyzed).
    pub bloat_estimate_bytes: Option<i64>,
    /// The sizes come from `pg_class.relpages` (as of the last VACUUM/ANALYZE) because a session
    /// holds or awaits `ACCESS EXCLUSIVE` on the table and measuring it would have waited.
    pub size_estimated: bool,
}

/// One backend, as `pg_stat_activity` and `pg_locks` see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionReport {
    pub pid: i32,
    pub user: Option<String>,
    pub application: Option<String>,
    /// `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`, ...
    pub state: Option<String>,
    /// Seconds since the transaction began; `None` outside a transaction, and in an aborted one
    /// (PostgreSQL clears `xact_start` at the error, when it also releases the locks).
    pub xact_age_seconds: Option<f64>,
    /// Seconds since the current (or, when idle, the last) query began.
    pub query_age_seconds: Option<f64>,
    /// `type:event`, e.g. `Lock:relation` while waiting for a table lock.
    pub wait_event: Option<String>,
    /// The current or last query, whitespace collapsed, at most [`QUERY_CHARS`] characters.
    pub query: String,
    /// `pg_blocking_pids`: the sessions this one waits for (0 stands for a prepared transaction).
    pub blocked_by: Vec<i32>,
    /// `(relation, mode, granted)`: granted locks on relations outside the system catalogs, and
    /// every lock the session is waiting for (a transaction, a row, ...). Modes as `pg_locks`
    /// spells them (`AccessExclusiveLock`).
    pub locks: Vec<(String, String, bool)>,
}

/// An index that failed to build (`pg_index.indisvalid = false`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidIndex {
    /// `schema.name`; the schema is left out for `public`.
    pub index: String,
    pub table: String,
    /// `pg_get_indexdef`; while a session holds or awaits `ACCESS EXCLUSIVE` on the index or its
    /// table (when `pg_get_indexdef` would wait), a reconstruction from the catalogs in which
    /// expressions and a predicate read `<expression>` and `<predicate>`.
    pub definition: String,
    /// `indisready`: writes maintain the index (and, if unique, it rejects duplicates).
    pub ready: bool,
    /// `pg_relation_size`, or `pg_class.relpages` when that would wait (see `definition`).
    pub bytes: i64,
    /// `DROP INDEX CONCURRENTLY schema.name;`, identifiers quoted where needed.
    pub drop_statement: String,
}

/// Everything [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    /// `server_version`, e.g. `16.4 (Debian 16.4-1.pgdg120+1)`.
    pub server_version: String,
    /// Largest first.
    pub tables: Vec<TableReport>,
    /// Client sessions whose transaction is older than the threshold, in any state; oldest first.
    pub long_transactions: Vec<SessionReport>,
    /// Client sessions idle in a transaction (or in an aborted one); oldest first.
    pub idle_in_transaction: Vec<SessionReport>,
    /// Sessions waiting for a lock, with the pids that block them; longest waiting first.
    pub blocked: Vec<SessionReport>,
    /// The sessions named in some `blocked_by`, so that a report can say what they are doing.
    pub blockers: Vec<SessionReport>,
    pub invalid_indexes: Vec<InvalidIndex>,
}

/// What to inspect.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectOptions {
    /// `schema.table` or `table` (schema `public`); double quotes keep case and dots. Empty: the
    /// largest [`top`](Self::top) user tables.
    pub tables: Vec<String>,
    /// A transaction open longer than this (seconds) is reported as long.
    pub long_transaction_secs: f64,
    /// How many tables to report when `tables` is empty, largest first.
    pub top: usize,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            tables: Vec::new(),
            long_transaction_secs: 60.0,
            top: 20,
        }
    }
}

/// Reads the ledger. See the module documentation.
pub fn inspect(client: &mut Client, opts: &InspectOptions) -> Result<Ledger, postgres::Error> {
    let server_version: String = client.query_one("SHOW server_version", &[])?.get(0);
    let tables = table_reports(client, opts)?;
    let sessions = all_sessions(client)?;

    let is_client = |s: &&Session| s.backend_type.as_deref() == Some("client backend");
    let mut long_transactions: Vec<SessionReport> = sessions
        .iter()
        .filter(is_client)
        .filter(|s| {
            s.report
                .xact_age_seconds
                .is_some_and(|age| age > opts.long_transaction_secs)
        })
        .map(|s| s.report.clone())
        .collect();
    sort_by_desc(&mut long_transactions, |s| s.xact_age_seconds);
    let mut idle_in_transaction: Vec<SessionReport> = sessions
        .iter()
        .filter(is_client)
        .filter(|s| {
            s.report
                .state
                .as_deref()
                .is_some_and(|st| st.starts_with("idle in transaction"))
        })
        .map(|s| s.report.clone())
        .collect();
    sort_by_desc(&mut idle_in_transaction, |s| s.xact_age_seconds);
    let mut blocked: Vec<SessionReport> = sessions
        .iter()
        .filter(|s| !s.report.blocked_by.is_empty())
        .map(|s| s.report.clone())
        .collect();
    sort_by_desc(&mut blocked, |s| s.query_age_seconds);
    let blocking: BTreeSet<i32> = blocked
        .iter()
        .flat_map(|s| s.blocked_by.iter().copied())
        .collect();
    let blockers: Vec<SessionReport> = sessions
        .iter()
        .filter(|s| blocking.contains(&s.report.pid))
        .map(|s| s.report.clone())
        .collect();

    let invalid_indexes = invalid_indexes(client)?;
    Ok(Ledger {
        server_version,
        tables,
        long_transactions,
        idle_in_transaction,
        blocked,
        blockers,
        invalid_indexes,
    })
}

/// For apply's preflight: the sessions (other than ours, in this database) that hold or await
/// any lock on one of `tables` or on one of their indexes — which every transaction that read or
/// wrote the table does until it ends — with how old their transaction is. Their `locks` list
/// only the locks on those tables and indexes. Names that match no table are ignored. Oldest
/// transaction first.
pub fn sessions_touching(
    client: &mut Client,
    tables: &[String],
) -> Result<Vec<SessionReport>, postgres::Error> {
    let (schemas, names) = name_candidates(tables);
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client.query(
        "SELECT c.oid
           FROM unnest($1::text[], $2::text[]) AS w(nsp, rel)
           JOIN pg_namespace n ON n.nspname = w.nsp
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel
          WHERE c.relkind IN ('r', 'p', 'm', 'f')
         UNION
         SELECT i.indexrelid
           FROM unnest($1::text[], $2::text[]) AS w(nsp, rel)
           JOIN pg_namespace n ON n.nspname = w.nsp
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.rel
           JOIN pg_index i ON i.indrelid = c.oid",
        &[&schemas, &names],
    )?;
    let oids: BTreeSet<u32> = rows.iter().map(|r| r.get(0)).collect();
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let sessions = all_sessions(client)?;
    let mut out: Vec<SessionReport> = sessions
        .into_iter()
        .filter_map(|mut s| {
            let locks: Vec<(String, String, bool)> = s
                .lock_rows
                .iter()
                .filter(|l| l.relation.is_some_and(|oid| oids.contains(&oid)))
                .filter_map(LockRow::describe)
                .collect();
            if locks.is_empty() {
                return None;
            }
            s.report.locks = locks;
            Some(s.report)
        })
        .collect();
    sort_by_desc(&mut out, |s| s.xact_age_seconds);
    Ok(out)
}

/// Every INVALID index in this database outside the system schemas and other sessions' temporary
/// schemas, largest first. Partitioned indexes (which have no storage and are invalid until every
/// partition has its index attached) are left out: the partitions' own INVALID indexes are listed.
pub fn invalid_indexes(client: &mut Client) -> Result<Vec<InvalidIndex>, postgres::Error> {
    let rows = with_size_guard(client, |tx, exact| {
        tx.query(
            "WITH xlocked AS MATERIALIZED (
                 SELECT l.relation FROM pg_locks l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             )
             SELECT n.nspname::text, ic.relname::text, tn.nspname::text, tc.relname::text,
                    CASE WHEN g.exact THEN pg_get_indexdef(i.indexrelid)
                    ELSE format('CREATE %sINDEX %I ON %I.%I USING %s (%s)%s%s',
                                CASE WHEN i.indisunique THEN 'UNIQUE ' END,
                                ic.relname, tn.nspname, tc.relname, am.amname,
                                (SELECT string_agg(coalesce(quote_ident(a.attname), '<expression>'),
                                                   ', ' ORDER BY k.ord)
                                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                   LEFT JOIN pg_attribute a
                                          ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                         AND k.attnum > 0
                                  WHERE k.ord <= i.indnkeyatts),
                                (SELECT ' INCLUDE (' || string_agg(quote_ident(a.attname), ', '
                                                                   ORDER BY k.ord) || ')'
                                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                   JOIN pg_attribute a
                                     ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                  WHERE k.ord > i.indnkeyatts),
                                CASE WHEN i.indpred IS NOT NULL THEN ' WHERE <predicate>' END)
                    END,
                    i.indisready,
                    CASE WHEN g.exact THEN pg_relation_size(i.indexrelid)
                         ELSE ic.relpages::int8 * current_setting('block_size')::int8 END,
                    format('DROP INDEX CONCURRENTLY %I.%I;', n.nspname, ic.relname)
               FROM pg_index i
               JOIN pg_class ic ON ic.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = ic.relnamespace
               JOIN pg_class tc ON tc.oid = i.indrelid
               JOIN pg_namespace tn ON tn.oid = tc.relnamespace
               JOIN pg_am am ON am.oid = ic.relam
               CROSS JOIN LATERAL (
                   SELECT $1::bool AND NOT EXISTS (
                       SELECT 1 FROM xlocked x WHERE x.relation IN (i.indexrelid, i.indrelid))
               ) AS g(exact)
              WHERE NOT i.indisvalid
                AND ic.relkind = 'i'
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND (n.nspname !~ '^pg_(toast_)?temp_' OR n.oid = pg_my_temp_schema())
              ORDER BY 7 DESC, 1, 2",
            &[&exact],
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| InvalidIndex {
            index: display_name(r.get(0), r.get(1)),
            table: display_name(r.get(2), r.get(3)),
            definition: r.get(4),
            ready: r.get(5),
            bytes: r.get(6),
            drop_statement: r.get(7),
        })
        .collect())
}

/// A simple estimate of the heap space that holds no live row: dead rows not yet vacuumed, and
/// free space VACUUM left behind but cannot return to the operating system.
///
/// A live row is taken to need `24` bytes of header plus the sum of its columns' `avg_width`
/// (from `pg_stats`), rounded up to 8 bytes, plus a 4-byte line pointer; a page offers
/// `block_size - 24` bytes times the fillfactor. The live rows packed that way need a whole number
/// of pages; whatever the heap (main fork) has beyond that is the estimate, never below 0.
/// [`inspect`] counts the live rows as the larger of `n_live_tup` and `pg_class.reltuples`, so
/// that a statistics counter lagging behind never makes a full table look empty.
/// Null bitmaps, alignment padding inside rows and TOAST are ignored, so treat the number as
/// "roughly this much", useful to compare tables and to notice growth, not to the byte.
/// `None` without column statistics (`avg_row_width` unknown).
pub fn estimate_bloat(
    heap_bytes: i64,
    live_tuples: i64,
    avg_row_width: Option<i64>,
    fillfactor: i64,
    block_size: i64,
) -> Option<i64> {
    let width = avg_row_width?;
    if block_size <= 24 {
        return None;
    }
    let row = 4 + (24 + width.max(0) + 7) / 8 * 8;
    let usable = (block_size - 24) * fillfactor.clamp(10, 100) / 100;
    let per_page = (usable / row).max(1);
    let live = live_tuples.max(0);
    let pages = (live + per_page - 1) / per_page;
    Some((heap_bytes - pages * block_size).max(0))
}

/// `schema.name`, or `name` for schema `public`.
pub fn display_name(schema: &str, name: &str) -> String {
    if schema == "public" {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    }
}

/// Splits `schema.table` / `table` / `"My Schema"."T.1"` into its parts; `(part, quoted)`.
fn split_name(s: &str) -> Vec<(String, bool)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    current.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                current.push(c);
            }
        } else if c == '"' {
            in_quotes = true;
            quoted = true;
        } else if c == '.' {
            parts.push((std::mem::take(&mut current), quoted));
            quoted = false;
        } else {
            current.push(c);
        }
    }
    parts.push((current, quoted));
    parts
}

/// The `(schema, table)` pairs a user's name may mean. A quoted part is exact; an unquoted one is
/// tried as written and folded to lower case, as PostgreSQL folds it. Returns parallel arrays.
fn name_candidates(tables: &[String]) -> (Vec<String>, Vec<String>) {
    let variants = |(part, quoted): &(String, bool)| -> Vec<String> {
        let lower = part.to_lowercase();
        if *quoted || lower == *part {
            vec![part.clone()]
        } else {
            vec![part.clone(), lower]
        }
    };
    let mut pairs = BTreeSet::new();
    for t in tables {
        let mut parts = split_name(t);
        let Some(table) = parts.pop().filter(|(p, _)| !p.is_empty()) else {
            continue;
        };
        let schema = parts.pop().unwrap_or(("public".to_string(), true));
        for s in variants(&schema) {
            for n in variants(&table) {
                pairs.insert((s.clone(), n));
            }
        }
    }
    pairs.into_iter().unzip()
}

/// Runs `f` in a transaction with a short `lock_timeout`, first measuring sizes exactly (`true`);
/// if a size function still had to wait (a lock taken after the check for `ACCESS EXCLUSIVE`),
/// tries once more, then falls back to estimates only (`false`), which take no lock.
fn with_size_guard<T>(
    client: &mut Client,
    f: impl Fn(&mut Transaction<'_>, bool) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let mut attempt = 0;
    loop {
        let exact = attempt < 2;
        let mut tx = client.transaction()?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{SIZE_LOCK_TIMEOUT}'"))?;
        match f(&mut tx, exact) {
            Ok(v) => {
                tx.commit()?;
                return Ok(v);
            }
            Err(e) if exact && e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                drop(tx);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn table_reports(
    client: &mut Client,
    opts: &InspectOptions,
) -> Result<Vec<TableReport>, postgres::Error> {
    let all = opts.tables.is_empty();
    let (schemas, names) = name_candidates(&opts.tables);
    if !all && schemas.is_empty() {
        return Ok(Vec::new());
    }
    let limit: Option<i64> = if all {
        Some(i64::try_from(opts.top).unwrap_or(i64::MAX))
    } else {
        None
    };
    let rows = with_size_guard(client, |tx, exact| {
        tx.query(
            "WITH xlocked AS MATERIALIZED (
                 SELECT l.relation FROM pg_locks l
                  WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             ), bs AS (SELECT current_setting('block_size')::int8 AS bs)
             SELECT s.schemaname::text, s.relname::text, g.exact,
                    CASE WHEN g.exact THEN pg_total_relation_size(c.oid) ELSE e.heap + e.indexes END,
                    CASE WHEN g.exact THEN pg_table_size(c.oid) ELSE e.heap END,
                    CASE WHEN g.exact THEN pg_indexes_size(c.oid) ELSE e.indexes END,
                    CASE WHEN g.exact THEN pg_relation_size(c.oid) ELSE e.main END,
                    s.n_live_tup, s.n_dead_tup,
                    to_char(s.last_autovacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    to_char(s.last_vacuum AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    to_char(s.last_autoanalyze AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    coalesce(s.seq_scan, 0),
                    (SELECT sum(st.avg_width)::int8 FROM pg_stats st
                      WHERE st.schemaname = s.schemaname AND st.tablename = s.relname
                        AND NOT st.inherited),
                    coalesce((SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int8
                                FROM unnest(c.reloptions) AS o
                               WHERE o LIKE 'fillfactor=%' LIMIT 1), 100),
                    bs.bs,
                    c.reltuples::float8
               FROM pg_stat_user_tables s
               JOIN pg_class c ON c.oid = s.relid
               CROSS JOIN bs
               LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
               CROSS JOIN LATERAL (
                   SELECT c.relpages::int8 * bs.bs AS main,
                          (c.relpages::int8 + coalesce(t.relpages, 0)) * bs.bs AS heap,
                          coalesce((SELECT sum(ic.relpages)::int8 FROM pg_index i
                                      JOIN pg_class ic ON ic.oid = i.indexrelid
                                     WHERE i.indrelid = c.oid), 0) * bs.bs AS indexes
               ) AS e
               CROSS JOIN LATERAL (
                   SELECT $1::bool AND NOT EXISTS (
                       SELECT 1 FROM xlocked x
                        WHERE x.relation = c.oid OR x.relation = c.reltoastrelid
                           OR x.relation IN (SELECT i.indexrelid FROM pg_index i
                                              WHERE i.indrelid IN (c.oid, c.reltoastrelid)))
               ) AS g(exact)
              WHERE $2::bool
                 OR (s.schemaname::text, s.relname::text)
                    IN (SELECT * FROM unnest($3::text[], $4::text[]))
              ORDER BY 4 DESC, 1, 2
              LIMIT $5::int8",
            &[&exact, &all, &schemas, &names, &limit],
        )
    })?;
    Ok(rows
        .iter()
        .map(|r| {
            let live: i64 = r.get(7);
            let dead: i64 = r.get(8);
            let main: i64 = r.get(6);
            // The larger of the two row counts: a counter that lags never inflates the estimate.
            let reltuples: f64 = r.get(16);
            let rows = live.max(reltuples as i64);
            TableReport {
                table: display_name(r.get(0), r.get(1)),
                size_estimated: !r.get::<_, bool>(2),
                total_bytes: r.get(3),
                table_bytes: r.get(4),
                index_bytes: r.get(5),
                live_tuples: live,
                dead_tuples: dead,
                dead_ratio: if live + dead > 0 {
                    dead as f64 / (live + dead) as f64
                } else {
                    0.0
                },
                last_autovacuum: r.get(9),
                last_vacuum: r.get(10),
                last_autoanalyze: r.get(11),
                seq_scans: r.get(12),
                bloat_estimate_bytes: estimate_bloat(main, rows, r.get(13), r.get(14), r.get(15)),
            }
        })
        .collect())
}

/// A session with what the filters need beyond its report.
struct Session {
    report: SessionReport,
    backend_type: Option<String>,
    lock_rows: Vec<LockRow>,
}

struct LockRow {
    locktype: String,
    mode: String,
    granted: bool,
    relation: Option<u32>,
    /// `None` for relations of other databases, or dropped meanwhile.
    schema: Option<String>,
    name: Option<String>,
    transaction: Option<String>,
    virtualxid: Option<String>,
    page: Option<i32>,
    tuple: Option<i16>,
}

impl LockRow {
    /// `(what, mode, granted)` as reported, or `None` for locks that are noise: catalog locks and
    /// the locks every transaction holds on its own ids.
    fn describe(&self) -> Option<(String, String, bool)> {
        let rel = match (&self.schema, &self.name) {
            (Some(s), Some(n)) => Some((s.as_str(), n.as_str())),
            _ => None,
        };
        let catalog = rel.is_some_and(|(s, _)| s == "pg_catalog" || s == "information_schema");
        let rel_name = || match rel {
            Some((s, n)) => display_name(s, n),
            None => format!("relation {}", self.relation.unwrap_or(0)),
        };
        let what = match self.locktype.as_str() {
            "relation" => {
                if self.granted && (catalog || rel.is_none()) {
                    return None;
                }
                rel_name()
            }
            _ if self.granted => return None,
            "tuple" => format!(
                "row ({},{}) of {}",
                self.page.unwrap_or(0),
                self.tuple.unwrap_or(0),
                rel_name()
            ),
            "page" => format!("page {} of {}", self.page.unwrap_or(0), rel_name()),
            "extend" => format!("extension of {}", rel_name()),
            "transactionid" => {
                format!("transaction {}", self.transaction.as_deref().unwrap_or("?"))
            }
            "virtualxid" => format!(
                "virtual transaction {}",
                self.virtualxid.as_deref().unwrap_or("?")
            ),
            other => format!("{other} lock"),
        };
        Some((what, self.mode.clone(), self.granted))
    }
}

/// Every other session of this database (parallel workers folded into their leader), with its
/// locks.
fn all_sessions(client: &mut Client) -> Result<Vec<Session>, postgres::Error> {
    let rows = client.query(
        "SELECT a.pid, a.usename::text, a.application_name, a.state, a.backend_type,
                extract(epoch FROM clock_timestamp() - a.xact_start)::float8,
                extract(epoch FROM clock_timestamp() - a.query_start)::float8,
                a.wait_event_type || ':' || a.wait_event,
                coalesce(a.query, ''),
                pg_blocking_pids(a.pid)
           FROM pg_stat_activity a
          WHERE a.pid <> pg_backend_pid()
            AND a.datname = current_database()
            AND (a.leader_pid IS NULL OR a.leader_pid = a.pid)
          ORDER BY a.pid",
        &[],
    )?;
    let lock_rows = client.query(
        "SELECT l.pid, l.locktype, l.mode, l.granted, l.relation, n.nspname::text, c.relname::text,
                l.transactionid::text, l.virtualxid, l.page, l.tuple
           FROM pg_locks l
           LEFT JOIN pg_class c ON c.oid = l.relation
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE l.pid IS NOT NULL AND l.pid <> pg_backend_pid()
          ORDER BY l.granted, n.nspname, c.relname, l.mode",
        &[],
    )?;
    let mut locks: HashMap<i32, Vec<LockRow>> = HashMap::new();
    for r in &lock_rows {
        locks.entry(r.get(0)).or_default().push(LockRow {
            locktype: r.get(1),
            mode: r.get::<_, Option<String>>(2).unwrap_or_default(),
            granted: r.get::<_, Option<bool>>(3).unwrap_or(false),
            relation: r.get(4),
            schema: r.get(5),
            name: r.get(6),
            transaction: r.get(7),
            virtualxid: r.get(8),
            page: r.get(9),
            tuple: r.get(10),
        });
    }
    Ok(rows
        .iter()
        .map(|r| {
            let pid: i32 = r.get(0);
            let lock_rows = locks.remove(&pid).unwrap_or_default();
            let described = lock_rows.iter().filter_map(LockRow::describe).collect();
            Session {
                report: SessionReport {
                    pid,
                    user: r.get(1),
                    application: r.get::<_, Option<String>>(2).filter(|a| !a.is_empty()),
                    state: r.get(3),
                    xact_age_seconds: r.get::<_, Option<f64>>(5).map(|a| a.max(0.0)),
                    query_age_seconds: r.get::<_, Option<f64>>(6).map(|a| a.max(0.0)),
                    wait_event: r.get(7),
                    query: shorten_query(r.get(8)),
                    blocked_by: r.get::<_, Option<Vec<i32>>>(9).unwrap_or_default(),
                    locks: described,
                },
                backend_type: r.get(4),
                lock_rows,
            }
        })
        .collect())
}

/// Collapses whitespace and keeps at most [`QUERY_CHARS`] characters (the last one `…` when cut).
fn shorten_query(query: &str) -> String {
    let collapsed = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= QUERY_CHARS {
        return collapsed;
    }
    let mut out: String = collapsed.chars().take(QUERY_CHARS - 1).collect();
    out.push('…');
    out
}

fn sort_by_desc(v: &mut [SessionReport], key: impl Fn(&SessionReport) -> Option<f64>) {
    v.sort_by(|a, b| {
        let (ka, kb) = (key(a).unwrap_or(-1.0), key(b).unwrap_or(-1.0));
        kb.total_cmp(&ka).then(a.pid.cmp(&b.pid))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_default_to_public_and_fold_unquoted_case() {
        let (s, n) = name_candidates(&["users".into(), "Sales.Orders".into()]);
        let pairs: Vec<(String, String)> = s.into_iter().zip(n).collect();
        assert!(pairs.contains(&("public".into(), "users".into())));
        assert!(pairs.contains(&("Sales".into(), "Orders".into())));
        assert!(pairs.contains(&("sales".into(), "orders".into())));
    }

    #[test]
    fn quoted_names_keep_case_and_dots() {
        let (s, n) = name_candidates(&[r#""My Schema"."T.1""#.into(), r#""a""b""#.into()]);
        let pairs: Vec<(String, String)> = s.into_iter().zip(n).collect();
        assert_eq!(
            pairs,
            vec![
                ("My Schema".to_string(), "T.1".to_string()),
                ("public".to_string(), "a\"b".to_string()),
            ]
        );
    }

    #[test]
    fn empty_names_are_ignored() {
        assert_eq!(name_candidates(&["".into(), "s.".into()]).0.len(), 0);
    }

    #[test]
    fn display_name_leaves_out_public() {
        assert_eq!(display_name("public", "users"), "users");
        assert_eq!(display_name("sales", "orders"), "sales.orders");
    }

    #[test]
    fn a_packed_heap_has_no_bloat_and_a_half_dead_one_has_half() {
        // 100-byte rows: 4 + 128 = 132 bytes each, 61 per 8 kB page.
        assert_eq!(
            estimate_bloat(8192 * 10, 610, Some(100), 100, 8192),
            Some(0)
        );
        assert_eq!(
            estimate_bloat(8192 * 20, 610, Some(100), 100, 8192),
            Some(8192 * 10)
        );
        // An empty heap of 3 pages is all waste; no statistics, no estimate.
        assert_eq!(
            estimate_bloat(8192 * 3, 0, Some(8), 100, 8192),
            Some(8192 * 3)
        );
        assert_eq!(estimate_bloat(8192, 10, None, 100, 8192), None);
        // Fillfactor 50 leaves room: twice the pages are expected.
        assert_eq!(estimate_bloat(8192 * 20, 610, Some(100), 50, 8192), Some(0));
    }

    #[test]
    fn long_queries_are_cut_to_200_characters() {
        let q = format!("SELECT   {}\n FROM t", "x, ".repeat(200));
        let s = shorten_query(&q);
        assert_eq!(s.chars().count(), QUERY_CHARS);
        assert!(s.starts_with("SELECT x, x,"));
        assert!(s.ends_with('…'));
        assert_eq!(shorten_query("SELECT\n  1"), "SELECT 1");
    }
}
