//! The statements inside a `DO` block, as PostgreSQL's PL/pgSQL parser sees them.
//!
//! A DO block runs its body as one statement: what its SQL statements lock is held until the
//! block ends (and to the end of the surrounding transaction, if any). [`expand_do_blocks`]
//! replaces each analysable `DO` statement of a parsed chunk by
//!
//! * an opening marker (the `DO` itself, [`BlockPart::Open`]: a transaction starts here
//!   unless one is open),
//! * one statement per static SQL statement of the body and per `EXECUTE` of a constant string,
//!   at its own position inside the block ([`BlockPart::Inner`]); an `EXECUTE` of a computed
//!   string becomes a statement with no tree and the reason it is not analysed,
//! * a closing marker at the end of the block ([`BlockPart::Close`]).
//!
//! The body is parsed by libpg_query's PL/pgSQL parser (`pg_query::parse_plpgsql`), which
//! gives every statement with its line in the body; the statement's text is found on that line.
//! Branches (`IF`, `CASE`, loops, exception handlers) are all included, as psql's `\if` is. A
//! block in another language, or one whose body does not parse, stays one `DO` statement
//! (reported as not analysed).

use std::ops::Range;

use pg_query::NodeEnum;
use serde_json::Value;

use crate::parse::{parse_sql, ParsedFile, Statement};

/// Where a statement stands with respect to a `DO` block it was expanded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockPart {
    /// The `DO` statement itself, before its body's statements.
    Open,
    /// A statement of the body. `not_analysed` says why it has no parse tree.
    Inner { not_analysed: Option<String> },
    /// The end of the block.
    Close,
}

/// One statement of a block body: its span in the file and its SQL (or why it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStatement {
    pub span: Range<usize>,
    pub sql: Result<String, String>,
}

/// The statements of the body of the `DO` statement at `span` of `text`, in order; an error
/// says why the body is not analysed.
pub fn do_block_statements(
    text: &str,
    span: Range<usize>,
    node: &NodeEnum,
) -> Result<Vec<BodyStatement>, String> {
    let NodeEnum::DoStmt(d) = node else {
        return Err("not a DO statement".into());
    };
    let mut body = None;
    for arg in &d.args {
        let Some(NodeEnum::DefElem(e)) = arg.node.as_ref() else {
            continue;
        };
        let value = match e.arg.as_deref().and_then(|a| a.node.as_ref()) {
            Some(NodeEnum::String(s)) => s.sval.clone(),
            _ => continue,
        };
        match e.defname.as_str() {
            "as" => body = Some(value),
            "language" if !value.eq_ignore_ascii_case("plpgsql") => {
                return Err(format!("a DO block in LANGUAGE {value} is not analysed"));
            }
            _ => {}
        }
    }
    let body = body.ok_or("the DO block has no body")?;
    let stmt_text = text
        .get(span.clone())
        .ok_or("the DO block is not in the file")?;
    let tree = pg_query::parse_plpgsql(stmt_text)
        .map_err(|e| format!("its PL/pgSQL body does not parse ({e})"))?;
    // Where the body starts in the file: a dollar-quoted body is verbatim. A single-quoted
    // one with doubled quotes is not: its statements are then placed at the DO statement.
    let body_start = stmt_text.find(body.as_str()).map(|i| span.start + i);
    let mut found = Vec::new();
    collect(&tree, &mut found);
    let mut out = Vec::new();
    for (line, query, dynamic) in found {
        let place = |needle: &str| -> Range<usize> {
            body_start
                .and_then(|start| {
                    let from = start + line_offset(&body, line);
                    let end = start + body.len();
                    text.get(from..end)?
                        .find(needle)
                        .map(|i| from + i..from + i + needle.len())
                })
                .unwrap_or(span.start..span.start + 2)
        };
        let at = place(&query);
        let sql = if dynamic {
            constant_string(&query).ok_or_else(|| {
                "EXECUTE of a computed string: the statement it runs is not analysed".to_string()
            })
        } else {
            Ok(query)
        };
        out.push(BodyStatement { span: at, sql });
    }
    out.sort_by_key(|s| s.span.start);
    Ok(out)
}

/// The byte offset of 1-based `line` in `body`.
fn line_offset(body: &str, line: u64) -> usize {
    if line <= 1 {
        return 0;
    }
    body.match_indices('\n')
        .nth(line as usize - 2)
        .map_or(body.len(), |(i, _)| i + 1)
}

/// `(line, query, is EXECUTE)` of every SQL statement in a PL/pgSQL parse tree.
fn collect(v: &Value, out: &mut Vec<(u64, String, bool)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => {
            for (key, value) in map {
                let query = match key.as_str() {
                    "PLpgSQL_stmt_execsql" => expr_query(value.get("sqlstmt")).map(|q| (q, false)),
                    "PLpgSQL_stmt_dynexecute" => expr_query(value.get("query")).map(|q| (q, true)),
                    _ => None,
                };
                if let Some((q, dynamic)) = query {
                    let line = value.get("lineno").and_then(Value::as_u64).unwrap_or(1);
                    out.push((line, q, dynamic));
                }
                collect(value, out);
            }
        }
        _ => {}
    }
}

fn expr_query(v: Option<&Value>) -> Option<String> {
    v?.get("PLpgSQL_expr")?
        .get("query")?
        .as_str()
        .map(|q| q.trim().to_string())
}

/// The value of `expr` when it is a string constant (`'...'`, `E'...'`, `$x$...$x$`).
fn constant_string(expr: &str) -> Option<String> {
    let parsed = parse_sql(&format!("SELECT {expr}")).ok()?;
    let Some(NodeEnum::SelectStmt(s)) = parsed.statements.into_iter().next()?.node else {
        return None;
    };
    let [target] = s.target_list.as_slice() else {
        return None;
    };
    let Some(NodeEnum::ResTarget(t)) = target.node.as_ref() else {
        return None;
    };
    match t.val.as_deref()?.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            pg_query::protobuf::a_const::Val::Sval(s) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Replaces every analysable `DO` statement of `chunk` by its opening marker, its body's
/// statements and its closing marker (see the module documentation). `text` is the parsed text.
pub fn expand_do_blocks(chunk: &mut ParsedFile, text: &str) {
    if !chunk
        .statements
        .iter()
        .any(|s| matches!(s.node, Some(NodeEnum::DoStmt(_))))
    {
        return;
    }
    let mut out = Vec::with_capacity(chunk.statements.len());
    for stmt in std::mem::take(&mut chunk.statements) {
        let body = match &stmt.node {
            Some(node @ NodeEnum::DoStmt(_)) => {
                do_block_statements(text, stmt.span.clone(), node).ok()
            }
            _ => None,
        };
        let Some(body) = body else {
            out.push(stmt);
            continue;
        };
        let end = stmt.span.end;
        let index = stmt.index;
        out.push(Statement {
            node: None,
            block: Some(BlockPart::Open),
            ..stmt
        });
        for b in body {
            let (node, not_analysed) = match b.sql {
                Ok(sql) => match parse_sql(&sql) {
                    Ok(p) => match <[Statement; 1]>::try_from(p.statements) {
                        Ok([s]) => (s.node, None),
                        Err(_) => (None, Some("not one SQL statement".to_string())),
                    },
                    Err(e) => (None, Some(format!("does not parse as SQL ({})", e.message))),
                },
                Err(why) => (None, Some(why)),
            };
            // A statement with no tree and no reason is an empty one: nothing runs.
            if node.is_none() && not_analysed.is_none() {
                continue;
            }
            out.push(Statement {
                index,
                span: b.span,
                node,
                leading_comments: Vec::new(),
                block: Some(BlockPart::Inner { not_analysed }),
            });
        }
        out.push(Statement {
            index,
            span: end..end,
            node: None,
            leading_comments: Vec::new(),
            block: Some(BlockPart::Close),
        });
    }
    chunk.statements = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(sql: &str) -> Vec<(String, Option<BlockPart>)> {
        let mut parsed = parse_sql(sql).expect("parses");
        expand_do_blocks(&mut parsed, sql);
        parsed
            .statements
            .iter()
            .map(|s| (sql[s.span.clone()].to_string(), s.block.clone()))
            .collect()
    }

    #[test]
    fn a_do_block_becomes_its_statements_at_their_place_in_the_file() {
        let sql = "DO $$\nBEGIN\n  ALTER TABLE t ADD COLUMN c int;\n  IF true THEN\n    CREATE INDEX i ON t (c);\n  END IF;\nEND $$;\nSELECT 1;";
        let got = expanded(sql);
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                &sql[..sql.find(";\nSELECT").unwrap()],
                "ALTER TABLE t ADD COLUMN c int",
                "CREATE INDEX i ON t (c)",
                "",
                "SELECT 1"
            ]
        );
        assert_eq!(got[0].1, Some(BlockPart::Open));
        assert_eq!(got[1].1, Some(BlockPart::Inner { not_analysed: None }));
        assert_eq!(got[3].1, Some(BlockPart::Close));
        assert_eq!(got[4].1, None);
    }

    #[test]
    fn execute_of_a_constant_is_linted_and_of_a_computed_string_is_said() {
        let sql = "DO $$ BEGIN EXECUTE 'CREATE INDEX i ON t (a)'; EXECUTE format('DROP TABLE %I', 'x'); END $$;";
        let mut parsed = parse_sql(sql).unwrap();
        expand_do_blocks(&mut parsed, sql);
        let inner: Vec<&Statement> = parsed
            .statements
            .iter()
            .filter(|s| matches!(s.block, Some(BlockPart::Inner { .. })))
            .collect();
        assert_eq!(inner.len(), 2);
        assert!(matches!(inner[0].node, Some(NodeEnum::IndexStmt(_))));
        assert_eq!(&sql[inner[0].span.clone()], "'CREATE INDEX i ON t (a)'");
        assert!(inner[1].node.is_none());
        assert!(matches!(
            &inner[1].block,
            Some(BlockPart::Inner { not_analysed: Some(why) }) if why.contains("computed string")
        ));
    }

    #[test]
    fn exception_handlers_and_loops_are_included_and_other_languages_are_not_expanded() {
        let sql = "DO $body$\nBEGIN\n  CREATE TYPE mood AS ENUM ('a');\nEXCEPTION WHEN duplicate_object THEN\n  ALTER TYPE mood ADD VALUE 'b';\nEND\n$body$;";
        let texts: Vec<String> = expanded(sql).into_iter().map(|(t, _)| t).collect();
        assert!(
            texts.contains(&"CREATE TYPE mood AS ENUM ('a')".to_string()),
            "{texts:?}"
        );
        assert!(
            texts.contains(&"ALTER TYPE mood ADD VALUE 'b'".to_string()),
            "{texts:?}"
        );
        let other = "DO LANGUAGE plperl $$ print 1 $$;";
        let got = expanded(other);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, None);
        let broken = "DO $$ BEGIN ALTER TABLE; END $$;";
        assert_eq!(expanded(broken).len(), 1);
    }

    #[test]
    fn a_single_quoted_body_places_its_statements_at_the_do() {
        let sql = "DO 'BEGIN ALTER TABLE t ADD COLUMN c text DEFAULT ''x''; END';";
        let mut parsed = parse_sql(sql).unwrap();
        expand_do_blocks(&mut parsed, sql);
        assert_eq!(parsed.statements.len(), 3);
        assert!(matches!(
            parsed.statements[1].node,
            Some(NodeEnum::AlterTableStmt(_))
        ));
        assert_eq!(parsed.statements[1].span.start, 0);
    }
}
