//! End-to-end tests of the `pgdiplomat` binary: exit codes, input handling, migration order,
//! inline ignores, configuration, versions, JSON output and the `rules`/`locks` commands.
//!
//! Every test that does not test configuration passes `--no-config`, so a `pgdiplomat.toml`
//! somewhere above the checkout cannot change the results. Tests that create files run in
//! their own temporary directory (`current_dir`), so paths in the output are short and relative.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgdiplomat_analysis::rules::all_rules;
use serde_json::Value;
use tempfile::TempDir;

const NAIVE_SEED: &str = "examples/seed/naive.sql";
const SAFE_SEED: &str = "examples/seed/safe.sql";

/// The repository root (examples/ lives there).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn pgdiplomat() -> Command {
    let mut cmd = Command::cargo_bin("pgdiplomat").expect("the pgdiplomat binary is built");
    // Output must not depend on the caller's terminal or environment.
    cmd.env_remove("NO_COLOR");
    cmd
}

/// `pgdiplomat lint --no-config --color never ARGS...` in `dir`.
fn lint_in(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = pgdiplomat();
    cmd.current_dir(dir)
        .args(["lint", "--no-config", "--color", "never"])
        .args(args);
    cmd
}

/// `pgdiplomat lint --no-config --format json ARGS...` in `dir`, returning the exit code and
/// the parsed document.
fn lint_json_in(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = pgdiplomat()
        .current_dir(dir)
        .args(["lint", "--no-config", "--format", "json"])
        .args(args)
        .output()
        .expect("run pgdiplomat");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), doc)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run pgdiplomat");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A temporary directory holding `files` (relative path → contents).
fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        write(dir.path(), path, text.as_bytes());
    }
    dir
}

fn write(dir: &Path, path: &str, bytes: &[u8]) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The rule ids of every finding in a JSON document, file by file.
fn rules_by_file(doc: &Value) -> Vec<(String, Vec<String>)> {
    doc["files"]
        .as_array()
        .expect("files[]")
        .iter()
        .map(|f| {
            let rules = f["findings"]
                .as_array()
                .expect("findings[]")
                .iter()
                .map(|x| x["rule"].as_str().unwrap().to_string())
                .collect();
            (f["path"].as_str().unwrap().to_string(), rules)
        })
        .collect()
}

fn all_finding_rules(doc: &Value) -> Vec<String> {
    rules_by_file(doc)
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect()
}

const WARNING_ONLY: &str = "SET lock_timeout='2s'; ALTER TABLE t DROP COLUMN c;\n";

// ---------------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn naive_seed_exits_1() {
    let r = run(&mut lint_in(&repo_root(), &[NAIVE_SEED]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("error[unique-constraint-builds-index]"),
        "{r:?}"
    );
    assert!(r.stderr.is_empty(), "{r:?}");
}

#[test]
fn safe_seed_exits_0_with_no_findings() {
    let r = run(&mut lint_in(&repo_root(), &[SAFE_SEED]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "1 file, 3 statements: no findings\n");
    assert!(r.stderr.is_empty(), "{r:?}");
}

#[test]
fn fail_on_never_exits_0_even_with_errors() {
    let r = run(&mut lint_in(
        &repo_root(),
        &["--fail-on", "never", NAIVE_SEED],
    ));
    assert_eq!(r.code, 0, "{r:?}");
    // The findings are still printed.
    assert!(
        r.stdout.contains("error[unique-constraint-builds-index]"),
        "{r:?}"
    );
}

#[test]
fn warning_only_file_exits_0_by_default_and_1_with_fail_on_warning() {
    let dir = tree(&[("m.sql", WARNING_ONLY)]);
    let default = run(&mut lint_in(dir.path(), &["m.sql"]));
    assert_eq!(default.code, 0, "{default:?}");
    assert!(
        default.stdout.contains("warning[breaking-drop]"),
        "{default:?}"
    );
    assert!(default.stdout.contains("1 warning"), "{default:?}");

    let strict = run(&mut lint_in(dir.path(), &["--fail-on", "warning", "m.sql"]));
    assert_eq!(strict.code, 1, "{strict:?}");

    let info = run(&mut lint_in(dir.path(), &["--fail-on", "info", "m.sql"]));
    assert_eq!(info.code, 1, "{info:?}");

    let error = run(&mut lint_in(dir.path(), &["--fail-on", "error", "m.sql"]));
    assert_eq!(error.code, 0, "{error:?}");
}

#[test]
fn nonexistent_path_exits_2_naming_the_path() {
    let dir = tree(&[]);
    let r = run(&mut lint_in(dir.path(), &["no_such_migration.sql"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("pgdiplomat: error: no_such_migration.sql: no such file or directory"),
        "{r:?}"
    );
}

#[test]
fn nonexistent_path_does_not_stop_other_paths_from_being_linted() {
    let dir = tree(&[("real.sql", "CREATE INDEX i ON accounts (a);\n")]);
    let r = run(&mut lint_in(dir.path(), &["missing.sql", "real.sql"]));
    // Exit 2 wins over findings: the run was incomplete.
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("missing.sql"), "{r:?}");
    assert!(r.stdout.contains("--> real.sql:1:1"), "{r:?}");
    assert!(
        r.stdout.contains("require-concurrent-index-creation"),
        "{r:?}"
    );
}

#[test]
fn unknown_excluded_rule_exits_2_listing_the_rules() {
    let dir = tree(&[("m.sql", WARNING_ONLY)]);
    let r = run(&mut lint_in(
        dir.path(),
        &["--exclude", "nosuchrule", "m.sql"],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown rule `nosuchrule`"), "{r:?}");
    for rule in all_rules() {
        assert!(
            r.stderr.contains(rule.id()),
            "{} not listed: {r:?}",
            rule.id()
        );
    }
    // Nothing was linted.
    assert!(r.stdout.is_empty(), "{r:?}");
}

#[test]
fn unknown_included_rule_exits_2() {
    let dir = tree(&[("m.sql", WARNING_ONLY)]);
    let r = run(&mut lint_in(
        dir.path(),
        &["--include", "breaking-drop,nosuchrule", "m.sql"],
    ));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown rule `nosuchrule`"), "{r:?}");
}

#[test]
fn pg_version_outside_13_to_18_is_a_usage_error() {
    let dir = tree(&[("m.sql", WARNING_ONLY)]);
    for v in ["12", "19", "seventeen"] {
        let r = run(&mut lint_in(dir.path(), &["--pg-version", v, "m.sql"]));
        assert_eq!(r.code, 2, "--pg-version {v}: {r:?}");
        assert!(r.stderr.contains("--pg-version"), "{r:?}");
    }
}

#[test]
fn no_paths_and_no_config_is_a_usage_error() {
    let dir = tree(&[]);
    let r = run(&mut lint_in(dir.path(), &[]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no migrations given"), "{r:?}");
}

#[test]
fn empty_directory_is_a_usage_error() {
    let dir = tree(&[("migrations/README.md", "not SQL")]);
    let r = run(&mut lint_in(dir.path(), &["migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr
            .contains("migrations: directory contains no .sql migration files"),
        "{r:?}"
    );
}

#[test]
fn color_is_off_when_piped_and_on_with_color_always() {
    let mut auto = pgdiplomat();
    auto.current_dir(repo_root())
        .args(["lint", "--no-config", NAIVE_SEED]);
    let auto = run(&mut auto);
    assert!(!auto.stdout.contains('\x1b'), "{auto:?}");

    let mut always = pgdiplomat();
    always
        .current_dir(repo_root())
        .args(["lint", "--no-config", "--color", "always", NAIVE_SEED]);
    let always = run(&mut always);
    assert_eq!(always.code, 1);
    assert!(always.stdout.contains("\x1b["), "{always:?}");
}

// ---------------------------------------------------------------------------------------------
// Syntax errors, stdin, encodings
// ---------------------------------------------------------------------------------------------

#[test]
fn syntax_error_is_located_and_the_other_file_is_still_linted() {
    let dir = tree(&[
        (
            "migrations/1_typo.sql",
            "SET lock_timeout = '2s';\nCREATE TABEL t (id int);\n",
        ),
        (
            "migrations/2_index.sql",
            "SET lock_timeout = '2s';\nCREATE INDEX i ON accounts (a);\n",
        ),
    ]);
    let r = run(&mut lint_in(dir.path(), &["migrations"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("error[syntax-error]: syntax error at or near \"TABEL\""),
        "{r:?}"
    );
    assert!(r.stdout.contains("--> migrations/1_typo.sql:2:8"), "{r:?}");
    // The second file is linted as usual.
    assert!(
        r.stdout
            .contains("error[require-concurrent-index-creation]"),
        "{r:?}"
    );
    assert!(r.stdout.contains("--> migrations/2_index.sql:2:1"), "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");

    let (code, doc) = lint_json_in(dir.path(), &["migrations"]);
    assert_eq!(code, 1);
    let typo = &doc["files"][0];
    assert_eq!(typo["path"], "migrations/1_typo.sql");
    assert_eq!(typo["statements"], 0);
    assert_eq!(typo["findings"][0]["rule"], "syntax-error");
    assert_eq!(typo["findings"][0]["severity"], "error");
    assert_eq!(typo["findings"][0]["line"], 2);
    assert_eq!(typo["findings"][0]["column"], 8);
    assert_eq!(typo["findings"][0]["end_column"], 13);
    assert_eq!(
        typo["findings"][0]["message"],
        "syntax error at or near \"TABEL\""
    );
}

#[test]
fn syntax_error_alone_exits_1_even_with_fail_on_error() {
    let dir = tree(&[("typo.sql", "ALTER TABEL t ADD COLUMN c int;\n")]);
    let r = run(&mut lint_in(
        dir.path(),
        &["--fail-on", "error", "typo.sql"],
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("typo.sql:1:7"), "{r:?}");
}

#[test]
fn stdin_is_read_with_dash_and_named_stdin() {
    let naive = std::fs::read_to_string(repo_root().join(NAIVE_SEED)).unwrap();
    let r = run(lint_in(&repo_root(), &["-"]).write_stdin(naive.clone()));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("--> <stdin>:5:1"), "{r:?}");
    assert!(r.stdout.contains("unique-constraint-builds-index"), "{r:?}");

    let out = pgdiplomat()
        .args(["lint", "--no-config", "--format", "json", "-"])
        .write_stdin(naive)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["files"][0]["path"], "<stdin>");
}

/// Runs `cmd` (already given its stdin/stdout/stderr), killing it when it has not finished in
/// `limit`: a guard so a hang fails the test instead of stalling the suite, not a timing check.
#[cfg(unix)]
fn output_or_kill(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("pgdiplomat did not finish within {limit:?}: it hangs on this input");
        }
    }
}

/// A flagged migration read through a pipe, a named FIFO or standard input is linted as what it
/// holds: each input is read exactly once (reading it twice found it empty, "0 statements", exit
/// 0; on a FIFO the second open hung).
#[cfg(unix)]
#[test]
fn non_seekable_inputs_are_read_once_and_linted() {
    use std::process::{Command as Std, Stdio};
    let naive_path = repo_root().join(NAIVE_SEED);
    let bin = assert_cmd::cargo::cargo_bin("pgdiplomat");
    let limit = std::time::Duration::from_secs(60);
    let check = |how: &str, out: std::process::Output| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{how}: {stdout}{stderr}");
        assert!(
            stdout.contains("unique-constraint-builds-index"),
            "{how}: {stdout}{stderr}"
        );
        assert!(!stdout.contains("0 statements"), "{how}: {stdout}");
    };

    // `cat one.sql | pgdiplomat lint /dev/stdin`
    let mut cmd = Std::new("bash");
    cmd.arg("-c")
        .arg(r#"cat "$1" | "$2" lint --no-config --color never /dev/stdin"#)
        .arg("bash")
        .arg(&naive_path)
        .arg(&bin)
        .stdin(Stdio::null());
    check("/dev/stdin", output_or_kill(cmd, limit));

    // `pgdiplomat lint <(cat one.sql)`
    let mut cmd = Std::new("bash");
    cmd.arg("-c")
        .arg(r#""$2" lint --no-config --color never <(cat "$1")"#)
        .arg("bash")
        .arg(&naive_path)
        .arg(&bin)
        .stdin(Stdio::null());
    check("process substitution", output_or_kill(cmd, limit));

    // A named FIFO, written once by another process.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("m.sql");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let mut writer = Std::new("bash");
    writer
        .arg("-c")
        .arg(r#"cat "$1" > "$2""#)
        .arg("bash")
        .arg(&naive_path)
        .arg(&fifo);
    let mut writer = writer.spawn().expect("writer");
    let mut cmd = Std::new(&bin);
    cmd.args(["lint", "--no-config", "--color", "never"])
        .arg(&fifo)
        .stdin(Stdio::null());
    let out = output_or_kill(cmd, limit);
    let _ = writer.kill();
    let _ = writer.wait();
    check("FIFO", out);

    // `-`
    let mut cmd = Std::new("bash");
    cmd.arg("-c")
        .arg(r#"cat "$1" | "$2" lint --no-config --color never -"#)
        .arg("bash")
        .arg(&naive_path)
        .arg(&bin)
        .stdin(Stdio::null());
    check("-", output_or_kill(cmd, limit));
}

/// A UTF-8 byte order mark at the start of a file is not a syntax error (psql skips it), and
/// positions are those an editor shows.
#[test]
fn utf8_bom_is_accepted_like_psql() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(b"CREATE INDEX i ON accounts (a);\n");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bom.sql", &bytes);
    let r = run(&mut lint_in(dir.path(), &["bom.sql"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stdout.contains("syntax error"), "{r:?}");
    assert!(r.stdout.contains("--> bom.sql:1:1"), "{r:?}");
    assert!(
        r.stdout.contains("require-concurrent-index-creation"),
        "{r:?}"
    );
}

#[test]
fn non_utf8_file_exits_2_with_its_position_and_other_files_are_still_linted() {
    let dir = tree(&[(
        "migrations/2_index.sql",
        "CREATE INDEX j ON accounts (a);\n",
    )]);
    write(
        dir.path(),
        "migrations/1_latin1.sql",
        b"SET lock_timeout = '2s';\n-- caf\xe9\nSELECT 1;\n",
    );
    let r = run(&mut lint_in(dir.path(), &["migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "pgdiplomat: error: migrations/1_latin1.sql:2:7: the file is not valid UTF-8"
        ),
        "{r:?}"
    );
    assert!(r.stdout.contains("--> migrations/2_index.sql:1:1"), "{r:?}");
    assert!(r.stdout.contains("1 file, 1 statement: 2 errors"), "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Directories: order, and each file a deploy onto the schema earlier files built
// ---------------------------------------------------------------------------------------------

#[test]
fn directory_files_are_linted_in_numeric_order_each_a_deploy_onto_earlier_tables() {
    let dir = tree(&[
        ("migrations/1_create.sql", "CREATE TABLE t (id int);\n"),
        ("migrations/2_index.sql", "CREATE INDEX i ON t (id);\n"),
        (
            "migrations/10_other.sql",
            "CREATE INDEX j ON existing (a);\n",
        ),
    ]);
    let r = run(&mut lint_in(dir.path(), &["migrations"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("--> migrations/10_other.sql:1:1"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("--> migrations/2_index.sql:1:1"),
        "t was created by an earlier deploy and has rows now: {r:?}"
    );
    assert!(
        r.stdout.ends_with("3 files, 3 statements: 4 errors\n"),
        "{r:?}"
    );

    let index_rules = vec![
        "require-concurrent-index-creation".to_string(),
        "missing-lock-timeout".to_string(),
    ];
    let (code, doc) = lint_json_in(dir.path(), &["migrations"]);
    assert_eq!(code, 1);
    assert_eq!(
        rules_by_file(&doc),
        vec![
            ("migrations/1_create.sql".to_string(), vec![]),
            ("migrations/2_index.sql".to_string(), index_rules.clone()),
            ("migrations/10_other.sql".to_string(), index_rules.clone()),
        ]
    );
    // Built from scratch in one go, t is new when 2_index.sql runs.
    let (_, doc) = lint_json_in(dir.path(), &["--assume-fresh-database", "migrations"]);
    assert_eq!(
        rules_by_file(&doc),
        vec![
            ("migrations/1_create.sql".to_string(), vec![]),
            ("migrations/2_index.sql".to_string(), vec![]),
            ("migrations/10_other.sql".to_string(), index_rules),
        ]
    );
}

#[test]
fn index_on_a_new_table_is_flagged_when_its_file_is_linted_alone() {
    let dir = tree(&[
        ("migrations/1_create.sql", "CREATE TABLE t (id int);\n"),
        ("migrations/2_index.sql", "CREATE INDEX i ON t (id);\n"),
    ]);
    let (code, doc) = lint_json_in(dir.path(), &["migrations/2_index.sql"]);
    assert_eq!(code, 1);
    assert!(all_finding_rules(&doc).contains(&"require-concurrent-index-creation".to_string()));
}

#[test]
fn explicit_file_arguments_keep_the_order_given() {
    let dir = tree(&[
        ("b.sql", "CREATE TABLE t (id int);\n"),
        ("a.sql", "CREATE INDEX i ON t (id);\n"),
    ]);
    let (_, doc) = lint_json_in(dir.path(), &["b.sql", "a.sql"]);
    let paths: Vec<_> = rules_by_file(&doc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["b.sql", "a.sql"]);
    // t was created by b.sql, which ran first (an earlier deploy: t has rows now).
    assert_eq!(
        rules_by_file(&doc)[1].1,
        ["require-concurrent-index-creation", "missing-lock-timeout"],
        "{doc:#}"
    );
}

#[test]
fn down_migrations_are_skipped_in_directories() {
    let dir = tree(&[
        (
            "migrations/1_add.up.sql",
            "SET lock_timeout = '2s';\nALTER TABLE a ADD COLUMN b int;\n",
        ),
        (
            "migrations/1_add.down.sql",
            "ALTER TABLE a DROP COLUMN b;\n",
        ),
    ]);
    let (code, doc) = lint_json_in(dir.path(), &["migrations"]);
    assert_eq!(code, 0, "{doc:#}");
    let paths: Vec<_> = rules_by_file(&doc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["migrations/1_add.up.sql"]);
}

// ---------------------------------------------------------------------------------------------
// Inline ignores
// ---------------------------------------------------------------------------------------------

#[test]
fn ignore_comment_silences_one_rule_for_the_next_statement_only() {
    let dir = tree(&[(
        "m.sql",
        "SET lock_timeout = '2s';\n\
         -- pgdiplomat:ignore require-concurrent-index-creation tiny table\n\
         CREATE INDEX a_idx ON accounts (email);\n\
         CREATE INDEX b_idx ON accounts (name);\n",
    )]);
    let r = run(&mut lint_in(dir.path(), &["m.sql"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        !r.stdout.contains("m.sql:3:"),
        "statement 3 is ignored: {r:?}"
    );
    assert!(r.stdout.contains("--> m.sql:4:1"), "{r:?}");
    assert!(
        r.stdout
            .ends_with("1 file, 3 statements: 1 error (1 ignored by pgdiplomat:ignore)\n"),
        "{r:?}"
    );

    let (_, doc) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(doc["summary"]["suppressed"], 1);
    assert_eq!(doc["summary"]["errors"], 1);
}

#[test]
fn ignore_comment_leaves_other_rules_of_the_statement_active() {
    let dir = tree(&[(
        "m.sql",
        "-- pgdiplomat:ignore require-concurrent-index-creation tiny table\n\
         CREATE INDEX a_idx ON accounts (email);\n",
    )]);
    let (code, doc) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(code, 1);
    assert_eq!(all_finding_rules(&doc), ["missing-lock-timeout"]);
    assert_eq!(doc["summary"]["suppressed"], 1);
}

#[test]
fn ignore_file_comment_anywhere_silences_the_rule_in_the_whole_file() {
    let dir = tree(&[(
        "m.sql",
        "ALTER TABLE accounts ADD COLUMN a text;\n\
         ALTER TABLE accounts ADD COLUMN b text;\n\
         ALTER TABLE accounts ADD COLUMN c text;\n\
         -- pgdiplomat:ignore-file missing-lock-timeout legacy migration, already applied\n",
    )]);
    let r = run(&mut lint_in(dir.path(), &["m.sql"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "1 file, 3 statements: no findings (3 ignored by pgdiplomat:ignore)\n"
    );
}

#[test]
fn ignore_file_comment_does_not_leak_into_the_next_file() {
    let dir = tree(&[
        (
            "migrations/1.sql",
            "/* pgdiplomat:ignore-file missing-lock-timeout */\nALTER TABLE a ADD COLUMN b text;\n",
        ),
        ("migrations/2.sql", "ALTER TABLE a ADD COLUMN c text;\n"),
    ]);
    let (code, doc) = lint_json_in(dir.path(), &["migrations"]);
    assert_eq!(code, 1);
    assert_eq!(
        rules_by_file(&doc),
        vec![
            ("migrations/1.sql".to_string(), vec![]),
            (
                "migrations/2.sql".to_string(),
                vec!["missing-lock-timeout".to_string()]
            ),
        ]
    );
}

#[test]
fn misspelled_directive_is_an_invalid_directive_warning() {
    let dir = tree(&[(
        "m.sql",
        "SET lock_timeout = '2s';\n\
         -- pgdiplomat:ignroe require-concurrent-index-creation\n\
         CREATE INDEX CONCURRENTLY a_idx ON accounts (email);\n",
    )]);
    let r = run(&mut lint_in(dir.path(), &["m.sql"]));
    // A warning: the default --fail-on error lets it pass...
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(
            "warning[invalid-directive]: unknown pgdiplomat directive `ignroe`; did you mean `ignore`?"
        ),
        "{r:?}"
    );
    assert!(r.stdout.contains("--> m.sql:2:1"), "{r:?}");
    // ...and --fail-on warning does not.
    let strict = run(&mut lint_in(dir.path(), &["--fail-on", "warning", "m.sql"]));
    assert_eq!(strict.code, 1, "{strict:?}");
}

#[test]
fn misspelled_directive_does_not_silence_anything() {
    let dir = tree(&[(
        "m.sql",
        "SET lock_timeout = '2s';\n\
         -- pgdiplomat:ignroe require-concurrent-index-creation\n\
         CREATE INDEX a_idx ON accounts (email);\n",
    )]);
    let (code, doc) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(code, 1);
    assert_eq!(
        all_finding_rules(&doc),
        ["invalid-directive", "require-concurrent-index-creation"]
    );
    assert_eq!(doc["summary"]["suppressed"], 0);
}

#[test]
fn ignore_naming_an_unknown_rule_is_an_invalid_directive_warning() {
    let dir = tree(&[("m.sql", "-- pgdiplomat:ignore no-such-rule\nSELECT 1;\n")]);
    let (code, doc) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(code, 0);
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["rule"], "invalid-directive");
    assert_eq!(f["severity"], "warning");
    assert_eq!(
        f["message"],
        "unknown rule `no-such-rule` in ignore comment"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Two statements: one flagged by missing-lock-timeout only, one unsupported on 13 only.
const CONFIG_MIGRATION: &str = "ALTER TABLE accounts ADD COLUMN note text;\n\
SET lock_timeout = '2s';\n\
ALTER TABLE p DETACH PARTITION c CONCURRENTLY;\n";

fn config_project(config: &str) -> TempDir {
    tree(&[
        ("pgdiplomat.toml", config),
        ("app/db/migrations/1.sql", CONFIG_MIGRATION),
    ])
}

/// `pgdiplomat lint --format json ARGS` in `dir`, without `--no-config`.
fn lint_json_with_config(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = pgdiplomat()
        .current_dir(dir)
        .args(["lint", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}); stderr: {stderr}"));
    (out.status.code().unwrap(), doc, stderr)
}

#[test]
fn config_in_a_parent_directory_is_found_and_applied() {
    let dir = config_project("exclude = [\"missing-lock-timeout\"]\npg-version = 13\n");
    let cwd = dir.path().join("app/db");
    let (code, doc, stderr) = lint_json_with_config(&cwd, &["migrations"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["pg_version"], 13);
    assert_eq!(all_finding_rules(&doc), ["unsupported-on-version"]);
}

#[test]
fn command_line_flags_override_the_config() {
    let dir = config_project("exclude = [\"missing-lock-timeout\"]\npg-version = 13\n");
    let cwd = dir.path().join("app/db");
    let (code, doc, _) = lint_json_with_config(&cwd, &["--pg-version", "17", "migrations"]);
    assert_eq!(code, 0);
    assert_eq!(doc["pg_version"], 17);
    assert_eq!(all_finding_rules(&doc), Vec::<String>::new());
}

#[test]
fn no_config_flag_ignores_the_config_file() {
    let dir = config_project("exclude = [\"missing-lock-timeout\"]\npg-version = 13\n");
    let cwd = dir.path().join("app/db");
    let (code, doc, _) = lint_json_with_config(&cwd, &["--no-config", "migrations"]);
    assert_eq!(code, 1);
    assert_eq!(doc["pg_version"], 17);
    assert_eq!(all_finding_rules(&doc), ["missing-lock-timeout"]);
}

#[test]
fn no_config_flag_ignores_an_invalid_config_file() {
    let dir = config_project("pg_version = 13\n");
    let cwd = dir.path().join("app/db");
    let (code, _, stderr) = lint_json_with_config(&cwd, &["--no-config", "migrations"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn config_with_an_unknown_key_exits_2_with_its_location() {
    let dir = config_project("exclude = []\npg_version = 13\n");
    let r = run(pgdiplomat()
        .current_dir(dir.path().join("app/db"))
        .args(["lint", "migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("pgdiplomat.toml:2:1: error:"), "{r:?}");
    assert!(r.stderr.contains("unknown field `pg_version`"), "{r:?}");
    assert!(
        r.stderr.contains("`pg-version`"),
        "the valid keys are listed: {r:?}"
    );
    assert!(r.stdout.is_empty(), "nothing is linted: {r:?}");
}

#[test]
fn config_with_an_unsupported_pg_version_exits_2() {
    let dir = config_project("pg-version = 12\n");
    let r = run(pgdiplomat()
        .current_dir(dir.path().join("app/db"))
        .args(["lint", "migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unsupported pg-version 12"), "{r:?}");
}

#[test]
fn config_with_an_unknown_rule_exits_2() {
    let dir = config_project("exclude = [\"missing-lock-timout\"]\n");
    let r = run(pgdiplomat()
        .current_dir(dir.path().join("app/db"))
        .args(["lint", "migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("missing-lock-timout"), "{r:?}");
}

#[test]
fn config_paths_are_linted_when_no_paths_are_given() {
    let dir = config_project("paths = [\"app/db/migrations\"]\n");
    // From the config's directory and from below it: paths are relative to the config file.
    for cwd in [dir.path().to_path_buf(), dir.path().join("app")] {
        let (code, doc, stderr) = lint_json_with_config(&cwd, &[]);
        assert_eq!(code, 1, "{stderr}");
        let files = rules_by_file(&doc);
        assert_eq!(files.len(), 1, "{doc:#}");
        assert!(
            files[0].0.ends_with("db/migrations/1.sql"),
            "{}",
            files[0].0
        );
        assert_eq!(files[0].1, ["missing-lock-timeout"]);
    }
}

#[test]
fn command_line_paths_replace_config_paths() {
    let dir = config_project("paths = [\"app/db/migrations\"]\n");
    write(dir.path(), "other.sql", b"SELECT 1;\n");
    let (code, doc, _) = lint_json_with_config(dir.path(), &["other.sql"]);
    assert_eq!(code, 0);
    let paths: Vec<_> = rules_by_file(&doc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["other.sql"]);
}

#[test]
fn config_fail_on_and_assume_in_transaction_are_applied() {
    let dir = tree(&[
        ("pgdiplomat.toml", "fail-on = \"warning\"\n"),
        ("m.sql", WARNING_ONLY),
    ]);
    let (code, _, _) = lint_json_with_config(dir.path(), &["m.sql"]);
    assert_eq!(code, 1, "fail-on = warning from the config");

    let dir = tree(&[
        ("pgdiplomat.toml", "assume-in-transaction = true\n"),
        ("m.sql", "CREATE INDEX CONCURRENTLY i ON t (a);\n"),
    ]);
    let (code, doc, _) = lint_json_with_config(dir.path(), &["m.sql"]);
    assert_eq!(code, 1);
    assert_eq!(all_finding_rules(&doc), ["concurrently-in-transaction"]);
}

#[test]
fn explicit_config_flag_reads_that_file() {
    let dir = tree(&[
        ("settings/strict.toml", "pg-version = 13\n"),
        ("m.sql", CONFIG_MIGRATION),
    ]);
    let (code, doc, stderr) =
        lint_json_with_config(dir.path(), &["--config", "settings/strict.toml", "m.sql"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(doc["pg_version"], 13);
    assert!(all_finding_rules(&doc).contains(&"unsupported-on-version".to_string()));
}

// ---------------------------------------------------------------------------------------------
// Versions and transactions
// ---------------------------------------------------------------------------------------------

const DETACH_CONCURRENTLY: &str =
    "SET lock_timeout = '2s';\nALTER TABLE p DETACH PARTITION c CONCURRENTLY;\n";

#[test]
fn detach_partition_concurrently_is_unsupported_on_13_only() {
    let dir = tree(&[("m.sql", DETACH_CONCURRENTLY)]);
    let (code, doc) = lint_json_in(dir.path(), &["--pg-version", "13", "m.sql"]);
    assert_eq!(code, 1);
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["rule"], "unsupported-on-version");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["line"], 2);
    assert!(
        f["message"].as_str().unwrap().contains("PostgreSQL 13"),
        "{f:#}"
    );

    for v in ["14", "17", "18"] {
        let (code, doc) = lint_json_in(dir.path(), &["--pg-version", v, "m.sql"]);
        assert_eq!(code, 0, "--pg-version {v}: {doc:#}");
        assert_eq!(doc["pg_version"], v.parse::<u32>().unwrap());
        assert!(
            all_finding_rules(&doc).is_empty(),
            "--pg-version {v}: {doc:#}"
        );
    }
}

#[test]
fn assume_in_transaction_makes_create_index_concurrently_an_error() {
    let dir = tree(&[(
        "m.sql",
        "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY i ON accounts (a);\n",
    )]);
    let plain = run(&mut lint_in(dir.path(), &["m.sql"]));
    assert_eq!(plain.code, 0, "{plain:?}");

    let r = run(&mut lint_in(
        dir.path(),
        &["--assume-in-transaction", "m.sql"],
    ));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("error[concurrently-in-transaction]"),
        "{r:?}"
    );
    assert!(r.stdout.contains("--> m.sql:2:1"), "{r:?}");
}

#[test]
fn explicit_begin_makes_create_index_concurrently_an_error() {
    let dir = tree(&[(
        "m.sql",
        "BEGIN;\nCREATE INDEX CONCURRENTLY i ON accounts (a);\nCOMMIT;\n",
    )]);
    let (code, doc) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(code, 1);
    assert_eq!(all_finding_rules(&doc), ["concurrently-in-transaction"]);
}

#[test]
fn safe_seed_and_safe_migrations_lint_clean_on_every_supported_version() {
    for v in 13..=18 {
        let v = v.to_string();
        let r = run(&mut lint_in(
            &repo_root(),
            &["--pg-version", &v, SAFE_SEED, "examples/safe-migrations"],
        ));
        assert_eq!(r.code, 0, "--pg-version {v}: {r:?}");
        assert!(
            r.stdout.ends_with(": no findings\n"),
            "--pg-version {v}: {r:?}"
        );
    }
}

#[test]
fn naive_seed_fails_on_every_supported_version() {
    for v in 13..=18 {
        let v = v.to_string();
        let r = run(&mut lint_in(
            &repo_root(),
            &["--pg-version", &v, NAIVE_SEED],
        ));
        assert_eq!(r.code, 1, "--pg-version {v}: {r:?}");
        assert!(r.stdout.contains("unique-constraint-builds-index"), "{r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rule selection
// ---------------------------------------------------------------------------------------------

#[test]
fn include_runs_only_the_named_rules_and_exclude_accepts_comma_lists() {
    let dir = tree(&[(
        "m.sql",
        "CREATE INDEX i ON accounts (a);\nALTER TABLE t DROP COLUMN c;\n",
    )]);
    let (_, all) = lint_json_in(dir.path(), &["m.sql"]);
    assert_eq!(
        all_finding_rules(&all),
        // Per statement: errors before warnings.
        [
            "require-concurrent-index-creation",
            "missing-lock-timeout",
            "missing-lock-timeout",
            "breaking-drop"
        ]
    );

    let (code, only) = lint_json_in(dir.path(), &["--include", "breaking-drop", "m.sql"]);
    assert_eq!(code, 0);
    assert_eq!(all_finding_rules(&only), ["breaking-drop"]);

    let (code, rest) = lint_json_in(
        dir.path(),
        &[
            "--exclude",
            "missing-lock-timeout,require-concurrent-index-creation",
            "m.sql",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(all_finding_rules(&rest), ["breaking-drop"]);

    let (_, repeated) = lint_json_in(
        dir.path(),
        &[
            "--exclude",
            "missing-lock-timeout",
            "--exclude",
            "breaking-drop",
            "m.sql",
        ],
    );
    assert_eq!(
        all_finding_rules(&repeated),
        ["require-concurrent-index-creation"]
    );
}

// ---------------------------------------------------------------------------------------------
// JSON output
// ---------------------------------------------------------------------------------------------

#[test]
fn json_output_has_version_paths_positions_and_summary() {
    let dir = tree(&[(
        "migrations/0001_index.sql",
        "-- Index the e-mail column.\n\
         SET lock_timeout = '2s';\n\
         \x20 CREATE INDEX accounts_email_idx ON accounts (email);\n\
         ALTER TABLE accounts DROP COLUMN legacy;\n",
    )]);
    let (code, doc) = lint_json_in(dir.path(), &["migrations"]);
    assert_eq!(code, 1);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["tool"], "pgdiplomat");
    assert_eq!(doc["pg_version"], 17);

    let file = &doc["files"][0];
    assert_eq!(file["path"], "migrations/0001_index.sql");
    assert_eq!(file["statements"], 3);

    let index = &file["findings"][0];
    assert_eq!(index["rule"], "require-concurrent-index-creation");
    assert_eq!(index["severity"], "error");
    assert_eq!(index["line"], 3);
    assert_eq!(index["column"], 3);
    assert_eq!(index["end_line"], 3);
    // Exclusive end, without the semicolon.
    let stmt = "CREATE INDEX accounts_email_idx ON accounts (email)";
    assert_eq!(index["end_column"], 3 + stmt.len());
    let start = "-- Index the e-mail column.\nSET lock_timeout = '2s';\n  ".len();
    assert_eq!(index["start"], start);
    assert_eq!(index["end"], start + stmt.len());
    assert!(index["message"]
        .as_str()
        .unwrap()
        .contains("SHARE on accounts"));
    assert!(index["help"].is_string());
    assert!(index["fix_sql"]
        .as_str()
        .unwrap()
        .contains("CREATE INDEX CONCURRENTLY accounts_email_idx"));

    let drop = &file["findings"][1];
    assert_eq!(drop["rule"], "breaking-drop");
    assert_eq!(drop["severity"], "warning");
    assert_eq!(drop["line"], 4);
    assert_eq!(drop["column"], 1);
    assert!(drop["fix_sql"].is_null());

    assert_eq!(file["findings"].as_array().unwrap().len(), 2, "{doc:#}");
    assert_eq!(
        doc["summary"],
        serde_json::json!({
            "files": 1, "statements": 3, "errors": 1, "warnings": 1, "infos": 0, "suppressed": 0
        })
    );
}

#[test]
fn json_columns_count_characters_and_offsets_count_bytes() {
    let dir = tree(&[("m.sql", "SELECT 'éé'; CREATE INDEX i ON t (a);\n")]);
    let (_, doc) = lint_json_in(
        dir.path(),
        &["--include", "require-concurrent-index-creation", "m.sql"],
    );
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["column"], 14);
    assert_eq!(f["end_column"], 37);
    assert_eq!(f["start"], 15);
    assert_eq!(f["end"], 38);
}

#[test]
fn json_output_for_a_clean_run() {
    let (code, doc) = lint_json_in(&repo_root(), &[SAFE_SEED]);
    assert_eq!(code, 0);
    assert_eq!(doc["files"][0]["path"], SAFE_SEED);
    assert_eq!(doc["files"][0]["findings"], serde_json::json!([]));
    assert_eq!(doc["summary"]["errors"], 0);
    assert_eq!(doc["summary"]["statements"], 3);
}

// ---------------------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------------------

#[test]
fn explain_prints_each_statement_with_its_lock() {
    let r = run(pgdiplomat()
        .current_dir(repo_root())
        .args(["explain", "--no-config", NAIVE_SEED]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("examples/seed/naive.sql:5:1: ALTER TABLE users_user"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("ACCESS EXCLUSIVE on users_user (table)"),
        "{r:?}"
    );
}

#[test]
fn explain_syntax_error_exits_1_with_its_location() {
    let dir = tree(&[("typo.sql", "SELECT 1;\nCREATE TABEL t (id int);\n")]);
    let r = run(pgdiplomat()
        .current_dir(dir.path())
        .args(["explain", "--no-config", "typo.sql"]));
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stderr,
        "typo.sql:2:8: error: syntax error at or near \"TABEL\"\n"
    );
}

#[test]
fn explain_of_a_directory_or_missing_file_exits_2() {
    let dir = tree(&[("migrations/1.sql", "SELECT 1;\n")]);
    let r =
        run(pgdiplomat()
            .current_dir(dir.path())
            .args(["explain", "--no-config", "migrations"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("explain takes one file"), "{r:?}");

    let r = run(pgdiplomat()
        .current_dir(dir.path())
        .args(["explain", "--no-config", "nope.sql"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("nope.sql"), "{r:?}");
}

#[test]
fn explain_json_has_version_and_statements() {
    let out = pgdiplomat()
        .current_dir(repo_root())
        .args([
            "explain",
            "--no-config",
            "--format",
            "json",
            "--pg-version",
            "16",
            SAFE_SEED,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["file"], SAFE_SEED);
    assert_eq!(doc["pg_version"], 16);
    let statements = doc["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    assert_eq!(
        statements[1]["operations"][0]["title"],
        "CREATE INDEX CONCURRENTLY"
    );
    assert_eq!(
        statements[1]["operations"][0]["allowed_in_transaction"],
        false
    );
    assert_eq!(statements[1]["lock_timeout_ms"], 2000);
}

// ---------------------------------------------------------------------------------------------
// rules and locks
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_lists_every_rule_with_its_severity_and_summary() {
    let r = run(pgdiplomat().arg("rules"));
    assert_eq!(r.code, 0, "{r:?}");
    let listed: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let known: Vec<&str> = all_rules().iter().map(|r| r.id()).collect();
    assert_eq!(listed, known);
    for (line, rule) in r.stdout.lines().zip(all_rules()) {
        let mut words = line.split_whitespace();
        words.next();
        assert_eq!(words.next(), Some(rule.severity().as_str()), "{line}");
        assert!(line.ends_with(rule.summary()), "{line}");
    }
}

#[test]
fn rules_with_an_id_shows_its_explanation_and_examples() {
    for rule in all_rules() {
        let r = run(pgdiplomat().args(["rules", rule.id()]));
        assert_eq!(r.code, 0, "{}: {r:?}", rule.id());
        assert!(
            r.stdout.starts_with(&format!(
                "{} ({})\n\n{}\n\n",
                rule.id(),
                rule.severity().as_str(),
                rule.summary()
            )),
            "{r:?}"
        );
        assert!(r.stdout.contains(rule.explanation()), "{r:?}");
        assert!(r.stdout.contains("\nFlagged:\n\n"), "{r:?}");
        assert!(r.stdout.contains("\nSafe:\n\n"), "{r:?}");
        let first_bad_line = rule.bad_example().lines().next().unwrap();
        assert!(r.stdout.contains(&format!("    {first_bad_line}")), "{r:?}");
    }
}

#[test]
fn rules_with_an_unknown_id_exits_2() {
    let r = run(pgdiplomat().args(["rules", "nosuchrule"]));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no rule `nosuchrule`"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}

/// The examples printed by `pgdiplomat rules <id>` are what users copy: the flagged one must be
/// flagged by that rule and the safe one must lint clean, through the real command line.
#[test]
fn every_rule_flags_its_bad_example_and_passes_its_good_example() {
    for rule in all_rules() {
        let out = pgdiplomat()
            .args(["lint", "--no-config", "--format", "json", "-"])
            .write_stdin(rule.bad_example())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            all_finding_rules(&doc).iter().any(|r| r == rule.id()),
            "{}: bad example not flagged: {doc:#}",
            rule.id()
        );

        let out = pgdiplomat()
            .args(["lint", "--no-config", "--format", "json", "-"])
            .write_stdin(rule.good_example())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{}: {doc:#}", rule.id());
        assert!(
            all_finding_rules(&doc).is_empty(),
            "{}: good example has findings: {doc:#}",
            rule.id()
        );
    }
}

#[test]
fn locks_prints_a_markdown_table_and_the_conflict_matrix() {
    let r = run(pgdiplomat().args(["locks", "--pg-version", "15"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .starts_with("| statement | versions | locks | rewrite | scan | in txn | note |\n|---|---|---|---|---|---|---|\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("| CREATE INDEX CONCURRENTLY | 13–18 | table: SHARE UPDATE EXCLUSIVE |"),
        "{r:?}"
    );
    assert!(r.stdout.contains("## Conflict matrix"), "{r:?}");
    assert!(
        r.stdout
            .contains("| | AS | RS | RE | SUE | S | SRE | E | AE |\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("| ACCESS SHARE |  |  |  |  |  |  |  | X |\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("| SHARE |  |  | X | X |  | X | X | X |\n"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("| ACCESS EXCLUSIVE | X | X | X | X | X | X | X | X |\n"),
        "{r:?}"
    );
    // Every table row has the same number of cells as the header.
    for line in r.stdout.lines().take_while(|l| !l.is_empty()) {
        assert!(line.starts_with('|') && line.ends_with('|'), "{line}");
        let unescaped = line.replace("\\|", "");
        assert_eq!(unescaped.matches('|').count(), 8, "{line}");
    }
}

#[test]
fn locks_filters_rows_by_version() {
    let on = |v: &str| run(pgdiplomat().args(["locks", "--pg-version", v])).stdout;
    let row = |v: &str, title: &str| {
        on(v)
            .lines()
            .find(|l| l.starts_with(&format!("| {title} |")))
            .unwrap_or_else(|| panic!("no row {title} on {v}"))
            .to_string()
    };
    // SET ACCESS METHOD arrived in 15: on 13 the row says so instead of listing locks.
    assert_eq!(
        row("13", "ALTER TABLE ... SET ACCESS METHOD"),
        "| ALTER TABLE ... SET ACCESS METHOD | 13–14 | — | | | | not available: SET ACCESS METHOD arrived in PostgreSQL 15 |"
    );
    assert!(row("15", "ALTER TABLE ... SET ACCESS METHOD")
        .starts_with("| ALTER TABLE ... SET ACCESS METHOD | 15–18 | table: ACCESS EXCLUSIVE;"));
    // DETACH PARTITION CONCURRENTLY arrived in 14.
    assert!(row("13", "ALTER TABLE ... DETACH PARTITION CONCURRENTLY").contains("not available"));
    assert!(row("14", "ALTER TABLE ... DETACH PARTITION CONCURRENTLY")
        .contains("partitioned parent: SHARE UPDATE EXCLUSIVE"));
    // Without --pg-version both rows are printed.
    let all = run(pgdiplomat().arg("locks")).stdout;
    assert_eq!(
        all.matches("| ALTER TABLE ... SET ACCESS METHOD |").count(),
        2
    );
}

#[test]
fn locks_json_is_a_list_of_forms() {
    let out = pgdiplomat()
        .args(["locks", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let forms = doc.as_array().unwrap();
    let cic = forms
        .iter()
        .find(|f| f["title"] == "CREATE INDEX CONCURRENTLY")
        .expect("CREATE INDEX CONCURRENTLY");
    assert_eq!(cic["in_transaction"], false);
    assert_eq!(cic["locks"][0]["mode"], "SHARE UPDATE EXCLUSIVE");
    assert_eq!(cic["locks"][0]["relation"], "table");
}

#[test]
fn locks_rejects_unsupported_versions() {
    let r = run(pgdiplomat().args(["locks", "--pg-version", "12"]));
    assert_eq!(r.code, 2, "{r:?}");
}

// ---------------------------------------------------------------------------------------------
// Output to a closed pipe (`pgdiplomat ... | head`)
// ---------------------------------------------------------------------------------------------

/// Runs `args` with stdout connected to a pipe whose read end is already closed, so every
/// write fails with EPIPE, deterministically.
#[cfg(unix)]
fn run_into_closed_pipe(dir: &Path, args: &[&str]) -> Run {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgdiplomat"))
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::from(write))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[cfg(unix)]
#[test]
fn human_lint_output_into_a_closed_pipe_is_quiet() {
    let r = run_into_closed_pipe(&repo_root(), &["lint", "--no-config", NAIVE_SEED]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
}

#[cfg(unix)]
#[test]
fn json_lint_output_into_a_closed_pipe_is_quiet() {
    let r = run_into_closed_pipe(
        &repo_root(),
        &["lint", "--no-config", "--format", "json", NAIVE_SEED],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
}

#[cfg(unix)]
#[test]
fn json_explain_output_into_a_closed_pipe_is_quiet() {
    let r = run_into_closed_pipe(
        &repo_root(),
        &["explain", "--no-config", "--format", "json", SAFE_SEED],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.is_empty(), "{r:?}");
}

#[cfg(unix)]
#[test]
fn locks_and_rules_output_into_a_closed_pipe_is_quiet() {
    for args in [
        &["locks"][..],
        &["rules"][..],
        &["rules", "missing-lock-timeout"][..],
    ] {
        let r = run_into_closed_pipe(&repo_root(), args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(r.stderr.is_empty(), "{args:?}: {r:?}");
    }
}

/// Issue #9: a finding on a very long line shows a window of the line around the statement
/// (marked `...`), with the real line and column, not the whole line: a one-line file of
/// thousands of statements printed the full line under every finding (output quadratic in the
/// file, 10 GB for a 5 MB file).
#[test]
fn findings_on_a_long_line_show_a_window_with_the_real_column() {
    let statement = "ALTER TABLE accounts ADD COLUMN c int DEFAULT 0; ";
    let n = 2000;
    let line: String = (0..n)
        .map(|k| statement.replace("c int", &format!("c{k:04} int")))
        .collect();
    let dir = tree(&[("one.sql", &format!("{line}\n"))]);
    let r = run(&mut lint_in(dir.path(), &["one.sql"]));
    assert_eq!(r.code, 1, "{r:?}");
    let findings = r.stdout.matches("\n  --> one.sql:1:").count();
    assert!(findings >= n, "{findings} findings");
    assert!(
        r.stdout.len() < findings * 1500,
        "{} bytes of output for {findings} findings on one line",
        r.stdout.len()
    );
    // Each statement is 53 bytes (4 digits added): the 1001st starts at column 53001.
    let width = statement.len() + 4;
    let column = 1000 * width + 1;
    let at = format!("  --> one.sql:1:{column}\n");
    let block = r
        .stdout
        .split(&at)
        .nth(1)
        .expect("a finding at the 1001st statement");
    let snippet = block
        .lines()
        .find(|l| l.contains(" | ..."))
        .expect("a windowed snippet");
    assert!(snippet.contains("ADD COLUMN c1000 int"), "{snippet}");
    assert!(snippet.ends_with("..."), "{snippet}");
}
