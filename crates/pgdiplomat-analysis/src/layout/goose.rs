//! goose (pressly/goose) SQL migrations, read like goose's `internal/sqlparser`
//! (`ParseSQLMigration`): annotations are comment lines holding `+goose` (`-- +goose Up`,
//! `Down`, `StatementBegin`, `StatementEnd`, `NO TRANSACTION`, `ENVSUB ON|OFF`, any case); the
//! up direction runs the lines from `-- +goose Up` to `-- +goose Down`; a statement ends at a
//! line whose last word (before a `--` comment) ends with `;`, except between
//! `StatementBegin` and `StatementEnd`, where the whole block is one statement. Each statement
//! is one `Exec`, in one transaction for the file unless `-- +goose NO TRANSACTION` appears
//! anywhere in it.

use std::ops::Range;

/// The annotations goose knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Annotation {
    Up,
    Down,
    StatementBegin,
    StatementEnd,
    NoTransaction,
    Envsub,
}

/// One file as goose reads it in the up direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GooseFile {
    /// From the `-- +goose Up` line to the `-- +goose Down` line (or the end); `None` when the
    /// file has no up annotation (goose refuses it).
    pub up: Option<Range<usize>>,
    /// `-- +goose NO TRANSACTION` appears in the file.
    pub no_transaction: bool,
    /// The statements goose sends, one `Exec` each, as byte ranges of the file.
    pub statements: Vec<Range<usize>>,
}

/// The annotation of a line, like goose's `extractAnnotation`: a line whose trimmed text starts
/// with `--` and that contains `+goose`. Unknown annotations (goose fails on them) are `None`.
pub(crate) fn annotation(line: &str) -> Option<Annotation> {
    let trimmed = line.trim();
    if !trimmed.starts_with("--") || !line.contains("+goose") {
        return None;
    }
    let cmd = trimmed.replace("--", "");
    let cmd = cmd.replacen("+goose", "", 1);
    let cmd = cmd.trim();
    let is = |s: &str| cmd.eq_ignore_ascii_case(s);
    if is("Up") {
        Some(Annotation::Up)
    } else if is("Down") {
        Some(Annotation::Down)
    } else if is("StatementBegin") {
        Some(Annotation::StatementBegin)
    } else if is("StatementEnd") {
        Some(Annotation::StatementEnd)
    } else if is("NO TRANSACTION") {
        Some(Annotation::NoTransaction)
    } else if is("ENVSUB ON") || is("ENVSUB OFF") {
        Some(Annotation::Envsub)
    } else {
        None
    }
}

/// The file has a `-- +goose Up` line.
pub(crate) fn has_up(text: &str) -> bool {
    text.lines().any(|l| annotation(l) == Some(Annotation::Up))
}

/// goose's `endsWithSemicolon`: the last whitespace-separated word before one starting with
/// `--` ends with `;`.
fn ends_with_semicolon(line: &str) -> bool {
    let mut prev = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        prev = word;
    }
    prev.ends_with(';')
}

/// Reads `text` as goose does for `goose up`.
pub(crate) fn parse(text: &str) -> GooseFile {
    let mut file = GooseFile {
        up: None,
        no_transaction: false,
        statements: Vec::new(),
    };
    let mut in_up = false;
    let mut in_block = false;
    let mut stmt_start: Option<usize> = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if let Some(a) = annotation(line) {
            match a {
                Annotation::NoTransaction => file.no_transaction = true,
                Annotation::Up if file.up.is_none() => {
                    in_up = true;
                    file.up = Some(start..text.len());
                }
                Annotation::Down => {
                    if in_up {
                        if let Some(s) = stmt_start.take() {
                            file.statements.push(s..start);
                        }
                        if let Some(up) = &mut file.up {
                            up.end = start;
                        }
                    }
                    in_up = false;
                }
                Annotation::StatementBegin if in_up => in_block = true,
                Annotation::StatementEnd if in_up && in_block => {
                    in_block = false;
                    // The StatementEnd line is not part of the statement.
                    if let Some(s) = stmt_start.take() {
                        file.statements.push(s..start);
                    }
                }
                _ => {}
            }
            continue;
        }
        if !in_up {
            continue;
        }
        if stmt_start.is_none() {
            // Comments and empty lines before a statement are dropped.
            if line.trim().is_empty() || line.trim_start().starts_with("--") {
                continue;
            }
            stmt_start = Some(start);
        }
        if !in_block && ends_with_semicolon(line) {
            if let Some(s) = stmt_start.take() {
                file.statements.push(s..offset);
            }
        }
    }
    if let Some(s) = stmt_start {
        // goose refuses an unfinished statement ("missing semicolon?"); lint it anyway.
        let end = file.up.as_ref().map_or(text.len(), |u| u.end);
        file.statements.push(s..end.max(s));
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_follow_goose() {
        assert_eq!(annotation("-- +goose Up"), Some(Annotation::Up));
        assert_eq!(annotation("--+goose up"), Some(Annotation::Up));
        assert_eq!(
            annotation("-- +goose NO TRANSACTION"),
            Some(Annotation::NoTransaction)
        );
        assert_eq!(
            annotation("-- +goose statementbegin"),
            Some(Annotation::StatementBegin)
        );
        assert_eq!(annotation("-- goose Up"), None);
        assert_eq!(annotation("SELECT '+goose'; -- x"), None);
    }

    #[test]
    fn statements_split_at_line_end_semicolons_except_in_blocks() {
        let text = "-- +goose Up\n-- c\nCREATE TABLE t (a int);\nSELECT 1; SELECT 2;\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n-- +goose Down\nDROP TABLE t;\n";
        let f = parse(text);
        let stmts: Vec<&str> = f.statements.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(
            stmts,
            [
                "CREATE TABLE t (a int);\n",
                "SELECT 1; SELECT 2;\n",
                "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n",
            ]
        );
        let up = f.up.expect("up");
        assert!(text[up.clone()].starts_with("-- +goose Up\n"));
        assert!(!text[up].contains("DROP"));
        assert!(!f.no_transaction);
    }

    #[test]
    fn semicolon_before_a_trailing_comment_ends_a_statement() {
        assert!(ends_with_semicolon("SELECT 1; -- done"));
        assert!(!ends_with_semicolon("SELECT 1 -- done;"));
        assert!(!ends_with_semicolon("BEGIN"));
    }
}
