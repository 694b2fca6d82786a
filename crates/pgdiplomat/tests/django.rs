//! `pgdiplomat django` driven by the real Django project in examples/django, against a throwaway
//! PostgreSQL (over TCP, as Django connects).
//!
//! The Python environment is created by the test itself with scripts/django-venv (Django and
//! psycopg from PyPI into target/django-venv; later runs reuse it). Without Python or PyPI the
//! tests fail and say so: they are never silently skipped.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use pgdiplomat_pg::postgres::Client;
use pgdiplomat_pg::{Cluster, ClusterOptions};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    repo().join("examples/django")
}

/// The venv's python, created on first use.
fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let script = repo().join("scripts/django-venv");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/django-venv failed, so the Django tests cannot run (they need python3 with \
             venv and PyPI, or PIP_INDEX_URL pointing at a mirror):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(path.exists(), "django-venv printed {}", path.display());
        path
    })
}

fn cluster() -> Cluster {
    Cluster::start(ClusterOptions::default().tcp(true)).expect("start a PostgreSQL cluster")
}

fn db(cluster: &Cluster, name: &str) -> (String, Client) {
    cluster.create_database(name).expect("create database");
    (
        cluster.url(name),
        cluster.connect_db(name).expect("connect"),
    )
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pgdiplomat django ARGS` for the project at `dir`.
fn pgdiplomat(dir: &Path, url: &str, args: &[&str]) -> Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("pgdiplomat"))
        .arg("django")
        .args(args)
        .arg("--manage-py")
        .arg(dir.join("manage.py"))
        .arg("--python")
        .arg(python())
        .arg("--database-url")
        .arg(url)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .expect("run pgdiplomat")
}

/// `python manage.py ARGS` in `dir`, which must succeed.
fn manage(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(python())
        .arg("manage.py")
        .args(args)
        .env("DATABASE_URL", url)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir)
        .output()
        .expect("run manage.py");
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "manage.py {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// A copy of the example project in a temporary directory.
fn copy_project() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "__pycache__" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                copy(&path, &to.join(&name));
            } else {
                std::fs::copy(&path, to.join(&name)).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&example(), dir.path());
    dir
}

/// Rows for the tables of 0001_initial: users with distinct emails and usernames, payments
/// pointing at them.
fn seed(client: &mut Client, rows: u32) {
    client
        .batch_execute(&format!(
            "INSERT INTO users_user (email, username)
               SELECT 'user' || g || '@example.com', 'user' || g FROM generate_series(1, {rows}) g;
             INSERT INTO users_payment (amount, user_ref)
               SELECT g % 1000, 1 + g % {rows} FROM generate_series(1, {rows}) g;
             ANALYZE;"
        ))
        .expect("seed rows");
}

/// The schema as text: columns, constraints and indexes of the public tables.
fn schema(client: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    for row in client
        .query(
            "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                    || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
                AND c.relname LIKE 'users_%' AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        out.push(format!("column {}", row.get::<_, String>(0)));
    }
    for row in client
        .query(
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || contype::text || ' '
                    || pg_get_constraintdef(oid)
                    || CASE WHEN convalidated THEN ' (valid)' ELSE ' (NOT VALID)' END
                    || CASE WHEN conindid <> 0 THEN ' index ' || conindid::regclass::text ELSE '' END
               FROM pg_constraint
              WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text LIKE 'users_%'
              ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        out.push(format!("constraint {}", row.get::<_, String>(0)));
    }
    for row in client
        .query(
            "SELECT pg_get_indexdef(i.indexrelid)
                    || CASE WHEN i.indisvalid THEN ' (valid)' ELSE ' (INVALID)' END
                    || CASE WHEN i.indisready THEN '' ELSE ' (not ready)' END
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'users_%'
              ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        out.push(format!("index {}", row.get::<_, String>(0)));
    }
    out
}

fn fix_all(dir: &Path, url: &str, migrations: &[&str]) {
    for m in migrations {
        let out = pgdiplomat(dir, url, &["fix", "--write", "users", m]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "fix {m}:\n{stdout}\n{stderr}");
    }
}

/// Runs the project at `dir` up to 0001, seeds it, migrates to the end, and returns the schema;
/// also checks that Django's state equals the models.
fn migrate_seeded(dir: &Path, url: &str, client: &mut Client) -> Vec<String> {
    manage(dir, url, &["migrate", "users", "0001"]);
    seed(client, 20_000);
    manage(dir, url, &["migrate", "users"]);
    let check = manage(dir, url, &["makemigrations", "--check", "--dry-run"]);
    assert!(check.contains("No changes detected"), "{check}");
    let plan = manage(dir, url, &["showmigrations", "--plan"]);
    assert!(!plan.contains("[ ]"), "everything applied:\n{plan}");
    schema(client)
}

#[test]
fn lint_flags_every_unsafe_migration_at_its_python_operation_and_not_the_initial_one() {
    let cluster = cluster();
    let (url, _client) = db(&cluster, "lint");
    let dir = example();

    let out = pgdiplomat(&dir, &url, &["lint", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let migrations = doc["migrations"].as_array().unwrap();
    let names: Vec<&str> = migrations
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "0001_initial",
            "0002_email_unique",
            "0003_payment_user_fk",
            "0004_username_not_null",
            "0005_user_email_index"
        ]
    );
    let rules = |i: usize| -> Vec<(String, u64, String)> {
        migrations[i]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["line"].as_u64().unwrap(),
                    f["file"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(
        rules(0).is_empty(),
        "0001 creates new tables: {:?}",
        rules(0)
    );
    let expect = [
        (
            1,
            "unique-constraint-builds-index",
            13,
            "0002_email_unique.py",
        ),
        (
            2,
            "foreign-key-without-not-valid",
            14,
            "0003_payment_user_fk.py",
        ),
        (
            2,
            "require-concurrent-index-creation",
            14,
            "0003_payment_user_fk.py",
        ),
        (
            3,
            "set-not-null-scans-table",
            13,
            "0004_username_not_null.py",
        ),
        (
            4,
            "require-concurrent-index-creation",
            14,
            "0005_user_email_index.py",
        ),
    ];
    for (i, rule, line, file) in expect {
        let found = rules(i);
        assert!(
            found.iter().any(|(r, l, f)| r == rule
                && *l == line
                && f.ends_with(&format!("users/migrations/{file}"))),
            "{file}: expected {rule} at line {line}, found {found:?}"
        );
    }
    // The statement and the operation come with the finding.
    let f = &migrations[1]["findings"][0];
    assert_eq!(f["operation"], "AlterField (Alter field email on user)");
    assert!(f["statement"]
        .as_str()
        .unwrap()
        .contains("UNIQUE (\"email\")"));

    // Human output: file:line: severity[rule]: operation: message.
    let out = pgdiplomat(&dir, &url, &["lint", "users", "0002"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("users/migrations/0002_email_unique.py:13: error[unique-constraint-builds-index]: AlterField (Alter field email on user): ADD UNIQUE"),
        "{stdout}"
    );
    assert!(stdout.contains("    | ALTER TABLE \"users_user\" ADD CONSTRAINT"));

    // --unapplied: after 0001..0002 are applied only 0003..0005 are linted.
    manage(&dir, &url, &["migrate", "users", "0002"]);
    let out = pgdiplomat(&dir, &url, &["lint", "--unapplied", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    let doc: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    let names: Vec<&str> = doc["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "0003_payment_user_fk",
            "0004_username_not_null",
            "0005_user_email_index"
        ]
    );
}

#[test]
fn fix_rewrites_the_seed_migration_and_it_leaves_the_same_schema_without_changing_the_state() {
    let cluster = cluster();
    let (url_orig, mut orig_client) = db(&cluster, "original");
    let (url_fixed, mut fixed_client) = db(&cluster, "fixed");

    let fixed_dir = copy_project();
    let dir = fixed_dir.path();
    let out = pgdiplomat(dir, &url_fixed, &["fix", "users", "0002_email_unique"]);
    let (migration, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{migration}\n{stderr}");
    for needle in [
        "atomic = False",
        "migrations.SeparateDatabaseAndState(",
        "CREATE UNIQUE INDEX CONCURRENTLY",
        "USING INDEX",
        "reverse_sql=",
        "(\"users\", \"0001_initial\"),",
        "            state_operations=[\n                migrations.AlterField(\n                    model_name=\"user\",\n                    name=\"email\",\n                    field=models.CharField(max_length=255, unique=True),\n                ),\n            ],",
    ] {
        assert!(migration.contains(needle), "no {needle:?} in:\n{migration}");
    }
    assert!(!migration.contains("UNIQUE (\"email\")"), "{migration}");
    let file = dir.join("users/migrations/0002_email_unique.py");
    std::fs::write(&file, &migration).unwrap();

    let fixed = migrate_seeded(dir, &url_fixed, &mut fixed_client);
    let orig_dir = copy_project();
    let original = migrate_seeded(orig_dir.path(), &url_orig, &mut orig_client);
    assert_eq!(fixed, original, "the fixed 0002 leaves a different schema");
    assert!(
        fixed.iter().any(|l| l.starts_with(
            "constraint users_user users_user_email_243f6e77_uniq u UNIQUE (email) (valid)"
        )),
        "{fixed:#?}"
    );
    assert!(
        fixed.iter().any(|l| l
            .starts_with("index CREATE UNIQUE INDEX users_user_email_243f6e77_uniq")
            && l.ends_with("(valid)")),
        "{fixed:#?}"
    );

    // And backwards: the reverse_sql undoes it.
    manage(dir, &url_fixed, &["migrate", "users", "0001"]);
    assert!(!schema(&mut fixed_client)
        .iter()
        .any(|l| l.contains("email_243f6e77")));
}

#[test]
fn every_unsafe_migration_fixed_with_write_applies_to_the_same_schema() {
    let cluster = cluster();
    let (url_orig, mut orig_client) = db(&cluster, "original");
    let (url_fixed, mut fixed_client) = db(&cluster, "fixed");

    let fixed_dir = copy_project();
    let dir = fixed_dir.path();
    let unsafe_ones = [
        "0002_email_unique",
        "0003_payment_user_fk",
        "0004_username_not_null",
        "0005_user_email_index",
    ];
    fix_all(dir, &url_fixed, &unsafe_ones);
    for m in unsafe_ones {
        assert!(dir.join(format!("users/migrations/{m}.py.orig")).is_file());
    }
    // Nothing is left to flag.
    let out = pgdiplomat(dir, &url_fixed, &["lint"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let fixed = migrate_seeded(dir, &url_fixed, &mut fixed_client);
    let orig_dir = copy_project();
    let original = migrate_seeded(orig_dir.path(), &url_orig, &mut orig_client);
    assert_eq!(fixed, original);
}
