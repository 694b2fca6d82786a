//! Properties of the preprocessor on arbitrary input: it never panics, the text it returns has
//! the file's length and its newlines at the same offsets, every byte it changed lies in a
//! range it reports (a blanked meta-command or a substitution), notes point into the text on
//! character boundaries, and a file with none of the characters that start psql, placeholder or
//! template syntax comes back unchanged.

use pgdiplomat_analysis::preprocess::{preprocess, Defines, FlywaySyntax, Preprocessed, Settings};
use std::ops::Range;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Pieces that start, end or confuse the constructs the preprocessor reads.
const PIECES: &[&str] = &[
    "\\",
    "\\\\",
    "\\;",
    "\\:",
    "\\set x 1",
    "\\set v 'a''b'",
    "\\unset v",
    "\\i f.sql",
    "\\c db",
    "\\gexec",
    "\\g",
    "\\q",
    "\\if :x",
    "\\else",
    "\\endif",
    "\\copy t from stdin",
    "\\.",
    ":",
    "::",
    ":x",
    ":'x'",
    ":\"x\"",
    ":{?x}",
    ":v",
    "'",
    "''",
    "E'",
    "\"",
    "$",
    "$$",
    "$a$",
    "${",
    "}",
    "${x}",
    "${flyway:user}",
    "#[",
    "]",
    "#[y]",
    "{{",
    "}}",
    "{{ .X }}",
    "{{ if .Y }}",
    "{{/* c */}}",
    "--",
    "/*",
    "*/",
    ";",
    "\n",
    "\r\n",
    " ",
    "COPY t FROM stdin;",
    "SELECT 1",
    "é",
    "€",
    "𝄞",
    "a[1:2]",
    "x",
    "1",
    "(",
    ")",
    "\t",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

fn settings() -> Vec<Settings> {
    let mut defines = Defines::default();
    for (k, v) in [
        ("x", "1"),
        ("v", "a_much_longer_value"),
        ("y", ""),
        ("X", "ab\ncd"),
    ] {
        defines.insert(k, Some(v.into()), "--define");
    }
    defines.insert("unknowable", None, "flyway.conf:1");
    vec![
        Settings::default(),
        Settings {
            psql: false,
            tool: "golang-migrate".into(),
            ..Settings::default()
        },
        Settings {
            psql: false,
            tool: "flyway".into(),
            flyway: Some(FlywaySyntax::default()),
            defines: defines.clone(),
        },
        Settings {
            psql: true,
            tool: "flyway".into(),
            flyway: Some(FlywaySyntax {
                prefix: "#[".into(),
                suffix: "]".into(),
                replace: true,
            }),
            defines,
        },
    ]
}

/// The invariants, for a result restricted to `runs` (outside it the text is blanked).
fn check(input: &str, p: &Preprocessed, runs: Range<usize>) -> Result<(), TestCaseError> {
    prop_assert_eq!(p.text.len(), input.len());
    let newlines = |s: &str| s.match_indices('\n').map(|(i, _)| i).collect::<Vec<_>>();
    prop_assert_eq!(newlines(&p.text), newlines(input));
    let reported = |k: usize| {
        p.meta_commands
            .iter()
            .chain(&p.substitutions)
            .any(|r| r.contains(&k))
    };
    for (k, (a, b)) in input.bytes().zip(p.text.bytes()).enumerate() {
        let blanked = !runs.contains(&k) && b == b' ';
        prop_assert!(
            a == b || reported(k) || blanked,
            "byte {} changed outside a reported range",
            k
        );
    }
    for f in &p.notes {
        prop_assert!(f.span.start <= f.span.end && f.span.end <= input.len());
        prop_assert!(input.is_char_boundary(f.span.start) && input.is_char_boundary(f.span.end));
        prop_assert!(!f.message.is_empty());
        prop_assert!(runs.contains(&f.span.start));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_and_keeps_length_lines_and_untouched_text(input in text()) {
        for s in settings() {
            let p = preprocess(&input, &s);
            check(&input, &p, 0..usize::MAX)?;
            // Restricting to a part keeps the same shape.
            let half = input.char_indices().nth(input.chars().count() / 2).map_or(0, |(i, _)| i);
            check(&input, &p.clone().restrict(0..half), 0..half)?;
        }
    }

    #[test]
    fn text_without_trigger_characters_is_unchanged(input in "[^\\\\:${#]{0,200}") {
        for s in settings() {
            let p = preprocess(&input, &s);
            prop_assert_eq!(&p.text, &input);
            prop_assert!(p.notes.is_empty() && !p.changed());
        }
    }
}

#[test]
fn a_large_file_is_linear() {
    // 20,000 psql-style statements: a few milliseconds per megabyte, not quadratic.
    let unit = "\\set ON_ERROR_STOP 1\nALTER TABLE :\"schema\".t ADD c int; -- ${x}\nCOPY t FROM stdin;\n1\n\\.\n";
    let text = unit.repeat(20_000);
    let started = std::time::Instant::now();
    let p = preprocess(&text, &Settings::default());
    assert_eq!(p.text.len(), text.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        p.notes.len(),
        1,
        "one note per unknown variable, however often it is used"
    );
    assert!(
        p.notes[0].message.contains("(20000 uses)"),
        "{}",
        p.notes[0].message
    );
}

mod lint_preprocessed {
    use pgdiplomat_analysis::analyze::Analyzer;
    use pgdiplomat_analysis::lint::{lint_preprocessed, LintOptions};
    use pgdiplomat_analysis::preprocess::{preprocess, FlywaySyntax, Settings};
    use pgdiplomat_analysis::source::SourceFile;

    fn lint(text: &str, settings: &Settings, opts: &LintOptions) -> Vec<String> {
        let source = SourceFile::new("m.sql", text);
        let pre = preprocess(text, settings);
        let report = lint_preprocessed(&mut Analyzer::new(opts.analysis), &source, &pre, opts);
        // The report shows the file, not the preprocessed text.
        assert_eq!(report.source.text, text);
        report
            .findings
            .iter()
            .map(|f| {
                let at = report.source.line_col(f.span.start);
                format!("{}:{} {}: {}", at.line, at.column, f.rule, f.message)
            })
            .collect()
    }

    fn flyway() -> Settings {
        Settings {
            psql: false,
            tool: "flyway".into(),
            flyway: Some(FlywaySyntax::default()),
            ..Settings::default()
        }
    }

    #[test]
    fn findings_name_placeholders_and_notes_follow_exclude_and_ignore_file() {
        let text = "CREATE INDEX i ON ${schema}.t (a);\n";
        let got = lint(text, &flyway(), &LintOptions::default());
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with(
                "1:1 require-concurrent-index-creation: CREATE INDEX takes SHARE on ${schema}.t"
            ),
            "{got:?}"
        );
        assert!(got[2].starts_with("1:19 unknown-placeholder"), "{got:?}");

        let excluded = LintOptions {
            exclude: vec!["unknown-placeholder".into()],
            ..LintOptions::default()
        };
        assert_eq!(lint(text, &flyway(), &excluded).len(), 2);
        let ignored = format!("-- pgdiplomat:ignore-file unknown-placeholder\n{text}");
        assert_eq!(lint(&ignored, &flyway(), &LintOptions::default()).len(), 2);
        // `include` selects rules; what was not linted as written is still said.
        let included = LintOptions {
            include: vec!["require-concurrent-index-creation".into()],
            ..LintOptions::default()
        };
        assert_eq!(lint(text, &flyway(), &included).len(), 2);
    }

    #[test]
    fn a_syntax_error_keeps_the_notes_that_may_explain_it() {
        let text = "\\i setup.sql\nCREATE TABEL t (a int);\n";
        let got = lint(text, &Settings::default(), &LintOptions::default());
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].starts_with("1:1 psql-meta-command"), "{got:?}");
        assert!(got[1].starts_with("2:8 syntax-error"), "{got:?}");
    }
}
