//! The parser front door: PostgreSQL's own grammar (libpg_query) turns a file into
//! statements with exact byte spans, the comments that lead each statement, and — on bad
//! input — a syntax error with the position PostgreSQL reports.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ops::Range;

use pg_query::protobuf;
use pg_query::NodeEnum;
use prost::Message;

/// One top-level statement of a file.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Position in the file, 0-based.
    pub index: usize,
    /// From the first token to the end of the statement (the `;` excluded).
    pub span: Range<usize>,
    /// The parse tree; `None` for an empty statement.
    pub node: Option<NodeEnum>,
    /// Comments between the previous statement and this one.
    pub leading_comments: Vec<Comment>,
    /// Set on the statements a `DO` block was expanded into (`plpgsql::expand_do_blocks`).
    pub block: Option<crate::plpgsql::BlockPart>,
}

/// A SQL comment outside statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The whole comment including `--` or `/* */`.
    pub span: Range<usize>,
    /// The text between the delimiters.
    pub body: Range<usize>,
}

/// A parsed file.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub statements: Vec<Statement>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<Comment>,
}

/// PostgreSQL rejected the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// Byte offset PostgreSQL points at (0 when it gives no position).
    pub offset: usize,
    /// PostgreSQL's message, e.g. `syntax error at or near "TABEL"`.
    pub message: String,
}

// The pg_query crate links libpg_query statically but does not expose the error position,
// so we call the C entry points ourselves (same library, same symbols).
#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

#[repr(C)]
struct PgQueryProtobuf {
    len: usize,
    data: *mut c_char,
}

#[repr(C)]
struct PgQueryProtobufParseResult {
    parse_tree: PgQueryProtobuf,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

extern "C" {
    fn pg_query_parse_protobuf(input: *const c_char) -> PgQueryProtobufParseResult;
    fn pg_query_free_protobuf_parse_result(result: PgQueryProtobufParseResult);
}

/// A (possibly modified) statement parse tree as SQL text ending with `;`, by PostgreSQL's
/// deparser. Generated fixes are written this way, so identifiers stay correctly quoted.
pub fn deparse_statement(node: NodeEnum) -> Option<String> {
    node.deparse(Default::default()).ok().map(|s| s + ";")
}

/// Parses a whole file with the real PostgreSQL grammar.
pub fn parse_sql(text: &str) -> Result<ParsedFile, SyntaxError> {
    let raw = parse_raw(text)?;
    Ok(assemble(text, raw))
}

/// Stack for decoding parse trees: PostgreSQL accepts expressions nested thousands deep and
/// decoding recurses once per level. Only touched pages are ever allocated.
const PARSE_STACK: usize = 512 << 20;

thread_local! {
    static ON_PARSE_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on a thread with a stack large enough for any parse tree PostgreSQL accepts, so
/// that parsing inside it needs no thread of its own. Tools that parse many files (the CLI)
/// wrap their whole run in it; `parse_sql` called elsewhere spawns such a thread per call.
pub fn with_parse_stack<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if ON_PARSE_STACK.with(|c| c.get()) {
        return f();
    }
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("pgdiplomat-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || {
                ON_PARSE_STACK.with(|c| c.set(true));
                f()
            });
        match spawned {
            Ok(handle) => match handle.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            // No thread to be had: parse here and hope the input is not extreme.
            Err(_) => panic!("cannot start the parser thread"),
        }
    })
}

fn parse_raw(text: &str) -> Result<protobuf::ParseResult, SyntaxError> {
    if ON_PARSE_STACK.with(|c| c.get()) {
        parse_raw_here(text)
    } else {
        with_parse_stack(|| parse_raw_here(text))
    }
}

fn parse_raw_here(text: &str) -> Result<protobuf::ParseResult, SyntaxError> {
    let input = match CString::new(text) {
        Ok(s) => s,
        Err(e) => {
            return Err(SyntaxError {
                offset: e.nul_position(),
                message: "the file contains a NUL byte, which PostgreSQL never accepts in SQL text"
                    .into(),
            })
        }
    };
    // SAFETY: `input` is a valid NUL-terminated string that outlives the call; the result is
    // read before it is freed exactly once.
    unsafe {
        let result = pg_query_parse_protobuf(input.as_ptr());
        let out = if !result.error.is_null() {
            let err = &*result.error;
            let message = if err.message.is_null() {
                "syntax error".to_string()
            } else {
                CStr::from_ptr(err.message).to_string_lossy().into_owned()
            };
            Err(SyntaxError {
                offset: char_pos_to_byte(text, err.cursorpos),
                message,
            })
        } else {
            let data: &[u8] = if result.parse_tree.data.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(
                    result.parse_tree.data as *const u8,
                    result.parse_tree.len,
                )
            };
            protobuf::ParseResult::decode(data).map_err(|e| SyntaxError {
                offset: 0,
                message: format!("internal error decoding the parse tree: {e}"),
            })
        };
        pg_query_free_protobuf_parse_result(result);
        out
    }
}

/// PostgreSQL reports a 1-based character position (0 = none).
fn char_pos_to_byte(text: &str, cursorpos: c_int) -> usize {
    if cursorpos <= 0 {
        return 0;
    }
    text.char_indices()
        .nth(cursorpos as usize - 1)
        .map(|(i, _)| i)
        .unwrap_or(text.len())
}

fn assemble(text: &str, raw: protobuf::ParseResult) -> ParsedFile {
    assemble_range(text, 0, text.len(), 0, raw, true)
}

/// Builds statements for `raw`, parsed from `text[base..limit]` (its locations are relative to
/// `base`); spans are made absolute and statement indexes start at `first_index`.
fn assemble_range(
    text: &str,
    base: usize,
    limit: usize,
    first_index: usize,
    raw: protobuf::ParseResult,
    last_chunk: bool,
) -> ParsedFile {
    let bytes = text.as_bytes();
    let mut statements = Vec::with_capacity(raw.stmts.len());
    let mut prev_end = base;
    for (i, stmt) in raw.stmts.into_iter().enumerate() {
        let loc = (base + stmt.stmt_location.max(0) as usize).min(limit);
        let end = if stmt.stmt_len <= 0 {
            limit
        } else {
            (loc + stmt.stmt_len as usize).min(limit)
        };
        let scan_from = prev_end.min(loc);
        let (comments, start) = skip_trivia(bytes, scan_from, end);
        let mut stop = end;
        while stop > start && is_pg_space(bytes[stop - 1]) {
            stop -= 1;
        }
        statements.push(Statement {
            index: first_index + i,
            span: start..stop,
            node: stmt.stmt.and_then(|n| n.node),
            leading_comments: comments,
            block: None,
        });
        prev_end = end;
    }
    let trailing_comments = if last_chunk {
        skip_trivia(bytes, prev_end.min(text.len()), text.len()).0
    } else {
        Vec::new()
    };
    ParsedFile {
        statements,
        trailing_comments,
    }
}

/// Parses a file in chunks of about `chunk_statements` statements, handing each chunk to `sink`
/// in order, so that a large file never holds all its parse trees at once.
///
/// Statement boundaries come from PostgreSQL's own parser (`split_with_parser`), so a chunk
/// never cuts a statement (not even a `BEGIN ATOMIC` function body). Spans and indexes in the
/// chunks are absolute; only the last chunk carries the file's trailing comments. On a syntax
/// error nothing is handed to `sink` and the error (with its file offset) is returned.
pub fn parse_sql_chunked(
    text: &str,
    chunk_statements: usize,
    mut sink: impl FnMut(ParsedFile),
) -> Result<(), SyntaxError> {
    let slices = match pg_query::split_with_parser(text) {
        Ok(s) => s,
        // The whole-file parse reports the error with its position.
        Err(_) => return parse_sql(text).map(sink),
    };
    let ends: Vec<usize> = slices
        .iter()
        .map(|s| (s.as_ptr() as usize - text.as_ptr() as usize) + s.len())
        .collect();
    let chunk_statements = chunk_statements.max(1);
    if ends.len() <= chunk_statements {
        return parse_sql(text).map(sink);
    }
    let mut start = 0;
    let mut first_index = 0;
    let mut groups = ends.chunks(chunk_statements).peekable();
    while let Some(group) = groups.next() {
        let last = groups.peek().is_none();
        let end = if last {
            text.len()
        } else {
            *group.last().unwrap_or(&start)
        };
        let chunk = &text[start..end];
        let raw = parse_raw(chunk).map_err(|e| SyntaxError {
            offset: start + e.offset,
            message: e.message,
        })?;
        let parsed = assemble_range(text, start, end, first_index, raw, last);
        first_index += parsed.statements.len();
        sink(parsed);
        start = end;
    }
    Ok(())
}

/// PostgreSQL's whitespace: space, tab, newline, carriage return, form feed, vertical tab.
fn is_pg_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Skips whitespace, semicolons and comments from `from`, collecting the comments; returns
/// them and the offset of the first other byte (at most `limit`).
fn skip_trivia(bytes: &[u8], from: usize, limit: usize) -> (Vec<Comment>, usize) {
    let mut comments = Vec::new();
    let mut i = from;
    while i < limit {
        let b = bytes[i];
        if is_pg_space(b) || b == b';' {
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            let start = i;
            let mut j = i + 2;
            // PostgreSQL ends a `--` comment at a newline or a carriage return.
            while j < bytes.len() && bytes[j] != b'\n' && bytes[j] != b'\r' {
                j += 1;
            }
            let body_end = j;
            comments.push(Comment {
                span: start..j,
                body: start + 2..body_end,
            });
            i = j;
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            // Block comments nest in PostgreSQL.
            let start = i;
            let mut depth = 1;
            let mut j = i + 2;
            while j < bytes.len() && depth > 0 {
                if bytes[j] == b'/' && bytes.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if bytes[j] == b'*' && bytes.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            let body_end = if depth == 0 { j - 2 } else { j };
            comments.push(Comment {
                span: start..j,
                body: start + 2..body_end.max(start + 2),
            });
            i = j;
        } else {
            break;
        }
    }
    (comments, i.min(limit.max(from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_exactly_each_statement_without_leading_comments() {
        let sql = "-- first\nCREATE TABLE a (id int);\n\n/* two */ ALTER TABLE a ADD COLUMN b int ;\nSELECT 1";
        let parsed = parse_sql(sql).unwrap();
        let texts: Vec<&str> = parsed
            .statements
            .iter()
            .map(|s| &sql[s.span.clone()])
            .collect();
        assert_eq!(
            texts,
            vec![
                "CREATE TABLE a (id int)",
                "ALTER TABLE a ADD COLUMN b int",
                "SELECT 1"
            ]
        );
        let c0 = &parsed.statements[0].leading_comments;
        assert_eq!(&sql[c0[0].body.clone()], " first");
        let c1 = &parsed.statements[1].leading_comments;
        assert_eq!(&sql[c1[0].body.clone()], " two ");
    }

    #[test]
    fn syntax_error_points_at_the_offending_token() {
        let sql = "SELECT 1;\nCREATE TABEL x (id int);";
        let err = parse_sql(sql).unwrap_err();
        assert_eq!(err.message, "syntax error at or near \"TABEL\"");
        assert_eq!(&sql[err.offset..err.offset + 5], "TABEL");
    }

    #[test]
    fn syntax_error_offset_counts_multibyte_characters() {
        let sql = "SELECT 'é';\nSELEC 1;";
        let err = parse_sql(sql).unwrap_err();
        assert_eq!(&sql[err.offset..err.offset + 5], "SELEC");
    }

    #[test]
    fn nul_byte_is_an_error_not_a_panic() {
        let err = parse_sql("SELECT 1;\0").unwrap_err();
        assert_eq!(err.offset, 9);
    }

    #[test]
    fn chunked_parsing_gives_the_same_statements_as_a_whole_file_parse() {
        let mut sql = String::new();
        for i in 0..57 {
            sql.push_str(&format!("-- c{i}\nALTER TABLE t{i} ADD COLUMN c int;\n"));
            if i == 20 {
                sql.push_str("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n");
            }
        }
        sql.push_str("-- tail\n");
        let whole = parse_sql(&sql).unwrap();
        let mut chunks = Vec::new();
        parse_sql_chunked(&sql, 10, |c| chunks.push(c)).unwrap();
        assert_eq!(chunks.len(), 6);
        let spans: Vec<_> = chunks
            .iter()
            .flat_map(|c| {
                c.statements
                    .iter()
                    .map(|s| (s.index, s.span.clone(), s.leading_comments.clone()))
            })
            .collect();
        let expected: Vec<_> = whole
            .statements
            .iter()
            .map(|s| (s.index, s.span.clone(), s.leading_comments.clone()))
            .collect();
        assert_eq!(spans, expected);
        assert_eq!(
            chunks.last().unwrap().trailing_comments,
            whole.trailing_comments
        );
    }

    #[test]
    fn chunked_parsing_reports_syntax_errors_with_file_offsets() {
        let mut sql = "SELECT 1;\n".repeat(30);
        sql.push_str("SELEC 2;\n");
        let mut got = 0;
        let err = parse_sql_chunked(&sql, 7, |_| got += 1).unwrap_err();
        assert_eq!(&sql[err.offset..err.offset + 5], "SELEC");
        assert_eq!(got, 0);
    }

    #[test]
    fn trailing_comments_are_kept() {
        let parsed = parse_sql("SELECT 1; -- pgdiplomat:ignore-file x\n").unwrap();
        assert_eq!(parsed.trailing_comments.len(), 1);
    }

    #[test]
    fn empty_and_comment_only_files_have_no_statements() {
        assert!(parse_sql("").unwrap().statements.is_empty());
        assert!(parse_sql("-- nothing\n/* here */")
            .unwrap()
            .statements
            .is_empty());
    }
}
