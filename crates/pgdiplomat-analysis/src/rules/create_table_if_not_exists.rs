//! `create-table-if-not-exists`: `CREATE TABLE IF NOT EXISTS` of a table nothing in the run
//! knows: if it already exists the statement does nothing, while the statements after it are
//! linted as on a new, empty table.

use pgdiplomat_locks::StatementForm;

use super::{Finding, Rule, RuleContext, Severity};

pub struct CreateTableIfNotExists;

impl Rule for CreateTableIfNotExists {
    fn id(&self) -> &'static str {
        "create-table-if-not-exists"
    }
    fn severity(&self) -> Severity {
        Severity::Info
    }
    fn summary(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS of a table the run does not know: linted as new, which it may not be"
    }
    fn explanation(&self) -> &'static str {
        "pgdiplomat does not flag operations on a table created earlier in the same deploy: it is \
new, empty and unused. CREATE TABLE IF NOT EXISTS creates the table only when it is missing; when it \
already exists (created by hand, by an earlier tool, or by a migration outside the linted files) the \
statement does nothing, and an index or constraint added right after it runs on a table with data and \
traffic. When neither the migration history nor the database (--database-url) tells whether the table \
exists, pgdiplomat lints it as new and says so here. Lint with --database-url, or include the \
migrations that created the table, to know."
    }
    fn bad_example(&self) -> &'static str {
        "CREATE TABLE IF NOT EXISTS audit_log (id bigint PRIMARY KEY, at timestamptz);\nCREATE INDEX audit_log_at_idx ON audit_log (at);"
    }
    fn good_example(&self) -> &'static str {
        "CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz);\nCREATE INDEX audit_log_at_idx ON audit_log (at);"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in &ctx.stmt.effects {
            if !matches!(
                e.form(),
                Some(
                    StatementForm::CreateTable
                        | StatementForm::CreateTableInherits
                        | StatementForm::CreateTableWithForeignKey
                )
            ) || !e.op.if_exists
                || !e.op.assumed
            {
                continue;
            }
            // The created table is the operation's `partition` (its `table` is what is locked).
            let Some(t) = &e.op.partition else { continue };
            let mut f = ctx.finding(
                self,
                format!(
                    "CREATE TABLE IF NOT EXISTS {t}: nothing tells whether {t} exists; the statements after it are \
linted as on a new, empty {t}, which holds only if it does not exist yet"
                ),
            );
            f.help = Some(
                "lint with --database-url to read what exists, or drop IF NOT EXISTS if the table is new"
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

    const ID: &str = "create-table-if-not-exists";

    #[test]
    fn an_unknown_table_is_noted_once_and_a_known_one_is_not() {
        let f = assert_fires(ID, "CREATE TABLE IF NOT EXISTS audit (id int);", 1);
        assert!(
            f[0].message.contains("nothing tells whether audit exists"),
            "{}",
            f[0].message
        );
        assert_clean(ID, "CREATE TABLE audit (id int);");
        // Created earlier in the run: IF NOT EXISTS does nothing, and the run knows it.
        assert_clean(
            ID,
            "CREATE TABLE audit (id int); CREATE TABLE IF NOT EXISTS audit (id int);",
        );
        // Altered earlier: it exists.
        assert_clean(
            ID,
            "ALTER TABLE audit ADD COLUMN at timestamptz; CREATE TABLE IF NOT EXISTS audit (id int);",
        );
    }

    #[test]
    fn an_existing_table_named_by_if_not_exists_stays_existing() {
        // The index after it is on a table that existed before: flagged.
        let f = findings(
            "require-concurrent-index-creation",
            "ALTER TABLE audit ADD COLUMN at timestamptz;\nCREATE TABLE IF NOT EXISTS audit (id int);\nCREATE INDEX audit_at_idx ON audit (at);",
        );
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn examples() {
        assert_examples(&CreateTableIfNotExists);
    }
}
