use super::*;
use crate::lint::{lint_sources, LintOptions};

fn fix(sql: &str) -> Fixed {
    fix_source(
        &SourceFile::new("m.sql", sql),
        AnalysisOptions {
            pg_version: 17,
            ..Default::default()
        },
    )
    .unwrap()
}

/// The fixed parts, linted in order as separate files (a part that may run in a transaction is
/// linted as wrapped in one), give no findings except those named in `allowed`.
fn assert_lints_clean(fixed: &Fixed, allowed: &[&str]) {
    let sources: Vec<SourceFile> = fixed
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = if p.in_transaction {
                format!("BEGIN;\n{}\nCOMMIT;\n", p.sql())
            } else {
                p.sql()
            };
            SourceFile::new(format!("part{}.sql", i + 1), text)
        })
        .collect();
    let reports = lint_sources(sources, &LintOptions::default());
    let findings: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.findings
                .iter()
                .filter(|f| !allowed.contains(&f.rule))
                .map(move |f| format!("{}: {}: {}", r.source.name, f.rule, f.message))
        })
        .collect();
    assert!(
        findings.is_empty(),
        "fixed output is not clean:\n{}\n\n{}",
        findings.join("\n"),
        fixed.render()
    );
}

#[test]
fn the_seed_naive_migration_becomes_the_seed_safe_choreography() {
    let f = fix(include_str!("../../../../examples/seed/naive.sql"));
    assert_eq!(f.parts.len(), 2, "{}", f.render());
    assert!(!f.parts[0].in_transaction);
    assert_eq!(
        f.parts[0].statements,
        vec!["CREATE UNIQUE INDEX CONCURRENTLY unq_email_idx ON users_user (email);"]
    );
    assert!(f.parts[1].in_transaction);
    assert_eq!(
        f.parts[1].statements,
        vec![
            LOCK_TIMEOUT_PREAMBLE,
            "ALTER TABLE users_user ADD CONSTRAINT unq_email UNIQUE USING INDEX unq_email_idx;"
        ]
    );
    assert_eq!(
        f.parts[1].reverse,
        vec!["ALTER TABLE users_user DROP CONSTRAINT IF EXISTS unq_email;"]
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn index_creation_and_deletion_become_concurrent() {
    let f = fix("CREATE INDEX users_email_idx ON users_user (email);\nDROP INDEX old_idx;");
    assert_eq!(f.parts.len(), 2);
    assert_eq!(
        f.parts[0].statements,
        vec!["CREATE INDEX CONCURRENTLY users_email_idx ON users_user USING btree (email);"]
    );
    assert_eq!(
        f.parts[0].reverse,
        vec!["DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;"]
    );
    assert_eq!(
        f.parts[1].statements,
        vec!["DROP INDEX CONCURRENTLY old_idx;"]
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn foreign_keys_and_checks_are_added_not_valid_and_validated_in_a_later_transaction() {
    let f = fix(
        "ALTER TABLE payments ADD CONSTRAINT payments_user_fk FOREIGN KEY (user_id) REFERENCES users_user (id);\n\
         ALTER TABLE payments ADD CHECK (amount > 0);",
    );
    let sql: Vec<String> = f.parts.iter().map(|p| p.sql()).collect();
    assert_eq!(f.parts.len(), 4, "{}", f.render());
    assert!(sql[0].contains("ADD CONSTRAINT payments_user_fk FOREIGN KEY (user_id) REFERENCES users_user (id) NOT VALID"), "{}", sql[0]);
    assert_eq!(
        sql[1],
        "ALTER TABLE payments VALIDATE CONSTRAINT payments_user_fk;"
    );
    assert!(
        sql[2].contains("ADD CONSTRAINT payments_amount_check CHECK (amount > 0) NOT VALID"),
        "{}",
        sql[2]
    );
    assert_eq!(
        sql[3],
        "ALTER TABLE payments VALIDATE CONSTRAINT payments_amount_check;"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn set_not_null_goes_through_a_validated_check_on_17_and_not_null_not_valid_on_18() {
    let f = fix("ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;");
    let all = f.render();
    assert_eq!(f.parts.len(), 3, "{all}");
    assert!(
        all.contains(
            "ADD CONSTRAINT users_user_email_not_null_check CHECK (email IS NOT NULL) NOT VALID;"
        ),
        "{all}"
    );
    assert!(
        f.parts[1]
            .sql()
            .contains("VALIDATE CONSTRAINT users_user_email_not_null_check"),
        "{all}"
    );
    assert!(f.parts[2].sql().contains("ALTER COLUMN email SET NOT NULL;\nALTER TABLE users_user DROP CONSTRAINT users_user_email_not_null_check;"), "{all}");
    assert_lints_clean(&f, &[]);

    let f18 = fix_source(
        &SourceFile::new(
            "m.sql",
            "ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;",
        ),
        AnalysisOptions {
            pg_version: 18,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(f18.parts.len(), 2);
    assert!(
        f18.parts[0].sql().contains("NOT NULL email NOT VALID"),
        "{}",
        f18.render()
    );
}

#[test]
fn a_volatile_default_becomes_add_column_set_default_and_a_batched_backfill() {
    let f =
        fix("ALTER TABLE users_user ADD COLUMN api_key uuid NOT NULL DEFAULT gen_random_uuid();");
    let all = f.render();
    assert!(
        f.parts[0]
            .sql()
            .contains("ALTER TABLE users_user ADD COLUMN api_key uuid;"),
        "{all}"
    );
    assert!(
        f.parts[0]
            .sql()
            .contains("ALTER TABLE users_user ALTER COLUMN api_key SET DEFAULT gen_random_uuid();"),
        "{all}"
    );
    assert_eq!(
        f.parts[1].statements,
        vec![
            "-- pgdiplomat:backfill batch=10000",
            "UPDATE users_user SET api_key = gen_random_uuid() WHERE api_key IS NULL;"
        ]
    );
    assert!(
        all.contains("CHECK (api_key IS NOT NULL) NOT VALID"),
        "{all}"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn a_primary_key_gets_not_null_first_then_a_concurrent_unique_index() {
    let f = fix("ALTER TABLE t2 ADD PRIMARY KEY (id);");
    let all = f.render();
    assert!(all.contains("CHECK (id IS NOT NULL) NOT VALID"), "{all}");
    assert!(
        all.contains("CREATE UNIQUE INDEX CONCURRENTLY t2_pkey_idx ON t2 (id);"),
        "{all}"
    );
    assert!(
        all.contains("ADD CONSTRAINT t2_pkey PRIMARY KEY USING INDEX t2_pkey_idx;"),
        "{all}"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn changes_that_cannot_be_made_safe_are_kept_with_an_expand_contract_plan() {
    let f = fix("ALTER TABLE users_user ALTER COLUMN id TYPE bigint;\nALTER TABLE users_user RENAME COLUMN username TO login;");
    let all = f.render();
    assert!(
        all.contains("cannot be made safe in place. Expand/contract plan:"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE users_user ADD COLUMN id_new <new type>;"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE users_user ALTER COLUMN id TYPE bigint;"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE users_user RENAME COLUMN username TO login;"),
        "{all}"
    );
    // They are kept, behind a lock_timeout: only the rules about what they are remain.
    assert_lints_clean(&f, &["alter-column-type-rewrites-table", "breaking-rename"]);
}

#[test]
fn safe_statements_are_kept_together_with_a_lock_timeout_and_tables_created_in_the_file_are_left_alone(
) {
    let f = fix("CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE INDEX t_a_idx ON t (a);\nALTER TABLE users_user ADD COLUMN nick text;");
    assert_eq!(f.parts.len(), 1, "{}", f.render());
    assert_eq!(
        f.parts[0].statements,
        vec![
            LOCK_TIMEOUT_PREAMBLE,
            "CREATE TABLE t (id int PRIMARY KEY, a int);",
            "CREATE INDEX t_a_idx ON t (a);",
            "ALTER TABLE users_user ADD COLUMN nick text;"
        ]
    );
    assert!(!f.changed());
    assert_lints_clean(&f, &[]);
}

#[test]
fn identifiers_that_need_quotes_stay_quoted() {
    let f = fix("ALTER TABLE \"Users\" ADD CONSTRAINT \"Uq Email\" UNIQUE (\"Email\");");
    let all = f.render();
    assert!(
        all.contains("CREATE UNIQUE INDEX CONCURRENTLY \"Uq Email_idx\" ON \"Users\" (\"Email\");"),
        "{all}"
    );
    assert!(
        all.contains("ADD CONSTRAINT \"Uq Email\" UNIQUE USING INDEX \"Uq Email_idx\";"),
        "{all}"
    );
}
