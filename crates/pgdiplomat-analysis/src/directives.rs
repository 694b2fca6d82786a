//! Inline ignore directives in SQL comments.
//!
//! ```sql
//! -- pgdiplomat:ignore require-concurrent-index-creation -- table is tiny
//! CREATE INDEX ...;
//! /* pgdiplomat:ignore-file all: legacy migration */
//! ```
//!
//! A comment is a directive only when its text starts (after whitespace)
//! with `pgdiplomat:`.

const PREFIX: &str = "pgdiplomat:";
const IGNORE: &str = "ignore";
const IGNORE_FILE: &str = "ignore-file";
const BACKFILL: &str = "backfill";

/// The largest `batch=N`: batch bounds are primary-key values (`bigint`), so a larger step
/// could never advance.
pub const MAX_BATCH: u64 = i64::MAX as u64;

/// `batch=N pause=10ms` after `pgdiplomat:backfill`.
fn parse_backfill(text: &str, from: usize) -> Result<Directive, DirectiveError> {
    let mut batch = None;
    let mut pause_ms = None;
    let mut offset = from;
    for word in text[from..].split_whitespace() {
        let at = text[offset..].find(word).map_or(offset, |i| offset + i);
        offset = at + word.len();
        let bad = |m: String| DirectiveError {
            offset: at,
            message: m,
        };
        match word.split_once('=') {
            Some(("batch", v)) => {
                batch = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| (1..=MAX_BATCH).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "`batch={v}`: expected a whole number of rows from 1 to {MAX_BATCH}"
                            ))
                        })?,
                )
            }
            Some(("pause", v)) => {
                pause_ms = Some(crate::model::parse_duration(v).ok_or_else(|| bad(format!("`pause={v}`: expected a duration like 10ms or 1s")))?)
            }
            _ => return Err(bad(format!("unexpected `{word}` after pgdiplomat:backfill (expected `batch=N` or `pause=DURATION`)"))),
        }
    }
    Ok(Directive::Backfill { batch, pause_ms })
}
const EXAMPLE_RULE: &str = "require-concurrent-index-creation";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `pgdiplomat:ignore <rules> [reason]`: ignore these rules for the next statement.
    Ignore {
        rules: Vec<String>,
        reason: Option<String>,
    },
    /// `pgdiplomat:ignore-file <rules> [reason]`: ignore these rules in the whole file.
    IgnoreFile {
        rules: Vec<String>,
        reason: Option<String>,
    },
    /// `pgdiplomat:backfill [batch=N] [pause=DURATION]`: `pgdiplomat apply` runs the next
    /// statement (an UPDATE) in primary-key batches, one short transaction each, resumably.
    Backfill {
        batch: Option<u64>,
        pause_ms: Option<u64>,
    },
}

impl Directive {
    /// The rule ids (or `all`) the directive names.
    pub fn rules(&self) -> &[String] {
        match self {
            Directive::Ignore { rules, .. } | Directive::IgnoreFile { rules, .. } => rules,
            Directive::Backfill { .. } => &[],
        }
    }

    /// The free-text justification, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Directive::Ignore { reason, .. } | Directive::IgnoreFile { reason, .. } => {
                reason.as_deref()
            }
            Directive::Backfill { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    /// Byte offset within the given comment text.
    pub offset: usize,
    pub message: String,
}

impl std::fmt::Display for DirectiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DirectiveError {}

fn error(offset: usize, message: impl Into<String>) -> Option<Result<Directive, DirectiveError>> {
    Some(Err(DirectiveError {
        offset,
        message: message.into(),
    }))
}

/// Parses one comment's text (without the leading `--` or the `/* */`
/// delimiters). Returns `None` when the comment is not a pgdiplomat directive.
pub fn parse_directive(comment_body: &str) -> Option<Result<Directive, DirectiveError>> {
    let text = comment_body;
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with(PREFIX) {
        return None;
    }

    // Directive name.
    let name_start = start + PREFIX.len();
    let name_end = scan(text, name_start, |c| {
        c.is_alphanumeric() || c == '-' || c == '_'
    });
    let name = &text[name_start..name_end];
    let is_file = match name {
        BACKFILL => return Some(parse_backfill(text, name_end)),
        IGNORE => false,
        IGNORE_FILE => true,
        "" => {
            return error(
                name_start,
                format!(
                "expected a directive name right after `{PREFIX}`: `{IGNORE}` or `{IGNORE_FILE}` \
                     (e.g. `-- {PREFIX}{IGNORE} {EXAMPLE_RULE} reason`)"
            ),
            )
        }
        unknown => {
            return error(
                name_start,
                format!(
                    "unknown pgdiplomat directive `{unknown}`; did you mean `{}`? \
                     (valid directives: `{IGNORE}`, `{IGNORE_FILE}`, `{BACKFILL}`)",
                    closest_directive(unknown)
                ),
            )
        }
    };
    let directive = &text[start..name_end];
    if let Some(c) = text[name_end..].chars().next() {
        if !c.is_whitespace() {
            return error(
                name_end,
                format!(
                    "expected a space after `{directive}`, found `{c}` \
                     (e.g. `-- {directive} {EXAMPLE_RULE} reason`)"
                ),
            );
        }
    }

    // Rule list: `a`, `a,b`, `a, b`, `a , b`.
    let mut rules: Vec<String> = Vec::new();
    let mut pos = skip_whitespace(text, name_end);
    let rule_start = pos;
    let no_rule = |offset: usize| {
        error(
            offset,
            format!(
                "expected a rule id after {directive} (e.g. `-- {directive} {EXAMPLE_RULE} reason`)"
            ),
        )
    };
    loop {
        let end = scan(text, pos, |c| !c.is_whitespace() && c != ',' && c != ':');
        let rule = &text[pos..end];
        // `--` here starts a reason, not a rule.
        if rule.is_empty() || rule.starts_with("--") {
            if rule_start == pos {
                return no_rule(pos);
            }
            return error(pos, "expected a rule id after `,`");
        }
        if let Some(message) = check_rule_id(rule) {
            return error(pos, message);
        }
        if !rules.iter().any(|r| r == rule) {
            rules.push(rule.to_string());
        }
        let after = skip_whitespace(text, end);
        if text[after..].starts_with(',') {
            pos = skip_whitespace(text, after + 1);
        } else {
            pos = end;
            break;
        }
    }

    // Optional reason: whitespace, then optionally `--` or `:`.
    let rest = text[pos..].trim_start();
    let rest = rest
        .strip_prefix("--")
        .or_else(|| rest.strip_prefix(':'))
        .unwrap_or(rest)
        .trim();
    let reason = (!rest.is_empty()).then(|| rest.to_string());

    Some(Ok(if is_file {
        Directive::IgnoreFile { rules, reason }
    } else {
        Directive::Ignore { rules, reason }
    }))
}

/// Byte index of the first char at or after `from` not matching `keep`.
fn scan(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(text.len(), |(i, _)| from + i)
}

fn skip_whitespace(text: &str, from: usize) -> usize {
    scan(text, from, char::is_whitespace)
}

/// `None` if `rule` is a valid rule id (`[a-z0-9-]+`) or `all`, else an
/// error message.
fn check_rule_id(rule: &str) -> Option<String> {
    if rule
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    let suggestion: String = rule
        .chars()
        .map(|c| match c {
            '_' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let hint = if suggestion != rule
        && suggestion
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        format!("; did you mean `{suggestion}`?")
    } else {
        String::new()
    };
    Some(format!(
        "invalid rule id `{rule}`: rule ids are lowercase kebab-case like `{EXAMPLE_RULE}`, or `all`{hint}"
    ))
}

/// The valid directive name closest to a misspelled one.
fn closest_directive(word: &str) -> &'static str {
    let lower = word.to_lowercase();
    [IGNORE, IGNORE_FILE, BACKFILL]
        .into_iter()
        .min_by_key(|d| edit_distance(&lower, d))
        .unwrap_or(IGNORE)
}

/// Whether a comment is meant as a `pgdiplomat:backfill` directive, even a misspelled one
/// (`pgdiplomat:backfil`, `pgdiplomat backfill`, `PGDIPLOMAT:BACKFILL`, `pgdiplomat:bakfill batch=…`).
/// When it is and [`parse_directive`] does not return a valid backfill, the statement after it
/// would run as one whole-table UPDATE: lint reports an error and apply refuses.
pub fn is_backfill_attempt(comment_body: &str) -> bool {
    let text = comment_body.trim_start().to_lowercase();
    let Some(rest) = text.strip_prefix("pgdiplomat") else {
        return false;
    };
    let rest = rest.trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    name == BACKFILL
        || (!name.is_empty() && closest_directive(&name) == BACKFILL)
        || rest.contains("batch=")
        || rest.contains("pause=")
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let best = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            cur.push(best);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Directive {
        match parse_directive(body) {
            Some(Ok(d)) => d,
            other => panic!("expected a directive for {body:?}, got {other:?}"),
        }
    }

    #[test]
    fn backfill_batch_is_bounded_by_bigint() {
        let max = format!(" pgdiplomat:backfill batch={MAX_BATCH}");
        assert_eq!(
            ok(&max),
            Directive::Backfill {
                batch: Some(MAX_BATCH),
                pause_ms: None
            }
        );
        for bad in [
            "0",
            "1k",
            "-5",
            "9223372036854775808",
            "18446744073709551616",
        ] {
            let e = err(&format!(" pgdiplomat:backfill batch={bad}"));
            assert!(e.message.contains("from 1 to"), "{bad}: {e}");
        }
    }

    #[test]
    fn backfill_attempts_are_recognised_even_misspelled() {
        for body in [
            " pgdiplomat:backfill batch=10",
            " pgdiplomat:backfil batch=10",
            " pgdiplomat:bakfill",
            " pgdiplomat backfill batch=10",
            " PGDIPLOMAT:BACKFILL",
            " pgdiplomat:batch=10",
        ] {
            assert!(is_backfill_attempt(body), "{body}");
        }
        for body in [
            " pgdiplomat:ignore all",
            " pgdiplomat:ignore-file all: legacy",
            " backfill later",
            " pgdiplomat:ignore whole-table-update -- the backfill is tiny",
        ] {
            assert!(!is_backfill_attempt(body), "{body}");
        }
    }

    fn err(body: &str) -> DirectiveError {
        match parse_directive(body) {
            Some(Err(e)) => e,
            other => panic!("expected an error for {body:?}, got {other:?}"),
        }
    }

    fn ignore(rules: &[&str], reason: Option<&str>) -> Directive {
        Directive::Ignore {
            rules: rules.iter().map(|r| r.to_string()).collect(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn comments_not_starting_with_prefix_are_not_directives() {
        assert_eq!(parse_directive(" create the users table"), None);
        assert_eq!(parse_directive(" see pgdiplomat:ignore docs"), None);
        assert_eq!(parse_directive(" pgdiplomat ignore foo"), None);
        assert_eq!(parse_directive(""), None);
        assert_eq!(parse_directive("PGDIPLOMAT:ignore foo"), None);
    }

    #[test]
    fn single_rule_without_reason() {
        assert_eq!(
            ok(" pgdiplomat:ignore some-rule"),
            ignore(&["some-rule"], None)
        );
        assert_eq!(
            ok("pgdiplomat:ignore some-rule  "),
            ignore(&["some-rule"], None)
        );
    }

    #[test]
    fn leading_whitespace_including_newlines_is_allowed() {
        assert_eq!(ok("\n\t  pgdiplomat:ignore a\n"), ignore(&["a"], None));
    }

    #[test]
    fn comma_separated_rules_with_optional_spaces() {
        assert_eq!(ok(" pgdiplomat:ignore a,b"), ignore(&["a", "b"], None));
        assert_eq!(ok(" pgdiplomat:ignore a, b"), ignore(&["a", "b"], None));
        assert_eq!(
            ok(" pgdiplomat:ignore a , b ,c"),
            ignore(&["a", "b", "c"], None)
        );
    }

    #[test]
    fn duplicate_rules_are_listed_once() {
        assert_eq!(ok(" pgdiplomat:ignore a, a"), ignore(&["a"], None));
    }

    #[test]
    fn reason_after_whitespace_double_dash_or_colon() {
        let r = "require-concurrent-index-creation";
        assert_eq!(
            ok(&format!(" pgdiplomat:ignore {r} -- table is tiny")),
            ignore(&[r], Some("table is tiny"))
        );
        assert_eq!(
            ok(&format!(" pgdiplomat:ignore {r} table is tiny ")),
            ignore(&[r], Some("table is tiny"))
        );
        assert_eq!(
            ok(&format!(" pgdiplomat:ignore {r}: table is tiny")),
            ignore(&[r], Some("table is tiny"))
        );
        assert_eq!(
            ok(&format!(" pgdiplomat:ignore {r} : table is tiny")),
            ignore(&[r], Some("table is tiny"))
        );
        assert_eq!(
            ok(&format!(" pgdiplomat:ignore {r} -- ")),
            ignore(&[r], None)
        );
    }

    #[test]
    fn reason_words_are_not_taken_as_rules() {
        assert_eq!(
            ok(" pgdiplomat:ignore a, b only during backfill"),
            ignore(&["a", "b"], Some("only during backfill"))
        );
    }

    #[test]
    fn ignore_file_with_all_and_reason() {
        assert_eq!(
            ok(" pgdiplomat:ignore-file all legacy migration "),
            Directive::IgnoreFile {
                rules: vec!["all".into()],
                reason: Some("legacy migration".into())
            }
        );
    }

    #[test]
    fn multi_line_block_comment_reason_is_kept() {
        let d = ok(" pgdiplomat:ignore a -- first line\n   second line\n");
        assert_eq!(d.reason(), Some("first line\n   second line"));
    }

    #[test]
    fn missing_rule_is_an_error_with_an_example() {
        let e = err(" pgdiplomat:ignore");
        assert_eq!(
            e.message,
            "expected a rule id after pgdiplomat:ignore (e.g. `-- pgdiplomat:ignore require-concurrent-index-creation reason`)"
        );
        assert_eq!(e.offset, " pgdiplomat:ignore".len());
        let e = err(" pgdiplomat:ignore   -- why");
        assert!(e
            .message
            .starts_with("expected a rule id after pgdiplomat:ignore"));
        assert_eq!(e.offset, " pgdiplomat:ignore   ".len());
        let e = err("pgdiplomat:ignore-file ");
        assert!(e
            .message
            .starts_with("expected a rule id after pgdiplomat:ignore-file"));
    }

    #[test]
    fn misspelled_directive_suggests_the_closest_one() {
        let e = err(" pgdiplomat:ignroe foo");
        assert_eq!(e.offset, " pgdiplomat:".len());
        assert!(e.message.contains("`ignroe`"), "{}", e.message);
        assert!(
            e.message.contains("did you mean `ignore`?"),
            "{}",
            e.message
        );
        assert!(e.message.contains("`ignore-file`"), "{}", e.message);
        let e = err("pgdiplomat:ignore-fiel foo");
        assert!(
            e.message.contains("did you mean `ignore-file`?"),
            "{}",
            e.message
        );
        let e = err("pgdiplomat:IGNORE foo");
        assert!(
            e.message.contains("did you mean `ignore`?"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_directive_name_is_an_error() {
        let e = err(" pgdiplomat: reviewed by alice");
        assert_eq!(e.offset, " pgdiplomat:".len());
        assert!(
            e.message.contains("`ignore` or `ignore-file`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn junk_glued_to_directive_name_is_an_error() {
        let e = err("pgdiplomat:ignore=foo");
        assert_eq!(e.offset, "pgdiplomat:ignore".len());
        assert!(e
            .message
            .contains("expected a space after `pgdiplomat:ignore`"));
    }

    #[test]
    fn invalid_rule_ids_are_errors_with_a_suggestion() {
        let e = err(" pgdiplomat:ignore Require_Index");
        assert_eq!(e.offset, " pgdiplomat:ignore ".len());
        assert!(
            e.message.contains("did you mean `require-index`?"),
            "{}",
            e.message
        );
        let e = err(" pgdiplomat:ignore a, Bé");
        assert!(e.message.contains("`Bé`"), "{}", e.message);
    }

    #[test]
    fn trailing_or_doubled_comma_is_an_error() {
        let e = err(" pgdiplomat:ignore a,");
        assert_eq!(e.message, "expected a rule id after `,`");
        assert_eq!(e.offset, " pgdiplomat:ignore a,".len());
        assert_eq!(
            err("pgdiplomat:ignore a,,b").message,
            "expected a rule id after `,`"
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for body in [
            "pgdiplomat:",
            "pgdiplomat:ignore ,",
            "pgdiplomat:ignore :",
            "pgdiplomat:ignore é",
            "pgdiplomat:ïgnore",
            "pgdiplomat:ignore\u{3000}a",
            "pgdiplomat:ignore a\u{3000}b",
            "  pgdiplomat:ignore-file",
            "pgdiplomat:ignore a:",
            "pgdiplomat:ignore a--b",
        ] {
            let _ = parse_directive(body);
        }
    }
}
