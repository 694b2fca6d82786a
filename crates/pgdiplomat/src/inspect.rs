//! `pgdiplomat inspect`: the unseen ledger — sizes and dead rows, open transactions, blocked
//! sessions, INVALID indexes — read from a live database without waiting for any lock.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use pgdiplomat_apply::connect::target;
use pgdiplomat_apply::inspect::{
    inspect, InspectOptions, InvalidIndex, Ledger, SessionReport, TableReport,
};
use pgdiplomat_locks::LockMode;

use crate::input::{error, print_stdout};
use crate::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};

// No doc comment here: the `about` below is the command's summary, and a doc comment would
// replace the long help.
#[derive(Args, Debug)]
#[command(
    about = "Read the unseen ledger of a live database: sizes, dead rows, open transactions, blocked sessions, INVALID indexes",
    long_about = "Read the unseen ledger of a live database: what the schema does not show, and what \
decides whether a migration runs in a second or stops the application.\n\n\
Tables: the largest user tables (or those given with --table) with their size, live and dead \
rows, and when VACUUM and ANALYZE last ran. Every UPDATE and DELETE leaves the old row version \
in the table as a dead row until VACUUM makes its space reusable; a table whose dead rows pile up \
is scanned slowly, and a migration that rewrites or scans it takes longer.\n\n\
Transactions open longer than --long-transaction-secs, and sessions idle in a transaction: \
they hold back VACUUM, keep their locks until they end, and make CREATE INDEX CONCURRENTLY \
wait for them.\n\n\
Blocked sessions and who blocks them: a session waiting for a lock makes every later conflicting \
request wait behind it, which is how one ALTER TABLE stops a whole application.\n\n\
INVALID indexes, left by a failed CREATE INDEX CONCURRENTLY, with the DROP INDEX CONCURRENTLY \
that removes each.\n\n\
Inspecting never waits for a lock: the size of a table that some session holds or awaits \
ACCESS EXCLUSIVE on is read from pg_class (as of its last VACUUM or ANALYZE) and marked with ~. \
Only sessions connected to the same database are shown, never the inspecting one. Works on \
PostgreSQL 13 to 18; reading other users' queries needs pg_read_all_stats (or superuser).\n\n\
The connection comes from --database-url (libpq URL or key=value string) and the PG* environment \
variables; TLS is used when sslmode is require or stronger. The password is never printed.",
    after_help = "Exit status:\n  0  the ledger was read (with --fail-on-findings: and nothing was found)\n  1  with --fail-on-findings: a long transaction (idle or not) or an INVALID index\n  2  usage error, or the database could not be reached or read\n\nExamples:\n  pgdiplomat inspect --database-url postgres://app@db/prod\n  PGHOST=db PGDATABASE=prod pgdiplomat inspect --table users --table sales.orders\n  pgdiplomat inspect --long-transaction-secs 5 --fail-on-findings   # before a deploy\n  pgdiplomat inspect --format json | jq '.tables[] | select(.dead_ratio > 0.2)'"
)]
pub struct InspectArgs {
    /// The database (libpq URL or key=value string); PG* environment variables fill in the rest.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Report this table instead of the largest ones: `schema.table`, or `table` in schema
    /// public (repeat or comma-separate; double quotes keep case).
    #[arg(long = "table", value_name = "TABLE", value_delimiter = ',')]
    pub tables: Vec<String>,
    /// A transaction open longer than this many seconds is reported as long.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
    pub long_transaction_secs: f64,
    /// Without --table: how many tables to show, largest first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Human)]
    pub format: InspectFormat,
    /// Exit with status 1 when a transaction is open longer than --long-transaction-secs or an
    /// INVALID index exists: a check to run before a deploy. (Sessions idle in a transaction for
    /// less than that are ordinary between an application's statements, and do not count.)
    #[arg(long)]
    pub fail_on_findings: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectFormat {
    /// A report with a section per concern.
    Human,
    /// One JSON document: the ledger, with sizes in bytes and ages in seconds.
    Json,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds (0 or more)")),
    }
}

pub fn run(args: InspectArgs) -> u8 {
    let target = match target(args.database_url.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            error(e);
            return EXIT_USAGE;
        }
    };
    let mut client = match target.connect() {
        Ok(c) => c,
        Err(e) => {
            error(e);
            return EXIT_USAGE;
        }
    };
    let opts = InspectOptions {
        tables: args.tables.clone(),
        long_transaction_secs: args.long_transaction_secs,
        top: args.top,
    };
    let ledger = match inspect(&mut client, &opts) {
        Ok(l) => l,
        Err(e) => {
            error(format!(
                "cannot read the ledger of {}: {}",
                target.description,
                pgdiplomat_trace::run::error_text(&e)
            ));
            return EXIT_USAGE;
        }
    };
    for name in missing_tables(&args.tables, &ledger.tables) {
        eprintln!("pgdiplomat: warning: no table {name} (names are schema.table, or table for schema public)");
    }

    let text = match args.format {
        InspectFormat::Human => human(&ledger, &target.description, &args, now_unix()),
        InspectFormat::Json => json(&ledger, &target.description, args.long_transaction_secs),
    };
    if print_stdout(&text).is_err() {
        return EXIT_USAGE;
    }
    let findings = findings(&ledger);
    if args.fail_on_findings && findings > 0 {
        eprintln!(
            "pgdiplomat: {findings} finding{} (--fail-on-findings)",
            if findings == 1 { "" } else { "s" }
        );
        return EXIT_FINDINGS;
    }
    EXIT_CLEAN
}

/// What `--fail-on-findings` counts: long transactions (in any state) and INVALID indexes.
fn findings(ledger: &Ledger) -> usize {
    ledger.long_transactions.len() + ledger.invalid_indexes.len()
}

/// The `--table` names that match no reported table (approximately: quotes, `public.` and case
/// ignored), for a warning.
fn missing_tables<'a>(asked: &'a [String], found: &[TableReport]) -> Vec<&'a str> {
    let norm = |s: &str| {
        let s = s.trim().replace('"', "");
        s.strip_prefix("public.").unwrap_or(&s).to_lowercase()
    };
    asked
        .iter()
        .filter(|a| !a.trim().is_empty())
        .filter(|a| !found.iter().any(|t| norm(&t.table) == norm(a)))
        .map(|a| a.as_str())
        .collect()
}

fn json(ledger: &Ledger, target: &str, threshold: f64) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), 1.into());
    doc.insert("target".into(), target.into());
    doc.insert("long_transaction_secs".into(), threshold.into());
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(ledger) {
        doc.extend(fields);
    }
    serde_json::to_string_pretty(&serde_json::Value::Object(doc)).unwrap_or_default() + "\n"
}

fn human(ledger: &Ledger, target: &str, args: &InspectArgs, now: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "The unseen ledger of {target}, PostgreSQL {}",
        ledger.server_version
    );

    // Tables.
    out.push('\n');
    if args.tables.is_empty() {
        let _ = writeln!(out, "Tables, largest first (at most {})", args.top);
    } else {
        let _ = writeln!(out, "Tables");
    }
    note(&mut out, "Every UPDATE and DELETE leaves the old row version behind as a dead row until VACUUM makes its space reusable; dead rows that pile up mean autovacuum is falling behind (or a long transaction holds it back), and every scan reads past them.");
    if ledger.tables.is_empty() {
        let _ = writeln!(out, "  none");
    } else {
        out.push_str(&tables_table(&ledger.tables, now));
        if ledger.tables.iter().any(|t| t.size_estimated) {
            note(&mut out, "~ size from pg_class as of the last VACUUM/ANALYZE: a session holds or awaits ACCESS EXCLUSIVE on the table, and measuring it would have waited.");
        }
        if ledger
            .tables
            .iter()
            .any(|t| t.bloat_estimate_bytes.is_none())
        {
            note(&mut out, "est. bloat: heap space beyond what the live rows need (estimated from column statistics); - means no statistics yet (run ANALYZE).");
        } else {
            note(&mut out, "est. bloat: heap space beyond what the live rows need, estimated from column statistics; VACUUM makes it reusable but only a rewrite returns it.");
        }
    }

    // Long transactions.
    out.push('\n');
    let _ = writeln!(
        out,
        "Transactions open longer than {}",
        seconds_label(args.long_transaction_secs)
    );
    note(&mut out, "A long transaction holds back VACUUM (no dead row it might still see can be removed), keeps its locks until it ends, and makes CREATE INDEX CONCURRENTLY wait for it to finish.");
    sessions(&mut out, &ledger.long_transactions, ledger, false);

    // Idle in transaction.
    out.push('\n');
    let _ = writeln!(out, "Idle in transaction");
    note(&mut out, "A session idle in a transaction is waiting for its application, not for the database: it holds every lock it took (an ALTER TABLE on those tables will wait, and everything behind it) until it commits or rolls back.");
    sessions(&mut out, &ledger.idle_in_transaction, ledger, true);

    // Blocked.
    out.push('\n');
    let _ = writeln!(out, "Blocked sessions (and who blocks them)");
    note(&mut out, "A session waiting for a lock makes every later conflicting request wait behind it: one ALTER TABLE waiting for ACCESS EXCLUSIVE stops all reads and writes of its table.");
    if ledger.blocked.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for s in &ledger.blocked {
        session_head(&mut out, s);
        session_query(&mut out, s);
        let waits: Vec<String> = s
            .locks
            .iter()
            .filter(|(_, _, granted)| !granted)
            .map(|(rel, mode, _)| format!("{} on {rel}", mode_name(mode)))
            .collect();
        if !waits.is_empty() {
            let _ = writeln!(out, "      waits for:  {}", waits.join(", "));
        }
        for pid in &s.blocked_by {
            let _ = writeln!(
                out,
                "      blocked by: {}",
                describe_blocker(*pid, &ledger.blockers)
            );
        }
    }

    // INVALID indexes.
    out.push('\n');
    let _ = writeln!(out, "INVALID indexes");
    note(&mut out, "A failed CREATE INDEX CONCURRENTLY leaves an INVALID index. Queries never use it, yet once it is ready every INSERT and UPDATE still maintains it (a write slowed for nothing) and, if unique, it still rejects duplicates; and it keeps its name taken, so the retried build fails.");
    if ledger.invalid_indexes.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for i in &ledger.invalid_indexes {
        invalid_index(&mut out, i);
    }
    out
}

/// A one-line (wrapped) explanation under a heading.
fn note(out: &mut String, text: &str) {
    for line in wrap(text, 96) {
        let _ = writeln!(out, "  {line}");
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn tables_table(tables: &[TableReport], now: i64) -> String {
    let header = [
        "table",
        "total",
        "data",
        "indexes",
        "live rows",
        "dead rows",
        "dead %",
        "est. bloat",
        "seq scans",
        "last autovacuum",
        "last vacuum",
        "last autoanalyze",
    ];
    // Columns 1..=8 are numbers: right-aligned.
    let right = |col: usize| (1..=8).contains(&col);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for t in tables {
        let approx = if t.size_estimated { "~" } else { "" };
        rows.push(vec![
            t.table.clone(),
            format!("{approx}{}", pretty_bytes(t.total_bytes)),
            format!("{approx}{}", pretty_bytes(t.table_bytes)),
            format!("{approx}{}", pretty_bytes(t.index_bytes)),
            thousands(t.live_tuples),
            thousands(t.dead_tuples),
            format!("{:.1}%", t.dead_ratio * 100.0),
            match t.bloat_estimate_bytes {
                Some(b) => format!("{approx}{}", pretty_bytes(b)),
                None => "-".into(),
            },
            thousands(t.seq_scans),
            when(t.last_autovacuum.as_deref(), now),
            when(t.last_vacuum.as_deref(), now),
            when(t.last_autoanalyze.as_deref(), now),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c] - cell.chars().count();
            if right(c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn sessions(out: &mut String, list: &[SessionReport], ledger: &Ledger, offer_terminate: bool) {
    if list.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for s in list {
        session_head(out, s);
        session_query(out, s);
        let holds: Vec<String> = s
            .locks
            .iter()
            .filter(|(_, _, granted)| *granted)
            .map(|(rel, mode, _)| format!("{} on {rel}", mode_name(mode)))
            .collect();
        if !holds.is_empty() {
            let _ = writeln!(out, "      holds:      {}", holds.join(", "));
        }
        if !s.blocked_by.is_empty() {
            let pids: Vec<String> = s.blocked_by.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(out, "      blocked by: pid {}", pids.join(", "));
        }
        let blocks: Vec<String> = ledger
            .blocked
            .iter()
            .filter(|b| b.blocked_by.contains(&s.pid))
            .map(|b| b.pid.to_string())
            .collect();
        if !blocks.is_empty() {
            let _ = writeln!(out, "      blocks:     pid {}", blocks.join(", "));
        }
        if offer_terminate {
            let _ = writeln!(
                out,
                "      to end it:  SELECT pg_terminate_backend({});  -- rolls its transaction back",
                s.pid
            );
        }
    }
}

fn session_head(out: &mut String, s: &SessionReport) {
    let mut head = format!("  pid {}", s.pid);
    if let Some(u) = &s.user {
        let _ = write!(head, "  user {u}");
    }
    if let Some(a) = &s.application {
        let _ = write!(head, "  application {a:?}");
    }
    if let Some(state) = &s.state {
        let _ = write!(head, "  {state}");
    }
    if let Some(age) = s.xact_age_seconds {
        let _ = write!(head, "  transaction open {}", duration(age));
    }
    if let Some(w) = &s.wait_event {
        if w.starts_with("Lock:") {
            let _ = write!(head, "  waiting ({w})");
        }
    }
    let _ = writeln!(out, "{head}");
}

fn session_query(out: &mut String, s: &SessionReport) {
    if s.query.is_empty() {
        return;
    }
    let label = if s.state.as_deref() == Some("active") {
        "query:     "
    } else {
        "last query:"
    };
    match s.query_age_seconds {
        Some(age) => {
            let _ = writeln!(
                out,
                "      {label} {}  (started {} ago)",
                s.query,
                duration(age)
            );
        }
        None => {
            let _ = writeln!(out, "      {label} {}", s.query);
        }
    }
}

fn describe_blocker(pid: i32, blockers: &[SessionReport]) -> String {
    if pid == 0 {
        return "a prepared transaction (see pg_prepared_xacts; COMMIT PREPARED or ROLLBACK PREPARED ends it)".into();
    }
    let Some(b) = blockers.iter().find(|b| b.pid == pid) else {
        return format!("pid {pid}");
    };
    let mut parts = Vec::new();
    if let Some(state) = &b.state {
        parts.push(state.clone());
    }
    if let Some(age) = b.xact_age_seconds {
        parts.push(format!("transaction open {}", duration(age)));
    }
    let strong: Vec<String> = b
        .locks
        .iter()
        .filter(|(_, _, granted)| *granted)
        .filter_map(|(rel, mode, _)| {
            let m = LockMode::parse(mode)?;
            (m.blocks_reads() || m.blocks_writes())
                .then(|| format!("holds {} on {rel} ({})", m.sql_name(), m.impact()))
        })
        .collect();
    parts.extend(strong);
    let mut text = format!("pid {pid}");
    if let Some(u) = &b.user {
        let _ = write!(text, " (user {u})");
    }
    if !parts.is_empty() {
        let _ = write!(text, ": {}", parts.join(", "));
    }
    if !b.query.is_empty() {
        let _ = write!(text, "; last query: {}", b.query);
    }
    text
}

fn invalid_index(out: &mut String, i: &InvalidIndex) {
    let unique = i.definition.starts_with("CREATE UNIQUE");
    let status = match (i.ready, unique) {
        (true, true) => "ready: every write maintains it and it rejects duplicates",
        (true, false) => "ready: every write maintains it",
        (false, _) => "not ready: writes skip it, but its name stays taken",
    };
    let _ = writeln!(
        out,
        "  {} on {}, {}, {status}",
        i.index,
        i.table,
        pretty_bytes(i.bytes)
    );
    let _ = writeln!(out, "      {}", i.definition);
    let _ = writeln!(out, "      {}", i.drop_statement);
}

/// `AccessShareLock` → `ACCESS SHARE`; other spellings unchanged.
fn mode_name(mode: &str) -> String {
    LockMode::parse(mode)
        .map(|m| m.sql_name().to_string())
        .unwrap_or_else(|| mode.to_string())
}

/// Like `pg_size_pretty`: `8192 bytes`, `12 MB`.
fn pretty_bytes(bytes: i64) -> String {
    const UNITS: [&str; 6] = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 10.0 * 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", value.round() as i64, UNITS[unit])
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or(""))
        .collect();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", groups.join(","))
}

/// `0.4 s`, `12 s`, `5 min 12 s`, `3 h 5 min`, `2 d 4 h`.
fn duration(secs: f64) -> String {
    if secs < 10.0 {
        return format!("{secs:.1} s");
    }
    let s = secs.round() as i64;
    match s {
        ..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// `60s`, `0.5s`.
fn seconds_label(secs: f64) -> String {
    if secs.fract() == 0.0 {
        format!("{}s", secs as i64)
    } else {
        format!("{secs}s")
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2024-03-15T10:00:00Z` → `5 min ago`; `None` → `never`.
fn when(stamp: Option<&str>, now: i64) -> String {
    let Some(stamp) = stamp else {
        return "never".into();
    };
    let Some(t) = parse_utc(stamp) else {
        return stamp.to_string();
    };
    let ago = (now - t).max(0);
    match ago {
        ..=59 => format!("{ago} s ago"),
        60..=3599 => format!("{} min ago", ago / 60),
        3600..=86399 => format!("{} h ago", ago / 3600),
        _ => format!("{} d ago", ago / 86400),
    }
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_like_pg_size_pretty() {
        assert_eq!(pretty_bytes(8192), "8192 bytes");
        assert_eq!(pretty_bytes(16384), "16 kB");
        assert_eq!(pretty_bytes(12 * 1024 * 1024), "12 MB");
        assert_eq!(pretty_bytes(3 * 1024 * 1024 * 1024 * 1024), "3072 GB");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(-1234), "-1,234");
    }

    #[test]
    fn timestamps_become_ages() {
        let t = parse_utc("2024-03-15T10:00:00Z").unwrap();
        assert_eq!(t, 1710496800);
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(when(Some("2024-03-15T10:00:00Z"), t + 300), "5 min ago");
        assert_eq!(when(Some("2024-03-15T10:00:00Z"), t + 3 * 86400), "3 d ago");
        assert_eq!(when(None, t), "never");
        assert_eq!(when(Some("garbage"), t), "garbage");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.42), "0.4 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(312.0), "5 min 12 s");
        assert_eq!(duration(3.0 * 3600.0 + 300.0), "3 h 5 min");
        assert_eq!(seconds_label(60.0), "60s");
        assert_eq!(seconds_label(0.5), "0.5s");
    }

    #[test]
    fn lock_modes_use_the_sql_spelling() {
        assert_eq!(mode_name("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(mode_name("SIReadLock"), "SIReadLock");
    }

    #[test]
    fn missing_tables_are_noticed_loosely() {
        let found = |name: &str| TableReport {
            table: name.into(),
            total_bytes: 0,
            table_bytes: 0,
            index_bytes: 0,
            live_tuples: 0,
            dead_tuples: 0,
            dead_ratio: 0.0,
            last_autovacuum: None,
            last_vacuum: None,
            last_autoanalyze: None,
            seq_scans: 0,
            bloat_estimate_bytes: None,
            size_estimated: false,
        };
        let asked: Vec<String> = ["public.users", "Sales.Orders", "nope"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            missing_tables(&asked, &[found("users"), found("sales.orders")]),
            ["nope"]
        );
    }

    #[test]
    fn every_section_says_none_when_empty() {
        let ledger = Ledger {
            server_version: "17.2".into(),
            tables: vec![],
            long_transactions: vec![],
            idle_in_transaction: vec![],
            blocked: vec![],
            blockers: vec![],
            invalid_indexes: vec![],
        };
        let args = InspectArgs {
            database_url: None,
            tables: vec![],
            long_transaction_secs: 60.0,
            top: 20,
            format: InspectFormat::Human,
            fail_on_findings: false,
        };
        let text = human(&ledger, "db:5432/app as me", &args, 0);
        assert_eq!(text.matches("\n  none\n").count(), 5, "{text}");
        assert!(text.contains("Transactions open longer than 60s"));
    }
}
