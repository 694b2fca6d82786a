//! `explain`: the "whisper" — statement by statement, in plain words, what PostgreSQL will do:
//! the lock per relation and what it blocks, rewrite, scan, how the duration grows, and
//! whether it may run inside a transaction. Everything comes from the analysis and the lock
//! table; findings come from the same rules `lint` runs.

use std::fmt::Write as _;

use pgdiplomat_locks::{Rewrite, Scan, TransactionUse};
use serde::Serialize;

use crate::analyze::{AnalyzedStatement, Analyzer};
use crate::lint::{analyze_source, lint_with, LintOptions};
use crate::model::{StatementKind, Timeout};
use crate::parse::SyntaxError;
use crate::rules::Finding;
use crate::source::SourceFile;

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedLock {
    pub relation: String,
    pub role: &'static str,
    pub mode: &'static str,
    pub blocks: Vec<&'static str>,
    pub blocks_reads: bool,
    pub blocks_writes: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedOperation {
    pub title: &'static str,
    pub locks: Vec<ExplainedLock>,
    pub rewrites_table: bool,
    pub rebuilds_indexes: bool,
    pub scans_table: bool,
    pub duration: &'static str,
    pub allowed_in_transaction: bool,
    pub waits_for_transactions: bool,
    /// The table was created earlier in this run: nothing else uses it yet.
    pub on_new_table: bool,
    pub unsupported: Option<&'static str>,
    pub detail: Option<String>,
    pub note: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedStatement {
    pub line: usize,
    pub column: usize,
    pub sql: String,
    /// For statements that are not schema changes: what they do to the session.
    pub session_effect: Option<String>,
    pub in_transaction: bool,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    pub operations: Vec<ExplainedOperation>,
    /// What the model cannot describe in this statement (each also an `unmodelled-statement`
    /// finding on existing relations): said out loud, never "no lock".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_modelled: Vec<String>,
    pub findings: Vec<ExplainedFinding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedFinding {
    pub rule: &'static str,
    pub severity: &'static str,
    pub message: String,
}

/// Explains every statement of one file.
pub fn explain_source(
    source: &SourceFile,
    opts: &LintOptions,
) -> Result<Vec<ExplainedStatement>, SyntaxError> {
    let mut analyzer = Analyzer::new(opts.analysis);
    let (_, analysis) = analyze_source(&mut analyzer, source)?;
    let mut lint_analyzer = Analyzer::new(opts.analysis);
    let findings = lint_with(&mut lint_analyzer, source, opts).findings;
    Ok(analysis
        .statements
        .iter()
        .map(|s| explain_statement(source, s, &findings))
        .collect())
}

fn explain_statement(
    source: &SourceFile,
    s: &AnalyzedStatement,
    findings: &[Finding],
) -> ExplainedStatement {
    let lc = source.line_col(s.span.start);
    let session_effect = match &s.kind {
        StatementKind::Begin => {
            Some("starts a transaction: locks taken from here are held until COMMIT".into())
        }
        StatementKind::Commit => Some("ends the transaction and releases its locks".into()),
        StatementKind::Rollback => Some("rolls back and releases the transaction's locks".into()),
        StatementKind::SetTimeout {
            timeout,
            millis,
            local,
        } => {
            let name = match timeout {
                Timeout::Lock => "lock_timeout",
                Timeout::Statement => "statement_timeout",
            };
            let scope = if *local {
                "for the rest of this transaction"
            } else {
                "for the session"
            };
            Some(match millis {
                Some(ms) => format!("sets {name} to {ms} ms {scope}"),
                None => format!("turns {name} off {scope}"),
            })
        }
        StatementKind::Operations(_) => None,
        StatementKind::Other => Some("takes no lock that matters to the schema change".into()),
    };
    let operations = s
        .effects
        .iter()
        .filter_map(|e| {
            let fact = e.fact?;
            Some(ExplainedOperation {
                title: fact.title,
                locks: e
                    .locks
                    .iter()
                    .map(|l| ExplainedLock {
                        relation: l.relation.clone(),
                        role: l.role.label(),
                        mode: l.mode.sql_name(),
                        blocks: l.mode.blocks().into_iter().map(|o| o.label()).collect(),
                        blocks_reads: l.mode.blocks_reads(),
                        blocks_writes: l.mode.blocks_writes(),
                    })
                    .collect(),
                rewrites_table: fact.rewrite == Rewrite::Table,
                rebuilds_indexes: fact.rewrite != Rewrite::No,
                scans_table: fact.scan == Scan::Table,
                duration: fact.duration().describe(),
                allowed_in_transaction: fact.transaction == TransactionUse::Allowed,
                waits_for_transactions: fact.waits_for_transactions,
                on_new_table: e.new_table,
                unsupported: fact.unsupported,
                detail: e.op.detail.clone(),
                note: (!fact.note.is_empty()).then_some(fact.note),
            })
        })
        .collect();
    let mine = findings
        .iter()
        .filter(|f| f.span.start >= s.span.start && f.span.start < s.span.end.max(s.span.start + 1))
        .map(|f| ExplainedFinding {
            rule: f.rule,
            severity: f.severity.as_str(),
            message: f.message.clone(),
        })
        .collect();
    ExplainedStatement {
        line: lc.line,
        column: lc.column,
        sql: source.slice(&s.span).to_string(),
        session_effect,
        in_transaction: s.session.in_transaction,
        lock_timeout_ms: s.session.lock_timeout_ms,
        statement_timeout_ms: s.session.statement_timeout_ms,
        operations,
        not_modelled: s
            .effects
            .iter()
            .filter_map(|e| e.op.not_modelled.clone())
            .collect(),
        findings: mine,
    }
}

/// Renders the explanation as plain text.
pub fn render_text(file_name: &str, statements: &[ExplainedStatement]) -> String {
    let mut out = String::new();
    for s in statements {
        let first_line = s.sql.lines().next().unwrap_or("");
        let more = if s.sql.lines().nth(1).is_some() {
            " ..."
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{file_name}:{}:{}: {first_line}{more}",
            s.line, s.column
        );
        if let Some(effect) = &s.session_effect {
            let _ = writeln!(out, "    {effect}");
        }
        for op in &s.operations {
            let _ = writeln!(out, "  {}", op.title);
            if let Some(why) = op.unsupported {
                let _ = writeln!(out, "    not available on this PostgreSQL version: {why}");
                continue;
            }
            if op.locks.is_empty() {
                let _ = writeln!(out, "    lock:        none on tables");
            }
            for (i, l) in op.locks.iter().enumerate() {
                let label = if i == 0 { "lock:" } else { "" };
                let blocks = if l.blocks.is_empty() {
                    "blocks no application statement".to_string()
                } else {
                    format!("blocks {}", l.blocks.join(", "))
                };
                let _ = writeln!(
                    out,
                    "    {label:<12} {} on {} ({}): {blocks}",
                    l.mode, l.relation, l.role
                );
            }
            let rewrite = if op.rewrites_table {
                "yes: every row and index is written anew"
            } else if op.rebuilds_indexes {
                "indexes only"
            } else {
                "no"
            };
            let _ = writeln!(out, "    {:<12} {rewrite}", "rewrite:");
            let scan = if op.scans_table {
                "yes: reads every row"
            } else {
                "no"
            };
            let _ = writeln!(out, "    {:<12} {scan}", "scan:");
            let _ = writeln!(out, "    {:<12} {}", "duration:", op.duration);
            let txn = if op.allowed_in_transaction {
                "may run inside a transaction"
            } else {
                "must run outside a transaction block"
            };
            let _ = writeln!(out, "    {:<12} {txn}", "transaction:");
            if op.on_new_table {
                let _ = writeln!(
                    out,
                    "    {:<12} the table was created earlier in this run: nobody else uses it yet",
                    "context:"
                );
            }
            if let Some(d) = &op.detail {
                let _ = writeln!(out, "    {:<12} {d}", "detail:");
            }
            if let Some(n) = op.note {
                let _ = writeln!(out, "    {:<12} {n}", "note:");
            }
        }
        for what in &s.not_modelled {
            let _ = writeln!(out, "  not modelled: {what}");
            let _ = writeln!(
                out,
                "    {:<12} pgdiplomat cannot tell which locks this takes or for how long; \
                 trace it (`pgdiplomat trace`) and run it under a short lock_timeout",
                "lock:"
            );
        }
        if !s.operations.is_empty() || !s.not_modelled.is_empty() {
            let timeout = match s.lock_timeout_ms {
                Some(ms) => format!("lock_timeout {ms} ms"),
                None => "no lock_timeout".to_string(),
            };
            let txn = if s.in_transaction {
                "inside a transaction"
            } else {
                "autocommit"
            };
            let _ = writeln!(out, "    {:<12} {txn}, {timeout}", "session:");
        }
        for f in &s.findings {
            let _ = writeln!(out, "    {}[{}]: {}", f.severity, f.rule, f.message);
        }
        out.push('\n');
    }
    out
}
