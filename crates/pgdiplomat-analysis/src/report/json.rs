//! JSON output, format version 1. Documented in `docs/json-format.md`; fields are only ever
//! added, never renamed or removed, without bumping `version`.

use serde::Serialize;

use super::Summary;
use crate::lint::FileReport;
use crate::rules::Severity;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Output<'a> {
    version: u32,
    tool: &'static str,
    pg_version: u32,
    files: Vec<JsonFile<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    statements: usize,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: Severity,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    /// Byte offsets into the file.
    start: usize,
    end: usize,
    message: &'a str,
    help: Option<&'a str>,
    fix_sql: Option<&'a str>,
}

/// The whole run as one JSON document.
pub fn to_json(reports: &[FileReport], pg_version: u32) -> serde_json::Value {
    let files = reports
        .iter()
        .map(|r| JsonFile {
            path: &r.source.name,
            statements: r.statements,
            findings: r
                .findings
                .iter()
                .map(|f| {
                    let s = r.source.line_col(f.span.start);
                    let e = r.source.line_col(f.span.end);
                    JsonFinding {
                        rule: f.rule,
                        severity: f.severity,
                        line: s.line,
                        column: s.column,
                        end_line: e.line,
                        end_column: e.column,
                        start: f.span.start,
                        end: f.span.end,
                        message: &f.message,
                        help: f.help.as_deref(),
                        fix_sql: f.fix_sql.as_deref(),
                    }
                })
                .collect(),
        })
        .collect();
    let out = Output {
        version: FORMAT_VERSION,
        tool: "pgdiplomat",
        pg_version,
        files,
        summary: Summary::of(reports),
    };
    serde_json::to_value(out).unwrap_or(serde_json::Value::Null)
}
