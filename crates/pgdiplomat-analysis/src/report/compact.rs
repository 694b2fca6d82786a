//! Compact output, in the style of gcc: one line per finding,
//!
//! ```text
//! db/0001.sql:3:1: error: require-concurrent-index-creation: CREATE INDEX takes ...
//! ```
//!
//! which editors' quickfix lists and problem matchers read. Info findings are `note`s, as in
//! gcc. Nothing else is written, so every line is a finding.

use std::io;

use crate::lint::FileReport;
use crate::rules::{Finding, Severity};
use crate::source::SourceFile;

/// gcc's word for a severity.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Writes `path:line:col: severity: rule: message` for every finding, in file order then
/// source order. Line breaks in a message become spaces, so each finding stays on one line.
pub fn write(out: &mut dyn io::Write, reports: &[FileReport]) -> io::Result<()> {
    for report in reports {
        for f in &report.findings {
            writeln!(out, "{}", line(&report.source, f))?;
        }
    }
    Ok(())
}

/// One finding as `path:line:col: severity: rule: message`, on one line.
pub fn line(source: &SourceFile, f: &Finding) -> String {
    let at = source.line_col(f.span.start);
    let message = f
        .message
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{}:{}:{}: {}: {}: {}",
        source.name,
        at.line,
        at.column,
        severity_word(f.severity),
        f.rule,
        message
    )
}
