//! `set-not-null-scans-table`: `ALTER COLUMN ... SET NOT NULL` scans the whole table under
//! ACCESS EXCLUSIVE unless a validated `CHECK (col IS NOT NULL)` already proves it.

use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::model::quote_ident;

pub struct SetNotNullScansTable;

impl Rule for SetNotNullScansTable {
    fn id(&self) -> &'static str {
        "set-not-null-scans-table"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "SET NOT NULL scans every row while holding ACCESS EXCLUSIVE"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... ALTER COLUMN ... SET NOT NULL checks every row while holding ACCESS \
EXCLUSIVE: reads and writes stop for the length of a full table scan. Since PostgreSQL 12 the scan \
is skipped when a validated CHECK (col IS NOT NULL) constraint exists. So: add the CHECK NOT VALID \
(instant), VALIDATE it in a later transaction (SHARE UPDATE EXCLUSIVE: the application keeps running), \
then SET NOT NULL (instant) and drop the now redundant CHECK. On PostgreSQL 18, ADD CONSTRAINT ... \
NOT NULL ... NOT VALID followed by VALIDATE does the same in two steps."
    }
    fn bad_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nALTER TABLE users_user ALTER COLUMN email SET NOT NULL;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\n\
ALTER TABLE users_user ADD CONSTRAINT users_user_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n\
ALTER TABLE users_user VALIDATE CONSTRAINT users_user_email_not_null;\n\
ALTER TABLE users_user ALTER COLUMN email SET NOT NULL;\n\
ALTER TABLE users_user DROP CONSTRAINT users_user_email_not_null;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            if e.form() != Some(StatementForm::SetNotNull) {
                continue;
            }
            let (Some(table), Some(col)) = (&e.op.table, &e.op.column) else {
                continue;
            };
            let Some(lock) = e.locks.iter().find(|l| l.role == RelationRole::Table) else {
                continue;
            };
            let mut f = ctx.finding(
                self,
                format!(
                    "SET NOT NULL on {col} scans every row of {table} while holding {}",
                    describe_lock(lock.mode, &lock.relation)
                ),
            );
            f.help = Some("prove the column NOT NULL with a validated CHECK first; PostgreSQL then skips the scan".into());
            let check = quote_ident(&format!("{}_{}_not_null", table.name, col));
            let t = table.quoted();
            let c = quote_ident(col);
            f.fix_sql = Some(if ctx.options.pg_version >= 18 {
                format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {check} NOT NULL {c} NOT VALID;\n-- in a later transaction:\nALTER TABLE {t} VALIDATE CONSTRAINT {check};"
                )
            } else {
                format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID;\n-- in a later transaction:\nALTER TABLE {t} VALIDATE CONSTRAINT {check};\nALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;\nALTER TABLE {t} DROP CONSTRAINT {check};"
                )
            });
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "set-not-null-scans-table";

    #[test]
    fn set_not_null_on_an_existing_table_is_flagged() {
        let f = assert_fires(ID, "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", 1);
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
        assert!(f[0]
            .fix_sql
            .as_deref()
            .unwrap()
            .contains("CHECK (a IS NOT NULL) NOT VALID"));
    }

    #[test]
    fn a_validated_not_null_check_from_an_earlier_statement_makes_it_scan_free() {
        assert_clean(
            ID,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        );
    }

    #[test]
    fn a_check_that_is_not_yet_validated_does_not_help() {
        assert_fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
            1,
        );
    }

    #[test]
    fn a_check_on_another_column_does_not_help() {
        assert_fires(
            ID,
            "ALTER TABLE t ADD CONSTRAINT c CHECK (b IS NOT NULL) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;\nALTER TABLE t ALTER COLUMN a SET NOT NULL;",
            1,
        );
    }

    #[test]
    fn postgres_18_fix_uses_not_null_not_valid() {
        let f = findings_with(
            ID,
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
            on_version(18),
        );
        assert!(f[0]
            .fix_sql
            .as_deref()
            .unwrap()
            .contains("NOT NULL a NOT VALID"));
    }

    #[test]
    fn new_table_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int); ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&SetNotNullScansTable);
    }
}
