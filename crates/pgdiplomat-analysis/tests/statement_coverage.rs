//! Nothing unmodelled is silent: every statement node type of PostgreSQL's grammar, as pg_query
//! defines it, is listed in `model::coverage::STATEMENTS`, and its example classifies the way the
//! list says — lock-table forms, no blocking lock, or an explicit "not modelled" operation that
//! lint reports as `unmodelled-statement`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pgdiplomat_analysis::lint::{lint_source, LintOptions};
use pgdiplomat_analysis::model::coverage::{statement_name, Coverage, STATEMENTS};
use pgdiplomat_analysis::model::{classify, SchemaState, StatementKind};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::source::SourceFile;

/// pg_query's protobuf definition of the parse tree, from the cargo registry (the crate's own
/// source, which every build of this workspace has unpacked).
fn pg_query_proto() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"pg_query\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("pg_query in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let src = cargo_home.join("registry/src");
    for index in std::fs::read_dir(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let proto = index.unwrap().path().join(format!(
            "pg_query-{version}/libpg_query/protobuf/pg_query.proto"
        ));
        if let Ok(text) = std::fs::read_to_string(&proto) {
            return text;
        }
    }
    panic!(
        "pg_query {version}'s pg_query.proto not found under {}",
        src.display()
    );
}

/// The `*Stmt` members of `message Node { oneof node { ... } }`.
fn statement_types_in_proto(proto: &str) -> BTreeSet<String> {
    let start = proto.find("message Node {").expect("message Node");
    let body = &proto[start..];
    let body = &body[..body.find("\n}\n").expect("end of message Node")];
    body.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| t.ends_with("Stmt"))
        .map(|t| t.to_ascii_lowercase())
        .collect()
}

#[test]
fn every_statement_type_of_the_grammar_is_classified() {
    let in_proto = statement_types_in_proto(&pg_query_proto());
    assert!(
        in_proto.len() > 100,
        "found only {} statement types",
        in_proto.len()
    );
    let listed: BTreeSet<String> = STATEMENTS
        .iter()
        .map(|(n, _, _)| n.to_ascii_lowercase())
        .collect();
    assert_eq!(
        STATEMENTS.len(),
        listed.len(),
        "a statement type is listed twice"
    );
    let missing: Vec<_> = in_proto.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&in_proto).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in model::coverage::STATEMENTS: {missing:?}; listed but not in pg_query: {extra:?}"
    );
}

#[test]
fn every_example_classifies_as_its_coverage_says() {
    let schema = SchemaState::default();
    let opts = LintOptions::default();
    let mut checked = 0;
    for (name, coverage, example) in STATEMENTS {
        if *coverage == Coverage::Nested {
            assert!(example.is_empty(), "{name}: nested nodes have no example");
            continue;
        }
        let parsed = parse_sql(example).unwrap_or_else(|e| panic!("{name}: {example}: {e:?}"));
        assert_eq!(parsed.statements.len(), 1, "{name}: {example}");
        let node = parsed.statements[0].node.as_ref().expect("a statement");
        assert_eq!(
            statement_name(node),
            Some(*name),
            "{example} is not a {name}"
        );
        let kind = classify(node, &schema);
        let findings = lint_source(&SourceFile::new("example.sql", *example), &opts).findings;
        let unmodelled = findings.iter().any(|f| f.rule == "unmodelled-statement");
        match coverage {
            Coverage::Modelled => {
                let ok = match &kind {
                    StatementKind::Operations(ops) => ops.iter().all(|o| o.form.is_some()),
                    StatementKind::Begin | StatementKind::SetTimeout { .. } => true,
                    _ => false,
                };
                assert!(ok, "{name}: {example} → {kind:?}");
                assert!(!unmodelled, "{name}: {example}: {findings:?}");
            }
            Coverage::NoBlockingLock => {
                assert_eq!(kind, StatementKind::Other, "{name}: {example}");
                assert!(!unmodelled, "{name}: {example}: {findings:?}");
            }
            Coverage::NotModelled(_) => {
                let ok = matches!(&kind, StatementKind::Operations(ops)
                    if !ops.is_empty() && ops.iter().all(|o| o.not_modelled.is_some()));
                assert!(ok, "{name}: {example} → {kind:?}");
                assert!(
                    unmodelled,
                    "{name}: {example}: lint is silent: {findings:?}"
                );
            }
            Coverage::Nested => unreachable!(),
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}

/// Forms within modelled statement types that have no lock-table row are reported too.
#[test]
fn unmodelled_variants_of_modelled_statements_are_reported() {
    let opts = LintOptions::default();
    for sql in [
        "DROP STATISTICS s",
        "DROP VIEW v CASCADE",
        "DROP SEQUENCE s CASCADE",
        "DROP TYPE mood CASCADE",
        "ALTER SEQUENCE s SET SCHEMA other",
        "EXPLAIN ANALYZE DELETE FROM t",
    ] {
        let findings = lint_source(&SourceFile::new("m.sql", sql), &opts).findings;
        assert!(
            findings.iter().any(|f| f.rule == "unmodelled-statement"),
            "{sql}: {findings:?}"
        );
    }
}

/// Drops whose reach only the database's dependency graph knows are reported without one.
#[test]
fn drops_reaching_unknown_dependents_are_reported() {
    let opts = LintOptions::default();
    for sql in [
        "DROP SCHEMA s CASCADE",
        "DROP FUNCTION f() CASCADE",
        "DROP OWNED BY app",
    ] {
        let findings = lint_source(&SourceFile::new("m.sql", sql), &opts).findings;
        assert!(
            findings.iter().any(|f| f.rule == "cascade-reach-unknown"),
            "{sql}: {findings:?}"
        );
    }
}
