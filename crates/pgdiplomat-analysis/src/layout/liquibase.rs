//! Liquibase formatted SQL changelogs, read like `AbstractFormattedChangeLogParser`: the first
//! non-blank line is `--liquibase formatted sql`; `--changeset author:id [attributes]` starts a
//! changeset, which runs to the next one; the text before the first changeset does not run.
//! `--rollback`, `--precondition-*`, `--comment` lines are comments to PostgreSQL too; lines
//! between `--ignoreLines:start` and `--ignoreLines:end` (or the `N` lines after
//! `--ignoreLines:N`) are dropped. Each changeset runs in its own transaction unless
//! `runInTransaction:false`: then each statement (`splitStatements:true`, the default) runs on
//! its own, or the whole changeset is one JDBC execute (`splitStatements:false`). A changeset
//! whose `dbms:` list does not match `postgresql` does not run.
//!
//! The order of changelog files comes from a master changelog (XML or YAML `include file=` /
//! `includeAll path=`) when one is found next to them; otherwise alphabetical by path.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One changeset, as byte ranges of the file that run (more than one when `ignoreLines` cuts
/// it), and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changeset {
    pub ranges: Vec<Range<usize>>,
    pub run_in_transaction: bool,
    pub split_statements: bool,
    pub runs_on_postgres: bool,
}

fn strip_comment_start(line: &str) -> Option<&str> {
    line.trim_start().strip_prefix("--").map(str::trim_start)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// The first non-blank line is `--liquibase formatted ...`.
pub(crate) fn is_formatted(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .and_then(strip_comment_start)
        .and_then(|r| strip_prefix_ci(r, "liquibase formatted"))
        .is_some()
}

/// `--changeset author:id ...`: the attributes text after `changeset`.
fn changeset_line(line: &str) -> Option<&str> {
    let rest = strip_comment_start(line)?;
    let rest = strip_prefix_ci(rest, "changeset")?;
    if !rest.starts_with(char::is_whitespace) || !rest.contains(':') {
        return None;
    }
    Some(rest.trim())
}

/// The value of `key:` among the attributes (case-insensitive key, `\w+` value).
fn attribute<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let lower = attrs.to_ascii_lowercase();
    let at = lower.find(&format!("{}:", key.to_ascii_lowercase()))?;
    let value = &attrs[at + key.len() + 1..];
    let end = value
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '!' || c == ','))
        .unwrap_or(value.len());
    Some(&value[..end])
}

/// Liquibase's `DatabaseList.definitionMatches` for `postgresql`: `all` matches, `none` does
/// not; `!x` excludes; with any plain entry, the database must be one of them.
fn dbms_matches_postgres(list: &str) -> bool {
    let items: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    if items.iter().any(|i| i == "none") {
        return false;
    }
    if items.iter().any(|i| i == "!postgresql") {
        return false;
    }
    let includes: Vec<&String> = items.iter().filter(|i| !i.starts_with('!')).collect();
    includes.is_empty() || includes.iter().any(|i| *i == "postgresql" || *i == "all")
}

/// The changesets of a formatted SQL changelog.
pub(crate) fn changesets(text: &str) -> Vec<Changeset> {
    let mut out: Vec<Changeset> = Vec::new();
    let mut offset = 0;
    let mut ignoring_block = false;
    let mut ignore_count: u64 = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let ignored = if ignoring_block {
            if strip_comment_start(line)
                .and_then(|r| strip_prefix_ci(r, "ignoreLines:end"))
                .is_some()
            {
                ignoring_block = false;
            }
            true
        } else if ignore_count > 0 {
            ignore_count -= 1;
            true
        } else if let Some(arg) =
            strip_comment_start(line).and_then(|r| strip_prefix_ci(r, "ignoreLines:"))
        {
            let arg = arg.trim();
            if arg.eq_ignore_ascii_case("start") {
                ignoring_block = true;
            } else if let Ok(n) = arg.parse() {
                ignore_count = n;
            }
            true
        } else {
            false
        };
        if !ignored {
            if let Some(attrs) = changeset_line(line) {
                let flag = |key: &str, default: bool| {
                    attribute(attrs, key).map_or(default, |v| v.eq_ignore_ascii_case("true"))
                };
                out.push(Changeset {
                    ranges: vec![start..offset],
                    run_in_transaction: flag("runInTransaction", true),
                    split_statements: flag("splitStatements", true),
                    runs_on_postgres: attribute(attrs, "dbms").is_none_or(dbms_matches_postgres),
                });
                continue;
            }
        }
        if ignored {
            continue;
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        match current.ranges.last_mut() {
            Some(last) if last.end == start => last.end = offset,
            _ => current.ranges.push(start..offset),
        }
    }
    for c in &mut out {
        c.ranges.retain(|r| !r.is_empty());
    }
    out
}

// --- changelog order ---------------------------------------------------------------------

/// An `include` or `includeAll` of a changelog, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Include {
    File { path: String, relative: bool },
    All { path: String, relative: bool },
}

/// `name="value"` in an XML tag.
fn xml_attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let quote = v.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let end = v[1..].find(quote)?;
                    return Some(v[1..1 + end].to_owned());
                }
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// The includes of an XML or YAML changelog (JSON and SQL changelogs: none).
fn includes(text: &str, yaml: bool) -> Vec<Include> {
    let mut out = Vec::new();
    if !yaml {
        let mut rest = text;
        while let Some(at) = rest.find("<include") {
            let tag_end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
            let tag = &rest[at..tag_end];
            let relative = xml_attr(tag, "relativeToChangelogFile")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if tag.starts_with("<includeAll") {
                if let Some(path) = xml_attr(tag, "path") {
                    out.push(Include::All { path, relative });
                }
            } else if tag.starts_with("<include ") || tag.starts_with("<include\n") {
                if let Some(path) = xml_attr(tag, "file") {
                    out.push(Include::File { path, relative });
                }
            }
            rest = &rest[tag_end..];
        }
        return out;
    }
    // YAML: `- include:` / `- includeAll:` followed by indented `file:` / `path:` /
    // `relativeToChangelogFile:` keys.
    let mut current: Option<(bool, Option<String>, bool)> = None;
    let flush = |c: &mut Option<(bool, Option<String>, bool)>, out: &mut Vec<Include>| {
        if let Some((all, Some(path), relative)) = c.take() {
            out.push(if all {
                Include::All { path, relative }
            } else {
                Include::File { path, relative }
            });
        }
    };
    for line in text.lines() {
        let t = line.trim().trim_start_matches('-').trim();
        let unquote = |v: &str| v.trim().trim_matches(['"', '\'']).to_owned();
        if t == "include:" || t == "includeAll:" {
            flush(&mut current, &mut out);
            current = Some((t == "includeAll:", None, false));
        } else if let Some(c) = current.as_mut() {
            if let Some(v) = t.strip_prefix("file:").or(t.strip_prefix("path:")) {
                c.1 = Some(unquote(v));
            } else if let Some(v) = t.strip_prefix("relativeToChangelogFile:") {
                c.2 = v.trim().eq_ignore_ascii_case("true");
            } else if t.ends_with(':') && !t.contains(' ') {
                flush(&mut current, &mut out);
            }
        }
    }
    flush(&mut current, &mut out);
    out
}

fn is_changelog_name(p: &Path) -> Option<bool> {
    let lower = p.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".xml") {
        Some(false)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(true)
    } else {
        None
    }
}

/// XML and YAML files under `root` (depth-limited, hidden folders skipped).
fn changelog_files(root: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            if depth > 0 && !p.ends_with("target") && !p.ends_with("node_modules") {
                changelog_files(&p, depth - 1, out);
            }
        } else if is_changelog_name(&p).is_some() {
            out.push(p);
        }
    }
}

/// `path` resolved against the places Liquibase would look, matched against `known`
/// (normalised paths of the files being linted, and changelogs).
fn resolve(
    path: &str,
    relative: bool,
    changelog_dir: &Path,
    root: &Path,
    known: &[PathBuf],
) -> Vec<PathBuf> {
    let path = path
        .trim_start_matches("classpath:")
        .trim_start_matches('/');
    let mut bases = vec![changelog_dir.to_path_buf()];
    if !relative {
        bases.push(root.to_path_buf());
    }
    for base in &bases {
        let candidate = normalise(&base.join(path));
        let hits: Vec<PathBuf> = known
            .iter()
            .filter(|k| **k == candidate || k.starts_with(&candidate))
            .cloned()
            .collect();
        if !hits.is_empty() {
            return hits;
        }
    }
    // Search-path relative (`src/main/resources/...`): match by the path's ending.
    let suffix: PathBuf = PathBuf::from(path);
    known
        .iter()
        .filter(|k| {
            k.ends_with(&suffix) || {
                // includeAll of a folder: files below a folder ending like `path`.
                k.ancestors().any(|a| a.ends_with(&suffix))
            }
        })
        .cloned()
        .collect()
}

/// `a/./b/../c` → `a/c`, without touching the file system.
pub(crate) fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The SQL files of `sql` (normalised paths) in the order the master changelog(s) under
/// `root` include them; `None` when no changelog includes any of them. Files no changelog
/// reaches are left out of the list (the caller appends them).
pub(crate) fn changelog_order(root: &Path, sql: &[PathBuf]) -> Option<Vec<PathBuf>> {
    let mut logs = Vec::new();
    changelog_files(root, 4, &mut logs);
    let logs: Vec<PathBuf> = logs.iter().map(|p| normalise(p)).collect();
    let parsed: Vec<(PathBuf, Vec<Include>)> = logs
        .iter()
        .filter_map(|p| {
            let text = fs::read_to_string(p).ok()?;
            if !text.contains("databaseChangeLog") {
                return None;
            }
            Some((p.clone(), includes(&text, is_changelog_name(p)?)))
        })
        .collect();
    if parsed.iter().all(|(_, inc)| inc.is_empty()) {
        return None;
    }
    let mut known: Vec<PathBuf> = sql.to_vec();
    known.extend(parsed.iter().map(|(p, _)| p.clone()));
    // Masters: changelogs no other changelog includes.
    let mut included = Vec::new();
    for (p, inc) in &parsed {
        let dir = p.parent().unwrap_or(Path::new(""));
        for i in inc {
            let (Include::File { path, relative } | Include::All { path, relative }) = i;
            included.extend(resolve(path, *relative, dir, root, &known));
        }
    }
    let masters: Vec<&PathBuf> = parsed
        .iter()
        .map(|(p, _)| p)
        .filter(|p| !included.contains(p))
        .collect();
    let mut order = Vec::new();
    let mut visiting = Vec::new();
    for m in masters {
        expand(m, &parsed, root, &known, &mut order, &mut visiting);
    }
    order.retain(|p| sql.contains(p));
    let mut seen = std::collections::HashSet::new();
    order.retain(|p| seen.insert(p.clone()));
    (!order.is_empty()).then_some(order)
}

fn expand(
    log: &PathBuf,
    parsed: &[(PathBuf, Vec<Include>)],
    root: &Path,
    known: &[PathBuf],
    order: &mut Vec<PathBuf>,
    visiting: &mut Vec<PathBuf>,
) {
    if visiting.contains(log) {
        return;
    }
    let Some((_, inc)) = parsed.iter().find(|(p, _)| p == log) else {
        return;
    };
    visiting.push(log.clone());
    let dir = log.parent().unwrap_or(Path::new("")).to_path_buf();
    for i in inc {
        let (Include::File { path, relative } | Include::All { path, relative }) = i;
        let mut hits = resolve(path, *relative, &dir, root, known);
        if matches!(i, Include::All { .. }) {
            // includeAll: alphabetical by path.
            hits.sort();
        }
        for h in hits {
            if parsed.iter().any(|(p, _)| *p == h) {
                expand(&h, parsed, root, known, order, visiting);
            } else {
                order.push(h);
            }
        }
    }
    visiting.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changesets_attributes_and_ignored_lines() {
        let text = "--liquibase formatted sql\n\n--changeset alice:1\nCREATE TABLE t (a int);\n--rollback DROP TABLE t;\n\n--changeset bob:2 runInTransaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n--changeset carol:3 dbms:mysql\nSELECT 1;\n--changeset dan:4 splitStatements:false runInTransaction:false dbms:postgresql,h2\nSELECT 2;\n--ignoreLines:start\nSELECT 3;\n--ignoreLines:end\nSELECT 4;\n";
        let cs = changesets(text);
        assert_eq!(cs.len(), 4);
        assert!(is_formatted(text));
        assert!(cs[0].run_in_transaction && cs[0].runs_on_postgres);
        assert!(text[cs[0].ranges[0].clone()].starts_with("--changeset alice:1\n"));
        assert!(!cs[1].run_in_transaction && cs[1].split_statements);
        assert!(!cs[2].runs_on_postgres);
        assert!(!cs[3].split_statements && cs[3].runs_on_postgres);
        let parts: Vec<&str> = cs[3].ranges.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].contains("SELECT 2") && !parts[0].contains("SELECT 3"));
        assert_eq!(parts[1], "SELECT 4;\n");
    }

    #[test]
    fn dbms_lists() {
        assert!(dbms_matches_postgres("postgresql"));
        assert!(dbms_matches_postgres("all"));
        assert!(dbms_matches_postgres("!oracle"));
        assert!(!dbms_matches_postgres("!postgresql"));
        assert!(!dbms_matches_postgres("oracle,mysql"));
        assert!(!dbms_matches_postgres("none"));
    }

    #[test]
    fn includes_of_xml_and_yaml() {
        let xml = r#"<databaseChangeLog><include file="a.sql" relativeToChangelogFile="true"/>
            <includeAll path="more/"/></databaseChangeLog>"#;
        assert_eq!(
            includes(xml, false),
            [
                Include::File {
                    path: "a.sql".into(),
                    relative: true
                },
                Include::All {
                    path: "more/".into(),
                    relative: false
                }
            ]
        );
        let yaml = "databaseChangeLog:\n  - include:\n      file: db/b.sql\n      relativeToChangelogFile: true\n  - includeAll:\n      path: db/all/\n";
        assert_eq!(
            includes(yaml, true),
            [
                Include::File {
                    path: "db/b.sql".into(),
                    relative: true
                },
                Include::All {
                    path: "db/all/".into(),
                    relative: false
                }
            ]
        );
    }
}
