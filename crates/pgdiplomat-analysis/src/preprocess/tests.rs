use super::*;
use crate::parse::parse_sql;

fn psql(text: &str) -> Preprocessed {
    preprocess(text, &Settings::default())
}

fn flyway(defines: &[(&str, &str)]) -> Settings {
    let mut d = Defines::default();
    for (k, v) in defines {
        d.insert(k, Some(v.to_string()), "--define");
    }
    Settings {
        psql: false,
        tool: "flyway".into(),
        flyway: Some(FlywaySyntax::default()),
        defines: d,
    }
}

/// The text has the file's length and newlines, and PostgreSQL parses it.
#[track_caller]
fn parses(original: &str, p: &Preprocessed) -> usize {
    assert_eq!(p.text.len(), original.len());
    assert_eq!(
        p.text
            .match_indices('\n')
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
        original
            .match_indices('\n')
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    );
    match parse_sql(&p.text) {
        Ok(f) => f.statements.len(),
        Err(e) => panic!("{e:?} in {:?}", p.text),
    }
}

fn messages(p: &Preprocessed) -> Vec<String> {
    p.notes
        .iter()
        .map(|f| format!("{}@{}: {}", f.rule, f.span.start, f.message))
        .collect()
}

#[test]
fn psql_script_meta_commands_are_blanked_and_variables_stand_in() {
    let text = "\\set ON_ERROR_STOP 1\n\\set schema app\nBEGIN;\n\
                ALTER TABLE :schema.users ADD CONSTRAINT u UNIQUE (email);\n\
                UPDATE t SET a = :'value' WHERE b = :\"col\";\n\
                \\echo done \\\\ COMMIT;\n";
    let p = psql(text);
    assert_eq!(parses(text, &p), 4);
    // `\set schema app` gives `:schema` its value, padded before the dot.
    assert!(p.text.contains("ALTER TABLE app    .users"), "{}", p.text);
    // Unset variables become a literal and a quoted identifier of the same length.
    assert!(
        p.text.contains("a = '_value' WHERE b = \"_col\""),
        "{}",
        p.text
    );
    assert!(p.text.starts_with("                    \n"));
    // The separator `\\` hands the rest of the line back to SQL.
    assert!(p.text.ends_with("              COMMIT;\n"), "{:?}", p.text);
    let m = messages(&p);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].contains("psql variable `:'value'` has no value here"),
        "{m:?}"
    );
    assert!(m[1].contains("`:\"col\"`"), "{m:?}");
    assert!(p.notes.iter().all(|f| f.severity == Severity::Info));
}

#[test]
fn includes_reconnects_gexec_and_quit_are_said() {
    let text = "\\i common.sql\n\\ir ./more.sql\nCREATE TABLE a (x int);\n\\c other\n\
                SELECT format('DROP TABLE %I', t) FROM x \\gexec\n\\q\nDROP TABLE a;\n";
    let p = psql(text);
    assert_eq!(parses(text, &p), 2);
    assert!(!p.text.contains("DROP TABLE a"));
    // `\gexec` ends the query like a `;`.
    assert!(p.text.contains("FROM x ;     \n"), "{:?}", p.text);
    let m = messages(&p);
    assert_eq!(m.len(), 5, "{m:?}");
    assert!(m[0].starts_with("psql-meta-command@0: `\\i common.sql`: psql runs that file here, but pgdiplomat does not follow includes"));
    assert!(m[1].contains("`\\ir ./more.sql`"));
    assert!(m[2].contains("`\\c other`: psql opens a new session"));
    assert!(m[3].contains("`\\gexec` runs every value"));
    assert!(m[4].contains("psql stops here"));
    // Spans point at the commands in the file.
    let at = |s: &str| text.find(s).expect("in text");
    assert_eq!(p.notes[2].span, at("\\c other")..at("\\c other") + 8);
}

#[test]
fn conditionals_are_noted_once_and_every_branch_is_linted() {
    let text = "\\if :is_new\nCREATE TABLE a (x int);\n\\elif :{?old}\nCREATE TABLE b (x int);\n\
                \\else\n\\q\n\\endif\n\\if true\n\\endif\nCREATE TABLE c (x int);\n";
    let p = psql(text);
    assert_eq!(parses(text, &p), 3);
    let m = messages(&p);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("(`\\if` and 1 more conditional) are not evaluated"));
}

#[test]
fn backslashes_in_strings_comments_and_bodies_are_sql() {
    let text = "SELECT '\\set x', E'\\'\\\\', $$ \\set y $$, $f$ :v $f$; -- \\i x\n/* \\c y */ SELECT 1::int, a[1:2], a[lo:hi], \"x:y\";\n\
                CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN x := 1; END $body$;\n";
    let p = psql(text);
    assert_eq!(p.text, text);
    assert!(!p.changed());
    assert!(p.notes.is_empty());
}

#[test]
fn semicolon_and_colon_escapes_and_copy_data() {
    let text = "SELECT 1\\; SELECT 2;\nCOPY t (a, b) FROM stdin;\n1\t\\N\n2\tx;y\n\\.\n\
                \\copy t from stdin with csv\n3,4\n\\.\nCREATE INDEX i ON t (a);\n";
    let p = psql(text);
    // `\\copy` is psql's: blanked with its data.
    assert_eq!(parses(text, &p), 4, "{:?}", p.text);
    assert!(p.text.contains("SELECT 1 ; SELECT 2;"), "{:?}", p.text);
    // `\:` is a colon that is no variable.
    let p = psql("SELECT '{}' \\:x;");
    assert_eq!(p.text, "SELECT '{}'  :x;");
    assert!(p.notes.is_empty());
    assert!(!p.text.contains("x;y") && !p.text.contains("3,4"));
}

#[test]
fn meta_commands_in_a_tool_that_is_not_psql_are_an_error_once() {
    let text = "\\set ON_ERROR_STOP 1\n\\echo x\nCREATE INDEX i ON t (a);\n";
    let s = Settings {
        psql: false,
        tool: "golang-migrate".into(),
        ..Settings::default()
    };
    let p = preprocess(text, &s);
    assert_eq!(parses(text, &p), 1);
    assert_eq!(p.notes.len(), 1);
    assert_eq!(p.notes[0].severity, Severity::Error);
    assert_eq!(p.notes[0].span, 0..20);
    assert!(p.notes[0].message.contains(
        "`\\set ON_ERROR_STOP 1` (and 1 more meta-command line) is a psql meta-command, but golang-migrate sends the file to PostgreSQL"
    ));
    // Variables are psql's: without psql `:x` is left for PostgreSQL to reject.
    assert_eq!(preprocess("SELECT :x;", &s).text, "SELECT :x;");
}

#[test]
fn flyway_placeholders_take_values_that_fit_or_a_neutral_name() {
    let text = "CREATE INDEX ${prefix}_idx ON ${schema}.users (email);\n\
                SET search_path = '${schema}'; -- ${schema}\n\
                GRANT SELECT ON ${schema}.users TO ${very_long};\n\
                COMMENT ON TABLE t IS '${flyway:user}';\n\
                SET lock_timeout = '${lt}';\n";
    let p = preprocess(
        text,
        &flyway(&[
            ("schema", "app"),
            ("very_long", "role_name_that_is_long"),
            ("lt", "2000ms"),
        ]),
    );
    assert_eq!(parses(text, &p), 5);
    assert!(
        p.text
            .contains("CREATE INDEX __prefix__idx ON app      .users"),
        "{}",
        p.text
    );
    // Flyway replaces inside strings and comments too.
    assert!(
        p.text
            .contains("SET search_path = 'app      '; -- app      "),
        "{}",
        p.text
    );
    assert!(p.text.contains("TO __very_long_;"), "{}", p.text);
    // A value too long for its place: a name stands in silently (findings name the
    // placeholder itself, see `restore`), a literal is said, since its value may matter.
    let m = messages(&p);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].contains("Flyway placeholder `${prefix}` has no value here: linted as `__prefix_`"),
        "{m:?}"
    );
    assert!(
        m[1].contains("`${lt}` is `2000ms` (--define), which cannot stand in its place"),
        "{m:?}"
    );
    assert_eq!(
        p.restore("SHARE on __very_long_ and __prefix__idx"),
        "SHARE on ${very_long} and ${prefix}_idx"
    );
    let line = |n: usize| {
        let start: usize = text.split_inclusive('\n').take(n - 1).map(str::len).sum();
        start..start + text.split_inclusive('\n').nth(n - 1).map_or(0, str::len)
    };
    // Line 1 holds a value (`app`); `TO ${very_long}` only a stand-in.
    assert!(!p.restorable(&line(1)));
    let to = text.find("TO ${very_long}").expect("in text");
    assert!(p.restorable(&(to..to + 15)));
}

#[test]
fn placeholders_outside_flyway_only_in_code_and_custom_syntax() {
    let text = "GRANT CONNECT ON DATABASE ${POSTGRES_DB} TO app; SELECT '${kept}';\n";
    let p = psql(text);
    assert_eq!(parses(text, &p), 2);
    assert!(p.text.contains("'${kept}'"));
    assert_eq!(p.notes.len(), 1);
    assert!(p.notes[0]
        .message
        .starts_with("placeholder `${POSTGRES_DB}`"));

    let mut s = flyway(&[("username", "bob")]);
    s.flyway = Some(FlywaySyntax {
        prefix: "#[".into(),
        suffix: "]".into(),
        replace: true,
    });
    let text = "CREATE ROLE #[username] LOGIN PASSWORD '#[userpassword]';\n";
    let p = preprocess(text, &s);
    assert_eq!(parses(text, &p), 1);
    assert!(
        p.text
            .starts_with("CREATE ROLE bob         LOGIN PASSWORD '__userpassword_'"),
        "{}",
        p.text
    );

    s.flyway = Some(FlywaySyntax {
        replace: false,
        ..FlywaySyntax::default()
    });
    let p = preprocess("SELECT ${x};", &s);
    assert_eq!(p.text, "SELECT ${x};");
    assert!(p.notes.is_empty());
}

#[test]
fn go_template_actions_print_names_or_nothing() {
    let text = "{{/* pop */}}CREATE TABLE {{ identifier .Parameters.tableName }} (id uuid);\n\
                {{ if eq .Dialect \"postgres\" }}\n\
                CREATE INDEX {{ identifier .Parameters.tableName }}_object_idx ON {{ identifier .Parameters.tableName }} (id);\n\
                {{- end }}\nSELECT '{{ kept }}';\n";
    let p = psql(text);
    assert_eq!(parses(text, &p), 3);
    assert!(p
        .text
        .contains("CREATE TABLE ___identifier__parameters_tablename___ (id uuid)"));
    assert!(p
        .text
        .contains("CREATE INDEX ___identifier__parameters_tablename____object_idx"));
    assert!(p.text.contains("'{{ kept }}'"));
    let m = messages(&p);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("unknown-placeholder@0: Go template actions (`{{/* pop */}}` and 5 more actions) are not evaluated"), "{m:?}");
}

#[test]
fn neutral_names_keep_length_and_characters() {
    assert_eq!(neutral_name("${schema}"), "__schema_");
    assert_eq!(neutral_name(":'Ü1'"), "__Ü1_");
    assert_eq!(neutral_name("9a"), "_a");
    assert_eq!(neutral_name("{{ a\nb }}"), "___a\nb___");
}

#[test]
fn restrict_keeps_what_runs() {
    let text = "-- migrate:up\n\\set x 1\nSELECT 1;\n-- migrate:down\n\\i y.sql\n";
    let p = psql(text);
    assert_eq!(p.notes.len(), 1);
    let up = p.restrict(0..text.find("-- migrate:down").expect("marker"));
    assert!(up.notes.is_empty());
    assert_eq!(up.meta_commands.len(), 1);
    assert_eq!(up.text.len(), text.len());
}

#[test]
fn defines_parse_and_look_up_ignoring_case() {
    assert_eq!(parse_define("a=b=c"), Ok(("a".into(), "b=c".into())));
    assert_eq!(parse_define("a="), Ok(("a".into(), String::new())));
    assert!(parse_define("=x").is_err());
    assert!(parse_define("novalue").is_err());
    let mut d = Defines::default();
    d.insert("Schema", Some("one".into()), "--define");
    d.insert("Schema", Some("two".into()), "flyway.conf:1");
    assert_eq!(
        d.get("schema").and_then(|v| v.value.as_deref()),
        Some("one")
    );
}

#[test]
fn settings_follow_the_layout_and_read_flyway_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("flyway.conf"),
        "flyway.placeholders.schema=app\nflyway.placeholders.owner=conf_owner\n",
    )
    .expect("write");
    let mut cli = Defines::default();
    cli.insert("owner", Some("cli".into()), "--define");
    let env = vec![(
        "FLYWAY_PLACEHOLDERS_TABLESPACE".to_string(),
        "fast".to_string(),
    )];
    let (s, problem) = Settings::for_layout(Layout::Flyway, dir.path(), &cli, &env);
    assert_eq!(problem, None);
    assert!(!s.psql);
    assert_eq!(s.tool, "flyway");
    let value = |n: &str| s.defines.get(n).and_then(|v| v.value.clone());
    assert_eq!(value("schema").as_deref(), Some("app"));
    assert_eq!(value("owner").as_deref(), Some("cli"));
    assert_eq!(value("tablespace").as_deref(), Some("fast"));
    let (plain, _) = Settings::for_layout(Layout::Plain, dir.path(), &cli, &env);
    assert!(plain.psql && plain.flyway.is_none());
    assert_eq!(plain.defines, cli);
}
