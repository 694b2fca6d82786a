//! `explain`: the "whisper" — statement by statement, in plain words, what PostgreSQL will do:
//! the lock per relation and what it blocks, rewrite, scan, how the duration grows, and
//! whether it may run inside a transaction. Everything comes from the analysis and the lock
//! table; findings come from the same rules `lint` runs.

use std::fmt::Write as _;

use pgdiplomat_locks::{RelationRole, Rewrite, Scan, TransactionUse};
use serde::Serialize;

use crate::analyze::{AnalyzedStatement, Analyzer};
use crate::lint::{parse_pipelined, LintOptions, StatementChecker, CHUNK_STATEMENTS};
use crate::model::{SchemaState, StatementKind, Timeout};
use crate::parse::SyntaxError;
use crate::preprocess::Preprocessed;
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
    /// Why PostgreSQL will refuse the statement, when the schema shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub detail: Option<String>,
    pub note: Option<&'static str>,
    /// The statement recurses to partitions or inheritance children the run does not know:
    /// "and any partitions ... of t" with the lock each would take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub and_any: Option<String>,
    /// Other relations read in full (the DEFAULT partition of ATTACH / PARTITION OF, the
    /// referencing tables whose foreign keys are re-validated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_scans: Vec<String>,
    /// Other relations emptied or rewritten (what TRUNCATE ... CASCADE reaches).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_rewrites: Vec<String>,
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

/// Explains every statement of one file (collected; `explain_each` streams).
pub fn explain_source(
    source: &SourceFile,
    opts: &LintOptions,
) -> Result<Vec<ExplainedStatement>, SyntaxError> {
    let mut all = Vec::new();
    explain_each(source, opts, |s| all.push(s))?;
    Ok(all)
}

/// Explains one file statement by statement, handing each explanation to `emit` as soon as
/// its chunk is analysed: memory is bounded by the chunk size, not the file. On a syntax
/// error nothing is emitted.
pub fn explain_each(
    source: &SourceFile,
    opts: &LintOptions,
    emit: impl FnMut(ExplainedStatement),
) -> Result<(), SyntaxError> {
    explain_chunked(source, opts, CHUNK_STATEMENTS, emit)
}

/// `explain_each` knowing the existing schema first (read from a database by
/// `pgdiplomat-catalog`, or learned from earlier files): predictions then name the real
/// partitions, indexes, dependents and column types.
pub fn explain_each_with_schema(
    source: &SourceFile,
    opts: &LintOptions,
    schema: SchemaState,
    emit: impl FnMut(ExplainedStatement),
) -> Result<(), SyntaxError> {
    let mut analyzer = Analyzer::new(opts.analysis);
    analyzer.schema = schema;
    explain_with(analyzer, source, source, opts, CHUNK_STATEMENTS, emit)
}

/// `explain_each_with_schema` for a file prepared by [`crate::preprocess`]: analysed from
/// `pre.text`, each statement's position and SQL shown from `source` (the offsets are the
/// same). The preprocessor's notes are not statements: the caller shows them.
pub fn explain_preprocessed(
    source: &SourceFile,
    pre: &Preprocessed,
    opts: &LintOptions,
    schema: SchemaState,
    emit: impl FnMut(ExplainedStatement),
) -> Result<(), SyntaxError> {
    let linted = SourceFile::new(source.name.clone(), pre.text.clone());
    let mut analyzer = Analyzer::new(opts.analysis);
    analyzer.schema = schema;
    let mut emit = emit;
    explain_with(
        analyzer,
        &linted,
        source,
        opts,
        CHUNK_STATEMENTS,
        |mut s| {
            if !pre.stand_ins.is_empty() {
                restore_names(&mut s, pre);
            }
            emit(s)
        },
    )
}

/// The names of an explanation as the file writes them (placeholders, not their stand-ins).
fn restore_names(s: &mut ExplainedStatement, pre: &Preprocessed) {
    let all = |v: &mut Vec<String>| v.iter_mut().for_each(|x| *x = pre.restore(x));
    let opt = |o: &mut Option<String>| {
        if let Some(x) = o.as_mut() {
            *x = pre.restore(x);
        }
    };
    for op in &mut s.operations {
        for l in &mut op.locks {
            l.relation = pre.restore(&l.relation);
        }
        opt(&mut op.refused);
        opt(&mut op.detail);
        opt(&mut op.and_any);
        all(&mut op.also_scans);
        all(&mut op.also_rewrites);
    }
    all(&mut s.not_modelled);
    for f in &mut s.findings {
        f.message = pre.restore(&f.message);
    }
}

/// `explain_each` with chunks of `chunk_statements` statements (chunks never change the result).
pub fn explain_chunked(
    source: &SourceFile,
    opts: &LintOptions,
    chunk_statements: usize,
    emit: impl FnMut(ExplainedStatement),
) -> Result<(), SyntaxError> {
    explain_with(
        Analyzer::new(opts.analysis),
        source,
        source,
        opts,
        chunk_statements,
        emit,
    )
}

/// Explains `source` statement by statement, showing positions and SQL from `display` (the
/// same text, or the file it was preprocessed from).
fn explain_with(
    mut analyzer: Analyzer,
    source: &SourceFile,
    display: &SourceFile,
    opts: &LintOptions,
    chunk_statements: usize,
    mut emit: impl FnMut(ExplainedStatement),
) -> Result<(), SyntaxError> {
    let mut session = analyzer.start_file();
    let mut checker = StatementChecker::new(source, opts);
    parse_pipelined(&source.text, chunk_statements, |chunk| {
        let analyzed = analyzer.analyze_chunk(&chunk, &mut session);
        for (stmt, a) in chunk.statements.iter().zip(&analyzed) {
            let findings = checker.findings(stmt, a);
            emit(explain_statement(display, a, &findings));
        }
    })
}

/// What the statement also locks where the schema decides and the run does not know it:
/// "and any partitions ... of t: MODE on each", "the DEFAULT partition of t, if any: MODE".
fn and_any(e: &crate::analyze::Effect) -> Option<String> {
    let table =
        e.op.table
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default();
    let mut parts: Vec<String> = Vec::new();
    if let Some((role, mode)) = e.unknown_descendants() {
        let what = if role == RelationRole::Partitions {
            "partitions"
        } else {
            "partitions and inheritance children"
        };
        parts.push(format!("and any {what} of {table}: {mode} on each"));
    }
    for (role, mode) in e.unknown_related() {
        if let Some(what) = crate::model::relation_for_role(&e.op, role) {
            parts.push(format!("{what}: {mode}"));
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!(
        "{} (which ones is not known without the database schema)",
        parts.join("; ")
    ))
}

/// The relations of `roles` the statement reaches (as resolved for its locks).
fn also_relations(e: &crate::analyze::Effect, roles: &[RelationRole]) -> Vec<String> {
    e.locks
        .iter()
        .filter(|l| roles.contains(&l.role))
        .map(|l| l.relation.clone())
        .collect()
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
                refused: e.op.refused.clone(),
                detail: e.op.detail.clone(),
                note: (!fact.note.is_empty()).then_some(fact.note),
                and_any: and_any(e),
                also_scans: also_relations(e, fact.also_scans),
                also_rewrites: also_relations(e, fact.also_rewrites),
            })
        })
        .collect();
    let mine = findings
        .iter()
        .inspect(|_| {
            #[cfg(test)]
            tests::EXAMINED.with(|c| c.set(c.get() + 1));
        })
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
        render_statement_text(&mut out, file_name, s);
    }
    out
}

/// Appends one statement's explanation as plain text (what `render_text` writes for it).
pub fn render_statement_text(out: &mut String, file_name: &str, s: &ExplainedStatement) {
    {
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
            if let Some(why) = &op.refused {
                let _ = writeln!(out, "    {:<12} PostgreSQL will refuse it: {why}", "fails:");
            }
            if op.locks.is_empty() && op.and_any.is_none() {
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
            if let Some(any) = &op.and_any {
                let label = if op.locks.is_empty() { "lock:" } else { "" };
                let _ = writeln!(out, "    {label:<12} {any}");
            }
            let rewrite = if op.rewrites_table {
                "yes: every row and index is written anew"
            } else if op.rebuilds_indexes {
                "indexes only"
            } else {
                "no"
            };
            let rewrite = if op.also_rewrites.is_empty() {
                rewrite.to_string()
            } else {
                format!("{rewrite}; also empties {}", op.also_rewrites.join(", "))
            };
            let _ = writeln!(out, "    {:<12} {rewrite}", "rewrite:");
            let scan = match (op.scans_table, op.also_scans.is_empty()) {
                (true, true) => "yes: reads every row".to_string(),
                (true, false) => format!(
                    "yes: reads every row, and every row of {}",
                    op.also_scans.join(", ")
                ),
                (false, false) => format!("yes: reads every row of {}", op.also_scans.join(", ")),
                (false, true) => "no".to_string(),
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
}

/// Writes the JSON document of an explanation statement by statement, byte for byte what
/// `serde_json::to_string_pretty` gives for `{version, file, pg_version, statements}` plus
/// a final newline, without holding the statements.
pub struct JsonStream<W: std::io::Write> {
    out: W,
    written: usize,
}

impl<W: std::io::Write> JsonStream<W> {
    pub fn start(mut out: W, file_name: &str, pg_version: u32) -> std::io::Result<Self> {
        let head = serde_json::json!({
            "version": 1,
            "file": file_name,
            "pg_version": pg_version,
        });
        let head = serde_json::to_string_pretty(&head).map_err(std::io::Error::other)?;
        // `{ ... \n}`: reopen the object after its last member.
        let head = head.strip_suffix("\n}").unwrap_or(&head);
        write!(out, "{head},\n  \"statements\": [")?;
        Ok(JsonStream { out, written: 0 })
    }

    pub fn statement(&mut self, s: &ExplainedStatement) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
        // Strings in JSON never hold a raw newline, so every newline starts a line to indent.
        let sep = if self.written == 0 { "" } else { "," };
        write!(self.out, "{sep}\n    {}", text.replace('\n', "\n    "))?;
        self.written += 1;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        if self.written == 0 {
            self.out.write_all(b"]\n}\n")?;
        } else {
            self.out.write_all(b"\n  ]\n}\n")?;
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Findings looked at while attributing findings to statements, on this thread.
        pub(super) static EXAMINED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// `n` statements, most of them with a finding, on several lines and chunks.
    fn many(n: usize) -> String {
        (0..n)
            .map(|i| match i % 4 {
                0 => format!("CREATE INDEX i{i} ON t{i} (c);\n"),
                1 => format!("ALTER TABLE t{i} ADD COLUMN c int NOT NULL;\n"),
                2 => "SET lock_timeout = '2s';\n".to_string(),
                _ => format!("ALTER TABLE t{i} ALTER COLUMN c TYPE bigint; -- pgdiplomat:ignore rewrites-table x\n"),
            })
            .collect()
    }

    #[test]
    fn attributing_findings_looks_at_each_finding_a_bounded_number_of_times() {
        let source = SourceFile::new("many.sql", many(6_000));
        EXAMINED.with(|c| c.set(0));
        let explained = explain_source(&source, &LintOptions::default()).unwrap();
        let findings: usize = explained.iter().map(|s| s.findings.len()).sum();
        assert!(findings > 3_000, "{findings}");
        let examined = EXAMINED.with(|c| c.get());
        // Each finding is looked at about once, not once per statement.
        assert!(
            examined <= 2 * findings + explained.len(),
            "{examined} findings examined for {} statements",
            explained.len()
        );
    }

    fn json_of(name: &str, pg: u32, all: &[ExplainedStatement]) -> String {
        let doc = serde_json::json!({
            "version": 1,
            "file": name,
            "pg_version": pg,
            "statements": all,
        });
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    }

    fn streamed_json(name: &str, pg: u32, all: &[ExplainedStatement]) -> String {
        let mut stream = JsonStream::start(Vec::new(), name, pg).unwrap();
        for s in all {
            stream.statement(s).unwrap();
        }
        String::from_utf8(stream.finish().unwrap()).unwrap()
    }

    #[test]
    fn chunk_boundaries_do_not_change_the_explanation_text_or_json() {
        // Transactions, timeouts, ignore comments and an ignore-file at the end all cross
        // chunk boundaries.
        let mut sql = String::from("SET lock_timeout = '1s';\nBEGIN;\n");
        sql.push_str(&many(300));
        sql.push_str("ALTER TABLE big ADD CONSTRAINT c CHECK (x > 0) NOT VALID;\n");
        sql.push_str(&many(17));
        sql.push_str("ALTER TABLE big VALIDATE CONSTRAINT c;\nCOMMIT;\n;;\n");
        sql.push_str(&many(50));
        sql.push_str("-- pgdiplomat:ignore-file missing-lock-timeout legacy\n");
        let source = SourceFile::new("chunks.sql", sql);
        let opts = LintOptions::default();
        let mut whole = Vec::new();
        explain_chunked(&source, &opts, usize::MAX, |s| whole.push(s)).unwrap();
        assert!(whole.len() > 360);
        assert!(whole.iter().any(|s| !s.findings.is_empty()));
        assert!(whole
            .iter()
            .all(|s| s.findings.iter().all(|f| f.rule != "missing-lock-timeout")));
        let whole_text = render_text("chunks.sql", &whole);
        let whole_json = json_of("chunks.sql", 16, &whole);
        for chunk in [1, 7, 64, 299] {
            let mut chunked = Vec::new();
            explain_chunked(&source, &opts, chunk, |s| chunked.push(s)).unwrap();
            let mut text = String::new();
            for s in &chunked {
                render_statement_text(&mut text, "chunks.sql", s);
            }
            assert_eq!(text, whole_text, "chunks of {chunk}");
            assert_eq!(streamed_json("chunks.sql", 16, &chunked), whole_json);
        }
    }

    #[test]
    fn streamed_json_of_no_statements_is_the_same_document() {
        assert_eq!(streamed_json("e.sql", 15, &[]), json_of("e.sql", 15, &[]));
        let source = SourceFile::new("e.sql", "-- only a comment\n");
        let all = explain_source(&source, &LintOptions::default()).unwrap();
        assert!(all.is_empty());
    }
}
