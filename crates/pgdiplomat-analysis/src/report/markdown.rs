//! Markdown output, for a pull-request comment: a heading, the run's counts in a table, then
//! per file a table of findings and, per flagged statement, a collapsed `<details>` block with
//! the statement's SQL, the help and the safe alternative.
//!
//! GitHub-flavoured Markdown: `|` is escaped in table cells, and text that reaches HTML
//! (`<summary>`) or Markdown prose has `<`, `>` and `&` escaped, so a message cannot inject
//! markup into the comment.

use std::io;

use super::Summary;
use crate::lint::FileReport;
use crate::rules::{Finding, Severity};

/// The marker shown in the severity column (plain text, no emoji).
pub fn severity_marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "**error**",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Text for a table cell: HTML specials (outside code spans) and `|` escaped, line breaks as
/// `<br>`.
pub fn cell(s: &str) -> String {
    escape_text(s)
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\r', '\n'], "<br>")
}

/// A code span for a table cell (`|` escaped, which GFM tables need even in code spans).
fn code_cell(s: &str) -> String {
    let one_line = s.replace(['\r', '\n'], " ");
    code_span(&one_line).replace('|', "\\|")
}

/// A code span that no backtick run in `s` can close early.
fn code_span(s: &str) -> String {
    let ticks = "`".repeat(longest_backtick_run(s) + 1);
    if s.starts_with('`') || s.ends_with('`') {
        format!("{ticks} {s} {ticks}")
    } else {
        format!("{ticks}{s}{ticks}")
    }
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A fenced code block that no backtick run in `code` can close early.
fn fenced(lang: &str, code: &str) -> String {
    let fence = "`".repeat((longest_backtick_run(code) + 1).max(3));
    format!(
        "{fence}{lang}\n{}\n{fence}",
        code.trim_end_matches(['\r', '\n'])
    )
}

/// Escapes `&`, `<` and `>` outside code spans, so the text cannot open HTML tags; inside a
/// code span they show as they are and need no escaping.
pub(crate) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('`') {
        out.push_str(&html_escape(&rest[..open]));
        let after = &rest[open..];
        let ticks = after.len() - after.trim_start_matches('`').len();
        let body = &after[ticks..];
        // The span closes at the next run of exactly as many backticks.
        let mut close = None;
        let mut i = 0;
        while let Some(j) = body[i..].find('`') {
            let at = i + j;
            let run = body[at..].len() - body[at..].trim_start_matches('`').len();
            if run == ticks {
                close = Some(at);
                break;
            }
            i = at + run;
        }
        match close {
            Some(at) => {
                out.push_str(&after[..ticks + at + ticks]);
                rest = &body[at + ticks..];
            }
            None => {
                // Unmatched: the backticks are literal text.
                out.push_str(&after[..ticks]);
                rest = body;
            }
        }
    }
    out.push_str(&html_escape(rest));
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn headline(s: &Summary) -> String {
    let mut parts = Vec::new();
    if s.errors > 0 {
        parts.push(plural(s.errors, "error"));
    }
    if s.warnings > 0 {
        parts.push(plural(s.warnings, "warning"));
    }
    if s.infos > 0 {
        parts.push(plural(s.infos, "note"));
    }
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join(", ")
    }
}

/// Writes the whole report. `pg_version` is the PostgreSQL major version the run assumed.
pub fn write(out: &mut dyn io::Write, reports: &[FileReport], pg_version: u32) -> io::Result<()> {
    let s = Summary::of(reports);
    writeln!(out, "## pgdiplomat: {}", headline(&s))?;
    writeln!(out)?;
    writeln!(
        out,
        "Checked {} and {} against PostgreSQL {pg_version}.",
        plural(s.files, "file"),
        plural(s.statements, "statement")
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| Files | Statements | Errors | Warnings | Notes | Ignored |"
    )?;
    writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: |")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |",
        s.files, s.statements, s.errors, s.warnings, s.infos, s.suppressed
    )?;

    for report in reports.iter().filter(|r| !r.findings.is_empty()) {
        write_file(out, report)?;
    }
    Ok(())
}

fn write_file(out: &mut dyn io::Write, report: &FileReport) -> io::Result<()> {
    let name = &report.source.name;
    writeln!(out)?;
    writeln!(out, "### {}", code_span(&name.replace(['\r', '\n'], " ")))?;
    writeln!(out)?;
    writeln!(out, "| Location | Severity | Rule | Message |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for f in &report.findings {
        let line = report.source.line_col(f.span.start).line;
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            code_cell(&format!("{name}:{line}")),
            severity_marker(f.severity),
            code_cell(f.rule),
            cell(&f.message),
        )?;
    }

    // One block per flagged statement (findings on the same span), in source order.
    // A map from span to group keeps this linear in the number of findings.
    let mut groups: Vec<Vec<&Finding>> = Vec::new();
    let mut group_of: std::collections::HashMap<(usize, usize), usize> =
        std::collections::HashMap::new();
    for f in &report.findings {
        let key = (f.span.start, f.span.end);
        match group_of.get(&key) {
            Some(&g) => groups[g].push(f),
            None => {
                group_of.insert(key, groups.len());
                groups.push(vec![f]);
            }
        }
    }
    for group in groups {
        write_details(out, report, &group)?;
    }
    Ok(())
}

fn write_details(
    out: &mut dyn io::Write,
    report: &FileReport,
    group: &[&Finding],
) -> io::Result<()> {
    let span = &group[0].span;
    let start = report.source.line_col(span.start).line;
    let end = report.source.line_col(span.end.max(span.start)).line;
    let lines = if end > start {
        format!("Lines {start}–{end}")
    } else {
        format!("Line {start}")
    };
    let mut rules: Vec<&str> = Vec::new();
    for f in group {
        if !rules.contains(&f.rule) {
            rules.push(f.rule);
        }
    }
    let rules = rules
        .iter()
        .map(|r| format!("<code>{}</code>", html_escape(r)))
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(out)?;
    writeln!(out, "<details>")?;
    writeln!(out, "<summary>{lines}: {rules}</summary>")?;
    writeln!(out)?;
    let sql = report.source.slice(span);
    if !sql.trim().is_empty() {
        writeln!(out, "{}", fenced("sql", sql))?;
        writeln!(out)?;
    }
    for f in group {
        writeln!(
            out,
            "- {} {}: {}",
            severity_marker(f.severity),
            code_span(f.rule),
            prose(&f.message)
        )?;
        if let Some(help) = &f.help {
            writeln!(out)?;
            writeln!(out, "  Help: {}", prose(help))?;
        }
        if let Some(fix) = &f.fix_sql {
            writeln!(out)?;
            writeln!(out, "  Safe alternative:")?;
            writeln!(out)?;
            for line in fenced("sql", fix).lines() {
                if line.is_empty() {
                    writeln!(out)?;
                } else {
                    writeln!(out, "  {line}")?;
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "</details>")?;
    Ok(())
}

/// Text for a list item: HTML specials escaped outside code spans, line breaks kept inside the
/// item.
fn prose(s: &str) -> String {
    escape_text(s).replace("\r\n", "\n").replace('\n', "\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_markup_and_newlines() {
        assert_eq!(cell("a | b <x>\nc"), "a \\| b &lt;x&gt;<br>c");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
        assert_eq!(code_span("x ` y"), "``x ` y``");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(
            escape_text("a <b> `<c>` ``x`<d>`` `<e>"),
            "a &lt;b&gt; `<c>` ``x`<d>`` `&lt;e&gt;"
        );
    }
}
