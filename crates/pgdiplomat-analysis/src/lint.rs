//! The lint driver: parse → analyse → rules → inline ignores, for one file or a run of files
//! sharing one schema state.

use std::collections::HashSet;

use crate::analyze::{AnalysisOptions, AnalyzedStatement, Analyzer, FileAnalysis};
use crate::directives::{is_backfill_attempt, parse_directive, Directive};
use crate::parse::{parse_sql, parse_sql_chunked, Comment, ParsedFile, Statement};
use crate::plpgsql::{expand_do_blocks, BlockPart};
use crate::preprocess::Preprocessed;
use crate::rules::{
    all_rules, rule_by_id, Finding, Rule, RuleContext, Severity, INVALID_DIRECTIVE,
    PREPROCESSOR_IDS, SYNTAX_ERROR,
};
use crate::source::SourceFile;

/// Which rules run.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    pub analysis: AnalysisOptions,
    /// When non-empty, only these rule ids run.
    pub include: Vec<String>,
    /// These rule ids never run.
    pub exclude: Vec<String>,
}

impl LintOptions {
    fn enabled(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|i| i == id))
            && !self.exclude.iter().any(|e| e == id)
    }
}

/// The result of linting one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub source: SourceFile,
    /// Findings in source order.
    pub findings: Vec<Finding>,
    /// Findings silenced by `pgdiplomat:ignore` comments.
    pub suppressed: usize,
    /// Number of statements parsed (0 on a syntax error).
    pub statements: usize,
}

impl FileReport {
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Lints one file on its own (a fresh schema state).
pub fn lint_source(source: &SourceFile, opts: &LintOptions) -> FileReport {
    let mut analyzer = Analyzer::new(opts.analysis);
    lint_with(&mut analyzer, source, opts)
}

/// Lints files in order; tables created by earlier files are known to later ones.
pub fn lint_sources(sources: Vec<SourceFile>, opts: &LintOptions) -> Vec<FileReport> {
    let mut analyzer = Analyzer::new(opts.analysis);
    sources
        .iter()
        .map(|s| lint_with(&mut analyzer, s, opts))
        .collect()
}

/// Parses and analyses one file (for `explain`): the parse result and the analysis.
pub fn analyze_source(
    analyzer: &mut Analyzer,
    source: &SourceFile,
) -> Result<(ParsedFile, FileAnalysis), crate::parse::SyntaxError> {
    let parsed = parse_sql(&source.text)?;
    let analysis = analyzer.analyze_file(&parsed);
    Ok((parsed, analysis))
}

/// Files larger than this are parsed on a second thread while the first analyses.
const PIPELINE_THRESHOLD: usize = 256 * 1024;
/// Statements per parse chunk: bounds the memory held in parse trees.
pub(crate) const CHUNK_STATEMENTS: usize = 2_000;

/// Lints one file against an analyzer carrying the state of earlier files.
///
/// Large files are parsed in chunks on a helper thread and analysed as the chunks arrive, so
/// memory stays bounded and both cores work; the result is the same as a whole-file pass.
pub fn lint_with(analyzer: &mut Analyzer, source: &SourceFile, opts: &LintOptions) -> FileReport {
    lint_text(analyzer, source, source, &[], opts)
}

/// Lints a file as its tool runs it ([`crate::preprocess`]): the parser reads `pre.text`, the
/// findings point into `source` (the offsets are the same) and the report shows `source`; the
/// preprocessor's notes are findings of the file, which `exclude` and `ignore-file` comments
/// silence like rules (`include` does not hide them).
pub fn lint_preprocessed(
    analyzer: &mut Analyzer,
    source: &SourceFile,
    pre: &Preprocessed,
    opts: &LintOptions,
) -> FileReport {
    if !pre.changed() && pre.notes.is_empty() {
        return lint_with(analyzer, source, opts);
    }
    let linted = SourceFile::new(source.name.clone(), pre.text.clone());
    let notes: Vec<Finding> = pre
        .notes
        .iter()
        .filter(|f| !opts.exclude.iter().any(|e| e == f.rule))
        .cloned()
        .collect();
    let mut report = lint_text(analyzer, &linted, source, &notes, opts);
    report.source = source.clone();
    if !pre.stand_ins.is_empty() {
        // Findings name the placeholder as the file writes it, not its stand-in.
        for f in report
            .findings
            .iter_mut()
            .filter(|f| !PREPROCESSOR_IDS.contains(&f.rule))
        {
            f.message = pre.restore(&f.message);
            f.help = f.help.as_deref().map(|h| pre.restore(h));
            f.fix_sql = f.fix_sql.as_deref().map(|h| pre.restore(h));
        }
    }
    report
}

/// Lints `source`; the rules quote statements from `shown` (the same text, or the file it was
/// preprocessed from: a safe alternative then repeats the user's text, not the stand-ins).
fn lint_text(
    analyzer: &mut Analyzer,
    source: &SourceFile,
    shown: &SourceFile,
    notes: &[Finding],
    opts: &LintOptions,
) -> FileReport {
    let mut session = analyzer.start_file();
    let mut checker = Checker::new(source, shown, opts);
    checker.findings.extend_from_slice(notes);
    let parsed = parse_pipelined(&source.text, CHUNK_STATEMENTS, |mut chunk: ParsedFile| {
        // The statements of DO blocks are linted where they stand in the block.
        expand_do_blocks(&mut chunk, &source.text);
        let analyzed = analyzer.analyze_chunk(&chunk, &mut session);
        checker.check_chunk(&chunk, &analyzed);
    });
    match parsed {
        Ok(()) => checker.finish(),
        Err(e) => {
            let mut report = syntax_error_report(source, e);
            report.findings.extend_from_slice(notes);
            report.findings.sort_by_key(|f| f.span.start);
            report
        }
    }
}

/// Parses `text` in chunks of `chunk_statements` and hands them to `on_chunk` in order; files
/// larger than `PIPELINE_THRESHOLD` are parsed on a helper thread while this one consumes the
/// previous chunk (at most two chunks wait in between, so memory stays bounded).
pub(crate) fn parse_pipelined(
    text: &str,
    chunk_statements: usize,
    mut on_chunk: impl FnMut(ParsedFile),
) -> Result<(), crate::parse::SyntaxError> {
    if text.len() < PIPELINE_THRESHOLD {
        return parse_sql_chunked(text, chunk_statements, &mut on_chunk);
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<ParsedFile>(2);
        let parser = scope.spawn(move || {
            crate::parse::with_parse_stack(|| {
                parse_sql_chunked(text, chunk_statements, |chunk| {
                    // The receiver only goes away if this thread's results no longer matter.
                    let _ = tx.send(chunk);
                })
            })
        });
        for chunk in rx {
            on_chunk(chunk);
        }
        parser.join().unwrap_or_else(|_| {
            Err(crate::parse::SyntaxError {
                offset: 0,
                message: "internal error: the parser thread panicked".into(),
            })
        })
    })
}

/// The rules ignored for the whole file by `pgdiplomat:ignore-file` comments anywhere in it.
/// Only files that contain the directive are parsed for it (in chunks, trees dropped at once).
pub(crate) fn file_ignores(source: &SourceFile) -> HashSet<String> {
    let mut file = HashSet::new();
    if !source.text.contains("pgdiplomat:ignore-file") {
        return file;
    }
    let _ = parse_pipelined(&source.text, CHUNK_STATEMENTS, |chunk| {
        let comments = chunk
            .statements
            .iter()
            .flat_map(|s| &s.leading_comments)
            .chain(&chunk.trailing_comments);
        for c in comments {
            read_directive(source, c, &mut HashSet::new(), &mut file, &mut Vec::new());
        }
    });
    file
}

fn syntax_error_report(source: &SourceFile, e: crate::parse::SyntaxError) -> FileReport {
    // From the offending token to the next whitespace or `;`, always at least one character,
    // always on character boundaries.
    let start = e.offset.min(source.text.len());
    let rest = &source.text[start..];
    let first = rest.chars().next().map_or(0, char::len_utf8);
    let end = rest[first..]
        .char_indices()
        .find(|(_, c)| c.is_ascii_whitespace() || *c == ';')
        .map(|(i, _)| start + first + i)
        .unwrap_or(source.text.len());
    let finding = Finding {
        rule: SYNTAX_ERROR,
        severity: Severity::Error,
        span: start..end,
        message: e.message,
        help: Some("PostgreSQL cannot parse this file, so nothing in it was checked".into()),
        fix_sql: None,
    };
    FileReport {
        source: source.clone(),
        findings: vec![finding],
        suppressed: 0,
        statements: 0,
    }
}

/// Runs the rules chunk by chunk and applies the ignore directives.
struct Checker<'a> {
    source: &'a SourceFile,
    /// What the rules quote statements from (see `lint_text`).
    shown: &'a SourceFile,
    rules: Vec<&'static dyn Rule>,
    opts: &'a LintOptions,
    findings: Vec<Finding>,
    file_ignores: HashSet<String>,
    suppressed: usize,
    statements: usize,
    /// The `pgdiplomat:ignore` rules before the DO block being checked: they cover every
    /// statement of its body.
    block_ignores: HashSet<String>,
    /// `breaking-drop` findings of DROP VIEW inside the open transaction, by view: a CREATE
    /// VIEW of the same name before the transaction ends means readers only ever see a view.
    pending_view_drops: Vec<(String, Finding)>,
}

impl<'a> Checker<'a> {
    fn new(source: &'a SourceFile, shown: &'a SourceFile, opts: &'a LintOptions) -> Self {
        Checker {
            source,
            shown,
            rules: all_rules()
                .iter()
                .copied()
                .filter(|r| opts.enabled(r.id()))
                .collect(),
            opts,
            findings: Vec::new(),
            file_ignores: HashSet::new(),
            block_ignores: HashSet::new(),
            pending_view_drops: Vec::new(),
            suppressed: 0,
            statements: 0,
        }
    }

    fn check_chunk(&mut self, parsed: &ParsedFile, analysis: &[AnalyzedStatement]) {
        for (stmt, analyzed) in parsed.statements.iter().zip(analysis) {
            if !analyzed.session.in_transaction {
                self.flush_view_drops();
            }
            if let Some(view) = created_view(stmt) {
                self.pending_view_drops.retain(|(v, _)| *v != view);
            }
            let mut found = self.check_statement(stmt, analyzed);
            if analyzed.session.in_transaction {
                if let Some(views) = dropped_views(stmt) {
                    for f in found.extract_if(.., |f| f.rule == "breaking-drop") {
                        for v in &views {
                            self.pending_view_drops.push((v.clone(), f.clone()));
                        }
                    }
                }
            }
            self.findings.extend(found);
        }
        let mut ignored = HashSet::new();
        for c in &parsed.trailing_comments {
            read_directive(
                self.source,
                c,
                &mut ignored,
                &mut self.file_ignores,
                &mut self.findings,
            );
        }
        // A DO block counts as the one statement it is.
        self.statements += parsed
            .statements
            .iter()
            .filter(|s| matches!(s.block, None | Some(BlockPart::Open)))
            .count();
    }

    /// The findings of one statement that its `pgdiplomat:ignore` comments leave; findings
    /// about the comments themselves go to `self.findings`.
    fn check_statement(&mut self, stmt: &Statement, analyzed: &AnalyzedStatement) -> Vec<Finding> {
        let source = self.source;
        let mut ignores = HashSet::new();
        for c in &stmt.leading_comments {
            read_directive(
                source,
                c,
                &mut ignores,
                &mut self.file_ignores,
                &mut self.findings,
            );
        }
        match &stmt.block {
            Some(BlockPart::Open) => self.block_ignores = ignores.clone(),
            Some(BlockPart::Inner { .. }) => ignores.extend(self.block_ignores.iter().cloned()),
            Some(BlockPart::Close) => self.block_ignores.clear(),
            None => {}
        }
        let ctx = RuleContext {
            options: &self.opts.analysis,
            stmt: analyzed,
            node: stmt.node.as_ref(),
            sql: self.shown.slice(&stmt.span),
            source,
        };
        let mut out = Vec::new();
        for rule in &self.rules {
            rule.check(&ctx, &mut out);
        }
        out.retain(|f| {
            let ignored = ignores.contains(f.rule) || ignores.contains("all");
            self.suppressed += usize::from(ignored);
            !ignored
        });
        if matches!(stmt.block, Some(BlockPart::Inner { .. })) {
            // A safe alternative rewritten in place would still run inside the block (where
            // CONCURRENTLY cannot run, and every lock lasts to its end).
            for f in &mut out {
                if f.fix_sql.take().is_some() {
                    let help = f.help.take().unwrap_or_default();
                    f.help = Some(format!(
                        "{help}{}this statement runs inside a DO block: move it out of the block to \
                         apply the safe alternative",
                        if help.is_empty() { "" } else { "; " }
                    ));
                }
            }
        }
        out
    }

    /// The transaction ended: the views dropped in it and not created again are gone.
    fn flush_view_drops(&mut self) {
        let mut seen: Vec<std::ops::Range<usize>> = Vec::new();
        for (_, f) in self.pending_view_drops.drain(..) {
            if !seen.contains(&f.span) {
                seen.push(f.span.clone());
                self.findings.push(f);
            }
        }
    }

    fn finish(mut self) -> FileReport {
        self.flush_view_drops();
        // `ignore-file` may appear anywhere in the file, so it is applied last.
        if !self.file_ignores.is_empty() {
            let before = self.findings.len();
            let ignores = &self.file_ignores;
            self.findings.retain(|f| !ignored_in_file(ignores, f));
            self.suppressed += before - self.findings.len();
        }
        self.findings
            .sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.severity)));
        FileReport {
            source: self.source.clone(),
            findings: self.findings,
            suppressed: self.suppressed,
            statements: self.statements,
        }
    }
}

fn ignored_in_file(ignores: &HashSet<String>, f: &Finding) -> bool {
    ignores.contains(f.rule) || (ignores.contains("all") && f.rule != INVALID_DIRECTIVE)
}

/// Findings statement by statement, as the chunks of a file arrive (for `explain`, which
/// prints each statement as it goes): the rules, the statement's ignore comments and the
/// file's `ignore-file` comments (known up front, see `file_ignores`) applied.
pub(crate) struct StatementChecker<'a> {
    checker: Checker<'a>,
    file_ignores: HashSet<String>,
}

impl<'a> StatementChecker<'a> {
    pub(crate) fn new(source: &'a SourceFile, opts: &'a LintOptions) -> Self {
        StatementChecker {
            checker: Checker::new(source, source, opts),
            file_ignores: file_ignores(source),
        }
    }

    pub(crate) fn findings(
        &mut self,
        stmt: &Statement,
        analyzed: &AnalyzedStatement,
    ) -> Vec<Finding> {
        let mut found = self.checker.check_statement(stmt, analyzed);
        // Findings about comments are not shown by explain; nothing needs to keep them.
        self.checker.findings.clear();
        found.retain(|f| !ignored_in_file(&self.file_ignores, f));
        found
    }
}

fn read_directive(
    source: &SourceFile,
    c: &Comment,
    stmt: &mut HashSet<String>,
    file: &mut HashSet<String>,
    findings: &mut Vec<Finding>,
) {
    let body = source.slice(&c.body);
    // A broken backfill directive would let apply run the UPDATE as one whole-table statement:
    // an error, not a warning.
    let backfill = is_backfill_attempt(body);
    let severity = if backfill {
        Severity::Error
    } else {
        Severity::Warning
    };
    let Some(result) = parse_directive(body) else {
        if backfill {
            findings.push(Finding {
                rule: INVALID_DIRECTIVE,
                severity,
                span: c.span.clone(),
                message: "this looks like a `pgdiplomat:backfill` directive but is not one, so \
                          apply would run the next UPDATE unbatched"
                    .into(),
                help: Some("write `-- pgdiplomat:backfill batch=N pause=DURATION`".into()),
                fix_sql: None,
            });
        }
        return;
    };
    let directive_error = |message: String| Finding {
        rule: INVALID_DIRECTIVE,
        severity,
        span: c.span.clone(),
        message,
        help: Some(
            "write `-- pgdiplomat:ignore <rule-id> <reason>`; `pgdiplomat rules` lists the ids"
                .into(),
        ),
        fix_sql: None,
    };
    match result {
        Err(e) => findings.push(directive_error(e.message)),
        Ok(d) => {
            let target = match &d {
                Directive::Ignore { .. } => &mut *stmt,
                Directive::IgnoreFile { .. } => &mut *file,
                // Instructions for `apply`, nothing for lint to ignore.
                Directive::Backfill { .. } => return,
            };
            for r in d.rules() {
                if r != "all" && rule_by_id(r).is_none() && !PREPROCESSOR_IDS.contains(&r.as_str())
                {
                    findings.push(directive_error(format!(
                        "unknown rule `{r}` in ignore comment"
                    )));
                } else {
                    target.insert(r.clone());
                }
            }
        }
    }
}

/// The view a `CREATE [OR REPLACE] VIEW` creates (its key).
fn created_view(stmt: &Statement) -> Option<String> {
    match stmt.node.as_ref()? {
        pg_query::NodeEnum::ViewStmt(v) => v
            .view
            .as_ref()
            .map(|rv| crate::model::RelName::from_range_var(rv).key()),
        _ => None,
    }
}

/// The views a `DROP VIEW` drops (their keys).
fn dropped_views(stmt: &Statement) -> Option<Vec<String>> {
    let pg_query::NodeEnum::DropStmt(d) = stmt.node.as_ref()? else {
        return None;
    };
    if d.remove_type != pg_query::protobuf::ObjectType::ObjectView as i32 {
        return None;
    }
    Some(
        d.objects
            .iter()
            .filter_map(|o| match o.node.as_ref()? {
                pg_query::NodeEnum::List(l) => {
                    let names = crate::model::names::string_list(&l.items);
                    let (name, schema) = names.split_last()?;
                    Some(crate::model::RelName::new(schema.last().map(String::as_str), name).key())
                }
                _ => None,
            })
            .collect(),
    )
}
