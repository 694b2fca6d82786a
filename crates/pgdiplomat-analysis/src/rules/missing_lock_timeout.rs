//! `missing-lock-timeout`: a statement that takes a lock blocking reads or writes on an
//! existing table, with no `lock_timeout` in effect, can queue behind a long transaction and
//! make every later query on the table queue behind it.

use pgdiplomat_locks::{RelationRole, StatementForm};

use super::{describe_lock, Finding, Rule, RuleContext, Severity};

pub struct MissingLockTimeout;

impl Rule for MissingLockTimeout {
    fn id(&self) -> &'static str {
        "missing-lock-timeout"
    }
    fn severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "a lock that blocks reads or writes is requested with no lock_timeout set"
    }
    fn explanation(&self) -> &'static str {
        "Even an instant catalog change such as ADD COLUMN needs its lock first. If any transaction \
holds a conflicting lock — a long report, an idle-in-transaction session — the DDL waits, and while it \
waits in the lock queue every later SELECT, INSERT or UPDATE on the table queues behind it: the \
application freezes although the change itself would take milliseconds. Set a short lock_timeout \
(for example SET lock_timeout = '2s') so the migration gives up quickly instead, and retry it \
(with a pause that grows between attempts). SET LOCAL inside a transaction applies to that transaction only."
    }
    fn bad_example(&self) -> &'static str {
        "ALTER TABLE users_user ADD COLUMN nickname text;"
    }
    fn good_example(&self) -> &'static str {
        "SET lock_timeout = '2s';\nALTER TABLE users_user ADD COLUMN nickname text;"
    }
    fn check(&self, ctx: &RuleContext<'_>, out: &mut Vec<Finding>) {
        if ctx.stmt.session.lock_timeout_ms.is_some() {
            return;
        }
        // Only a lock the statement may wait for: not one the transaction already holds (or a
        // stronger one covering it), and not on a relation created earlier in this deploy.
        // REFRESH MATERIALIZED VIEW CONCURRENTLY's EXCLUSIVE blocks no application statement
        // (a materialized view is only read, and reads go on).
        let held = &ctx.stmt.held_before;
        let strongest = ctx
            .stmt
            .effects
            .iter()
            .filter(|e| e.form() != Some(StatementForm::RefreshMaterializedViewConcurrently))
            .flat_map(|e| e.locks_on_existing())
            .filter(|l| l.mode.blocks_writes())
            .filter(|l| {
                !held
                    .iter()
                    .any(|h| h.relation == l.relation && l.mode.covered_by(h.mode))
            })
            .max_by_key(|l| (l.mode, l.role == RelationRole::Table));
        let Some(lock) = strongest else { return };
        let mut f = ctx.finding(
            self,
            format!(
                "takes {} with no lock_timeout: while it waits for the lock, every later query on {} queues behind it",
                describe_lock(lock.mode, &lock.relation),
                lock.relation
            ),
        );
        f.help = Some("set a short lock_timeout before the statement and retry on timeout".into());
        f.fix_sql = Some(format!("SET lock_timeout = '2s';\n{};", ctx.sql));
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    const ID: &str = "missing-lock-timeout";

    #[test]
    fn access_exclusive_without_timeout_is_flagged() {
        let f = assert_fires(ID, "ALTER TABLE t ADD COLUMN c int;", 1);
        assert!(
            f[0].message
                .contains("ACCESS EXCLUSIVE on t (blocks reads and writes)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn write_blocking_lock_on_a_referenced_table_is_flagged_even_for_a_new_table() {
        let f = assert_fires(ID, "CREATE TABLE c (id int, p int REFERENCES p (id));", 1);
        assert!(
            f[0].message
                .contains("SHARE ROW EXCLUSIVE on p (blocks writes)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn session_and_local_timeouts_count_and_local_ends_with_the_transaction() {
        assert_clean(
            ID,
            "SET lock_timeout = '1s'; ALTER TABLE t ADD COLUMN c int;",
        );
        assert_clean(
            ID,
            "BEGIN; SET LOCAL lock_timeout = '1s'; ALTER TABLE t ADD COLUMN c int; COMMIT;",
        );
        assert_fires(
            ID,
            "BEGIN; SET LOCAL lock_timeout = '1s'; COMMIT; ALTER TABLE t ADD COLUMN c int;",
            1,
        );
        assert_fires(
            ID,
            "SET lock_timeout = '1s'; RESET lock_timeout; ALTER TABLE t ADD COLUMN c int;",
            1,
        );
        assert_fires(
            ID,
            "SET lock_timeout = 0; ALTER TABLE t ADD COLUMN c int;",
            1,
        );
    }

    #[test]
    fn locks_that_block_neither_reads_nor_writes_are_clean() {
        assert_clean(ID, "CREATE INDEX CONCURRENTLY i ON t (a);");
        assert_clean(ID, "ALTER TABLE t VALIDATE CONSTRAINT c;");
        assert_clean(ID, "UPDATE t SET a = 1 WHERE id = 1;");
        assert_clean(
            ID,
            "CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN c int;",
        );
    }

    #[test]
    fn a_lock_the_transaction_already_holds_is_not_waited_for_again() {
        // Once per table per transaction: the second statement's ACCESS EXCLUSIVE is held.
        assert_fires(
            ID,
            "BEGIN; ALTER TABLE t ADD COLUMN a int; ALTER TABLE t ADD COLUMN b int; COMMIT;",
            1,
        );
        // A weaker lock after a stronger one is covered too.
        assert_fires(
            ID,
            "BEGIN; ALTER TABLE t ADD COLUMN a int; CREATE INDEX i ON t (a); COMMIT;",
            1,
        );
        // A stronger one after a weaker one may wait (another SHARE holder blocks ACCESS
        // EXCLUSIVE), so it is flagged again.
        assert_fires(
            ID,
            "BEGIN; CREATE INDEX i ON t (a); ALTER TABLE t ADD COLUMN b int; COMMIT;",
            2,
        );
        // Outside a transaction each statement takes its lock anew.
        assert_fires(
            ID,
            "ALTER TABLE t ADD COLUMN a int; ALTER TABLE t ADD COLUMN b int;",
            2,
        );
    }

    #[test]
    fn a_referenced_table_or_parent_created_earlier_in_the_file_is_not_waited_for() {
        assert_clean(
            ID,
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, p int REFERENCES p (id));",
        );
        assert_clean(
            ID,
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, p int); \
             ALTER TABLE c ADD CONSTRAINT c_p_fk FOREIGN KEY (p) REFERENCES p (id);",
        );
        assert_clean(
            ID,
            "CREATE TABLE m (id int) PARTITION BY LIST (id); \
             CREATE TABLE m_1 PARTITION OF m FOR VALUES IN (1);",
        );
        // The sequence a serial column of a new table owns is new too.
        assert_clean(
            ID,
            "CREATE TABLE t (id serial, u int); ALTER TABLE t DROP COLUMN id;",
        );
    }

    #[test]
    fn refresh_materialized_view_concurrently_blocks_no_application_statement() {
        assert_clean(ID, "REFRESH MATERIALIZED VIEW CONCURRENTLY mv;");
        assert_fires(ID, "REFRESH MATERIALIZED VIEW mv;", 1);
    }

    #[test]
    fn examples() {
        assert_examples(&MissingLockTimeout);
    }
}
