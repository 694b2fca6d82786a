//! `concurrent-index-if-not-exists`: `CREATE INDEX CONCURRENTLY IF NOT EXISTS` silently keeps
//! the INVALID index a failed earlier attempt left behind.

use pg_query::NodeEnum;
use pgdiplomat_locks::StatementForm;

use super::{Finding, Rule, RuleContext, Severity};

pub struct ConcurrentIndexIfNotExists;

impl Rule for ConcurrentIndexIfNotExists {
    fn id(&self) -> &'static str {
        "concurrent-index-if-not-exists"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS keeps an INVALID index left by a failed attempt"
    }
    fn explanation(&self) -> &'static str {
        "When CREATE INDEX CONCURRENTLY fails or is cancelled (a deadlock, a lock_timeout or \
statement_timeout, a duplicate key for a unique index), PostgreSQL leaves the index behind, marked \
INVALID: it is not used by queries but is still updated by every write. On the next attempt, IF NOT \
EXISTS sees an index of that name, skips the build and reports success, so the migration is \
recorded as applied while the index does not work — and a unique index does not enforce \
uniqueness. Drop any leftover first with DROP INDEX CONCURRENTLY IF EXISTS, then build the index \
with a plain CREATE INDEX CONCURRENTLY (without IF NOT EXISTS), so that a retry always rebuilds it."
    }
    fn bad_example(&self) -> &'static str {
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users_user (email);"
    }
    fn good_example(&self) -> &'static str {
        "DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;\n\
CREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            if e.form() != Some(StatementForm::CreateIndexConcurrently) || !e.op.if_exists {
                continue;
            }
            let name =
                e.op.index
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "the index".into());
            let mut f = ctx.finding(
                self,
                format!(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS succeeds without building anything when an INVALID {name} is left from a failed attempt"
                ),
            );
            f.help = Some(
                "drop any leftover with DROP INDEX CONCURRENTLY IF EXISTS, then build it with a plain \
CREATE INDEX CONCURRENTLY"
                    .into(),
            );
            f.fix_sql = e.op.index.as_ref().and_then(|index| {
                let create = without_if_not_exists(ctx.node)?;
                Some(format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {};\n{create}",
                    index.quoted()
                ))
            });
            out.push(f);
        }
    }
}

fn without_if_not_exists(node: Option<&NodeEnum>) -> Option<String> {
    let Some(NodeEnum::IndexStmt(i)) = node else {
        return None;
    };
    let mut i = i.clone();
    i.if_not_exists = false;
    crate::parse::deparse_statement(NodeEnum::IndexStmt(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "concurrent-index-if-not-exists";

    #[test]
    fn flags_if_not_exists_with_a_drop_then_create_fix() {
        let f = assert_fires(
            ID,
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);",
            1,
        );
        assert!(f[0].message.contains("INVALID t_a_idx"), "{}", f[0].message);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some(
                "DROP INDEX CONCURRENTLY IF EXISTS t_a_idx;\n\
CREATE INDEX CONCURRENTLY t_a_idx ON t USING btree (a);"
            )
        );
    }

    #[test]
    fn schema_qualified_and_quoted_names_are_kept() {
        let f = assert_fires(
            ID,
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Idx\" ON app.t (a);",
            1,
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(
            fix.starts_with("DROP INDEX CONCURRENTLY IF EXISTS app.\"Idx\";\n"),
            "{fix}"
        );
        assert!(!fix.contains("IF NOT EXISTS"), "{fix}");
    }

    #[test]
    fn plain_concurrent_build_is_clean() {
        assert_clean(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
    }

    #[test]
    fn non_concurrent_if_not_exists_is_not_this_rule() {
        assert_clean(ID, "CREATE INDEX IF NOT EXISTS t_a_idx ON t (a);");
    }

    #[test]
    fn index_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&ConcurrentIndexIfNotExists);
    }
}
