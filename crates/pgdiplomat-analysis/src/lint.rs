//! The lint driver: parse → analyse → rules → inline ignores, for one file or a run of files
//! sharing one schema state.

use std::collections::HashSet;

use crate::analyze::{AnalysisOptions, Analyzer, FileAnalysis};
use crate::directives::{parse_directive, Directive};
use crate::parse::{parse_sql, Comment, ParsedFile};
use crate::rules::{
    all_rules, rule_by_id, Finding, RuleContext, Severity, INVALID_DIRECTIVE, SYNTAX_ERROR,
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

/// Lints one file against an analyzer carrying the state of earlier files.
pub fn lint_with(analyzer: &mut Analyzer, source: &SourceFile, opts: &LintOptions) -> FileReport {
    let (parsed, analysis) = match analyze_source(analyzer, source) {
        Ok(x) => x,
        Err(e) => {
            let end = source.text[e.offset.min(source.text.len())..]
                .char_indices()
                .find(|(_, c)| c.is_whitespace() || *c == ';')
                .map(|(i, _)| e.offset + i.max(1))
                .unwrap_or(source.text.len());
            let finding = Finding {
                rule: SYNTAX_ERROR,
                severity: Severity::Error,
                span: e.offset..end.max(e.offset),
                message: e.message,
                help: Some(
                    "PostgreSQL cannot parse this file, so nothing in it was checked".into(),
                ),
                fix_sql: None,
            };
            return FileReport {
                source: source.clone(),
                findings: vec![finding],
                suppressed: 0,
                statements: 0,
            };
        }
    };
    let mut findings = Vec::new();
    let mut file_ignores: HashSet<String> = HashSet::new();
    let mut stmt_ignores: Vec<HashSet<String>> = Vec::with_capacity(parsed.statements.len());
    let all_comments = parsed
        .statements
        .iter()
        .map(|s| &s.leading_comments)
        .chain(std::iter::once(&parsed.trailing_comments));
    for (i, comments) in all_comments.enumerate() {
        let mut ignores = HashSet::new();
        for c in comments {
            read_directive(source, c, &mut ignores, &mut file_ignores, &mut findings);
        }
        if i < parsed.statements.len() {
            stmt_ignores.push(ignores);
        }
    }

    let rules: Vec<_> = all_rules()
        .iter()
        .copied()
        .filter(|r| opts.enabled(r.id()))
        .collect();
    let mut suppressed = 0;
    for (stmt, analyzed) in parsed.statements.iter().zip(&analysis.statements) {
        let ctx = RuleContext {
            options: &opts.analysis,
            stmt: analyzed,
            node: stmt.node.as_ref(),
            sql: source.slice(&stmt.span),
            source,
        };
        let mut out = Vec::new();
        for rule in &rules {
            rule.check(&ctx, &mut out);
        }
        let ignores = &stmt_ignores[stmt.index];
        for f in out {
            let silenced = |set: &HashSet<String>| set.contains(f.rule) || set.contains("all");
            if silenced(ignores) || silenced(&file_ignores) {
                suppressed += 1;
            } else {
                findings.push(f);
            }
        }
    }
    findings.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.severity)));
    FileReport {
        source: source.clone(),
        findings,
        suppressed,
        statements: parsed.statements.len(),
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
    let Some(result) = parse_directive(body) else {
        return;
    };
    let directive_error = |message: String| Finding {
        rule: INVALID_DIRECTIVE,
        severity: Severity::Warning,
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
            };
            for r in d.rules() {
                if r != "all" && rule_by_id(r).is_none() {
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
