//! `breaking-drop`: dropping an existing column or table breaks every running query that still
//! uses it.

use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};

pub struct BreakingDrop;

impl Rule for BreakingDrop {
    fn id(&self) -> &'static str {
        "breaking-drop"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "dropping a column, table, view or sequence breaks code that still uses it"
    }
    fn explanation(&self) -> &'static str {
        "DROP COLUMN and DROP TABLE are quick catalog changes, but once they commit every query \
that still names the column or table fails — including the SELECT * and INSERT statements ORMs \
generate from the model they loaded at start-up, in the application version that is still running \
during the deploy. Make sure the application stopped using it first, in an earlier release: in \
Django remove the field from the model and deploy before the migration that drops the column \
(SeparateDatabaseAndState helps), in Rails add it to ignored_columns and deploy first. DROP TABLE \
also takes ACCESS EXCLUSIVE on every table its foreign keys reference, so writes to those tables \
wait too (set a lock_timeout). DROP VIEW breaks the queries that select from the view, and DROP \
SEQUENCE the inserts whose defaults use it. Once nothing uses it, silence this warning with \
`-- pgdiplomat:ignore breaking-drop <reason>`. Drops in tables created earlier in the same \
migration run are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nALTER TABLE users_user DROP COLUMN legacy_flag;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
-- pgdiplomat:ignore breaking-drop field removed from the model and deployed in release 41\n\
ALTER TABLE users_user DROP COLUMN legacy_flag;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            let Some(fact) = e.fact else { continue };
            let Some(table) = &e.op.table else { continue };
            let on_table = e
                .locks
                .iter()
                .find(|l| l.role == RelationRole::Table)
                .map(|l| describe_lock(l.mode, &l.relation));
            let mut f = match fact.form {
                StatementForm::DropColumn => {
                    let column = e.op.column.as_deref().unwrap_or("the column");
                    let lock = on_table
                        .map(|l| format!(" (takes {l})"))
                        .unwrap_or_default();
                    ctx.finding(
                        self,
                        format!(
                            "dropping column {table}.{column} breaks every running query that still reads or writes it{lock}"
                        ),
                    )
                }
                StatementForm::DropTable => {
                    let mut locks: Vec<String> = on_table.into_iter().collect();
                    match e
                        .locks
                        .iter()
                        .find(|l| l.role == RelationRole::ReferencedTable)
                    {
                        Some(l) => locks.push(format!(
                            "{}, which its foreign key references",
                            describe_lock(l.mode, &l.relation)
                        )),
                        None => {
                            if let Some(mode) = fact.lock_on(RelationRole::ReferencedTable) {
                                locks.push(format!(
                                    "{mode} on every table its foreign keys reference ({})",
                                    mode.impact()
                                ));
                            }
                        }
                    }
                    let lock = if locks.is_empty() {
                        String::new()
                    } else {
                        format!("; it takes {}", locks.join(" and "))
                    };
                    ctx.finding(
                        self,
                        format!(
                            "dropping {table} breaks every running query that still uses it{lock}"
                        ),
                    )
                }
                StatementForm::DropView | StatementForm::DropSequence => {
                    let (what, users) = if fact.form == StatementForm::DropView {
                        ("view", "every running query that selects from it")
                    } else {
                        (
                            "sequence",
                            "every insert whose default calls nextval() on it",
                        )
                    };
                    let lock = on_table
                        .map(|l| format!(" (takes {l})"))
                        .unwrap_or_default();
                    ctx.finding(
                        self,
                        format!("dropping {what} {table} breaks {users}{lock}"),
                    )
                }
                _ => continue,
            };
            f.help = Some(
                "first stop using it in the application and deploy that (Django: remove the field \
or model and deploy; Rails: ignored_columns), then drop it in a later release and silence this \
with `-- pgdiplomat:ignore breaking-drop <reason>`"
                    .into(),
            );
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "breaking-drop";

    #[test]
    fn a_view_dropped_and_created_again_in_one_transaction_is_not_flagged() {
        assert_clean(
            ID,
            "BEGIN; DROP VIEW v; CREATE VIEW v AS SELECT 1 AS a; COMMIT;",
        );
        assert_clean(
            ID,
            "BEGIN; DROP VIEW IF EXISTS app.v, w; CREATE VIEW app.v AS SELECT 1 AS a; CREATE VIEW w AS SELECT 2 AS b; COMMIT;",
        );
        // Created again only after the commit: readers see no view in between.
        assert_fires(
            ID,
            "BEGIN; DROP VIEW v; COMMIT; CREATE VIEW v AS SELECT 1 AS a;",
            1,
        );
        // Not created again at all, or another view created.
        assert_fires(
            ID,
            "BEGIN; DROP VIEW v; CREATE VIEW x AS SELECT 1; COMMIT;",
            1,
        );
        assert_fires(ID, "BEGIN; DROP VIEW v;", 1);
    }

    #[test]
    fn dropping_a_view_or_a_sequence_is_flagged() {
        let f = assert_fires(ID, "DROP VIEW active_users;", 1);
        assert!(
            f[0].message
                .starts_with("dropping view active_users breaks"),
            "{}",
            f[0].message
        );
        let f = assert_fires(ID, "DROP SEQUENCE order_no;", 1);
        assert!(f[0].message.contains("nextval()"), "{}", f[0].message);
        assert_clean(ID, "CREATE VIEW v AS SELECT 1;\nDROP VIEW v;");
    }

    #[test]
    fn dropping_a_column_of_an_existing_table_is_flagged() {
        let f = assert_fires(ID, "ALTER TABLE t DROP COLUMN a;", 1);
        assert!(
            f[0].message.contains("dropping column t.a"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
        assert!(f[0].help.as_deref().unwrap().contains("ignored_columns"));
    }

    #[test]
    fn dropping_a_table_mentions_the_tables_its_foreign_keys_reference() {
        let f = assert_fires(ID, "DROP TABLE t;", 1);
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on every table its foreign keys reference"),
            "{}",
            f[0].message
        );
        assert_fires(ID, "DROP TABLE IF EXISTS a, b;", 2);
    }

    #[test]
    fn other_drops_are_not_this_rule() {
        assert_clean(ID, "ALTER TABLE t DROP CONSTRAINT c;");
        assert_clean(ID, "DROP INDEX CONCURRENTLY t_a_idx;");
        assert_clean(ID, "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;");
    }

    #[test]
    fn drops_in_a_table_created_earlier_in_the_run_are_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;\nDROP TABLE t;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&BreakingDrop);
    }
}
