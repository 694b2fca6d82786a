//! Human output: one rustc-style diagnostic per finding, with the statement's first line
//! underlined, the help text and the safe alternative; then a one-line summary.

use std::io;

use codespan_reporting::diagnostic::{Diagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::WriteColor, Chars, Config};

use super::Summary;
use crate::lint::FileReport;
use crate::rules::Severity;

fn config() -> Config {
    Config {
        chars: Chars::ascii(),
        ..Config::default()
    }
}

/// Writes every finding of every report, then the summary line.
pub fn write_reports(out: &mut dyn WriteColor, reports: &[FileReport]) -> io::Result<()> {
    let cfg = config();
    for report in reports {
        if report.findings.is_empty() {
            continue;
        }
        let file = SimpleFile::new(report.source.name.as_str(), report.source.text.as_str());
        for f in &report.findings {
            let severity = match f.severity {
                Severity::Error => CsSeverity::Error,
                Severity::Warning => CsSeverity::Warning,
                Severity::Info => CsSeverity::Note,
            };
            // Underline the first line of the statement only: statements can be long.
            let text = &report.source.text;
            let start = f.span.start.min(text.len());
            let mut end = f.span.end.min(text.len()).max(start);
            if let Some(nl) = text[start..end].find('\n') {
                end = start + nl;
            }
            let mut notes = Vec::new();
            if let Some(help) = &f.help {
                notes.push(format!("help: {help}"));
            }
            if let Some(sql) = &f.fix_sql {
                notes.push(format!("safe alternative:\n{}", indent(sql)));
            }
            let diag = Diagnostic::new(severity)
                .with_message(&f.message)
                .with_code(f.rule)
                .with_labels(vec![Label::primary((), start..end)])
                .with_notes(notes);
            term::emit(out, &cfg, &file, &diag).map_err(io::Error::other)?;
        }
    }
    write_summary(out, &Summary::of(reports))
}

fn indent(sql: &str) -> String {
    sql.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `3 files, 12 statements: 2 errors, 1 warning (1 ignored)`.
pub fn write_summary(out: &mut dyn WriteColor, s: &Summary) -> io::Result<()> {
    let plural = |n: usize, one: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut parts = Vec::new();
    if s.errors + s.warnings + s.infos == 0 {
        parts.push("no findings".to_string());
    } else {
        if s.errors > 0 {
            parts.push(plural(s.errors, "error"));
        }
        if s.warnings > 0 {
            parts.push(plural(s.warnings, "warning"));
        }
        if s.infos > 0 {
            parts.push(plural(s.infos, "note"));
        }
    }
    let mut line = format!(
        "{}, {}: {}",
        plural(s.files, "file"),
        plural(s.statements, "statement"),
        parts.join(", ")
    );
    if s.suppressed > 0 {
        line.push_str(&format!(" ({} ignored by pgdiplomat:ignore)", s.suppressed));
    }
    writeln!(out, "{line}")
}
