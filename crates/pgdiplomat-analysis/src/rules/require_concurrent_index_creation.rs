//! `require-concurrent-index-creation`: `CREATE INDEX` without `CONCURRENTLY` on a table that
//! already exists blocks every write for the whole build.

use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};

pub struct RequireConcurrentIndexCreation;

impl Rule for RequireConcurrentIndexCreation {
    fn id(&self) -> &'static str {
        "require-concurrent-index-creation"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "CREATE INDEX without CONCURRENTLY blocks writes for the whole build"
    }
    fn explanation(&self) -> &'static str {
        "A plain CREATE INDEX takes a SHARE lock on the table: every INSERT, UPDATE and DELETE waits \
until the index is built, which on a large table takes minutes. CREATE INDEX CONCURRENTLY takes \
SHARE UPDATE EXCLUSIVE instead, which lets reads and writes continue; it scans the table twice and \
waits for running transactions, and it must run outside a transaction block. If it fails it leaves \
an INVALID index that must be dropped (DROP INDEX CONCURRENTLY) before retrying. Tables created \
earlier in the same migration run are empty and are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "CREATE INDEX users_email_idx ON users_user (email);"
    }
    fn good_example(&self) -> &'static str {
        "CREATE INDEX CONCURRENTLY users_email_idx ON users_user (email);"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            if e.form() != Some(StatementForm::CreateIndex) {
                continue;
            }
            let table = e.locks.iter().find(|l| l.role == RelationRole::Table);
            let lock = table
                .map(|l| describe_lock(l.mode, &l.relation))
                .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!("CREATE INDEX takes {lock} until the index is built"),
            );
            f.help =
                Some("build it with CREATE INDEX CONCURRENTLY, outside a transaction block".into());
            f.fix_sql = concurrent_version(ctx.node);
            out.push(f);
        }
    }
}

fn concurrent_version(node: Option<&NodeEnum>) -> Option<String> {
    let Some(NodeEnum::IndexStmt(i)) = node else {
        return None;
    };
    let mut i = i.clone();
    i.concurrent = true;
    crate::parse::deparse_statement(NodeEnum::IndexStmt(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "require-concurrent-index-creation";

    #[test]
    fn flags_plain_create_index_on_an_existing_table_with_the_concurrent_fix() {
        let f = assert_fires(ID, "CREATE INDEX t_a_idx ON t (a);", 1);
        assert!(
            f[0].message.contains("SHARE on t (blocks writes)"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("CREATE INDEX CONCURRENTLY t_a_idx ON t USING btree (a);")
        );
    }

    #[test]
    fn flags_unique_and_partial_indexes_too() {
        assert_fires(ID, "CREATE UNIQUE INDEX ON t (a) WHERE a > 0;", 1);
    }

    #[test]
    fn concurrent_build_is_clean() {
        assert_clean(ID, "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);");
    }

    #[test]
    fn index_on_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(ID, "CREATE TABLE t (a int); CREATE INDEX t_a_idx ON t (a);");
    }

    #[test]
    fn examples() {
        assert_examples(&RequireConcurrentIndexCreation);
    }
}
