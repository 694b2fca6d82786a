//! Files that are not plain SQL, linted the way their tool runs them
//! (`tests/fixtures/preprocess/`):
//!
//! * `psql/`: a psql script (`\set ON_ERROR_STOP 1`, `\echo`, `\i`, `:"schema"`, `:'comment'`);
//! * `flyway/`: Flyway migrations with `${schema}` placeholders, whose value comes from
//!   `flyway.conf` two directories up, and one (`${owner}`) that has none;
//! * `pop/`: pop/popx migrations with Go template actions (`{{ identifier ... }}`, `{{ if }}`).
//!
//! Each is linted to the findings that are really in it, at the lines and columns of the file;
//! what is not linted as written is reported; `explain` and `fix` read the files the same way,
//! and `fix --write` refuses what it would lose.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess")
}

fn pgdiplomat(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("pgdiplomat")
        .expect("the pgdiplomat binary is built")
        .env_remove("NO_COLOR")
        .env_remove("FLYWAY_PLACEHOLDERS_OWNER")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pgdiplomat");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

/// `lint --format json`: every finding as `path:line:col rule`.
fn findings(dir: &Path, args: &[&str]) -> (i32, Vec<String>) {
    let mut all = vec!["lint", "--no-config", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = pgdiplomat(dir, &all);
    let doc: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    let mut out = Vec::new();
    for f in doc["files"].as_array().expect("files") {
        for x in f["findings"].as_array().expect("findings") {
            out.push(format!(
                "{}:{}:{} {}",
                f["path"].as_str().unwrap_or(""),
                x["line"],
                x["column"],
                x["rule"].as_str().unwrap_or("")
            ));
        }
    }
    (code, out)
}

fn human(dir: &Path, path: &str) -> String {
    let (code, stdout, stderr) =
        pgdiplomat(dir, &["lint", "--no-config", "--color", "never", path]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    stdout
}

#[test]
fn psql_script_is_linted_past_its_meta_commands() {
    let (code, got) = findings(&fixtures(), &["psql"]);
    assert_eq!(code, 1);
    assert_eq!(
        got,
        [
            "psql/001_artist_index.sql:6:1 require-concurrent-index-creation",
            "psql/001_artist_index.sql:6:1 missing-lock-timeout",
            "psql/001_artist_index.sql:7:1 unique-constraint-builds-index",
            "psql/001_artist_index.sql:7:1 missing-lock-timeout",
            "psql/001_artist_index.sql:8:37 unknown-placeholder",
            "psql/001_artist_index.sql:10:1 psql-meta-command",
        ]
    );
    insta::assert_snapshot!("lint_psql_script", human(&fixtures(), "psql"));
}

#[test]
fn flyway_placeholders_take_flyway_conf_values_and_unknown_ones_are_said() {
    let dir = fixtures().join("flyway");
    let (code, got) = findings(&dir, &["db/migration"]);
    assert_eq!(code, 1);
    assert_eq!(
        got,
        [
            "db/migration/V1__audit_table.sql:2:38 unknown-placeholder",
            "db/migration/V2__accounts_email.sql:2:1 require-concurrent-index-creation",
            "db/migration/V2__accounts_email.sql:2:1 missing-lock-timeout",
            "db/migration/V2__accounts_email.sql:3:1 foreign-key-without-not-valid",
            "db/migration/V2__accounts_email.sql:3:1 missing-lock-timeout",
        ]
    );
    let out = human(&dir, "db/migration");
    // The value from flyway.conf names the table.
    assert!(out.contains("SHARE on app.accounts"), "{out}");
    insta::assert_snapshot!("lint_flyway_placeholders", out);

    // --define gives `${owner}` a value (it fits before the `;`) and wins over flyway.conf.
    let (_, got) = findings(
        &dir,
        &[
            "--define",
            "owner=ops",
            "--define",
            "schema=crm",
            "db/migration",
        ],
    );
    assert!(
        !got.iter().any(|f| f.contains("unknown-placeholder")),
        "{got:?}"
    );
    let (_, stdout, _) = pgdiplomat(
        &dir,
        &[
            "lint",
            "--no-config",
            "--define",
            "schema=crm",
            "db/migration",
        ],
    );
    assert!(stdout.contains("SHARE on crm.accounts"), "{stdout}");
    // The notes can be excluded like a rule.
    let (_, got) = findings(&dir, &["--exclude", "unknown-placeholder", "db/migration"]);
    assert_eq!(got.len(), 4, "{got:?}");
}

#[test]
fn pop_templates_are_linted_with_stand_in_names() {
    let (code, got) = findings(&fixtures(), &["pop"]);
    assert_eq!(code, 1);
    assert_eq!(
        got,
        [
            "pop/20210128140414_namespace.up.sql:1:14 unknown-placeholder",
            "pop/20230101000000_networks.up.sql:1:1 unknown-placeholder",
            "pop/20230101000000_networks.up.sql:2:1 missing-lock-timeout",
            // (No missing-lock-timeout at 3:1: pop runs the file in one transaction, which
            // already holds ACCESS EXCLUSIVE on networks from line 2.)
            "pop/20230101000000_networks.up.sql:3:1 require-concurrent-index-creation",
            "pop/20230101000000_networks.up.sql:3:1 slow-work-while-holding-lock",
        ]
    );
    insta::assert_snapshot!("lint_pop_templates", human(&fixtures(), "pop"));
}

#[test]
fn explain_reads_the_script_like_lint_and_says_the_notes_on_stderr() {
    let (code, stdout, stderr) = pgdiplomat(
        &fixtures(),
        &["explain", "--no-config", "psql/001_artist_index.sql"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("psql/001_artist_index.sql:3:1: BEGIN\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("psql/001_artist_index.sql:6:1: CREATE INDEX artist_name_idx ON :\"schema\".artist (name)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("SHARE on mb.artist (table)"), "{stdout}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "psql/001_artist_index.sql:8:37: note: unknown-placeholder: psql variable `:'comment'` has no value here: linted as `'_comment'`",
            "psql/001_artist_index.sql:10:1: note: psql-meta-command: `\\i admin/sql/CreateTriggers.sql`: psql runs that file here, but pgdiplomat does not follow includes, so its statements are not linted as part of this migration",
        ]
    );
}

/// A copy of a fixture directory in a temporary directory.
fn copy_of(fixture: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join(fixture), tmp.path());
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(&p).display().to_string())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn fix_write_refuses_what_it_would_lose_and_keeps_placeholders_it_does_not_touch() {
    // psql meta-commands: the fixed migration would not have `\set ON_ERROR_STOP 1`.
    let tmp = copy_of("psql");
    let before = listing(tmp.path());
    let (code, stdout, stderr) =
        pgdiplomat(tmp.path(), &["fix", "--write", "001_artist_index.sql"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("001_artist_index.sql:1:1: the file has psql meta-commands (`\\set ON_ERROR_STOP 1` and 3 more), which the fixed migration would not have; fix --write does not write this migration"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(listing(tmp.path()), before);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("001_artist_index.sql")).expect("read"),
        std::fs::read_to_string(fixtures().join("psql/001_artist_index.sql")).expect("read")
    );

    // A rewritten statement with a placeholder: its new SQL would hold flyway.conf's value.
    let tmp = copy_of("flyway");
    let (code, _, stderr) = pgdiplomat(
        tmp.path(),
        &["fix", "--write", "db/migration/V2__accounts_email.sql"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("V2__accounts_email.sql:2:1: this statement is rewritten, and its new SQL holds `app` where the file has `${schema}`"),
        "{stderr}"
    );
    // The printed fix says the same, as comments.
    let (code, stdout, _) = pgdiplomat(tmp.path(), &["fix", "db/migration/V2__accounts_email.sql"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("-- pgdiplomat fix: db/migration/V2__accounts_email.sql:3:1: this statement is rewritten"), "{stdout}");

    // Placeholders only in statements kept as they are: written, placeholders intact.
    std::fs::write(
        tmp.path().join("db/migration/V3__note.sql"),
        "ALTER TABLE ${schema}.audit ADD COLUMN note text;\nCREATE INDEX audit_note_idx ON audit (note);\n",
    )
    .expect("write");
    let (code, stdout, stderr) =
        pgdiplomat(tmp.path(), &["fix", "--write", "db/migration/V3__note.sql"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let written =
        std::fs::read_to_string(tmp.path().join("db/migration/V3__note.sql")).expect("read");
    assert!(
        written.contains("ALTER TABLE ${schema}.audit ADD COLUMN note text;"),
        "{written}"
    );
    assert!(!written.contains("app."), "{written}");

    // Without flyway.conf `${schema}` is linted as a stand-in name, which the findings and the
    // rewritten SQL give back as `${schema}`: then the fix is written, placeholders and all.
    std::fs::remove_file(tmp.path().join("flyway.conf")).expect("rm");
    let (_, stdout, _) = pgdiplomat(
        tmp.path(),
        &["lint", "--no-config", "db/migration/V2__accounts_email.sql"],
    );
    assert!(
        stdout.contains("CREATE INDEX takes SHARE on ${schema}.accounts"),
        "{stdout}"
    );
    assert!(!stdout.contains("on __schema_"), "{stdout}");
    let (code, stdout, stderr) = pgdiplomat(
        tmp.path(),
        &["fix", "--write", "db/migration/V2__accounts_email.sql"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let written = std::fs::read_to_string(tmp.path().join("db/migration/V2__accounts_email.sql"))
        .expect("read");
    assert!(
        written.contains("CREATE INDEX CONCURRENTLY accounts_email_idx ON ${schema}.accounts USING btree (email);"),
        "{written}"
    );
    let all: String = walk(&tmp.path().join("db/migration"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(!all.contains("__schema_"), "{all}");
    assert!(
        all.contains("REFERENCES ${schema}.owners (id) NOT VALID"),
        "{all}"
    );
}

#[test]
fn printed_fix_of_a_psql_script_says_what_it_does_not_carry_over() {
    let (code, stdout, stderr) = pgdiplomat(&fixtures(), &["fix", "psql/001_artist_index.sql"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The notes of the preprocessor, as for explain.
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    insta::assert_snapshot!("fix_psql_script", stdout);
}

#[test]
fn meta_commands_in_a_migration_tool_that_is_not_psql_are_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("migrations");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("1_index.up.sql"),
        "\\set ON_ERROR_STOP 1\nCREATE INDEX i ON t (a);\n",
    )
    .expect("write");
    let (code, got) = findings(tmp.path(), &["migrations"]);
    assert_eq!(code, 1);
    assert_eq!(
        got,
        [
            "migrations/1_index.up.sql:1:1 psql-meta-command",
            "migrations/1_index.up.sql:2:1 require-concurrent-index-creation",
            "migrations/1_index.up.sql:2:1 missing-lock-timeout",
        ]
    );
    let (_, stdout, _) = pgdiplomat(
        tmp.path(),
        &["lint", "--no-config", "--format", "compact", "migrations"],
    );
    assert!(stdout.starts_with("migrations/1_index.up.sql:1:1: error: psql-meta-command: `\\set ON_ERROR_STOP 1` is a psql meta-command, but golang-migrate sends the file to PostgreSQL, which cannot run it"), "{stdout}");
    // As plain SQL (psql) the same file has no such error.
    let (_, got) = findings(tmp.path(), &["--layout", "plain", "migrations"]);
    assert!(
        !got.iter().any(|f| f.contains("psql-meta-command")),
        "{got:?}"
    );
}

#[test]
fn placeholders_from_pgdiplomat_toml_and_ignore_directives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("pgdiplomat.toml"),
        "[placeholders]\nschema = \"sales\"\n",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("001.sql"),
        "-- pgdiplomat:ignore-file psql-meta-command\n\\i other.sql\nCREATE INDEX i ON ${schema}.t (a);\nSELECT :'x';\n",
    )
    .expect("write");
    let (code, stdout, stderr) =
        pgdiplomat(tmp.path(), &["lint", "--format", "compact", "001.sql"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("001.sql:3:1: error: require-concurrent-index-creation: CREATE INDEX takes SHARE on sales.t"), "{stdout}");
    assert!(
        lines[2].starts_with("001.sql:4:8: note: unknown-placeholder"),
        "{stdout}"
    );
    // An unknown id in a directive is still an error; the preprocessor's ids are known.
    assert!(!stdout.contains("invalid-directive"), "{stdout}");
}
