//! Helpers for rule tests: lint SQL text the way the CLI does, and keep one rule's findings.

use crate::analyze::AnalysisOptions;
use crate::lint::{lint_source, LintOptions};
use crate::rules::Finding;
use crate::source::SourceFile;

/// Lints `sql` on the default PostgreSQL version and returns the findings of rule `id`.
pub fn findings(id: &str, sql: &str) -> Vec<Finding> {
    findings_with(id, sql, AnalysisOptions::default())
}

pub fn findings_with(id: &str, sql: &str, analysis: AnalysisOptions) -> Vec<Finding> {
    let opts = LintOptions {
        analysis,
        ..LintOptions::default()
    };
    let report = lint_source(&SourceFile::new("test.sql", sql), &opts);
    report
        .findings
        .into_iter()
        .filter(|f| f.rule == id)
        .collect()
}

/// Lints with the default options on a given version.
pub fn on_version(v: u32) -> AnalysisOptions {
    AnalysisOptions {
        pg_version: v,
        ..AnalysisOptions::default()
    }
}

/// Asserts that rule `id` fires exactly `n` times on `sql`.
#[track_caller]
pub fn assert_fires(id: &str, sql: &str, n: usize) -> Vec<Finding> {
    let f = findings(id, sql);
    assert_eq!(f.len(), n, "rule {id} on:\n{sql}\nfound: {f:#?}");
    f
}

/// Asserts that rule `id` is silent on `sql`.
#[track_caller]
pub fn assert_clean(id: &str, sql: &str) {
    assert_fires(id, sql, 0);
}

/// The bad example fires and the good example is clean — for every rule's docs.
#[track_caller]
pub fn assert_examples(rule: &dyn crate::rules::Rule) {
    let bad = findings(rule.id(), rule.bad_example());
    assert!(
        !bad.is_empty(),
        "bad example of {} does not fire",
        rule.id()
    );
    let opts = LintOptions::default();
    let good = lint_source(&SourceFile::new("good.sql", rule.good_example()), &opts);
    assert!(
        good.findings.is_empty(),
        "good example of {} is not clean: {:#?}",
        rule.id(),
        good.findings
    );
}
