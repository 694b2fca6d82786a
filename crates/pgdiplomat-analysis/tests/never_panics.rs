//! Robustness of the parser front door and of the whole lint pipeline.
//!
//! Whatever the input — random Unicode, SQL-looking token soup, statements built from
//! templates, or mutations of real migration statements (every `example` of the lock table and
//! every rule's bad and good example) — on every supported version, with and without
//! `assume_in_transaction`:
//!
//! * `parse_sql`, `lint_source`, `explain_source` and both report renderers never panic;
//! * every span (statements, comments, findings, syntax errors) lies within the text, on
//!   character boundaries, and findings' line/column agree with the text;
//! * statements and comments do not overlap, and a statement never starts with whitespace or
//!   a comment;
//! * lint, explain and the parser agree on whether the file parses and how many statements
//!   it has.
//!
//! Deterministic tests cover deep nesting (PostgreSQL's "stack depth" and "memory exhausted"
//! errors must come back as syntax-error findings), 5 MB single-line inputs, and the
//! metamorphic property "linting A++B as one file finds what linting A then B finds" — with the
//! conditions under which it holds, and tests that show why it cannot hold in general.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use codespan_reporting::term::termcolor::NoColor;
use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::explain::{explain_source, render_text};
use pgdiplomat_analysis::lint::{lint_source, lint_sources, FileReport, LintOptions};
use pgdiplomat_analysis::model::{classify, SchemaState, StatementKind};
use pgdiplomat_analysis::parse::{parse_sql, ParsedFile};
use pgdiplomat_analysis::report::{human, json};
use pgdiplomat_analysis::rules::{all_rules, rule_by_id, INVALID_DIRECTIVE, SYNTAX_ERROR};
use pgdiplomat_analysis::source::SourceFile;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

// ------------------------------------------------------------------------------------------
// The invariants
// ------------------------------------------------------------------------------------------

/// Characters PostgreSQL's lexer treats as whitespace (`space` in scan.l, PostgreSQL 16+).
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

fn show(text: &str) -> String {
    if text.len() <= 400 {
        format!("{text:?}")
    } else {
        format!(
            "{:?}... ({} bytes)",
            &text[..text.floor_char_boundary_compat(400)],
            text.len()
        )
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[track_caller]
fn assert_span(text: &str, span: &std::ops::Range<usize>, what: &str) {
    assert!(
        span.start <= span.end && span.end <= text.len(),
        "{what}: span {span:?} is not within the text ({} bytes): {}",
        text.len(),
        show(text)
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: span {span:?} is not on character boundaries: {}",
        show(text)
    );
}

/// `source.line_col(offset)` agrees with a naive count on the text.
#[track_caller]
fn assert_line_col(source: &SourceFile, offset: usize, what: &str) {
    let text = &source.text;
    let lc = source.line_col(offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    assert_eq!(
        (lc.line, lc.column),
        (line, column),
        "{what}: line_col({offset}) is wrong for {}",
        show(text)
    );
}

#[track_caller]
fn check_parsed(text: &str, parsed: &ParsedFile) {
    let mut prev_end = 0;
    for (i, s) in parsed.statements.iter().enumerate() {
        assert_eq!(s.index, i, "statement indexes are not 0.. in order");
        assert_span(text, &s.span, "statement");
        for c in &s.leading_comments {
            assert_span(text, &c.span, "leading comment");
            assert_span(text, &c.body, "leading comment body");
            assert!(
                c.span.start <= c.body.start && c.body.end <= c.span.end,
                "comment body {:?} outside its comment {:?}: {}",
                c.body,
                c.span,
                show(text)
            );
            assert!(
                prev_end <= c.span.start && c.span.end <= s.span.start,
                "leading comment {:?} overlaps statement {i} {:?} or the one before (ending {prev_end}): {}",
                c.span,
                s.span,
                show(text)
            );
            let ct = &text[c.span.clone()];
            assert!(
                ct.starts_with("--") || ct.starts_with("/*"),
                "comment {ct:?} is not a comment"
            );
        }
        assert!(
            prev_end <= s.span.start,
            "statement {i} {:?} overlaps the previous one (ending {prev_end}): {}",
            s.span,
            show(text)
        );
        let st = &text[s.span.clone()];
        if s.node.is_some() {
            assert!(
                !st.is_empty(),
                "statement {i} has a parse tree but an empty span {:?}: {}",
                s.span,
                show(text)
            );
            assert!(
                !st.starts_with(is_pg_space) && !st.starts_with("--") && !st.starts_with("/*"),
                "statement {i} text {:?} starts with whitespace or a comment: {}",
                st,
                show(text)
            );
        }
        prev_end = s.span.end;
    }
    for c in &parsed.trailing_comments {
        assert_span(text, &c.span, "trailing comment");
        assert_span(text, &c.body, "trailing comment body");
        assert!(
            prev_end <= c.span.start,
            "trailing comment {:?} overlaps the last statement (ending {prev_end}): {}",
            c.span,
            show(text)
        );
        prev_end = c.span.end;
    }
}

fn known_rule(id: &str) -> bool {
    id == SYNTAX_ERROR || id == INVALID_DIRECTIVE || rule_by_id(id).is_some()
}

#[track_caller]
fn check_report(
    source: &SourceFile,
    report: &FileReport,
    parsed: &Result<ParsedFile, pgdiplomat_analysis::parse::SyntaxError>,
) {
    let text = &source.text;
    assert_eq!(&report.source.text, text);
    for f in &report.findings {
        assert!(known_rule(f.rule), "unknown rule id {}", f.rule);
        assert_span(text, &f.span, &format!("finding {}", f.rule));
        assert_line_col(source, f.span.start, "finding start");
        assert_line_col(source, f.span.end, "finding end");
        assert!(
            !f.message.is_empty(),
            "finding {} without a message",
            f.rule
        );
    }
    assert!(
        report
            .findings
            .windows(2)
            .all(|w| w[0].span.start <= w[1].span.start),
        "findings are not in source order"
    );
    match parsed {
        Err(e) => {
            assert_eq!(report.statements, 0);
            assert_eq!(
                report.findings.len(),
                1,
                "a file that does not parse has exactly one finding: {:?} for {}",
                report.findings,
                show(text)
            );
            let f = &report.findings[0];
            assert_eq!(f.rule, SYNTAX_ERROR);
            assert_eq!(
                f.span.start, e.offset,
                "syntax error finding not at the error offset"
            );
            assert_eq!(f.message, e.message);
        }
        Ok(p) => {
            assert_eq!(
                report.statements,
                p.statements.len(),
                "lint and parse_sql disagree on the statement count for {}",
                show(text)
            );
            for f in &report.findings {
                assert_ne!(
                    f.rule,
                    SYNTAX_ERROR,
                    "lint found a syntax error ({}) where parse_sql did not: {}",
                    f.message,
                    show(text)
                );
                if f.rule != INVALID_DIRECTIVE {
                    // Rule findings point into their statement.
                    assert!(
                        p.statements.iter().any(|s| s.span.start <= f.span.start
                            && f.span.end <= s.span.end.max(s.span.start)),
                        "finding {} {:?} is outside every statement of {}",
                        f.rule,
                        f.span,
                        show(text)
                    );
                }
            }
        }
    }
}

/// Runs the whole pipeline on `text` and checks every invariant.
fn check_pipeline(text: &str, opts: &LintOptions) {
    let source = SourceFile::new("p.sql", text);
    let parsed = parse_sql(text);
    match &parsed {
        Ok(p) => check_parsed(text, p),
        Err(e) => {
            assert!(
                e.offset <= text.len() && text.is_char_boundary(e.offset),
                "syntax error offset {} not on a character boundary of {}",
                e.offset,
                show(text)
            );
            assert!(!e.message.is_empty());
        }
    }

    let report = lint_source(&source, opts);
    check_report(&source, &report, &parsed);

    match (explain_source(&source, opts), &parsed) {
        (Ok(explained), Ok(p)) => {
            assert_eq!(explained.len(), p.statements.len());
            for (e, s) in explained.iter().zip(&p.statements) {
                let lc = source.line_col(s.span.start);
                assert_eq!((e.line, e.column), (lc.line, lc.column));
                assert_eq!(e.sql, &text[s.span.clone()]);
                for f in &e.findings {
                    assert!(
                        report
                            .findings
                            .iter()
                            .any(|r| r.rule == f.rule && r.message == f.message),
                        "explain shows a finding lint does not: {} {}",
                        f.rule,
                        f.message
                    );
                }
            }
            let _ = render_text("p.sql", &explained);
        }
        (Err(e), Err(pe)) => assert_eq!(&e, pe),
        (Ok(_), Err(e)) => panic!(
            "explain succeeded where parse_sql failed ({e}): {}",
            show(text)
        ),
        (Err(e), Ok(_)) => panic!(
            "explain failed ({e}) where parse_sql succeeded: {}",
            show(text)
        ),
    }

    // Both renderers must cope with every report.
    let reports = [report];
    let mut out = NoColor::new(Vec::new());
    human::write_reports(&mut out, &reports).expect("human report");
    let _ = json::to_json(&reports, opts.analysis.pg_version);
}

fn lint_opts(pg_version: u32, assume_in_transaction: bool) -> LintOptions {
    LintOptions {
        analysis: AnalysisOptions {
            pg_version,
            assume_in_transaction,
        },
        ..LintOptions::default()
    }
}

fn opts_strategy() -> impl Strategy<Value = LintOptions> {
    (13u32..=18, any::<bool>()).prop_map(|(v, a)| lint_opts(v, a))
}

// ------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------

/// Fragments that stress the lexer and the trivia scanner.
#[rustfmt::skip]
const NASTY: &[&str] = &[
    "\0", "'", "''", "\"", "$$", "$a$", "$", "/*", "*/", "--", "-", "/", "*", ";", "\n", "\r",
    "\r\n", "\t", "\x0b", "\x0c", " ", "\\", "E'\\", "U&'", "U&\"", "e'", "b'", "x'", "\u{a0}",
    "\u{3000}", "\u{85}", "\u{2028}", "\u{feff}", "é", "😀", "\u{10ffff}", "(", ")", "[", "]", ",",
    ".", "::", ":=", "=>", "::", "1e", "0x", "1_000", ".5", "SELECT", "BEGIN", "ATOMIC", "END",
    "pgdiplomat:ignore", "pgdiplomat:ignore-file", " all", "\u{0}",
];

fn unicode_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => any::<char>().prop_map(String::from),
        3 => proptest::sample::select(NASTY).prop_map(str::to_string),
        1 => "[ -~]{0,8}",
    ];
    prop_oneof![
        1 => any::<String>(),
        4 => prop::collection::vec(piece, 0..48).prop_map(|v| v.concat()),
    ]
}

#[rustfmt::skip]
const VOCABULARY: &[&str] = &[
    // keywords
    "ALTER", "TABLE", "ADD", "COLUMN", "CONSTRAINT", "UNIQUE", "USING", "INDEX", "CONCURRENTLY",
    "BEGIN", "COMMIT", "ROLLBACK", "START", "TRANSACTION", "SET", "LOCAL", "RESET", "SESSION",
    "lock_timeout", "statement_timeout", "TO", "=", "DEFAULT", "NOT", "NULL", "VALID", "VALIDATE",
    "CHECK", "FOREIGN", "KEY", "REFERENCES", "PRIMARY", "CREATE", "DROP", "IF", "EXISTS", "ON",
    "REINDEX", "VACUUM", "FULL", "ANALYZE", "TYPE", "DATA", "int", "bigint", "text", "varchar(10)",
    "varchar(20)", "char(3)", "numeric(10,2)", "serial", "GENERATED", "ALWAYS", "BY", "AS",
    "IDENTITY", "STORED", "VIRTUAL", "EXPRESSION", "RENAME", "SCHEMA", "TRUNCATE", "UPDATE",
    "SELECT", "INSERT", "INTO", "VALUES", "DELETE", "FROM", "WHERE", "LOCK", "IN", "MODE", "ACCESS",
    "EXCLUSIVE", "SHARE", "ROW", "PARTITION", "OF", "FOR", "ATTACH", "DETACH", "COMMENT", "IS",
    "GRANT", "REFRESH", "MATERIALIZED", "VIEW", "TRIGGER", "CLUSTER", "ONLY", "INHERIT", "LOGGED",
    "UNLOGGED", "TABLESPACE", "OWNER", "STORAGE", "STATISTICS", "IDENTITY", "REPLICA", "POLICY",
    "ENABLE", "DISABLE", "LEVEL", "SECURITY", "FUNCTION", "RETURNS", "LANGUAGE", "sql", "plpgsql",
    "ATOMIC", "END", "DO", "EXCLUDE", "WITH",
    // functions and expressions
    "random()", "now()", "gen_random_uuid()", "nextval('s')", "clock_timestamp()", "a * 2",
    "a IS NOT NULL", "a > 0", "true", "1", "0", "'2s'", "'x'", "E'\\''", "$$ SELECT 1; $$",
    "$f$ body $f$", "U&'\\0041'", "'{}'", "5000", "'1min'", "-1",
    // identifiers
    "t", "t2", "pk", "users", "public.t", "\"T\"", "\"we\"\"ird\"", "a", "b", "id", "ref_id",
    "t_a_idx", "t_pkey", "mv", "parted", "parted_1", "\"ünï\"",
    // punctuation and comments
    ";", ";", ";", "(", ")", ",", ".", "'", "\"", "$$", "--", "/*", "*/", "\n", "-- a comment\n",
    "/* block */", "/* /* nested */ */",
    // directives, valid and not
    "-- pgdiplomat:ignore all\n", "-- pgdiplomat:ignore-file all\n",
    "-- pgdiplomat:ignore missing-lock-timeout because\n", "/* pgdiplomat:ignore all */",
    "-- pgdiplomat:ignore\n", "-- pgdiplomat:ignore no-such-rule reason\n",
    "-- pgdiplomat:ignore-file\n", "-- pgdiplomat:frobnicate\n",
];

#[rustfmt::skip]
const SEPARATORS: &[&str] = &[
    " ", " ", " ", " ", "\n", "", "\t", "\r\n", "\r", "\x0b", "\u{a0}",
];

#[derive(Debug, Clone)]
enum TokenEdit {
    Delete(Index),
    Insert(Index, Index),
    Replace(Index, Index),
    Swap(Index, Index),
}

fn token_edit() -> impl Strategy<Value = TokenEdit> {
    prop_oneof![
        any::<Index>().prop_map(TokenEdit::Delete),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TokenEdit::Insert(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TokenEdit::Replace(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| TokenEdit::Swap(a, b)),
    ]
}

/// A statement from a template, split into tokens, with a few token-level edits (often none,
/// so that many inputs still parse), rejoined with a random separator.
fn soup_statement() -> impl Strategy<Value = String> {
    (
        any::<u8>(),
        any::<[u8; 6]>(),
        prop_oneof![
            4 => Just(Vec::new()),
            1 => prop::collection::vec(token_edit(), 1..3),
        ],
        prop_oneof![
            4 => Just(" "),
            1 => proptest::sample::select(SEPARATORS),
        ],
        any::<u8>(),
    )
        .prop_map(|(w, p, edits, sep, g)| {
            let sql = template(w, p);
            let mut toks: Vec<&str> = sql.split(' ').collect();
            for e in &edits {
                let n = toks.len();
                match e {
                    TokenEdit::Delete(i) if n > 0 => {
                        toks.remove(i.index(n));
                    }
                    TokenEdit::Insert(i, v) => {
                        toks.insert(i.index(n + 1), VOCABULARY[v.index(VOCABULARY.len())])
                    }
                    TokenEdit::Replace(i, v) if n > 0 => {
                        toks[i.index(n)] = VOCABULARY[v.index(VOCABULARY.len())]
                    }
                    TokenEdit::Swap(a, b) if n > 0 => toks.swap(a.index(n), b.index(n)),
                    _ => {}
                }
            }
            let mut s = toks.join(sep);
            s.push_str(glue(g));
            s
        })
}

fn token_soup() -> impl Strategy<Value = String> {
    let free = prop::collection::vec(
        (
            proptest::sample::select(VOCABULARY),
            proptest::sample::select(SEPARATORS),
        ),
        0..40,
    )
    .prop_map(|v| v.into_iter().flat_map(|(t, s)| [t, s]).collect::<String>());
    prop_oneof![
        1 => free,
        3 => prop::collection::vec(soup_statement(), 0..6).prop_map(|v| v.concat()),
    ]
}

/// Tables, columns, types ... the template generator picks from.
#[rustfmt::skip]
const TABLES: &[&str] = &[
    "t", "t2", "pk", "users", "public.t", "\"Mixed\"", "s.orders",
];
const COLUMNS: &[&str] = &["a", "b", "c", "d", "id", "ref_id", "\"Col\""];
#[rustfmt::skip]
const TYPES: &[&str] = &[
    "int", "bigint", "text", "varchar(10)", "varchar(20)", "varchar", "char(5)", "numeric(10,2)",
    "numeric(12,2)", "timestamptz", "serial", "bigserial", "uuid", "int[]", "cidr", "inet",
];
#[rustfmt::skip]
const COLDEFS: &[&str] = &[
    "", " NOT NULL", " DEFAULT 0", " NOT NULL DEFAULT 0", " DEFAULT random()", " DEFAULT now()",
    " DEFAULT gen_random_uuid()", " UNIQUE", " PRIMARY KEY", " REFERENCES pk (id)",
    " CHECK (a > 0)", " GENERATED ALWAYS AS IDENTITY", " GENERATED ALWAYS AS (1) STORED",
    " GENERATED ALWAYS AS (1) VIRTUAL", " DEFAULT my_fn()", " COLLATE \"C\"",
];
const INDEXES: &[&str] = &["t_a_idx", "t_b_uidx", "public.t_a_idx", "i1"];
const CONSTRAINTS: &[&str] = &["t_a_pos", "t_ref_fk", "t_a_nn", "c1"];

const TEMPLATES: usize = 30;

/// One statement from a template; `p` picks the pieces. Templates 0..=5 are session
/// statements (transactions and timeouts).
fn template(which: u8, p: [u8; 6]) -> String {
    let pick = |list: &[&'static str], i: usize| list[p[i] as usize % list.len()];
    let t = pick(TABLES, 0);
    let t2 = pick(TABLES, 1);
    let c = pick(COLUMNS, 2);
    let ty = pick(TYPES, 3);
    let i = pick(INDEXES, 4);
    let k = pick(CONSTRAINTS, 5);
    let flag = |bit: u8| p[5] & (1 << bit) != 0;
    let nv = if flag(3) { " NOT VALID" } else { "" };
    let conc = if flag(4) { "CONCURRENTLY " } else { "" };
    match which as usize % TEMPLATES {
        0 => "BEGIN".into(),
        1 => ["COMMIT", "ROLLBACK", "END", "START TRANSACTION"][p[0] as usize % 4].into(),
        2 => format!(
            "SET {}lock_timeout = {}",
            if flag(0) { "LOCAL " } else { "" },
            ["'2s'", "0", "5000", "'1min'", "DEFAULT", "'bogus'"][p[1] as usize % 6]
        ),
        3 => format!(
            "SET {}statement_timeout TO {}",
            if flag(0) { "LOCAL " } else { "" },
            ["'30s'", "0", "'1h'", "DEFAULT"][p[1] as usize % 4]
        ),
        4 => {
            ["RESET lock_timeout", "RESET statement_timeout", "RESET ALL"][p[0] as usize % 3].into()
        }
        5 => "SET search_path = public".into(),
        6 => format!("ALTER TABLE {t} ADD COLUMN {c} {ty}{}", pick(COLDEFS, 4)),
        7 => format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty}"),
        8 => format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
        9 => format!("ALTER TABLE {t} ADD CONSTRAINT {k} CHECK ({c} IS NOT NULL){nv}"),
        10 => {
            format!("ALTER TABLE {t} ADD CONSTRAINT {k} FOREIGN KEY ({c}) REFERENCES {t2} (id){nv}")
        }
        11 => format!("ALTER TABLE {t} VALIDATE CONSTRAINT {k}"),
        12 => format!(
            "ALTER TABLE {t} DROP CONSTRAINT {}{k}",
            if flag(0) { "IF EXISTS " } else { "" }
        ),
        13 => format!(
            "ALTER TABLE {t} ADD CONSTRAINT {k} UNIQUE USING INDEX {}",
            INDEXES[0]
        ),
        14 => format!(
            "CREATE {}INDEX {conc}{}{} ON {t} ({c})",
            if flag(0) { "UNIQUE " } else { "" },
            if flag(1) { "IF NOT EXISTS " } else { "" },
            i.rsplit('.').next().unwrap_or(i)
        ),
        15 => format!(
            "DROP INDEX {conc}{}{i}",
            if flag(1) { "IF EXISTS " } else { "" }
        ),
        16 => {
            if flag(0) {
                format!("REINDEX INDEX {conc}{i}")
            } else {
                format!("REINDEX TABLE {conc}{t}")
            }
        }
        17 => format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, {c} {ty}{})",
            if flag(0) { " REFERENCES pk (id)" } else { "" }
        ),
        18 => format!("DROP TABLE {}{t}", if flag(0) { "IF EXISTS " } else { "" }),
        19 => format!("ALTER TABLE {t} RENAME COLUMN {c} TO {}", pick(COLUMNS, 3)),
        20 => format!(
            "ALTER TABLE {t} RENAME TO {}",
            t2.rsplit('.').next().unwrap_or("x")
        ),
        21 => format!(
            "UPDATE {t} SET {c} = 1{}",
            if flag(0) { " WHERE id = 1" } else { "" }
        ),
        22 => format!("VACUUM {}{t}", if flag(0) { "FULL " } else { "" }),
        23 => format!(
            "LOCK TABLE {t} IN {} MODE",
            ["ACCESS SHARE", "SHARE", "ROW EXCLUSIVE", "ACCESS EXCLUSIVE"][p[0] as usize % 4]
        ),
        24 => format!("ALTER TABLE {t} ADD CONSTRAINT {k} NOT NULL {c}{nv}"),
        25 => format!(
            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {}",
            ["0", "now()", "random()"][p[0] as usize % 3]
        ),
        26 => format!("REFRESH MATERIALIZED VIEW {conc}{t}"),
        27 => format!(
            "ALTER TABLE {t} DETACH PARTITION {t2}{}",
            if flag(4) { " CONCURRENTLY" } else { "" }
        ),
        28 => format!("TRUNCATE {t}"),
        _ => {
            let rows = lock_table_examples();
            rows[p[0] as usize % rows.len()].to_string()
        }
    }
}

/// What goes between statements: semicolons, whitespace, comments, directives.
fn glue(g: u8) -> &'static str {
    [
        ";\n",
        ";\n",
        ";\n",
        "; ",
        ";",
        ";\n-- a comment\n",
        ";\n/* block */\n",
        ";\n-- pgdiplomat:ignore all\n",
        ";\n-- pgdiplomat:ignore missing-lock-timeout -- reason\n",
        ";\n-- pgdiplomat:ignore-file require-concurrent-index-creation\n",
        ";\n-- pgdiplomat:ignore nope\n",
        ";\r\n",
        ";;\n",
        "\n",
    ][g as usize % 14]
}

fn templated_migration() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<u8>(), any::<[u8; 6]>(), any::<u8>()), 0..14).prop_map(|v| {
        let mut s = String::new();
        for (w, p, g) in v {
            s.push_str(&template(w, p));
            s.push_str(glue(g));
        }
        s
    })
}

fn lock_table_examples() -> &'static [&'static str] {
    static EX: OnceLock<Vec<&'static str>> = OnceLock::new();
    EX.get_or_init(|| {
        pgdiplomat_locks::LOCK_TABLE
            .iter()
            .map(|r| r.example)
            .collect()
    })
}

/// Real migration text: every lock-table example and every rule's bad and good example.
fn corpus() -> &'static [String] {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut out: Vec<String> = lock_table_examples()
            .iter()
            .map(|e| format!("{e};\n"))
            .collect();
        for r in all_rules() {
            out.push(r.bad_example().to_string());
            out.push(r.good_example().to_string());
        }
        out.sort();
        out.dedup();
        out
    })
}

/// Single statements of the corpus (split with the parser), with their kind.
fn corpus_statements() -> &'static [(String, bool)] {
    static STMTS: OnceLock<Vec<(String, bool)>> = OnceLock::new();
    STMTS.get_or_init(|| {
        let mut out = Vec::new();
        for text in corpus() {
            let parsed = parse_sql(text).expect("every corpus text parses");
            for s in &parsed.statements {
                let sql = text[s.span.clone()].to_string();
                let session = s.node.as_ref().is_some_and(|n| {
                    !matches!(
                        classify(n, &SchemaState::default()),
                        StatementKind::Operations(_) | StatementKind::Other
                    )
                }) || is_session_text(&sql);
                if !out.iter().any(|(o, _)| o == &sql) {
                    out.push((sql, session));
                }
            }
        }
        out
    })
}

/// `SET search_path`, `SET ROLE`, ... are `Other` but still session statements.
fn is_session_text(sql: &str) -> bool {
    let up = sql.trim_start().to_ascii_uppercase();
    up.starts_with("SET") || up.starts_with("RESET")
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Keep the text up to a character boundary.
    Truncate(Index),
    /// Keep the text from a character boundary.
    Behead(Index),
    Duplicate,
    /// Insert (a piece of) another corpus text at a boundary.
    Splice(Index, Index, Index),
    /// Insert one character at a boundary.
    InsertChar(Index, char),
    /// Insert one of the nasty fragments at a boundary.
    InsertNasty(Index, Index),
    /// Remove the text between two boundaries.
    Delete(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => any::<Index>().prop_map(Mutation::Behead),
        1 => Just(Mutation::Duplicate),
        2 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(a, b, c)| Mutation::Splice(a, b, c)),
        2 => (any::<Index>(), any::<char>()).prop_map(|(a, c)| Mutation::InsertChar(a, c)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::InsertNasty(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Delete(a, b)),
    ]
}

/// The character boundaries of `s`, including its end.
fn boundaries(s: &str) -> Vec<usize> {
    s.char_indices().map(|(i, _)| i).chain([s.len()]).collect()
}

fn at(s: &str, ix: &Index) -> usize {
    let b = boundaries(s);
    b[ix.index(b.len())]
}

fn apply(mut s: String, m: &Mutation) -> String {
    match m {
        Mutation::Truncate(i) => {
            let p = at(&s, i);
            s.truncate(p);
        }
        Mutation::Behead(i) => {
            let p = at(&s, i);
            s = s[p..].to_string();
        }
        Mutation::Duplicate => s = s.repeat(2),
        Mutation::Splice(which, from, pos) => {
            let other = &corpus()[which.index(corpus().len())];
            let piece = &other[at(other, from)..];
            let p = at(&s, pos);
            s.insert_str(p, piece);
        }
        Mutation::InsertChar(i, c) => {
            let p = at(&s, i);
            s.insert(p, *c);
        }
        Mutation::InsertNasty(i, n) => {
            let p = at(&s, i);
            s.insert_str(p, NASTY[n.index(NASTY.len())]);
        }
        Mutation::Delete(a, b) => {
            let (x, y) = (at(&s, a), at(&s, b));
            let (x, y) = (x.min(y), x.max(y));
            s.replace_range(x..y, "");
        }
    }
    s
}

fn mutated_corpus() -> impl Strategy<Value = String> {
    (any::<Index>(), prop::collection::vec(mutation(), 0..4)).prop_map(|(which, muts)| {
        let base = corpus()[which.index(corpus().len())].clone();
        muts.iter().fold(base, apply)
    })
}

/// `cases` per property, unless `PROPTEST_CASES` asks for more (or fewer) for a longer hunt.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        max_shrink_iters: 2048,
        // Integration tests have no lib.rs next to them, so name the file (relative to the
        // crate directory, where `cargo test` runs them).
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/never_panics.txt",
        ))),
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------
// Properties: the pipeline never panics and all positions are valid
// ------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn arbitrary_unicode_never_breaks_the_pipeline(text in unicode_soup(), opts in opts_strategy()) {
        check_pipeline(&text, &opts);
    }

    #[test]
    fn sql_token_soup_never_breaks_the_pipeline(text in token_soup(), opts in opts_strategy()) {
        check_pipeline(&text, &opts);
    }

    #[test]
    fn templated_migrations_never_break_the_pipeline(text in templated_migration(), opts in opts_strategy()) {
        check_pipeline(&text, &opts);
    }

    #[test]
    fn mutated_real_migrations_never_break_the_pipeline(text in mutated_corpus(), opts in opts_strategy()) {
        check_pipeline(&text, &opts);
    }
}

#[test]
fn the_corpus_itself_passes_on_every_version_and_transaction_mode() {
    for text in corpus() {
        for v in 13..=18 {
            for assume in [false, true] {
                check_pipeline(text, &lint_opts(v, assume));
            }
        }
    }
    // Versions outside the lock table must not break anything either.
    for v in [0, 12, 19, u32::MAX] {
        for text in corpus() {
            check_pipeline(text, &lint_opts(v, false));
        }
    }
}

#[test]
fn every_template_parses_in_isolation() {
    // Guards the generator: the template strategy is only useful if its output mostly parses.
    let mut failures = Vec::new();
    for w in 0..TEMPLATES as u8 {
        let sql = template(w, [0; 6]);
        if let Err(e) = parse_sql(&sql) {
            failures.push(format!("{sql}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// Deep nesting and huge inputs
// ------------------------------------------------------------------------------------------

#[track_caller]
fn assert_syntax_error(text: &str) -> String {
    check_pipeline(text, &LintOptions::default());
    let report = lint_source(&SourceFile::new("p.sql", text), &LintOptions::default());
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].rule, SYNTAX_ERROR);
    report.findings[0].message.clone()
}

#[test]
fn ten_thousand_nested_parentheses_are_a_syntax_error_not_a_crash() {
    let sql = format!("SELECT {}1{};", "(".repeat(10_000), ")".repeat(10_000));
    let message = assert_syntax_error(&sql);
    // PostgreSQL's bison stack gives up ("memory exhausted").
    assert!(!message.is_empty());
    let sql = format!(
        "ALTER TABLE t ADD CONSTRAINT c CHECK ({}a > 0{});",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert_syntax_error(&sql);
}

#[test]
fn stack_depth_errors_are_syntax_errors_not_crashes() {
    // Deep right recursion in the grammar hits check_stack_depth().
    let message = assert_syntax_error(&format!("SELECT {}true;", "NOT ".repeat(5_000)));
    assert!(message.contains("stack depth"), "{message}");
    assert_syntax_error(&format!(
        "SELECT {}1{};",
        "(SELECT ".repeat(3_000),
        ")".repeat(3_000)
    ));
    // Valid but deep: 200 nested sub-selects parse (decoding runs on a large stack, with no
    // recursion limit), so nothing is reported.
    let deep = format!("SELECT {}1{};", "(SELECT ".repeat(200), ")".repeat(200));
    let report = lint_source(
        &SourceFile::new("deep.sql", deep.as_str()),
        &LintOptions::default(),
    );
    assert!(
        report.findings.iter().all(|f| f.rule != "syntax-error"),
        "{:?}",
        report.findings
    );
    // Deeply nested unterminated block comments.
    assert_syntax_error(&format!("{}SELECT 1", "/*".repeat(2_000)));
    // Deeply nested unary minus parses (PostgreSQL folds it into the constant's parse).
    check_pipeline(
        &format!("SELECT {}1;", "-".repeat(5_000)),
        &LintOptions::default(),
    );
}

#[test]
fn moderately_nested_valid_expressions_parse() {
    // BUG: left-nested binary operators (a + b + c ..., a || b || c ...) produce one AExpr
    // level per operator; around 47 operators the protobuf decoder's default recursion limit
    // (prost: 100 messages) is reached and the file is reported as a syntax error ("internal
    // error decoding the parse tree: ... recursion limit reached") at offset 0, so nothing in
    // it is checked. PostgreSQL itself accepts these statements.
    for sql in [
        format!("SELECT {}1;", "1 + ".repeat(60)),
        format!(
            "UPDATE t SET s = {}'x';\nALTER TABLE t ADD COLUMN c int;",
            "'a' || ".repeat(60)
        ),
    ] {
        check_pipeline(&sql, &LintOptions::default());
        let r = lint_source(
            &SourceFile::new("p.sql", sql.as_str()),
            &LintOptions::default(),
        );
        let errors: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule == SYNTAX_ERROR)
            .collect();
        assert!(
            errors.is_empty(),
            "valid SQL reported as a syntax error: {:?}",
            errors
                .iter()
                .map(|f| f.message.chars().take(120).collect::<String>())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn five_megabyte_single_line_inputs_do_not_crash() {
    const SIZE: usize = 5 * 1024 * 1024;

    // One statement with a 5 MB string literal.
    let sql = format!("INSERT INTO t (s) VALUES ('{}');", "x".repeat(SIZE));
    check_pipeline(&sql, &LintOptions::default());

    // One 5 MB line of short statements: the chunked, two-thread path.
    let stmt = "ALTER TABLE t ADD COLUMN c int; ";
    let sql = stmt.repeat(SIZE / stmt.len());
    let report = lint_source(
        &SourceFile::new("big.sql", sql.as_str()),
        &LintOptions::default(),
    );
    assert_eq!(report.statements, SIZE / stmt.len());
    for f in &report.findings {
        assert_span(&sql, &f.span, "finding");
        assert_eq!(&sql[f.span.clone()], "ALTER TABLE t ADD COLUMN c int");
    }
    assert_eq!(
        report
            .findings
            .iter()
            .filter(|f| f.rule == "missing-lock-timeout")
            .count(),
        report.statements
    );

    // A 5 MB unterminated literal and a 5 MB line of garbage.
    let sql = format!("SELECT '{}", "é".repeat(SIZE / 2));
    assert_syntax_error(&sql);
    let sql = "ALTER TABLE ".repeat(SIZE / 12);
    assert_syntax_error(&sql);
}

/// The rules run directly on a whole-file analysis (no chunking, no directives): what
/// `lint_source` must find on a file without ignore comments.
fn reference_findings(
    text: &str,
    opts: &LintOptions,
) -> Vec<(&'static str, std::ops::Range<usize>)> {
    use pgdiplomat_analysis::analyze::Analyzer;
    use pgdiplomat_analysis::rules::RuleContext;
    let source = SourceFile::new("p.sql", text);
    let mut parsed = parse_sql(text).expect("parses");
    // As lint does: DO blocks are linted statement by statement.
    pgdiplomat_analysis::plpgsql::expand_do_blocks(&mut parsed, text);
    let analysis = Analyzer::new(opts.analysis).analyze_file(&parsed);
    let mut out = Vec::new();
    for (stmt, analyzed) in parsed.statements.iter().zip(&analysis.statements) {
        let ctx = RuleContext {
            options: &opts.analysis,
            stmt: analyzed,
            node: stmt.node.as_ref(),
            sql: source.slice(&stmt.span),
            source: &source,
        };
        let mut found = Vec::new();
        for rule in all_rules() {
            rule.check(&ctx, &mut found);
        }
        out.extend(found.into_iter().map(|f| (f.rule, f.span)));
    }
    out.sort_by_key(|(r, s)| (s.start, s.end, *r));
    out
}

#[test]
fn chunked_parsing_finds_what_a_whole_file_analysis_finds() {
    // More than 2,000 statements: `lint_source` parses in chunks and carries the session and
    // the schema across chunk boundaries. Transactions, SET LOCAL and function bodies with
    // semicolons straddle the boundaries.
    let mut text = String::new();
    let mut n = 0u32;
    while text.len() < 200 * 1024 {
        let p = [
            (n * 7) as u8,
            (n * 13) as u8,
            (n * 3) as u8,
            (n * 11) as u8,
            (n * 5) as u8,
            (n * 17) as u8,
        ];
        let stmt = match n % 37 {
            0 => {
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END"
                    .to_string()
            }
            1 => "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$".to_string(),
            _ => template((n % TEMPLATES as u32) as u8, p),
        };
        text.push_str(&stmt);
        text.push_str(";\n");
        n += 1;
    }
    assert!(parse_sql(&text).unwrap().statements.len() > 4_000);
    for assume in [false, true] {
        let opts = lint_opts(17, assume);
        let report = lint_source(&SourceFile::new("p.sql", text.as_str()), &opts);
        let mut got: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.rule, f.span.clone()))
            .collect();
        got.sort_by_key(|(r, s)| (s.start, s.end, *r));
        let want = reference_findings(&text, &opts);
        if got != want {
            let first = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            panic!(
                "chunked lint differs from the whole-file analysis ({} vs {} findings); first difference at #{first}: {:?} vs {:?}",
                got.len(),
                want.len(),
                got.get(first).map(|(r, s)| (r, &text[s.clone()])),
                want.get(first).map(|(r, s)| (r, &text[s.clone()])),
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Regressions found by the properties above
// ------------------------------------------------------------------------------------------

#[test]
fn syntax_error_at_a_token_starting_with_unicode_whitespace_has_a_valid_span() {
    // BUG: PostgreSQL's lexer treats U+00A0, U+3000, U+0085 ... as identifier characters, so
    // an error can point at a token that starts with one. `syntax_error_report` makes the span
    // end at `offset + 1` when the first character is (Unicode) whitespace, which is inside the
    // multi-byte character; the human renderer then panics slicing the text
    // (`pgdiplomat lint` exits with a panic).
    for sql in [
        "SELECT 1 x \u{a0}x;",
        "SELECT 1 x \u{3000};",
        "SELECT 1 x \u{85}y;",
    ] {
        check_pipeline(sql, &LintOptions::default());
    }
}

#[test]
fn a_comment_ended_by_a_bare_carriage_return_does_not_swallow_the_next_statement() {
    // BUG: PostgreSQL ends a `--` comment at `\r` as well as `\n`; the trivia scanner only
    // stops at `\n`, so the comment runs over the next statement, whose span becomes empty.
    let sql = "SELECT 1;\n-- hello\rALTER TABLE t ADD COLUMN c int;\n";
    check_pipeline(sql, &LintOptions::default());
}

#[test]
fn vertical_tab_is_whitespace_before_an_ignore_directive() {
    // BUG: PostgreSQL (16+) treats `\v` as whitespace; the trivia scanner does not, so the
    // statement's span starts at the `\v`, the comment after it is not a leading comment and
    // the ignore directive is silently not applied.
    let sql = "SELECT 1;\x0b-- pgdiplomat:ignore all\nALTER TABLE t ADD COLUMN c int;\n";
    check_pipeline(sql, &LintOptions::default());
    let r = lint_source(&SourceFile::new("p.sql", sql), &LintOptions::default());
    assert_eq!(
        r.findings,
        vec![],
        "the directive should silence the statement"
    );
}

// ------------------------------------------------------------------------------------------
// Metamorphic: one file A++B versus files A then B
// ------------------------------------------------------------------------------------------
//
// `lint_sources([A, B])` shares the schema state between files but starts a new *session* per
// file; `lint_source(A ++ B)` has one session and one set of comments. So the two agree on the
// (rule, statement text) findings only when:
//
// * nothing in A changes the session for what follows: no SET/RESET of the timeouts and no
//   transaction left open (a BEGIN ... COMMIT block that ends A is fine, and so is SET LOCAL
//   inside it);
// * `assume_in_transaction` is off (otherwise the tool's transaction spans A and B in one file,
//   so B's statements run while A's locks are held);
// * there are no ignore directives (`ignore-file` in A covers B in the joined file, and A's
//   trailing comments become leading comments of B's first statement);
// * both parse (a syntax error anywhere hides the whole joined file);
// * messages may differ (they quote line numbers), so only rule and statement text are compared.
//
// B itself may contain anything session-related: nothing follows it.

/// Multiset of (rule, text of the finding's span).
type FindingKeys = BTreeMap<(String, String), usize>;

fn finding_keys(reports: &[FileReport]) -> FindingKeys {
    let mut out = BTreeMap::new();
    for r in reports {
        for f in &r.findings {
            *out.entry((f.rule.to_string(), r.source.slice(&f.span).to_string()))
                .or_default() += 1;
        }
    }
    out
}

fn joined(a: &str, b: &str) -> String {
    format!("{a}\n;\n{b}")
}

fn compare_joined(a: &str, b: &str, opts: &LintOptions) -> (FindingKeys, FindingKeys) {
    let one = lint_source(&SourceFile::new("ab.sql", joined(a, b)), opts);
    let two = lint_sources(
        vec![SourceFile::new("a.sql", a), SourceFile::new("b.sql", b)],
        opts,
    );
    (finding_keys(&[one]), finding_keys(&two))
}

/// A statement that neither changes the session nor carries a directive.
fn plain_statement() -> impl Strategy<Value = String> {
    let from_corpus = any::<Index>().prop_filter_map("session statement", |i| {
        let all = corpus_statements();
        let (sql, session) = &all[i.index(all.len())];
        (!session && !sql.contains("pgdiplomat")).then(|| sql.clone())
    });
    let from_templates = (6u8..TEMPLATES as u8, any::<[u8; 6]>()).prop_map(|(w, p)| template(w, p));
    prop_oneof![from_corpus, from_templates]
}

fn plain_file() -> impl Strategy<Value = String> {
    prop::collection::vec(plain_statement(), 0..6).prop_map(|v| v.join(";\n"))
}

/// A file that leaves the session as a fresh file would: plain statements and complete
/// transaction blocks, possibly with SET LOCAL inside.
fn neutral_file() -> impl Strategy<Value = String> {
    let block = prop_oneof![
        2 => plain_statement(),
        1 => (
            prop::collection::vec(plain_statement(), 0..4),
            any::<bool>(),
            any::<bool>(),
            proptest::sample::select(vec!["COMMIT", "ROLLBACK", "END"]),
        )
            .prop_map(|(body, lock_timeout, stmt_timeout, end)| {
                let mut v = vec!["BEGIN".to_string()];
                if lock_timeout {
                    v.push("SET LOCAL lock_timeout = '2s'".into());
                }
                if stmt_timeout {
                    v.push("SET LOCAL statement_timeout = '10s'".into());
                }
                v.extend(body);
                v.push(end.into());
                v.join(";\n")
            }),
    ];
    prop::collection::vec(block, 0..5).prop_map(|v| v.join(";\n"))
}

/// Anything without directives, session statements included.
fn any_file() -> impl Strategy<Value = String> {
    let stmt = prop_oneof![
        3 => plain_statement(),
        1 => (0u8..6, any::<[u8; 6]>()).prop_map(|(w, p)| template(w, p)),
    ];
    prop::collection::vec(stmt, 0..6).prop_map(|v| v.join(";\n"))
}

fn parses(s: &str) -> bool {
    parse_sql(s).is_ok()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn joining_two_plain_files_finds_what_linting_them_in_turn_finds(
        a in plain_file(),
        b in plain_file(),
        v in 13u32..=18,
    ) {
        prop_assume!(parses(&a) && parses(&b));
        let (one, two) = compare_joined(&a, &b, &lint_opts(v, false));
        prop_assert_eq!(one, two, "A = {:?}\nB = {:?}", a, b);
    }

    #[test]
    fn joining_after_a_session_neutral_file_finds_what_linting_in_turn_finds(
        a in neutral_file(),
        b in any_file(),
        v in 13u32..=18,
    ) {
        prop_assume!(parses(&a) && parses(&b));
        let (one, two) = compare_joined(&a, &b, &lint_opts(v, false));
        prop_assert_eq!(one, two, "A = {:?}\nB = {:?}", a, b);
    }
}

/// Why the property needs its conditions: each of these differs.
#[test]
fn joining_differs_when_the_conditions_do_not_hold() {
    let add = "ALTER TABLE t ADD COLUMN c int";
    let cases: &[(&str, &str, &str, bool)] = &[
        (
            "a session SET in A covers B",
            "SET lock_timeout = '2s'",
            add,
            false,
        ),
        (
            "a transaction left open by A covers B",
            "BEGIN",
            "CREATE INDEX CONCURRENTLY t_c_idx ON t (c)",
            false,
        ),
        (
            "the tool's transaction spans A and B",
            "ALTER TABLE t ADD COLUMN b int",
            "ALTER TABLE t VALIDATE CONSTRAINT t_a_pos",
            true,
        ),
        (
            "ignore-file in A covers B",
            "-- pgdiplomat:ignore-file all\nSELECT 1",
            add,
            false,
        ),
        (
            "A's trailing comment leads B's first statement",
            "SELECT 1; -- pgdiplomat:ignore all",
            add,
            false,
        ),
        ("a syntax error in A hides B", "SELEC 1", add, false),
    ];
    for (why, a, b, assume) in cases {
        let (one, two) = compare_joined(a, b, &lint_opts(17, *assume));
        assert_ne!(
            one, two,
            "expected a difference ({why}) for A = {a:?}, B = {b:?}"
        );
    }
}
