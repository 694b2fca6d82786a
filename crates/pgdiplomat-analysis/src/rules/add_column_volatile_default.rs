//! `add-column-volatile-default`: `ADD COLUMN ... DEFAULT <volatile expression>` computes a value
//! for every existing row, so it rewrites the table under ACCESS EXCLUSIVE.

use pgdiplomat_locks::StatementForm;

use super::add_column_rewrites_table::{expand_add_column, work};
use super::check_without_not_valid::{alter_cmd, table_lock};
use super::{Finding, Rule, RuleContext, Severity};

pub struct AddColumnVolatileDefault;

impl Rule for AddColumnVolatileDefault {
    fn id(&self) -> &'static str {
        "add-column-volatile-default"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "ADD COLUMN with a volatile DEFAULT rewrites the table while blocking reads and writes"
    }
    fn explanation(&self) -> &'static str {
        "Since PostgreSQL 11, ADD COLUMN with a constant or stable DEFAULT (0, 'x', now()) only \
stores the default in the catalog. A volatile default — random(), gen_random_uuid(), \
clock_timestamp(), nextval(), or any function not known to be stable (user-defined functions are \
VOLATILE unless declared otherwise) — has to be computed for each existing row, so PostgreSQL \
rewrites the whole table and rebuilds every index while holding ACCESS EXCLUSIVE: every SELECT, \
INSERT, UPDATE and DELETE on the table waits until the rewrite is done. Add the column without the \
default instead, then ALTER COLUMN ... SET DEFAULT so new rows get a value (both are catalog \
changes), backfill the existing rows in batches, and only then add NOT NULL (through a NOT VALID \
CHECK validated separately) or other constraints. If the function is in fact STABLE or IMMUTABLE, \
silence the finding with an ignore comment. Tables created earlier in the same migration run are \
empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user ADD COLUMN api_token uuid DEFAULT gen_random_uuid();"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';
ALTER TABLE users_user ADD COLUMN api_token uuid;
ALTER TABLE users_user ALTER COLUMN api_token SET DEFAULT gen_random_uuid();
-- then backfill existing rows in batches"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for (i, e) in ctx.stmt.effects.iter().enumerate() {
            if e.new_table || e.form() != Some(StatementForm::AddColumnVolatileDefault) {
                continue;
            }
            let col = e.op.column.as_deref().unwrap_or("?");
            let why =
                e.op.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!(
                    "ADD COLUMN {col} with a volatile DEFAULT{why} takes {}{}",
                    table_lock(e),
                    work(e)
                ),
            );
            f.help = Some(
                "add the column without the default, SET DEFAULT for new rows, backfill existing \
rows in batches, then add NOT NULL or other constraints, as in the fix"
                    .into(),
            );
            f.fix_sql = match (alter_cmd(ctx.node, i), &e.op.table) {
                (Some((stmt, cmd)), Some(t)) => expand_add_column(stmt, cmd, t),
                _ => None,
            };
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "add-column-volatile-default";

    #[test]
    fn flags_volatile_default_naming_the_function_with_the_expand_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            1,
        );
        assert_eq!(
            f[0].message,
            "ADD COLUMN token with a volatile DEFAULT (gen_random_uuid() is volatile) takes \
ACCESS EXCLUSIVE on t (blocks reads and writes) while it rewrites every row and rebuilds every index"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "ALTER TABLE t ADD COLUMN token uuid;\n\
ALTER TABLE t ALTER COLUMN token SET DEFAULT gen_random_uuid();\n\
-- backfill existing rows in batches: UPDATE t SET token = gen_random_uuid() WHERE token IS NULL AND <key range>;"
            )
        );
    }

    #[test]
    fn not_null_volatile_default_adds_not_null_through_a_check_in_the_fix() {
        let f = assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN created timestamptz NOT NULL DEFAULT clock_timestamp();",
            1,
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(
            fix.starts_with("ALTER TABLE t ADD COLUMN created timestamptz;\n"),
            "{fix}"
        );
        assert!(
            fix.ends_with("ALTER TABLE t ALTER COLUMN created SET NOT NULL;"),
            "{fix}"
        );
        assert_clean(ID, fix);
    }

    #[test]
    fn volatile_default_with_a_check_references_or_unique_is_flagged() {
        for (sql, what) in [
            ("ALTER TABLE t ADD COLUMN n float8 DEFAULT random() CHECK (n >= 0);", "CHECK"),
            ("ALTER TABLE t ADD COLUMN n uuid DEFAULT gen_random_uuid() UNIQUE;", "UNIQUE"),
            (
                "ALTER TABLE t ADD COLUMN n bigint DEFAULT (random() * 10)::bigint REFERENCES pk (id);",
                "REFERENCES",
            ),
        ] {
            let f = assert_fires(ID, sql, 1);
            assert!(
                f[0].message.contains(&format!(
                    "the column's {what} is checked during the rewrite"
                )),
                "{}",
                f[0].message
            );
            assert!(f[0].message.contains("while it rewrites every row"), "{}", f[0].message);
        }
    }

    #[test]
    fn constant_and_stable_defaults_are_clean() {
        assert_clean(ID, "ALTER TABLE t ADD COLUMN n int DEFAULT 5;");
        assert_clean(ID, "ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now();");
    }

    #[test]
    fn volatile_default_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&AddColumnVolatileDefault);
    }
}
