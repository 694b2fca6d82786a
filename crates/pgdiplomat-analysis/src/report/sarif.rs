//! SARIF 2.1.0 output, for GitHub code scanning and other SARIF viewers.
//!
//! One run whose driver lists every rule (and the pseudo-rules `syntax-error`,
//! `invalid-directive`, `psql-meta-command` and `unknown-placeholder`), and one result per
//! finding. Columns count characters
//! (`columnKind: unicodeCodePoints`), as everywhere else in pgdiplomat. Each result carries a
//! partial fingerprint hashed from the rule, the file and the statement text, so an alert
//! keeps its identity when the statement moves to another line.
//!
//! The safe alternative SQL goes into `message.markdown`, not into `fixes`: a SARIF fix is a
//! set of text replacements, and the safe alternative is often a different choreography (other
//! statements, outside the transaction) rather than an in-place replacement of the span.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::markdown::escape_text;
use crate::lint::FileReport;
use crate::rules::{
    all_rules, Finding, Severity, INVALID_DIRECTIVE, PSQL_META_COMMAND, SYNTAX_ERROR,
    UNKNOWN_PLACEHOLDER,
};

/// The schema named in `$schema` (the OASIS 2.1.0 schema with errata 01).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
pub const INFORMATION_URI: &str = "https://github.com/pgdiplomat/pgdiplomat";
/// The key of the fingerprint in each result's `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "pgdiplomat/statementHash/v1";

/// The description of one rule or pseudo-rule, as the driver lists it.
struct RuleDoc {
    id: &'static str,
    severity: Severity,
    summary: &'static str,
    explanation: &'static str,
    bad: Option<&'static str>,
    good: Option<&'static str>,
}

fn rule_docs() -> Vec<RuleDoc> {
    let mut docs: Vec<RuleDoc> = all_rules()
        .iter()
        .map(|r| RuleDoc {
            id: r.id(),
            severity: r.severity(),
            summary: r.summary(),
            explanation: r.explanation(),
            bad: Some(r.bad_example()),
            good: Some(r.good_example()),
        })
        .collect();
    docs.push(RuleDoc {
        id: SYNTAX_ERROR,
        severity: Severity::Error,
        summary: "PostgreSQL cannot parse the file",
        explanation:
            "The file is not valid SQL for PostgreSQL's parser, so none of its statements \
were checked. Fix the syntax error; the position points at the token the parser stopped on.",
        bad: None,
        good: None,
    });
    docs.push(RuleDoc {
        id: INVALID_DIRECTIVE,
        severity: Severity::Warning,
        summary: "a pgdiplomat comment directive cannot be read or names an unknown rule",
        explanation: "A `-- pgdiplomat:` comment is malformed or names a rule that does not exist, \
so it has no effect. Write `-- pgdiplomat:ignore <rule-id> <reason>` before the statement, or \
`-- pgdiplomat:ignore-file <rule-id> <reason>` anywhere in the file; `pgdiplomat rules` lists the ids.",
        bad: None,
        good: None,
    });
    docs.push(RuleDoc {
        id: PSQL_META_COMMAND,
        severity: Severity::Info,
        summary: "a psql meta-command changes what is linted, or the tool is not psql",
        explanation: "psql meta-commands (`\\set`, `\\echo`, ...) are skipped and the rest of the file \
is linted. Some change what runs: `\\i`/`\\ir` include a file that is not followed, `\\c` opens a new \
session, `\\gexec` runs statements the query returns, `\\q` stops, `\\if` branches are not \
evaluated. In a file whose migration tool is not psql a meta-command is an error: the tool sends it \
to PostgreSQL, which cannot run it.",
        bad: None,
        good: None,
    });
    docs.push(RuleDoc {
        id: UNKNOWN_PLACEHOLDER,
        severity: Severity::Info,
        summary: "a placeholder, psql variable or template action has no value here",
        explanation: "Flyway placeholders (`${name}`), psql variables (`:name`) and Go template \
actions (`{{ ... }}`) are replaced before the file is parsed, by the value given with `--define`, \
`[placeholders]` in pgdiplomat.toml or Flyway's configuration, or else by a stand-in name of the \
same length, so that every line and column stays the file's. The findings then name the stand-in.",
        bad: None,
        good: None,
    });
    docs
}

/// SARIF's `level` for a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// `require-concurrent-index-creation` → `RequireConcurrentIndexCreation`.
pub fn camel_case(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_uppercase().chain(cs).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// A fenced code block that no backtick run in `code` can close early.
fn fenced(lang: &str, code: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{}\n{fence}", code.trim_end_matches('\n'))
}

fn rule_descriptor(doc: &RuleDoc) -> Value {
    let mut text = doc.explanation.to_string();
    let mut markdown = escape_text(doc.explanation);
    if let Some(bad) = doc.bad {
        text.push_str(&format!("\n\nFlagged:\n{bad}"));
        markdown.push_str(&format!("\n\nFlagged:\n\n{}", fenced("sql", bad)));
    }
    if let Some(good) = doc.good {
        text.push_str(&format!("\n\nSafe:\n{good}"));
        markdown.push_str(&format!("\n\nSafe:\n\n{}", fenced("sql", good)));
    }
    json!({
        "id": doc.id,
        "name": camel_case(doc.id),
        "shortDescription": { "text": doc.summary },
        "fullDescription": { "text": doc.explanation },
        "help": { "text": text, "markdown": markdown },
        "defaultConfiguration": { "level": level(doc.severity) },
    })
}

/// The path as a SARIF `uri`: forward slashes, no leading `./`, percent-encoded; relative
/// paths stay relative (to the repository root, for GitHub), absolute ones become `file:` URIs.
pub fn artifact_uri(name: &str) -> String {
    let path = super::github::repo_path(name);
    let bytes = path.as_bytes();
    let windows_drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if windows_drive {
        format!("file:///{}", percent_encode(&path, true))
    } else if path.starts_with('/') {
        format!("file://{}", percent_encode(&path, true))
    } else {
        percent_encode(&path, false)
    }
}

/// Encodes every byte that may not appear as itself in a URI path; `:` too unless
/// `allow_colon` (in a relative reference it would be read as a scheme).
fn percent_encode(path: &str, allow_colon: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            )
            || (allow_colon && b == b':');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// 64-bit FNV-1a: small, fixed forever, and good enough to tell statements apart.
fn fnv1a64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            // A separator that cannot occur in the parts' UTF-8.
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &b in p.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The statement text with runs of whitespace collapsed, so reindenting it keeps the
/// fingerprint.
fn normalized(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `message`, then the help, as plain text.
fn message_text(f: &Finding) -> String {
    match &f.help {
        Some(help) => format!("{}\nhelp: {help}", f.message),
        None => f.message.clone(),
    }
}

fn message_markdown(f: &Finding) -> String {
    let mut md = escape_text(&f.message);
    if let Some(help) = &f.help {
        md.push_str(&format!("\n\nHelp: {}", escape_text(help)));
    }
    if let Some(sql) = &f.fix_sql {
        md.push_str(&format!("\n\nSafe alternative:\n\n{}", fenced("sql", sql)));
    }
    md
}

/// The whole run as one SARIF 2.1.0 log.
pub fn to_sarif(reports: &[FileReport], pg_version: u32) -> Value {
    let docs = rule_docs();
    let rules: Vec<Value> = docs.iter().map(rule_descriptor).collect();
    let index_of = |id: &str| docs.iter().position(|d| d.id == id);

    let mut results = Vec::new();
    for report in reports {
        let uri = artifact_uri(&report.source.name);
        // How often each (rule, statement) was seen in this file: identical statements get
        // distinct fingerprints, numbered in source order.
        let mut seen: HashMap<(&str, u64), usize> = HashMap::new();
        for f in &report.findings {
            let start = report.source.line_col(f.span.start);
            let end = report.source.line_col(f.span.end.max(f.span.start));
            let sql = normalized(report.source.slice(&f.span));
            let hash = fnv1a64(&[f.rule, &uri, &sql]);
            let occurrence = seen.entry((f.rule, hash)).or_insert(0);
            *occurrence += 1;
            let mut result = Map::new();
            result.insert("ruleId".into(), json!(f.rule));
            if let Some(i) = index_of(f.rule) {
                result.insert("ruleIndex".into(), json!(i));
            }
            result.insert("level".into(), json!(level(f.severity)));
            result.insert(
                "message".into(),
                json!({ "text": message_text(f), "markdown": message_markdown(f) }),
            );
            result.insert(
                "locations".into(),
                json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri },
                        "region": {
                            "startLine": start.line,
                            "startColumn": start.column,
                            "endLine": end.line,
                            "endColumn": end.column,
                        }
                    }
                }]),
            );
            result.insert(
                "partialFingerprints".into(),
                json!({ FINGERPRINT_KEY: format!("{hash:016x}:{occurrence}") }),
            );
            results.push(Value::Object(result));
        }
    }

    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "pgdiplomat",
                    "informationUri": INFORMATION_URI,
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": { "pgVersion": pg_version },
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_joins_words() {
        assert_eq!(
            camel_case("require-concurrent-index-creation"),
            "RequireConcurrentIndexCreation"
        );
        assert_eq!(camel_case("syntax-error"), "SyntaxError");
    }

    #[test]
    fn uris_are_relative_forward_slashed_and_encoded() {
        assert_eq!(artifact_uri("db/m/0001.sql"), "db/m/0001.sql");
        assert_eq!(artifact_uri("./db\\m\\0001.sql"), "db/m/0001.sql");
        assert_eq!(artifact_uri("db/my file%.sql"), "db/my%20file%25.sql");
        assert_eq!(artifact_uri("a:b.sql"), "a%3Ab.sql");
        assert_eq!(artifact_uri("/abs/x.sql"), "file:///abs/x.sql");
        assert_eq!(artifact_uri("C:\\m\\x.sql"), "file:///C:/m/x.sql");
        assert_eq!(artifact_uri("<stdin>"), "%3Cstdin%3E");
        assert_eq!(artifact_uri("é.sql"), "%C3%A9.sql");
    }

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(fenced("sql", "a ```` b"), "`````sql\na ```` b\n`````");
    }
}
