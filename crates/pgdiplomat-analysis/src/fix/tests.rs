use super::*;
use crate::lint::{lint_sources, LintOptions};
use crate::model::RelName;

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

/// Fixed against a schema state that knows `events` is partitioned into `events_2025` and
/// `events_2026` (as loading it from a database gives), and that `t` is a plain table.
fn fix_known(sql: &str, partitions: bool) -> Fixed {
    let mut analyzer = Analyzer::new(AnalysisOptions {
        pg_version: 17,
        ..Default::default()
    });
    let events = RelName::new(Some("public"), "events");
    analyzer.schema.learn_existing_table(&events, true);
    if partitions {
        for p in ["events_2025", "events_2026"] {
            let p = RelName::new(Some("public"), p);
            analyzer.schema.learn_existing_table(&p, false);
            analyzer.schema.learn_partition(&events, &p);
        }
    }
    analyzer
        .schema
        .learn_existing_table(&RelName::new(Some("public"), "t"), false);
    fix_source_with(&mut analyzer, &SourceFile::new("m.sql", sql)).unwrap()
}

#[test]
fn unique_constraint_options_are_carried_into_the_index_and_the_using_index() {
    let f = fix("ALTER TABLE users_user ADD CONSTRAINT u UNIQUE NULLS NOT DISTINCT (email) INCLUDE (username) WITH (fillfactor = 70) DEFERRABLE INITIALLY DEFERRED;");
    assert_eq!(
        f.parts[0].statements,
        vec!["CREATE UNIQUE INDEX CONCURRENTLY u_idx ON users_user (email) INCLUDE (username) NULLS NOT DISTINCT WITH (fillfactor=70);"],
        "{}",
        f.render()
    );
    assert_eq!(
        f.parts[1].statements[1],
        "ALTER TABLE users_user ADD CONSTRAINT u UNIQUE USING INDEX u_idx DEFERRABLE INITIALLY DEFERRED;"
    );
    let pk = fix("ALTER TABLE t2 ADD PRIMARY KEY (id) INCLUDE (v);");
    assert!(
        pk.render()
            .contains("CREATE UNIQUE INDEX CONCURRENTLY t2_pkey_idx ON t2 (id) INCLUDE (v);"),
        "{}",
        pk.render()
    );
}

#[test]
fn a_unique_constraint_with_an_index_tablespace_is_kept_with_a_note() {
    let sql = "ALTER TABLE users_user ADD CONSTRAINT u UNIQUE (email) USING INDEX TABLESPACE fast;";
    let f = fix(sql);
    assert_eq!(f.parts.len(), 1, "{}", f.render());
    assert!(f.parts[0].sql().contains(sql), "{}", f.render());
    assert!(
        f.notes[0].contains("USING INDEX TABLESPACE cannot be carried over"),
        "{:?}",
        f.notes
    );
}

#[test]
fn unnamed_constraints_get_the_names_postgres_would_choose_each_unique() {
    let f = fix("ALTER TABLE payments ADD CHECK (amount > 0);\n\
         ALTER TABLE payments ADD CHECK (amount < 10), ADD CHECK (amount > 0 AND user_id > 0);\n\
         ALTER TABLE payments ADD FOREIGN KEY (user_id) REFERENCES users_user (id);\n\
         ALTER TABLE payments ADD FOREIGN KEY (user_id) REFERENCES users_user (id);\n\
         ALTER TABLE users_user ADD UNIQUE (email);\n\
         ALTER TABLE users_user ADD UNIQUE (email);");
    let all = f.render();
    for name in [
        "ADD CONSTRAINT payments_amount_check CHECK (amount > 0) NOT VALID",
        "ADD CONSTRAINT payments_amount_check1 CHECK (amount < 10) NOT VALID",
        "ADD CONSTRAINT payments_check CHECK (amount > 0 AND user_id > 0) NOT VALID",
        "ADD CONSTRAINT payments_user_id_fkey FOREIGN KEY",
        "ADD CONSTRAINT payments_user_id_fkey1 FOREIGN KEY",
        "ADD CONSTRAINT users_user_email_key UNIQUE USING INDEX users_user_email_key_idx;",
        "ADD CONSTRAINT users_user_email_key1 UNIQUE USING INDEX users_user_email_key1_idx;",
    ] {
        assert!(all.contains(name), "{name}\n{all}");
    }
}

#[test]
fn generated_names_avoid_names_the_run_already_knows() {
    let f = fix("CREATE TABLE other (payments_amount_check int);\n\
         ALTER TABLE other ADD CONSTRAINT payments_amount_check CHECK (payments_amount_check > 0);\n\
         CREATE INDEX payments_amount_check1 ON payments (amount);\n\
         ALTER TABLE payments ADD CHECK (amount > 0);");
    let all = f.render();
    // A constraint of the same schema has the first name; an index (not a constraint) does
    // not count for a CHECK.
    assert!(
        all.contains("ADD CONSTRAINT payments_amount_check1 CHECK (amount > 0) NOT VALID"),
        "{all}"
    );
}

#[test]
fn an_index_on_a_known_partitioned_table_is_built_per_partition_and_attached() {
    let f = fix_known("CREATE INDEX ON events (kind);", true);
    let sql: Vec<String> = f.parts.iter().map(|p| p.sql()).collect();
    assert_eq!(sql.len(), 4, "{}", f.render());
    assert!(f.parts[0].in_transaction);
    assert_eq!(
        sql[0],
        "SET lock_timeout = '2s';\nCREATE INDEX events_kind_idx ON ONLY events USING btree (kind);"
    );
    assert!(!f.parts[1].in_transaction && !f.parts[2].in_transaction);
    assert_eq!(
        sql[1],
        "CREATE INDEX CONCURRENTLY events_2025_kind_idx ON public.events_2025 USING btree (kind);"
    );
    assert_eq!(
        sql[2],
        "CREATE INDEX CONCURRENTLY events_2026_kind_idx ON public.events_2026 USING btree (kind);"
    );
    assert_eq!(
        sql[3],
        "SET lock_timeout = '2s';\nALTER INDEX events_kind_idx ATTACH PARTITION public.events_2025_kind_idx;\n\
ALTER INDEX events_kind_idx ATTACH PARTITION public.events_2026_kind_idx;"
    );
    // Linted without the database, `ON ONLY events` cannot be known to be catalog-only.
    assert_lints_clean(&f, &["require-concurrent-index-creation"]);
}

#[test]
fn an_index_on_a_partitioned_table_with_unknown_partitions_is_kept_with_the_choreography() {
    let f = fix_known("CREATE INDEX events_kind_idx ON events (kind);", false);
    assert_eq!(f.parts.len(), 1, "{}", f.render());
    assert!(
        f.parts[0]
            .sql()
            .contains("CREATE INDEX events_kind_idx ON events (kind);"),
        "{}",
        f.render()
    );
    assert!(
        f.notes[0].contains("ALTER INDEX events_kind_idx ATTACH PARTITION"),
        "{:?}",
        f.notes
    );
    // A unique constraint on it is kept too: no concurrent build, no USING INDEX there.
    let u = fix_known("ALTER TABLE events ADD UNIQUE (id, at);", true);
    assert_eq!(u.parts.len(), 1, "{}", u.render());
    assert!(u.notes[0].contains("partitioned table"), "{:?}", u.notes);
}

#[test]
fn concurrently_on_a_table_not_known_to_be_plain_warns_about_partitioned_tables() {
    let f = fix("CREATE INDEX i ON somewhere (a);");
    assert!(
        f.notes[0].contains("on a partitioned table CONCURRENTLY fails"),
        "{:?}",
        f.notes
    );
    let known = fix_known("CREATE INDEX i ON t (a);", true);
    assert!(!known.notes[0].contains("partitioned"), "{:?}", known.notes);
}

#[test]
fn a_volatile_default_with_constraints_adds_them_after_the_backfill_the_safe_way() {
    let f = fix(
        "ALTER TABLE payments ADD COLUMN score float8 DEFAULT random() CHECK (score >= 0) UNIQUE;",
    );
    let all = f.render();
    assert_eq!(
        f.parts[0].statements[1], "ALTER TABLE payments ADD COLUMN score float8;",
        "{all}"
    );
    let backfill = all.find("UPDATE payments SET score = random()").unwrap();
    let unique = all
        .find("CREATE UNIQUE INDEX CONCURRENTLY payments_score_key_idx ON payments (score);")
        .unwrap();
    let check = all
        .find("ADD CONSTRAINT payments_score_check CHECK (score >= 0) NOT VALID;")
        .unwrap();
    assert!(backfill < check && backfill < unique, "{all}");
    assert!(
        all.contains(
            "ADD CONSTRAINT payments_score_key UNIQUE USING INDEX payments_score_key_idx;"
        ),
        "{all}"
    );
    assert!(
        all.contains("VALIDATE CONSTRAINT payments_score_check;"),
        "{all}"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn a_large_file_is_fixed_in_chunks_with_the_same_result() {
    // More statements than one parse chunk holds; names and state carry across chunks.
    let mut sql = String::new();
    for i in 0..2_500 {
        sql.push_str(&format!("ALTER TABLE t{} ADD COLUMN c int;\n", i % 7));
    }
    sql.push_str("ALTER TABLE payments ADD CHECK (amount > 0);\n");
    sql.push_str("ALTER TABLE payments ADD CHECK (amount > 1);\n");
    let f = fix(&sql);
    let all = f.render();
    assert!(
        all.contains("payments_amount_check CHECK (amount > 0)"),
        "{all}"
    );
    assert!(
        all.contains("payments_amount_check1 CHECK (amount > 1)"),
        "{all}"
    );
    assert_eq!(
        f.parts[0].statements.len(),
        2_501,
        "the unchanged statements stay together with the lock_timeout"
    );
}

#[test]
fn concurrent_index_builds_drop_if_not_exists_so_the_fix_lints_clean() {
    let f = fix(
        "CREATE INDEX IF NOT EXISTS users_email_idx ON users_user (email);\n\
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users_user (name);",
    );
    let all = f.render();
    let sql: String = f.parts.iter().map(|p| p.sql()).collect();
    assert!(!sql.contains("IF NOT EXISTS"), "{all}");
    assert!(
        all.contains("DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;"),
        "{all}"
    );
    assert!(
        all.contains("CREATE INDEX CONCURRENTLY users_email_idx ON users_user"),
        "{all}"
    );
    assert!(
        all.contains("DROP INDEX CONCURRENTLY IF EXISTS users_name_idx;"),
        "{all}"
    );
    assert!(
        all.contains("CREATE INDEX CONCURRENTLY users_name_idx ON users_user"),
        "{all}"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn add_column_with_check_or_references_adds_the_constraint_not_valid_then_validates() {
    let f = fix("ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0);\n\
ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id);");
    let all = f.render();
    assert!(
        all.contains("ALTER TABLE orders ADD COLUMN qty int;"),
        "{all}"
    );
    assert!(all.contains("CHECK (qty > 0) NOT VALID"), "{all}");
    assert!(
        all.contains("VALIDATE CONSTRAINT orders_qty_check"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE orders ADD COLUMN user_id bigint;"),
        "{all}"
    );
    assert!(all.contains("REFERENCES users (id) NOT VALID"), "{all}");
    assert!(
        all.contains("VALIDATE CONSTRAINT orders_user_id_fkey"),
        "{all}"
    );
    assert_lints_clean(&f, &[]);
}

#[test]
fn a_serial_column_is_added_with_its_sequence_and_backfilled_in_batches() {
    let f = fix("ALTER TABLE events ADD COLUMN seq bigserial;");
    let all = f.render();
    assert!(
        all.contains("CREATE SEQUENCE events_seq_seq AS bigint;"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE events ADD COLUMN seq bigint;"),
        "{all}"
    );
    assert!(
        all.contains("ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq_seq');"),
        "{all}"
    );
    assert!(
        all.contains("ALTER SEQUENCE events_seq_seq OWNED BY events.seq;"),
        "{all}"
    );
    assert!(all.contains("SET NOT NULL"), "{all}");
    assert_lints_clean(&f, &["whole-table-update"]);
}

#[test]
fn a_widening_whose_old_type_is_unknown_says_both_outcomes_instead_of_a_plan() {
    let f = fix("ALTER TABLE users_user ALTER COLUMN email TYPE varchar(320);");
    let all = f.render();
    assert!(all.contains("may rewrite users_user"), "{all}");
    assert!(
        all.contains("varchar(n) with n up to the new length"),
        "{all}"
    );
    assert!(!all.contains("Expand/contract plan:"), "{all}");
    assert!(
        all.contains("ALTER TABLE users_user ALTER COLUMN email TYPE varchar(320);"),
        "{all}"
    );
}
