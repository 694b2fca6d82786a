//! Human output: one rustc-style diagnostic per finding, with the statement's first line
//! underlined, the help text and the safe alternative; then a one-line summary.

use std::io;

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor::WriteColor, Chars, Config};

use super::Summary;
use crate::lint::FileReport;
use crate::rules::Severity;
use crate::source::SourceFile;

/// Bytes of context shown before the finding and after its underline on a long line, and the
/// longest underline: a finding on a 5 MB one-line file prints a window, not the line.
const CONTEXT: usize = 60;
const MAX_UNDERLINE: usize = 160;

/// What codespan sees of one finding: its line, or a window of a long line (marked `...`),
/// with the real line and column numbers. Building it is O(window + log lines), so the output
/// stays linear in the number of findings whatever the line lengths.
struct Excerpt<'s> {
    name: &'s str,
    text: String,
    line: usize,
    /// The column (1-based, in characters) of the first byte after `prefix`.
    first_column: usize,
    prefix: usize,
}

impl<'a, 's: 'a> Files<'a> for Excerpt<'s> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;
    fn name(&'a self, _: ()) -> Result<&'a str, FilesError> {
        Ok(self.name)
    }
    fn source(&'a self, _: ()) -> Result<&'a str, FilesError> {
        Ok(&self.text)
    }
    fn line_index(&'a self, _: (), _: usize) -> Result<usize, FilesError> {
        Ok(0)
    }
    fn line_number(&'a self, _: (), _: usize) -> Result<usize, FilesError> {
        Ok(self.line)
    }
    fn column_number(&'a self, _: (), _: usize, byte: usize) -> Result<usize, FilesError> {
        let byte = byte.clamp(self.prefix, self.text.len());
        let byte = (self.prefix..=byte)
            .rev()
            .find(|&b| self.text.is_char_boundary(b))
            .unwrap_or(self.prefix);
        Ok(self.first_column + self.text[self.prefix..byte].chars().count())
    }
    fn line_range(&'a self, _: (), _: usize) -> Result<Range<usize>, FilesError> {
        Ok(0..self.text.len())
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The excerpt for a finding at `span` (its first line only), and the label range in it.
fn excerpt<'s>(source: &'s SourceFile, span: &Range<usize>) -> (Excerpt<'s>, Range<usize>) {
    let text = source.text.as_str();
    let start = floor_boundary(text, span.start.min(text.len()));
    let line = source.line_bounds(start);
    let start = start.min(line.end);
    let end = span.end.clamp(start, line.end).min(start + MAX_UNDERLINE);
    let end = floor_boundary(text, end).max(start);
    let from = if start - line.start > CONTEXT {
        floor_boundary(text, start - CONTEXT)
    } else {
        line.start
    };
    let to = if line.end - end > CONTEXT {
        ceil_boundary(text, end + CONTEXT)
    } else {
        line.end
    };
    let prefix = if from > line.start { "..." } else { "" };
    let suffix = if to < line.end { "..." } else { "" };
    let label = (start - from + prefix.len())..(end - from + prefix.len());
    let position = source.line_col(from);
    (
        Excerpt {
            name: source.name.as_str(),
            text: format!("{prefix}{}{suffix}", &text[from..to]),
            line: position.line,
            first_column: position.column,
            prefix: prefix.len(),
        },
        label,
    )
}

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
        for f in &report.findings {
            let severity = match f.severity {
                Severity::Error => CsSeverity::Error,
                Severity::Warning => CsSeverity::Warning,
                Severity::Info => CsSeverity::Note,
            };
            // Underline the first line of the statement only: statements can be long.
            let (file, label) = excerpt(&report.source, &f.span);
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
                .with_labels(vec![Label::primary((), label)])
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
