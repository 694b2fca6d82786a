//! `require-concurrent-index-deletion`: `DROP INDEX` without `CONCURRENTLY` on an existing index
//! takes ACCESS EXCLUSIVE on its table; while it waits for running queries, every query on the
//! table queues behind it.

use pg_query::protobuf::{DropBehavior, DropStmt};
use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::model::RelName;

pub struct RequireConcurrentIndexDeletion;

impl Rule for RequireConcurrentIndexDeletion {
    fn id(&self) -> &'static str {
        "require-concurrent-index-deletion"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "DROP INDEX without CONCURRENTLY blocks reads and writes on the table"
    }
    fn explanation(&self) -> &'static str {
        "A plain DROP INDEX takes ACCESS EXCLUSIVE on the index's table. The drop itself is quick, \
but the lock must wait for every running query on the table, and while it waits every new \
SELECT, INSERT, UPDATE and DELETE on the table queues behind it: one slow query turns a \
millisecond change into an outage. DROP INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE instead, \
which lets reads and writes continue while it waits for the transactions using the index to \
finish. It must run outside a transaction block, drops one index per statement and does not \
accept CASCADE. Indexes of tables created earlier in the same migration run are not flagged."
    }
    fn bad_example(&self) -> &'static str {
        "DROP INDEX users_email_idx;"
    }
    fn good_example(&self) -> &'static str {
        "DROP INDEX CONCURRENTLY users_email_idx;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        for e in ctx.effects_on_existing() {
            if e.form() != Some(StatementForm::DropIndex) {
                continue;
            }
            let index =
                e.op.index
                    .as_ref()
                    .map(|i| format!(" {i}"))
                    .unwrap_or_default();
            let lock = e
                .locks
                .iter()
                .find(|l| l.role == RelationRole::Table)
                .map(|l| describe_lock(l.mode, &l.relation))
                .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!(
                    "DROP INDEX{index} takes {lock}: while it waits for running queries, every query on the table queues behind it"
                ),
            );
            let cascade = matches!(ctx.node, Some(NodeEnum::DropStmt(d)) if d.behavior == DropBehavior::DropCascade as i32);
            f.help = Some(if cascade {
                "drop it with DROP INDEX CONCURRENTLY, outside a transaction block; CONCURRENTLY \
does not accept CASCADE, so drop the dependent objects first"
                    .into()
            } else {
                "drop it with DROP INDEX CONCURRENTLY, outside a transaction block (one index per statement)".into()
            });
            if !cascade {
                f.fix_sql =
                    e.op.index
                        .as_ref()
                        .and_then(|i| concurrent_version(ctx.node, i));
            }
            out.push(f);
        }
    }
}

/// `DROP INDEX CONCURRENTLY` of just `index` (CONCURRENTLY drops one index per statement).
fn concurrent_version(node: Option<&NodeEnum>, index: &RelName) -> Option<String> {
    let Some(NodeEnum::DropStmt(d)) = node else {
        return None;
    };
    let object = d.objects.iter().find(|o| match o.node.as_ref() {
        Some(NodeEnum::List(l)) => RelName::from_name_list(&l.items).as_ref() == Some(index),
        _ => false,
    })?;
    let stmt = DropStmt {
        objects: vec![object.clone()],
        concurrent: true,
        ..d.clone()
    };
    crate::parse::deparse_statement(NodeEnum::DropStmt(stmt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "require-concurrent-index-deletion";

    #[test]
    fn flags_plain_drop_index_with_the_concurrent_fix() {
        let f = assert_fires(ID, "DROP INDEX IF EXISTS app.t_a_idx;", 1);
        assert_eq!(
            f[0].message,
            "DROP INDEX app.t_a_idx takes ACCESS EXCLUSIVE on the table of index app.t_a_idx \
(blocks reads and writes): while it waits for running queries, every query on the table queues behind it"
        );
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("DROP INDEX CONCURRENTLY IF EXISTS app.t_a_idx;")
        );
    }

    #[test]
    fn names_the_table_when_the_run_knows_it() {
        let f = assert_fires(
            ID,
            "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nDROP INDEX t_a_idx;",
            1,
        );
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn one_finding_and_one_fix_per_index() {
        let f = assert_fires(ID, "DROP INDEX a_idx, b_idx;", 2);
        assert_eq!(
            f[0].fix_sql.as_deref(),
            Some("DROP INDEX CONCURRENTLY a_idx;")
        );
        assert_eq!(
            f[1].fix_sql.as_deref(),
            Some("DROP INDEX CONCURRENTLY b_idx;")
        );
    }

    #[test]
    fn cascade_has_no_concurrent_fix() {
        let f = assert_fires(ID, "DROP INDEX t_a_idx CASCADE;", 1);
        assert_eq!(f[0].fix_sql, None);
        assert!(f[0].help.as_deref().unwrap().contains("CASCADE"));
    }

    #[test]
    fn concurrent_drop_is_clean() {
        assert_clean(ID, "DROP INDEX CONCURRENTLY t_a_idx;");
    }

    #[test]
    fn index_of_a_table_created_earlier_in_the_run_is_clean() {
        assert_clean(
            ID,
            "CREATE TABLE t (a int);\nCREATE INDEX t_a_idx ON t (a);\nDROP INDEX t_a_idx;",
        );
    }

    #[test]
    fn examples() {
        assert_examples(&RequireConcurrentIndexDeletion);
    }
}
