//! DDL inside DO blocks is linted at its line in the block, as one statement's worth of locks
//! held to the end of the block; what cannot be analysed is said.

use pgdiplomat_analysis::analyze::AnalysisOptions;
use pgdiplomat_analysis::lint::{lint_source, LintOptions};
use pgdiplomat_analysis::source::SourceFile;

/// `(line, column, rule)` of each finding of `sql` linted as one file.
fn findings(sql: &str) -> Vec<(usize, usize, String)> {
    let opts = LintOptions {
        analysis: AnalysisOptions::default(),
        include: Vec::new(),
        exclude: Vec::new(),
    };
    let source = SourceFile::new("m.sql", sql);
    let report = lint_source(&source, &opts);
    report
        .findings
        .iter()
        .map(|f| {
            let at = source.line_col(f.span.start);
            (at.line, at.column, f.rule.to_string())
        })
        .collect()
}

fn has(got: &[(usize, usize, String)], line: usize, rule: &str) -> bool {
    got.iter().any(|(l, _, r)| *l == line && r == rule)
}

#[test]
fn ddl_in_a_do_block_is_reported_at_its_line_inside_the_block() {
    let sql = "\
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'person_name_idx') THEN
    CREATE INDEX person_name_idx ON person (name);
  END IF;
END
$$;
";
    let got = findings(sql);
    assert!(has(&got, 4, "require-concurrent-index-creation"), "{got:?}");
    assert!(got.iter().any(|(l, c, _)| *l == 4 && *c == 5), "{got:?}");
}

#[test]
fn the_block_is_one_transaction_so_its_locks_add_up_and_concurrently_fails() {
    let sql = "\
DO $$
BEGIN
  ALTER TABLE person ADD COLUMN nick text;
  ALTER TABLE person ADD CONSTRAINT person_nick_check CHECK (nick <> '');
END $$;
DO $$ BEGIN CREATE INDEX CONCURRENTLY person_nick_idx ON person (nick); END $$;
";
    let got = findings(sql);
    // The CHECK validates under ACCESS EXCLUSIVE, which the block already holds from line 3:
    // no second lock wait to time out.
    assert!(has(&got, 3, "missing-lock-timeout"), "{got:?}");
    assert!(has(&got, 4, "check-without-not-valid"), "{got:?}");
    assert!(!has(&got, 4, "missing-lock-timeout"), "{got:?}");
    // PostgreSQL refuses CONCURRENTLY inside a DO block.
    assert!(has(&got, 6, "concurrently-in-transaction"), "{got:?}");
}

#[test]
fn a_constant_execute_is_linted_and_a_computed_one_is_said_to_be_unanalysed() {
    let sql = "\
DO $$
BEGIN
  EXECUTE 'ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2)';
  EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'accounts');
END $$;
";
    let got = findings(sql);
    assert!(has(&got, 3, "alter-column-type-rewrites-table"), "{got:?}");
    assert!(has(&got, 4, "unmodelled-statement"), "{got:?}");
}

#[test]
fn an_ignore_comment_before_the_block_covers_its_statements() {
    let sql = "\
-- pgdiplomat:ignore require-concurrent-index-creation,missing-lock-timeout small table
DO $$ BEGIN CREATE INDEX i ON person (a); END $$;
";
    assert!(findings(sql).is_empty(), "{:?}", findings(sql));
}

#[test]
fn a_block_in_another_language_or_that_does_not_parse_is_not_analysed_and_says_so() {
    for sql in [
        "DO LANGUAGE plperl $$ print 1; $$;",
        "DO $$ BEGIN ALTER TABLE; END $$;",
    ] {
        let got = findings(sql);
        assert!(has(&got, 1, "unmodelled-statement"), "{sql}: {got:?}");
    }
}
