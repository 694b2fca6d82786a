use pgdiplomat_analysis::lint::{lint_source, LintOptions};
use pgdiplomat_analysis::parse::parse_sql;
use pgdiplomat_analysis::source::SourceFile;

#[test]
fn probe() {
    let cases: Vec<(String, String)> = vec![
        (
            "cr".into(),
            "SELECT 1;\n-- hello\rALTER TABLE t ADD COLUMN c int;\n".into(),
        ),
        (
            "cr-ignore".into(),
            "-- pgdiplomat:ignore all\rALTER TABLE t ADD COLUMN c int;\n".into(),
        ),
        (
            "vt".into(),
            "SELECT 1;\x0b-- pgdiplomat:ignore all\nALTER TABLE t ADD COLUMN c int;\n".into(),
        ),
        (
            "ff".into(),
            "SELECT 1;\x0c-- pgdiplomat:ignore all\nALTER TABLE t ADD COLUMN c int;\n".into(),
        ),
    ];
    for (name, sql) in cases {
        let p = parse_sql(&sql).map(|p| {
            p.statements
                .iter()
                .map(|s| {
                    (
                        s.span.clone(),
                        sql[s.span.clone()].to_string(),
                        s.leading_comments
                            .iter()
                            .map(|c| sql[c.span.clone()].to_string())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        });
        let r = lint_source(
            &SourceFile::new("p.sql", sql.clone()),
            &LintOptions::default(),
        );
        let f: Vec<_> = r
            .findings
            .iter()
            .map(|f| (f.rule, f.span.clone()))
            .collect();
        eprintln!(
            "{name}: parse={p:?}\n   findings={f:?} suppressed={}",
            r.suppressed
        );
    }
}
