//! The SARIF, GitHub Actions, compact and Markdown reports, on a two-file fixture
//! (`tests/data/formats`) in which several rules fire, a statement is ignored and a directive
//! is invalid. The SARIF output is validated against the OASIS SARIF 2.1.0 schema vendored in
//! `tests/data/sarif` (see its README for where it comes from).

use pgdiplomat_analysis::lint::{lint_sources, FileReport, LintOptions};
use pgdiplomat_analysis::report::{compact, github, markdown, sarif};
use pgdiplomat_analysis::rules::{all_rules, Finding, Severity};
use pgdiplomat_analysis::source::SourceFile;
use serde_json::Value;

const PG_VERSION: u32 = 17;
const SCHEMA: &str = include_str!("data/sarif/sarif-schema-2.1.0.json");

fn fixture() -> Vec<FileReport> {
    let sources = vec![
        SourceFile::new(
            "db/migrations/0001_create_users.sql",
            include_str!("data/formats/0001_create_users.sql"),
        ),
        SourceFile::new(
            "db/migrations/0002_alter_users.sql",
            include_str!("data/formats/0002_alter_users.sql"),
        ),
    ];
    lint_sources(sources, &LintOptions::default())
}

/// One file with one finding per severity, built by hand, with the characters each format
/// must escape.
fn synthetic() -> Vec<FileReport> {
    let text = "SELECT 1;\nSELECT 2;\nSELECT 3;\n";
    let finding = |severity, span: std::ops::Range<usize>, message: &str| Finding {
        rule: "whole-table-update",
        severity,
        span,
        message: message.into(),
        help: Some("100% sure: a, b".into()),
        fix_sql: None,
    };
    vec![FileReport {
        source: SourceFile::new("db\\we,ird:dir\\0001.sql", text),
        findings: vec![
            finding(
                Severity::Error,
                0..9,
                "50% of rows: locked, then\nblocked\r\nfor | long",
            ),
            finding(Severity::Warning, 10..19, "plain warning"),
            finding(Severity::Info, 20..29, "plain note"),
        ],
        suppressed: 0,
        statements: 3,
    }]
}

fn render(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    write(&mut buf).expect("writing to a Vec cannot fail");
    String::from_utf8(buf).expect("the output is UTF-8")
}

/// The SARIF log with the tool's version replaced, so snapshots survive a release, and each
/// rule descriptor cut to its id, name and level, so they survive edits to the rules' docs
/// (`sarif_rule_descriptors_come_from_the_rules` checks the rest).
fn sarif_for_snapshot(reports: &[FileReport]) -> Value {
    let mut doc = sarif::to_sarif(reports, PG_VERSION);
    let driver = &mut doc["runs"][0]["tool"]["driver"];
    assert_eq!(driver["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    driver["version"] = Value::from("[version]");
    let rules = driver["rules"].as_array_mut().expect("rules");
    for r in rules.iter_mut() {
        *r = serde_json::json!({
            "id": r["id"],
            "name": r["name"],
            "defaultConfiguration": r["defaultConfiguration"],
        });
    }
    doc
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the vendored schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_fixture_has_findings_in_both_files() {
    let reports = fixture();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| !r.findings.is_empty()));
    assert!(reports[1].suppressed > 0, "the ignore comment applies");
    let rules: std::collections::BTreeSet<&str> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.rule))
        .collect();
    assert!(rules.len() >= 4, "several rules fire: {rules:?}");
    assert!(rules.contains("invalid-directive"));
}

#[test]
fn sarif_snapshot() {
    insta::assert_json_snapshot!("sarif", sarif_for_snapshot(&fixture()));
}

#[test]
fn github_snapshot() {
    let out = render(|buf| github::write(buf, &fixture()));
    insta::assert_snapshot!("github", out);
}

#[test]
fn compact_snapshot() {
    let out = render(|buf| compact::write(buf, &fixture()));
    insta::assert_snapshot!("compact", out);
}

#[test]
fn markdown_snapshot() {
    let out = render(|buf| markdown::write(buf, &fixture(), PG_VERSION));
    insta::assert_snapshot!("markdown", out);
}

#[test]
fn markdown_of_a_clean_run() {
    let reports = lint_sources(
        vec![SourceFile::new("clean.sql", "SELECT 1;\n")],
        &LintOptions::default(),
    );
    let out = render(|buf| markdown::write(buf, &reports, PG_VERSION));
    insta::assert_snapshot!("markdown_clean", out);
}

#[test]
fn sarif_is_valid_against_the_sarif_2_1_0_schema() {
    let doc = sarif::to_sarif(&fixture(), PG_VERSION);
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    // The synthetic report: every level, and a path that must be percent-encoded.
    let doc = sarif::to_sarif(&synthetic(), PG_VERSION);
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    // A syntax error (the pseudo-rule), an empty file and a file ending mid-statement.
    let reports = lint_sources(
        vec![
            SourceFile::new("broken.sql", "CREATE TABLE (;\n"),
            SourceFile::new("empty.sql", ""),
            SourceFile::new("tail.sql", "SELECT 1; CREATE INDEX i ON t (x)"),
        ],
        &LintOptions::default(),
    );
    let doc = sarif::to_sarif(&reports, PG_VERSION);
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results[0]["ruleId"], "syntax-error");
    assert!(results
        .iter()
        .any(|r| r["ruleId"] == "require-concurrent-index-creation"));
}

#[test]
fn the_schema_check_catches_invalid_sarif() {
    // Guards the test above against a validator that accepts everything.
    let mut doc = sarif::to_sarif(&fixture(), PG_VERSION);
    doc["runs"][0]["results"][0]["level"] = Value::from("fatal");
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    doc["version"] = Value::from("2.0.0");
    let errors = schema_errors(&doc);
    assert!(errors.len() >= 3, "{errors:#?}");
}

#[test]
fn an_empty_run_is_valid_sarif_with_zero_results() {
    let doc = sarif::to_sarif(&[], PG_VERSION);
    let errors = schema_errors(&doc);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    let run = &doc["runs"][0];
    assert_eq!(run["results"], Value::Array(vec![]));
    // The rules are listed all the same.
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().map(Vec::len),
        Some(all_rules().len() + 4)
    );
}

#[test]
fn sarif_lists_every_rule_and_indexes_results_into_the_list() {
    let doc = sarif::to_sarif(&fixture(), PG_VERSION);
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for r in all_rules() {
        assert!(ids.contains(&r.id()), "{} is listed", r.id());
    }
    assert!(ids.contains(&"syntax-error"));
    assert!(ids.contains(&"invalid-directive"));
    assert!(ids.contains(&"psql-meta-command"));
    assert!(ids.contains(&"unknown-placeholder"));
    let results = run["results"].as_array().expect("results");
    let findings: usize = fixture().iter().map(|r| r.findings.len()).sum();
    assert_eq!(results.len(), findings);
    for res in results {
        let i = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
    }
}

#[test]
fn sarif_rule_descriptors_come_from_the_rules() {
    let doc = sarif::to_sarif(&[], PG_VERSION);
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    for (rule, d) in all_rules().iter().zip(rules) {
        assert_eq!(d["id"], rule.id());
        assert_eq!(d["shortDescription"]["text"], rule.summary());
        assert_eq!(d["fullDescription"]["text"], rule.explanation());
        let level = match rule.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        assert_eq!(d["defaultConfiguration"]["level"], level);
        let text = d["help"]["text"].as_str().expect("help.text");
        let md = d["help"]["markdown"].as_str().expect("help.markdown");
        assert!(text.starts_with(rule.explanation()), "{}", rule.id());
        for example in [rule.bad_example(), rule.good_example()] {
            assert!(text.contains(example), "{}", rule.id());
            assert!(
                md.contains(&format!("```sql\n{}\n```", example.trim_end())),
                "{}",
                rule.id()
            );
        }
    }
}

#[test]
fn sarif_fingerprints_survive_line_moves_and_tell_statements_apart() {
    let text = include_str!("data/formats/0002_alter_users.sql");
    let lint = |text: String| {
        let reports = lint_sources(
            vec![SourceFile::new("db/0002.sql", text)],
            &LintOptions::default(),
        );
        let doc = sarif::to_sarif(&reports, PG_VERSION);
        doc["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["partialFingerprints"][sarif::FINGERPRINT_KEY]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = lint(text.to_string());
    let after = lint(format!("-- a new comment\n\n\n{text}"));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0);
        assert_eq!(b.1, a.1, "the fingerprint of {} does not move", b.0);
        assert_eq!(b.2 + 3, a.2, "the line does");
    }
    let mut prints: Vec<&str> = before.iter().map(|r| r.1.as_str()).collect();
    prints.sort_unstable();
    prints.dedup();
    assert_eq!(prints.len(), before.len(), "fingerprints are distinct");

    // The same statement twice: the same hash, told apart by the occurrence number.
    let twice = lint("CREATE INDEX a ON t (x);\nCREATE INDEX a ON t (x);\n".into());
    let same: Vec<&(String, String, u64)> = twice
        .iter()
        .filter(|r| r.0 == "require-concurrent-index-creation")
        .collect();
    assert_eq!(same.len(), 2);
    let (h0, n0) = same[0].1.split_once(':').unwrap();
    let (h1, n1) = same[1].1.split_once(':').unwrap();
    assert_eq!((h0, n0, n1), (h1, "1", "2"));
}

#[test]
fn sarif_columns_count_characters() {
    let doc = sarif::to_sarif(&fixture(), PG_VERSION);
    let run = &doc["runs"][0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    // `CREATE INDEX "café_idx" ON orders (customer_id)` is 47 characters (48 bytes) on line 2
    // of the second file: its region ends before the 48th (endColumn is exclusive).
    let region = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "db/migrations/0002_alter_users.sql"
                && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
        })
        .map(|r| r["locations"][0]["physicalLocation"]["region"].clone())
        .expect("a finding on line 2");
    assert_eq!(region["startColumn"], 1);
    assert_eq!(region["endLine"], 2);
    assert_eq!(region["endColumn"], 48);
}

#[test]
fn github_escapes_messages_and_properties() {
    let out = render(|buf| github::write(buf, &synthetic()));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "::error file=db/we%2Cird%3Adir/0001.sql,line=1,col=1,endLine=1,endColumn=10,\
title=whole-table-update::50%25 of rows: locked, then%0Ablocked%0D%0Afor | long%0Ahelp: 100%25 sure: a, b",
            "::warning file=db/we%2Cird%3Adir/0001.sql,line=2,col=1,endLine=2,endColumn=10,\
title=whole-table-update::plain warning%0Ahelp: 100%25 sure: a, b",
            "::notice file=db/we%2Cird%3Adir/0001.sql,line=3,col=1,endLine=3,endColumn=10,\
title=whole-table-update::plain note%0Ahelp: 100%25 sure: a, b",
        ]
    );
    assert_eq!(github::escape_data("a%b\r\nc:d,e"), "a%25b%0D%0Ac:d,e");
    assert_eq!(
        github::escape_property("a%b\r\nc:d,e"),
        "a%25b%0D%0Ac%3Ad%2Ce"
    );
}

#[test]
fn compact_is_one_line_per_finding() {
    let out = render(|buf| compact::write(buf, &synthetic()));
    assert_eq!(
        out,
        "db\\we,ird:dir\\0001.sql:1:1: error: whole-table-update: 50% of rows: locked, then blocked for | long\n\
db\\we,ird:dir\\0001.sql:2:1: warning: whole-table-update: plain warning\n\
db\\we,ird:dir\\0001.sql:3:1: note: whole-table-update: plain note\n"
    );
}

#[test]
fn markdown_escapes_table_cells() {
    let out = render(|buf| markdown::write(buf, &synthetic(), PG_VERSION));
    assert!(
        out.contains(
            "| `db\\we,ird:dir\\0001.sql:1` | **error** | `whole-table-update` | \
50% of rows: locked, then<br>blocked<br>for \\| long |"
        ),
        "{out}"
    );
    assert!(
        out.contains("| `db\\we,ird:dir\\0001.sql:3` | note |"),
        "{out}"
    );
    // Every table row has exactly its columns' separators.
    for line in out.lines().filter(|l| l.starts_with('|')) {
        let unescaped = line.replace("\\|", "");
        let cols = unescaped.matches('|').count();
        assert!(cols == 5 || cols == 7, "{line}");
    }
}
