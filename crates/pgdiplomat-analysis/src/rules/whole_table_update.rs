//! `whole-table-update`: an UPDATE or DELETE without WHERE on an existing table changes every
//! row in one long transaction.

use pg_query::protobuf::Node;
use pg_query::NodeEnum;
use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};
use crate::model::RelName;

pub struct WholeTableUpdate;

/// Rows per batch in the suggested backfill.
const BATCH: u32 = 10_000;

impl Rule for WholeTableUpdate {
    fn id(&self) -> &'static str {
        "whole-table-update"
    }
    fn severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "UPDATE or DELETE without WHERE changes every row in one long transaction"
    }
    fn explanation(&self) -> &'static str {
        "An UPDATE or DELETE without WHERE — typically a backfill in a migration — changes every \
row of the table in a single transaction. Each changed row stays locked until that transaction \
commits, so any concurrent UPDATE or DELETE of those rows (that is, of any row) waits for the whole \
statement; on a large table that is minutes. It also writes a new version of every row at once, \
doubling the table's size until VACUUM catches up, floods the WAL and replicas, and if the \
migration transaction also holds schema locks, those are held for the whole backfill too. Backfill \
in batches instead: update ranges of the primary key (say 10,000 rows at a time), each committed \
on its own, outside the migration transaction (a management command, a background job, or a DO \
block with COMMIT run on its own)."
    }
    fn bad_example(&self) -> &'static str {
        "UPDATE users_user SET is_active = true;"
    }
    fn good_example(&self) -> &'static str {
        "-- One batch of a backfill by primary key range, each batch committed on its own:\n\
UPDATE users_user SET is_active = true WHERE id > 0 AND id <= 10000;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        let verb = match ctx.node {
            Some(NodeEnum::UpdateStmt(_)) => "UPDATE",
            Some(NodeEnum::DeleteStmt(_)) => "DELETE",
            _ => return,
        };
        for e in ctx.effects_on_existing() {
            if e.form() != Some(StatementForm::Dml) || e.op.detail.is_none() {
                continue;
            }
            let Some(table) = &e.op.table else { continue };
            let lock = e
                .locks
                .iter()
                .find(|l| l.role == RelationRole::Table)
                .map(|l| format!(" (it takes {})", describe_lock(l.mode, &l.relation)))
                .unwrap_or_default();
            let mut f = ctx.finding(
                self,
                format!(
                    "{verb} without WHERE changes every row of {table} in one transaction: each row stays locked until it commits, so concurrent updates wait{lock}"
                ),
            );
            f.help = Some(format!(
                "backfill in batches of primary-key ranges ({BATCH} rows or so), each committed on \
its own, outside the migration transaction"
            ));
            f.fix_sql = batched(ctx.node, table);
            out.push(f);
        }
    }
}

/// A DO block that runs the statement over `id` ranges, committing after each batch.
fn batched(node: Option<&NodeEnum>, table: &RelName) -> Option<String> {
    let range = range_condition()?;
    let stmt = match node? {
        NodeEnum::UpdateStmt(u) => {
            let mut u = u.clone();
            u.where_clause = Some(Box::new(range));
            NodeEnum::UpdateStmt(u)
        }
        NodeEnum::DeleteStmt(d) => {
            let mut d = d.clone();
            d.where_clause = Some(Box::new(range));
            NodeEnum::DeleteStmt(d)
        }
        _ => return None,
    };
    let stmt = stmt.deparse(Default::default()).ok()?;
    if stmt.contains("$$") {
        return None;
    }
    Some(format!(
        concat!(
            "-- Run outside a transaction block; assumes an integer primary key id.\n",
            "DO $$\n",
            "DECLARE\n",
            "  batch_start bigint := 0;\n",
            "  max_id bigint;\n",
            "BEGIN\n",
            "  SELECT max(id) INTO max_id FROM {table};\n",
            "  WHILE batch_start < max_id LOOP\n",
            "    {stmt};\n",
            "    batch_start := batch_start + {BATCH};\n",
            "    COMMIT;\n",
            "  END LOOP;\n",
            "END\n",
            "$$;"
        ),
        table = table.quoted(),
        stmt = stmt,
        BATCH = BATCH,
    ))
}

/// `id > batch_start AND id <= batch_start + BATCH` as a parse tree.
fn range_condition() -> Option<Node> {
    let sql = format!("SELECT 1 WHERE id > batch_start AND id <= batch_start + {BATCH}");
    let parsed = pg_query::parse(&sql, pg_query::ParserOptions::default()).ok()?;
    let stmt = parsed.protobuf.stmts.into_iter().next()?.stmt?;
    match stmt.node? {
        NodeEnum::SelectStmt(s) => s.where_clause.map(|w| *w),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "whole-table-update";

    #[test]
    fn update_without_where_is_flagged_with_a_batched_backfill() {
        let f = assert_fires(ID, "UPDATE t SET a = 0;", 1);
        assert!(
            f[0].message
                .starts_with("UPDATE without WHERE changes every row of t"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].message.contains("ROW EXCLUSIVE on t"),
            "{}",
            f[0].message
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(
            fix.contains(
                "UPDATE t SET a = 0 WHERE id > batch_start AND id <= batch_start + 10000;"
            ),
            "{fix}"
        );
        assert!(fix.contains("COMMIT;"), "{fix}");
        // The fix itself parses.
        assert!(crate::parse::parse_sql(fix).is_ok(), "{fix}");
    }

    #[test]
    fn delete_without_where_is_flagged() {
        let f = assert_fires(ID, "DELETE FROM app.\"Log\";", 1);
        assert!(
            f[0].message.starts_with("DELETE without WHERE"),
            "{}",
            f[0].message
        );
        let fix = f[0].fix_sql.as_deref().unwrap();
        assert!(fix.contains("FROM app.\"Log\";"), "{fix}");
    }

    #[test]
    fn statements_with_where_and_inserts_are_clean() {
        assert_clean(ID, "UPDATE t SET a = 0 WHERE id <= 1000;");
        assert_clean(ID, "DELETE FROM t WHERE a IS NULL;");
        assert_clean(ID, "INSERT INTO t (a) SELECT 1;");
    }

    #[test]
    fn table_created_earlier_in_the_run_is_clean() {
        assert_clean(ID, "CREATE TABLE t (a int);\nUPDATE t SET a = 0;");
    }

    #[test]
    fn examples() {
        assert_examples(&WholeTableUpdate);
    }
}
