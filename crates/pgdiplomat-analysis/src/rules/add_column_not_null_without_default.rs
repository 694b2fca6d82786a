//! `add-column-not-null-without-default`: `ADD COLUMN ... NOT NULL` with no DEFAULT fails on any
//! table that has rows, after queueing for ACCESS EXCLUSIVE.
//!
//! Also holds [`not_null_via_check`], the NOT NULL-without-a-long-lock recipe the ADD COLUMN
//! rules share.

use pgdiplomat_locks::StatementForm;

use super::add_column_rewrites_table::expand_add_column;
use super::check_without_not_valid::{alter_cmd, table_lock};
use super::{Finding, Rule, RuleContext, Severity};
use crate::model::{quote_ident, RelName};

pub struct AddColumnNotNullWithoutDefault;

impl Rule for AddColumnNotNullWithoutDefault {
    fn id(&self) -> &'static str {
        "add-column-not-null-without-default"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows"
    }
    fn explanation(&self) -> &'static str {
        "ALTER TABLE ... ADD COLUMN ... NOT NULL with no DEFAULT would leave every existing row NULL, \
so PostgreSQL rejects it on any table that has rows — after it has waited for and taken ACCESS \
EXCLUSIVE on the table, blocking reads and writes in the meantime. The migration passes on an \
empty development database and fails in production. Either give the column a constant DEFAULT \
(ADD COLUMN ... NOT NULL DEFAULT <constant> only changes the catalog since PostgreSQL 11, whatever \
the table size), or add it nullable, backfill the existing rows in batches, and then make it NOT \
NULL without a long lock: add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a separate \
transaction (this scan lets reads and writes continue), and SET NOT NULL, which the valid CHECK \
proves without scanning. Tables created earlier in the same migration run are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user ADD COLUMN status text NOT NULL;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
ALTER TABLE users_user ADD COLUMN status text NOT NULL DEFAULT 'active';"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            // A table created with rows in this run (CREATE TABLE AS) makes it fail too.
            if e.new_table && !e.new_populated {
                continue;
            }
            // A REFERENCES, CHECK or UNIQUE on the column gives the statement another form, but
            // NOT NULL without a DEFAULT still fails on a table with rows.
            let plain = e.form() == Some(StatementForm::AddColumnNotNullNoDefault);
            let with_constraint = matches!(
                e.form(),
                Some(
                    StatementForm::AddColumnReferences
                        | StatementForm::AddColumnCheck
                        | StatementForm::AddColumnUnique
                )
            ) && alter_cmd(ctx.node, i)
                .is_some_and(|(_, cmd)| not_null_without_default(cmd));
            if !plain && !with_constraint {
                continue;
            }
            let col = e.op.column.as_deref().unwrap_or("?");
            let table =
                e.op.table
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "the table".into());
            let mut f = ctx.finding(
                self,
                format!(
                    "ADD COLUMN {col} ... NOT NULL without a DEFAULT takes {} and fails if {table} has any rows",
                    table_lock(e)
                ),
            );
            f.help = Some(
                "give it a constant DEFAULT (ADD COLUMN ... NOT NULL DEFAULT <value> is a catalog \
change since PostgreSQL 11), or add it nullable, backfill in batches, then SET NOT NULL through a \
validated CHECK (col IS NOT NULL) as in the fix"
                    .into(),
            );
            f.fix_sql = match (alter_cmd(ctx.node, i), &e.op.table) {
                (Some((stmt, cmd)), Some(t)) if plain => expand_add_column(stmt, cmd, t),
                _ => None,
            };
            out.push(f);
        }
    }
}

/// `ADD COLUMN` of a column declared NOT NULL with no DEFAULT.
fn not_null_without_default(cmd: &pg_query::protobuf::AlterTableCmd) -> bool {
    use pg_query::protobuf::ConstrType;
    let Some(pg_query::NodeEnum::ColumnDef(cd)) = cmd.def.as_ref().and_then(|d| d.node.as_ref())
    else {
        return false;
    };
    let has = |t: ConstrType| {
        cd.constraints.iter().any(|c| {
            matches!(c.node.as_ref(), Some(pg_query::NodeEnum::Constraint(k)) if k.contype == t as i32)
        })
    };
    (cd.is_not_null || has(ConstrType::ConstrNotnull))
        && !has(ConstrType::ConstrDefault)
        && !has(ConstrType::ConstrIdentity)
        && !has(ConstrType::ConstrGenerated)
}

/// Makes `column` NOT NULL without scanning under ACCESS EXCLUSIVE: a NOT VALID
/// `CHECK (column IS NOT NULL)`, its validation in a separate transaction (the scan lets reads
/// and writes continue), then `SET NOT NULL`, which the valid CHECK proves without a scan.
pub(super) fn not_null_via_check(table: &RelName, column: &str) -> String {
    let t = table.quoted();
    let c = quote_ident(column);
    let con = quote_ident(&format!("{}_{column}_not_null_check", table.name));
    format!(
        "ALTER TABLE {t} ADD CONSTRAINT {con} CHECK ({c} IS NOT NULL) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE {t} VALIDATE CONSTRAINT {con};\n\
ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "add-column-not-null-without-default";

    #[test]
    fn flags_not_null_without_default_with_the_expand_fix() {
        let f = assert_fires(ID, "ALTER TABLE t ADD COLUMN n int NOT NULL;", 1);
        assert_eq!(
            f[0].message,
            "ADD COLUMN n ... NOT NULL without a DEFAULT takes ACCESS EXCLUSIVE on t \
(blocks reads and writes) and fails if t has any rows"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD COLUMN n int;\n\
-- backfill existing rows in batches: UPDATE t SET n = <value> WHERE n IS NULL AND <key range>;\n\
ALTER TABLE t ADD CONSTRAINT t_n_not_null_check CHECK (n IS NOT NULL) NOT VALID;\n\
-- in a separate transaction:\n\
ALTER TABLE t VALIDATE CONSTRAINT t_n_not_null_check;\n\
ALTER TABLE t ALTER COLUMN n SET NOT NULL;"
            )
        );
    }

    #[test]
    fn the_fix_lints_clean_for_this_rule_and_proves_not_null() {
        let f = assert_fires(ID, "ALTER TABLE t ADD COLUMN n int NOT NULL;", 1);
        let fix = f[0].fix_sql.clone().unwrap();
        assert_clean(ID, &fix);
        assert_clean("set-not-null-scans-table", &fix);
    }

    #[test]
    fn not_null_with_a_default_is_clean() {
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n int NOT NULL DEFAULT 0;");
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n int;");
    }

    #[test]
    fn not_null_column_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN n int NOT NULL;",
        );
    }

    #[test]
    fn a_table_created_with_rows_in_the_run_is_flagged_and_an_empty_new_one_is_not() {
        assert_fires(
            ID,
            "CREATE TABLE t2 AS SELECT * FROM t; ALTER TABLE t2 ADD COLUMN c int NOT NULL;",
            1,
        );
        assert_fires(
            ID,
            "SELECT * INTO t2 FROM t; ALTER TABLE t2 ADD COLUMN c int NOT NULL;",
            1,
        );
        assert_clean(
            ID,
            "CREATE TABLE t2 AS SELECT * FROM t WITH NO DATA; ALTER TABLE t2 ADD COLUMN c int NOT NULL;",
        );
        assert_clean(
            ID,
            "CREATE TABLE t2 (a int); ALTER TABLE t2 ADD COLUMN c int NOT NULL;",
        );
    }

    #[test]
    fn not_null_without_default_is_flagged_beside_references_check_or_unique() {
        for sql in [
            "ALTER TABLE t ADD COLUMN p bigint NOT NULL REFERENCES p (id);",
            "ALTER TABLE t ADD COLUMN n int NOT NULL CHECK (n > 0);",
            "ALTER TABLE t ADD COLUMN code text NOT NULL UNIQUE;",
        ] {
            let f = assert_fires(ID, sql, 1);
            assert!(
                f[0].message.contains("fails if t has any rows"),
                "{sql}: {}",
                f[0].message
            );
        }
        assert_clean(
            ID,
            "ALTER TABLE t ADD COLUMN p bigint NOT NULL DEFAULT 0 REFERENCES p (id);",
        );
        assert_clean(ID, "ALTER TABLE t ADD COLUMN p bigint REFERENCES p (id);");
    }

    #[test]
    fn examples() {
        assert_examples(&AddColumnNotNullWithoutDefault);
    }
}
