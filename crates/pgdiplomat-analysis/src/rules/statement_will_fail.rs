//! `statement-will-fail`: the schema shows PostgreSQL will refuse the statement, so the
//! migration fails (and, in a transaction, rolls back everything before it).

use pgdiplomat_locks::StatementForm;

use super::{Finding, Rule, RuleContext, Severity};

pub struct StatementWillFail;

impl Rule for StatementWillFail {
    fn id(&self) -> &'static str {
        "statement-will-fail"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "the schema shows PostgreSQL will refuse this statement"
    }
    fn explanation(&self) -> &'static str {
        "Some statements are refused by PostgreSQL because of the schema they meet: a second \
primary key, dropping the index a constraint owns, changing the type of a column a view or \
materialized view uses, adding a column to a partition instead of its partitioned table, storage \
parameters on a partitioned table. The migration then fails at that statement — in production, if \
development's schema differed — and inside a transaction everything before it is rolled back. \
pgdiplomat knows the schema from the files it has read and, with --database-url, from the \
database. (ADD COLUMN ... NOT NULL without a default on a table with rows is reported by \
add-column-not-null-without-default.)"
    }
    fn bad_example(&self) -> &'static str {
        "CREATE TABLE users_user (id bigint PRIMARY KEY, email text);\n\
CREATE VIEW active_users AS SELECT id, email FROM users_user;\n\
-- later migration:\n\
ALTER TABLE users_user ADD COLUMN uuid uuid PRIMARY KEY;"
    }
    fn good_example(&self) -> &'static str {
        "CREATE TABLE users_user (id bigint PRIMARY KEY, email text);\n\
-- later migration: a second key is a UNIQUE constraint, built without blocking writes\n\
SET lock_timeout = '2s';\n\
ALTER TABLE users_user ADD COLUMN uuid uuid;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in &ctx.stmt.effects {
            let Some(why) = &e.op.refused else { continue };
            if e.form() == Some(StatementForm::AddColumnNotNullNoDefault) {
                continue;
            }
            let what = e.fact.map(|f| f.title).unwrap_or("the statement");
            let mut f = ctx.finding(self, format!("PostgreSQL will refuse {what}: {why}"));
            f.help = Some(
                "change the migration to what the schema allows (or check that the schema the \
migration expects is the one it will meet)"
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

    const ID: &str = "statement-will-fail";

    #[test]
    fn examples() {
        assert_examples(&StatementWillFail);
    }

    #[test]
    fn a_second_primary_key_is_refused() {
        let f = assert_fires(
            ID,
            "CREATE TABLE t (id int PRIMARY KEY);\nALTER TABLE t ADD COLUMN u int PRIMARY KEY;",
            1,
        );
        assert_eq!(
            f[0].message,
            "PostgreSQL will refuse ADD COLUMN ... PRIMARY KEY: t already has a primary key"
        );
    }

    #[test]
    fn a_primary_key_replaced_in_the_same_statement_is_not_a_second_one() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int PRIMARY KEY, b int NOT NULL);\n\
ALTER TABLE t DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (b);",
        );
        assert_clean(
            ID,
            "CREATE TABLE t (id int PRIMARY KEY, u int NOT NULL);\n\
ALTER TABLE t DROP COLUMN id, ADD PRIMARY KEY (u);",
        );
        // Dropping another constraint does not make room.
        assert_fires(
            ID,
            "CREATE TABLE t (a int PRIMARY KEY, b int NOT NULL UNIQUE);\n\
ALTER TABLE t DROP CONSTRAINT t_b_key, ADD PRIMARY KEY (b);",
            1,
        );
    }

    #[test]
    fn dropping_a_constraint_index_and_adding_a_column_to_a_partition_are_refused() {
        assert_fires(
            ID,
            "CREATE TABLE t (id int PRIMARY KEY);\nDROP INDEX t_pkey;",
            1,
        );
        assert_fires(
            ID,
            "CREATE TABLE p (id int) PARTITION BY LIST (id);\n\
CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);\nALTER TABLE p1 ADD COLUMN x int;",
            1,
        );
        assert_fires(
            ID,
            "CREATE TABLE p (id int) PARTITION BY LIST (id);\nALTER TABLE p SET (fillfactor = 70);",
            1,
        );
    }

    #[test]
    fn what_the_schema_allows_passes() {
        assert_clean(
            ID,
            "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN u int PRIMARY KEY;\n\
CREATE TABLE p (id int) PARTITION BY LIST (id);\nALTER TABLE p ADD COLUMN x int;\n\
CREATE INDEX t_u_idx ON t (u);\nDROP INDEX t_u_idx;",
        );
        // Nothing known about the table: nothing claimed.
        assert_clean(ID, "ALTER TABLE users ADD COLUMN u int PRIMARY KEY;");
    }
}
